/*
 * vcache.h: the verification cache (struct ward_verify_cache): a memo of
 * results that are pure functions of their inputs, so that verifying many
 * quotes against one loaded collateral does not decode the same
 * certificates or re-verify the same certificate and collateral signatures
 * every time. docs/evidence.md ("Caching") gives the soundness argument.
 *
 * Contract:
 *  - An entry is found by a 32-byte key: the SHA-256 of a domain tag and of
 *    every input the result depends on except the verification time
 *    (ward_vcache_key()); inputs are given as SHA-256 identities (of DER
 *    bytes) or as the bytes themselves.
 *  - Only successes are stored; a failure is recomputed on every call, so
 *    its message is always the fresh one.
 *  - A result that also depends on the verification time (a chain verified
 *    by X509_verify_cert) stores the certificates whose validity periods it
 *    checked; a lookup hits only when each of them is valid at the caller's
 *    time, tested with X509_cmp_time as X509_verify_cert tests it.
 *  - Objects handed out are new references or copies owned by the caller;
 *    the cache keeps its own. Every function takes the cache's lock, so one
 *    cache can serve any number of threads. A NULL cache never hits and
 *    ignores stores. Bounded: 1024 entries, 4-way sets, round-robin eviction.
 * Also here, fetched once per process: SHA-256 / SHA-384 (OpenSSL 3
 * provider fetches are otherwise repeated on every use).
 */
#ifndef WARD_ATTEST_QUOTE_VCACHE_H
#define WARD_ATTEST_QUOTE_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/quote/evidence.h"

/* Fetched once (never freed); NULL only if the default provider lacks them. */
const EVP_MD *ward_md_sha256(void);
const EVP_MD *ward_md_sha384(void);

/* key = SHA-256(tag, then for each (ptr, len) pair: u64 len || bytes);
 * the list ends with a NULL pointer. 0, or -1 when hashing failed (the
 * caller must then not use the cache). */
int ward_vcache_key(uint8_t key[32], const char *tag, ...);

/* SHA-256 of the DER of x (its identity in keys); 0 or -1. */
int ward_x509_id(X509 *x, uint8_t id[32]);

/* 1 when key is stored and every certificate stored with it is valid at at. */
int ward_vcache_fact(struct ward_verify_cache *c, const uint8_t key[32], time_t at);
/* Stores key; timed (up to 4, may be NULL entries) bound its validity. */
void ward_vcache_put_fact(struct ward_verify_cache *c, const uint8_t key[32], X509 *const *timed, size_t ntimed);

/* A blob stored under key: copies up to cap bytes into out, returns its
 * length, or -1 when absent. */
long ward_vcache_get_blob(struct ward_verify_cache *c, const uint8_t key[32], void *out, size_t cap);
void ward_vcache_put_blob(struct ward_verify_cache *c, const uint8_t key[32], const void *blob, size_t len);

/* Certificates decoded from bytes, through the cache: one = 0 splits PEM
 * (ward_pem_certs), one = 1 reads one DER or PEM certificate
 * (ward_cert_load). Returns a new stack (sk_X509_pop_free) and, when ids
 * is not NULL, the SHA-256 of each certificate's DER in ids[0..16]; NULL
 * with err on failure. */
STACK_OF(X509) *ward_vcache_decode(struct ward_verify_cache *c, int one, const uint8_t *p, size_t len,
				   uint8_t ids[17][32], char *err, size_t errlen);

#endif
