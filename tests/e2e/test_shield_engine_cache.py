"""The engine image's warm start in simulation mode (docs/file-shield.md,
"Engine image"): a start whose manifests and files were checked before, and
did not change since (same device, inode, size, mtime and ctime), needs no
OpenSSL, no manifest check and no copies of libraries; anything changed is
checked as without the cache, and hardware mode never uses it."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import PY, WARD, base_env, needs_runtime, one_line, ward
from test_shield_engine import own_python  # noqa: F401 (a fixture)

pytestmark = needs_runtime

# What the program reports: whether OpenSSL is mapped, and how the C
# extension _decimal (in /usr/lib/python3.11/lib-dynload) was loaded.
PROBE = ("import json, _decimal\n"
         "maps = open('/proc/self/maps').read()\n"
         "dec = [l for l in maps.splitlines() if '_decimal' in l]\n"
         "print('libcrypto' in maps, 'memfd' if any('memfd:' in l for l in dec) else 'file' if dec else 'none')\n")


def cache_files(cache):
    d = cache / "ward" / "engine"
    return sorted(d.iterdir()) if d.exists() else []


def snapshot(cache):
    return {p.name: p.read_bytes() for p in cache_files(cache)}


def test_warm_start_needs_no_openssl_and_no_copies(tmp):
    env = base_env(XDG_CACHE_HOME=tmp / "c", WARD_VERSION="1")
    cold = ward("run", "--", PY, "-c", PROBE, env=env, timeout=300)
    assert cold.returncode == 0, cold.stderr
    assert "export WARD_ALLOW_DLOPEN=1" in cold.stderr  # the engine image is on
    assert cold.stdout == "True memfd\n"                 # checked, and a sealed copy
    lines = b"".join(p.read_bytes() for p in cache_files(tmp / "c")).decode().splitlines()
    assert any(l.startswith("F ") and l.endswith(" lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so")
               for l in lines), lines
    assert any(l.startswith("F ") and (l.endswith(" json/__init__.py") or
                                       l.endswith(" json/__pycache__/__init__.cpython-311.pyc")) for l in lines), lines
    assert sum(l.startswith("M ") for l in lines) == len(cache_files(tmp / "c"))
    warm = ward("run", "--", PY, "-c", PROBE, env=env)
    assert warm.returncode == 0, warm.stderr
    assert "export WARD_ALLOW_DLOPEN=1" in warm.stderr
    assert warm.stdout == "False file\n"                 # no OpenSSL, the library's own file
    assert [l for l in one_line(warm.stderr) if "not authenticated" in l] == []
    # Turned off: every check again (what hardware mode does).
    off = ward("run", "--", PY, "-c", PROBE, env=dict(env, WARD_ENGINE_CACHE="0"))
    assert off.returncode == 0, off.stderr
    assert off.stdout == "True memfd\n"
    # The same enclave hash either way: the cache changes no measured input.
    def h(r):
        return [l for l in r.stderr.splitlines() if l.startswith("Enclave hash: ")]
    assert h(cold) == h(warm) == h(off) and h(cold)


def test_cache_writable_by_others_is_ignored(tmp):
    env = base_env(XDG_CACHE_HOME=tmp / "c")
    for _ in range(2):
        r = ward("run", "--", PY, "-c", PROBE, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
    assert r.stdout == "False file\n"
    for p in cache_files(tmp / "c"):
        p.chmod(0o622)
    r = ward("run", "--", PY, "-c", PROBE, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True memfd\n"
    for p in cache_files(tmp / "c"):
        p.chmod(0o600)
    r = ward("run", "--", PY, "-c", PROBE, env=env)
    assert r.stdout == "False file\n"


@pytest.fixture
def fresh_python(own_python, tmp):  # noqa: F811
    """A copy of the private interpreter for one test (the tests modify it)."""
    return shutil.copytree(own_python, tmp / "prefix", symlinks=True)


def stat_id(p):
    st = os.stat(p)
    return "%d %d %d %d %d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def own_env(tmp):
    return base_env(XDG_DATA_HOME=tmp / "data", XDG_CACHE_HOME=tmp / "cache")


CODE = "import json; print(json.dumps([1]))"


def flip_same_size(p):
    """Changes one byte of p without changing its size."""
    b = bytearray(p.read_bytes())
    i = b.index(b"JSON")
    b[i:i + 4] = b"J5ON"
    p.write_bytes(bytes(b))


def test_file_modified_after_the_cache_was_filled_is_refused(fresh_python, tmp):
    env = own_env(tmp)
    py = fresh_python / "bin" / "python3.11"
    for _ in range(2):
        r = ward("run", "--", py, "-c", CODE, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "[1]\n"
    target = fresh_python / "lib" / "python3.11" / "json" / "__init__.py"
    lines = b"".join(p.read_bytes() for p in cache_files(tmp / "cache")).decode().splitlines()
    assert "F %s %d json/__init__.py" % (stat_id(target), len("json/__init__.py")) in lines
    flip_same_size(target)
    r = ward("run", "--", py, "-c", CODE, env=env)
    assert r.returncode != 0
    assert r.stdout != "[1]\n"
    bad = [l for l in one_line(r.stderr) if "json/__init__.py" in l]
    assert bad and bad[0].startswith("ward: cannot read %s: chunk " % target), r.stderr
    assert bad[0].endswith("the authenticated region %s was changed outside the enclave (if the interpreter's "
                           "packages were updated on purpose, rebuild the engine image: 'ward engine-image "
                           "--rebuild %s')" % (fresh_python / "lib" / "python3.11", os.path.realpath(py))), bad[0]
    # Longer: refused at open, with the line the cold start gives.
    target.write_text(target.read_text() + "\nprint('injected')\n")
    r = ward("run", "--", py, "-c", CODE, env=env)
    assert r.returncode != 0
    assert "injected" not in r.stdout
    bad = [l for l in one_line(r.stderr) if "json/__init__.py" in l]
    assert bad and bad[0].startswith("ward: cannot open %s: file extended on disk" % target), r.stderr


def test_first_start_checks_a_file_once_and_gives_that_descriptor(fresh_python, tmp):
    """A file not in the cache yet is checked in full on the descriptor the
    program then gets, as a hit would be: the program's fstat is the
    kernel's (real ctime; through the shield's reads, ctime shows the
    mtime), so the usual per-read check does not run a second time."""
    env = own_env(tmp)
    py = fresh_python / "bin" / "python3.11"
    r = ward("run", "--", py, "-c", "pass", env=env, timeout=300)  # builds the manifests
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp / "cache" / "ward" / "engine")
    target = fresh_python / "lib" / "python3.11" / "json" / "__init__.py"
    st = os.stat(target)
    assert st.st_ctime_ns != st.st_mtime_ns
    # the program's first open of the file (json is not imported at start)
    code = ("import os; fd = os.open(%r, os.O_RDONLY); print(os.fstat(fd).st_ctime_ns, len(os.read(fd, 1 << 20)))"
            % str(target))
    r = ward("run", "--", py, "-c", code, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%d %d\n" % (st.st_ctime_ns, st.st_size)
    lines = b"".join(p.read_bytes() for p in cache_files(tmp / "cache")).decode().splitlines()
    assert "F %s %d json/__init__.py" % (stat_id(target), len("json/__init__.py")) in lines


def test_first_start_refuses_a_file_modified_before_it(fresh_python, tmp):
    """The same first start with a file changed after the manifest was built
    (same size and mtime, so only the full check can tell): refused with the
    usual line, nothing of it reaches the program, and nothing is learnt."""
    env = own_env(tmp)
    py = fresh_python / "bin" / "python3.11"
    r = ward("run", "--", py, "-c", "pass", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(tmp / "cache" / "ward" / "engine")
    target = fresh_python / "lib" / "python3.11" / "json" / "__init__.py"
    st = os.stat(target)
    flip_same_size(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = ward("run", "--", py, "-c", "import sys; d = open(%r).read(); print('J5ON' in d)" % str(target), env=env)
    assert r.returncode != 0
    assert "True" not in r.stdout
    bad = [l for l in one_line(r.stderr) if "json/__init__.py" in l]
    assert bad and bad[0].startswith("ward: cannot read %s: chunk " % target), r.stderr
    lines = b"".join(p.read_bytes() for p in cache_files(tmp / "cache")).decode().splitlines()
    assert not any(l.endswith(" json/__init__.py") for l in lines)


def cache_lines(cache):
    return b"".join(p.read_bytes() for p in cache_files(cache)).decode().splitlines()


def test_cache_file_is_compacted_when_files_are_replaced(fresh_python, tmp):
    """The image's files replaced again and again by identical copies (same
    bytes, size, mode and mtime: a reinstall) get new identities, are
    checked again and get new F lines; the superseded ones are dropped once
    they are a third of the file, so it stays within two lines per file
    used instead of growing to the cap. What it keeps still
    gives a warm start."""
    env = own_env(tmp)
    py = fresh_python / "bin" / "python3.11"
    lib = fresh_python / "lib" / "python3.11"
    r = ward("run", "--", py, "-c", CODE, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(cache_files(tmp / "cache")) == 1
    live = cache_lines(tmp / "cache")
    rels = [l.split(" ", 7)[7] for l in live if l.startswith("F ")]
    assert "json/__init__.py" in rels and len(rels) == len(live) - 1, live
    counts = []
    for _ in range(6):
        for rel in rels:  # an identical copy renamed over each file used
            p = lib / rel
            st = os.stat(p)
            shutil.copy2(p, str(p) + ".new")
            os.utime(str(p) + ".new", ns=(st.st_atime_ns, st.st_mtime_ns))
            os.replace(str(p) + ".new", p)
        r = ward("run", "--", py, "-c", CODE, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "[1]\n"
        counts.append(len(cache_lines(tmp / "cache")))
    # without compaction: len(live) + k * len(rels) after the kth run
    assert max(counts) <= 2 * len(live), (counts, len(live))
    lines = cache_lines(tmp / "cache")
    assert sum(l.startswith("M ") for l in lines) == 1
    for rel in rels:  # the current identity, and at most the one before
        mine = [l for l in lines if l.startswith("F ") and l.endswith(" %d %s" % (len(rel), rel))]
        assert 1 <= len(mine) <= 2 and mine[-1] == "F %s %d %s" % (stat_id(lib / rel), len(rel), rel), mine
    # the compacted file still gives a warm start: no OpenSSL
    r = ward("run", "--", py, "-c", CODE + "; print('libcrypto' in open('/proc/self/maps').read())", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[1]\nFalse\n"


def test_caches_of_images_unused_for_30_days_are_removed(tmp):
    """A new cache file (a new image) removes the cache files of the same
    directory that were not used for 30 days, and only those; a cache in use
    has its mtime refreshed, so it does not age out."""
    env = base_env(XDG_CACHE_HOME=tmp / "c")
    r = ward("run", "--", PY, "-c", "pass", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    mine = cache_files(tmp / "c")  # one per engine tree
    assert mine
    d = mine[0].parent
    day = 86400
    old = d / ("a" * 64)                  # another image's cache, unused for 40 days
    recent = d / ("b" * 64)               # used 10 days ago
    leftover = d / ("c" * 64 + ".123.new")  # an interrupted compaction, 40 days old
    other = d / "notes.txt"               # not a cache file: never touched
    for p, age in ((old, 40), (recent, 10), (leftover, 40), (other, 40)):
        p.write_text("M 1 2 3 4 5\n")
        os.utime(p, (time.time() - age * day, time.time() - age * day))
    # this image's caches in use, last written 2 days ago: refreshed, kept
    for p in mine:
        os.utime(p, (time.time() - 2 * day, time.time() - 2 * day))
    r = ward("run", "--", PY, "-c", "pass", env=env)
    assert r.returncode == 0, r.stderr
    assert all(time.time() - p.stat().st_mtime < 3600 for p in mine)
    assert old.exists() and leftover.exists()  # nothing is pruned by a run that creates no cache
    # a new image (its own cache file is created) prunes what aged out
    mine[0].unlink()
    r = ward("run", "--", PY, "-c", "pass", env=env)
    assert r.returncode == 0, r.stderr
    assert all(p.exists() for p in mine)
    assert not old.exists() and not leftover.exists()
    assert recent.exists() and other.exists()


def test_forged_cache_line_with_another_identity_is_not_used(fresh_python, tmp):
    env = own_env(tmp)
    py = fresh_python / "bin" / "python3.11"
    for _ in range(2):
        r = ward("run", "--", py, "-c", CODE, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
    lib = fresh_python / "lib" / "python3.11"
    target = lib / "json" / "__init__.py"
    flip_same_size(target)
    dev, ino, size, mtime, ctime = map(int, stat_id(target).split())
    rel = "json/__init__.py"
    forged = ["F %d %d %d %d %d %d %s" % (dev, ino, size, mtime, ctime + 1, len(rel), rel),  # ctime off by 1 ns
              "F %d %d %d %d %d %d %s" % (dev, ino + 1, size, mtime, ctime, len(rel), rel),  # another inode
              "F %s %d %s" % (stat_id(lib / "json" / "decoder.py"), len(rel), rel)]           # another file's
    for p in cache_files(tmp / "cache"):
        with open(p, "a") as f:
            f.write("\n".join(forged) + "\n" + "F garbage\nM 1 2\n")
    r = ward("run", "--", py, "-c", CODE, env=env)
    assert r.returncode != 0
    bad = [l for l in one_line(r.stderr) if "json/__init__.py" in l]
    assert bad and bad[0].startswith("ward: cannot read %s: chunk " % target), r.stderr
    # The malformed lines did not stop anything else: other files still hit.
    r = ward("run", "--", py, "-c", "print('libcrypto' in open('/proc/self/maps').read())", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "False\n"


def test_manifest_modified_after_the_cache_was_filled_stops_the_start(tmp):
    data = tmp / "data"
    shutil.copytree(base_env()["XDG_DATA_HOME"], data)
    env = base_env(XDG_DATA_HOME=data, XDG_CACHE_HOME=tmp / "c")
    for _ in range(2):
        r = ward("run", "--", PY, "-c", "print('started')", env=env, timeout=300)
        assert r.returncode == 0, r.stderr
    man = data / "ward" / "engine" / "usr_lib_python3.11.manifest"
    b = bytearray(man.read_bytes())
    b[len(b) // 2] ^= 0x01
    man.write_bytes(bytes(b))
    r = ward("run", "--", PY, "-c", "print('started')", env=env)
    assert r.returncode == 125
    assert r.stdout == ""
    lines = one_line(r.stderr)
    assert len(lines) == 1 and "/usr/lib/python3.11" in lines[0] and str(man) in lines[0], r.stderr


def can_fake_tsm():
    r = subprocess.run(["unshare", "-Urm", "sh", "-c",
                        "mount -t tmpfs none /sys/kernel && mkdir -p /sys/kernel/config/tsm/report"],
                       capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(shutil.which("unshare") is None or not can_fake_tsm(),
                    reason="needs unprivileged user and mount namespaces to present a configfs-tsm")
def test_hardware_mode_never_uses_the_cache(fresh_python, tmp):
    """Hardware mode is chosen when a TEE is found; a private mount namespace
    presents /sys/kernel/config/tsm/report (a confidential VM's configfs-tsm)
    so that WARD_MODE=hw starts. The same setup in simulation mode is warm.
    (The private interpreter's files belong to the user, who is root in the
    namespace, as the cache requires.)"""
    env = dict(own_env(tmp), WARD_VERSION="1")
    py = fresh_python / "bin" / "python3.11"

    def in_ns(mode, code):
        cmd = "mount -t tmpfs none /sys/kernel && mkdir -p /sys/kernel/config/tsm/report && exec \"$@\""
        return subprocess.run(["unshare", "-Urm", "sh", "-c", cmd, "sh", str(WARD), "run", "--", str(py), "-c", code],
                              env=dict(env, WARD_MODE=mode), capture_output=True, text=True, timeout=300)

    for _ in range(2):
        sim = in_ns("sim", PROBE)
        assert sim.returncode == 0, sim.stderr
    assert "Mode: sim" in sim.stderr
    assert sim.stdout == "False file\n"
    before = snapshot(tmp / "cache")
    code = "import csv, _csv\n" + PROBE  # files and a library not in the cache yet
    hw = in_ns("hw", code)
    assert hw.returncode == 0, hw.stderr
    assert "Mode: hw" in hw.stderr
    assert hw.stdout == "True memfd\n"      # every check, and a sealed copy
    assert snapshot(tmp / "cache") == before  # and nothing learnt
    sim = in_ns("sim", code)
    assert sim.returncode == 0, sim.stderr
    assert sim.stdout == "True file\n"      # csv's files were new: checked (OpenSSL); _decimal known
    sim = in_ns("sim", code)
    assert sim.stdout == "False file\n"
