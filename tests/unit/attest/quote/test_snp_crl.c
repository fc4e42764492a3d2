/* test_snp_crl.c: the SEV-SNP ARK CRL check (amd_crl). AMD's real ARK key
 * is not ours, so a synthetic ARK ("ARK-Milan", RSA, certificates and CRLs
 * signed with RSA-PSS/SHA-384 as AMD does) and ASK ("SEV-Milan", with the
 * subject the real VCEK names as its issuer) are generated here with
 * OpenSSL and trusted through opts->ark_der. The real Milan report and
 * VCEK are used; the VCEK is not signed by the synthetic ASK, so only the
 * checks up to amd_crl are asserted. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "attest/quote/evidence.h"
#include "attest/quote/x509util.h"
#include "core/util.h"
#include "../../test.h"

static const char *dir;
static time_t at;

static EVP_PKEY *rsa_key(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	CHECK(k != NULL);
	return k;
}

/* EVP_MD_CTX set up for RSA-PSS SHA-384 signing with key */
static EVP_MD_CTX *pss(EVP_PKEY *key)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	CHECK(m && EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, key) == 1);
	CHECK(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1);
	CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) == 1);
	return m;
}

static X509_NAME *name(const char *cn)
{
	/* the attribute order of AMD's names, as in the real VCEK's issuer */
	static const char *const f[][2] = { { "OU", "Engineering" }, { "C", "US" }, { "L", "Santa Clara" },
					    { "ST", "CA" }, { "O", "Advanced Micro Devices" } };
	X509_NAME *n = X509_NAME_new();
	for (size_t i = 0; i < 5; i++)
		X509_NAME_add_entry_by_txt(n, f[i][0], MBSTRING_ASC, (const unsigned char *)f[i][1], -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	return n;
}

static X509 *cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *n = name(cn);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_time_adj_ex(X509_getm_notBefore(x), -365, 0, &at);
	X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, &at);
	X509_set_pubkey(x, key);
	EVP_MD_CTX *m = pss(ikey ? ikey : key);
	CHECK(X509_sign_ctx(x, m) > 0);
	EVP_MD_CTX_free(m);
	return x;
}

/* CRL by issuer (signed with key) valid [at+from_days, at+to_days], listing serial (0: none) */
static uint8_t *crl(X509 *issuer, EVP_PKEY *key, long serial, int from_days, int to_days, size_t *len)
{
	X509_CRL *c = X509_CRL_new();
	ASN1_TIME *t1 = X509_time_adj_ex(NULL, from_days, 0, &at), *t2 = X509_time_adj_ex(NULL, to_days, 0, &at);
	X509_CRL_set_version(c, 1);
	X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer));
	X509_CRL_set1_lastUpdate(c, t1);
	X509_CRL_set1_nextUpdate(c, t2);
	if (serial) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, serial);
		X509_REVOKED_set_serialNumber(r, s);
		X509_REVOKED_set_revocationDate(r, t1);
		X509_CRL_add0_revoked(c, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(c);
	EVP_MD_CTX *m = pss(key);
	CHECK(X509_CRL_sign_ctx(c, m) > 0);
	EVP_MD_CTX_free(m);
	unsigned char *der = NULL;
	int n = i2d_X509_CRL(c, &der);
	CHECK(n > 0);
	*len = (size_t)n;
	uint8_t *out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	X509_CRL_free(c);
	return out;
}

static const struct ward_check *amd_crl(const struct ward_evidence *ev, struct ward_verify_opts *o,
					struct ward_verify_result *r, const uint8_t *c, size_t cl)
{
	char err[256];
	o->snp_crl = c;
	o->snp_crl_len = cl;
	(void)ward_evidence_verify(ev, o, r, err, sizeof(err));
	const struct ward_check *k = ward_verify_find_check(r, "amd_crl");
	CHECK(k != NULL);
	const struct ward_check *a = ward_verify_find_check(r, "ask_signed_by_ark");
	CHECK(a && a->state == WARD_CHECK_PASS); /* the synthetic chain itself is sound */
	return k;
}

