/*
 * settings_opts.h: the options `ward run` and `ward measure` share
 * (--mode, --heap, --stack, --allow-dlopen, --log). Each option overrides the
 * WARD_* variable of the same setting.
 *
 * Contract: ward_parse_settings() reads the environment, then options up to
 * the first non-option or "--", and returns the index of PROGRAM in argv,
 * or -1 after printing one line (exit status 2).
 */
#ifndef WARD_CLI_SETTINGS_OPTS_H
#define WARD_CLI_SETTINGS_OPTS_H

#include "runtime/config.h"

int ward_parse_settings(int argc, char **argv, struct ward_config *c, const char *cmd);

#define WARD_SETTINGS_HELP                                                                             \
	"  --mode MODE          hw, sim or auto (default auto; env WARD_MODE)\n"                          \
	"  --heap SIZE          enclave heap, e.g. 512M, 4G (default 4G; env WARD_HEAP)\n"                \
	"  --stack SIZE         main thread and default thread stack (default 8M; env WARD_STACK)\n"      \
	"  --allow-dlopen N     0: no library loading after start; 1: authenticated libraries only;\n"    \
	"                       2: any library, unprotected (default 1 with the engine image,\n"         \
	"                       that is for CPython and PyPy, else 2; env WARD_ALLOW_DLOPEN)\n"         \
	"  --log LEVEL          error, warn, info or debug (default warn; env WARD_LOG)\n"

#endif
