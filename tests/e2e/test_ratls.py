"""`ward ratls show|verify|create` against real RA-TLS certificates
(testvectors/ratls, driven by its expected.json) and Ward's own."""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import ROOT, base_env, one_line, ward

VECTORS = pathlib.Path(os.environ.get(
    "WARD_TESTVECTORS", ROOT.parent / "shared" / "testvectors")) / "ratls"
if not VECTORS.is_dir():
    VECTORS = ROOT / "tests" / "testvectors" / "ratls"
EXPECTED = json.loads((VECTORS / "expected.json").read_text()) if VECTORS.is_dir() else {"cases": []}
CASES = EXPECTED["cases"]
needs_vectors = pytest.mark.skipif(not CASES, reason="RA-TLS test vectors not found")

# expected.json's key_binding_hits vocabulary -> Ward's rule names
RULES = {"spki_der": "spki_der_sha256", "ec_point_04xy": "ec_point_04xy_sha256",
         "rsa_pkcs1_der": "rsa_pkcs1_der_sha256", "spki_pem_nul": "spki_pem_nul_sha256"}
ZERO32 = "00" * 32


def show_json(path, env=None):
    r = ward("ratls", "show", path, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def expected_rule(ev):
    if ev.get("type") == "CBOR tag 60000":
        ok = ev["pubkey_hash_matches_spki"] and ev["report_data_is_sha256_claims"]
        return "dice_claims" if ok else "none"
    hits = [h for h in ev.get("key_binding_hits", []) if h["position"] == "report_data[0:32]"]
    return RULES[hits[0]["input"]] if hits else "none"


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_show_matches_expected(case):
    out = show_json(VECTORS / case["file"])
    got = out["evidence"]
    assert [e["oid"] for e in got] == [e["oid"] for e in case["evidence"]]
    cert = out["certificate"]
    assert cert["signature_verifies_with_own_key"] == case["cert"]["signature_verifies_with_own_key"]
    for g, e in zip(got, case["evidence"]):
        assert "error" not in g, g
        if g["type"] == "collateral":
            continue
        assert g["key_binding"]["rule"] == expected_rule(e), (g["key_binding"], e.get("key_binding_hits"))
        f = g["fields"]
        if "quote" in e:
            q, body = e["quote"], e["quote"]["body"]
            assert g["quote_sha256"] == e["quote_sha256"]
            assert f["version"] == q["version"]
            assert f["qe_svn"] == q["qe_svn_or_reserved"] and f["pce_svn"] == q["pce_svn_or_reserved"]
            assert f["user_data"] == q["user_data"]
            assert f["trailing_bytes"] == q["trailing_bytes_after_quote"]
        else:  # IAS report
            body = e["report_body"]
            assert g["ias"]["isvEnclaveQuoteStatus"] == e["ias_report"]["isvEnclaveQuoteStatus"]
            assert g["ias"]["signature_ok"] == e["ias_signature_ok"]
        for k in ("mrenclave", "mrsigner", "isvprodid", "isvsvn", "debug", "report_data",
                  "attributes", "cpusvn"):
            assert f[k] == body[k], k
        if "claims_buffer_hex" in e:
            assert g["claims_buffer_hex"] == e["claims_buffer_hex"]
            assert g["pubkey_hash"]["hash"] == e["pubkey_hash_entry"][1]
            assert g["pubkey_hash"]["alg"] == e["pubkey_hash_entry"][0]
            assert g["other_claims"] == len(e["claims"]) - 1


@needs_vectors
def test_show_human_names_the_rule():
    r = ward("ratls", "show", VECTORS / "cosmian_mse_ratls.pem")
    assert r.returncode == 0
    assert "key binding    ec_point_04xy_sha256: report_data[0:32] = SHA-256(uncompressed EC point 04||X||Y)" in r.stdout
    r = ward("ratls", "show", VECTORS / "gramine_ccc_interop_cert.pem")
    assert "0.6.9.42.840.113741.1337.6 (Gramine legacy SGX quote extension (malformed OID encoding))" in r.stdout
    assert "dice_claims" in r.stdout and "spki_der_sha256" in r.stdout


def verify_json(path, *extra, env=None):
    r = ward("ratls", "verify", path, "--json", *extra, env=env)
    return r, json.loads(r.stdout)


def checks(out, name):
    return [c for c in out["checks"] if c["name"] == name]


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_verify_key_binding_per_vector(case):
    """Binding is checked for every vector; the overall result is never a
    pass for hardware evidence unless its chain was really verified."""
    evs = [e for e in case["evidence"] if not e.get("type", "").startswith("embedded collateral")]
    body = evs[0]["quote"]["body"] if "quote" in evs[0] else evs[0]["report_body"]
    r, out = verify_json(VECTORS / case["file"], "--measurement", body["mrenclave"],
                         "--allow-debug", "--at", "2020-01-01T00:00:00Z")
    kb = checks(out, "key_binding")
    assert [c["ok"] for c in kb] == [expected_rule(e) != "none" for e in evs]
    sig = checks(out, "evidence_signature")
    assert len(sig) == len(evs)
    if r.returncode == 0:  # only possible when every chain really verified
        assert all(c["ok"] for c in out["checks"])
    else:
        assert out["ok"] is False
        assert one_line(r.stderr)[-1].startswith(f"ward: {VECTORS / case['file']}: RA-TLS verification failed: ")


@needs_vectors
def test_verify_unbound_quote_is_refused():
    r = ward("ratls", "verify", VECTORS / "intel_sgx-ra-tls_ecdsa_sample.der", "--measurement",
             "ba955817182da60e188849038328f8088156eb7dbcd4f966428089be6d3fd411", "--allow-debug",
             "--at", "2019-04-01T00:00:00Z")
    assert r.returncode == 1
    assert "FAIL evidence 1   key_binding" in r.stdout
    assert "is not a hash of this certificate's public key under any known rule" in r.stdout


@needs_vectors
def test_verify_debug_enclave_refused_without_flag():
    r, out = verify_json(VECTORS / "gramine_konvera_tlscert.der", "--measurement",
                         "f94ccbe6a504676b2edbefdcb8781a512913f7d8864c6f88592a843d0f9d4a66")
    assert [c["ok"] for c in checks(out, "debug")] == [True]
    assert [c["ok"] for c in checks(out, "measurement")] == [True]
    r, out = verify_json(VECTORS / "ratstls_ccc_interop_cert.pem", "--measurement",
                         "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041",
                         "--at", "2023-06-01T00:00:00Z")
    assert r.returncode == 1
    assert [c["ok"] for c in checks(out, "debug")] == [False]
    assert [c["ok"] for c in checks(out, "certificate_validity")] == [True]


@needs_vectors
def test_verify_expired_certificate_named():
    r, out = verify_json(VECTORS / "cosmian_mse_ratls.pem", "--measurement",
                         "0e4ec55e690b06a574af59dfd51baa3866ac4c8d37896effc0f1fad17b31cf3b")
    c = checks(out, "certificate_validity")[0]
    assert not c["ok"] and "certificate expired at 2024-04-26T09:38:33Z" in c["message"]


@needs_vectors
def test_verify_ias_report_signature_and_root():
    f = VECTORS / "integritee_ias_TEST8_PRODUCTION.der"
    m = "bcf66abfc6b3ef259e9ecfe4cf8df667a7f5a546525dee16822741b38f6e6050"
    r, out = verify_json(f, "--measurement", m, "--at", "2021-11-01T00:00:00Z",
                         "--ias-root", VECTORS / "intel_ias_report_signing_ca.pem")
    assert [c["ok"] for c in checks(out, "evidence_signature")] == [True]
    assert [c["ok"] for c in checks(out, "key_binding")] == [False]  # enclave account key, not the cert key
    assert [c["ok"] for c in checks(out, "self_signature")] == [True]  # not self-signed: issuer not checked
    assert r.returncode == 1
    # Without the root, the report is not trusted.
    r, out = verify_json(f, "--measurement", m, "--at", "2021-11-01T00:00:00Z")
    assert "no IAS root was given" in checks(out, "evidence_signature")[0]["message"]
    # A wrong root is refused.
    r, out = verify_json(f, "--measurement", m, "--at", "2021-11-01T00:00:00Z",
                         "--ias-root", VECTORS / "gramine_ccc_interop_cert.pem")
    assert "does not chain to" in checks(out, "evidence_signature")[0]["message"]


@needs_vectors
def test_hardware_evidence_needs_collateral():
    r, out = verify_json(VECTORS / "gramine_konvera_tlscert.der", "--measurement",
                         "f94ccbe6a504676b2edbefdcb8781a512913f7d8864c6f88592a843d0f9d4a66")
    sig = checks(out, "evidence_signature")[0]
    assert r.returncode == 1 and not sig["ok"]
    assert "no collateral given (--collateral DIR, or --no-collateral" in sig["message"]


TCB_CASES = [c for c in CASES if c.get("tcb_evaluation")]


@needs_vectors
@pytest.mark.parametrize("case", TCB_CASES, ids=[c["file"] for c in TCB_CASES])
def test_verify_with_collateral_matches_expected_tcb(case):
    """Full chain: quote, QE, PCK chain, CRLs, TCB level, with the shared
    collateral of the same FMSPC, at a time inside its window."""
    tcb = case["tcb_evaluation"][0]
    coll = VECTORS.parent / tcb["collateral"]
    at = "2025-08-20T00:00:00Z"
    evs = [e for e in case["evidence"] if "quote" in e]
    mr = evs[0]["quote"]["body"]["mrenclave"]
    status = tcb["platform_tcb"]["status"]
    r, out = verify_json(VECTORS / case["file"], "--measurement", mr, "--collateral", coll,
                         "--at", at, "--allow-debug", "--tolerate-tcb", status)
    sig = checks(out, "evidence_signature")
    assert [c["ok"] for c in sig] == [True] * len(evs), sig
    for c in sig:
        assert f"TCB {status}" in c["message"]
    assert [c["ok"] for c in checks(out, "tcb_status")] == [True] * len(evs)
    valid = case["cert"]["not_after"] > "2025-08-20"
    assert (r.returncode == 0) == valid, out["checks"]
    # Not tolerated: refused, naming the status.
    r, out = verify_json(VECTORS / case["file"], "--measurement", mr, "--collateral", coll,
                         "--at", at, "--allow-debug")
    assert r.returncode == 1
    assert [c["ok"] for c in checks(out, "tcb_status")] == [status == "UpToDate"] * len(evs)


@needs_vectors
def test_verify_tampered_quote_in_certificate():
    """A flipped byte in the quote's enclave report body: the quote signature
    check (not just the certificate's self-signature) fails."""
    der = (VECTORS / "gramine_konvera_tlscert.der").read_bytes()
    mr = bytes.fromhex("f94ccbe6a504676b2edbefdcb8781a512913f7d8864c6f88592a843d0f9d4a66")
    i = der.index(mr)
    t = bytearray(der)
    t[i + 0x100 - 0x40 + 2] ^= 0x01  # ISVSVN, inside the signed body
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(bytes(t))
        f.flush()
        r, out = verify_json(f.name, "--measurement", mr.hex(), "--no-collateral")
    assert r.returncode == 1
    sig = checks(out, "evidence_signature")[0]
    assert not sig["ok"] and "quote_signature" in sig["message"], sig
    assert [c["ok"] for c in checks(out, "self_signature")] == [False]


@needs_vectors
def test_verify_no_collateral_mode():
    r, out = verify_json(VECTORS / "maa_sharedeus_signing_rsa2048.der", "--measurement",
                         "8f0c8a14a0318ee5286b820d7c2afccf56e624fe769c3639eacd6b4003f9cdef",
                         "--no-collateral")
    assert r.returncode == 0, out["checks"]
    assert "TCB not evaluated (--no-collateral)" in checks(out, "evidence_signature")[0]["message"]
    assert checks(out, "key_binding")[0]["message"].startswith("report_data[0:32] = SHA-256(PEM SubjectPublicKeyInfo + NUL)")


# ---- Ward's own certificates (simulation evidence) ----

@pytest.fixture
def simenv(tmp_path):
    return base_env(WARD_SIM_PLATFORM_DIR=tmp_path / "platform")


M = "ab" * 32


def create(tmp_path, env, *extra):
    r = ward("ratls", "create", "--key", tmp_path / "k.pem", "--out", tmp_path / "c.pem",
             "--measurement", M, *extra, env=env)
    assert r.returncode == 0, r.stderr
    return tmp_path / "c.pem"


def test_create_then_verify(tmp_path, simenv):
    r = ward("ratls", "create", "--key", tmp_path / "k.pem", "--out", tmp_path / "c.pem",
             "--measurement", M, "--nonce", "0102", env=simenv)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"created key {tmp_path / 'k.pem'} (EC P-256, mode 0600)\n")
    assert (os.stat(tmp_path / "k.pem").st_mode & 0o777) == 0o600
    fpr = r.stdout.split("platform ")[1].strip()
    r = ward("ratls", "verify", tmp_path / "c.pem", "--measurement", M, "--platform", fpr, env=simenv)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.endswith("\nverified (SIMULATION evidence: no hardware guarantee)\n")
    assert f"simulation evidence signed by platform key {fpr[:16]}... (pinned; SIMULATION: no hardware guarantee)" in r.stdout
    out = show_json(tmp_path / "c.pem", env=simenv)
    ev = out["evidence"][0]
    assert ev["oid"] == "2.23.133.5.4.9" and ev["type"] == "simulation"
    assert ev["cbor_tag"] == 0x57415244 and ev["nonce"] == "0102"
    assert ev["fields"]["platform_fingerprint"] == fpr
    assert ev["pubkey_hash"]["hash"] == out["certificate"]["spki_sha256"]
    # The same key is reused for a second certificate.
    r = ward("ratls", "create", "--key", tmp_path / "k.pem", "--out", tmp_path / "c2.pem", env=simenv)
    assert r.returncode == 0 and "created key" not in r.stdout
    assert show_json(tmp_path / "c2.pem", env=simenv)["certificate"]["spki_sha256"] == out["certificate"]["spki_sha256"]


