"""File shield end to end: real `ward run /usr/bin/python3 ...` processes on
encrypted, authenticated, ephemeral and denied regions."""
import os
import re
import shutil
import stat
import pathlib
import subprocess
import textwrap

import pytest

from conftest import PY, WARD, base_env, needs_heap_bound, needs_runtime, one_line, ward

pytestmark = needs_runtime

SECRET = b"attack at dawn; the password is swordfish\n"


def make_volume(tmp, files):
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    for name, data in files.items():
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    vol, key = tmp / "app.vol", tmp / "app.key"
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return vol, key


def run_py(code, *opts, cwd=None, env=None):
    return ward("run", *opts, "--", PY, "-c", textwrap.dedent(code), cwd=cwd, env=env)


def test_encrypted_program_runs_and_disk_holds_ciphertext(tmp):
    vol, key = make_volume(tmp, {"main.py": "import data\nprint('hello from', data.WHO)\n",
                                 "data.py": "WHO = 'the volume'\n",
                                 "secret.txt": SECRET})
    assert SECRET not in (vol / "secret.txt").read_bytes()
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, vol / "main.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from the volume\n"


def test_read_write_stat_listdir_roundtrip(tmp):
    vol, key = make_volume(tmp, {"secret.txt": SECRET})
    code = """
        import os, sys
        v = sys.argv[1]
        assert open(v + '/secret.txt', 'rb').read() == %r
        with open(v + '/out.bin', 'wb') as f:
            f.write(b'x' * 10000)
            f.seek(5000); f.write(b'middle')
        st = os.stat(v + '/out.bin')
        assert st.st_size == 10000, st
        os.mkdir(v + '/d')
        with open(v + '/d/a.txt', 'w') as f: f.write('a' * 123)
        os.rename(v + '/d/a.txt', v + '/d/b.txt')
        print(sorted(os.listdir(v)), sorted(os.listdir(v + '/d')), os.path.getsize(v + '/d/b.txt'))
        with open(v + '/log.txt', 'a') as f: f.write('one\\n')
        with open(v + '/log.txt', 'a') as f: f.write('two\\n')
        print(open(v + '/log.txt').read().split())
    """ % SECRET
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["['d', 'out.bin', 'secret.txt'] ['b.txt'] 123",
                                     "['one', 'two']"]
    # On disk: ciphertext only; the metadata entry exists but is hidden above.
    assert b"middle" not in (vol / "out.bin").read_bytes()
    assert (vol / ".ward-volume").is_dir()
    # A second run reads back what the first wrote.
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
             "import sys; d = open(sys.argv[1] + '/out.bin','rb').read(); print(len(d), d[5000:5006])", vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "10000 b'middle'\n"


