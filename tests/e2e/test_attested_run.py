"""`ward run` attested by a real ward-cas: arguments, environment, working
directory and secrets come from the policy, only after attestation."""
import json
import re

import pytest
import requests

from conftest import PY, base_env, one_line, ward
from test_cas import Cas, make_client_cert

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

PROGRAM = ("import os, sys, json; print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), "
           "'pw_len': len(os.environ.get('PW', '')), 'greeting': os.environ.get('GREETING'), "
           "'host': os.environ.get('HOST_ONLY'), 'ward': [k for k in os.environ if k.startswith('WARD_')]}))")


def policy(measurement, tolerate=("simulation",), name="demo"):
    tol = "[" + ", ".join(tolerate) + "]"
    return f"""name: {name}
version: "0.3"
services:
  - name: app
    mrenclaves: [{measurement}]
    command: ["python3", "-c", {json.dumps(PROGRAM)}, "from-policy", "$$WARD::token:hex$$"]
    environment:
      PW: $$WARD::pw$$
      GREETING: hello
    pwd: /tmp
secrets:
  - name: pw
    kind: ascii
    size: 24
  - name: token
    kind: hex
    value: "00ff10"
security:
  attestation:
    tolerate: {tol}
"""


@pytest.fixture
def cas(tmp):
    c = Cas(tmp)
    c.start()
    c.client, _ = make_client_cert(tmp, "owner")
    yield c
    if c.proc is not None:
        c.stop()


def create(cas, text):
    r = requests.post(cas.url + "/v1/sessions", data=text.encode(), cert=cas.client, verify=False,
                      headers={"Content-Type": "application/yaml"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def attested_env(cas, **extra):
    settings = dict(WARD_CAS_ADDR=cas.http, WARD_CAS_ATTEST_ADDR=cas.attest_addr, WARD_CONFIG_ID="demo/app", WARD_CAS_FINGERPRINT=cas.fpr,
                    WARD_SIM_PLATFORM_DIR=str(cas.simdir), HOST_ONLY="from-host")
    settings.update(extra)
    return base_env(**settings)


def test_policy_driven_run(cas, tmp):
    create(cas, policy(ward("measure", PY).stdout.strip()))
    r = ward("run", PY, "host-arg-ignored", env=attested_env(cas))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"argv": ["from-policy", "00ff10"], "cwd": "/tmp", "pw_len": 24, "greeting": "hello",
                   "host": None, "ward": []}
    assert [l for l in one_line(r.stderr) if "WARD_ALLOW_DLOPEN=2" not in l] == []
    # The decision is audited.
    a = requests.get(cas.url + "/v1/sessions/demo/audit", cert=cas.client, verify=False, timeout=10).json()
    assert any(e["event"] == "attest" and e["allowed"] for e in a["entries"])


def test_generated_secret_is_stable_and_never_shown(cas):
    text = policy(ward("measure", PY).stdout.strip()).replace(json.dumps(PROGRAM),
                                                              json.dumps("import os; print(os.environ['PW'])"))
    create(cas, text)
    first = ward("run", PY, env=attested_env(cas))
    second = ward("run", PY, env=attested_env(cas))
    assert first.returncode == 0, first.stderr
    pw = first.stdout.strip()
    assert len(pw) == 24 and second.stdout.strip() == pw  # generated once, kept
    # The client API never shows it.
    for path in ("/v1/sessions/demo", "/v1/sessions/demo/audit", "/v1/sessions"):
        shown = requests.get(cas.url + path, cert=cas.client, verify=False, timeout=10).text
        assert pw not in shown, path


def test_wrong_measurement_is_denied_and_nothing_runs(cas, tmp):
    create(cas, policy(ward("measure", PY).stdout.strip()))
    marker = tmp / "ran"
    r = ward("run", "--heap", "1G", PY, "-c", f"open({str(marker)!r}, 'w')", env=attested_env(cas))
    assert r.returncode == 125
    lines = one_line(r.stderr)
    assert len(lines) == 1
    assert re.fullmatch(r"ward: attestation denied by CAS: enclave hash [0-9a-f]{64} not in session 'demo' "
                        r"service 'app' \(expected one of: [0-9a-f]{64}\)", lines[0]), lines[0]
    assert r.stdout == "" and not marker.exists()
    a = requests.get(cas.url + "/v1/sessions/demo/audit", cert=cas.client, verify=False, timeout=10).json()
    assert any(e["event"] == "attest" and not e["allowed"] and "not in session" in e["reason"]
               for e in a["entries"])


def test_simulation_not_tolerated(cas):
    create(cas, policy(ward("measure", PY).stdout.strip(), tolerate=("debug-mode",)))
    r = ward("run", PY, env=attested_env(cas))
    assert r.returncode == 125
    assert "simulation evidence not tolerated by session 'demo'" in one_line(r.stderr)[0]


def test_unknown_session(cas):
    r = ward("run", PY, env=attested_env(cas))
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: attestation denied by CAS: session 'demo' does not exist"]


def test_wrong_cas_fingerprint_is_refused(cas):
    create(cas, policy(ward("measure", PY).stdout.strip()))
    r = ward("run", PY, env=attested_env(cas, WARD_CAS_FINGERPRINT="sha256:" + "00" * 32))
    assert r.returncode == 125
    line = one_line(r.stderr)[0]
    assert "cannot attest to the CAS" in line and "fingerprint" in line.lower()
    assert r.stdout == ""


def test_unreachable_cas(cas):
    cas.stop()
    r = ward("run", PY, env=attested_env(cas))
    assert r.returncode == 125
    assert f"cannot attest to the CAS at {cas.attest_addr}" in one_line(r.stderr)[0]


@pytest.mark.parametrize("extra,needle", [
    ({"WARD_CONFIG_ID": "no-slash"}, "WARD_CONFIG_ID must be SESSION/SERVICE"),
    ({"WARD_CAS_FINGERPRINT": "xyz"}, "invalid WARD_CAS_FINGERPRINT 'xyz'"),
])
def test_bad_settings(cas, extra, needle):
    r = ward("run", PY, "-c", "print('ran')", env=attested_env(cas, **extra))
    assert r.returncode == 125 and r.stdout == ""
    assert needle in one_line(r.stderr)[0]


def test_non_default_port_needs_the_attestation_address(cas):
    env = attested_env(cas)
    del env["WARD_CAS_ATTEST_ADDR"]
    r = ward("run", PY, "-c", "print('ran')", env=env)
    assert r.returncode == 125 and r.stdout == ""
    assert "set WARD_CAS_ATTEST_ADDR" in one_line(r.stderr)[0]


def test_default_ports_pair_up(tmp):
    """host:8081 (the API, as `ward session` uses it) attests on host:8082."""
    r = ward("run", PY, "-c", "print('ran')",
             env=base_env(WARD_CAS_ADDR="127.0.0.1:8081", WARD_CONFIG_ID="demo/app",
                          WARD_SIM_PLATFORM_DIR=str(tmp / "sim")))
    assert r.returncode == 125 and r.stdout == ""
    assert "cannot attest to the CAS at 127.0.0.1:8082" in one_line(r.stderr)[-1]


def test_config_id_without_address():
    r = ward("run", PY, "-c", "print('ran')", env=base_env(WARD_CONFIG_ID="demo/app"))
    assert r.returncode == 125 and r.stdout == ""
    assert "WARD_CAS_ADDR is not" in one_line(r.stderr)[0]
