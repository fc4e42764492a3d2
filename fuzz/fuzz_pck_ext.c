/* fuzz_pck_ext.c: the PCK certificate SGX extension decoder (DER). */
#include "attest/quote/pck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_pck_info info = { 0 };
	char err[256];
	(void)ward_pck_sgx_ext_der(data, size, &info, err, sizeof(err));
	return 0;
}
