/* print.c: see print.h. */
#include <inttypes.h>
#include <string.h>

#include "attest/quote/print.h"
#include "attest/quote/x509util.h"
#include "core/util.h"

static void hexline(FILE *f, const char *label, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	ward_hex(p, n > 64 ? 64 : n, buf);
	fprintf(f, "  %-22s %s\n", label, buf);
}

static void sgx_body(FILE *f, const struct ward_sgx_report *b)
{
	hexline(f, "MRENCLAVE", b->mrenclave, 32);
	hexline(f, "MRSIGNER", b->mrsigner, 32);
	fprintf(f, "  %-22s %u\n", "ISVPRODID", b->isv_prod_id);
	fprintf(f, "  %-22s %u\n", "ISVSVN", b->isv_svn);
	hexline(f, "ATTRIBUTES", b->attributes, 16);
	hexline(f, "MISCSELECT", b->miscselect, 4);
	hexline(f, "CPUSVN", b->cpusvn, 16);
	hexline(f, "CONFIGID", b->config_id, 64);
	fprintf(f, "  %-22s %u\n", "CONFIGSVN", b->config_svn);
	hexline(f, "ISVEXTPRODID", b->isv_ext_prod_id, 16);
	hexline(f, "ISVFAMILYID", b->isv_family_id, 16);
	hexline(f, "REPORTDATA", b->report_data, 64);
}

static void tcb(FILE *f, const char *label, const struct ward_snp_tcb *t, int turin)
{
	char raw[17];
	ward_hex(t->raw, 8, raw);
	if (turin)
		fprintf(f, "  %-22s fmc %u, bootloader %u, tee %u, snp %u, microcode %u (%s)\n", label, t->fmc, t->bootloader,
			t->tee, t->snp, t->microcode, raw);
	else
		fprintf(f, "  %-22s bootloader %u, tee %u, snp %u, microcode %u (%s)\n", label, t->bootloader, t->tee, t->snp,
			t->microcode, raw);
}

static void snp(FILE *f, const struct ward_snp_report *s, int debug)
{
	static const char *const keys[8] = { "VCEK", "VLEK", "?", "?", "?", "?", "?", "none" };
	fprintf(f, "AMD SEV-SNP attestation report, version %u%s\n", s->version, s->turin ? " (Turin TCB layout)" : "");
	hexline(f, "MEASUREMENT", s->measurement, 48);
	hexline(f, "HOST_DATA", s->host_data, 32);
	hexline(f, "REPORT_DATA", s->report_data, 64);
	fprintf(f, "  %-22s 0x%" PRIx64 " (debug %s, SMT %s, migration agent %s)\n", "POLICY", s->policy,
		debug ? "ALLOWED" : "no", (s->policy >> 16) & 1 ? "allowed" : "no", (s->policy >> 18) & 1 ? "allowed" : "no");
	fprintf(f, "  %-22s %u\n", "GUEST_SVN", s->guest_svn);
	fprintf(f, "  %-22s %u\n", "VMPL", s->vmpl);
	hexline(f, "FAMILY_ID", s->family_id, 16);
	hexline(f, "IMAGE_ID", s->image_id, 16);
	hexline(f, "ID_KEY_DIGEST", s->id_key_digest, 48);
	hexline(f, "AUTHOR_KEY_DIGEST", s->author_key_digest, 48);
	hexline(f, "REPORT_ID", s->report_id, 32);
	hexline(f, "REPORT_ID_MA", s->report_id_ma, 32);
	hexline(f, "CHIP_ID", s->chip_id, 64);
	fprintf(f, "  %-22s %s\n", "signing key", keys[(s->key_info >> 2) & 7]);
	fprintf(f, "  %-22s 0x%" PRIx64 "\n", "PLATFORM_INFO", s->platform_info);
	tcb(f, "CURRENT_TCB", &s->current_tcb, s->turin);
	tcb(f, "REPORTED_TCB", &s->reported_tcb, s->turin);
	tcb(f, "COMMITTED_TCB", &s->committed_tcb, s->turin);
	tcb(f, "LAUNCH_TCB", &s->launch_tcb, s->turin);
	fprintf(f, "  %-22s %u.%u.%u (committed %u.%u.%u)\n", "firmware", s->current_major, s->current_minor,
		s->current_build, s->committed_major, s->committed_minor, s->committed_build);
	if (s->version >= 3)
		fprintf(f, "  %-22s family 0x%x, model 0x%x, stepping 0x%x\n", "CPUID", s->cpuid_fam_id, s->cpuid_mod_id,
			s->cpuid_step);
	if (s->version >= 5)
		fprintf(f, "  %-22s launch 0x%" PRIx64 ", current 0x%" PRIx64 "\n", "mitigation vector", s->launch_mit_vector,
			s->current_mit_vector);
}

