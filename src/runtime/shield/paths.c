/*
 * paths.c: namespace calls (rename, unlink, remove, mkdir, rmdir, access,
 * chmod, utimensat, link, symlink, umask). Inside an encrypted region they
 * go through the volume, which commits them at once; an authenticated
 * region is read-only (EROFS); a move between a region and anything else is
 * EXDEV, as between two file systems, so callers copy instead.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
/* Programs may pass NULL where the headers say nonnull: check anyway. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/volume.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static mode_t cur_umask = 022;

__attribute__((constructor)) static void umask_init(void)
{
	mode_t m = umask(022);
	umask(m);
	__atomic_store_n(&cur_umask, m, __ATOMIC_RELAXED);
}

mode_t umask(mode_t m)
{
	typedef mode_t (*fn)(mode_t);
	static fn real;
	if (real == NULL)
		real = (fn)dlsym_next("umask");
	mode_t old = real(m);
	__atomic_store_n(&cur_umask, m & 0777, __ATOMIC_RELAXED);
	return old;
}

mode_t shield_umask(void)
{
	return __atomic_load_n(&cur_umask, __ATOMIC_RELAXED);
}

static int fail(int rc)
{
	errno = -rc;
	return -1;
}

/* Classifies path for a namespace call. Returns 1 when the caller must
 * handle a region (sp filled), 0 to pass through, -1 with errno set. */
static int classify(int dirfd, const char *path, struct shield_path *sp, const char *what)
{
	int rc;
	if (shield_inside || !ward_shield_active() || path == NULL || shield_classify(dirfd, path, sp) != 0)
		return 0;
	if (sp->kind == SHIELD_PLAIN)
		return 0;
	if (sp->kind == SHIELD_DENIED) {
		rc = shield_deny(sp->abs, what);
		return rc == 0 ? 0 : fail(rc);
	}
	if (shield_reserved_name(sp->rel))
		return fail(-EACCES);
	if (sp->kind == SHIELD_AUTHENTICATED && strcmp(what, "read") != 0)
		return fail(-EROFS);
	return 1;
}

/* A last component "." or "..": the kernel refuses to remove, create or
 * rename it (EINVAL, EEXIST, EBUSY, ENOTEMPTY), where lexical normalisation
 * would name the directory itself. Such calls go to the C library, which
 * fails them without touching anything. */
static int ends_in_dot(const char *path)
{
	size_t n = path != NULL ? strlen(path) : 0;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= 1 && path[n - 1] == '.' && (n == 1 || path[n - 2] == '/'))
		return 1;
	return n >= 2 && path[n - 1] == '.' && path[n - 2] == '.' && (n == 2 || path[n - 3] == '/');
}

static int do_unlink(int dirfd, const char *path, int flags)
{
	struct shield_path sp;
	if (ends_in_dot(path))
		return REAL(unlinkat)(dirfd, path, flags);
	int c = classify(dirfd, path, &sp, (flags & AT_REMOVEDIR) ? "remove directory" : "remove");
	if (c == 0)
		return REAL(unlinkat)(dirfd, path, flags);
	if (c < 0)
		return -1;
	if (sp.rel[0] == 0)
		return fail(-EBUSY);
	if (sp.dir_only && !(flags & AT_REMOVEDIR)) { /* "file/": ENOTDIR, "dir/": EISDIR */
		struct ward_vstat st;
		c = shield_be_stat(sp.region, sp.rel, &st);
		return fail(c != 0 ? c : S_ISDIR(st.mode) ? -EISDIR : -ENOTDIR);
	}
	c = (flags & AT_REMOVEDIR) ? shield_be_rmdir(sp.region, sp.rel) : shield_be_unlink(sp.region, sp.rel);
	if (c == 0 && !(flags & AT_REMOVEDIR))
		shield_node_unlinked(sp.region, sp.rel);
	if (c == -ENOENT && !(flags & AT_REMOVEDIR)) {
		/* A socket bound inside the region is on disk only (stat shows it). */
		struct stat st;
		if (REAL(lstat64)(sp.abs, &st) == 0 && S_ISSOCK(st.st_mode))
			return REAL(unlinkat)(AT_FDCWD, sp.abs, 0);
	}
	return c < 0 ? fail(c) : 0;
}

int unlink(const char *path)
{
	return do_unlink(AT_FDCWD, path, 0);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	return do_unlink(dirfd, path, flags);
}

int rmdir(const char *path)
{
	return do_unlink(AT_FDCWD, path, AT_REMOVEDIR);
}

