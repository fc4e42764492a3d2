/* test_volume.c: unit tests of the volume library (src/fs/volume.h). */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/internal.h"
#include "fs/volume.h"
#include "test.h"

static uint8_t key[32], key2[32];
static char dir[256];

static ward_vol *vopen(int flags, const uint8_t *k, char *err)
{
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = k, .flags = flags };
	int rc = ward_vol_open(dir, &o, &v, err);
	return rc == 0 ? v : NULL;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed * 7 + (i >> 12)) & 0xff);
}

static int read_all(ward_vol *v, const char *path, uint8_t *buf, size_t cap, char *err)
{
	ward_vfile *f;
	int rc = ward_vf_open(v, path, O_RDONLY, 0, &f, err);
	if (rc != 0)
		return rc;
	ssize_t r = ward_vf_pread(f, buf, cap, 0, err);
	ward_vf_close(f, NULL);
	return (int)r;
}

static void flip(const char *rel, off_t off)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	int fd = open(p, O_RDWR);
	uint8_t b;
	if (fd < 0 || pread(fd, &b, 1, off) != 1) {
		CHECK(!"flip: cannot open");
		if (fd >= 0)
			close(fd);
		return;
	}
	b ^= 1;
	CHECK(pwrite(fd, &b, 1, off) == 1);
	close(fd);
}

/* whether this process maps the file at path (/proc/self/maps) */
static int mapped(const char *path)
{
	char line[1024];
	int found = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	if (m == NULL)
		return -1;
	while (fgets(line, sizeof(line), m) != NULL)
		if (strstr(line, path) != NULL)
			found = 1;
	fclose(m);
	return found;
}

/* one thread of the concurrency test: its own file, 1 MiB writes and reads
 * (large enough to be shared with the helper thread), then a check */
struct par {
	ward_vol *v;
	unsigned seed;
	char name[16];
	int ok;
};

