/* test_writeback.c: the volume library's write-back of large appends
 * (src/fs/file.c, "write-back"): appends are held until a 2 MiB piece is
 * complete, anything else that touches the file writes them out first, a
 * failed write-out is reported and forgets exactly the held chunks, and the
 * volume reopens clean either way. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/volume.h"
#include "test.h"

#define MIB (1u << 20)

static uint8_t key[32];
static char dir[256];

static ward_vol *vopen(int flags, char *err)
{
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = flags };
	return ward_vol_open(dir, &o, &v, err) == 0 ? v : NULL;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed * 17 + (i >> 12)) & 0xff);
}

/* bytes of the chunk file of `name` on disk (-1: missing) */
static long long disk_size(const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void appends_and_flush_points(const uint8_t *data)
{
	char err[WARD_VOL_ERR_LEN];
	uint8_t *back = malloc(8 * MIB);
	ward_vol *v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE, err);
	ward_vfile *f;

	CHECK(v != NULL && back != NULL);
	if (v == NULL || back == NULL)
		return;
	CHECK(ward_vf_open(v, "big.bin", O_RDWR | O_CREAT, 0600, &f, err) == 0);
	/* an append at a 2 MiB boundary is held */
	CHECK(ward_vf_pwrite(f, data, MIB, 0, err) == MIB);
	CHECK(ward_vf_size(f) == MIB);
	CHECK(disk_size("big.bin") == 0);
	/* a read reaching into it writes it out first */
	CHECK(ward_vf_pread(f, back, 4096, MIB - 4096, err) == 4096 && memcmp(back, data + MIB - 4096, 4096) == 0);
	CHECK(disk_size("big.bin") == MIB);
	/* not at a boundary: written directly */
	CHECK(ward_vf_pwrite(f, data + MIB, MIB, MIB, err) == MIB);
	CHECK(disk_size("big.bin") == 2 * MIB);
	/* held again from the next boundary, written out when 2 MiB are complete */
	CHECK(ward_vf_pwrite(f, data + 2 * MIB, MIB, 2 * MIB, err) == MIB);
	CHECK(disk_size("big.bin") == 2 * MIB);
	CHECK(ward_vf_pwrite(f, data + 3 * MIB, MIB, 3 * MIB, err) == MIB);
	CHECK(disk_size("big.bin") == 4 * MIB);
	/* an overwrite elsewhere writes the held appends out first */
	CHECK(ward_vf_pwrite(f, data + 4 * MIB, MIB, 4 * MIB, err) == MIB);
	CHECK(disk_size("big.bin") == 4 * MIB);
	CHECK(ward_vf_pwrite(f, data, 100, 0, err) == 100);
	CHECK(disk_size("big.bin") == 5 * MIB);
	/* a truncate too */
	CHECK(ward_vf_pwrite(f, data + 6 * MIB, MIB, 6 * MIB, err) == MIB); /* hole from 5 MiB, then held */
	CHECK(disk_size("big.bin") == 5 * MIB);
	CHECK(ward_vf_truncate(f, 6 * MIB + 100, err) == 0);
	CHECK(disk_size("big.bin") >= 6 * MIB + 100);
	/* a held partial last chunk, then close commits it */
	CHECK(ward_vf_pwrite(f, data, 3 * MIB + 5, 8 * MIB, err) == 3 * MIB + 5);
	CHECK(ward_vf_close(f, err) == 0);
	CHECK(disk_size("big.bin") == 11 * MIB + 5);
	CHECK(ward_vol_close(v, err) == 0);

	/* everything reads back after a reopen, and the volume verifies */
	v = vopen(WARD_VOL_RDONLY, err);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
	CHECK(ward_vf_open(v, "big.bin", O_RDONLY, 0, &f, err) == 0);
	CHECK(ward_vf_size(f) == 11 * MIB + 5);
	CHECK(ward_vf_pread(f, back, 5 * MIB, 0, err) == 5 * MIB);
	CHECK(memcmp(back, data, 100) == 0 && memcmp(back + 100, data + 100, 5 * MIB - 100) == 0);
	CHECK(ward_vf_pread(f, back, MIB, 5 * MIB, err) == MIB);
	int zeros = 1;
	for (size_t i = 0; i < MIB; i++)
		zeros &= back[i] == 0;
	CHECK(zeros);
	CHECK(ward_vf_pread(f, back, 100, 6 * MIB, err) == 100 && memcmp(back, data + 6 * MIB, 100) == 0);
	CHECK(ward_vf_pread(f, back, 3 * MIB + 5, 8 * MIB, err) == 3 * MIB + 5 && memcmp(back, data, 3 * MIB + 5) == 0);
	ward_vf_close(f, NULL);
	CHECK(ward_vol_close(v, err) == 0);
	free(back);
}

