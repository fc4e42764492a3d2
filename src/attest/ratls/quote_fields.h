/*
 * quote_fields.h: the fields of hardware evidence that RA-TLS shows and
 * checks a key binding with: Intel SGX/TDX quotes (v3, v4, v5), the 432-byte
 * EPID quote body of an IAS report, and SEV-SNP reports.
 *
 * Contract: an adapter over the evidence parser of src/attest/quote/
 * (ward_evidence_parse_claims(), ward_epid_body_parse()): it reads nothing
 * itself, it flattens what the parser read into one struct for `ward ratls
 * show`, its JSON and the binding checks. Not a verifier: no signature is
 * checked here (ward_evidence_verify() does that; docs/ratls.md says how the
 * two meet). Returns 0, or -1 with the parser's one-line reason in err (out
 * untouched). Pure function of its input; thread-safe.
 */
#ifndef WARD_ATTEST_RATLS_QUOTE_FIELDS_H
#define WARD_ATTEST_RATLS_QUOTE_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "attest/quote/evidence.h"

enum ward_qf_kind {
	WARD_QF_SGX = 1,  /* SGX ECDSA quote (v3, or v4/v5 with an SGX body) */
	WARD_QF_TDX,      /* TDX ECDSA quote v4/v5 */
	WARD_QF_EPID,     /* EPID quote body (from an IAS report) */
	WARD_QF_SNP,      /* AMD SEV-SNP attestation report */
};

struct ward_quote_fields {
	enum ward_qf_kind kind;
	uint16_t version;
	uint16_t att_key_type;     /* Intel ECDSA quotes */
	uint32_t tee_type;         /* Intel: 0 SGX, 0x81 TDX */
	uint16_t qe_svn, pce_svn;  /* Intel */
	uint8_t qe_vendor_id[16];  /* Intel ECDSA */
	uint8_t user_data[20];     /* Intel ECDSA */
	size_t quote_len;          /* bytes used by the structure (header..signature data) */
	size_t trailing;           /* bytes after it (ignored, reported) */
	uint16_t cert_data_type;   /* Intel ECDSA: v3 the QE certification data type, v4/v5 the outer one; 0 if absent */
	/* SGX (and EPID) report body */
	uint8_t cpusvn[16];
	uint8_t attributes[16];
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid, isvsvn;
	/* TDX body */
	uint8_t mrtd[48];
	uint8_t rtmr[4][48];
	/* SNP */
	uint8_t snp_measurement[48];
	uint8_t snp_host_data[32];
	uint64_t snp_policy;
	/* common */
	uint8_t report_data[64];
	int debug;
};

/* Reads an Intel SGX/TDX quote (want WARD_CLAIMS_DCAP), an SEV-SNP report
 * (WARD_CLAIMS_SNP) or either, told apart by the first bytes
 * (WARD_CLAIMS_ANY). */
int ward_qf_parse(const uint8_t *b, size_t len, enum ward_claims_want want,
		  struct ward_quote_fields *out, char *err, size_t errlen);
/* Reads a 432-byte EPID quote body (header 48 + report body 384). */
int ward_qf_parse_epid_body(const uint8_t *q, size_t len, struct ward_quote_fields *out,
			    char *err, size_t errlen);

const char *ward_qf_kind_name(enum ward_qf_kind k); /* "sgx-quote", "tdx-quote", ... */

#endif
