/* tlsid.c: see cas.h (TLS identity of the CAS). */
#include "cas/cas.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/crypto.h"
#include "core/util.h"

/* Replaces chain building: any client certificate is accepted (self-signed
 * is the norm); the handshake's CertificateVerify still proves possession of
 * its key, and the identity is the hash of that key. */
static int accept_any(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

static int make_identity(struct cas_server *s, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	uint8_t serial[16];
	char *p;
	long n;
	int r = -1;

	if (k == NULL || x == NULL || kb == NULL || cb == NULL || ward_random(serial, sizeof(serial)) != 0)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"ward-cas", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (X509_set_pubkey(x, k) != 1 || X509_sign(x, k, EVP_sha256()) <= 0 ||
	    PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) != 1 || PEM_write_bio_X509(cb, x) != 1)
		goto out;
	n = BIO_get_mem_data(kb, &p);
	if (cas_store_meta_put(s->store, "tls_key", p, (size_t)n) != 0)
		goto out;
	n = BIO_get_mem_data(cb, &p);
	if (cas_store_meta_put(s->store, "tls_cert", p, (size_t)n) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		snprintf(err, errlen, "cannot create the CAS TLS identity: %s",
			 cas_store_error(s->store)[0] ? cas_store_error(s->store) : "OpenSSL failure");
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(kb);
	BIO_free(cb);
	return r;
}

int cas_tls_init(struct cas_server *s, char *err, size_t errlen)
{
	uint8_t *kp = NULL, *cp = NULL, h[32];
	size_t kl = 0, cl = 0;
	BIO *b = NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int r, n, ret = -1;

	r = cas_store_meta_get(s->store, "tls_key", &kp, &kl);
	if (r == 1) {
		if (make_identity(s, err, errlen) != 0)
			return -1;
		r = cas_store_meta_get(s->store, "tls_key", &kp, &kl);
	}
	if (r != 0 || cas_store_meta_get(s->store, "tls_cert", &cp, &cl) != 0) {
		snprintf(err, errlen, "cannot load the CAS TLS identity: %s", cas_store_error(s->store));
		goto out;
	}
	b = BIO_new_mem_buf(kp, (int)kl);
	k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	b = BIO_new_mem_buf(cp, (int)cl);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (k == NULL || x == NULL) {
		snprintf(err, errlen, "the CAS TLS identity in the store is unreadable");
		goto out;
	}
	n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	if (n <= 0 || ward_sha256(der, (size_t)n, h) != 0)
		goto out;
	memcpy(s->fingerprint, "sha256:", 7);
	ward_hex(h, 32, s->fingerprint + 7);
	s->ssl = SSL_CTX_new(TLS_server_method());
	if (s->ssl == NULL || SSL_CTX_set_min_proto_version(s->ssl, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate(s->ssl, x) != 1 || SSL_CTX_use_PrivateKey(s->ssl, k) != 1 ||
	    SSL_CTX_check_private_key(s->ssl) != 1 ||
	    /* X25519 first: the cheapest ECDHE, and the share clients send */
	    SSL_CTX_set1_groups_list(s->ssl, "X25519:P-256") != 1) {
		snprintf(err, errlen, "cannot set up TLS: %s", ERR_reason_error_string(ERR_get_error()));
		goto out;
	}
	SSL_CTX_set_verify(s->ssl, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(s->ssl, accept_any, NULL);
	SSL_CTX_set_session_cache_mode(s->ssl, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s->ssl, 0);
	ret = 0;
out:
	if (kp != NULL) {
		ward_wipe(kp, kl);
		free(kp);
	}
	free(cp);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	return ret;
}

int cas_tls_peer_id(SSL *ssl, char out[65])
{
	X509 *x = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	unsigned char *der = NULL;
	uint8_t h[32];
	int n;

	if (x == NULL)
		return -1;
	/* the certificate's own SubjectPublicKeyInfo, re-encoded as received
	 * (cheaper than i2d_PUBKEY, which goes through OpenSSL 3's encoders) */
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0 || ward_sha256(der, (size_t)n, h) != 0) {
		OPENSSL_free(der);
		return -1;
	}
	OPENSSL_free(der);
	ward_hex(h, 32, out);
	return 0;
}
