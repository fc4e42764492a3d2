/* test_verify_cache.c: the verification cache never changes an outcome.
 * A warm cache gives exactly the checks and messages of a cold one; a
 * chain remembered at one time is not reused at a time outside any of its
 * certificates' validity; a different root or chain misses; several
 * threads sharing one collateral (and its cache) get the right outcome for
 * valid and tampered quotes; the cache stays bounded. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/quote/evidence.h"
#include "attest/quote/vcache.h"
#include "attest/quote/x509util.h"
#include "core/util.h"
#include "../../test.h"

static const char *dir;

static struct ward_evidence *ev_load(const char *rel)
{
	char p[4096], err[256];
	struct ward_evidence *ev = NULL;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	CHECK(ward_evidence_load(p, &ev, err, sizeof(err)) == 0);
	return ev;
}

static const struct ward_check *find(const struct ward_verify_result *r, const char *name)
{
	return ward_verify_find_check(r, name);
}

static int same_checks(const struct ward_verify_result *a, const struct ward_verify_result *b)
{
	if (a->nchecks != b->nchecks || a->ok != b->ok || a->tcb_status != b->tcb_status ||
	    memcmp(&a->pck, &b->pck, sizeof(a->pck)) != 0)
		return 0;
	for (size_t i = 0; i < a->nchecks; i++)
		if (strcmp(a->checks[i].name, b->checks[i].name) != 0 || a->checks[i].state != b->checks[i].state ||
		    strcmp(a->checks[i].msg, b->checks[i].msg) != 0)
			return 0;
	return 1;
}

/* "2023-09-20T21:53:43+00:00" -> time_t */
static time_t cert_time(const char *s)
{
	char z[32];
	time_t t = 0;
	snprintf(z, sizeof(z), "%.19sZ", s);
	CHECK(ward_parse_rfc3339(z, &t) == 0);
	return t;
}

static struct ward_evidence *flip(const struct ward_evidence *ev, size_t off)
{
	struct ward_evidence *m = NULL;
	char err[256];
	uint8_t *b = malloc(ev->raw_len);
	memcpy(b, ev->raw, ev->raw_len);
	b[off] ^= 0x01;
	CHECK(ward_evidence_parse(b, ev->raw_len, &m, err, sizeof(err)) == 0);
	free(b);
	return m;
}

struct job {
	const struct ward_evidence *good, *bad;
	struct ward_verify_opts o;
	time_t expired_at;
	int wrong;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct ward_verify_result *r = malloc(sizeof(*r));
	char err[256];
	for (int i = 0; i < 60 && r; i++) {
		struct ward_verify_opts o = j->o;
		const struct ward_evidence *ev = i % 3 == 1 ? j->bad : j->good;
		if (i % 3 == 2)
			o.at = j->expired_at;
		int rc = ward_evidence_verify(ev, &o, r, err, sizeof(err));
		const struct ward_check *k = find(r, i % 3 == 0 ? "tcb_level" : i % 3 == 1 ? "quote_signature" : "pck_chain");
		int right = i % 3 == 0 ? rc == 0 && k && k->state == WARD_CHECK_PASS
				       : rc == -1 && k && k->state == WARD_CHECK_FAIL;
		if (!right)
			__atomic_add_fetch(&j->wrong, 1, __ATOMIC_RELAXED);
	}
	free(r);
	return NULL;
}

