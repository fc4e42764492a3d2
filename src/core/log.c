/* log.c: see log.h. */
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum ward_log_level current_level = WARD_LOG_WARN;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int ward_log_parse_level(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return WARD_LOG_WARN;
	return -1;
}

const char *ward_log_level_name(enum ward_log_level l)
{
	if ((int)l < 0 || l > WARD_LOG_DEBUG)
		return "?";
	return level_names[l];
}

void ward_log_set_level(enum ward_log_level l) { current_level = l; }

static void (*writer)(const char *buf, size_t n);
void ward_log_set_writer(void (*fn)(const char *buf, size_t n)) { writer = fn; }
enum ward_log_level ward_log_get_level(void) { return current_level; }

void ward_vlog(enum ward_log_level l, const char *fmt, va_list ap)
{
	char buf[2048];
	int saved = errno;
	size_t n;
	int r;

	if (l > current_level)
		return;
	memcpy(buf, "ward: ", 6);
	n = 6;
	if (l == WARD_LOG_WARN) {
		memcpy(buf + n, "warning: ", 9);
		n += 9;
	}
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	/* Keep it one line whatever the arguments held. */
	for (size_t i = 6; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[n++] = '\n';
	if (writer != NULL) {
		writer(buf, n);
		errno = saved;
		return;
	}
	(void)ward_write_all(STDERR_FILENO, buf, n);
	errno = saved;
}

#define DEFINE_LOG(fn, lvl)                      \
	void fn(const char *fmt, ...)            \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		ward_vlog(lvl, fmt, ap);         \
		va_end(ap);                      \
	}

DEFINE_LOG(ward_error, WARD_LOG_ERROR)
DEFINE_LOG(ward_warn, WARD_LOG_WARN)
DEFINE_LOG(ward_info, WARD_LOG_INFO)
DEFINE_LOG(ward_debug, WARD_LOG_DEBUG)
