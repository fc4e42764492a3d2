"""One round of file-system work in DIR; prints JSON timings (seconds).
Run by bench_shield.py natively, under `ward run` and on gocryptfs.
Usage: python3 shield_worker.py DIR SIZE_MIB"""
import json
import os
import random
import sqlite3
import sys
import time

d, mib = sys.argv[1], int(sys.argv[2])
out = {}
block = os.urandom(1 << 20)
path = os.path.join(d, "big.bin")

t = time.perf_counter()
with open(path, "wb", buffering=0) as f:
    for _ in range(mib):
        f.write(block)
out["seq_write"] = time.perf_counter() - t

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
offs = [rnd.randrange(0, size // 4096) * 4096 for _ in range(n_rand)]
t = time.perf_counter()
for o in offs:
    os.pread(fd, 4096, o)
out["rand_4k"] = time.perf_counter() - t
os.close(fd)
os.unlink(path)

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
