/*
 * tcb.c: TCB level matching against Intel TCB info (v2 and v3) and QE
 * identity (docs/evidence.md, steps 8-12; Intel QVL TcbLevelCheck.cpp):
 *
 *  - platform level: the first tcbLevels entry whose SGX component SVNs and
 *    PCESVN are all <= the PCK certificate's; for TDX the first that also
 *    has every tdxtcbcomponents[i] <= TEE_TCB_SVN[i] (i from 2 when
 *    TEE_TCB_SVN[1], the module major version, is non-zero).
 *  - TDX module: tdxModule (major 0) or tdxModuleIdentities["TDX_%02d"]
 *    (major > 0): MRSIGNERSEAM and SEAMATTRIBUTES must match; the module
 *    level is the first with isvsvn <= TEE_TCB_SVN[0].
 *  - QE: id, MRSIGNER, ISVPRODID, masked MISCSELECT/ATTRIBUTES; level = the
 *    first with isvsvn <= the QE's ISVSVN.
 *  - convergence: an OutOfDate module or QE degrades the status; Revoked
 *    anywhere is Revoked.
 *  - TDX 1.5: TDRelaunchAdvised when only the launch-time module is out of
 *    date and TEE_TCB_SVN_2 meets the latest level (relaunch()).
 * Inputs come from signed collateral but are still checked for type and
 * size before use (a malformed TCB info fails tcb_info_match).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "attest/quote/collateral.h"
#include "attest/quote/verify_internal.h"
#include "core/util.h"

static int jint(json_t *o, const char *k, long long max, long long *out)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* hex string field of exactly n bytes (either case) */
static int jhex(json_t *o, const char *k, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));
	char low[2 * 64 + 1];
	if (!s || n > 64 || strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < 2 * n; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] + 32 : s[i]);
	low[2 * n] = 0;
	return ward_unhex(low, out, n);
}

static int level_status(json_t *lvl, enum ward_tcb_status *st)
{
	const char *s = json_string_value(json_object_get(lvl, "tcbStatus"));
	return s ? ward_tcb_status_parse(s, st) : -1;
}

static void add_advisories(struct ward_verify_result *r, json_t *lvl)
{
	json_t *a = json_object_get(lvl, "advisoryIDs");
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		int dup = 0;
		if (!s || strlen(s) >= sizeof(r->advisories[0]))
			continue;
		for (size_t j = 0; j < r->nadvisories; j++)
			dup |= strcmp(r->advisories[j], s) == 0;
		if (!dup && r->nadvisories < WARD_EVIDENCE_MAX_ADVISORIES)
			snprintf(r->advisories[r->nadvisories++], sizeof(r->advisories[0]), "%s", s);
	}
}

/* SGX component i (0-based) SVN of a level's tcb object, v2 or v3 layout */
static int sgx_comp(json_t *tcb, int v3, int i, long long *out)
{
	if (v3) {
		json_t *arr = json_object_get(tcb, "sgxtcbcomponents");
		if (!json_is_array(arr) || json_array_size(arr) != 16)
			return -1;
		return jint(json_array_get(arr, (size_t)i), "svn", 255, out);
	}
	char k[24];
	snprintf(k, sizeof(k), "sgxtcbcomp%02dsvn", i + 1);
	return jint(tcb, k, 255, out);
}

static enum ward_tcb_status converge(enum ward_tcb_status base, enum ward_tcb_status other)
{
	if (other == WARD_TCB_REVOKED)
		return WARD_TCB_REVOKED;
	if (other == WARD_TCB_OUT_OF_DATE) {
		if (base == WARD_TCB_UP_TO_DATE || base == WARD_TCB_SW_HARDENING_NEEDED)
			return WARD_TCB_OUT_OF_DATE;
		if (base == WARD_TCB_CONFIGURATION_NEEDED || base == WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED)
			return WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	}
	return base;
}

/* Returns the matching platform level or NULL; 1 in *bad on malformed.
 * *sgx_lvl gets the first level matched by the SGX components and PCESVN
 * alone (for TDX it can come before the returned one). */
