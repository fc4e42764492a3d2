#!/usr/bin/python3
"""Engine image start-up: `python3 -c pass` and `-c 'import numpy'`, native
vs `ward run --no-engine-image` ("ward") vs `ward run --engine-image` with its
warm-start cache (simulation mode; "engine"), its first start with an empty
warm-start cache ("engine, first start": the cache directory
$XDG_CACHE_HOME/ward/engine is removed before each such run, the
measurement's hash cache stays) and without it (WARD_ENGINE_CACHE=0: every
check, as in hardware mode; "engine, no cache"), and optionally the engine
image of another build, e.g. an older commit, warm and first start, as a
before/after comparison.

Runs of the variants are interleaved so that machine noise hits them alike;
the medians of wall time and of CPU time (user + system of the whole
process tree, from wait4) are printed, with ratios against "ward" measured
in the same run. The engine image's manifests are built first (first use)
and the caches filled; neither is timed.

    /usr/bin/python3 bench/bench_engine.py [--build build] [--baseline OTHER_BUILD] [--reps 20]
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

PY = "/usr/bin/python3"
CODES = [("pass", "pass"), ("import numpy", "import numpy")]


def run(cmd, env):
    env = dict(env, **cmd[0]) if isinstance(cmd[0], dict) else env
    cmd = cmd[1:] if isinstance(cmd[0], dict) else cmd
    if "FIRST_START" in env:  # an empty warm-start cache, a warm hash cache
        shutil.rmtree(pathlib.Path(env["XDG_CACHE_HOME"]) / "ward" / "engine", ignore_errors=True)
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {err[-500:]}")
    return dt, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--baseline", help="another build directory whose engine image to time as well")
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    ward = str(pathlib.Path(a.build).resolve() / "ward")
    env = dict(os.environ, WARD_MODE="sim")
    first = tempfile.mkdtemp(prefix="bench-engine-first-")
    fresh = {"FIRST_START": "1", "XDG_CACHE_HOME": first}
    variants = [("native", [PY]), ("ward", [ward, "run", "--no-engine-image", PY]),
                ("engine", [ward, "run", "--engine-image", PY]),
                ("engine, first start", [fresh, ward, "run", "--engine-image", PY]),
                ("engine, no cache", [{"WARD_ENGINE_CACHE": "0"}, ward, "run", "--engine-image", PY])]
    if a.baseline:
        base = str(pathlib.Path(a.baseline).resolve() / "ward")
        variants.append(("engine (baseline)", [base, "run", "--engine-image", PY]))
        variants.append(("first start (base)", [fresh, base, "run", "--engine-image", PY]))
    for _, cmd in variants:  # warm the page cache, build the manifests, fill the caches
        for code in CODES:
            run(cmd + ["-c", code[1]], env)
    for title, code in CODES:
        wall = {n: [] for n, _ in variants}
        cpu = {n: [] for n, _ in variants}
        for _ in range(a.reps):
            for n, cmd in variants:
                w, c = run(cmd + ["-c", code], env)
                wall[n].append(w)
                cpu[n].append(c)
        mw = {n: statistics.median(v) for n, v in wall.items()}
        mc = {n: statistics.median(v) for n, v in cpu.items()}
        print(f"python3 -c '{title}' (medians of {a.reps}, interleaved)")
        for n, _ in variants:
            print(f"  {n:18s} wall {mw[n] * 1e3:7.1f} ms  x{mw[n] / mw['ward']:.2f} of ward   "
                  f"cpu {mc[n] * 1e3:7.1f} ms  x{mc[n] / mc['ward']:.2f} of ward  x{mc[n] / mc['native']:.2f} of native")
    shutil.rmtree(first, ignore_errors=True)


if __name__ == "__main__":
    main()
