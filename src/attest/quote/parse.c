/*
 * parse.c: bounded parsers for Intel DCAP quotes (SGX v3, TDX v4/v5) and
 * AMD SEV-SNP attestation reports. Layouts: docs/evidence.md §1-§3.
 *
 * Invariants:
 *  1. Every length field is checked against a format maximum and against
 *     the bytes left before anything after it is read (struct ward_rd).
 *  2. Nested lengths must add up exactly: the QE certification data fills
 *     the signature data, the type-6 wrapper holds exactly its content.
 *  3. Bytes after the signature data are allowed (quote buffers are often
 *     zero-padded) up to WARD_DCAP_MAX_TRAILING; an SNP report is exactly
 *     1184 bytes.
 *  4. Claims mode (ward_evidence_parse_claims) runs the same code and drops
 *     only the rules verification needs: key type 3 is allowed, the limits
 *     of 3. and of the signature data are not applied, and a malformed
 *     signature data structure is left half-decoded instead of refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/quote/evidence.h"
#include "attest/quote/reader.h"
#include "core/util.h"

#define DCAP_HEADER_LEN 48
#define SGX_REPORT_LEN 384
#define TD10_REPORT_LEN 584
#define TD15_REPORT_LEN 648
#define WARD_DCAP_MAX_SIG_DATA (64u * 1024)
#define WARD_DCAP_MAX_TRAILING (64u * 1024)
#define SNP_REPORT_LEN 0x4A0
#define TEE_TYPE_SGX 0x00000000u
#define TEE_TYPE_TDX 0x00000081u
#define EPID_BODY_LEN (DCAP_HEADER_LEN + SGX_REPORT_LEN)

#define fail ward_fail /* src/core/util.h */

static void read_sgx_report(struct ward_rd *r, struct ward_sgx_report *b)
{
	ward_rd_bytes(r, b->cpusvn, 16);
	ward_rd_bytes(r, b->miscselect, 4);
	ward_rd_skip(r, 12);
	ward_rd_bytes(r, b->isv_ext_prod_id, 16);
	ward_rd_bytes(r, b->attributes, 16);
	ward_rd_bytes(r, b->mrenclave, 32);
	ward_rd_skip(r, 32);
	ward_rd_bytes(r, b->mrsigner, 32);
	ward_rd_skip(r, 32);
	ward_rd_bytes(r, b->config_id, 64);
	b->isv_prod_id = ward_rd_u16(r);
	b->isv_svn = ward_rd_u16(r);
	b->config_svn = ward_rd_u16(r);
	ward_rd_skip(r, 42);
	ward_rd_bytes(r, b->isv_family_id, 16);
	ward_rd_bytes(r, b->report_data, 64);
}

static void read_td_report(struct ward_rd *r, struct ward_td_report *t, int tdx15)
{
	ward_rd_bytes(r, t->tee_tcb_svn, 16);
	ward_rd_bytes(r, t->mrseam, 48);
	ward_rd_bytes(r, t->mrsignerseam, 48);
	ward_rd_bytes(r, t->seam_attributes, 8);
	ward_rd_bytes(r, t->td_attributes, 8);
	ward_rd_bytes(r, t->xfam, 8);
	ward_rd_bytes(r, t->mrtd, 48);
	ward_rd_bytes(r, t->mrconfigid, 48);
	ward_rd_bytes(r, t->mrowner, 48);
	ward_rd_bytes(r, t->mrownerconfig, 48);
	for (int i = 0; i < 4; i++)
		ward_rd_bytes(r, t->rtmr[i], 48);
	ward_rd_bytes(r, t->report_data, 64);
	t->tdx15 = tdx15;
	if (tdx15) {
		ward_rd_bytes(r, t->tee_tcb_svn2, 16);
		ward_rd_bytes(r, t->mrservicetd, 48);
	}
}