static json_t *platform_level(const struct ward_evidence *ev, json_t *tcbinfo, int v3, const struct ward_pck_info *pck,
			      int *bad, json_t **sgx_lvl)
{
	json_t *levels = json_object_get(tcbinfo, "tcbLevels"), *lvl;
	int tdx = ev->c.type == WARD_EVIDENCE_TDX;
	const uint8_t *tee = ev->c.td.tee_tcb_svn;
	size_t idx;

	*bad = !json_is_array(levels);
	*sgx_lvl = NULL;
	json_array_foreach(levels, idx, lvl) {
		json_t *tcb = json_object_get(lvl, "tcb");
		long long v;
		int ok = 1;
		for (int i = 0; i < 16 && ok; i++) {
			if (sgx_comp(tcb, v3, i, &v) != 0) {
				*bad = 1;
				return NULL;
			}
			ok = pck->comp_svn[i] >= v;
		}
		if (jint(tcb, "pcesvn", 65535, &v) != 0) {
			*bad = 1;
			return NULL;
		}
		ok = ok && pck->pcesvn >= v;
		if (ok && !*sgx_lvl)
			*sgx_lvl = lvl;
		if (ok && tdx) {
			json_t *arr = json_object_get(tcb, "tdxtcbcomponents");
			if (!json_is_array(arr) || json_array_size(arr) != 16) {
				*bad = 1;
				return NULL;
			}
			for (int i = tee[1] > 0 ? 2 : 0; i < 16 && ok; i++) {
				if (jint(json_array_get(arr, (size_t)i), "svn", 255, &v) != 0) {
					*bad = 1;
					return NULL;
				}
				ok = tee[i] >= v;
			}
		}
		if (ok)
			return lvl;
	}
	return NULL;
}

static json_t *isvsvn_level(json_t *levels, long long svn)
{
	size_t i;
	json_t *lvl;
	json_array_foreach(levels, i, lvl) {
		long long v;
		if (jint(json_object_get(lvl, "tcb"), "isvsvn", 65535, &v) == 0 && v <= svn)
			return lvl;
	}
	return NULL;
}

/* (value & mask) == expected, byte-wise, n bytes */
static int masked_eq(const uint8_t *val, json_t *o, const char *k, const char *km, size_t n)
{
	uint8_t exp[16], mask[16];
	if (n > 16 || jhex(o, k, exp, n) != 0 || jhex(o, km, mask, n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((val[i] & mask[i]) != exp[i])
			return 0;
	return 1;
}

static int check_qe(const struct ward_evidence *ev, json_t *qe, struct ward_verify_result *r, enum ward_tcb_status *st)
{
	const struct ward_sgx_report *rep = &ev->c.quote.qe_report;
	const char *want = ev->c.type == WARD_EVIDENCE_TDX ? "TD_QE" : "QE";
	const char *id = json_string_value(json_object_get(qe, "id"));
	uint8_t mrs[32];
	long long prod;
	json_t *lvl;

	if (!id || strcmp(id, want) != 0) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE identity id is '%s', expected '%s'", id ? id : "(none)", want);
		return -1;
	}
	if (jhex(qe, "mrsigner", mrs, 32) != 0 || jint(qe, "isvprodid", 65535, &prod) != 0) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE identity is malformed (mrsigner/isvprodid)");
		return -1;
	}
	if (memcmp(mrs, rep->mrsigner, 32) != 0) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE MRSIGNER does not match the QE identity");
		return -1;
	}
	if (prod != rep->isv_prod_id) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE ISVPRODID %u does not match the QE identity (%lld)",
			   rep->isv_prod_id, prod);
		return -1;
	}
	int m = masked_eq(rep->miscselect, qe, "miscselect", "miscselectMask", 4);
	int a = masked_eq(rep->attributes, qe, "attributes", "attributesMask", 16);
	if (m < 0 || a < 0) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE identity is malformed (miscselect/attributes)");
		return -1;
	}
	if (!m || !a) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "QE %s does not match the QE identity", !m ? "MISCSELECT" : "ATTRIBUTES");
		return -1;
	}
	lvl = isvsvn_level(json_object_get(qe, "tcbLevels"), rep->isv_svn);
	if (!lvl || level_status(lvl, st) != 0) {
		ward_check(r, "qe_identity", WARD_CHECK_FAIL, "no QE identity TCB level for QE ISVSVN %u", rep->isv_svn);
		return -1;
	}
	add_advisories(r, lvl);
	ward_check(r, "qe_identity", WARD_CHECK_PASS, "QE matches identity '%s', ISVSVN %u: %s", want, rep->isv_svn,
		   ward_tcb_status_name(*st));
	return 0;
}

