/*
 * engine.h: finding the program `ward run` enters and what it will load.
 *
 * Contract: ward_engine_resolve() turns the PROGRAM argument into the
 * absolute path of a dynamically linked ELF executable, or refuses with one
 * line (exit status in *code: 127 not found, 126 cannot be entered). A
 * wrapper script found on PATH (pyenv's shims are such) is skipped in favour
 * of the next real executable of the same name, with a note saying so.
 */
#ifndef WARD_CLI_ENGINE_H
#define WARD_CLI_ENGINE_H

#include <limits.h>
#include <stddef.h>

#include "runtime/measure.h"

/* *skipped_wrapper is set when a wrapper script on PATH was passed over:
 * the caller then gives the program its real path as argv[0], so that it
 * does not find the wrapper again (CPython derives sys.executable from it). */
int ward_engine_resolve(const char *program, char out[PATH_MAX], int *code, int *skipped_wrapper);

/* Path of ward-tool, the full command set installed next to `ward`. */
int ward_tool_path(char out[PATH_MAX]);

/* Runs ward-tool with argv (argv[0] ignored) and waits; its stdout is
 * discarded, its stderr is the user's. Returns its exit status, or -1. */
int ward_tool_run(char *const argv[]);

/* Path of libward-rt.so that belongs to this ward binary. */
int ward_runtime_path(char out[PATH_MAX]);

/* Lists the objects the dynamic loader maps at start when the runtime is
 * preloaded (ld.so --list; nothing of the program runs). Fills in->libs
 * with strings owned by the caller's storage (freed by ward_engine_free). */
int ward_engine_libraries(const char *engine, const char *runtime, struct ward_measure_input *in,
			  char *err, size_t errlen);
void ward_engine_free(struct ward_measure_input *in);

#endif