int remove(const char *path)
{
	if (unlink(path) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	return rmdir(path);
}

static int do_mkdir(int dirfd, const char *path, mode_t mode)
{
	struct shield_path sp;
	if (ends_in_dot(path))
		return REAL(mkdirat)(dirfd, path, mode);
	int c = classify(dirfd, path, &sp, "create directory");
	if (c == 0)
		return REAL(mkdirat)(dirfd, path, mode);
	if (c < 0)
		return -1;
	if (sp.rel[0] == 0)
		return fail(-EEXIST);
	c = shield_be_mkdir(sp.region, sp.rel, mode & ~shield_umask() & 07777);
	return c < 0 ? fail(c) : 0;
}

int mkdir(const char *path, mode_t mode)
{
	return do_mkdir(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return do_mkdir(dirfd, path, mode);
}

static int do_rename(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	struct shield_path a, b;
	int ca, cb, rc;
	if (ends_in_dot(from) || ends_in_dot(to))
		return flags ? REAL(renameat2)(ofd, from, nfd, to, flags) : REAL(renameat)(ofd, from, nfd, to);
	ca = classify(ofd, from, &a, "rename");
	if (ca < 0)
		return -1;
	cb = classify(nfd, to, &b, "rename");
	if (cb < 0)
		return -1;
	if (ca == 0 && cb == 0)
		return flags ? REAL(renameat2)(ofd, from, nfd, to, flags) : REAL(renameat)(ofd, from, nfd, to);
	if (ca != cb || a.region != b.region)
		return fail(-EXDEV);
	if (flags & ~RENAME_NOREPLACE)
		return fail(-EINVAL);
	if (a.rel[0] == 0 || b.rel[0] == 0)
		return fail(-EBUSY);
	if (a.dir_only || b.dir_only) { /* a trailing slash: only a directory may move */
		struct ward_vstat st;
		rc = shield_be_stat(a.region, a.rel, &st);
		if (rc != 0 || !S_ISDIR(st.mode))
			return fail(rc != 0 ? rc : -ENOTDIR);
	}
	if (flags & RENAME_NOREPLACE) {
		struct ward_vstat st;
		if (shield_be_stat(b.region, b.rel, &st) == 0)
			return fail(-EEXIST);
	}
	rc = shield_be_rename(a.region, a.rel, b.rel);
	if (rc < 0)
		return fail(rc);
	shield_node_rename(a.region, a.rel, b.rel);
	return 0;
}

int rename(const char *from, const char *to)
{
	return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
	return do_rename(ofd, from, nfd, to, 0);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	return do_rename(ofd, from, nfd, to, flags);
}

static int do_access(int dirfd, const char *path, int amode, int flags)
{
	struct shield_path sp;
	struct ward_vstat st;
	int rc;
	if (shield_inside || !ward_shield_active() || path == NULL || shield_classify(dirfd, path, &sp) != 0 ||
	    sp.region == NULL)
		return REAL(faccessat)(dirfd, path, amode, flags);
	if (shield_reserved_name(sp.rel))
		return fail(-ENOENT);
	rc = shield_be_stat(sp.region, sp.rel, &st);
	if (rc != 0)
		return fail(rc);
	if ((amode & W_OK) && sp.kind == SHIELD_AUTHENTICATED)
		return fail(-EROFS);
	if ((amode & X_OK) && S_ISREG(st.mode) && !(st.mode & 0111))
		return fail(-EACCES);
	rc = REAL(faccessat)(dirfd, path, amode & ~X_OK, flags);
	return rc != 0 && errno == ENOENT ? 0 : rc;
}

int access(const char *path, int amode)
{
	return do_access(AT_FDCWD, path, amode, 0);
}

int faccessat(int dirfd, const char *path, int amode, int flags)
{
	return do_access(dirfd, path, amode, flags);
}

int eaccess(const char *path, int amode)
{
	return do_access(AT_FDCWD, path, amode, AT_EACCESS);
}
int euidaccess(const char *path, int amode) __attribute__((alias("eaccess")));

/* chmod and utimensat: the volume keeps mode and mtime (stat shows them);
 * the file on disk follows when it can. */
static int setattr(int dirfd, const char *path, int mode, int64_t mtime_ns, int *handled)
{
	struct shield_path sp;
	int c = classify(dirfd, path, &sp, "change");
	*handled = c != 0;
	if (c <= 0)
		return c;
	c = shield_be_setattr(sp.region, sp.rel, mode, mtime_ns);
	return c < 0 ? fail(c) : 0;
}

typedef int (*chmod_fn)(const char *, mode_t);
typedef int (*fchmodat_fn)(int, const char *, mode_t, int);
typedef int (*utimensat_fn)(int, const char *, const struct timespec *, int);

int chmod(const char *path, mode_t mode)
{
	static chmod_fn real;
	int h, rc;
	if (real == NULL)
		real = (chmod_fn)dlsym_next("chmod");
	rc = setattr(AT_FDCWD, path, (int)(mode & 07777), -1, &h);
	if (!h)
		return real(path, mode);
	if (rc == 0)
		(void)real(path, mode);
	return rc;
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	static fchmodat_fn real;
	int h, rc;
	if (real == NULL)
		real = (fchmodat_fn)dlsym_next("fchmodat");
	rc = setattr(dirfd, path, (int)(mode & 07777), -1, &h);
	if (!h)
		return real(dirfd, path, mode, flags);
	if (rc == 0)
		(void)real(dirfd, path, mode, flags);
	return rc;
}

int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	static utimensat_fn real;
	struct timespec now;
	int64_t ns;
	int h, rc;
	if (real == NULL)
		real = (utimensat_fn)dlsym_next("utimensat");
	if (path == NULL || shield_inside || !ward_shield_active())
		return real(dirfd, path, ts, flags);
	if (ts == NULL || ts[1].tv_nsec == UTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &now);
		ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	} else if (ts[1].tv_nsec == UTIME_OMIT) {
		ns = -1;
	} else {
		ns = (int64_t)ts[1].tv_sec * 1000000000 + ts[1].tv_nsec;
	}
	rc = setattr(dirfd, path, -1, ns, &h);
	if (!h)
		return real(dirfd, path, ts, flags);
	if (rc == 0)
		(void)real(dirfd, path, ts, flags);
	return rc;
}

