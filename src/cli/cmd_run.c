/* cmd_run.c: `ward run`: check everything, then exec the program with the
 * runtime preloaded. Nothing starts unless every setting is valid. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/settings_opts.h"
#include "cli/shield_opts.h"
#include "core/log.h"
#include "runtime/tee_detect.h"

static void help(void)
{
	printf("usage: ward run [OPTIONS] [--] PROGRAM [ARGS...]\n\n"
	       "Runs PROGRAM (python3, pypy3 or any dynamically linked program) inside an\n"
	       "enclave: the runtime takes control before main, measures the enclave, applies\n"
	       "the limits (no fork or exec, bounded heap and stack, dlopen policy) and runs\n"
	       "the program unmodified.\n\nOptions:\n" WARD_SETTINGS_HELP WARD_SHIELD_HELP
	       "  -h, --help           show this help\n\n" WARD_ENGINE_IMAGE_HELP "\n"
	       "Environment: WARD_VERSION=1 prints the effective settings, the mode and the\n"
	       "enclave hash before the program starts.\n\n"
	       "Exit status: the program's own; 125 when a setting is invalid or the mode is\n"
	       "unavailable, 126 when the program cannot be entered, 127 when it is not found.\n");
}

#if defined(__SANITIZE_ADDRESS__)
#include <link.h>
static int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/libasan.so") != NULL) {
		snprintf(data, PATH_MAX, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}
#endif

/* LD_PRELOAD holds only the runtime. A sanitizer build of the runtime needs
 * the sanitizer's own library first; that is the only addition. */
static int preload_runtime(const char *rt)
{
#if defined(__SANITIZE_ADDRESS__)
	char asan[PATH_MAX] = "", both[2 * PATH_MAX + 2];
	dl_iterate_phdr(find_asan, asan);
	if (asan[0] != 0) {
		/* The engine's own leaks are not ours to report. */
		if (setenv("ASAN_OPTIONS", "detect_leaks=0", 0) != 0)
			return -1;
		snprintf(both, sizeof(both), "%s:%s", asan, rt);
		return setenv("LD_PRELOAD", both, 1);
	}
#endif
	return setenv("LD_PRELOAD", rt, 1);
}

int cmd_run(int argc, char **argv)
{
	struct ward_config c;
	char prog[PATH_MAX], rt[PATH_MAX], v[64];
	struct rlimit rl;
	int first, code, skipped;

	if (cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	if (ward_shield_opts_take(&argc, argv) != 0)
		return 125;
	first = ward_parse_settings(argc, argv, &c, "run");
	if (first < 0)
		return 125;
	ward_log_set_level((enum ward_log_level)c.log_level);
	if (first >= argc) {
		ward_error("no program given; usage: ward run [OPTIONS] [--] PROGRAM [ARGS...]");
		return 125;
	}
	if (c.mode == WARD_MODE_HW) {
		struct ward_tee_info tee;
		ward_tee_detect("", &tee);
		if (tee.kind != WARD_TEE_GRAMINE_SGX && tee.kind != WARD_TEE_TSM) {
			int opt = 0; /* name the setting as the user gave it */
			for (int i = 1; i < first && !opt; i++)
				opt = strcmp(argv[i], "--mode") == 0 || strncmp(argv[i], "--mode=", 7) == 0;
			ward_error("%s: no usable TEE: %s (looked for %s); use %s to fall back to simulation",
				   opt ? "--mode hw" : "WARD_MODE=hw", tee.detail, ward_tee_looked_for(),
				   opt ? "--mode auto" : "WARD_MODE=auto");
			return 125;
		}
	}
	{
		char vdir[PATH_MAX];
		if (strchr(argv[first], '/') != NULL &&
		    ward_shield_encrypted_region_of(argv[first], vdir, sizeof(vdir))) {
			ward_error("cannot run %s: it lies in the encrypted volume %s, whose files only the enclave can "
				   "read, so the kernel cannot start it; run the interpreter from outside the volume and give "
				   "it the code inside (ward run --volume %s:KEYFILE -- /usr/bin/python3 %s/main.py; for a "
				   "virtual environment, add its site-packages to PYTHONPATH)",
				   argv[first], vdir, vdir, vdir);
			return 126;
		}
	}
	if (ward_engine_resolve(argv[first], prog, &code, &skipped) != 0)
		return code;
	if (ward_shield_engine_image(prog, &c) != 0)
		return 125;
	if (ward_runtime_path(rt) != 0) {
		ward_error("cannot find libward-rt.so next to the ward binary; reinstall ward or run it from its build directory");
		return 125;
	}

	/* The main thread's stack limit must be set before exec. */
	if (getrlimit(RLIMIT_STACK, &rl) == 0) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < c.stack) {
			ward_error("WARD_STACK=%llu is above the system's hard stack limit (%llu bytes); lower it or raise the limit (ulimit -Hs)",
				   (unsigned long long)c.stack, (unsigned long long)rl.rlim_max);
			return 125;
		}
		rl.rlim_cur = c.stack;
		if (setrlimit(RLIMIT_STACK, &rl) != 0) {
			ward_error("cannot set the stack limit to WARD_STACK: %s", strerror(errno));
			return 125;
		}
	}

	if (getenv("LD_PRELOAD") != NULL && *getenv("LD_PRELOAD") != 0)
		ward_warn("ignoring LD_PRELOAD=%s: only the Ward runtime is preloaded into an enclave", getenv("LD_PRELOAD"));
	for (int s = 0; s < WARD_SET_COUNT; s++) {
		ward_config_value(&c, (enum ward_setting)s, v, sizeof(v));
		if (setenv(ward_setting_env_name((enum ward_setting)s), v, 1) != 0)
			return 125;
	}
	if (preload_runtime(rt) != 0)
		return 125;
	if (skipped)
		argv[first] = prog;
	execv(prog, argv + first);
	ward_error("cannot start %s: %s", prog, strerror(errno));
	return 126;
}
