#!/usr/bin/python3
"""CPython conformance of the file shield.

Runs CPython's own regression tests (Debian's libpython3.11-testsuite) three
ways and compares them test for test:

  native   /usr/bin/python3, working directory and TMPDIR on a plain disk
  enclave  ward run, plain working directory (the runtime's limits only:
           no fork/exec, which many tests use to start a child Python)
  shield   ward run with the working directory and TMPDIR inside an
           encrypted volume

A test whose outcome differs between enclave and shield is a file-shield
difference; one that differs between native and enclave comes from the
runtime's limits. Every difference is printed; docs/file-shield.md lists
them with their reasons.

  tests/conformance/run.py            # the full set (about 10 minutes)
  tests/conformance/run.py --ci       # the representative subset CI runs
  tests/conformance/run.py test_io    # chosen modules
Exit status: 0 when every shield difference is listed in known.txt.
"""
import argparse
import fnmatch
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = "/usr/bin/python3"

FULL = ["test_io", "test_fileio", "test_os", "test_shutil", "test_tempfile", "test_zipfile",
        "test_tarfile", "test_sqlite3", "test_pathlib", "test_glob", "test_mmap", "test_file",
        "test_fnmatch", "test_filecmp", "test_fileinput", "test_posixpath", "test_univnewlines",
        "test_bufio", "test_largefile", "test_zipimport", "test_gzip", "test_dbm_dumb",
        "test_shelve", "test_csv", "test_compileall", "test_py_compile", "test_linecache",
        "test_genericpath", "test_stat"]
CI = ["test_fileio", "test_tempfile", "test_glob", "test_mmap", "test_univnewlines",
      "test_bufio", "test_filecmp", "test_py_compile", "test_dbm_dumb", "test_genericpath"]


def env_for(tmpdir, build):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    env.pop("LD_PRELOAD", None)
    env["TMPDIR"] = str(tmpdir)
    env["WARD_MODE"] = "sim"
    env["XDG_CACHE_HOME"] = str(build / "test-cache")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_one(cmd, cwd, env, out, timeout):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    try:
        with open(out) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {"modules": {}, "tests": {}, "details": {}}
    data["exit"] = p.returncode
    data["stderr"] = p.stderr[-4000:]
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*")
    ap.add_argument("--ci", action="store_true", help="the representative subset")
    ap.add_argument("--ward", default=str(ROOT / os.environ.get("WARD_BUILD", "build") / "ward"))
    ap.add_argument("--json", help="write the comparison here")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    modules = args.modules or (CI if args.ci else FULL)
    ward = pathlib.Path(args.ward).resolve()
    build = ward.parent
    unit = str(HERE / "unit.py")

    work = pathlib.Path(tempfile.mkdtemp(prefix="ward-conf-"))
    try:
        native_dir = work / "native"
        (native_dir / "tmp").mkdir(parents=True)
        (work / "enclave" / "tmp").mkdir(parents=True)
        empty = work / "empty"
        empty.mkdir()
        key = work / "vol.key"
        vol = work / "vol"
        p = subprocess.run([str(ward), "fs", "encrypt", str(empty), str(vol), "--key-file", str(key)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("cannot create the encrypted volume: " + p.stderr.strip())
        setup = ("import os; os.makedirs('%s/cwd', exist_ok=True); os.makedirs('%s/tmp', exist_ok=True)"
                 % (vol, vol))
        p = subprocess.run([str(ward), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", setup],
                           env=env_for(work, build), capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("cannot prepare the volume: " + p.stderr.strip())

        results = {}
        results["native"] = run_one([PY, unit, str(work / "native.json"), *modules], native_dir,
                                    env_for(native_dir / "tmp", build), work / "native.json", args.timeout)
        results["enclave"] = run_one([str(ward), "run", "--", PY, unit, str(work / "enclave.json"), *modules],
                                     work / "enclave", env_for(work / "enclave" / "tmp", build),
                                     work / "enclave.json", args.timeout)
        results["shield"] = run_one([str(ward), "run", "--volume", "%s:%s" % (vol, key), "--", PY, unit,
                                     str(work / "shield.json"), *modules],
                                    vol / "cwd", env_for(vol / "tmp", build), work / "shield.json", args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    known = {}
    kf = HERE / "known.txt"
    if kf.exists():
        for line in kf.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                tid, _, reason = line.partition(" ")
                known[tid] = reason.strip()

    n, e, s = (results[k]["tests"] for k in ("native", "enclave", "shield"))
    ids = sorted(set(n) | set(e) | set(s))
    shield_diff, enclave_diff = [], []
    for t in ids:
        if e.get(t) != s.get(t):
            shield_diff.append((t, e.get(t), s.get(t)))
        if n.get(t) != e.get(t):
            enclave_diff.append((t, n.get(t), e.get(t)))

    def count(d):
        c = {}
        for v in d.values():
            c[v] = c.get(v, 0) + 1
        return ", ".join("%s %d" % kv for kv in sorted(c.items()))

    print("modules: %s" % " ".join(modules))
    for k in ("native", "enclave", "shield"):
        mods = results[k]["modules"]
        bad = [m for m in modules if mods.get(m, {}).get("status") != "ran"]
        print("%-8s %5d tests: %s%s" % (k, len(results[k]["tests"]), count(results[k]["tests"]),
                                       ("; not run: " + ", ".join(bad)) if bad else ""))
        if bad and results[k]["stderr"]:
            print("  stderr tail:", results[k]["stderr"][-600:].replace("\n", "\n    "))
    print("\nenclave vs native (runtime limits, not the shield): %d differences" % len(enclave_diff))
    print("shield vs enclave (the file shield): %d differences" % len(shield_diff))
    unexplained = 0
    def reason_for(t):
        if t in known:
            return known[t]
        for pat, why in known.items():
            if fnmatch.fnmatchcase(t, pat):
                return why
        return None

    for t, a, b in shield_diff:
        reason = reason_for(t)
        if reason is None:
            unexplained += 1
        print("  %-90s enclave=%s shield=%s%s" % (t, a, b, ("  [%s]" % reason) if reason else "  [NOT LISTED]"))
        if reason is None and t in results["shield"]["details"]:
            print("    " + results["shield"]["details"][t].strip().splitlines()[-1][:300])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"modules": modules, "shield_diff": shield_diff, "enclave_diff": enclave_diff,
                       "counts": {k: count(results[k]["tests"]) for k in results}}, f, indent=1)
    missing = [m for m in modules if results["shield"]["modules"].get(m, {}).get("status") != "ran"]
    if missing:
        print("shield run did not complete: %s" % ", ".join(missing))
        return 1
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
