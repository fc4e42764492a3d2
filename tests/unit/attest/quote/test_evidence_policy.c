/* test_evidence_policy.c: ward_evidence_policy_check() on synthetic
 * results: pins, ISVSVN minimum, debug refusal, tolerated statuses and
 * advisories, failed verification. */
#include <string.h>

#include "attest/quote/evidence.h"
#include "../../test.h"

static struct ward_verify_result r;

static void ok_result(enum ward_evidence_type t)
{
	memset(&r, 0, sizeof(r));
	r.ok = 1;
	r.failed = -1;
	r.c.type = t;
	memset(r.c.sgx.mrenclave, 0xAA, 32);
	memset(r.c.sgx.mrsigner, 0xBB, 32);
	r.c.sgx.isv_prod_id = 7;
	r.c.sgx.isv_svn = 3;
	memset(r.c.td.mrtd, 0xCC, 48);
	memset(r.c.td.rtmr[2], 0xDD, 48);
	memset(r.c.snp.measurement, 0xEE, 48);
	memset(r.c.snp.host_data, 0x11, 32);
	r.tcb_status = t == WARD_EVIDENCE_SNP ? WARD_TCB_NOT_EVALUATED : WARD_TCB_UP_TO_DATE;
}

int main(void)
{
	struct ward_evidence_policy p;
	uint8_t a32[32], b32[32], m48[48], d48[48], h32[32];
	char err[256];

	memset(a32, 0xAA, 32);
	memset(b32, 0xBB, 32);
	memset(m48, 0xCC, 48);
	memset(d48, 0xDD, 48);
	memset(h32, 0x11, 32);

	/* SGX mrenclave pin */
	ok_result(WARD_EVIDENCE_SGX);
	memset(&p, 0, sizeof(p));
	p.mrenclave = a32;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);
	r.c.sgx.mrenclave[31] ^= 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1);
	CHECK(strncmp(err, "mrenclave ", 10) == 0 && strstr(err, "does not match the policy"));

	/* mrsigner + isvprodid + minimum isvsvn */
	ok_result(WARD_EVIDENCE_SGX);
	memset(&p, 0, sizeof(p));
	p.mrsigner = b32;
	p.isv_prod_id = 7;
	p.min_isv_svn = 3;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);
	p.min_isv_svn = 4;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "isvsvn 3 is below"));
	p.min_isv_svn = 3;
	p.isv_prod_id = 8;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "isvprodid 7"));
	memset(&p, 0, sizeof(p));
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "pins neither"));

	/* debug refused unless allowed */
	ok_result(WARD_EVIDENCE_SGX);
	r.c.debug = 1;
	memset(&p, 0, sizeof(p));
	p.mrenclave = a32;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "debug enclave refused"));
	p.allow_debug = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);

	/* TCB statuses and advisories */
	ok_result(WARD_EVIDENCE_SGX);
	memset(&p, 0, sizeof(p));
	p.mrenclave = a32;
	r.tcb_status = WARD_TCB_SW_HARDENING_NEEDED;
	strcpy(r.advisories[0], "INTEL-SA-00615");
	r.nadvisories = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "SWHardeningNeeded is not tolerated"));
	const char *sts[] = { "SWHardeningNeeded" };
	p.tolerated_statuses = sts;
	p.ntolerated_statuses = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "advisory INTEL-SA-00615"));
	const char *adv[] = { "INTEL-SA-00615" };
	p.tolerated_advisories = adv;
	p.ntolerated_advisories = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);
	r.tcb_status = WARD_TCB_OUT_OF_DATE;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "OutOfDate"));
	r.tcb_status = WARD_TCB_NOT_EVALUATED;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "not evaluated"));
	p.allow_unevaluated_tcb = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);

	/* failed verification is never accepted */
	ok_result(WARD_EVIDENCE_SGX);
	r.ok = 0;
	r.nchecks = 1;
	r.failed = 0;
	r.checks[0].name = "quote_signature";
	memset(&p, 0, sizeof(p));
	p.mrenclave = a32;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "(quote_signature)"));

	/* TDX mrtd + rtmr */
	ok_result(WARD_EVIDENCE_TDX);
	memset(&p, 0, sizeof(p));
	p.mrtd = m48;
	p.rtmr[2] = d48;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);
	r.c.td.rtmr[2][0] = 0;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strncmp(err, "rtmr2 ", 6) == 0);
	r.c.debug = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "debug TD refused"));

	/* SNP measurement + host data */
	ok_result(WARD_EVIDENCE_SNP);
	memset(&p, 0, sizeof(p));
	uint8_t me[48];
	memset(me, 0xEE, 48);
	p.snp_measurement = me;
	p.snp_host_data = h32;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == 0);
	r.c.snp.host_data[0] = 0;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strncmp(err, "host_data ", 10) == 0);
	r.c.debug = 1;
	CHECK(ward_evidence_policy_check(&r, &p, err, sizeof(err)) == -1 && strstr(err, "debug guest refused"));
	return TEST_DONE();
}
