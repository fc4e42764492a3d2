"""The simulation platform key as a user meets it through `ward ratls
create`: where it lives, its mode, its fingerprint, and refusals."""
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

from conftest import WARD, base_env, one_line, ward

M = "cd" * 32


def create(tmp_path, env, name="c.pem"):
    return ward("ratls", "create", "--key", tmp_path / "k.pem", "--out", tmp_path / name,
                "--measurement", M, env=env)


def platform_of(stdout):
    return stdout.strip().split("platform ")[1]


def test_key_created_on_first_use_0600(tmp_path):
    d = tmp_path / "a" / "b"
    env = base_env(WARD_SIM_PLATFORM_DIR=d)
    r = create(tmp_path, env)
    assert r.returncode == 0, r.stderr
    key = d / "sim-platform-key.pem"
    assert (os.stat(key).st_mode & 0o777) == 0o600
    assert (os.stat(d).st_mode & 0o777) == 0o700
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert platform_of(r.stdout) == hashlib.sha256(der).hexdigest()
    # Second use: same key, file untouched.
    before = key.read_bytes()
    r2 = create(tmp_path, env, "c2.pem")
    assert platform_of(r2.stdout) == platform_of(r.stdout) and key.read_bytes() == before


def test_directory_fallbacks(tmp_path):
    env = base_env(XDG_DATA_HOME=tmp_path / "xdg", HOME=tmp_path / "home")
    assert create(tmp_path, env).returncode == 0
    assert (tmp_path / "xdg" / "ward" / "sim-platform-key.pem").exists()
    env = base_env(HOME=tmp_path / "home")
    env.pop("XDG_DATA_HOME", None)
    assert create(tmp_path, env).returncode == 0
    assert (tmp_path / "home" / ".local" / "share" / "ward" / "sim-platform-key.pem").exists()


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    env = base_env(WARD_SIM_PLATFORM_DIR=tmp_path / "p")
    procs = [subprocess.Popen([str(WARD), "ratls", "create", "--key", str(tmp_path / f"k{i}.pem"),
                               "--out", str(tmp_path / f"c{i}.pem")], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(6)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({platform_of(o) for o, _ in outs}) == 1
    assert [f.name for f in (tmp_path / "p").iterdir()] == ["sim-platform-key.pem"]  # no temp files left


def test_key_readable_by_others_is_refused(tmp_path):
    env = base_env(WARD_SIM_PLATFORM_DIR=tmp_path / "p")
    assert create(tmp_path, env).returncode == 0
    key = tmp_path / "p" / "sim-platform-key.pem"
    os.chmod(key, 0o640)
    r = create(tmp_path, env)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: simulation platform key '{key}' has permissions 0640, too open; run chmod 600 '{key}'"]


def test_garbage_or_symlinked_key_is_refused(tmp_path):
    env = base_env(WARD_SIM_PLATFORM_DIR=tmp_path / "p")
    (tmp_path / "p").mkdir(mode=0o700)
    key = tmp_path / "p" / "sim-platform-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    os.chmod(key, 0o600)
    r = create(tmp_path, env)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: simulation platform key '{key}' is not an Ed25519 private key in PEM; move it away to create a new one"]
    key.unlink()
    (tmp_path / "elsewhere.pem").write_text("x")
    key.symlink_to(tmp_path / "elsewhere.pem")
    r = create(tmp_path, env)
    assert r.returncode == 1 and "cannot open simulation platform key" in r.stderr


def test_unwritable_directory():
    """As an unprivileged user (root would bypass the permission check)."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="ward-simro-"))
    try:
        os.chmod(base, 0o755)
        d = base / "ro"
        d.mkdir(mode=0o755)
        env = base_env(WARD_SIM_PLATFORM_DIR=d, HOME=base)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(WARD),
                            "ratls", "create", "--key", "/dev/null/k.pem", "--out", "/dev/null/c.pem"],
                           env=env, capture_output=True, text=True)
        assert r.returncode == 1
        assert one_line(r.stderr) == [f"ward: cannot create a file in '{d}': Permission denied"]
        assert list(d.iterdir()) == []
    finally:
        shutil.rmtree(base)
