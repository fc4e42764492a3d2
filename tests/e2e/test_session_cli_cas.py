"""`ward session` against a real ward-cas process: the whole life cycle,
ownership (403 for others), lost-update protection (409 with the current
hash), redaction, audit, and the pinned CAS key (a changed key is refused)."""
import os
import re
import signal
import subprocess

import pytest

from conftest import BUILD, base_env, one_line, ward

CAS = BUILD / "ward-cas"
pytestmark = pytest.mark.skipif(not CAS.exists(), reason="ward-cas is not built (the CAS component is not merged)")

M = "9c0e" * 16
POLICY = f"""name: shop
version: "0.3"
services:
  - name: web
    mrenclaves: [{M}]
    command: python3 /app/main.py
    environment:
      DB_PASSWORD: $$WARD::db$$
secrets:
  - name: db
    kind: ascii
    value: hunter2-explicit
  - name: gen
    kind: hex
    size: 32
"""


class Server:
    def __init__(self, tmp, data="cas-data", listen="127.0.0.1:0"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
        env["WARD_SIM_PLATFORM_DIR"] = str(tmp / "sim")
        self.proc = subprocess.Popen([str(CAS), "--data-dir", str(tmp / data), "--listen", listen,
                                      "--attest-listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        out = ""
        while "ready" not in out:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("ward-cas did not start: " + self.proc.stderr.read())
            out += line
        self.addr = out.split("clients https://")[1].split()[0]
        self.fingerprint = out.split("fingerprint ")[1].split()[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def cas(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


def user(tmp_path, cas, name="alice"):
    return base_env(XDG_CONFIG_HOME=tmp_path / name, WARD_CAS_ADDR=cas.addr)


def hash_of(stdout):
    m = re.search(r"hash ([0-9a-f]{64})$", stdout.strip())
    assert m, stdout
    return m.group(1)


def test_life_cycle(tmp_path, cas):
    alice = user(tmp_path, cas)
    (tmp_path / "p.yaml").write_text(POLICY)
    local = hash_of(ward("session", "check", "-f", tmp_path / "p.yaml", env=alice).stdout)

    r = ward("session", "create", "-f", tmp_path / "p.yaml", env=alice)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"created session 'shop'; hash {local}\n"  # the CAS hashes the same canonical form
    # First contact pinned the key the CAS printed, and said so.
    assert one_line(r.stderr) == [
        f"ward: warning: first contact with the CAS at {cas.addr}: pinned its key {cas.fingerprint} "
        f"in {tmp_path}/alice/ward/known-cas"]
    assert (tmp_path / "alice/ward/known-cas").read_text() == f"{cas.addr} {cas.fingerprint}\n"

    r = ward("session", "list", env=alice)
    assert r.returncode == 0 and r.stdout.split() == ["shop", local]

    r = ward("session", "show", "shop", env=alice)
    assert r.returncode == 0, r.stderr
    assert f"# hash: {local}" in r.stdout
    whoami = ward("session", "whoami", env=alice).stdout.strip()
    assert f"# creator: {whoami}" in r.stdout
    assert "hunter2-explicit" not in r.stdout and "<redacted>" in r.stdout
    assert '"DB_PASSWORD": "$$WARD::db$$"' in r.stdout

    # A second create is a conflict naming the current hash.
    r = ward("session", "create", "-f", tmp_path / "p.yaml", env=alice)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: session 'shop' already exists (hash {local}); change it with `ward session update` and predecessor: {local}"]

    # Update with the right predecessor, then a stale one (lost update refused).
    v2 = POLICY.replace("/app/main.py", "/app/main.py --v2") + f"predecessor: {local}\n"
    (tmp_path / "v2.yaml").write_text(v2)
    r = ward("session", "update", "-f", tmp_path / "v2.yaml", env=alice)
    assert r.returncode == 0, r.stderr
    h2 = hash_of(r.stdout)
    assert h2 != local
    r = ward("session", "update", "-f", tmp_path / "v2.yaml", env=alice)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: session 'shop' has changed since {local[:12]}...: its current hash is {h2}; "
        f"review it with `ward session show shop`, then set predecessor: {h2}"]
    r = ward("session", "update", "-f", tmp_path / "p.yaml", "--predecessor", h2, env=alice)
    assert r.returncode == 0, r.stderr

    r = ward("session", "audit", "shop", env=alice)
    assert r.returncode == 0, r.stderr
    events = [l.split()[1] for l in r.stdout.splitlines()]
    assert events == ["create", "update", "update"]

    r = ward("session", "delete", "shop", env=alice)
    assert r.returncode == 0 and r.stdout == "deleted session 'shop'\n"
    r = ward("session", "show", "shop", env=alice)
    assert r.returncode == 1
    assert one_line(r.stderr) == [f"ward: session 'shop' does not exist on the CAS at {cas.addr}"]


def test_others_are_refused_unless_access_policy_allows(tmp_path, cas):
    alice, bob = user(tmp_path, cas, "alice"), user(tmp_path, cas, "bob")
    bob_id = ward("session", "whoami", env=bob).stdout.strip()
    (tmp_path / "p.yaml").write_text(POLICY)
    h = hash_of(ward("session", "create", "-f", tmp_path / "p.yaml", env=alice).stdout)

    r = ward("session", "show", "shop", env=bob)
    assert r.returncode == 1
    line = one_line(r.stderr)[-1]
    assert line.startswith("ward: not allowed to read session 'shop': ") and line.endswith(f"(your identity: {bob_id})")
    assert ward("session", "list", env=bob).stdout == ""
    (tmp_path / "b.yaml").write_text(POLICY.replace("--", "") + f"predecessor: {h}\n")
    r = ward("session", "update", "-f", tmp_path / "b.yaml", env=bob)
    assert r.returncode == 1 and one_line(r.stderr)[-1].startswith("ward: not allowed to update session 'shop': ")
    r = ward("session", "delete", "shop", env=bob)
    assert r.returncode == 1 and one_line(r.stderr)[-1].startswith("ward: not allowed to delete session 'shop': ")

    # Alice lets Bob read and update.
    shared = POLICY.replace('version: "0.3"\n', f'version: "0.3"\naccess_policy:\n  read: [CREATOR, {bob_id}]\n'
                            f'  update: [CREATOR, {bob_id}]\n') + f"predecessor: {h}\n"
    (tmp_path / "s.yaml").write_text(shared)
    r = ward("session", "update", "-f", tmp_path / "s.yaml", env=alice)
    assert r.returncode == 0, r.stderr
    r = ward("session", "show", "shop", env=bob)
    assert r.returncode == 0 and bob_id in r.stdout


def test_changed_cas_key_is_refused(tmp_path):
    first = Server(tmp_path, data="one")
    alice = user(tmp_path, first)
    assert ward("session", "list", env=alice).returncode == 0
    addr = first.addr
    first.stop()
    # Another CAS (new data directory, so a new key) on the same address.
    second = Server(tmp_path, data="two", listen=addr)
    try:
        assert second.fingerprint != first.fingerprint
        known = tmp_path / "alice/ward/known-cas"
        r = ward("session", "list", env=alice)
        assert r.returncode == 1 and r.stdout == ""
        assert one_line(r.stderr) == [
            f"ward: the CAS at {addr} presented key {second.fingerprint}, but {known} pins {first.fingerprint} "
            f"for it: refusing to talk to it; if the CAS was re-installed or its key replaced on purpose, "
            f"delete the line for {addr} in {known} and retry"]
        (tmp_path / "p.yaml").write_text(POLICY)
        r = ward("session", "create", "-f", tmp_path / "p.yaml", env=alice)
        assert r.returncode == 1  # nothing was sent
        known.write_text("")
        r = ward("session", "list", env=alice)
        assert r.returncode == 0
        assert known.read_text() == f"{addr} {second.fingerprint}\n"
        assert ward("session", "create", "-f", tmp_path / "p.yaml", env=alice).returncode == 0
    finally:
        second.stop()
