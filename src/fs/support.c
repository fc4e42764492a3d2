/* support.c: path normalization, error formatting and record buffers for
 * the volume library (see internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/internal.h"

/* A line longer than WARD_VOL_ERR_LEN (a path deep in a volume takes up
 * to 4095 bytes) keeps its start and its end, where the reason is, with
 * "..." for the middle. */
int wv_fail(char *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap, ap2;
		va_start(ap, fmt);
		va_copy(ap2, ap);
		int n = vsnprintf(err, WARD_VOL_ERR_LEN, fmt, ap);
		char *all = n >= WARD_VOL_ERR_LEN ? malloc((size_t)n + 1) : NULL;
		if (all != NULL && vsnprintf(all, (size_t)n + 1, fmt, ap2) == n) {
			size_t head = 96, tail = WARD_VOL_ERR_LEN - 1 - head - 3;
			memcpy(err + head, "...", 3);
			memcpy(err + head + 3, all + n - tail, tail + 1);
		}
		free(all);
		va_end(ap2);
		va_end(ap);
	}
	return code;
}

int wv_path_norm(const char *in, char *out, size_t outlen, char *err)
{
	size_t o = 0;
	const char *p = in;

	if (in == NULL)
		return wv_fail(err, -EINVAL, "no path given");
	if (in[0] == '/')
		return wv_fail(err, -EINVAL, "'%s': volume paths are relative to the volume root", in);
	while (*p != '\0') {
		const char *s = p;
		size_t n;
		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return wv_fail(err, -EINVAL, "'%s': '..' is not allowed in volume paths", in);
		if (o == 0 && n == strlen(WARD_VOL_META_DIR) && memcmp(s, WARD_VOL_META_DIR, n) == 0)
			return wv_fail(err, -EACCES, "'%s': the volume's metadata is not accessible", in);
		if (n > WVOL_MAX_NAME)
			return wv_fail(err, -ENAMETOOLONG, "'%.64s...': a name longer than %u bytes", in, WVOL_MAX_NAME);
		if (o + (o ? 1 : 0) + n + 1 > outlen || o + n > WVOL_MAX_PATH)
			return wv_fail(err, -ENAMETOOLONG, "'%.64s...': path too long", in);
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

const char *wv_basename(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void wb_grow(struct wbuf *b, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		if (b->fixed) {
			b->oom = 1; /* a size computed wrong: refuse rather than realloc a buffer we do not own */
			return;
		}
		while (nc < b->len + n)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

void wb_put(struct wbuf *b, const void *d, size_t n)
{
	wb_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void wb_u8(struct wbuf *b, uint8_t x) { wb_put(b, &x, 1); }

void wb_u16(struct wbuf *b, uint16_t x)
{
	uint8_t t[2] = { (uint8_t)x, (uint8_t)(x >> 8) };
	wb_put(b, t, 2);
}

void wb_u32(struct wbuf *b, uint32_t x)
{
	uint8_t t[4];
	for (int i = 0; i < 4; i++)
		t[i] = (uint8_t)(x >> (8 * i));
	wb_put(b, t, 4);
}

void wb_u64(struct wbuf *b, uint64_t x)
{
	uint8_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(x >> (8 * i));
	wb_put(b, t, 8);
}

void wb_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);
	wb_u16(b, (uint16_t)n);
	wb_put(b, s, n);
}
