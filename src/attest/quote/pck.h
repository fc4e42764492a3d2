/*
 * pck.h: the PCK certificate chain a DCAP quote carries (certification
 * data type 5) and the Intel SGX extension of the PCK leaf.
 *
 * Contract: ward_pck_chain() returns leaf, intermediate, root (exactly
 * three certificates, owned by the caller); ward_pck_sgx_ext() decodes
 * OID 1.2.840.113741.1.13.1 strictly (every element present once, sizes
 * exact). Neither checks a signature.
 */
#ifndef WARD_ATTEST_QUOTE_PCK_H
#define WARD_ATTEST_QUOTE_PCK_H

#include <openssl/x509.h>

#include "attest/quote/evidence.h"

/* cache may be NULL; ids (may be NULL) gets the SHA-256 of each DER. */
STACK_OF(X509) *ward_pck_chain(const struct ward_evidence *ev, struct ward_verify_cache *cache, uint8_t ids[17][32],
			       char *err, size_t errlen);
/* Subjects, validity and SGX extension of an already split chain. */
int ward_pck_info_from_chain(STACK_OF(X509) *sk, struct ward_pck_info *info, char *err, size_t errlen);
int ward_pck_sgx_ext(X509 *leaf, struct ward_pck_info *info, char *err, size_t errlen);
/* DER of the extension value, for fuzzing the decoder alone. */
int ward_pck_sgx_ext_der(const uint8_t *der, size_t len, struct ward_pck_info *info, char *err, size_t errlen);

#endif
