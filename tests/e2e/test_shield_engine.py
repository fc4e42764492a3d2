"""Engine image: the interpreter's own trees as authenticated regions, so that
WARD_ALLOW_DLOPEN=1 (only verified libraries after start) is usable."""
import shutil
import subprocess

import pytest

from conftest import PY, base_env, needs_runtime, one_line, ward

pytestmark = needs_runtime


@pytest.fixture(scope="module")
def image_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("xdg-data")
    env = base_env(XDG_DATA_HOME=data, WARD_LOG="info")
    r = ward("run", "--engine-image", "--", PY, "-c", "pass", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert any("building the engine image for /usr/lib/python3.11" in l for l in one_line(r.stderr)), r.stderr
    env["WARD_LOG"] = "warn"
    return env, data


def test_engine_image_imports_numpy_with_dlopen_policy_1(image_env):
    env, _ = image_env
    code = "import json, ssl, sqlite3, numpy; print(numpy.arange(15).reshape(3, 5).sum())"
    r = ward("run", "--engine-image", "--", PY, "-c", code, env=dict(env, WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "105\n"
    assert "export WARD_ALLOW_DLOPEN=1" in r.stderr
    # No warning about unauthenticated libraries: every one came from the image.
    assert [l for l in one_line(r.stderr) if "not authenticated" in l] == []


def test_engine_image_refuses_a_library_outside(image_env, tmp):
    env, _ = image_env
    (tmp / "m.c").write_text('#include <Python.h>\nstatic struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "outside", 0, -1, 0};\n'
                             "PyMODINIT_FUNC PyInit_outside(void) { return PyModule_Create(&d); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-I/usr/include/python3.11", "-o", tmp / "outside.so", tmp / "m.c"],
                   check=True)
    r = ward("run", "--engine-image", "--", PY, "-c",
             "import sys; sys.path.insert(0, sys.argv[1])\ntry:\n import outside\nexcept ImportError as e: print('refused')",
             tmp, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "refused\n"
    assert one_line(r.stderr) == [
        "ward: cannot load %s: WARD_ALLOW_DLOPEN=1 allows only libraries in an authenticated or encrypted region; "
        "cover its directory with --authenticated DIR:MANIFEST or set WARD_ALLOW_DLOPEN=2" % (tmp / "outside.so")]


def test_engine_image_with_a_modified_manifest_is_refused(image_env, tmp):
    env, data = image_env
    copy = tmp / "xdg"
    shutil.copytree(data, copy)
    man = copy / "ward" / "engine" / "usr_lib_python3.11.manifest"
    b = bytearray(man.read_bytes())
    b[len(b) // 2] ^= 0x01
    man.write_bytes(bytes(b))
    r = ward("run", "--engine-image", "--", PY, "-c", "print('started')", env=dict(env, XDG_DATA_HOME=copy))
    assert r.returncode == 125
    assert r.stdout == ""
    lines = one_line(r.stderr)
    assert len(lines) == 1 and "/usr/lib/python3.11" in lines[0] and str(man) in lines[0], r.stderr


def test_engine_image_unknown_engine(tmp):
    r = ward("run", "--engine-image", "--", "/bin/true", env=base_env(XDG_DATA_HOME=tmp))
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: --engine-image: no engine image is known for /usr/bin/true; cover its "
                                  "library directories with --authenticated DIR:MANIFEST"]