def test_openssl_reads_our_extension(tmp_path, simenv):
    c = create(tmp_path, simenv)
    der = subprocess.run(["openssl", "x509", "-in", c, "-outform", "DER"], capture_output=True, check=True).stdout
    # OID TLV 06 06 67 81 05 05 04 09, then the OCTET STRING whose content starts with tag 0x57415244
    i = der.find(bytes.fromhex("0606678105050409"))
    assert i > 0
    assert bytes.fromhex("da57415244") in der[i:i + 20]


def test_verify_wrong_measurement(tmp_path, simenv):
    c = create(tmp_path, simenv)
    r = ward("ratls", "verify", c, "--measurement", "cd" * 32, env=simenv)
    assert r.returncode == 1
    assert one_line(r.stderr) == [
        f"ward: {c}: RA-TLS verification failed: measurement: measurement {M} does not match the expected measurement"]


def test_verify_wrong_platform_pin(tmp_path, simenv):
    c = create(tmp_path, simenv)
    r = ward("ratls", "verify", c, "--measurement", M, "--platform", "00" * 32, env=simenv)
    assert r.returncode == 1
    assert "evidence_signature: simulation evidence signed by platform key" in one_line(r.stderr)[0]
    assert "(evidence from another machine)" in one_line(r.stderr)[0]


