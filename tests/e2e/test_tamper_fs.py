"""Tamper suite for volumes: every attack on the format (docs/volume-format.md,
"Threat model") is run against a real volume with the real `ward fs`, and the
exact one-line error is asserted."""
import os
import shutil
import subprocess

import pytest

from conftest import ward, one_line, WARD

FIX = "; the volume was changed outside the enclave: restore it from a trusted copy"


def make_vol(tmp, files):
    src = tmp / "src"
    src.mkdir()
    for name, data in files.items():
        p = src / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    r = ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    return tmp / "app.vol", tmp / "app.key", r.stdout.strip()


def put(vol, key, path, data):
    r = subprocess.run([str(WARD), "fs", "_put", str(vol), path, "--key-file", str(key)],
                       input=data, capture_output=True)
    assert r.returncode == 0, r.stderr


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x01]))


def cat_err(vol, key, path):
    r = ward("fs", "cat", vol, path, "--key-file", key)
    assert r.returncode == 1
    assert r.stdout == ""          # never a byte of unverified plaintext
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    return lines[0]


def auth_fail(vol, path, chunk):
    return (f"ward: '{vol}/{path}' chunk {chunk}: authentication failed "
            f"(data modified, swapped or replayed outside the enclave){FIX}")


DATA = bytes(range(256)) * 64  # 16 KiB: 4 chunks


