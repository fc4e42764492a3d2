/*
 * entry.c: how the runtime takes control. It interposes __libc_start_main,
 * sets the enclave up, then hands control to the real one, which runs the
 * program's constructors and main with the environment the runtime left.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "runtime/cas_start.h"
#include "runtime/runtime.h"
#include "runtime/shield/shield.h"
#include "runtime/tee_detect.h"

struct ward_config ward_rt_config;
enum ward_mode ward_rt_mode_used = WARD_MODE_HW; /* the strict choice until chosen */

typedef int (*main_fn)(int, char **, char **);
typedef int (*start_main_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);

_Noreturn void ward_rt_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ward_vlog(WARD_LOG_ERROR, fmt, ap);
	va_end(ap);
	_exit(code);
}

/* Removes LD_PRELOAD and every WARD_* variable: the program sees only what
 * the runtime passes on. The strings are zeroed too, so that the process's
 * initial environment (/proc/self/environ, which reads that memory) does not
 * keep them either; nothing holds a pointer into them by now. */
static void scrub_environment(void)
{
	extern char **environ;
	size_t i = 0;
	while (environ != NULL && environ[i] != NULL) {
		char *e = environ[i];
		if (strncmp(e, "WARD_", 5) == 0 || strncmp(e, "LD_PRELOAD=", 11) == 0) {
			size_t j = i;
			memset(e, 0, strlen(e));
			do
				environ[j] = environ[j + 1];
			while (environ[j++] != NULL);
			continue;
		}
		i++;
	}
}

static enum ward_mode choose_mode(const struct ward_config *c, char *detail, size_t detlen)
{
	struct ward_tee_info tee;
	ward_tee_detect("", &tee);
	snprintf(detail, detlen, "%s", tee.detail);
	if (c->mode == WARD_MODE_SIM)
		return WARD_MODE_SIM;
	if (tee.kind == WARD_TEE_GRAMINE_SGX || tee.kind == WARD_TEE_TSM)
		return WARD_MODE_HW;
	if (c->mode == WARD_MODE_HW)
		ward_rt_fatal(125, "WARD_MODE=hw: no usable TEE: %s (looked for %s); use WARD_MODE=auto to fall back to simulation",
			      tee.detail, ward_tee_looked_for());
	ward_warn("no TEE found (%s): running in simulation mode, which does not protect against root; set WARD_MODE=sim to silence this",
		  tee.detail);
	return WARD_MODE_SIM;
}

static void print_version(const struct ward_config *c, enum ward_mode used, const uint8_t hash[32])
{
	char buf[1024], v[32], hex[65];
	size_t off = 0;
	for (int s = 0; s < WARD_SET_COUNT; s++) {
		ward_config_value(c, (enum ward_setting)s, v, sizeof(v));
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "export %s=%s%s\n",
					ward_setting_env_name((enum ward_setting)s), v,
					s == WARD_SET_DLOPEN && c->dlopen == 2 ? "  # unprotected" : "");
	}
	ward_hex(hash, 32, hex);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off,
				"Ward runtime: %s\nMode: %s%s\nEnclave hash: %s\n", WARD_VERSION_STRING,
				ward_mode_name(used),
				used == WARD_MODE_SIM ? " (simulation: protects data at rest and against other users, not against root)" : "",
				hex);
	if (off > sizeof(buf))
		off = sizeof(buf);
	for (size_t done = 0; done < off;) {
		ssize_t w = write(STDERR_FILENO, buf + done, off - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
}

static void runtime_start(int *argc, char ***argv)
{
	char err[512], detail[256];
	uint8_t hash[32];
	enum ward_mode used;
	int lvl;

	lvl = ward_log_parse_level(getenv("WARD_LOG"));
	if (lvl >= 0)
		ward_log_set_level((enum ward_log_level)lvl);
	ward_config_defaults(&ward_rt_config);
	if (ward_config_from_env(&ward_rt_config, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "%s", err);
	ward_log_set_level((enum ward_log_level)ward_rt_config.log_level);

	used = choose_mode(&ward_rt_config, detail, sizeof(detail));
	ward_rt_mode_used = used;
	if (used == WARD_MODE_HW)
		ward_info("running on %s", detail);

	if (ward_rt_measure_self(&ward_rt_config, hash, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot measure the enclave: %s", err);
	if (ward_rt_config.version)
		print_version(&ward_rt_config, used, hash);

	if (ward_rt_limits_apply(&ward_rt_config) != 0)
		ward_rt_fatal(125, "cannot apply the memory limits");
	/* Regions from WARD_SHIELD; before the program opens anything. The
	 * shield loads OpenSSL when a volume needs it (not for a warm engine
	 * image in simulation mode: src/runtime/shield/engine_cache.c). */
	ward_shield_start();
	/* After the shield: the CAS's volumes and injection files are shield regions.
	 * It replaces the environment, so WARD_SHIELD must have been read. */
	ward_rt_cas_start(&ward_rt_config, used, hash, argc, argv);
	ward_rt_dlopen_policy_start(ward_rt_config.dlopen);
	/* the seccomp filter binds this thread and the ones it creates later:
	 * a helper thread the CAS's volumes started goes first */
	ward_shield_helpers_retire();
	if (ward_rt_proc_shield_apply() != 0)
		ward_rt_fatal(125, "cannot install the process shield (seccomp); the kernel must support seccomp filters");
	scrub_environment();
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

static main_fn program_main;

/* Some programs treat a read error as the end of a file: CPython runs a
 * script whose bytes fail verification as if it were empty, and exits 0.
 * A run that hit integrity failures never reports success. */
static int guarded_main(int argc, char **argv, char **envp)
{
	int rc = program_main(argc, argv, envp);
	unsigned failures = __atomic_load_n(&shield_integrity_failures, __ATOMIC_SEQ_CST);
	if (rc == 0 && failures > 0) {
		ward_error("exiting with status 74 instead of 0: %u read%s failed verification during the run (see above), so its result cannot be trusted",
			   failures, failures == 1 ? "" : "s");
		rc = 74; /* EX_IOERR */
	}
	return rc;
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end)
{
	start_main_fn real = (start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
	if (real == NULL)
		ward_rt_fatal(125, "cannot find the C library's entry point: %s", dlerror());
	runtime_start(&argc, &argv);
	program_main = main;
	return real(guarded_main, argc, argv, init, fini, rtld_fini, stack_end);
}
