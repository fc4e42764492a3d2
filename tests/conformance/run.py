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
difference and must be listed in known.txt with its reason. One that
differs between native and enclave comes from the runtime's limits: it is
explained either by its traceback (the enclave refused to start a process:
PermissionError raised where Python forks or spawns) or by an entry in
known-runtime.txt. Every difference is printed with its reason;
--differences FILE writes them all as a Markdown table
(docs/conformance-differences.md is that table for the full set).

  tests/conformance/run.py            # the full set (about 3 minutes on 2 cores)
  tests/conformance/run.py --ci       # the representative subset CI runs
  tests/conformance/run.py --python /usr/bin/pypy3   # PyPy (pypy3-lib-testsuite)
  tests/conformance/run.py test_io    # chosen modules
Exit status: 0 when every difference has a reason, 1 otherwise.
"""
import argparse
import fnmatch
import json
import os
import pathlib
import re
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
    # PyPy sizes its nursery (and its major-collection threshold with it)
    # from the CPU's last-level cache: 240 MB where the L3 is 480 MB, which
    # took the full run past the enclave's 4G heap. A fixed size makes the
    # three runs, and the runs of different machines, alike.
    env.setdefault("PYPY_GC_NURSERY", "8MB")
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
    ap.add_argument("--differences", metavar="FILE", help="write every difference and its reason as Markdown")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--python", default=PY, metavar="INTERPRETER",
                    help="the interpreter to test (default %s; /usr/bin/pypy3 with Debian's "
                         "pypy3-lib-testsuite)" % PY)
    args = ap.parse_args()
    py = args.python
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
        results["native"] = run_one([py, unit, str(work / "native.json"), *modules], native_dir,
                                    env_for(native_dir / "tmp", build), work / "native.json", args.timeout)
        results["enclave"] = run_one([str(ward), "run", "--", py, unit, str(work / "enclave.json"), *modules],
                                     work / "enclave", env_for(work / "enclave" / "tmp", build),
                                     work / "enclave.json", args.timeout)
        results["shield"] = run_one([str(ward), "run", "--volume", "%s:%s" % (vol, key), "--", py, unit,
                                     str(work / "shield.json"), *modules],
                                    vol / "cwd", env_for(vol / "tmp", build), work / "shield.json", args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    known = load_reasons(HERE / "known.txt")
    known_runtime = load_reasons(HERE / "known-runtime.txt")

    n, e, s = (results[k]["tests"] for k in ("native", "enclave", "shield"))
    ids = sorted(set(n) | set(e) | set(s))
    shield_diff, enclave_diff = [], []
    for t in ids:
        if e.get(t) != s.get(t):
            shield_diff.append((t, e.get(t), s.get(t), reason_for(t, known)))
        if n.get(t) != e.get(t):
            why = reason_for(t, known_runtime) or (
                "no-fork-exec" if e.get(t) == "error" and refused_process(results["enclave"]["details"].get(t, ""))
                else None)
            enclave_diff.append((t, n.get(t), e.get(t), why))

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
    unexplained = 0
    for title, diffs, a_name, b_name, det in (
            ("enclave vs native (the runtime's limits, not the shield)", enclave_diff, "native", "enclave",
             results["enclave"]["details"]),
            ("shield vs enclave (the file shield)", shield_diff, "enclave", "shield", results["shield"]["details"])):
        reasons = {}
        for d in diffs:
            reasons[d[3] or "NOT EXPLAINED"] = reasons.get(d[3] or "NOT EXPLAINED", 0) + 1
        print("\n%s: %d differences%s" % (title, len(diffs), (" (" + ", ".join(
            "%s %d" % kv for kv in sorted(reasons.items())) + ")") if diffs else ""))
        for t, a, b, reason in diffs:
            if reason is not None and diffs is enclave_diff:
                continue  # explained runtime limits: counted above, listed by --differences
            unexplained += reason is None
            print("  %-90s %s=%s %s=%s  [%s]" % (t, a_name, a, b_name, b, reason or "NOT EXPLAINED"))
            if reason is None and det.get(t):
                print("    " + det[t].strip().splitlines()[-1][:300])
    if args.differences:
        write_differences(args.differences, py, modules, results, enclave_diff, shield_diff, count)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"modules": modules, "shield_diff": shield_diff, "enclave_diff": enclave_diff,
                       "unexplained": unexplained,
                       "counts": {k: count(results[k]["tests"]) for k in results}}, f, indent=1)
    def ran(k, m):
        return results[k]["modules"].get(m, {}).get("status") == "ran"

    # A module that cannot load natively either (PyPy: test_os and
    # test_compileall need _testcapimodule.c, which Debian does not ship)
    # has nothing to compare; one that loads natively must run in all three.
    not_native = [m for m in modules if not ran("native", m)]
    if not_native:
        print("not compared (they do not load natively either): %s" % ", ".join(not_native))
    missing = [m for m in modules if ran("native", m) and not (ran("enclave", m) and ran("shield", m))]
    if missing or len(not_native) == len(modules):
        print("run did not complete: %s" % ", ".join(missing or modules))
        return 1
    return 1 if unexplained else 0


def load_reasons(path):
    """TEST_ID_OR_FNMATCH_PATTERN REASON lines; # comments."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                tid, _, reason = line.partition(" ")
                out[tid] = reason.strip()
    return out