int main(int argc, char **argv)
{
	struct stat st;
	char p[4096], err[256];
	struct ward_evidence *ev = NULL;
	uint8_t *vcek, *chain = NULL, *ark_der = NULL, *c;
	size_t vl, cl;
	struct ward_verify_opts o;
	struct ward_verify_result *r = malloc(sizeof(*r));
	const struct ward_check *k;

	if (argc < 2 || stat(argv[1], &st) != 0) {
		printf("skipped: shared test vectors not found\n");
		free(r);
		return 77;
	}
	dir = argv[1];
	snprintf(p, sizeof(p), "%s/snp/ms_milan_attestation_report.bin", dir);
	CHECK(ward_evidence_load(p, &ev, err, sizeof(err)) == 0);
	snprintf(p, sizeof(p), "%s/snp/ms_milan_vcek.pem", dir);
	CHECK(ward_read_file(p, 1 << 20, &vcek, &vl) == 0);
	CHECK(ward_parse_rfc3339("2026-06-01T00:00:00Z", &at) == 0);

	EVP_PKEY *kark = rsa_key(), *kask = rsa_key(), *kother = rsa_key();
	X509 *ark = cert("ARK-Milan", 1, kark, NULL, NULL);
	X509 *ask = cert("SEV-Milan", 0x5a5a, kask, ark, kark);
	{
		BIO *b = BIO_new(BIO_s_mem());
		PEM_write_bio_X509(b, ask);
		PEM_write_bio_X509(b, ark);
		char *d;
		long n = BIO_get_mem_data(b, &d);
		chain = malloc((size_t)n);
		memcpy(chain, d, (size_t)n);
		memset(&o, 0, sizeof(o));
		o.snp_chain = chain;
		o.snp_chain_len = (size_t)n;
		BIO_free(b);
		unsigned char *der = NULL;
		int dl = i2d_X509(ark, &der);
		ark_der = malloc((size_t)dl);
		memcpy(ark_der, der, (size_t)dl);
		OPENSSL_free(der);
		o.ark_der = ark_der;
		o.ark_der_len = (size_t)dl;
	}
	o.snp_cert = vcek;
	o.snp_cert_len = vl;
	o.at = at;

	/* no CRL: skipped, said so */
	k = amd_crl(ev, &o, r, NULL, 0);
	CHECK(k->state == WARD_CHECK_SKIPPED && strstr(k->msg, "--crl"));
	/* a current CRL that lists another serial: pass */
	c = crl(ark, kark, 0x1234, -10, 20, &cl);
	k = amd_crl(ev, &o, r, c, cl);
	CHECK(k->state == WARD_CHECK_PASS && strstr(k->msg, "not revoked"));
	free(c);
	/* the ASK listed: fail, naming the certificate, serial and CRL issuer */
	c = crl(ark, kark, 0x5a5a, -10, 20, &cl);
	k = amd_crl(ev, &o, r, c, cl);
	CHECK(k->state == WARD_CHECK_FAIL);
	CHECK(strstr(k->msg, "certificate 'SEV-Milan' (serial 5A5A) is revoked since ") == k->msg);
	CHECK(strstr(k->msg, "by the CRL of 'ARK-Milan'") != NULL);
	CHECK(r->ok == 0);
	/* same CRL in PEM */
	{
		const unsigned char *q = c;
		X509_CRL *x = d2i_X509_CRL(NULL, &q, (long)cl);
		BIO *b = BIO_new(BIO_s_mem());
		char *d;
		PEM_write_bio_X509_CRL(b, x);
		long n = BIO_get_mem_data(b, &d);
		k = amd_crl(ev, &o, r, (const uint8_t *)d, (size_t)n);
		CHECK(k->state == WARD_CHECK_FAIL && strstr(k->msg, "is revoked"));
		BIO_free(b);
		X509_CRL_free(x);
	}
	free(c);
	/* listing the ASK but not signed by the ARK: refused on the signature */
	c = crl(ark, kother, 0x5a5a, -10, 20, &cl);
	k = amd_crl(ev, &o, r, c, cl);
	CHECK(k->state == WARD_CHECK_FAIL && strstr(k->msg, "CRL signature does not verify with the key of 'ARK-Milan'"));
	free(c);
	/* stale: nextUpdate before the verification time */
	c = crl(ark, kark, 0, -30, -1, &cl);
	k = amd_crl(ev, &o, r, c, cl);
	CHECK(k->state == WARD_CHECK_FAIL && strstr(k->msg, "not valid at the verification time"));
	free(c);
	/* issued by the ASK, not the ARK */
	c = crl(ask, kask, 0, -10, 20, &cl);
	k = amd_crl(ev, &o, r, c, cl);
	CHECK(k->state == WARD_CHECK_FAIL && strstr(k->msg, "not issued by 'ARK-Milan'"));
	free(c);
	/* garbage */
	k = amd_crl(ev, &o, r, (const uint8_t *)"not a crl", 9);
	CHECK(k->state == WARD_CHECK_FAIL && strstr(k->msg, "does not decode"));

	X509_free(ark);
	X509_free(ask);
	EVP_PKEY_free(kark);
	EVP_PKEY_free(kask);
	EVP_PKEY_free(kother);
	free(chain);
	free(ark_der);
	free(vcek);
	ward_evidence_free(ev);
	free(r);
	return TEST_DONE();
}
