"""`ward fs rekey`: a volume re-encrypted under a new key, as a user runs it:
the tree comes back exactly (bytes, holes, modes, mtimes, links, hard
links), the old key opens nothing, and every refusal (busy, same key,
tampered data, a leftover in the way, bad usage) changes nothing."""
import os
import random
import stat
import subprocess
import textwrap
import time

import pytest

from conftest import PY, WARD, base_env, one_line, ward


def tree(tmp):
    src = tmp / "src"
    (src / "pkg" / "deep").mkdir(parents=True)
    (src / "empty").mkdir()
    (src / "main.py").write_text("print('hello')\n")
    (src / "pkg" / "deep" / "big.bin").write_bytes(os.urandom(300_000))
    (src / "zero.txt").write_bytes(b"")
    with open(src / "sparse.bin", "wb") as f:  # data, a hole of 1 MiB, data
        f.write(b"head")
        f.seek(1 << 20)
        f.write(b"tail")
    os.link(src / "main.py", src / "pkg" / "same.py")
    os.symlink("../main.py", src / "pkg" / "link.py")
    os.chmod(src / "pkg" / "deep" / "big.bin", 0o600)
    os.chmod(src / "main.py", 0o750)
    for i, p in enumerate(["main.py", "pkg/deep/big.bin", "zero.txt", "sparse.bin", "pkg/deep", "pkg", "empty"]):
        t = 1_600_000_000_000_000_000 + i * 1_000_000_123
        os.utime(src / p, ns=(t, t))
    return src


