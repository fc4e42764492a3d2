/*
 * ratls_verify.h: verifying an RA-TLS certificate: for every evidence
 * extension, the key binding, the evidence signature chain, the expected
 * measurement and the debug flag; plus the certificate's validity time and
 * self-signature. Every check is recorded; none is skipped silently.
 *
 * Contract: ward_ratls_verify() fills *v completely and returns 0 only when
 * every check passed; otherwise -1 and err holds "<check>: <reason>" of the
 * first failure. Hardware evidence (SGX/TDX quotes, SNP reports) is
 * verified by src/attest/quote/ (ward_evidence_verify): its signature
 * chain, and with collateral the CRLs and TCB level; without collateral the
 * check fails unless no_collateral is set (then the TCB is not evaluated).
 */
#ifndef WARD_ATTEST_RATLS_RATLS_VERIFY_H
#define WARD_ATTEST_RATLS_RATLS_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "attest/ratls/ratls.h"

struct ward_ratls_verify_opts {
	const uint8_t *measurement; /* required: 32 (sim, MRENCLAVE) or 48 bytes (MRTD, SNP) */
	size_t measurement_len;
	const uint8_t *sim_platform_fpr; /* optional pin of the sim platform key (32 bytes) */
	int allow_debug;            /* accept debug enclaves/TDs/guests */
	time_t at;                  /* verification time; 0 = now */
	const char *collateral;     /* SGX/TDX collateral: directory or dcap-qvl JSON file */
	int no_collateral;          /* SGX/TDX: check quote, QE and PCK chain only (no TCB, CRLs) */
	const char *tolerate_tcb;   /* comma-separated TCB statuses accepted besides UpToDate */
	const char *snp_cert;       /* SEV-SNP: VCEK or VLEK file (DER or PEM) */
	int snp_cert_is_vlek;
	const char *snp_chain;      /* SEV-SNP: ASK/ASVK + ARK (PEM) */
	const char *ias_root;       /* PEM file: IAS report signing root (EPID) */
};

#define WARD_RATLS_MAX_CHECKS 64

struct ward_ratls_check {
	char name[32];   /* "key_binding", "evidence_signature", "measurement", ... */
	int evidence;    /* index into cert->ev, or -1 for certificate checks */
	int state;       /* 1 pass, 0 fail */
	char msg[300];
};

struct ward_ratls_verdict {
	int ok;
	size_t n;
	struct ward_ratls_check checks[WARD_RATLS_MAX_CHECKS];
};

int ward_ratls_verify(const struct ward_ratls_cert *c, const struct ward_ratls_verify_opts *o,
		      struct ward_ratls_verdict *v, char *err, size_t errlen);

#endif
