"""Volumes and injection files released by the CAS: the key never leaves the
CAS and the enclave, an older copy of the volume is refused at the next start,
and injected secrets never reach the disk in the clear."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import PY, WARD, base_env, one_line, ward
from test_attested_run import attested_env, cas, create  # noqa: F401  (fixture)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

# Appends one line per run to data/log.txt and prints what it found.
PROGRAM = ("import os, sys; d = sys.argv[1]; p = d + '/log.txt'; "
           "old = open(p).read() if os.path.exists(p) else ''; "
           "open(p, 'w').write(old + 'run\\n'); "
           "print(len(old.splitlines()), open(sys.argv[2]).read().strip())")


def policy(measurement, data, cfg):
    return f"""name: demo
version: "0.3"
services:
  - name: app
    mrenclaves: [{measurement}]
    command: ["python3", "-c", {json.dumps(PROGRAM)}, "{data}", "{cfg}/settings.ini"]
    volumes:
      - name: data
        path: {data}
      - name: cfg
        path: {cfg}
        kind: ephemeral
    injection_files:
      - path: {cfg}/settings.ini
        content: "token=$$WARD::token$$"
        mode: 0600
secrets:
  - name: token
    kind: ascii
    value: "s3cr3t-value"
security:
  attestation:
    tolerate: [simulation]
