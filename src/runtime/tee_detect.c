/* tee_detect.c: see tee_detect.h. */
#include "runtime/tee_detect.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int exists(const char *root, const char *path)
{
	char full[512];
	struct stat st;
	if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return 0;
	return stat(full, &st) == 0;
}

const char *ward_tee_looked_for(void)
{
	return "Gramine's /dev/attestation, configfs-tsm (/sys/kernel/config/tsm/report), "
	       "TDX/SEV guest devices (/dev/tdx_guest, /dev/sev-guest), SGX devices (/dev/sgx_enclave, /dev/sgx/enclave, /dev/isgx)";
}

void ward_tee_detect(const char *root, struct ward_tee_info *out)
{
	static const char *const sgx_devs[] = { "/dev/sgx_enclave", "/dev/sgx/enclave", "/dev/isgx" };
	memset(out, 0, sizeof(*out));
	if (root == NULL)
		root = "";
	if (exists(root, "/dev/attestation/quote") || exists(root, "/dev/attestation/user_report_data")) {
		out->kind = WARD_TEE_GRAMINE_SGX;
		snprintf(out->detail, sizeof(out->detail), "SGX through Gramine (/dev/attestation)");
		return;
	}
	if (exists(root, "/sys/kernel/config/tsm/report")) {
		const char *guest = exists(root, "/dev/tdx_guest") ? "TDX guest" :
				    exists(root, "/dev/sev-guest") ? "SEV-SNP guest" : "confidential VM";
		out->kind = WARD_TEE_TSM;
		snprintf(out->detail, sizeof(out->detail), "%s (configfs-tsm)", guest);
		return;
	}
	for (size_t i = 0; i < sizeof(sgx_devs) / sizeof(sgx_devs[0]); i++) {
		if (exists(root, sgx_devs[i])) {
			out->kind = WARD_TEE_SGX_NO_GRAMINE;
			snprintf(out->detail, sizeof(out->detail),
				 "%s is present, but this process is not inside Gramine-SGX; start it with gramine-sgx (docs/runtime.md)",
				 sgx_devs[i]);
			return;
		}
	}
	if (exists(root, "/dev/tdx_guest") || exists(root, "/dev/sev-guest")) {
		out->kind = WARD_TEE_NONE;
		snprintf(out->detail, sizeof(out->detail),
			 "a TDX/SEV guest device is present but configfs-tsm is not mounted (mount -t configfs none /sys/kernel/config)");
		return;
	}
	snprintf(out->detail, sizeof(out->detail), "nothing present");
}