/* QE report ‖ signature ‖ auth data ‖ certification data, exactly len bytes. */
static int read_qe_cert_data(struct ward_rd *r, size_t len, struct ward_dcap_quote *q, char *err, size_t errlen)
{
	size_t start = r->off;
	const uint8_t *qe;

	if (len > ward_rd_left(r))
		return fail(err, errlen, "QE certification data: length %zu exceeds the %zu bytes left", len, ward_rd_left(r));
	qe = ward_rd_take(r, SGX_REPORT_LEN);
	if (!qe)
		return fail(err, errlen, "QE report: truncated");
	memcpy(q->qe_report_raw, qe, SGX_REPORT_LEN);
	{
		struct ward_rd qr;
		ward_rd_init(&qr, qe, SGX_REPORT_LEN);
		read_sgx_report(&qr, &q->qe_report);
	}
	ward_rd_bytes(r, q->qe_report_sig, 64);
	q->qe_auth_len = ward_rd_u16(r);
	if (r->failed)
		return fail(err, errlen, "QE report signature: truncated");
	q->qe_auth_off = r->off;
	if (!ward_rd_take(r, q->qe_auth_len))
		return fail(err, errlen, "QE authentication data: length %zu exceeds the data left", q->qe_auth_len);
	q->cert_type = ward_rd_u16(r);
	size_t clen = ward_rd_u32(r);
	if (r->failed)
		return fail(err, errlen, "certification data header: truncated");
	if (q->cert_type < 1 || q->cert_type > 7)
		return fail(err, errlen, "certification data: unknown type %u", q->cert_type);
	q->cert_off = r->off;
	q->cert_len = clen;
	if (!ward_rd_take(r, clen))
		return fail(err, errlen, "certification data: length %zu exceeds the data left", clen);
	if (r->off - start != len)
		return fail(err, errlen, "QE certification data: %zu bytes declared, %zu used", len, r->off - start);
	return 0;
}

/* Quote signature, attestation key and the (v4/v5: type-6 wrapped) QE
 * certification data; s is limited to the signature data. */
static int read_sig_data(struct ward_rd *s, struct ward_dcap_quote *q, char *err, size_t errlen)
{
	ward_rd_bytes(s, q->quote_sig, 64);
	ward_rd_bytes(s, q->att_key, 64);
	if (s->failed)
		return fail(err, errlen, "quote signature / attestation key: truncated");
	if (q->version == 3) {
		q->outer_cert_type = 0;
		return read_qe_cert_data(s, ward_rd_left(s), q, err, errlen);
	}
	q->outer_cert_type = ward_rd_u16(s);
	size_t olen = ward_rd_u32(s);
	if (s->failed)
		return fail(err, errlen, "certification data header: truncated");
	if (q->outer_cert_type != 6)
		return fail(err, errlen, "certification data: type %u, expected 6 (QE report certification data)",
			    q->outer_cert_type);
	if (olen != ward_rd_left(s))
		return fail(err, errlen, "certification data: %zu bytes declared, %zu left in the signature data", olen,
			    ward_rd_left(s));
	return read_qe_cert_data(s, olen, q, err, errlen);
}

