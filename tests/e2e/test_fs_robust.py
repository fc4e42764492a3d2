"""`ward fs` and volumes under conditions a tester found them failing in:
trees as deep as the path limit allows, creations interrupted midway,
readers next to a writer, volumes the user may not write, sparse files, and
the crash leftover of a writer's uncommitted growth."""
import os
import subprocess

import pytest

from conftest import one_line, ward

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
    assert len(lines) == 2 and lines[0].startswith("ward: generated a new volume key")
    assert lines[1].startswith(f"ward: '{src}/.../d/d/") and lines[1].endswith(
        f"/leaf.txt': path too long for a volume (4100 bytes below '{src}'; at most 4095)")
    assert not (tmp / "vol").exists()
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
