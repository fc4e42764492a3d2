#!/usr/bin/python3
"""Runtime benchmarks: start-up of `python3 -c pass` and CPU-bound programs,
native CPython vs CPython in ward vs PyPy in ward (and native PyPy).

Every ratio is against native CPython measured in the same run; runs of the
variants are interleaved so that machine noise hits them alike, and the
median of the repetitions is used.

    /usr/bin/python3 bench/bench_runtime.py [--build build] [--reps 5] [--startup-reps 40]
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
PY = "/usr/bin/python3"
PYPY = shutil.which("pypy3", path="/usr/bin")

PROGRAMS = [  # (file, argument giving ~0.5 s natively)
    ("nbody.py", "100000"),
    ("fannkuch.py", "9"),
    ("spectral_norm.py", "200"),
    ("float_bm.py", "200000"),
    ("json_bm.py", "20000"),
    ("regex_bm.py", "400"),
]


def timed(cmd, env):
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed: {r.stderr.decode()[-500:]}")
    return dt, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(HERE.parent / "build"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--startup-reps", type=int, default=40)
    a = ap.parse_args()
    ward = str(pathlib.Path(a.build) / "ward")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    env["WARD_MODE"] = "sim"
    cache = tempfile.mkdtemp(prefix="ward-bench-")
    env["XDG_CACHE_HOME"] = cache

    print("== start-up: python3 -c pass (median of %d, interleaved)" % a.startup_reps)
    variants = {
        "native": [PY, "-c", "pass"],
        "ward": [ward, "run", PY, "-c", "pass"],
    }
    subprocess.run(variants["ward"], env=env)  # fill the hash cache once
    times = {k: [] for k in variants}
    cold = []
    for i in range(a.startup_reps):
        for k, cmd in variants.items():
            times[k].append(timed(cmd, env)[0])
        if i < 10:
            e2 = dict(env, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="ward-cold-"))
            cold.append(timed(variants["ward"], e2)[0])
    nat = statistics.median(times["native"])
    w = statistics.median(times["ward"])
    c = statistics.median(cold)
    print(f"native {nat*1000:7.1f} ms | ward {w*1000:7.1f} ms  ratio {w/nat:5.2f} "
          f"| ward, empty hash cache {c*1000:7.1f} ms  ratio {c/nat:5.2f}")

    print("\n== CPU-bound programs (median of %d runs, interleaved); ratio = time / native CPython" % a.reps)
    hdr = f"{'program':18} {'native s':>9} {'ward':>7} {'ratio':>6}"
    if PYPY:
        hdr += f" {'pypy':>7} {'ratio':>6} {'pypy in ward':>12} {'ratio':>6}"
    print(hdr)
    ratios = []
    for prog, arg in PROGRAMS:
        path = str(HERE / "py" / prog)
        cmds = {"native": [PY, path, arg], "ward": [ward, "run", PY, path, arg]}
        if PYPY:
            cmds["pypy"] = [PYPY, path, arg]
            cmds["pypy-ward"] = [ward, "run", PYPY, path, arg]
        t = {k: [] for k in cmds}
        outs = {}
        for _ in range(a.reps):
            for k, cmd in cmds.items():
                dt, out = timed(cmd, env)
                t[k].append(dt)
                outs.setdefault(k, out)
        if outs["ward"] != outs["native"]:
            sys.exit(f"bench: {prog}: output under ward differs from native")
        m = {k: statistics.median(v) for k, v in t.items()}
        ratios.append(m["ward"] / m["native"])
        line = f"{prog:18} {m['native']:9.3f} {m['ward']:7.3f} {m['ward']/m['native']:6.3f}"
        if PYPY:
            line += (f" {m['pypy']:7.3f} {m['pypy']/m['native']:6.3f}"
                     f" {m['pypy-ward']:12.3f} {m['pypy-ward']/m['native']:6.3f}")
        print(line)
    print(f"\ngeometric mean ratio, CPython in ward / native: "
          f"{statistics.geometric_mean(ratios):.3f}")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
