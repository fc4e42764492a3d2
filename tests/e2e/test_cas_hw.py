"""End-to-end: ward-cas with hardware verification material (--collateral,
--snp-vcek, --snp-chain) receives real SGX, TDX and SEV-SNP evidence over its
attestation port. A recorded quote cannot bind this connection's fresh TLS
key and challenge, so the CAS must refuse it with the binding reason and
audit the decision with the hardware platform; this proves the hardware path
is wired. The decision on verified hardware evidence (pins, tolerations) is
tested at unit level with the same samples (tests/unit/cas/test_hw.c)."""
import pytest

from conftest import ROOT
from test_cas import Cas, create, make_client_cert, _stop_leftover_servers  # noqa: F401 (fixture)

VECTORS = ROOT.parent / "shared" / "testvectors"
pytestmark = [pytest.mark.skipif(not VECTORS.is_dir(), reason="shared test vectors not found"),
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

SGX_MRENCLAVE = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
TDX_MRTD = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
SNP_MEAS = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
UNBOUND = ("attestation denied by CAS: evidence report data does not bind this TLS connection (channel and "
           "challenge), the enclave key, config id and volume tags (evidence replayed or relayed from another "
           "connection, or forged)")

HW_OPTS = ["--collateral", str(VECTORS / "sgx/qvl_sgx_quote_collateral.json"),
           "--collateral", str(VECTORS / "tdx/qvl_tdx_quote_collateral.json"),
           "--snp-vcek", str(VECTORS / "snp/gosev_vcek.der"),
           "--snp-chain", str(VECTORS / "amd-pki/kds_milan_vcek_cert_chain.pem")]


@pytest.fixture
def hwcas(tmp_path):
    c = Cas(tmp_path, extra=HW_OPTS)
    out = c.start()
    assert "ward-cas: hardware evidence: 2 Intel collateral sets, 1 SEV-SNP signing certificate, 1 AMD chain" in out
    yield c
    if c.proc:
        rc, err = c.stop()
        assert rc == 0 and "Sanitizer" not in err and "leak" not in err, err


def hw_session():
    return {"name": "hw", "version": "0.3",
            "services": [{"name": "sgx", "mrenclaves": [SGX_MRENCLAVE]},
                         {"name": "tdx", "mrenclaves": [TDX_MRTD]},
                         {"name": "snp", "mrenclaves": [SNP_MEAS]}],
            "security": {"attestation": {"tolerate": ["debug-mode", "insecure-configuration",
                                                      "software-hardening-needed"],
                                         "ignore_advisories": ["*"]}}}


def test_real_hardware_evidence_is_refused_as_unbound_and_audited(hwcas, tmp_path):
    cert, _ = make_client_cert(tmp_path, "owner")
    create(hwcas, cert, hw_session())
    samples = [("hw/sgx", "sgx", VECTORS / "sgx/qvl_sgx_quote.bin"),
               ("hw/tdx", "tdx", VECTORS / "tdx/qvl_tdx_quote.bin"),
               ("hw/snp", "sev-snp", VECTORS / "snp/gosev_attestation.bin")]
    for cid, _, path in samples:
        r = hwcas.attest(cid, "00" * 32, extra=["--use-evidence", path])
        assert r.returncode == 1, r.stderr
        assert r.stderr.strip() == UNBOUND
    # the server keeps serving, and every decision is in the audit with its platform
    assert hwcas.req("GET", "/healthz").json() == {"status": "ok"}
    audit = [e for e in hwcas.req("GET", "/v1/sessions/hw/audit", cert=cert).json()["entries"]
             if e["event"] == "attest"]
    assert [(e["service"], e["platform"], e["allowed"]) for e in audit] == \
        [("sgx", "sgx", False), ("tdx", "tdx", False), ("snp", "sev-snp", False)]
    assert all(e["reason"] == UNBOUND for e in audit)
    # the claimed measurement of evidence refused before verification is not recorded
    assert all(e["measurement"] is None for e in audit)
    m = hwcas.req("GET", "/metrics").text
    assert 'ward_cas_attestations_total{result="denied"} 3' in m


def test_hardware_evidence_without_material_is_refused_before_verification(tmp_path):
    """A CAS without hardware material refuses a recorded quote the same way:
    the binding is checked first, so no collateral is consulted."""
    c = Cas(tmp_path)
    c.start()
    cert, _ = make_client_cert(tmp_path, "owner")
    create(c, cert, hw_session())
    r = c.attest("hw/sgx", "00" * 32, extra=["--use-evidence", VECTORS / "sgx/qvl_sgx_quote.bin"])
    assert r.returncode == 1 and r.stderr.strip() == UNBOUND
    # garbage that is neither simulation evidence nor a quote
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x03\x00" + b"\xff" * 600)
    r = c.attest("hw/sgx", "00" * 32, extra=["--use-evidence", junk])
    assert r.returncode == 1
    assert r.stderr.startswith("attestation denied by CAS: unknown evidence type (neither simulation evidence "
                               "nor a well-formed SGX/TDX quote or SEV-SNP report: ")
    c.stop()


@pytest.mark.parametrize("opts, msg", [
    (["--collateral", "/nonexistent/collateral"], "ward: --collateral /nonexistent/collateral: cannot open"),
    (["--collateral", str(VECTORS / "sgx/expected.json")],
     f"ward: --collateral {VECTORS / 'sgx/expected.json'}: expected.json: not collateral"),
    (["--snp-vcek", str(VECTORS / "snp/gosev_vcek.der")],
     f"ward: --snp-vcek {VECTORS / 'snp/gosev_vcek.der'}: issued by 'SEV-Milan', which no --snp-chain holds"),
    (["--snp-vcek", str(VECTORS / "snp/expected.json"), "--snp-chain", str(VECTORS / "amd-pki/milan_ask_ark_asvk.pem")],
     f"ward: --snp-vcek {VECTORS / 'snp/expected.json'}: not a certificate (DER or PEM VCEK/VLEK expected)"),
    (["--snp-chain", str(VECTORS / "sgx/expected.json")],
     f"ward: --snp-chain {VECTORS / 'sgx/expected.json'}: no PEM certificate in it"),
    # a quote holds the Intel PCK chain in PEM: certificates, but no AMD root
    (["--snp-chain", str(VECTORS / "sgx/qvl_sgx_quote.bin")],
     f"ward: --snp-chain {VECTORS / 'sgx/qvl_sgx_quote.bin'}: holds no AMD root key certificate"),
    (["--snp-chain", str(VECTORS / "amd-pki/milan_ask_ark_asvk.pem")],
     "ward: --snp-chain without --snp-vcek: give the VCEK (or VLEK) certificates"),
])
def test_bad_hardware_material_stops_the_start(tmp_path, opts, msg):
    c = Cas(tmp_path, extra=opts)
    err = c.start(expect_ok=False)
    assert c.proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(msg), err
