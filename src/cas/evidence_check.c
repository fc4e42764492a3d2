/* evidence_check.c: see evidence_check.h. */
#include "cas/evidence_check.h"

#include <stdio.h>
#include <string.h>

#include "cas/sim_compat.h"

int cas_evidence_check(const uint8_t *ev, size_t len, const uint8_t *pinned_sim_platform,
		       struct cas_evidence *out, char *err, size_t errlen)
{
	struct ward_sim_claims c;
	char why[256] = "";

	if (ev == NULL || len == 0) {
		snprintf(err, errlen, "no evidence");
		return -1;
	}
	if (!ward_sim_evidence_is(ev, len)) {
		snprintf(err, errlen, "unknown evidence type (only simulation evidence is verified by this CAS build)");
		return -1;
	}
	if (pinned_sim_platform == NULL) {
		snprintf(err, errlen, "simulation evidence is not accepted by this CAS (started without a simulation platform)");
		return -1;
	}
	if (ward_sim_evidence_verify(ev, len, pinned_sim_platform, &c, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "evidence invalid: %s", why);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->platform, sizeof(out->platform), "sim");
	memcpy(out->measurement, c.measurement, 32);
	memcpy(out->report_data, c.report_data, 64);
	memcpy(out->platform_id, c.platform_fpr, 32);
	out->simulation = 1;
	return 0;
}
