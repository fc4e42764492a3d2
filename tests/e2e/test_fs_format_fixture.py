"""Format stability: a volume made by an earlier build (tests/e2e/data/
volume-v1, format version 1, made with `ward fs encrypt` before file keys
were derived through a kept HKDF context) must open, verify under its tag
and read back byte for byte with this build, through `ward fs` and under
`ward run`. If this fails, the format (or a key derivation) changed and
every existing volume would stop opening. A checkout keeps no empty
directories, so the copy also lacks the volume's empty `.ward-volume/alt`,
as after any copy that drops them: the first rewrite of a chunk makes it
again."""
import shutil
import subprocess

from conftest import PY, WARD, base_env, needs_runtime, ward

pytestmark = needs_runtime

DATA = __import__("pathlib").Path(__file__).resolve().parent / "data" / "volume-v1"
TAG = "81d8ec887355b9fea93233410012a7c9efd51692d632a6d089c133dce218d2b9"
MAIN = 'print("format fixture")\n'
BLOB = bytes(range(256)) * 50  # three chunks, the last one partial


def cat_bytes(vol, key, path):
    p = subprocess.run([str(WARD), "fs", "cat", str(vol), path, "--key-file", str(key)], env=base_env(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def fixture_copy(tmp):
    vol, key = tmp / "vol", tmp / "key"
    shutil.copytree(DATA / "vol", vol, symlinks=True)
    shutil.copy(DATA / "key", key)
    key.chmod(0o600)  # a checkout does not keep modes
    return vol, key


def test_volume_made_by_an_earlier_build_verifies_and_reads(tmp):
    vol, key = fixture_copy(tmp)
    r = ward("fs", "verify", vol, "--key-file", key, "--tag", TAG)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok: volume '%s' verified, tag %s (as pinned)\n" % (vol, TAG)
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.stdout.splitlines() == ["main.py", "pkg/", "pkg/data.bin", "pkg/empty.txt", "pkg/link.py -> ../main.py"]
    assert ward("fs", "cat", vol, "main.py", "--key-file", key).stdout == MAIN
    assert cat_bytes(vol, key, "pkg/data.bin") == BLOB
    code = ("import os, sys\nv = sys.argv[1]\nprint(open(v + '/pkg/link.py').read(), end='')\n"
            "print(os.readlink(v + '/pkg/link.py'))\n"
            "print(open(v + '/pkg/data.bin', 'rb').read() == bytes(range(256)) * 50)\n"
            "print(os.path.getsize(v + '/pkg/empty.txt'))")
    r = ward("run", "--volume", "%s:%s:ro" % (vol, key), "--", PY, "-c", code, vol)
    assert r.returncode == 0, r.stderr
    assert r.stdout == MAIN + "../main.py\nTrue\n0\n"


def test_volume_made_by_an_earlier_build_takes_writes(tmp):
    vol, key = fixture_copy(tmp)
    code = ("import sys\nv = sys.argv[1]\nopen(v + '/new.txt', 'w').write('written now')\n"
            "with open(v + '/pkg/data.bin', 'r+b') as f:\n f.seek(5000); f.write(b'XYZ')")
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", code, vol)
    assert r.returncode == 0, r.stderr
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert TAG not in r.stdout
    assert ward("fs", "cat", vol, "new.txt", "--key-file", key).stdout == "written now"
    assert cat_bytes(vol, key, "pkg/data.bin") == BLOB[:5000] + b"XYZ" + BLOB[5003:]
