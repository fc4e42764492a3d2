/* test_hardlinks.c: hard links in encrypted volumes (volume.h, "Hard
 * links"; format.h, WVOL_T_HLINK and invariant 7): link and stat's nlink,
 * one file seen through two paths (handles open at once and one after the
 * other), the disk link, every refusal, the tag, rename (onto the same
 * file, of a directory holding one path), removing the path whose disk
 * file holds the data and reading through the other, eagerly and lazily,
 * snapshots; a disk file replaced behind the volume's back; manifests whose
 * hard-link entries name no file; a link or a removal killed between its
 * record and its disk operation; import and export of hard links. */
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

static struct ward_vstat stat_of(ward_vol *v, const char *p)
{
	struct ward_vstat st;
	memset(&st, 0, sizeof(st));
	(void)ward_vol_stat(v, p, &st, NULL);
	return st;
}

/* the inode number of dir/rel on disk (0 when missing) */
static ino_t disk_ino(const char *rel)
{
	char p[700];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, &st) == 0 ? st.st_ino : 0;
}

static int same_str(ward_vol *v, const char *p, const char *want)
{
	char buf[256];
	int n = vol_read_str(v, p, buf, sizeof(buf));
	if (n < 0 || strcmp(buf, want) != 0) {
		fprintf(stderr, "'%s': read %d '%s', want '%s'\n", p, n, n >= 0 ? buf : "", want);
		return 0;
	}
	return 1;
}

static void basics(ward_vol *v)
{
	char err[WARD_VOL_ERR_LEN];
	uint8_t t0[32], t1[32];
	CHECK(vol_put_str(v, "a", "hello") == 0);
	CHECK(ward_vol_mkdir(v, "d", 0755, NULL) == 0);
	CHECK(ward_vol_setattr(v, "a", 0640, -1, NULL) == 0);
	CHECK(stat_of(v, "a").nlink == 1 && stat_of(v, "d").nlink == 1 && stat_of(v, "").nlink == 1);
	CHECK(ward_vol_tag(v, t0) == 0);
	CHECK(ward_vol_link(v, "a", "d/b", err) == 0);
	CHECK(ward_vol_tag(v, t1) == 0 && memcmp(t0, t1, 32) != 0); /* the tag covers every path */
	struct ward_vstat sa = stat_of(v, "a"), sb = stat_of(v, "d/b");
	CHECK(sa.nlink == 2 && sb.nlink == 2 && sa.ino == sb.ino && sb.mode == (S_IFREG | 0640) && sb.size == 5);
	CHECK(disk_ino("a") != 0 && disk_ino("a") == disk_ino("d/b")); /* a real hard link on disk */
	CHECK(same_str(v, "d/b", "hello"));
	{
		struct ward_vdirent *e = NULL;
		size_t n = 0;
		CHECK(ward_vol_readdir(v, "d", &e, &n, NULL) == 0 && n == 1 && strcmp(e[0].name, "b") == 0 &&
		      e[0].mode == (S_IFREG | 0640) && e[0].ino == sa.ino);
		free(e);
	}
	/* two handles, one through each path, open at once: one state */
	ward_vfile *fa = NULL, *fb = NULL;
	char buf[32] = { 0 };
	CHECK(ward_vf_open(v, "a", O_RDWR, 0, &fa, NULL) == 0 && ward_vf_open(v, "d/b", O_RDONLY, 0, &fb, NULL) == 0);
	if (fa != NULL && fb != NULL) {
		struct ward_vstat st;
		CHECK(ward_vf_pwrite(fa, "HELLO, world", 12, 0, NULL) == 12);
		CHECK(ward_vf_pread(fb, buf, sizeof(buf) - 1, 0, NULL) == 12 && strcmp(buf, "HELLO, world") == 0);
		CHECK(ward_vf_stat(fb, &st) == 0 && st.nlink == 2 && st.size == 12 && st.ino == sa.ino);
		CHECK(stat_of(v, "d/b").size == 12);
	}
	ward_vf_close(fa, NULL);
	ward_vf_close(fb, NULL);
	/* one after the other */
	CHECK(vol_put_str(v, "d/b", "written via b") == 0 && same_str(v, "a", "written via b"));
	CHECK(ward_vol_setattr(v, "d/b", 0600, 12345, NULL) == 0);
	CHECK(stat_of(v, "a").mode == (S_IFREG | 0600) && stat_of(v, "a").mtime_ns == 12345);
	/* refusals */
	CHECK(ward_vol_link(v, "d", "x", err) == -EPERM && strstr(err, "directory") != NULL);
	CHECK(ward_vol_link(v, "", "x", NULL) == -EPERM);
	CHECK(ward_vol_link(v, "a", "d/b", NULL) == -EEXIST && ward_vol_link(v, "a", "d", NULL) == -EEXIST);
	CHECK(ward_vol_link(v, "a", "a", NULL) == -EEXIST);
	CHECK(ward_vol_link(v, "nope", "x", err) == -ENOENT && strstr(err, "nope") != NULL);
	CHECK(ward_vol_link(v, "a", "nodir/x", NULL) == -ENOENT && ward_vol_link(v, "a", "a/x", NULL) == -ENOTDIR);
	CHECK(ward_vol_symlink(v, "s", "a", NULL) == 0 && ward_vol_link(v, "s", "x", NULL) == -EPERM);
	CHECK(ward_vol_link(v, "a", "../x", NULL) == -EINVAL);
	CHECK(stat_of(v, "x").mode == 0 && stat_of(v, "a").nlink == 2);
	/* a third path, through the second */
	CHECK(ward_vol_link(v, "d/b", "c", NULL) == 0 && stat_of(v, "a").nlink == 3 && disk_ino("c") == disk_ino("a"));
	/* rename onto another path of the same file: nothing happens */
	CHECK(ward_vol_rename(v, "c", "a", NULL) == 0 && stat_of(v, "c").nlink == 3 && stat_of(v, "a").nlink == 3);
	CHECK(ward_vol_rename(v, "a", "d/b", NULL) == 0 && disk_ino("a") != 0);
	/* rename one path: the others stay */
	CHECK(ward_vol_rename(v, "c", "d/c", NULL) == 0 && stat_of(v, "d/c").nlink == 3 && same_str(v, "d/c", "written via b"));
	CHECK(ward_vol_unlink(v, "d/c", NULL) == 0 && stat_of(v, "a").nlink == 2 && disk_ino("d/c") == 0);
	CHECK(vol_verify(v) == 0);
}