def snapshot(root):
    """Everything a user could tell apart, path by path."""
    out = {}
    for dp, dn, fn in os.walk(root):
        for name in dn + fn:
            p = os.path.join(dp, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                out[rel] = ("file", open(p, "rb").read(), stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_nlink)
    return out


def make(tmp):
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return src, vol, key, r.stdout.strip()


def test_rekey_round_trips_and_retires_the_old_key(tmp):
    src, vol, key, old_tag = make(tmp)
    new = tmp / "new.key"
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
    assert r.returncode == 0, r.stderr
    tag = r.stdout.strip()
    assert len(tag) == 64 and tag != old_tag
    assert one_line(r.stderr) == [f"ward: generated a new volume key in '{new}' (mode 0600); keep it safe, the old "
                                  "key no longer opens the volume"]
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
    assert not (tmp / "app.vol.rekey").exists()
    # the new key opens it, pinned to the printed tag; the old one does not
    r = ward("fs", "verify", vol, "--key-file", new, "--tag", tag)
    assert r.returncode == 0, r.stderr
    r = ward("fs", "ls", vol, "--key-file", key)
    assert (r.returncode, one_line(r.stderr)) == (1, [
        f"ward: wrong key: '{key}' is not the key of volume '{vol}' (key check does not match); use the volume's "
        "current key file (the one it was created with, or the one the last 'ward fs rekey' wrote)"])
    # the tree is what was encrypted, to the nanosecond and the hole
    r = ward("fs", "decrypt", vol, tmp / "out", "--key-file", new)
    assert r.returncode == 0, r.stderr
    assert snapshot(tmp / "out") == snapshot(src)
    assert os.stat(tmp / "out" / "sparse.bin").st_blocks * 512 < (1 << 20)
    # and a program sees the same under ward run
    code = "import sys; print(open(sys.argv[1] + '/pkg/link.py').read().strip())"
    r = ward("run", "--volume", f"{vol}:{new}", "--", PY, "-c", code, vol)
    assert (r.returncode, r.stdout) == (0, "print('hello')\n"), r.stderr
    # an existing key file is used as it is (no message); the volume moves on again
    other = tmp / "other.key"
    other.write_text("42" * 32 + "\n")
    other.chmod(0o600)
    r = ward("fs", "rekey", vol, "--key-file", new, "--new-key-file", other)
    assert (r.returncode, one_line(r.stderr)) == (0, []), r.stderr
    assert ward("fs", "tag", vol, "--key-file", other).stdout.strip() == r.stdout.strip()


HOLD = """
    import os, sys, time
    print(open(sys.argv[1] + '/main.py').read().strip(), flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
"""


@pytest.mark.parametrize("mode, held", [("", "writing"), (":ro", "reading")])
def test_rekey_refuses_while_a_run_has_the_volume(tmp, mode, held):
    src, vol, key, tag = make(tmp)
    new, stop = tmp / "new.key", tmp / "stop"
    p = subprocess.Popen([str(WARD), "run", "--volume", f"{vol}:{key}{mode}", "--", PY, "-c",
                          textwrap.dedent(HOLD), str(vol), str(stop)], env=base_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "print('hello')\n"
        r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
        assert (r.returncode, r.stdout, one_line(r.stderr)) == (75, "", [
            f"ward: volume '{vol}' is open for {held} by another process; run this again when it has finished"])
    finally:
        stop.touch()
        p.communicate(timeout=60)
    assert not new.exists() and not (tmp / "app.vol.rekey").exists()
    assert ward("fs", "verify", vol, "--key-file", key, "--tag", tag).returncode == 0


def test_rekey_of_tampered_data_fails_and_changes_nothing(tmp):
    src, vol, key, tag = make(tmp)
    f = vol / "pkg" / "deep" / "big.bin"
    b = bytearray(f.read_bytes())
    b[5000] ^= 1
    f.write_bytes(bytes(b))
    new = tmp / "new.key"
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
    assert (r.returncode, r.stdout) == (1, "")
    lines = one_line(r.stderr)
    assert len(lines) == 1 and "pkg/deep/big.bin" in lines[0] and "chunk 1" in lines[0], r.stderr
    assert "authentication failed" in lines[0]
    # nothing made, nothing kept: the volume (and its damage) as it was
    assert not new.exists() and not (tmp / "app.vol.rekey").exists()
    assert f.read_bytes() == bytes(b)
    assert ward("fs", "cat", vol, "main.py", "--key-file", key).stdout == "print('hello')\n"


def test_rekey_refusals_change_nothing(tmp):
    src, vol, key, tag = make(tmp)
    new = tmp / "new.key"

    def unchanged():
        assert ward("fs", "verify", vol, "--key-file", key, "--tag", tag).returncode == 0
        assert not new.exists()

    # the same key
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", key)
    assert (r.returncode, one_line(r.stderr)) == (1, [
        f"ward: fs rekey: '{key}' holds the volume's current key; give a new key file (a missing one is generated)"])
    unchanged()
    # something in the way of the new volume (say, the old ciphertext of a
    # rekey interrupted after its swap): left alone
    (tmp / "app.vol.rekey").mkdir()
    (tmp / "app.vol.rekey" / "keep.txt").write_text("mine")
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
    assert (r.returncode, one_line(r.stderr)) == (1, [
        f"ward: fs rekey: '{tmp / 'app.vol.rekey'}' exists and is not the leftover of an interrupted rekey (it may "
        "hold the volume under its old key, left by a rekey interrupted after the swap); check it, remove it, and "
        "run this again"])
    assert (tmp / "app.vol.rekey" / "keep.txt").read_text() == "mine"
    unchanged()
    # the new key inside the volume
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", vol / "k")
    assert r.returncode == 1 and "would be inside the volume" in one_line(r.stderr)[0], r.stderr
    assert not (vol / "k").exists()
    unchanged()
    # usage
    r = ward("fs", "rekey", vol, "--key-file", key)
    assert (r.returncode, one_line(r.stderr)) == (2, [
        "ward: fs rekey: --key-file KEY (the volume's key) and --new-key-file NEW (generated when it does not "
        "exist) are required"])
    r = ward("fs", "rekey", "--key-file", key, "--new-key-file", new)
    assert r.returncode == 2 and "expected VOL" in one_line(r.stderr)[0]
    unchanged()
    # help
    r = ward("fs", "rekey", "--help")
    assert r.returncode == 0 and "RENAME_EXCHANGE" in r.stdout
    assert "rekey VOL --key-file KEY --new-key-file NEW" in ward("fs", "--help").stdout


def test_rekey_killed_at_any_point_loses_nothing_and_the_same_command_finishes(tmp):
    """kill -9 at random points of a rekey: the volume opens with exactly
    one of the two keys and holds the tree; the same command again ends
    with the new key, the tree, and nothing left beside the volume."""
    src = tmp / "src"
    src.mkdir()
    for i in range(64):
        (src / f"f{i:02d}.bin").write_bytes(os.urandom(512 * 1024))
    os.symlink("f00.bin", src / "link")
    vol = tmp / "app.vol"
    keys = [tmp / "k0"]
    assert ward("fs", "encrypt", src, vol, "--key-file", keys[0]).returncode == 0
    want = snapshot(src)
    # how long one rekey takes here: the kills land across that span
    t = time.monotonic()
    keys.append(tmp / "k1")
    r = ward("fs", "rekey", vol, "--key-file", keys[0], "--new-key-file", keys[1])
    span = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    rnd = random.Random(1234)
    seen = set()
    for it in range(8):
        cur, new = keys[-1], tmp / f"k{len(keys)}"
        args = ["fs", "rekey", str(vol), "--key-file", str(cur), "--new-key-file", str(new)]
        p = subprocess.Popen([str(WARD), *args], env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.0, 1.2 * span))
        p.kill()
        p.communicate(timeout=60)
        old_ok = ward("fs", "verify", vol, "--key-file", cur).returncode == 0
        new_ok = new.exists() and ward("fs", "verify", vol, "--key-file", new).returncode == 0
        assert old_ok != new_ok, (it, old_ok, new_ok)
        seen.add("before swap" if old_ok else "after swap")
        r = ward(*args)
        assert r.returncode == 0, (it, r.stderr)
        assert not (tmp / "app.vol.rekey").exists()
        assert ward("fs", "verify", vol, "--key-file", new, "--tag", r.stdout.strip()).returncode == 0
        keys.append(new)
    assert ward("fs", "decrypt", vol, tmp / "out", "--key-file", keys[-1]).returncode == 0
    assert snapshot(tmp / "out") == want
    assert "before swap" in seen


def test_rekey_keeps_a_link_to_the_volume_and_its_directory_mode(tmp):
    src, vol, key, tag = make(tmp)
    os.chmod(vol, 0o710)
    link = tmp / "current.vol"
    os.symlink("app.vol", link)
    new = tmp / "new.key"
    r = ward("fs", "rekey", link, "--key-file", key, "--new-key-file", new)
    assert r.returncode == 0, r.stderr
    assert os.readlink(link) == "app.vol" and stat.S_IMODE(os.stat(vol).st_mode) == 0o710
    assert ward("fs", "verify", link, "--key-file", new, "--tag", r.stdout.strip()).returncode == 0
    assert sorted(p.name for p in tmp.iterdir()) == ["app.key", "app.vol", "current.vol", "new.key", "src"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the volume to another user")
def test_rekey_of_another_users_volume_is_refused(tmp):
    src, vol, key, tag = make(tmp)
    os.chown(vol, 65534, 65534)
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", tmp / "new.key")
    assert (r.returncode, one_line(r.stderr)) == (1, [
        f"ward: fs rekey: '{vol}' belongs to user 65534; run rekey as that user (the new volume's files belong to "
        "the user who makes them)"])
    assert not (tmp / "new.key").exists()


@pytest.mark.parametrize("left", ["whole", "files gone", "empty metadata", "empty"])
def test_rekey_again_after_a_kill_during_the_old_copys_removal(tmp, left):
    """What a rekey killed while removing the old ciphertext leaves (after
    its swap) is removed by the same command again: the old volume whole,
    without some of its files (its manifest goes last), or nothing but
    empty directories."""
    import shutil
    src, vol, key, tag = make(tmp)
    old = tmp / "old-copy"
    shutil.copytree(vol, old, symlinks=True)
    new = tmp / "new.key"
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
    assert r.returncode == 0, r.stderr
    new_tag = r.stdout.strip()
    rest = tmp / "app.vol.rekey"
    shutil.copytree(old, rest, symlinks=True)
    if left == "files gone":
        shutil.rmtree(rest / "pkg")
        os.unlink(rest / "main.py")
    elif left == "empty metadata":
        shutil.rmtree(rest)
        (rest / ".ward-volume").mkdir(parents=True)
    elif left == "empty":
        shutil.rmtree(rest)
        rest.mkdir()
    r = ward("fs", "rekey", vol, "--key-file", key, "--new-key-file", new)
    assert (r.returncode, r.stdout.strip()) == (0, new_tag), r.stderr
    assert one_line(r.stderr) == [f"ward: '{vol}' was re-keyed already (an earlier rekey was interrupted after its "
                                  f"swap): '{new}' opens it"]
    assert not rest.exists()
    assert ward("fs", "verify", vol, "--key-file", new, "--tag", new_tag).returncode == 0
