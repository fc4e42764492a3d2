/*
 * tree.c: whole-volume operations over directory trees: import (encrypt a
 * plain tree into a volume), export (decrypt a volume into a plain tree),
 * copy (every entry into another volume: re-keying), verify (read every
 * byte), and building an authenticated volume's manifest. See volume.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/util.h"
#include "fs/internal.h"

#define IOBUF (1u << 20)

struct tent {
	char *rel;
	struct stat st; /* of the target for symlinks to regular files (links
			   not kept), of the link itself when kept */
};

struct tree {
	struct tent *e;
	size_t n, cap;
	uint64_t bytes;
	int keep_links; /* symlinks are entries of their own (encrypt), or
			   read as authenticate reads them */
	struct ward_vol_skipped skipped;
};

static void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].rel);
	free(t->e);
}

static int tree_add(struct tree *t, const char *rel, const struct stat *st)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		struct tent *e = realloc(t->e, nc * sizeof(*e));
		if (e == NULL)
			return -1;
		t->e = e;
		t->cap = nc;
	}
	t->e[t->n].rel = strdup(rel);
	if (t->e[t->n].rel == NULL)
		return -1;
	t->e[t->n].st = *st;
	t->n++;
	if (S_ISREG(st->st_mode))
		t->bytes += (uint64_t)st->st_size;
	return 0;
}

static int cmp_tent(const void *a, const void *b)
{
	return strcmp(((const struct tent *)a)->rel, ((const struct tent *)b)->rel);
}

/* Opens directory rel ("" = the root) below rootfd, without following a
 * link at its last component; -1 with errno. */
