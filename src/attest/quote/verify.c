/* verify.c: ward_evidence_verify(): dispatch and result bookkeeping. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "attest/quote/verify_internal.h"

void ward_check(struct ward_verify_result *r, const char *name, enum ward_check_state st, const char *fmt, ...)
{
	struct ward_check *k;
	va_list ap;

	if (r->nchecks >= WARD_EVIDENCE_MAX_CHECKS)
		return;
	k = &r->checks[r->nchecks++];
	k->name = name;
	k->state = st;
	va_start(ap, fmt);
	vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
	va_end(ap);
}

int ward_evidence_verify(const struct ward_evidence *ev, const struct ward_verify_opts *opts,
			 struct ward_verify_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	res->c = ev->c;
	res->at = opts->at ? opts->at : time(NULL);
	res->failed = -1;
	if (ev->c.type == WARD_EVIDENCE_SNP)
		ward_verify_snp(ev, opts, res);
	else
		ward_verify_dcap(ev, opts, res);
	for (size_t i = 0; i < res->nchecks; i++)
		if (res->checks[i].state == WARD_CHECK_FAIL) {
			res->failed = (int)i;
			break;
		}
	res->ok = res->failed < 0 && res->nchecks > 0;
	if (!res->ok) {
		if (res->failed >= 0)
			snprintf(err, errlen, "%s: %s", res->checks[res->failed].name, res->checks[res->failed].msg);
		else
			snprintf(err, errlen, "no check was performed");
		return -1;
	}
	return 0;
}
