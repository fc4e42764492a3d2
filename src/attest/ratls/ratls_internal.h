/*
 * ratls_internal.h: helpers shared by the ratls_*.c files (not a public API).
 */
#ifndef WARD_ATTEST_RATLS_RATLS_INTERNAL_H
#define WARD_ATTEST_RATLS_RATLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "attest/ratls/ratls.h"

/* The encodings of a certificate key that issuers hash (owned buffers). */
struct ward_ratls_keyforms {
	uint8_t *spki_der;      /* DER SubjectPublicKeyInfo, as in the certificate */
	size_t spki_der_len;
	uint8_t *spki_pem_nul;  /* PEM text of the SPKI plus one NUL byte */
	size_t spki_pem_nul_len;
	uint8_t *ec_point;      /* 04||X||Y, or NULL */
	size_t ec_point_len;
	uint8_t *rsa_pkcs1;     /* DER RSAPublicKey, or NULL */
	size_t rsa_pkcs1_len;
};

int ward_ratls_keyforms(X509 *x, struct ward_ratls_keyforms *k);
int ward_ratls_keyforms_pkey(EVP_PKEY *pkey, struct ward_ratls_keyforms *k);
void ward_ratls_keyforms_free(struct ward_ratls_keyforms *k);

/* Hash by IANA named-information id (1 sha-256, 7 sha-384, 8 sha-512). */
int ward_ratls_hash_alg(uint64_t alg, const uint8_t *in, size_t len, uint8_t out[64],
			size_t *outlen);

/* Reads "report-json|signature-b64|cert-b64" into e (IAS report). */
void ward_ratls_parse_ias(struct ward_ratls_evidence *e, const uint8_t *v, size_t n);

struct ward_ratls_verify_opts;
struct ward_ratls_verdict;
/* Appends a check to a verdict (ratls_verify.c). */
void ward_ratls_verdict_add(struct ward_ratls_verdict *v, const char *name, int ev, int ok,
			    const char *msg);
/* Hardware evidence signature chain check (ratls_verify_hw.c). */
void ward_ratls_verify_hw(const struct ward_ratls_evidence *e, int i,
			  const struct ward_ratls_verify_opts *o, struct ward_ratls_verdict *v);

void ward_ratls_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
