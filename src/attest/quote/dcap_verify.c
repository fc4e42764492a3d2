/*
 * dcap_verify.c: the trust chain of an Intel DCAP quote (docs/evidence.md,
 * "Verifying an SGX/TDX quote", steps 2-7):
 *
 *   pinned Intel SGX Root CA ── PCK Platform/Processor CA ── PCK cert
 *       │   (root CA CRL)              (PCK CRL)              │ signs
 *       └── TCB Signing cert ── TCB info, QE identity      QE report
 *                                          QE REPORTDATA = SHA-256(att key ‖ auth data)
 *                                          attestation key signs header ‖ body
 *
 * Every check is recorded, none short-circuits the others (a check whose
 * input is missing because an earlier one failed is recorded as failed
 * with that reason).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "attest/quote/anchors.h"
#include "attest/quote/collateral.h"
#include "attest/quote/pck.h"
#include "attest/quote/vcache.h"
#include "attest/quote/verify_internal.h"
#include "attest/quote/x509util.h"
#include "core/crypto.h"

static const uint8_t intel_qe_vendor[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
					     0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

/* Verifies cert (with the optional intermediate inter) up to root at time
 * at, through the cache: X509_verify_cert's outcome depends on the
 * certificates (by id), the store (the root, by id) and the time, and the
 * time only through each certificate's validity period, so a success is
 * remembered with the three certificates whose periods bound it.
 * Returns 0 or -1 with the OpenSSL reason in why. */
static int chain_to_root(struct ward_verify_cache *c, X509 *root, const uint8_t root_id[32], X509 *cert,
			 const uint8_t cert_id[32], X509 *inter, const uint8_t *inter_id, time_t at, char *why,
			 size_t whylen)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	uint8_t key[32];
	int rc = -1;

	if (c && ward_vcache_key(key, "x509-chain", root_id, (size_t)32, cert_id, (size_t)32,
				 inter ? (const void *)inter_id : (const void *)"", (size_t)(inter ? 32 : 0), (void *)NULL) != 0)
		c = NULL;
	if (c && ward_vcache_fact(c, key, at))
		return 0;
	st = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	untrusted = sk_X509_new_null();
	if (!st || !ctx || !untrusted || (inter && !sk_X509_push(untrusted, inter)) || X509_STORE_add_cert(st, root) != 1 ||
	    X509_STORE_CTX_init(ctx, st, cert, untrusted) != 1) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	X509_STORE_CTX_set_time(ctx, 0, at);
	if (X509_verify_cert(ctx) == 1) {
		X509 *timed[3] = { cert, inter, root };
		ward_vcache_put_fact(c, key, timed, 3);
		rc = 0;
	} else {
		int e = X509_STORE_CTX_get_error(ctx);
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		char cn[96] = "?";
		if (bad)
			ward_cert_cn(bad, cn, sizeof(cn));
		snprintf(why, whylen, "%s (certificate '%s')", X509_verify_cert_error_string(e), cn);
	}
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return rc;
}

static X509 *pinned_root;
static uint8_t pinned_root_id[32];
static pthread_once_t pinned_once = PTHREAD_ONCE_INIT;

static void pinned_init(void)
{
	const unsigned char *p = ward_intel_sgx_root_der;
	X509 *x = d2i_X509(NULL, &p, (long)ward_intel_sgx_root_der_len);
	if (x && (p != ward_intel_sgx_root_der + ward_intel_sgx_root_der_len || ward_x509_id(x, pinned_root_id) != 0)) {
		X509_free(x);
		x = NULL;
	}
	pinned_root = x;
	ERR_clear_error();
}

/* The trusted root (a new reference) and its id: the given one, or the
 * pinned Intel SGX Root CA, decoded once per process. */
