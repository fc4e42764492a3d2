/* test_forged_records.c: an authenticated volume's chain is plain SHA-256,
 * so anyone who can write its manifest can append records that pass the
 * chain check (forge.h); only the pinned tag tells them apart. Such records
 * that say impossible things (a size near 2^64, a commit past the largest
 * file or growing one without its chunks, an unknown type) must be refused at open with a line naming the
 * record, in the lazy path (one snapshot) and the full one (a journal),
 * never wrapped into a small size that later reads trust. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "fs/volume.h"
#include "files.h"
#include "forge.h"

static char tree[300], man[300];
static uint8_t vid[WVOL_ID_LEN];

struct recs {
	uint8_t b[1 << 16];
	size_t n;
};

/* The records of manifest m (the header skipped) as forge.h lists them. */
static void to_recs(const uint8_t *m, size_t len, struct recs *r)
{
	size_t off = WVOL_HDR_LEN;
	r->n = 0;
	while (len - off >= WVOL_REC_HDR) {
		uint32_t type = m[off] | (uint32_t)m[off + 1] << 8, plen = m[off + 4] | (uint32_t)m[off + 5] << 8;
		CHECK(plen + 3 + r->n <= sizeof(r->b) && off + WVOL_REC_HDR + plen + WVOL_MAC_LEN <= len);
		r->b[r->n] = (uint8_t)type;
		r->b[r->n + 1] = (uint8_t)plen;
		r->b[r->n + 2] = (uint8_t)(plen >> 8);
		memcpy(r->b + r->n + 3, m + off + WVOL_REC_HDR, plen);
		r->n += 3 + plen;
		off += WVOL_REC_HDR + plen + WVOL_MAC_LEN;
	}
}

static void add_rec(struct recs *r, uint8_t type, const uint8_t *p, size_t len)
{
	CHECK(r->n + 3 + len <= sizeof(r->b));
	r->b[r->n] = type;
	r->b[r->n + 1] = (uint8_t)len;
	r->b[r->n + 2] = (uint8_t)(len >> 8);
	memcpy(r->b + r->n + 3, p, len);
	r->n += 3 + len;
}

static void put64(uint8_t *p, uint64_t x)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}

/* Writes the forged manifest for r and opens it; 0 or -errno, err set. */
static int open_forged(const struct recs *r, char *err)
{
	uint8_t *m;
	size_t n = forge_manifest(0, NULL, vid, r->b, r->n, &m);
	struct ward_vol_opts o = { WARD_VOL_AUTHENTICATED, NULL, man, WARD_VOL_RDONLY, NULL, NULL };
	ward_vol *v = NULL;
	int rc;
	spill(man, m, n);
	free(m);
	err[0] = 0;
	rc = ward_vol_open(tree, &o, &v, err);
	if (rc == 0)
		ward_vol_close(v, err);
	return rc;
}

/* The offset in r of the payload of the ENTRY record for path, or 0. */
static size_t find_entry(const struct recs *r, const char *path, size_t *plen)
{
	size_t pl = strlen(path);
	for (size_t off = 0; off + 3 <= r->n;) {
		size_t len = r->b[off + 1] | (size_t)r->b[off + 2] << 8;
		const uint8_t *p = r->b + off + 3;
		if (r->b[off] == WVOL_R_ENTRY && len > 2 + pl && (p[0] | p[1] << 8) == (int)pl &&
		    memcmp(p + 2, path, pl) == 0) {
			*plen = len;
			return off + 3;
		}
		off += 3 + len;
	}
	return 0;
}