def test_tampered_chunk_gives_eio_and_one_line(tmp):
    vol, key = make_volume(tmp, {"big.bin": os.urandom(3 * 4096 + 100)})
    with open(vol / "big.bin", "r+b") as f:
        f.seek(2 * 4096 + 7)
        b = f.read(1)
        f.seek(2 * 4096 + 7)
        f.write(bytes([b[0] ^ 1]))
    code = """
        import sys, errno
        f = open(sys.argv[1] + '/big.bin', 'rb', buffering=0)
        assert len(f.read(4096)) == 4096  # chunk 0 is intact
        try:
            f.read()
        except OSError as e:
            print('errno', errno.errorcode[e.errno])
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    # The program handled the error, but a run that hit an integrity failure
    # never reports success (tests/e2e/test_integrity_exit.py).
    assert r.returncode == 74, r.stderr
    assert r.stdout == "errno EIO\n"
    lines = one_line(r.stderr)
    assert len(lines) == 2, r.stderr
    assert "big.bin" in lines[0] and "chunk 2" in lines[0], lines[0]
    assert lines[1].startswith("ward: exiting with status 74 instead of 0")


@pytest.mark.parametrize("faulthandler", [False, True])
def test_file_shortened_on_disk_while_mapped_gives_eio(tmp, faulthandler):
    # Small reads decrypt from a mapping of the chunk file; shortening the
    # file on disk while the program runs makes that mapping fault (SIGBUS),
    # which the shield turns into EIO and the line, with or without
    # Python's faulthandler (which installs its own SIGBUS handler).
    vol, key = make_volume(tmp, {"big.bin": os.urandom(16 * 4096)})
    code = """
        import sys, errno, os
        f = open(sys.argv[1] + '/big.bin', 'rb', buffering=0)
        # enough small reads of the file's first 64 KiB that it is mapped
        # and the window is read from the mapping (docs/volume-format.md)
        for _ in range(12):
            assert len(os.pread(f.fileno(), 4096, 0)) == 4096
        assert any(l.rstrip().endswith('/big.bin') for l in open('/proc/self/maps'))
        print('ready', flush=True)
        sys.stdin.readline()
        for off, n in ((8 * 4096, 4096), (9 * 4096 + 5, 100)):
            try:
                os.pread(f.fileno(), n, off)
                print('read')
            except OSError as e:
                print('errno', errno.errorcode[e.errno])
        print(len(os.pread(f.fileno(), 4096, 4096)))
    """
    opts = ["-X", "faulthandler"] if faulthandler else []
    p = subprocess.Popen([str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, *opts, "-c",
                          textwrap.dedent(code), str(vol)], env=base_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    os.truncate(vol / "big.bin", 2 * 4096)
    out, err = p.communicate("go\n", timeout=60)
    assert p.returncode == 74, err
    assert out == "errno EIO\nerrno EIO\n4096\n", err
    lines = one_line(err)
    assert lines[0].startswith(f"ward: cannot read {vol}/big.bin: chunk 8: file truncated on disk;"), err
    assert lines[1].startswith(f"ward: cannot read {vol}/big.bin: chunk 9: file truncated on disk;"), err


@pytest.mark.parametrize("mmap_env", [None, "0"])
def test_mapping_switch_reaches_the_program(tmp, mmap_env):
    # WARD_VOL_MMAP=0 (docs/volume-format.md) turns the chunk-file mappings
    # off under `ward run` too: the runtime clears WARD_* from the
    # environment before the program runs, so the switch must be read
    # first. (A file is mapped after a few small reads.)
    vol, key = make_volume(tmp, {"big.bin": os.urandom(16 * 4096)})
    code = """
        import sys, errno, os
        f = open(sys.argv[1] + '/big.bin', 'rb', buffering=0)
        for _ in range(8):
            data = os.pread(f.fileno(), 4096, 4096)
        mapped = any(l.rstrip().endswith('/big.bin') for l in open('/proc/self/maps'))
        print('mapped' if mapped else 'not mapped', len(data))
    """
    env = base_env()
    if mmap_env is not None:
        env["WARD_VOL_MMAP"] = mmap_env
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("not mapped 4096\n" if mmap_env == "0" else "mapped 4096\n"), r.stderr


def test_wrong_key_refused_before_start(tmp):
    vol, key = make_volume(tmp, {"a.txt": "a"})
    other = tmp / "other.key"
    other.write_text("11" * 32 + "\n")
    other.chmod(0o600)
    r = run_py("print('started')", "--volume", "%s:%s" % (vol, other))
    assert r.returncode == 125
    assert "started" not in r.stdout
    lines = one_line(r.stderr)
    assert len(lines) == 1 and "wrong key" in lines[0] and str(vol) in lines[0], r.stderr


def test_bad_volume_option(tmp):
    r = run_py("print(1)", "--volume", str(tmp / "missing.vol"))
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: --volume %s: expected DIR:KEYFILE[:ro] (the volume directory and its key "
                                  "file; :ro opens it read-only)" % (tmp / "missing.vol")]
    r = run_py("print(1)", "--volume", "%s:%s" % (tmp / "missing.vol", tmp / "k"))
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: --volume %s: No such file or directory; make the volume first: "
                                  "ward fs encrypt SRC_DIR VOL --key-file KEYFILE" % (tmp / "missing.vol")]
    vol, key = make_volume(tmp, {"a.txt": "x"})
    r = run_py("print(1)", "--volume", "%s:%s" % (vol, tmp / "missing.key"))
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: --volume %s: No such file or directory; give the key file the volume "
                                  "was made with (ward fs encrypt writes one)" % (tmp / "missing.key")]


def test_volume_and_key_paths_holding_colons(tmp):
    # DIR:KEYFILE was split at the last ':', so a key file named 'k:1' could
    # not be given at all
    src = tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("colons")
    (tmp / "d:1").mkdir()
    for vol, key in ((tmp / "v", tmp / "k:1"), (tmp / "d:1" / "v", tmp / "k2"), (tmp / "d:1" / "w", tmp / "k:3")):
        assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
        r = run_py("print(open(%r).read())" % str(vol / "a.txt"), "--volume", "%s:%s" % (vol, key))
        assert r.returncode == 0 and r.stdout == "colons\n", r.stderr


def test_ephemeral_region_is_private_and_removed(tmp):
    eph = tmp / "scratch"
    code = """
        import os, sys
        d = sys.argv[1]
        with open(d + '/t.txt', 'w') as f: f.write('temporary secret')
        print(open(d + '/t.txt').read(), os.listdir(d))
    """
    r = ward("run", "--ephemeral", eph, "--", PY, "-c", textwrap.dedent(code), eph)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "temporary secret ['t.txt']\n"
    assert not eph.exists()


def test_regions_nested_in_a_volume_or_ephemeral_region_are_refused(tmp):
    """A region inside a volume would appear in it as entries it does not
    list, and one inside an ephemeral region would be removed with it: both
    refused at start, the volume left verifying."""
    vol, key = make_volume(tmp, {"a.txt": "keep me"})
    cases = [
        (["--volume", "%s:%s" % (vol, key), "--ephemeral", vol / "tmp"],
         "the ephemeral region %s/tmp lies inside the encrypted region %s" % (vol, vol)),
        (["--ephemeral", vol / "tmp", "--volume", "%s:%s" % (vol, key)],
         "the ephemeral region %s/tmp lies inside the encrypted region %s" % (vol, vol)),
        (["--ephemeral", tmp / "e", "--ephemeral", tmp / "e" / "in"],
         "the ephemeral region %s/e/in lies inside the ephemeral region %s/e" % (tmp, tmp)),
        (["--volume", "%s:%s" % (vol, key), "--plain", vol / "cache"],
         "the plain region %s/cache lies inside the encrypted region %s" % (vol, vol)),
    ]
    (vol / "cache").mkdir()
    (tmp / "e").mkdir()
    for args, what in cases:
        r = run_py("print(1)", *args)
        assert r.returncode == 125 and r.stdout == "", r.stderr
        assert one_line(r.stderr) == ["ward: %s; choose a directory outside %s for it" % (what, what.rsplit(" ", 1)[1])]
    (vol / "cache").rmdir()
    assert not (vol / "tmp").exists() and not (tmp / "e" / "in").exists()
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    # a plain region may hold one (the scratch directory of a plain tree)
    (tmp / "p").mkdir()
    r = run_py("print(1)", "--plain", tmp / "p", "--ephemeral", tmp / "p" / "scratch")
    assert r.returncode == 0 and r.stdout == "1\n", r.stderr
    assert not (tmp / "p" / "scratch").exists()


def test_ephemeral_refuses_a_directory_with_user_data(tmp):
    eph = tmp / "data"
    eph.mkdir()
    (eph / "keep.txt").write_text("mine")
    r = run_py("print(1)", "--ephemeral", eph)
    assert r.returncode == 125
    assert "is not empty and is not a Ward volume" in r.stderr
    assert (eph / "keep.txt").read_text() == "mine"


def test_ephemeral_never_destroys_a_persistent_volume(tmp):
    """--ephemeral on a directory holding a real (persistent) volume, alone
    or together with --volume for the same directory, is refused and the
    volume stays whole; the leftover of a killed ephemeral run is removed."""
    vol, key = make_volume(tmp, {"a.txt": "keep me"})
    for extra in ([], ["--volume", "%s:%s" % (vol, key)]):
        r = run_py("print(1)", "--ephemeral", vol, *extra)
        assert r.returncode == 125 and r.stdout == ""
        assert one_line(r.stderr) == [
            "ward: the ephemeral directory %s holds a Ward volume that is not an ephemeral one (it would be "
            "destroyed); give an empty or new directory, or open that volume with --volume DIR:KEYFILE" % vol], r.stderr
        assert ward("fs", "cat", vol, "a.txt", "--key-file", key).stdout == "keep me"
    # a run killed with its ephemeral region in place leaves it behind;
    # the next run removes it (its key is gone) and starts empty
    eph = tmp / "scratch"
    p = subprocess.Popen([str(WARD), "run", "--ephemeral", str(eph), "--", PY, "-c",
                          "import sys, time; open(sys.argv[1] + '/x', 'w').write('x'); print('up', flush=True); "
                          "time.sleep(60)", str(eph)], stdout=subprocess.PIPE, env=base_env())
    assert p.stdout.readline() == b"up\n"
    p.kill()
    p.wait()
    assert (eph / ".ward-volume" / "ephemeral").is_file() and (eph / "x").exists()
    r = ward("run", "--ephemeral", eph, "--", PY, "-c", "import os, sys; print(os.listdir(sys.argv[1]))", eph)
    assert r.returncode == 0 and r.stdout == "[]\n", r.stderr
    assert not eph.exists()


def test_ephemeral_region_in_use_is_never_removed(tmp):
    """A second run given the ephemeral directory of a run still going is
    refused (it once took the live region for a leftover and removed it);
    the first run keeps its files."""
    eph = tmp / "scratch"
    p = subprocess.Popen([str(WARD), "run", "--ephemeral", str(eph), "--", PY, "-c",
                          "import sys; d = sys.argv[1]; open(d + '/x', 'w').write('mine'); print('up', flush=True); "
                          "sys.stdin.readline(); print(open(d + '/x').read(), flush=True)", str(eph)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env())
    try:
        assert p.stdout.readline() == b"up\n"
        r = run_py("print(1)", "--ephemeral", eph)
        assert r.returncode == 125 and r.stdout == ""
        assert one_line(r.stderr) == [
            "ward: the ephemeral directory %s is in use by another running program; give a different directory"
            % eph], r.stderr
        out, err = p.communicate(b"\n", timeout=60)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 0, err
    assert out == b"mine\n"
    assert not eph.exists()


def test_ephemeral_region_removed_when_another_region_fails_at_start(tmp):
    vol, key = make_volume(tmp, {"a.txt": "x"})
    bad = tmp / "other.key"
    bad.write_text("00" * 32 + "\n")
    bad.chmod(0o600)
    eph = tmp / "scratch"
    r = run_py("print(1)", "--ephemeral", eph, "--volume", "%s:%s" % (vol, bad))
    assert r.returncode == 125 and r.stdout == ""
    assert "wrong key" in r.stderr
    assert not eph.exists()


def test_authenticated_region_reads_checks_and_refuses_writes(tmp):
    lib = tmp / "lib"
    lib.mkdir()
    (lib / "mod.py").write_text("VALUE = 42\n")
    (lib / "blob.bin").write_bytes(os.urandom(20000))
    man = tmp / "lib.manifest"
    r = ward("fs", "authenticate", lib, "-o", man)
    assert r.returncode == 0, r.stderr
    spec = "%s:%s" % (lib, man)
    code = """
        import sys, errno
        sys.path.insert(0, sys.argv[1])
        import mod
        print(mod.VALUE)
        try:
            open(sys.argv[1] + '/mod.py', 'a')
        except OSError as e:
            print(errno.errorcode[e.errno])
    """
    r = ward("run", "--authenticated", spec, "--", PY, "-B", "-c", textwrap.dedent(code), lib)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\nEROFS\n"
    with open(lib / "blob.bin", "r+b") as f:
        f.seek(10000)
        b = f.read(1)
        f.seek(10000)
        f.write(bytes([b[0] ^ 1]))  # always a change (a fixed byte may equal the random one)
    r = ward("run", "--authenticated", spec, "--", PY, "-c",
             "import sys\ntry:\n open(sys.argv[1] + '/blob.bin','rb').read()\nexcept OSError as e: print(e.errno)", lib)
    assert r.returncode == 74, r.stderr
    assert r.stdout == "5\n"
    lines = one_line(r.stderr)
    assert len(lines) == 2 and "blob.bin" in lines[0] and "chunk 2" in lines[0], r.stderr
    assert lines[1].startswith("ward: exiting with status 74 instead of 0")


def test_authenticated_region_hides_a_file_added_after_its_manifest(tmp):
    lib = tmp / "lib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "pkg" / "old.py").write_text("X = 1\n")
    man = tmp / "lib.manifest"
    assert ward("fs", "authenticate", lib, "-o", man).returncode == 0
    (lib / "pkg" / "new.py").write_text("X = 2\n")
    (lib / "pkg" / "other.py").write_text("X = 3\n")
    code = ("import os, sys\nprint(sorted(os.listdir(sys.argv[1] + '/pkg')))\n"
            "for n in ('new.py', 'other.py', 'missing.py'):\n"
            " try:\n  open(sys.argv[1] + '/pkg/' + n)\n except OSError as e: print(n, e.errno)")
    r = ward("run", "--authenticated", "%s:%s" % (lib, man), "--", PY, "-c", code, lib)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "['old.py']\nnew.py 2\nother.py 2\nmissing.py 2\n"
    # one line for the directory, naming the first entry found and the fix
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    assert re.fullmatch(r"ward: warning: %s/pkg/(new|other)\.py is not in the manifest of the authenticated region %s "
                        r"\(added after the manifest was built\), so the program cannot see it \(if it was added on "
                        r"purpose, rebuild the manifest with 'ward fs authenticate'\)" % (re.escape(str(lib)),
                                                                                         re.escape(str(lib))),
                        lines[0]), lines[0]


def test_files_added_after_the_manifest_are_reported_once_per_directory_and_at_most_16(tmp):
    lib = tmp / "lib"
    for i in range(20):
        (lib / ("d%02d" % i)).mkdir(parents=True)
        (lib / ("d%02d" % i) / "old.py").write_text("")
    man = tmp / "lib.manifest"
    assert ward("fs", "authenticate", lib, "-o", man).returncode == 0
    for i in range(20):
        (lib / ("d%02d" % i) / "a.py").write_text("")
        (lib / ("d%02d" % i) / "b.py").write_text("")
    # every directory listed twice, each with two added files
    code = ("import os, sys\nfor _ in range(2):\n for i in range(20):\n"
            "  assert os.listdir(sys.argv[1] + '/d%02d' % i) == ['old.py']")
    r = ward("run", "--authenticated", "%s:%s" % (lib, man), "--", PY, "-c", code, lib)
    assert r.returncode == 0, r.stderr
    lines = one_line(r.stderr)
    assert len(lines) == 16, r.stderr
    dirs = [re.match(r"ward: warning: %s/(d\d\d)/[ab]\.py is not in the manifest" % re.escape(str(lib)), l).group(1)
            for l in lines]
    assert len(set(dirs)) == 16, dirs


def test_authenticated_region_reads_files_that_are_links_on_disk(tmp):
    # Debian's stdlib has some (_sysconfigdata__linux_*.py, sitecustomize.py):
    # the manifest holds the file linked to, and reads follow the link
    lib, other = tmp / "lib", tmp / "other"
    lib.mkdir()
    other.mkdir()
    (lib / "real.py").write_text("R = 1\n")
    (other / "outside.py").write_text("O = 2\n")
    os.symlink("real.py", lib / "alias.py")
    os.symlink(other / "outside.py", lib / "far.py")
    man = tmp / "lib.manifest"
    r = ward("fs", "authenticate", lib, "-o", man)
    assert r.returncode == 0, r.stderr
    r = ward("fs", "verify", lib, "--manifest", man)
    assert r.returncode == 0, r.stderr
    code = "import sys\nfor n in ('alias.py', 'far.py'): print(open(sys.argv[1] + '/' + n).read(), end='')"
    r = ward("run", "--authenticated", "%s:%s" % (lib, man), "--", PY, "-c", code, lib)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "R = 1\nO = 2\n"
    # the link now points at other bytes: refused, as any change is
    os.unlink(lib / "alias.py")
    (other / "evil.py").write_text("R = 9\n")
    os.symlink(other / "evil.py", lib / "alias.py")
    r = ward("run", "--authenticated", "%s:%s" % (lib, man), "--", PY, "-c", code, lib)
    assert r.returncode == 1 and "OSError: [Errno 5]" in r.stderr, r.stderr
    assert "R = 9" not in r.stdout
    assert one_line(r.stderr)[0].startswith("ward: cannot read %s/alias.py: chunk 0: content does not match the "
                                            "manifest" % lib), r.stderr
    # a FIFO in its place: a clear refusal, not an open that blocks
    os.unlink(lib / "alias.py")
    os.mkfifo(other / "fifo")
    os.symlink(other / "fifo", lib / "alias.py")
    r = ward("run", "--authenticated", "%s:%s" % (lib, man), "--", PY, "-c", code, lib, timeout=30)
    assert r.returncode == 1 and "OSError: [Errno 5]" in r.stderr, r.stderr
    assert one_line(r.stderr)[0].startswith("ward: cannot open %s/alias.py: not a regular file on disk" % lib), r.stderr


def test_deny_outside(tmp):
    vol, key = make_volume(tmp, {"a.txt": "inside"})
    outside = tmp / "outside.txt"
    outside.write_text("x")
    code = """
        import sys
        print(open(sys.argv[1] + '/a.txt').read())
        try:
            open(sys.argv[2])
        except PermissionError:
            print('denied')
    """
    code += textwrap.indent(textwrap.dedent('''
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(257, -100, sys.argv[2].encode(), 0)  # openat, around the C library
        print('kernel', fd, errno.errorcode[ctypes.get_errno()])
    '''), "        ")
    # The interpreter's own files must be readable: /usr is given as a plain region.
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--plain", "/usr", "--deny-outside", "--", PY, "-S", "-c",
             textwrap.dedent(code), vol, outside, cwd=vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "inside\ndenied\nkernel -1 EACCES\n"
    assert [l for l in one_line(r.stderr) if "warning" not in l] == [
        "ward: cannot open %s: it is outside every region and the configuration denies files outside regions "
        "(--deny-outside); add a region for it" % outside], r.stderr


def test_mmap_read_copy_and_shared(tmp):
    # tests/e2e/test_shield_mmap.py covers shared writable mappings in depth.
    vol, key = make_volume(tmp, {"m.bin": b"0123456789" * 1000})
    code = """
        import mmap, sys
        f = open(sys.argv[1] + '/m.bin', 'r+b')
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        print(m[10:20], len(m))
        c = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        c[0:1] = b'X'
        print(c[0:3])
        w = mmap.mmap(f.fileno(), 0)
        w[1:2] = b'Y'
        print(m[0:3], w[0:3], c[0:3])
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b'0123456789' 10000\nb'X12'\nb'0Y2' b'0Y2' b'X12'\n"
    assert one_line(r.stderr) == [], r.stderr