def reason_for(t, table):
    if t in table:
        return table[t]
    for pat, why in table.items():
        if fnmatch.fnmatchcase(t, pat):
            return why
    return None


# Where CPython starts a process: the innermost frame of a PermissionError
# raised by the enclave's fork/exec refusal.
PROCESS_FRAMES = {("subprocess.py", "_execute_child"), ("<frozen os>", "_spawnvef"), ("os.py", "_spawnvef"),
                  ("popen_fork.py", "_launch")}


def refused_process(detail):
    """True when a traceback ends in EPERM from starting a process."""
    lines = detail.strip().splitlines()
    if not lines or not lines[-1].startswith("PermissionError: [Errno 1]"):
        return False
    frames = [(i, m) for i, line in enumerate(lines)
              for m in [re.match(r'\s*File "([^"]+)", line \d+, in (\w+)$', line)] if m]
    if not frames:
        return False
    i, m = frames[-1]
    path, fn = m.groups()
    src = lines[i + 1] if i + 1 < len(lines) - 1 else ""  # frozen modules show no source line
    return (path.rsplit("/", 1)[-1], fn) in PROCESS_FRAMES or re.search(r"\bos\.(fork|forkpty)\(", src) is not None


REASONS = {
    "no-fork-exec": "The test, or a module it imports, starts a process (`subprocess`, `os.spawn*`, "
                    "`multiprocessing`, `os.fork`; PyPy's `dbm.ndbm` runs `ldconfig` to find its library); "
                    "inside the enclave `fork` and `exec` fail with `EPERM` by design (docs/runtime.md).",
    "engine-image-read-only": "The test writes into the stdlib's own directories and skips itself when they are "
                              "not writable; under `ward run` they are the engine image's authenticated, "
                              "read-only regions.",
    "volume-fds": "The volume's own descriptors (manifest, lock) are open in the process, so the test finds no "
                  "run of free descriptors and skips.",
}


def write_differences(path, py, modules, results, enclave_diff, shield_diff, count):
    pypy = "pypy" in os.path.basename(py)
    out = ["# %s conformance: every difference" % ("PyPy" if pypy else "CPython"), "",
           "Written by `tests/conformance/run.py%s --differences FILE` (modules: %s)." % (
               " --python %s" % py if py != PY else "", " ".join(modules)),
           "How the three configurations are run and compared: [file-shield.md](file-shield.md), "
           "\"Conformance: CPython's own tests\".", "",
           "| configuration | tests | outcomes |", "|---|---|---|"]
    for k in ("native", "enclave", "shield"):
        out.append("| %s | %d | %s |" % (k, len(results[k]["tests"]), count(results[k]["tests"])))
    skipped = [m for m in modules if results["native"]["modules"].get(m, {}).get("status") != "ran"]
    if skipped:
        out += ["", "Not compared, because they do not load natively either: %s (%s)." % (
            ", ".join("`%s`" % m for m in skipped),
            "; ".join(sorted({results["native"]["modules"][m]["status"] for m in skipped
                              if m in results["native"]["modules"]})) or "no result")]
    for title, diffs, a, b, table in (
            ("Shield vs enclave: the file shield's differences", shield_diff, "enclave", "shield", "known.txt"),
            ("Enclave vs native: the runtime's limits", enclave_diff, "native", "enclave", "known-runtime.txt")):
        out += ["", "## %s (%d)" % (title, len(diffs)), ""]
        if not diffs:
            out.append("None.")
            continue
        whys = sorted({d[3] or "NOT EXPLAINED" for d in diffs})
        for w in whys:
            out.append("- `%s` (%d): %s" % (w, sum((d[3] or "NOT EXPLAINED") == w for d in diffs),
                                           REASONS.get(w, "see the comment above it in `tests/conformance/%s`" % table)))
        out += ["", "| test | %s | %s | reason |" % (a, b), "|---|---|---|---|"]
        for t, x, y, why in diffs:
            out.append("| `%s` | %s | %s | `%s` |" % (t[len("test."):] if t.startswith("test.") else t, x, y,
                                                     why or "NOT EXPLAINED"))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
