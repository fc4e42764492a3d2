/*
 * ratls_cert.c: reading RA-TLS certificates (see ratls.h, docs/ratls.md).
 * Extensions are recognised by the raw bytes of their OID content, because
 * Gramine writes the whole OID TLV as the OID content (pitfall 1 of the
 * test vectors); unknown extensions are ignored.
 */
#include "attest/ratls/ratls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "attest/ratls/ratls_dice.h"
#include "attest/ratls/ratls_internal.h"
#include "core/crypto.h"
#include "core/util.h"

static const uint8_t oid_dice[] = { 0x67, 0x81, 0x05, 0x05, 0x04, 0x09 };
static const uint8_t oid_sgx_quote[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_gramine_legacy[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
					      0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_sgx_prefix[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39 };
static const uint8_t oid_oe[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x69, 0x01 };
static const uint8_t oid_dstack[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xe7, 0x3d, 0x01, 0x01 };
static const uint8_t oid_ns_comment[] = { 0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x01, 0x0d };

void ward_ratls_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
#define seterr ward_ratls_seterr

int ward_ratls_load_file(const char *path, X509 **out, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	X509 *x = NULL;

	if (ward_read_file(path, WARD_RATLS_CERT_MAX, &buf, &len) != 0) {
		seterr(err, errlen, "cannot read certificate %s: %s", path,
		       errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		return -1;
	}
	if (len > 0 && buf[0] != 0x30) { /* not a DER SEQUENCE: PEM text */
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if (bio != NULL)
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		const unsigned char *p = buf;
		x = d2i_X509(NULL, &p, (long)len);
		if (x != NULL && p != buf + len) {
			X509_free(x);
			x = NULL;
			free(buf);
			seterr(err, errlen, "certificate %s has trailing bytes after its DER encoding",
			       path);
			ERR_clear_error();
			return -1;
		}
	}
	free(buf);
	ERR_clear_error();
	if (x == NULL) {
		seterr(err, errlen, "%s is not an X.509 certificate (PEM or DER)", path);
		return -1;
	}
	*out = x;
	return 0;
}

const char *ward_ratls_ext_name(enum ward_ratls_ext e)
{
	switch (e) {
	case WARD_RATLS_EXT_DICE:
		return "TCG DICE tagged evidence";
	case WARD_RATLS_EXT_SGX_QUOTE:
		return "SGX quote extension";
	case WARD_RATLS_EXT_GRAMINE_LEGACY:
		return "Gramine legacy SGX quote extension (malformed OID encoding)";
	case WARD_RATLS_EXT_OPEN_ENCLAVE:
		return "Open Enclave evidence";
	case WARD_RATLS_EXT_DSTACK:
		return "dstack TDX quote";
	case WARD_RATLS_EXT_IAS_COMMENT:
		return "Intel IAS report in a Netscape comment";
	case WARD_RATLS_EXT_INTEL_COLLATERAL:
		return "sgx-ra-tls collateral";
	}
	return "unknown";
}

const char *ward_ratls_rule_name(enum ward_ratls_rule r)
{
	switch (r) {
	case WARD_RATLS_RULE_NONE:
		return "none";
	case WARD_RATLS_RULE_SPKI_DER_SHA256:
		return "spki_der_sha256";
	case WARD_RATLS_RULE_EC_POINT_SHA256:
		return "ec_point_04xy_sha256";
	case WARD_RATLS_RULE_RSA_PKCS1_SHA256:
		return "rsa_pkcs1_der_sha256";
	case WARD_RATLS_RULE_SPKI_PEM_NUL_SHA256:
		return "spki_pem_nul_sha256";
	case WARD_RATLS_RULE_EC_POINT_SHA512:
		return "ec_point_04xy_sha512";
	case WARD_RATLS_RULE_DICE_CLAIMS:
		return "dice_claims";
	}
	return "unknown";
}

const char *ward_ratls_rule_text(enum ward_ratls_rule r)
{
	switch (r) {
	case WARD_RATLS_RULE_NONE:
		return "report data is not a hash of this certificate's key";
	case WARD_RATLS_RULE_SPKI_DER_SHA256:
		return "report_data[0:32] = SHA-256(DER SubjectPublicKeyInfo) (Gramine)";
	case WARD_RATLS_RULE_EC_POINT_SHA256:
		return "report_data[0:32] = SHA-256(uncompressed EC point 04||X||Y) (Cosmian MSE)";
	case WARD_RATLS_RULE_RSA_PKCS1_SHA256:
		return "report_data[0:32] = SHA-256(DER PKCS#1 RSAPublicKey) (rats-tls Enclave TLS)";
	case WARD_RATLS_RULE_SPKI_PEM_NUL_SHA256:
		return "report_data[0:32] = SHA-256(PEM SubjectPublicKeyInfo + NUL) (Open Enclave)";
	case WARD_RATLS_RULE_EC_POINT_SHA512:
		return "report_data = SHA-512(uncompressed EC point 04||X||Y) (dstack)";
	case WARD_RATLS_RULE_DICE_CLAIMS:
		return "report_data[0:32] = SHA-256(claims buffer), claims pubkey-hash = hash(DER SubjectPublicKeyInfo) (interoperable RA-TLS)";
	}
	return "unknown";
}

const char *ward_ratls_evtype_name(const struct ward_ratls_evidence *e)
{
	switch (e->type) {
	case WARD_RATLS_EV_INTEL_QUOTE:
		if (!e->parsed)
			return "intel-quote";
		return e->fields.kind == WARD_QF_TDX ? "tdx-quote" : "sgx-quote";
	case WARD_RATLS_EV_SNP_REPORT:
		return "snp-report";
	case WARD_RATLS_EV_SIM:
		return "simulation";
	case WARD_RATLS_EV_IAS_REPORT:
		return "epid-ias-report";
	case WARD_RATLS_EV_COLLATERAL:
		return "collateral";
	}
	return "unknown";
}

static int oid_is(const uint8_t *d, size_t n, const uint8_t *want, size_t wn)
{
	return n == wn && memcmp(d, want, n) == 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d != NULL)
		memcpy(d, p, n);
	return d;
}

/* Reads the hardware or sim fields of e->evidence; records a parse error. */
static void parse_payload(struct ward_ratls_evidence *e)
{
	char err[200] = "";
	int r;

	if (e->type == WARD_RATLS_EV_SIM) {
		r = ward_sim_evidence_verify(e->evidence, e->evidence_len, NULL, &e->sim, err,
					     sizeof(err));
		if (r == 0)
			memcpy(e->report_data, e->sim.report_data, 64);
	} else {
		r = ward_qf_parse(e->evidence, e->evidence_len,
				  e->type == WARD_RATLS_EV_SNP_REPORT ? WARD_CLAIMS_SNP : WARD_CLAIMS_DCAP,
				  &e->fields, err, sizeof(err));
		if (r == 0)
			memcpy(e->report_data, e->fields.report_data, 64);
	}
	if (r == 0)
		e->parsed = 1;
	else
		ward_strlcpy(e->parse_error, err, sizeof(e->parse_error));
}

static void parse_dice(struct ward_ratls_evidence *e, const uint8_t *v, size_t n)
{
	char err[200];
	struct ward_dice_claims dc;

	if (ward_dice_decode(v, n, &e->cbor_tag, &e->evidence, &e->evidence_len, &e->claims,
			     &e->claims_len, err, sizeof(err)) != 0) {
		ward_strlcpy(e->parse_error, err, sizeof(e->parse_error));
		e->type = WARD_RATLS_EV_INTEL_QUOTE;
		return;
	}
	if (e->cbor_tag == WARD_CBOR_TAG_INTEL_QUOTE)
		e->type = WARD_RATLS_EV_INTEL_QUOTE;
	else if (e->cbor_tag == WARD_CBOR_TAG_SIM)
		e->type = WARD_RATLS_EV_SIM;
	else if (e->cbor_tag == WARD_CBOR_TAG_SNP)
		e->type = WARD_RATLS_EV_SNP_REPORT;
	else {
		snprintf(e->parse_error, sizeof(e->parse_error),
			 "DICE evidence CBOR tag %llu is not one Ward knows (60000 Intel quote, %u sim, %u SNP)",
			 (unsigned long long)e->cbor_tag, WARD_CBOR_TAG_SIM, WARD_CBOR_TAG_SNP);
		return;
	}
	if (ward_dice_claims_decode(e->claims, e->claims_len, &dc, err, sizeof(err)) != 0) {
		ward_strlcpy(e->parse_error, err, sizeof(e->parse_error));
		return;
	}
	e->has_pubkey_hash = dc.has_pubkey_hash;
	e->pubkey_hash_alg = dc.alg;
	memcpy(e->pubkey_hash, dc.hash, sizeof(e->pubkey_hash));
	e->pubkey_hash_len = dc.hash_len;
	e->nonce = dc.nonce; /* transferred */
	e->nonce_len = dc.nonce_len;
	e->other_claims = dc.other;
	parse_payload(e);
}

/* Open Enclave: u32 version 1, u32 report type, u64 report size, report. */
static void parse_oe(struct ward_ratls_evidence *e, const uint8_t *v, size_t n)
{
	uint64_t size = 0;

	e->type = WARD_RATLS_EV_INTEL_QUOTE;
	if (n < 16) {
		ward_strlcpy(e->parse_error, "Open Enclave evidence shorter than its 16-byte header",
			     sizeof(e->parse_error));
		return;
	}
	for (int i = 7; i >= 0; i--)
		size = (size << 8) | v[8 + i];
	if (v[0] != 1 || v[1] | v[2] | v[3] || size != n - 16) {
		ward_strlcpy(e->parse_error,
			     "Open Enclave evidence header is not version 1 with the report size",
			     sizeof(e->parse_error));
		return;
	}
	e->evidence = dup_bytes(v + 16, n - 16);
	e->evidence_len = n - 16;
	if (e->evidence == NULL) {
		ward_strlcpy(e->parse_error, "out of memory", sizeof(e->parse_error));
		return;
	}
	parse_payload(e);
}

/* dstack wraps the quote in a DER OCTET STRING inside extnValue. */
static void parse_dstack(struct ward_ratls_evidence *e, const uint8_t *v, size_t n)
{
	const unsigned char *p = v;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)n);

	e->type = WARD_RATLS_EV_INTEL_QUOTE;
	if (os == NULL || p != v + n) {
		ward_strlcpy(e->parse_error, "dstack evidence is not one DER OCTET STRING",
			     sizeof(e->parse_error));
		ASN1_OCTET_STRING_free(os);
		ERR_clear_error();
		return;
	}
	e->evidence_len = (size_t)ASN1_STRING_length(os);
	e->evidence = dup_bytes(ASN1_STRING_get0_data(os), e->evidence_len);
	ASN1_OCTET_STRING_free(os);
	if (e->evidence == NULL) {
		ward_strlcpy(e->parse_error, "out of memory", sizeof(e->parse_error));
		return;
	}
	parse_payload(e);
}

