/* test_links.c: symbolic links in encrypted volumes (volume.h, "Symbolic
 * links"; format.h, WVOL_T_LINK): creation, readlink (and its truncation),
 * stat, readdir, unlink, rename, setattr and every refusal; persistence
 * across close and reopen, eager and lazy, and the link counter; tampering
 * with a link's disk file (a flipped byte, a replayed older target), the
 * tag following the target; manifests whose link entries are impossible;
 * a creation killed between its two records; import and export of a plain
 * tree with links of every kind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "fs/internal.h"
#include "files.h"
#include "forge.h"

static uint8_t key[32];
static char base[256], dir[300];

static ward_vol *vopen(const char *d, int flags, int lazy)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = flags };
	wv_lazy_disabled = !lazy;
	if (ward_vol_open(d, &o, &v, err) != 0)
		fprintf(stderr, "open: %s\n", err);
	wv_lazy_disabled = 0;
	return v;
}

/* the target of link p as a string ("" when readlink fails) */
static const char *target_of(ward_vol *v, const char *p)
{
	static char buf[WARD_VOL_MAX_LINK + 1];
	ssize_t n = ward_vol_readlink(v, p, buf, WARD_VOL_MAX_LINK, NULL);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static uint32_t mode_of(ward_vol *v, const char *p)
{
	struct ward_vstat st;
	return ward_vol_stat(v, p, &st, NULL) == 0 ? st.mode : 0;
}

/* "name:mode " for each entry of directory d */
static void listing(ward_vol *v, const char *d, char *out, size_t cap)
{
	struct ward_vdirent *e = NULL;
	size_t n = 0, k = 0;
	out[0] = '\0';
	CHECK(ward_vol_readdir(v, d, &e, &n, NULL) == 0);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(out + k, cap - k, "%s:%o ", e[i].name, e[i].mode);
	free(e);
}

static void disk_path(const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, rel);
}

static void flip_at(const char *d, const char *rel, size_t at)
{
	char p[600];
	size_t n;
	snprintf(p, sizeof(p), "%s/%s", d, rel);
	uint8_t *b = slurp(p, 8192, &n);
	CHECK(b != NULL && n > at);
	if (b != NULL && n > at) {
		b[at] ^= 0x20;
		spill(p, b, n);
	}
	free(b);
}

static void flip(const char *rel, size_t at) { flip_at(dir, rel, at); }
static void flip_in(const char *d, const char *rel) { flip_at(d, rel, 2); }