def test_verify_expired_and_not_yet_valid(tmp_path, simenv):
    c = create(tmp_path, simenv, "--days", "1")
    r = ward("ratls", "verify", c, "--measurement", M, "--at", "2099-01-01T00:00:00Z", env=simenv)
    assert r.returncode == 1 and "certificate_validity: certificate expired at" in r.stderr
    r = ward("ratls", "verify", c, "--measurement", M, "--at", "2001-01-01T00:00:00Z", env=simenv)
    assert r.returncode == 1 and "certificate_validity: certificate is not valid before" in r.stderr


def der_of(pem):
    return subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"],
                          capture_output=True, check=True).stdout


def test_every_byte_of_the_evidence_extension_is_protected(tmp_path, simenv):
    """Flip each byte of the extension value: show never crashes and verify
    always fails with a named check."""
    c = create(tmp_path, simenv)
    der = der_of(c)
    i = der.find(bytes.fromhex("0606678105050409"))
    start = der.index(b"\x04", i + 8)  # the OCTET STRING (extnValue)
    # header of the OCTET STRING: 04 82 LL LL
    vstart = start + 4
    vlen = int.from_bytes(der[start + 2:start + 4], "big")
    step = max(1, vlen // 60)  # ~60 positions spread over the value, fast
    for pos in range(vstart, vstart + vlen, step):
        t = bytearray(der)
        t[pos] ^= 0x01
        p = tmp_path / "t.der"
        p.write_bytes(bytes(t))
        r = ward("ratls", "verify", p, "--measurement", M, env=simenv)
        assert r.returncode == 1, pos
        line = one_line(r.stderr)[-1]
        assert line.startswith(f"ward: {p}: RA-TLS verification failed: ") or "not an X.509" in line, line


def test_key_substitution_is_refused(tmp_path, simenv):
    """Evidence lifted into a certificate for another key does not bind it."""
    c = create(tmp_path, simenv)
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", other], check=True)
    ext = der_of(c)
    i = ext.find(bytes.fromhex("0606678105050409"))
    start = ext.index(b"\x04", i + 8)
    vlen = int.from_bytes(ext[start + 2:start + 4], "big")
    value = ext[start + 4:start + 4 + vlen]
    forged = tmp_path / "forged.pem"
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", other, "-subj", "/CN=forged",
                    "-days", "1", "-addext", "2.23.133.5.4.9=DER:" + value.hex(), "-out", forged],
                   check=True, capture_output=True)
    out = show_json(forged, env=simenv)
    assert out["evidence"][0]["type"] == "simulation"  # the lifted evidence itself is intact
    r = ward("ratls", "verify", forged, "--measurement", M, env=simenv)
    assert r.returncode == 1
    assert "key_binding: claims pubkey-hash is not the hash of this certificate's public key" in r.stderr


