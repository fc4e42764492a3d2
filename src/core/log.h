/*
 * log.h: one-line diagnostics for users.
 *
 * Contract: every message is a single line on stderr, prefixed "ward: ",
 * naming the thing, the reason and (where there is one) the fix. Levels
 * follow WARD_LOG (error, warn, info, debug; default warn). Never pass a
 * secret, key or plaintext to these functions.
 */
#ifndef WARD_CORE_LOG_H
#define WARD_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum ward_log_level {
	WARD_LOG_ERROR = 0,
	WARD_LOG_WARN = 1,
	WARD_LOG_INFO = 2,
	WARD_LOG_DEBUG = 3,
};

/* Parses "error", "warn", "info" or "debug"; returns -1 on anything else. */
int ward_log_parse_level(const char *s);
const char *ward_log_level_name(enum ward_log_level l);

/* Where lines go instead of write(2) on stderr (the runtime's file shield,
 * when stderr may be a file in a volume); NULL for stderr. */
void ward_log_set_writer(void (*fn)(const char *buf, size_t n));
void ward_log_set_level(enum ward_log_level l);
enum ward_log_level ward_log_get_level(void);

/* Messages are written with a single write(2): safe between threads and
 * usable from the runtime before libc's stdio is trusted. */
void ward_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ward_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ward_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ward_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ward_vlog(enum ward_log_level l, const char *fmt, va_list ap);

#endif
