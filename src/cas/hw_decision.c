/* hw_decision.c: see hw_decision.h. */
#include "cas/hw_decision.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cas/session.h"
#include "core/util.h"

static int deny(char *reason, size_t rl, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int deny(char *reason, size_t rl, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(reason, rl, "attestation denied by CAS: ");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < rl)
		vsnprintf(reason + n, rl - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The tolerations a TCB status needs (NULL-terminated), or NULL when no
 * toleration makes it acceptable. UpToDate needs none. */
static const char *const *status_needs(enum ward_tcb_status st)
{
	static const char *const none[] = { NULL };
	static const char *const swh[] = { "software-hardening-needed", NULL };
	static const char *const cfg[] = { "insecure-configuration", NULL };
	static const char *const cfg_swh[] = { "insecure-configuration", "software-hardening-needed", NULL };
	static const char *const ood[] = { "outdated-tcb", NULL };
	static const char *const ood_cfg[] = { "outdated-tcb", "insecure-configuration", NULL };
	switch (st) {
	case WARD_TCB_UP_TO_DATE: return none;
	case WARD_TCB_SW_HARDENING_NEEDED: return swh;
	case WARD_TCB_CONFIGURATION_NEEDED: return cfg;
	case WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED: return cfg_swh;
	case WARD_TCB_OUT_OF_DATE: return ood;
	case WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED: return ood_cfg;
	case WARD_TCB_TD_RELAUNCH_ADVISED: return ood;
	case WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED: return ood_cfg;
	default: return NULL;
	}
}

/* The first toleration st needs that doc lacks, or NULL when all are there. */
static const char *missing_toleration(json_t *doc, enum ward_tcb_status st)
{
	const char *const *need = status_needs(st);
	for (size_t i = 0; need != NULL && need[i] != NULL; i++)
		if (!cas_session_tolerates(doc, need[i]))
			return need[i];
	return NULL;
}

static int ignores_advisory(json_t *ign, const char *id)
{
	json_t *e;
	size_t i;
	json_array_foreach(ign, i, e) {
		const char *s = json_string_value(e);
		if (s != NULL && (strcmp(s, "*") == 0 || strcasecmp(s, id) == 0))
			return 1;
	}
	return 0;
}

/* A pin from the service: n bytes of hex at svc[obj][key], NULL if absent. */
static const uint8_t *pin(json_t *svc, const char *obj, const char *key, uint8_t *buf, size_t n)
{
	const char *h = json_string_value(json_object_get(json_object_get(svc, obj), key));
	if (h == NULL || strlen(h) != 2 * n || ward_unhex(h, buf, n) != 0)
		return NULL;
	return buf;
}

int cas_hw_decide(json_t *doc, json_t *svc, const char *session, const char *service,
		  const struct cas_evidence *ev, char *reason, size_t rl)
{
	const struct ward_verify_result *res = &ev->hw;
	enum ward_evidence_type type = res->c.type;
	json_t *ign = json_object_get(json_object_get(json_object_get(doc, "security"), "attestation"), "ignore_advisories");
	struct ward_evidence_policy pol = { 0 };
	uint8_t listed[48], mrsigner[32], mrtd[48], meas[48], host[32], rtmr[4][48];
	char got[97], list[1024], why[512];
	const char *statuses[16], *advs[WARD_EVIDENCE_MAX_ADVISORIES];
	size_t nst = 0, nadv = 0;
	const char *what = type == WARD_EVIDENCE_SGX ? "SGX enclave" : type == WARD_EVIDENCE_TDX ? "TD" : "SEV-SNP guest";

	if (!ev->verified || !res->ok)
		return deny(reason, rl, "evidence was not verified");
	ward_hex(ev->measurement, ev->measurement_len, got);

	/* identity: mrenclaves, or the platform pin */
	int in_list = cas_session_match_measurement(svc, ev->measurement, ev->measurement_len, list, sizeof(list));
	switch (type) {
	case WARD_EVIDENCE_SGX:
		if (in_list) {
			memcpy(listed, ev->measurement, 32);
			pol.mrenclave = listed;
		} else if ((pol.mrsigner = pin(svc, "sgx", "mrsigner", mrsigner, 32)) != NULL) {
			json_t *sgx = json_object_get(svc, "sgx");
			json_t *pid = json_object_get(sgx, "isvprodid"), *svn = json_object_get(sgx, "isvsvn");
			/* without isvprodid any product of the signer is accepted (docs/cas.md) */
			pol.isv_prod_id = json_is_integer(pid) ? (uint16_t)json_integer_value(pid) : res->c.sgx.isv_prod_id;
			pol.min_isv_svn = json_is_integer(svn) ? (uint16_t)json_integer_value(svn) : 0;
		} else {
			return deny(reason, rl, "enclave hash %s not in session '%s' service '%s' (expected one of: %s)", got,
				    session, service, list);
		}
		break;
	case WARD_EVIDENCE_TDX:
		if (in_list) {
			memcpy(listed, ev->measurement, 48);
			pol.mrtd = listed;
		} else if ((pol.mrtd = pin(svc, "tdx", "mrtd", mrtd, 48)) == NULL) {
			return deny(reason, rl, "TD measurement (MRTD) %s not in session '%s' service '%s' (expected one of: %s)",
				    got, session, service, list);
		}
		{
			json_t *r = json_object_get(json_object_get(svc, "tdx"), "rtmr");
			for (size_t i = 0; i < 4 && i < json_array_size(r); i++) {
				const char *h = json_string_value(json_array_get(r, i));
				if (h != NULL && strlen(h) == 96 && ward_unhex(h, rtmr[i], 48) == 0)
					pol.rtmr[i] = rtmr[i];
			}
		}
		break;
	case WARD_EVIDENCE_SNP:
		if (in_list) {
			memcpy(listed, ev->measurement, 48);
			pol.snp_measurement = listed;
		} else if ((pol.snp_measurement = pin(svc, "snp", "measurement", meas, 48)) == NULL) {
			return deny(reason, rl, "SEV-SNP launch measurement %s not in session '%s' service '%s' (expected one of: %s)",
				    got, session, service, list);
		}
		pol.snp_host_data = pin(svc, "snp", "host_data", host, 32);
		pol.allow_unevaluated_tcb = 1; /* no TCB collateral: REPORTED_TCB is checked against the VCEK */
		break;
	}

	/* the pins alone (debug and TCB judged below, with their own messages) */
	{
		struct ward_evidence_policy p = pol;
		static const char *const all[] = { "SWHardeningNeeded", "ConfigurationNeeded",
						   "ConfigurationAndSWHardeningNeeded", "OutOfDate",
						   "OutOfDateConfigurationNeeded", "TDRelaunchAdvised",
						   "TDRelaunchAdvisedConfigurationNeeded" };
		const char *a[WARD_EVIDENCE_MAX_ADVISORIES];
		for (size_t i = 0; i < res->nadvisories; i++)
			a[i] = res->advisories[i];
		p.allow_debug = 1;
		p.tolerated_statuses = all;
		p.ntolerated_statuses = WARD_ARRAY_LEN(all);
		p.tolerated_advisories = a;
		p.ntolerated_advisories = res->nadvisories;
		p.allow_unevaluated_tcb = 1;
		if (ward_evidence_policy_check(res, &p, why, sizeof(why)) != 0)
			return deny(reason, rl, "%s %s of session '%s' service '%s': %s", what, got, session, service, why);
	}

	/* debug */
	pol.allow_debug = cas_session_tolerates(doc, "debug-mode");
	if (res->c.debug && !pol.allow_debug)
		return deny(reason, rl, "debug %s not tolerated by session '%s' (add 'debug-mode' to security.attestation.tolerate)",
			    type == WARD_EVIDENCE_SGX ? "enclave" : type == WARD_EVIDENCE_TDX ? "TD" : "guest", session);

	/* TCB status and advisories (SGX, TDX) */
	if (type != WARD_EVIDENCE_SNP) {
		enum ward_tcb_status st = res->tcb_status;
		const char *name = ward_tcb_status_name(st), *need;
		char al[512] = "";
		size_t used = 0;
		for (size_t i = 0; i < res->nadvisories; i++) {
			int w = snprintf(al + used, sizeof(al) - used, "%s%s", i ? ", " : "", res->advisories[i]);
			if (w > 0 && (size_t)w < sizeof(al) - used)
				used += (size_t)w;
		}
		if (status_needs(st) == NULL)
			return deny(reason, rl, "platform TCB status %s is never accepted", name);
		if ((need = missing_toleration(doc, st)) != NULL)
			return deny(reason, rl, "platform TCB status is %s%s%s%s and session '%s' does not tolerate '%s' (%s, or add '%s' to security.attestation.tolerate)",
				    name, used ? " (advisories: " : "", al, used ? ")" : "", session, need,
				    strcmp(need, "outdated-tcb") == 0 ? "update the platform's microcode and firmware"
				    : strcmp(need, "insecure-configuration") == 0 ? "fix the platform's BIOS configuration"
										 : "rebuild the enclave with the software mitigations",
				    need);
		for (int s = WARD_TCB_SW_HARDENING_NEEDED; s <= WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED; s++)
			if (missing_toleration(doc, (enum ward_tcb_status)s) == NULL && nst < WARD_ARRAY_LEN(statuses))
				statuses[nst++] = ward_tcb_status_name((enum ward_tcb_status)s);
		if (st != WARD_TCB_UP_TO_DATE) {
			for (size_t i = 0; i < res->nadvisories; i++) {
				if (!ignores_advisory(ign, res->advisories[i]))
					return deny(reason, rl, "platform TCB status %s names advisory %s, which session '%s' does not ignore (review it, then add it to security.attestation.ignore_advisories)",
						    name, res->advisories[i], session);
				advs[nadv++] = res->advisories[i];
			}
		}
		pol.tolerated_statuses = statuses;
		pol.ntolerated_statuses = nst;
		pol.tolerated_advisories = advs;
		pol.ntolerated_advisories = nadv;
	}

	/* the attestation component's policy check has the last word */
	if (ward_evidence_policy_check(res, &pol, why, sizeof(why)) != 0)
		return deny(reason, rl, "%s %s of session '%s' service '%s': %s", what, got, session, service, why);
	return 0;
}
