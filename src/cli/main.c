/* main.c: `ward` entry point: dispatches to the subcommands in commands.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"

struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run a program inside an enclave" },
	{ "measure", cmd_measure, "print the enclave hash of a program without running it" },
	{ "fs", cmd_fs, "create, inspect and verify encrypted and authenticated volumes" },
	{ "evidence", cmd_evidence, "show and verify attestation evidence (SGX, TDX, SEV-SNP, sim)" },
	{ "ratls", cmd_ratls, "show and verify RA-TLS certificates" },
	{ "session", cmd_session, "manage policies (sessions) on a CAS" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ward [--version] [--help] COMMAND [ARGS...]\n\n"
		   "Ward runs unmodified programs (CPython, PyPy, ...) as confidential services:\n"
		   "code and data encrypted at rest, the program inside an enclave, and keys,\n"
		   "secrets and configuration released only after remote attestation.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'ward COMMAND --help' for a command's options.\n"
		   "Environment: WARD_MODE (hw|sim|auto), WARD_HEAP, WARD_STACK, WARD_ALLOW_DLOPEN,\n"
		   "WARD_LOG (error|warn|info|debug), WARD_VERSION=1. See docs/runtime.md.\n");
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
			char *hargv[] = { argv[2], (char *)"--help", NULL };
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(argv[2], commands[i].name) == 0)
					return commands[i].fn(2, hargv);
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
			return commands[i].fn(argc - 1, argv + 1);
	ward_error("unknown command '%s'; run 'ward --help' for the list", argv[1]);
	return 2;
}