static void basics(ward_vol *v)
{
	char err[WARD_VOL_ERR_LEN], buf[64], s[600];
	struct ward_vstat st;
	ward_vfile *f = NULL;
	static char longt[WARD_VOL_MAX_LINK + 2];

	CHECK(ward_vol_mkdir(v, "d", 0755, err) == 0);
	CHECK(vol_put_str(v, "f", "file data") == 0);
	CHECK(ward_vol_links(v) == 0);
	CHECK(ward_vol_symlink(v, "l", "f", err) == 0);
	CHECK(ward_vol_symlink(v, "d/up", "../f", err) == 0);
	CHECK(ward_vol_symlink(v, "abs", "/etc/passwd", err) == 0);
	CHECK(ward_vol_links(v) == 3);
	CHECK(strcmp(target_of(v, "l"), "f") == 0 && strcmp(target_of(v, "d/up"), "../f") == 0);

	/* readlink(2): at most len bytes, no NUL, the full length returned */
	memset(buf, '#', sizeof(buf));
	CHECK(ward_vol_readlink(v, "abs", buf, 4, err) == 11);
	CHECK(memcmp(buf, "/etc#", 5) == 0);
	CHECK(ward_vol_readlink(v, "abs", buf, 0, err) == 11);

	/* stat and readdir: S_IFLNK | 0777, the target's length */
	CHECK(ward_vol_stat(v, "abs", &st, err) == 0 && st.mode == (S_IFLNK | 0777) && st.size == 11 && st.ino != 0);
	listing(v, "", s, sizeof(s));
	CHECK(strcmp(s, "abs:120777 d:40755 f:100600 l:120777 ") == 0);

	/* refusals */
	CHECK(ward_vol_symlink(v, "l", "x", err) == -EEXIST);
	CHECK(ward_vol_symlink(v, "f", "x", err) == -EEXIST);
	CHECK(ward_vol_symlink(v, "new", "", err) == -ENOENT);
	memset(longt, 'a', WARD_VOL_MAX_LINK + 1);
	CHECK(ward_vol_symlink(v, "new", longt, err) == -ENAMETOOLONG);
	CHECK(strcmp(err, "'new': link target too long (more than 4095 bytes)") == 0);
	CHECK(ward_vol_symlink(v, "nodir/x", "f", err) == -ENOENT);
	CHECK(ward_vol_symlink(v, "f/x", "f", err) == -ENOTDIR);
	CHECK(ward_vol_symlink(v, "", "f", err) == -EEXIST);
	CHECK(ward_vol_links(v) == 3);
	CHECK(ward_vol_stat(v, "new", &st, NULL) == -ENOENT);
	longt[WARD_VOL_MAX_LINK] = '\0'; /* 4095 bytes: the longest */
	CHECK(ward_vol_symlink(v, "long", longt, err) == 0);
	CHECK(strcmp(target_of(v, "long"), longt) == 0);
	CHECK(ward_vol_readlink(v, "f", buf, sizeof(buf), err) == -EINVAL);
	CHECK(ward_vol_readlink(v, "d", buf, sizeof(buf), err) == -EINVAL);
	CHECK(ward_vol_readlink(v, "", buf, sizeof(buf), err) == -EINVAL);
	CHECK(ward_vol_readlink(v, "none", buf, sizeof(buf), err) == -ENOENT);
	CHECK(ward_vf_open(v, "l", O_RDONLY, 0, &f, err) == -ELOOP);
	CHECK(ward_vf_open(v, "l", O_RDWR | O_CREAT, 0600, &f, err) == -ELOOP);
	CHECK(ward_vf_open(v, "l", O_RDWR | O_CREAT | O_EXCL, 0600, &f, err) == -EEXIST);
	CHECK(ward_vol_rmdir(v, "l", err) == -ENOTDIR);
	CHECK(ward_vol_setattr(v, "l", 0644, -1, err) == -EOPNOTSUPP);
	CHECK(ward_vol_setattr(v, "l", -1, 1234567890123, err) == 0);
	CHECK(ward_vol_stat(v, "l", &st, err) == 0 && st.mtime_ns == 1234567890123 && st.mode == (S_IFLNK | 0777));

	/* rename: moves; replaces a file or a link (as rename(2)); not a
	 * directory, nor is replaced by one */
	CHECK(ward_vol_rename(v, "l", "d/l2", err) == 0 && strcmp(target_of(v, "d/l2"), "f") == 0);
	CHECK(ward_vol_stat(v, "l", &st, NULL) == -ENOENT);
	CHECK(vol_put_str(v, "g", "gone") == 0);
	CHECK(ward_vol_rename(v, "d/l2", "g", err) == 0 && mode_of(v, "g") == (S_IFLNK | 0777));
	CHECK(ward_vol_links(v) == 4);
	CHECK(ward_vol_symlink(v, "k", "kk", err) == 0 && ward_vol_links(v) == 5);
	CHECK(ward_vol_rename(v, "g", "k", err) == 0 && strcmp(target_of(v, "k"), "f") == 0);
	CHECK(ward_vol_links(v) == 4);
	CHECK(vol_put_str(v, "h", "h data") == 0);
	CHECK(ward_vol_rename(v, "h", "k", err) == 0 && mode_of(v, "k") == (S_IFREG | 0600));
	CHECK(ward_vol_links(v) == 3);
	CHECK(ward_vol_symlink(v, "m", "f", err) == 0);
	CHECK(ward_vol_rename(v, "m", "d", err) == -EISDIR);
	CHECK(ward_vol_mkdir(v, "e", 0755, err) == 0);
	CHECK(ward_vol_rename(v, "e", "m", err) == -ENOTDIR);
	CHECK(ward_vol_rmdir(v, "e", err) == 0);

	/* unlink: the entry and its disk file */
	CHECK(ward_vol_unlink(v, "m", err) == 0 && ward_vol_links(v) == 3);
	disk_path("m", s, sizeof(s));
	CHECK(access(s, F_OK) != 0);
	disk_path("abs", s, sizeof(s));
	CHECK(access(s, F_OK) == 0);
	{ /* on disk a regular file of the target's length, never a link */
		struct stat ds;
		CHECK(lstat(s, &ds) == 0 && S_ISREG(ds.st_mode) && ds.st_size == 11);
	}
	CHECK(vol_verify(v) == 0);
	/* abs, d/up, long */
}

