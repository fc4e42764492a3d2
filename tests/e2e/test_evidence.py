"""`ward evidence show`: every real sample in the shared test vectors parses
to exactly the fields listed in its folder's expected.json; malformed input
fails with one clear line."""
import json

import pytest

from conftest import ROOT, ward, one_line

VECTORS = ROOT.parent / "shared" / "testvectors"
needs_vectors = pytest.mark.skipif(
    not (VECTORS / "sgx" / "expected.json").exists(),
    reason=f"shared test vectors not found at {VECTORS} (checked out next to the repository)")


def cases(kind):
    p = VECTORS / kind / "expected.json"
    if not p.exists():
        return []
    return json.loads(p.read_text())


def subset_mismatches(expected, got, path=""):
    """Every key/value of expected must be in got (lists compared item by item)."""
    out = []
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected an object, got {got!r}"]
        for k, v in expected.items():
            if k not in got:
                out.append(f"{path}.{k}: missing")
            else:
                out += subset_mismatches(v, got[k], f"{path}.{k}")
    elif isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return [f"{path}: expected {expected!r}, got {got!r}"]
        for i, (a, b) in enumerate(zip(expected, got)):
            out += subset_mismatches(a, b, f"{path}[{i}]")
    elif expected != got:
        out.append(f"{path}: expected {expected!r}, got {got!r}")
    return out


def show_json(path):
    r = ward("evidence", "show", path, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@needs_vectors
@pytest.mark.parametrize("case", cases("sgx") + cases("tdx"), ids=lambda c: c["case"])
def test_dcap_show_matches_expected(case):
    got = show_json(VECTORS / case["quote_file"])
    exp = dict(case["parsed"])
    exp.pop("checks")
    assert got["type"] == ("sgx" if case["case"].startswith("sgx") else "tdx")
    assert subset_mismatches(exp, got["quote"]) == []
    assert got["debug"] == exp.get("enclave_debug", exp.get("td_debug"))


@needs_vectors
@pytest.mark.parametrize("case", cases("snp"), ids=lambda c: c["case"])
def test_snp_show_matches_expected(case):
    got = show_json(VECTORS / case["report_file"])
    assert got["type"] == "sev-snp"
    assert subset_mismatches(case["parsed"], got["report"]) == []
    assert got["debug"] == bool(int(case["parsed"]["policy"], 16) >> 19 & 1)


@needs_vectors
def test_show_human_readable_names_fields():
    r = ward("evidence", "show", VECTORS / "sgx" / "qvl_sgx_quote.bin")
    assert r.returncode == 0
    assert "MRENCLAVE              33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb" in r.stdout
    assert "debug enclave          no" in r.stdout
    r = ward("evidence", "show", VECTORS / "snp" / "gosev_attestation.bin")
    assert r.returncode == 0
    assert "debug ALLOWED" in r.stdout


@needs_vectors
def test_debug_td_flagged():
    got = show_json(VECTORS / "tdx" / "trustee_tdx_quote_4.dat")
    assert got["debug"] is True


@needs_vectors
@pytest.mark.parametrize("name,cut,msg", [
    ("sgx/qvl_sgx_quote.bin", 40, "quote header: truncated"),
    ("sgx/qvl_sgx_quote.bin", 300, "quote body: truncated"),
    ("sgx/qvl_sgx_quote.bin", 4599, "signature data: truncated (4164 bytes declared, 4163 present)"),
    ("tdx/gotdx_quote_v5_sample.dat", 1000, "signature data: truncated"),
    ("snp/gosev_attestation.bin", 1183, "SEV-SNP report: truncated (1183 bytes, need 1184)"),
])
def test_truncated_input_is_an_error(tmp, name, cut, msg):
    data = (VECTORS / name).read_bytes()[:cut]
    f = tmp / "cut.bin"
    f.write_bytes(data)
    r = ward("evidence", "show", f)
    assert r.returncode == 1
    lines = one_line(r.stderr)
    assert len(lines) == 1 and msg in lines[0], r.stderr


@needs_vectors
def test_oversized_snp_report_is_an_error(tmp):
    f = tmp / "big.bin"
    f.write_bytes((VECTORS / "snp" / "gosev_attestation.bin").read_bytes() + b"\0")
    r = ward("evidence", "show", f)
    assert r.returncode == 1
    assert "SEV-SNP report: 1185 bytes, a report is exactly 1184" in r.stderr


@needs_vectors
def test_inconsistent_lengths_are_errors(tmp):
    q = bytearray((VECTORS / "sgx" / "qvl_sgx_quote.bin").read_bytes())
    # QE auth data length points past the signature data
    q[0x3F4:0x3F6] = (0xFFFF).to_bytes(2, "little")
    f = tmp / "q.bin"
    f.write_bytes(bytes(q))
    r = ward("evidence", "show", f)
    assert r.returncode == 1
    assert "QE authentication data: length 65535 exceeds the data left" in r.stderr
    q = bytearray((VECTORS / "tdx" / "gotdx_quote_v5_sample.dat").read_bytes())
    q[0x30:0x32] = (2).to_bytes(2, "little")  # body type 2 with the 1.5 size
    f.write_bytes(bytes(q))
    r = ward("evidence", "show", f)
    assert r.returncode == 1
    assert "quote body: size 648 does not match body type 2 (584)" in r.stderr


def test_garbage_and_missing_file(tmp):
    f = tmp / "g.bin"
    f.write_bytes(b"\x07\x00\x02\x00" + b"\xaa" * 100)
    r = ward("evidence", "show", f)
    assert r.returncode == 1
    assert one_line(r.stderr) == [f"ward: cannot read evidence {f}: evidence: not an SGX/TDX quote (version 7) nor an SEV-SNP report"]
    r = ward("evidence", "show", tmp / "nope.bin")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    f.write_text("abc")
    r = ward("evidence", "show", f)
    assert r.returncode == 1 and "hex input has an odd number of digits" in r.stderr


def test_usage_errors():
    r = ward("evidence", "show")
    assert r.returncode == 2 and "no evidence file given" in r.stderr
    r = ward("evidence", "frobnicate")
    assert r.returncode == 2
    r = ward("evidence", "--help")
    assert r.returncode == 0 and "ward evidence verify" in r.stdout