void ward_evidence_print(FILE *f, const struct ward_evidence *ev, const struct ward_pck_info *pck, const char *pck_err)
{
	const struct ward_evidence_claims *c = &ev->c;
	const struct ward_dcap_quote *q = &c->quote;

	if (c->type == WARD_EVIDENCE_SNP) {
		snp(f, &c->snp, c->debug);
		return;
	}
	if (c->type == WARD_EVIDENCE_SGX) {
		fprintf(f, "Intel SGX quote, version %u (%zu bytes, %zu trailing)\n", q->version, q->total_size, q->trailing);
		fprintf(f, "  %-22s %s\n", "debug enclave", c->debug ? "YES" : "no");
		sgx_body(f, &c->sgx);
	} else {
		const struct ward_td_report *t = &c->td;
		fprintf(f, "Intel TDX quote, version %u, TD report %s (%zu bytes, %zu trailing)\n", q->version,
			t->tdx15 ? "1.5" : "1.0", q->total_size, q->trailing);
		fprintf(f, "  %-22s %s\n", "debug TD", c->debug ? "YES" : "no");
		hexline(f, "MRTD", t->mrtd, 48);
		for (int i = 0; i < 4; i++) {
			char l[8];
			snprintf(l, sizeof(l), "RTMR%d", i);
			hexline(f, l, t->rtmr[i], 48);
		}
		hexline(f, "MRCONFIGID", t->mrconfigid, 48);
		hexline(f, "MROWNER", t->mrowner, 48);
		hexline(f, "MROWNERCONFIG", t->mrownerconfig, 48);
		hexline(f, "TDATTRIBUTES", t->td_attributes, 8);
		hexline(f, "XFAM", t->xfam, 8);
		hexline(f, "TEE_TCB_SVN", t->tee_tcb_svn, 16);
		hexline(f, "MRSEAM", t->mrseam, 48);
		hexline(f, "MRSIGNERSEAM", t->mrsignerseam, 48);
		hexline(f, "SEAMATTRIBUTES", t->seam_attributes, 8);
		if (t->tdx15) {
			hexline(f, "TEE_TCB_SVN_2", t->tee_tcb_svn2, 16);
			hexline(f, "MRSERVICETD", t->mrservicetd, 48);
		}
		hexline(f, "REPORTDATA", t->report_data, 64);
	}
	fprintf(f, "Quoting enclave\n");
	hexline(f, "QE vendor", q->qe_vendor_id, 16);
	hexline(f, "QE MRENCLAVE", q->qe_report.mrenclave, 32);
	hexline(f, "QE MRSIGNER", q->qe_report.mrsigner, 32);
	fprintf(f, "  %-22s %u / %u\n", "QE ISVPRODID / ISVSVN", q->qe_report.isv_prod_id, q->qe_report.isv_svn);
	hexline(f, "attestation key", q->att_key, 64);
	fprintf(f, "  %-22s %u\n", "certification data", q->cert_type);
	if (pck && pck->present) {
		fprintf(f, "PCK certificate\n");
		for (size_t i = 0; i < pck->ncerts && i < 3; i++)
			fprintf(f, "  %-22s %s (%s .. %s)\n", i == 0 ? "chain" : "", pck->subject[i], pck->not_before[i],
				pck->not_after[i]);
		hexline(f, "FMSPC", pck->fmspc, 6);
		hexline(f, "PCE-ID", pck->pceid, 2);
		fprintf(f, "  %-22s %u\n", "PCESVN", pck->pcesvn);
		hexline(f, "CPUSVN", pck->cpusvn, 16);
		hexline(f, "PPID", pck->ppid, 16);
	} else if (pck_err && pck_err[0]) {
		fprintf(f, "PCK certificate: %s\n", pck_err);
	}
}

void ward_verify_print(FILE *f, const struct ward_verify_result *r)
{
	char at[32];
	ward_format_rfc3339(r->at, at);
	fprintf(f, "Verification at %s\n", at);
	for (size_t i = 0; i < r->nchecks; i++) {
		const struct ward_check *k = &r->checks[i];
		fprintf(f, "  %-5s %-26s %s\n",
			k->state == WARD_CHECK_PASS ? "ok" : k->state == WARD_CHECK_FAIL ? "FAIL" : "skip", k->name, k->msg);
	}
	if (r->c.type != WARD_EVIDENCE_SNP) {
		fprintf(f, "TCB status: %s", ward_tcb_status_name(r->tcb_status));
		if (r->tcb_date[0])
			fprintf(f, " (TCB date %s)", r->tcb_date);
		fprintf(f, "\n");
		if (r->tcb_status != WARD_TCB_NOT_EVALUATED) {
			fprintf(f, "  platform %s, QE %s", ward_tcb_status_name(r->platform_status),
				ward_tcb_status_name(r->qe_status));
			if (r->module_id[0])
				fprintf(f, ", TDX module %s %s", r->module_id, ward_tcb_status_name(r->module_status));
			fprintf(f, "\n");
		}
		fprintf(f, "Advisories:");
		for (size_t i = 0; i < r->nadvisories; i++)
			fprintf(f, " %s", r->advisories[i]);
		fprintf(f, "%s\n", r->nadvisories ? "" : " none");
	}
	fprintf(f, "Result: %s\n", r->ok ? "verified" : "FAILED");
}
