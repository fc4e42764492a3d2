/* quote_fields.c: see quote_fields.h; the layouts are read by
 * src/attest/quote/parse.c (docs/evidence.md). */
#include "attest/ratls/quote_fields.h"

#include <string.h>

const char *ward_qf_kind_name(enum ward_qf_kind k)
{
	switch (k) {
	case WARD_QF_SGX:
		return "sgx-quote";
	case WARD_QF_TDX:
		return "tdx-quote";
	case WARD_QF_EPID:
		return "epid-quote";
	case WARD_QF_SNP:
		return "snp-report";
	}
	return "unknown";
}

static void sgx_body(const struct ward_sgx_report *b, struct ward_quote_fields *f)
{
	memcpy(f->cpusvn, b->cpusvn, sizeof(f->cpusvn));
	memcpy(f->attributes, b->attributes, sizeof(f->attributes));
	memcpy(f->mrenclave, b->mrenclave, sizeof(f->mrenclave));
	memcpy(f->mrsigner, b->mrsigner, sizeof(f->mrsigner));
	f->isvprodid = b->isv_prod_id;
	f->isvsvn = b->isv_svn;
	memcpy(f->report_data, b->report_data, sizeof(f->report_data));
}

static void dcap_quote(const struct ward_evidence_claims *c, struct ward_quote_fields *f)
{
	const struct ward_dcap_quote *q = &c->quote;

	f->version = q->version;
	f->att_key_type = q->att_key_type;
	f->tee_type = q->tee_type;
	f->qe_svn = q->qe_svn;
	f->pce_svn = q->pce_svn;
	memcpy(f->qe_vendor_id, q->qe_vendor_id, sizeof(f->qe_vendor_id));
	memcpy(f->user_data, q->user_data, sizeof(f->user_data));
	f->trailing = q->trailing;
	f->cert_data_type = q->version == 3 ? q->cert_type : q->outer_cert_type;
	if (c->type == WARD_EVIDENCE_SGX) {
		f->kind = WARD_QF_SGX;
		sgx_body(&c->sgx, f);
	} else {
		f->kind = WARD_QF_TDX;
		memcpy(f->mrtd, c->td.mrtd, sizeof(f->mrtd));
		memcpy(f->rtmr, c->td.rtmr, sizeof(f->rtmr));
		memcpy(f->report_data, c->td.report_data, sizeof(f->report_data));
	}
}

static void snp_report(const struct ward_snp_report *s, struct ward_quote_fields *f)
{
	f->kind = WARD_QF_SNP;
	f->version = (uint16_t)s->version; /* 2..5 */
	f->snp_policy = s->policy;
	memcpy(f->report_data, s->report_data, sizeof(f->report_data));
	memcpy(f->snp_measurement, s->measurement, sizeof(f->snp_measurement));
	memcpy(f->snp_host_data, s->host_data, sizeof(f->snp_host_data));
	f->trailing = s->trailing;
}

int ward_qf_parse(const uint8_t *b, size_t len, enum ward_claims_want want,
		  struct ward_quote_fields *out, char *err, size_t errlen)
{
	struct ward_evidence_claims c;
	struct ward_quote_fields f;

	if (ward_evidence_parse_claims(b, len, want, &c, err, errlen) != 0)
		return -1;
	memset(&f, 0, sizeof(f));
	if (c.type == WARD_EVIDENCE_SNP)
		snp_report(&c.snp, &f);
	else
		dcap_quote(&c, &f);
	f.quote_len = len - f.trailing;
	f.debug = c.debug;
	*out = f;
	return 0;
}

int ward_qf_parse_epid_body(const uint8_t *q, size_t len, struct ward_quote_fields *out,
			    char *err, size_t errlen)
{
	struct ward_epid_quote_body e;
	struct ward_quote_fields f;

	if (ward_epid_body_parse(q, len, &e, err, errlen) != 0)
		return -1;
	memset(&f, 0, sizeof(f));
	f.kind = WARD_QF_EPID;
	f.version = e.version;
	f.qe_svn = e.qe_svn;
	f.pce_svn = e.pce_svn;
	f.quote_len = len;
	sgx_body(&e.report, &f);
	f.debug = e.debug;
	*out = f;
	return 0;
}
