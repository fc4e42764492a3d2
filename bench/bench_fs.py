#!/usr/bin/python3
"""Benchmark of the volume library (src/fs) against plain files in the same
run, and against the AES-256-GCM limit of this machine (openssl speed).

    /usr/bin/python3 bench/bench_fs.py [SIZE_MIB]     (after `ninja -C build`)

Builds bench/bench_fs.c against build/'s static libraries, runs it on a
file in the page cache (a tmpfs-backed or cached directory), and prints the
ratios. Results are recorded in docs/benchmarks.md, section "Volumes"."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("WARD_BUILD", "build"))


def cipher_limit():
    out = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "1048576", "-seconds", "2"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^AES-256-GCM\s+([\d.]+)k", out, re.M | re.I)
    return float(m.group(1)) * 1000 / 1e9 if m else None  # GB/s (1 core)


def main():
    size = sys.argv[1] if len(sys.argv) > 1 else "512"
    tmp = tempfile.mkdtemp(prefix="ward-bench-fs.")
    exe = os.path.join(tmp, "bench_fs")
    try:
        subprocess.run(["cc", "-O2", "-I", os.path.join(ROOT, "src"), os.path.join(ROOT, "bench/bench_fs.c"),
                        os.path.join(BUILD, "src/fs/libward-fs.a"), os.path.join(BUILD, "src/core/libward-core.a"),
                        "-lcrypto", "-lpthread", "-o", exe], check=True)
        out = subprocess.run([exe, tmp, size], capture_output=True, text=True, check=True).stdout
        print(out, end="")
        lim = cipher_limit()
        vol = float(re.search(r"volume_seq_read_gbps ([\d.]+)", out).group(1))
        if lim:
            print(f"cipher_limit_1core {lim:.2f} GB/s (openssl speed -evp aes-256-gcm -bytes 1048576)")
            print(f"seq_read vs cipher limit ratio {vol / lim:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
