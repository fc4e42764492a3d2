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

#endif
