/* placeholder.c: the $$WARD::NAME[:FORMAT]$$ scanner. */
#include "policy/placeholder.h"

#include <string.h>

static const char *const format_names[] = {
	[WARD_PH_DEFAULT] = "", [WARD_PH_HEX] = "hex", [WARD_PH_BASE64] = "base64",
	[WARD_PH_BINARY] = "binary", [WARD_PH_PEM] = "pem", [WARD_PH_CRT] = "crt",
	[WARD_PH_KEY] = "key", [WARD_PH_CHAIN] = "chain",
};

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

int ward_ph_next(const char *s, size_t len, size_t *pos, struct ward_ph *ph, const char **why)
{
	const size_t plen = sizeof(WARD_PH_PREFIX) - 1;
	for (size_t i = *pos; i + plen <= len; i++) {
		if (s[i] != '$' || memcmp(s + i, WARD_PH_PREFIX, plen) != 0)
			continue;
		memset(ph, 0, sizeof(*ph));
		ph->start = i;
		size_t j = i + plen, n = 0;
		while (j < len && name_char(s[j]) && n < WARD_POLICY_NAME_MAX)
			ph->name[n++] = s[j++];
		ph->name[n] = 0;
		if (n == 0) {
			*why = "no secret name after $$WARD::";
			return -1;
		}
		if (j < len && name_char(s[j])) {
			*why = "secret name longer than 128 characters";
			return -1;
		}
		if (j < len && s[j] == ':') {
			size_t f = 0;
			j++;
			while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9')) && f < sizeof(ph->format_name) - 1)
				ph->format_name[f++] = s[j++];
			ph->format_name[f] = 0;
			int found = 0;
			for (size_t k = 1; k < sizeof(format_names) / sizeof(format_names[0]); k++)
				if (f && strcmp(ph->format_name, format_names[k]) == 0) {
					ph->format = (enum ward_ph_format)k;
					found = 1;
				}
			if (!found) {
				*why = "unknown format (expected hex, base64, binary, pem, crt, key or chain)";
				return -1;
			}
		}
		if (j + 2 > len || s[j] != '$' || s[j + 1] != '$') {
			*why = "missing closing $$";
			return -1;
		}
		ph->end = j + 2;
		*pos = ph->end;
		return 1;
	}
	*pos = len;
	return 0;
}

int ward_ph_format_applies(enum ward_secret_kind k, enum ward_ph_format f)
{
	int bytes = k == WARD_SECRET_ASCII || k == WARD_SECRET_HEX || k == WARD_SECRET_BINARY;
	int cert = k == WARD_SECRET_X509 || k == WARD_SECRET_X509_CA;
	switch (f) {
	case WARD_PH_DEFAULT: return 1;
	case WARD_PH_HEX:
	case WARD_PH_BASE64:
	case WARD_PH_BINARY: return bytes;
	case WARD_PH_PEM: return k == WARD_SECRET_PRIVATE_KEY || cert;
	case WARD_PH_CRT:
	case WARD_PH_CHAIN: return cert;
	case WARD_PH_KEY: return k == WARD_SECRET_PRIVATE_KEY || cert;
	}
	return 0;
}
