/* test_robust.c: a volume under creation is marked incomplete until it is
 * completed (every other open refuses it; creating it again replaces it;
 * discarding removes it, however deep); a directory that only looks like
 * such a leftover is never cleared; a plain directory is "not a volume";
 * readers and writers exclude each other through the lock without
 * waiting; a read-write open that may not write the metadata opens
 * read-only; and a read-write open cuts a file's main data that a killed
 * writer left longer than committed (format.h invariant 5); a creation
 * that fails on disk leaves no entry behind. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/volume.h"
#include "test.h"
#include "files.h"

static uint8_t key[32];
static char dir[256];

static int vopen_rc(int flags, ward_vol **v, char *err)
{
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = flags };
	*v = NULL;
	return ward_vol_open(dir, &o, v, err);
}

static ward_vol *vopen(int flags)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v;
	if (vopen_rc(flags, &v, err) != 0)
		fprintf(stderr, "open: %s\n", err);
	return v;
}

/* bytes of dir/rel on disk, -1 when missing */
static long long disk_size(const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static int disk_has(const char *rel)
{
	return disk_size(rel) >= 0;
}

/* sets or clears the immutable flag of dir/rel: 0, or -1 when this
 * process may not (no CAP_LINUX_IMMUTABLE, a file system without it) */
static int immutable(const char *rel, int on)
{
	char p[512];
	int fl, rc = -1;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0) {
		fl = on ? fl | FS_IMMUTABLE_FL : fl & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &fl) == 0 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* 100 directories deep, with a file at the bottom */
static void deep(ward_vol *v)
{
	char p[512] = "";
	char err[WARD_VOL_ERR_LEN];
	for (int i = 0; i < 100; i++) {
		strcat(p, i ? "/d" : "d");
		CHECK(ward_vol_mkdir(v, p, 0755, err) == 0);
	}
	strcat(p, "/f");
	CHECK(vol_put_str(v, p, "deep") == 0);
}

static void test_incomplete(void)
{
	char err[WARD_VOL_ERR_LEN], buf[64];
	ward_vol *v, *w;

	/* created incomplete, closed without completing (as a kill leaves it) */
	v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE | WARD_VOL_INCOMPLETE);
	CHECK(v != NULL && vol_put_str(v, "a", "first") == 0);
	if (v != NULL)
		deep(v);
	CHECK(disk_has(".ward-volume/incomplete"));
	/* the creator has it: others are told it is busy */
	CHECK(vopen_rc(WARD_VOL_RDONLY, &w, err) == -EBUSY && w == NULL);
	CHECK(ward_vol_close(v, err) == 0);
	CHECK(disk_has(".ward-volume/incomplete") && disk_has("a"));
	CHECK(vopen_rc(WARD_VOL_RDONLY, &w, err) == -EUCLEAN && w == NULL);
	CHECK(strstr(err, "is incomplete: its creation by 'ward fs encrypt' was interrupted") != NULL);
	CHECK(vopen_rc(WARD_VOL_RDWR, &w, err) == -EUCLEAN && w == NULL);

	/* creating it again replaces it */
	v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE | WARD_VOL_INCOMPLETE);
	CHECK(v != NULL && !disk_has("a") && !disk_has("d") && disk_has(".ward-volume/incomplete"));
	CHECK(v != NULL && vol_put_str(v, "b", "second") == 0);
	CHECK(v != NULL && ward_vol_complete(v, err) == 0);
	CHECK(!disk_has(".ward-volume/incomplete"));
	CHECK(v != NULL && ward_vol_complete(v, err) == -EINVAL);
	if (v != NULL)
		CHECK(ward_vol_close(v, err) == 0);
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && vol_verify(v) == 0 && vol_read_str(v, "b", buf, sizeof(buf)) == 6);
	CHECK(v != NULL && vol_read_str(v, "a", buf, sizeof(buf)) == -ENOENT);
	ward_vol_close(v, NULL);
	/* a complete volume is not replaced, nor discarded */
	CHECK(vopen_rc(WARD_VOL_RDWR | WARD_VOL_CREATE, &w, err) == -ENOTEMPTY && w == NULL);
	v = vopen(WARD_VOL_RDWR);
	CHECK(v != NULL && ward_vol_discard(v, err) == -EINVAL && disk_has("b"));

	/* discarded: nothing left but the (empty) directory */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE | WARD_VOL_INCOMPLETE);
	if (v != NULL)
		deep(v);
	CHECK(v != NULL && ward_vol_discard(v, err) == 0);
	CHECK(rmdir(dir) == 0);

	/* without WARD_VOL_INCOMPLETE, complete once created */
	v = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE);
	CHECK(v != NULL && !disk_has(".ward-volume/incomplete"));
	ward_vol_close(v, NULL);
	CHECK(system(cmd) == 0);

	/* something that only looks like a leftover (a marker with other
	 * text, or without a volume's manifest next to user files) is never
	 * cleared */
	CHECK(mkdir(dir, 0755) == 0);
	char meta[512];
	snprintf(meta, sizeof(meta), "%s/.ward-volume", dir);
	CHECK(mkdir(meta, 0755) == 0);
	put_in(dir, ".ward-volume/incomplete", "mine", 4);
	put_in(dir, "notes.txt", "keep me", 7);
	CHECK(vopen_rc(WARD_VOL_RDWR | WARD_VOL_CREATE, &w, err) == -ENOTEMPTY && w == NULL);
	CHECK(disk_has("notes.txt") && disk_has(".ward-volume/incomplete"));
	CHECK(system(cmd) == 0);
}

