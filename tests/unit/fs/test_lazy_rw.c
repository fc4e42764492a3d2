/* test_lazy_rw.c: a writable encrypted volume whose manifest is one
 * snapshot is opened lazily and turns eager before its first change
 * (src/fs/internal.h, struct lazy). Every answer must equal the eager
 * loader's: lookups, listings, the tag, the refusal of a non-empty
 * directory's removal, and the manifest written after the same changes
 * (byte for byte, when the changes draw no random ids or nonces). */
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
static char base[256], src[300];

static ward_vol *vopen(const char *dir, int lazy, char *err)
{
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR };
	wv_lazy_disabled = !lazy;
	int rc = ward_vol_open(dir, &o, &v, err);
	wv_lazy_disabled = 0;
	if (rc != 0)
		fprintf(stderr, "open %s: %s\n", dir, err);
	return rc == 0 ? v : NULL;
}

/* a fresh copy of the source volume at base/NAME */
static void copy(const char *name, char *out, size_t cap)
{
	char cmd[1024];
	snprintf(out, cap, "%s/%s", base, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", out, src, out);
	CHECK(system(cmd) == 0);
}

static void list(ward_vol *v, const char *d, char *out, size_t cap)
{
	struct ward_vdirent *e;
	size_t n, o = 0;
	int rc = ward_vol_readdir(v, d, &e, &n, NULL);
	out[0] = 0;
	if (rc != 0) {
		snprintf(out, cap, "!%d", -rc);
		return;
	}
	for (size_t i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s:%o", i ? " " : "", e[i].name, (unsigned)e[i].mode);
	free(e);
}

static void write_str(ward_vol *v, const char *path, const char *s)
{
	ward_vfile *f;
	char err[WARD_VOL_ERR_LEN];
	CHECK(ward_vf_open(v, path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f, err) == 0);
	if (f != NULL) {
		CHECK(ward_vf_pwrite(f, s, strlen(s), 0, err) == (ssize_t)strlen(s));
		CHECK(ward_vf_close(f, err) == 0);
	}
}

/* the changes that draw no randomness: attributes with explicit times,
 * renames (of a file, and of a directory with entries never looked up),
 * removals, and the refusals that depend on children counts */
static void changes(ward_vol *v)
{
	char err[WARD_VOL_ERR_LEN];
	CHECK(ward_vol_rmdir(v, "pkg", err) == -ENOTEMPTY);
	CHECK(ward_vol_rmdir(v, "pkg/sub", err) == -ENOTEMPTY);
	CHECK(ward_vol_rename(v, "top.txt", "pkg", err) == -EISDIR);
	CHECK(ward_vol_rename(v, "empty", "pkg", err) == -ENOTEMPTY);
	CHECK(ward_vol_setattr(v, "pkg/a.py", 0600, 1234567890, err) == 0);
	CHECK(ward_vol_rename(v, "pkg/sub", "moved", err) == 0);
	CHECK(ward_vol_unlink(v, "moved/deep/x.py", err) == 0);
	CHECK(ward_vol_rmdir(v, "moved/deep", err) == 0);
	CHECK(ward_vol_rmdir(v, "empty", err) == 0);
	CHECK(ward_vol_rename(v, "top.txt", "pkg/top.txt", err) == 0);
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-lazy-rw-test.XXXXXX", a[600], b[600], s1[4096], s2[4096];
	uint8_t tag1[32], tag2[32];
	ward_vol *v, *w;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(base, sizeof(base), "%s", tmpl);
	snprintf(src, sizeof(src), "%s/src", base);
	{
		struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
		CHECK(ward_vol_open(src, &o, &v, err) == 0);
		CHECK(ward_vol_mkdir(v, "pkg", 0755, err) == 0);
		CHECK(ward_vol_mkdir(v, "pkg/sub", 0755, err) == 0);
		CHECK(ward_vol_mkdir(v, "pkg/sub/deep", 0755, err) == 0);
		CHECK(ward_vol_mkdir(v, "empty", 0700, err) == 0);
		write_str(v, "top.txt", "top");
		write_str(v, "pkg/a.py", "print('a')");
		write_str(v, "pkg/sub/b.py", "b = 1");
		write_str(v, "pkg/sub/deep/x.py", "x");
		for (int i = 0; i < 40; i++) {
			char p[64];
			snprintf(p, sizeof(p), "pkg/m%02d.py", i);
			write_str(v, p, p);
		}
		CHECK(ward_vol_close(v, err) == 0);
	}

	/* unchanged: lazy, with the eager answers */
	copy("lazy", a, sizeof(a));
	copy("eager", b, sizeof(b));
	v = vopen(a, 1, err);
	w = vopen(b, 0, err);
	CHECK(v != NULL && w != NULL);
	if (v == NULL || w == NULL)
		return TEST_DONE();
	CHECK(v->lz != NULL && v->tcount == 0 && w->lz == NULL && w->tcount == 48);
	CHECK(ward_vol_tag(v, tag1) == 0 && ward_vol_tag(w, tag2) == 0 && memcmp(tag1, tag2, 32) == 0);
	const char *dirs[] = { "", "pkg", "pkg/sub", "pkg/sub/deep", "empty", "top.txt", "nope" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		list(v, dirs[i], s1, sizeof(s1));
		list(w, dirs[i], s2, sizeof(s2));
		CHECK(strcmp(s1, s2) == 0);
	}
	{
		struct ward_vstat x, y;
		CHECK(ward_vol_stat(v, "pkg/sub/b.py", &x, NULL) == 0 && ward_vol_stat(w, "pkg/sub/b.py", &y, NULL) == 0);
		CHECK(x.ino == y.ino && x.mode == y.mode && x.size == y.size && x.mtime_ns == y.mtime_ns);
		CHECK(ward_vol_stat(v, "pkg/b.py", &x, NULL) == -ENOENT);
	}
	size_t cached = v->tcount; /* the directories listed, and stat does not add */
	CHECK(cached > 0 && cached < 10);
	CHECK(vol_read_str(v, "pkg/sub/b.py", s1, sizeof(s1)) == 5 && strcmp(s1, "b = 1") == 0);
	CHECK(v->lz != NULL && v->tcount == cached + 1); /* reads do not change the volume */
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0 && v->lz != NULL);
	/* a snapshot straight after the lazy open equals the eager one */
	pthread_mutex_lock(&v->mu);
	CHECK(wv_manifest_snapshot(v, err) == 0 && v->lz == NULL && v->tcount == 48);
	pthread_mutex_unlock(&v->mu);
	pthread_mutex_lock(&w->mu);
	CHECK(wv_manifest_snapshot(w, err) == 0);
	pthread_mutex_unlock(&w->mu);
	CHECK(ward_vol_tag(v, tag1) == 0 && memcmp(tag1, tag2, 32) == 0);
	CHECK(ward_vol_close(v, err) == 0 && ward_vol_close(w, err) == 0);
	{
		size_t n1, n2;
		uint8_t *m1, *m2;
		snprintf(s1, sizeof(s1), "%s/.ward-volume/manifest", a);
		snprintf(s2, sizeof(s2), "%s/.ward-volume/manifest", b);
		m1 = slurp(s1, 1 << 20, &n1);
		m2 = slurp(s2, 1 << 20, &n2);
		CHECK(n1 > WVOL_HDR_LEN && n1 == n2 && memcmp(m1, m2, n1) == 0);
		free(m1);
		free(m2);
	}

	/* the same changes after a lazy and an eager open: the same manifest */
	copy("lazy", a, sizeof(a));
	copy("eager", b, sizeof(b));
	v = vopen(a, 1, err);
	w = vopen(b, 0, err);
	CHECK(v != NULL && w != NULL && v->lz != NULL && w->lz == NULL);
	if (v == NULL || w == NULL)
		return TEST_DONE();
	changes(v);
	changes(w);
	CHECK(v->lz == NULL && v->tcount == w->tcount);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		list(v, dirs[i], s1, sizeof(s1));
		list(w, dirs[i], s2, sizeof(s2));
		CHECK(strcmp(s1, s2) == 0);
	}
	list(v, "moved", s1, sizeof(s1));
	CHECK(strcmp(s1, "b.py:100644") == 0);
	CHECK(ward_vol_tag(v, tag1) == 0 && ward_vol_tag(w, tag2) == 0 && memcmp(tag1, tag2, 32) == 0);
	CHECK(ward_vol_close(v, err) == 0 && ward_vol_close(w, err) == 0);
	{
		size_t n1, n2;
		uint8_t *m1, *m2;
		snprintf(s1, sizeof(s1), "%s/.ward-volume/manifest", a);
		snprintf(s2, sizeof(s2), "%s/.ward-volume/manifest", b);
		m1 = slurp(s1, 1 << 20, &n1);
		m2 = slurp(s2, 1 << 20, &n2);
		CHECK(n1 > WVOL_HDR_LEN && n1 == n2 && memcmp(m1, m2, n1) == 0);
		free(m1);
		free(m2);
	}
	/* reopened (lazily: the close wrote one snapshot), the changes are there */
	v = vopen(a, 1, err);
	CHECK(v != NULL && v->lz != NULL);
	if (v != NULL) {
		CHECK(vol_read_str(v, "moved/b.py", s1, sizeof(s1)) == 5 && strcmp(s1, "b = 1") == 0);
		CHECK(vol_read_str(v, "pkg/top.txt", s1, sizeof(s1)) == 3);
		CHECK(vol_read_str(v, "pkg/sub/b.py", s1, sizeof(s1)) == -ENOENT);
		CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
		ward_vol_close(v, NULL);
	}

	/* creating, writing and removing after a lazy open, with some entries
	 * looked up before (cached nodes) and others not */
	copy("lazy", a, sizeof(a));
	v = vopen(a, 1, err);
	CHECK(v != NULL && v->lz != NULL);
	if (v == NULL)
		return TEST_DONE();
	CHECK(vol_read_str(v, "pkg/m03.py", s1, sizeof(s1)) == 10);
	CHECK(ward_vol_mkdir(v, "pkg/sub/new", 0755, err) == 0 && v->lz == NULL);
	CHECK(ward_vol_rmdir(v, "pkg/sub", err) == -ENOTEMPTY);
	write_str(v, "pkg/sub/new/f.txt", "fresh");
	write_str(v, "pkg/m03.py", "rewritten");
	CHECK(ward_vol_unlink(v, "pkg/m04.py", err) == 0);
	CHECK(ward_vol_rmdir(v, "empty", err) == 0);
	list(v, "pkg/sub", s1, sizeof(s1));
	CHECK(strcmp(s1, "b.py:100644 deep:40755 new:40755") == 0);
	CHECK(ward_vol_close(v, err) == 0);
	/* a write alone (no namespace change) also turns the volume eager */
	v = vopen(a, 1, err);
	CHECK(v != NULL && v->lz != NULL);
	if (v == NULL)
		return TEST_DONE();
	CHECK(vol_read_str(v, "pkg/sub/new/f.txt", s1, sizeof(s1)) == 5 && strcmp(s1, "fresh") == 0);
	CHECK(vol_read_str(v, "pkg/m03.py", s1, sizeof(s1)) == 9 && strcmp(s1, "rewritten") == 0);
	CHECK(vol_read_str(v, "pkg/m04.py", s1, sizeof(s1)) == -ENOENT);
	write_str(v, "top.txt", "TOP!");
	CHECK(v->lz == NULL && v->tcount == 48);
	CHECK(ward_vol_rmdir(v, "pkg/sub/new", err) == -ENOTEMPTY);
	CHECK(ward_vol_close(v, err) == 0);
	v = vopen(a, 0, err);
	CHECK(v != NULL && v->lz == NULL);
	if (v != NULL) {
		CHECK(vol_read_str(v, "top.txt", s1, sizeof(s1)) == 4 && strcmp(s1, "TOP!") == 0);
		CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
		ward_vol_close(v, NULL);
	}

	snprintf(s1, sizeof(s1), "rm -rf %s", tmpl);
	CHECK(system(s1) == 0);
	return TEST_DONE();
}
