/* test_chain_parallel.c: a manifest of many records has its MACs checked
 * on both cores (manifest.c, chain_part): every record must still be
 * checked, whichever thread takes it. A flipped bit in the first, a middle
 * and the last record, in the payload and in the stored MAC, of an
 * encrypted and of an authenticated volume: each is refused with the eager
 * loader's line; the intact manifest opens lazily and reads back. Then the
 * helper thread is retired and comes back on the next large request. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "fs/internal.h"
#include "test.h"
#include "files.h"

#define NFILES 1500

static char base[300], tree[400], evol[400], man[400];
static uint8_t key[32];

static ward_vol *vopen(int encrypted, char *err)
{
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .flags = WARD_VOL_RDONLY };
	if (encrypted) {
		o.kind = WARD_VOL_ENCRYPTED;
		o.key = key;
	} else {
		o.kind = WARD_VOL_AUTHENTICATED;
		o.manifest = man;
	}
	return ward_vol_open(encrypted ? evol : tree, &o, &v, err) == 0 ? v : NULL;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* offsets of the records of manifest m (n bytes): first, middle, last */
static void pick(const uint8_t *m, size_t n, size_t at[3], size_t plen[3])
{
	size_t off = WVOL_HDR_LEN, k = 0, count = 0;
	for (size_t o = off; o < n; o += WVOL_REC_HDR + le32(m + o + 4) + WVOL_MAC_LEN)
		count++;
	for (size_t i = 0; off < n; i++) {
		if (i == 0 || i == count / 2 || i == count - 1) {
			at[k] = off;
			plen[k] = le32(m + off + 4);
			k++;
		}
		off += WVOL_REC_HDR + le32(m + off + 4) + WVOL_MAC_LEN;
	}
	CHECK(k == 3 && count > NFILES);
}

static void tamper_each(int encrypted)
{
	char err[WARD_VOL_ERR_LEN], mp[500];
	size_t n, at[3], plen[3];
	if (encrypted)
		snprintf(mp, sizeof(mp), "%s/" WARD_VOL_META_DIR "/manifest", evol);
	else
		snprintf(mp, sizeof(mp), "%s", man);
	uint8_t *m = slurp(mp, 16 << 20, &n), *orig = malloc(n);
	CHECK(m != NULL && orig != NULL && n < (16u << 20));
	memcpy(orig, m, n);
	pick(m, n, at, plen);
	for (int k = 0; k < 3; k++)
		for (int where = 0; where < 2; where++) {
			/* a byte of the path's payload, or of the stored MAC */
			size_t b = where == 0 ? at[k] + WVOL_REC_HDR + plen[k] / 2 : at[k] + WVOL_REC_HDR + plen[k] + 7;
			memcpy(m, orig, n);
			m[b] ^= 0x10;
			spill(mp, m, n);
			err[0] = 0;
			ward_vol *v = vopen(encrypted, err);
			CHECK(v == NULL);
			CHECK(strstr(err, "failed authentication") != NULL);
			if (v != NULL)
				ward_vol_close(v, NULL);
		}
	spill(mp, orig, n);
	ward_vol *v = vopen(encrypted, err);
	CHECK(v != NULL && v->lz != NULL);
	if (v != NULL) {
		char s[64];
		CHECK(vol_read_str(v, "d/f1499", s, sizeof(s)) == 5 && strcmp(s, "x1499") == 0);
		CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
		ward_vol_close(v, NULL);
	}
	free(m);
	free(orig);
}

static int tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

/* The thread count once it settles at want (2 s at most): a joined thread
 * has left its function, but the kernel may list it under /proc/self/task
 * for a moment longer while it finishes exiting. */
static int tasks_settled(int want)
{
	int n = tasks();
	for (int i = 0; i < 400 && n != want; i++) {
		usleep(5000);
		n = tasks();
	}
	return n;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-chain-test.XXXXXX", p[700];
	uint8_t tag[32];

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(base, sizeof(base), "%s", tmpl);
	snprintf(tree, sizeof(tree), "%s/t", base);
	snprintf(evol, sizeof(evol), "%s/e.vol", base);
	snprintf(man, sizeof(man), "%s/t.manifest", base);
	snprintf(p, sizeof(p), "%s/d", tree);
	CHECK(mkdir(tree, 0755) == 0 && mkdir(p, 0755) == 0);
	for (int i = 0; i < NFILES; i++) {
		char r[32], d[16];
		snprintf(r, sizeof(r), "d/f%04d", i);
		snprintf(d, sizeof(d), "x%04d", i);
		put_in(tree, r, d, strlen(d));
	}
	CHECK(ward_random(key, sizeof(key)) == 0);
	{
		struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_CREATE };
		ward_vol *v = NULL;
		CHECK(ward_vol_open(evol, &o, &v, err) == 0);
		CHECK(v != NULL && ward_vol_import(v, tree, NULL, NULL, NULL, err) == 0);
		CHECK(ward_vol_close(v, err) == 0);
	}
	CHECK(ward_vol_authenticate(tree, man, tag, NULL, NULL, NULL, err) == 0);

	tamper_each(1);
	tamper_each(0);

	/* the opens above started the helper; retired, it leaves, and the
	 * next large request starts it again */
	CHECK(tasks() == 2);
	ward_vol_helper_retire();
	CHECK(tasks_settled(1) == 1);
	ward_vol_helper_retire(); /* nothing to retire: returns */
	ward_vol *v = vopen(1, err);
	CHECK(v != NULL);
	CHECK(tasks() == 2);
	if (v != NULL)
		ward_vol_close(v, NULL);
	ward_vol_helper_retire();
	CHECK(tasks_settled(1) == 1);

	snprintf(p, sizeof(p), "rm -rf %s", base);
	CHECK(system(p) == 0);
	return TEST_DONE();
}