static void test_not_a_volume(void)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *w;
	CHECK(mkdir(dir, 0755) == 0);
	put_in(dir, "plain.txt", "x", 1);
	for (int flags = WARD_VOL_RDONLY; flags <= WARD_VOL_RDWR; flags++) {
		CHECK(vopen_rc(flags, &w, err) == -ENOENT && w == NULL);
		CHECK(strstr(err, "is not a volume (no manifest ") != NULL);
	}
	CHECK(!disk_has(".ward-volume"));
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_locks(void)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *r1, *r2, *w;

	w = vopen(WARD_VOL_RDWR | WARD_VOL_CREATE);
	CHECK(w != NULL && vol_put_str(w, "a", "data") == 0);
	/* a writer: readers are refused (they would see its steps) */
	CHECK(vopen_rc(WARD_VOL_RDONLY, &r1, err) == -EBUSY && r1 == NULL);
	CHECK(strstr(err, "is open for writing by another process") != NULL);
	CHECK(vopen_rc(WARD_VOL_RDWR, &r1, err) == -EBUSY && r1 == NULL);
	ward_vol_close(w, NULL);
	/* readers share; a writer is refused while they read */
	r1 = vopen(WARD_VOL_RDONLY);
	r2 = vopen(WARD_VOL_RDONLY);
	CHECK(r1 != NULL && r2 != NULL);
	CHECK(vopen_rc(WARD_VOL_RDWR, &w, err) == -EAGAIN && w == NULL);
	CHECK(strstr(err, "is open for reading by another process") != NULL);
	ward_vol_close(r1, NULL);
	CHECK(vopen_rc(WARD_VOL_RDWR, &w, err) == -EAGAIN && w == NULL);
	ward_vol_close(r2, NULL);
	w = vopen(WARD_VOL_RDWR);
	CHECK(w != NULL && ward_vol_writable(w));
	ward_vol_close(w, NULL);
}

/* A read-write open that may not write the lock, or the manifest, opens
 * read-only (as root, the immutable flag stands in for a volume the user
 * may not write). */
static void test_rdwr_fallback(void)
{
	char err[WARD_VOL_ERR_LEN], buf[64];
	ward_vol *v, *r;
	ward_vfile *f;
	const char *what[] = { ".ward-volume/lock", ".ward-volume/manifest" };

	for (int i = 0; i < 2; i++) {
		if (immutable(what[i], 1) != 0) {
			printf("skip: cannot make %s immutable here\n", what[i]);
			continue;
		}
		v = vopen(WARD_VOL_RDWR);
		CHECK(v != NULL && !ward_vol_writable(v));
		CHECK(v != NULL && vol_read_str(v, "a", buf, sizeof(buf)) == 4 && strcmp(buf, "data") == 0);
		CHECK(v != NULL && ward_vf_open(v, "new", O_RDWR | O_CREAT, 0600, &f, err) == -EROFS);
		CHECK(v != NULL && ward_vol_mkdir(v, "dir", 0755, err) == -EROFS);
		/* it reads as a reader: others read too */
		r = vopen(WARD_VOL_RDONLY);
		CHECK(r != NULL);
		ward_vol_close(r, NULL);
		CHECK(v != NULL && ward_vol_close(v, err) == 0);
		CHECK(immutable(what[i], 0) == 0);
	}
	v = vopen(WARD_VOL_RDWR);
	CHECK(v != NULL && ward_vol_writable(v));
	ward_vol_close(v, NULL);
}

