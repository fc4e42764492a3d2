"""`ward evidence verify`: every sample in the shared test vectors verifies
with the TCB status and advisories in its expected.json (collateral as a
PCS directory and as dcap-qvl JSON); single-byte mutations of every signed
region, a wrong root, a time outside the collateral window and wrongly
signed collateral fail with one line naming the check."""
import json
import os

import pytest

from conftest import ward, one_line
from test_evidence import VECTORS, needs_vectors, cases

TCB_CHAINS = ["intel-pki/Intel_SGX_TCB_Signing_2018-2025_chain.pem",
              "intel-pki/Intel_SGX_TCB_Signing_2025-2032_chain.pem"]


def collateral_forms(case, tmp):
    """[(form, path)]: the dcap-qvl JSON and, when the case lists PCS files, a directory."""
    files = case["collateral_files"]
    js = [f for f in files if f.endswith(".json") and ("collateral" in f)]
    pcs = [f for f in files if f not in js]
    forms = [("json", VECTORS / js[0])]
    if pcs:
        d = tmp / "col"
        d.mkdir()
        for f in pcs + TCB_CHAINS:
            os.symlink(VECTORS / f, d / os.path.basename(f))
        forms.append(("dir", d))
    return forms


def verify_json(*args):
    r = ward("evidence", "verify", *args, "--json")
    return r, json.loads(r.stdout) if r.stdout.strip() else None


def failed_line(r, check):
    lines = one_line(r.stderr)
    assert r.returncode == 1, r.stdout
    assert len(lines) == 1, r.stderr
    assert "failed verification: " + check + ": " in lines[0], lines[0]
    return lines[0]


@needs_vectors
@pytest.mark.parametrize("case", [c for c in cases("sgx") + cases("tdx") if c.get("collateral_files")],
                         ids=lambda c: c["case"])
def test_dcap_status_matches_expected(case, tmp):
    pl = case["computed_tcb"]["platform_tcb_level"]
    for form, col in collateral_forms(case, tmp):
        r, out = verify_json(VECTORS / case["quote_file"], "--collateral", col, "--at", case["now"])
        v = out["verification"]
        if pl is None:  # pitfall 8: no matching TCB level is an error, not a status
            line = failed_line(r, "tcb_level")
            assert "no matching TCB level" in line
            assert v["tcb_status"] == "NoMatchingTcbLevel"
            assert "No matching TCB level" in case["dcap_qvl_js_0.3.9_result"]["error"]
            continue
        assert r.returncode == 0, (form, r.stderr)
        assert v["ok"] is True and "failed_check" not in v
        assert v["tcb_status"] == pl["status"], form
        assert v["advisory_ids"] == (pl["advisories"] or []), form
        assert v["platform_tcb_status"] == pl["status"]
        assert v["qe_tcb_status"] == case["computed_tcb"]["qe_identity"]["level"]["status"]
        qvl = case["dcap_qvl_js_0.3.9_result"]
        if "status" in qvl:
            assert v["tcb_status"] == qvl["status"] and v["advisory_ids"] == qvl["advisory_ids"]
        mod = case["computed_tcb"]["tdx_module_identity"]
        if mod:
            assert v["tdx_module_id"] == mod["id"] and v["tdx_module_tcb_status"] == mod["level"][0]
        for k in case["parsed"]["checks"]:
            pass  # every quote-level check is covered by v["ok"]
        assert all(c["result"] == "pass" for c in v["checks"].values())


@needs_vectors
@pytest.mark.parametrize("case", [c for c in cases("tdx") if not c.get("collateral_files")], ids=lambda c: c["case"])
def test_dcap_quote_checks_without_collateral(case):
    at = case["now"] or "2025-01-01T00:00:00Z"
    r, out = verify_json(VECTORS / case["quote_file"], "--no-collateral", "--at", at)
    assert r.returncode == 0, r.stderr
    checks = out["verification"]["checks"]
    for name in ("quote_signature", "qe_report_signature", "qe_report_data", "pck_chain"):
        assert checks[name]["result"] == "pass"
    assert out["verification"]["tcb_status"] == "NotEvaluated"