static int open_dir_at(int rootfd, const char *rel)
{
	return openat(rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Whether the entry name of dirfd, whose lstat is *st, is a symbolic link
 * that an authenticated tree leaves out: one to a directory or to nothing.
 * For a link to a regular file, *st becomes the file's stat. */
static int link_left_out(int dirfd, const char *name, struct stat *st)
{
	return S_ISLNK(st->st_mode) && (fstatat(dirfd, name, st, 0) != 0 || !S_ISREG(st->st_mode));
}

/* Reads one directory of the plain tree (rel below rootfd, named root in
 * messages) into t: directories and regular files; symlinks as links
 * (t->keep_links), or else those to regular files as the files (st of the
 * target) and those to directories and dangling ones counted in
 * t->skipped; other file types are refused. The reserved entry is
 * skipped at the root. */
static int walk_dir(int rootfd, const char *root, const char *rel, struct tree *t, char *err)
{
	char r2[WVOL_MAX_PATH + 1];
	struct dirent *de;
	int rc = 0, fd = open_dir_at(rootfd, rel);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL) {
		rc = wv_fail(err, -errno, "cannot read directory '%s%s%s': %s", root, rel[0] ? "/" : "", rel, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rel[0] == '\0' && strcmp(de->d_name, WARD_VOL_META_DIR) == 0)
			continue;
		if (snprintf(r2, sizeof(r2), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof(r2)) {
			size_t rl = strlen(rel); /* the message names the end of the path */
			rc = wv_fail(err, -ENAMETOOLONG,
				     "'%s/...%s/%s': path too long for a volume (%zu bytes below '%s'; at most %u)", root,
				     rel + (rl > 64 ? rl - 64 : 0), de->d_name, rl + 1 + strlen(de->d_name), root,
				     WVOL_MAX_PATH);
			break;
		}
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = wv_fail(err, -errno, "cannot stat '%s/%s': %s", root, r2, strerror(errno));
			break;
		}
		if (S_ISLNK(st.st_mode) && t->keep_links) {
			if (tree_add(t, r2, &st) != 0)
				rc = wv_fail(err, -ENOMEM, "out of memory");
			continue;
		}
		if (link_left_out(fd, de->d_name, &st)) {
			/* dangling, or a link to a directory: not part of the volume
			 * (the first in path order is named) */
			if (t->skipped.links++ == 0 || strcmp(r2, t->skipped.first) < 0)
				snprintf(t->skipped.first, sizeof(t->skipped.first), "%s", r2);
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			rc = wv_fail(err, -EINVAL, "'%s/%s' is not a regular file or directory; remove it or copy the tree without it",
				     root, r2);
		else if (tree_add(t, r2, &st) != 0)
			rc = wv_fail(err, -ENOMEM, "out of memory");
	}
	closedir(d);
	return rc;
}

/* Reads the whole plain tree below rootfd (root: its name in messages)
 * into t, sorted by path, so parents come before their children. Each
 * directory is read once, in the order found (t itself is the work list),
 * with one descriptor open at a time and no recursion: a tree may be as
 * deep as the 4095-byte path limit allows (some 2,000 levels). */
static int walk(int rootfd, const char *root, struct tree *t, char *err)
{
	int rc = walk_dir(rootfd, root, "", t, err);
	for (size_t i = 0; rc == 0 && i < t->n; i++)
		if (S_ISDIR(t->e[i].st.st_mode)) /* lstat for kept links: never followed */
			rc = walk_dir(rootfd, root, t->e[i].rel, t, err);
	if (rc == 0 && t->n > 1)
		qsort(t->e, t->n, sizeof(*t->e), cmp_tent);
	return rc;
}

/* Opens the root of a plain tree: -errno with err set. */
static int open_tree(const char *src, char *err)
{
	int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? wv_fail(err, -ENOTDIR, "'%s' is not a directory", src)
					: wv_fail(err, -errno, "cannot read '%s': %s", src, strerror(errno));
	return fd;
}

/* both times of a utimensat call: mtime_ns */
static void ns_timespec(int64_t ns, struct timespec ts[2])
{
	int64_t sec;
	long nsec;
	ward_ns_ts(ns, &sec, &nsec);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)sec;
	ts[0].tv_nsec = ts[1].tv_nsec = nsec;
}

static int64_t st_mtime_ns(const struct stat *st)
{
	return ward_ts_ns(st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* Progress of a whole-tree operation: bytes done of a total. */
struct prog {
	void (*fn)(void *arg, uint64_t done, uint64_t total);
	void *arg;
	uint64_t done, total;
};

static void prog_add(struct prog *p, uint64_t n)
{
	p->done += n;
	if (p->fn)
		p->fn(p->arg, p->done, p->total);
}

/* Copies the plain file open as fd (name: for messages) into the new,
 * empty volume file f through buf (IOBUF bytes). Only the source's data
 * is read and written: its holes (SEEK_HOLE) stay holes in the volume
 * (chunks stored as WVOL_SLOT_HOLE, nothing on disk), so a sparse file
 * stays sparse. On disk that shows where the source has holes, as its
 * size shows its length; a chunk that is all zeros in the data is
 * encrypted as any other. */
static int import_data(ward_vfile *f, int fd, const char *name, uint8_t *buf, struct prog *pr, char *err)
{
	struct stat st;
	uint64_t size, off = 0;

	if (fstat(fd, &st) != 0)
		return wv_fail(err, -errno, "cannot read '%s': %s", name, strerror(errno));
	size = (uint64_t)st.st_size;
	while (off < size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;
		if (d < 0 && errno == ENXIO)
			break; /* a hole up to the end */
		if (d < 0 || (h = lseek(fd, d, SEEK_HOLE)) < 0) {
			d = (off_t)off; /* no hole detection here: all of it is data */
			h = (off_t)size;
		}
		if ((uint64_t)d >= size)
			break;
		if ((uint64_t)h > size)
			h = (off_t)size;
		prog_add(pr, (uint64_t)d - off); /* the hole before */
		for (off = (uint64_t)d; off < (uint64_t)h;) {
			size_t want = (uint64_t)h - off < IOBUF ? (size_t)((uint64_t)h - off) : IOBUF, got = 0;
			if (ward_pread_full(fd, buf, want, off, &got) != 0)
				return wv_fail(err, -errno, "cannot read '%s': %s", name, strerror(errno));
			if (got == 0) { /* shortened meanwhile: keep what was read */
				size = off;
				break;
			}
			ssize_t w = ward_vf_pwrite(f, buf, got, off, err);
			if (w < 0)
				return (int)w;
			off += got;
			prog_add(pr, got);
		}
	}
	if (off < size)
		prog_add(pr, size - off); /* the hole at the end */
	return ward_vf_size(f) < size ? ward_vf_truncate(f, size, err) : 0;
}

/* Stores the symbolic link rel of the plain tree (below rootfd, src in
 * messages) as a link of v with its target verbatim and its mtime. */
static int import_link(ward_vol *v, int rootfd, const char *src, const struct tent *e, char *err)
{
	char target[WARD_VOL_MAX_LINK + 2];
	ssize_t r = readlinkat(rootfd, e->rel, target, sizeof(target) - 1);
	int rc;
	if (r < 0)
		return wv_fail(err, -errno, "cannot read link '%s/%s': %s", src, e->rel, strerror(errno));
	if ((size_t)r > WARD_VOL_MAX_LINK)
		return wv_fail(err, -ENAMETOOLONG, "'%s/%s': link target too long for a volume (at most %u bytes)", src,
			       e->rel, WARD_VOL_MAX_LINK);
	target[r] = '\0';
	if (r == 0 || memchr(target, 0, (size_t)r) != NULL)
		return wv_fail(err, -EINVAL, "'%s/%s': link with an empty target", src, e->rel);
	if ((rc = ward_vol_symlink(v, e->rel, target, err)) != 0)
		return rc;
	return ward_vol_setattr(v, e->rel, -1, st_mtime_ns(&e->st), err);
}

/* Hard links of the plain tree: regular files with more than one path,
 * by device and inode, in path order. */
struct hlkey {
	dev_t dev;
	ino_t ino;
	size_t i;
};

static int cmp_hlkey(const void *a, const void *b)
{
	const struct hlkey *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* first[i]: the index of the first path (in path order) of entry i's
 * file when i is a further path of a hard-linked regular file, else i
 * itself. 0, or -1 out of memory. */
static int tree_hardlinks(const struct tree *t, size_t **first)
{
	size_t k = 0, *f = malloc((t->n ? t->n : 1) * sizeof(*f));
	struct hlkey *h = malloc((t->n ? t->n : 1) * sizeof(*h));
	if (f == NULL || h == NULL) {
		free(f);
		free(h);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		f[i] = i;
		if (S_ISREG(t->e[i].st.st_mode) && t->e[i].st.st_nlink > 1)
			h[k++] = (struct hlkey){ t->e[i].st.st_dev, t->e[i].st.st_ino, i };
	}
	if (k > 1)
		qsort(h, k, sizeof(*h), cmp_hlkey);
	for (size_t j = 1; j < k; j++)
		if (h[j].dev == h[j - 1].dev && h[j].ino == h[j - 1].ino)
			f[h[j].i] = f[h[j - 1].i];
	free(h);
	*first = f;
	return 0;
}

int ward_vol_import(ward_vol *v, const char *src, void (*progress)(void *, uint64_t, uint64_t), void *arg,
		    struct ward_vol_skipped *skipped, char *err)
{
	struct tree t = { .keep_links = 1 };
	struct prog pr = { .fn = progress, .arg = arg };
	uint8_t *buf = NULL;
	size_t *first = NULL;
	int rc, rootfd;

	if ((rootfd = open_tree(src, err)) < 0)
		return rootfd;
	if ((rc = walk(rootfd, src, &t, err)) != 0)
		goto out;
	if (skipped != NULL)
		*skipped = t.skipped;
	if (tree_hardlinks(&t, &first) != 0) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	pr.total = t.bytes;
	for (size_t i = 0; i < t.n; i++)
		if (first[i] != i) /* a further path of a file: no data of its own */
			pr.total -= (uint64_t)t.e[i].st.st_size;
	buf = aligned_alloc(4096, IOBUF); /* the kernel copies into page-aligned buffers fastest */
	if (buf == NULL) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < t.n; i++) {
		struct tent *e = &t.e[i];
		if (S_ISDIR(e->st.st_mode)) {
			if ((rc = ward_vol_mkdir(v, e->rel, e->st.st_mode & 07777, err)) != 0)
				goto out;
			continue;
		}
		if (S_ISLNK(e->st.st_mode)) {
			if ((rc = import_link(v, rootfd, src, e, err)) != 0)
				goto out;
			continue;
		}
		if (first[i] != i) { /* a hard link of a file imported before: kept as one */
			if ((rc = ward_vol_link(v, t.e[first[i]].rel, e->rel, err)) != 0)
				goto out;
			continue;
		}
		ward_vfile *f = NULL;
		int fd = openat(rootfd, e->rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* a regular file (lstat) */
		if (fd < 0) {
			rc = wv_fail(err, -errno, "cannot read '%s/%s': %s", src, e->rel, strerror(errno));
			goto out;
		}
		rc = ward_vf_open(v, e->rel, O_WRONLY | O_CREAT | O_EXCL, e->st.st_mode & 07777, &f, err);
		if (rc == 0) {
			char name[WARD_VOL_ERR_LEN];
			snprintf(name, sizeof(name), "%s/%s", src, e->rel);
			rc = import_data(f, fd, name, buf, &pr, err);
		}
		close(fd);
		if (f != NULL) {
			int c = ward_vf_close(f, rc ? NULL : err);
			if (rc == 0)
				rc = c;
		}
		if (rc == 0)
			rc = ward_vol_setattr(v, e->rel, -1, st_mtime_ns(&e->st), err);
		if (rc != 0)
			goto out;
	}
	/* directories last: their mtimes as in the source */
	for (size_t i = t.n; i-- > 0;)
		if (S_ISDIR(t.e[i].st.st_mode) && (rc = ward_vol_setattr(v, t.e[i].rel, -1, st_mtime_ns(&t.e[i].st), err)) != 0)
			goto out;
	rc = 0;
out:
	free(first);
	free(buf);
	tree_free(&t);
	close(rootfd);
	return rc;
}

/* ---- verify ---- */

/* Paths of all entries (sorted), so that no lock is held while reading. */
static int list_paths(ward_vol *v, char ***out, uint8_t **types, size_t *n)
{
	char **l = NULL;
	size_t k = 0;
	pthread_mutex_lock(&v->mu);
	int rc = wv_all_paths(v, &l, &k);
	pthread_mutex_unlock(&v->mu);
	uint8_t *ty = rc == 0 ? malloc(k ? k : 1) : NULL;
	if (ty == NULL) {
		for (size_t i = 0; l && i < k; i++)
			free(l[i]);
		free(l);
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		struct ward_vstat st;
		int ok = ward_vol_stat(v, l[i], &st, NULL) == 0;
		ty[i] = ok && S_ISDIR(st.mode) ? WVOL_T_DIR : ok && S_ISLNK(st.mode) ? WVOL_T_LINK : WVOL_T_FILE;
		if (ok && S_ISREG(st.mode) && st.nlink > 1) { /* a further path of a file? */
			struct vnode *n;
			pthread_mutex_lock(&v->mu);
			if (wv_find(v, l[i], &n) == 0 && n->type == WVOL_T_HLINK)
				ty[i] = WVOL_T_HLINK;
			pthread_mutex_unlock(&v->mu);
		}
	}
	*out = l;
	*types = ty;
	*n = k;
	return 0;
}

/* Plaintext bytes of the files among paths (for progress reports). */
static uint64_t files_size(ward_vol *v, char **paths, const uint8_t *types, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct ward_vstat st;
		if (types[i] == WVOL_T_FILE && ward_vol_stat(v, paths[i], &st, NULL) == 0)
			total += st.size;
	}
	return total;
}

/* Whether r2 on disk is what the last record's interrupted operation left
 * (volume.c, recover_last): the source of a rename or the path of an unlink
 * that a read-only open cannot complete. Only the last record's disk
 * operation can be incomplete (format.h, invariant 3). */
static int crash_leftover(const ward_vol *v, const char *r2)
{
	if (v->leftover != NULL && strcmp(r2, v->leftover) == 0)
		return 1;
	if (v->alias_from != NULL) {
		size_t l = strlen(v->alias_from);
		return strncmp(r2, v->alias_from, l) == 0 && (r2[l] == '\0' || r2[l] == '/');
	}
	return 0;
}

/* Whether directory rel ("" = the root) of v holds on disk only what the
 * manifest lists (but for what an interrupted last operation left:
 * crash_leftover). A directory missing on disk is not looked at (reading
 * its files reports it). */
static int check_extra_dir(ward_vol *v, const char *rel, char *err, size_t *found)
{
	char r2[WVOL_MAX_PATH + 1];
	struct dirent *de;
	int rc = 0, fd = open_dir_at(v->dirfd, rel);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct ward_vstat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rel[0] == '\0' && strcmp(de->d_name, WARD_VOL_META_DIR) == 0)
			continue;
		/* a path too long for a volume cannot be listed in its manifest */
		int fits = snprintf(r2, sizeof(r2), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < (int)sizeof(r2);
		if (fits && (crash_leftover(v, r2) || ward_vol_stat(v, r2, &st, NULL) == 0))
			continue;
		int auth = v->kind == WARD_VOL_AUTHENTICATED;
		struct stat ls; /* an authenticated tree leaves some links out (walk_dir) */
		int have = fstatat(fd, de->d_name, &ls, AT_SYMLINK_NOFOLLOW) == 0;
		if (auth && have && link_left_out(fd, de->d_name, &ls))
			continue;
		/* a socket a server bound in the volume, or a FIFO a killed run
		 * left: no data, nothing a program reads through the volume */
		if (have && (S_ISSOCK(ls.st_mode) || S_ISFIFO(ls.st_mode)))
			continue;
		/* the first one is named; the others are counted (check_extra) */
		if ((*found)++ == 0)
			rc = wv_fail(err, -EBADMSG, "'%s/%s%s%s': %s", v->dir, rel, rel[0] ? "/" : "", de->d_name,
				     auth ? "on disk but not in the manifest (added after it was built)"
					  : "file on disk that the manifest does not list (added outside the enclave)");
	}
	closedir(d);
	return rc;
}

/* An encrypted volume holds nothing on disk that its manifest does not
 * name: each directory of the volume (paths and types as listed) is read
 * once, without recursion (a volume may be some 2,000 levels deep). */
static int check_extra(ward_vol *v, char **paths, const uint8_t *types, size_t n, char *err)
{
	size_t found = 0;
	int rc = check_extra_dir(v, "", err, &found);
	for (size_t i = 0; i < n; i++)
		if (types[i] == WVOL_T_DIR) {
			int r = check_extra_dir(v, paths[i], err, &found);
			if (rc == 0)
				rc = r;
		}
	if (found > 1 && err != NULL) {
		size_t l = strlen(err);
		snprintf(err + l, WARD_VOL_ERR_LEN - l, " (and %zu more such entr%s)", found - 1, found == 2 ? "y" : "ies");
	}
	return rc;
}

/* Every path of the volume with its type, the bytes of its files, and an
 * I/O buffer: what verify and export walk over. */
struct walk {
	char **paths;
	uint8_t *types;
	size_t n;
	uint64_t total;
	uint8_t *buf; /* IOBUF bytes, wiped at the end: it held plaintext */
};

static void paths_free(char **paths, uint8_t *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(types);
}

static void walk_end(struct walk *w)
{
	if (w->buf)
		OPENSSL_cleanse(w->buf, IOBUF);
	free(w->buf);
	paths_free(w->paths, w->types, w->n);
	memset(w, 0, sizeof(*w));
}

static int walk_begin(ward_vol *v, struct walk *w, char *err)
{
	memset(w, 0, sizeof(*w));
	if (list_paths(v, &w->paths, &w->types, &w->n) != 0)
		return wv_fail(err, -ENOMEM, "out of memory");
	w->total = files_size(v, w->paths, w->types, w->n);
	w->buf = aligned_alloc(4096, IOBUF); /* the kernel copies into page-aligned buffers fastest */
	if (w->buf == NULL) {
		walk_end(w);
		return wv_fail(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Reads the volume file at path from start to end through buf (IOBUF
 * bytes; every chunk verified on the way), handing each piece to sink when
 * there is one; *done counts the bytes. 0, or the first failure (err set). */
static int read_through(ward_vol *v, const char *path, uint8_t *buf,
			int (*sink)(void *arg, const uint8_t *p, size_t n, char *err), void *arg, uint64_t *done,
			char *err)
{
	ward_vfile *f = NULL;
	uint64_t off = 0;
	int rc = ward_vf_open(v, path, O_RDONLY, 0, &f, err);
	while (rc == 0) {
		ssize_t r = ward_vf_pread(f, buf, IOBUF, off, err);
		if (r <= 0) {
			rc = (int)r;
			break;
		}
		if (sink != NULL)
			rc = sink(arg, buf, (size_t)r, err);
		off += (uint64_t)r;
		*done += (uint64_t)r;
	}
	if (f != NULL)
		ward_vf_close(f, NULL);
	return rc;
}

/* where read_through's bytes go for an export */
struct out_file {
	int fd;
	const char *dir, *rel; /* for messages: dir/rel */
	uint64_t off;	       /* where the next bytes go */
};

static int all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Hands put() every run of bytes of p (n bytes at file offset off) except
 * 4 KiB blocks (on the file's grid) that are all zeros: those are left as
 * holes, and the caller gives the file its size at the end. A sparse file
 * (or one with runs of zeros) then stays sparse where it is written. */
static int nonzero_runs(const uint8_t *p, size_t n, uint64_t off,
			int (*put)(void *arg, const uint8_t *p, size_t len, uint64_t off, char *err), void *arg,
			char *err)
{
	for (size_t a = 0; a < n;) {
		size_t b = a + (WVOL_CHUNK - (size_t)((off + a) % WVOL_CHUNK));
		if (b > n)
			b = n;
		int zero = all_zero(p + a, b - a), rc;
		while (b < n) { /* the rest of the run of blocks of the same kind */
			size_t e = n - b < WVOL_CHUNK ? n : b + WVOL_CHUNK;
			if (all_zero(p + b, e - b) != zero)
				break;
			b = e;
		}
		if (!zero && (rc = put(arg, p + a, b - a, off + a, err)) != 0)
			return rc;
		a = b;
	}
	return 0;
}

static int put_fd(void *arg, const uint8_t *p, size_t len, uint64_t off, char *err)
{
	struct out_file *o = arg;
	if (ward_pwrite_full(o->fd, p, len, off) != 0)
		return wv_fail(err, -errno, "cannot write '%s/%s': %s", o->dir, o->rel, strerror(errno));
	return 0;
}

/* a sink of read_through: the bytes go to an exported file */
static int write_out(void *arg, const uint8_t *p, size_t n, char *err)
{
	struct out_file *o = arg;
	int rc = nonzero_runs(p, n, o->off, put_fd, o, err);
	o->off += n;
	return rc;
}

/* The path of the file that the hard link path names (its own path, the
 * one whose disk file holds slot 0), and the disk paths of both: 0, or -1
 * when path is no longer a hard link. */
static int hlink_paths(ward_vol *v, const char *path, char *file, char *fdisk, char *ldisk)
{
	struct vnode *n;
	int rc = -1;
	pthread_mutex_lock(&v->mu);
	if (wv_find(v, path, &n) == 0 && n->type == WVOL_T_HLINK && n->file != NULL &&
	    ward_strlcpy(file, n->file->path, WVOL_MAX_PATH + 1) == 0 &&
	    wv_disk_path(v, n->file, fdisk, WVOL_MAX_PATH + 1) == 0 && wv_disk_path(v, n, ldisk, WVOL_MAX_PATH + 1) == 0)
		rc = 0;
	pthread_mutex_unlock(&v->mu);
	return rc;
}

/* Whether disk files a and b (below the volume) hold the same bytes,
 * through buf (IOBUF bytes): 1, 0, or -errno. */
static int same_bytes(ward_vol *v, const char *a, const char *b, uint8_t *buf)
{
	int fa = openat(v->dirfd, a, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), fb = openat(v->dirfd, b, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sa, sb;
	int rc = fa < 0 || fb < 0 || fstat(fa, &sa) != 0 || fstat(fb, &sb) != 0 ? -errno : 0;
	size_t half = IOBUF / 2;
	if (rc == 0 && (!S_ISREG(sb.st_mode) || sa.st_size != sb.st_size))
		rc = 0; /* not the same */
	else if (rc == 0)
		for (uint64_t off = 0, size = (uint64_t)sa.st_size;; off += half) {
			if (off >= size) {
				rc = 1;
				break;
			}
			size_t want = size - off < half ? (size_t)(size - off) : half, ga = 0, gb = 0;
			if (ward_pread_full(fa, buf, want, off, &ga) != 0 || ward_pread_full(fb, buf + half, want, off, &gb) != 0) {
				rc = -errno;
				break;
			}
			if (ga != want || gb != want || memcmp(buf, buf + half, want) != 0)
				break; /* rc 0: not the same */
		}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return rc;
}

/* A further path of a hard-linked file (format.h invariant 7): its disk
 * file is the file's, checked at its own path, not trusted: the same disk
 * file, or the same bytes (a copy of the volume made without keeping hard
 * links). Missing only when the last record made it and a read-only open
 * could not (v->hl_unfinished). buf: IOBUF bytes (ciphertext only). */
static int check_hlink(ward_vol *v, const char *path, uint8_t *buf, char *err)
{
	char file[WVOL_MAX_PATH + 1], fd_[WVOL_MAX_PATH + 1], ld[WVOL_MAX_PATH + 1];
	struct stat a, b;
	if (hlink_paths(v, path, file, fd_, ld) != 0)
		return wv_fail(err, -EIO, "'%s/%s': internal error (not a hard link any more)", v->dir, path);
	if (fstatat(v->dirfd, ld, &b, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT && v->hl_unfinished != NULL && strcmp(v->hl_unfinished, path) == 0)
			return 0;
		return wv_fail(err, -EIO, "'%s/%s': file missing on disk (deleted or renamed outside the enclave)", v->dir, path);
	}
	if (fstatat(v->dirfd, fd_, &a, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(b.st_mode) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return 0;
	int same = same_bytes(v, fd_, ld, buf);
	if (same < 0)
		return wv_fail(err, same, "cannot read '%s/%s': %s", v->dir, path, strerror(-same));
	return same ? 0
		    : wv_fail(err, -EIO, "'%s/%s': hard link of '%s' holds other bytes on disk (modified outside the enclave)",
			      v->dir, path, file);
}

int ward_vol_verify(ward_vol *v, void (*progress)(void *, uint64_t, uint64_t), void *arg, char *err)
{
	struct walk w;
	uint64_t done = 0;
	int rc;

	if ((rc = walk_begin(v, &w, err)) != 0)
		return rc;
	for (size_t i = 0; i < w.n && rc == 0; i++) {
		if (w.types[i] == WVOL_T_LINK) {
			ssize_t r = ward_vol_readlink(v, w.paths[i], (char *)w.buf, IOBUF, err);
			rc = r < 0 ? (int)r : 0;
			continue;
		}
		if (w.types[i] == WVOL_T_HLINK) { /* its file is read at its own path */
			rc = check_hlink(v, w.paths[i], w.buf, err);
			continue;
		}
		if (w.types[i] != WVOL_T_FILE)
			continue;
		rc = read_through(v, w.paths[i], w.buf, NULL, NULL, &done, err);
		if (progress)
			progress(arg, done, w.total);
	}
	if (rc == 0 && v->kind == WARD_VOL_ENCRYPTED)
		rc = check_extra(v, w.paths, w.types, w.n, err);
	walk_end(&w);
	return rc;
}

int ward_vol_find_unlisted(ward_vol *v, char *err)
{
	char **paths;
	uint8_t *types;
	size_t n;
	if (list_paths(v, &paths, &types, &n) != 0)
		return wv_fail(err, -ENOMEM, "out of memory");
	int rc = check_extra(v, paths, types, n, err);
	paths_free(paths, types, n);
	return rc == -EBADMSG ? 1 : rc;
}

/* ---- verifying a caller's descriptor (volume.h) ---- */

int ward_vol_verify_fd(ward_vol *v, const char *path, int fd, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	struct cref *c = NULL;
	uint64_t size = 0, nc, off = 0;
	uint8_t *buf = NULL, h[32], type = 0;
	struct stat st;
	int rc = wv_path_norm(path, p, sizeof(p), err);

	if (rc != 0)
		return rc;
	if (v->kind != WARD_VOL_AUTHENTICATED || v->writable)
		return wv_fail(err, -EINVAL, "'%s': only a read-only authenticated volume can check a descriptor", p);
	pthread_mutex_lock(&v->mu);
	struct vnode *n = NULL;
	int found = p[0] ? wv_find(v, p, &n) : -EISDIR;
	if (n != NULL)
		type = n->type;
	if (n != NULL && n->type == WVOL_T_FILE) {
		size = n->size;
		nc = wv_nchunks(size);
		/* a read-only volume's committed chunk list does not change, but
		 * copy it: the check runs without the volume's lock */
		if (nc > 0 && (c = malloc(nc * sizeof(*c))) != NULL)
			memcpy(c, n->c, nc * sizeof(*c));
	}
	pthread_mutex_unlock(&v->mu);
	if (found == -ENOENT)
		return wv_fail(err, -ENOENT, "'%s': no such file in volume '%s'", p, v->dir);
	if (found != 0 && found != -EISDIR)
		return wv_fail(err, found, "'%s' in volume '%s': %s", p, v->dir, wv_find_why(found));
	if (type != WVOL_T_FILE)
		return wv_fail(err, -EISDIR, "'%s' is a directory", p);
	nc = wv_nchunks(size);
	if (nc > 0 && c == NULL)
		return wv_fail(err, -ENOMEM, "out of memory");
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = wv_fail(err, -EINVAL, "'%s': not a regular file", p);
		goto out;
	}
	if ((uint64_t)st.st_size != size) {
		rc = wv_fail(err, -EIO, "'%s': file %s on disk", p, (uint64_t)st.st_size > size ? "extended" : "truncated");
		goto out;
	}
	if (nc > 0 && (buf = malloc(IOBUF)) == NULL) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	while (off < size) {
		size_t want = size - off < IOBUF ? (size_t)(size - off) : IOBUF, got = 0;
		while (got < want) {
			ssize_t r = pread(fd, buf + got, want - got, (off_t)(off + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = wv_fail(err, -EIO, "'%s': chunk %llu: cannot read: %s", p,
					     (unsigned long long)((off + got) / WVOL_CHUNK), r < 0 ? strerror(errno) : "file truncated on disk");
				goto out;
			}
			got += (size_t)r;
		}
		for (size_t o = 0; o < want; o += WVOL_CHUNK) {
			uint64_t i = (off + o) / WVOL_CHUNK;
			size_t l = want - o < WVOL_CHUNK ? want - o : WVOL_CHUNK;
			/* the hashes are public: no constant-time compare needed */
			if (ward_sha256(buf + o, l, h) != 0 || memcmp(h, c[i].v, 32) != 0) {
				rc = wv_fail(err, -EIO, "'%s' chunk %llu: authentication failed (data modified)", p,
					     (unsigned long long)i);
				goto out;
			}
		}
		off += want;
	}
	rc = 0;
out:
	free(buf); /* public bytes: an authenticated volume's plaintext is on disk */
	free(c);
	return rc;
}

/* ---- export ---- */

/* Recreates the link rel of v below outfd (out_dir in messages) with its
 * verified target (nothing is made when it fails) and its mtime; buf
 * holds at least WARD_VOL_MAX_LINK + 1 bytes. */
static int export_link(ward_vol *v, int outfd, const char *out_dir, const char *rel, const struct ward_vstat *st,
		       char *buf, char *err)
{
	ssize_t r = ward_vol_readlink(v, rel, buf, WARD_VOL_MAX_LINK, err);
	if (r < 0)
		return (int)r;
	buf[r] = '\0';
	if (symlinkat(buf, outfd, rel) != 0)
		return wv_fail(err, -errno, "cannot create link '%s/%s': %s", out_dir, rel, strerror(errno));
	struct timespec ts[2];
	ns_timespec(st->mtime_ns, ts);
	(void)utimensat(outfd, rel, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

int ward_vol_export(ward_vol *v, const char *out_dir, void (*progress)(void *, uint64_t, uint64_t), void *arg,
		    char *err)
{
	struct walk w;
	uint64_t done = 0;
	int rc, outfd;

	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
		return wv_fail(err, -errno, "cannot create '%s': %s", out_dir, strerror(errno));
	DIR *d = opendir(out_dir);
	if (d == NULL)
		return wv_fail(err, -errno, "cannot open '%s': %s", out_dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			closedir(d);
			return wv_fail(err, -ENOTEMPTY, "'%s' is not empty; choose a new or empty directory", out_dir);
		}
	closedir(d);
	/* everything below is made relative to the directory: a volume path
	 * may take up to 4095 bytes, and out_dir comes on top */
	if ((outfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return wv_fail(err, -errno, "cannot open '%s': %s", out_dir, strerror(errno));
	if ((rc = walk_begin(v, &w, err)) != 0) {
		close(outfd);
		return rc;
	}
	for (size_t i = 0; i < w.n && rc == 0; i++) {
		const char *rel = w.paths[i];
		struct ward_vstat st;
		if ((rc = ward_vol_stat(v, rel, &st, err)) != 0)
			break;
		if (w.types[i] == WVOL_T_DIR) {
			if (mkdirat(outfd, rel, 0700) != 0)
				rc = wv_fail(err, -errno, "cannot create '%s/%s': %s", out_dir, rel, strerror(errno));
			continue;
		}
		if (w.types[i] == WVOL_T_LINK) {
			rc = export_link(v, outfd, out_dir, rel, &st, (char *)w.buf, err);
			continue;
		}
		if (w.types[i] == WVOL_T_HLINK)
			continue; /* made below, once its file is written */
		struct out_file o = { .dir = out_dir, .rel = rel };
		o.fd = openat(outfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (o.fd < 0)
			rc = wv_fail(err, -errno, "cannot create '%s/%s': %s", out_dir, rel, strerror(errno));
		else
			rc = read_through(v, rel, w.buf, write_out, &o, &done, err);
		int fd = o.fd;
		if (fd >= 0) {
			if (rc == 0 && ftruncate(fd, (off_t)o.off) != 0) /* the size, past a last hole */
				rc = wv_fail(err, -errno, "cannot write '%s/%s': %s", out_dir, rel, strerror(errno));
			if (rc == 0 && fchmod(fd, st.mode & 07777) != 0)
				rc = wv_fail(err, -errno, "cannot set the mode of '%s/%s': %s", out_dir, rel, strerror(errno));
			struct timespec ts[2];
			ns_timespec(st.mtime_ns, ts);
			(void)futimens(fd, ts);
			if (close(fd) != 0 && rc == 0)
				rc = wv_fail(err, -errno, "cannot write '%s/%s': %s", out_dir, rel, strerror(errno));
		}
		if (rc != 0 && fd >= 0)
			(void)unlinkat(outfd, rel, 0); /* never leave a partial plaintext (only ever a file made here) */
		if (progress)
			progress(arg, done, w.total);
	}
	/* further paths of hard-linked files: hard links of the file written */
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		char file[WVOL_MAX_PATH + 1], fdisk[WVOL_MAX_PATH + 1], ldisk[WVOL_MAX_PATH + 1];
		if (w.types[i] != WVOL_T_HLINK)
			continue;
		if (hlink_paths(v, w.paths[i], file, fdisk, ldisk) != 0)
			rc = wv_fail(err, -EIO, "'%s/%s': internal error (not a hard link any more)", v->dir, w.paths[i]);
		else if (linkat(outfd, file, outfd, w.paths[i], 0) != 0)
			rc = wv_fail(err, -errno, "cannot link '%s/%s' to '%s': %s", out_dir, w.paths[i], file, strerror(errno));
	}
	/* directory modes and times last */
	for (size_t i = w.n; rc == 0 && i-- > 0;) {
		struct ward_vstat st;
		if (w.types[i] != WVOL_T_DIR || ward_vol_stat(v, w.paths[i], &st, NULL) != 0)
			continue;
		struct timespec ts[2];
		ns_timespec(st.mtime_ns, ts);
		(void)utimensat(outfd, w.paths[i], ts, AT_SYMLINK_NOFOLLOW);
		(void)fchmodat(outfd, w.paths[i], st.mode & 07777, 0);
	}
	walk_end(&w);
	close(outfd);
	return rc;
}

/* ---- copy into another volume (re-keying) ---- */

/* where read_through's bytes go for a copy: a file of the other volume */
struct out_vfile {
	ward_vfile *f;
	uint64_t off;
};

static int put_vfile(void *arg, const uint8_t *p, size_t len, uint64_t off, char *err)
{
	struct out_vfile *o = arg;
	ssize_t w = ward_vf_pwrite(o->f, p, len, off, err);
	return w < 0 ? (int)w : 0;
}

static int write_vfile(void *arg, const uint8_t *p, size_t n, char *err)
{
	struct out_vfile *o = arg;
	int rc = nonzero_runs(p, n, o->off, put_vfile, o, err);
	o->off += n;
	return rc;
}

/* One regular file of src (st its stat) into dst, verified on the way:
 * holes stay holes, then the size, the mode and the mtime. */
static int copy_file(ward_vol *src, ward_vol *dst, const char *rel, const struct ward_vstat *st, uint8_t *buf,
		     uint64_t *done, char *err)
{
	ward_vfile *f = NULL;
	int rc = ward_vf_open(dst, rel, O_WRONLY | O_CREAT | O_EXCL, st->mode & 07777, &f, err);
	if (rc != 0)
		return rc;
	struct out_vfile o = { f, 0 };
	rc = read_through(src, rel, buf, write_vfile, &o, done, err);
	if (rc == 0 && ward_vf_size(f) != o.off)
		rc = ward_vf_truncate(f, o.off, err); /* the size, past a last hole */
	if (rc == 0)
		rc = ward_vf_setattr(f, (int)(st->mode & 07777), st->mtime_ns, err);
	int c = ward_vf_close(f, rc ? NULL : err);
	return rc ? rc : c;
}

int ward_vol_copy(ward_vol *src, ward_vol *dst, void (*progress)(void *, uint64_t, uint64_t), void *arg, char *err)
{
	struct walk w;
	uint64_t done = 0;
	int rc;

	if ((rc = walk_begin(src, &w, err)) != 0)
		return rc;
	for (size_t i = 0; i < w.n && rc == 0; i++) {
		const char *rel = w.paths[i];
		struct ward_vstat st;
		if ((rc = ward_vol_stat(src, rel, &st, err)) != 0)
			break;
		if (w.types[i] == WVOL_T_DIR) {
			rc = ward_vol_mkdir(dst, rel, 0700, err); /* its mode and mtime below, once filled */
		} else if (w.types[i] == WVOL_T_LINK) {
			ssize_t r = ward_vol_readlink(src, rel, (char *)w.buf, WARD_VOL_MAX_LINK, err);
			if (r < 0) {
				rc = (int)r;
			} else {
				w.buf[r] = '\0';
				rc = ward_vol_symlink(dst, rel, (const char *)w.buf, err);
				if (rc == 0)
					rc = ward_vol_setattr(dst, rel, -1, st.mtime_ns, err);
			}
		} else if (w.types[i] == WVOL_T_FILE) {
			rc = copy_file(src, dst, rel, &st, w.buf, &done, err);
			if (progress)
				progress(arg, done, w.total);
		} /* WVOL_T_HLINK: below, once its file is there */
	}
	/* further paths of hard-linked files: paths of the file copied */
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		char file[WVOL_MAX_PATH + 1], fdisk[WVOL_MAX_PATH + 1], ldisk[WVOL_MAX_PATH + 1];
		if (w.types[i] != WVOL_T_HLINK)
			continue;
		if (hlink_paths(src, w.paths[i], file, fdisk, ldisk) != 0)
			rc = wv_fail(err, -EIO, "'%s/%s': internal error (not a hard link any more)", src->dir, w.paths[i]);
		else
			rc = ward_vol_link(dst, file, w.paths[i], err);
	}
	/* directory modes and times last (every entry made in one moved it) */
	for (size_t i = w.n; rc == 0 && i-- > 0;) {
		struct ward_vstat st;
		if (w.types[i] == WVOL_T_DIR && (rc = ward_vol_stat(src, w.paths[i], &st, err)) == 0)
			rc = ward_vol_setattr(dst, w.paths[i], (int)(st.mode & 07777), st.mtime_ns, err);
	}
	walk_end(&w);
	return rc;
}

/* ---- authenticated volumes ---- */

int ward_vol_authenticate(const char *dir, const char *manifest_path, uint8_t tag[WARD_VOL_TAG_LEN],
			  void (*progress)(void *, uint64_t, uint64_t), void *arg, struct ward_vol_skipped *skipped,
			  char *err)
{
	struct tree t = { 0 };
	ward_vol *v = NULL;
	uint8_t *buf = NULL, vid[WVOL_ID_LEN] = { 0 };
	uint64_t done = 0;
	int rc, rootfd = -1;
	char rd[PATH_MAX], rm[PATH_MAX];
	struct stat rs;

	if (stat(dir, &rs) != 0)
		return wv_fail(err, -errno, "cannot read '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(rs.st_mode))
		return wv_fail(err, -ENOTDIR, "'%s' is not a directory", dir);
	/* the manifest may not live inside the tree it describes (except in
	 * the reserved entry) */
	{
		char tmp[PATH_MAX];
		if (ward_strlcpy(tmp, manifest_path, sizeof(tmp)) != 0)
			return wv_fail(err, -ENAMETOOLONG, "manifest path too long");
		char *slash = strrchr(tmp, '/');
		const char *parent = slash ? (slash == tmp ? "/" : (*slash = '\0', tmp)) : ".";
		int dir_ok = realpath(dir, rd) != NULL;
		if (!dir_ok || realpath(parent, rm) == NULL) {
			int e = errno;
			return wv_fail(err, -e, "cannot resolve '%s': %s%s", dir_ok ? manifest_path : dir, strerror(e),
				       e == ENOENT && dir_ok ? "; the manifest's directory must exist" : "");
		}
		size_t l = strlen(rd);
		char meta[PATH_MAX + 16];
		snprintf(meta, sizeof(meta), "%s/%s", rd, WARD_VOL_META_DIR);
		if ((strncmp(rm, rd, l) == 0 && (rm[l] == '\0' || rm[l] == '/')) && strcmp(rm, meta) != 0)
			return wv_fail(err, -EINVAL, "the manifest '%s' would be inside the tree it describes; write it elsewhere",
				       manifest_path);
	}
	if ((rootfd = open_tree(dir, err)) < 0) {
		rc = rootfd;
		goto out;
	}
	if ((rc = walk(rootfd, dir, &t, err)) != 0)
		goto out;
	if (skipped != NULL)
		*skipped = t.skipped;
	v = calloc(1, sizeof(*v));
	buf = aligned_alloc(4096, IOBUF); /* the kernel copies into page-aligned buffers fastest */
	if (v == NULL || buf == NULL) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	v->dirfd = v->lockfd = v->jfd = -1;
	pthread_mutex_init(&v->mu, NULL);
	v->kind = WARD_VOL_AUTHENTICATED;
	v->dir = strdup(dir);
	v->manifest = strdup(manifest_path);
	if (v->dir == NULL || v->manifest == NULL) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(v->vid, vid, sizeof(vid));
	for (size_t i = 0; i < t.n; i++) {
		struct tent *e = &t.e[i];
		struct vnode *n = wv_node_new(e->rel, S_ISDIR(e->st.st_mode) ? WVOL_T_DIR : WVOL_T_FILE);
		uint8_t h[32];
		if (n == NULL) {
			rc = wv_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		/* deterministic ids: the same tree gives the same tag anywhere */
		struct wbuf ib = { 0 };
		wb_put(&ib, "ward-vol auth id", 16);
		wb_put(&ib, e->rel, strlen(e->rel));
		if (ib.oom || ward_sha256(ib.p, ib.len, h) != 0) {
			free(ib.p);
			wv_node_free(n);
			rc = wv_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		free(ib.p);
		memcpy(n->id, h, WVOL_ID_LEN);
		n->mode = e->st.st_mode & 07777;
		n->mtime = st_mtime_ns(&e->st);
		if (n->type == WVOL_T_FILE) {
			char full[WARD_VOL_ERR_LEN];
			snprintf(full, sizeof(full), "%s/%s", dir, e->rel); /* for messages */
			int fd = openat(rootfd, e->rel, O_RDONLY | O_CLOEXEC); /* a link to a file is that file */
			uint64_t size = 0, cap = 0;
			if (fd < 0) {
				wv_node_free(n);
				rc = wv_fail(err, -errno, "cannot read '%s': %s", full, strerror(errno));
				goto out;
			}
			for (;;) {
				size_t got = 0;
				while (got < IOBUF) {
					ssize_t r = read(fd, buf + got, IOBUF - got);
					if (r < 0 && errno == EINTR)
						continue;
					if (r <= 0) {
						if (r < 0)
							rc = wv_fail(err, -errno, "cannot read '%s': %s", full, strerror(errno));
						break;
					}
					got += (size_t)r;
				}
				if (rc != 0 || got == 0)
					break;
				uint64_t need = wv_nchunks(size + got);
				if (need > cap) {
					cap = need * 2;
					struct cref *c = realloc(n->c, cap * sizeof(*c));
					if (c == NULL) {
						rc = wv_fail(err, -ENOMEM, "out of memory");
						break;
					}
					n->c = c;
				}
				for (size_t o = 0; o < got; o += WVOL_CHUNK) {
					size_t l = got - o < WVOL_CHUNK ? got - o : WVOL_CHUNK;
					struct cref *c = &n->c[(size + o) / WVOL_CHUNK];
					memset(c, 0, sizeof(*c));
					if (ward_sha256(buf + o, l, c->v) != 0)
						rc = wv_fail(err, -ENOMEM, "hash failed");
				}
				size += got;
				done += got;
				if (progress)
					progress(arg, done, t.bytes);
				if (got < IOBUF)
					break;
			}
			close(fd);
			n->size = n->main_len = size;
		}
		if (rc != 0 || wv_insert(v, n) != 0) {
			wv_node_free(n);
			if (rc == 0)
				rc = wv_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (strcmp(rm, "") != 0) {
		char meta[PATH_MAX + 16];
		snprintf(meta, sizeof(meta), "%s/%s", rd, WARD_VOL_META_DIR);
		if (strcmp(rm, meta) == 0)
			(void)mkdir(meta, 0755);
	}
	if ((rc = wv_manifest_init(v, NULL, vid, err)) != 0)
		goto out;
	if (wv_tag(v, tag) != 0)
		rc = wv_fail(err, -ENOMEM, "cannot compute the tag");
out:
	if (v != NULL) {
		for (size_t b = 0; b < v->tcap; b++)
			for (struct vnode *x = v->tab[b], *nx; x; x = nx) {
				nx = x->hnext;
				wv_node_free(x);
			}
		free(v->tab);
		pthread_mutex_destroy(&v->mu);
		free(v->dir);
		free(v->manifest);
		free(v->last_payload);
		free(v);
	}
	free(buf);
	tree_free(&t);
	if (rootfd >= 0)
		close(rootfd);
	return rc;
}
