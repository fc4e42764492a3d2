/* fuzz_policy.c: the session language (src/policy/), which the CAS parses
 * from any client that may create or update a session: YAML or JSON as
 * given (first byte: 0 auto, 1 YAML, 2 JSON, the rest the document). A
 * policy that parses must serialise, and its canonical JSON must parse
 * again to the same hash (the hash is what attestation and access rules
 * pin: a canonical form that is not a fixed point would be a bug). Every
 * text of the input is also run through placeholder substitution with a
 * lookup that knows every name. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static int lookup(void *ctx, const char *name, struct ward_secret_value *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	if (name[0] == 'h') {
		out->kind = WARD_SECRET_HEX;
		out->value = "00ff10";
	} else if (name[0] == 'b') {
		out->kind = WARD_SECRET_BINARY;
		out->value = "AAEC";
	} else {
		out->kind = WARD_SECRET_ASCII;
		out->value = "value";
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], h1[WARD_POLICY_HASH_HEX + 1], h2[WARD_POLICY_HASH_HEX + 1];
	struct ward_policy *p, *q;
	const char *doc = (const char *)data + 1;
	size_t len = size ? size - 1 : 0, outlen;
	char *json, *out;

	if (size < 1 || len > WARD_POLICY_MAX_DOC)
		return 0;
	if (ward_policy_substitute(doc, len, data[0] & 4 ? WARD_SUBST_TEXT : 0, lookup, NULL, &out, &outlen, err,
				   sizeof(err)) == 0)
		free(out);
	switch (data[0] & 3) {
	case 1: p = ward_policy_parse_yaml(doc, len, "fuzz", err, sizeof(err)); break;
	case 2: p = ward_policy_parse_json(doc, len, "fuzz", err, sizeof(err)); break;
	default: p = ward_policy_parse(doc, len, "fuzz", err, sizeof(err)); break;
	}
	if (p == NULL)
		return 0;
	json = ward_policy_to_json(p, 0);
	if (json == NULL || ward_policy_hash(p, h1) != 0)
		abort();
	q = ward_policy_parse_json(json, strlen(json), "canonical", err, sizeof(err));
	if (q == NULL || ward_policy_hash(q, h2) != 0 || strcmp(h1, h2) != 0)
		abort(); /* the canonical form must parse back to itself */
	free(ward_policy_to_json(p, WARD_POLICY_JSON_REDACT | WARD_POLICY_JSON_PRETTY));
	ward_policy_free(q);
	ward_policy_free(p);
	free(json);
	return 0;
}
