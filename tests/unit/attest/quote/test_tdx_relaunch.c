/* test_tdx_relaunch.c: TCB level matching of TDX quotes with a TD report
 * 1.5, the TDRelaunchAdvised rule (docs/evidence.md). No public TDX 1.5
 * sample comes with collateral, so the claims and a TCB info are built
 * here and given to the matcher directly (signatures are not involved).
 *
 * TCB info: level 0 (latest) tdx comp[0]=4 comp[2]=3 UpToDate; level 1
 * comp[2]=2 OutOfDate; module TDX_01 levels isvsvn 4 UpToDate, 2 OutOfDate.
 * The TD was launched with TEE_TCB_SVN = {2, 1, 2}: OutOfDate platform and
 * module. TEE_TCB_SVN_2 is the module it runs on now. */
#include <stdlib.h>
#include <string.h>

#include "attest/quote/collateral.h"
#include "attest/quote/verify_internal.h"
#include "../../test.h"

static const char *tcb_info(const char *l0_status, const char *l1_status, int l0_sgx)
{
	static char buf[8192];
	char sgx0[512] = "", sgx1[512] = "";
	for (int i = 0; i < 16; i++) {
		snprintf(sgx0 + strlen(sgx0), sizeof(sgx0) - strlen(sgx0), "%s{\"svn\":%d}", i ? "," : "", l0_sgx);
		snprintf(sgx1 + strlen(sgx1), sizeof(sgx1) - strlen(sgx1), "%s{\"svn\":5}", i ? "," : "");
	}
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"TDX\",\"version\":3,\"fmspc\":\"00806f050000\",\"pceId\":\"0000\","
		 "\"tdxModule\":{\"mrsigner\":\"%096d\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
		 "\"tdxModuleIdentities\":[{\"id\":\"TDX_01\",\"mrsigner\":\"%096d\",\"attributes\":\"0000000000000000\","
		 "\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":["
		 "{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"UpToDate\"},"
		 "{\"tcb\":{\"isvsvn\":2},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-01111\"]}]}],"
		 "\"tcbLevels\":["
		 "{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":13,\"tdxtcbcomponents\":[{\"svn\":4},{\"svn\":0},{\"svn\":3},"
		 "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}]},"
		 "\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"%s\"},"
		 "{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":13,\"tdxtcbcomponents\":[{\"svn\":0},{\"svn\":0},{\"svn\":2},"
		 "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}]},"
		 "\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"%s\"}]}",
		 0, 0, sgx0, l0_status, sgx1, l1_status);
	return buf;
}

static const char *qe_identity(const char *status)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"TD_QE\",\"version\":2,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
		 "\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
		 "\"mrsigner\":\"%064d\",\"isvprodid\":2,"
		 "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2025-01-01T00:00:00Z\",\"tcbStatus\":\"%s\"}]}",
		 0, status);
	return buf;
}

struct tc {
	const char *name;
	uint8_t svn2[3];
	int tdx15;
	const char *l0, *l1, *qe;
	int l0_sgx;
	int ok;                      /* tcb_level passes */
	enum ward_tcb_status want;
	const char *msg;             /* part of the tcb_level message */
};

static void run(const struct tc *t, struct ward_evidence *ev, struct ward_verify_result *r)
{
	struct ward_collateral col;
	json_error_t je;

	memset(&col, 0, sizeof(col));
	col.tcb = json_loads(tcb_info(t->l0, t->l1, t->l0_sgx), 0, &je);
	col.qe = json_loads(qe_identity(t->qe), 0, &je);
	CHECK(col.tcb && col.qe);
	ev->c.td.tdx15 = t->tdx15;
	memcpy(ev->c.td.tee_tcb_svn2, t->svn2, 3);
	memset(r->checks, 0, sizeof(r->checks));
	r->nchecks = 0;
	r->nadvisories = 0;
	ward_tcb_evaluate(ev, &col, r);
	const struct ward_check *k = ward_verify_find_check(r, "tcb_level");
	int ok = k && k->state == WARD_CHECK_PASS;
	if (ok != t->ok || (t->ok && r->tcb_status != t->want) || (t->msg && (!k || !strstr(k->msg, t->msg)))) {
		fprintf(stderr, "case %s: tcb_level %s (%s), status %s\n", t->name, ok ? "pass" : "fail", k ? k->msg : "-",
			ward_tcb_status_name(r->tcb_status));
		CHECK(0);
	}
	json_decref(col.tcb);
	json_decref(col.qe);
}

int main(void)
{
	struct ward_evidence ev;
	struct ward_verify_result *r = calloc(1, sizeof(*r));
	static const struct tc cases[] = {
		{ "module updated to the latest", { 4, 1, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_TD_RELAUNCH_ADVISED, "relaunch the TD" },
		{ "TD report 1.0: no relaunch rule", { 4, 1, 3 }, 0, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "current module below the latest isvsvn", { 3, 1, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "current tdx component 2 below the latest", { 4, 1, 2 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "major 0: compared with tdx component 0", { 4, 0, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_TD_RELAUNCH_ADVISED, NULL },
		{ "major 0 below component 0", { 3, 0, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "configuration needed", { 4, 1, 3 }, 1, "ConfigurationNeeded", "OutOfDateConfigurationNeeded", "UpToDate", 5, 1,
		  WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED, NULL },
		{ "QE out of date: no relaunch", { 4, 1, 3 }, 1, "UpToDate", "OutOfDate", "OutOfDate", 5, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "SGX level out of date: no relaunch", { 4, 1, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 6, 1,
		  WARD_TCB_OUT_OF_DATE, NULL },
		{ "SGX level revoked", { 4, 1, 3 }, 1, "UpToDate", "Revoked", "UpToDate", 6, 0, WARD_TCB_REVOKED, "Revoked" },
		{ "current module unknown to the TCB info", { 4, 2, 3 }, 1, "UpToDate", "OutOfDate", "UpToDate", 5, 0,
		  WARD_TCB_NOT_EVALUATED, "TDX module 'TDX_02' (TEE_TCB_SVN_2)" },
	};

	memset(&ev, 0, sizeof(ev));
	ev.c.type = WARD_EVIDENCE_TDX;
	ev.c.td.tee_tcb_svn[0] = 2; /* module isvsvn at launch */
	ev.c.td.tee_tcb_svn[1] = 1; /* module major: TDX_01 */
	ev.c.td.tee_tcb_svn[2] = 2;
	ev.c.quote.qe_report.attributes[0] = 0x11;
	ev.c.quote.qe_report.isv_prod_id = 2;
	ev.c.quote.qe_report.isv_svn = 4;
	r->pck.present = 1;
	memset(r->pck.comp_svn, 5, 16);
	r->pck.pcesvn = 13;
	memcpy(r->pck.fmspc, "\x00\x80\x6f\x05\x00\x00", 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(&cases[i], &ev, r);
	/* advisories of the out-of-date module are still reported */
	run(&cases[0], &ev, r);
	CHECK(r->nadvisories == 1 && strcmp(r->advisories[0], "INTEL-SA-01111") == 0);
	free(r);
	return TEST_DONE();
}
