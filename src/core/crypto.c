/* crypto.c: see crypto.h. */
#include "core/crypto.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

int ward_sha256(const void *data, size_t len, uint8_t out[WARD_SHA256_LEN])
{
	unsigned int outlen = 0;
	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != WARD_SHA256_LEN) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int ward_sha256_file(const char *path, uint8_t out[WARD_SHA256_LEN])
{
	static const size_t bufsz = 1 << 18;
	EVP_MD_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	unsigned int outlen = 0;
	int fd, rc = -1, saved = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buf = OPENSSL_malloc(bufsz);
	ctx = EVP_MD_CTX_new();
	if (buf == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (;;) {
		ssize_t r = read(fd, buf, bufsz);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			goto out;
		}
		if (r == 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != WARD_SHA256_LEN)
		goto out;
	rc = 0;
out:
	if (rc != 0 && saved == 0)
		saved = EIO;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(buf);
	close(fd);
	if (rc != 0)
		errno = saved;
	return rc;
}

int ward_random(void *out, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(out, (int)len) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int ward_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void ward_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

int ward_hkdf_sha256(const uint8_t *key, size_t keylen, const uint8_t *salt, size_t saltlen,
		     const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	int rc = -1;

	if (ctx == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
		rc = 0;
out:
	ERR_clear_error();
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

struct ward_hkdf {
	pthread_mutex_t mu;
	EVP_KDF_CTX *ctx; /* mode expand-only, key = the pseudorandom key */
};

struct ward_hkdf *ward_hkdf_new(const uint8_t *key, size_t keylen, const uint8_t *salt, size_t saltlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	struct ward_hkdf *h = calloc(1, sizeof(*h));
	uint8_t prk[WARD_SHA256_LEN];
	int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ok = 0;
	OSSL_PARAM params[5], *p = params;

	if (kdf == NULL || h == NULL || (h->ctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(h->ctx, prk, sizeof(prk), params) != 1)
		goto out;
	/* the same context from now on: expand only, from the extracted key */
	mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	p = params;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, prk, sizeof(prk));
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_CTX_set_params(h->ctx, params) != 1 || pthread_mutex_init(&h->mu, NULL) != 0)
		goto out;
	ok = 1;
out:
	ward_wipe(prk, sizeof(prk)); /* the context holds its own copy */
	EVP_KDF_free(kdf);
	if (!ok) {
		ERR_clear_error();
		if (h != NULL)
			EVP_KDF_CTX_free(h->ctx);
		free(h);
		h = NULL;
	}
	return h;
}

int ward_hkdf_expand(struct ward_hkdf *h, const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
	OSSL_PARAM params[2] = { OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen),
				 OSSL_PARAM_construct_end() };
	int rc;
	if (h == NULL)
		return -1;
	pthread_mutex_lock(&h->mu);
	rc = EVP_KDF_derive(h->ctx, out, outlen, params) == 1 ? 0 : -1;
	pthread_mutex_unlock(&h->mu);
	if (rc != 0) {
		ERR_clear_error();
		ward_wipe(out, outlen);
	}
	return rc;
}

void ward_hkdf_free(struct ward_hkdf *h)
{
	if (h == NULL)
		return;
	EVP_KDF_CTX_free(h->ctx); /* clears the key it holds */
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static int gcm(int enc, const uint8_t key[32], const uint8_t iv[12], const void *aad, size_t aadlen,
	       const void *in, size_t len, void *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, rc = -1;

	if (ctx == NULL || len > (size_t)INT32_MAX || aadlen > (size_t)INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1)
		goto out;
	if (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, (uint8_t *)out + outl, &outl) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && !enc && out != NULL)
		OPENSSL_cleanse(out, len);
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int ward_aes256gcm_seal(const uint8_t key[32], const uint8_t iv[12], const void *aad, size_t aadlen,
			const void *in, size_t len, void *out, uint8_t tag[16])
{
	return gcm(1, key, iv, aad, aadlen, in, len, out, tag);
}

int ward_aes256gcm_open(const uint8_t key[32], const uint8_t iv[12], const void *aad, size_t aadlen,
			const void *in, size_t len, void *out, const uint8_t tag[16])
{
	return gcm(0, key, iv, aad, aadlen, in, len, out, (uint8_t *)tag);
}

int ward_fail_ossl(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	ERR_clear_error();
	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
