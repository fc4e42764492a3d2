"""Engine image: the interpreter's own trees as authenticated regions, on by
default for CPython and PyPy, so that WARD_ALLOW_DLOPEN=1 (only verified
libraries after start) is the default; the image is part of the enclave hash."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import PY, base_env, needs_runtime, one_line, ward

pytestmark = needs_runtime


@pytest.fixture(scope="module")
def image_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("xdg-data")
    env = base_env(XDG_DATA_HOME=data, WARD_LOG="info")
    r = ward("run", "--", PY, "-c", "pass", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert any("building the engine image for /usr/lib/python3.11" in l for l in one_line(r.stderr)), r.stderr
    env["WARD_LOG"] = "warn"
    return env, data


def test_engine_image_by_default_imports_numpy_with_dlopen_policy_1(image_env):
    env, _ = image_env
    code = "import json, ssl, sqlite3, numpy; print(numpy.arange(15).reshape(3, 5).sum())"
    r = ward("run", "--", PY, "-c", code, env=dict(env, WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "105\n"
    assert "export WARD_ALLOW_DLOPEN=1" in r.stderr
    # No warning about unauthenticated libraries: every one came from the image.
    assert [l for l in one_line(r.stderr) if "not authenticated" in l] == []


@pytest.mark.skipif(subprocess.run([PY, "-c", "import cryptography"], capture_output=True).returncode != 0,
                    reason="python3-cryptography is not installed")
def test_engine_image_covers_openssl_provider_modules_for_cryptography(image_env):
    # python3-cryptography loads OpenSSL's "legacy" provider (a dlopen of
    # ossl-modules/legacy.so) when it starts: with WARD_ALLOW_DLOPEN=1 that
    # module must come from the image, verified
    env, _ = image_env
    code = ("from cryptography.fernet import Fernet\nk = Fernet.generate_key()\n"
            "print(Fernet(k).decrypt(Fernet(k).encrypt(b'sealed')).decode())")
    r = ward("run", "--", PY, "-c", code, env=dict(env, WARD_LOG="debug"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "sealed\n"
    assert any(re.search(r"loading \S*/ossl-modules/legacy\.so from", l) for l in one_line(r.stderr)), r.stderr
    listing = ward("engine-image", env=env)
    assert re.search(r"^tree \S*/ossl-modules$", listing.stdout, re.M), listing.stdout


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
    assert one_line(r.stderr) == ["ward: --engine-image: no engine image is known for /usr/bin/true (CPython and "
                                  "PyPy have one); cover its library directories with --authenticated DIR:MANIFEST"]
    # Without the option, programs that have no image run as before.
    r = ward("run", "--", "/bin/true", env=base_env(XDG_DATA_HOME=tmp, WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    assert "export WARD_ALLOW_DLOPEN=2" in r.stderr
    assert not (tmp / "ward" / "engine").exists()


def test_without_engine_image_dlopen_default_is_2(image_env):
    env, _ = image_env
    r = ward("run", "--no-engine-image", "--", PY, "-c", "import _json; print('ok')", env=dict(env, WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    assert "export WARD_ALLOW_DLOPEN=2" in r.stderr
    assert [l for l in one_line(r.stderr) if "not authenticated" in l], r.stderr
    r2 = ward("run", "--", PY, "-c", "import _json; print('ok')", env=dict(env, WARD_ENGINE_IMAGE="0", WARD_VERSION="1"))
    assert "export WARD_ALLOW_DLOPEN=2" in r2.stderr
    r3 = ward("run", "--", PY, "-c", "pass", env=dict(env, WARD_ENGINE_IMAGE="yes"))
    assert r3.returncode == 125
    assert one_line(r3.stderr) == ["ward: invalid WARD_ENGINE_IMAGE 'yes': expected 0 or 1"]


def hash_of(stderr):
    m = re.search(r"^Enclave hash: ([0-9a-f]{64})$", stderr, re.M)
    assert m, stderr
    return m.group(1)


def test_engine_image_is_measured(image_env):
    env, data = image_env
    r = ward("measure", "--files", PY, env=env)
    assert r.returncode == 0, r.stderr
    images = [l.split() for l in r.stdout.splitlines() if l.startswith("image ")]
    dirs = [f[2] for f in images]
    assert "/usr/lib/python3.11" in dirs and "/usr/lib/python3/dist-packages" in dirs, r.stdout
    for f in images:
        man = data / "ward" / "engine" / (f[2][1:].replace("/", "_") + ".manifest")
        assert f[1] == __import__("hashlib").sha256(man.read_bytes()).hexdigest()
    assert "dlopen=1" in r.stdout
    offline = r.stdout.splitlines()[-1]
    run = ward("run", "--", PY, "-c", "pass", env=dict(env, WARD_VERSION="1"))
    assert hash_of(run.stderr) == offline
    # Without the image: no image lines, another hash, and the same inside.
    r2 = ward("measure", "--no-engine-image", "--files", PY, env=env)
    assert r2.returncode == 0, r2.stderr
    assert not [l for l in r2.stdout.splitlines() if l.startswith("image ")]
    assert r2.stdout.splitlines()[-1] != offline
    run2 = ward("run", "--no-engine-image", "--", PY, "-c", "pass", env=dict(env, WARD_VERSION="1"))
    assert hash_of(run2.stderr) == r2.stdout.splitlines()[-1]


@pytest.fixture(scope="module")
def own_python(tmp_path_factory):
    """A private CPython installation PREFIX/bin/python3.11 + PREFIX/lib/python3.11
    (a copy of Debian's, without its test suite), whose stdlib a test may modify."""
    prefix = tmp_path_factory.mktemp("prefix")
    (prefix / "bin").mkdir()
    shutil.copy2("/usr/bin/python3.11", prefix / "bin" / "python3.11")
    shutil.copytree("/usr/lib/python3.11", prefix / "lib" / "python3.11", symlinks=False,
                    ignore=shutil.ignore_patterns("test", "idlelib", "tkinter", "turtledemo", "__pycache__",
                                                  "site-packages", "dist-packages", "config-3.11-*"))
    return prefix


def test_modified_stdlib_file_is_refused_until_rebuilt(own_python, tmp):
    env = base_env(XDG_DATA_HOME=tmp / "data", WARD_VERSION="1")
    py = own_python / "bin" / "python3.11"
    code = "import json; print(json.dumps([1]))"
    r = ward("run", "--", py, "-c", code, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[1]\n"
    before = hash_of(r.stderr)
    listing = ward("engine-image", py, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "tree %s\n" % (own_python / "lib" / "python3.11") in listing.stdout
    assert re.search(r"^  tag [0-9a-f]{64}$", listing.stdout, re.M), listing.stdout

    target = own_python / "lib" / "python3.11" / "json" / "__init__.py"
    target.write_text(target.read_text() + "\nprint('injected')\n")
    r = ward("run", "--", py, "-c", code, env=env)
    assert r.returncode != 0
    assert "injected" not in r.stdout
    lines = [l for l in one_line(r.stderr) if "json/__init__.py" in l]
    assert lines, r.stderr
    assert lines[0].startswith("ward: cannot open %s: file extended on disk" % target), lines[0]
    assert lines[0].endswith("the authenticated region %s was changed outside the enclave (if the interpreter's "
                             "packages were updated on purpose, rebuild the engine image: 'ward engine-image "
                             "--rebuild %s')" % (own_python / "lib" / "python3.11", os.path.realpath(py))), lines[0]

    # An intended change: rebuild, and the enclave hash says the engine changed.
    rb = ward("engine-image", "--rebuild", py, env=env, timeout=300)
    assert rb.returncode == 0, rb.stderr
    r = ward("run", "--", py, "-c", code, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "injected\n[1]\n"
    assert hash_of(r.stderr) != before


def test_a_package_added_after_the_image_is_hidden_with_one_line(own_python, tmp):
    env = base_env(XDG_DATA_HOME=tmp / "data")
    py = own_python / "bin" / "python3.11"
    stdlib = own_python / "lib" / "python3.11"
    cache = stdlib / "json" / "__pycache__"
    cache.mkdir()
    pkg = stdlib / "addedpkg"
    try:
        r = ward("run", "--", py, "-c", "import json", env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        # installed afterwards: a package, and a compiled file in a cache directory
        pkg.mkdir()
        (pkg / "__init__.py").write_text("print('added code ran')\n")
        (cache / "extra.cpython-311.pyc").write_bytes(b"x")
        code = ("import os, sys\nprint('addedpkg' in os.listdir(sys.argv[1]))\n"
                "print(sorted(os.listdir(sys.argv[1] + '/json/__pycache__')).count('extra.cpython-311.pyc'))\n"
                "try:\n import addedpkg\nexcept ImportError as e: print(type(e).__name__)")
        r = ward("run", "--", py, "-c", code, stdlib, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "False\n0\nModuleNotFoundError\n"
        assert one_line(r.stderr) == [
            "ward: warning: %s is not in the engine image (added after the image was built), so the program cannot "
            "see it (if the interpreter's packages were updated on purpose, rebuild the engine image: 'ward "
            "engine-image --rebuild %s')" % (pkg, os.path.realpath(py))], r.stderr
        # installed on purpose: rebuilt, it is part of the image
        rb = ward("engine-image", "--rebuild", py, env=env, timeout=300)
        assert rb.returncode == 0, rb.stderr
        r = ward("run", "--", py, "-c", "import addedpkg", env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "added code ran\n"
        assert one_line(r.stderr) == []
    finally:
        shutil.rmtree(pkg, ignore_errors=True)
        shutil.rmtree(cache)


def test_engine_image_command_errors(tmp):
    env = base_env(XDG_DATA_HOME=tmp)
    r = ward("engine-image", "--frobnicate", env=env)
    assert r.returncode == 2
    assert one_line(r.stderr) == ["ward: engine-image: unknown option '--frobnicate'; see 'ward engine-image --help'"]
    r = ward("engine-image", "/bin/true", env=env)
    assert r.returncode == 1
    assert one_line(r.stderr) == ["ward: engine-image: no engine image is known for /usr/bin/true (CPython and PyPy "
                                  "have one)"]
    r = ward("engine-image", "/bin/true", "--rebuild", env=env)  # options after PROGRAM too
    assert r.returncode == 1 and "no engine image is known for /usr/bin/true" in r.stderr, r.stderr
    r = ward("engine-image", "python3", "pypy3", env=env)
    assert r.returncode == 2
    assert one_line(r.stderr) == ["ward: engine-image: takes one PROGRAM; got 'pypy3' after 'python3'"]
    r = ward("engine-image", "--help", env=env)
    assert r.returncode == 0 and "--rebuild" in r.stdout


@pytest.mark.skipif(shutil.which("pypy3") is None and not __import__("os").path.exists("/usr/bin/pypy3"),
                    reason="PyPy is not installed")
def test_pypy_gets_an_engine_image(image_env):
    env, _ = image_env
    r = ward("run", "--", "/usr/bin/pypy3", "-c", "import json, sqlite3; print(json.dumps([2]))",
             env=dict(env, WARD_VERSION="1"), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[2]\n"
    assert "export WARD_ALLOW_DLOPEN=1" in r.stderr
    assert [l for l in one_line(r.stderr) if "not authenticated" in l] == []


@pytest.mark.parametrize("cache", ["0", "1"])
def test_engine_image_with_deny_outside(image_env, cache):
    """Landlock backs --deny-outside: the runtime loads OpenSSL before it is
    installed (files read later are still verified), and a C extension whose
    own dependency is outside every region is refused with a line that says
    what to add."""
    env, _ = image_env
    env = dict(env, WARD_ENGINE_CACHE=cache)
    r = ward("run", "--deny-outside", "--", PY, "-S", "-c", "import decimal, json; print(decimal.Decimal('1.5') * 2)",
             env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "3.0\n"
    r = ward("run", "--deny-outside", "--", PY, "-S", "-c", "import sqlite3", env=env)
    assert r.returncode == 1
    assert "ImportError: libsqlite3.so.0: cannot open shared object file" in r.stderr
    lines = [l for l in one_line(r.stderr) if "_sqlite3" in l]
    assert len(lines) == 1 and lines[0].endswith(
        "with --deny-outside the libraries it needs must be in a region too "
        "(e.g. --plain /usr/lib/x86_64-linux-gnu)"), r.stderr
    r = ward("run", "--deny-outside", "--plain", "/usr/lib/x86_64-linux-gnu", "--", PY, "-S", "-c",
             "import sqlite3; print(sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0])", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\n"


def test_explicit_region_for_an_image_tree_replaces_it(image_env):
    env, _ = image_env
    r = ward("run", "--plain", "/usr/lib/python3.11", "--", PY, "-c", "import json; print('ok')",
             env=dict(env, WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    # the tree given as plain is no longer part of the measured image
    full = ward("measure", PY, env=env).stdout.strip()
    assert hash_of(r.stderr) != full
