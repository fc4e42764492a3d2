/* test_threads.c: volume.h promises that every function is thread-safe and
 * that many threads may read and write one file at once. Eight threads
 * work on one volume together: four write their own 4 KiB blocks of one
 * file (two sharing a handle) and read everyone's, one writes and reads a
 * large file (the two-core path), one truncates and rewrites a third, one
 * renames, lists, stats and removes, one syncs. No call may fail, no read
 * may see a torn or unauthentic chunk (a reader racing a writer sees the
 * old block or the new one, never EIO), and after a close and reopen
 * every block holds the last value its owner wrote. In between, the
 * volume reopened lazily has its files looked up and opened by three
 * threads while a fourth's first change turns it eager. Built for
 * ThreadSanitizer as well as the default and ASan builds. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/internal.h"
#include "fs/volume.h"
#include "test.h"

#define BLK 4096
#define NBLK 64	    /* blocks of the shared file */
#define WRITERS 4   /* block b belongs to writer b % WRITERS */
#define ROUNDS 60
#define BIG ((size_t)3 << 20)

static uint8_t key[32];
static ward_vol *vol;
static ward_vfile *shared_h; /* the handle writers 0 and 1 share */
static int fails;
static int stop;

#define TCHECK(e)                                                                       \
	do {                                                                            \
		if (!(e)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #e); \
			__atomic_add_fetch(&fails, 1, __ATOMIC_RELAXED);                \
		}                                                                       \
	} while (0)

/* the value writer k leaves in its blocks in round r (never 0: 0 is unwritten) */
static uint8_t val(int k, int r)
{
	return (uint8_t)(1 + k * ROUNDS + r);
}

static int uniform(const uint8_t *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return 0;
	return 1;
}

static void *writer(void *arg)
{
	int k = (int)(intptr_t)arg;
	char err[WARD_VOL_ERR_LEN];
	ward_vfile *f = NULL;
	uint8_t buf[BLK], rd[BLK];
	unsigned seed = (unsigned)k * 7919u + 1;

	if (k < 2)
		f = shared_h;
	else
		TCHECK(ward_vf_open(vol, "shared.bin", O_RDWR, 0, &f, err) == 0);
	if (f == NULL)
		return NULL;
	for (int r = 0; r < ROUNDS; r++) {
		memset(buf, val(k, r), BLK);
		for (int b = k; b < NBLK; b += WRITERS)
			TCHECK(ward_vf_pwrite(f, buf, BLK, (uint64_t)b * BLK, err) == BLK);
		for (int i = 0; i < 8; i++) {
			int b = (int)(rand_r(&seed) % NBLK);
			ssize_t got = ward_vf_pread(f, rd, BLK, (uint64_t)b * BLK, err);
			TCHECK(got == BLK);
			if (got == BLK) {
				/* the owner's value of some round, whole */
				TCHECK(uniform(rd, BLK));
				TCHECK(rd[0] == 0 || (rd[0] - 1) / ROUNDS == b % WRITERS);
			}
		}
	}
	if (k >= 2)
		TCHECK(ward_vf_close(f, err) == 0);
	return NULL;
}

