/*
 * sim_evidence.h: simulation-mode evidence, signed by a per-machine
 * simulation platform key (Ed25519, OpenSSL).
 *
 * Contract (format in docs/sim-evidence.md, section "Layout"):
 *  - Evidence is exactly WARD_SIM_EVIDENCE_LEN bytes: magic "WARDSIM\0",
 *    version 1, flags with the simulation bit set (and no other), a
 *    timestamp, the 32-byte enclave measurement, 64 bytes of report data,
 *    the platform's Ed25519 public key and a signature over everything before it.
 *  - It proves only "this machine's simulation platform key signed this"; it
 *    is NOT a hardware guarantee. Verifiers must treat it as simulation
 *    (the CAS refuses it unless a session tolerates `simulation`).
 *  - Report data is the caller's: by convention SHA-256 of the attested TLS
 *    public key (DER SubjectPublicKeyInfo) followed by a 32-byte nonce
 *    (ward_sim_report_data() builds it).
 *  - Functions return 0 on success, -1 on failure with a one-line reason in
 *    err (no "ward:" prefix); they never log. Outputs are untouched on
 *    failure. All functions are thread-safe (no global state); a loaded
 *    platform may be used from several threads at once.
 */
#ifndef WARD_ATTEST_RATLS_SIM_EVIDENCE_H
#define WARD_ATTEST_RATLS_SIM_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#define WARD_SIM_EVIDENCE_LEN 220
#define WARD_SIM_MEASUREMENT_LEN 32
#define WARD_SIM_REPORT_DATA_LEN 64
#define WARD_SIM_FPR_LEN 32 /* SHA-256 of the platform key's DER SubjectPublicKeyInfo */
#define WARD_SIM_PUBKEY_LEN 32 /* raw Ed25519 public key */
#define WARD_SIM_KEY_FILE "sim-platform-key.pem"

/* A loaded simulation platform key (opaque). Owns an OpenSSL private key. */
struct ward_sim_platform;

/* What verification found (all fields copied out of the evidence). */
struct ward_sim_claims {
	uint8_t measurement[WARD_SIM_MEASUREMENT_LEN];
	uint8_t report_data[WARD_SIM_REPORT_DATA_LEN];
	uint8_t platform_pubkey[WARD_SIM_PUBKEY_LEN];
	uint8_t platform_fpr[WARD_SIM_FPR_LEN];
	uint64_t timestamp; /* Unix seconds, as claimed by the producer */
	uint16_t version;
};

/* The platform key directory: $WARD_SIM_PLATFORM_DIR, else
 * $XDG_DATA_HOME/ward, else $HOME/.local/share/ward. */
int ward_sim_platform_dir(char *out, size_t outlen, char *err, size_t errlen);

/* Loads dir/sim-platform-key.pem, creating it (and dir, mode 0700) on first
 * use with mode 0600. dir NULL means ward_sim_platform_dir(). Refuses a key
 * file readable or writable by group/others, not a regular file, or not an
 * Ed25519 private key. Concurrent first uses agree on one key (the file is
 * published with link(2), never overwritten). Free with ward_sim_platform_free. */
int ward_sim_platform_load(const char *dir, struct ward_sim_platform **out, char *err,
			   size_t errlen);

/* Wipes and frees (NULL is fine). */
void ward_sim_platform_free(struct ward_sim_platform *p);

/* The platform key's fingerprint (SHA-256 of its DER SubjectPublicKeyInfo,
 * same as `openssl pkey -pubout -outform DER | sha256sum`) and raw public key. */
void ward_sim_platform_fingerprint(const struct ward_sim_platform *p,
				   uint8_t out[WARD_SIM_FPR_LEN]);
void ward_sim_platform_pubkey(const struct ward_sim_platform *p,
			      uint8_t out[WARD_SIM_PUBKEY_LEN]);

/* report_data = key_hash (32 bytes) || nonce (32 bytes, zeros when NULL). */
void ward_sim_report_data(const uint8_t key_hash[32], const uint8_t *nonce32,
			  uint8_t out[WARD_SIM_REPORT_DATA_LEN]);

/* Produces evidence into out. timestamp 0 means now. */
int ward_sim_evidence_create(const struct ward_sim_platform *p,
			     const uint8_t measurement[WARD_SIM_MEASUREMENT_LEN],
			     const uint8_t report_data[WARD_SIM_REPORT_DATA_LEN], uint64_t timestamp,
			     uint8_t out[WARD_SIM_EVIDENCE_LEN], char *err, size_t errlen);

/* Verifies evidence bytes (any length: anything but exactly
 * WARD_SIM_EVIDENCE_LEN is refused): layout, version, flags, the signature
 * by the embedded platform key, and, when pinned_fpr is not NULL, that the
 * platform key's fingerprint equals it. Fills *out only on success. */
int ward_sim_evidence_verify(const uint8_t *ev, size_t len,
			     const uint8_t *pinned_fpr /* WARD_SIM_FPR_LEN or NULL */,
			     struct ward_sim_claims *out, char *err, size_t errlen);

/* True when the bytes start with the sim evidence magic (a cheap sniff for
 * dispatch; says nothing about validity). */
int ward_sim_evidence_is(const uint8_t *ev, size_t len);

#endif
