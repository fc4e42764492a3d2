/* ratls_keys.c: the encodings of a certificate key that RA-TLS issuers
 * hash into report data (see ratls_internal.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attest/ratls/ratls_internal.h"

void ward_ratls_keyforms_free(struct ward_ratls_keyforms *k)
{
	free(k->spki_der);
	free(k->spki_pem_nul);
	free(k->ec_point);
	free(k->rsa_pkcs1);
	memset(k, 0, sizeof(*k));
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d != NULL)
		memcpy(d, p, n);
	return d;
}

static int fill(X509_PUBKEY *xpk, EVP_PKEY *pkey, struct ward_ratls_keyforms *k)
{
	unsigned char *der = NULL;
	const unsigned char *bits = NULL;
	int derlen, bitslen = 0, id;
	BIO *bio = NULL;
	char *pem;
	long pemlen;

	memset(k, 0, sizeof(*k));
	derlen = i2d_X509_PUBKEY(xpk, &der);
	if (derlen <= 0)
		goto fail;
	k->spki_der = dup_bytes(der, (size_t)derlen);
	k->spki_der_len = (size_t)derlen;
	OPENSSL_free(der);
	if (k->spki_der == NULL)
		goto fail;
	if (X509_PUBKEY_get0_param(NULL, &bits, &bitslen, NULL, xpk) != 1 || bitslen <= 0)
		goto fail;
	id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_EC && bits[0] == 0x04) {
		k->ec_point = dup_bytes(bits, (size_t)bitslen);
		k->ec_point_len = (size_t)bitslen;
		if (k->ec_point == NULL)
			goto fail;
	} else if (id == EVP_PKEY_RSA) {
		k->rsa_pkcs1 = dup_bytes(bits, (size_t)bitslen);
		k->rsa_pkcs1_len = (size_t)bitslen;
		if (k->rsa_pkcs1 == NULL)
			goto fail;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1)
		goto fail;
	pemlen = BIO_get_mem_data(bio, &pem);
	if (pemlen <= 0)
		goto fail;
	k->spki_pem_nul = malloc((size_t)pemlen + 1);
	if (k->spki_pem_nul == NULL)
		goto fail;
	memcpy(k->spki_pem_nul, pem, (size_t)pemlen);
	k->spki_pem_nul[pemlen] = 0;
	k->spki_pem_nul_len = (size_t)pemlen + 1;
	BIO_free(bio);
	return 0;
fail:
	BIO_free(bio);
	ward_ratls_keyforms_free(k);
	ERR_clear_error();
	return -1;
}

int ward_ratls_keyforms(X509 *x, struct ward_ratls_keyforms *k)
{
	X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	EVP_PKEY *pkey = X509_get0_pubkey(x);
	if (xpk == NULL || pkey == NULL)
		return -1;
	return fill(xpk, pkey, k);
}

int ward_ratls_keyforms_pkey(EVP_PKEY *pkey, struct ward_ratls_keyforms *k)
{
	X509_PUBKEY *xpk = NULL;
	int r;
	if (X509_PUBKEY_set(&xpk, pkey) != 1) {
		ERR_clear_error();
		return -1;
	}
	r = fill(xpk, pkey, k);
	X509_PUBKEY_free(xpk);
	return r;
}

int ward_ratls_hash_alg(uint64_t alg, const uint8_t *in, size_t len, uint8_t out[64],
			size_t *outlen)
{
	const EVP_MD *md = alg == 1 ? EVP_sha256() : alg == 7 ? EVP_sha384() :
			   alg == 8 ? EVP_sha512() : NULL;
	unsigned int n = 0;
	if (md == NULL || EVP_Digest(in, len, out, &n, md, NULL) != 1) {
		ERR_clear_error();
		return -1;
	}
	*outlen = n;
	return 0;
}
