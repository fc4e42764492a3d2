"""Symbolic links through `ward fs`: encrypt stores every link of the tree
verbatim (to a file, to a directory, dangling, absolute, a chain), ls shows
them, decrypt recreates them, verify checks them, cat follows them inside
the volume and refuses the others in one line, and a tampered link fails
like a tampered file."""
import os
import time

from conftest import ward, one_line

LINKS = {
    "rel.py": "main.py",
    "pkglink": "pkg",
    "dangling": "nowhere",
    "abs": "/nonexistent/target",
    "chain": "rel.py",
    "pkg/up": "../main.py",
    "pkg/out": "../../outside",
    "loop1": "loop2",
    "loop2": "loop1",
}
MTIME = 1_600_000_000_000_000_000


def tree(tmp):
    src = tmp / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "main.py").write_text("print('hello')\n")
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    for name, target in LINKS.items():
        os.symlink(target, src / name)
        os.utime(src / name, ns=(MTIME, MTIME), follow_symlinks=False)
    return src


def encrypted(tmp):
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    # no warning: nothing is left out
    assert one_line(r.stderr) == [f"ward: generated a new volume key in '{key}' (mode 0600); keep it safe"]
    return src, vol, key


def test_encrypt_keeps_every_link_and_ls_shows_them(tmp):
    src, vol, key = encrypted(tmp)
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "abs -> /nonexistent/target",
        "chain -> rel.py",
        "dangling -> nowhere",
        "loop1 -> loop2",
        "loop2 -> loop1",
        "main.py",
        "pkg/",
        "pkg/mod.py",
        "pkg/out -> ../../outside",
        "pkg/up -> ../main.py",
        "pkglink -> pkg",
        "rel.py -> main.py",
    ]
    r = ward("fs", "ls", vol, "--key-file", key, "-l")
    assert r.returncode == 0, r.stderr
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(MTIME // 10**9))
    lines = {l.split()[-3] if " -> " in l else l.split()[-1]: l for l in r.stdout.splitlines()}
    for name, target in LINKS.items():
        assert lines[name] == f"lrwxrwxrwx {len(target):12d} {when} {name} -> {target}"
    assert lines["main.py"].startswith("-rw")
    # on disk a link is a regular file of the target's length (sealed)
    st = os.lstat(vol / "abs")
    assert not os.path.islink(vol / "abs") and st.st_size == len("/nonexistent/target")
    assert (vol / "abs").read_bytes() != b"/nonexistent/target"


def test_ls_escapes_names_and_targets(tmp):
    src = tmp / "src"
    src.mkdir()
    os.symlink("a\nb\\c", src / "odd\tname")
    vol, key = tmp / "v.vol", tmp / "k"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.stdout == "odd\\tname -> a\\nb\\\\c\n"


def test_decrypt_recreates_links_and_verify_checks_them(tmp):
    src, vol, key = encrypted(tmp)
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0 and r.stdout.startswith(f"ok: volume '{vol}' verified, tag "), r.stderr
    out = tmp / "out"
    r = ward("fs", "decrypt", vol, out, "--key-file", key)
    assert r.returncode == 0, r.stderr
    for name, target in LINKS.items():
        assert os.path.islink(out / name) and os.readlink(out / name) == target
        assert os.lstat(out / name).st_mtime_ns == MTIME
    assert (out / "main.py").read_text() == "print('hello')\n"
    assert (out / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert (out / "rel.py").read_text() == "print('hello')\n"  # a real link again


def test_cat_follows_links_inside_the_volume(tmp):
    src, vol, key = encrypted(tmp)
    cat = lambda p: ward("fs", "cat", vol, p, "--key-file", key)
    for p in ["rel.py", "chain", "pkg/up", "pkglink/up", "pkglink/mod.py"]:
        r = cat(p)
        assert r.returncode == 0, (p, r.stderr)
        assert r.stdout == ("x = 1\n" if p.endswith("mod.py") else "print('hello')\n")
    refusals = {
        "abs": "ward: fs cat: 'abs' is a symbolic link to '/nonexistent/target', an absolute path; "
               "cat only follows links inside the volume",
        "pkg/out": "ward: fs cat: 'pkg/out' is a symbolic link to '../../outside', which leaves the volume; "
                   "cat only follows links inside the volume",
        "pkglink/out": "ward: fs cat: 'pkg/out' is a symbolic link to '../../outside', which leaves the volume; "
                       "cat only follows links inside the volume",
        "loop1": "ward: fs cat: 'loop1': too many levels of symbolic links (more than 40; a loop at 'loop1'?)",
        "dangling": "ward: fs cat: 'dangling' is a symbolic link to 'nowhere', which is not in the volume "
                    "(a dangling link)",
    }
    for p, want in refusals.items():
        r = cat(p)
        assert r.returncode == 1 and r.stdout == "", (p, r.stderr)
        assert one_line(r.stderr) == [want], p


def test_a_tampered_link_fails_like_a_file(tmp):
    src, vol, key = encrypted(tmp)
    data = bytearray((vol / "rel.py").read_bytes())
    data[2] ^= 1
    (vol / "rel.py").write_bytes(bytes(data))
    want = (f"ward: '{vol}/rel.py' chunk 0: authentication failed (data modified, swapped or replayed outside "
            "the enclave); the volume was changed outside the enclave: restore it from a trusted copy")
    for args in (("verify", vol), ("cat", vol, "rel.py"), ("cat", vol, "chain"), ("ls", vol)):
        r = ward("fs", *args, "--key-file", key)
        assert r.returncode == 1, (args, r.stderr)
        assert one_line(r.stderr) == [want], args
    out = tmp / "out"
    r = ward("fs", "decrypt", vol, out, "--key-file", key)
    assert r.returncode == 1 and one_line(r.stderr) == [want + f"; the files decrypted so far were removed from '{out}'"]
    assert not os.path.lexists(out)


def test_authenticate_keeps_reading_links_as_before(tmp):
    """Only encrypted volumes hold links: authenticate counts a link to a
    file as the file and leaves the others out, with its warning."""
    src = tree(tmp)
    r = ward("fs", "authenticate", src, "-o", tmp / "src.manifest")
    assert r.returncode == 0, r.stderr
    assert one_line(r.stderr) == [
        f"ward: warning: left out 6 symbolic links to a directory or to nothing (first: '{src}/abs'); a volume "
        "holds files and directories only: copy the tree with links resolved (cp -rL) to include them"]
    r = ward("fs", "ls", src, "--manifest", tmp / "src.manifest")
    assert r.stdout.split() == ["chain", "main.py", "pkg/", "pkg/mod.py", "pkg/up", "rel.py"]
