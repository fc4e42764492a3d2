/*
 * verify_internal.h: shared by the DCAP and SNP verifiers: recording check
 * outcomes in struct ward_verify_result.
 * Contract: ward_check() appends one named check (names are static
 * strings); at most WARD_EVIDENCE_MAX_CHECKS are kept.
 */
#ifndef WARD_ATTEST_QUOTE_VERIFY_INTERNAL_H
#define WARD_ATTEST_QUOTE_VERIFY_INTERNAL_H

#include "attest/quote/evidence.h"

void ward_check(struct ward_verify_result *r, const char *name, enum ward_check_state st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

void ward_verify_dcap(const struct ward_evidence *ev, const struct ward_verify_opts *o, struct ward_verify_result *r);
void ward_verify_snp(const struct ward_evidence *ev, const struct ward_verify_opts *o, struct ward_verify_result *r);

/* TCB evaluation against the collateral (tcb.c). Records tcb_info_match,
 * qe_identity, tdx_module and tcb_level. */
struct ward_collateral;
void ward_tcb_evaluate(const struct ward_evidence *ev, const struct ward_collateral *col, struct ward_verify_result *r);

#endif
