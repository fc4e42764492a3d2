/* quote_fields.c: see quote_fields.h; offsets from the Intel DCAP quote
 * library headers and the AMD SEV-SNP ABI (tables in docs/ratls.md). */
#include "attest/ratls/quote_fields.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HDR_LEN 48
#define SGX_BODY_LEN 384
#define TDX10_BODY_LEN 584
#define TDX15_BODY_LEN 648
#define SNP_REPORT_LEN 1184
#define QUOTE_MAX (1u << 20)

#define seterr(...) ((void)ward_fail(__VA_ARGS__)) /* src/core/util.h */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

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

static void sgx_body(const uint8_t *b, struct ward_quote_fields *f)
{
	memcpy(f->cpusvn, b, 16);
	f->miscselect = le32(b + 0x10);
	memcpy(f->attributes, b + 0x30, 16);
	memcpy(f->mrenclave, b + 0x40, 32);
	memcpy(f->mrsigner, b + 0x80, 32);
	f->isvprodid = le16(b + 0x100);
	f->isvsvn = le16(b + 0x102);
	memcpy(f->report_data, b + 0x140, 64);
	f->debug = (b[0x30] & 0x02) != 0;
}

static void tdx_body(const uint8_t *b, struct ward_quote_fields *f)
{
	f->td_attributes = le64(b + 0x78);
	memcpy(f->mrtd, b + 0x88, 48);
	for (int i = 0; i < 4; i++)
		memcpy(f->rtmr[i], b + 0x148 + 48 * i, 48);
	memcpy(f->report_data, b + 0x208, 64);
	f->debug = (f->td_attributes & 1) != 0;
}

int ward_qf_parse_intel(const uint8_t *q, size_t len, struct ward_quote_fields *out, char *err,
			size_t errlen)
{
	struct ward_quote_fields f;
	size_t body_off = HDR_LEN, body_len, siglen_off;
	uint32_t siglen;

	memset(&f, 0, sizeof(f));
	if (len > QUOTE_MAX) {
		seterr(err, errlen, "quote is too large (%zu bytes)", len);
		return -1;
	}
	if (len < HDR_LEN) {
		seterr(err, errlen, "quote truncated: %zu bytes, shorter than its 48-byte header", len);
		return -1;
	}
	f.version = le16(q);
	f.att_key_type = le16(q + 2);
	f.tee_type = le32(q + 4);
	f.qe_svn = le16(q + 8);
	f.pce_svn = le16(q + 10);
	memcpy(f.qe_vendor_id, q + 12, 16);
	memcpy(f.user_data, q + 28, 20);
	if (f.att_key_type != 2 && f.att_key_type != 3) {
		seterr(err, errlen, "quote attestation key type %u is not ECDSA (2 or 3)",
		       f.att_key_type);
		return -1;
	}
	switch (f.version) {
	case 3:
		if (f.tee_type != 0) {
			seterr(err, errlen, "quote v3 has a non-zero TEE type 0x%x", f.tee_type);
			return -1;
		}
		f.kind = WARD_QF_SGX;
		body_len = SGX_BODY_LEN;
		break;
	case 4:
		if (f.tee_type == 0) {
			f.kind = WARD_QF_SGX;
			body_len = SGX_BODY_LEN;
		} else if (f.tee_type == 0x81) {
			f.kind = WARD_QF_TDX;
			body_len = TDX10_BODY_LEN;
		} else {
			seterr(err, errlen, "quote v4 has an unknown TEE type 0x%x", f.tee_type);
			return -1;
		}
		break;
	case 5: {
		if (len < HDR_LEN + 6) {
			seterr(err, errlen, "quote v5 truncated in its body descriptor");
			return -1;
		}
		uint16_t type = le16(q + HDR_LEN);
		uint32_t size = le32(q + HDR_LEN + 2);
		if (type == 1 && size == SGX_BODY_LEN && f.tee_type == 0)
			f.kind = WARD_QF_SGX;
		else if ((type == 2 && size == TDX10_BODY_LEN) || (type == 3 && size == TDX15_BODY_LEN))
			f.kind = WARD_QF_TDX;
		else {
			seterr(err, errlen, "quote v5 body type %u with size %u is not known", type, size);
			return -1;
		}
		if (f.kind == WARD_QF_TDX && f.tee_type != 0x81) {
			seterr(err, errlen, "quote v5 TD body with TEE type 0x%x", f.tee_type);
			return -1;
		}
		body_off = HDR_LEN + 6;
		body_len = size;
		break;
	}
	default:
		seterr(err, errlen, "quote version %u is not supported (3, 4 or 5)", f.version);
		return -1;
	}
	siglen_off = body_off + body_len;
	if (len < siglen_off + 4) {
		seterr(err, errlen, "quote truncated: %zu bytes, body needs %zu", len, siglen_off + 4);
		return -1;
	}
	siglen = le32(q + siglen_off);
	if (siglen > len - siglen_off - 4) {
		seterr(err, errlen, "quote truncated: signature data of %u bytes, %zu present", siglen,
		       len - siglen_off - 4);
		return -1;
	}
	f.quote_len = siglen_off + 4 + siglen;
	f.trailing = len - f.quote_len;
	if (f.version == 3 && siglen >= 64 + 64 + 384 + 64 + 2) {
		size_t p = siglen_off + 4 + 64 + 64 + 384 + 64;
		size_t authlen = le16(q + p);
		if (p + 2 + authlen + 2 <= f.quote_len)
			f.cert_data_type = le16(q + p + 2 + authlen);
	} else if (f.version >= 4 && siglen >= 64 + 64 + 2)
		f.cert_data_type = le16(q + siglen_off + 4 + 128);
	if (f.kind == WARD_QF_SGX)
		sgx_body(q + body_off, &f);
	else
		tdx_body(q + body_off, &f);
	*out = f;
	return 0;
}