static void parse_raw_quote(struct ward_ratls_evidence *e, const uint8_t *v, size_t n)
{
	e->type = WARD_RATLS_EV_INTEL_QUOTE;
	e->evidence = dup_bytes(v, n);
	e->evidence_len = n;
	if (e->evidence == NULL) {
		ward_strlcpy(e->parse_error, "out of memory", sizeof(e->parse_error));
		return;
	}
	parse_payload(e);
}

/* Candidate hashes of the certificate key, tried in a fixed order. */
static void find_binding(const struct ward_ratls_keyforms *k, struct ward_ratls_evidence *e)
{
	const uint8_t *rd = e->report_data;
	uint8_t h[64];

	e->rule = WARD_RATLS_RULE_NONE;
	if (!e->parsed)
		return;
	if (e->claims != NULL) {
		uint8_t want[64];
		size_t wl = 0;
		if (ward_sha256(e->claims, e->claims_len, h) == 0 && ward_ct_equal(h, rd, 32))
			e->report_data_binds_claims = 1;
		if (e->has_pubkey_hash &&
		    ward_ratls_hash_alg(e->pubkey_hash_alg, k->spki_der, k->spki_der_len, want, &wl) == 0 &&
		    wl == e->pubkey_hash_len && ward_ct_equal(want, e->pubkey_hash, wl))
			e->pubkey_hash_matches = 1;
		if (e->report_data_binds_claims && e->pubkey_hash_matches)
			e->rule = WARD_RATLS_RULE_DICE_CLAIMS;
		e->report_data_rest_zero = 1;
		for (int i = 32; i < 64; i++)
			if (rd[i])
				e->report_data_rest_zero = 0;
		return;
	}
	struct {
		enum ward_ratls_rule rule;
		const uint8_t *in;
		size_t len;
		int sha512;
	} cand[] = {
		{ WARD_RATLS_RULE_SPKI_DER_SHA256, k->spki_der, k->spki_der_len, 0 },
		{ WARD_RATLS_RULE_EC_POINT_SHA256, k->ec_point, k->ec_point_len, 0 },
		{ WARD_RATLS_RULE_RSA_PKCS1_SHA256, k->rsa_pkcs1, k->rsa_pkcs1_len, 0 },
		{ WARD_RATLS_RULE_SPKI_PEM_NUL_SHA256, k->spki_pem_nul, k->spki_pem_nul_len, 0 },
		{ WARD_RATLS_RULE_EC_POINT_SHA512, k->ec_point, k->ec_point_len, 1 },
	};
	for (size_t i = 0; i < WARD_ARRAY_LEN(cand); i++) {
		size_t hl = 0;
		if (cand[i].in == NULL)
			continue;
		if (ward_ratls_hash_alg(cand[i].sha512 ? 8 : 1, cand[i].in, cand[i].len, h, &hl) != 0)
			continue;
		if (ward_ct_equal(h, rd, hl)) {
			e->rule = cand[i].rule;
			e->report_data_rest_zero = 1;
			for (size_t j = hl; j < 64; j++)
				if (rd[j])
					e->report_data_rest_zero = 0;
			return;
		}
	}
}

