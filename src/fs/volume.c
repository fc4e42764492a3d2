/*
 * volume.c: opening and closing volumes, crash recovery of the last
 * namespace operation, the entry table, and namespace operations (stat,
 * readdir, mkdir, rmdir, unlink, rename, setattr). See volume.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/util.h"
#include "fs/internal.h"

/* files in the metadata directory (format.h) */
#define META_LOCK "lock"
#define META_INCOMPLETE "incomplete"

/* ---- entry table ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static struct vnode *table_find(ward_vol *v, const char *path)
{
	if (v->tcap != 0)
		for (struct vnode *n = v->tab[hash_str(path) & (v->tcap - 1)]; n; n = n->hnext)
			if (strcmp(n->path, path) == 0)
				return n;
	return NULL;
}

int wv_find(ward_vol *v, const char *path, struct vnode **out)
{
	if ((*out = table_find(v, path)) != NULL)
		return 0;
	return v->lz != NULL ? wv_lazy_node(v, path, out) : -ENOENT;
}

struct vnode *wv_lookup(ward_vol *v, const char *path)
{
	struct vnode *n;
	return wv_find(v, path, &n) == 0 ? n : NULL;
}

int wv_insert(ward_vol *v, struct vnode *n)
{
	if (v->tcount + 1 > v->tcap) {
		size_t nc = v->tcap ? v->tcap * 2 : 64;
		struct vnode **nt = calloc(nc, sizeof(*nt));
		if (nt == NULL)
			return -1;
		for (size_t b = 0; b < v->tcap; b++)
			for (struct vnode *x = v->tab[b], *nx; x; x = nx) {
				nx = x->hnext;
				size_t h = hash_str(x->path) & (nc - 1);
				x->hnext = nt[h];
				nt[h] = x;
			}
		free(v->tab);
		v->tab = nt;
		v->tcap = nc;
	}
	size_t h = hash_str(n->path) & (v->tcap - 1);
	n->hnext = v->tab[h];
	v->tab[h] = n;
	v->tcount++;
	return 0;
}

void wv_remove(ward_vol *v, struct vnode *n)
{
	struct vnode **pp = &v->tab[hash_str(n->path) & (v->tcap - 1)];
	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			n->hnext = NULL;
			v->tcount--;
			return;
		}
}

struct vnode *wv_node_new(const char *path, uint8_t type)
{
	struct vnode *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->path = strdup(path);
	if (n->path == NULL) {
		free(n);
		return NULL;
	}
	n->type = type;
	n->nlink = 1;
	n->fd_main = n->fd_alt = -1;
	pthread_rwlock_init(&n->rw, NULL);
	pthread_mutex_init(&n->pool_mu, NULL);
	return n;
}

void wv_node_free(struct vnode *n)
{
	if (n == NULL)
		return;
	wv_node_unload(n);
	pthread_rwlock_destroy(&n->rw);
	pthread_mutex_destroy(&n->pool_mu);
	free(n->c);
	free(n->path);
	free(n->diskpath);
	free(n->hl_target);
	free(n);
}

/* ---- open / close ---- */

static void vol_free(ward_vol *v)
{
	if (v == NULL)
		return;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b], *nx; x; x = nx) {
			nx = x->hnext;
			wv_node_free(x);
		}
	free(v->tab);
	wv_lazy_free(v->lz);
	if (v->jfd >= 0)
		close(v->jfd);
	if (v->lockfd >= 0)
		close(v->lockfd);
	if (v->dirfd >= 0)
		close(v->dirfd);
	/* No OpenSSL call for a volume that never had keys (volume.h,
	 * "Trusted manifests"). */
	if (v->mac != NULL)
		EVP_MAC_CTX_free(v->mac);
	if (v->macw != NULL)
		EVP_MAC_CTX_free(v->macw);
	if (v->fkeys != NULL)
		ward_hkdf_free(v->fkeys);
	if (v->kind == WARD_VOL_ENCRYPTED) {
		ward_wipe(v->kmeta, sizeof(v->kmeta));
		ward_wipe(v->kfile, sizeof(v->kfile));
	}
	pthread_mutex_destroy(&v->mu);
	free(v->last_payload);
	free(v->alias_from);
	free(v->alias_to);
	free(v->leftover);
	free(v->hl_unfinished);
	free(v->dir);
	free(v->meta);
	free(v->manifest);
	free(v);
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);
	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* What a creation killed before its marker was written (create_begin)
 * leaves in dir: only the metadata directory, with no manifest and
 * nothing in alt/. It is removed (so that the creation can simply be run
 * again) and 1 returned; 0 when dir holds anything else (never touched
 * then). */
static int clear_unfinished_create(const char *dir)
{
	char meta[PATH_MAX], p[PATH_MAX + 320];
	DIR *d = opendir(dir);
	struct dirent *e;
	int only_meta = 0, other = 0;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strcmp(e->d_name, WARD_VOL_META_DIR) == 0)
			only_meta = 1;
		else
			other = 1;
	}
	closedir(d);
	if (!only_meta || other || snprintf(meta, sizeof(meta), "%s/%s", dir, WARD_VOL_META_DIR) >= (int)sizeof(meta))
		return 0;
	snprintf(p, sizeof(p), "%s/manifest", meta);
	if (access(p, F_OK) == 0 || errno != ENOENT)
		return 0;
	snprintf(p, sizeof(p), "%s/" META_INCOMPLETE, meta);
	if (access(p, F_OK) == 0 || errno != ENOENT)
		return 0; /* marked: create_begin clears it under the lock */
	/* a creation still running holds the lock: leave it alone */
	snprintf(p, sizeof(p), "%s/" META_LOCK, meta);
	int lfd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0) {
		int busy = flock(lfd, LOCK_EX | LOCK_NB) != 0;
		close(lfd);
		if (busy)
			return 0;
	}
	/* alt/ must be empty (rmdir refuses otherwise), the rest is the lock
	 * and an unfinished manifest.tmp.* */
	snprintf(p, sizeof(p), "%s/alt", meta);
	if (rmdir(p) != 0 && errno != ENOENT)
		return 0;
	if ((d = opendir(meta)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, META_LOCK) == 0 || strncmp(e->d_name, "manifest.tmp.", 13) == 0) {
			snprintf(p, sizeof(p), "%s/%s", meta, e->d_name);
			(void)unlink(p);
		}
	closedir(d);
	return rmdir(meta) == 0;
}

/* ---- volumes under creation (format.h, META_INCOMPLETE) ---- */

static const char mark_text[] = "a Ward volume under creation: incomplete until this file is removed\n";

static int fsync_meta(ward_vol *v)
{
	int fd = openat(v->dirfd, WARD_VOL_META_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), rc;
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* 1 when the directory open as dirfd holds nothing but the metadata. */
static int only_meta(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), only = 1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (only && (e = readdir(d)) != NULL)
		only = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, WARD_VOL_META_DIR) == 0;
	closedir(d);
	return only;
}

/* Whether the directory open as dirfd is the leftover of an interrupted
 * creation that create_begin may clear: the marker, with exactly the text
 * written there, and either the manifest of an encrypted volume or nothing
 * but the metadata (killed before the manifest was written). Anything else
 * is left alone: this decides whether a directory's contents are removed. */
