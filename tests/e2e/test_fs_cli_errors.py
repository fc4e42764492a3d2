"""`ward fs` errors a user meets at the edges: output that cannot be written,
repeated or empty options, `--opt=VALUE` and `--`, a failed encrypt that
must leave no key behind, key files in the wrong place or with stray
whitespace, paths too long to quote whole, --manifest given for an
encrypted volume, the wrong-key line, and what `ls` prints for odd names
and modes. Each case: the exit status, the one line, what is left on disk."""
import os
import re
import stat
import subprocess

from conftest import WARD, PY, base_env, ward, one_line


def make(tmp):
    src = tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello\n")
    vol, key = tmp / "v1", tmp / "k1"
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return src, vol, key, r.stdout.strip()


def to_full(*args, cwd=None):
    """Runs `ward ARGS...` with stdout on /dev/full (every write: ENOSPC)."""
    with open("/dev/full", "w") as full:
        return subprocess.run([str(WARD), *map(str, args)], env=base_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd)


def test_output_that_cannot_be_written_fails_with_one_line(tmp):
    src, vol, key, _ = make(tmp)
    want = ["ward: cannot write to standard output: No space left on device"]
    for args in [("tag", vol, "--key-file", key), ("ls", vol, "--key-file", key),
                 ("ls", vol, "--key-file", key, "-l"), ("verify", vol, "--key-file", key),
                 ("cat", vol, "a.txt", "--key-file", key), ("encrypt", src, tmp / "v2", "--key-file", key),
                 ("authenticate", src, "-o", tmp / "s.manifest")]:
        r = to_full("fs", *args)
        assert r.returncode == 1, (args, r.stderr)
        if args[0] == "encrypt":  # the volume was made: how to get its tag again
            assert one_line(r.stderr) == [want[0] + f"; the volume was made: 'ward fs tag {args[2]} --key-file "
                                          f"{key}' prints its tag"]
            assert ward("fs", "tag", args[2], "--key-file", key).returncode == 0
            continue
        assert one_line(r.stderr) == want, args
    # the volume was made: its tag is not lost for good
    assert ward("fs", "verify", tmp / "v2", "--key-file", key).returncode == 0


def test_repeated_or_empty_options_are_refused(tmp):
    src, vol, key, tag = make(tmp)
    bad = tmp / "kwrong"
    bad.write_text("ab" * 32 + "\n")
    bad.chmod(0o600)
    cases = [
        (("ls", vol, "--key-file", bad, "--key-file", key), "ls", "--key-file"),
        (("ls", vol, "-k", bad, "--key-file=%s" % key), "ls", "--key-file"),
        (("verify", vol, "--key-file", key, "--tag", "00", "--tag", tag), "verify", "--tag"),
        (("cat", vol, "a.txt", "--manifest", "m1", "-m", "m2"), "cat", "--manifest"),
        (("authenticate", src, "-o", tmp / "a.m", "--output", tmp / "b.m"), "authenticate", "--output"),
    ]
    for args, sub, opt in cases:
        r = ward("fs", *args)
        assert r.returncode == 2 and r.stdout == "", (args, r.stderr)
        assert one_line(r.stderr) == [f"ward: fs {sub}: option '{opt}' given more than once; give it once"], args
    assert not (tmp / "a.m").exists() and not (tmp / "b.m").exists()
    r = ward("fs", "ls", vol, "--key-file", "")
    assert r.returncode == 2
    assert one_line(r.stderr) == ["ward: fs ls: option '--key-file' has an empty value; give a path"]
    r = ward("fs", "verify", vol, "--key-file", key, "--tag=")
    assert r.returncode == 2
    assert one_line(r.stderr) == ["ward: fs verify: option '--tag' has an empty value; give a tag"]


