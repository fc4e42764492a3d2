/* bench_fs.c: the volume library against plain files, in one run (see
 * bench/bench_fs.py, which builds and runs it). Data is in the page cache. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/volume.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/bench-fs";
	size_t mb = argc > 2 ? (size_t)atoi(argv[2]) : 512, size = mb << 20, blk = 1 << 20;
	int nrand = 200000;
	char err[WARD_VOL_ERR_LEN], path[512], vol[512];
	uint8_t key[32], *buf = malloc(blk);
	memset(key, 3, sizeof(key));
	for (size_t i = 0; i < blk; i++)
		buf[i] = (uint8_t)(i * 7);
	snprintf(path, sizeof(path), "%s/plain.bin", dir);
	snprintf(vol, sizeof(vol), "%s/b.vol", dir);
	double t, w_plain, w_vol, r_plain, r_vol, rr_plain, rr_vol;

	/* plain: write, read, random 4 KiB reads */
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	t = now();
	for (size_t o = 0; o < size; o += blk)
		if (pwrite(fd, buf, blk, (off_t)o) != (ssize_t)blk)
			return 1;
	w_plain = now() - t;
	t = now();
	for (size_t o = 0; o < size; o += blk)
		if (pread(fd, buf, blk, (off_t)o) != (ssize_t)blk)
			return 1;
	r_plain = now() - t;
	srand(1);
	t = now();
	for (int i = 0; i < nrand; i++)
		if (pread(fd, buf, 4096, (off_t)((size_t)(rand() % (int)(size / 4096)) * 4096)) != 4096)
			return 1;
	rr_plain = now() - t;
	close(fd);
	unlink(path);

	/* volume */
	ward_vol *v;
	ward_vfile *f;
	struct ward_vol_opts vo = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_CREATE };
	if (ward_vol_open(vol, &vo, &v, err) != 0 || ward_vf_open(v, "big.bin", O_RDWR | O_CREAT, 0600, &f, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	t = now();
	for (size_t o = 0; o < size; o += blk)
		if (ward_vf_pwrite(f, buf, blk, o, err) != (ssize_t)blk)
			return 1;
	if (ward_vf_close(f, err) != 0)
		return 1;
	w_vol = now() - t;
	ward_vf_open(v, "big.bin", O_RDONLY, 0, &f, err);
	t = now();
	for (size_t o = 0; o < size; o += blk)
		if (ward_vf_pread(f, buf, blk, o, err) != (ssize_t)blk) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	r_vol = now() - t;
	srand(1);
	t = now();
	for (int i = 0; i < nrand; i++)
		if (ward_vf_pread(f, buf, 4096, (uint64_t)(rand() % (int)(size / 4096)) * 4096, err) != 4096)
			return 1;
	rr_vol = now() - t;
	ward_vf_close(f, NULL);
	ward_vol_close(v, NULL);

	double gb = (double)size / 1e9;
	printf("size_mib %zu\n", mb);
	printf("seq_write plain %.2f GB/s volume %.2f GB/s ratio %.2f\n", gb / w_plain, gb / w_vol, w_plain / w_vol);
	printf("seq_read plain %.2f GB/s volume %.2f GB/s ratio %.2f\n", gb / r_plain, gb / r_vol, r_plain / r_vol);
	printf("rand_4k_read plain %.0f kops/s volume %.0f kops/s ratio %.2f\n", nrand / rr_plain / 1e3,
	       nrand / rr_vol / 1e3, rr_plain / rr_vol);
	printf("volume_seq_read_gbps %.3f\n", gb / r_vol);
	free(buf);
	return 0;
}
