/*
 * sim_compat.h: the simulation evidence interface the CAS verifies against.
 *
 * When the attestation component's src/attest/ratls/sim_evidence.h is in the
 * tree, this header is just that header (the real implementation is used).
 * Until then sim_compat.c provides the same functions for the same byte
 * layout (docs/sim-evidence.md): a real Ed25519 verification through
 * OpenSSL, never a stub. Only the subset the CAS and its tests need.
 */
#ifndef WARD_CAS_SIM_COMPAT_H
#define WARD_CAS_SIM_COMPAT_H

#if __has_include("attest/ratls/sim_evidence.h")
#include "attest/ratls/sim_evidence.h"
#else
#define WARD_CAS_SIM_FALLBACK 1
#include <stddef.h>
#include <stdint.h>

#define WARD_SIM_EVIDENCE_LEN 220
#define WARD_SIM_MEASUREMENT_LEN 32
#define WARD_SIM_REPORT_DATA_LEN 64
#define WARD_SIM_FPR_LEN 32
#define WARD_SIM_PUBKEY_LEN 32
#define WARD_SIM_KEY_FILE "sim-platform-key.pem"

struct ward_sim_platform;
struct ward_sim_claims {
	uint8_t measurement[WARD_SIM_MEASUREMENT_LEN];
	uint8_t report_data[WARD_SIM_REPORT_DATA_LEN];
	uint8_t platform_pubkey[WARD_SIM_PUBKEY_LEN];
	uint8_t platform_fpr[WARD_SIM_FPR_LEN];
	uint64_t timestamp;
	uint16_t version;
};

int ward_sim_platform_dir(char *out, size_t outlen, char *err, size_t errlen);
int ward_sim_platform_load(const char *dir, struct ward_sim_platform **out, char *err,
			   size_t errlen);
void ward_sim_platform_free(struct ward_sim_platform *p);
void ward_sim_platform_fingerprint(const struct ward_sim_platform *p,
				   uint8_t out[WARD_SIM_FPR_LEN]);
void ward_sim_report_data(const uint8_t key_hash[32], const uint8_t *nonce32,
			  uint8_t out[WARD_SIM_REPORT_DATA_LEN]);
int ward_sim_evidence_create(const struct ward_sim_platform *p,
			     const uint8_t measurement[WARD_SIM_MEASUREMENT_LEN],
			     const uint8_t report_data[WARD_SIM_REPORT_DATA_LEN], uint64_t timestamp,
			     uint8_t out[WARD_SIM_EVIDENCE_LEN], char *err, size_t errlen);
int ward_sim_evidence_verify(const uint8_t *ev, size_t len, const uint8_t *pinned_fpr,
			     struct ward_sim_claims *out, char *err, size_t errlen);
int ward_sim_evidence_is(const uint8_t *ev, size_t len);
#endif

#endif
