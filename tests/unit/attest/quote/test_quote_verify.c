/* test_quote_verify.c: verification of real SGX/TDX/SNP samples through
 * the library API, and single-byte mutations of each signed region failing
 * the named check. Collateral is loaded once and reused (as the CAS will). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/quote/evidence.h"
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

static enum ward_check_state state(const struct ward_verify_result *r, const char *name)
{
	const struct ward_check *k = ward_verify_find_check(r, name);
	return k ? k->state : (enum ward_check_state)-1;
}

/* flips one byte of a copy of ev, verifies, returns the state of check */
static enum ward_check_state mutated(const struct ward_evidence *ev, size_t off, const struct ward_verify_opts *o,
				     const char *check, struct ward_verify_result *r)
{
	struct ward_evidence *m = NULL;
	char err[256];
	uint8_t *b = malloc(ev->raw_len);
	memcpy(b, ev->raw, ev->raw_len);
	b[off] ^= 0x01;
	enum ward_check_state st = (enum ward_check_state)-1;
	if (ward_evidence_parse(b, ev->raw_len, &m, err, sizeof(err)) == 0) {
		CHECK(ward_evidence_verify(m, o, r, err, sizeof(err)) == -1);
		st = state(r, check);
		ward_evidence_free(m);
	}
	free(b);
	return st;
}

static void sgx(struct ward_verify_result *r)
{
	struct ward_evidence *ev = ev_load("sgx/qvl_sgx_quote.bin");
	struct ward_collateral *col = NULL;
	struct ward_verify_opts o;
	char p[4096], err[256];
	if (!ev)
		return;
	snprintf(p, sizeof(p), "%s/sgx/qvl_sgx_quote_collateral.json", dir);
	CHECK(ward_collateral_load(p, &col, err, sizeof(err)) == 0);
	memset(&o, 0, sizeof(o));
	o.collateral = col;
	CHECK(ward_parse_rfc3339("2025-07-19T10:01:17Z", &o.at) == 0);
	for (int i = 0; i < 3; i++) { /* reuse of the same collateral */
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
		CHECK(r->ok && r->tcb_status == WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
		CHECK(r->nadvisories == 2 && strcmp(r->advisories[0], "INTEL-SA-00289") == 0);
	}
	/* one byte in each signed region */
	CHECK(mutated(ev, 0x1E, &o, "quote_signature", r) == WARD_CHECK_FAIL);   /* header */
	CHECK(mutated(ev, 0x100, &o, "quote_signature", r) == WARD_CHECK_FAIL);  /* body */
	CHECK(mutated(ev, 0x1B4 + 7, &o, "quote_signature", r) == WARD_CHECK_FAIL); /* signature */
	CHECK(mutated(ev, 0x1F4 + 3, &o, "qe_report_data", r) == WARD_CHECK_FAIL);  /* attestation key */
	CHECK(mutated(ev, 0x234 + 0x50, &o, "qe_report_signature", r) == WARD_CHECK_FAIL); /* QE report */
	CHECK(mutated(ev, 0x3B4 + 9, &o, "qe_report_signature", r) == WARD_CHECK_FAIL);    /* QE signature */
	CHECK(mutated(ev, 0x3F6 + 1, &o, "qe_report_data", r) == WARD_CHECK_FAIL);         /* auth data */
	/* outside the collateral window */
	o.at += 3600;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(state(r, "qe_identity_validity") == WARD_CHECK_FAIL && state(r, "quote_signature") == WARD_CHECK_PASS);
	o.at -= 3600;
	/* wrong root: the AMD ARK is not Intel's */
	{
		uint8_t *root;
		size_t rl;
		snprintf(p, sizeof(p), "%s/intel-pki/Intel_SGX_TCB_Signing_2018-2025_chain.pem", dir);
		CHECK(ward_read_file(p, 1 << 20, &root, &rl) == 0);
		/* the first PEM of that file is the TCB signing cert, not a root */
		char *end = strstr((char *)root, "-----END CERTIFICATE-----");
		o.root_der = root;
		o.root_der_len = (size_t)(end - (char *)root) + 25;
		CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
		CHECK(state(r, "pck_chain") == WARD_CHECK_FAIL);
		CHECK(strncmp(err, "pck_chain: ", 11) == 0);
		o.root_der = NULL;
		free(root);
	}
	/* without collateral: only quote-level checks, TCB not evaluated */
	o.collateral = NULL;
	o.no_collateral = 1;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
	CHECK(r->tcb_status == WARD_TCB_NOT_EVALUATED && state(r, "tcb_level") == WARD_CHECK_SKIPPED);
	o.no_collateral = 0;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	ward_collateral_free(col);
	ward_evidence_free(ev);
}

static void tdx(struct ward_verify_result *r)
{
	struct ward_evidence *ev = ev_load("tdx/qvl_tdx_quote.bin");
	struct ward_collateral *col = NULL;
	struct ward_verify_opts o;
	char p[4096], err[256];
	if (!ev)
		return;
	snprintf(p, sizeof(p), "%s/tdx/qvl_tdx_quote_collateral.json", dir);
	CHECK(ward_collateral_load(p, &col, err, sizeof(err)) == 0);
	memset(&o, 0, sizeof(o));
	o.collateral = col;
	CHECK(ward_parse_rfc3339("2025-07-19T10:00:34Z", &o.at) == 0);
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
	CHECK(r->tcb_status == WARD_TCB_UP_TO_DATE && strcmp(r->module_id, "TDX_01") == 0);
	CHECK(mutated(ev, 0x30 + 0x88, &o, "quote_signature", r) == WARD_CHECK_FAIL); /* MRTD */
	CHECK(mutated(ev, 0x302 + 0x10, &o, "qe_report_signature", r) == WARD_CHECK_FAIL);
	ward_collateral_free(col);
	ward_evidence_free(ev);
}

static void snp(struct ward_verify_result *r)
{
	struct ward_evidence *ev = ev_load("snp/ms_milan_attestation_report.bin");
	struct ward_verify_opts o;
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
	o.snp_cert = cert;
	o.snp_cert_len = cl;
	o.snp_chain = chain;
	o.snp_chain_len = chl;
	CHECK(ward_parse_rfc3339("2026-06-01T00:00:00Z", &o.at) == 0);
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == 0);
	CHECK(mutated(ev, 100, &o, "report_signature", r) == WARD_CHECK_FAIL);
	CHECK(mutated(ev, 0x180, &o, "reported_tcb", r) == WARD_CHECK_FAIL);
	CHECK(mutated(ev, 0x2A0 + 3, &o, "report_signature", r) == WARD_CHECK_FAIL);
	o.snp_chain = genoa;
	o.snp_chain_len = gl;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(state(r, "ask_signed_by_ark") == WARD_CHECK_FAIL);
	o.snp_chain = chain;
	o.snp_cert_is_vlek = 1;
	CHECK(ward_evidence_verify(ev, &o, r, err, sizeof(err)) == -1);
	CHECK(state(r, "signing_cert") == WARD_CHECK_FAIL);
	free(cert);
	free(chain);
	free(genoa);
	ward_evidence_free(ev);
}

int main(int argc, char **argv)
{
	struct stat st;
	struct ward_verify_result *r = malloc(sizeof(*r));
	if (argc < 2 || stat(argv[1], &st) != 0) {
		printf("skipped: shared test vectors not found\n");
		free(r);
		return 77;
	}
	dir = argv[1];
	sgx(r);
	tdx(r);
	snp(r);
	free(r);
	return TEST_DONE();
}
