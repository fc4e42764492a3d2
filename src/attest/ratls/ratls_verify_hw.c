/*
 * ratls_verify_hw.c: the signature chain of hardware evidence in an RA-TLS
 * certificate, through the evidence verifier of src/attest/quote/
 * (evidence.h): SGX/TDX quote signature, QE report, PCK chain to the pinned
 * Intel root, CRLs and TCB level with collateral; SEV-SNP report signature
 * and the VCEK/VLEK chain to the pinned AMD ARKs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/quote/evidence.h"
#include "attest/ratls/ratls_internal.h"
#include "attest/ratls/ratls_verify.h"
#include "core/util.h"

static void fail(struct ward_ratls_verdict *v, int i, const char *fmt, const char *a, const char *b)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), fmt, a, b);
	ward_ratls_verdict_add(v, "evidence_signature", i, 0, msg);
}

/* UpToDate passes; any other status only when listed in --tolerate-tcb. */
static void check_tcb(enum ward_tcb_status st, int i, const struct ward_ratls_verify_opts *o,
		      struct ward_ratls_verdict *v)
{
	const char *name = ward_tcb_status_name(st);
	char msg[300];
	int ok = st == WARD_TCB_UP_TO_DATE;

	if (!ok && o->tolerate_tcb != NULL && st != WARD_TCB_REVOKED && st != WARD_TCB_NO_MATCH) {
		size_t n = strlen(name);
		for (const char *p = o->tolerate_tcb; *p;) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			if (l == n && strncmp(p, name, n) == 0)
				ok = 1;
			p += l + (c ? 1 : 0);
		}
	}
	if (ok)
		snprintf(msg, sizeof(msg), "TCB status %s%s", name,
			 st == WARD_TCB_UP_TO_DATE ? "" : " (tolerated by --tolerate-tcb)");
	else
		snprintf(msg, sizeof(msg),
			 "TCB status %s is not UpToDate; the platform needs updates (pass --tolerate-tcb %s to accept)",
			 name, name);
	ward_ratls_verdict_add(v, "tcb_status", i, ok, msg);
}

void ward_ratls_verify_hw(const struct ward_ratls_evidence *e, int i,
			  const struct ward_ratls_verify_opts *o, struct ward_ratls_verdict *v)
{
	struct ward_evidence *ev = NULL;
	struct ward_collateral *coll = NULL;
	struct ward_verify_result *res = NULL;
	struct ward_verify_opts vo;
	uint8_t *cert = NULL, *chain = NULL;
	size_t certlen = 0, chainlen = 0;
	char err[300], msg[1024];
	int snp = e->type == WARD_RATLS_EV_SNP_REPORT;

	memset(&vo, 0, sizeof(vo));
	vo.at = o->at;
	if (ward_evidence_parse(e->evidence, e->evidence_len, &ev, err, sizeof(err)) != 0) {
		fail(v, i, "%s%s", err, "");
		return;
	}
	if (snp) {
		if (o->snp_cert == NULL || o->snp_chain == NULL) {
			fail(v, i, "SEV-SNP report not verified: give its VCEK/VLEK (--vcek FILE) and AMD chain (--chain FILE)%s%s", "", "");
			goto out;
		}
		if (ward_read_file(o->snp_cert, WARD_RATLS_CERT_MAX, &cert, &certlen) != 0 ||
		    ward_read_file(o->snp_chain, WARD_RATLS_CERT_MAX, &chain, &chainlen) != 0) {
			fail(v, i, "cannot read %s or %s", o->snp_cert, o->snp_chain);
			goto out;
		}
		vo.snp_cert = cert;
		vo.snp_cert_len = certlen;
		vo.snp_cert_is_vlek = o->snp_cert_is_vlek;
		vo.snp_chain = chain;
		vo.snp_chain_len = chainlen;
	} else if (o->collateral != NULL) {
		if (ward_collateral_load(o->collateral, &coll, err, sizeof(err)) != 0) {
			fail(v, i, "cannot load collateral %s: %s", o->collateral, err);
			goto out;
		}
		vo.collateral = coll;
	} else if (o->no_collateral)
		vo.no_collateral = 1;
	else {
		fail(v, i, "%s not verified: no collateral given (--collateral DIR, or --no-collateral to check only the quote, QE and PCK chain)%s",
		     ward_ratls_evtype_name(e), "");
		goto out;
	}
	res = calloc(1, sizeof(*res));
	if (res == NULL) {
		fail(v, i, "out of memory%s%s", "", "");
		goto out;
	}
	if (ward_evidence_verify(ev, &vo, res, err, sizeof(err)) != 0) {
		fail(v, i, "%s%s", err, "");
		goto out;
	}
	if (snp)
		snprintf(msg, sizeof(msg), "SEV-SNP report signed by the %s, chained to the AMD root",
			 res->snp_cert.is_vlek ? "VLEK" : "VCEK");
	else {
		char adv[160] = "";
		for (size_t k = 0; k < res->nadvisories; k++) {
			size_t n = strlen(adv);
			if (n + 30 >= sizeof(adv)) {
				snprintf(adv + n, sizeof(adv) - n, ",...");
				break;
			}
			snprintf(adv + n, sizeof(adv) - n, "%s%s", n ? "," : "", res->advisories[k]);
		}
		snprintf(msg, sizeof(msg), "quote, QE report and PCK chain to the Intel root verified; TCB %s%s%s",
			 vo.no_collateral ? "not evaluated (--no-collateral)" : ward_tcb_status_name(res->tcb_status),
			 adv[0] ? ", advisories " : "", adv);
	}
	ward_ratls_verdict_add(v, "evidence_signature", i, 1, msg);
	if (!snp && !vo.no_collateral)
		check_tcb(res->tcb_status, i, o, v);
out:
	free(res);
	free(cert);
	free(chain);
	ward_collateral_free(coll);
	ward_evidence_free(ev);
}
