/* ratls_dice.c: see ratls_dice.h. */
#include "attest/ratls/ratls_dice.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#define DICE_MAX (1u << 20)
#define CLAIMS_MAX 65536
#define NONCE_MAX 1024

#define seterr(...) ((void)ward_fail(__VA_ARGS__)) /* src/core/util.h */

static int serialize(cbor_item_t *item, uint8_t **out, size_t *outlen)
{
	unsigned char *buf = NULL;
	size_t cap = 0;
	size_t n = cbor_serialize_alloc(item, &buf, &cap);
	if (n == 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

int ward_dice_encode(uint64_t tag, const uint8_t *ev, size_t evlen, const uint8_t *claims,
		     size_t claims_len, uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	cbor_item_t *arr = cbor_new_definite_array(2);
	cbor_item_t *a = cbor_build_bytestring(ev, evlen);
	cbor_item_t *b = cbor_build_bytestring(claims, claims_len);
	cbor_item_t *t = NULL;
	int ret = -1;

	if (arr == NULL || a == NULL || b == NULL || !cbor_array_push(arr, a) ||
	    !cbor_array_push(arr, b))
		goto out;
	t = cbor_build_tag(tag, arr);
	if (t == NULL || serialize(t, out, outlen) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		seterr(err, errlen, "cannot encode the DICE evidence (out of memory)");
	if (a)
		cbor_decref(&a);
	if (b)
		cbor_decref(&b);
	if (arr)
		cbor_decref(&arr);
	if (t)
		cbor_decref(&t);
	return ret;
}

static uint8_t *dup_bstr(cbor_item_t *it, size_t *len)
{
	size_t n = cbor_bytestring_length(it);
	uint8_t *p = malloc(n ? n : 1);
	if (p == NULL)
		return NULL;
	memcpy(p, cbor_bytestring_handle(it), n);
	*len = n;
	return p;
}

static int is_def_bstr(cbor_item_t *it)
{
	return it != NULL && cbor_isa_bytestring(it) && cbor_bytestring_is_definite(it);
}

/* Bounds check before cbor_load, which allocates an array's or a map's
 * item table from its declared count before reading any item: a header
 * claiming 2^30 items in a 100-byte input would make it allocate gigabytes.
 * Every item takes at least one byte, so a count larger than the bytes left
 * is malformed; walking the headers with libcbor's streaming decoder checks
 * that for every collection. */
struct count_scan {
	size_t left; /* bytes from the current item's header to the end */
	int bad;
};

static void scan_array(void *ctx, size_t n)
{
	struct count_scan *s = ctx;
	if (n > s->left)
		s->bad = 1;
}

static void scan_map(void *ctx, size_t n)
{
	struct count_scan *s = ctx;
	if (n > s->left / 2)
		s->bad = 1;
}

static int counts_fit(const uint8_t *buf, size_t len)
{
	struct cbor_callbacks cb = cbor_empty_callbacks;
	struct count_scan s = { 0 };
	size_t off = 0;

	cb.array_start = scan_array;
	cb.map_start = scan_map;
	while (off < len) {
		s.left = len - off;
		struct cbor_decoder_result r = cbor_stream_decode(buf + off, len - off, &cb, &s);
		if (s.bad)
			return 0;
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
			return 1; /* malformed here: cbor_load stops at the same byte and says where */
		off += r.read;
	}
	return 1;
}

/* cbor_load with the whole-buffer rule. */
static cbor_item_t *load_exact(const uint8_t *buf, size_t len, const char *what, char *err,
			       size_t errlen)
{
	struct cbor_load_result res;
	cbor_item_t *it;

	if (len == 0) {
		seterr(err, errlen, "%s is empty", what);
		return NULL;
	}
	if (!counts_fit(buf, len)) {
		seterr(err, errlen, "%s is not valid CBOR (an item count exceeds the input)", what);
		return NULL;
	}
	it = cbor_load(buf, len, &res);
	if (it == NULL || res.error.code != CBOR_ERR_NONE) {
		seterr(err, errlen, "%s is not valid CBOR (error at byte %zu)", what,
		       res.error.position);
		if (it)
			cbor_decref(&it);
		return NULL;
	}
	if (res.read != len) {
		seterr(err, errlen, "%s has %zu trailing bytes after its CBOR item", what,
		       len - res.read);
		cbor_decref(&it);
		return NULL;
	}
	return it;
}

int ward_dice_decode(const uint8_t *buf, size_t len, uint64_t *tag, uint8_t **ev, size_t *evlen,
		     uint8_t **claims, size_t *claims_len, char *err, size_t errlen)
{
	cbor_item_t *top = NULL, *inner = NULL, *a = NULL, *b = NULL;
	uint8_t *e = NULL, *c = NULL;
	size_t el = 0, cl = 0;
	int ret = -1;

	if (len > DICE_MAX) {
		seterr(err, errlen, "DICE evidence is too large (%zu bytes)", len);
		return -1;
	}
	top = load_exact(buf, len, "DICE evidence", err, errlen);
	if (top == NULL)
		return -1;
	if (!cbor_isa_tag(top)) {
		seterr(err, errlen, "DICE evidence is not a CBOR tag");
		goto out;
	}
	inner = cbor_tag_item(top);
	if (inner == NULL || !cbor_isa_array(inner) || !cbor_array_is_definite(inner) ||
	    cbor_array_size(inner) != 2) {
		seterr(err, errlen, "DICE evidence is not tag([evidence, claims]) (expected a 2-element array)");
		goto out;
	}
	a = cbor_array_get(inner, 0);
	b = cbor_array_get(inner, 1);
	if (!is_def_bstr(a) || !is_def_bstr(b)) {
		seterr(err, errlen, "DICE evidence array elements are not definite byte strings");
		goto out;
	}
	e = dup_bstr(a, &el);
	c = dup_bstr(b, &cl);
	if (e == NULL || c == NULL) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	*tag = cbor_tag_value(top);
	*ev = e;
	*evlen = el;
	*claims = c;
	*claims_len = cl;
	e = c = NULL; /* transferred */
	ret = 0;
out:
	free(e);
	free(c);
	if (a)
		cbor_decref(&a);
	if (b)
		cbor_decref(&b);
	if (inner)
		cbor_decref(&inner);
	cbor_decref(&top);
	return ret;
}

int ward_dice_claims_encode(uint64_t alg, const uint8_t *hash, size_t hash_len,
			    const uint8_t *nonce, size_t nonce_len, uint8_t **out, size_t *outlen,
			    char *err, size_t errlen)
{
	cbor_item_t *entry = cbor_new_definite_array(2);
	/* alg is 1, 7 or 8: one byte, the shortest form other implementations use. */
	cbor_item_t *algi = alg < 256 ? cbor_build_uint8((uint8_t)alg) : NULL;
	cbor_item_t *h = cbor_build_bytestring(hash, hash_len);
	cbor_item_t *map = cbor_new_definite_map(nonce ? 2 : 1);
	cbor_item_t *k1 = cbor_build_string("pubkey-hash");
	cbor_item_t *v1 = NULL, *k2 = NULL, *v2 = NULL;
	uint8_t *ebuf = NULL;
	size_t elen = 0;
	int ret = -1;

	if (entry == NULL || algi == NULL || h == NULL || map == NULL || k1 == NULL ||
	    !cbor_array_push(entry, algi) || !cbor_array_push(entry, h) ||
	    serialize(entry, &ebuf, &elen) != 0)
		goto out;
	v1 = cbor_build_bytestring(ebuf, elen);
	if (v1 == NULL || !cbor_map_add(map, (struct cbor_pair){ .key = k1, .value = v1 }))
		goto out;
	if (nonce != NULL) {
		k2 = cbor_build_string("nonce");
		v2 = cbor_build_bytestring(nonce, nonce_len);
		if (k2 == NULL || v2 == NULL ||
		    !cbor_map_add(map, (struct cbor_pair){ .key = k2, .value = v2 }))
			goto out;
	}
	if (serialize(map, out, outlen) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		seterr(err, errlen, "cannot encode the RA-TLS claims (out of memory)");
	free(ebuf);
	cbor_item_t **items[] = { &entry, &algi, &h, &map, &k1, &v1, &k2, &v2 };
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (*items[i])
			cbor_decref(items[i]);
	return ret;
}

static int key_is(cbor_item_t *k, const char *name)
{
	size_t n = strlen(name);
	return cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == n &&
	       memcmp(cbor_string_handle(k), name, n) == 0;
}

static int parse_hash_entry(const uint8_t *buf, size_t len, struct ward_dice_claims *c,
			    char *err, size_t errlen)
{
	cbor_item_t *e = load_exact(buf, len, "pubkey-hash claim", err, errlen);
	cbor_item_t *a = NULL, *h = NULL;
	int ret = -1;
	size_t want;

	if (e == NULL)
		return -1;
	if (!cbor_isa_array(e) || !cbor_array_is_definite(e) || cbor_array_size(e) != 2) {
		seterr(err, errlen, "pubkey-hash claim is not a [hash-alg-id, hash-value] array");
		goto out;
	}
	a = cbor_array_get(e, 0);
	h = cbor_array_get(e, 1);
	if (a == NULL || !cbor_isa_uint(a) || !is_def_bstr(h)) {
		seterr(err, errlen, "pubkey-hash claim is not [uint, bstr]");
		goto out;
	}
	c->alg = cbor_get_int(a);
	want = c->alg == 1 ? 32 : c->alg == 7 ? 48 : c->alg == 8 ? 64 : 0;
	if (want == 0) {
		seterr(err, errlen,
		       "pubkey-hash algorithm %llu is not supported (1 sha-256, 7 sha-384, 8 sha-512)",
		       (unsigned long long)c->alg);
		goto out;
	}
	if (cbor_bytestring_length(h) != want) {
		seterr(err, errlen, "pubkey-hash value has %zu bytes, expected %zu",
		       cbor_bytestring_length(h), want);
		goto out;
	}
	memcpy(c->hash, cbor_bytestring_handle(h), want);
	c->hash_len = want;
	c->has_pubkey_hash = 1;
	ret = 0;
out:
	if (a)
		cbor_decref(&a);
	if (h)
		cbor_decref(&h);
	cbor_decref(&e);
	return ret;
}

int ward_dice_claims_decode(const uint8_t *buf, size_t len, struct ward_dice_claims *out,
			    char *err, size_t errlen)
{
	struct ward_dice_claims c;
	cbor_item_t *m;
	struct cbor_pair *pairs;
	int ret = -1;

	memset(&c, 0, sizeof(c));
	if (len > CLAIMS_MAX) {
		seterr(err, errlen, "RA-TLS claims are too large (%zu bytes)", len);
		return -1;
	}
	m = load_exact(buf, len, "RA-TLS claims", err, errlen);
	if (m == NULL)
		return -1;
	if (!cbor_isa_map(m) || !cbor_map_is_definite(m)) {
		seterr(err, errlen, "RA-TLS claims are not a definite CBOR map");
		goto out;
	}
	pairs = cbor_map_handle(m);
	for (size_t i = 0; i < cbor_map_size(m); i++) {
		cbor_item_t *k = pairs[i].key, *v = pairs[i].value;
		if (!cbor_isa_string(k) || !cbor_string_is_definite(k) || !is_def_bstr(v)) {
			seterr(err, errlen, "RA-TLS claim %zu is not a text name with a byte-string value", i);
			goto out;
		}
		if (key_is(k, "pubkey-hash")) {
			if (c.has_pubkey_hash) {
				seterr(err, errlen, "RA-TLS claims hold pubkey-hash twice");
				goto out;
			}
			if (parse_hash_entry(cbor_bytestring_handle(v), cbor_bytestring_length(v), &c,
					     err, errlen) != 0)
				goto out;
		} else if (key_is(k, "nonce")) {
			if (c.nonce != NULL || cbor_bytestring_length(v) > NONCE_MAX) {
				seterr(err, errlen, "RA-TLS nonce claim is repeated or too long");
				goto out;
			}
			c.nonce = dup_bstr(v, &c.nonce_len);
			if (c.nonce == NULL) {
				seterr(err, errlen, "out of memory");
				goto out;
			}
		} else
			c.other++;
	}
	if (!c.has_pubkey_hash) {
		seterr(err, errlen, "RA-TLS claims have no pubkey-hash claim");
		goto out;
	}
	*out = c;
	c.nonce = NULL; /* transferred */
	ret = 0;
out:
	free(c.nonce);
	cbor_decref(&m);
	return ret;
}