def test_bad_inputs(tmp_path, simenv):
    g = tmp_path / "garbage.pem"
    g.write_bytes(b"\x30\x82\x01\x00garbage")
    r = ward("ratls", "show", g, env=simenv)
    assert r.returncode == 1 and one_line(r.stderr) == [f"ward: {g} is not an X.509 certificate (PEM or DER)"]
    c = create(tmp_path, simenv)
    der = der_of(c)
    t = tmp_path / "trunc.der"
    t.write_bytes(der[:-10])
    r = ward("ratls", "show", t, env=simenv)
    assert r.returncode == 1 and "is not an X.509 certificate" in r.stderr
    t.write_bytes(der + b"\x00")
    r = ward("ratls", "show", t, env=simenv)
    assert r.returncode == 1 and "has trailing bytes after its DER encoding" in r.stderr
    r = ward("ratls", "show", tmp_path / "missing.pem", env=simenv)
    assert r.returncode == 1 and "cannot read certificate" in r.stderr
    plain = tmp_path / "plain.pem"
    subprocess.run(["openssl", "req", "-new", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", tmp_path / "pk.pem", "-subj", "/CN=x", "-days", "1", "-out", plain],
                   check=True, capture_output=True)
    r = ward("ratls", "show", plain, env=simenv)
    assert r.returncode == 1 and "certificate carries no attestation evidence" in r.stderr


def test_usage_errors(tmp_path, simenv):
    c = create(tmp_path, simenv)
    r = ward("ratls", "verify", c, env=simenv)
    assert r.returncode == 2 and "--measurement is required" in r.stderr
    r = ward("ratls", "verify", c, "--measurement", "xyz", env=simenv)
    assert r.returncode == 2
    r = ward("ratls", "verify", c, "--measurement", M, "--at", "yesterday", env=simenv)
    assert r.returncode == 2 and "is not a UTC time" in r.stderr
    r = ward("ratls", "frobnicate", env=simenv)
    assert r.returncode == 2
    r = ward("ratls", "--help", env=simenv)
    assert r.returncode == 0 and "ward ratls show CERT" in r.stdout
    r = ward("ratls", "create", "--key", tmp_path / "k.pem", env=simenv)
    assert r.returncode == 2


# ---- SEV-SNP evidence in the DICE extension (Ward's tag "WARS") ----

SNP = VECTORS.parent / "snp"
needs_snp = pytest.mark.skipif(not (SNP / "ms_milan_attestation_report.bin").exists(),
                               reason="SNP test vectors not found")


def bstr(b):
    n = len(b)
    if n < 24:
        return bytes([0x40 + n]) + b
    if n < 256:
        return b"\x58" + bytes([n]) + b
    return b"\x59" + n.to_bytes(2, "big") + b


def snp_dice_cert(tmp_path, report):
    """A certificate carrying a real SNP report under tag 0x57415253 with
    claims for its own key (hand-encoded CBOR, independent of Ward's)."""
    key = tmp_path / "snpkey.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
    spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                          capture_output=True, check=True).stdout
    import hashlib
    entry = b"\x82\x01" + bstr(hashlib.sha256(spki).digest())
    claims = b"\xa1" + b"\x6bpubkey-hash" + bstr(entry)
    value = b"\xda" + (0x57415253).to_bytes(4, "big") + b"\x82" + bstr(report) + bstr(claims)
    cert = tmp_path / "snp.pem"
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=snp", "-days", "1",
                    "-addext", "2.23.133.5.4.9=DER:" + value.hex(), "-out", cert], check=True, capture_output=True)
    return cert


