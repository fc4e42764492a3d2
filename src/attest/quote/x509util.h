/*
 * x509util.h: small OpenSSL helpers shared by the DCAP and SNP verifiers:
 * strict PEM splitting, names and times as text, raw ECDSA signatures.
 *
 * Contract: functions return 0 / non-NULL on success and -1 / NULL on
 * failure, with the reason in err when they take one; OpenSSL's error
 * queue is cleared on failure. Returned objects are owned by the caller.
 */
#ifndef WARD_ATTEST_QUOTE_X509UTIL_H
#define WARD_ATTEST_QUOTE_X509UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Every "-----BEGIN CERTIFICATE-----" block of p, in order. Outside the
 * blocks only whitespace is allowed, and NUL bytes at the very end (quotes
 * count one NUL in the certification data). */
STACK_OF(X509) *ward_pem_certs(const uint8_t *p, size_t len, char *err, size_t errlen);

/* One certificate, DER or PEM. */
X509 *ward_cert_load(const uint8_t *p, size_t len, char *err, size_t errlen);

/* "2023-09-20T21:53:43+00:00" */
int ward_asn1_time_str(const ASN1_TIME *t, char out[32]);
/* "C=US,ST=CA,...,CN=..." (RFC 2253 order). */
void ward_name_str(const X509_NAME *n, char *out, size_t len);
/* The subject CN, "" if none. */
void ward_cert_cn(X509 *c, char *out, size_t len);

/* 1 when notBefore <= at <= notAfter. */
int ward_cert_valid_at(X509 *c, time_t at);

/* ECDSA with r||s (each n bytes, big-endian) over msg with the digest md. */
int ward_ecdsa_verify_rs(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msglen,
			 const uint8_t *r, const uint8_t *s, size_t n);

/* EC P-256 public key from raw x||y. */
EVP_PKEY *ward_p256_key(const uint8_t xy[64]);

/* "2025-06-19T10:56:11Z" -> time_t (UTC); also accepts a "+00:00" suffix
 * and fractional seconds. */
int ward_parse_rfc3339(const char *s, time_t *out);
void ward_format_rfc3339(time_t t, char out[32]);

#endif
