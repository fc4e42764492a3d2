"""Revocation, with a synthetic PKI built at test time (synth_dcap.py): a
quote whose PCK certificate, PCK Platform CA or TCB Signing certificate is
listed in a CRL fails `ward evidence verify` with one line naming the CRL
check and the certificate; the same quote with CRLs that list nothing of
its chain (or only an unrelated serial) verifies. No public CRL lists a
certificate of a real sample, so this is where the revocation path runs."""
import json

import pytest

from conftest import ward, one_line

synth = pytest.importorskip("synth_dcap")


def serial_hex(n):
    """A serial as OpenSSL's BN_bn2hex prints it: whole bytes, upper case."""
    h = "%X" % n
    return "0" * (len(h) % 2) + h


def verify(p, form="json", root=True, *extra):
    args = ["evidence", "verify", str(p["quote"]), "--collateral", str(p[form]), "--at", synth.AT]
    if root:
        args += ["--root", str(p["root"])]
    return ward(*args, *extra)


def checks(p, form="json"):
    r = verify(p, form, True, "--json")
    return r, json.loads(r.stdout)["verification"]


@pytest.mark.parametrize("form", ["json", "dir"])
@pytest.mark.parametrize("revoke", [(), ("other",)], ids=["empty-crls", "unrelated-serial"])
def test_not_revoked_verifies(tmp_path, form, revoke):
    p = synth.build(tmp_path, revoke)
    r = verify(p, form)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "nothing in the chain revoked" in r.stdout
    assert "Result: verified" in r.stdout
    r, v = checks(p, form)
    assert v["ok"] is True and v["tcb_status"] == "UpToDate"
    assert v["checks"]["root_ca_crl"]["result"] == "pass" and v["checks"]["pck_crl"]["result"] == "pass"


@pytest.mark.parametrize("form", ["json", "dir"])
def test_revoked_pck_certificate(tmp_path, form):
    p = synth.build(tmp_path, ("pck", "other"))
    r = verify(p, form)
    assert r.returncode == 1
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    serial = serial_hex(p["leaf_serial"])
    assert lines[0] == (
        "ward: evidence %s failed verification: pck_crl: certificate 'Intel SGX PCK Certificate' (serial %s) "
        "is revoked since 2025-04-01T00:00:00+00:00 by the CRL of 'Intel SGX PCK Platform CA'" % (p["quote"], serial))
    r, v = checks(p, form)
    c = v["checks"]
    assert v["ok"] is False and v["failed_check"] == "pck_crl"
    # only the revocation check fails: the chain, signatures and TCB are fine
    assert [k for k, x in c.items() if x["result"] == "fail"] == ["pck_crl"]
    assert c["pck_chain"]["result"] == "pass" and c["quote_signature"]["result"] == "pass"


@pytest.mark.parametrize("form", ["json", "dir"])
def test_revoked_intermediate_via_root_crl(tmp_path, form):
    p = synth.build(tmp_path, ("intermediate",))
    r = verify(p, form)
    assert r.returncode == 1
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    assert ("failed verification: root_ca_crl: certificate 'Intel SGX PCK Platform CA' (serial %s) is revoked "
            "since 2025-04-01T00:00:00+00:00 by the CRL of 'Intel SGX Root CA'" % serial_hex(p["inter_serial"])) in lines[0]
    r, v = checks(p, form)
    assert [k for k, x in v["checks"].items() if x["result"] == "fail"] == ["root_ca_crl"]


def test_revoked_tcb_signing_certificate(tmp_path):
    p = synth.build(tmp_path, ("tcb_signing",))
    r = verify(p)
    assert r.returncode == 1
    assert "failed verification: root_ca_crl: certificate 'Intel SGX TCB Signing' (serial " in one_line(r.stderr)[0]


def test_revocation_in_a_crl_not_signed_by_the_issuer_is_refused(tmp_path):
    """A PCK CRL signed by another key (here the root's) is not believed,
    whether or not it lists the certificate: the CRL check fails on the
    signature, before any lookup."""
    p = synth.build(tmp_path, ("pck",), forged_pck_crl=True)
    r = verify(p)
    assert r.returncode == 1
    assert one_line(r.stderr)[0].endswith(
        "pck_crl: CRL signature does not verify with the key of 'Intel SGX PCK Platform CA'")


def test_synthetic_root_is_not_trusted_without_root_override(tmp_path):
    p = synth.build(tmp_path)
    r = verify(p, "json", False)
    assert r.returncode == 1
    assert "failed verification: pck_chain: PCK chain does not verify to the pinned Intel SGX Root CA" in one_line(r.stderr)[0]



# --- SEV-SNP: the ARK's CRL of ASKs/ASVKs (--crl); the revoked and not
# revoked cases need a synthetic ARK and run at unit level
# (tests/unit/attest/quote/test_snp_crl.c). Here: what the CLI does.

from test_evidence import VECTORS, needs_vectors  # noqa: E402


def _snp(*extra):
    return ward("evidence", "verify", VECTORS / "snp/ms_milan_attestation_report.bin",
                "--vcek", VECTORS / "snp/ms_milan_vcek.pem", "--chain", VECTORS / "amd-pki/milan_ask_ark_asvk.pem",
                "--at", "2026-06-01T00:00:00Z", *extra)


@needs_vectors
def test_snp_without_crl_says_revocation_was_not_checked():
    r = _snp()
    assert r.returncode == 0, r.stderr
    assert "skip  amd_crl" in r.stdout and "revocation not checked" in r.stdout


@needs_vectors
def test_snp_garbage_crl_fails_amd_crl(tmp_path):
    bad = tmp_path / "ark.crl"
    bad.write_bytes(b"\x30\x03garbage")
    r = _snp("--crl", bad)
    assert r.returncode == 1
    assert one_line(r.stderr) == ["ward: evidence %s failed verification: amd_crl: the AMD CRL does not decode "
                                  "(DER or PEM X.509 CRL expected)" % (VECTORS / "snp/ms_milan_attestation_report.bin")]


@needs_vectors
def test_snp_crl_option_refused_for_intel_quotes(tmp_path):
    r = ward("evidence", "verify", VECTORS / "sgx/qvl_sgx_quote.bin", "--no-collateral", "--crl", tmp_path / "x")
    assert r.returncode == 2
    assert "use --collateral, not SEV-SNP options" in one_line(r.stderr)[0]