/* reopened eagerly and lazily, read-only: the same answers */
static void reopen_same(void)
{
	uint8_t tags[2][32];
	for (int lazy = 0; lazy < 2; lazy++) {
		ward_vol *v = vopen(dir, WARD_VOL_RDONLY, lazy);
		CHECK(v != NULL);
		if (v == NULL)
			return;
		CHECK(lazy == (v->lz != NULL));
		struct ward_vstat sa = stat_of(v, "a"), sb = stat_of(v, "d/b");
		CHECK(sa.nlink == 2 && sb.nlink == 2 && sa.ino == sb.ino && sb.mode == (S_IFREG | 0600) && sb.mtime_ns == 12345);
		struct ward_vdirent *e = NULL;
		size_t n = 0;
		CHECK(ward_vol_readdir(v, "d", &e, &n, NULL) == 0 && n == 1 && e[0].mode == (S_IFREG | 0600) && e[0].ino == sa.ino);
		free(e);
		CHECK(same_str(v, "d/b", "written via b") && same_str(v, "a", "written via b"));
		CHECK(ward_vol_link(v, "a", "y", NULL) == -EROFS);
		CHECK(ward_vol_tag(v, tags[lazy]) == 0);
		CHECK(vol_verify(v) == 0);
		ward_vol_close(v, NULL);
	}
	CHECK(memcmp(tags[0], tags[1], 32) == 0);
}

/* The path whose disk file holds the data goes: the file stays, read
 * through the other path, then reopened eagerly and lazily. */
static void unlink_first(int lazy)
{
	char p[2][16];
	snprintf(p[0], sizeof(p[0]), "u%d", lazy);
	snprintf(p[1], sizeof(p[1]), "d/u%d", lazy);
	ward_vol *v = vopen(dir, WARD_VOL_RDWR, lazy);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(vol_put_str(v, p[0], "the data of u") == 0 && ward_vol_link(v, p[0], p[1], NULL) == 0);
	CHECK(ward_vol_close(v, NULL) == 0);
	v = vopen(dir, WARD_VOL_RDWR, lazy);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	uint64_t ino = stat_of(v, p[1]).ino;
	CHECK(ward_vol_unlink(v, p[0], NULL) == 0 && disk_ino(p[0]) == 0 && disk_ino(p[1]) != 0);
	CHECK(stat_of(v, p[1]).nlink == 1 && stat_of(v, p[1]).ino == ino && same_str(v, p[1], "the data of u"));
	CHECK(ward_vol_close(v, NULL) == 0);
	for (int l = 0; l < 2; l++) {
		v = vopen(dir, WARD_VOL_RDONLY, l);
		CHECK(v != NULL && same_str(v, p[1], "the data of u") && stat_of(v, p[1]).nlink == 1 && vol_verify(v) == 0);
		ward_vol_close(v, NULL);
	}
}

