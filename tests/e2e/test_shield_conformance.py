"""CPython's own regression tests for files and I/O, run natively, under
`ward run`, and under `ward run` with the working directory and TMPDIR inside
an encrypted volume (tests/conformance/run.py --ci: a representative subset;
the full set is `tests/conformance/run.py`), with CPython and with PyPy. Every
test whose outcome differs between the last two must be listed with its
reason in known.txt, and every difference from native must be explained."""
import glob
import json
import os
import subprocess

import pytest

from conftest import BUILD, PY, ROOT, needs_runtime

pytestmark = needs_runtime


def test_cpython_io_tests_match_with_cwd_and_tmpdir_in_a_volume(tmp_path):
    out = tmp_path / "conformance.json"
    env = dict(os.environ, WARD_BUILD=str(BUILD))
    p = subprocess.run([PY, str(ROOT / "tests" / "conformance" / "run.py"), "--ci", "--json", str(out)],
                       capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    data = json.loads(out.read_text())
    # The subset really ran: hundreds of tests in each configuration.
    for k in ("native", "enclave", "shield"):
        assert sum(int(x.split()[-1]) for x in data["counts"][k].split(", ")) > 300, data["counts"]
    # Every runtime difference has its reason, and the subset has some.
    assert data["unexplained"] == 0
    assert data["enclave_diff"] and all(d[3] for d in data["enclave_diff"]), data["enclave_diff"]
    assert any(d[3] == "no-fork-exec" for d in data["enclave_diff"])


PYPY = "/usr/bin/pypy3"


@pytest.mark.skipif(not (os.path.exists(PYPY) and glob.glob("/usr/lib/pypy3.*/test/support")),
                    reason="pypy3 and pypy3-lib-testsuite are not installed")
def test_pypy_io_tests_match_with_cwd_and_tmpdir_in_a_volume(tmp_path):
    out = tmp_path / "conformance.json"
    env = dict(os.environ, WARD_BUILD=str(BUILD))
    p = subprocess.run([PY, str(ROOT / "tests" / "conformance" / "run.py"), "--ci", "--python", PYPY,
                        "--json", str(out)], capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    data = json.loads(out.read_text())
    for k in ("native", "enclave", "shield"):
        assert sum(int(x.split()[-1]) for x in data["counts"][k].split(", ")) > 300, data["counts"]
    assert data["unexplained"] == 0


def _runner():
    import importlib.util
    spec = importlib.util.spec_from_file_location("conformance_run", ROOT / "tests" / "conformance" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SPAWN_TB = '''Traceback (most recent call last):
  File "/usr/lib/python3.11/test/test_py_compile.py", line 250, in test_stdin
    rc, stdout, stderr = self.pycompilecmd_failure('-', input=b'x')
  File "/usr/lib/python3.11/subprocess.py", line 1901, in _execute_child
    self.pid = _fork_exec(
               ^^^^^^^^^^^
PermissionError: [Errno 1] Operation not permitted
'''


def test_runner_explains_only_refused_processes():
    run = _runner()
    assert run.refused_process(SPAWN_TB)
    assert run.refused_process('  File "/usr/lib/python3.11/test/test_tempfile.py", line 204, in t\n'
                               '    pid = os.fork()\nPermissionError: [Errno 1] Operation not permitted\n')
    # EPERM from anything else is not a runtime limit
    assert not run.refused_process('  File "/usr/lib/python3.11/test/test_os.py", line 9, in test_x\n'
                                   '    os.chmod(path, 0)\nPermissionError: [Errno 1] Operation not permitted\n')
    # another error where a process is started is not either
    assert not run.refused_process(SPAWN_TB.replace("PermissionError: [Errno 1] Operation not permitted",
                                                    "OSError: [Errno 5] Input/output error"))
    assert not run.refused_process("")
    table = {"test.test_zipfile.PyZipFileTests.*": "engine-image-read-only"}
    assert run.reason_for("test.test_zipfile.PyZipFileTests.test_write_pyfile", table) == "engine-image-read-only"
    assert run.reason_for("test.test_zipfile.OtherTests.test_write_pyfile", table) is None
    # a frame of a frozen module has no source line
    assert run.refused_process('  File "/usr/lib/python3.11/test/test_os.py", line 3147, in test_spawnv\n'
                               '    exitcode = os.spawnv(os.P_WAIT, args[0], args)\n'
                               '  File "<frozen os>", line 881, in spawnv\n'
                               '  File "<frozen os>", line 853, in _spawnvef\n'
                               'PermissionError: [Errno 1] Operation not permitted\n')