def test_sqlite_shutil_tempfile_threads_in_volume(tmp):
    vol, key = make_volume(tmp, {"seed.txt": "seed"})
    code = """
        import os, shutil, sqlite3, sys, tempfile, threading
        v = sys.argv[1]
        db = sqlite3.connect(v + '/app.db')
        db.execute('create table t (k integer primary key, v text)')
        db.executemany('insert into t (v) values (?)', [('row %d' % i,) for i in range(500)])
        db.commit(); db.close()
        db = sqlite3.connect(v + '/app.db')
        print(db.execute('select count(*), max(v) from t').fetchone())
        db.close()
        shutil.copyfile(v + '/seed.txt', v + '/copy.txt')   # sendfile
        print(open(v + '/copy.txt').read())
        tempfile.tempdir = v
        with tempfile.TemporaryFile() as t:
            t.write(b'abc'); t.seek(0); print(t.read())
        f = open(v + '/shared.bin', 'w+b', buffering=0)
        f.truncate(64 * 4096)
        def worker(i):
            for j in range(50):
                os.pwrite(f.fileno(), bytes([i]) * 4096, (i * 8 + j % 8) * 4096)
                assert os.pread(f.fileno(), 4096, (i * 8 + j % 8) * 4096) == bytes([i]) * 4096
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        [t.start() for t in ts]; [t.join() for t in ts]
        print(sorted(set(os.pread(f.fileno(), 64 * 4096, 0))))
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "(500, 'row 99')\nseed\nb'abc'\n[0, 1, 2, 3, 4, 5, 6, 7]\n"
    assert b"row 99" not in (vol / "app.db").read_bytes()


EXT_C = r"""
#include <Python.h>
int dep_answer(void);
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(dep_answer()); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "wardext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_wardext(void) { return PyModule_Create(&mod); }
"""


def test_dlopen_extension_from_encrypted_region_with_its_dependency(tmp):
    src = tmp / "src"
    (src / "libs").mkdir(parents=True)
    (tmp / "ext.c").write_text(EXT_C)
    (tmp / "dep.c").write_text("#include <stdio.h>\nint dep_answer(void) { return 4242; }\n"
                               "__attribute__((constructor)) static void ran(void) { fputs(\"DEP RAN\\n\", stderr); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", src / "libs" / "libwarddep.so", "-Wl,-soname,libwarddep.so",
                    tmp / "dep.c"], check=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-I/usr/include/python3.11", "-o", src / "wardext.so", tmp / "ext.c",
                    "-L", src / "libs", "-lwarddep", "-Wl,-rpath,$ORIGIN/libs"], check=True)
    vol, key = tmp / "ext.vol", tmp / "ext.key"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    code = "import sys; sys.path.insert(0, sys.argv[1]); import wardext; print(wardext.answer())"
    for policy in ("2", "1"):
        r = ward("run", "--allow-dlopen", policy, "--volume", "%s:%s" % (vol, key), "--", PY, "-c", code, vol)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "4242\n"
    # Policy 0 refuses the library before anything of it runs: not even its
    # dependency is loaded, and no copy of either is left open.
    code0 = ("import os, sys; sys.path.insert(0, sys.argv[1]); n = len(os.listdir('/proc/self/fd'))\n"
             "for _ in range(3):\n"
             "    try:\n        import wardext\n    except ImportError as e:\n        print('refused')\n"
             "print(len(os.listdir('/proc/self/fd')) - n)")
    r = ward("run", "--allow-dlopen", "0", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", code0, vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "refused\nrefused\nrefused\n0\n"
    assert "DEP RAN" not in r.stderr
    # Policy 1 refuses a library outside every region.
    r = ward("run", "--allow-dlopen", "1", "--", PY, "-c", code, src)
    assert r.returncode == 1
    assert any("WARD_ALLOW_DLOPEN=1 allows only libraries in an authenticated or encrypted region" in l
               for l in one_line(r.stderr)), r.stderr


BAD_OPENSSL_CNF = """config_diagnostics = 1
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
bogus = bogus_sect
[bogus_sect]
module = /nonexistent/bogus-provider.so
activate = 1
"""


def test_host_openssl_config_is_not_loaded_inside_the_enclave(tmp):
    """openssl.cnf is not measured and can load provider modules: the runtime
    initialises OpenSSL without it (a config that breaks OpenSSL natively has
    no effect on the enclave's own cryptography)."""
    (tmp / "src").mkdir()
    (tmp / "src" / "f.txt").write_text("hello\n")
    r = subprocess.run([str(WARD), "fs", "encrypt", tmp / "src", tmp / "v", "--key-file", tmp / "k"],
                       env=base_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cnf = tmp / "bad.cnf"
    cnf.write_text(BAD_OPENSSL_CNF)
    native = subprocess.run(["openssl", "sha256", str(cnf)], env=dict(base_env(), OPENSSL_CONF=str(cnf)),
                            capture_output=True, text=True)
    assert native.returncode != 0  # the config really breaks OpenSSL outside
    for extra in ([], ["--no-engine-image"]):
        r = ward("run", "--volume", "%s:%s" % (tmp / "v", tmp / "k"), *extra, "--", PY, "-c",
                 "print(open(%r).read().strip())" % str(tmp / "v" / "f.txt"),
                 env=base_env(OPENSSL_CONF=str(cnf), WARD_ENGINE_CACHE="0"))
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello\n"


def test_threads_replacing_and_removing_a_file_see_no_tampering(tmp):
    """One thread swaps a file into place (os.replace) or removes it while
    others open it: the open once loaded the disk file now at that path
    (another file's ciphertext) and reported tampering (EIO, status 74)."""
    vol, key = make_volume(tmp, {"seed.txt": "x"})
    code = """
        import errno, json, os, threading, time
        stop = time.time() + 2
        errs = {}
        def note(e):
            errs[errno.errorcode[e.errno]] = errs.get(errno.errorcode[e.errno], 0) + 1
        open("state.json", "w").write(json.dumps({"v": 0, "pad": "x" * 6000}))
        def writer(n):
            i = 0
            while time.time() < stop:
                i += 1
                try:
                    with open("state.%d.tmp" % n, "w") as f:
                        f.write(json.dumps({"v": i, "pad": "x" * 6000}))
                    os.replace("state.%d.tmp" % n, "state.json")
                except OSError as e:
                    note(e)
        def reader():
            while time.time() < stop:
                try:
                    json.loads(open("state.json").read())
                except OSError as e:
                    note(e)
        def appender():
            while time.time() < stop:
                try:
                    with open("log", "ab") as f:
                        f.write(b"x" * 5000)
                except OSError as e:
                    note(e)
        def remover():
            while time.time() < stop:
                try:
                    os.unlink("log")
                except FileNotFoundError:
                    pass
        ts = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        ts += [threading.Thread(target=reader) for _ in range(2)]
        ts += [threading.Thread(target=appender) for _ in range(2)] + [threading.Thread(target=remover)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print("errors", errs)
    """
    r = run_py(code, "--volume", "%s:%s" % (vol, key), cwd=vol)
    assert r.stdout == "errors {}\n", r.stderr
    assert r.returncode == 0 and "outside the enclave" not in r.stderr, r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_large_sparse_file_commits_and_the_limit_is_efbig(tmp):
    """A file grown past 8 GiB in one step could not be committed (its chunk
    list outgrew one manifest record) and stayed empty; files now reach the
    documented 28 GiB, and beyond that ftruncate fails with EFBIG at once."""
    vol, key = make_volume(tmp, {"a.txt": "x"})
    size = 9 << 30
    code = """
        import errno, sys
        f = open(sys.argv[1] + "/t", "wb"); f.truncate(%d); f.seek(%d - 1); f.write(b"z"); f.close()
        try:
            open(sys.argv[1] + "/u", "wb").truncate(29 << 30)
        except OSError as e:
            print(errno.errorcode[e.errno])
    """ % (size, size)
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    assert r.returncode == 0 and r.stdout == "EFBIG\n", r.stderr
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
             "import os, sys; f = open(sys.argv[1] + '/t', 'rb'); f.seek(%d - 2); "
             "print(f.read(), os.stat(sys.argv[1] + '/t').st_size)" % size, vol)
    assert r.returncode == 0 and r.stdout == "b'\\x00z' %d\n" % size, r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_deny_outside_reads_proc_and_removes_its_ephemeral_region(tmp):
    # /proc/cpuinfo (read by PyPy at start) was refused with a line, and the
    # ephemeral directory stayed with a warning at every exit
    eph = tmp / "scratch"
    code = "import sys; open('/proc/cpuinfo').read(); open(sys.argv[1] + '/f', 'w').write('x'); print('ok')"
    r = ward("run", "--ephemeral", eph, "--plain", "/usr", "--deny-outside", "--", PY, "-S", "-c", code, eph)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    assert [l for l in one_line(r.stderr) if "warning" in l and "simulation" not in l] == [], r.stderr
    assert "cpuinfo" not in r.stderr
    # Landlock lets nothing inside remove an entry of the parent: the
    # directory stays, empty, and the next run takes it as it is
    assert not eph.exists() or list(eph.iterdir()) == []
    r = ward("run", "--ephemeral", eph, "--plain", "/usr", "--deny-outside", "--", PY, "-S", "-c", code, eph)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


@pytest.mark.parametrize("kind", ["encrypted", "authenticated"])
def test_entry_deleted_on_disk_is_reported_by_a_listing(tmp, kind):
    """A file removed behind the volume's back was only absent from
    listings: the import system, which looks before it opens, ran without
    it and the run succeeded. A listing now reports it (status 74)."""
    src = tmp / "tree"
    (src / "app").mkdir(parents=True)
    (src / "app" / "guard.py").write_text("X = 'on'\n")
    (src / "app" / "__init__.py").write_text(
        "try:\n    from . import guard; print('guard', guard.X)\nexcept ImportError:\n    print('no guard')\n")
    if kind == "encrypted":
        root, key = tmp / "app.vol", tmp / "app.key"
        assert ward("fs", "encrypt", src, root, "--key-file", key).returncode == 0
        opt = ["--volume", "%s:%s" % (root, key)]
    else:
        root, man = src, tmp / "tree.manifest"
        assert ward("fs", "authenticate", src, "-o", man).returncode == 0
        opt = ["--authenticated", "%s:%s" % (root, man)]
    code = "import sys; sys.path.insert(0, sys.argv[1]); import app"
    r = ward("run", *opt, "--", PY, "-c", code, root)
    assert r.returncode == 0 and r.stdout == "guard on\n", r.stderr
    os.rename(root / "app" / "guard.py", tmp / "guard.py")
    r = ward("run", *opt, "--", PY, "-c", code, root)
    assert r.returncode == 74, r.stderr
    assert any(l.startswith("ward: cannot list %s/app/guard.py: file missing on disk (deleted or renamed outside "
                            "the enclave); the %s region %s was changed outside the enclave" % (root, kind, root))
               for l in one_line(r.stderr)), r.stderr


# ---- read-only volumes (--volume DIR:KEYFILE:ro) ----

HOLD = """
    import os, sys, time
    print(open(sys.argv[1] + '/main.py').read().strip(), flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
"""


def hold(vol, key, stop, mode=""):
    """A `ward run` that has the volume open until `stop` exists; returns it
    once it has read from the volume."""
    p = subprocess.Popen([str(WARD), "run", "--volume", f"{vol}:{key}{mode}", "--", PY, "-c", textwrap.dedent(HOLD),
                          str(vol), str(stop)], env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "print('app')\n", p.stderr.read() if p.poll() is not None else ""
    return p


def test_read_only_runs_share_a_volume_and_cannot_change_it(tmp):
    vol, key = make_volume(tmp, {"main.py": "print('app')\n", "pkg/mod.py": "X = 1\n"})
    tag = ward("fs", "verify", vol, "--key-file", key)
    assert tag.returncode == 0, tag.stderr
    stop = tmp / "stop"
    first = hold(vol, key, stop, ":ro")
    try:
        # a second reader at the same time: imports work (no .pyc can be
        # written: Python goes on without), every kind of write is EROFS
        code = """
            import os, sys
            v = sys.argv[1]
            sys.path.insert(0, v)
            import pkg.mod
            print('import', pkg.mod.X, os.access(v + '/main.py', os.R_OK), os.access(v + '/main.py', os.W_OK),
                  os.access(v, os.W_OK))
            fd = os.open(v + '/main.py', os.O_RDONLY)
            print('statvfs', bool(os.statvfs(v).f_flag & os.ST_RDONLY), bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY),
                  bool(os.statvfs(os.path.dirname(v)).f_flag & os.ST_RDONLY))
            for name, fn in [('create', lambda: open(v + '/new.txt', 'w')),
                             ('append', lambda: open(v + '/main.py', 'a')),
                             ('mkdir', lambda: os.mkdir(v + '/d')),
                             ('rename', lambda: os.rename(v + '/main.py', v + '/m.py')),
                             ('unlink', lambda: os.unlink(v + '/main.py')),
                             ('truncate', lambda: os.truncate(v + '/main.py', 0)),
                             ('chmod', lambda: os.chmod(v + '/main.py', 0o600))]:
                try:
                    fn()
                    print(name, 'allowed')
                except OSError as e:
                    print(name, os.strerror(e.errno))
        """
        r = ward("run", "--volume", f"{vol}:{key}:ro", "--", PY, "-c", textwrap.dedent(code), vol)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["import 1 True False False", "statvfs True True False"] + [
            f"{n} Read-only file system" for n in ("create", "append", "mkdir", "rename", "unlink", "truncate",
                                                   "chmod")]
        # a writer is refused while readers hold it, with the way out
        r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "print('writer ran')")
        assert (r.returncode, r.stdout, one_line(r.stderr)) == (125, "", [
            f"ward: cannot open volume {vol} for writing: other processes have it open read-only; run this when "
            "they have finished, or give this run read-only access too (--volume DIR:KEYFILE:ro)"])
        # the CLI reads it alongside
        assert ward("fs", "cat", vol, "main.py", "--key-file", key).stdout == "print('app')\n"
    finally:
        stop.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    # nothing changed: the same tag, no .pyc, nothing new
    again = ward("fs", "verify", vol, "--key-file", key)
    assert again.returncode == 0 and again.stdout == tag.stdout, again.stderr
    assert ward("fs", "ls", vol, "--key-file", key).stdout.split() == ["main.py", "pkg/", "pkg/mod.py"]


def test_read_only_run_is_refused_while_a_writer_has_the_volume(tmp):
    vol, key = make_volume(tmp, {"main.py": "print('app')\n"})
    stop = tmp / "stop"
    writer = hold(vol, key, stop, ":rw")  # ':rw' is the default, said out loud
    try:
        r = ward("run", "--volume", f"{vol}:{key}:ro", "--", PY, "-c", "print('reader ran')")
        assert (r.returncode, r.stdout, one_line(r.stderr)) == (125, "", [
            f"ward: cannot open volume {vol} read-only: another process has it open for writing; stop it first "
            "(runs that only read can share a volume: give each of them --volume DIR:KEYFILE:ro)"])
        r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "print('writer ran')")
        assert (r.returncode, r.stdout, one_line(r.stderr)) == (125, "", [
            f"ward: cannot open volume {vol}: another process has it open for writing; stop it first "
            "(runs that only read can share a volume: --volume DIR:KEYFILE:ro)"])
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    # once it has finished, the reader runs
    r = ward("run", "--volume", f"{vol}:{key}:ro", "--", PY, vol / "main.py")
    assert (r.returncode, r.stdout) == (0, "app\n"), r.stderr