/* a directory holding one path of a file moves; either path then goes */
static void rename_dir(void)
{
	ward_vol *v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(ward_vol_mkdir(v, "p", 0755, NULL) == 0 && vol_put_str(v, "p/f", "in p") == 0);
	CHECK(ward_vol_link(v, "p/f", "q", NULL) == 0 && ward_vol_link(v, "q", "p/g", NULL) == 0);
	CHECK(ward_vol_rename(v, "p", "p2", NULL) == 0);
	CHECK(stat_of(v, "q").nlink == 3 && same_str(v, "p2/f", "in p") && same_str(v, "p2/g", "in p"));
	CHECK(disk_ino("p2/f") == disk_ino("q") && disk_ino("p2/g") == disk_ino("q"));
	CHECK(ward_vol_unlink(v, "p2/f", NULL) == 0 && same_str(v, "q", "in p") && stat_of(v, "q").nlink == 2);
	/* a file renamed over the path that holds the data: the file stays at its other path */
	CHECK(vol_put_str(v, "other", "other") == 0 && ward_vol_rename(v, "other", "p2/g", NULL) == 0);
	CHECK(same_str(v, "p2/g", "other") && same_str(v, "q", "in p") && stat_of(v, "q").nlink == 1);
	CHECK(ward_vol_rmdir(v, "p2", NULL) == -ENOTEMPTY);
	CHECK(ward_vol_close(v, NULL) == 0);
	for (int l = 0; l < 2; l++) {
		v = vopen(dir, WARD_VOL_RDONLY, l);
		CHECK(v != NULL && same_str(v, "q", "in p") && same_str(v, "p2/g", "other") && vol_verify(v) == 0);
		ward_vol_close(v, NULL);
	}
}

/* A disk file at the second path replaced by other bytes (the hard link
 * broken): verify says so; once the first path goes, reading fails. */
static void tamper(void)
{
	char p[700], err[WARD_VOL_ERR_LEN];
	ward_vol *v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK(vol_put_str(v, "t1", "genuine bytes") == 0 && ward_vol_link(v, "t1", "t2", NULL) == 0);
	CHECK(ward_vol_close(v, NULL) == 0);
	/* a copy with the same bytes (as a copy without hard links makes): fine */
	snprintf(p, sizeof(p), "%s/t2", dir);
	{
		size_t n;
		char p1[700];
		snprintf(p1, sizeof(p1), "%s/t1", dir);
		uint8_t *b = slurp(p1, 4096, &n);
		CHECK(b != NULL && unlink(p) == 0);
		if (b != NULL)
			spill(p, b, n);
		free(b);
	}
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
	CHECK(unlink(p) == 0);
	put_in(dir, "t2", "forged bytes!", 13);
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && ward_vol_verify(v, NULL, NULL, err) == -EIO && strstr(err, "t2") != NULL);
	CHECK(same_str(v, "t2", "genuine bytes")); /* still read from t1's disk file */
	ward_vol_close(v, NULL);
	v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL && ward_vol_unlink(v, "t1", NULL) == 0);
	char buf[64];
	CHECK(v != NULL && vol_read_str(v, "t2", buf, sizeof(buf)) == -EIO);
	CHECK(v != NULL && ward_vol_unlink(v, "t2", NULL) == 0);
	CHECK(ward_vol_close(v, NULL) == 0);
	/* a missing disk file at the second path */
	v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL && vol_put_str(v, "m1", "m") == 0 && ward_vol_link(v, "m1", "m2", NULL) == 0);
	CHECK(ward_vol_close(v, NULL) == 0);
	snprintf(p, sizeof(p), "%s/m2", dir);
	CHECK(unlink(p) == 0);
	v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && ward_vol_verify(v, NULL, NULL, err) == -EIO && strstr(err, "missing") != NULL);
	ward_vol_close(v, NULL);
	{
		char p1[700];
		snprintf(p1, sizeof(p1), "%s/m1", dir);
		CHECK(link(p1, p) == 0);
	}
	v = vopen(dir, WARD_VOL_RDONLY, 0);
	CHECK(v != NULL && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
}

/* Snapshots whose hard-link entry names no file (missing, a directory, a
 * file with another id): refused at open, lazily and eagerly. */
