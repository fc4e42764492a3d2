/*
 * anchors.h: pinned trust anchors (Intel SGX Root CA, AMD ARKs).
 * Contract: read-only data; see anchors.c for where each comes from.
 */
#ifndef WARD_ATTEST_QUOTE_ANCHORS_H
#define WARD_ATTEST_QUOTE_ANCHORS_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t ward_intel_sgx_root_der[];
extern const size_t ward_intel_sgx_root_der_len;

struct ward_amd_ark {
	const char *product;      /* "Milan", "Genoa", "Turin" */
	uint8_t spki_sha256[32];  /* SHA-256 of the DER SubjectPublicKeyInfo */
};
extern const struct ward_amd_ark ward_amd_arks[];
extern const size_t ward_amd_arks_len;

#endif