/* claims: see invariant 4 */
static int parse_dcap(const uint8_t *buf, size_t len, int claims, struct ward_evidence_claims *c, char *err,
		      size_t errlen)
{
	struct ward_dcap_quote *q = &c->quote;
	struct ward_rd r;
	size_t body_len;
	int body_kind; /* 1 SGX, 2 TD 1.0, 3 TD 1.5 */

	ward_rd_init(&r, buf, len);
	q->version = ward_rd_u16(&r);
	q->att_key_type = ward_rd_u16(&r);
	q->tee_type = ward_rd_u32(&r);
	q->qe_svn = ward_rd_u16(&r);
	q->pce_svn = ward_rd_u16(&r);
	ward_rd_bytes(&r, q->qe_vendor_id, 16);
	ward_rd_bytes(&r, q->user_data, 20);
	if (r.failed)
		return fail(err, errlen, "quote header: truncated (%zu bytes, need 48)", len);
	if (q->version < 3 || q->version > 5)
		return fail(err, errlen, "quote header: unsupported version %u (3, 4 and 5 are known)", q->version);
	if (q->att_key_type != 2 && !(claims && q->att_key_type == 3))
		return fail(err, errlen, "quote header: attestation key type %u is not ECDSA P-256 (2)%s", q->att_key_type,
			    claims ? " nor P-384 (3)" : "");
	if (q->version == 3) {
		if (q->tee_type != 0)
			return fail(err, errlen, "quote header: reserved field 0x%x is not zero in a v3 quote", q->tee_type);
		body_kind = 1;
	} else if (q->tee_type == TEE_TYPE_SGX) {
		body_kind = 1;
	} else if (q->tee_type == TEE_TYPE_TDX) {
		body_kind = 2;
	} else {
		return fail(err, errlen, "quote header: unknown TEE type 0x%x", q->tee_type);
	}
	if (q->version == 5) {
		q->v5_body_type = ward_rd_u16(&r);
		q->v5_body_size = ward_rd_u32(&r);
		if (r.failed)
			return fail(err, errlen, "quote body descriptor: truncated");
		static const size_t sizes[4] = { 0, SGX_REPORT_LEN, TD10_REPORT_LEN, TD15_REPORT_LEN };
		if (q->v5_body_type < 1 || q->v5_body_type > 3)
			return fail(err, errlen, "quote body: unknown body type %u", q->v5_body_type);
		if (q->v5_body_size != sizes[q->v5_body_type])
			return fail(err, errlen, "quote body: size %u does not match body type %u (%zu)", q->v5_body_size,
				    q->v5_body_type, sizes[q->v5_body_type]);
		if ((q->v5_body_type == 1) != (q->tee_type == TEE_TYPE_SGX))
			return fail(err, errlen, "quote body: body type %u does not match TEE type 0x%x", q->v5_body_type, q->tee_type);
		body_kind = q->v5_body_type;
	}
	body_len = body_kind == 1 ? SGX_REPORT_LEN : body_kind == 2 ? TD10_REPORT_LEN : TD15_REPORT_LEN;
	if (ward_rd_left(&r) < body_len)
		return fail(err, errlen, "quote body: truncated (%zu bytes left, need %zu)", ward_rd_left(&r), body_len);
	if (body_kind == 1) {
		c->type = WARD_EVIDENCE_SGX;
		read_sgx_report(&r, &c->sgx);
		c->debug = (c->sgx.attributes[0] & 0x02) != 0;
	} else {
		c->type = WARD_EVIDENCE_TDX;
		read_td_report(&r, &c->td, body_kind == 3);
		c->debug = (c->td.td_attributes[0] & 0x01) != 0;
	}
	q->signed_len = r.off;
	q->sig_data_len = ward_rd_u32(&r);
	if (r.failed)
		return fail(err, errlen, "signature data length: truncated");
	if (!claims && q->sig_data_len > WARD_DCAP_MAX_SIG_DATA)
		return fail(err, errlen, "signature data: length %zu exceeds the maximum %u", q->sig_data_len, WARD_DCAP_MAX_SIG_DATA);
	if (q->sig_data_len > ward_rd_left(&r))
		return fail(err, errlen, "signature data: truncated (%zu bytes declared, %zu present)", q->sig_data_len,
			    ward_rd_left(&r));
	{
		struct ward_rd s;
		size_t base = r.off;
		/* a sub-reader limited to the signature data; offsets stay absolute */
		ward_rd_init(&s, buf, base + q->sig_data_len);
		s.off = base;
		if (claims) {
			char ignored[8];
			(void)read_sig_data(&s, q, ignored, sizeof(ignored));
		} else if (read_sig_data(&s, q, err, errlen) != 0) {
			return -1;
		}
		r.off = base + q->sig_data_len;
	}
	q->total_size = r.off;
	q->trailing = len - r.off;
	if (!claims && q->trailing > WARD_DCAP_MAX_TRAILING)
		return fail(err, errlen, "quote: %zu bytes after the signature data (at most %u accepted)", q->trailing,
			    WARD_DCAP_MAX_TRAILING);
	return 0;
}

static void snp_tcb(const uint8_t raw[8], int turin, struct ward_snp_tcb *t)
{
	memcpy(t->raw, raw, 8);
	if (turin) {
		t->fmc = raw[0];
		t->bootloader = raw[1];
		t->tee = raw[2];
		t->snp = raw[3];
	} else {
		t->fmc = 0;
		t->bootloader = raw[0];
		t->tee = raw[1];
		t->snp = raw[6];
	}
	t->microcode = raw[7];
}

