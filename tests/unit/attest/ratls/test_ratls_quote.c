/*
 * test_ratls_quote.c: RA-TLS reads hardware evidence through the evidence
 * parser of src/attest/quote/. A truncated or malformed quote (or SNP
 * report) fails on every RA-TLS path, minting (ward_ratls_cert_create),
 * reading (ward_ratls_parse, what `ward ratls show` prints) and verifying
 * (the evidence_format check), with the parser's own reason word for word;
 * the well-formed quote they are cut from passes. Synthetic evidence: no
 * test vectors needed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "attest/quote/evidence.h"
#include "attest/ratls/ratls.h"
#include "attest/ratls/ratls_dice.h"
#include "attest/ratls/ratls_verify.h"
#include "../../test.h"

#define SIG_LEN 16 /* signature data: too short to verify, long enough to read the claims */
#define QUOTE_LEN (48 + 384 + 4 + SIG_LEN)
#define SNP_LEN 1184

static EVP_PKEY *key;
static uint8_t *claims;
static size_t claims_len;
static uint8_t quote[QUOTE_LEN], snp[SNP_LEN];

/* An SGX v3 quote and an SNP v2 report carrying the report data that binds key. */
static void make_evidence(void)
{
	uint8_t rd[64];
	char err[200];

	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CHECK(key != NULL);
	CHECK(ward_ratls_claims(key, NULL, 0, &claims, &claims_len, rd, err, sizeof(err)) == 0);
	quote[0] = 3;                     /* version */
	quote[2] = 2;                     /* ECDSA P-256 */
	memcpy(quote + 48 + 0x140, rd, 64);
	quote[48 + 384] = SIG_LEN;        /* signature data length */
	snp[0] = 2;                       /* version */
	snp[0x34] = 1;                    /* ECDSA P-384 */
	memcpy(snp + 0x50, rd, 64);
}

/* A certificate for key carrying ev (tagged tag) in its DICE extension, as
 * a damaged or forged certificate arrives: ward_ratls_cert_create would
 * refuse to mint it. */
static X509 *cert_with(uint64_t tag, const uint8_t *ev, size_t n)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_OBJECT *obj = OBJ_txt2obj("2.23.133.5.4.9", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *xe = NULL;
	uint8_t *ext = NULL;
	size_t extlen = 0;
	char err[200];

	CHECK(ward_dice_encode(tag, ev, n, claims, claims_len, &ext, &extlen, err, sizeof(err)) == 0);
	CHECK(x && name && obj && os && ext);
	CHECK(X509_set_version(x, X509_VERSION_3) == 1);
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"t", -1, -1, 0) == 1);
	CHECK(X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1);
	CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL);
	CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	CHECK(X509_set_pubkey(x, key) == 1);
	CHECK(ASN1_OCTET_STRING_set(os, ext, (int)extlen) == 1);
	xe = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	CHECK(xe != NULL && X509_add_ext(x, xe, -1) == 1);
	CHECK(X509_sign(x, key, EVP_sha256()) > 0);
	X509_EXTENSION_free(xe);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	X509_NAME_free(name);
	free(ext);
	return x;
}

/* ev must fail on every path with want_dcap (the reason of the Intel
 * reader; of the SNP reader when snp is set) and want_any (the reason when
 * the kind is told from the first bytes, as minting does). */
static void refused(const char *what, const uint8_t *ev, size_t n, int is_snp, const char *want_dcap,
		    const char *want_any)
{
	struct ward_evidence_claims c;
	struct ward_ratls_cert *rc = NULL;
	struct ward_ratls_verdict *v = calloc(1, sizeof(*v));
	struct ward_ratls_verify_opts o = { .measurement = quote + 48 + 0x40, .measurement_len = 32 };
	uint8_t *cut = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
	char err[400], want[400];
	X509 *x = NULL;
	int ok = 1;

	memcpy(cut, ev, n);
	/* the parser itself */
	if (ward_evidence_parse_claims(cut, n, is_snp ? WARD_CLAIMS_SNP : WARD_CLAIMS_DCAP, &c, err,
				       sizeof(err)) != -1 || strcmp(err, want_dcap) != 0)
		ok = 0, fprintf(stderr, "%s: parser said '%s', expected '%s'\n", what, err, want_dcap);
	/* minting */
	snprintf(want, sizeof(want), "evidence is neither simulation evidence, an Intel quote nor an SNP report: %s",
		 want_any);
	if (ward_ratls_cert_create(key, cut, n, claims, claims_len, "t", 1, &x, err, sizeof(err)) != -1 ||
	    strcmp(err, want) != 0)
		ok = 0, fprintf(stderr, "%s: minting said '%s', expected '%s'\n", what, err, want);
	X509_free(x);
	/* reading, then verifying */
	x = cert_with(is_snp ? WARD_CBOR_TAG_SNP : WARD_CBOR_TAG_INTEL_QUOTE, cut, n);
	if (ward_ratls_parse(x, &rc, err, sizeof(err)) != 0) {
		ok = 0, fprintf(stderr, "%s: certificate not read: %s\n", what, err);
	} else {
		if (rc->n != 1 || rc->ev[0].parsed || strcmp(rc->ev[0].parse_error, want_dcap) != 0)
			ok = 0, fprintf(stderr, "%s: reading said '%s', expected '%s'\n", what,
					rc->ev[0].parse_error, want_dcap);
		snprintf(want, sizeof(want), "evidence_format: %s", want_dcap);
		if (ward_ratls_verify(rc, &o, v, err, sizeof(err)) != -1 || strcmp(err, want) != 0)
			ok = 0, fprintf(stderr, "%s: verifying said '%s', expected '%s'\n", what, err, want);
	}
	CHECK(ok);
	ward_ratls_cert_free(rc);
	free(cut);
	free(v);
}