@needs_snp
def test_snp_report_in_dice_extension(tmp_path):
    report = (SNP / "ms_milan_attestation_report.bin").read_bytes()
    cert = snp_dice_cert(tmp_path, report)
    out = show_json(cert)
    ev = out["evidence"][0]
    assert ev["type"] == "snp-report" and ev["cbor_tag"] == 0x57415253
    meas = ev["fields"]["measurement"]
    assert meas == report[0x90:0x90 + 48].hex()
    args = ["--measurement", meas, "--vcek", SNP / "ms_milan_vcek.pem",
            "--chain", VECTORS.parent / "amd-pki" / "milan_ask_ark_asvk.pem"]
    r, res = verify_json(cert, *args)
    # The report is genuine (signed by its VCEK, chained to AMD's ARK) but was
    # not made for this certificate's key: refused at the binding.
    assert [c["ok"] for c in checks(res, "evidence_signature")] == [True], res["checks"]
    kb = checks(res, "key_binding")[0]
    assert not kb["ok"] and kb["message"] == "report_data[0:32] is not SHA-256 of the DICE claims buffer"
    assert r.returncode == 1
    # Without the VCEK nothing is verified.
    r, res = verify_json(cert, "--measurement", meas)
    assert "give its VCEK/VLEK (--vcek FILE) and AMD chain (--chain FILE)" in checks(res, "evidence_signature")[0]["message"]
    # A flipped measurement byte breaks the report signature.
    t = bytearray(report)
    t[0x90] ^= 1
    cert2 = snp_dice_cert(tmp_path, bytes(t))
    r, res = verify_json(cert2, *args)
    sig = checks(res, "evidence_signature")[0]
    assert not sig["ok"] and "signature" in sig["message"]