/* TDX module identity; *st stays NOT_EVALUATED when tdxModule (major 0) is used. */
static int check_module(const struct ward_evidence *ev, json_t *tcbinfo, struct ward_verify_result *r, enum ward_tcb_status *st)
{
	const struct ward_td_report *td = &ev->c.td;
	static const uint8_t zero8[8];
	json_t *mod;
	uint8_t mrs[48];

	*st = WARD_TCB_NOT_EVALUATED;
	if (memcmp(td->seam_attributes, zero8, 8) != 0) {
		ward_check(r, "tdx_module", WARD_CHECK_FAIL, "SEAMATTRIBUTES is not zero");
		return -1;
	}
	if (td->tee_tcb_svn[1] == 0) {
		mod = json_object_get(tcbinfo, "tdxModule");
		snprintf(r->module_id, sizeof(r->module_id), "tdxModule");
	} else {
		json_t *ids = json_object_get(tcbinfo, "tdxModuleIdentities"), *e;
		size_t i;
		mod = NULL;
		snprintf(r->module_id, sizeof(r->module_id), "TDX_%02u", td->tee_tcb_svn[1]);
		json_array_foreach(ids, i, e) {
			const char *id = json_string_value(json_object_get(e, "id"));
			if (id && strcmp(id, r->module_id) == 0)
				mod = e;
		}
	}
	if (!json_is_object(mod)) {
		ward_check(r, "tdx_module", WARD_CHECK_FAIL, "TCB info has no TDX module identity '%s'", r->module_id);
		return -1;
	}
	int am = masked_eq(td->seam_attributes, mod, "attributes", "attributesMask", 8);
	if (jhex(mod, "mrsigner", mrs, 48) != 0 || am < 0) {
		ward_check(r, "tdx_module", WARD_CHECK_FAIL, "TDX module identity '%s' is malformed", r->module_id);
		return -1;
	}
	if (memcmp(mrs, td->mrsignerseam, 48) != 0 || !am) {
		ward_check(r, "tdx_module", WARD_CHECK_FAIL, "MRSIGNERSEAM/SEAMATTRIBUTES do not match TDX module identity '%s'",
			   r->module_id);
		return -1;
	}
	if (td->tee_tcb_svn[1] > 0) {
		json_t *lvl = isvsvn_level(json_object_get(mod, "tcbLevels"), td->tee_tcb_svn[0]);
		if (!lvl || level_status(lvl, st) != 0) {
			ward_check(r, "tdx_module", WARD_CHECK_FAIL, "no TCB level of TDX module '%s' for ISVSVN %u", r->module_id,
				   td->tee_tcb_svn[0]);
			return -1;
		}
		add_advisories(r, lvl);
		ward_check(r, "tdx_module", WARD_CHECK_PASS, "TDX module %s ISVSVN %u: %s", r->module_id, td->tee_tcb_svn[0],
			   ward_tcb_status_name(*st));
	} else {
		r->module_id[0] = 0;
		ward_check(r, "tdx_module", WARD_CHECK_PASS, "TDX module signer and attributes match tdxModule");
	}
	return 0;
}

static int config_needed(enum ward_tcb_status s)
{
	return s == WARD_TCB_CONFIGURATION_NEEDED || s == WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED ||
	       s == WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED || s == WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED;
}

/* TDX 1.5 (TD report 1.5): the TD runs on an updated TDX module. When the
 * TCB is out of date only because of the module the TD was launched with
 * (TEE_TCB_SVN) and the current module (TEE_TCB_SVN_2) meets the latest
 * TCB level, relaunching the TD brings it up to date: TDRelaunchAdvised
 * (Intel QVL, TDRelaunchCheck). Conditions: QE not OutOfDate/Revoked; the
 * SGX level UpToDate, SWHardeningNeeded or Configuration(AndSWHardening)
 * Needed; the TDX status (with the module) OutOfDate(ConfigurationNeeded);
 * the module identity OutOfDate. Then with SVN2 = TEE_TCB_SVN_2: major 0:
 * SVN2[0] >= latest level tdxtcbcomponents[0]; major > 0: SVN2[0] >= the
 * first (latest) isvsvn of module TDX_<SVN2[1]>; and SVN2[2] >= latest
 * level tdxtcbcomponents[2]. Returns the status; -1 (with the check
 * recorded) when the TCB info lacks what the rule needs. */