/* A write-out that fails (here: the file-size limit) fails the write that
 * triggered it with a line saying what was lost; the file ends before the
 * held chunks again, and the volume reopens clean. Run in a child: the
 * limit is per process. */
static int failed_writeout_child(const uint8_t *data)
{
	char err[WARD_VOL_ERR_LEN];
	struct rlimit rl = { .rlim_cur = 3 * MIB, .rlim_max = 3 * MIB };
	ward_vol *v = vopen(WARD_VOL_RDWR, err);
	ward_vfile *f;
	int bad = 0;

	signal(SIGXFSZ, SIG_IGN);
	if (v == NULL || setrlimit(RLIMIT_FSIZE, &rl) != 0 ||
	    ward_vf_open(v, "limited.bin", O_RDWR | O_CREAT, 0600, &f, err) != 0)
		return 100;
	bad += ward_vf_pwrite(f, data, 2 * MIB, 0, err) != 2 * MIB; /* held, then written out whole */
	bad += ward_vf_pwrite(f, data, MIB, 2 * MIB, err) != MIB;	/* held */
	bad += disk_size("limited.bin") != 2 * MIB;
	/* completes the piece: the write-out passes the limit */
	ssize_t r = ward_vf_pwrite(f, data, MIB, 3 * MIB, err);
	bad += r != -EFBIG;
	bad += strstr(err, "limited.bin") == NULL || strstr(err, "the last 2048 KiB appended to it were not stored") == NULL;
	bad += ward_vf_size(f) != 2 * MIB;
	bad += ward_vf_close(f, err) != 0;
	bad += ward_vol_close(v, err) != 0;
	if (bad)
		fprintf(stderr, "child: %d bad, last error: %s\n", bad, err);
	return bad;
}

static void failed_writeout(const uint8_t *data)
{
	char err[WARD_VOL_ERR_LEN];
	uint8_t *back = malloc(2 * MIB);
	int st = -1;
	pid_t pid = fork();
	if (pid == 0)
		_exit(failed_writeout_child(data));
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the disk file was cut back to what was committed */
	CHECK(disk_size("limited.bin") == 2 * MIB);
	ward_vol *v = vopen(WARD_VOL_RDONLY, err);
	ward_vfile *f = NULL;
	CHECK(v != NULL && back != NULL);
	if (v == NULL || back == NULL)
		return;
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
	CHECK(ward_vf_open(v, "limited.bin", O_RDONLY, 0, &f, err) == 0);
	if (f == NULL)
		return;
	CHECK(ward_vf_size(f) == 2 * MIB);
	CHECK(ward_vf_pread(f, back, 2 * MIB, 0, err) == 2 * MIB && memcmp(back, data, 2 * MIB) == 0);
	ward_vf_close(f, NULL);
	CHECK(ward_vol_close(v, err) == 0);
	free(back);
}

int main(void)
{
	char tmpl[] = "/tmp/ward-wb-test.XXXXXX";
	uint8_t *data = malloc(8 * MIB);

	CHECK(data != NULL && mkdtemp(tmpl) != NULL);
	if (data == NULL)
		return TEST_DONE();
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	memset(key, 9, sizeof(key));
	fill(data, 8 * MIB, 3);

	appends_and_flush_points(data);
	failed_writeout(data);

	free(data);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