def test_bit_flip_in_data(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    flip(vol / "main.py", 2 * 4096 + 17)
    assert cat_err(vol, key, "main.py") == auth_fail(vol, "main.py", 2)
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1
    assert one_line(r.stderr) == [auth_fail(vol, "main.py", 2)]


def test_bit_flip_in_last_partial_chunk(tmp):
    vol, key, _ = make_vol(tmp, {"a.txt": b"hello world\n"})
    flip(vol / "a.txt", 3)
    assert cat_err(vol, key, "a.txt") == auth_fail(vol, "a.txt", 0)


def test_bit_flip_in_metadata_record(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    man = vol / ".ward-volume" / "manifest"
    flip(man, 128 + 8 + 3)  # inside the first record's payload
    line = cat_err(vol, key, "main.py")
    assert line == (f"ward: manifest {man}: record 0 (offset 128) failed authentication "
                    f"(metadata tampered){FIX}")


def test_bit_flip_in_manifest_header(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    man = vol / ".ward-volume" / "manifest"
    flip(man, 75)  # the generation counter
    assert cat_err(vol, key, "main.py") == (
        f"ward: manifest {man}: header authentication failed (tampered){FIX}")


def test_wrong_key_is_not_called_tampering(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    other = tmp / "other.key"
    other.write_text("ab" * 32 + "\n")
    other.chmod(0o600)
    assert cat_err(vol, other, "main.py") == (
        f"ward: wrong key: '{other}' is not the key of volume '{vol}' (key check does not match); "
        "use the volume's current key file (the one it was created with, or the one the last "
        "'ward fs rekey' wrote)")


def test_truncated_file(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    os.truncate(vol / "main.py", 5000)
    assert cat_err(vol, key, "main.py") == (
        f"ward: '{vol}/main.py': file truncated on disk (5000 bytes, expected 16384){FIX}")


def test_extended_file(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    with open(vol / "main.py", "ab") as f:
        f.write(b"x" * 10)
    assert cat_err(vol, key, "main.py") == (
        f"ward: '{vol}/main.py': file extended on disk (16394 bytes, expected 16384){FIX}")


def test_swapped_chunks_within_a_file(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": DATA})
    p = vol / "main.py"
    b = bytearray(p.read_bytes())
    b[0:4096], b[4096:8192] = b[4096:8192], b[0:4096]
    p.write_bytes(bytes(b))
    assert cat_err(vol, key, "main.py") == auth_fail(vol, "main.py", 0)


def test_swapped_files_between_paths(tmp):
    vol, key, _ = make_vol(tmp, {"a.py": DATA, "b.py": bytes(reversed(DATA))})
    a, b = (vol / "a.py").read_bytes(), (vol / "b.py").read_bytes()
    (vol / "a.py").write_bytes(b)
    (vol / "b.py").write_bytes(a)
    assert cat_err(vol, key, "a.py") == auth_fail(vol, "a.py", 0)
    assert cat_err(vol, key, "b.py") == auth_fail(vol, "b.py", 0)


def test_replayed_old_version_of_one_file(tmp):
    vol, key, _ = make_vol(tmp, {"conf.py": b"A" * 9000, "other.py": b"x"})
    old = (vol / "conf.py").read_bytes()
    # chunks alternate between two slots (copy-on-write): after two updates
    # the current version is back in the file itself
    put(vol, key, "conf.py", b"B" * 9000)  # same size: only the content differs
    alt = next((vol / ".ward-volume" / "alt").iterdir())
    old_alt = alt.read_bytes()
    put(vol, key, "conf.py", b"C" * 9000)
    (vol / "conf.py").write_bytes(old)
    assert cat_err(vol, key, "conf.py") == auth_fail(vol, "conf.py", 0)
    # the same for the other slot
    put(vol, key, "conf.py", b"D" * 9000)
    put(vol, key, "conf.py", b"E" * 9000)
    r = ward("fs", "cat", vol, "conf.py", "--key-file", key)
    assert r.returncode == 0 and r.stdout == "E" * 9000
    put(vol, key, "conf.py", b"F" * 9000)  # in the alt slot now
    alt.write_bytes(old_alt)
    assert cat_err(vol, key, "conf.py") == auth_fail(vol, "conf.py", 0)
    # the rest of the volume still reads
    r = ward("fs", "cat", vol, "other.py", "--key-file", key)
    assert r.returncode == 0 and r.stdout == "x"


def test_replayed_whole_volume_changes_the_tag(tmp):
    vol, key, tag1 = make_vol(tmp, {"conf.py": b"v1"})
    shutil.copytree(vol, tmp / "old.vol")
    put(vol, key, "conf.py", b"v2")
    r = ward("fs", "tag", vol, "--key-file", key)
    tag2 = r.stdout.strip()
    assert r.returncode == 0 and tag2 != tag1
    shutil.rmtree(vol)
    shutil.copytree(tmp / "old.vol", vol)
    # a consistent old copy is a valid volume, but not the pinned one
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", tag2)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: volume '{vol}' has tag {tag1}, expected {tag2} "
        f"(an older or modified version of the volume); if the --tag given is right, the volume was changed "
        f"or rolled back outside the enclave: restore it from a trusted copy"]
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", tag1)
    assert r.returncode == 0


def test_rolled_back_manifest_tail_changes_the_tag(tmp):
    vol, key, tag1 = make_vol(tmp, {"conf.py": b"v1"})
    man = vol / ".ward-volume" / "manifest"
    before = man.read_bytes()
    put(vol, key, "conf.py", b"v2")
    tag2 = ward("fs", "tag", vol, "--key-file", key).stdout.strip()
    # put() compacted the journal; restoring the old manifest alone leaves
    # the new data behind it: the old manifest no longer matches the data
    man.write_bytes(before)
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", tag2)
    assert r.returncode == 1
    assert "expected " + tag2[:16] in r.stderr


def test_bytes_added_behind_an_empty_file_are_reported(tmp):
    """An empty file (made by encrypt, or by a program that wrote nothing)
    was left flagged as possibly longer, so verify tolerated bytes appended
    to it on disk."""
    vol, key, _ = make_vol(tmp, {"empty": b"", "one": b"1"})
    r = ward("run", "--volume", f"{vol}:{key}", "--", "/usr/bin/python3", "-c",
             f"open('{vol}/new', 'w').close()")
    assert r.returncode == 0, r.stderr
    for name in ("empty", "new"):
        with open(vol / name, "ab") as f:
            f.write(b"plaintext")
        r = ward("fs", "verify", vol, "--key-file", key)
        assert r.returncode == 1
        assert one_line(r.stderr) == [f"ward: '{vol}/{name}': file extended on disk (9 bytes, expected 0){FIX}"]
        os.truncate(vol / name, 0)
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


def test_manifest_cut_inside_its_snapshot_is_refused(tmp):
    files = {f"m{i:02d}.py": b"x" * i for i in range(12)}
    vol, key, _ = make_vol(tmp, files)
    man = vol / ".ward-volume" / "manifest"
    whole = man.read_bytes()
    # record boundaries: a cut there looks like a shorter, valid snapshot
    bounds, off = [], 128
    while off < len(whole):
        off += 8 + int.from_bytes(whole[off + 4:off + 8], "little") + 32
        bounds.append(off)
    assert bounds[-1] == len(whole)
    for cut in (200, bounds[3], bounds[3] + 7, len(whole) - 1):
        man.write_bytes(whole[:cut])
        r = ward("fs", "ls", vol, "--key-file", key)
        assert r.returncode == 1 and r.stdout == ""
        assert one_line(r.stderr) == [
            f"ward: manifest {man}: cut short inside its snapshot ({cut} of {len(whole)} bytes: "
            f"part of the file list is missing){FIX}"], cut
        r = ward("run", "--volume", f"{vol}:{key}", "--", "/bin/true")
        assert r.returncode != 0 and "cut short inside its snapshot" in r.stderr
    man.write_bytes(whole)
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr


def test_added_file_is_reported(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": b"ok"})
    (vol / "evil.py").write_text("import os\n")
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: '{vol}/evil.py': file on disk that the manifest does not list "
        f"(added outside the enclave){FIX}"]
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.stdout.split() == ["main.py"]
    # several: the first is named, the others counted
    (vol / "sub").mkdir()
    (vol / "sub" / "more.py").write_text("x")
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 1 and len(one_line(r.stderr)) == 1
    assert "does not list (added outside the enclave) (and 1 more such entry)" in r.stderr


def test_deleted_file(tmp):
    vol, key, _ = make_vol(tmp, {"main.py": b"ok"})
    os.unlink(vol / "main.py")
    assert cat_err(vol, key, "main.py") == (
        f"ward: '{vol}/main.py': file missing on disk (deleted or renamed outside the enclave){FIX}")


def test_deleted_file_under_ward_run_is_reported_and_not_recreated(tmp):
    # a read-write open of a file whose data was deleted outside the enclave
    # once replaced it by an empty file on disk and then reported "truncated"
    vol, key, _ = make_vol(tmp, {"main.py": b"ok\n"})
    os.unlink(vol / "main.py")
    code = ("import errno\n"
            "try:\n open(%r).read()\nexcept OSError as e:\n print(errno.errorcode[e.errno])\n") % str(vol / "main.py")
    r = ward("run", "--volume", f"{vol}:{key}", "--", "/usr/bin/python3", "-c", code)
    assert r.stdout == "EIO\n"
    assert r.returncode == 74, r.stderr
    assert (f"ward: cannot open {vol}/main.py: file missing on disk (deleted or renamed outside the enclave); "
            f"the encrypted region {vol} was changed outside the enclave") in one_line(r.stderr)
    assert not (vol / "main.py").exists()
    assert cat_err(vol, key, "main.py") == (
        f"ward: '{vol}/main.py': file missing on disk (deleted or renamed outside the enclave){FIX}")


def test_authenticated_region_detects_a_modified_file(tmp):
    src = tmp / "lib"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_bytes(DATA)
    man = tmp / "lib.manifest"
    r = ward("fs", "authenticate", src, "-o", man)
    assert r.returncode == 0
    tag = r.stdout.strip()
    assert ward("fs", "verify", src, "--manifest", man, "--tag", tag).returncode == 0
    flip(src / "pkg" / "mod.py", 4096 * 3 + 1)
    r = ward("fs", "cat", src, "pkg/mod.py", "--manifest", man)
    assert r.returncode == 1 and r.stdout == ""
    assert one_line(r.stderr) == [
        f"ward: '{src}/pkg/mod.py' chunk 3: content does not match the manifest "
        f"(modified outside the enclave){FIX}"]
    # a re-made manifest of the modified tree has another tag
    r = ward("fs", "authenticate", src, "-o", tmp / "forged.manifest")
    assert r.stdout.strip() != tag
    r = ward("fs", "verify", src, "--manifest", tmp / "forged.manifest", "--tag", tag)
    assert r.returncode == 1 and "expected " + tag[:16] in r.stderr
