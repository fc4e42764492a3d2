/* forge.h: builds volume manifests with chosen records, as someone who can
 * write the manifest would: a valid header and a valid chain (SHA-256 for
 * the authenticated kind, HMAC-SHA256 under the manifest key derived from
 * key for the encrypted kind), so that the records reach the parsers. Used
 * by the manifest unit tests and by fuzz/fuzz_manifest.c. The records are
 * given as a list of (u8 type, u16 len little-endian, payload[len]); a len
 * past the end is cut to what is left. */
#ifndef WARD_TEST_FS_FORGE_H
#define WARD_TEST_FS_FORGE_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fs/format.h"
#include "fs/internal.h"
#include "fs/volume.h"

static inline void forge_put32(uint8_t *p, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}

/* out = MAC(prev || a || b), as the manifest chains it */
static inline void forge_chain(int enc, const uint8_t mkey[32], const uint8_t *prev, const uint8_t *a, size_t al,
			       const uint8_t *b, size_t bl, uint8_t out[WVOL_MAC_LEN])
{
	uint8_t *buf = malloc(WVOL_MAC_LEN + al + bl + 1);
	size_t n = 0;
	unsigned ol = 0;
	if (buf == NULL)
		abort();
	if (prev != NULL) {
		memcpy(buf, prev, WVOL_MAC_LEN);
		n = WVOL_MAC_LEN;
	}
	memcpy(buf + n, a, al);
	n += al;
	if (bl)
		memcpy(buf + n, b, bl);
	n += bl;
	if (enc ? HMAC(EVP_sha256(), mkey, 32, buf, n, out, &ol) == NULL
		: EVP_Digest(buf, n, out, &ol, EVP_sha256(), NULL) != 1)
		abort();
	free(buf);
}

/* The manifest for recs (see above), in a new buffer *out; returns its length. */
static inline size_t forge_manifest(int enc, const uint8_t key[WARD_VOL_KEY_LEN], const uint8_t vid[WVOL_ID_LEN],
				    const uint8_t *recs, size_t rlen, uint8_t **out)
{
	uint8_t mkey[32] = { 0 }, mac[WVOL_MAC_LEN];
	size_t cap = WVOL_HDR_LEN + (rlen / 3 + 1) * (WVOL_REC_HDR + WVOL_MAC_LEN) + rlen, n = WVOL_HDR_LEN, off = 0;
	uint8_t *m = calloc(1, cap);
	if (m == NULL)
		abort();
	memcpy(m, WVOL_MAGIC, 8);
	forge_put32(m + 8, WVOL_VERSION);
	forge_put32(m + 12, enc ? WARD_VOL_ENCRYPTED : WARD_VOL_AUTHENTICATED);
	forge_put32(m + 16, WVOL_CHUNK_SHIFT);
	memcpy(m + 24, vid, WVOL_ID_LEN);
	m[72] = 1; /* generation, as a new volume has it */
	/* where the leading ENTRY records end, as a written snapshot records it */
	size_t se = WVOL_HDR_LEN;
	for (size_t o = 0; rlen - o >= 3 && recs[o] == WVOL_R_ENTRY;) {
		size_t l = (size_t)recs[o + 1] | (size_t)recs[o + 2] << 8;
		o += 3;
		if (l > rlen - o)
			l = rlen - o;
		se += WVOL_REC_HDR + l + WVOL_MAC_LEN;
		o += l;
	}
	for (int i = 0; i < 8; i++)
		m[WVOL_HDR_SNAP_END + i] = (uint8_t)(se >> (8 * i));
	if (enc && (wv_derive(key, vid, "ward-vol key check", NULL, 0, m + 40) != 0 ||
		    wv_derive(key, vid, "ward-vol manifest mac", NULL, 0, mkey) != 0))
		abort();
	forge_chain(enc, mkey, NULL, m, WVOL_HDR_MAC_OFF, NULL, 0, mac);
	memcpy(m + WVOL_HDR_MAC_OFF, mac, WVOL_MAC_LEN);
	while (rlen - off >= 3) {
		uint32_t type = recs[off], len = (uint32_t)recs[off + 1] | (uint32_t)recs[off + 2] << 8;
		off += 3;
		if (len > rlen - off)
			len = (uint32_t)(rlen - off);
		forge_put32(m + n, type);
		forge_put32(m + n + 4, len);
		memcpy(m + n + WVOL_REC_HDR, recs + off, len);
		forge_chain(enc, mkey, mac, m + n, WVOL_REC_HDR, m + n + WVOL_REC_HDR, len, mac);
		memcpy(m + n + WVOL_REC_HDR + len, mac, WVOL_MAC_LEN);
		n += WVOL_REC_HDR + len + WVOL_MAC_LEN;
		off += len;
	}
	*out = m;
	return n;
}
#endif