static X509 *load_root(const struct ward_verify_opts *o, struct ward_verify_cache *c, struct ward_verify_result *r,
		       uint8_t id[32])
{
	char e[160];
	if (o->root_der) {
		uint8_t ids[17][32];
		STACK_OF(X509) *sk = ward_vcache_decode(c, 1, o->root_der, o->root_der_len, ids, e, sizeof(e));
		X509 *root = sk ? sk_X509_shift(sk) : NULL;
		sk_X509_pop_free(sk, X509_free);
		if (!root)
			ward_check(r, "pck_chain", WARD_CHECK_FAIL, "the given root certificate: %s", e);
		else
			memcpy(id, ids[0], 32);
		return root;
	}
	pthread_once(&pinned_once, pinned_init);
	if (!pinned_root || X509_up_ref(pinned_root) != 1) {
		ward_check(r, "pck_chain", WARD_CHECK_FAIL, "pinned root does not decode");
		return NULL;
	}
	memcpy(id, pinned_root_id, 32);
	return pinned_root;
}

/* CRL signed by issuer, current at `at`, not listing any of certs. */
static void check_crl(struct ward_verify_result *r, struct ward_verify_cache *c, const char *name, X509_CRL *crl,
		      const uint8_t crl_id[32], X509 *issuer, const uint8_t issuer_id[32], X509 **certs, size_t ncerts,
		      time_t at)
{
	uint8_t key[32];
	EVP_PKEY *k;
	char cn[96];
	time_t t = at;

	if (!crl) {
		ward_check(r, name, WARD_CHECK_FAIL, "no such CRL in the collateral");
		return;
	}
	if (!issuer) {
		ward_check(r, name, WARD_CHECK_FAIL, "its issuer certificate is not available");
		return;
	}
	ward_cert_cn(issuer, cn, sizeof(cn));
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
		ward_check(r, name, WARD_CHECK_FAIL, "CRL is not issued by '%s'", cn);
		return;
	}
	/* the signature is a pure function of the CRL and the issuer */
	if (c && ward_vcache_key(key, "crl-signature", crl_id, (size_t)32, issuer_id, (size_t)32, (void *)NULL) != 0)
		c = NULL;
	if (!(c && ward_vcache_fact(c, key, at))) {
		k = X509_get0_pubkey(issuer);
		if (!k || X509_CRL_verify(crl, k) != 1) {
			ERR_clear_error();
			ward_check(r, name, WARD_CHECK_FAIL, "CRL signature does not verify with the key of '%s'", cn);
			return;
		}
		ward_vcache_put_fact(c, key, NULL, 0);
	}
	const ASN1_TIME *lu = X509_CRL_get0_lastUpdate(crl), *nu = X509_CRL_get0_nextUpdate(crl);
	char a[32], b[32];
	ward_asn1_time_str(lu, a);
	ward_asn1_time_str(nu, b);
	if (!lu || !nu || X509_cmp_time(lu, &t) > 0 || X509_cmp_time(nu, &t) < 0) {
		ward_check(r, name, WARD_CHECK_FAIL, "CRL is not valid at the verification time (valid %s .. %s)", a, b);
		return;
	}
	for (size_t i = 0; i < ncerts; i++) {
		X509_REVOKED *rev = NULL;
		if (certs[i] && X509_CRL_get0_by_cert(crl, &rev, certs[i]) == 1) {
			char ccn[96], when[32];
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certs[i]), NULL);
			char *serial = bn ? BN_bn2hex(bn) : NULL;
			ward_cert_cn(certs[i], ccn, sizeof(ccn));
			ward_asn1_time_str(rev ? X509_REVOKED_get0_revocationDate(rev) : NULL, when);
			ward_check(r, name, WARD_CHECK_FAIL, "certificate '%s' (serial %.48s) is revoked since %s by the CRL of '%s'",
				   ccn, serial ? serial : "?", when, cn);
			OPENSSL_free(serial);
			BN_free(bn);
			ERR_clear_error();
			return;
		}
	}
	ward_check(r, name, WARD_CHECK_PASS, "CRL of '%s' valid %s .. %s, nothing in the chain revoked", cn, a, b);
}

