/* subst.c: placeholder substitution inside the enclave (after attestation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/crypto.h"
#include "core/util.h"
#include "policy/placeholder.h"
#include "policy/policy.h"

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *d, size_t n)
{
	if (n > ((size_t)1 << 30) || b->len + n + 1 > ((size_t)1 << 30))
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = malloc(cap);
		if (!np)
			return -1;
		if (b->p) {
			memcpy(np, b->p, b->len);
			ward_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static void buf_wipe(struct buf *b)
{
	if (b->p) {
		ward_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}


/* Decodes the wire form of an ascii/hex/binary secret into raw bytes. */
static int raw_bytes(const struct ward_secret_value *v, struct buf *raw)
{
	size_t n = strlen(v->value);
	if (v->kind == WARD_SECRET_ASCII)
		return buf_add(raw, v->value, n);
	if (v->kind == WARD_SECRET_HEX) {
		if (n % 2)
			return -1;
		for (size_t i = 0; i < n; i += 2) {
			int hi = ward_hex_digit(v->value[i]), lo = ward_hex_digit(v->value[i + 1]);
			uint8_t b = (uint8_t)(hi * 16 + lo);
			if (hi < 0 || lo < 0 || buf_add(raw, &b, 1) < 0)
				return -1;
		}
		return 0;
	}
	/* binary: strict base64 */
	if (n % 4 || n > ((size_t)1 << 28))
		return -1;
	size_t pad = (n && v->value[n - 1] == '=') + (n > 1 && v->value[n - 2] == '=');
	unsigned char *tmp = malloc(n / 4 * 3 + 1);
	if (!tmp)
		return -1;
	int m = n ? EVP_DecodeBlock(tmp, (const unsigned char *)v->value, (int)n) : 0;
	int r = m < 0 || (size_t)m < pad ? -1 : buf_add(raw, tmp, (size_t)m - pad);
	ward_wipe(tmp, n / 4 * 3 + 1);
	free(tmp);
	return r;
}

static int emit(const struct ward_ph *ph, const struct ward_secret_value *v, struct buf *out, char *err, size_t errlen)
{
	int cert = v->kind == WARD_SECRET_X509 || v->kind == WARD_SECRET_X509_CA;
	if (!ward_ph_format_applies(v->kind, ph->format)) {
		snprintf(err, errlen, "placeholder $$WARD::%s:%s$$: format does not apply to a %s secret", ph->name,
			 ph->format_name, ward_secret_kind_name(v->kind));
		return -1;
	}
	switch (ph->format) {
	case WARD_PH_DEFAULT:
		if (v->kind != WARD_SECRET_BINARY)
			return buf_add(out, v->value, strlen(v->value));
		break;
	case WARD_PH_PEM:
	case WARD_PH_CRT:
		return buf_add(out, v->value, strlen(v->value));
	case WARD_PH_KEY:
		if (v->kind == WARD_SECRET_PRIVATE_KEY)
			return buf_add(out, v->value, strlen(v->value));
		if (!v->key_pem) {
			snprintf(err, errlen, "placeholder $$WARD::%s:key$$: the CAS sent no private key for this secret", ph->name);
			return -1;
		}
		return buf_add(out, v->key_pem, strlen(v->key_pem));
	case WARD_PH_CHAIN:
		if (buf_add(out, v->value, strlen(v->value)) < 0)
			return -1;
		if (cert && v->chain_pem)
			return buf_add(out, v->chain_pem, strlen(v->chain_pem));
		return 0;
	default:
		break;
	}
	/* Byte formats (and the binary default). */
	struct buf raw = {0};
	if (raw_bytes(v, &raw) < 0) {
		buf_wipe(&raw);
		snprintf(err, errlen, "placeholder $$WARD::%s$$: the CAS sent a malformed %s value", ph->name,
			 ward_secret_kind_name(v->kind));
		return -1;
	}
	int r = 0;
	const uint8_t *rb = (const uint8_t *)(raw.p ? raw.p : "");
	if (ph->format == WARD_PH_HEX) {
		char h[3];
		for (size_t i = 0; r == 0 && i < raw.len; i++) {
			ward_hex(rb + i, 1, h);
			r = buf_add(out, h, 2);
		}
	} else if (ph->format == WARD_PH_BASE64) {
		size_t cap = (raw.len + 2) / 3 * 4 + 1;
		unsigned char *enc = malloc(cap);
		if (!enc) {
			r = -1;
		} else {
			int m = EVP_EncodeBlock(enc, rb, (int)raw.len);
			r = m < 0 ? -1 : buf_add(out, enc, (size_t)m);
			ward_wipe(enc, cap);
			free(enc);
		}
	} else {
		r = buf_add(out, rb, raw.len);
	}
	buf_wipe(&raw);
	if (r < 0)
		snprintf(err, errlen, "placeholder $$WARD::%s$$: out of memory", ph->name);
	return r;
}

int ward_policy_substitute(const char *in, size_t inlen, unsigned flags, ward_secret_lookup_fn lookup, void *ctx,
			   char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf b = {0};
	size_t pos = 0, last = 0;
	struct ward_ph ph;
	const char *why = NULL;
	int r;
	*out = NULL;
	*outlen = 0;
	while ((r = ward_ph_next(in, inlen, &pos, &ph, &why)) == 1) {
		struct ward_secret_value v;
		memset(&v, 0, sizeof(v));
		if (buf_add(&b, in + last, ph.start - last) < 0) {
			snprintf(err, errlen, "substitution: out of memory");
			goto fail;
		}
		if (!lookup || lookup(ctx, ph.name, &v) < 0 || !v.value) {
			snprintf(err, errlen, "placeholder $$WARD::%s$$: no secret '%s' was delivered by the CAS", ph.name, ph.name);
			goto fail;
		}
		size_t before = b.len;
		if (emit(&ph, &v, &b, err, errlen) < 0)
			goto fail;
		if ((flags & WARD_SUBST_TEXT) && memchr(b.p + before, 0, b.len - before)) {
			snprintf(err, errlen,
				 "placeholder $$WARD::%s$$: the secret holds a NUL byte and cannot go into an argument or environment variable; use :hex or :base64",
				 ph.name);
			goto fail;
		}
		last = ph.end;
	}
	if (r < 0) {
		snprintf(err, errlen, "malformed placeholder at offset %zu: %s", ph.start, why);
		goto fail;
	}
	if (buf_add(&b, in + last, inlen - last) < 0) {
		snprintf(err, errlen, "substitution: out of memory");
		goto fail;
	}
	if ((flags & WARD_SUBST_TEXT) && memchr(b.p, 0, b.len)) {
		snprintf(err, errlen, "text holds a NUL byte");
		goto fail;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
fail:
	buf_wipe(&b);
	return -1;
}
