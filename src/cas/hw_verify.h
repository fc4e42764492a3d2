/*
 * hw_verify.h: the hardware verification material of a ward-cas process
 * and the verification of one piece of hardware evidence against it.
 *
 * Material (docs/cas.md, "Hardware evidence"): Intel SGX/TDX collateral sets
 * (each a PCS directory or a dcap-qvl JSON file, as `ward evidence verify
 * --collateral` takes them), AMD SEV-SNP signing certificates (VCEK or VLEK,
 * DER or PEM, files or directories of them) and AMD chains (PEM: ASK and/or
 * ASVK and ARK of one product line).
 *
 * Contract:
 *  - cas_hw_load() reads everything once; a file that cannot be read or
 *    classified, a signing certificate whose issuer is in no chain, is an
 *    error naming the file. Afterwards the material is read-only and shared
 *    by every attestation thread, with one verification cache (it locks
 *    itself) for all of them.
 *  - cas_hw_verify() verifies ev at time at with the attestation component's
 *    verifier (src/attest/quote/evidence.h). SGX/TDX: every collateral set is
 *    tried until one verifies; a set for another FMSPC or TEE is skipped, so
 *    the failure reported is that of the set made for this platform. SNP:
 *    every VCEK (or VLEK, as the report's SIGNING_KEY says) is tried with its
 *    chain; one for another chip or TCB version is skipped likewise.
 *    Returns 0 with res->ok, or -1 with one line in err ("CHECK: reason" or
 *    what material is missing) and res filled as far as it got.
 *  - Nothing logs. Thread-safe.
 */
#ifndef WARD_CAS_HW_VERIFY_H
#define WARD_CAS_HW_VERIFY_H

#include <stddef.h>
#include <time.h>

#include "attest/quote/evidence.h"

struct cas_hw_paths {
	const char *const *collateral; size_t ncollateral; /* --collateral */
	const char *const *snp_chain; size_t nsnp_chain;   /* --snp-chain */
	const char *const *snp_cert; size_t nsnp_cert;     /* --snp-vcek (file or directory) */
};

struct cas_hw;

int cas_hw_load(const struct cas_hw_paths *p, struct cas_hw **out, char *err, size_t errlen);
void cas_hw_free(struct cas_hw *hw);

/* "2 Intel collateral sets, 1 SEV-SNP signing certificate, 1 AMD chain". */
void cas_hw_describe(const struct cas_hw *hw, char *out, size_t outlen);

/* hw may be NULL (no material: every hardware quote is refused). */
int cas_hw_verify(const struct cas_hw *hw, const struct ward_evidence *ev, time_t at,
		  struct ward_verify_result *res, char *err, size_t errlen);

#endif
