"""`ward ratls create --hw` against a fake Gramine /dev/attestation.

The fake behaves like Gramine: user_report_data and quote are FIFOs served
by a thread that reads the 64 bytes written and answers with a real SGX
quote (from the shared test vectors) carrying those bytes as report data.
Blocking FIFOs make it deterministic (no sleeps, no timing). The configfs-tsm
(TDX/SEV-SNP) path is covered by tests/unit/attest/ratls/test_hw_attester.c.
"""
import json
import os
import pathlib
import threading

import pytest

from conftest import ROOT, base_env, one_line, ward

TV = pathlib.Path(os.environ.get("WARD_TESTVECTORS", ROOT.parent / "shared" / "testvectors"))
SGX_QUOTE = TV / "sgx" / "qvl_sgx_quote.bin"
needs_quote = pytest.mark.skipif(not SGX_QUOTE.exists(), reason="SGX sample quote not found")
RD_OFF = 48 + 0x140


def fake_gramine(root, serve=True, kind="dcap"):
    d = root / "dev" / "attestation"
    d.mkdir(parents=True)
    (d / "attestation_type").write_text(kind)
    template = SGX_QUOTE.read_bytes()
    if not serve:
        (d / "user_report_data").write_bytes(b"")
        (d / "quote").write_bytes(template)
        return None
    os.mkfifo(d / "user_report_data")
    os.mkfifo(d / "quote")
    seen = {}

    def run():
        with open(d / "user_report_data", "rb") as f:
            rd = f.read()
        seen["rd"] = rd
        q = bytearray(template)
        q[RD_OFF:RD_OFF + 64] = rd
        with open(d / "quote", "wb") as f:
            f.write(q)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return seen


@needs_quote
def test_create_hw_with_gramine(tmp_path):
    seen = fake_gramine(tmp_path / "tee")
    r = ward("ratls", "create", "--hw", "--tee-root", tmp_path / "tee", "--key", tmp_path / "k.pem",
             "--out", tmp_path / "c.pem")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(f"wrote {tmp_path / 'c.pem'}: sgx-quote evidence from gramine-sgx-dcap, 4600 bytes\n")
    r = ward("ratls", "show", tmp_path / "c.pem", "--json")
    out = json.loads(r.stdout)
    ev = out["evidence"][0]
    assert ev["oid"] == "2.23.133.5.4.9" and ev["cbor_tag"] == 60000 and ev["type"] == "sgx-quote"
    assert ev["key_binding"]["rule"] == "dice_claims"
    assert ev["pubkey_hash"]["hash"] == out["certificate"]["spki_sha256"]
    assert bytes.fromhex(ev["fields"]["report_data"]) == seen["rd"]
    # The quote's own signature does not cover the fake's patched report data:
    # verification must not pass.
    mr = ev["fields"]["mrenclave"]
    r = ward("ratls", "verify", tmp_path / "c.pem", "--measurement", mr, "--allow-debug", "--json")
    res = json.loads(r.stdout)
    assert r.returncode == 1
    assert [c["ok"] for c in res["checks"] if c["name"] == "key_binding"] == [True]
    assert [c["ok"] for c in res["checks"] if c["name"] == "evidence_signature"] == [False]


@needs_quote
def test_create_hw_refuses_a_quote_for_other_report_data(tmp_path):
    fake_gramine(tmp_path / "tee", serve=False)
    r = ward("ratls", "create", "--hw", "--tee-root", tmp_path / "tee", "--key", tmp_path / "k.pem",
             "--out", tmp_path / "c.pem")
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        "ward: cannot create the RA-TLS certificate: Gramine returned evidence for other report data "
        "than requested (another process used the interface at the same time?); retry"]
    assert not (tmp_path / "c.pem").exists()


@needs_quote
def test_create_hw_gramine_without_dcap(tmp_path):
    fake_gramine(tmp_path / "tee", serve=False, kind="none")
    r = ward("ratls", "create", "--hw", "--tee-root", tmp_path / "tee", "--key", tmp_path / "k.pem",
             "--out", tmp_path / "c.pem")
    assert r.returncode == 1
    assert "Gramine remote attestation type is 'none', not 'dcap': set sgx.remote_attestation = \"dcap\"" in r.stderr


def test_create_hw_without_tee(tmp_path):
    (tmp_path / "tee").mkdir()
    r = ward("ratls", "create", "--hw", "--tee-root", tmp_path / "tee", "--key", tmp_path / "k.pem",
             "--out", tmp_path / "c.pem")
    assert r.returncode == 1
    line = one_line(r.stderr)[0]
    assert line.startswith("ward: cannot create the RA-TLS certificate: no hardware attestation interface: neither ")
    assert line.endswith("use WARD_MODE=sim on this machine")