/* the same answers from a volume opened eagerly and lazily */
static void reopen_same(void)
{
	char a[600], b[600];
	uint8_t t1[32], t2[32];
	ward_vol *e = vopen(dir, WARD_VOL_RDONLY, 0), *l = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(e != NULL && l != NULL);
	if (e == NULL || l == NULL)
		return;
	CHECK(e->lz == NULL && l->lz != NULL);
	CHECK(ward_vol_links(e) == 3 && ward_vol_links(l) == 3);
	CHECK(l->lz != NULL && l->tcount == 0); /* counted without a node */
	listing(e, "", a, sizeof(a));
	listing(l, "", b, sizeof(b));
	CHECK(strcmp(a, b) == 0 && strstr(a, "abs:120777 ") != NULL);
	CHECK(mode_of(l, "d/up") == (S_IFLNK | 0777) && mode_of(e, "d/up") == (S_IFLNK | 0777));
	CHECK(strcmp(target_of(l, "d/up"), "../f") == 0 && strcmp(target_of(e, "abs"), "/etc/passwd") == 0);
	CHECK(ward_vol_tag(e, t1) == 0 && ward_vol_tag(l, t2) == 0 && memcmp(t1, t2, 32) == 0);
	CHECK(vol_verify(l) == 0 && vol_verify(e) == 0);
	{
		char err[WARD_VOL_ERR_LEN];
		CHECK(ward_vol_symlink(l, "x", "y", err) == -EROFS);
		CHECK(ward_vol_unlink(l, "abs", err) == -EROFS);
	}
	ward_vol_close(e, NULL);
	ward_vol_close(l, NULL);
	/* read-write lazy: the counter survives the switch to eager */
	l = vopen(dir, WARD_VOL_RDWR, 1);
	CHECK(l != NULL && l->lz != NULL);
	if (l != NULL) {
		CHECK(ward_vol_symlink(l, "n", "f", NULL) == 0 && l->lz == NULL && ward_vol_links(l) == 4);
		CHECK(ward_vol_unlink(l, "n", NULL) == 0 && ward_vol_links(l) == 3);
		CHECK(ward_vol_close(l, NULL) == 0);
	}
}

static void tamper(void)
{
	char err[WARD_VOL_ERR_LEN], want[700], p[600], buf[64];
	uint8_t t1[32], t2[32];
	size_t n;
	ward_vol *v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	ward_vol_close(v, NULL);

	/* a flipped byte: -EIO naming the link and the chunk, from readlink
	 * and from verify */
	flip("abs", 3);
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	snprintf(want, sizeof(want),
		 "'%s/abs' chunk 0: authentication failed (data modified, swapped or replayed outside the enclave)", dir);
	CHECK(v != NULL && ward_vol_readlink(v, "abs", buf, sizeof(buf), err) == -EIO);
	CHECK(strcmp(err, want) == 0);
	CHECK(ward_vol_verify(v, NULL, NULL, err) == -EIO && strcmp(err, want) == 0);
	ward_vol_close(v, NULL);
	flip("abs", 3);

	/* a replayed older target (same length) */
	v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL && ward_vol_symlink(v, "r", "one", NULL) == 0);
	disk_path("r", p, sizeof(p));
	uint8_t *old = slurp(p, 64, &n);
	CHECK(ward_vol_tag(v, t1) == 0);
	CHECK(ward_vol_unlink(v, "r", NULL) == 0 && ward_vol_symlink(v, "r", "two", NULL) == 0);
	CHECK(ward_vol_tag(v, t2) == 0 && memcmp(t1, t2, 32) != 0); /* the tag follows the target */
	CHECK(ward_vol_close(v, NULL) == 0);
	spill(p, old, n);
	free(old);
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && ward_vol_readlink(v, "r", buf, sizeof(buf), err) == -EIO);
	CHECK(strstr(err, "/r' chunk 0: authentication failed") != NULL);
	ward_vol_close(v, NULL);
	/* a missing disk file */
	CHECK(unlink(p) == 0);
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	snprintf(want, sizeof(want), "'%s/r': file missing on disk (deleted or renamed outside the enclave)", dir);
	CHECK(v != NULL && ward_vol_readlink(v, "r", buf, sizeof(buf), err) == -EIO && strcmp(err, want) == 0);
	{
		char name[300];
		CHECK(ward_vol_missing(v, "", name, sizeof(name), err) == 1 && strcmp(name, "r") == 0);
	}
	ward_vol_close(v, NULL);
	v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL && ward_vol_unlink(v, "r", NULL) == 0 && ward_vol_close(v, NULL) == 0);
}

