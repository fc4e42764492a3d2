/* evidence_check.c: see evidence_check.h. */
#include "cas/evidence_check.h"

#include <stdio.h>
#include <string.h>

#include "cas/hw_verify.h"
#include "attest/ratls/sim_evidence.h"
#include "core/crypto.h"

static int check_sim(const struct cas_verifier *v, const uint8_t *ev, size_t len, const uint8_t *expect_rd,
		     struct cas_evidence *out, char *err, size_t errlen)
{
	struct ward_sim_claims c;
	char why[256] = "";

	if (v->sim_platform == NULL) {
		snprintf(err, errlen, "simulation evidence is not accepted by this CAS (started without a simulation platform)");
		return -1;
	}
	if (ward_sim_evidence_verify(ev, len, v->sim_platform, &c, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "evidence invalid: %s", why);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->platform, sizeof(out->platform), "sim");
	memcpy(out->measurement, c.measurement, 32);
	out->measurement_len = 32;
	memcpy(out->report_data, c.report_data, 64);
	memcpy(out->platform_id, c.platform_fpr, 32);
	out->simulation = 1;
	out->verified = 1;
	if (expect_rd != NULL && !ward_ct_equal(out->report_data, expect_rd, 64))
		return CAS_EVIDENCE_UNBOUND;
	return 0;
}

static int check_hw(const struct cas_verifier *v, const uint8_t *buf, size_t len, const uint8_t *expect_rd,
		    time_t at, struct cas_evidence *out, char *err, size_t errlen)
{
	struct ward_evidence *ev = NULL;
	const struct ward_evidence_claims *c;
	char why[512];
	int r;

	if (ward_evidence_parse(buf, len, &ev, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "unknown evidence type (neither simulation evidence nor a well-formed SGX/TDX quote or SEV-SNP report: %s)",
			 why);
		return -1;
	}
	c = &ev->c;
	memset(out, 0, sizeof(*out));
	switch (c->type) {
	case WARD_EVIDENCE_SGX:
		snprintf(out->platform, sizeof(out->platform), "sgx");
		memcpy(out->measurement, c->sgx.mrenclave, 32);
		out->measurement_len = 32;
		memcpy(out->report_data, c->sgx.report_data, 64);
		break;
	case WARD_EVIDENCE_TDX:
		snprintf(out->platform, sizeof(out->platform), "tdx");
		memcpy(out->measurement, c->td.mrtd, 48);
		out->measurement_len = 48;
		memcpy(out->report_data, c->td.report_data, 64);
		break;
	case WARD_EVIDENCE_SNP:
		snprintf(out->platform, sizeof(out->platform), "sev-snp");
		memcpy(out->measurement, c->snp.measurement, 48);
		out->measurement_len = 48;
		memcpy(out->report_data, c->snp.report_data, 64);
		break;
	}
	out->debug = c->debug;
	if (expect_rd != NULL && !ward_ct_equal(out->report_data, expect_rd, 64)) {
		ward_evidence_free(ev);
		return CAS_EVIDENCE_UNBOUND;
	}
	r = cas_hw_verify(v->hw, ev, at, &out->hw, why, sizeof(why));
	ward_evidence_free(ev);
	if (r != 0) {
		snprintf(err, errlen, "evidence invalid: %s", why);
		return -1;
	}
	out->verified = 1;
	return 0;
}

static int check(const struct cas_verifier *v, const uint8_t *ev, size_t len, const uint8_t *expect_rd, time_t at,
		 struct cas_evidence *out, char *err, size_t errlen)
{
	out->platform[0] = 0;
	out->verified = 0;
	if (ev == NULL || len == 0) {
		snprintf(err, errlen, "no evidence");
		return -1;
	}
	if (ward_sim_evidence_is(ev, len))
		return check_sim(v, ev, len, expect_rd, out, err, errlen);
	return check_hw(v, ev, len, expect_rd, at, out, err, errlen);
}

int cas_evidence_check(const struct cas_verifier *v, const uint8_t *ev, size_t len,
		       const uint8_t expect_rd[64], struct cas_evidence *out, char *err, size_t errlen)
{
	return check(v, ev, len, expect_rd, 0, out, err, errlen);
}

int cas_evidence_check_at(const struct cas_verifier *v, const uint8_t *ev, size_t len, time_t at,
			  struct cas_evidence *out, char *err, size_t errlen)
{
	return check(v, ev, len, NULL, at, out, err, errlen);
}
