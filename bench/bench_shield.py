#!/usr/bin/python3
"""File-shield benchmarks from Python, with ratios measured in the same run.

  bench/bench_shield.py [--mib 256] [--runs 3] [--passes 1] [--no-gocryptfs] [--numpy-only]

Configurations: plain files natively; plain files under `ward run`; an
encrypted volume under `ward run --volume`; gocryptfs (FUSE) natively, when
installed and /dev/fuse works. Workloads (bench/shield_worker.py):
sequential write and read of one large file (page cache warm), 4 KiB random
preads (--passes N: N passes over the same open file, the first and the
steady state reported separately in a second table), 10,000 small files (create + write + close), SQLite (200
transactions of 100 inserts), and `import numpy` from an encrypted copy of
Debian's numpy (the three configurations interleaved, --runs x 7 times
each, wall and CPU time). The AES-256-GCM limit is measured with `openssl speed`.
Prints a Markdown table (paste into docs/benchmarks.md).
"""
import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
WARD = ROOT / os.environ.get("WARD_BUILD", "build") / "ward"
PY = "/usr/bin/python3"
WORKER = str(ROOT / "bench" / "shield_worker.py")


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    e.pop("LD_PRELOAD", None)
    e["WARD_MODE"] = "sim"
    e["XDG_CACHE_HOME"] = str(ROOT / os.environ.get("WARD_BUILD", "build") / "test-cache")
    return e


def run(cmd, **kw):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env(), **kw)
    if p.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(map(str, cmd)), p.stderr[-2000:]))
    return p


def worker(prefix, d, mib, passes=1):
    p = run(prefix + [PY, WORKER, d, mib, "--passes", passes])
    return json.loads(p.stdout.strip().splitlines()[-1])


def best(results):
    keys = [k for k in results[0] if k not in ("mib", "n_rand")]
    return {k: min(r[k] for r in results) for k in keys}


def cipher_limit():
    p = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "1048576", "-seconds", "2"],
                       capture_output=True, text=True)
    m = re.search(r"^AES-256-GCM\s+([\d.]+)k", p.stdout, re.M)
    return float(m.group(1)) * 1000 / 1e9 if m else None  # GB/s


