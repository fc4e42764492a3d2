/* session_text.c: see session_text.h. */
#include "cas/session_text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifdef WARD_CAS_HAVE_POLICY
#include "policy/policy.h"
#endif

static int is_json(const char *txt, size_t len, const char *ct)
{
	if (ct != NULL && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	if (ct != NULL && (strncasecmp(ct, "application/yaml", 16) == 0 ||
			   strncasecmp(ct, "application/x-yaml", 18) == 0 || strncasecmp(ct, "text/yaml", 9) == 0))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (txt[i] == ' ' || txt[i] == '\n' || txt[i] == '\r' || txt[i] == '\t')
			continue;
		return txt[i] == '{';
	}
	return 0;
}

json_t *cas_session_text_parse(const char *txt, size_t len, const char *ct, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	if (memchr(txt, 0, len) != NULL) {
		snprintf(err, errlen, "session document contains a NUL byte");
		return NULL;
	}
#ifdef WARD_CAS_HAVE_POLICY
	{
		/* the session language library validates everything and gives the
		 * canonical JSON form the CAS stores */
		int json = is_json(txt, len, ct);
		struct ward_policy *p = json ? ward_policy_parse_json(txt, len, "session.json", err, errlen)
					     : ward_policy_parse_yaml(txt, len, "session.yaml", err, errlen);
		if (p == NULL)
			return NULL;
		j = ward_policy_to_jansson(p, 0);
		ward_policy_free(p);
		if (j == NULL)
			snprintf(err, errlen, "out of memory");
		return j;
	}
#endif
	if (!is_json(txt, len, ct)) {
		snprintf(err, errlen, "YAML session documents are not accepted by this CAS build yet: send the JSON form (Content-Type: application/json)");
		return NULL;
	}
	j = json_loadb(txt, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL) {
		snprintf(err, errlen, "session.json:%d:%d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "session.json:1:1: the session document must be a JSON object");
		return NULL;
	}
	return j;
}
