/* test_leftover.c: a volume whose last namespace operation was recorded but
 * did not reach the disk (a kill -9 between the record and the unlink or
 * rename: format.h, invariant 3) verifies when opened read-only, and is
 * completed by the next read-write open; and a shrinking commit whose main
 * file was not cut yet verifies too. Simulated by undoing the disk
 * operation after it was made. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/volume.h"
#include "test.h"
#include "files.h"

static uint8_t key[32];
static char dir[256];

static ward_vol *vopen(int flags)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = flags };
	if (ward_vol_open(dir, &o, &v, err) != 0)
		fprintf(stderr, "open: %s\n", err);
	return v;
}

static int disk(const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0;
}

static void disk_rename(const char *a, const char *b)
{
	char pa[512], pb[512];
	snprintf(pa, sizeof(pa), "%s/%s", dir, a);
	snprintf(pb, sizeof(pb), "%s/%s", dir, b);
	CHECK(rename(pa, pb) == 0);
}

static void disk_link(const char *a, const char *b)
{
	char pa[512], pb[512];
	snprintf(pa, sizeof(pa), "%s/%s", dir, a);
	snprintf(pb, sizeof(pb), "%s/%s", dir, b);
	CHECK(link(pa, pb) == 0);
}

static int do_unlink(ward_vol *v, char *err)
{
	return ward_vol_unlink(v, "x", err);
}

static int do_rename(ward_vol *v, char *err)
{
	return ward_vol_rename(v, "d/y", "z", err);
}

/* shrinks t (committed at 5 chunks) to 5000 bytes and closes it: the
 * commit records the shorter main file, then cuts it */
static int do_shrink(ward_vol *v, char *err)
{
	ward_vfile *f;
	if (ward_vf_open(v, "t", O_RDWR, 0, &f, err) != 0)
		return -1;
	int ok = ward_vf_truncate(f, 5000, err) == 0;
	return ward_vf_close(f, err) == 0 && ok ? 0 : -1;
}

/* after a read-write open (which finishes the cut), another file's commit
 * (so t's record is no longer the last), then t grows past its committed
 * main file and the writer dies before committing it */
static int do_other_then_grow(ward_vol *v, char *err)
{
	static char more[10000];
	ward_vfile *f;
	if (vol_put_str(v, "u", "another file") != 0 || ward_vf_open(v, "t", O_RDWR, 0, &f, err) != 0)
		return -1;
	memset(more, 'm', sizeof(more));
	return ward_vf_pwrite(f, more, sizeof(more), 5000, err) == (ssize_t)sizeof(more) ? 0 : -1; /* no close */
}

/* op on the volume opened read-write in a child that then dies without
 * closing it (as a kill -9 would leave it); the child's status */
static int in_child(int (*op)(ward_vol *, char *))
{
	int st = -1;
	pid_t pid = fork();
	if (pid == 0) {
		char err[WARD_VOL_ERR_LEN];
		ward_vol *v = vopen(WARD_VOL_RDWR);
		_exit(v != NULL && op(v, err) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-leftover-test.XXXXXX", buf[64];
	ward_vol *v;

	memset(key, 3, sizeof(key));
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE);
	CHECK(v != NULL);
	if (v == NULL)
		return TEST_DONE();
	CHECK(vol_put_str(v, "x", "gone soon") == 0);
	CHECK(ward_vol_mkdir(v, "d", 0755, err) == 0);
	CHECK(vol_put_str(v, "d/y", "moving") == 0);
	CHECK(ward_vol_close(v, err) == 0);

	/* an unlink recorded, its file still on disk: a writer killed right
	 * after the record (no close, so no snapshot) */
	disk_link("x", "x.keep");
	CHECK(in_child(do_unlink) == 0);
	disk_rename("x.keep", "x");
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && vol_verify(v) == 0);
	CHECK(v != NULL && vol_read_str(v, "x", buf, sizeof(buf)) < 0);
	if (v != NULL)
		ward_vol_close(v, NULL);
	v = vopen(WARD_VOL_RDWR); /* completes it */
	CHECK(v != NULL && !disk("x") && vol_verify(v) == 0);
	if (v != NULL)
		ward_vol_close(v, NULL);

	/* a rename recorded, the file still at its old path */
	CHECK(in_child(do_rename) == 0);
	disk_rename("z", "d/y");
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && vol_verify(v) == 0);
	CHECK(v != NULL && vol_read_str(v, "z", buf, sizeof(buf)) == 6 && strcmp(buf, "moving") == 0);
	if (v != NULL)
		ward_vol_close(v, NULL);
	v = vopen(WARD_VOL_RDWR); /* completes it */
	CHECK(v != NULL && disk("z") && !disk("d/y") && vol_verify(v) == 0);
	if (v != NULL)
		ward_vol_close(v, NULL);

	/* a shrinking commit recorded, the main file not cut yet (a kill -9
	 * between the record and the ftruncate): the longer file on disk is a
	 * crash leftover, not an extension */
	{
		static char big[20000];
		char tp[512];
		for (size_t i = 0; i < sizeof(big) - 1; i++)
			big[i] = (char)('a' + i % 26);
		v = vopen(WARD_VOL_RDWR);
		CHECK(v != NULL && vol_put_str(v, "t", big) == 0);
		if (v != NULL)
			ward_vol_close(v, NULL);
		CHECK(in_child(do_shrink) == 0);
		snprintf(tp, sizeof(tp), "%s/t", dir);
		CHECK(truncate(tp, 20480) == 0); /* as before the cut */
		v = vopen(WARD_VOL_RDONLY);
		CHECK(v != NULL && vol_verify(v) == 0);
		static char back[6000];
		CHECK(v != NULL && vol_read_str(v, "t", back, sizeof(back)) == 5000 && memcmp(back, big, 5000) == 0);
		if (v != NULL)
			ward_vol_close(v, NULL);
		/* the next read-write open finishes the cut, so that later growth
		 * of t is recorded as such before it reaches the disk (it was
		 * taken for an extension after the next crash) */
		CHECK(in_child(do_other_then_grow) == 0);
		v = vopen(WARD_VOL_RDONLY);
		CHECK(v != NULL && vol_verify(v) == 0);
		CHECK(v != NULL && vol_read_str(v, "t", back, sizeof(back)) == 5000 && memcmp(back, big, 5000) == 0);
		if (v != NULL)
			ward_vol_close(v, NULL);
		v = vopen(WARD_VOL_RDWR);
		CHECK(v != NULL && vol_verify(v) == 0 && vol_put_str(v, "t", "rewritten") == 0 && vol_verify(v) == 0);
		if (v != NULL)
			ward_vol_close(v, NULL);
		v = vopen(WARD_VOL_RDONLY);
		CHECK(v != NULL && vol_verify(v) == 0);
		if (v != NULL)
			ward_vol_close(v, NULL);
	}

	/* anything else unlisted is still an intrusion */
	char ip[512];
	snprintf(ip, sizeof(ip), "%s/intruder", dir);
	FILE *e = fopen(ip, "w");
	CHECK(e != NULL);
	if (e != NULL)
		fclose(e);
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && ward_vol_verify(v, NULL, NULL, err) != 0 && strstr(err, "intruder") != NULL);
	if (v != NULL)
		ward_vol_close(v, NULL);

	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