def gocryptfs_setup(work):
    if shutil.which("gocryptfs") is None or not os.path.exists("/dev/fuse"):
        return None, "gocryptfs not installed or /dev/fuse missing"
    cipher, mnt = work / "gc.cipher", work / "gc.mnt"
    cipher.mkdir()
    mnt.mkdir()
    pw = work / "gc.pw"
    pw.write_text("benchmark-password\n")
    p = subprocess.run(["gocryptfs", "-init", "-quiet", "-passfile", str(pw), str(cipher)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, "gocryptfs -init failed: " + p.stderr.strip()[:200]
    p = subprocess.run(["gocryptfs", "-quiet", "-passfile", str(pw), str(cipher), str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, "gocryptfs mount failed (FUSE unusable here?): " + p.stderr.strip()[:200]
    return mnt, None


def import_numpy_times(configs, runs):
    """Runs each configuration's command `runs` times, interleaved (one of
    each in turn, in a rotating order, so that a change of load hits all
    alike); returns, per
    configuration, the median wall time and the median CPU time (user +
    system of the process tree, from rusage)."""
    walls = {k: [] for k in configs}
    cpus = {k: [] for k in configs}
    names = list(configs)
    for r in range(runs):
        # rotated each round, so that no configuration always runs right
        # after the same other one
        for name in names[r % len(names):] + names[:r % len(names)]:
            cmd = configs[name]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            run(cmd)
            walls[name].append(time.perf_counter() - t)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return {k: (statistics.median(walls[k]), statistics.median(cpus[k])) for k in configs}


def print_numpy(imp, n):
    nw, nc = imp["native"]
    print("\nimport numpy (median of %d interleaved runs each): wall native %.3f s, ward plain %.3f s, "
          "ward from an encrypted copy %.3f s (%.2fx native); CPU %.3f / %.3f / %.3f s (%.2fx native)" % (
              n, nw, imp["ward plain"][0], imp["ward encrypted"][0], imp["ward encrypted"][0] / nw,
              nc, imp["ward plain"][1], imp["ward encrypted"][1], imp["ward encrypted"][1] / nc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--passes", type=int, default=1, help="passes of the 4 KiB random reads")
    ap.add_argument("--no-gocryptfs", action="store_true")
    ap.add_argument("--numpy-only", action="store_true", help="only the import numpy measurement")
    ap.add_argument("--dir", default="/var/tmp",
                    help="where the files live (default /var/tmp, a disk file system; /dev/shm keeps every "
                         "byte in memory, with no writeback competing with the writes)")
    args = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-bench-", dir=args.dir))
    gc_mnt = None
    try:
        plain = work / "plain"
        plain.mkdir()
        empty = work / "empty"
        empty.mkdir()
        vol, key = work / "bench.vol", work / "bench.key"
        run([WARD, "fs", "encrypt", empty, vol, "--key-file", key])
        volopt = ["--volume", "%s:%s" % (vol, key)]
        configs = {
            "native plain": ([], plain),
            "ward plain": ([WARD, "run", "--"], plain),
            "ward encrypted": ([WARD, "run"] + volopt + ["--"], vol),
        }
        note = None
        if not args.no_gocryptfs and not args.numpy_only:
            gc_mnt, note = gocryptfs_setup(work)
            if gc_mnt is not None:
                configs["gocryptfs"] = ([], gc_mnt)
        # the configurations interleaved, in a rotating order: the disk's
        # background writeback of one run's file slows whichever run comes
        # next, so no configuration may always come after the same other
        runs = {name: [] for name in configs}
        names = [] if args.numpy_only else list(configs)
        for r in range(args.runs if names else 0):
            for name in names[r % len(names):] + names[:r % len(names)]:
                prefix, d = configs[name]
                runs[name].append(worker(prefix, d, args.mib, args.passes))
        res = {}
        for name in names:
            res[name] = best(runs[name])
            print(name, json.dumps({k: round(v, 4) for k, v in res[name].items()}), file=sys.stderr)

        # import numpy from an encrypted copy
        npsrc = work / "npsrc"
        npsrc.mkdir()
        shutil.copytree("/usr/lib/python3/dist-packages/numpy", npsrc / "numpy")
        npvol, npkey = work / "np.vol", work / "np.key"
        run([WARD, "fs", "encrypt", npsrc, npvol, "--key-file", npkey])
        code_sys = "import numpy"
        code_vol = "import sys; sys.path.insert(0, %r); import numpy; assert numpy.__file__.startswith(%r)" % (
            str(npvol), str(npvol))
        imp = import_numpy_times({
            "native": [PY, "-c", code_sys],
            "ward plain": [WARD, "run", "--", PY, "-c", code_sys],
            "ward encrypted": [WARD, "run", "--volume", "%s:%s" % (npvol, npkey), "--", PY, "-c", code_vol],
        }, args.runs * 7)
        limit = cipher_limit()
    finally:
        if gc_mnt is not None:
            subprocess.run(["fusermount", "-u", str(gc_mnt)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    if args.numpy_only:
        print_numpy(imp, args.runs * 7)
        return
    mib = args.mib
    base = res["native plain"]

    def rate(name, k):
        v = res[name][k]
        if k in ("seq_write", "seq_read"):
            return "%.2f GB/s" % (mib * 1048576 / v / 1e9)
        if k == "rand_4k":
            return "%.0f k/s" % (20000 / v / 1000)
        if k == "small_files":
            return "%.0f files/s" % (10000 / v)
        return "%.0f rows/s" % (20000 / v)

    labels = {"seq_write": "sequential write (%d MiB)" % mib, "seq_read": "sequential read (%d MiB, cached)" % mib,
              "rand_4k": "4 KiB random reads", "small_files": "10,000 small files", "sqlite": "SQLite inserts (200 tx x 100)"}
    names = list(res)
    print("| workload | " + " | ".join(names) + " | encrypted / plain |" +
          (" encrypted / gocryptfs |" if "gocryptfs" in res else ""))
    print("|---" * (len(names) + 2 + ("gocryptfs" in res)) + "|")
    for k, label in labels.items():
        row = "| %s | " % label + " | ".join(rate(n, k) for n in names)
        row += " | %.2f |" % (base[k] / res["ward encrypted"][k])
        if "gocryptfs" in res:
            row += " %.1fx |" % (res["gocryptfs"][k] / res["ward encrypted"][k])
        print(row)
    if args.passes > 1:
        print("\n| 4 KiB random reads (%d passes of 20,000) | " % args.passes + " | ".join(names) +
              " | encrypted / plain |")
        print("|---" * (len(names) + 2) + "|")
        for k, label in (("rand_4k", "first pass"), ("rand_4k_steady", "later passes (median)")):
            row = "| %s | " % label + " | ".join(
                "%.2f µs (CPU %.2f)" % (res[n][k] / 20000 * 1e6, res[n][k + "_cpu"] / 20000 * 1e6) for n in names)
            print(row + " | %.2f |" % (base[k] / res["ward encrypted"][k]))
    if limit:
        enc_read = mib * 1048576 / res["ward encrypted"]["seq_read"] / 1e9
        print("\nAES-256-GCM single-core limit (openssl speed, 1 MiB blocks): %.2f GB/s; "
              "encrypted sequential read = %.2f of that limit" % (limit, enc_read / limit))
    print_numpy(imp, args.runs * 7)
    if note:
        print("\ngocryptfs: " + note)


if __name__ == "__main__":
    main()