@needs_vectors
@pytest.mark.parametrize("case", cases("snp"), ids=lambda c: c["case"])
def test_snp_verifies(case):
    at = case["cert"]["not_before"].replace("+00:00", "Z")
    r, out = verify_json(VECTORS / case["report_file"], "--" + case["signer"], VECTORS / case["cert_file"],
                         "--chain", VECTORS / case["chain_file"], "--at", at)
    assert r.returncode == 0, r.stderr
    v = out["verification"]
    assert v["ok"] is True
    assert v["signing_cert"]["kind"] == case["signer"]
    assert v["signing_cert"]["product"] == case["cert"]["extensions"]["1.3.6.1.4.1.3704.1.2"]
    assert v["checks"]["report_signature"]["result"] == "pass"
    assert v["checks"]["reported_tcb"]["result"] == "pass"
    if case["checks"].get("chip_id_matches_hwid_ext"):
        assert v["checks"]["chip_id"]["result"] == "pass"


SGX = "sgx/qvl_sgx_quote.bin"
SGX_COL = "sgx/qvl_sgx_quote_collateral.json"
SGX_AT = "2025-07-19T10:01:17Z"


def mutate(tmp, rel, off, name="m.bin"):
    b = bytearray((VECTORS / rel).read_bytes())
    b[off] ^= 0x01
    f = tmp / name
    f.write_bytes(bytes(b))
    return f


@needs_vectors
@pytest.mark.parametrize("region,off,check", [
    ("header", 0x1E, "quote_signature"),
    ("body", 0x70, "quote_signature"),
    ("quote signature", 0x1B4 + 5, "quote_signature"),
    ("attestation key", 0x1F4 + 1, "qe_report_data"),
    ("QE report", 0x234 + 0x40, "qe_report_signature"),
    ("QE report signature", 0x3B4 + 2, "qe_report_signature"),
    ("QE auth data", 0x3F6, "qe_report_data"),
])
def test_sgx_flipped_byte_fails_named_check(tmp, region, off, check):
    f = mutate(tmp, SGX, off)
    r = ward("evidence", "verify", f, "--collateral", VECTORS / SGX_COL, "--at", SGX_AT)
    failed_line(r, check)


@needs_vectors
@pytest.mark.parametrize("region,off,check", [
    ("header", 0x1E, "quote_signature"),
    ("TD body (MRTD)", 0x30 + 0x88, "quote_signature"),
    ("quote signature", 0x27C + 1, "quote_signature"),
    ("QE report", 0x302 + 0x40, "qe_report_signature"),
    ("QE report signature", 0x482 + 3, "qe_report_signature"),
])
def test_tdx_flipped_byte_fails_named_check(tmp, region, off, check):
    f = mutate(tmp, "tdx/qvl_tdx_quote.bin", off)
    r = ward("evidence", "verify", f, "--collateral", VECTORS / "tdx/qvl_tdx_quote_collateral.json",
             "--at", "2025-07-19T10:00:34Z")
    failed_line(r, check)


@needs_vectors
def test_tdx_v5_flipped_body_byte(tmp):
    f = mutate(tmp, "tdx/gotdx_quote_v5_sample.dat", 0x36 + 0x88)
    r = ward("evidence", "verify", f, "--no-collateral", "--at", "2026-02-03T01:00:00Z")
    failed_line(r, "quote_signature")


@needs_vectors
def test_pck_chain_tampered(tmp):
    q = bytearray((VECTORS / SGX).read_bytes())
    i = q.index(b"-----BEGIN CERTIFICATE-----") + 200  # inside the PCK leaf's base64
    q[i] = ord("A") if q[i] != ord("A") else ord("B")
    f = tmp / "q.bin"
    f.write_bytes(bytes(q))
    r = ward("evidence", "verify", f, "--collateral", VECTORS / SGX_COL, "--at", SGX_AT)
    assert r.returncode == 1
    assert "failed verification: pck_chain: " in one_line(r.stderr)[0]


@needs_vectors
def test_wrong_root(tmp):
    # an Intel certificate, but not the root: the PCK chain cannot end there
    pem = (VECTORS / TCB_CHAINS[0]).read_text()
    leaf = pem[:pem.index("-----END CERTIFICATE-----") + 25] + "\n"
    (tmp / "root.pem").write_text(leaf)
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", SGX_AT,
             "--root", tmp / "root.pem")
    line = failed_line(r, "pck_chain")
    assert "given Intel SGX Root CA" in line
    # the real root given explicitly verifies
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", SGX_AT,
             "--root", VECTORS / "intel-pki/Intel_SGX_RootCA.der")
    assert r.returncode == 0, r.stderr