static void dcap(void)
{
	struct ward_evidence *ev = ev_load("sgx/qvl_sgx_quote.bin");
	struct ward_collateral *col = NULL;
	struct ward_verify_opts o;
	struct ward_verify_result *cold = malloc(sizeof(*cold)), *r = malloc(sizeof(*r));
	char p[4096], err[256];
	time_t t0;

	if (!ev)
		return;
	snprintf(p, sizeof(p), "%s/sgx/qvl_sgx_quote_collateral.json", dir);
	CHECK(ward_collateral_load(p, &col, err, sizeof(err)) == 0);
	memset(&o, 0, sizeof(o));
	o.collateral = col;
	CHECK(ward_parse_rfc3339("2025-07-19T10:01:17Z", &o.at) == 0);
	t0 = o.at;
	CHECK(ward_evidence_verify(ev, &o, cold, err, sizeof(err)) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
		CHECK(same_checks(cold, r));
	}

	/* outside the PCK certificate's validity, with the chain remembered */
	time_t nb = cert_time(r->pck.not_before[0]), na = cert_time(r->pck.not_after[0]);
	o.at = na + 1;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(find(r, "pck_chain") && find(r, "pck_chain")->state == WARD_CHECK_FAIL);
	CHECK(strstr(find(r, "pck_chain")->msg, "expired") != NULL);
	o.at = nb - 1;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(find(r, "pck_chain")->state == WARD_CHECK_FAIL && strstr(find(r, "pck_chain")->msg, "not yet valid"));
	/* the TCB Signing chain too: before the signing certificate */
	CHECK(find(r, "tcb_signing_cert") && find(r, "tcb_signing_cert")->state == WARD_CHECK_FAIL);
	o.at = t0;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));

	/* another root misses: the given Intel root passes, the TCB Signing
	 * certificate given as root fails, the pinned root passes again */
	{
		uint8_t *pem;
		size_t pl;
		snprintf(p, sizeof(p), "%s/intel-pki/Intel_SGX_TCB_Signing_2018-2025_chain.pem", dir);
		CHECK(ward_read_file(p, 1 << 20, &pem, &pl) == 0);
		char *end = strstr((char *)pem, "-----END CERTIFICATE-----");
		char *root = strstr(end, "-----BEGIN CERTIFICATE-----");
		CHECK(root != NULL);
		o.root_der = (const uint8_t *)root;
		o.root_der_len = pl - (size_t)(root - (char *)pem);
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
		CHECK(strstr(find(r, "pck_chain")->msg, "given root") != NULL);
		o.root_der = pem;
		o.root_der_len = (size_t)(end - (char *)pem) + 25;
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
		CHECK(find(r, "pck_chain")->state == WARD_CHECK_FAIL && find(r, "tcb_signing_cert")->state == WARD_CHECK_FAIL &&
		      find(r, "root_ca_crl")->state == WARD_CHECK_FAIL);
		o.root_der = NULL;
		o.root_der_len = 0;
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));
		free(pem);
	}

	/* a flipped byte in the PCK certificate is another chain: it misses */
	{
		const struct ward_dcap_quote *q = &ev->c.quote;
		struct ward_evidence *m = flip(ev, q->cert_off + 600);
		if (m) {
			CHECK(ward_evidence_verify(m, &o, r, err, sizeof(err)) == -1);
			CHECK(find(r, "pck_chain")->state == WARD_CHECK_FAIL);
			ward_evidence_free(m);
		}
	}

	/* threads sharing the collateral's cache: valid, tampered, expired */
	{
		struct job j;
		pthread_t th[4];
		memset(&j, 0, sizeof(j));
		j.good = ev;
		j.bad = flip(ev, 0x100);
		j.o = o;
		j.expired_at = na + 1;
		for (int i = 0; i < 4; i++)
			CHECK(pthread_create(&th[i], NULL, worker, &j) == 0);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		CHECK(j.wrong == 0);
		ward_evidence_free((struct ward_evidence *)j.bad);
	}
	/* an explicit cache shared by two collaterals gives the same result */
	{
		struct ward_verify_cache *c = ward_verify_cache_new();
		o.cache = c;
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));
		o.cache = NULL;
		ward_verify_cache_free(c);
	}
	ward_collateral_free(col);
	ward_evidence_free(ev);
	free(cold);
	free(r);
}

