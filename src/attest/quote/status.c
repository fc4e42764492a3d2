/* status.c: TCB status names (Intel PCS spelling) and check lookup. */
#include <string.h>

#include "attest/quote/evidence.h"

static const char *const names[] = {
	[WARD_TCB_NOT_EVALUATED] = "NotEvaluated",
	[WARD_TCB_UP_TO_DATE] = "UpToDate",
	[WARD_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[WARD_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
	[WARD_TCB_OUT_OF_DATE] = "OutOfDate",
	[WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
	[WARD_TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
	[WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] = "TDRelaunchAdvisedConfigurationNeeded",
	[WARD_TCB_REVOKED] = "Revoked",
	[WARD_TCB_NO_MATCH] = "NoMatchingTcbLevel",
};

const char *ward_tcb_status_name(enum ward_tcb_status s)
{
	if ((size_t)s >= sizeof(names) / sizeof(names[0]) || !names[s])
		return "?";
	return names[s];
}

int ward_tcb_status_parse(const char *s, enum ward_tcb_status *out)
{
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (i != WARD_TCB_NO_MATCH && strcmp(s, names[i]) == 0) {
			*out = (enum ward_tcb_status)i;
			return 0;
		}
	return -1;
}

const struct ward_check *ward_verify_find_check(const struct ward_verify_result *res, const char *name)
{
	for (size_t i = 0; i < res->nchecks; i++)
		if (strcmp(res->checks[i].name, name) == 0)
			return &res->checks[i];
	return NULL;
}