"""


def make_session(cas, tmp):
    data, cfg = tmp / "data", tmp / "cfg"
    create(cas, policy(ward("measure", PY).stdout.strip(), data, cfg))
    return data, cfg


def run(cas):
    return ward("run", PY, env=attested_env(cas))


def test_volume_persists_encrypted_and_injection_is_ephemeral(cas, tmp):
    data, cfg = make_session(cas, tmp)
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "0 token=s3cr3t-value\n"
    # The volume exists, encrypted: no plaintext on disk.
    assert (data / ".ward-volume").is_dir()
    assert b"run" not in (data / "log.txt").read_bytes()
    # The injection file is gone with its key.
    assert not (cfg / "settings.ini").exists() or b"s3cr3t" not in (cfg / "settings.ini").read_bytes()
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1 token=s3cr3t-value\n"


def test_rollback_of_the_volume_is_refused(cas, tmp):
    data, cfg = make_session(cas, tmp)
    assert run(cas).returncode == 0
    old = tmp / "old-copy"
    shutil.copytree(data, old)
    r = run(cas)
    assert r.returncode == 0 and r.stdout.startswith("1 "), r.stderr
    # Put the older copy back: the next start is refused, nothing runs.
    shutil.rmtree(data)
    shutil.copytree(old, data)
    r = run(cas)
    assert r.returncode == 125 and r.stdout == ""
    lines = one_line(r.stderr)
    assert len(lines) == 1
    assert re.match(r"ward: volume 'data' at .* has tag [0-9a-f]{16}\.\.\., but the CAS expects [0-9a-f]{16}\.\.\.", lines[0]), lines[0]
    assert "older or foreign copy" in lines[0] and "pin its tag with a session update" in lines[0]


def test_missing_volume_is_refused(cas, tmp):
    data, cfg = make_session(cas, tmp)
    assert run(cas).returncode == 0
    shutil.rmtree(data)
    r = run(cas)
    assert r.returncode == 125 and r.stdout == ""
    assert "volume 'data' is missing" in one_line(r.stderr)[0]


def test_tampered_volume_is_refused(cas, tmp):
    data, cfg = make_session(cas, tmp)
    assert run(cas).returncode == 0
    f = data / "log.txt"
    b = bytearray(f.read_bytes())
    b[0] ^= 1
    f.write_bytes(bytes(b))
    r = run(cas)
    assert r.returncode != 0
    assert any("log.txt" in l and "chunk 0" in l for l in one_line(r.stderr)), r.stderr


def test_injection_outside_a_volume_is_refused(cas, tmp):
    text = policy(ward("measure", PY).stdout.strip(), tmp / "data", tmp / "cfg")
    text = text.replace(f"path: {tmp / 'cfg'}/settings.ini", f"path: {tmp}/elsewhere.ini")
    create(cas, text)
    r = run(cas)
    assert r.returncode == 125 and r.stdout == ""
    assert "outside every ephemeral or encrypted volume" in one_line(r.stderr)[0]
    assert not (tmp / "elsewhere.ini").exists()


def stop_a_writer(cas, tmp, code, ready, sig):
    """Runs code (it appends 'more' to log.txt in the data volume, then
    prints ready and waits) as the session's program, sends it sig, and
    puts the session's own program back; returns (status, stderr) of the
    stopped run."""
    data, cfg = make_session(cas, tmp)
    assert run(cas).returncode == 0
    # The policy's command is fixed; give this run its own program.
    text = policy(ward("measure", PY).stdout.strip(), data, cfg).replace(json.dumps(PROGRAM), json.dumps(code))
    requests_put(cas, text)
    p = subprocess.Popen([str(WARD), "run", PY], env=attested_env(cas), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == ready, p.stderr.read() if p.poll() is not None else ""
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    requests_put(cas, policy(ward("measure", PY).stdout.strip(), data, cfg))
    return p.returncode, err


def test_kill_after_fsync_keeps_the_volume_usable(cas, tmp):
    """What a program fsynced is what the CAS expects after a kill -9."""
    import signal
    code = ("import os, sys, time; f = open(sys.argv[1] + '/log.txt', 'a'); f.write('more\\n'); f.flush(); "
            "os.fsync(f.fileno()); print('synced', flush=True); time.sleep(60)")
    stop_a_writer(cas, tmp, code, "synced\n", signal.SIGKILL)
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 token=s3cr3t-value\n"  # run + more: both lines survived


def test_sigterm_commits_and_reports_the_final_tag(cas, tmp):
    """A service stopped with SIGTERM (systemd, docker stop) keeps what it
    wrote without fsync, and the CAS learns the final tag: the next start
    is accepted and sees the data."""
    import signal
    code = ("import sys, time; f = open(sys.argv[1] + '/log.txt', 'a'); f.write('more\\n'); f.flush(); "
            "print('written', flush=True); time.sleep(60)")
    status, err = stop_a_writer(cas, tmp, code, "written\n", signal.SIGTERM)
    assert status == -signal.SIGTERM and err == "", err
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 token=s3cr3t-value\n"  # run + more


def requests_put(cas, text):
    import requests
    cur = requests.get(cas.url + "/v1/sessions/demo", cert=cas.client, verify=False, timeout=10).json()
    body = text.replace('version: "0.3"', f'version: "0.3"\npredecessor: {cur["hash"]}')
    r = requests.put(cas.url + "/v1/sessions/demo", data=body.encode(), cert=cas.client, verify=False,
                     headers={"Content-Type": "application/yaml"}, timeout=10)
    assert r.status_code == 200, r.text
    return r


def test_encrypted_program_released_only_by_the_cas(cas, tmp):
    """The issue's end-to-end case: an encrypted Python program whose volume
    key, arguments and a generated password come only from the CAS."""
    src = tmp / "src"
    src.mkdir()
    (src / "main.py").write_text("import os, sys\nprint('args', sys.argv[1:], 'pw', len(os.environ['PW']))\n")
    r = ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "app.key")
    assert r.returncode == 0, r.stderr
    tag = r.stdout.strip()
    key = (tmp / "app.key").read_text().strip()
    (tmp / "app.key").unlink()  # from now on only the CAS has it
    text = f"""name: demo
version: "0.3"
services:
  - name: app
    mrenclaves: [{ward("measure", PY).stdout.strip()}]
    command: ["python3", "{tmp}/app.vol/main.py", "--from-policy"]
    environment:
      PW: $$WARD::pw$$
    volumes:
      - name: app
        path: {tmp}/app.vol
        key: "{key}"
        tag: "{tag}"
