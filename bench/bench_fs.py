#!/usr/bin/python3
"""Benchmark of the volume library (src/fs) against plain files in the same
run, and against the AES-256-GCM limit of this machine (openssl speed).

    /usr/bin/python3 bench/bench_fs.py [SIZE_MIB [PASSES]]   (after `ninja -C build`)

Builds bench/bench_fs.c against build/'s static libraries, runs it on a
file in the page cache (PASSES rounds, median and best reported), measures
the single-core cipher limit right before and after (1 MiB messages, the
issue's definition; and 4 KiB messages, one EVP call per chunk as the volume
does), prints the load average, and the ratios. Results are recorded in
docs/benchmarks.md, section "Volumes"."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("WARD_BUILD", "build"))


def cipher_limit(nbytes):
    out = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", str(nbytes), "-seconds", "2"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^AES-256-GCM\s+([\d.]+)k", out, re.M | re.I)
    return float(m.group(1)) * 1000 / 1e9 if m else None  # GB/s (1 core)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "512"
    passes = sys.argv[2] if len(sys.argv) > 2 else "3"
    tmp = tempfile.mkdtemp(prefix="ward-bench-fs.")
    exe = os.path.join(tmp, "bench_fs")
    try:
        subprocess.run(["cc", "-O2", "-I", os.path.join(ROOT, "src"), os.path.join(ROOT, "bench/bench_fs.c"),
                        os.path.join(BUILD, "src/fs/libward-fs.a"), os.path.join(BUILD, "src/core/libward-core.a"),
                        "-lcrypto", "-lpthread", "-o", exe], check=True)
        print(f"load average before: {loadavg()} ({os.cpu_count()} cores)")
        lim0 = cipher_limit(1048576)
        out = subprocess.run([exe, tmp, size, passes], capture_output=True, text=True, check=True).stdout
        print(out, end="")
        lim1 = cipher_limit(1048576)
        lim4k = cipher_limit(4096)
        print(f"load average after: {loadavg()}")
        vol = float(re.search(r"volume_seq_read_gbps ([\d.]+)", out).group(1))
        cpu = float(re.search(r"cpu_cost seq_read plain [\d.]+ volume ([\d.]+)", out).group(1))
        if lim0 and lim1:
            lim = (lim0 + lim1) / 2
            print(f"cipher_limit_1core {lim:.2f} GB/s (openssl speed -evp aes-256-gcm -bytes 1048576; "
                  f"{lim0:.2f} before, {lim1:.2f} after the run)")
            if lim4k:
                print(f"cipher_1core_4k {lim4k:.2f} GB/s (-bytes 4096: one EVP call per 4 KiB, "
                      f"{lim4k / lim:.2f} of the 1 MiB figure)")
            print(f"seq_read vs cipher limit ratio {vol / lim:.2f} "
                  f"(CPU cost: {cpu:.2f} GB per cpu-second = {cpu / lim:.2f} of one core's cipher limit)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