def test_volume_option_spelling_errors_name_the_form(tmp):
    vol, key = make_volume(tmp, {"main.py": "print('app')\n"})
    r = ward("run", "--volume", f"{vol}:ro", "--", PY, "-c", "pass")
    assert (r.returncode, one_line(r.stderr)) == (125, [
        f"ward: --volume {vol}:ro: expected DIR:KEYFILE[:ro] (the volume directory and its key file; "
        ":ro opens it read-only)"])
    r = ward("run", "--volume", f"{vol}:{key}:rx", "--", PY, "-c", "pass")
    assert r.returncode == 125
    assert one_line(r.stderr) == [f"ward: --volume {vol}:{key}:rx: unknown mode 'rx'; the mode is ':ro' "
                                  "(read-only) or ':rw' (the default)"], r.stderr


def test_program_starts_with_one_thread_after_a_large_volume_opens(tmp):
    # A manifest of more than 1,024 records has its MACs checked on two
    # threads; the helper must be gone before the seccomp filter and the
    # Landlock rules are installed (they bind the installing thread and the
    # threads it creates later), so the program starts alone, and its own
    # large reads start the helper again, inside the restrictions.
    vol, key = make_volume(tmp, {"d/f%04d" % i: "x%d" % i for i in range(1200)} | {"big.bin": os.urandom(1 << 20)})
    code = """
        import os, sys
        print(len(os.listdir('/proc/self/task')), open(sys.argv[1] + '/d/f1199').read())
        data = open(sys.argv[1] + '/big.bin', 'rb').read()
        print(len(data), len(os.listdir('/proc/self/task')))
    """
    r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", textwrap.dedent(code), vol)
    assert (r.returncode, r.stdout) == (0, "1 x1199\n1048576 2\n"), r.stderr


