/*
 * evidence_check.h: verifies an enclave's evidence for the CAS and returns
 * the claims the policy decision needs.
 *
 * Contract: cas_evidence_check() dispatches on the evidence type:
 *  - simulation evidence: the attestation component's verifier (signature,
 *    layout, the pinned platform key of this machine);
 *  - SGX quotes (v3), TDX quotes (v4, v5), SEV-SNP reports: parsed and
 *    verified with the CAS's hardware material (cas/hw_verify.h) at the
 *    current time.
 * expect_rd, when not NULL, is the report data the evidence must carry
 * (docs/cas-api.md, the binding). Hardware evidence is compared right after
 * parsing, before any signature is checked (a quote that binds another key
 * or challenge is refused without work); simulation evidence after its
 * verification (as before). Returns 0 and fills *out on success;
 * CAS_EVIDENCE_UNBOUND when the report data differs (out->platform is set,
 * out->verified says whether the claims were verified); -1 with a one-line
 * reason in err otherwise (out->platform set when the type was known).
 * Thread-safe; no logging.
 */
#ifndef WARD_CAS_EVIDENCE_CHECK_H
#define WARD_CAS_EVIDENCE_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "attest/quote/evidence.h"

struct cas_hw;

#define CAS_EVIDENCE_UNBOUND (-2)

/* What the CAS accepts evidence from (shared, read-only). */
struct cas_verifier {
	const uint8_t *sim_platform; /* 32-byte fingerprint of the accepted simulation platform key, or NULL */
	const struct cas_hw *hw;     /* hardware material, or NULL (hardware evidence refused) */
};

struct cas_evidence {
	char platform[16];           /* "sim", "sgx", "tdx", "sev-snp" */
	uint8_t measurement[48];     /* sim: enclave hash; SGX: MRENCLAVE; TDX: MRTD; SNP: MEASUREMENT */
	size_t measurement_len;      /* 32 (sim, SGX) or 48 (TDX, SNP) */
	uint8_t report_data[64];
	uint8_t platform_id[32];     /* sim: SHA-256 of the platform public key */
	int simulation;              /* evidence carries no hardware guarantee */
	int debug;                   /* debug enclave, TD or guest */
	int verified;                /* the claims above were verified */
	struct ward_verify_result hw; /* hardware: the verifier's result (pins, TCB status, advisories) */
};

int cas_evidence_check(const struct cas_verifier *v, const uint8_t *ev, size_t len,
		       const uint8_t expect_rd[64], struct cas_evidence *out, char *err, size_t errlen);

/* The same at verification time at (0: now) and without a report-data
 * binding: for unit tests with recorded hardware evidence, whose report data
 * is fixed. The server never calls it. */
int cas_evidence_check_at(const struct cas_verifier *v, const uint8_t *ev, size_t len, time_t at,
			  struct cas_evidence *out, char *err, size_t errlen);

#endif
