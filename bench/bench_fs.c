/* bench_fs.c: the volume library against plain files, in one run (see
 * bench/bench_fs.py, which builds and runs it). Data is in the page cache.
 *
 *     bench_fs DIR [SIZE_MIB [PASSES [PHASES]]]
 *
 * PHASES (default "pv"): p = plain files, v = volume. Each side does PASSES
 * rounds of: write a fresh SIZE_MIB file in 1 MiB blocks (timed up to and
 * including close, i.e. the commit), read it back sequentially in 1 MiB
 * blocks, then 200,000 random aligned 4 KiB reads. The first sequential read
 * after a write runs while the kernel writes the dirty pages back, so the
 * reads are timed on a second pass over the (then clean) page cache, for
 * plain files and volumes alike. Prints the median and the best pass.
 * BENCH_FS_NRAND sets the number of random reads (for profiling);
 * BENCH_FS_OFFSET moves the I/O buffer off its page alignment. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/volume.h"

#define MAXP 16
static int NRAND = 200000; /* BENCH_FS_NRAND overrides (profiling) */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
	double s[MAXP];
	memcpy(s, t, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmpd);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double best(double *t, int n)
{
	double b = t[0];
	for (int i = 1; i < n; i++)
		b = t[i] < b ? t[i] : b;
	return b;
}

static double cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* wall-clock seconds, and process CPU seconds (all threads) of each pass */
struct times {
	double w[MAXP], r[MAXP], rr[MAXP];
	double cw[MAXP], cr[MAXP], crr[MAXP];
};

static size_t size, blk = 1 << 20;
static uint8_t *buf;

static int plain(const char *dir, int passes, struct times *tm)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/plain.bin", dir);
	for (int p = 0; p < passes; p++) {
		unlink(path);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		double c0 = cpu(), t = now();
		for (size_t o = 0; o < size; o += blk)
			if (pwrite(fd, buf, blk, (off_t)o) != (ssize_t)blk)
				return 1;
		close(fd);
		tm->w[p] = now() - t;
		tm->cw[p] = cpu() - c0;
		fd = open(path, O_RDONLY);
		for (int k = 0; k < 2; k++) {
			c0 = cpu();
			t = now();
			for (size_t o = 0; o < size; o += blk)
				if (pread(fd, buf, blk, (off_t)o) != (ssize_t)blk)
					return 1;
			tm->r[p] = now() - t;
			tm->cr[p] = cpu() - c0;
		}
		srand(1);
		c0 = cpu();
		t = now();
		for (int i = 0; i < NRAND; i++)
			if (pread(fd, buf, 4096, (off_t)((size_t)(rand() % (int)(size / 4096)) * 4096)) != 4096)
				return 1;
		tm->rr[p] = now() - t;
		tm->crr[p] = cpu() - c0;
		close(fd);
	}
	unlink(path);
	return 0;
}

static int volume(const char *dir, int passes, struct times *tm)
{
	char err[WARD_VOL_ERR_LEN], vol[512];
	uint8_t key[32];
	ward_vol *v;
	ward_vfile *f;
	memset(key, 3, sizeof(key));
	snprintf(vol, sizeof(vol), "%s/b.vol", dir);
	struct ward_vol_opts vo = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_CREATE };
	if (ward_vol_open(vol, &vo, &v, err) != 0)
		goto fail;
	for (int p = 0; p < passes; p++) {
		(void)ward_vol_unlink(v, "big.bin", NULL);
		if (ward_vf_open(v, "big.bin", O_RDWR | O_CREAT, 0600, &f, err) != 0)
			goto fail;
		double c0 = cpu(), t = now();
		for (size_t o = 0; o < size; o += blk)
			if (ward_vf_pwrite(f, buf, blk, o, err) != (ssize_t)blk)
				goto fail;
		if (ward_vf_close(f, err) != 0)
			goto fail;
		tm->w[p] = now() - t;
		tm->cw[p] = cpu() - c0;
		if (ward_vf_open(v, "big.bin", O_RDONLY, 0, &f, err) != 0)
			goto fail;
		for (int k = 0; k < 2; k++) {
			c0 = cpu();
			t = now();
			for (size_t o = 0; o < size; o += blk)
				if (ward_vf_pread(f, buf, blk, o, err) != (ssize_t)blk)
					goto fail;
			tm->r[p] = now() - t;
			tm->cr[p] = cpu() - c0;
		}
		srand(1);
		c0 = cpu();
		t = now();
		for (int i = 0; i < NRAND; i++)
			if (ward_vf_pread(f, buf, 4096, (uint64_t)(rand() % (int)(size / 4096)) * 4096, err) != 4096)
				goto fail;
		tm->rr[p] = now() - t;
		tm->crr[p] = cpu() - c0;
		ward_vf_close(f, NULL);
	}
	return ward_vol_close(v, err) == 0 ? 0 : 1;