struct recs {
	uint8_t b[1 << 17];
	size_t n;
};

static void forged(void)
{
	char man[600], err[WARD_VOL_ERR_LEN];
	size_t n;
	ward_vol *v = vopen(dir, WARD_VOL_RDWR, 0);
	CHECK(v != NULL && vol_put_str(v, "ha", "x") == 0 && ward_vol_mkdir(v, "hd", 0755, NULL) == 0);
	CHECK(v != NULL && ward_vol_link(v, "ha", "hb", NULL) == 0 && ward_vol_close(v, NULL) == 0);
	snprintf(man, sizeof(man), "%s/%s/manifest", dir, WARD_VOL_META_DIR);
	uint8_t *m = slurp(man, 1 << 20, &n), *m2 = NULL, vid[WVOL_ID_LEN];
	struct recs *r = malloc(sizeof(*r));
	CHECK(m != NULL && r != NULL && n > WVOL_HDR_LEN && n < (1 << 20));
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
			uint8_t *q = p + 2 + pl; /* type flags mode mtime id size main_len target */
			if (!hit && pl == 2 && memcmp(p + 2, "hb", 2) == 0) {
				CHECK(q[0] == WVOL_T_HLINK && plen == 2 + 2 + 46 + 2 + 2 && memcmp(p + plen - 2, "ha", 2) == 0);
				hit = 1;
				if (c == 0)
					p[plen - 1] = 'z'; /* names "hz": missing */
				else if (c == 1)
					p[plen - 1] = 'd'; /* names "hd": a directory */
				else if (c == 2)
					q[14] ^= 1; /* another id */
				else
					q[2] = 1; /* a mode */
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
			struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDONLY };
			v = NULL;
			wv_lazy_disabled = !lazy;
			CHECK(ward_vol_open(dir, &o, &v, err) == -EBADMSG);
			wv_lazy_disabled = 0;
			CHECK(strstr(err, "hard link 'hb'") != NULL);
			ward_vol_close(v, NULL);
		}
	}
	spill(man, m, n); /* the real one again */
	free(m);
	free(r);
	v = vopen(dir, WARD_VOL_RDWR, 1);
	CHECK(v != NULL && vol_verify(v) == 0 && ward_vol_unlink(v, "hb", NULL) == 0 && ward_vol_close(v, NULL) == 0);
}

/* A child that runs fn on the volume and exits without closing it (as a
 * kill leaves it: the journal as appended, nothing compacted). */
