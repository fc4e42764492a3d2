/*
 * runtime.h: internal interface between the parts of libward-rt.so.
 *
 * The runtime is loaded into the engine with LD_PRELOAD by `ward run`. It
 * interposes __libc_start_main (entry.c), and before the program's own
 * constructors and main it: reads the settings, chooses the mode, measures
 * the enclave, applies the memory limits, the dlopen policy and the process
 * shield (no fork/exec, seccomp backstop, not dumpable), and removes its own
 * bootstrap variables from the environment.
 */
#ifndef WARD_RUNTIME_RUNTIME_H
#define WARD_RUNTIME_RUNTIME_H

#include <stdint.h>

#include "runtime/config.h"

extern struct ward_config ward_rt_config;

/* The mode this enclave runs in (simulation or hardware), chosen at start
 * before anything else reads it. */
extern enum ward_mode ward_rt_mode_used;

/* Fatal start-up failure: one line, then _exit(code) with nothing started. */
_Noreturn void ward_rt_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mem_limits.c */
int ward_rt_limits_apply(const struct ward_config *c);

/* proc_shield.c */
int ward_rt_proc_shield_apply(void);
void ward_rt_proc_shield_report(const char *call);

/* dlopen_policy.c */
void ward_rt_dlopen_policy_start(int policy);

/* measure_self.c: the enclave hash of this process. */
int ward_rt_measure_self(const struct ward_config *c, uint8_t out[32], char *err, size_t errlen);
/* After ward_rt_measure_self(): the SHA-256 that went into the enclave hash
 * for the engine image manifest `manifest` (as named in WARD_SHIELD), and
 * the identity (dev, ino, size, mtime_ns, ctime_ns) of the file it is the
 * hash of. 0, or -1 when not known for sure. */
struct ward_file_id;
int ward_rt_image_manifest(const char *manifest, uint8_t sha[32], struct ward_file_id *id);

#endif
