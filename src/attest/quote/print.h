/*
 * print.h: human-readable rendering of evidence and verification results
 * (what `ward evidence show/verify` print without --json).
 * Contract: writes to f only; never prints secrets (evidence has none).
 */
#ifndef WARD_ATTEST_QUOTE_PRINT_H
#define WARD_ATTEST_QUOTE_PRINT_H

#include <stdio.h>

#include "attest/quote/evidence.h"

/* pck may be NULL or not present; pck_err explains why (may be ""). */
void ward_evidence_print(FILE *f, const struct ward_evidence *ev, const struct ward_pck_info *pck, const char *pck_err);
void ward_verify_print(FILE *f, const struct ward_verify_result *res);

#endif