int ward_qf_parse_epid_body(const uint8_t *q, size_t len, struct ward_quote_fields *out,
			    char *err, size_t errlen)
{
	struct ward_quote_fields f;

	if (len != HDR_LEN + SGX_BODY_LEN) {
		seterr(err, errlen, "EPID quote body has %zu bytes, expected 432", len);
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.kind = WARD_QF_EPID;
	f.version = le16(q);
	if (f.version != 1 && f.version != 2) {
		seterr(err, errlen, "EPID quote version %u is not supported (1 or 2)", f.version);
		return -1;
	}
	f.qe_svn = le16(q + 8);
	f.pce_svn = le16(q + 10);
	f.quote_len = len;
	sgx_body(q + HDR_LEN, &f);
	*out = f;
	return 0;
}

int ward_qf_parse_snp(const uint8_t *r, size_t len, struct ward_quote_fields *out, char *err,
		      size_t errlen)
{
	struct ward_quote_fields f;

	if (len < SNP_REPORT_LEN) {
		seterr(err, errlen, "SEV-SNP report truncated: %zu bytes, expected 1184", len);
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.kind = WARD_QF_SNP;
	f.version = (uint16_t)le32(r);
	if (le32(r) < 2 || le32(r) > 5) {
		seterr(err, errlen, "SEV-SNP report version %u is not supported (2 to 5)", le32(r));
		return -1;
	}
	if (le32(r + 0x34) != 1) {
		seterr(err, errlen, "SEV-SNP report signature algorithm %u is not ECDSA P-384",
		       le32(r + 0x34));
		return -1;
	}
	f.snp_policy = le64(r + 8);
	memcpy(f.report_data, r + 0x50, 64);
	memcpy(f.snp_measurement, r + 0x90, 48);
	memcpy(f.snp_host_data, r + 0xC0, 32);
	f.debug = (f.snp_policy >> 19) & 1;
	f.quote_len = SNP_REPORT_LEN;
	f.trailing = len - SNP_REPORT_LEN;
	*out = f;
	return 0;
}

int ward_qf_parse_any(const uint8_t *b, size_t len, struct ward_quote_fields *out, char *err,
		      size_t errlen)
{
	/* Intel quotes start with u16 version 3..5 and u16 key type 2/3; SNP
	 * reports with u32 version 2..5 (so bytes 2..3 are zero). */
	if (len >= 4 && le16(b + 2) == 0 && le32(b) >= 2 && le32(b) <= 5)
		return ward_qf_parse_snp(b, len, out, err, errlen);
	return ward_qf_parse_intel(b, len, out, err, errlen);
}