def test_opt_equals_value_and_double_dash(tmp):
    src, vol, key, tag = make(tmp)
    # a volume named "-x", reachable without "./"
    r = ward("fs", "encrypt", f"--key-file={key}", "--", "src", "-x", cwd=tmp)
    assert r.returncode == 0, r.stderr
    r = ward("fs", "ls", "--key-file", key, "--", "-x", cwd=tmp)
    assert r.returncode == 0 and r.stdout == "a.txt\n", r.stderr
    r = ward("fs", "verify", "-x", "--key-file", key, cwd=tmp)
    assert r.returncode == 2 and one_line(r.stderr) == [
        "ward: fs verify: unknown option '-x'; see 'ward fs verify --help'"]
    r = ward("fs", "verify", vol, f"--key-file={key}", f"--tag={tag}")
    assert r.returncode == 0 and "(as pinned)" in r.stdout, r.stderr
    r = ward("fs", "authenticate", src, f"--output={tmp / 'src.manifest'}")
    assert r.returncode == 0, r.stderr
    r = ward("fs", "cat", src, "a.txt", f"--manifest={tmp / 'src.manifest'}")
    assert r.returncode == 0 and r.stdout == "hello\n", r.stderr
    assert "--opt=VALUE" in ward("fs", "--help").stdout


def test_empty_ephemeral_path_is_refused(tmp):
    for opt in [("--ephemeral", ""), ("--ephemeral=",)]:
        r = ward("run", *opt, "--", PY, "-c", "print('started')", cwd=tmp)
        assert r.returncode == 125 and "started" not in r.stdout, r.stderr
        assert one_line(r.stderr) == [
            "ward: --ephemeral: empty path (it is not taken as the current directory); give a directory"]
    assert list(tmp.iterdir()) == []


def test_failed_encrypt_leaves_no_generated_key(tmp):
    src, vol, key, _ = make(tmp)
    (tmp / "full").mkdir()
    (tmp / "full" / "x").write_text("x")
    (tmp / "afile").write_text("x")
    cases = [
        (tmp / "full", f"ward: '{tmp / 'full'}' exists and is not empty; choose a new directory for the volume"),
        (tmp / "afile", f"ward: fs encrypt: '{tmp / 'afile'}' exists and is not a directory; "
                        "choose a new directory for the volume"),
    ]
    for target, line in cases:
        r = ward("fs", "encrypt", src, target, "--key-file", tmp / "knew")
        assert r.returncode == 1 and r.stdout == "", r.stderr
        assert one_line(r.stderr) == [line]
        assert not (tmp / "knew").exists()
        # an existing key is the user's: never removed
        r = ward("fs", "encrypt", src, target, "--key-file", key)
        assert r.returncode == 1 and key.exists()
    assert (tmp / "full" / "x").read_text() == "x"


def test_key_file_inside_the_source_is_refused(tmp):
    src, vol, key, _ = make(tmp)
    for k in [src / "key", src / "a.txt"]:
        r = ward("fs", "encrypt", src, tmp / "v3", "--key-file", k)
        assert r.returncode == 1 and r.stdout == ""
        assert one_line(r.stderr) == [
            f"ward: fs encrypt: the key file '{k}' would be inside the source '{src}' "
            "(it would be stored in the volume); put it elsewhere"]
        assert not (tmp / "v3").exists()
    assert not (src / "key").exists()


def test_source_that_is_a_file(tmp):
    src, vol, key, _ = make(tmp)
    r = ward("fs", "encrypt", src / "a.txt", tmp / "vx", "--key-file", key)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: fs encrypt: source '{src / 'a.txt'}' is a file, not a directory; give the directory that holds it"]
    assert not (tmp / "vx").exists()


