/*
 * placeholder.h: scanning $$WARD::NAME[:FORMAT]$$ placeholders (shared by the
 * validator and the in-enclave substitution).
 *
 * Contract: ward_ph_next never reads past len; NAME is [A-Za-z0-9_.-]
 * (1..WARD_POLICY_NAME_MAX), FORMAT one of the names in policy.h. A "$$WARD::"
 * not followed by a well-formed rest is reported as malformed, never skipped.
 */
#ifndef WARD_POLICY_PLACEHOLDER_H
#define WARD_POLICY_PLACEHOLDER_H

#include <stddef.h>

#include "policy/policy.h"

#define WARD_PH_PREFIX "$$WARD::"

enum ward_ph_format {
	WARD_PH_DEFAULT = 0,
	WARD_PH_HEX,
	WARD_PH_BASE64,
	WARD_PH_BINARY,
	WARD_PH_PEM,
	WARD_PH_CRT,
	WARD_PH_KEY,
	WARD_PH_CHAIN,
};

struct ward_ph {
	size_t start, end;                     /* [start, end) in the input */
	char name[WARD_POLICY_NAME_MAX + 1];
	enum ward_ph_format format;
	char format_name[16];                  /* as written, "" for the default */
};

/* 1: *ph filled and *pos moved past it; 0: no more placeholders;
 * -1: malformed at ph->start, *why says how. */
int ward_ph_next(const char *s, size_t len, size_t *pos, struct ward_ph *ph, const char **why);

/* 1 when the format can be applied to a secret of kind k. */
int ward_ph_format_applies(enum ward_secret_kind k, enum ward_ph_format f);

#endif