def test_statvfs_says_which_regions_are_read_only(tmp):
    vol, key = make_volume(tmp, {"a.txt": "a"})
    (tmp / "lib").mkdir()
    (tmp / "lib" / "m.py").write_text("X = 1\n")
    man = tmp / "lib.manifest"
    assert ward("fs", "authenticate", tmp / "lib", "-o", man).returncode == 0
    code = """
        import os, sys
        v, lib = sys.argv[1], sys.argv[2]
        ro = lambda st: bool(st.f_flag & os.ST_RDONLY)
        fd = os.open(v + '/a.txt', os.O_RDONLY)
        print(ro(os.statvfs(v)), ro(os.fstatvfs(fd)), ro(os.statvfs(lib)), ro(os.statvfs(lib + '/m.py')))
    """
    r = ward("run", "--volume", f"{vol}:{key}", "--authenticated", f"{tmp / 'lib'}:{man}", "--", PY, "-c",
             textwrap.dedent(code), vol, tmp / "lib")
    assert (r.returncode, r.stdout) == (0, "False False True True\n"), r.stderr


EMFILE_PROG = """
    import errno, os, resource, sys
    os.chdir(sys.argv[1])
    os.mkdir("t")
    os.chdir("t")
    with open("keep", "w") as f:
        f.write("precious")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 10, hard))
    fs = []
    try:
        while True:
            fs.append(open("f%02d" % len(fs), "w"))
    except OSError as e:
        print("EMFILE", e.errno == errno.EMFILE)
    try:
        open("keep", "w")
    except OSError as e:
        print("truncation refused", e.errno == errno.EMFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print(os.path.exists("f%02d" % len(fs)),
          sorted(os.listdir(".")) == sorted(["keep"] + ["f%02d" % i for i in range(len(fs))]),
          open("keep").read())
"""