static void well_formed(void)
{
	struct ward_ratls_cert *rc = NULL;
	struct ward_ratls_verdict *v = calloc(1, sizeof(*v));
	struct ward_ratls_verify_opts o = { .measurement = quote + 48 + 0x40, .measurement_len = 32,
					    .no_collateral = 1 };
	char err[400];
	X509 *x = NULL;

	CHECK(ward_ratls_cert_create(key, quote, sizeof(quote), claims, claims_len, "t", 1, &x, err,
				     sizeof(err)) == 0);
	CHECK(ward_ratls_parse(x, &rc, err, sizeof(err)) == 0);
	if (rc != NULL) {
		CHECK(rc->n == 1 && rc->ev[0].parsed && rc->ev[0].fields.kind == WARD_QF_SGX);
		CHECK(rc->ev[0].fields.quote_len == sizeof(quote) && rc->ev[0].rule == WARD_RATLS_RULE_DICE_CLAIMS);
		/* read, bound; refused only where the hardware verifier starts */
		CHECK(ward_ratls_verify(rc, &o, v, err, sizeof(err)) == -1);
		CHECK(strncmp(err, "evidence_signature: ", 20) == 0);
	}
	ward_ratls_cert_free(rc);
	x = cert_with(WARD_CBOR_TAG_SNP, snp, sizeof(snp));
	rc = NULL;
	CHECK(ward_ratls_parse(x, &rc, err, sizeof(err)) == 0);
	if (rc != NULL)
		CHECK(rc->n == 1 && rc->ev[0].parsed && rc->ev[0].fields.kind == WARD_QF_SNP &&
		      rc->ev[0].rule == WARD_RATLS_RULE_DICE_CLAIMS);
	ward_ratls_cert_free(rc);
	free(v);
}

int main(void)
{
	uint8_t bad[QUOTE_LEN];

	make_evidence();
	well_formed();

	refused("header cut", quote, 40, 0, "quote header: truncated (40 bytes, need 48)",
		"quote header: truncated (40 bytes, need 48)");
	refused("body cut", quote, 48 + 100, 0, "quote body: truncated (100 bytes left, need 384)",
		"quote body: truncated (100 bytes left, need 384)");
	refused("signature data length cut", quote, 48 + 384 + 2, 0, "signature data length: truncated",
		"signature data length: truncated");
	refused("signature data cut", quote, QUOTE_LEN - 1, 0,
		"signature data: truncated (16 bytes declared, 15 present)",
		"signature data: truncated (16 bytes declared, 15 present)");
	memcpy(bad, quote, sizeof(bad));
	bad[0] = 6;
	refused("version 6", bad, sizeof(bad), 0, "quote header: unsupported version 6 (3, 4 and 5 are known)",
		"evidence: not an SGX/TDX quote (version 6) nor an SEV-SNP report");
	memcpy(bad, quote, sizeof(bad));
	bad[0] = 4, bad[4] = 0x42;
	refused("TEE type", bad, sizeof(bad), 0, "quote header: unknown TEE type 0x42",
		"quote header: unknown TEE type 0x42");
	memcpy(bad, quote, sizeof(bad));
	bad[2] = 1;
	refused("EPID key", bad, sizeof(bad), 0,
		"quote header: attestation key type 1 is not ECDSA P-256 (2) nor P-384 (3)",
		"quote header: attestation key type 1 is not ECDSA P-256 (2) nor P-384 (3)");
	refused("SNP report cut", snp, 1000, 1, "SEV-SNP report: truncated (1000 bytes, need 1184)",
		"SEV-SNP report: truncated (1000 bytes, need 1184)");

	EVP_PKEY_free(key);
	free(claims);
	return TEST_DONE();
}
