/*
 * hw_attester.h: obtaining hardware evidence for given report data, for
 * WARD_MODE=hw (docs/hw-attesters section of docs/ratls.md):
 *  - SGX inside Gramine: /dev/attestation (write 64 bytes to
 *    user_report_data, read quote; attestation_type must be "dcap");
 *  - TDX and SEV-SNP guests: the kernel's configfs-tsm report interface
 *    (/sys/kernel/config/tsm/report): mkdir an entry, read generation,
 *    write inblob (and privlevel), read outblob (and auxblob), read
 *    generation again (it must have grown by exactly our writes, else
 *    another process wrote the entry), read provider, rmdir the entry.
 *
 * Contract: every path is opts->root + the absolute kernel path, so tests
 * run against a fake tree. The evidence returned has been parsed (bounded)
 * and its report data equals the report data asked for; nothing is
 * verified cryptographically here (the verifier does that). Functions
 * return 0, or -1 with a one-line reason in err and *out untouched; the
 * configfs entry is removed on every path. Not thread-safe for the same
 * root only in the Gramine case (/dev/attestation is per process: callers
 * serialise); configfs entries are per call.
 */
#ifndef WARD_ATTEST_RATLS_HW_ATTESTER_H
#define WARD_ATTEST_RATLS_HW_ATTESTER_H

#include <stddef.h>
#include <stdint.h>

#include "attest/ratls/quote_fields.h"

#define WARD_HW_EVIDENCE_MAX (1u << 20)

enum ward_hw_source {
	WARD_HW_GRAMINE_SGX = 1, /* /dev/attestation inside Gramine-SGX */
	WARD_HW_TSM,             /* configfs-tsm: TDX or SEV-SNP guest */
};

/* Test hook: called right after the attester's own mkdir and writes and
 * right before its rmdir, so a fake tree can do what the kernel does
 * (populate the entry, generate the report, bump generation, drop the
 * attributes). NULL in production. */
enum ward_hw_event { WARD_HW_EV_MKDIR = 1, WARD_HW_EV_WRITE, WARD_HW_EV_RMDIR /* before rmdir */ };
typedef void (*ward_hw_hook)(enum ward_hw_event ev, const char *path, void *arg);

struct ward_hw_opts {
	const char *root;  /* prefix of every path; NULL or "" = the real system */
	int privlevel;     /* SEV-SNP VMPL to request via privlevel; -1 = do not write */
	ward_hw_hook hook;
	void *hook_arg;
};

struct ward_hw_evidence {
	enum ward_hw_source source;
	char provider[32];         /* "gramine-sgx-dcap", "tdx_guest", "sev_guest" */
	uint8_t *evidence;         /* owned: quote or SNP report */
	size_t len;
	uint8_t *auxblob;          /* owned: SNP certificate table, when the kernel gives one */
	size_t auxlen;
	struct ward_quote_fields fields;
};

/* Which interface this system (under root) offers. */
int ward_hw_detect(const struct ward_hw_opts *o, enum ward_hw_source *out, char *err,
		   size_t errlen);

/* Evidence whose report data is report_data, from the detected interface. */
int ward_hw_attest(const struct ward_hw_opts *o, const uint8_t report_data[64],
		   struct ward_hw_evidence *out, char *err, size_t errlen);
int ward_hw_attest_gramine(const struct ward_hw_opts *o, const uint8_t report_data[64],
			   struct ward_hw_evidence *out, char *err, size_t errlen);
int ward_hw_attest_tsm(const struct ward_hw_opts *o, const uint8_t report_data[64],
		       struct ward_hw_evidence *out, char *err, size_t errlen);

void ward_hw_evidence_free(struct ward_hw_evidence *e); /* frees the buffers, not e */

#endif
