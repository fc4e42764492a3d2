"""`ward session` without a CAS: local validation (same errors the CAS gives),
the client key pair, option errors. Nothing here may touch the network: the
CAS address points at a closed port, so any attempt to connect would change
the error the test expects."""
import os
import re
import stat

import pytest

from conftest import base_env, one_line, ward

M = "9c0e" * 16
GOOD = f"""name: myapp
version: "0.3"
services:
  - name: web
    mrenclaves: [{M}]
    command: python3 /app/main.py --password $$WARD::pw$$
    environment:
      TOKEN: $$WARD::token:hex$$
secrets:
  - name: pw
    kind: ascii
    size: 16
  - name: token
    kind: binary
"""
CLOSED = "127.0.0.1:1"


@pytest.fixture
def env(tmp_path):
    return base_env(XDG_CONFIG_HOME=tmp_path / "cfg", WARD_CAS_ADDR=CLOSED)


def write(tmp_path, text, name="policy.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_check_valid_prints_hash(tmp_path, env):
    p = write(tmp_path, GOOD)
    r = ward("session", "check", "-f", p, env=env)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(rf"{re.escape(str(p))}: session 'myapp' is valid; hash ([0-9a-f]{{64}})\n", r.stdout)
    assert m, r.stdout
    # The hash is of the canonical form: key order and quoting do not matter.
    reordered = GOOD.replace('version: "0.3"\n', "").replace("name: myapp\n", "version: '0.3'\nname: myapp\n", 1)
    r2 = ward("session", "check", "-f", write(tmp_path, reordered, "b.yaml"), env=env)
    assert r2.returncode == 0 and r2.stdout.split()[-1] == m.group(1)
    # ... but content does.
    r3 = ward("session", "check", "-f", write(tmp_path, GOOD.replace("size: 16", "size: 17"), "c.yaml"), env=env)
    assert r3.returncode == 0 and r3.stdout.split()[-1] != m.group(1)
    assert not (tmp_path / "cfg").exists()  # check needs no identity


@pytest.mark.parametrize("edit, want", [
    (lambda s: s.replace("mrenclaves:", "mrenclave:"),
     "policy.yaml:5:5: services[0]: unknown key 'mrenclave' (did you mean 'mrenclaves'?)"),
    (lambda s: s.replace(M, M[:-2]),
     "policy.yaml:5:18: services[0].mrenclaves[0]: expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got 62 characters"),
    (lambda s: s.replace("$$WARD::pw$$", "$$WARD::pwd$$"),
     "policy.yaml:6:14: services[0].command: placeholder $$WARD::pwd$$ names no secret (did you mean 'pw'?)"),
    (lambda s: s.replace("token:hex", "token:crt"),
     "policy.yaml:8:14: services[0].environment.TOKEN: format ':crt' does not apply to binary secret 'token' (use :hex, :base64 or :binary)"),
    (lambda s: s.replace("kind: ascii", "kind: text"),
     "policy.yaml:11:11: secrets[0].kind: unknown secret kind 'text' (expected one of: ascii, hex, binary, private-key, x509, x509-ca)"),
    (lambda s: s + "  - name: pw\n    kind: hex\n",
     "policy.yaml:15:5: secrets[2]: duplicate secret name 'pw' (also secrets[0])"),
    (lambda s: s.replace("    command", "   command"),
     "policy.yaml:6:4: invalid YAML: did not find expected '-' indicator while parsing a block collection"),
    (lambda s: s.replace('"0.3"', '"0.2"'),
     "policy.yaml:2:10: version: unsupported session language version '0.2' (this ward reads \"0.3\")"),
])
def test_check_errors_name_file_line_column(tmp_path, env, edit, want):
    p = write(tmp_path, edit(GOOD))
    r = ward("session", "check", "-f", "policy.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert one_line(r.stderr) == ["ward: " + want], r.stderr
    assert p.read_text() == edit(GOOD)  # nothing changed


def test_json_policy_and_json_errors(tmp_path, env):
    r = ward("session", "check", "-f", write(tmp_path, '{"name": "x", "version": "0.3", "secrets": [{"name": "s", "kind": 5}]}', "p.json"),
             env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert one_line(r.stderr) == [f"ward: {tmp_path}/p.json: field 'secrets[0].kind': expected a string, got a number"]
    write(tmp_path, '{"name": ', "p.json")
    r = ward("session", "check", "-f", "p.json", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == ["ward: p.json:1:9: invalid JSON: unexpected token near end of file"]


def test_garbage_and_missing_and_huge_files(tmp_path, env):
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)) * 4)
    r = ward("session", "check", "-f", "bin.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 1 and len(one_line(r.stderr)) == 1
    assert one_line(r.stderr)[0].startswith("ward: bin.yaml:1:1: invalid YAML: ")
    r = ward("session", "check", "-f", "nope.yaml", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == ["ward: cannot read policy nope.yaml: No such file or directory"]
    (tmp_path / "big.yaml").write_text("# " + "x" * (1 << 20) + "\n")
    r = ward("session", "check", "-f", "big.yaml", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == ["ward: big.yaml: session document is larger than 1 MiB; the CAS refuses such documents"]
    (tmp_path / "alias.yaml").write_text("name: &n x\nversion: *n\n")
    r = ward("session", "check", "-f", "alias.yaml", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == ["ward: alias.yaml:2:10: YAML aliases (*n) are not supported in sessions; write the value out"]


def test_create_validates_before_connecting(tmp_path, env):
    write(tmp_path, GOOD.replace("kind: binary", "kind: binray"))
    r = ward("session", "create", "-f", "policy.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        "ward: policy.yaml:14:11: secrets[1].kind: unknown secret kind 'binray' (did you mean 'binary'?)"]


def test_create_and_update_predecessor_rules(tmp_path, env):
    write(tmp_path, GOOD + "predecessor: " + "ab" * 32 + "\n", "v2.yaml")
    write(tmp_path, GOOD)
    r = ward("session", "create", "-f", "v2.yaml", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == [
        "ward: v2.yaml: predecessor is set, so this is an update: run `ward session update -f v2.yaml`"]
    r = ward("session", "update", "-f", "policy.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        "ward: policy.yaml: an update must name the version it replaces: add `predecessor: HASH` "
        "(the hash `ward session show myapp` prints) or pass --predecessor HASH"]
    r = ward("session", "update", "-f", "policy.yaml", "--predecessor", "abc", env=env, cwd=tmp_path)
    assert one_line(r.stderr) == ["ward: --predecessor must be the 64-hex hash `ward session show myapp` prints"]
    r = ward("session", "update", "-f", "v2.yaml", "--predecessor", "cd" * 32, env=env, cwd=tmp_path)
    assert one_line(r.stderr) == [
        "ward: v2.yaml names predecessor abababababab... but --predecessor says cdcdcdcdcdcd...; use one of them"]
    # A valid update reaches for the CAS (closed port here).
    r = ward("session", "update", "-f", "v2.yaml", env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert one_line(r.stderr)[0].startswith(f"ward: cannot reach the CAS at {CLOSED}: ")
    assert one_line(r.stderr)[0].endswith("is ward-cas running there? (set --cas ADDR or WARD_CAS_ADDR)")


def test_client_key_created_private_and_stable(tmp_path, env):
    r = ward("session", "whoami", env=env)
    assert r.returncode == 0, r.stderr
    ident = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", ident)
    d = tmp_path / "cfg" / "ward"
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in ("client-key.pem", "client-cert.pem"):
        assert stat.S_IMODE((d / f).stat().st_mode) == 0o600
    assert "PRIVATE KEY" in (d / "client-key.pem").read_text()
    assert ward("session", "whoami", env=env).stdout.strip() == ident
    # HOME is used when XDG_CONFIG_HOME is unset.
    env2 = base_env(HOME=tmp_path / "home", WARD_CAS_ADDR=CLOSED)
    env2.pop("XDG_CONFIG_HOME", None)
    r = ward("session", "whoami", env=env2)
    assert r.returncode == 0 and r.stdout.strip() != ident
    assert (tmp_path / "home/.config/ward/client-key.pem").exists()


def test_client_key_readable_by_others_is_refused(tmp_path, env):
    assert ward("session", "whoami", env=env).returncode == 0
    key = tmp_path / "cfg/ward/client-key.pem"
    key.chmod(0o644)
    before = key.read_bytes()
    r = ward("session", "whoami", env=env)
    assert r.returncode == 1 and r.stdout == ""
    assert one_line(r.stderr) == [
        f"ward: client key {key} is accessible by group or others (mode 0644); run: chmod 600 {key}"]
    assert key.read_bytes() == before


def test_mismatched_or_corrupt_client_files(tmp_path, env):
    assert ward("session", "whoami", env=env).returncode == 0
    d = tmp_path / "cfg/ward"
    other = tmp_path / "other"
    assert ward("session", "whoami", env=base_env(XDG_CONFIG_HOME=other)).returncode == 0
    (d / "client-cert.pem").write_bytes((other / "ward/client-cert.pem").read_bytes())
    r = ward("session", "whoami", env=env)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: client key {d}/client-key.pem does not match certificate {d}/client-cert.pem (or is not a PEM key); "
        "restore them from a backup or delete both to create a new identity"]
    (d / "client-cert.pem").write_text("garbage")
    r = ward("session", "whoami", env=env)
    assert one_line(r.stderr)[0].startswith(f"ward: cannot read client certificate {d}/client-cert.pem;")


def test_usage_errors(tmp_path, env):
    r = ward("session", env=env)
    assert r.returncode == 2 and "usage: ward session" in r.stderr
    r = ward("session", "--help", env=env)
    assert r.returncode == 0 and "ward session create -f POLICY.yaml" in r.stdout
    r = ward("session", "frobnicate", env=env)
    assert r.returncode == 2
    assert one_line(r.stderr) == [
        "ward: unknown session command 'frobnicate' (expected check, create, update, show, delete, audit, list or whoami)"]
    r = ward("session", "create", env=env)
    assert r.returncode == 2 and one_line(r.stderr) == ["ward: session create: which policy? pass -f POLICY.yaml"]
    r = ward("session", "show", env=env)
    assert r.returncode == 2 and one_line(r.stderr) == ["ward: session show: which session? pass its NAME"]
    r = ward("session", "show", "../etc", env=env)
    assert r.returncode == 2
    assert one_line(r.stderr) == [
        "ward: invalid session name '../etc' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)"]
    r = ward("session", "list", "--cas", "http://x y", env=env)
    assert r.returncode == 1
    assert one_line(r.stderr) == ["ward: invalid CAS address 'http://x y': expected HOST:PORT, e.g. localhost:8081"]


def test_reference_example_is_valid(tmp_path, env):
    """The complete example in docs/session-language.md must stay valid."""
    import pathlib
    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs/session-language.md").read_text()
    example = re.findall(r"```yaml\n(.*?)```", doc, re.S)[0]
    p = write(tmp_path, example, "example.yaml")
    r = ward("session", "check", "-f", p, env=env)
    assert r.returncode == 0, r.stderr
    assert "session 'myapp' is valid" in r.stdout
