/*
 * ratls_create.c: minting RA-TLS certificates with the TCG DICE tagged
 * evidence extension (see ratls.h). Refuses to mint a certificate that its
 * own reader would not bind: the evidence's report data must start with
 * SHA-256(claims) and the claims' pubkey-hash must be the key's.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "attest/ratls/ratls_dice.h"
#include "attest/ratls/ratls_internal.h"
#include "core/crypto.h"

#define seterr ward_ratls_seterr

int ward_ratls_claims(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len, uint8_t **claims,
		      size_t *claims_len, uint8_t report_data[64], char *err, size_t errlen)
{
	struct ward_ratls_keyforms k;
	uint8_t h[32];
	uint8_t *c = NULL;
	size_t cl = 0;

	if (ward_ratls_keyforms_pkey(key, &k) != 0) {
		seterr(err, errlen, "cannot encode the public key");
		return -1;
	}
	int r = ward_sha256(k.spki_der, k.spki_der_len, h);
	ward_ratls_keyforms_free(&k);
	if (r != 0) {
		seterr(err, errlen, "cannot hash the public key");
		return -1;
	}
	if (ward_dice_claims_encode(1, h, 32, nonce, nonce_len, &c, &cl, err, errlen) != 0)
		return -1;
	if (ward_sha256(c, cl, report_data) != 0) {
		free(c);
		seterr(err, errlen, "cannot hash the claims");
		return -1;
	}
	memset(report_data + 32, 0, 32);
	*claims = c;
	*claims_len = cl;
	return 0;
}

/* The tag for the evidence, and its report data. */
static int classify(const uint8_t *ev, size_t len, uint64_t *tag, uint8_t rd[64], char *err,
		    size_t errlen)
{
	char e2[200];
	if (ward_sim_evidence_is(ev, len)) {
		struct ward_sim_claims sc;
		if (ward_sim_evidence_verify(ev, len, NULL, &sc, e2, sizeof(e2)) != 0) {
			seterr(err, errlen, "evidence refused: %s", e2);
			return -1;
		}
		memcpy(rd, sc.report_data, 64);
		*tag = WARD_CBOR_TAG_SIM;
		return 0;
	}
	struct ward_quote_fields f;
	if (ward_qf_parse(ev, len, WARD_CLAIMS_ANY, &f, e2, sizeof(e2)) != 0) {
		seterr(err, errlen, "evidence is neither simulation evidence, an Intel quote nor an SNP report: %s", e2);
		return -1;
	}
	memcpy(rd, f.report_data, 64);
	*tag = f.kind == WARD_QF_SNP ? WARD_CBOR_TAG_SNP : WARD_CBOR_TAG_INTEL_QUOTE;
	return 0;
}

int ward_ratls_cert_create(EVP_PKEY *key, const uint8_t *evidence, size_t evidence_len,
			   const uint8_t *claims, size_t claims_len, const char *cn, int days,
			   X509 **out, char *err, size_t errlen)
{
	uint8_t rd[64], h[32], serial[16];
	uint64_t tag;
	uint8_t *ext = NULL;
	size_t extlen = 0;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *xe = NULL;
	BIGNUM *bn = NULL;
	struct ward_dice_claims dc;
	struct ward_ratls_keyforms k;
	const EVP_MD *md;
	int ret = -1, id;

	memset(&dc, 0, sizeof(dc));
	memset(&k, 0, sizeof(k));
	if (days <= 0 || days > 3650) {
		seterr(err, errlen, "certificate validity of %d days is out of range (1..3650)", days);
		return -1;
	}
	if (classify(evidence, evidence_len, &tag, rd, err, errlen) != 0)
		return -1;
	if (ward_sha256(claims, claims_len, h) != 0 || !ward_ct_equal(h, rd, 32)) {
		seterr(err, errlen,
		       "evidence report data does not start with SHA-256 of the claims: produce the evidence with the report data from ward_ratls_claims()");
		return -1;
	}
	if (ward_dice_claims_decode(claims, claims_len, &dc, err, errlen) != 0)
		return -1;
	if (ward_ratls_keyforms_pkey(key, &k) != 0) {
		seterr(err, errlen, "cannot encode the public key");
		goto out;
	}
	{
		uint8_t want[64];
		size_t wl = 0;
		if (ward_ratls_hash_alg(dc.alg, k.spki_der, k.spki_der_len, want, &wl) != 0 ||
		    wl != dc.hash_len || !ward_ct_equal(want, dc.hash, wl)) {
			seterr(err, errlen, "claims pubkey-hash is not the hash of this key");
			goto out;
		}
	}
	if (ward_dice_encode(tag, evidence, evidence_len, claims, claims_len, &ext, &extlen, err,
			     errlen) != 0)
		goto out;

	x = X509_new();
	name = X509_NAME_new();
	obj = OBJ_txt2obj("2.23.133.5.4.9", 1);
	os = ASN1_OCTET_STRING_new();
	if (x == NULL || name == NULL || obj == NULL || os == NULL ||
	    ward_random(serial, sizeof(serial)) != 0)
		goto fail;
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)(cn ? cn : "ward-ratls"), -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	if (ASN1_OCTET_STRING_set(os, ext, (int)extlen) != 1)
		goto fail;
	xe = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (xe == NULL || X509_add_ext(x, xe, -1) != 1)
		goto fail;
	id = EVP_PKEY_get_base_id(key);
	md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
	if (X509_sign(x, key, md) <= 0)
		goto fail;
	*out = x;
	x = NULL; /* transferred */
	ret = 0;
	goto out;
fail:
	seterr(err, errlen, "cannot build the certificate (OpenSSL error; is the key usable for signing?)");
out:
	free(dc.nonce);
	free(ext);
	ward_ratls_keyforms_free(&k);
	BN_free(bn);
	X509_EXTENSION_free(xe);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	X509_NAME_free(name);
	X509_free(x);
	ERR_clear_error();
	return ret;
}

int ward_ratls_cert_create_sim(EVP_PKEY *key, const struct ward_sim_platform *p,
			       const uint8_t measurement[32], const uint8_t *nonce,
			       size_t nonce_len, const char *cn, int days, X509 **out, char *err,
			       size_t errlen)
{
	uint8_t rd[64], ev[WARD_SIM_EVIDENCE_LEN];
	uint8_t *claims = NULL;
	size_t claims_len = 0;
	int r;

	if (ward_ratls_claims(key, nonce, nonce_len, &claims, &claims_len, rd, err, errlen) != 0)
		return -1;
	r = ward_sim_evidence_create(p, measurement, rd, 0, ev, err, errlen);
	if (r == 0)
		r = ward_ratls_cert_create(key, ev, sizeof(ev), claims, claims_len, cn, days, out,
					   err, errlen);
	free(claims);
	return r;
}