static int is_leftover(int dirfd)
{
	char text[sizeof(mark_text)];
	uint8_t h[16];
	ssize_t r;
	int fd = openat(dirfd, WARD_VOL_META_DIR "/" META_INCOMPLETE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	r = read(fd, text, sizeof(text));
	close(fd);
	if (r != (ssize_t)sizeof(mark_text) - 1 || memcmp(text, mark_text, sizeof(mark_text) - 1) != 0)
		return 0;
	fd = openat(dirfd, WARD_VOL_META_DIR "/manifest", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT && only_meta(dirfd);
	r = pread(fd, h, sizeof(h), 0);
	close(fd);
	/* magic, then the kind (u32 LE at 12) */
	return r == (ssize_t)sizeof(h) && memcmp(h, WVOL_MAGIC, 8) == 0 && h[12] == WARD_VOL_ENCRYPTED && h[13] == 0 &&
	       h[14] == 0 && h[15] == 0;
}

/* Removes name below dirfd: a file, or a directory with everything in it.
 * Depth first, without recursion and with one descriptor at a time (the
 * path from dirfd grows and shrinks): a volume may be as deep as a path of
 * 4095 bytes allows. 0 or -errno. */
static int rm_tree_at(int dirfd, const char *name)
{
	size_t top = strlen(name), len = top, cap = WVOL_MAX_PATH + 1;
	char *p;
	int rc = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	if (top >= cap)
		return -ENAMETOOLONG;
	if ((p = malloc(cap)) == NULL)
		return -ENOMEM;
	memcpy(p, name, top + 1);
	for (;;) {
		int fd = openat(dirfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), down = 0;
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;
		if (d == NULL) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (e->d_type != DT_DIR && unlinkat(fd, e->d_name, 0) == 0)
				continue;
			if (e->d_type != DT_DIR && errno != EISDIR) {
				rc = errno == ENOENT ? 0 : -errno;
				continue;
			}
			size_t nl = strlen(e->d_name);
			if (len + 1 + nl >= cap) {
				rc = -ENAMETOOLONG;
				break;
			}
			p[len] = '/';
			memcpy(p + len + 1, e->d_name, nl + 1);
			len += 1 + nl;
			down = 1;
			break;
		}
		closedir(d);
		if (rc != 0)
			break;
		if (down)
			continue;
		if (unlinkat(dirfd, p, AT_REMOVEDIR) != 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		if (len == top)
			break;
		while (p[len - 1] != '/')
			len--;
		p[--len] = '\0';
	}
	free(p);
	return rc;
}

/* Removes what a volume under creation holds: every entry of the
 * directory, then the metadata but for the lock and the marker; and with
 * all, those and the metadata directory too, the marker last (a removal
 * killed midway still leaves a volume known as incomplete). */
static int clear_volume(ward_vol *v, int all, char *err)
{
	static const char *const keep[] = { WARD_VOL_META_DIR, META_LOCK, META_INCOMPLETE };
	int rc = 0;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		int fd = openat(v->dirfd, pass ? WARD_VOL_META_DIR : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;
		if (d == NULL) {
			if (fd >= 0)
				close(fd);
			return wv_fail(err, -errno, "cannot clear '%s': %s", v->dir, strerror(errno));
		}
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    (pass == 0 && strcmp(e->d_name, keep[0]) == 0) ||
			    (pass == 1 && (strcmp(e->d_name, keep[1]) == 0 || strcmp(e->d_name, keep[2]) == 0)))
				continue;
			if ((rc = rm_tree_at(fd, e->d_name)) != 0)
				rc = wv_fail(err, rc, "cannot clear '%s': cannot remove '%s': %s", v->dir, e->d_name, strerror(-rc));
		}
		closedir(d);
	}
	if (rc == 0 && all &&
	    ((unlinkat(v->dirfd, WARD_VOL_META_DIR "/" META_LOCK, 0) != 0 && errno != ENOENT) ||
	     unlinkat(v->dirfd, WARD_VOL_META_DIR "/" META_INCOMPLETE, 0) != 0 ||
	     unlinkat(v->dirfd, WARD_VOL_META_DIR, AT_REMOVEDIR) != 0))
		rc = wv_fail(err, -errno, "cannot clear '%s': %s", v->dir, strerror(errno));
	return rc;
}

