/*
 * json.c: evidence and verification results as JSON (jansson). Field names
 * and formats: byte strings as lower-case hex in wire order, integers as
 * numbers, flag words as "0x..." strings (docs/evidence.md, "JSON output").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "attest/quote/evidence.h"
#include "attest/quote/x509util.h"
#include "core/util.h"

static json_t *hexj(const uint8_t *p, size_t n)
{
	char buf[2 * 4096 + 1];
	if (n > 4096)
		n = 4096;
	ward_hex(p, n, buf);
	return json_string(buf);
}

static json_t *hexnum(uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_string(b);
}

/* little-endian 72-byte integer as "0x..." (no leading zeros) */
static json_t *le_int(const uint8_t *le, size_t n)
{
	char b[2 * 72 + 3];
	size_t k = 0, top = n;
	while (top > 1 && le[top - 1] == 0)
		top--;
	b[k++] = '0';
	b[k++] = 'x';
	for (size_t i = top; i > 0; i--) {
		k += (size_t)snprintf(b + k, sizeof(b) - k, (i == top) ? "%x" : "%02x", le[i - 1]);
	}
	return json_string(b);
}

#define SET(o, k, v) json_object_set_new(o, k, v)

static json_t *sgx_report_json(const struct ward_sgx_report *b, int full)
{
	json_t *o = json_object();
	SET(o, "cpusvn", hexj(b->cpusvn, 16));
	SET(o, "miscselect", hexj(b->miscselect, 4));
	if (full)
		SET(o, "isv_ext_prod_id", hexj(b->isv_ext_prod_id, 16));
	SET(o, "attributes", hexj(b->attributes, 16));
	SET(o, "mrenclave", hexj(b->mrenclave, 32));
	SET(o, "mrsigner", hexj(b->mrsigner, 32));
	if (full)
		SET(o, "config_id", hexj(b->config_id, 64));
	SET(o, "isv_prod_id", json_integer(b->isv_prod_id));
	SET(o, "isv_svn", json_integer(b->isv_svn));
	if (full) {
		SET(o, "config_svn", json_integer(b->config_svn));
		SET(o, "isv_family_id", hexj(b->isv_family_id, 16));
	}
	SET(o, "report_data", hexj(b->report_data, 64));
	return o;
}

static json_t *td_report_json(const struct ward_td_report *t)
{
	json_t *o = json_object();
	char k[8];
	SET(o, "tee_tcb_svn", hexj(t->tee_tcb_svn, 16));
	SET(o, "mrseam", hexj(t->mrseam, 48));
	SET(o, "mrsignerseam", hexj(t->mrsignerseam, 48));
	SET(o, "seam_attributes", hexj(t->seam_attributes, 8));
	SET(o, "td_attributes", hexj(t->td_attributes, 8));
	SET(o, "xfam", hexj(t->xfam, 8));
	SET(o, "mrtd", hexj(t->mrtd, 48));
	SET(o, "mrconfigid", hexj(t->mrconfigid, 48));
	SET(o, "mrowner", hexj(t->mrowner, 48));
	SET(o, "mrownerconfig", hexj(t->mrownerconfig, 48));
	for (int i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "rtmr%d", i);
		SET(o, k, hexj(t->rtmr[i], 48));
	}
	SET(o, "report_data", hexj(t->report_data, 64));
	if (t->tdx15) {
		SET(o, "tee_tcb_svn2", hexj(t->tee_tcb_svn2, 16));
		SET(o, "mrservicetd", hexj(t->mrservicetd, 48));
	}
	return o;
}

static json_t *snp_tcb_json(const struct ward_snp_tcb *t, int turin)
{
	json_t *o = json_object();
	if (turin)
		SET(o, "fmc", json_integer(t->fmc));
	SET(o, "bootloader", json_integer(t->bootloader));
	SET(o, "tee", json_integer(t->tee));
	SET(o, "snp", json_integer(t->snp));
	SET(o, "microcode", json_integer(t->microcode));
	return o;
}

