/* fuzz_collateral.c: collateral classification and loading (PCS bodies
 * with the exact-bytes inner-object cutter, dcap-qvl JSON, CRLs, PEM). */
#include <stdlib.h>

#include <openssl/x509.h>

#include "attest/quote/collateral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_collateral *c = calloc(1, sizeof(*c));
	size_t s, e;
	char err[256];

	if (!c)
		return 0;
	c->certs = sk_X509_new_null();
	if (c->certs)
		(void)ward_collateral_add(c, "fuzz", data, size, err, sizeof(err));
	ward_collateral_free(c);
	(void)ward_json_inner_object((const char *)data, size, "tcbInfo", &s, &e);
	return 0;
}
