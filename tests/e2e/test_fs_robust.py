"""`ward fs` and volumes under conditions a tester found them failing in:
trees as deep as the path limit allows, creations interrupted midway,
readers next to a writer, volumes the user may not write, sparse files, and
the crash leftover of a writer's uncommitted growth."""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time

import pytest

from conftest import PY, RUNTIME, WARD, base_env, one_line, ward

DEPTH = 2000  # "d/" * 2000: 3,999 bytes below the root (the limit is 4,095)


def deep_tree(top, depth=DEPTH):
    """top/d/d/.../d (depth levels), a file halfway down and one at the
    bottom. Made relative to directory descriptors: the absolute paths are
    longer than PATH_MAX."""
    os.mkdir(top)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            if i == depth // 2:
                with open(os.open("half.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
                    f.write("halfway\n")
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
            f.write("the bottom\n")
    finally:
        os.close(fd)


def deep_read(top, depth=DEPTH):
    """{relative path: bytes} of the files of a deep_tree copy."""
    out = {}
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    rel = ""
    try:
        for i in range(depth + 1):
            for name in os.listdir(fd):
                if name != "d":
                    with open(os.open(name, os.O_RDONLY, dir_fd=fd), "rb") as f:
                        out[rel + name] = f.read()
            if i < depth:
                nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nfd
                rel += "d/"
    finally:
        os.close(fd)
    return out


# ---- A: deep trees ----

@pytest.fixture
def deep_tmp(tmp):
    """tmp, emptied after the test by GNU rm (which walks any depth): pytest's
    own clean-up of old temporary directories recurses and fails on them."""
    yield tmp
    subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)], check=False)


