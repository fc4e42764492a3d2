/*
 * shield_opts.h: the file-shield options of `ward run`:
 *   --volume DIR:KEYFILE[:ro]     encrypted region (key file: local development;
 *                                 :ro read-only, shared with other readers)
 *   --authenticated DIR[:MANIFEST] integrity-only region
 *   --ephemeral DIR               encrypted under a key that exists only for the run
 *   --plain DIR                   allowed but unprotected (with --deny-outside)
 *   --deny-outside                files outside every region may not be opened
 * They are removed from argv (so the settings parser never sees them) and
 * handed to the runtime in WARD_SHIELD / WARD_SHIELD_DENY. Keys never travel
 * in the environment: the runtime reads the key file itself.
 *
 * Contract: ward_shield_opts_take() returns 0 (argc/argv rewritten in place)
 * or -1 after printing one line (exit status 125).
 */
#ifndef WARD_CLI_SHIELD_OPTS_H
#define WARD_CLI_SHIELD_OPTS_H

#include <stddef.h>

int ward_shield_opts_take(int *argc, char **argv);

/* The encrypted or ephemeral region given to ward_shield_opts_take() that
 * holds path (made absolute and normalised lexically), copied into dir;
 * 1 when there is one, else 0. Such files are ciphertext on disk: the
 * kernel cannot start a program from them. */
int ward_shield_encrypted_region_of(const char *path, char *dir, size_t dirlen);

/* The engine image (engine_image.h), on by default for CPython and PyPy
 * (off with --no-engine-image or WARD_ENGINE_IMAGE=0): adds authenticated
 * regions of kind "engine" (measured into the enclave hash) over the
 * engine's own library trees and makes WARD_ALLOW_DLOPEN=1 the default.
 * Call after the engine is resolved and before the settings are exported.
 * 0 ok, -1 after one line. */
struct ward_config;
int ward_shield_engine_image(const char *engine, struct ward_config *c);

#define WARD_SHIELD_HELP                                                                                 \
	"  --volume DIR:KEYFILE[:ro]  encrypted region DIR (a volume made by 'ward fs encrypt');\n"     \
	"                       the key file is for local development; ':ro' opens it read-only:\n"   \
	"                       any number of runs may share it, writes fail with EROFS (a run\n"      \
	"                       that writes needs it alone) (repeatable)\n"                           \
	"  --authenticated DIR[:MANIFEST]  integrity-only region: every byte read is checked\n"          \
	"                       against MANIFEST (default DIR/.ward-volume/manifest; repeatable)\n"        \
	"  --ephemeral DIR      region encrypted under a key that exists only for this run;\n"           \
	"                       removed at exit (repeatable)\n"                                            \
	"  --plain DIR          region that is neither encrypted nor checked, but allowed with\n"       \
	"                       --deny-outside (repeatable)\n"                                             \
	"  --no-engine-image    do not cover the interpreter's own trees (see below); then\n"       \
	"                       --allow-dlopen 2 stays the default (env WARD_ENGINE_IMAGE=0)\n"        \
	"  --engine-image       require the engine image (an error for engines without one)\n"       \
	"  --deny-outside       files outside every region may not be opened; Landlock makes the\n"     \
	"                       kernel enforce it too (env WARD_SHIELD_DENY=1)\n"

#define WARD_ENGINE_IMAGE_HELP                                                                   \
	"Engine image (default for CPython and PyPy): the interpreter's stdlib, lib-dynload\n"    \
	"and dist-packages are authenticated regions whose manifests are built on first use\n"   \
	"(in $XDG_DATA_HOME/ward/engine) and measured into the enclave hash; every byte read\n"    \
	"is verified and --allow-dlopen 1 is the default. After upgrading Python packages on\n"   \
	"purpose, rebuild it: 'ward engine-image --rebuild PROGRAM'. In simulation mode, what\n"  \
	"was checked and has not changed since is remembered in $XDG_CACHE_HOME/ward/engine\n"   \
	"(warm start; WARD_ENGINE_CACHE=0 turns it off); hardware mode checks everything.\n"

#endif
