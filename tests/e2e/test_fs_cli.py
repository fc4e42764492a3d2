"""`ward fs` from a user's point of view: round trips, help, and the clear
errors for every bad input (wrong key, missing files, non-empty targets,
loose key permissions)."""
import os
import stat

from conftest import ward, one_line


def tree(tmp):
    src = tmp / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "main.py").write_text("print('hello')\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "sub" / "big.bin").write_bytes(os.urandom(300_000))
    os.utime(src / "main.py", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.chmod(src / "main.py", 0o640)
    return src


def test_encrypt_generates_key_and_round_trips(tmp):
    src = tree(tmp)
    r = ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    tag = r.stdout.strip()
    assert len(tag) == 64
    assert one_line(r.stderr) == [f"ward: generated a new volume key in '{tmp / 'app.key'}' (mode 0600); keep it safe"]
    assert stat.S_IMODE(os.stat(tmp / "app.key").st_mode) == 0o600
    # ciphertext on disk, same sizes
    assert (tmp / "app.vol" / "main.py").read_bytes() != (src / "main.py").read_bytes()
    assert os.path.getsize(tmp / "app.vol" / "pkg/sub/big.bin") == 300_000
    r = ward("fs", "ls", tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.stdout.split() == ["main.py", "pkg/", "pkg/__init__.py", "pkg/sub/", "pkg/sub/big.bin"]
    r = ward("fs", "cat", tmp / "app.vol", "main.py", "--key-file", tmp / "app.key")
    assert r.returncode == 0 and r.stdout == "print('hello')\n"
    r = ward("fs", "verify", tmp / "app.vol", "--key-file", tmp / "app.key", "--tag", tag)
    assert r.returncode == 0 and tag in r.stdout
    assert ward("fs", "tag", tmp / "app.vol", "--key-file", tmp / "app.key").stdout.strip() == tag
    r = ward("fs", "decrypt", tmp / "app.vol", tmp / "out", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    for p in ["main.py", "pkg/__init__.py", "pkg/sub/big.bin"]:
        assert (tmp / "out" / p).read_bytes() == (src / p).read_bytes()
    st = os.stat(tmp / "out" / "main.py")
    assert st.st_mtime_ns == 1_600_000_000_123_456_789 and stat.S_IMODE(st.st_mode) == 0o640
    # the same key encrypts a second volume; existing key reused silently
    r = ward("fs", "encrypt", src, tmp / "b.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0 and one_line(r.stderr) == []


def test_errors_are_one_clear_line(tmp):
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    cases = [
        (("fs", "encrypt", src, vol, "--key-file", key), 1,
         f"ward: '{vol}' exists and is not empty; choose a new directory for the volume"),
        (("fs", "encrypt", tmp / "nope", tmp / "x.vol", "--key-file", key), 1,
         f"ward: fs encrypt: source '{tmp / 'nope'}' is not a directory: No such file or directory"),
        (("fs", "ls", vol), 2,
         "ward: fs ls: --key-file KEY is required (or --manifest FILE for an authenticated volume)"),
        (("fs", "ls", vol, "--key-file", tmp / "missing.key"), 1,
         f"ward: cannot read key file '{tmp / 'missing.key'}': No such file or directory"),
        (("fs", "ls", tmp / "novol", "--key-file", key), 1,
         f"ward: volume '{tmp / 'novol'}': No such file or directory; give the volume's directory (the one "
         "'ward fs encrypt' made, or an authenticated tree with --manifest)"),
        (("fs", "ls", src, "--key-file", key), 1,
         f"ward: '{src}' is not a volume (no manifest {src}/.ward-volume/manifest); give a directory made by "
         "'ward fs encrypt' (--key-file), or an authenticated tree with the manifest 'ward fs authenticate' wrote "
         "for it (--manifest)"),
        (("fs", "cat", vol, "nope.py", "--key-file", key), 1,
         f"ward: '{vol}/nope.py': no such file; 'ward fs ls {vol}' lists the volume's files"),
        (("fs", "cat", vol, "pkg", "--key-file", key), 1,
         f"ward: '{vol}/pkg' is a directory; give a file ('ward fs ls {vol}' lists them)"),
        (("fs", "cat", vol, "../etc/passwd", "--key-file", key), 1,
         "ward: '../etc/passwd': '..' is not allowed in volume paths"),
        (("fs", "cat", vol, ".ward-volume/manifest", "--key-file", key), 1,
         "ward: '.ward-volume/manifest': the volume's metadata is not accessible"),
        (("fs", "decrypt", vol, src, "--key-file", key), 1,
         f"ward: '{src}' is not empty; choose a new or empty directory"),
        (("fs", "verify", vol, "--key-file", key, "--tag", "abc"), 2,
         "ward: fs verify: --tag needs 64 hex digits"),
        (("fs", "ls", vol, "--key-file", key, "--bogus"), 2,
         "ward: fs ls: unknown option '--bogus'; see 'ward fs ls --help'"),
        (("fs", "frobnicate"), 2, "ward: fs: unknown command 'frobnicate'; run 'ward fs --help'"),
        (("fs", "authenticate", src), 2, "ward: fs authenticate: -o NAME.manifest is required"),
        (("fs", "authenticate", src, "-o", src / "x.manifest"), 1,
         f"ward: the manifest '{src / 'x.manifest'}' would be inside the tree it describes; write it elsewhere"),
    ]
    for args, code, line in cases:
        r = ward(*args)
        assert r.returncode == code, (args, r.stderr)
        assert one_line(r.stderr) == [line], args
        assert r.stdout == ""
    # PATH given with the volume's own name in front
    r = ward("fs", "cat", "app.vol", "app.vol/pkg/mod.py", "--key-file", key, cwd=tmp)
    assert r.returncode == 1 and one_line(r.stderr) == [
        "ward: 'app.vol/app.vol/pkg/mod.py': no such file; PATH is relative to the volume: "
        "'ward fs cat app.vol pkg/mod.py'"]


def test_loose_key_file_is_refused(tmp):
    src = tree(tmp)
    key = tmp / "k"
    key.write_text("11" * 32 + "\n")
    key.chmod(0o644)
    r = ward("fs", "encrypt", src, tmp / "v", "--key-file", key)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: key file '{key}' is readable by group or others (mode 0644); run 'chmod 600 {key}'"]
    assert not (tmp / "v").exists()
    key.chmod(0o600)
    key.write_text("not hex\n")
    r = ward("fs", "encrypt", src, tmp / "v", "--key-file", key)
    assert one_line(r.stderr) == [f"ward: key file '{key}' does not hold a volume key (64 hex digits expected, "
                                   "a character that is not a hex digit at offset 0)"]


def test_authenticate_is_deterministic(tmp):
    src = tree(tmp)
    a = ward("fs", "authenticate", src, "-o", tmp / "a.manifest")
    b = ward("fs", "authenticate", src, "-o", tmp / "b.manifest")
    assert a.returncode == 0 and a.stdout == b.stdout and len(a.stdout.strip()) == 64
    r = ward("fs", "ls", src, "--manifest", tmp / "a.manifest")
    assert "pkg/sub/big.bin" in r.stdout.split()
    r = ward("fs", "cat", src, "main.py", "--manifest", tmp / "a.manifest")
    assert r.stdout == "print('hello')\n"
    (src / "new.py").write_text("x")
    assert ward("fs", "authenticate", src, "-o", tmp / "c.manifest").stdout != a.stdout


def test_help_for_every_subcommand():
    for sub in ["encrypt", "ls", "cat", "verify", "decrypt", "authenticate", "tag"]:
        r = ward("fs", sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: ward fs {sub}"), sub
    r = ward("fs", "--help")
    assert r.returncode == 0 and "authenticate DIR -o NAME.manifest" in r.stdout


def test_decrypt_of_a_tampered_volume_leaves_no_partial_plaintext(tmp):
    # A chunk modified outside the enclave stops `ward fs decrypt` with one
    # line naming the file and the chunk; the file being written is removed
    # (what was decrypted of it before the bad chunk never stays on disk).
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    with open(vol / "pkg/sub/big.bin", "r+b") as f:
        f.seek(40 * 4096 + 7)
        b = f.read(1)
        f.seek(40 * 4096 + 7)
        f.write(bytes([b[0] ^ 1]))
    r = ward("fs", "decrypt", vol, tmp / "out", "--key-file", key)
    assert r.returncode != 0
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    assert "pkg/sub/big.bin" in lines[0] and "chunk 40" in lines[0] and "authentication failed" in lines[0], lines
    assert not (tmp / "out" / "pkg/sub/big.bin").exists()


def test_encrypt_again_after_a_creation_that_was_killed(tmp):
    # A creation killed before its manifest was written leaves only the
    # metadata directory (no manifest, nothing in alt/): running it again
    # just works. Anything more is never touched.
    src = tree(tmp)
    vol, key = tmp / "app.vol", tmp / "app.key"
    meta = vol / ".ward-volume"
    (meta / "alt").mkdir(parents=True)
    (meta / "lock").write_bytes(b"")
    (meta / "manifest.tmp.4242").write_bytes(b"WARDVOL1 partial")
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    assert not (meta / "manifest.tmp.4242").exists()
    # an unfinished creation with something in alt/, or a real volume: refused, untouched
    vol2 = tmp / "b.vol"
    (vol2 / ".ward-volume" / "alt").mkdir(parents=True)
    (vol2 / ".ward-volume" / "alt" / "00ff").write_bytes(b"x")
    r = ward("fs", "encrypt", src, vol2, "--key-file", key)
    assert r.returncode != 0 and "is not empty" in r.stderr, r.stderr
    assert (vol2 / ".ward-volume" / "alt" / "00ff").exists()
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode != 0 and "is not empty" in r.stderr, r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_symlinks_kept_by_encrypt_resolved_or_left_out_by_authenticate(tmp):
    """encrypt stores every link as a link (test_fs_links.py has the
    details), without a warning; authenticate, whose volumes hold files
    and directories only, counts a link to a file as the file and leaves
    links to directories and dangling ones out, saying so in one line
    naming the first one and the fix."""
    src = tree(tmp)
    (src / "link.py").symlink_to("main.py")
    (src / "pkglink").symlink_to("pkg")
    (src / "dangling").symlink_to("nowhere")
    r = ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    assert one_line(r.stderr)[1:] == []
    r = ward("fs", "ls", tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.stdout.splitlines() == ["dangling -> nowhere", "link.py -> main.py", "main.py", "pkg/", "pkg/__init__.py",
                                     "pkg/sub/", "pkg/sub/big.bin", "pkglink -> pkg"]
    r = ward("fs", "cat", tmp / "app.vol", "link.py", "--key-file", tmp / "app.key")
    assert r.stdout == "print('hello')\n"
    want = (f"ward: warning: left out 2 symbolic links to a directory or to nothing (first: '{src}/dangling'); "
            "a volume holds files and directories only: copy the tree with links resolved (cp -rL) to include them")
    r = ward("fs", "authenticate", src, "-o", tmp / "src.manifest")
    assert r.returncode == 0 and len(r.stdout.strip()) == 64, r.stderr
    assert one_line(r.stderr) == [want]
    r = ward("fs", "ls", src, "--manifest", tmp / "src.manifest")
    assert r.stdout.split() == ["link.py", "main.py", "pkg/", "pkg/__init__.py", "pkg/sub/", "pkg/sub/big.bin"]


def test_nested_targets_are_refused_and_nothing_is_written(tmp):
    """A volume inside its own source, a key file inside the volume, a
    decryption into the volume, and a volume given as the source of
    another: each one clear line, nothing created."""
    src = tree(tmp)
    key = tmp / "app.key"
    assert ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", key).returncode == 0
    cases = [
        (("encrypt", src, src / "inner.vol", "--key-file", key),
         f"ward: fs encrypt: the volume '{src / 'inner.vol'}' would be inside the source '{src}' (it would "
         "contain itself); put it elsewhere", src / "inner.vol"),
        (("encrypt", src, tmp / "new.vol", "--key-file", tmp / "new.vol" / "k"),
         f"ward: fs encrypt: the key file '{tmp / 'new.vol' / 'k'}' would be inside the volume '{tmp / 'new.vol'}' "
         "(a volume holds only what it lists, and the key must not be stored next to its ciphertext); "
         "put it elsewhere", tmp / "new.vol" / "k"),
        (("decrypt", tmp / "app.vol", tmp / "app.vol" / "out", "--key-file", key),
         f"ward: fs decrypt: the output directory '{tmp / 'app.vol' / 'out'}' would be inside the volume "
         f"'{tmp / 'app.vol'}' (plaintext would be written among its ciphertext); put it elsewhere",
         tmp / "app.vol" / "out"),
        (("encrypt", tmp / "app.vol", tmp / "again.vol", "--key-file", key),
         f"ward: fs encrypt: '{tmp / 'app.vol'}' is a Ward volume (its files are ciphertext); decrypt it first "
         "(ward fs decrypt), or give the plaintext tree", tmp / "again.vol"),
    ]
    (tmp / "new.vol").mkdir()  # an empty directory for the new volume
    for args, line, absent in cases:
        r = ward("fs", *args)
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert one_line(r.stderr) == [line]
        assert not absent.exists()
    assert list((tmp / "new.vol").iterdir()) == []
    r = ward("fs", "verify", tmp / "app.vol", "--key-file", key)
    assert r.returncode == 0, r.stderr


def test_verify_of_an_authenticated_tree_warns_of_files_added_after_its_manifest(tmp):
    tree = tmp / "t"
    (tree / "p").mkdir(parents=True)
    (tree / "p" / "a.py").write_text("a\n")
    os.symlink("/nonexistent", tree / "p" / "dangling")  # left out by authenticate: never reported
    man = tmp / "t.manifest"
    r = ward("fs", "authenticate", tree, "-o", man)
    assert r.returncode == 0, r.stderr
    r = ward("fs", "verify", tree, "--manifest", man)
    assert r.returncode == 0 and r.stdout.startswith("ok: volume"), r.stderr
    assert [l for l in one_line(r.stderr) if "warning" in l] == []
    (tree / "p" / "b.py").write_text("b\n")
    r = ward("fs", "verify", tree, "--manifest", man)
    assert r.returncode == 0 and r.stdout.startswith("ok: volume '%s' verified" % tree), r.stderr
    assert one_line(r.stderr) == [
        "ward: warning: '%s/p/b.py': on disk but not in the manifest (added after it was built); programs under "
        "'ward run' do not see it (if it belongs there, rebuild the manifest with 'ward fs authenticate')" % tree]