static json_t *snp_json(const struct ward_snp_report *s)
{
	json_t *o = json_object();
	char v[24];
	SET(o, "version", json_integer(s->version));
	SET(o, "guest_svn", json_integer(s->guest_svn));
	SET(o, "policy", hexnum(s->policy));
	SET(o, "family_id", hexj(s->family_id, 16));
	SET(o, "image_id", hexj(s->image_id, 16));
	SET(o, "vmpl", json_integer(s->vmpl));
	SET(o, "signature_algo", json_integer(s->signature_algo));
	SET(o, "current_tcb", snp_tcb_json(&s->current_tcb, s->turin));
	SET(o, "platform_info", hexnum(s->platform_info));
	SET(o, "key_info", hexnum(s->key_info));
	SET(o, "report_data", hexj(s->report_data, 64));
	SET(o, "measurement", hexj(s->measurement, 48));
	SET(o, "host_data", hexj(s->host_data, 32));
	SET(o, "id_key_digest", hexj(s->id_key_digest, 48));
	SET(o, "author_key_digest", hexj(s->author_key_digest, 48));
	SET(o, "report_id", hexj(s->report_id, 32));
	SET(o, "report_id_ma", hexj(s->report_id_ma, 32));
	SET(o, "reported_tcb", snp_tcb_json(&s->reported_tcb, s->turin));
	SET(o, "reported_tcb_raw", hexj(s->reported_tcb.raw, 8));
	SET(o, "chip_id", hexj(s->chip_id, 64));
	SET(o, "committed_tcb", snp_tcb_json(&s->committed_tcb, s->turin));
	snprintf(v, sizeof(v), "%u.%u.%u", s->current_major, s->current_minor, s->current_build);
	SET(o, "current_version", json_string(v));
	snprintf(v, sizeof(v), "%u.%u.%u", s->committed_major, s->committed_minor, s->committed_build);
	SET(o, "committed_version", json_string(v));
	SET(o, "launch_tcb", snp_tcb_json(&s->launch_tcb, s->turin));
	if (s->version >= 3) {
		SET(o, "cpuid_fam_id", hexnum(s->cpuid_fam_id));
		SET(o, "cpuid_mod_id", hexnum(s->cpuid_mod_id));
		SET(o, "cpuid_step", hexnum(s->cpuid_step));
	}
	if (s->version >= 5) {
		SET(o, "launch_mit_vector", hexnum(s->launch_mit_vector));
		SET(o, "current_mit_vector", hexnum(s->current_mit_vector));
	}
	SET(o, "sig_r", le_int(s->sig_r, 72));
	SET(o, "sig_s", le_int(s->sig_s, 72));
	SET(o, "debug", json_boolean((s->policy >> 19) & 1));
	SET(o, "signing_key", json_string(((s->key_info >> 2) & 7) == 0 ? "vcek" : ((s->key_info >> 2) & 7) == 1 ? "vlek" : "none"));
	return o;
}

static json_t *dcap_json(const struct ward_evidence *ev, const struct ward_pck_info *pck)
{
	const struct ward_evidence_claims *c = &ev->c;
	const struct ward_dcap_quote *q = &c->quote;
	json_t *o = json_object();

	SET(o, "version", json_integer(q->version));
	SET(o, "att_key_type", json_integer(q->att_key_type));
	SET(o, "tee_type", hexnum(q->tee_type));
	SET(o, "qe_svn", json_integer(q->qe_svn));
	SET(o, "pce_svn", json_integer(q->pce_svn));
	SET(o, "qe_vendor_id", hexj(q->qe_vendor_id, 16));
	SET(o, "user_data", hexj(q->user_data, 20));
	SET(o, "total_size", json_integer((json_int_t)ev->raw_len));
	SET(o, "used_size", json_integer((json_int_t)q->total_size));
	SET(o, "signature_data_len", json_integer((json_int_t)q->sig_data_len));
	SET(o, "trailing_bytes_after_signature_data", json_integer((json_int_t)q->trailing));
	if (q->version == 5) {
		SET(o, "v5_body_type", json_integer(q->v5_body_type));
		SET(o, "v5_body_size", json_integer(q->v5_body_size));
	}
	if (q->version >= 4)
		SET(o, "outer_certification_data_type", json_integer(q->outer_cert_type));
	if (c->type == WARD_EVIDENCE_SGX) {
		SET(o, "body", sgx_report_json(&c->sgx, 1));
		SET(o, "enclave_debug", json_boolean(c->debug));
	} else {
		SET(o, "body", td_report_json(&c->td));
		SET(o, "td_debug", json_boolean(c->debug));
	}
	SET(o, "attestation_key", hexj(q->att_key, 64));
	SET(o, "qe_report", sgx_report_json(&q->qe_report, 0));
	SET(o, "qe_auth_data", hexj(ev->raw + q->qe_auth_off, q->qe_auth_len));
	SET(o, "certification_data_type", json_integer(q->cert_type));
	if (pck && pck->present) {
		json_t *chain = json_array(), *x = json_object(), *svns = json_array();
		for (size_t i = 0; i < pck->ncerts && i < 3; i++)
			json_array_append_new(chain, json_pack("[sss]", pck->subject[i], pck->not_before[i], pck->not_after[i]));
		SET(o, "pck_chain", chain);
		SET(x, "fmspc", hexj(pck->fmspc, 6));
		SET(x, "pceid", hexj(pck->pceid, 2));
		SET(x, "ppid", hexj(pck->ppid, 16));
		SET(x, "pcesvn", json_integer(pck->pcesvn));
		SET(x, "cpusvn", hexj(pck->cpusvn, 16));
		for (int i = 0; i < 16; i++)
			json_array_append_new(svns, json_integer(pck->comp_svn[i]));
		SET(x, "comp_svns", svns);
		SET(o, "pck_cert_sgx_extension", x);
	}
	return o;
}