secrets:
  - name: pw
    kind: ascii
    size: 18
security:
  attestation:
    tolerate: [simulation]
"""
    create(cas, text)
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "args ['--from-policy'] pw 18\n"
    # Without the CAS, the program cannot even be read.
    r = ward("run", PY, tmp / "app.vol" / "main.py")
    assert r.returncode != 0 and "args" not in r.stdout
    # A volume that does not match the pinned tag is refused.
    (src / "main.py").write_text("print('another program')\n")
    import shutil
    shutil.rmtree(tmp / "app.vol")
    assert ward("fs", "encrypt", src, tmp / "app.vol", "--key-file", tmp / "other.key").returncode == 0
    r = run(cas)
    assert r.returncode == 125 and r.stdout == ""
    assert "volume 'app'" in one_line(r.stderr)[0]


def test_authenticated_volume_from_the_policy(cas, tmp):
    """Plaintext library code pinned by the policy's tag: readable, and any
    change to it is refused at start (tag) or at read (manifest)."""
    lib = tmp / "lib"
    (lib / ".ward-volume").mkdir(parents=True)
    (lib / "mod.py").write_text("VALUE = 42\n")
    r = ward("fs", "authenticate", lib, "-o", lib / ".ward-volume" / "manifest")
    assert r.returncode == 0, r.stderr
    tag = r.stdout.strip()
    text = f"""name: demo
version: "0.3"
services:
  - name: app
    mrenclaves: [{ward("measure", PY).stdout.strip()}]
    command: ["python3", "-B", "-c", "import sys; sys.path.insert(0, '{lib}'); import mod; print(mod.VALUE)"]
    volumes:
      - name: lib
        path: {lib}
        kind: authenticated
        tag: "{tag}"
security:
  attestation:
    tolerate: [simulation]
"""
    create(cas, text)
    r = run(cas)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "42\n"
    # Changed in place: the manifest no longer matches, the read fails.
    (lib / "mod.py").write_text("VALUE = 43\n")
    r = run(cas)
    assert r.returncode != 0 and "43" not in r.stdout
    assert any("mod.py" in l and "changed outside the enclave" in l for l in one_line(r.stderr)), r.stderr
    # Re-authenticated by someone else: a different tag, refused at start.
    r2 = ward("fs", "authenticate", lib, "-o", lib / ".ward-volume" / "manifest")
    assert r2.returncode == 0
    r = run(cas)
    assert r.returncode == 125 and r.stdout == ""
    assert "volume 'lib'" in one_line(r.stderr)[0] and "but the CAS expects" in one_line(r.stderr)[0]


# Counts its runs in the first byte of a shared writable mapping that it
# never flushes nor unmaps (made with the C library's mmap, which Python
# does not undo at exit): the runtime writes the stores back at exit, and
# commits them before it reports the volume's final tag.
MMAP_PROGRAM = ("import ctypes, os, sys; p = sys.argv[1] + '/m.bin'; "
                "os.path.exists(p) or open(p, 'wb').write(bytes(4096)); "
                "fd = os.open(p, os.O_RDWR); libc = ctypes.CDLL(None); libc.mmap.restype = ctypes.c_void_p; "
                "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, "
                "ctypes.c_long]; a = libc.mmap(None, 4096, 3, 1, fd, 0); b = (ctypes.c_ubyte * 1).from_address(a); "
                "n = b[0]; b[0] = n + 1; print(n, open(sys.argv[2]).read().strip())")


def test_mapping_stores_written_back_at_exit_are_in_the_reported_tag(cas, tmp):
    data, cfg = tmp / "data", tmp / "cfg"
    create(cas, policy(ward("measure", PY).stdout.strip(), data, cfg).replace(
        json.dumps(PROGRAM), json.dumps(MMAP_PROGRAM)))
    for i in range(3):
        r = run(cas)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "%d token=s3cr3t-value\n" % i


# ---- read_only: true: one code volume shared by several instances ----

# Prints the code, tries a write; the first instance (the one that makes
# STOP.first) then holds the volume until STOP exists. Every instance runs
# the policy's command, so they tell themselves apart on disk.
READER = ("import os, sys, time; v, stop = sys.argv[1], sys.argv[2]\n"
          "print(open(v + '/main.py').read().strip(), flush=True)\n"
          "try:\n    open(v + '/new.txt', 'w')\nexcept OSError as e:\n    print('write:', e.strerror, flush=True)\n"
          "try:\n    os.close(os.open(stop + '.first', os.O_CREAT | os.O_EXCL | os.O_WRONLY)); first = True\n"
          "except FileExistsError:\n    first = False\n"
          "while first and not os.path.exists(stop):\n    time.sleep(0.01)\n")


def ro_policy(measurement, code, keyhex, stop):
    return f"""name: demo