static void snp(void)
{
	struct ward_evidence *ev = ev_load("snp/ms_milan_attestation_report.bin");
	struct ward_verify_opts o;
	struct ward_verify_result *cold = malloc(sizeof(*cold)), *r = malloc(sizeof(*r));
	uint8_t *cert, *chain, *genoa;
	size_t cl, chl, gl;
	char p[4096], err[256];

	if (!ev)
		return;
	snprintf(p, sizeof(p), "%s/snp/ms_milan_vcek.pem", dir);
	CHECK(ward_read_file(p, 1 << 20, &cert, &cl) == 0);
	snprintf(p, sizeof(p), "%s/amd-pki/milan_ask_ark_asvk.pem", dir);
	CHECK(ward_read_file(p, 1 << 20, &chain, &chl) == 0);
	snprintf(p, sizeof(p), "%s/amd-pki/genoa_ask_ark_asvk.pem", dir);
	CHECK(ward_read_file(p, 1 << 20, &genoa, &gl) == 0);
	memset(&o, 0, sizeof(o));
	o.cache = ward_verify_cache_new();
	o.snp_cert = cert;
	o.snp_cert_len = cl;
	o.snp_chain = chain;
	o.snp_chain_len = chl;
	CHECK(ward_parse_rfc3339("2026-06-01T00:00:00Z", &o.at) == 0);
	CHECK(ward_evidence_verify(ev, &o, cold, err, sizeof(err)) == 0);
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));
	CHECK(memcmp(&cold->snp_cert, &r->snp_cert, sizeof(r->snp_cert)) == 0);
	/* the report signature is never remembered */
	{
		struct ward_evidence *m = flip(ev, 0x2A0 + 3);
		CHECK(ward_evidence_verify(m, &o, r, err, sizeof(err)) == -1);
		CHECK(find(r, "report_signature")->state == WARD_CHECK_FAIL);
		ward_evidence_free(m);
	}
	/* VCEK expired, with its signature remembered */
	time_t na = cert_time(cold->snp_cert.not_after);
	time_t at = o.at;
	o.at = na + 1;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(find(r, "signing_cert")->state == WARD_CHECK_FAIL);
	o.at = at;
	o.snp_chain = genoa;
	o.snp_chain_len = gl;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(find(r, "ask_signed_by_ark")->state == WARD_CHECK_FAIL);
	o.snp_chain = chain;
	o.snp_chain_len = chl;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0 && same_checks(cold, r));
	ward_verify_cache_free(o.cache);
	free(cert);
	free(chain);
	free(genoa);
	ward_evidence_free(ev);
	free(cold);
	free(r);
}

/* bounded, timed facts miss outside the window, NULL cache is inert */
static void unit(void)
{
	struct ward_verify_cache *c = ward_verify_cache_new();
	uint8_t key[32];
	int hits = 0;
	CHECK(c != NULL);
	for (uint32_t i = 0; i < 5000; i++) {
		CHECK(ward_vcache_key(key, "t", &i, sizeof(i), (void *)NULL) == 0);
		ward_vcache_put_fact(c, key, NULL, 0);
	}
	for (uint32_t i = 0; i < 5000; i++) {
		CHECK(ward_vcache_key(key, "t", &i, sizeof(i), (void *)NULL) == 0);
		hits += ward_vcache_fact(c, key, 0);
	}
	CHECK(hits > 0 && hits <= 1024);
	CHECK(ward_vcache_key(key, "t", "x", (size_t)1, (void *)NULL) == 0);
	CHECK(ward_vcache_fact(NULL, key, 0) == 0);
	ward_vcache_put_fact(NULL, key, NULL, 0);
	CHECK(ward_vcache_get_blob(c, key, key, 32) == -1);
	/* a fact bound by a certificate's validity */
	{
		char p[4096], err[256];
		uint8_t *der;
		size_t dl;
		snprintf(p, sizeof(p), "%s/snp/ms_milan_vcek.pem", dir);
		if (ward_read_file(p, 1 << 20, &der, &dl) == 0) {
			X509 *x = ward_cert_load(der, dl, err, sizeof(err));
			CHECK(x != NULL);
			ward_vcache_put_fact(c, key, &x, 1);
			time_t t = 0;
			CHECK(ward_parse_rfc3339("2026-06-01T00:00:00Z", &t) == 0);
			CHECK(ward_vcache_fact(c, key, t) == 1);
			CHECK(ward_vcache_fact(c, key, 0) == 0);
			X509_free(x);
			free(der);
		}
	}
	ward_verify_cache_free(c);
}

int main(int argc, char **argv)
{
	struct stat st;
	if (argc < 2 || stat(argv[1], &st) != 0) {
		printf("skipped: shared test vectors not found\n");
		return 77;
	}
	dir = argv[1];
	unit();
	dcap();
	snp();
	return TEST_DONE();
}
