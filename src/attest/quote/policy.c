/*
 * policy.c: ward_evidence_policy_check(): what the CAS accepts.
 * Order: verification passed; debug refused unless allowed; measurements
 * pinned for the evidence type; TCB status in the tolerated set (UpToDate
 * always), every advisory tolerated when the status is not UpToDate.
 * Measurements are compared with CRYPTO_memcmp.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "attest/quote/evidence.h"
#include "core/crypto.h"
#include "core/util.h"

#define deny ward_fail /* src/core/util.h */

static int pin(const char *name, const uint8_t *want, const uint8_t *got, size_t n, char *err, size_t errlen)
{
	char g[2 * 64 + 1];
	if (!want || ward_ct_equal(want, got, n))
		return 0;
	ward_hex(got, n, g);
	return deny(err, errlen, "%s %s does not match the policy", name, g);
}

static int listed(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

int ward_evidence_policy_check(const struct ward_verify_result *res, const struct ward_evidence_policy *pol,
			       char *err, size_t errlen)
{
	const struct ward_evidence_claims *c = &res->c;

	if (!res->ok)
		return deny(err, errlen, "evidence did not pass verification (%s)",
			    res->failed >= 0 ? res->checks[res->failed].name : "no check performed");
	if (c->debug && !pol->allow_debug)
		return deny(err, errlen, "debug %s refused: its memory is readable by the host; allow debug in the policy only for testing",
			    c->type == WARD_EVIDENCE_SGX ? "enclave" : c->type == WARD_EVIDENCE_TDX ? "TD" : "guest");
	switch (c->type) {
	case WARD_EVIDENCE_SGX:
		if (!pol->mrenclave && !pol->mrsigner)
			return deny(err, errlen, "policy pins neither mrenclave nor mrsigner for SGX");
		if (pin("mrenclave", pol->mrenclave, c->sgx.mrenclave, 32, err, errlen) ||
		    pin("mrsigner", pol->mrsigner, c->sgx.mrsigner, 32, err, errlen))
			return -1;
		if (pol->mrsigner && c->sgx.isv_prod_id != pol->isv_prod_id)
			return deny(err, errlen, "isvprodid %u does not match the policy (%u)", c->sgx.isv_prod_id, pol->isv_prod_id);
		if (pol->mrsigner && c->sgx.isv_svn < pol->min_isv_svn)
			return deny(err, errlen, "isvsvn %u is below the policy minimum %u", c->sgx.isv_svn, pol->min_isv_svn);
		break;
	case WARD_EVIDENCE_TDX:
		if (!pol->mrtd)
			return deny(err, errlen, "policy pins no mrtd for TDX");
		if (pin("mrtd", pol->mrtd, c->td.mrtd, 48, err, errlen))
			return -1;
		for (int i = 0; i < 4; i++) {
			char n[8];
			snprintf(n, sizeof(n), "rtmr%d", i);
			if (pin(n, pol->rtmr[i], c->td.rtmr[i], 48, err, errlen))
				return -1;
		}
		break;
	case WARD_EVIDENCE_SNP:
		if (!pol->snp_measurement)
			return deny(err, errlen, "policy pins no measurement for SEV-SNP");
		if (pin("measurement", pol->snp_measurement, c->snp.measurement, 48, err, errlen) ||
		    pin("host_data", pol->snp_host_data, c->snp.host_data, 32, err, errlen))
			return -1;
		return 0; /* no TCB collateral for SNP: REPORTED_TCB was checked against the VCEK */
	}
	if (res->tcb_status == WARD_TCB_NOT_EVALUATED) {
		if (!pol->allow_unevaluated_tcb)
			return deny(err, errlen, "TCB status was not evaluated (no collateral) and the policy requires it");
		return 0;
	}
	const char *st = ward_tcb_status_name(res->tcb_status);
	if (res->tcb_status != WARD_TCB_UP_TO_DATE) {
		if (!listed(st, pol->tolerated_statuses, pol->ntolerated_statuses))
			return deny(err, errlen, "TCB status %s is not tolerated by the policy", st);
		for (size_t i = 0; i < res->nadvisories; i++)
			if (!listed(res->advisories[i], pol->tolerated_advisories, pol->ntolerated_advisories))
				return deny(err, errlen, "advisory %s (TCB status %s) is not tolerated by the policy",
					    res->advisories[i], st);
	}
	return 0;
}