def test_open_at_the_descriptor_limit_changes_nothing(tmp):
    """An open that fails with EMFILE neither creates the file nor
    truncates it, as natively (it used to leave an entry with no file on
    disk, reported as tampering at the next listing)."""
    vol, key = make_volume(tmp, {"x": ""})
    (tmp / "native").mkdir()
    want = "EMFILE True\ntruncation refused True\nFalse True precious\n"
    r = subprocess.run([PY, "-c", textwrap.dedent(EMFILE_PROG), tmp / "native"], capture_output=True, text=True)
    assert r.stdout == want, r.stderr
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(EMFILE_PROG), vol)
    assert r.returncode == 0 and r.stdout == want and r.stderr == "", r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    assert ward("fs", "cat", vol, "t/keep", "--key-file", key).stdout == "precious"


UTIME_PROG = """
    import os, sys
    os.chdir(sys.argv[1])
    open("f", "w").close()
    for ns in ((10**9, 2 * 10**9), (-86400 * 10**9,) * 2, (-1_500_000_000,) * 2, (-3, -3), (2**62, 2**62)):
        os.utime("f", ns=ns)
        st = os.stat("f")
        print(st.st_mtime_ns, st.st_mtime)
    fd = os.open("f", os.O_RDONLY)
    os.utime(fd, ns=(5, -7))
    print(os.stat(fd).st_mtime_ns)
    os.close(fd)
    os.chmod("f", 0o600)
    print(os.stat("f").st_mtime_ns)
"""


def test_times_before_1970_are_kept(tmp):
    """A modification time before 1970 (negative) is set and read back as
    natively, by path and by descriptor, and survives the run (it used to be
    taken for "leave unchanged")."""
    vol, key = make_volume(tmp, {"x": ""})
    (tmp / "native").mkdir()
    n = subprocess.run([PY, "-c", textwrap.dedent(UTIME_PROG), tmp / "native"], capture_output=True, text=True)
    assert n.returncode == 0 and n.stdout.split("\n")[1] == "-86400000000000 -86400.0", n.stderr
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(UTIME_PROG), vol)
    assert w.returncode == 0 and w.stdout == n.stdout, w.stderr
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
             "import os, sys; print(os.stat(sys.argv[1] + '/f').st_mtime_ns)", vol)
    assert r.stdout == "-7\n", r.stderr


APPEND_COPY_PROG = """
    import os, sys
    os.chdir(sys.argv[1])
    with open("src", "wb") as f:
        f.write(b"hello world")
    with open("dst", "wb") as f:
        f.write(b"x")
    s = os.open("src", os.O_RDONLY)
    d = os.open("dst", os.O_WRONLY | os.O_APPEND)
    for name, call in (("copy_file_range", lambda: os.copy_file_range(s, d, 5)),
                       ("sendfile", lambda: os.sendfile(d, s, 0, 5)),
                       ("splice", lambda: os.splice(s, d, 5, offset_src=0))):
        try:
            print(name, call())
        except OSError as e:
            print(name, "errno", e.errno)
    print(open("dst", "rb").read())
"""


def test_copies_into_an_append_only_descriptor_are_refused_as_natively(tmp):
    vol, key = make_volume(tmp, {"x": ""})
    (tmp / "native").mkdir()
    n = subprocess.run([PY, "-c", textwrap.dedent(APPEND_COPY_PROG), tmp / "native"], capture_output=True, text=True)
    assert n.stdout == "copy_file_range errno 9\nsendfile errno 22\nsplice errno 22\nb'x'\n", n.stderr
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(APPEND_COPY_PROG), vol)
    assert w.returncode == 0 and w.stdout == n.stdout, w.stderr


CTYPES_LIBC_PROG = """
    import ctypes, os, sys
    os.chdir(sys.argv[1])
    with open("existing", "w") as f:
        f.write("plaintext here")
    for name in ("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"):
        libc = ctypes.CDLL(name, use_errno=True)
        fd = libc.open(b"clibc", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        print(name, libc.write(fd, b"written via libc", 16), libc.close(fd), open("clibc").read())
        buf = ctypes.create_string_buffer(32)
        fd = libc.open(b"existing", os.O_RDONLY)
        n = libc.read(fd, buf, 32)
        libc.close(fd)
        print(buf.raw[:n], libc.getpid() == os.getpid(), libc.strlen(b"abc"))
"""


def test_ctypes_calls_into_the_c_library_go_through_the_shield(tmp):
    """ctypes.CDLL("libc.so.6").open/read/write are the shield's (they
    used to reach the kernel directly: plaintext written into the volume,
    ciphertext read back); a fork through that handle is refused too."""
    vol, key = make_volume(tmp, {"x": ""})
    (tmp / "native").mkdir()
    prog = textwrap.dedent(CTYPES_LIBC_PROG)
    n = subprocess.run([PY, "-c", prog, tmp / "native"], capture_output=True, text=True)
    assert n.returncode == 0 and "b'plaintext here' True 3" in n.stdout, n.stderr
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", prog, vol)
    assert w.returncode == 0 and w.stdout == n.stdout and w.stderr == "", w.stderr
    for f in ("clibc", "existing"):
        data = (vol / f).read_bytes()
        assert b"written via libc" not in data and b"plaintext here" not in data
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    w = run_py("import ctypes\nlibc = ctypes.CDLL('libc.so.6', use_errno=True)\n"
               "print(libc.fork(), ctypes.get_errno())")
    assert w.stdout == "-1 1\n" and "fork() is not permitted" in w.stderr, w.stderr