/* a writer grows "g" (1 MiB, never committed: its DIRTY record is the
 * last thing it wrote) and dies */
static int grow_and_die(void)
{
	static char mb[1 << 20];
	char err[WARD_VOL_ERR_LEN];
	int st = -1;
	pid_t pid = fork();
	if (pid == 0) {
		ward_vfile *f;
		ward_vol *v = vopen(WARD_VOL_RDWR);
		memset(mb, 'g', sizeof(mb));
		_exit(v != NULL && ward_vf_open(v, "g", O_RDWR, 0, &f, err) == 0 &&
				      ward_vf_pwrite(f, mb, sizeof(mb), 4, err) == (ssize_t)sizeof(mb)
			      ? 0
			      : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_reclaim(void)
{
	char buf[64];
	ward_vol *v = vopen(WARD_VOL_RDWR);
	CHECK(v != NULL && vol_put_str(v, "g", "four") == 0);
	ward_vol_close(v, NULL);

	CHECK(grow_and_die() == 0);
	CHECK(disk_size("g") == 4 + (1 << 20));
	v = vopen(WARD_VOL_RDONLY); /* tolerated, left as it is */
	CHECK(v != NULL && vol_verify(v) == 0 && vol_read_str(v, "g", buf, sizeof(buf)) == 4);
	ward_vol_close(v, NULL);
	CHECK(disk_size("g") == 4 + (1 << 20));
	v = vopen(WARD_VOL_RDWR); /* cut back */
	CHECK(disk_size("g") == 4);
	CHECK(v != NULL && vol_verify(v) == 0 && vol_read_str(v, "g", buf, sizeof(buf)) == 4);
	ward_vol_close(v, NULL);
	/* it grows again after that (announced anew), and a second crash
	 * leaves it tolerated and reclaimed the same way */
	CHECK(grow_and_die() == 0);
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && vol_verify(v) == 0);
	ward_vol_close(v, NULL);

	/* a flagged entry in a snapshot (lazy open): the cut failed once (the
	 * file was immutable), the flag went into the snapshot at close */
	if (immutable("g", 1) != 0) {
		printf("skip: cannot make a file immutable here\n");
		return;
	}
	v = vopen(WARD_VOL_RDWR);
	ward_vol_close(v, NULL); /* writes a snapshot: the journal had records */
	CHECK(immutable("g", 0) == 0);
	CHECK(disk_size("g") == 4 + (1 << 20));
	v = vopen(WARD_VOL_RDWR);
	CHECK(disk_size("g") == 4);
	CHECK(v != NULL && vol_verify(v) == 0 && vol_put_str(v, "g", "rewritten") == 0 && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
	v = vopen(WARD_VOL_RDONLY);
	CHECK(v != NULL && vol_verify(v) == 0 && vol_read_str(v, "g", buf, sizeof(buf)) == 9);
	ward_vol_close(v, NULL);
}

/* A creation whose file cannot be made on disk (no descriptor left) is
 * taken back: the volume lists nothing that is not there. */
static void test_failed_create(void)
{
	char err[WARD_VOL_ERR_LEN];
	struct ward_vstat st;
	struct rlimit old, lim;
	ward_vfile *f = NULL;
	int nfd = 0;
	ward_vol *v = vopen(WARD_VOL_RDWR);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	while (d != NULL && readdir(d) != NULL)
		nfd++;
	if (d != NULL)
		closedir(d);
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	lim = old;
	lim.rlim_cur = (rlim_t)(nfd - 3); /* the fds now open, less ".", ".." and the closed listing */
	CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
	CHECK(ward_vf_open(v, "h", O_RDWR | O_CREAT, 0600, &f, err) == -EMFILE);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CHECK(ward_vol_stat(v, "h", &st, err) == -ENOENT && !disk_has("h"));
	CHECK(vol_verify(v) == 0);
	ward_vol_close(v, NULL);
	v = vopen(WARD_VOL_RDWR);
	CHECK(v != NULL && ward_vol_stat(v, "h", &st, err) == -ENOENT && vol_verify(v) == 0);
	CHECK(v != NULL && vol_put_str(v, "h", "made") == 0 && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
}

int main(void)
{
	char tmpl[] = "/tmp/ward-robust-test.XXXXXX";
	memset(key, 5, sizeof(key));
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	test_incomplete();
	test_not_a_volume();
	test_locks();
	test_rdwr_fallback();
	test_reclaim();
	test_failed_create();
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
