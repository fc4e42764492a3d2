/*
 * attest_client.h: the enclave side of the attestation protocol
 * (docs/cas-api.md), for libward-rt.so and tools. OpenSSL + jansson only,
 * blocking sockets with a timeout, no global state: thread-safe.
 *
 * Flow: ward_cas_identity_new() makes the enclave's key pair (no
 * certificate: the TLS channel authenticates the CAS only);
 * ward_cas_attest() connects, receives the challenge, asks the caller's
 * evidence callback for evidence over the report data it computed (SHA-256
 * of the key's SubjectPublicKeyInfo || binding of the challenge, this TLS
 * connection's exporter, config id and volume tags), and returns the CAS's
 * answer. ward_cas_report_tag() reports volume tags afterwards, signed with
 * the same key.
 *
 * Returns: 0 configuration received (*config_json: malloc'ed NUL-terminated
 * JSON the caller wipes and frees), 1 denied by the CAS (its reason, already
 * of the form "attestation denied by CAS: ...", in err), -1 any other
 * failure (one-line reason in err). Nothing is allocated on failure.
 */
#ifndef WARD_CAS_ATTEST_CLIENT_H
#define WARD_CAS_ATTEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

/* Produces evidence whose report data is exactly report_data (64 bytes).
 * Writes at most max bytes into out and the length into *len; 0 or -1. */
typedef int (*ward_cas_evidence_fn)(void *arg, const uint8_t report_data[64], uint8_t *out,
				    size_t max, size_t *len, char *err, size_t errlen);

struct ward_cas_peer {
	const char *addr;             /* "host:port" of the attestation port */
	const uint8_t *fingerprint;   /* 32 bytes: SHA-256 of the CAS's SPKI; NULL = not pinned */
	EVP_PKEY *key;                /* the enclave's key (borrowed): its hash is bound by
					 the evidence, it signs tag reports */
	int timeout_ms;               /* per socket operation; 0 = 10 s */
	SSL_CTX *ctx;                 /* optional, from ward_cas_client_ctx_new(), shared
					 between calls and threads; NULL: one per call */
};

/* A TLS 1.3 client context for ward_cas_peer.ctx (free with SSL_CTX_free).
 * Creating one costs more than a handshake with OpenSSL 3: load generators
 * and long-lived runtimes keep one. */
SSL_CTX *ward_cas_client_ctx_new(void);

/* Fresh P-256 key. */
int ward_cas_identity_new(EVP_PKEY **key, char *err, size_t errlen);

/* The key's DER SubjectPublicKeyInfo (at most max bytes): 0 or -1. A P-256
 * key is encoded directly (OpenSSL 3's encoders cost ~100 us a call). */
int ward_cas_key_spki(EVP_PKEY *key, uint8_t *out, size_t max, size_t *len);

/* SHA-256 of the key's DER SubjectPublicKeyInfo. */
int ward_cas_key_hash(EVP_PKEY *key, uint8_t out[32]);

/* Parses "sha256:HEX" or "HEX" (64 digits) into 32 bytes. */
int ward_cas_parse_fingerprint(const char *s, uint8_t out[32]);

int ward_cas_attest(const struct ward_cas_peer *peer, const char *config_id, size_t nvol,
		    const char *const *vol_names, const char *const *vol_tags,
		    ward_cas_evidence_fn evidence, void *evidence_arg, char **config_json, char *err,
		    size_t errlen);

/* vol_names/vol_tags NULL (with nvol 0): the enclave presents no tags; the
 * CAS then sends each volume's accepted tags in the configuration ("tag",
 * "pending") and the enclave must refuse any other state itself. */

/* phase: "prepare" (before the new state is durable) or "commit" (after). */
int ward_cas_report_tag(const struct ward_cas_peer *peer, const char *phase, const char *volume,
			const char *tag, char *err, size_t errlen);

#endif
