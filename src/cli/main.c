/* main.c: `ward` entry point: dispatches to the subcommands in commands.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "core/log.h"

/*
 * Built twice. `ward` (WARD_LAUNCHER defined) holds only what `ward run`
 * needs, so that starting an enclave does not load OpenSSL, libcurl and the
 * rest into the launcher; every other command is handed to `ward-tool`, the
 * full build of the same dispatcher installed beside it.
 */
struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

#ifdef WARD_LAUNCHER
#define TOOL(fn) NULL
#else
#define TOOL(fn) fn
#endif

static const struct command commands[] = {
	{ "run", cmd_run, "run a program inside an enclave" },
	{ "measure", TOOL(cmd_measure), "print the enclave hash of a program without running it" },
	{ "engine-image", TOOL(cmd_engine_image), "show or rebuild the interpreter's authenticated engine image" },
	{ "fs", TOOL(cmd_fs), "create, inspect and verify encrypted and authenticated volumes" },
	{ "evidence", TOOL(cmd_evidence), "show and verify attestation evidence (SGX, TDX, SEV-SNP, sim)" },
	{ "ratls", TOOL(cmd_ratls), "show and verify RA-TLS certificates" },
	{ "session", TOOL(cmd_session), "manage policies (sessions) on a CAS" },
};

/* Runs the command in ward-tool, found next to this binary. */
static int hand_over(char **argv)
{
	char tool[PATH_MAX];
	if (ward_tool_path(tool) != 0)
		return 1;
	argv[0] = tool;
	execv(tool, argv);
	ward_error("cannot start %s: %s; reinstall ward (ward and ward-tool belong together)", tool, strerror(errno));
	return 1;
}

static int dispatch(const struct command *c, int argc, char **argv)
{
	if (c->fn == NULL)
		return hand_over(argv - 1);
	return c->fn(argc, argv);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ward [--version] [--help] COMMAND [ARGS...]\n\n"
		   "Ward runs unmodified programs (CPython, PyPy, ...) as confidential services:\n"
		   "code and data encrypted at rest, the program inside an enclave, and keys,\n"
		   "secrets and configuration released only after remote attestation.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'ward COMMAND --help' for a command's options.\n"
		   "Environment: WARD_MODE (hw|sim|auto), WARD_HEAP, WARD_STACK, WARD_ALLOW_DLOPEN,\n"
		   "WARD_LOG (error|warn|info|debug), WARD_VERSION=1; with a CAS: WARD_CAS_ADDR,\n"
		   "WARD_CONFIG_ID=SESSION/SERVICE, WARD_CAS_FINGERPRINT. See docs/runtime.md.\n"
		   "The CAS itself is ward-cas (ward-cas --help, docs/cas.md).\n");
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int lvl = ward_log_parse_level(getenv("WARD_LOG"));
	if (lvl >= 0)
		ward_log_set_level((enum ward_log_level)lvl);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char *hargv[] = { argv[0], argv[2], (char *)"--help", NULL };
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return dispatch(&commands[i], 2, hargv + 1);
		}
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ward %s\n", WARD_VERSION_STRING);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return dispatch(&commands[i], argc - 1, argv + 1);
	ward_error("unknown command '%s'; run 'ward --help' for the list", argv[1]);
	return 2;
}
