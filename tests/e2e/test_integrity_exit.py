"""A run that hit an integrity failure never reports success, even when the
program treats the failed read as the end of the file (CPython does, for the
script it runs)."""
from conftest import PY, one_line, ward


def encrypted_script(tmp, text):
    src = tmp / "src"
    src.mkdir()
    (src / "main.py").write_text(text)
    r = ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    return tmp / "app.vol"


def flip(path, at=5):
    b = bytearray(path.read_bytes())
    b[at] ^= 1
    path.write_bytes(bytes(b))


def test_tampered_script_does_not_exit_zero(tmp):
    vol = encrypted_script(tmp, "print('hello')\n")
    ok = ward("run", "--volume", f"{vol}:{tmp / 'app.key'}", "--", PY, vol / "main.py")
    assert ok.returncode == 0 and ok.stdout == "hello\n", ok.stderr
    flip(vol / "main.py")
    r = ward("run", "--volume", f"{vol}:{tmp / 'app.key'}", "--", PY, vol / "main.py")
    assert r.stdout == ""
    assert r.returncode == 74
    lines = one_line(r.stderr)
    assert sum("main.py: chunk 0: authentication failed" in l for l in lines) == 1  # said once
    assert lines[-1].startswith("ward: exiting with status 74 instead of 0:")


def test_program_that_sees_the_error_keeps_its_own_status(tmp):
    vol = encrypted_script(tmp, "print('hello')\n")
    flip(vol / "main.py")
    r = ward("run", "--volume", f"{vol}:{tmp / 'app.key'}", "--", PY, "-c",
             f"import sys\ntry:\n    open({str(vol / 'main.py')!r}).read()\nexcept OSError as e:\n"
             "    print('EIO' if e.errno == 5 else e)\n    sys.exit(3)\n")
    assert r.stdout == "EIO\n"
    assert r.returncode == 3
    assert not any("exiting with status 74" in l for l in one_line(r.stderr))
