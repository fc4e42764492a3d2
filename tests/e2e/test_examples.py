"""The examples produce byte-identical results natively and inside an
enclave, with CPython and with PyPy."""
import shutil
import subprocess

import pytest

from conftest import BUILD, PY, base_env, needs_heap_bound, needs_runtime, one_line, ward

pytestmark = needs_runtime
EXAMPLES = BUILD.parent / "examples"
PYPY = shutil.which("pypy3", path="/usr/bin")


def native(*cmd, cwd=None):
    r = subprocess.run([*map(str, cmd)], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("example", ["numpy_example.py", "threads_example.py"])
def test_example_output_identical(example):
    n = native(PY, EXAMPLES / example)
    w = ward("run", PY, EXAMPLES / example)
    assert w.returncode == 0, w.stderr
    assert w.stdout == n.stdout


def test_cairo_png_identical(tmp):
    n = native(PY, EXAMPLES / "cairo_example.py", tmp / "native.png")
    w = ward("run", PY, EXAMPLES / "cairo_example.py", tmp / "ward.png")
    assert w.returncode == 0, w.stderr
    a, b = (tmp / "native.png").read_bytes(), (tmp / "ward.png").read_bytes()
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and len(a) > 1000
    assert a == b


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed")
class TestPyPy:
    def test_same_output_as_native(self, tmp):
        prog = tmp / "p.py"
        prog.write_text("import json, hashlib\nd = {str(i): i * i for i in range(1000)}\n"
                        "print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest())\n"
                        "print(sum(i * i for i in range(10**6)))\n")
        n = native(PYPY, prog)
        w = ward("run", PYPY, prog)
        assert w.returncode == 0, w.stderr
        assert w.stdout == n.stdout

    def test_threads_example(self):
        n = native(PYPY, EXAMPLES / "threads_example.py")
        w = ward("run", PYPY, EXAMPLES / "threads_example.py")
        assert w.stdout == n.stdout

    def test_version_and_measure_agree(self):
        w = ward("run", PYPY, "-c", "pass", env=base_env(WARD_VERSION="1"))
        assert w.returncode == 0, w.stderr
        m = ward("measure", PYPY)
        assert f"Enclave hash: {m.stdout.strip()}" in w.stderr
        assert m.stdout.strip() != ward("measure", PY).stdout.strip()

    def test_fork_refused(self):
        w = ward("run", PYPY, "-c", "import os\ntry:\n    os.fork()\nexcept OSError as e:\n    print(e.errno)")
        assert w.stdout == "1\n"
        assert any("fork() is not permitted" in l for l in one_line(w.stderr))

    @needs_heap_bound
    def test_heap_limit(self):
        code = "try:\n    b = bytearray(600 * 1024 * 1024)\nexcept MemoryError:\n    print('MemoryError')\n"
        # PyPy sizes its nursery from the CPU's last-level cache (half of it:
        # 240 MB where the L3 is 480 MB), which alone would not fit 256M
        w = ward("run", "--heap", "256M", PYPY, "-c", code, env=base_env(PYPY_GC_NURSERY="4MB"))
        assert w.stdout == "MemoryError\n", w.stderr
        assert any("WARD_HEAP=256M" in l for l in one_line(w.stderr))