static int relaunch(const struct ward_evidence *ev, json_t *ti, enum ward_tcb_status sgx, enum ward_tcb_status qe,
		    enum ward_tcb_status mod, enum ward_tcb_status *tdx, struct ward_verify_result *r)
{
	const uint8_t *s2 = ev->c.td.tee_tcb_svn2;
	json_t *latest = json_array_get(json_object_get(ti, "tcbLevels"), 0);
	json_t *comps = json_object_get(json_object_get(latest, "tcb"), "tdxtcbcomponents");
	long long need0, need2;

	if (qe == WARD_TCB_OUT_OF_DATE || qe == WARD_TCB_REVOKED)
		return 0;
	if (!(sgx == WARD_TCB_UP_TO_DATE || sgx == WARD_TCB_SW_HARDENING_NEEDED || sgx == WARD_TCB_CONFIGURATION_NEEDED ||
	      sgx == WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED))
		return 0;
	if (!(*tdx == WARD_TCB_OUT_OF_DATE || *tdx == WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED) || mod != WARD_TCB_OUT_OF_DATE)
		return 0;
	if (jint(json_array_get(comps, 2), "svn", 255, &need2) != 0) {
		ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB info has no latest TDX TCB level for the TD relaunch check");
		return -1;
	}
	if (s2[1] == 0) {
		if (jint(json_array_get(comps, 0), "svn", 255, &need0) != 0) {
			ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB info has no latest TDX TCB level for the TD relaunch check");
			return -1;
		}
	} else {
		char id[16];
		json_t *ids = json_object_get(ti, "tdxModuleIdentities"), *e, *mod2 = NULL;
		size_t i;
		snprintf(id, sizeof(id), "TDX_%02u", s2[1]);
		json_array_foreach(ids, i, e) {
			const char *eid = json_string_value(json_object_get(e, "id"));
			if (eid && strcmp(eid, id) == 0)
				mod2 = e;
		}
		if (!mod2) {
			ward_check(r, "tcb_level", WARD_CHECK_FAIL,
				   "the TD runs on TDX module '%s' (TEE_TCB_SVN_2), which the TCB info does not list", id);
			return -1;
		}
		if (jint(json_object_get(json_array_get(json_object_get(mod2, "tcbLevels"), 0), "tcb"), "isvsvn", 255,
			 &need0) != 0) {
			ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TDX module identity '%s' has no TCB level", id);
			return -1;
		}
	}
	if (s2[0] >= need0 && s2[2] >= need2)
		*tdx = config_needed(sgx) || config_needed(*tdx) ? WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
								 : WARD_TCB_TD_RELAUNCH_ADVISED;
	return 0;
}

