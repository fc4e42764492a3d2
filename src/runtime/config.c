/* config.c: see config.h. */
#include "runtime/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

static const char *const env_names[WARD_SET_COUNT] = {
	"WARD_MODE", "WARD_HEAP", "WARD_STACK", "WARD_ALLOW_DLOPEN", "WARD_LOG", "WARD_VERSION",
};

const char *ward_setting_env_name(enum ward_setting s)
{
	return (unsigned)s < WARD_SET_COUNT ? env_names[s] : "?";
}

const char *ward_mode_name(enum ward_mode m)
{
	switch (m) {
	case WARD_MODE_SIM: return "sim";
	case WARD_MODE_HW: return "hw";
	default: return "auto";
	}
}

void ward_config_defaults(struct ward_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = WARD_MODE_AUTO;
	c->heap = WARD_DEFAULT_HEAP;
	c->stack = WARD_DEFAULT_STACK;
	c->dlopen = WARD_DEFAULT_DLOPEN;
	c->log_level = WARD_LOG_WARN;
	c->version = 0;
}

static int lower_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		if (x != *b)
			return 0;
	}
	return *a == 0 && *b == 0;
}

int ward_config_set(struct ward_config *c, enum ward_setting s, const char *v, const char *origin,
		    char *err, size_t errlen)
{
	uint64_t n;
	char lim[32];

	if (v == NULL)
		v = "";
	switch (s) {
	case WARD_SET_MODE:
		if (lower_eq(v, "sim"))
			c->mode = WARD_MODE_SIM;
		else if (lower_eq(v, "hw"))
			c->mode = WARD_MODE_HW;
		else if (lower_eq(v, "auto"))
			c->mode = WARD_MODE_AUTO;
		else {
			snprintf(err, errlen, "invalid %s '%s': expected hw, sim or auto", origin, v);
			return -1;
		}
		break;
	case WARD_SET_HEAP:
	case WARD_SET_STACK: {
		uint64_t min = s == WARD_SET_HEAP ? WARD_MIN_HEAP : WARD_MIN_STACK;
		if (ward_parse_size(v, &n) != 0) {
			snprintf(err, errlen,
				 "invalid %s '%s': expected a size in bytes with an optional K, M or G suffix (e.g. 512M)",
				 origin, v);
			return -1;
		}
		if (n < min) {
			ward_format_size(min, lim, sizeof(lim));
			snprintf(err, errlen, "invalid %s '%s': at least %s is needed", origin, v, lim);
			return -1;
		}
		if (s == WARD_SET_STACK && n > WARD_MAX_STACK) {
			snprintf(err, errlen, "invalid %s '%s': at most 1G is supported", origin, v);
			return -1;
		}
		if (s == WARD_SET_HEAP)
			c->heap = n;
		else
			c->stack = n;
		break;
	}
	case WARD_SET_DLOPEN:
		if (strcmp(v, "0") == 0 || lower_eq(v, "no"))
			c->dlopen = 0;
		else if (strcmp(v, "1") == 0)
			c->dlopen = 1;
		else if (strcmp(v, "2") == 0 || lower_eq(v, "yes"))
			c->dlopen = 2;
		else {
			snprintf(err, errlen,
				 "invalid %s '%s': expected 0 (no loading after start), 1 (authenticated libraries only) or 2 (any library, unprotected)",
				 origin, v);
			return -1;
		}
		break;
	case WARD_SET_LOG: {
		int l = ward_log_parse_level(v);
		if (l < 0) {
			snprintf(err, errlen, "invalid %s '%s': expected error, warn, info or debug", origin, v);
			return -1;
		}
		c->log_level = l;
		break;
	}
	case WARD_SET_VERSION:
		if (strcmp(v, "1") == 0 || lower_eq(v, "yes") || lower_eq(v, "true"))
			c->version = 1;
		else if (strcmp(v, "0") == 0 || *v == 0 || lower_eq(v, "no") || lower_eq(v, "false"))
			c->version = 0;
		else {
			snprintf(err, errlen, "invalid %s '%s': expected 1 or 0", origin, v);
			return -1;
		}
		break;
	default:
		snprintf(err, errlen, "unknown setting");
		return -1;
	}
	c->explicit_mask |= 1u << s;
	return 0;
}

int ward_config_from_env(struct ward_config *c, char *err, size_t errlen)
{
	for (int s = 0; s < WARD_SET_COUNT; s++) {
		const char *v = getenv(env_names[s]);
		if (v == NULL)
			continue;
		if (ward_config_set(c, (enum ward_setting)s, v, env_names[s], err, errlen) != 0)
			return -1;
	}
	return 0;
}

void ward_config_value(const struct ward_config *c, enum ward_setting s, char *out, size_t outlen)
{
	switch (s) {
	case WARD_SET_MODE: snprintf(out, outlen, "%s", ward_mode_name(c->mode)); break;
	case WARD_SET_HEAP: ward_format_size(c->heap, out, outlen); break;
	case WARD_SET_STACK: ward_format_size(c->stack, out, outlen); break;
	case WARD_SET_DLOPEN: snprintf(out, outlen, "%d", c->dlopen); break;
	case WARD_SET_LOG: snprintf(out, outlen, "%s", ward_log_level_name((enum ward_log_level)c->log_level)); break;
	case WARD_SET_VERSION: snprintf(out, outlen, "%d", c->version); break;
	default: snprintf(out, outlen, "?"); break;
	}
}