static void evidence_free(struct ward_ratls_evidence *e)
{
	free(e->evidence);
	free(e->claims);
	free(e->nonce);
	X509_free(e->ias_signing_cert);
}

void ward_ratls_cert_free(struct ward_ratls_cert *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		evidence_free(&c->ev[i]);
	X509_free(c->x509);
	free(c);
}

int ward_ratls_parse(X509 *x, struct ward_ratls_cert **out, char *err, size_t errlen)
{
	struct ward_ratls_cert *c = calloc(1, sizeof(*c));
	struct ward_ratls_keyforms k;
	EVP_PKEY *pub;
	int ret = -1;

	memset(&k, 0, sizeof(k));
	if (c == NULL) {
		X509_free(x);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	c->x509 = x; /* transferred */
	pub = X509_get0_pubkey(x);
	if (pub == NULL || ward_ratls_keyforms(x, &k) != 0) {
		seterr(err, errlen, "certificate public key cannot be read");
		goto out;
	}
	if (ward_sha256(k.spki_der, k.spki_der_len, c->spki_sha256) != 0) {
		seterr(err, errlen, "cannot hash the certificate public key");
		goto out;
	}
	c->self_signed = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
	c->self_signature_ok = X509_verify(x, pub) == 1;

	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *ext = X509_get_ext(x, i);
		const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
		const ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(ext);
		const uint8_t *od = OBJ_get0_data(obj);
		size_t on = OBJ_length(obj);
		const uint8_t *v = ASN1_STRING_get0_data(os);
		size_t vn = (size_t)ASN1_STRING_length(os);
		enum ward_ratls_ext kind;
		int coll = 0;

		if (od == NULL)
			continue;
		if (oid_is(od, on, oid_dice, sizeof(oid_dice)))
			kind = WARD_RATLS_EXT_DICE;
		else if (oid_is(od, on, oid_sgx_quote, sizeof(oid_sgx_quote)))
			kind = WARD_RATLS_EXT_SGX_QUOTE;
		else if (oid_is(od, on, oid_gramine_legacy, sizeof(oid_gramine_legacy)))
			kind = WARD_RATLS_EXT_GRAMINE_LEGACY;
		else if (oid_is(od, on, oid_oe, sizeof(oid_oe)))
			kind = WARD_RATLS_EXT_OPEN_ENCLAVE;
		else if (oid_is(od, on, oid_dstack, sizeof(oid_dstack)))
			kind = WARD_RATLS_EXT_DSTACK;
		else if (oid_is(od, on, oid_ns_comment, sizeof(oid_ns_comment)) && vn > 0 && v[0] == '{')
			kind = WARD_RATLS_EXT_IAS_COMMENT;
		else if (on == sizeof(oid_sgx_prefix) + 1 &&
			 memcmp(od, oid_sgx_prefix, sizeof(oid_sgx_prefix)) == 0 && od[on - 1] >= 7 &&
			 od[on - 1] <= 10) {
			kind = WARD_RATLS_EXT_INTEL_COLLATERAL;
			coll = od[on - 1];
		} else
			continue;
		if (c->n == WARD_RATLS_MAX_EVIDENCE) {
			seterr(err, errlen, "certificate has more than %d evidence extensions",
			       WARD_RATLS_MAX_EVIDENCE);
			goto out;
		}
		struct ward_ratls_evidence *e = &c->ev[c->n++];
		e->ext = kind;
		e->collateral_index = coll;
		OBJ_obj2txt(e->oid, sizeof(e->oid), obj, 1);
		if (on + 2 <= sizeof(e->oid_tlv) && on < 128) {
			e->oid_tlv[0] = 0x06;
			e->oid_tlv[1] = (uint8_t)on;
			memcpy(e->oid_tlv + 2, od, on);
			e->oid_tlv_len = on + 2;
		}
		switch (kind) {
		case WARD_RATLS_EXT_DICE:
			parse_dice(e, v, vn);
			break;
		case WARD_RATLS_EXT_SGX_QUOTE:
		case WARD_RATLS_EXT_GRAMINE_LEGACY:
			parse_raw_quote(e, v, vn);
			break;
		case WARD_RATLS_EXT_OPEN_ENCLAVE:
			parse_oe(e, v, vn);
			break;
		case WARD_RATLS_EXT_DSTACK:
			parse_dstack(e, v, vn);
			break;
		case WARD_RATLS_EXT_IAS_COMMENT:
			e->type = WARD_RATLS_EV_IAS_REPORT;
			ward_ratls_parse_ias(e, v, vn);
			break;
		case WARD_RATLS_EXT_INTEL_COLLATERAL:
			e->type = WARD_RATLS_EV_COLLATERAL;
			e->evidence = dup_bytes(v, vn);
			e->evidence_len = vn;
			e->parsed = e->evidence != NULL;
			break;
		}
		if (e->type != WARD_RATLS_EV_COLLATERAL)
			find_binding(&k, e);
	}
	if (c->n == 0) {
		seterr(err, errlen,
		       "certificate carries no attestation evidence (no DICE, SGX quote, Open Enclave or IAS extension)");
		goto out;
	}
	*out = c;
	c = NULL; /* transferred */
	ret = 0;
out:
	ward_ratls_keyforms_free(&k);
	ward_ratls_cert_free(c);
	ERR_clear_error();
	return ret;
}
