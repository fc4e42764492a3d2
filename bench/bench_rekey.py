#!/usr/bin/python3
"""How long a key rotation takes: `ward fs rekey` of a volume against the
native baseline of the same work, a copy of the plain tree (`cp -a`, every
byte read and written again), measured in the same run.

    /usr/bin/python3 bench/bench_rekey.py [--mib 256] [--small 5000] [--runs 3]

The tree: --mib MiB in files of 4 MiB, plus --small files of 1 KiB in 50
directories. Each run rekeys the volume once and copies the plain tree once
(alternately; the median of --runs is reported). Data in the page cache;
the copy and the rekey both end with their data on disk (rekey syncs the
file system before its swap; the copy is followed by sync), and each
starts after a sync, so that it flushes only its own writes. Results in
docs/benchmarks.md, "Key rotation"."""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
WARD = ROOT / os.environ.get("WARD_BUILD", "build") / "ward"


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    e["WARD_MODE"] = "sim"
    return e


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env())
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(map(str, cmd)), p.stderr))
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/var/tmp")
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-bench-rekey-", dir=a.dir))
    try:
        src = work / "src"
        src.mkdir()
        for i in range(a.mib // 4):
            (src / ("big%03d.bin" % i)).write_bytes(os.urandom(4 << 20))
        for i in range(a.small):
            d = src / ("d%02d" % (i % 50))
            d.mkdir(exist_ok=True)
            (d / ("f%05d.txt" % i)).write_bytes(os.urandom(1024))
        total = a.mib * (1 << 20) + a.small * 1024
        vol, keys = work / "v.vol", [work / "k0"]
        run([WARD, "fs", "encrypt", src, vol, "--key-file", keys[0]])
        rekey, copy = [], []
        for r in range(a.runs):
            keys.append(work / ("k%d" % (r + 1)))
            os.sync()  # each step flushes only its own writes (rekey ends with syncfs)
            t = time.perf_counter()
            run([WARD, "fs", "rekey", vol, "--key-file", keys[-2], "--new-key-file", keys[-1]])
            rekey.append(time.perf_counter() - t)
            dst = work / "copy"
            os.sync()
            t = time.perf_counter()
            run(["cp", "-a", src, dst])
            os.sync()
            copy.append(time.perf_counter() - t)
            shutil.rmtree(dst)
        rk, cp = statistics.median(rekey), statistics.median(copy)
        print("tree: %d MiB in %d files of 4 MiB + %d files of 1 KiB" % (a.mib, a.mib // 4, a.small))
        print("ward fs rekey: %.2f s (%.0f MB/s); cp -a + sync: %.2f s (%.0f MB/s); rekey / copy time: %.2f"
              % (rk, total / rk / 1e6, cp, total / cp / 1e6, rk / cp))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