/* Manifests whose link entries are impossible (a MAC chain recomputed with
 * the key, as only its holder can): refused at open, lazily and eagerly. */
struct recs {
	uint8_t b[1 << 16];
	size_t n;
};

static void forged(void)
{
	char man[600], err[WARD_VOL_ERR_LEN];
	size_t n;
	snprintf(man, sizeof(man), "%s/%s/manifest", dir, WARD_VOL_META_DIR);
	uint8_t *m = slurp(man, 1 << 20, &n), *m2 = NULL, vid[WVOL_ID_LEN];
	struct recs *r = malloc(sizeof(*r));
	CHECK(m != NULL && r != NULL && n > WVOL_HDR_LEN);
	if (m == NULL || r == NULL)
		return;
	memcpy(vid, m + 24, WVOL_ID_LEN);
	for (int c = 0; c < 4; c++) {
		size_t off = WVOL_HDR_LEN;
		int hit = 0;
		r->n = 0;
		while (n - off >= WVOL_REC_HDR) {
			uint32_t plen = m[off + 4] | (uint32_t)m[off + 5] << 8 | (uint32_t)m[off + 6] << 16;
			uint8_t *p = r->b + r->n + 3;
			r->b[r->n] = m[off];
			memcpy(p, m + off + WVOL_REC_HDR, plen);
			size_t pl = p[0] | (size_t)p[1] << 8;
			uint8_t *q = p + 2 + pl; /* type flags mode mtime id size main_len crefs */
			if (!hit && q[0] == WVOL_T_LINK) {
				hit = 1;
				if (c == 0) { /* a target of 4096 bytes (still one chunk) */
					forge_put32(q + 14 + WVOL_ID_LEN, 4096);
				} else if (c == 1) { /* no target at all, no chunk */
					memset(q + 14 + WVOL_ID_LEN, 0, 16);
					plen -= WVOL_ENC_CREF;
				} else if (c == 2) { /* a mode */
					q[2] = 0x44;
				} else { /* flagged dirty */
					q[1] = 1;
				}
			}
			r->b[r->n + 1] = (uint8_t)plen;
			r->b[r->n + 2] = (uint8_t)(plen >> 8);
			r->n += 3 + plen;
			off += WVOL_REC_HDR + (m[off + 4] | (uint32_t)m[off + 5] << 8 | (uint32_t)m[off + 6] << 16) + WVOL_MAC_LEN;
		}
		CHECK(hit);
		size_t n2 = forge_manifest(1, key, vid, r->b, r->n, &m2);
		spill(man, m2, n2);
		free(m2);
		for (int lazy = 0; lazy < 2; lazy++) {
			ward_vol *v = NULL;
			struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDONLY };
			wv_lazy_disabled = !lazy;
			CHECK(ward_vol_open(dir, &o, &v, err) == -EBADMSG);
			wv_lazy_disabled = 0;
			if (!lazy)
				CHECK(strstr(err, ": link '") != NULL);
			ward_vol_close(v, NULL);
		}
	}
	spill(man, m, n); /* the real one again */
	free(m);
	free(r);
	ward_vol *v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
}

/* A creation killed after its CREATE record (and its data), before the
 * CHUNKS record of the target: the journal ends in the CREATE (the CHUNKS
 * record cut whole, or torn). The link never existed: hidden read-only
 * (verify passes), removed by a read-write open. A kill after the CHUNKS
 * record: the link is there with its target. */
