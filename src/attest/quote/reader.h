/*
 * reader.h: a bounded little-endian cursor over untrusted bytes.
 *
 * Contract: every get checks what is left before touching a byte; on a
 * short read the reader is marked failed, the output is zeroed and later
 * gets fail too, so a parser can read a whole structure and check
 * rd.failed once. Nothing is allocated; the reader borrows the buffer.
 */
#ifndef WARD_ATTEST_QUOTE_READER_H
#define WARD_ATTEST_QUOTE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ward_rd {
	const uint8_t *buf;
	size_t len;
	size_t off;
	int failed;
};

static inline void ward_rd_init(struct ward_rd *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
	r->failed = 0;
}

static inline size_t ward_rd_left(const struct ward_rd *r)
{
	return r->failed ? 0 : r->len - r->off;
}

/* Returns a pointer to the next n bytes and advances, or NULL. */
static inline const uint8_t *ward_rd_take(struct ward_rd *r, size_t n)
{
	if (r->failed || n > r->len - r->off) {
		r->failed = 1;
		return NULL;
	}
	const uint8_t *p = r->buf + r->off;
	r->off += n;
	return p;
}

static inline void ward_rd_bytes(struct ward_rd *r, void *out, size_t n)
{
	const uint8_t *p = ward_rd_take(r, n);
	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

static inline uint64_t ward_rd_le(struct ward_rd *r, size_t n)
{
	const uint8_t *p = ward_rd_take(r, n);
	uint64_t v = 0;
	if (!p)
		return 0;
	for (size_t i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

static inline uint16_t ward_rd_u16(struct ward_rd *r) { return (uint16_t)ward_rd_le(r, 2); }
static inline uint32_t ward_rd_u32(struct ward_rd *r) { return (uint32_t)ward_rd_le(r, 4); }
static inline uint64_t ward_rd_u64(struct ward_rd *r) { return ward_rd_le(r, 8); }

static inline void ward_rd_skip(struct ward_rd *r, size_t n) { (void)ward_rd_take(r, n); }

#endif