void ward_tcb_evaluate(const struct ward_evidence *ev, const struct ward_collateral *col, struct ward_verify_result *r)
{
	json_t *ti = col->tcb;
	const char *id = json_string_value(json_object_get(ti, "id"));
	long long version;
	uint8_t fmspc[6], pceid[2];
	int tdx = ev->c.type == WARD_EVIDENCE_TDX, bad, v3;
	enum ward_tcb_status plat, qe = WARD_TCB_NOT_EVALUATED, mod = WARD_TCB_NOT_EVALUATED;
	json_t *lvl, *sgx_lvl;

	r->tcb_status = r->platform_status = r->qe_status = r->module_status = WARD_TCB_NOT_EVALUATED;
	if (jint(ti, "version", 100, &version) != 0 || (version != 2 && version != 3)) {
		ward_check(r, "tcb_info_match", WARD_CHECK_FAIL, "TCB info version is not 2 or 3");
		return;
	}
	v3 = version == 3;
	if (!v3 ? tdx : (!id || strcmp(id, tdx ? "TDX" : "SGX") != 0)) {
		ward_check(r, "tcb_info_match", WARD_CHECK_FAIL, "TCB info is for '%s', the quote is %s", id ? id : "SGX (v2)",
			   tdx ? "TDX" : "SGX");
		return;
	}
	if (jhex(ti, "fmspc", fmspc, 6) != 0 || jhex(ti, "pceId", pceid, 2) != 0) {
		ward_check(r, "tcb_info_match", WARD_CHECK_FAIL, "TCB info has no valid fmspc/pceId");
		return;
	}
	if (memcmp(fmspc, r->pck.fmspc, 6) != 0 || memcmp(pceid, r->pck.pceid, 2) != 0) {
		char a[13], b[13];
		ward_hex(fmspc, 6, a);
		ward_hex(r->pck.fmspc, 6, b);
		ward_check(r, "tcb_info_match", WARD_CHECK_FAIL, "TCB info is for FMSPC %s / PCE-ID, the PCK certificate has FMSPC %s", a, b);
		return;
	}
	{
		char a[13];
		ward_hex(fmspc, 6, a);
		ward_check(r, "tcb_info_match", WARD_CHECK_PASS, "TCB info %s v%lld for FMSPC %s", v3 ? id : "SGX", version, a);
	}
	if (check_qe(ev, col->qe, r, &qe) != 0)
		return;
	r->qe_status = qe;
	if (tdx) {
		if (check_module(ev, ti, r, &mod) != 0)
			return;
		r->module_status = mod;
	}
	lvl = platform_level(ev, ti, v3, &r->pck, &bad, &sgx_lvl);
	if (bad) {
		ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB info tcbLevels are malformed");
		return;
	}
	if (!lvl) {
		r->platform_status = r->tcb_status = WARD_TCB_NO_MATCH;
		ward_check(r, "tcb_level", WARD_CHECK_FAIL, "no matching TCB level: the platform TCB is not supported by this TCB info");
		return;
	}
	if (level_status(lvl, &plat) != 0) {
		ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB level has an unknown tcbStatus");
		return;
	}
	const char *date = json_string_value(json_object_get(lvl, "tcbDate"));
	snprintf(r->tcb_date, sizeof(r->tcb_date), "%s", date ? date : "");
	/* advisories: platform first, then QE and module (added above) */
	{
		char saved[WARD_EVIDENCE_MAX_ADVISORIES][24];
		size_t n = r->nadvisories;
		memcpy(saved, r->advisories, sizeof(saved));
		r->nadvisories = 0;
		add_advisories(r, lvl);
		for (size_t i = 0; i < n; i++) {
			int dup = 0;
			for (size_t j = 0; j < r->nadvisories; j++)
				dup |= strcmp(r->advisories[j], saved[i]) == 0;
			if (!dup && r->nadvisories < WARD_EVIDENCE_MAX_ADVISORIES)
				memcpy(r->advisories[r->nadvisories++], saved[i], sizeof(saved[i]));
		}
	}
	r->platform_status = plat;
	{
		enum ward_tcb_status t = converge(plat, mod), sgx;
		if (tdx && ev->c.td.tdx15 && t != WARD_TCB_REVOKED) {
			if (level_status(sgx_lvl, &sgx) != 0) {
				ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB level has an unknown tcbStatus");
				return;
			}
			if (relaunch(ev, ti, sgx, qe, mod, &t, r) != 0)
				return;
		}
		r->tcb_status = converge(t, qe);
	}
	if (r->tcb_status == WARD_TCB_REVOKED)
		ward_check(r, "tcb_level", WARD_CHECK_FAIL, "TCB status is Revoked (platform %s, QE %s)",
			   ward_tcb_status_name(plat), ward_tcb_status_name(qe));
	else
		ward_check(r, "tcb_level", WARD_CHECK_PASS, "%s (TCB date %s)%s", ward_tcb_status_name(r->tcb_status),
			   r->tcb_date,
			   r->tcb_status == WARD_TCB_TD_RELAUNCH_ADVISED ||
					   r->tcb_status == WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED
				   ? "; the TD was launched on an older TDX module and the current one (TEE_TCB_SVN_2) is up to date: relaunch the TD"
				   : "");
}