static int disk_exists(ward_vol *v, const char *path)
{
	struct stat st;
	return fstatat(v->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Cuts the main file of n (at path) to its committed length when it is
 * longer: 0 when it is no longer than that now, -1 otherwise. */
static int cut_main(ward_vol *v, struct vnode *n, const char *path)
{
	struct stat st;
	int fd, rc;
	if (fstatat(v->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1; /* missing: the open reports it */
	if (!S_ISREG(st.st_mode))
		return -1;
	if ((uint64_t)st.st_size <= n->main_len)
		return 0;
	fd = openat(v->dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	rc = ftruncate(fd, (off_t)n->main_len);
	close(fd);
	return rc == 0 ? 0 : -1;
}

/* The last record made `to` a hard link: its disk link may be missing
 * (format.h invariant 7). Read-write: made now from the file's disk file;
 * when that fails, the link is undone (an UNLINK record), as it never
 * existed on disk. Read-only: reads go through the file's own disk file;
 * ward_vol_verify is told that this path may be missing. */
static int recover_link(ward_vol *v, const char *to, char *err)
{
	char dp[WVOL_MAX_PATH + 1], why[200];
	struct vnode *l = wv_lookup(v, to);
	if (l == NULL || l->type != WVOL_T_HLINK || l->file == NULL || disk_exists(v, to))
		return 0;
	if (!v->writable)
		return (v->hl_unfinished = strdup(to)) != NULL ? 0 : wv_fail(err, -ENOMEM, "out of memory");
	if (wv_disk_path(v, l->file, dp, sizeof(dp)) == 0 && linkat(v->dirfd, dp, v->dirfd, to, 0) == 0)
		return 0;
	struct wbuf w = { 0 };
	int rc;
	wb_str(&w, to);
	rc = w.oom ? wv_fail(err, -ENOMEM, "out of memory") : wv_manifest_append(v, WVOL_R_UNLINK, w.p, w.len, err);
	if (rc == 0 && wv_apply(v, WVOL_R_UNLINK, w.p, w.len, 0, why, sizeof(why)) != 0)
		rc = wv_fail(err, -EIO, "internal error applying a record: %s", why);
	free(w.p);
	return rc;
}

/* Finishes the disk operation of the last record (format.h invariant 3). */
static int recover_last(ward_vol *v, char *err)
{
	struct rd r = { v->last_payload, v->last_len, 0, 0 };
	char a[WVOL_MAX_PATH + 1], b[WVOL_MAX_PATH + 1];
	struct vnode *n;

	if (v->last_payload == NULL || rd_path(&r, a, sizeof(a)) != 0)
		return 0;
	switch (v->last_type) {
	case WVOL_R_CREATE:
		n = wv_lookup(v, a);
		if (n == NULL || !v->writable || n->type == WVOL_T_LINK) /* links: drop_unfinished_links */
			return 0;
		if (n->type == WVOL_T_DIR) {
			(void)mkdirat(v->dirfd, a, 0700);
		} else {
			int fd = openat(v->dirfd, a, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd >= 0)
				close(fd);
		}
		return 0;
	case WVOL_R_UNLINK:
		if (!v->writable) {
			v->leftover = strdup(a); /* not listed, and not an intrusion: check_extra skips it */
			return 0;
		}
		if (unlinkat(v->dirfd, a, 0) != 0 && errno != ENOENT)
			(void)unlinkat(v->dirfd, a, AT_REMOVEDIR);
		return 0;
	case WVOL_R_RENAME:
		if (rd_path(&r, b, sizeof(b)) != 0 || !disk_exists(v, a))
			return 0;
		if (v->writable) {
			(void)renameat(v->dirfd, a, v->dirfd, b);
		} else {
			/* read-only: find the data (and anything below it) at its old path */
			v->alias_from = strdup(a);
			v->alias_to = strdup(b);
		}
		return 0;
	case WVOL_R_LINK:
		if (rd_path(&r, b, sizeof(b)) != 0)
			return 0;
		return recover_link(v, b, err);
	case WVOL_R_CHUNKS:
		/* A truncation may not have reached the disk file yet (the
		 * commit cuts the main file after its record). Read-write: cut
		 * it now, so the file is exactly as committed again. The
		 * tolerance below lasts only while this record is the last one,
		 * so it must not outlive a read-write open: a later growth of
		 * the file would not be recorded first (note_growth trusts
		 * maybe_dirty) and look like an extension after the next crash. */
		n = wv_file_of(wv_lookup(v, a));
		if (n == NULL || n->type != WVOL_T_FILE)
			return 0;
		if (v->writable && cut_main(v, n, a) == 0)
			return 0;
		n->maybe_dirty = 1;
		/* not cut: make the tolerance last */
		return v->writable ? wv_manifest_dirty(v, a, err) : 0;
	default:
		return 0;
	}
}

/* A link without a target: its creation was killed between its CREATE
 * record and the CHUNKS record of its target (format.h invariant 6). It
 * never existed for anyone: a read-write open removes it (UNLINK record,
 * then its disk file), a read-only one drops it from the table (and
 * `ward fs verify` takes its disk file, when the creation got that far,
 * for a crash leftover). Lazy volumes hold no such link (their entries
 * are checked at open). */
static int drop_unfinished_links(ward_vol *v, char *err)
{
	if (v->lz != NULL || v->nlinks == 0)
		return 0;
	for (int again = 1; again;) {
		again = 0;
		for (size_t b = 0; b < v->tcap && !again; b++)
			for (struct vnode *x = v->tab[b]; x && !again; x = x->hnext) {
				if (x->type != WVOL_T_LINK || x->size != 0)
					continue;
				int rc = 0;
				char *p = strdup(x->path);
				if (p == NULL)
					return wv_fail(err, -ENOMEM, "out of memory");
				if (v->writable) {
					struct wbuf w = { 0 };
					char why[200];
					wb_str(&w, p);
					rc = w.oom ? wv_fail(err, -ENOMEM, "out of memory")
						   : wv_manifest_append(v, WVOL_R_UNLINK, w.p, w.len, err);
					if (rc == 0 && wv_apply(v, WVOL_R_UNLINK, w.p, w.len, 0, why, sizeof(why)) != 0)
						rc = wv_fail(err, -EIO, "internal error applying a record: %s", why);
					if (rc == 0)
						(void)unlinkat(v->dirfd, p, 0);
					free(w.p);
					free(p);
				} else {
					wv_drop_node(v, x);
					free(v->leftover);
					v->leftover = p; /* its disk file, if any, is no intrusion */
				}
				if (rc != 0)
					return rc;
				again = 1; /* the table changed: look again */
			}
	}
	return 0;
}

/* Whether an open for writing failed only because this process may not
 * write there (volume.h: WARD_VOL_RDWR then opens read-only). */
static int may_not_write(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

/* Takes the volume's lock (format.h, META_LOCK), never waiting: a
 * read-write open holds it exclusively, a read-only open shared, so that a
 * reader never sees a writer's state between its steps (a file grown
 * before its commit reads as extended, a chunk being rewritten as
 * tampered) and a writer never starts under a reader. A read-write open
 * that may not write the lock opens read-only (not when creating). A
 * reader that may not read it, or finds none (a volume copied without
 * it), goes without: nobody it could see writes there. */
static int lock_volume(ward_vol *v, int creating, char *err)
{
	char *lp = join(v->meta, META_LOCK);
	if (lp == NULL)
		return wv_fail(err, -ENOMEM, "out of memory");
	if (v->writable) {
		v->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (v->lockfd < 0 && (creating || !may_not_write(errno))) {
			int e = errno;
			free(lp);
			return wv_fail(err, -e, "cannot open the lock of volume '%s': %s", v->dir, strerror(e));
		}
		if (v->lockfd < 0)
			v->writable = 0;
	}
	if (!v->writable)
		v->lockfd = open(lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(lp);
	if (v->lockfd < 0)
		return 0;
	if (flock(v->lockfd, (v->writable ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return wv_fail(err, -errno, "cannot lock volume '%s': %s", v->dir, strerror(errno));
	/* held: by a writer, or (for a writer) by readers only */
	if (v->writable && flock(v->lockfd, LOCK_SH | LOCK_NB) == 0)
		return wv_fail(err, -EAGAIN, "volume '%s' is open for reading by another process; run this again when it has finished",
			       v->dir);
	return wv_fail(err, -EBUSY, "volume '%s' is open for writing by another process", v->dir);
}

/* The first steps of a creation (WARD_VOL_CREATE): dir is made, or must be
 * empty or hold the leftover of an interrupted creation; then the metadata
 * directory with the marker in it before anything else (format.h,
 * META_INCOMPLETE), the lock, and alt/. A leftover marked incomplete is
 * cleared under the lock, keeping its marker; one from before the marker
 * (only the metadata directory) is removed by clear_unfinished_create. */
static int create_begin(ward_vol *v, char *err)
{
	const char *dir = v->dir;
	int e, leftover = 0, fd;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return wv_fail(err, -errno, "cannot create '%s': %s%s", dir, strerror(errno),
			       errno == ENOENT ? "; create its parent directory first" : "");
	struct stat lst;
	if (lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode) && stat(dir, &lst) != 0)
		return wv_fail(err, -ENOENT, "'%s' is a symbolic link to nothing; give a new directory for the volume",
			       dir);
	e = dir_is_empty(dir);
	if (e == 0 && clear_unfinished_create(dir))
		e = dir_is_empty(dir);
	if (e < 0)
		return wv_fail(err, -errno, "cannot read '%s': %s", dir, strerror(errno));
	v->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->dirfd < 0)
		return wv_fail(err, -errno, "cannot open volume '%s': %s", dir, strerror(errno));
	if (e == 0 && !(leftover = is_leftover(v->dirfd)))
		return wv_fail(err, -ENOTEMPTY, "'%s' exists and is not empty; choose a new directory for the volume", dir);
	if (!leftover) {
		if (mkdirat(v->dirfd, WARD_VOL_META_DIR, 0700) != 0)
			return wv_fail(err, -errno, "cannot create the metadata of '%s': %s", dir, strerror(errno));
		/* its name is made durable with the manifest's (written
		 * atomically: the metadata directory is fsynced) */
		fd = openat(v->dirfd, WARD_VOL_META_DIR "/" META_INCOMPLETE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			    0600);
		if (fd < 0 || ward_pwrite_full(fd, mark_text, sizeof(mark_text) - 1, 0) != 0 || fsync(fd) != 0) {
			e = errno;
			if (fd >= 0)
				close(fd);
			return wv_fail(err, -e, "cannot create the metadata of '%s': %s", dir, strerror(e));
		}
		close(fd);
	}
	v->incomplete = 1;
	if ((e = lock_volume(v, 1, err)) != 0)
		return e == -EBUSY ? wv_fail(err, -EBUSY, "volume '%s' is being created by another process", dir) : e;
	if (leftover && (e = clear_volume(v, 0, err)) != 0)
		return e;
	if (mkdirat(v->dirfd, WARD_VOL_META_DIR "/alt", 0700) != 0)
		return wv_fail(err, -errno, "cannot create the metadata of '%s': %s", dir, strerror(errno));
	return 0;
}

/* The volume's marker is gone, for good (the creation is complete). */
static int unmark(ward_vol *v, char *err)
{
	if (unlinkat(v->dirfd, WARD_VOL_META_DIR "/" META_INCOMPLETE, 0) != 0 || fsync_meta(v) != 0)
		return wv_fail(err, -errno, "cannot complete volume '%s': %s", v->dir, strerror(errno));
	v->incomplete = 0;
	return 0;
}

/* Cuts the main file of every entry that may be longer on disk than
 * committed (DIRTY, or created and never committed) back to its committed
 * length, and drops the flag: the crash leftover of writes never
 * committed (format.h invariant 5: past main_len, slot 0 holds nothing
 * committed). Read-write opens only, under the lock (no reader), before
 * any file is open. A file that cannot be cut keeps its flag. */
static int reclaim_one(ward_vol *v, const char *path)
{
	struct vnode *n;
	if (wv_find(v, path, &n) == 0 && n->type == WVOL_T_FILE && n->refs == 0 && cut_main(v, n, path) == 0)
		n->maybe_dirty = 0;
	return 0;
}

/* the number of flags cleared (eager volumes; 0 for a lazy one) */
static size_t reclaim_growth(ward_vol *v)
{
	size_t cleared = 0;
	if (v->lz != NULL) {
		(void)wv_lazy_each_flagged(v, reclaim_one);
		return 0;
	}
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			if (x->type == WVOL_T_FILE && x->maybe_dirty && x->refs == 0 && cut_main(v, x, x->path) == 0) {
				x->maybe_dirty = 0;
				cleared++;
			}
	return cleared;
}

int ward_vol_open(const char *dir, const struct ward_vol_opts *o, ward_vol **out, char *err)
{
	ward_vol *v;
	int rc;
	struct stat st;

	if (dir == NULL || o == NULL || out == NULL)
		return wv_fail(err, -EINVAL, "missing argument");
	if (o->kind != WARD_VOL_ENCRYPTED && o->kind != WARD_VOL_AUTHENTICATED)
		return wv_fail(err, -EINVAL, "unknown volume kind %d", (int)o->kind);
	if (o->kind == WARD_VOL_ENCRYPTED && o->key == NULL)
		return wv_fail(err, -EINVAL, "volume '%s': an encrypted volume needs a key", dir);
	if (o->kind == WARD_VOL_AUTHENTICATED && (o->flags & (WARD_VOL_RDWR | WARD_VOL_CREATE)))
		return wv_fail(err, -EROFS, "volume '%s': authenticated volumes are read-only (build them with 'ward fs authenticate')", dir);
	if ((o->flags & WARD_VOL_INCOMPLETE) && !(o->flags & WARD_VOL_CREATE))
		return wv_fail(err, -EINVAL, "volume '%s': WARD_VOL_INCOMPLETE needs WARD_VOL_CREATE", dir);
	if (o->trusted_manifest != NULL && o->kind != WARD_VOL_AUTHENTICATED)
		return wv_fail(err, -EINVAL, "volume '%s': a trusted manifest applies to authenticated volumes only", dir);
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return wv_fail(err, -ENOMEM, "out of memory");
	v->dirfd = v->lockfd = v->jfd = -1;
	pthread_mutex_init(&v->mu, NULL);
	v->kind = o->kind;
	v->writable = (o->flags & (WARD_VOL_RDWR | WARD_VOL_CREATE)) != 0;
	v->want_trusted = o->trusted_manifest;
	v->dir = strdup(dir);
	v->meta = join(dir, WARD_VOL_META_DIR);
	v->manifest = o->manifest ? strdup(o->manifest) : join(v->meta ? v->meta : "", "manifest");
	if (v->dir == NULL || v->meta == NULL || v->manifest == NULL) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (o->flags & WARD_VOL_CREATE) {
		uint8_t vid[WVOL_ID_LEN];
		if ((rc = create_begin(v, err)) != 0)
			goto fail;
		if (ward_random(vid, sizeof(vid)) != 0) {
			rc = wv_fail(err, -EIO, "no randomness for the volume id");
			goto fail;
		}
		if ((rc = wv_manifest_init(v, o->key, vid, err)) != 0)
			goto fail;
		/* an empty volume is complete once its manifest is written */
		if (!(o->flags & WARD_VOL_INCOMPLETE) && (rc = unmark(v, err)) != 0)
			goto fail;
	} else {
		v->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (v->dirfd < 0) {
			rc = wv_fail(err, -errno, "cannot open volume '%s': %s", dir, strerror(errno));
			goto fail;
		}
		if (fstat(v->dirfd, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rc = wv_fail(err, -ENOTDIR, "'%s' is not a directory", dir);
			goto fail;
		}
		if (v->kind == WARD_VOL_ENCRYPTED) {
			/* an authenticated volume has no writer, and may be a
			 * read-only system tree: no lock, no marker */
			if (fstatat(v->dirfd, WARD_VOL_META_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
				rc = wv_fail(err, -ENOENT, "'%s' is not a volume (no manifest %s)", dir, v->manifest);
				goto fail;
			}
			if ((rc = lock_volume(v, 0, err)) != 0)
				goto fail;
			if (fstatat(v->dirfd, WARD_VOL_META_DIR "/" META_INCOMPLETE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				rc = wv_fail(err, -EUCLEAN,
					     "volume '%s' is incomplete: its creation by 'ward fs encrypt' was interrupted; remove "
					     "it, or give it to 'ward fs encrypt' again (which replaces it)",
					     dir);
				goto fail;
			}
		}
		rc = wv_manifest_load(v, o->key, err);
		v->want_trusted = NULL; /* the caller's pointer is not kept */
		if (rc != 0)
			goto fail;
		if (v->writable) {
			v->jfd = open(v->manifest, O_RDWR | O_CLOEXEC);
			if (v->jfd < 0 && may_not_write(errno)) {
				/* volume.h, WARD_VOL_RDWR: read-only, as a reader */
				v->writable = 0;
				if (flock(v->lockfd, LOCK_SH | LOCK_NB) != 0) {
					rc = wv_fail(err, -EBUSY, "volume '%s' is open for writing by another process", dir);
					goto fail;
				}
			} else if (v->jfd < 0 || ftruncate(v->jfd, (off_t)v->jlen) != 0) {
				rc = wv_fail(err, -errno, "cannot open manifest %s for writing: %s", v->manifest, strerror(errno));
				goto fail;
			}
			v->jsynced = v->jlen;
		}
		if ((rc = recover_last(v, err)) != 0 || (rc = drop_unfinished_links(v, err)) != 0)
			goto fail;
		if (v->writable)
			reclaim_growth(v);
	}
	if (o->expect_tag != NULL) {
		uint8_t tag[WARD_VOL_TAG_LEN];
		char hx[2 * WARD_VOL_TAG_LEN + 1], he[2 * WARD_VOL_TAG_LEN + 1];
		if (wv_tag(v, tag) != 0) {
			rc = wv_fail(err, -ENOMEM, "cannot compute the tag of '%s'", dir);
			goto fail;
		}
		if (!ward_ct_equal(tag, o->expect_tag, WARD_VOL_TAG_LEN)) {
			ward_hex(tag, sizeof(tag), hx);
			ward_hex(o->expect_tag, WARD_VOL_TAG_LEN, he);
			rc = wv_fail(err, -EBADMSG,
				     "volume '%s' has tag %s, expected %s (an older or modified version of the volume)",
				     dir, hx, he);
			goto fail;
		}
	}
	*out = v;
	return 0;
fail:
	vol_free(v);
	return rc;
}

int ward_vol_complete(ward_vol *v, char *err)
{
	int rc;
	if (!v->incomplete)
		return wv_fail(err, -EINVAL, "volume '%s' is not under creation", v->dir);
	if ((rc = ward_vol_sync(v, err)) != 0)
		return rc;
	pthread_mutex_lock(&v->mu);
	if (v->jlen > v->snap_len)
		rc = wv_manifest_snapshot(v, err);
	pthread_mutex_unlock(&v->mu);
	if (rc != 0)
		return rc;
	/* everything written since the creation began is durable (files
	 * closed during an import were not fsynced) before the marker goes */
	if (syncfs(v->dirfd) != 0)
		return wv_fail(err, -errno, "cannot sync volume '%s': %s", v->dir, strerror(errno));
	return unmark(v, err);
}

int ward_vol_discard(ward_vol *v, char *err)
{
	int rc;
	if (v == NULL)
		return 0;
	if (!v->incomplete) {
		rc = wv_fail(err, -EINVAL, "volume '%s' is not under creation: not removed", v->dir);
		(void)ward_vol_close(v, NULL);
		return rc;
	}
	rc = clear_volume(v, 1, err);
	vol_free(v);
	return rc;
}

int ward_vol_close(ward_vol *v, char *err)
{
	int rc = 0, r;
	if (v == NULL)
		return 0;
	if (v->writable) {
		rc = ward_vol_sync(v, err);
		pthread_mutex_lock(&v->mu);
		/* files created and never written (never committed) are still
		 * flagged as possibly longer on disk: settle them, so that the
		 * snapshot does not let a read-only open (ward fs verify)
		 * tolerate bytes added behind an empty file */
		size_t settled = rc == 0 && v->lz == NULL ? reclaim_growth(v) : 0;
		if ((v->jlen > v->snap_len || settled > 0) && (r = wv_manifest_snapshot(v, rc ? NULL : err)) != 0 &&
		    rc == 0)
			rc = r;
		pthread_mutex_unlock(&v->mu);
	}
	vol_free(v);
	return rc;
}

int ward_vol_tag(ward_vol *v, uint8_t out[WARD_VOL_TAG_LEN])
{
	pthread_mutex_lock(&v->mu);
	int rc = wv_tag(v, out) == 0 ? 0 : -ENOMEM;
	pthread_mutex_unlock(&v->mu);
	return rc;
}

int ward_vol_manifest_id(const ward_vol *v, struct ward_file_id *id)
{
	if (!v->mid_ok)
		return -ESTALE;
	*id = v->mid;
	return 0;
}

int ward_vol_opened_trusted(const ward_vol *v) { return v->trusted; }

enum ward_vol_kind ward_vol_kind_of(const ward_vol *v) { return v->kind; }
int ward_vol_writable(const ward_vol *v) { return v->writable; }
const char *ward_vol_dir(const ward_vol *v) { return v->dir; }

int ward_vol_sync(ward_vol *v, char *err)
{
	int rc = 0;
	if (!v->writable)
		return 0;
	/* collect loaded nodes under the lock, commit each outside it */
	pthread_mutex_lock(&v->mu);
	size_t k = 0, cnt = 0;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			cnt += wv_loaded(x) != 0;
	struct vnode **list = malloc((cnt ? cnt : 1) * sizeof(*list));
	if (list == NULL) {
		pthread_mutex_unlock(&v->mu);
		return wv_fail(err, -ENOMEM, "out of memory");
	}
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			if (k < cnt && wv_loaded(x)) { /* a node may have loaded since the count */
				x->refs++;
				list[k++] = x;
			}
	pthread_mutex_unlock(&v->mu);
	for (size_t i = 0; i < k; i++) {
		int r = wv_node_commit(v, list[i], 1, rc ? NULL : err);
		if (r != 0 && rc == 0)
			rc = r;
	}
	pthread_mutex_lock(&v->mu);
	for (size_t i = 0; i < k; i++)
		if (--list[i]->refs == 0 && list[i]->unlinked)
			wv_node_free(list[i]);
	pthread_mutex_unlock(&v->mu);
	free(list);
	/* a run that only read appended nothing: no disk flush for it */
	pthread_mutex_lock(&v->mu);
	uint64_t jl = v->jlen;
	int need = jl != v->jsynced;
	pthread_mutex_unlock(&v->mu);
	if (rc == 0 && v->jfd >= 0 && need) {
		if (fdatasync(v->jfd) != 0)
			return wv_fail(err, -errno, "cannot sync the manifest of '%s': %s", v->dir, strerror(errno));
		pthread_mutex_lock(&v->mu);
		if (v->jlen == jl)
			v->jsynced = jl;
		pthread_mutex_unlock(&v->mu);
	}
	return rc;
}

/* ---- namespace ---- */

static uint64_t ino_of(const struct vnode *n)
{
	uint64_t x = 0;
	memcpy(&x, n->id, sizeof(x));
	return x | 1; /* never 0 */
}

static void fill_stat(const struct vnode *n, struct ward_vstat *st)
{
	st->nlink = n->type == WVOL_T_FILE ? n->nlink : 1;
	st->mode = wv_type_mode(n->type) | n->mode;
	st->ino = ino_of(n);
	if (wv_loaded(n)) {
		st->size = __atomic_load_n(&n->wsize, __ATOMIC_RELAXED);
		st->mtime_ns = __atomic_load_n(&n->wmtime, __ATOMIC_RELAXED);
	} else {
		st->size = n->size;
		st->mtime_ns = n->mtime;
	}
}

int ward_vol_stat(ward_vol *v, const char *path, struct ward_vstat *st, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	if (p[0] == '\0') {
		memset(st, 0, sizeof(*st));
		st->mode = S_IFDIR | 0755;
		st->ino = 1;
		st->nlink = 1;
		return 0;
	}
	pthread_mutex_lock(&v->mu);
	struct vnode *n = table_find(v, p);
	if (n == NULL && v->lz == NULL)
		rc = -ENOENT;
	else if (n == NULL) {
		rc = wv_lazy_stat(v, p, st); /* a stat does not materialise a node */
		if (rc == -EAGAIN && (rc = wv_find(v, p, &n)) != 0 && rc != -ENOENT) {
			pthread_mutex_unlock(&v->mu);
			return wv_fail(err, rc, "'%s': %s", p, wv_find_why(rc));
		}
	}
	if (n != NULL)
		fill_stat(wv_file_of(n), st);
	pthread_mutex_unlock(&v->mu);
	return n != NULL || rc == 0 ? 0 : wv_fail(err, -ENOENT, "'%s': no such file in volume '%s'", p, v->dir);
}

static int parent_check(ward_vol *v, const char *p, char *err)
{
	const char *s = strrchr(p, '/');
	if (s == NULL)
		return 0;
	char pp[WVOL_MAX_PATH + 1];
	memcpy(pp, p, (size_t)(s - p));
	pp[s - p] = '\0';
	struct vnode *par;
	int rc = wv_find(v, pp, &par);
	if (rc == -ENOENT)
		return wv_fail(err, -ENOENT, "'%s': directory '%s' does not exist", p, pp);
	if (rc != 0)
		return wv_fail(err, rc, "'%s': %s", pp, wv_find_why(rc));
	if (par->type != WVOL_T_DIR)
		return wv_fail(err, -ENOTDIR, "'%s': '%s' is not a directory", p, pp);
	return 0;
}

/* Appends a record and applies it; the caller holds v->mu. */
static int log_apply(ward_vol *v, uint32_t type, struct wbuf *b, char *err)
{
	char why[200];
	int rc;
	if (b->oom)
		return wv_fail(err, -ENOMEM, "out of memory");
	if ((rc = wv_manifest_append(v, type, b->p, b->len, err)) != 0)
		return rc;
	if (wv_apply(v, type, b->p, b->len, 0, why, sizeof(why)) != 0)
		return wv_fail(err, -EIO, "internal error applying a record: %s", why);
	return 0;
}

/* Creates an entry (CREATE record, then the disk object). Caller holds mu. */
/* A creation whose disk operation failed (EMFILE, ENOSPC, ...) is taken
 * back with an UNLINK record: the volume must not list an entry that is not
 * on disk. When even that append fails, the next read-write open redoes the
 * creation (format.h, invariant 3). */
static void undo_create(ward_vol *v, const char *p)
{
	char e2[WARD_VOL_ERR_LEN];
	struct wbuf b = { 0 };
	wb_str(&b, p);
	if (!b.oom)
		(void)log_apply(v, WVOL_R_UNLINK, &b, e2);
	free(b.p);
}

int wv_create_locked(ward_vol *v, const char *p, uint8_t type, unsigned mode, char *err)
{
	struct wbuf b = { 0 };
	uint8_t id[WVOL_ID_LEN];
	int rc;

	if (ward_random(id, sizeof(id)) != 0)
		return wv_fail(err, -EIO, "no randomness for a file id");
	wb_str(&b, p);
	wb_u8(&b, type);
	wb_u32(&b, mode & 07777);
	wb_u64(&b, (uint64_t)wv_now_ns());
	wb_put(&b, id, sizeof(id));
	rc = log_apply(v, WVOL_R_CREATE, &b, err);
	free(b.p);
	if (rc != 0)
		return rc;
	if (type == WVOL_T_DIR) {
		if (mkdirat(v->dirfd, p, 0700) != 0 && errno != EEXIST) {
			int e = errno;
			undo_create(v, p);
			return wv_fail(err, -e, "cannot create directory '%s' in '%s': %s", p, v->dir, strerror(e));
		}
	} else {
		int fd = openat(v->dirfd, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			int e = errno;
			undo_create(v, p);
			return wv_fail(err, -e, "cannot create '%s' in '%s': %s", p, v->dir, strerror(e));
		}
		close(fd);
	}
	return 0;
}

int ward_vol_mkdir(ward_vol *v, const char *path, unsigned mode, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (p[0] == '\0')
		return wv_fail(err, -EEXIST, "the volume root exists");
	pthread_mutex_lock(&v->mu);
	struct vnode *n;
	int found = wv_find(v, p, &n);
	if (found == 0)
		rc = wv_fail(err, -EEXIST, "'%s' exists", p);
	else if (found != -ENOENT)
		rc = wv_fail(err, found, "'%s': %s", p, wv_find_why(found));
	else if ((rc = parent_check(v, p, err)) == 0)
		rc = wv_create_locked(v, p, WVOL_T_DIR, mode, err);
	pthread_mutex_unlock(&v->mu);
	return rc;
}

static int remove_entry(ward_vol *v, const char *path, int want_dir, char *err)
{
	char p[WVOL_MAX_PATH + 1], alt[64];
	struct wbuf b = { 0 };
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (p[0] == '\0')
		return wv_fail(err, -EBUSY, "the volume root cannot be removed");
	pthread_mutex_lock(&v->mu);
	struct vnode *n = wv_lazy_eager(v) == 0 ? wv_lookup(v, p) : NULL; /* nchild counts */
	if (n == NULL)
		rc = v->lz ? wv_fail(err, -ENOMEM, "out of memory") : wv_fail(err, -ENOENT, "'%s': no such file", p);
	else if (want_dir && n->type != WVOL_T_DIR)
		rc = wv_fail(err, -ENOTDIR, "'%s' is not a directory", p);
	else if (!want_dir && n->type == WVOL_T_DIR)
		rc = wv_fail(err, -EISDIR, "'%s' is a directory", p);
	else if (want_dir && n->nchild != 0)
		rc = wv_fail(err, -ENOTEMPTY, "directory '%s' is not empty", p);
	if (rc == 0) {
		/* the alt store goes with the file's last path */
		int keep_alt = n->refs > 0 || n->type == WVOL_T_HLINK || n->nlink > 1;
		(void)wv_alt_path(v, n->id, alt, sizeof(alt));
		wb_str(&b, p);
		rc = log_apply(v, WVOL_R_UNLINK, &b, err); /* n is freed unless open */
		if (rc == 0) {
			(void)unlinkat(v->dirfd, p, want_dir ? AT_REMOVEDIR : 0);
			if (!want_dir && !keep_alt)
				(void)unlinkat(v->dirfd, alt, 0);
		}
	}
	pthread_mutex_unlock(&v->mu);
	free(b.p);
	return rc;
}

int ward_vol_unlink(ward_vol *v, const char *path, char *err) { return remove_entry(v, path, 0, err); }

/* Removes the link n whose creation failed after its CREATE record (no
 * target committed). If even the UNLINK record cannot be written, n
 * leaves the table anyway: no snapshot may hold a link without a target,
 * and the next open removes what the journal keeps of it (invariant 6).
 * Caller holds v->mu. */
static void undo_link(ward_vol *v, struct vnode *n)
{
	struct wbuf b = { 0 };
	char path[WVOL_MAX_PATH + 1];
	snprintf(path, sizeof(path), "%s", n->path);
	wb_str(&b, path);
	if (log_apply(v, WVOL_R_UNLINK, &b, NULL) != 0 && wv_lookup(v, path) == n)
		wv_drop_node(v, n);
	(void)unlinkat(v->dirfd, path, 0);
	free(b.p);
}

int ward_vol_symlink(ward_vol *v, const char *path, const char *target, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	size_t tl = target != NULL ? strnlen(target, WARD_VOL_MAX_LINK + 1) : 0;
	struct vnode *n;
	int rc = wv_path_norm(path, p, sizeof(p), err);

	if (rc != 0)
		return rc;
	if (!v->writable || v->kind != WARD_VOL_ENCRYPTED)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (p[0] == '\0')
		return wv_fail(err, -EEXIST, "the volume root exists");
	if (tl == 0)
		return wv_fail(err, -ENOENT, "'%s': a symbolic link needs a target (empty)", p);
	if (tl > WARD_VOL_MAX_LINK)
		return wv_fail(err, -ENAMETOOLONG, "'%s': link target too long (more than %u bytes)", p, WARD_VOL_MAX_LINK);
	/* v->mu from the CREATE record to the CHUNKS record of the target:
	 * nothing else is appended between them, and no snapshot sees the
	 * link without its target (format.h invariant 6) */
	pthread_mutex_lock(&v->mu);
	int found = wv_find(v, p, &n);
	if (found == 0)
		rc = wv_fail(err, -EEXIST, "'%s' exists", p);
	else if (found != -ENOENT)
		rc = wv_fail(err, found, "'%s': %s", p, wv_find_why(found));
	else if ((rc = parent_check(v, p, err)) == 0 && (rc = wv_create_locked(v, p, WVOL_T_LINK, WVOL_LINK_MODE, err)) == 0) {
		if ((n = wv_lookup(v, p)) == NULL)
			rc = wv_fail(err, -EIO, "internal error creating link '%s'", p);
		else if ((rc = wv_link_fill_locked(v, n, target, tl, err)) != 0)
			undo_link(v, n);
	} else if (rc != 0 && (n = wv_lookup(v, p)) != NULL && n->type == WVOL_T_LINK && n->size == 0) {
		undo_link(v, n); /* recorded, but its disk file could not be made */
	}
	pthread_mutex_unlock(&v->mu);
	return rc;
}

/* The checks of ward_vol_link before its record (a, b normalised; the
 * caller holds v->mu): 0 and *file, or the error. */
static int link_check(ward_vol *v, const char *a, const char *b, struct vnode **file, char *err)
{
	struct vnode *n, *t;
	int rc = wv_find(v, a, &n);
	if (rc == -ENOENT)
		return wv_fail(err, -ENOENT, "'%s': no such file", a);
	if (rc != 0)
		return wv_fail(err, rc, "'%s': %s", a, wv_find_why(rc));
	n = wv_file_of(n);
	if (n->type == WVOL_T_DIR)
		return wv_fail(err, -EPERM, "'%s' is a directory: directories cannot be hard-linked", a);
	if (n->type != WVOL_T_FILE)
		return wv_fail(err, -EPERM, "'%s' is a symbolic link: resolve it and link its target instead", a);
	rc = wv_find(v, b, &t);
	if (rc == 0)
		return wv_fail(err, -EEXIST, "'%s' exists", b);
	if (rc != -ENOENT)
		return wv_fail(err, rc, "'%s': %s", b, wv_find_why(rc));
	if ((rc = parent_check(v, b, err)) != 0)
		return rc;
	if (n->nlink >= WARD_VOL_MAX_NLINK)
		return wv_fail(err, -EMLINK, "'%s' has %u paths already, the most a volume file may have", a, n->nlink);
	*file = n;
	return 0;
}

/* Makes the disk file of the new hard link b of f (format.h invariant 7),
 * replacing a disk file that the manifest does not list there (a leftover
 * never shown; a write of it would be tampering). 0 or -errno. */
static int link_disk(ward_vol *v, struct vnode *f, const char *b)
{
	char dp[WVOL_MAX_PATH + 1];
	if (wv_disk_path(v, f, dp, sizeof(dp)) != 0)
		return -ENAMETOOLONG;
	if (linkat(v->dirfd, dp, v->dirfd, b, 0) == 0)
		return 0;
	if (errno != EEXIST || unlinkat(v->dirfd, b, 0) != 0 || linkat(v->dirfd, dp, v->dirfd, b, 0) != 0)
		return -errno;
	return 0;
}

int ward_vol_link(ward_vol *v, const char *from, const char *to, char *err)
{
	char a[WVOL_MAX_PATH + 1], b[WVOL_MAX_PATH + 1];
	struct wbuf w = { 0 };
	struct vnode *f = NULL;
	int rc;

	if ((rc = wv_path_norm(from, a, sizeof(a), err)) != 0 || (rc = wv_path_norm(to, b, sizeof(b), err)) != 0)
		return rc;
	if (!v->writable || v->kind != WARD_VOL_ENCRYPTED)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (a[0] == '\0')
		return wv_fail(err, -EPERM, "the volume root is a directory: directories cannot be hard-linked");
	if (b[0] == '\0')
		return wv_fail(err, -EEXIST, "the volume root exists");
	/* v->mu from the record to the disk link: only the last record's disk
	 * operation can be unfinished (format.h invariant 3) */
	pthread_mutex_lock(&v->mu);
	if ((rc = link_check(v, a, b, &f, err)) == 0) {
		wb_str(&w, f->path);
		wb_str(&w, b);
		rc = log_apply(v, WVOL_R_LINK, &w, err);
	}
	if (rc == 0 && (rc = link_disk(v, f, b)) != 0) {
		struct wbuf u = { 0 };
		int e = -rc;
		wb_str(&u, b);
		/* undone: if even that record fails, the next open makes the link */
		(void)log_apply(v, WVOL_R_UNLINK, &u, NULL);
		free(u.p);
		rc = wv_fail(err, -e, "cannot link '%s' to '%s' in '%s': %s", b, a, v->dir, strerror(e));
	}
	pthread_mutex_unlock(&v->mu);
	free(w.p);
	return rc;
}

uint64_t ward_vol_links(ward_vol *v)
{
	/* changed under v->mu, read without it: the shield asks on every path */
	return __atomic_load_n(&v->nlinks, __ATOMIC_ACQUIRE);
}
int ward_vol_rmdir(ward_vol *v, const char *path, char *err) { return remove_entry(v, path, 1, err); }

int ward_vol_rename(ward_vol *v, const char *from, const char *to, char *err)
{
	char a[WVOL_MAX_PATH + 1], b[WVOL_MAX_PATH + 1];
	struct wbuf w = { 0 };
	int rc;

	if ((rc = wv_path_norm(from, a, sizeof(a), err)) != 0 || (rc = wv_path_norm(to, b, sizeof(b), err)) != 0)
		return rc;
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (a[0] == '\0' || b[0] == '\0')
		return wv_fail(err, -EBUSY, "the volume root cannot be renamed");
	pthread_mutex_lock(&v->mu);
	int lazy_oom = wv_lazy_eager(v) != 0; /* nchild counts, and a directory's entries move */
	struct vnode *n = lazy_oom ? NULL : wv_lookup(v, a), *t = lazy_oom ? NULL : wv_lookup(v, b);
	size_t la = strlen(a);
	if (lazy_oom)
		rc = wv_fail(err, -ENOMEM, "out of memory");
	else if (n == NULL)
		rc = wv_fail(err, -ENOENT, "'%s': no such file", a);
	else if ((rc = parent_check(v, b, err)) != 0)
		;
	else if (strcmp(a, b) == 0)
		rc = 0;
	else if (t != NULL && n->type != WVOL_T_DIR && wv_file_of(t) == wv_file_of(n))
		rc = 0; /* two paths of one file: rename(2) does nothing */
	else if (strncmp(b, a, la) == 0 && b[la] == '/')
		rc = wv_fail(err, -EINVAL, "cannot move '%s' into itself", a);
	else if (t != NULL && n->type != WVOL_T_DIR && t->type == WVOL_T_DIR)
		rc = wv_fail(err, -EISDIR, "'%s' is a directory", b);
	else if (t != NULL && n->type == WVOL_T_DIR && t->type != WVOL_T_DIR)
		rc = wv_fail(err, -ENOTDIR, "'%s' is not a directory", b);
	else if (t != NULL && t->type == WVOL_T_DIR && t->nchild != 0)
		rc = wv_fail(err, -ENOTEMPTY, "directory '%s' is not empty", b);
	else {
		char alt[64];
		int drop_alt = t != NULL && t->type == WVOL_T_FILE && t->refs == 0 && t->nlink <= 1;
		if (drop_alt)
			(void)wv_alt_path(v, t->id, alt, sizeof(alt));
		wb_str(&w, a);
		wb_str(&w, b);
		rc = log_apply(v, WVOL_R_RENAME, &w, err);
		if (rc == 0) {
			if (renameat(v->dirfd, a, v->dirfd, b) != 0)
				rc = wv_fail(err, -errno, "cannot rename '%s' in '%s': %s", a, v->dir, strerror(errno));
			if (drop_alt)
				(void)unlinkat(v->dirfd, alt, 0);
		}
	}
	if (strcmp(a, b) == 0 && n != NULL)
		rc = 0;
	pthread_mutex_unlock(&v->mu);
	free(w.p);
	return rc;
}

int ward_vol_setattr(ward_vol *v, const char *path, int mode, int64_t mtime_ns, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	struct wbuf b = { 0 };
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (p[0] == '\0')
		return 0; /* the root's attributes are fixed */
	pthread_mutex_lock(&v->mu);
	struct vnode *n;
	if ((rc = wv_find(v, p, &n)) != 0) {
		pthread_mutex_unlock(&v->mu);
		return rc == -ENOENT ? wv_fail(err, rc, "'%s': no such file", p) : wv_fail(err, rc, "'%s': %s", p, wv_find_why(rc));
	}
	n = wv_file_of(n); /* a hard link: its file (the record names the file's path) */
	n->refs++;
	pthread_mutex_unlock(&v->mu);
	pthread_rwlock_wrlock(&n->rw);
	pthread_mutex_lock(&v->mu);
	if (n->unlinked) {
		rc = wv_fail(err, -ENOENT, "'%s': no such file", p);
	} else if (n->type == WVOL_T_LINK && mode >= 0) {
		rc = wv_fail(err, -EOPNOTSUPP, "'%s' is a symbolic link: its mode is fixed (0777)", p);
	} else {
		uint32_t m = mode >= 0 ? ((uint32_t)mode & 07777) : n->mode;
		int64_t t = mtime_ns != WARD_VOL_KEEP_MTIME ? mtime_ns : (n->loaded ? n->wmtime : n->mtime);
		wb_str(&b, n->path);
		wb_u32(&b, m);
		wb_u64(&b, (uint64_t)t);
		rc = log_apply(v, WVOL_R_SETATTR, &b, err);
		if (rc == 0 && n->loaded)
			__atomic_store_n(&n->wmtime, t, __ATOMIC_RELAXED);
	}
	int fr = --n->refs == 0 && n->unlinked;
	pthread_mutex_unlock(&v->mu);
	pthread_rwlock_unlock(&n->rw);
	if (fr)
		wv_node_free(n);
	free(b.p);
	return rc;
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct ward_vdirent *)a)->name, ((const struct ward_vdirent *)b)->name);
}

/* The listing of p (normalised), unsorted; the caller holds v->mu. */
static int readdir_locked(ward_vol *v, const char *p, struct ward_vdirent **out, size_t *nout, char *err)
{
	int rc;
	if (p[0] != '\0') {
		struct vnode *d;
		rc = wv_find(v, p, &d);
		if (rc != 0 || d->type != WVOL_T_DIR) {
			return rc == 0	       ? wv_fail(err, -ENOTDIR, "'%s' is not a directory", p)
			       : rc == -ENOENT ? wv_fail(err, rc, "'%s': no such directory", p)
					       : wv_fail(err, rc, "'%s': %s", p, wv_find_why(rc));
		}
	}
	if (v->lz != NULL) {
		rc = wv_lazy_readdir(v, p, out, nout);
		return rc == 0 ? 0 : wv_fail(err, rc, "out of memory");
	}
	size_t pl = strlen(p), cnt = 0, names = 0;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext) {
			const char *rest = pl ? (strncmp(x->path, p, pl) == 0 && x->path[pl] == '/' ? x->path + pl + 1 : NULL)
					      : x->path;
			if (rest != NULL && strchr(rest, '/') == NULL) {
				cnt++;
				names += strlen(rest) + 1;
			}
		}
	struct ward_vdirent *e = malloc(cnt * sizeof(*e) + names + 1);
	if (e == NULL) {
		return wv_fail(err, -ENOMEM, "out of memory");
	}
	char *np = (char *)(e + cnt);
	size_t k = 0;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext) {
			const char *rest = pl ? (strncmp(x->path, p, pl) == 0 && x->path[pl] == '/' ? x->path + pl + 1 : NULL)
					      : x->path;
			if (rest != NULL && strchr(rest, '/') == NULL) {
				size_t l = strlen(rest) + 1;
				memcpy(np, rest, l);
				const struct vnode *f = wv_file_of(x);
				e[k].name = np;
				e[k].mode = wv_type_mode(f->type) | f->mode;
				e[k].ino = ino_of(x);
				np += l;
				k++;
			}
		}
	*out = e;
	*nout = cnt;
	return 0;
}

int ward_vol_readdir(ward_vol *v, const char *path, struct ward_vdirent **out, size_t *nout, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&v->mu);
	rc = readdir_locked(v, p, out, nout, err);
	pthread_mutex_unlock(&v->mu);
	if (rc == 0 && *nout > 1)
		qsort(*out, *nout, sizeof(**out), cmp_dirent);
	return rc;
}

int ward_vol_missing(ward_vol *v, const char *path, char *name, size_t namelen, char *err)
{
	char p[WVOL_MAX_PATH + 1], dp[WVOL_MAX_PATH + 1];
	struct ward_vdirent *e = NULL;
	size_t n = 0;
	int rc = wv_path_norm(path, p, sizeof(p), err);
	if (rc != 0)
		return rc;
	/* under the lock that namespace changes hold from their record to their
	 * disk operation: an entry being created or removed is never seen half
	 * done */
	pthread_mutex_lock(&v->mu);
	rc = readdir_locked(v, p, &e, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		if (snprintf(dp, sizeof(dp), "%s%s%s", p, p[0] ? "/" : "", e[i].name) >= (int)sizeof(dp))
			continue;
		if (fstatat(v->dirfd, dp, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
			snprintf(name, namelen, "%s", e[i].name);
			rc = 1;
		}
	}
	pthread_mutex_unlock(&v->mu);
	free(e);
	return rc;
}

int64_t wv_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