static void killed(int (*fn)(ward_vol *v))
{
	pid_t pid = fork();
	if (pid == 0) {
		ward_vol *v = vopen(dir, WARD_VOL_RDWR, 0);
		_exit(v != NULL && fn(v) == 0 ? 0 : 1);
	}
	int ws = -1;
	CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static int do_link(ward_vol *v)
{
	return vol_put_str(v, "c1", "crash data") == 0 && ward_vol_link(v, "c1", "c2", NULL) == 0 ? 0 : -1;
}

static int do_unlink(ward_vol *v)
{
	return ward_vol_unlink(v, "c1", NULL);
}

/* Killed between a LINK record and the disk link (the disk link removed
 * after the fact), between an UNLINK record of the path holding the data
 * and its disk removal (the disk file put back), and within a LINK record
 * (torn: neither the entry nor the disk link). */
static void crash(void)
{
	char man[600], c1[700], c2[700];
	struct stat st;
	snprintf(man, sizeof(man), "%s/%s/manifest", dir, WARD_VOL_META_DIR);
	snprintf(c1, sizeof(c1), "%s/c1", dir);
	snprintf(c2, sizeof(c2), "%s/c2", dir);
	/* 1: LINK recorded, no disk link */
	killed(do_link);
	CHECK(unlink(c2) == 0);
	ward_vol *v = vopen(dir, WARD_VOL_RDONLY, 1);
	CHECK(v != NULL && same_str(v, "c2", "crash data") && stat_of(v, "c1").nlink == 2 && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
	v = vopen(dir, WARD_VOL_RDWR, 0); /* finishes the link */
	CHECK(v != NULL && disk_ino("c2") == disk_ino("c1") && disk_ino("c1") != 0);
	ward_vol_close(v, NULL);
	/* 2: UNLINK of c1 recorded, its disk file still there */
	killed(do_unlink);
	CHECK(link(c2, c1) == 0);
	v = vopen(dir, WARD_VOL_RDONLY, 0);
	CHECK(v != NULL && same_str(v, "c2", "crash data") && stat_of(v, "c2").nlink == 1 && vol_verify(v) == 0);
	ward_vol_close(v, NULL);
	v = vopen(dir, WARD_VOL_RDWR, 1); /* finishes the removal */
	CHECK(v != NULL && disk_ino("c1") == 0 && same_str(v, "c2", "crash data"));
	CHECK(v != NULL && ward_vol_unlink(v, "c2", NULL) == 0 && ward_vol_close(v, NULL) == 0);
	/* 3: the LINK record torn (the disk link never made) */
	killed(do_link);
	CHECK(unlink(c2) == 0 && stat(man, &st) == 0);
	CHECK(truncate(man, st.st_size - (WVOL_REC_HDR + 4 + 2 + 2 + WVOL_MAC_LEN) / 2) == 0);
	for (int l = 0; l < 2; l++) {
		v = vopen(dir, l ? WARD_VOL_RDWR : WARD_VOL_RDONLY, 0);
		CHECK(v != NULL && stat_of(v, "c2").mode == 0 && stat_of(v, "c1").nlink == 1 && vol_verify(v) == 0);
		CHECK(v != NULL && same_str(v, "c1", "crash data"));
		ward_vol_close(v, NULL);
	}
	/* 4: a disk link that cannot be made at the next open: undone */
	killed(do_link);
	CHECK(unlink(c2) == 0);
	{
		/* make linkat fail: c1's disk file gone as well, while c1 is
		 * committed (reads then fail, but the link is not made of nothing) */
		char tmp[700];
		snprintf(tmp, sizeof(tmp), "%s/c1.aside", base);
		CHECK(rename(c1, tmp) == 0);
		v = vopen(dir, WARD_VOL_RDWR, 0);
		CHECK(v != NULL && stat_of(v, "c2").mode == 0 && stat_of(v, "c1").nlink == 1);
		ward_vol_close(v, NULL);
		CHECK(rename(tmp, c1) == 0);
		v = vopen(dir, WARD_VOL_RDONLY, 0);
		CHECK(v != NULL && same_str(v, "c1", "crash data") && vol_verify(v) == 0);
		ward_vol_close(v, NULL);
	}
}

/* ward_vol_import keeps hard links of the tree; ward_vol_export makes them */
static void import_export(void)
{
	char src[400], vol[400], out[400], p[700], q[700], err[WARD_VOL_ERR_LEN];
	struct stat a, b, c;
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(vol, sizeof(vol), "%s/imp.vol", base);
	snprintf(out, sizeof(out), "%s/out", base);
	snprintf(p, sizeof(p), "%s/sub", src);
	CHECK(mkdir(src, 0755) == 0 && mkdir(p, 0755) == 0);
	put_in(src, "z", "shared\n", 7);
	put_in(src, "alone", "alone\n", 6);
	snprintf(p, sizeof(p), "%s/z", src);
	snprintf(q, sizeof(q), "%s/sub/a", src);
	CHECK(link(p, q) == 0);
	snprintf(q, sizeof(q), "%s/b", src);
	CHECK(link(p, q) == 0);
	ward_vol *v = NULL;
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
	CHECK(ward_vol_open(vol, &o, &v, err) == 0);
	if (v == NULL)
		return;
	CHECK(ward_vol_import(v, src, NULL, NULL, NULL, err) == 0);
	CHECK(stat_of(v, "z").nlink == 3 && stat_of(v, "sub/a").ino == stat_of(v, "z").ino && stat_of(v, "alone").nlink == 1);
	CHECK(ward_vol_close(v, err) == 0);
	for (int lazy = 0; lazy < 2; lazy++) {
		v = vopen(vol, WARD_VOL_RDONLY, lazy);
		CHECK(v != NULL && vol_verify(v) == 0);
		snprintf(out, sizeof(out), "%s/out%d", base, lazy);
		CHECK(v != NULL && ward_vol_export(v, out, NULL, NULL, err) == 0);
		ward_vol_close(v, NULL);
		snprintf(p, sizeof(p), "%s/z", out);
		snprintf(q, sizeof(q), "%s/sub/a", out);
		CHECK(stat(p, &a) == 0 && stat(q, &b) == 0 && a.st_ino == b.st_ino && a.st_nlink == 3);
		snprintf(q, sizeof(q), "%s/alone", out);
		CHECK(stat(q, &c) == 0 && c.st_nlink == 1 && c.st_ino != a.st_ino);
	}
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-hardlinks-test.XXXXXX";
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
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
	unlink_first(0);
	unlink_first(1);
	rename_dir();
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
