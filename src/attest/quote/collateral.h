/*
 * collateral.h: the inside of struct ward_collateral (SGX/TDX collateral),
 * shared by collateral.c (loading) and the DCAP verifier.
 *
 * Contract: tcb_raw/qe_raw hold the exact signed bytes of the inner JSON
 * objects (never re-serialised); tcb/qe are the same objects parsed by
 * jansson and checked to be equal to the raw text. Everything is owned by
 * the collateral and read-only after ward_collateral_load(), except the
 * cache, which locks itself.
 */
#ifndef WARD_ATTEST_QUOTE_COLLATERAL_H
#define WARD_ATTEST_QUOTE_COLLATERAL_H

#include <jansson.h>
#include <openssl/x509.h>

#include "attest/quote/evidence.h"

struct ward_collateral {
	char *tcb_raw;
	size_t tcb_len;
	uint8_t tcb_sig[64];
	json_t *tcb;
	char *qe_raw;
	size_t qe_len;
	uint8_t qe_sig[64];
	json_t *qe;
	X509_CRL *root_crl;
	X509_CRL *pck_crl;
	STACK_OF(X509) *certs; /* issuer chains (TCB signing, PCK CA, root) */
	/* identities for the verification cache, computed by ward_collateral_load() */
	uint8_t tcb_id[32], qe_id[32];           /* SHA-256 of the signed bytes */
	uint8_t root_crl_id[32], pck_crl_id[32]; /* SHA-256 of the CRLs' DER */
	uint8_t (*cert_ids)[32];                 /* SHA-256 of each certs[i] DER */
	struct ward_verify_cache *cache;         /* used when the caller passes none */
};

/* Locates the value of a top-level key that is a JSON object in body and
 * returns its exact byte range [*start, *end). For fuzzing and tests. */
int ward_json_inner_object(const char *body, size_t len, const char *key, size_t *start, size_t *end);

/* Parses one in-memory collateral file (PCS body, dcap-qvl JSON, CRL, PEM)
 * into c; name is used in messages. */
int ward_collateral_add(struct ward_collateral *c, const char *name, const uint8_t *data, size_t len, char *err,
			size_t errlen);

#endif
