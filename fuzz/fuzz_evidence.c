/* fuzz_evidence.c: the DCAP quote and SEV-SNP report parsers (and, for
 * inputs that parse, the PCK chain/extension decoder and JSON rendering). */
#include <stdlib.h>

#include "attest/quote/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_evidence *ev = NULL;
	struct ward_pck_info pck;
	uint8_t *bin;
	size_t blen;
	char err[256];

	if (ward_evidence_parse(data, size, &ev, err, sizeof(err)) == 0) {
		if (ward_evidence_pck_info(ev, &pck, err, sizeof(err)) != 0)
			pck.present = 0;
		json_decref(ward_evidence_to_json(ev, &pck, NULL));
		ward_evidence_free(ev);
	}
	if (ward_evidence_decode(data, size, &bin, &blen, err, sizeof(err)) == 0)
		free(bin);
	return 0;
}
