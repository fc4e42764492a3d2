"""Robustness of ward-cas against bad input on both ports: each gets a clear
4xx or refusal, the server keeps serving, and nothing stored changes."""
import base64
import json
import os
import socket
import ssl
import struct

import pytest
import urllib3  # noqa: F401

from test_cas import (M1, Cas, _stop_leftover_servers, alice, bob, cas, create,  # noqa: F401
                      make_client_cert, session_doc)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")



def snapshot(cas, cert):
    s = cas.req("GET", "/v1/sessions/myapp", cert=cert).json()
    a = cas.req("GET", "/v1/sessions/myapp/audit", cert=cert).json()["entries"]
    return s["hash"], len(a)


def still_serving(cas):
    assert cas.req("GET", "/healthz").status_code == 200
    assert cas.attest("myapp/web", M1).returncode == 0


def host_port(addr):
    h, p = addr.rsplit(":", 1)
    return h, int(p)


def tls_attest_conn(cas, cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    s = socket.create_connection(host_port(cas.attest_addr), timeout=10)
    return ctx.wrap_socket(s)


def read_frame(s):
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


def send_frame(s, body):
    s.sendall(struct.pack(">I", len(body)) + body)


@pytest.fixture
def seeded(cas, alice):
    cert, _ = alice
    create(cas, cert, session_doc())
    assert cas.attest("myapp/web", M1).returncode == 0
    return cas, cert


def test_malformed_documents(seeded):
    cas, cert = seeded
    before = snapshot(cas, cert)
    r = cas.req("POST", "/v1/sessions", cert=cert, data=b'{"name": "x", "services": [',
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("session.json:1:")
    r = cas.req("POST", "/v1/sessions", cert=cert, data=b"name: [unclosed\n  - : :",
                headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and "\n" not in r.json()["error"]
    bad = session_doc(name="other")
    bad["services"][0]["mrenclaves"] = ["xyz"]
    r = cas.req("POST", "/v1/sessions", cert=cert, json=bad)
    assert r.status_code == 400 and "mrenclaves" in r.json()["error"]
    r = cas.req("POST", "/v1/sessions", cert=cert, data=b"[1,2,3]",
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = cas.req("POST", "/v1/sessions", cert=cert, data=b"",
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = cas.req("PUT", "/v1/sessions/myapp", cert=cert, data=b"\x00\xff garbage",
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = cas.req("GET", "/v1/sessions/myapp/audit?limit=abc", cert=cert)
    assert r.status_code == 400
    r = cas.req("GET", "/v1/sessions/" + "a" * 300, cert=cert)
    assert r.status_code == 400
    assert cas.req("GET", "/nope").status_code == 404
    assert snapshot(cas, cert) == before
    assert [s["name"] for s in cas.req("GET", "/v1/sessions", cert=cert).json()["sessions"]] == ["myapp"]
    still_serving(cas)


def test_oversized_body(seeded):
    cas, cert = seeded
    before = snapshot(cas, cert)
    big = b'{"name": "big", "pad": "' + b"a" * (2 << 20) + b'"}'
    try:
        r = cas.req("POST", "/v1/sessions", cert=cert, data=big,
                    headers={"Content-Type": "application/json"})
        assert r.status_code == 413
    except Exception as e:  # the server may close before reading it all
        assert "Connection" in type(e).__name__ or "connection" in str(e).lower()
    assert snapshot(cas, cert) == before
    still_serving(cas)


@pytest.mark.parametrize("port", ["http", "attest"])
def test_garbage_and_half_open_connections(seeded, port):
    cas, cert = seeded
    before = snapshot(cas, cert)
    addr = host_port(cas.http if port == "http" else cas.attest_addr)
    # raw garbage instead of a TLS handshake: the server drops it
    s = socket.create_connection(addr, timeout=10)
    s.sendall(os.urandom(4096))
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    # half-open: connections that say nothing, or half a handshake
    idle = [socket.create_connection(addr, timeout=10) for _ in range(20)]
    for i, c in enumerate(idle):
        if i % 2:
            c.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # truncated ClientHello
    still_serving(cas)  # others are served while they hang
    for c in idle:
        c.close()
    assert snapshot(cas, cert)[0] == before[0]
    still_serving(cas)


def test_attest_port_protocol_violations(seeded, tmp_path):
    cas, cert = seeded
    before = snapshot(cas, cert)
    cases = [
        (struct.pack(">I", 1 << 20), "frame length"),          # oversized length
        (struct.pack(">I", 0), "frame length"),                # empty frame
        (struct.pack(">I", 5) + b"hello", "not a JSON object"),
        (struct.pack(">I", 2) + b"[]", "not a JSON object"),
        (struct.pack(">I", 16) + b'{"type":"nope"} ', "unexpected message"),
        (None, "config_id must be"),
        (None, "key must be the SHA-256"),
        (None, "key must be the SHA-256"),
        (None, "evidence must be base64"),
        (None, "needs the enclave's public key and its signature"),
        (None, "needs the enclave's public key and its signature"),
        (None, "no attested enclave"),
    ]
    key = "ab" * 32
    b64 = base64.b64encode
    bodies = [json.dumps({"type": "attest", "config_id": "../../etc", "key": key, "evidence": "AAAA"}).encode(),
              json.dumps({"type": "attest", "config_id": "myapp/web", "evidence": "AAAA"}).encode(),
              json.dumps({"type": "attest", "config_id": "myapp/web", "key": "zz" * 32, "evidence": "AAAA"}).encode(),
              json.dumps({"type": "attest", "config_id": "myapp/web", "key": key,
                          "evidence": "!!not base64!!"}).encode(),
              json.dumps({"type": "tag", "phase": "commit", "volume": "data", "tag": "00"}).encode(),
              json.dumps({"type": "tag", "phase": "commit", "volume": "data", "tag": "00",
                          "key": "A" * 2000, "signature": "AAAA"}).encode(),
              json.dumps({"type": "tag", "phase": "commit", "volume": "data", "tag": "00",
                          "key": b64(os.urandom(91)).decode(), "signature": b64(os.urandom(70)).decode()}).encode()]
    for raw, expect in cases:
        s = tls_attest_conn(cas)
        assert read_frame(s)["type"] == "hello"
        if raw is None:
            send_frame(s, bodies.pop(0))
        else:
            s.sendall(raw)
        m = read_frame(s)
        assert m["type"] == "error" and expect in m["reason"], (expect, m)
        assert read_frame(s) is None  # and the connection is closed
        s.close()
    # the volume tag did not move, the session did not change
    assert cas.attest("myapp/web", M1, "data=").returncode == 0
    assert snapshot(cas, cert)[0] == before[0]
    still_serving(cas)


def test_wrong_client_keys(seeded, bob):
    cas, cert = seeded
    b, _ = bob
    before = snapshot(cas, cert)
    h = before[0]
    assert cas.req("PUT", "/v1/sessions/myapp", cert=b, json=session_doc(predecessor=h)).status_code == 403
    assert cas.req("DELETE", "/v1/sessions/myapp", cert=b).status_code == 403
    assert snapshot(cas, cert) == before
    still_serving(cas)
