#!/usr/bin/python3
"""Shared writable mappings of a file: natively against an encrypted volume
under `ward run --volume`, measured in the same run.

  bench/bench_mmap.py [--mib 64] [--runs 5]

Each run (a fresh process per configuration, the configurations
interleaved) writes a file of MIB MiB, then maps it shared and writable
(`mmap.mmap(fd, 0)`), stores over all of it, flushes (msync) and closes:
the time of the mapping, the stores, the flush and the close, and the CPU
time of the process for all of it. Prints the medians and the ratio.
"""
import argparse
import json
import pathlib
import shutil
import statistics
import tempfile

import bench_shield  # the same environment, binary and interpreter
from bench_shield import PY, WARD

WORKER = r"""
import json, mmap, os, sys, time
p = os.path.join(sys.argv[1], "m.bin"); n = int(sys.argv[2]) << 20
data = os.urandom(n)
with open(p, "wb") as f:
    f.write(data)
c0, t0 = time.process_time(), time.perf_counter()
with open(p, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    t1 = time.perf_counter()
    m[:] = data[::-1]
    t2 = time.perf_counter()
    m.flush()
    t3 = time.perf_counter()
    m.close()
t4 = time.perf_counter()
out = {"map": t1 - t0, "store": t2 - t1, "flush": t3 - t2, "close": t4 - t3, "total": t4 - t0,
       "cpu": time.process_time() - c0}
with open(p, "rb") as f:
    assert f.read() == data[::-1]
os.unlink(p)
print(json.dumps(out))
"""


def run(cmd):
    return bench_shield.run(cmd).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-bench-mmap-", dir="/var/tmp"))
    try:
        plain, empty = work / "plain", work / "empty"
        plain.mkdir()
        empty.mkdir()
        vol, key = work / "m.vol", work / "m.key"
        run([WARD, "fs", "encrypt", empty, vol, "--key-file", key])
        configs = {
            "native": [PY, "-c", WORKER, plain, args.mib],
            "ward encrypted": [WARD, "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", WORKER, vol, args.mib],
        }
        res = {k: [] for k in configs}
        for _ in range(args.runs):
            for name, cmd in configs.items():
                res[name].append(json.loads(run(cmd)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in res.items()}
    print("| %d MiB, shared writable mapping (medians of %d) | map | store | flush | close | total | CPU |" %
          (args.mib, args.runs))
    print("|---|---|---|---|---|---|---|")
    for n, m in med.items():
        print("| %s | %s |" % (n, " | ".join("%.0f ms" % (m[k] * 1e3)
                                              for k in ("map", "store", "flush", "close", "total", "cpu"))))
    nat, enc = med["native"], med["ward encrypted"]
    print("\nencrypted / native: total %.2fx, CPU %.2fx" % (enc["total"] / nat["total"], enc["cpu"] / nat["cpu"]))


if __name__ == "__main__":
    main()
