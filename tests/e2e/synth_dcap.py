"""A synthetic Intel DCAP PKI and SGX v3 quote, generated at test time with
OpenSSL (through Python's `cryptography`), for what real samples cannot
show: revoked certificates. No real CRL lists a certificate of any public
sample, and a revocation cannot be forged without Intel's keys, so the
tests build their own hierarchy with Intel's names and hand its root to
`ward evidence verify --root`:

    "Intel SGX Root CA" (self-signed, P-256)
     |- "Intel SGX PCK Platform CA"   (root CA CRL)
     |    `- "Intel SGX PCK Certificate" with the SGX extension  (PCK CRL)
     |          `- signs the QE report; the attestation key signs the quote
     `- "Intel SGX TCB Signing" signs the TCB info and QE identity

build(tmp, revoke=...) writes quote.bin, root.der and the collateral (as
dcap-qvl JSON and as a PCS directory) and returns their paths. Only test
data is built here; nothing in Ward uses this module.
"""
import datetime
import hashlib
import json
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

AT = "2025-06-01T00:00:00Z"
NOW = datetime.datetime(2025, 6, 1)
INTEL_QE_VENDOR = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
SGX_EXT = "1.2.840.113741.1.13.1"
FMSPC = bytes.fromhex("00906ed50000")
PCEID = b"\x00\x00"
QE_MRSIGNER = bytes(range(32))