XATTR_PROG = """
    import errno, os, shutil, sys
    vol, plain = sys.argv[1], sys.argv[2]
    p = os.path.join(vol, "xa.txt")
    with open(p, "w") as f:
        f.write("x")
    q = os.path.join(plain, "xa.txt")
    with open(q, "w") as f:
        f.write("y")
    os.setxattr(q, "user.k", b"v")
    fd = os.open(p, os.O_RDONLY)
    for name, call in (("set", lambda: os.setxattr(p, "user.secret", b"TOP-SECRET-XATTR")),
                       ("fset", lambda: os.setxattr(fd, "user.secret", b"TOP-SECRET-XATTR")),
                       ("get", lambda: os.getxattr(p, "user.secret")),
                       ("fget", lambda: os.getxattr(fd, "user.secret")),
                       ("list", lambda: os.listxattr(p)), ("flist", lambda: os.listxattr(fd)),
                       ("remove", lambda: os.removexattr(p, "user.secret")),
                       ("dir", lambda: os.setxattr(vol, "user.d", b"1"))):
        try:
            print(name, call())
        except OSError as e:
            print(name, errno.errorcode[e.errno])
    shutil.copy2(q, os.path.join(vol, "copied.txt"))
    print(open(os.path.join(vol, "copied.txt")).read(), os.getxattr(q, "user.k"))
"""


def test_volumes_have_no_extended_attributes(tmp):
    """xattrs in a volume would be plaintext and unchecked on disk: every
    call fails with EOPNOTSUPP, as on a file system without them; outside
    the volume they work, and shutil.copy2 into the volume copies the rest."""
    vol, key = make_volume(tmp, {"x": ""})
    plain = tmp / "plain"
    plain.mkdir()
    try:
        os.setxattr(plain, "user.probe", b"1")
    except OSError:
        pytest.skip("this file system has no user extended attributes")
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(XATTR_PROG), vol, plain)
    assert w.returncode == 0, w.stderr
    want = "".join("%s ENOTSUP\n" % n for n in ("set", "fset", "get", "fget", "list", "flist", "remove", "dir"))
    assert w.stdout == want + "y b'v'\n"
    for f in (vol / "xa.txt", vol):
        assert os.listxattr(f) == []


def test_misspelled_volume_mode_is_named(tmp):
    vol, key = make_volume(tmp, {"x": ""})
    for mode in ("rx", "RO", "w"):
        r = run_py("print(1)", "--volume", "%s:%s:%s" % (vol, key, mode))
        assert r.returncode == 125 and r.stdout == ""
        assert one_line(r.stderr) == ["ward: --volume %s:%s:%s: unknown mode '%s'; the mode is ':ro' (read-only) "
                                      "or ':rw' (the default)" % (vol, key, mode, mode)]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root and runuser")
def test_volume_another_user_cannot_write_is_opened_read_only_with_a_warning(tmp):
    """A user who may read a volume but not write its metadata gets it
    read-only, and one line saying so (not only EROFS at the first write)."""
    import tempfile
    base = pathlib.Path(tempfile.mkdtemp(prefix="ward-nobody-", dir="/tmp"))  # pytest's is 0700
    try:
        _nobody_reads_a_volume(base)
    finally:
        shutil.rmtree(base)


def _nobody_reads_a_volume(tmp):
    tmp.chmod(0o755)
    vol, key = make_volume(tmp, {"a.txt": "x"})
    own = tmp / "nobody.key"
    shutil.copy(key, own)
    os.chown(own, 65534, 65534)
    for p in tmp.rglob("*"):
        if p != own and not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o555 if p.is_dir() else p.stat().st_mode | 0o444)
    env = base_env()
    env["XDG_DATA_HOME"] = str(tmp / "nodata")
    r = subprocess.run(["runuser", "-u", "nobody", "--", str(WARD), "run", "--no-engine-image", "--volume",
                        "%s:%s" % (vol, own), "--", PY, "-c",
                        "import sys\ntry:\n    open(sys.argv[1] + '/a.txt', 'w')\nexcept OSError as e:\n"
                        "    print(e.errno)", str(vol)], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout == "30\n", r.stderr
    assert one_line(r.stderr) == [
        "ward: warning: volume %s is open read-only: this user (uid 65534) cannot write its metadata; writes in "
        "it fail with EROFS (run as the volume's owner, or give :ro to open it read-only on purpose)" % vol]


def test_paths_through_disk_links_reach_the_volume(tmp):
    """A path that leads into a volume through a symbolic link on the disk
    (to the volume, to a directory above it, or to a file in it) is the
    volume's: the program reads plaintext and writes ciphertext (it used to
    read the disk's ciphertext and write plaintext next to it)."""
    real = tmp / "real"
    real.mkdir()
    src = tmp / "src"
    src.mkdir()
    (src / "main.py").write_text("print('hi')\n")
    vol, key = real / "app.vol", tmp / "app.key"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    (tmp / "up").symlink_to(real)
    (tmp / "vlink").symlink_to(vol)
    r = ward("run", "--volume", "%s:%s" % (tmp / "up" / "app.vol", key), "--", PY, str(tmp / "up" / "app.vol" / "main.py"))
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    code = """
        import os, sys
        t = sys.argv[1]
        with open(t + '/up/app.vol/x.txt', 'w') as f:
            f.write('secret via a link')
        print(open(t + '/vlink/x.txt').read(), open(t + '/real/app.vol/x.txt').read() == 'secret via a link')
        os.symlink(t + '/real/app.vol/x.txt', t + '/s.txt')
        print(open(t + '/s.txt').read(), sorted(os.listdir(t + '/vlink')))
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), tmp)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "secret via a link True\nsecret via a link ['main.py', 'x.txt']\n"
    assert b"secret" not in (vol / "x.txt").read_bytes()
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    # a link to a file not made yet, absolute and relative (the write
    # creates it in the volume), and ".." after a link on the disk
    (tmp / "lk").mkdir()
    (tmp / "lk" / "tovol").symlink_to(vol)
    code = """
        import os, sys
        t = sys.argv[1]
        os.symlink(t + '/real/app.vol/new_abs.txt', t + '/lk/dangle')
        with open(t + '/lk/dangle', 'w') as f:
            f.write('via a dangling link')
        os.symlink('../real/app.vol/new_rel.txt', t + '/lk/reld')
        fd = os.open(t + '/lk/reld', os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b'via a relative one')
        os.close(fd)
        with open(t + '/lk/tovol/../app.vol/dd.txt', 'w') as f:
            f.write('via dot-dot')
        v = t + '/real/app.vol/'
        print(open(v + 'new_abs.txt').read(), open(v + 'new_rel.txt').read(), open(v + 'dd.txt').read(),
              open(t + '/lk/tovol/../app.vol/main.py').read().strip())
        try:
            os.setxattr(t + '/lk/tovol/../app.vol/main.py', 'user.k', b'v')
        except OSError as e:
            print(e.errno)
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), tmp)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "via a dangling link via a relative one via dot-dot print('hi')\n95\n"
    for f in ("new_abs.txt", "new_rel.txt", "dd.txt"):
        assert b"via" not in (vol / f).read_bytes()
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    # a link the program switches from a plain directory to the volume is
    # followed at once (directories resolved before are resolved again)
    (tmp / "plaindir").mkdir()
    code = """
        import os, sys
        t = sys.argv[1]
        os.symlink(t + '/plaindir', t + '/cur')
        with open(t + '/cur/before.txt', 'w') as f:
            f.write('plain')
        os.unlink(t + '/cur')
        os.symlink(t + '/real/app.vol', t + '/cur')
        with open(t + '/cur/after.txt', 'w') as f:
            f.write('secret after the switch')
        print(open(t + '/real/app.vol/after.txt').read())
    """
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), tmp)
    assert (r.returncode, r.stdout) == (0, "secret after the switch\n"), r.stderr
    assert (tmp / "plaindir" / "before.txt").read_text() == "plain"
    assert b"secret" not in (vol / "after.txt").read_bytes()
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    # with --deny-outside, the link leads into a region: allowed
    r = ward("run", "--deny-outside", "--plain", "/usr", "--volume", "%s:%s" % (tmp / "vlink", key), "--", PY,
             str(tmp / "vlink" / "main.py"), env=base_env(SSL_CERT_FILE=""))
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr


def test_standard_descriptors_opened_on_a_volume_file_are_refused(tmp):
    """`ward run ... > app.vol/out.log`: the shell opened the file before
    the enclave existed, so the program would write plaintext into the
    volume's directory: refused with one line, nothing runs, the empty file
    the shell made is removed, and a line about stderr never lands in the
    volume file it is about."""
    vol, key = make_volume(tmp, {"in.txt": "data"})
    cmd = [str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", "print('ran')"]
    line = ("ward: %s is the file %s inside the encrypted region %s, opened outside the enclave (a shell "
            "redirection?): the program would write plaintext into the volume's directory; redirect it to a file "
            "outside the region%s")
    r = subprocess.run(["sh", "-c", '"$@" > "%s/out.log"' % vol, "sh", *cmd], stderr=subprocess.PIPE, text=True,
                       env=base_env(), timeout=60)
    assert r.returncode == 125 and not (vol / "out.log").exists()
    assert one_line(r.stderr) == [line % ("standard output (fd 1)", "%s/out.log" % vol, vol,
                                          " (the empty file made for it was removed)")]
    r = subprocess.run(["sh", "-c", '"$@" 3> "%s/fd3.log"' % vol, "sh", *cmd], capture_output=True, text=True,
                       env=base_env(), timeout=60)
    assert r.returncode == 125 and r.stdout == "" and not (vol / "fd3.log").exists()
    assert one_line(r.stderr) == [line % ("descriptor 3", "%s/fd3.log" % vol, vol,
                                          " (the empty file made for it was removed)")]
    # stderr appended to a volume file: the line goes to stdout, not into it
    before = (vol / "in.txt").read_bytes()
    r = subprocess.run(["sh", "-c", '"$@" 2>> "%s/in.txt"' % vol, "sh", *cmd], stdout=subprocess.PIPE, text=True,
                       env=base_env(), timeout=60, stdin=subprocess.DEVNULL, start_new_session=True)
    assert r.returncode == 125 and (vol / "in.txt").read_bytes() == before
    assert one_line(r.stdout) == [line % ("standard error (fd 2)", "%s/in.txt" % vol, vol, "")]
    with open(vol / "in.txt") as inp:
        r = subprocess.run(cmd, stdin=inp, capture_output=True, text=True, env=base_env(), timeout=60)
    assert r.returncode == 125 and r.stdout == "" and "standard input (fd 0)" in r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


C_OUTPUT_PROG = """
    import ctypes, os, sys
    libc = ctypes.CDLL('libc.so.6')
    d = sys.argv[1]
    saved = os.dup(1)
    libc.printf(b"to the terminal\\n")
    libc.fflush(None)
    fd = os.open(d + '/log.txt', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.write(1, b'a\\n')
    libc.printf(b'printf %d\\n', 42)
    libc.puts(b'puts')
    libc.fflush(None)
    libc.perror(b'perror')
    os.write(2, b'b\\n')
    fd2 = os.open(d + '/d.txt', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    libc.dprintf(fd2, b'dprintf %d\\n', 7)
    os.dup2(saved, 1)
    os.write(1, b'done\\n')
"""


def test_c_library_output_into_a_volume_file_is_encrypted(tmp):
    """printf, puts and perror after the program points fd 1 and 2 at a
    volume file, and dprintf on a volume fd, go through the shield (they
    used to write plaintext over the file's ciphertext, and the next write
    then hung reporting its own failure to that file)."""
    vol, key = make_volume(tmp, {"x": ""})
    (tmp / "native").mkdir()
    prog = textwrap.dedent(C_OUTPUT_PROG)
    n = subprocess.run([PY, "-c", prog, tmp / "native"], capture_output=True, text=True, timeout=60)
    want = "a\nprintf 42\nputs\nperror: Success\nb\n"
    assert n.stdout == "to the terminal\ndone\n" and (tmp / "native" / "log.txt").read_text() == want
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", prog, vol, timeout=60)
    assert (w.returncode, w.stdout, w.stderr) == (0, n.stdout, ""), w.stderr
    assert ward("fs", "cat", vol, "log.txt", "--key-file", key).stdout == want
    assert ward("fs", "cat", vol, "d.txt", "--key-file", key).stdout == "dprintf 7\n"
    for f in ("log.txt", "d.txt"):
        assert b"printf" not in (vol / f).read_bytes()
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_a_failed_write_to_a_volume_file_on_stderr_does_not_hang(tmp):
    """stderr is a volume file whose data was changed outside the enclave:
    the next write fails with EIO and the runtime's line about it is
    written after the file's lock is released (it used to wait for that
    lock for ever)."""
    vol, key = make_volume(tmp, {"x": ""})
    code = """
        import os, sys
        fd = os.open(sys.argv[1] + '/err.log', os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 2)
        os.write(2, b'first line\\n')
        os.fsync(2)
        print('ready', flush=True)
        sys.stdin.readline()
        try:
            os.write(2, b'second line\\n')
            print('written')
        except OSError as e:
            print('errno', e.errno)
    """
    p = subprocess.Popen([str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code),
                          str(vol)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=base_env())
    try:
        assert p.stdout.readline() == "ready\n"
        with open(vol / "err.log", "r+b") as f:  # the partial chunk the append must rewrite
            b = f.read(1)
            f.seek(0)
            f.write(bytes([b[0] ^ 1]))
        out, err = p.communicate("\n", timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert out == "errno 5\n" and p.returncode == 74, (out, err)


@needs_heap_bound
def test_mapping_a_file_larger_than_the_heap_names_the_setting(tmp):
    """A mapping of a volume file is a private copy counted in the heap: one
    larger than WARD_HEAP fails with ENOMEM, as natively on such a limit,
    and one line names the file and the setting."""
    vol, key = make_volume(tmp, {"x": ""})
    code = """
        import mmap, os, sys
        p = sys.argv[1] + '/big.bin'
        with open(p, 'wb') as f:
            f.truncate(300 << 20)
        with open(p, 'rb') as f:
            try:
                mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
            except OSError as e:
                print('errno', e.errno)
    """
    r = ward("run", "--heap", "128M", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol)
    assert r.returncode == 0 and r.stdout == "errno 12\n", r.stderr
    assert one_line(r.stderr) == [
        "ward: cannot map %s/big.bin (314572800 bytes): a mapping of a file in a region is a private copy of its "
        "verified bytes and counts against the heap bound (WARD_HEAP); raise it with --heap, or read the file in "
        "pieces" % vol]


def test_a_socket_left_in_a_volume_is_not_called_tampering(tmp):
    """A server that binds a Unix socket in the volume and is stopped leaves
    the socket on disk, as natively: it holds no data, so verify passes
    (a regular file added on disk is still reported)."""
    vol, key = make_volume(tmp, {"x": ""})
    r = ward(
        "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
        "import os, signal, socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1] + '/app.sock')\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n", vol)
    assert r.returncode == -15 and stat.S_ISSOCK(os.lstat(vol / "app.sock").st_mode), r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    (vol / "added.txt").write_text("x")
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1 and "added.txt': file on disk that the manifest does not list" in r.stderr