static const char *type_name(enum ward_evidence_type t)
{
	return t == WARD_EVIDENCE_SGX ? "sgx" : t == WARD_EVIDENCE_TDX ? "tdx" : "sev-snp";
}

static json_t *verification_json(const struct ward_verify_result *r)
{
	json_t *o = json_object(), *checks = json_object(), *adv = json_array();
	char at[32];

	SET(o, "ok", json_boolean(r->ok));
	ward_format_rfc3339(r->at, at);
	SET(o, "at", json_string(at));
	for (size_t i = 0; i < r->nchecks; i++) {
		const struct ward_check *k = &r->checks[i];
		json_t *e = json_object();
		SET(e, "result", json_string(k->state == WARD_CHECK_PASS ? "pass" : k->state == WARD_CHECK_FAIL ? "fail" : "skipped"));
		if (k->msg[0])
			SET(e, "detail", json_string(k->msg));
		SET(checks, k->name, e);
	}
	SET(o, "checks", checks);
	if (r->failed >= 0)
		SET(o, "failed_check", json_string(r->checks[r->failed].name));
	if (r->c.type != WARD_EVIDENCE_SNP) {
		SET(o, "tcb_status", json_string(ward_tcb_status_name(r->tcb_status)));
		SET(o, "platform_tcb_status", json_string(ward_tcb_status_name(r->platform_status)));
		SET(o, "qe_tcb_status", json_string(ward_tcb_status_name(r->qe_status)));
		if (r->module_id[0]) {
			SET(o, "tdx_module_id", json_string(r->module_id));
			SET(o, "tdx_module_tcb_status", json_string(ward_tcb_status_name(r->module_status)));
		}
		if (r->tcb_date[0])
			SET(o, "tcb_date", json_string(r->tcb_date));
		for (size_t i = 0; i < r->nadvisories; i++)
			json_array_append_new(adv, json_string(r->advisories[i]));
		SET(o, "advisory_ids", adv);
	} else {
		json_decref(adv);
		const struct ward_snp_cert_info *ci = &r->snp_cert;
		if (ci->present) {
			json_t *cert = json_object();
			SET(cert, "kind", json_string(ci->is_vlek ? "vlek" : "vcek"));
			SET(cert, "product", json_string(ci->product));
			SET(cert, "not_before", json_string(ci->not_before));
			SET(cert, "not_after", json_string(ci->not_after));
			SET(o, "signing_cert", cert);
		}
	}
	return o;
}

json_t *ward_evidence_to_json(const struct ward_evidence *ev, const struct ward_pck_info *pck,
			      const struct ward_verify_result *res)
{
	json_t *o = json_object();
	SET(o, "type", json_string(type_name(ev->c.type)));
	SET(o, "debug", json_boolean(ev->c.debug));
	if (ev->c.type == WARD_EVIDENCE_SNP)
		SET(o, "report", snp_json(&ev->c.snp));
	else
		SET(o, "quote", dcap_json(ev, pck));
	if (res)
		SET(o, "verification", verification_json(res));
	return o;
}