/* large writes and reads go through the helper thread */
static void *big(void *arg)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vfile *f = NULL;
	uint8_t *w = malloc(BIG), *r = malloc(BIG);
	(void)arg;
	TCHECK(w != NULL && r != NULL);
	TCHECK(ward_vf_open(vol, "big.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
	if (f != NULL && w != NULL && r != NULL) {
		for (int round = 0; round < 6; round++) {
			for (size_t i = 0; i < BIG; i++)
				w[i] = (uint8_t)(i * 31 + (size_t)round);
			TCHECK(ward_vf_pwrite(f, w, BIG, 0, err) == (ssize_t)BIG);
			TCHECK(ward_vf_pread(f, r, BIG, 0, err) == (ssize_t)BIG);
			TCHECK(memcmp(w, r, BIG) == 0);
		}
		TCHECK(ward_vf_close(f, err) == 0);
	}
	free(w);
	free(r);
	return NULL;
}

/* truncation racing its own rewrites on another handle */
static void *truncater(void *arg)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vfile *f = NULL;
	uint8_t buf[3 * BLK + 100];
	(void)arg;
	TCHECK(ward_vf_open(vol, "trunc.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
	if (f == NULL)
		return NULL;
	for (int i = 0; i < 100; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		TCHECK(ward_vf_pwrite(f, buf, sizeof(buf), 0, err) == (ssize_t)sizeof(buf));
		TCHECK(ward_vf_truncate(f, (uint64_t)(i * 97) % sizeof(buf), err) == 0);
		TCHECK(ward_vf_size(f) == (uint64_t)(i * 97) % sizeof(buf));
	}
	TCHECK(ward_vf_close(f, err) == 0);
	return NULL;
}

/* the namespace changes while files are open and written */
static void *names(void *arg)
{
	char err[WARD_VOL_ERR_LEN], a[64], b[64];
	(void)arg;
	for (int i = 0; i < 60; i++) {
		ward_vfile *f = NULL;
		struct ward_vdirent *e = NULL;
		struct ward_vstat st;
		size_t n = 0;
		snprintf(a, sizeof(a), "d/tmp-%d", i);
		snprintf(b, sizeof(b), "d/kept-%d", i);
		TCHECK(ward_vf_open(vol, a, O_WRONLY | O_CREAT | O_EXCL, 0600, &f, err) == 0);
		if (f != NULL) {
			TCHECK(ward_vf_pwrite(f, a, strlen(a), 0, err) == (ssize_t)strlen(a));
			TCHECK(ward_vf_close(f, err) == 0);
		}
		TCHECK(ward_vol_rename(vol, a, b, err) == 0);
		if (i % 2 == 0)
			TCHECK(ward_vol_unlink(vol, b, err) == 0);
		TCHECK(ward_vol_readdir(vol, "", &e, &n, err) == 0);
		free(e);
		TCHECK(ward_vol_stat(vol, "shared.bin", &st, err) == 0);
		TCHECK(st.size == (uint64_t)NBLK * BLK);
		int r = ward_vol_stat(vol, "trunc.bin", &st, err);
		TCHECK(r == 0 || r == -ENOENT);
		TCHECK(r != 0 || st.size <= 3 * BLK + 100);
		r = ward_vol_stat(vol, "big.bin", &st, err);
		TCHECK(r == 0 || r == -ENOENT);
		TCHECK(r != 0 || st.size == 0 || st.size == BIG);
	}
	return NULL;
}

static void *syncer(void *arg)
{
	char err[WARD_VOL_ERR_LEN];
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		TCHECK(ward_vf_sync(shared_h, err) == 0);
		TCHECK(ward_vol_sync(vol, err) == 0);
		usleep(2000);
	}
	return NULL;
}

/* phase 2: a reopened volume, its nodes made by several threads at once
 * (lazily where the manifest allows), one thread changing the namespace */
static void *reader2(void *arg)
{
	int k = (int)(intptr_t)arg;
	char err[WARD_VOL_ERR_LEN], p[64], buf[64];
	for (int round = 0; round < 20; round++)
		for (int i = 1 + 2 * k; i < 60; i += 2) {
			ward_vfile *f = NULL;
			struct ward_vstat st;
			snprintf(p, sizeof(p), "d/kept-%d", i);
			TCHECK(ward_vol_stat(vol, p, &st, err) == 0);
			TCHECK(ward_vf_open(vol, p, O_RDONLY, 0, &f, err) == 0);
			if (f == NULL)
				continue;
			ssize_t got = ward_vf_pread(f, buf, sizeof(buf), 0, err);
			/* it holds the name it was created under */
			snprintf(p, sizeof(p), "d/tmp-%d", i);
			TCHECK(got == (ssize_t)strlen(p) && memcmp(buf, p, (size_t)got) == 0);
			TCHECK(ward_vf_close(f, err) == 0);
		}
	return NULL;
}

static void *changer2(void *arg)
{
	char err[WARD_VOL_ERR_LEN], p[64];
	(void)arg;
	for (int i = 0; i < 40; i++) {
		struct ward_vdirent *e = NULL;
		size_t n = 0;
		snprintf(p, sizeof(p), "new-%d", i);
		TCHECK(ward_vol_mkdir(vol, p, 0700, err) == 0);
		TCHECK(ward_vol_readdir(vol, "d", &e, &n, err) == 0);
		TCHECK(n == 30);
		free(e);
	}
	return NULL;
}

static ward_vol *reopen(const char *dir, struct ward_vol_opts *o, int flags)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v = NULL;
	o->flags = flags;
	CHECK(ward_vol_open(dir, o, &v, err) == 0);
	return v;
}