/* claims: bytes after the report are counted in s->trailing */
static int parse_snp(const uint8_t *buf, size_t len, int claims, struct ward_evidence_claims *c, char *err,
		     size_t errlen)
{
	struct ward_snp_report *s = &c->snp;
	uint8_t cur[8], rep[8], com[8], lau[8];
	struct ward_rd r;

	if (len < SNP_REPORT_LEN)
		return fail(err, errlen, "SEV-SNP report: truncated (%zu bytes, need %d)", len, SNP_REPORT_LEN);
	if (len > SNP_REPORT_LEN && !claims)
		return fail(err, errlen, "SEV-SNP report: %zu bytes, a report is exactly %d", len, SNP_REPORT_LEN);
	ward_rd_init(&r, buf, SNP_REPORT_LEN);
	s->version = ward_rd_u32(&r);
	s->guest_svn = ward_rd_u32(&r);
	s->policy = ward_rd_u64(&r);
	ward_rd_bytes(&r, s->family_id, 16);
	ward_rd_bytes(&r, s->image_id, 16);
	s->vmpl = ward_rd_u32(&r);
	s->signature_algo = ward_rd_u32(&r);
	ward_rd_bytes(&r, cur, 8);
	s->platform_info = ward_rd_u64(&r);
	s->key_info = ward_rd_u32(&r);
	ward_rd_skip(&r, 4);
	ward_rd_bytes(&r, s->report_data, 64);
	ward_rd_bytes(&r, s->measurement, 48);
	ward_rd_bytes(&r, s->host_data, 32);
	ward_rd_bytes(&r, s->id_key_digest, 48);
	ward_rd_bytes(&r, s->author_key_digest, 48);
	ward_rd_bytes(&r, s->report_id, 32);
	ward_rd_bytes(&r, s->report_id_ma, 32);
	ward_rd_bytes(&r, rep, 8);
	s->cpuid_fam_id = buf[0x188];
	s->cpuid_mod_id = buf[0x189];
	s->cpuid_step = buf[0x18A];
	ward_rd_skip(&r, 24);
	ward_rd_bytes(&r, s->chip_id, 64);
	ward_rd_bytes(&r, com, 8);
	s->current_build = buf[0x1E8];
	s->current_minor = buf[0x1E9];
	s->current_major = buf[0x1EA];
	s->committed_build = buf[0x1EC];
	s->committed_minor = buf[0x1ED];
	s->committed_major = buf[0x1EE];
	ward_rd_skip(&r, 8);
	ward_rd_bytes(&r, lau, 8);
	s->launch_mit_vector = ward_rd_u64(&r);
	s->current_mit_vector = ward_rd_u64(&r);
	ward_rd_skip(&r, 152);
	ward_rd_bytes(&r, s->sig_r, 72);
	ward_rd_bytes(&r, s->sig_s, 72);
	if (r.failed || r.off != 0x330)
		return fail(err, errlen, "SEV-SNP report: internal layout error");
	if (s->version < 2 || s->version > 5)
		return fail(err, errlen, "SEV-SNP report: unsupported version %u (2 to 5 are known)", s->version);
	if (s->signature_algo != 1)
		return fail(err, errlen, "SEV-SNP report: signature algorithm %u is not ECDSA P-384 (1)", s->signature_algo);
	if (s->version < 3) {
		s->cpuid_fam_id = s->cpuid_mod_id = s->cpuid_step = 0;
	}
	if (s->version < 5)
		s->launch_mit_vector = s->current_mit_vector = 0;
	s->turin = s->version >= 3 && s->cpuid_fam_id == 0x1A;
	snp_tcb(cur, s->turin, &s->current_tcb);
	snp_tcb(rep, s->turin, &s->reported_tcb);
	snp_tcb(com, s->turin, &s->committed_tcb);
	snp_tcb(lau, s->turin, &s->launch_tcb);
	s->trailing = len - SNP_REPORT_LEN;
	c->type = WARD_EVIDENCE_SNP;
	c->debug = (s->policy >> 19) & 1;
	return 0;
}

/* The one dispatch of both modes: on want, else on the first bytes. */
static int parse_claims(const uint8_t *buf, size_t len, enum ward_claims_want want, int claims,
			struct ward_evidence_claims *c, char *err, size_t errlen)
{
	if (len > WARD_EVIDENCE_MAX_SIZE)
		return fail(err, errlen, "evidence: %zu bytes exceeds the maximum %u", len, WARD_EVIDENCE_MAX_SIZE);
	if (want == WARD_CLAIMS_DCAP)
		return parse_dcap(buf, len, claims, c, err, errlen);
	if (want == WARD_CLAIMS_SNP)
		return parse_snp(buf, len, claims, c, err, errlen);
	if (len < 8)
		return fail(err, errlen, "evidence: truncated (%zu bytes)", len);
	/* DCAP: u16 version 3..5 then u16 attestation key type (2); SNP: u32
	 * version, so bytes 2..3 are zero. */
	uint16_t v16 = (uint16_t)(buf[0] | buf[1] << 8), kt = (uint16_t)(buf[2] | buf[3] << 8);
	if (v16 >= 3 && v16 <= 5 && kt != 0)
		return parse_dcap(buf, len, claims, c, err, errlen);
	if (kt == 0 && len >= 0x38)
		return parse_snp(buf, len, claims, c, err, errlen);
	return fail(err, errlen, "evidence: not an SGX/TDX quote (version %u) nor an SEV-SNP report", v16);
}

