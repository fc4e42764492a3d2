/*
 * ratls_json.h: RA-TLS facts as JSON (jansson) for `ward ratls --json`
 * and the CAS. Returned objects are new references (caller json_decref()s).
 */
#ifndef WARD_ATTEST_RATLS_RATLS_JSON_H
#define WARD_ATTEST_RATLS_RATLS_JSON_H

#include <jansson.h>

#include "attest/ratls/ratls.h"
#include "attest/ratls/ratls_verify.h"
#include "core/crypto.h"

json_t *ward_ratls_evidence_json(const struct ward_ratls_evidence *e);
/* v may be NULL (show) or a verdict (verify: adds "checks" and "ok"). */
json_t *ward_ratls_cert_json(const struct ward_ratls_cert *c, const struct ward_ratls_verdict *v);
/* "EC prime256v1", "RSA-3072", "Ed25519", ... */
void ward_ratls_key_desc(X509 *x, char *out, size_t outlen);

#endif