fail:
	fprintf(stderr, "bench_fs: %s\n", err);
	return 1;
}

static void line(const char *name, double *pt, double *vt, int n, double units, const char *unit, int have_p)
{
	double pm = median(pt, n), vm = median(vt, n), pb = best(pt, n), vb = best(vt, n);
	if (have_p)
		printf("%s plain %.2f %s volume %.2f %s ratio %.2f (best pass: %.2f / %.2f, ratio %.2f)\n", name,
		       units / pm, unit, units / vm, unit, pm / vm, units / pb, units / vb, pb / vb);
	else
		printf("%s volume %.2f %s (best pass %.2f)\n", name, units / vm, unit, units / vb);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/bench-fs";
	size_t mb = argc > 2 ? (size_t)atoi(argv[2]) : 512;
	int passes = argc > 3 ? atoi(argv[3]) : 3;
	const char *ph = argc > 4 ? argv[4] : "pv";
	struct times tp = { 0 }, tv = { 0 };

	if (passes < 1 || passes > MAXP || mb < 1) {
		fprintf(stderr, "usage: bench_fs DIR [SIZE_MIB [PASSES(1-%d) [PHASES]]]\n", MAXP);
		return 2;
	}
	size = mb << 20;
	if (getenv("BENCH_FS_NRAND") != NULL)
		NRAND = atoi(getenv("BENCH_FS_NRAND"));
	/* page-aligned: the kernel copies into a buffer 8-24 bytes past a 64-byte
	 * boundary (malloc's large blocks) several times slower on some CPUs,
	 * which would slow the plain baseline and not the volume */
	if (posix_memalign((void **)&buf, 4096, blk + 64) != 0)
		return 1;
	if (getenv("BENCH_FS_OFFSET") != NULL) /* e.g. 16: where malloc puts large blocks */
		buf += atoi(getenv("BENCH_FS_OFFSET")) & 63;
	for (size_t i = 0; i < blk; i++)
		buf[i] = (uint8_t)(i * 7);
	if (strchr(ph, 'p') && plain(dir, passes, &tp) != 0)
		return 1;
	if (strchr(ph, 'v') && volume(dir, passes, &tv) != 0)
		return 1;
	if (!strchr(ph, 'v'))
		return 0;
	int hp = strchr(ph, 'p') != NULL;
	double gb = (double)size / 1e9;
	printf("size_mib %zu passes %d\n", mb, passes);
	line("seq_write", tp.w, tv.w, passes, gb, "GB/s", hp);
	line("seq_read", tp.r, tv.r, passes, gb, "GB/s", hp);
	line("rand_4k_read", tp.rr, tv.rr, passes, NRAND / 1e3, "kops/s", hp);
	/* what each costs in CPU time (both threads together), independent of
	 * how much of the second core the machine leaves free */
	printf("cpu_cost seq_write plain %.2f volume %.2f GB per cpu-second\n", hp ? gb / median(tp.cw, passes) : 0,
	       gb / median(tv.cw, passes));
	printf("cpu_cost seq_read plain %.2f volume %.2f GB per cpu-second\n", hp ? gb / median(tp.cr, passes) : 0,
	       gb / median(tv.cr, passes));
	printf("cpu_cost rand_4k_read plain %.2f volume %.2f us per read\n", hp ? median(tp.crr, passes) / NRAND * 1e6 : 0,
	       median(tv.crr, passes) / NRAND * 1e6);
	printf("volume_seq_read_gbps %.3f\n", gb / median(tv.r, passes));
	return 0;
}