int ward_evidence_parse_claims(const uint8_t *buf, size_t len, enum ward_claims_want want,
			       struct ward_evidence_claims *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return parse_claims(buf, len, want, 1, out, err, errlen);
}

int ward_epid_body_parse(const uint8_t *buf, size_t len, struct ward_epid_quote_body *out, char *err,
			 size_t errlen)
{
	struct ward_epid_quote_body b;
	struct ward_rd r;

	if (len != EPID_BODY_LEN)
		return fail(err, errlen, "EPID quote body has %zu bytes, expected %d", len, EPID_BODY_LEN);
	memset(&b, 0, sizeof(b));
	ward_rd_init(&r, buf, len);
	b.version = ward_rd_u16(&r);
	b.sign_type = ward_rd_u16(&r);
	ward_rd_bytes(&r, b.epid_group_id, 4);
	b.qe_svn = ward_rd_u16(&r);
	b.pce_svn = ward_rd_u16(&r);
	b.xeid = ward_rd_u32(&r);
	ward_rd_bytes(&r, b.basename, 32);
	read_sgx_report(&r, &b.report);
	if (r.failed || r.off != EPID_BODY_LEN)
		return fail(err, errlen, "EPID quote body: internal layout error");
	if (b.version != 1 && b.version != 2)
		return fail(err, errlen, "EPID quote version %u is not supported (1 or 2)", b.version);
	b.debug = (b.report.attributes[0] & 0x02) != 0;
	*out = b;
	return 0;
}

int ward_evidence_parse(const uint8_t *buf, size_t len, struct ward_evidence **out, char *err, size_t errlen)
{
	struct ward_evidence *ev;
	int rc;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return fail(err, errlen, "evidence: out of memory");
	rc = parse_claims(buf, len, WARD_CLAIMS_ANY, 0, &ev->c, err, errlen);
	if (rc != 0) {
		free(ev);
		return -1;
	}
	ev->raw = malloc(len);
	if (!ev->raw) {
		free(ev);
		return fail(err, errlen, "evidence: out of memory");
	}
	memcpy(ev->raw, buf, len);
	ev->raw_len = len;
	*out = ev;
	return 0;
}

void ward_evidence_free(struct ward_evidence *ev)
{
	if (!ev)
		return;
	free(ev->raw);
	free(ev);
}

static int is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hexval(uint8_t c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int ward_evidence_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	size_t a = 0, b = len, ndig = 0;
	int hex = 1;
	uint8_t *o;

	while (a < b && is_space(in[a]))
		a++;
	while (b > a && is_space(in[b - 1]))
		b--;
	if (b - a >= 2 && in[a] == '0' && (in[a + 1] == 'x' || in[a + 1] == 'X'))
		a += 2;
	if (a == b)
		hex = 0;
	for (size_t i = a; i < b && hex; i++) {
		if (is_hex(in[i]))
			ndig++;
		else
			hex = 0;
	}
	if (!hex) {
		o = malloc(len ? len : 1);
		if (!o)
			return fail(err, errlen, "out of memory");
		memcpy(o, in, len);
		*out = o;
		*outlen = len;
		return 0;
	}
	if (ndig % 2)
		return fail(err, errlen, "hex input has an odd number of digits (%zu)", ndig);
	o = malloc(ndig / 2 + 1);
	if (!o)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < ndig / 2; i++)
		o[i] = (uint8_t)(hexval(in[a + 2 * i]) << 4 | hexval(in[a + 2 * i + 1]));
	*out = o;
	*outlen = ndig / 2;
	return 0;
}

int ward_evidence_load(const char *path, struct ward_evidence **out, char *err, size_t errlen)
{
	uint8_t *file = NULL, *bin = NULL;
	size_t flen = 0, blen = 0;
	int rc;

	/* hex doubles the size */
	if (ward_read_file(path, 2 * WARD_EVIDENCE_MAX_SIZE + 64, &file, &flen) != 0)
		return fail(err, errlen, "cannot read %s: %s", path, errno == EFBIG ? "file too large" : strerror(errno));
	rc = ward_evidence_decode(file, flen, &bin, &blen, err, errlen);
	free(file);
	if (rc != 0)
		return -1;
	rc = ward_evidence_parse(bin, blen, out, err, errlen);
	free(bin);
	return rc;
}