def test_too_long_path_keeps_reason_and_fix(tmp):
    lp = tmp / "lp"
    lp.mkdir()
    fd = os.open(lp, os.O_RDONLY)
    for i in range(22):  # 22 * 203 bytes: past the 4095-byte limit
        name = "a" * 200 + str(i)
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(os.open("bbb", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    end = "; at most 4095); use shorter names or less nesting"
    for args in [("encrypt", lp, tmp / "vlp", "--key-file", tmp / "k"), ("authenticate", lp, "-o", tmp / "m")]:
        r = ward("fs", *args)
        assert r.returncode == 1, r.stderr
        lines = one_line(r.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"ward: '{lp}/") and lines[0].endswith(end), lines
        assert "path too long for a volume" in lines[0] and "..." in lines[0] and len(lines[0]) < 400
    assert not (tmp / "vlp").exists() and not (tmp / "k").exists() and not (tmp / "m").exists()


def test_manifest_given_for_an_encrypted_volume_or_not_a_manifest(tmp):
    src, vol, key, _ = make(tmp)
    r = ward("fs", "verify", vol, "--manifest", vol / ".ward-volume" / "manifest")
    assert r.returncode == 1
    assert one_line(r.stderr) == [f"ward: '{vol}' is an encrypted volume: verify it with --key-file"]
    assert ward("fs", "authenticate", src, "-o", tmp / "src.manifest").returncode == 0
    r = ward("fs", "verify", vol, "--manifest", tmp / "src.manifest")
    assert one_line(r.stderr) == [f"ward: '{vol}' is an encrypted volume: verify it with --key-file"]
    r = ward("fs", "ls", vol, "--manifest", tmp / "src.manifest")
    assert one_line(r.stderr) == [f"ward: '{vol}' is an encrypted volume: open it with --key-file"]
    r = ward("fs", "verify", src, "--manifest", src / "a.txt")
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: '{src / 'a.txt'}' is not a volume manifest (ward fs authenticate -o writes one); "
        f"give the manifest of '{src}'"]


def test_wrong_key_names_the_key_file(tmp):
    src, vol, key, _ = make(tmp)
    other = tmp / "other.key"
    other.write_text("cd" * 32 + "\n")
    other.chmod(0o600)
    r = ward("fs", "ls", vol, "--key-file", other)
    assert r.returncode == 1 and r.stdout == ""
    assert one_line(r.stderr) == [
        f"ward: wrong key: '{other}' is not the key of volume '{vol}' (key check does not match); "
        "use the volume's current key file (the one it was created with, or the one the last "
        "'ward fs rekey' wrote)"]
    r = ward("run", "--volume", f"{vol}:{other}", "--", PY, "-c", "print('started')")
    assert r.returncode == 125 and r.stdout == ""
    assert one_line(r.stderr) == [
        f"ward: cannot open volume {vol}: wrong key: '{other}' is not its key (key check does not match); "
        "use the volume's current key file (the one it was created with, or the one the last "
        "'ward fs rekey' wrote)"]


def test_key_file_whitespace_and_mode(tmp):
    src, vol, key, _ = make(tmp)
    hexkey = key.read_text().strip()
    for body in [hexkey + "  \n", hexkey + "\t", hexkey + "\r\n", hexkey + "\n\n", " " + hexkey + "\n"]:
        key.write_text(body)
        r = ward("fs", "tag", vol, "--key-file", key)
        if body.startswith(" "):
            assert r.returncode == 1
            assert one_line(r.stderr) == [
                f"ward: key file '{key}' does not hold a volume key (64 hex digits expected, "
                "a character that is not a hex digit at offset 0)"]
        else:
            assert r.returncode == 0, (body, r.stderr)
    key.write_text(hexkey[:60] + "\n")
    r = ward("fs", "tag", vol, "--key-file", key)
    assert one_line(r.stderr) == [
        f"ward: key file '{key}' does not hold a volume key (64 hex digits expected, 60 found)"]
    key.write_text(hexkey + "\n")
    key.chmod(0o640)
    r = ward("fs", "tag", vol, "--key-file", key)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: key file '{key}' is readable by group or others (mode 0640); run 'chmod 600 {key}'"]


def test_ls_escapes_control_characters_and_shows_special_bits(tmp):
    src = tmp / "odd"
    src.mkdir()
    for name in ["new\nline", "tab\there", "back\\slash", "bell\x07", "plain"]:
        (src / name).write_text("x")
    (src / "suid").write_text("x")
    os.chmod(src / "suid", 0o4755)
    (src / "sgid").write_text("x")
    os.chmod(src / "sgid", 0o2644)
    (src / "sticky").mkdir()
    os.chmod(src / "sticky", 0o1777)
    key = tmp / "k"
    assert ward("fs", "encrypt", src, tmp / "v", "--key-file", key).returncode == 0
    r = ward("fs", "ls", tmp / "v", "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["back\\\\slash", "bell\\x07", "new\\nline", "plain", "sgid", "sticky/",
                                    "suid", "tab\\there", ""]
    r = ward("fs", "ls", tmp / "v", "--key-file", key, "-l")
    modes = {l.split()[-1]: l.split()[0] for l in r.stdout.splitlines()}
    assert modes["suid"] == "-rwsr-xr-x" and modes["sgid"] == "-rw-r-Sr--" and modes["sticky/"] == "drwxrwxrwt"
    assert len(r.stdout.splitlines()) == 8


def test_verify_help_documents_usage_exit_status(tmp):
    src, vol, key, _ = make(tmp)
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", "abc")
    assert r.returncode == 2
    assert "2 for a usage\nerror" in ward("fs", "verify", "--help").stdout


def test_failed_decrypt_leaves_no_partial_tree(tmp):
    """A decrypt that stops at a tampered chunk removes what it wrote (the
    output directory was new or empty), says so on its one line, and the
    same command works once the volume is whole; a non-empty output
    directory is refused and left as it was."""
    src = tmp / "src"
    src.mkdir()
    for i in range(6):
        (src / ("f%d" % i)).write_bytes(os.urandom(50000))
    vol, key = tmp / "v", tmp / "k"
    assert ward("fs", "encrypt", src, vol, "--key-file", key).returncode == 0
    whole = (vol / "f4").read_bytes()
    with open(vol / "f4", "r+b") as f:
        f.seek(5000)
        f.write(bytes([whole[5000] ^ 1]))
    for out, existed in ((tmp / "new", False), (tmp / "empty", True)):
        if existed:
            out.mkdir()
        r = ward("fs", "decrypt", vol, out, "--key-file", key)
        assert r.returncode == 1 and r.stdout == ""
        assert one_line(r.stderr) == [
            f"ward: '{vol}/f4' chunk 1: authentication failed (data modified, swapped or replayed outside the "
            "enclave); the volume was changed outside the enclave: restore it from a trusted copy; the files "
            f"decrypted so far were removed from '{out}'"]
        assert out.exists() == existed and (not existed or os.listdir(out) == [])
    full = tmp / "full"
    full.mkdir()
    (full / "mine").write_text("keep")
    r = ward("fs", "decrypt", vol, full, "--key-file", key)
    assert r.returncode == 1 and one_line(r.stderr) == [
        f"ward: '{full}' is not empty; choose a new or empty directory"]
    assert os.listdir(full) == ["mine"]
    (vol / "f4").write_bytes(whole)
    assert ward("fs", "decrypt", vol, tmp / "new", "--key-file", key).returncode == 0
    assert all((tmp / "new" / n).read_bytes() == (src / n).read_bytes() for n in os.listdir(src))


def run_in_pty(args, stop_after):
    """Runs `ward ARGS` with stderr on a terminal; sends SIGINT once the
    output holds stop_after. Returns (status, output)."""
    import pty
    import select
    import signal
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(str(WARD), [str(WARD), *map(str, args)], base_env())
    out, sent = b"", False
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            os.kill(pid, signal.SIGKILL)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not sent and stop_after.encode() in out:
            os.kill(pid, signal.SIGINT)
            sent = True
    _, status = os.waitpid(pid, 0)
    return status, out.decode(errors="replace")


def test_progress_bar_and_interrupted_encrypt(tmp):
    """On a terminal, a large encrypt shows a bar in whole units; Ctrl-C
    ends it with one line on its own line saying what was left and what to
    do, by SIGINT; the same command then replaces the incomplete volume."""
    src = tmp / "src"
    src.mkdir()
    for i in range(40):
        (src / ("f%02d" % i)).write_bytes(os.urandom(2 << 20))
    vol, key = tmp / "v", tmp / "k"
    status, out = run_in_pty(["fs", "encrypt", src, vol, "--key-file", key], "encrypting [")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 2, (status, out)
    lines = [l.strip() for l in out.replace("\r", "\n").split("\n") if l.strip()]
    assert lines[-1] == (f"ward: interrupted: '{vol}' is left incomplete (every command refuses it); "
                         "run the same command again to replace it"), out
    bars = [l for l in lines if l.startswith("encrypting [")]
    assert bars and all(re.search(r"\] +\d+% (\d+B|\d+\.\dM)/80\.0M$", l) for l in bars), bars
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.returncode != 0 and "incomplete" in r.stderr
    r = ward("fs", "encrypt", src, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_key_file_permissions_are_named_by_what_they_allow(tmp):
    src, vol, key, _ = make(tmp)
    for mode, what in ((0o640, "readable"), (0o620, "writable"), (0o610, "accessible"), (0o604, "readable")):
        key.chmod(mode)
        r = ward("fs", "ls", vol, "--key-file", key)
        assert r.returncode == 1 and one_line(r.stderr) == [
            f"ward: key file '{key}' is {what} by group or others (mode {mode:04o}); run 'chmod 600 {key}'"]
    key.chmod(0o600)
    raw = tmp / "raw.key"
    raw.write_bytes(os.urandom(32))
    raw.chmod(0o600)
    r = ward("fs", "encrypt", src, tmp / "raw.vol", "--key-file", raw)
    assert r.returncode == 0 and ward("fs", "verify", tmp / "raw.vol", "--key-file", raw).returncode == 0


def test_encrypt_of_a_tree_holding_ward_metadata_names_what_it_is(tmp):
    src, vol, key, _ = make(tmp)
    auth = tmp / "auth"
    auth.mkdir()
    (auth / "m.py").write_text("x")
    (auth / ".ward-volume").mkdir()
    assert ward("fs", "authenticate", auth, "-o", auth / ".ward-volume" / "manifest").returncode == 0
    odd = tmp / "odd"
    (odd / ".ward-volume").mkdir(parents=True)
    for tree, line in (
            (vol, f"ward: fs encrypt: '{vol}' is a Ward volume (its files are ciphertext); decrypt it first "
                  "(ward fs decrypt), or give the plaintext tree"),
            (auth, f"ward: fs encrypt: '{auth}' is an authenticated tree (its manifest is in .ward-volume); "
                   "encrypt a copy without that directory"),
            (odd, f"ward: fs encrypt: '{odd}' holds a directory named .ward-volume, which Ward reserves for a "
                  "volume's metadata; rename or remove it first")):
        r = ward("fs", "encrypt", tree, tmp / "out.vol", "--key-file", key)
        assert r.returncode == 1 and one_line(r.stderr) == [line]
        assert not (tmp / "out.vol").exists()
    r = ward("fs")
    assert r.returncode == 2 and r.stdout == "" and one_line(r.stderr) == [
        "ward: fs: a command is needed (encrypt, ls, cat, verify, decrypt, authenticate, tag, rekey); see "
        "'ward fs --help'"]


def test_paths_that_cannot_be_made_say_what_to_do(tmp):
    src, vol, key, _ = make(tmp)
    (tmp / "dangl").symlink_to(tmp / "nowhere")
    cases = [
        (("encrypt", src, tmp / "x1.vol", "--key-file", tmp / "nodir" / "e.key"), 1,
         f"ward: cannot create key file '{tmp / 'nodir' / 'e.key'}': No such file or directory; create its "
         "directory first"),
        (("authenticate", src, "-o", tmp / "nodir" / "x.manifest"), 1,
         f"ward: cannot resolve '{tmp / 'nodir' / 'x.manifest'}': No such file or directory; the manifest's "
         "directory must exist"),
        (("encrypt", src, tmp / "dangl", "--key-file", key), 1,
         f"ward: '{tmp / 'dangl'}' is a symbolic link to nothing; give a new directory for the volume"),
        (("encrypt", src, tmp / "nodir" / "v.vol", "--key-file", key), 1,
         f"ward: cannot create '{tmp / 'nodir' / 'v.vol'}': No such file or directory; create its parent "
         "directory first"),
        (("encrypt", src, "", "--key-file", key), 2,
         "ward: fs encrypt: argument 2 of SRC_DIR VOL is empty; give a path"),
    ]
    for args, code, line in cases:
        r = ward("fs", *args)
        assert (r.returncode, one_line(r.stderr)) == (code, [line]), args
    assert not (tmp / "nodir").exists() and not (tmp / "nowhere").exists()