version: "0.3"
services:
  - name: app
    mrenclaves: [{measurement}]
    command: ["python3", "-c", {json.dumps(READER)}, "{code}", "{stop}"]
    volumes:
      - name: code
        path: {code}
        key: "{keyhex}"
        read_only: true
security:
  attestation:
    tolerate: [simulation]
"""


def test_read_only_volume_is_shared_by_instances_and_never_changes(cas, tmp):
    keyhex = "5a" * 32
    key = tmp / "code.key"
    key.write_text(keyhex + "\n")
    key.chmod(0o600)
    src, code, stop = tmp / "src", tmp / "code", tmp / "stop"
    src.mkdir()
    (src / "main.py").write_text("print('v1')\n")
    made = ward("fs", "encrypt", src, code, "--key-file", key)
    assert made.returncode == 0, made.stderr
    create(cas, ro_policy(ward("measure", PY).stdout.strip(), code, keyhex, stop))
    # missing at the first start: refused with one line, nothing made
    code.rename(tmp / "away")
    r = ward("run", PY, env=attested_env(cas), timeout=60)
    assert (r.returncode, r.stdout) == (125, "")
    assert one_line(r.stderr) == [
        f"ward: volume 'code' is read-only in the policy but missing at {code}; make it first ('ward fs encrypt' "
        "with the policy's key, or a run of a service that may write it)"]
    assert not code.exists()
    (tmp / "away").rename(code)
    first = subprocess.Popen([str(WARD), "run", PY], env=attested_env(cas), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "print('v1')\n", first.stderr.read() if first.poll() is not None else ""
        assert first.stdout.readline() == "write: Read-only file system\n"
        # a second instance at the same time
        r = ward("run", PY, env=attested_env(cas), timeout=60)
        assert (r.returncode, r.stdout) == (0, "print('v1')\nwrite: Read-only file system\n"), r.stderr
    finally:
        stop.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    # the volume is as it was made
    v = ward("fs", "verify", code, "--key-file", key)
    assert v.returncode == 0 and v.stdout.split()[-1] == made.stdout.strip(), (v.stdout, made.stdout, v.stderr)
    assert ward("fs", "ls", code, "--key-file", key).stdout == "main.py\n"


@pytest.mark.parametrize("kind, value, line", [
    ("ephemeral", "true", "an ephemeral volume cannot be read-only (it starts empty in every run)"),
    ("authenticated", "true", "an authenticated volume is always read-only; drop read_only"),
    ("encrypted", "yes", "expected true or false, got 'yes'"),
])
def test_read_only_policy_errors(tmp, kind, value, line):
    p = tmp / "policy.yaml"
    p.write_text(f"""name: demo
version: "0.3"
services:
  - name: app
    mrenclaves: ["{'0' * 64}"]
    command: ["python3"]
    volumes:
      - name: v
        path: /v
        kind: {kind}
        read_only: {value}
""")
    r = ward("session", "check", "-f", p)
    assert r.returncode != 0
    assert line in r.stderr, r.stderr
