/*
 * evidence_check.h: verifies an enclave's evidence for the CAS and returns
 * the claims the policy decision needs.
 *
 * Contract: cas_evidence_check() dispatches on the evidence type (today:
 * simulation evidence, verified by the attestation component's verifier:
 * signature, layout, and the pinned platform key of this machine). Hardware
 * quote types are refused with a clear reason until their verifiers land.
 * Returns 0 and fills *out on success; -1 with a one-line reason in err and
 * *out untouched otherwise. Thread-safe; no logging.
 */
#ifndef WARD_CAS_EVIDENCE_CHECK_H
#define WARD_CAS_EVIDENCE_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct cas_evidence {
	char platform[16];           /* "sim", later "sgx", "tdx", "sev-snp" */
	uint8_t measurement[32];     /* the enclave hash (MRENCLAVE or equivalent) */
	uint8_t report_data[64];
	uint8_t platform_id[32];     /* sim: SHA-256 of the platform public key */
	int simulation;              /* evidence carries no hardware guarantee */
	int debug;                   /* debug enclave */
	int outdated_tcb;            /* TCB status is not up to date */
};

/* pinned_sim_platform: 32-byte fingerprint of the simulation platform key
 * the CAS accepts (NULL refuses all simulation evidence). */
int cas_evidence_check(const uint8_t *ev, size_t len, const uint8_t *pinned_sim_platform,
		       struct cas_evidence *out, char *err, size_t errlen);

#endif