@needs_vectors
@pytest.mark.parametrize("at,check", [
    ("2025-07-19T10:30:00Z", "pck_crl"),            # after the QE identity and PCK CRL next update
    ("2025-06-19T10:00:00Z", "pck_crl"),            # before the PCK CRL was issued
    ("2031-01-01T00:00:00Z", "pck_chain"),          # PCK certificate expired
])
def test_time_outside_window(at, check):
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", at)
    failed_line(r, check)


@needs_vectors
def test_expired_collateral_named(tmp):
    r, out = verify_json(VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", "2025-07-19T10:30:00Z")
    checks = out["verification"]["checks"]
    assert checks["qe_identity_validity"]["result"] == "fail"
    assert "not valid at the verification time" in checks["qe_identity_validity"]["detail"]
    assert checks["quote_signature"]["result"] == "pass"


@needs_vectors
@pytest.mark.parametrize("field,check", [("tcb_info", "tcb_info_signature"), ("qe_identity", "qe_identity_signature")])
def test_wrongly_signed_collateral(tmp, field, check):
    col = json.loads((VECTORS / SGX_COL).read_text())
    col[field] = col[field].replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":18')
    assert '":18' in col[field]
    f = tmp / "col.json"
    f.write_text(json.dumps(col))
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", f, "--at", SGX_AT)
    failed_line(r, check)


@needs_vectors
def test_collateral_signed_but_for_another_platform(tmp):
    # genuine, correctly signed collateral of another FMSPC
    r = ward("evidence", "verify", VECTORS / "sgx/automata_quotev3.hex", "--collateral", VECTORS / SGX_COL,
             "--at", SGX_AT)
    assert r.returncode == 1
    assert "tcb_info_match" in r.stdout and "FMSPC" in r.stdout


@needs_vectors
def test_pcs_directory_signature_over_exact_bytes(tmp):
    # re-serialising the PCS body (same JSON, other bytes) breaks the signature
    d = tmp / "col"
    d.mkdir()
    files = ["sgx/automata_0825_sgx_qeidentity_v4.json", "intel-pki/root_ca_crl_2025-03-20.der",
             "sgx/automata_0825_platform_crl.der"] + TCB_CHAINS
    for f in files:
        os.symlink(VECTORS / f, d / os.path.basename(f))
    body = json.loads((VECTORS / "sgx/automata_0825_sgx_tcbinfov3_00606a000000.json").read_text())
    (d / "tcb.json").write_text(json.dumps(body, indent=1))
    r = ward("evidence", "verify", VECTORS / "sgx/automata_quotev3.hex", "--collateral", d,
             "--at", "2025-08-15T05:45:00Z")
    failed_line(r, "tcb_info_signature")


@needs_vectors
def test_tcb_signing_cert_only_old_issue_fails_after_2025_05(tmp):
    # pitfall 3: the 2018-2025 TCB signing certificate is expired in Aug 2025
    d = tmp / "col"
    d.mkdir()
    for f in ["sgx/automata_0825_sgx_tcbinfov3_00606a000000.json", "sgx/automata_0825_sgx_qeidentity_v4.json",
              "intel-pki/root_ca_crl_2025-03-20.der", "sgx/automata_0825_platform_crl.der", TCB_CHAINS[0]]:
        os.symlink(VECTORS / f, d / os.path.basename(f))
    r = ward("evidence", "verify", VECTORS / "sgx/automata_quotev3.hex", "--collateral", d,
             "--at", "2025-08-15T05:45:00Z")
    line = failed_line(r, "tcb_signing_cert")
    assert "expired" in line


@needs_vectors
def test_missing_crl_in_directory(tmp):
    d = tmp / "col"
    d.mkdir()
    for f in ["sgx/automata_0825_sgx_tcbinfov3_00606a000000.json", "sgx/automata_0825_sgx_qeidentity_v4.json",
              "sgx/automata_0825_platform_crl.der"] + TCB_CHAINS:
        os.symlink(VECTORS / f, d / os.path.basename(f))
    r = ward("evidence", "verify", VECTORS / "sgx/automata_quotev3.hex", "--collateral", d,
             "--at", "2025-08-15T05:45:00Z")
    line = failed_line(r, "root_ca_crl")
    assert "no such CRL in the collateral" in line


SNP_MS = ("snp/ms_milan_attestation_report.bin", "snp/ms_milan_vcek.pem", "amd-pki/milan_ask_ark_asvk.pem")


@needs_vectors
@pytest.mark.parametrize("off,check", [
    (0x00, "report_signature"),           # version word
    (100, "report_signature"),            # REPORT_DATA
    (0x90, "report_signature"),           # MEASUREMENT
    (0x180, "reported_tcb"),              # REPORTED_TCB (signature fails too; first failure is named)
    (0x1A0, "report_signature"),          # CHIP_ID
    (0x2A0 + 1, "report_signature"),      # signature R
    (0x2E8 + 1, "report_signature"),      # signature S
])
def test_snp_flipped_byte(tmp, off, check):
    f = mutate(tmp, SNP_MS[0], off)
    r, out = verify_json(f, "--vcek", VECTORS / SNP_MS[1], "--chain", VECTORS / SNP_MS[2])
    assert r.returncode == 1
    assert out["verification"]["checks"][check]["result"] == "fail"
    assert len(one_line(r.stderr)) == 1 and "failed verification: " in r.stderr


@needs_vectors
def test_snp_wrong_chain_and_root():
    r = ward("evidence", "verify", VECTORS / SNP_MS[0], "--vcek", VECTORS / SNP_MS[1],
             "--chain", VECTORS / "amd-pki/genoa_ask_ark_asvk.pem")
    failed_line(r, "ask_signed_by_ark")
    # a chain whose "ARK" is not a pinned AMD key: only the ASK given
    pem = (VECTORS / SNP_MS[2]).read_text()
    ask_only = pem[:pem.index("-----END CERTIFICATE-----") + 25] + "\n"
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as t:
        t.write(ask_only)
        t.flush()
        r = ward("evidence", "verify", VECTORS / SNP_MS[0], "--vcek", VECTORS / SNP_MS[1], "--chain", t.name)
        failed_line(r, "ark")


@needs_vectors
def test_snp_vlek_outside_validity_and_wrong_kind():
    args = [VECTORS / "snp/trustee_vlek_report.bin", "--vlek", VECTORS / "snp/trustee_vlek.der",
            "--chain", VECTORS / "amd-pki/milan_ask_ark_asvk.pem"]
    r = ward("evidence", "verify", *args)  # today: the VLEK expired 2025-12-10
    line = failed_line(r, "signing_cert")
    assert "not valid at the verification time" in line
    r = ward("evidence", "verify", *args, "--at", "2025-06-01T00:00:00Z")
    assert r.returncode == 0, r.stderr
    r = ward("evidence", "verify", VECTORS / "snp/trustee_vlek_report.bin", "--vcek", VECTORS / "snp/trustee_vlek.der",
             "--chain", VECTORS / "amd-pki/milan_ask_ark_asvk.pem", "--at", "2025-06-01T00:00:00Z")
    failed_line(r, "signing_cert")


@needs_vectors
def test_snp_modified_vcek_fails():
    # trustee modified these VCEKs: their signatures do not verify (pitfall 11)
    for bad in ("trustee_vcek_invalid_new.der", "trustee_vcek_invalid_legacy.der"):
        r = ward("evidence", "verify", VECTORS / "snp/gosev_attestation.bin", "--vcek", VECTORS / "snp" / bad,
                 "--chain", VECTORS / "amd-pki/kds_milan_vcek_cert_chain.pem", "--at", "2024-01-01T00:00:00Z")
        assert r.returncode == 1
        assert len(one_line(r.stderr)) == 1


@needs_vectors
def test_human_output_and_usage():
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", SGX_AT)
    assert r.returncode == 0
    assert "TCB status: ConfigurationAndSWHardeningNeeded" in r.stdout
    assert "Advisories: INTEL-SA-00289 INTEL-SA-00615" in r.stdout
    assert "Result: verified" in r.stdout
    r = ward("evidence", "verify", VECTORS / SGX)
    assert r.returncode == 2 and "needs --collateral" in r.stderr
    r = ward("evidence", "verify", VECTORS / SNP_MS[0], "--collateral", VECTORS / SGX_COL)
    assert r.returncode == 2 and "SEV-SNP report" in r.stderr
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / SGX_COL, "--at", "yesterday")
    assert r.returncode == 2 and "RFC 3339" in r.stderr
    r = ward("evidence", "verify", VECTORS / SGX, "--collateral", VECTORS / "sgx/expected.json")
    assert r.returncode == 1 and "cannot load collateral" in r.stderr