static void crash(void)
{
	char man[600], p[600], err[WARD_VOL_ERR_LEN];
	struct stat st;
	/* CHUNKS record of "cl": path, mode, mtime, size, main_len, n, (index, cref) */
	const size_t chunks = WVOL_REC_HDR + 2 + 2 + 4 + 8 + 8 + 8 + 4 + 4 + WVOL_ENC_CREF + WVOL_MAC_LEN;
	snprintf(man, sizeof(man), "%s/%s/manifest", dir, WARD_VOL_META_DIR);
	disk_path("cl", p, sizeof(p));
	for (int torn = 0; torn < 3; torn++) {
		pid_t pid = fork();
		if (pid == 0) {
			ward_vol *v = vopen(dir, WARD_VOL_RDWR, 1);
			_exit(v != NULL && ward_vol_symlink(v, "cl", "target", NULL) == 0 ? 0 : 1); /* no close */
		}
		int ws = -1;
		CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
		CHECK(stat(man, &st) == 0);
		if (torn < 2)
			CHECK(truncate(man, st.st_size - (off_t)(torn ? chunks / 2 : chunks)) == 0);
		ward_vol *v = vopen(dir, WARD_VOL_RDONLY, 1);
		CHECK(v != NULL);
		if (v == NULL)
			return;
		if (torn == 2) { /* killed after the commit: all there */
			CHECK(strcmp(target_of(v, "cl"), "target") == 0 && ward_vol_links(v) == 4);
			ward_vol_close(v, NULL);
			v = vopen(dir, WARD_VOL_RDWR, 0);
			CHECK(v != NULL && ward_vol_unlink(v, "cl", NULL) == 0 && ward_vol_close(v, NULL) == 0);
			continue;
		}
		CHECK(ward_vol_links(v) == 3 && mode_of(v, "cl") == 0);
		CHECK(access(p, F_OK) == 0); /* its disk file, with the sealed target */
		CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
		ward_vol_close(v, NULL);
		v = vopen(dir, WARD_VOL_RDWR, 0);
		CHECK(v != NULL && ward_vol_links(v) == 3);
		CHECK(access(p, F_OK) != 0);
		CHECK(ward_vol_close(v, err) == 0);
		v = vopen(dir, WARD_VOL_RDONLY, 0);
		CHECK(v != NULL && ward_vol_links(v) == 3 && vol_verify(v) == 0);
		ward_vol_close(v, NULL);
	}
}

/* ward_vol_import keeps every link verbatim; ward_vol_export recreates it */
static void import_export(void)
{
	char src[400], vol[400], out[400], p[700], t[256], err[WARD_VOL_ERR_LEN];
	struct ward_vol_skipped sk = { 0 };
	static const char *const links[][2] = {
		{ "rel", "main.py" }, { "dirlink", "pkg" }, { "dangling", "nowhere" },
		{ "abs", "/etc/hostname" }, { "chain", "rel" }, { "pkg/up", "../main.py" },
	};
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(vol, sizeof(vol), "%s/imp.vol", base);
	snprintf(out, sizeof(out), "%s/out", base);
	snprintf(p, sizeof(p), "%s/pkg", src);
	CHECK(mkdir(src, 0755) == 0 && mkdir(p, 0755) == 0);
	put_in(src, "main.py", "print(1)\n", 9);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", src, links[i][0]);
		CHECK(symlink(links[i][1], p) == 0);
	}
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
	CHECK(ward_vol_open(vol, &o, &v, err) == 0);
	if (v == NULL)
		return;
	CHECK(ward_vol_import(v, src, NULL, NULL, &sk, err) == 0 && sk.links == 0);
	CHECK(ward_vol_links(v) == 6);
	CHECK(ward_vol_close(v, err) == 0);
	v = vopen(vol, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		CHECK(strcmp(target_of(v, links[i][0]), links[i][1]) == 0);
	CHECK(ward_vol_export(v, out, NULL, NULL, err) == 0);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", out, links[i][0]);
		ssize_t n = readlink(p, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		CHECK(n > 0 && strcmp(t, links[i][1]) == 0);
	}
	ward_vol_close(v, NULL);
	/* a link that fails verification is not left behind */
	flip_in(vol, "rel");
	v = vopen(vol, WARD_VOL_RDONLY, 1);
	snprintf(out, sizeof(out), "%s/out2", base);
	CHECK(v != NULL && ward_vol_export(v, out, NULL, NULL, err) == -EIO);
	snprintf(p, sizeof(p), "%s/rel", out);
	{
		struct stat st;
		CHECK(lstat(p, &st) != 0);
	}
	ward_vol_close(v, NULL);
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-links-test.XXXXXX";
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 5 + 3);
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(base, sizeof(base), "%s", tmpl);
	snprintf(dir, sizeof(dir), "%s/v.vol", base);
	ward_vol *v = vopen(dir, WARD_VOL_RDWR | WARD_VOL_CREATE, 0);
	CHECK(v != NULL);
	if (v == NULL)
		return TEST_DONE();
	basics(v);
	CHECK(ward_vol_close(v, err) == 0);
	reopen_same();
	tamper();
	forged();
	crash();
	import_export();
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		CHECK(system(cmd) == 0);
	}
	return TEST_DONE();
}
