/*
 * crypto.h: thin wrappers over OpenSSL for the primitives every component
 * uses. Never implement a primitive here: call OpenSSL.
 *
 * Contract: return 0 on success, -1 on failure (OpenSSL's error queue is
 * cleared). Keys passed in are not copied; callers wipe them with
 * ward_wipe() (OPENSSL_cleanse) when done. Comparisons of MACs and secrets
 * go through ward_ct_equal().
 */
#ifndef WARD_CORE_CRYPTO_H
#define WARD_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WARD_SHA256_LEN 32
#define WARD_AES256_KEY_LEN 32
#define WARD_GCM_IV_LEN 12
#define WARD_GCM_TAG_LEN 16

int ward_sha256(const void *data, size_t len, uint8_t out[WARD_SHA256_LEN]);

/* SHA-256 of a file's whole content (read in blocks, no size limit). */
int ward_sha256_file(const char *path, uint8_t out[WARD_SHA256_LEN]);

int ward_random(void *out, size_t len);

/* Constant-time equality of two equal-length buffers: 1 if equal. */
int ward_ct_equal(const void *a, const void *b, size_t len);

void ward_wipe(void *p, size_t len);

/* ward_fail() that also clears OpenSSL's error queue (its details are in
 * the reason already, or irrelevant). Returns -1. */
int ward_fail_ossl(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* HKDF-SHA256 (RFC 5869). */
int ward_hkdf_sha256(const uint8_t *key, size_t keylen, const uint8_t *salt, size_t saltlen,
		     const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen);

/* HKDF-SHA256 with one key and salt and many infos: ward_hkdf_new() runs
 * the extract step once, and each ward_hkdf_expand() only the expand step
 * (OpenSSL's HKDF in expand-only mode, one kept context), so that
 * ward_hkdf_expand(h, info, ...) equals ward_hkdf_sha256(key, salt, info,
 * ...) at about a third of the cost. Thread-safe (calls are serialised);
 * ward_hkdf_free() (NULL is fine) frees the context, which wipes the
 * pseudorandom key. */
struct ward_hkdf;
struct ward_hkdf *ward_hkdf_new(const uint8_t *key, size_t keylen, const uint8_t *salt, size_t saltlen);
int ward_hkdf_expand(struct ward_hkdf *h, const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen);
void ward_hkdf_free(struct ward_hkdf *h);

/* AES-256-GCM. seal: out gets len bytes of ciphertext, tag gets 16 bytes.
 * open: returns -1 (and wipes out) when the tag does not verify. */
int ward_aes256gcm_seal(const uint8_t key[32], const uint8_t iv[12], const void *aad, size_t aadlen,
			const void *in, size_t len, void *out, uint8_t tag[16]);
int ward_aes256gcm_open(const uint8_t key[32], const uint8_t iv[12], const void *aad, size_t aadlen,
			const void *in, size_t len, void *out, const uint8_t tag[16]);

#endif