# --- minimal DER writer for the SGX extension value (test data only) ---
def _tlv(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def _oid(dotted):
    p = [int(x) for x in dotted.split(".")]
    out = bytes([40 * p[0] + p[1]])
    for v in p[2:]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.insert(0, 0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(enc)
    return _tlv(0x06, out)


def _int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")
    return _tlv(0x02, b)


def _seq(*items):
    return _tlv(0x30, b"".join(items))


def _pair(suffix, value):
    return _seq(_oid(SGX_EXT + suffix), value)


def sgx_extension(comp_svn, pcesvn, cpusvn=bytes(16), ppid=bytes(range(16))):
    tcb = [_pair(".2.%d" % (i + 1), _int(comp_svn[i])) for i in range(16)]
    tcb += [_pair(".2.17", _int(pcesvn)), _pair(".2.18", _tlv(0x04, cpusvn))]
    return _seq(_pair(".1", _tlv(0x04, ppid)), _pair(".2", _seq(*tcb)), _pair(".3", _tlv(0x04, PCEID)),
                _pair(".4", _tlv(0x04, FMSPC)), _pair(".5", _tlv(0x0A, b"\x00")))


# --- PKI ---
def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ward test PKI (not Intel)"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])


def _cert(cn, key, issuer_cert, issuer_key, ca, extra=None, serial=None):
    b = (x509.CertificateBuilder()
         .subject_name(_name(cn))
         .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
         .public_key(key.public_key())
         .serial_number(serial or x509.random_serial_number())
         .not_valid_before(datetime.datetime(2025, 1, 1))
         .not_valid_after(datetime.datetime(2030, 1, 1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer_cert else None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_cert:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    for e in extra or []:
        b = b.add_extension(e, critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def _crl(issuer_cert, signing_key, revoked_serials, last=datetime.datetime(2025, 5, 1),
         nxt=datetime.datetime(2025, 7, 1)):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer_cert.subject)
         .last_update(last).next_update(nxt))
    for s in revoked_serials:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(s)
                                      .revocation_date(datetime.datetime(2025, 4, 1)).build())
    return b.sign(signing_key, hashes.SHA256())


def _rs(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _report(mrenclave=bytes(32), mrsigner=bytes(32), attributes=bytes(16), isvprodid=0, isvsvn=0,
            report_data=bytes(64)):
    b = bytearray(384)
    b[48:64] = attributes
    b[64:96] = mrenclave
    b[128:160] = mrsigner
    b[256:258] = struct.pack("<H", isvprodid)
    b[258:260] = struct.pack("<H", isvsvn)
    b[320:384] = report_data
    return bytes(b)


def _tcb_info():
    return json.dumps({
        "id": "SGX", "version": 3, "issueDate": "2025-05-15T00:00:00Z", "nextUpdate": "2025-06-15T00:00:00Z",
        "fmspc": FMSPC.hex(), "pceId": PCEID.hex(), "tcbType": 0, "tcbEvaluationDataNumber": 17,
        "tcbLevels": [{"tcb": {"sgxtcbcomponents": [{"svn": 2}] * 16, "pcesvn": 13},
                       "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"}]},
        separators=(",", ":"))


def _qe_identity():
    return json.dumps({
        "id": "QE", "version": 2, "issueDate": "2025-05-15T00:00:00Z", "nextUpdate": "2025-06-15T00:00:00Z",
        "tcbEvaluationDataNumber": 17, "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000", "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": QE_MRSIGNER.hex().upper(), "isvprodid": 1,
        "tcbLevels": [{"tcb": {"isvsvn": 8}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": "UpToDate"}]},
        separators=(",", ":"))


def build(tmp, revoke=(), forged_pck_crl=False):
    """Writes the quote, root and collateral under tmp. revoke names the
    certificates the CRLs list: "pck" (in the PCK CRL), "intermediate" and
    "tcb_signing" (in the root CA CRL), "other" (an unrelated serial in
    both). forged_pck_crl: the PCK CRL is signed by the root key instead of
    the PCK Platform CA's. Returns a dict of paths."""
    k_root, k_inter, k_leaf, k_tcb, k_att = (ec.generate_private_key(ec.SECP256R1()) for _ in range(5))
    root = _cert("Intel SGX Root CA", k_root, None, None, True)
    inter = _cert("Intel SGX PCK Platform CA", k_inter, root, k_root, True)
    leaf = _cert("Intel SGX PCK Certificate", k_leaf, inter, k_inter, False,
                 [x509.UnrecognizedExtension(x509.ObjectIdentifier(SGX_EXT), sgx_extension([5] * 16, 13))])
    tcbsign = _cert("Intel SGX TCB Signing", k_tcb, root, k_root, False)

    other = 0x1234567
    root_revoked = [other] if "other" in revoke else []
    root_revoked += [inter.serial_number] if "intermediate" in revoke else []
    root_revoked += [tcbsign.serial_number] if "tcb_signing" in revoke else []
    pck_revoked = [other] if "other" in revoke else []
    pck_revoked += [leaf.serial_number] if "pck" in revoke else []
    root_crl = _crl(root, k_root, root_revoked)
    pck_crl = _crl(inter, k_root if forged_pck_crl else k_inter, pck_revoked)

    # quote: header || enclave report || signature data
    att = k_att.public_key().public_numbers()
    att_key = att.x.to_bytes(32, "big") + att.y.to_bytes(32, "big")
    auth = bytes(range(32))
    qe_report = _report(mrsigner=QE_MRSIGNER, attributes=bytes.fromhex("11" + "00" * 15), isvprodid=1, isvsvn=8,
                        report_data=hashlib.sha256(att_key + auth).digest() + bytes(32))
    header = struct.pack("<HHIHH", 3, 2, 0, 8, 13) + INTEL_QE_VENDOR + bytes(20)
    body = _report(mrenclave=b"\xaa" * 32, mrsigner=b"\xbb" * 32, attributes=bytes.fromhex("05" + "00" * 7 + "03" + "00" * 7),
                   isvprodid=1, isvsvn=1, report_data=b"ward synthetic".ljust(64, b"\0"))
    chain = _pem(leaf, inter, root) + b"\0"
    sig = (_rs(k_att, header + body) + att_key + qe_report + _rs(k_leaf, qe_report) + struct.pack("<H", len(auth)) + auth
           + struct.pack("<HI", 5, len(chain)) + chain)
    quote = header + body + struct.pack("<I", len(sig)) + sig

    tcb, qe = _tcb_info(), _qe_identity()
    tcb_sig, qe_sig = _rs(k_tcb, tcb.encode()).hex(), _rs(k_tcb, qe.encode()).hex()
    der = serialization.Encoding.DER
    paths = {"quote": tmp / "quote.bin", "root": tmp / "root.der", "json": tmp / "collateral.json", "dir": tmp / "pcs",
             "leaf_serial": leaf.serial_number, "inter_serial": inter.serial_number}
    paths["quote"].write_bytes(quote)
    paths["root"].write_bytes(root.public_bytes(der))
    paths["json"].write_text(json.dumps({
        "tcb_info_issuer_chain": _pem(tcbsign, root).decode(), "tcb_info": tcb, "tcb_info_signature": tcb_sig,
        "qe_identity_issuer_chain": _pem(tcbsign, root).decode(), "qe_identity": qe, "qe_identity_signature": qe_sig,
        "root_ca_crl": root_crl.public_bytes(der).hex(), "pck_crl": pck_crl.public_bytes(der).hex(),
        "pck_crl_issuer_chain": _pem(inter, root).decode()}))
    d = paths["dir"]
    d.mkdir()
    (d / "tcbinfo.json").write_text('{"tcbInfo":%s,"signature":"%s"}' % (tcb, tcb_sig))
    (d / "qeidentity.json").write_text('{"enclaveIdentity":%s,"signature":"%s"}' % (qe, qe_sig))
    (d / "rootca.crl").write_bytes(root_crl.public_bytes(der))
    (d / "pck.crl").write_bytes(pck_crl.public_bytes(serialization.Encoding.PEM))
    (d / "tcb_signing_chain.pem").write_bytes(_pem(tcbsign, root))
    return paths
