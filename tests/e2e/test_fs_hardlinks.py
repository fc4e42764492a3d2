"""Hard links through `ward fs`: encrypt keeps the paths of one file of the
tree (the same inode) as paths of one volume file, stored once; ls -l shows
the count; decrypt makes them hard links again; verify checks every path,
and a tampered data file or a second path replaced on disk is caught."""
import os

from conftest import ward

DATA = "shared = True\n" * 500  # two chunks and a bit


def tree(tmp):
    src = tmp / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "main.py").write_text(DATA)
    os.link(src / "main.py", src / "pkg" / "copy.py")
    os.link(src / "main.py", src / "pkg" / "__pycache__" / "z.pyc")
    (src / "alone.py").write_text("alone\n")
    return src


def encrypted(tmp):
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return src, vol, key


def test_encrypt_keeps_hard_links(tmp):
    src, vol, key = encrypted(tmp)
    # one data file on disk, three paths (hard links of it)
    ino = os.stat(vol / "main.py").st_ino
    assert os.stat(vol / "pkg" / "copy.py").st_ino == ino
    assert os.stat(vol / "pkg" / "__pycache__" / "z.pyc").st_ino == ino
    assert os.stat(vol / "main.py").st_nlink == 3
    r = ward("fs", "ls", vol, "--key-file", key, "-l")
    assert r.returncode == 0, r.stderr
    lines = {l.split()[4]: l for l in r.stdout.splitlines()}
    for name in ("main.py", "pkg/copy.py", "pkg/__pycache__/z.pyc"):
        assert lines[name].endswith(f" {name} (3 links)"), lines[name]
        assert f" {len(DATA)} " in lines[name]
    assert lines["alone.py"].endswith(" alone.py")
    r = ward("fs", "ls", vol, "--key-file", key)
    assert "pkg/copy.py" in r.stdout.splitlines()
    r = ward("fs", "cat", vol, "pkg/copy.py", "--key-file", key)
    assert (r.returncode, r.stdout) == (0, DATA)
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_encrypt_help_says_hard_links_are_kept():
    r = ward("fs", "encrypt", "--help")
    assert "Hard links are kept as hard links" in r.stdout


def test_decrypt_makes_hard_links_again(tmp):
    src, vol, key = encrypted(tmp)
    out = tmp / "out"
    r = ward("fs", "decrypt", vol, out, "--key-file", key)
    assert r.returncode == 0, r.stderr
    a, b, c = out / "main.py", out / "pkg" / "copy.py", out / "pkg" / "__pycache__" / "z.pyc"
    assert os.stat(a).st_ino == os.stat(b).st_ino == os.stat(c).st_ino
    assert os.stat(a).st_nlink == 3 and os.stat(out / "alone.py").st_nlink == 1
    assert a.read_text() == DATA
    assert os.stat(a).st_mtime_ns == os.stat(src / "main.py").st_mtime_ns


def test_tampered_data_of_a_hard_linked_file(tmp):
    src, vol, key = encrypted(tmp)
    with open(vol / "pkg" / "copy.py", "r+b") as f:  # the one data file, through another path
        f.seek(4100)
        b = f.read(1)
        f.seek(4100)
        f.write(bytes([b[0] ^ 1]))
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1
    assert "app.vol/main.py' chunk 1: authentication failed" in r.stderr, r.stderr
    r = ward("fs", "cat", vol, "pkg/copy.py", "--key-file", key)
    assert r.returncode != 0 and "chunk 1: authentication failed" in r.stderr


def test_second_path_replaced_on_disk(tmp):
    src, vol, key = encrypted(tmp)
    p = vol / "pkg" / "copy.py"
    data = p.read_bytes()
    p.unlink()
    p.write_bytes(data)  # a copy of the same bytes (as cp -r without hard links): fine
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    p.unlink()
    p.write_bytes(bytes(len(data)))  # other bytes
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1
    assert "copy.py': hard link of 'main.py' holds other bytes on disk" in r.stderr, r.stderr