/* The TCB Signing certificate in the collateral that chains to the root at `at`. */
static X509 *tcb_signer(const struct ward_collateral *col, struct ward_verify_cache *c, X509 *root,
			const uint8_t root_id[32], time_t at, struct ward_verify_result *r, const uint8_t **id)
{
	char why[256] = "no 'Intel SGX TCB Signing' certificate in the collateral";
	for (int i = 0; i < sk_X509_num(col->certs); i++) {
		X509 *x = sk_X509_value(col->certs, i);
		char cn[96];
		ward_cert_cn(x, cn, sizeof(cn));
		if (strcmp(cn, "Intel SGX TCB Signing") != 0)
			continue;
		if (chain_to_root(c, root, root_id, x, col->cert_ids[i], NULL, NULL, at, why, sizeof(why)) == 0) {
			*id = col->cert_ids[i];
			char a[32], b[32];
			ward_asn1_time_str(X509_get0_notBefore(x), a);
			ward_asn1_time_str(X509_get0_notAfter(x), b);
			ward_check(r, "tcb_signing_cert", WARD_CHECK_PASS, "Intel SGX TCB Signing (valid %s .. %s) chains to the root", a, b);
			return x;
		}
	}
	ward_check(r, "tcb_signing_cert", WARD_CHECK_FAIL, "%s", why);
	return NULL;
}

static void check_json_sig(struct ward_verify_result *r, struct ward_verify_cache *c, const char *name, X509 *signer,
			   const uint8_t *signer_id, const char *raw, size_t len, const uint8_t raw_id[32],
			   const uint8_t sig[64], const char *what)
{
	uint8_t key[32];
	if (!signer) {
		ward_check(r, name, WARD_CHECK_FAIL, "no valid TCB Signing certificate to verify the %s with", what);
		return;
	}
	/* a pure function of the signer, the signed bytes and the signature */
	if (c && ward_vcache_key(key, "ecdsa-p256-sha256", signer_id, (size_t)32, raw_id, (size_t)32, sig, (size_t)64,
				 (void *)NULL) != 0)
		c = NULL;
	if (c && ward_vcache_fact(c, key, r->at)) {
		ward_check(r, name, WARD_CHECK_PASS, "%s signed by Intel SGX TCB Signing", what);
	} else if (ward_ecdsa_verify_rs(X509_get0_pubkey(signer), ward_md_sha256(), (const uint8_t *)raw, len, sig,
				      sig + 32, 32) != 0) {
		ward_check(r, name, WARD_CHECK_FAIL, "%s signature does not verify with the TCB Signing key", what);
	} else {
		ward_vcache_put_fact(c, key, NULL, 0);
		ward_check(r, name, WARD_CHECK_PASS, "%s signed by Intel SGX TCB Signing", what);
	}
}

static void check_json_validity(struct ward_verify_result *r, const char *name, json_t *o, time_t at, const char *what)
{
	const char *is = json_string_value(json_object_get(o, "issueDate"));
	const char *nu = json_string_value(json_object_get(o, "nextUpdate"));
	time_t ti, tn;
	if (!is || !nu || ward_parse_rfc3339(is, &ti) != 0 || ward_parse_rfc3339(nu, &tn) != 0) {
		ward_check(r, name, WARD_CHECK_FAIL, "%s has no valid issueDate/nextUpdate", what);
		return;
	}
	if (at < ti || at >= tn) {
		ward_check(r, name, WARD_CHECK_FAIL, "%s is not valid at the verification time (issued %s, next update %s)",
			   what, is, nu);
		return;
	}
	ward_check(r, name, WARD_CHECK_PASS, "%s issued %s, next update %s", what, is, nu);
}

/* PCK info of a chain (pure function of its three certificates), cached. */
static int pck_info(struct ward_verify_cache *c, STACK_OF(X509) *chain, uint8_t ids[17][32],
		    struct ward_pck_info *info, char *e, size_t elen)
{
	uint8_t key[32];
	if (c && ward_vcache_key(key, "pck-info", ids[0], (size_t)96, (void *)NULL) != 0)
		c = NULL;
	if (c && ward_vcache_get_blob(c, key, info, sizeof(*info)) == (long)sizeof(*info))
		return 0;
	memset(info, 0, sizeof(*info));
	if (ward_pck_info_from_chain(chain, info, e, elen) != 0)
		return -1;
	ward_vcache_put_blob(c, key, info, sizeof(*info));
	return 0;
}