static void *par_main(void *arg)
{
	struct par *p = arg;
	enum { N = 3 * 1024 * 1024 + 77, BLK = 1 << 20 };
	char err[WARD_VOL_ERR_LEN];
	uint8_t *x = malloc(N), *y = malloc(N);
	ward_vfile *f;
	int ok = x && y && ward_vf_open(p->v, p->name, O_RDWR | O_CREAT, 0600, &f, err) == 0;
	if (ok) {
		fill(x, N, p->seed);
		for (size_t o = 0; o < N && ok; o += BLK) {
			size_t l = N - o < BLK ? N - o : BLK;
			ok = ward_vf_pwrite(f, x + o, l, o, err) == (ssize_t)l;
		}
		for (int round = 0; round < 3 && ok; round++) {
			memset(y, 0, N);
			for (size_t o = 0; o < N && ok; o += BLK) {
				size_t l = N - o < BLK ? N - o : BLK;
				ok = ward_vf_pread(f, y + o, l, o, err) == (ssize_t)l;
			}
			ok = ok && memcmp(x, y, N) == 0;
		}
		ok = ward_vf_close(f, err) == 0 && ok;
	}
	p->ok = ok;
	free(x);
	free(y);
	return NULL;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-fs-test.XXXXXX";
	enum { BIG = 3 * 1024 * 1024 + 123 };
	uint8_t *a = malloc(BIG), *b = malloc(BIG);
	uint8_t tag1[32], tag2[32], tag3[32];
	ward_vol *v;
	ward_vfile *f;

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	memset(key, 7, sizeof(key));
	memset(key2, 8, sizeof(key2));

	/* create, write, read back (whole, partial, unaligned) */
	v = vopen(WARD_VOL_CREATE, key, err);
	CHECK(v != NULL);
	CHECK(ward_vol_mkdir(v, "d", 0755, err) == 0);
	CHECK(ward_vf_open(v, "d/big.bin", O_RDWR | O_CREAT | O_EXCL, 0644, &f, err) == 0);
	fill(a, BIG, 1);
	CHECK(ward_vf_pwrite(f, a, BIG, 0, err) == BIG);
	CHECK(ward_vf_size(f) == BIG);
	memset(b, 0, BIG);
	CHECK(ward_vf_pread(f, b, BIG, 0, err) == BIG);
	CHECK(memcmp(a, b, BIG) == 0);
	CHECK(ward_vf_pread(f, b, 10000, 4000, err) == 10000);
	CHECK(memcmp(a + 4000, b, 10000) == 0);
	/* overwrite in the middle, unaligned; before and after commit */
	fill(a + 5000, 9000, 2);
	CHECK(ward_vf_pwrite(f, a + 5000, 9000, 5000, err) == 9000);
	CHECK(ward_vf_sync(f, err) == 0);
	fill(a + 4096, 4096, 3);
	CHECK(ward_vf_pwrite(f, a + 4096, 4096, 4096, err) == 4096);
	CHECK(ward_vf_pread(f, b, BIG, 0, err) == BIG);
	CHECK(memcmp(a, b, BIG) == 0);
	CHECK(ward_vf_close(f, err) == 0);
	/* small file, hole, truncate */
	CHECK(ward_vf_open(v, "hole", O_RDWR | O_CREAT, 0600, &f, err) == 0);
	CHECK(ward_vf_pwrite(f, "xyz", 3, 10000, err) == 3);
	CHECK(ward_vf_size(f) == 10003);
	CHECK(ward_vf_pread(f, b, 20000, 0, err) == 10003);
	{
		int zeros = 1;
		for (int i = 0; i < 10000; i++)
			zeros &= b[i] == 0;
		CHECK(zeros && memcmp(b + 10000, "xyz", 3) == 0);
	}
	CHECK(ward_vf_truncate(f, 10001, err) == 0);
	CHECK(ward_vf_pread(f, b, 20000, 0, err) == 10001 && b[10000] == 'x');
	CHECK(ward_vf_truncate(f, 20000, err) == 0);
	CHECK(ward_vf_pread(f, b, 30000, 0, err) == 20000 && b[10000] == 'x' && b[10001] == 0 && b[19999] == 0);
	uint64_t end = 0;
	CHECK(ward_vf_append(f, "END", 3, &end, err) == 3 && end == 20003);
	CHECK(ward_vf_close(f, err) == 0);
	/* namespace */
	CHECK(ward_vol_rename(v, "hole", "d/hole2", err) == 0);
	struct ward_vdirent *ents;
	size_t n;
	CHECK(ward_vol_readdir(v, "d", &ents, &n, err) == 0);
	CHECK(n == 2 && strcmp(ents[0].name, "big.bin") == 0 && strcmp(ents[1].name, "hole2") == 0);
	free(ents);
	CHECK(ward_vol_readdir(v, "", &ents, &n, err) == 0 && n == 1);
	free(ents);
	CHECK(ward_vol_rmdir(v, "d", err) == -ENOTEMPTY);
	CHECK(ward_vf_open(v, "nope", O_RDONLY, 0, &f, err) == -ENOENT);
	CHECK(ward_vf_open(v, ".ward-volume/manifest", O_RDONLY, 0, &f, err) == -EACCES);
	CHECK(ward_vf_open(v, "../x", O_RDONLY, 0, &f, err) == -EINVAL);
	struct ward_vstat st;
	CHECK(ward_vol_stat(v, "d/hole2", &st, err) == 0 && st.size == 20003 && (st.mode & 0777) == 0600);
	CHECK(ward_vol_setattr(v, "d/hole2", 0640, 1234567890123456789LL, err) == 0);
	CHECK(ward_vol_tag(v, tag1) == 0);
	CHECK(ward_vol_close(v, err) == 0);

	/* reopen read-only: same data, same tag */
	v = vopen(WARD_VOL_RDONLY, key, err);
	CHECK(v != NULL);
	CHECK(ward_vol_tag(v, tag2) == 0 && memcmp(tag1, tag2, 32) == 0);
	CHECK(read_all(v, "d/big.bin", b, BIG, err) == BIG && memcmp(a, b, BIG) == 0);
	CHECK(ward_vol_stat(v, "d/hole2", &st, err) == 0 && st.mtime_ns == 1234567890123456789LL && (st.mode & 0777) == 0640);
	CHECK(ward_vf_open(v, "x", O_RDWR | O_CREAT, 0600, &f, err) == -EROFS);
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
	ward_vol_close(v, NULL);

	/* wrong key is named as such */
	CHECK(vopen(WARD_VOL_RDONLY, key2, err) == NULL && strstr(err, "wrong key") != NULL);

	/* expected tag */
	{
		ward_vol *w = NULL;
		uint8_t bad[32];
		memcpy(bad, tag1, 32);
		bad[0] ^= 1;
		struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .expect_tag = bad };
		CHECK(ward_vol_open(dir, &o, &w, err) == -EBADMSG && strstr(err, "expected") != NULL);
		o.expect_tag = tag1;
		CHECK(ward_vol_open(dir, &o, &w, err) == 0);
		ward_vol_close(w, NULL);
	}

	/* a change changes the tag */
	v = vopen(WARD_VOL_RDWR, key, err);
	CHECK(v != NULL);
	CHECK(ward_vf_open(v, "d/big.bin", O_RDWR, 0, &f, err) == 0);
	CHECK(ward_vf_pwrite(f, "!", 1, 100, err) == 1);
	CHECK(ward_vol_tag(v, tag3) == 0 && memcmp(tag3, tag1, 32) == 0); /* uncommitted */
	CHECK(ward_vf_close(f, err) == 0);
	CHECK(ward_vol_tag(v, tag3) == 0 && memcmp(tag3, tag1, 32) != 0);
	a[100] = '!';
	ward_vol_close(v, NULL);

	/* tamper: a bit flip in chunk 2 of the data */
	flip("d/big.bin", 2 * 4096 + 5);
	v = vopen(WARD_VOL_RDONLY, key, err);
	CHECK(v != NULL);
	CHECK(ward_vf_open(v, "d/big.bin", O_RDONLY, 0, &f, err) == 0);
	CHECK(ward_vf_pread(f, b, 4096, 0, err) == 4096 && memcmp(a, b, 4096) == 0);
	CHECK(ward_vf_pread(f, b, 100, 2 * 4096 + 1, err) == -EIO);
	CHECK(strstr(err, "chunk 2: authentication failed") != NULL);
	CHECK(ward_vf_pread(f, b, BIG, 0, err) == -EIO && strstr(err, "chunk 2:") != NULL);
	ward_vf_close(f, NULL);
	CHECK(ward_vol_verify(v, NULL, NULL, err) == -EIO);
	ward_vol_close(v, NULL);
	flip("d/big.bin", 2 * 4096 + 5);

	/* large reads are split between two threads: a flip in the second half
	 * is found, the lowest bad chunk is named, and nothing is returned */
	flip("d/big.bin", 600 * 4096 + 9);
	v = vopen(WARD_VOL_RDONLY, key, err);
	CHECK(v != NULL);
	CHECK(ward_vf_open(v, "d/big.bin", O_RDONLY, 0, &f, err) == 0);
	memset(b, 0x55, BIG);
	CHECK(ward_vf_pread(f, b, BIG, 0, err) == -EIO && strstr(err, "chunk 600: authentication failed") != NULL);
	{
		int wiped = 1;
		for (size_t i = 0; i < BIG; i++)
			wiped &= b[i] == 0;
		CHECK(wiped);
	}
	flip("d/big.bin", 300 * 4096 + 1);
	CHECK(ward_vf_pread(f, b, BIG, 0, err) == -EIO && strstr(err, "chunk 300:") != NULL);
	flip("d/big.bin", 300 * 4096 + 1);
	flip("d/big.bin", 600 * 4096 + 9);
	/* any alignment of the caller's buffer */
	CHECK(ward_vf_pread(f, b + 8, BIG - 8, 8, err) == BIG - 8 && memcmp(a + 8, b + 8, BIG - 8) == 0);
	CHECK(ward_vf_pread(f, b + 3, 5 * 4096, 4096, err) == 5 * 4096 && memcmp(a + 4096, b + 3, 5 * 4096) == 0);
	/* a forked child (without the parent's helper thread) still reads */
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(20);
		_exit(ward_vf_pread(f, b, BIG, 0, err) == BIG && memcmp(a, b, BIG) == 0 ? 0 : 1);
	}
	int wst = 0;
	CHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	ward_vf_close(f, NULL);
	ward_vol_close(v, NULL);

	/* several threads with large requests at once share one helper */
	v = vopen(WARD_VOL_RDWR, key, err);
	CHECK(v != NULL);
	{
		pthread_t th[4];
		struct par p[4];
		for (int t = 0; t < 4; t++) {
			p[t] = (struct par){ .v = v, .seed = (unsigned)t + 40 };
			snprintf(p[t].name, sizeof(p[t].name), "par%d", t);
			CHECK(pthread_create(&th[t], NULL, par_main, &p[t]) == 0);
		}
		for (int t = 0; t < 4; t++) {
			CHECK(pthread_join(th[t], NULL) == 0);
			CHECK(p[t].ok);
		}
		for (int t = 0; t < 4; t++)
			CHECK(ward_vol_unlink(v, p[t].name, err) == 0);
	}
	/* reads decrypt small requests from a mapping of the file: a file
	 * that grows past the mapping is remapped, and one shortened on disk
	 * while mapped gives EIO naming the chunk (not SIGBUS) */
	{
		char dp[600];
		fill(a, 3 << 20, 9);
		CHECK(ward_vf_open(v, "grow.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
		CHECK(ward_vf_pwrite(f, a, 4096, 0, err) == 4096);
		CHECK(ward_vf_pread(f, b, 4096, 0, err) == 4096 && memcmp(a, b, 4096) == 0);
		CHECK(ward_vf_pwrite(f, a + 4096, (3 << 20) - 4096, 4096, err) == (3 << 20) - 4096);
		CHECK(ward_vf_pread(f, b, 4096, 3u << 20 >> 1, err) == 4096 && memcmp(a + (3 << 19), b, 4096) == 0);
		CHECK(ward_vf_pread(f, b, 100, (3 << 20) - 100, err) == 100 && memcmp(a + (3 << 20) - 100, b, 100) == 0);
		CHECK(ward_vf_close(f, err) == 0);

		CHECK(ward_vf_open(v, "grow.bin", O_RDONLY, 0, &f, err) == 0);
		CHECK(ward_vf_pread(f, b, 4096, 0, err) == 4096 && memcmp(a, b, 4096) == 0);
		/* a file read a few times is not mapped (MAP_AFTER small reads) */
		snprintf(dp, sizeof(dp), "%s/grow.bin", dir);
		CHECK(mapped(dp) == 0);
		/* read the first 64 KiB window more than MAP_AFTER + COLD_PREADS
		 * (4 + 4) times, so that the reads below go through the mapping,
		 * not pread: the truncation must then be caught by the SIGBUS
		 * guard */
		for (int k = 0; k < 10; k++)
			CHECK(ward_vf_pread(f, b, 4096, 32768, err) == 4096 && memcmp(a + 32768, b, 4096) == 0);
		CHECK(mapped(dp) == 1);
		CHECK(truncate(dp, 8192) == 0);
		memset(b, 0x55, 8192);
		CHECK(ward_vf_pread(f, b, 4096, 32768, err) == -EIO);
		CHECK(strstr(err, "grow.bin' chunk 8: file truncated on disk") != NULL);
		CHECK(b[0] == 0 && b[4095] == 0);
		CHECK(ward_vf_pread(f, b, 100, 40005, err) == -EIO && strstr(err, "chunk 9: file truncated") != NULL);
		CHECK(ward_vf_pread(f, b, 16384, 4096, err) == -EIO && strstr(err, "chunk 2: file truncated") != NULL);
		CHECK(b[0] == 0 && b[4095] == 0 && b[16383] == 0);
		/* a large read (through pread) says the same */
		CHECK(ward_vf_pread(f, b, 1 << 20, 0, err) == -EIO && strstr(err, "chunk 2: file truncated") != NULL);
		CHECK(ward_vf_pread(f, b, 4096, 4096, err) == 4096 && memcmp(a + 4096, b, 4096) == 0);
		ward_vf_close(f, NULL);
		CHECK(ward_vol_unlink(v, "grow.bin", err) == 0);
	}
	/* warm-up of a mapping (map.c): a background thread touches the
	 * pages of a mapping after its first small read; it stops when the
	 * file drops the mapping, and a file shortened on disk while it runs
	 * stops it with a fault it survives, and reads then fail with EIO */
	{
		char dp[600];
		struct wv_warm_stats s0, s1;
		snprintf(dp, sizeof(dp), "%s/warm.bin", dir);
		fill(a, 3 << 20, 11);
		CHECK(ward_vf_open(v, "warm.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
		CHECK(ward_vf_pwrite(f, a, 3 << 20, 0, err) == 3 << 20);
		CHECK(ward_vf_close(f, err) == 0);
		wv_map_warm_wait(&s0);

		/* closed before the warm-up starts: it stops, and unmaps */
		wv_map_warm_test(1, 0);
		CHECK(ward_vf_open(v, "warm.bin", O_RDONLY, 0, &f, err) == 0);
		CHECK(ward_vf_pread(f, b, 4096, 1 << 20, err) == 4096 && memcmp(a + (1 << 20), b, 4096) == 0);
		CHECK(mapped(dp) == 1);
		CHECK(ward_vf_close(f, err) == 0);
		CHECK(mapped(dp) == 1); /* the warm-up thread still holds it */
		wv_map_warm_test(0, 0);
		wv_map_warm_wait(&s1);
		CHECK(s1.stopped == s0.stopped + 1 && s1.done == s0.done && s1.faulted == s0.faulted);
		CHECK(mapped(dp) == 0);

		/* warmed (the file is in the page cache): reads come from the
		 * mapping, and one shortened on disk fails with EIO there */
		CHECK(ward_vf_open(v, "warm.bin", O_RDONLY, 0, &f, err) == 0);
		CHECK(ward_vf_pread(f, b, 4096, 8192, err) == 4096 && memcmp(a + 8192, b, 4096) == 0);
		wv_map_warm_wait(&s0);
		CHECK(s0.done == s1.done + 1);
		for (uint64_t o = 0; o < (3u << 20); o += 200000) {
			CHECK(ward_vf_pread(f, b, 5000, o, err) == 5000);
			CHECK(memcmp(a + o, b, 5000) == 0);
		}
		CHECK(truncate(dp, 1 << 20) == 0);
		memset(b, 0x55, 8192);
		CHECK(ward_vf_pread(f, b, 4096, 2 << 20, err) == -EIO);
		CHECK(strstr(err, "warm.bin' chunk 512: file truncated on disk") != NULL);
		CHECK(b[0] == 0 && b[4095] == 0);
		CHECK(ward_vf_pread(f, b, 100, (2 << 20) + 5, err) == -EIO && strstr(err, "chunk 512: file truncated"));
		CHECK(ward_vf_pread(f, b, 4096, 4096, err) == 4096 && memcmp(a + 4096, b, 4096) == 0);
		CHECK(ward_vf_close(f, err) == 0);
		CHECK(ward_vol_unlink(v, "warm.bin", err) == 0);

		/* shortened on disk while the warm-up runs: it faults (touching
		 * every page of the file as it was), survives, and stops */
		CHECK(ward_vf_open(v, "warm.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
		CHECK(ward_vf_pwrite(f, a, 3 << 20, 0, err) == 3 << 20);
		CHECK(ward_vf_close(f, err) == 0);
		wv_map_warm_test(1, 1);
		CHECK(ward_vf_open(v, "warm.bin", O_RDONLY, 0, &f, err) == 0);
		CHECK(ward_vf_pread(f, b, 4096, 0, err) == 4096 && memcmp(a, b, 4096) == 0);
		CHECK(truncate(dp, 1 << 20) == 0);
		wv_map_warm_test(0, 1);
		wv_map_warm_wait(&s1);
		wv_map_warm_test(0, 0);
		CHECK(s1.faulted == s0.faulted + 1 && s1.done == s0.done);
		CHECK(ward_vf_pread(f, b, 4096, 2 << 20, err) == -EIO && strstr(err, "chunk 512: file truncated"));
		CHECK(ward_vf_pread(f, b, 4096, 4096, err) == 4096 && memcmp(a + 4096, b, 4096) == 0);
		CHECK(ward_vf_close(f, err) == 0);
		CHECK(ward_vol_unlink(v, "warm.bin", err) == 0);
	}
	CHECK(ward_vol_close(v, err) == 0);

	/* tamper: a bit flip in the manifest */
	flip(".ward-volume/manifest", 200);
	CHECK(vopen(WARD_VOL_RDONLY, key, err) == NULL && strstr(err, "failed authentication") != NULL);
	flip(".ward-volume/manifest", 200);
	v = vopen(WARD_VOL_RDONLY, key, err);
	CHECK(v != NULL);
	ward_vol_close(v, NULL);

	printf("%s\n", err);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	CHECK(system(cmd) == 0);
	free(a);
	free(b);
	return TEST_DONE();
}