/* r with the ENTRY of path given size (its chunk list dropped). */
static void entry_with_size(const struct recs *orig, const char *path, uint64_t size, struct recs *r)
{
	size_t plen = 0, at = find_entry(orig, path, &plen), fixed = 2 + strlen(path) + 2 + 4 + 8 + WVOL_ID_LEN;
	CHECK(at != 0);
	r->n = 0;
	memcpy(r->b, orig->b, at - 3); /* the records before it */
	r->n = at - 3;
	uint8_t p[600];
	memcpy(p, orig->b + at, fixed);
	put64(p + fixed, size);
	put64(p + fixed + 8, 0); /* main_len */
	add_rec(r, WVOL_R_ENTRY, p, fixed + 16);
	memcpy(r->b + r->n, orig->b + at + plen, orig->n - at - plen); /* the records after it */
	r->n += orig->n - at - plen;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-forged-test.XXXXXX", p[600];
	static char big[9000];
	uint8_t tag[32], *m, *m2;
	size_t n, n2;
	struct recs *orig = malloc(sizeof(*orig)), *r = malloc(sizeof(*r));

	CHECK(orig != NULL && r != NULL && mkdtemp(tmpl) != NULL);
	snprintf(tree, sizeof(tree), "%s/t", tmpl);
	snprintf(man, sizeof(man), "%s/t.manifest", tmpl);
	snprintf(p, sizeof(p), "%s/d", tree);
	CHECK(mkdir(tree, 0755) == 0 && mkdir(p, 0755) == 0);
	memset(big, 'b', sizeof(big));
	put_in(tree, "big", big, sizeof(big));
	put_in(tree, "d/small", "hello", 5);
	CHECK(ward_vol_authenticate(tree, man, tag, NULL, NULL, NULL, err) == 0);
	m = slurp(man, 1 << 20, &n);
	CHECK(n > WVOL_HDR_LEN);
	memcpy(vid, m + 24, WVOL_ID_LEN);
	to_recs(m, n, orig);

	/* The forger reproduces the real manifest byte for byte, and it opens:
	 * what the cases below change is all that differs. */
	m2 = NULL;
	n2 = forge_manifest(0, NULL, vid, orig->b, orig->n, &m2);
	CHECK(n2 == n && memcmp(m, m2, n) == 0);
	free(m2);
	CHECK(open_forged(orig, err) == 0);

	/* ENTRY with a size near 2^64 and no chunks: (size + 4095) / 4096 would
	 * wrap to 0 chunks; it is 2^52 chunks, past the largest file. Lazy
	 * path (one snapshot) and full path (a journal record after it). */
	entry_with_size(orig, "big", UINT64_MAX - 4, r);
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "record 0: entry 'big': size does not match its chunk list") != NULL);
	uint8_t unl[2 + 7] = { 7, 0, 'd', '/', 's', 'm', 'a', 'l', 'l' };
	add_rec(r, WVOL_R_UNLINK, unl, sizeof(unl)); /* not one snapshot any more */
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "entry 'big': size does not match its chunk list") != NULL);

	/* The largest size whose chunk count fits, with no chunks: refused too. */
	entry_with_size(orig, "big", (uint64_t)1 << 44, r);
	add_rec(r, WVOL_R_UNLINK, unl, sizeof(unl));
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "entry 'big': size does not match its chunk list") != NULL);

	/* CHUNKS committing a size near 2^64 with no chunk: refused, not wrapped. */
	memcpy(r, orig, sizeof(*r));
	uint8_t ch[2 + 3 + 4 + 8 + 8 + 8 + 4] = { 3, 0, 'b', 'i', 'g', 0xa4, 1 };
	put64(ch + 9 + 8, UINT64_MAX);
	add_rec(r, WVOL_R_CHUNKS, ch, sizeof(ch));
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "commit of 'big': chunk list does not match") != NULL);

	/* CHUNKS growing the file to the largest size with an empty list:
	 * refused as missing its first new chunk before anything is sized by
	 * the claimed size (it once asked for arrays of 2^32 chunks, 140 GB,
	 * first: "out of memory", or an abort under ASan). */
	memcpy(r, orig, sizeof(*r));
	put64(ch + 9 + 8, (WVOL_MAX_CHUNKS - 1) * WVOL_CHUNK);
	add_rec(r, WVOL_R_CHUNKS, ch, sizeof(ch));
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "commit of 'big': chunk 3 missing") != NULL);

	/* A record of a type this version does not know. */
	memcpy(r, orig, sizeof(*r));
	add_rec(r, 99, unl, sizeof(unl));
	CHECK(open_forged(r, err) == -EBADMSG);
	CHECK(strstr(err, "record") != NULL);

	/* Nothing above changed the tree: the real manifest still opens. */
	spill(man, m, n);
	{
		struct ward_vol_opts o = { WARD_VOL_AUTHENTICATED, NULL, man, WARD_VOL_RDONLY, tag, NULL };
		ward_vol *v = NULL;
		CHECK(ward_vol_open(tree, &o, &v, err) == 0);
		ward_vol_close(v, err);
	}
	if (test_failures)
		fprintf(stderr, "last error: %s\n", err);
	free(m);
	free(orig);
	free(r);
	snprintf(p, sizeof(p), "rm -rf '%s'", tmpl);
	CHECK(system(p) == 0);
	return TEST_DONE();
}
