/* fuzz_ratls.c: RA-TLS certificates (DER) through the reader, which decodes
 * every evidence extension (Gramine/SGX quotes, TDX, SEV-SNP, DICE/CBOR,
 * IAS reports, JSON claims); and the same bytes as DICE evidence (CBOR). */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/ratls/ratls.h"
#include "attest/ratls/ratls_dice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	uint64_t tag;
	uint8_t *ev = NULL, *cl = NULL;
	size_t evl = 0, cll = 0;
	if (ward_dice_decode(data, size, &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == 0) {
		free(ev);
		free(cl);
	}
	const unsigned char *p = data;
	X509 *x = d2i_X509(NULL, &p, (long)size);
	if (x != NULL) {
		struct ward_ratls_cert *c = NULL;
		if (ward_ratls_parse(x, &c, err, sizeof(err)) == 0)
			ward_ratls_cert_free(c);
		X509_free(x);
	}
	/* Queued OpenSSL errors hold allocations until cleared: left there,
	 * every input would end with more mallocs than frees, and libFuzzer
	 * would run a full leak scan after each (most of the time spent). */
	ERR_clear_error();
	return 0;
}
