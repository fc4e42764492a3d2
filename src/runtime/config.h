/*
 * config.h: the enclave settings (WARD_MODE, WARD_HEAP, WARD_STACK,
 * WARD_ALLOW_DLOPEN, WARD_LOG, WARD_VERSION), shared by `ward run`,
 * `ward measure` and the runtime so that all three read them identically.
 *
 * Contract: ward_config_defaults() then ward_config_set() per setting;
 * every setter validates and, on a bad value, writes a one-line reason to
 * err and returns -1 leaving the config unchanged. heap, stack and dlopen
 * are measured (they change what runs); mode, log and version are not.
 */
#ifndef WARD_RUNTIME_CONFIG_H
#define WARD_RUNTIME_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum ward_mode { WARD_MODE_AUTO = 0, WARD_MODE_SIM = 1, WARD_MODE_HW = 2 };

#define WARD_DEFAULT_HEAP (UINT64_C(4) << 30)  /* 4G */
#define WARD_DEFAULT_STACK (UINT64_C(8) << 20) /* 8M */
#define WARD_DEFAULT_DLOPEN 2
#define WARD_MIN_HEAP (UINT64_C(16) << 20)
#define WARD_MIN_STACK (UINT64_C(64) << 10)
#define WARD_MAX_STACK (UINT64_C(1) << 30)

struct ward_config {
	enum ward_mode mode;
	uint64_t heap;
	uint64_t stack;
	int dlopen;    /* 0 none after start, 1 authenticated only, 2 any */
	int log_level; /* enum ward_log_level */
	int version;   /* WARD_VERSION=1: print the settings before main */
	unsigned explicit_mask; /* which settings were given explicitly */
};

enum ward_setting { WARD_SET_MODE, WARD_SET_HEAP, WARD_SET_STACK, WARD_SET_DLOPEN, WARD_SET_LOG,
		    WARD_SET_VERSION, WARD_SET_COUNT };

void ward_config_defaults(struct ward_config *c);

/* Applies one setting from a string. origin names where it came from
 * ("--heap", "WARD_HEAP") for the error message. */
int ward_config_set(struct ward_config *c, enum ward_setting s, const char *value, const char *origin,
		    char *err, size_t errlen);

/* Reads every WARD_* setting present in the environment. */
int ward_config_from_env(struct ward_config *c, char *err, size_t errlen);

const char *ward_setting_env_name(enum ward_setting s);
const char *ward_mode_name(enum ward_mode m);

/* Canonical value of a setting as it is exported to the runtime. */
void ward_config_value(const struct ward_config *c, enum ward_setting s, char *out, size_t outlen);

#endif
