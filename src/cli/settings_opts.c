/* settings_opts.c: see settings_opts.h. */
#include "cli/settings_opts.h"

#include <string.h>

#include "core/log.h"

static const struct {
	const char *name;
	enum ward_setting s;
} opts[] = {
	{ "--mode", WARD_SET_MODE },
	{ "--heap", WARD_SET_HEAP },
	{ "--stack", WARD_SET_STACK },
	{ "--allow-dlopen", WARD_SET_DLOPEN },
	{ "--log", WARD_SET_LOG },
};

int ward_parse_settings(int argc, char **argv, struct ward_config *c, const char *cmd)
{
	char err[512];
	int i;

	ward_config_defaults(c);
	if (ward_config_from_env(c, err, sizeof(err)) != 0) {
		ward_error("%s", err);
		return -1;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t k, n;
		if (strcmp(a, "--") == 0)
			return i + 1;
		if (a[0] != '-')
			return i;
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			n = strlen(opts[k].name);
			if (strncmp(a, opts[k].name, n) == 0 && (a[n] == 0 || a[n] == '='))
				break;
		}
		if (k == sizeof(opts) / sizeof(opts[0])) {
			ward_error("unknown option '%s' for 'ward %s'; see 'ward %s --help'", a, cmd, cmd);
			return -1;
		}
		if (a[n] == '=')
			val = a + n + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			ward_error("option %s needs a value; see 'ward %s --help'", opts[k].name, cmd);
			return -1;
		}
		if (ward_config_set(c, opts[k].s, val, opts[k].name, err, sizeof(err)) != 0) {
			ward_error("%s", err);
			return -1;
		}
	}
	return i;
}