static int no_links(int dirfd, const char *path)
{
	struct shield_path sp;
	int c = classify(dirfd, path, &sp, "link");
	if (c < 0)
		return -1;
	if (c > 0)
		return fail(-EPERM); /* volumes hold no links */
	return 0;
}

int link(const char *from, const char *to)
{
	if (no_links(AT_FDCWD, from) != 0 || no_links(AT_FDCWD, to) != 0)
		return -1;
	return REAL(link)(from, to);
}

int linkat(int ofd, const char *from, int nfd, const char *to, int flags)
{
	if (no_links(ofd, from) != 0 || no_links(nfd, to) != 0)
		return -1;
	return REAL(linkat)(ofd, from, nfd, to, flags);
}

int symlink(const char *target, const char *path)
{
	if (no_links(AT_FDCWD, path) != 0)
		return -1;
	return REAL(symlink)(target, path);
}

int symlinkat(const char *target, int dirfd, const char *path)
{
	if (no_links(dirfd, path) != 0)
		return -1;
	return REAL(symlinkat)(target, dirfd, path);
}

/* Volumes hold directories and regular files only. */
int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	typedef int (*fn)(int, const char *, mode_t, dev_t);
	static fn real;
	struct shield_path sp;
	int c;
	if (real == NULL)
		real = (fn)dlsym_next("mknodat");
	c = classify(dirfd, path, &sp, "create");
	if (c < 0)
		return -1;
	if (c > 0) {
		if (S_ISREG(mode) || (mode & S_IFMT) == 0) {
			int fd = shield_openat(dirfd, path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode & 07777);
			return fd < 0 ? -1 : close(fd);
		}
		return fail(-EPERM);
	}
	return real(dirfd, path, mode, dev);
}

int mknod(const char *path, mode_t mode, dev_t dev)
{
	return mknodat(AT_FDCWD, path, mode, dev);
}

int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	return mknodat(dirfd, path, S_IFIFO | (mode & 07777), 0);
}

int mkfifo(const char *path, mode_t mode)
{
	return mknodat(AT_FDCWD, path, S_IFIFO | (mode & 07777), 0);
}

/* fd forms of chmod and utimensat: the volume keeps mode and mtime, set on
 * the descriptor's own file (renamed: at its new path; unlinked or
 * replaced: for its open descriptors only), never on whatever file has its
 * old path now. */
static int fd_setattr(int fd, int mode, int64_t mtime_ns)
{
	struct shield_ofd *o = shield_fd_get(fd);
	struct shield_node *n;
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc;
	if (o == NULL)
		return 1;
	n = o->node;
	if (n->handle == NULL || n->region->vol == NULL) {
		rc = -EIO; /* the volumes were closed at exit */
	} else {
		shield_inside++;
		rc = ward_vf_setattr(n->handle, mode, mtime_ns, verr);
		shield_inside--;
		if (rc == 0)
			shield_committed(n->region, 0);
	}
	shield_ofd_put(o);
	return rc < 0 ? fail(rc) : 0;
}

int fchmod(int fd, mode_t mode)
{
	typedef int (*fn)(int, mode_t);
	static fn real;
	int rc;
	if (real == NULL)
		real = (fn)dlsym_next("fchmod");
	if (shield_inside || !shield_fd_is(fd))
		return real(fd, mode);
	rc = fd_setattr(fd, (int)(mode & 07777), -1);
	if (rc == 0)
		(void)real(fd, mode);
	return rc == 1 ? real(fd, mode) : rc;
}

int futimens(int fd, const struct timespec ts[2])
{
	typedef int (*fn)(int, const struct timespec *);
	static fn real;
	struct timespec now;
	int64_t ns;
	int rc;
	if (real == NULL)
		real = (fn)dlsym_next("futimens");
	if (shield_inside || !shield_fd_is(fd))
		return real(fd, ts);
	if (ts == NULL || ts[1].tv_nsec == UTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &now);
		ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	} else if (ts[1].tv_nsec == UTIME_OMIT) {
		return real(fd, ts);
	} else {
		ns = (int64_t)ts[1].tv_sec * 1000000000 + ts[1].tv_nsec;
	}
	rc = fd_setattr(fd, -1, ns);
	if (rc == 0)
		(void)real(fd, ts);
	return rc == 1 ? real(fd, ts) : rc;
}
