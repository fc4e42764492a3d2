/* test_lazy_oom.c: a lazily opened volume materialises a node on its first
 * lookup (src/fs/internal.h, struct lazy). When an allocation fails there,
 * the entry exists: every caller must answer -ENOMEM with a line naming the
 * path and "out of memory", never -ENOENT, and a writable volume must not
 * take the entry for missing and create it again. Allocations fail through
 * the test hook wv_lazy_fail_alloc (the Nth one made while materialising). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/internal.h"
#include "fs/volume.h"
#include "test.h"
#include "files.h"

static uint8_t key[32];

/* err names path and says "out of memory" */
static int oom_line(const char *err, const char *path)
{
	return strstr(err, path) != NULL && strstr(err, "out of memory") != NULL && strchr(err, '\n') == NULL;
}

static ward_vol *eopen(const char *dir, char *err)
{
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR };
	return ward_vol_open(dir, &o, &v, err) == 0 ? v : NULL;
}

static void write_str(ward_vol *v, const char *path, const char *s)
{
	ward_vfile *f = NULL;
	char err[WARD_VOL_ERR_LEN];
	CHECK(ward_vf_open(v, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f, err) == 0);
	if (f != NULL) {
		CHECK(ward_vf_pwrite(f, s, strlen(s), 0, err) == (ssize_t)strlen(s));
		CHECK(ward_vf_close(f, err) == 0);
	}
}

/* a read-only authenticated volume: open, listing, descriptor check */
static void read_only(const char *base)
{
	char tree[300], man[300], err[WARD_VOL_ERR_LEN], p[600];
	uint8_t tag[32];
	ward_vol *v = NULL;
	ward_vfile *f = NULL;
	struct ward_vdirent *e = NULL;
	size_t ne = 0;

	snprintf(tree, sizeof(tree), "%s/ro", base);
	snprintf(man, sizeof(man), "%s/ro.manifest", base);
	CHECK(mkdir(tree, 0755) == 0);
	snprintf(p, sizeof(p), "%s/d", tree);
	CHECK(mkdir(p, 0755) == 0);
	put_in(tree, "d/f", "file f", strlen("file f"));
	put_in(tree, "d/g", "file g", strlen("file g"));
	CHECK(ward_vol_authenticate(tree, man, tag, NULL, NULL, NULL, err) == 0);
	struct ward_vol_opts o = { .kind = WARD_VOL_AUTHENTICATED, .manifest = man, .flags = WARD_VOL_RDONLY };
	CHECK(ward_vol_open(tree, &o, &v, err) == 0);
	if (v == NULL)
		return;
	CHECK(v->lz != NULL && v->tcount == 0);

	/* a file of one chunk: the node, its chunk list, the table slot */
	for (int k = 1; k <= 3; k++) {
		err[0] = 0;
		wv_lazy_fail_alloc = k;
		CHECK(ward_vf_open(v, "d/f", O_RDONLY, 0, &f, err) == -ENOMEM);
		CHECK(wv_lazy_fail_alloc == 0); /* the kth allocation was reached */
		CHECK(oom_line(err, "d/f"));
		CHECK(v->tcount == 0); /* nothing half made is left in the table */
	}
	wv_lazy_fail_alloc = 0;
	CHECK(ward_vf_open(v, "d/f", O_RDONLY, 0, &f, err) == 0 && v->tcount == 1);
	if (f != NULL)
		ward_vf_close(f, NULL);
	/* a file that is missing stays missing, and allocates nothing */
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vf_open(v, "d/nope", O_RDONLY, 0, &f, err) == -ENOENT);
	CHECK(wv_lazy_fail_alloc == 1);

	/* the directory of a listing */
	for (int k = 1; k <= 2; k++) {
		err[0] = 0;
		wv_lazy_fail_alloc = k;
		CHECK(ward_vol_readdir(v, "d", &e, &ne, err) == -ENOMEM);
		CHECK(oom_line(err, "d"));
	}
	wv_lazy_fail_alloc = 0;
	CHECK(ward_vol_readdir(v, "d", &e, &ne, err) == 0 && ne == 2);
	free(e);

	/* a caller's descriptor checked against the volume */
	snprintf(p, sizeof(p), "%s/d/g", tree);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	err[0] = 0;
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vol_verify_fd(v, "d/g", fd, err) == -ENOMEM);
	CHECK(oom_line(err, "d/g"));
	wv_lazy_fail_alloc = 0;
	CHECK(ward_vol_verify_fd(v, "d/g", fd, err) == 0);
	close(fd);
	ward_vol_close(v, NULL);
}

/* a writable encrypted volume: an entry whose lookup ran out of memory is
 * not missing, so nothing is created in its place */
static void writable(const char *base)
{
	char dir[300], err[WARD_VOL_ERR_LEN], s[64];
	ward_vol *v = NULL;
	ward_vfile *f = NULL;

	snprintf(dir, sizeof(dir), "%s/rw", base);
	{
		struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
		CHECK(ward_vol_open(dir, &o, &v, err) == 0);
		if (v == NULL)
			return;
		CHECK(ward_vol_mkdir(v, "pkg", 0755, err) == 0);
		CHECK(ward_vol_mkdir(v, "lib", 0755, err) == 0);
		write_str(v, "top.txt", "top");
		write_str(v, "pkg/a.py", "a = 1");
		CHECK(ward_vol_close(v, err) == 0);
	}
	v = eopen(dir, err);
	CHECK(v != NULL && v->lz != NULL);
	if (v == NULL)
		return;

	/* O_CREAT on an existing file */
	err[0] = 0;
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vf_open(v, "top.txt", O_WRONLY | O_CREAT, 0644, &f, err) == -ENOMEM);
	CHECK(oom_line(err, "top.txt"));
	/* mkdir of an existing directory, and below one not yet looked up */
	err[0] = 0;
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vol_mkdir(v, "lib", 0755, err) == -ENOMEM);
	CHECK(oom_line(err, "lib"));
	err[0] = 0;
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vol_mkdir(v, "pkg/new", 0755, err) == -ENOMEM);
	CHECK(oom_line(err, "pkg"));
	/* attributes */
	err[0] = 0;
	wv_lazy_fail_alloc = 1;
	CHECK(ward_vol_setattr(v, "pkg/a.py", 0600, -1, err) == -ENOMEM);
	CHECK(oom_line(err, "pkg/a.py"));
	wv_lazy_fail_alloc = 0;
	CHECK(v->lz != NULL); /* nothing was written */
	CHECK(ward_vol_close(v, err) == 0);

	/* the volume is as it was */
	v = eopen(dir, err);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(vol_read_str(v, "top.txt", s, sizeof(s)) == 3 && strcmp(s, "top") == 0);
	CHECK(vol_read_str(v, "pkg/a.py", s, sizeof(s)) == 5);
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
	CHECK(ward_vol_mkdir(v, "pkg/new", 0755, err) == 0);
	CHECK(ward_vol_close(v, err) == 0);
}

int main(void)
{
	char tmpl[] = "/tmp/ward-lazy-oom-test.XXXXXX", cmd[600];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 5 + 3);
	CHECK(mkdtemp(tmpl) != NULL);
	read_only(tmpl);
	writable(tmpl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