void ward_verify_dcap(const struct ward_evidence *ev, const struct ward_verify_opts *o, struct ward_verify_result *r)
{
	const struct ward_dcap_quote *q = &ev->c.quote;
	const struct ward_collateral *col = o->collateral;
	struct ward_verify_cache *cache = o->cache ? o->cache : col ? col->cache : NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *root = NULL, *leaf = NULL, *inter = NULL;
	uint8_t root_id[32], ids[17][32];
	const uint8_t *tcbsign_id = NULL;
	EVP_PKEY *ak = NULL;
	X509 *tcbsign = NULL; /* borrowed from the collateral */
	char e[256];
	time_t at = r->at;

	if (CRYPTO_memcmp(q->qe_vendor_id, intel_qe_vendor, 16) != 0)
		ward_check(r, "qe_vendor", WARD_CHECK_FAIL, "QE vendor ID is not Intel's");

	/* PCK chain to the trusted root */
	root = load_root(o, cache, r, root_id);
	chain = ward_pck_chain(ev, cache, ids, e, sizeof(e));
	if (!chain) {
		ward_check(r, "pck_chain", WARD_CHECK_FAIL, "%s", e);
	} else {
		char lcn[96], icn[96];
		leaf = sk_X509_value(chain, 0);
		inter = sk_X509_value(chain, 1);
		ward_cert_cn(leaf, lcn, sizeof(lcn));
		ward_cert_cn(inter, icn, sizeof(icn));
		if (pck_info(cache, chain, ids, &r->pck, e, sizeof(e)) != 0) {
			ward_check(r, "pck_chain", WARD_CHECK_FAIL, "%s", e);
		} else if (strcmp(lcn, "Intel SGX PCK Certificate") != 0) {
			ward_check(r, "pck_chain", WARD_CHECK_FAIL, "leaf certificate is '%s', not 'Intel SGX PCK Certificate'", lcn);
		} else if (strcmp(icn, "Intel SGX PCK Platform CA") != 0 && strcmp(icn, "Intel SGX PCK Processor CA") != 0) {
			ward_check(r, "pck_chain", WARD_CHECK_FAIL, "intermediate certificate is '%s', not a PCK Platform/Processor CA", icn);
		} else if (EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)) != EVP_PKEY_EC ||
			   EVP_PKEY_get_bits(X509_get0_pubkey(leaf)) != 256) {
			ward_check(r, "pck_chain", WARD_CHECK_FAIL, "PCK certificate key is not EC P-256");
		} else if (root) {
			if (chain_to_root(cache, root, root_id, leaf, ids[0], inter, ids[1], at, e, sizeof(e)) != 0) {
				ward_check(r, "pck_chain", WARD_CHECK_FAIL, "PCK chain does not verify to the %s Intel SGX Root CA: %s",
					   o->root_der ? "given" : "pinned", e);
			} else if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(chain, 2)), X509_get0_pubkey(root)) != 1) {
				ward_check(r, "pck_chain", WARD_CHECK_FAIL, "the root certificate in the quote has another key than the trusted root");
			} else {
				ward_check(r, "pck_chain", WARD_CHECK_PASS, "%s <- %s <- %s root (by public key)", lcn, icn,
					   o->root_der ? "given" : "pinned Intel SGX");
			}
		}
	}

	/* CRLs */
	if (!o->no_collateral) {
		if (!col) {
			ward_check(r, "root_ca_crl", WARD_CHECK_FAIL, "no collateral given");
			ward_check(r, "pck_crl", WARD_CHECK_FAIL, "no collateral given");
		} else {
			if (root)
				tcbsign = tcb_signer(col, cache, root, root_id, at, r, &tcbsign_id);
			else
				ward_check(r, "tcb_signing_cert", WARD_CHECK_FAIL, "no trusted root");
			X509 *rc_certs[2] = { inter, tcbsign };
			X509 *pc_certs[1] = { leaf };
			check_crl(r, cache, "root_ca_crl", col->root_crl, col->root_crl_id, root, root_id, rc_certs, 2, at);
			check_crl(r, cache, "pck_crl", col->pck_crl, col->pck_crl_id, inter, ids[1], pc_certs, 1, at);
		}
	}

	/* QE report signature by the PCK key (per quote: never cached) */
	if (!leaf)
		ward_check(r, "qe_report_signature", WARD_CHECK_FAIL, "no PCK certificate to verify the QE report with");
	else if (ward_ecdsa_verify_rs(X509_get0_pubkey(leaf), ward_md_sha256(), q->qe_report_raw, 384, q->qe_report_sig,
				      q->qe_report_sig + 32, 32) != 0)
		ward_check(r, "qe_report_signature", WARD_CHECK_FAIL, "QE report signature does not verify with the PCK certificate key");
	else
		ward_check(r, "qe_report_signature", WARD_CHECK_PASS, "QE report signed by the PCK key");

	/* QE REPORTDATA binds the attestation key and the QE auth data */
	{
		EVP_MD_CTX *h = EVP_MD_CTX_new();
		uint8_t d[32];
		static const uint8_t zero[32];
		unsigned dl = 0;
		int ok = h && EVP_DigestInit_ex(h, ward_md_sha256(), NULL) == 1 && EVP_DigestUpdate(h, q->att_key, 64) == 1 &&
			 EVP_DigestUpdate(h, ev->raw + q->qe_auth_off, q->qe_auth_len) == 1 &&
			 EVP_DigestFinal_ex(h, d, &dl) == 1;
		EVP_MD_CTX_free(h);
		if (!ok)
			ward_check(r, "qe_report_data", WARD_CHECK_FAIL, "SHA-256 failed");
		else if (CRYPTO_memcmp(d, q->qe_report.report_data, 32) != 0)
			ward_check(r, "qe_report_data", WARD_CHECK_FAIL,
				   "QE REPORTDATA is not SHA-256(attestation key || QE authentication data)");
		else if (CRYPTO_memcmp(zero, q->qe_report.report_data + 32, 32) != 0)
			ward_check(r, "qe_report_data", WARD_CHECK_FAIL, "QE REPORTDATA[32..64) is not zero");
		else
			ward_check(r, "qe_report_data", WARD_CHECK_PASS, "QE REPORTDATA = SHA-256(attestation key || auth data)");
	}

	/* quote signature by the attestation key (per quote: never cached) */
	ak = ward_p256_key(q->att_key);
	if (!ak)
		ward_check(r, "quote_signature", WARD_CHECK_FAIL, "attestation key is not a valid P-256 point");
	else if (ward_ecdsa_verify_rs(ak, ward_md_sha256(), ev->raw, q->signed_len, q->quote_sig, q->quote_sig + 32, 32) != 0)
		ward_check(r, "quote_signature", WARD_CHECK_FAIL, "quote signature does not verify with the attestation key");
	else
		ward_check(r, "quote_signature", WARD_CHECK_PASS, "header and body signed by the attestation key");
	EVP_PKEY_free(ak);

	/* collateral */
	if (o->no_collateral) {
		ward_check(r, "tcb_level", WARD_CHECK_SKIPPED, "no collateral: TCB status not evaluated");
	} else if (!col) {
		ward_check(r, "tcb_info_signature", WARD_CHECK_FAIL, "no collateral given");
	} else {
		X509 *signer = tcbsign;
		check_json_sig(r, cache, "tcb_info_signature", signer, tcbsign_id, col->tcb_raw, col->tcb_len, col->tcb_id,
			       col->tcb_sig, "TCB info");
		check_json_validity(r, "tcb_info_validity", col->tcb, at, "TCB info");
		check_json_sig(r, cache, "qe_identity_signature", signer, tcbsign_id, col->qe_raw, col->qe_len, col->qe_id,
			       col->qe_sig, "QE identity");
		check_json_validity(r, "qe_identity_validity", col->qe, at, "QE identity");
		if (r->pck.present)
			ward_tcb_evaluate(ev, col, r);
		else
			ward_check(r, "tcb_level", WARD_CHECK_FAIL, "no PCK certificate extension to match TCB levels against");
	}

	sk_X509_pop_free(chain, X509_free);
	X509_free(root);
	ERR_clear_error();
}