def test_deep_tree_every_command(deep_tmp):
    """2,000 levels: encrypt, ls, cat, verify, decrypt and authenticate
    work (they crashed at about 650 levels: recursion with large frames)."""
    tmp = deep_tmp
    src, vol, key = tmp / "src", tmp / "vol", tmp / "k"
    deep_tree(src)
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    tag = r.stdout.strip()
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr[-300:]
    lines = r.stdout.splitlines()
    assert len(lines) == DEPTH + 2
    leaf = "d/" * DEPTH + "leaf.txt"
    half = "d/" * (DEPTH // 2) + "half.txt"
    # depth first, names in order: every directory, the leaf, then "half.txt"
    # after the "d" subtree at its level
    assert lines == ["d/" * k for k in range(1, DEPTH + 1)] + [leaf, half]
    r = ward("fs", "cat", vol, leaf, "--key-file", key)
    assert r.returncode == 0 and r.stdout == "the bottom\n", r.stderr[-300:]
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", tag)
    assert r.returncode == 0, r.stderr[-300:]
    r = ward("fs", "decrypt", vol, tmp / "out", "--key-file", key)
    assert r.returncode == 0, r.stderr[-300:]
    assert deep_read(tmp / "out") == deep_read(src) == {half: b"halfway\n", leaf: b"the bottom\n"}
    # a file added at the bottom, outside the enclave, is found
    fd = os.open(vol, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(DEPTH):
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(os.open("intruder", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
    os.close(fd)
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1 and "intruder': file on disk that the manifest does not list" in r.stderr

    r = ward("fs", "authenticate", src, "-o", tmp / "src.manifest")
    assert r.returncode == 0, r.stderr[-300:]
    r = ward("fs", "verify", src, "--manifest", tmp / "src.manifest")
    assert r.returncode == 0, r.stderr[-300:]
    r = ward("fs", "ls", src, "--manifest", tmp / "src.manifest")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == DEPTH + 2


def test_path_limit_exactly(deep_tmp):
    """A path of exactly 4,095 bytes below the root is stored; one longer
    is refused with one line naming its end, before anything is made."""
    tmp = deep_tmp
    src, key = tmp / "src", tmp / "k"
    deep_tree(src, 2046)  # "d/" * 2046 + "leaf.txt": 4,100 bytes
    r = ward("fs", "encrypt", src, tmp / "vol", "--key-file", key)
    assert r.returncode == 1
    lines = one_line(r.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ward: '{src}/.../d/d/") and lines[0].endswith(
        f"/leaf.txt': path too long for a volume (4100 bytes below '{src}'; at most 4095); "
        "use shorter names or less nesting")
    assert not (tmp / "vol").exists() and not key.exists()
    # a three-letter name makes it exactly 4,095 bytes
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(2046):
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.rename("leaf.txt", "x" * 3, src_dir_fd=fd, dst_dir_fd=fd)
    os.close(fd)
    r = ward("fs", "encrypt", src, tmp / "vol", "--key-file", key)
    assert r.returncode == 0, r.stderr[-300:]
    r = ward("fs", "cat", tmp / "vol", "d/" * 2046 + "xxx", "--key-file", key)
    assert r.returncode == 0 and r.stdout == "the bottom\n"


# ---- B: an interrupted creation ----

def incomplete_line(vol):
    return (f"volume '{vol}' is incomplete: its creation by 'ward fs encrypt' was interrupted; "
            "remove it, or give it to 'ward fs encrypt' again (which replaces it)")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_encrypt_is_refused_then_replaced(tmp, sig):
    """An encrypt killed midway left a volume that verified "ok" with files
    missing. Now the volume is marked incomplete from its first step to its
    last: every command and `ward run` refuse it with one line, and the
    same encrypt again replaces it."""
    src, vol, key = tmp / "src", tmp / "vol", tmp / "k"
    src.mkdir()
    for i in range(8000):
        (src / f"f{i:05d}").write_bytes(b"%d" % i)
    p = subprocess.Popen([str(WARD), "fs", "encrypt", str(src), str(vol), "--key-file", str(key)],
                         env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    manifest, marker = vol / ".ward-volume" / "manifest", vol / ".ward-volume" / "incomplete"
    deadline = time.monotonic() + 120
    # well under way: some hundreds of files are in (each adds records)
    while not (marker.exists() and manifest.exists() and manifest.stat().st_size > (64 << 10)):
        assert p.poll() is None, "encrypt finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    p.send_signal(sig)
    p.communicate()
    assert p.returncode == -sig
    assert marker.exists() and len(os.listdir(vol)) < 8001
    line = incomplete_line(vol)
    for args in (("verify", vol), ("ls", vol), ("cat", vol, "f00000"), ("tag", vol),
                 ("decrypt", vol, tmp / "out")):
        r = ward("fs", *args, "--key-file", key)
        assert (r.returncode, one_line(r.stderr), r.stdout) == (1, ["ward: " + line], ""), args
    r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "print('ran')")
    assert (r.returncode, r.stdout) == (125, "")
    assert one_line(r.stderr) == [f"ward: cannot open volume {vol}: {line}"]

    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0 and one_line(r.stderr) == [], r.stderr
    assert not marker.exists()
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", r.stdout.strip())
    assert r.returncode == 0, r.stderr
    assert len(ward("fs", "ls", vol, "--key-file", key).stdout.split()) == 8000
    assert ward("fs", "cat", vol, "f07999", "--key-file", key).stdout == "7999"
    # a complete volume is never replaced
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert (r.returncode, one_line(r.stderr)) == (
        1, [f"ward: '{vol}' exists and is not empty; choose a new directory for the volume"])


def test_failed_encrypt_leaves_nothing(tmp):
    """An encrypt that fails midway (a special file in the tree) removes
    what it made, also inside a directory that existed (kept, empty)."""
    src, key = tmp / "src", tmp / "k"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f").write_text("x")
    os.mkfifo(src / "a" / "z.fifo")
    for vol in (tmp / "new.vol", tmp / "given"):
        if vol.name == "given":
            vol.mkdir()
        r = ward("fs", "encrypt", src, vol, "--key-file", key)
        assert r.returncode == 1 and "is not a regular file or directory" in r.stderr
        assert (vol.exists(), os.listdir(vol) if vol.exists() else []) == (vol.name == "given", [])


def test_interrupted_authenticate_leaves_no_manifest(tmp):
    """authenticate writes its manifest at the end, atomically: a kill
    midway leaves no manifest (and a run again works)."""
    src = tmp / "src"
    src.mkdir()
    with open(src / "big", "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    man = tmp / "src.manifest"
    p = subprocess.Popen([str(WARD), "fs", "authenticate", str(src), "-o", str(man)], env=base_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.05)
    p.kill()
    p.communicate()
    if p.returncode == 0:
        pytest.skip("authenticate finished before the kill")
    assert not man.exists()
    r = ward("fs", "authenticate", src, "-o", man)
    assert r.returncode == 0 and ward("fs", "verify", src, "--manifest", man).returncode == 0


# ---- C: readers next to a writer ----

def small_volume(tmp, name="vol"):
    src = tmp / (name + ".src")
    src.mkdir()
    (src / "a.txt").write_text("alpha\n")
    vol, key = tmp / name, tmp / (name + ".key")
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return vol, key


WRITER = """
    import os, sys
    vol, stop = sys.argv[1], sys.argv[2]
    print("writing", flush=True)
    n = 0
    while not os.path.exists(stop):
        with open(vol + "/log.bin", "ab") as f:
            f.write(os.urandom(100_000))
        with open(vol + "/tmp.bin", "wb") as f:
            f.write(os.urandom(50_000 + n % 7 * 4096))
        os.replace(vol + "/tmp.bin", vol + "/cur.bin")
        if n % 5 == 0:
            os.truncate(vol + "/log.bin", 0)
        n += 1
"""


def test_readers_refuse_while_a_writer_runs(tmp):
    """verify, cat and ls next to a `ward run` writing the volume gave false
    tamper alarms (40 of 40 tries). They now take a shared lock and, while
    a writer holds the volume, refuse with one line and exit status 75
    (nothing checked: run again later)."""
    vol, key = small_volume(tmp)
    stop = tmp / "stop"
    p = subprocess.Popen([str(WARD), "run", "--volume", f"{vol}:{key}", "--", PY, "-c", textwrap.dedent(WRITER),
                          str(vol), str(stop)], env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline() == "writing\n"
        line = f"ward: volume '{vol}' is open for writing by another process; run this again when it has finished"
        for _ in range(10):
            for args in (("verify", vol), ("cat", vol, "a.txt"), ("ls", vol)):
                r = ward("fs", *args, "--key-file", key)
                assert (r.returncode, one_line(r.stderr), r.stdout) == (75, [line], ""), args
        # a second writer is refused as before
        r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "pass")
        assert r.returncode == 125 and "another process has it open for writing" in r.stderr
    finally:
        stop.touch()
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert ward("fs", "cat", vol, "a.txt", "--key-file", key).stdout == "alpha\n"


# ---- D: volumes the user may not write ----

def can_mount(path):
    """Whether a read-only bind mount can be made in a mount namespace."""
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-m", "mount", "--bind", "-o", "ro", str(path), str(path)], capture_output=True).returncode == 0


READER = """
    import os, sys, time
    vol, started = sys.argv[1], sys.argv[2]
    print(open(vol + "/a.txt").read(), end="")
    try:
        open(vol + "/new.txt", "w")
    except OSError as e:
        print("write:", e.strerror)
    try:
        os.mkdir(vol + "/d")
    except OSError as e:
        print("mkdir:", e.strerror)
    if started != "-":
        open(started, "w").close()
        time.sleep(2)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a read-only bind mount")
def test_read_only_volume_runs_read_only(tmp):
    """`ward run` on a volume it may not write (here a read-only mount)
    failed at the lock ("Permission denied", 125) while `ward fs cat`
    worked. It now opens it read-only: reads work, writes fail with EROFS,
    two such runs and a verify go on at the same time (shared locks)."""
    vol, key = small_volume(tmp)
    if not can_mount(vol):
        pytest.skip("no mount namespace here")
    started = tmp / "started"
    script = textwrap.dedent(f"""
        set -e
        mount --bind -o ro '{vol}' '{vol}'
        '{WARD}' run --volume '{vol}:{key}' -- '{PY}' -c "$READER" '{vol}' '{started}' > '{tmp}/out1' 2>&1 &
        first=$!
        for i in $(seq 1 600); do [ -e '{started}' ] && break; sleep 0.05; done
        '{WARD}' run --volume '{vol}:{key}' -- '{PY}' -c "$READER" '{vol}' - > '{tmp}/out2' 2>&1
        '{WARD}' fs verify '{vol}' --key-file '{key}' > '{tmp}/out3' 2>&1
        kill -0 $first  # still running: the three overlapped
        wait $first
    """)
    r = subprocess.run(["unshare", "-m", "bash", "-c", script], env=base_env(READER=textwrap.dedent(READER)),
                       capture_output=True, text=True, timeout=120)
    outs = [(tmp / f"out{i}").read_text() for i in (1, 2, 3)]
    assert r.returncode == 0, (r.stderr, outs)
    want = (f"ward: warning: volume {vol} is open read-only: it is on a read-only file system; writes in it "
            "fail with EROFS (give :ro to open it read-only on purpose)\n"
            "alpha\nwrite: Read-only file system\nmkdir: Read-only file system\n")
    assert outs[0] == want and outs[1] == want, outs
    assert outs[2].startswith(f"ok: volume '{vol}' verified")
    assert sorted(os.listdir(vol)) == [".ward-volume", "a.txt"]


def test_volume_of_another_user_runs_read_only(tmp):
    """The same for a user who may read the volume but not write it
    (EACCES), run as user nobody where that is possible; while that user
    reads it, a writer is refused (it would change what the reader
    checks)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as nobody")
    # pytest's directories are private to root: one nobody may enter
    b = pathlib.Path(tempfile.mkdtemp(prefix="ward-ro-"))
    try:
        os.chmod(b, 0o755)
        asnobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if subprocess.run(asnobody + ["sh", "-c", f"test -x '{WARD}' && test -r '{RUNTIME}'"]).returncode != 0:
            pytest.skip("user nobody cannot reach the build")
        vol, key = small_volume(b)
        subprocess.run(["chmod", "-R", "a+rX", str(vol)], check=True)
        for d in ("xdg", "xdgc"):
            (b / d).mkdir()
        subprocess.run(["chown", "nobody", str(key), str(b / "xdg"), str(b / "xdgc")], check=True)
        env = base_env(HOME=b, XDG_DATA_HOME=b / "xdg", XDG_CACHE_HOME=b / "xdgc")
        r = subprocess.run(asnobody + [str(WARD), "run", "--no-engine-image", "--volume", f"{vol}:{key}", "--",
                                       PY, "-c", textwrap.dedent(READER), str(vol), "-"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "alpha\nwrite: Read-only file system\nmkdir: Read-only file system\n"
        r = subprocess.run(asnobody + [str(WARD), "fs", "verify", str(vol), "--key-file", str(key)],
                           env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        # while nobody reads it, its owner's writer is refused with one line
        started = b / "xdg" / "started"
        p = subprocess.Popen(asnobody + [str(WARD), "run", "--no-engine-image", "--volume", f"{vol}:{key}", "--",
                                         PY, "-c", textwrap.dedent(READER), str(vol), str(started)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not started.exists():
                assert p.poll() is None and time.monotonic() < deadline, p.communicate()
                time.sleep(0.01)
            r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "pass")
            assert (r.returncode, one_line(r.stderr)) == (125, [
                f"ward: cannot open volume {vol} for writing: other processes have it open read-only; run this "
                "when they have finished, or give this run read-only access too (--volume DIR:KEYFILE:ro)"])
        finally:
            out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "pass")
        assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(b, ignore_errors=True)


def test_run_on_a_plain_directory_says_it_is_not_a_volume(tmp):
    """`ward run --volume DIR:KEY` on a plain directory said "cannot open the
    lock of volume ...: No such file or directory"; it now says what
    `ward fs` says, and leaves the directory as it was."""
    vol, key = small_volume(tmp)
    plain = tmp / "plain"
    plain.mkdir()
    (plain / "x").write_text("x")
    r = ward("run", "--volume", f"{plain}:{key}", "--", PY, "-c", "pass")
    assert (r.returncode, one_line(r.stderr)) == (
        125, [f"ward: cannot open volume {plain}: '{plain}' is not a volume (no manifest {plain}/.ward-volume/manifest); "
              "make it with 'ward fs encrypt SRC_DIR VOL --key-file KEYFILE'"])
    assert os.listdir(plain) == ["x"]
    # the same directory as an authenticated region, and an encrypted volume
    # given as one: each line says which option or command fits
    r = ward("run", "--authenticated", plain, "--", PY, "-c", "pass")
    assert (r.returncode, one_line(r.stderr)) == (
        125, [f"ward: cannot open the authenticated region {plain}: '{plain}' is not a volume (no manifest "
              f"{plain}/.ward-volume/manifest); make its manifest with 'ward fs authenticate DIR -o MANIFEST' and give "
              "--authenticated DIR:MANIFEST"])
    r = ward("run", "--authenticated", vol, "--", PY, "-c", "pass")
    assert (r.returncode, one_line(r.stderr)) == (
        125, [f"ward: cannot open the authenticated region {vol}: '{vol}' is an encrypted volume, not an authenticated "
              "one; open it with --volume DIR:KEYFILE"])
    r = ward("run", "--engine-image", "--no-engine-image", "--", PY, "-c", "pass")
    assert (r.returncode, one_line(r.stderr)) == (
        125, ["ward: --engine-image and --no-engine-image contradict each other; give one of them"])


# ---- E: sparse files ----

def blocks(p):
    return os.stat(p).st_blocks * 512


def extents(p):
    """The data extents of file p (SEEK_DATA/SEEK_HOLE): [(start, end)]."""
    out, off = [], 0
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        while off < size:
            try:
                d = os.lseek(f.fileno(), off, os.SEEK_DATA)
            except OSError:
                break
            off = os.lseek(f.fileno(), d, os.SEEK_HOLE)
            out.append((d, off))
    return out


def same_content(a, b):
    """Whether files a and b hold the same bytes, reading only where either
    has data (reading a hole costs as much as reading data here)."""
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for s, e in extents(a) + extents(b):
            if os.pread(fa.fileno(), e - s, s) != os.pread(fb.fileno(), e - s, s):
                return False
    return True


def test_sparse_file_stays_sparse(tmp):
    """A 1 GiB sparse file took 1 GiB in the volume and again after decrypt.
    Its holes now stay holes (SEEK_DATA/SEEK_HOLE on import: chunks stored as
    holes, nothing on disk), and decrypt leaves zero blocks unwritten."""
    src, vol, key = tmp / "src", tmp / "vol", tmp / "k"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(1 << 30)
        f.seek(5000)
        f.write(b"hello")
        f.seek(600 << 20)
        f.write(b"x" * 10000)
    # a file written with zeros: encrypted like any data (zeros are not
    # told apart from other plaintext on disk), sparse after decrypt
    (src / "zeros").write_bytes(bytes(1 << 20))
    if blocks(src / "sparse") > (1 << 20):
        pytest.skip("this file system does not keep holes")
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert blocks(vol / "sparse") < (1 << 20)
    assert blocks(vol / "zeros") >= (1 << 20)
    r = ward("fs", "ls", vol, "--key-file", key, "-l")
    assert f" {1 << 30} " in r.stdout
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    r = ward("fs", "decrypt", vol, tmp / "out", "--key-file", key)
    assert r.returncode == 0, r.stderr
    for name, size in (("sparse", 1 << 30), ("zeros", 1 << 20)):
        assert os.path.getsize(tmp / "out" / name) == size
        assert blocks(tmp / "out" / name) < (1 << 20)
        assert same_content(tmp / "out" / name, src / name)


# ---- F: a killed writer's uncommitted growth ----

GROWER = """
    import os, sys, time
    f = open(sys.argv[1] + "/big", "wb")
    f.write(os.urandom(32 << 20))
    f.flush()
    print("written", flush=True)
    time.sleep(120)
"""


def test_killed_writers_growth_is_reclaimed(tmp):
    """A writer killed after growing a file it never committed left the
    file's data on disk (32 MiB here, size 0 in the volume) for good; the
    next read-write open now cuts it to what was committed."""
    vol, key = small_volume(tmp)
    p = subprocess.Popen([str(WARD), "run", "--volume", f"{vol}:{key}", "--", PY, "-c", textwrap.dedent(GROWER),
                          str(vol)], env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "written\n"
    finally:
        p.kill()
        p.communicate()
    assert os.path.getsize(vol / "big") == 32 << 20
    r = ward("fs", "ls", vol, "--key-file", key, "-l")
    assert [l.split()[1] for l in r.stdout.splitlines() if l.endswith(" big")] == ["0"]
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0  # read-only: tolerated as it is
    assert os.path.getsize(vol / "big") == 32 << 20
    r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "import sys; print(open(sys.argv[1] + '/a.txt').read(), end='')", vol)
    assert (r.returncode, r.stdout) == (0, "alpha\n"), r.stderr
    assert os.path.getsize(vol / "big") == 0
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
