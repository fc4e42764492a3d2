"""The enclave hash: same from `ward measure` and `ward run`, sensitive to
every measured byte and setting, insensitive to the rest."""
import os
import re
import shutil

import pytest

from conftest import BUILD, PY, base_env, needs_runtime, one_line, ward

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def measure(*args, env=None):
    r = ward("measure", *args, env=env)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert HEX64.match(h), r.stdout
    return h


def run_hash(*args, env=None):
    r = ward("run", *args, env=env or base_env(WARD_VERSION="1"))
    assert r.returncode == 0, r.stderr
    m = re.search(r"^Enclave hash: ([0-9a-f]{64})$", r.stderr, re.M)
    assert m, r.stderr
    return m.group(1)


@needs_runtime
def test_measure_equals_run_and_is_stable():
    a = measure(PY)
    b = measure("--", PY)
    c = run_hash(PY, "-c", "pass")
    d = run_hash(PY, "-c", "pass")
    assert a == b == c == d


@needs_runtime
def test_same_without_cache(tmp):
    cold = base_env(XDG_CACHE_HOME=str(tmp / "cold"))
    assert measure(PY, env=cold) == measure(PY)
    assert (tmp / "cold" / "ward" / "hashes").exists()
    assert oct((tmp / "cold" / "ward" / "hashes").stat().st_mode & 0o777) == "0o600"
    assert run_hash(PY, "-c", "pass", env=base_env(WARD_VERSION="1", XDG_CACHE_HOME=str(tmp / "c2"))) == measure(PY)


@pytest.mark.parametrize("opt", [["--heap", "1G"], ["--stack", "4M"], ["--allow-dlopen", "0"]])
def test_settings_that_change_what_runs_change_the_hash(opt):
    assert measure(*opt, PY) != measure(PY)


def test_settings_that_do_not_change_what_runs_keep_the_hash():
    base = measure(PY)
    assert measure("--mode", "auto", PY) == base
    assert measure("--log", "debug", PY) == base
    assert measure(PY, env=base_env(WARD_VERSION="1")) == base
    # Equal values written differently are the same setting.
    assert measure("--heap", "4096M", PY) == base
    # The option and the environment variable are the same setting.
    assert measure(PY, env=base_env(WARD_HEAP="1G")) == measure("--heap", "1G", PY)


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def test_engine_byte_change_changes_hash(tmp):
    exe = tmp / "python3"
    shutil.copy(os.path.realpath(PY), exe)
    before = measure("--no-engine-image", exe)
    assert before == measure("--no-engine-image", PY)  # same content, other path: same hash
    flip_last_byte(exe)
    assert measure("--no-engine-image", exe) != before


def test_library_byte_change_changes_hash(tmp):
    libdir = tmp / "lib"
    libdir.mkdir()
    shutil.copy("/lib/x86_64-linux-gnu/libz.so.1", libdir / "libz.so.1")
    env = base_env(LD_LIBRARY_PATH=str(libdir))
    r = ward("measure", "--files", PY, env=env)
    assert str(libdir / "libz.so.1") in r.stdout  # the copy is what gets loaded
    before = measure(PY, env=env)
    assert before == measure(PY)
    flip_last_byte(libdir / "libz.so.1")
    assert measure(PY, env=env) != before


def test_runtime_byte_change_changes_hash(tmp):
    for name in ("ward", "ward-tool", "libward-rt.so"):
        shutil.copy(BUILD / name, tmp / name)
    import subprocess
    def m():
        r = subprocess.run([str(tmp / "ward"), "measure", PY], env=base_env(), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
    before = m()
    assert before == measure(PY)
    flip_last_byte(tmp / "libward-rt.so")
    assert m() != before


def test_files_lists_every_measured_file():
    r = ward("measure", "--files", PY)
    assert r.returncode == 0
    roles = [l.split()[0] for l in r.stdout.splitlines()[:-1]]
    assert roles[:4] == ["runtime", "runtime-dep", "runtime-dep", "engine"]
    assert "/libcrypto.so.3" in r.stdout and "/libssl.so.3" in r.stdout
    assert "library" in roles and roles[-1] == "settings"
    assert any("/libc.so.6" in l for l in r.stdout.splitlines())


def test_measure_usage_errors():
    r = ward("measure")
    assert r.returncode == 2 and "no program given" in one_line(r.stderr)[0]
    r = ward("measure", PY, "-c", "pass")
    assert r.returncode == 2 and "arguments are not measured" in one_line(r.stderr)[0]
    r = ward("measure", "--heap", "12Q", PY)
    assert r.returncode == 2 and "invalid --heap '12Q'" in one_line(r.stderr)[0]


def test_tampered_cache_is_not_trusted(tmp):
    """A hash cache writable by others is ignored."""
    cache = tmp / "cache"
    env = base_env(XDG_CACHE_HOME=str(cache))
    good = measure(PY, env=env)
    f = cache / "ward" / "hashes"
    lines = f.read_text().splitlines()
    forged = [" ".join(l.split()[:5] + ["0" * 64]) for l in lines]
    f.write_text("\n".join(forged) + "\n")
    f.chmod(0o666)
    assert measure(PY, env=env) == good


@needs_runtime
def test_warm_start_does_not_load_openssl(tmp):
    """With the hash cache warm, the runtime needs no hashing and no OpenSSL
    (the engine image's regions need it to verify reads: not used here)."""
    env = base_env(XDG_CACHE_HOME=str(tmp / "c"), WARD_ENGINE_IMAGE="0")
    code = "print('libcrypto' in open('/proc/self/maps').read())"
    cold = ward("run", PY, "-c", code, env=env)
    warm = ward("run", PY, "-c", code, env=env)
    assert cold.stdout == "True\n"   # the first start hashes, with OpenSSL
    assert warm.stdout == "False\n"


def test_hash_follows_the_documented_definition():
    """Recomputes the enclave hash from `ward measure --files` exactly as
    docs/measurement.md defines it (libraries sorted by hash, engine image
    trees sorted by path), with and without the engine image."""
    import hashlib
    for extra in ([], ["--no-engine-image"]):
        r = ward("measure", "--files", *extra, PY)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        rows = [l.split() for l in lines[:-2]]
        settings = dict(kv.split("=") for kv in lines[-2].split()[1:])
        text = "WARD-ENCLAVE-V1\n"
        for role in ("runtime", "runtime-dep", "engine"):
            text += "".join("%s %s\n" % (role, f[1]) for f in rows if f[0] == role)
        text += "".join("library %s\n" % h for h in sorted(f[1] for f in rows if f[0] == "library"))
        images = sorted((f[2], f[1]) for f in rows if f[0] == "image")
        assert bool(images) == (extra == [])
        text += "".join("image %s %s\n" % (d, h) for d, h in images)
        text += "heap %s\nstack %s\ndlopen %s\n" % (settings["heap"], settings["stack"], settings["dlopen"])
        assert hashlib.sha256(text.encode()).hexdigest() == lines[-1]
