/*
 * tee_detect.h: which trusted execution environment this process can use.
 *
 * Contract: ward_tee_detect() only looks at the file system (device nodes,
 * configfs-tsm); it never opens a device for writing. The result names what
 * was found, and ward_tee_looked_for() the full list of places examined, so
 * that a failure in hw mode can say exactly what was missing.
 */
#ifndef WARD_RUNTIME_TEE_DETECT_H
#define WARD_RUNTIME_TEE_DETECT_H

#include <stddef.h>

enum ward_tee {
	WARD_TEE_NONE = 0,
	WARD_TEE_GRAMINE_SGX, /* running inside Gramine-SGX: /dev/attestation */
	WARD_TEE_TSM,         /* TDX or SEV-SNP guest with configfs-tsm */
	WARD_TEE_SGX_NO_GRAMINE, /* SGX device present but not inside Gramine */
};

struct ward_tee_info {
	enum ward_tee kind;
	char detail[256]; /* what was found, e.g. "/dev/attestation (Gramine SGX)" */
};

/* root is prepended to every path ("" for the real system); tests pass a
 * fake tree. */
void ward_tee_detect(const char *root, struct ward_tee_info *out);

/* One line listing what was looked for. */
const char *ward_tee_looked_for(void);

#endif