int main(void)
{
	char base[] = "/tmp/ward-threads-XXXXXX", dir[300], err[WARD_VOL_ERR_LEN];
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
	pthread_t w[WRITERS], t_big, t_trunc, t_names, t_sync;
	uint8_t buf[BLK];

	memset(key, 0x5a, sizeof(key));
	CHECK(mkdtemp(base) != NULL);
	snprintf(dir, sizeof(dir), "%s/vol", base);
	CHECK(ward_vol_open(dir, &o, &vol, err) == 0);
	if (vol == NULL)
		return TEST_DONE();
	CHECK(ward_vol_mkdir(vol, "d", 0700, err) == 0);
	CHECK(ward_vf_open(vol, "shared.bin", O_RDWR | O_CREAT, 0600, &shared_h, err) == 0);
	CHECK(ward_vf_truncate(shared_h, (uint64_t)NBLK * BLK, err) == 0);

	for (int k = 0; k < WRITERS; k++)
		CHECK(pthread_create(&w[k], NULL, writer, (void *)(intptr_t)k) == 0);
	CHECK(pthread_create(&t_big, NULL, big, NULL) == 0);
	CHECK(pthread_create(&t_trunc, NULL, truncater, NULL) == 0);
	CHECK(pthread_create(&t_names, NULL, names, NULL) == 0);
	CHECK(pthread_create(&t_sync, NULL, syncer, NULL) == 0);
	for (int k = 0; k < WRITERS; k++)
		pthread_join(w[k], NULL);
	pthread_join(t_big, NULL);
	pthread_join(t_trunc, NULL);
	pthread_join(t_names, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t_sync, NULL);
	CHECK(ward_vf_close(shared_h, err) == 0);
	CHECK(ward_vol_close(vol, err) == 0);
	test_failures += fails;

	/* reopened read-write: the manifest is one snapshot, so the volume is
	 * lazy, and threads look up and open files at once while another's
	 * first change turns it eager */
	vol = reopen(dir, &o, WARD_VOL_RDWR);
	if (vol != NULL) {
		CHECK(vol->lz != NULL);
		pthread_t r2[3], c2;
		fails = 0;
		for (int k = 0; k < 3; k++)
			CHECK(pthread_create(&r2[k], NULL, reader2, (void *)(intptr_t)k) == 0);
		CHECK(pthread_create(&c2, NULL, changer2, NULL) == 0);
		for (int k = 0; k < 3; k++)
			pthread_join(r2[k], NULL);
		pthread_join(c2, NULL);
		CHECK(ward_vol_close(vol, err) == 0);
		test_failures += fails;
	}

	/* reopened: each block holds its owner's last round */
	vol = reopen(dir, &o, WARD_VOL_RDONLY);
	if (vol != NULL) {
		ward_vfile *f = NULL;
		struct ward_vdirent *e = NULL;
		size_t n = 0;
		CHECK(ward_vf_open(vol, "shared.bin", O_RDONLY, 0, &f, err) == 0);
		for (int b = 0; f != NULL && b < NBLK; b++) {
			CHECK(ward_vf_pread(f, buf, BLK, (uint64_t)b * BLK, err) == BLK);
			CHECK(uniform(buf, BLK) && buf[0] == val(b % WRITERS, ROUNDS - 1));
		}
		if (f != NULL)
			CHECK(ward_vf_close(f, err) == 0);
		CHECK(ward_vol_readdir(vol, "d", &e, &n, err) == 0);
		CHECK(n == 30); /* the odd kept-N */
		free(e);
		CHECK(ward_vol_close(vol, err) == 0);
	}
	snprintf(dir, sizeof(dir), "rm -rf '%s'", base);
	CHECK(system(dir) == 0);
	return TEST_DONE();
}
