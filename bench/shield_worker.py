"""One round of file-system work in DIR; prints JSON timings (seconds).
Run by bench_shield.py natively, under `ward run` and on gocryptfs.
Usage: python3 shield_worker.py DIR SIZE_MIB [--passes N] [--rand-only]

The 4 KiB random reads make N passes (default 1) of 20,000 reads at fresh
random offsets over the freshly opened file: rand_4k is the first pass,
rand_4k_steady the median of the others (N > 1); *_cpu are the CPU seconds
of the process (all threads) during those passes, *_thread_cpu those of
the reading thread. --rand-only skips the
other workloads (the sequential write that creates the file still runs)."""
import argparse
import json
import os
import random
import sqlite3
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("mib", type=int)
ap.add_argument("--passes", type=int, default=1)
ap.add_argument("--rand-only", action="store_true")
args = ap.parse_args()
d, mib = args.dir, args.mib
out = {}
block = os.urandom(1 << 20)
path = os.path.join(d, "big.bin")
# every configuration writes a new file: an existing one (a previous run's)
# would add the cost of truncating it to some runs and not to others
if os.path.exists(path):
    os.unlink(path)

t = time.perf_counter()
with open(path, "wb", buffering=0) as f:
    for _ in range(mib):
        f.write(block)
out["seq_write"] = time.perf_counter() - t

if not args.rand_only:
    for attempt in range(2):  # the first pass warms the page cache
        t = time.perf_counter()
        with open(path, "rb", buffering=0) as f:
            buf = bytearray(1 << 20)
            while f.readinto(buf):
                pass
        out["seq_read"] = time.perf_counter() - t

rnd = random.Random(7)
n_rand = 20000
size = mib << 20
fd = os.open(path, os.O_RDONLY)
walls, cpus, tcpus = [], [], []
for p in range(max(1, args.passes)):
    offs = [rnd.randrange(0, size // 4096) * 4096 for _ in range(n_rand)]
    c, tc = time.process_time(), time.thread_time()
    t = time.perf_counter()
    for o in offs:
        os.pread(fd, 4096, o)
    walls.append(time.perf_counter() - t)
    cpus.append(time.process_time() - c)
    tcpus.append(time.thread_time() - tc)
out["rand_4k"] = walls[0]
out["rand_4k_cpu"] = cpus[0]
out["rand_4k_thread_cpu"] = tcpus[0]
if len(walls) > 1:
    out["rand_4k_steady"] = statistics.median(walls[1:])
    out["rand_4k_steady_cpu"] = statistics.median(cpus[1:])
    out["rand_4k_steady_thread_cpu"] = statistics.median(tcpus[1:])
os.close(fd)
os.unlink(path)
if args.rand_only:
    out["mib"] = mib
    out["n_rand"] = n_rand
    print(json.dumps(out))
    raise SystemExit(0)

# the workloads below create and remove many files: flush what the large
# file left dirty first, or the file system's writeback of it (and its
# journal commits) lands in whichever timed loop comes next, for some runs
# and not others
os.sync()
small = os.path.join(d, "small")
os.mkdir(small)
payload = b"s" * 200
t = time.perf_counter()
for i in range(10000):
    with open(os.path.join(small, "f%05d" % i), "wb") as f:
        f.write(payload)
out["small_files"] = time.perf_counter() - t
for i in range(10000):
    os.unlink(os.path.join(small, "f%05d" % i))
os.rmdir(small)

os.sync()
db_path = os.path.join(d, "bench.db")
db = sqlite3.connect(db_path)
db.execute("create table t (k integer primary key, v text)")
t = time.perf_counter()
for i in range(200):  # 200 transactions of 100 rows: journal, fsync, locks
    with db:
        db.executemany("insert into t (v) values (?)", [("value %d" % j,) for j in range(100)])
out["sqlite"] = time.perf_counter() - t
db.close()
os.unlink(db_path)
out["mib"] = mib
out["n_rand"] = n_rand
print(json.dumps(out))
