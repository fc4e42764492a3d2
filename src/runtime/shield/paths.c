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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
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

/* Classifies path for a namespace call (follow: whether a last component
 * that is a link in a volume is followed). Returns 1 when the caller must
 * handle a region (sp filled), 0 to pass through (to the C library with
 * shield_real_path()), -1 with errno set. */
static int classify_ex(int dirfd, const char *path, struct shield_path *sp, const char *what, int follow)
{
	int rc;
	sp->resolved = 0; /* also when the classification below is skipped */
	if (shield_inside || !ward_shield_active() || path == NULL ||
	    (follow ? shield_classify(dirfd, path, sp) : shield_classify_nofollow(dirfd, path, sp)) != 0)
		return 0;
	if (sp->kind == SHIELD_PLAIN)
		return 0;
	if (sp->kind == SHIELD_DENIED) {
		rc = shield_deny(sp, what);
		return rc == 0 ? 0 : fail(rc);
	}
	if (shield_reserved_name(sp->rel))
		return fail(-EACCES);
	if (sp->kind == SHIELD_AUTHENTICATED && strcmp(what, "read") != 0)
		return fail(-EROFS);
	return 1;
}

/* Namespace calls act on the last component itself (unlink, rename,
 * mkdir, symlink): a link there is not followed. */
static int classify(int dirfd, const char *path, struct shield_path *sp, const char *what)
{
	return classify_ex(dirfd, path, sp, what, 0);
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
	if (c == 0) {
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(unlinkat)(dirfd, path, flags);
	}
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
	if (c == -ENOENT && !(flags & AT_REMOVEDIR) && shield_disk_only(sp.abs, NULL)) {
		/* a socket bound inside the region, a FIFO made here: on disk only */
		if (REAL(unlinkat)(AT_FDCWD, sp.abs, 0) != 0)
			return -1;
		shield_fifo_forget(sp.abs);
		return 0;
	}
	return c < 0 ? fail(c) : 0;
}

/* the namespace changed: directories resolved before may lead elsewhere
 * now (regions.c, physical) */
static int changed(int rc)
{
	shield_paths_changed();
	return rc;
}

int unlink(const char *path)
{
	return changed(do_unlink(AT_FDCWD, path, 0));
}

int unlinkat(int dirfd, const char *path, int flags)
{
	return changed(do_unlink(dirfd, path, flags));
}

int rmdir(const char *path)
{
	return changed(do_unlink(AT_FDCWD, path, AT_REMOVEDIR));
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
	if (c == 0) {
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(mkdirat)(dirfd, path, mode);
	}
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
	if (ca == 0 && cb == 0) {
		from = shield_real_path(&a, &ofd, from);
		to = shield_real_path(&b, &nfd, to);
		return flags ? REAL(renameat2)(ofd, from, nfd, to, flags) : REAL(renameat)(ofd, from, nfd, to);
	}
	if (ca != cb || a.region != b.region)
		return fail(-EXDEV);
	if (flags & ~RENAME_NOREPLACE)
		return fail(-EINVAL);
	if (shield_fifo_is(a.abs)) { /* a FIFO made here moves on disk */
		struct ward_vstat vst;
		if (shield_be_stat(b.region, b.rel, &vst) == 0)
			return fail(S_ISDIR(vst.mode) ? -EISDIR : -EEXIST); /* would hide a volume entry */
		rc = REAL(renameat2)(AT_FDCWD, a.abs, AT_FDCWD, b.abs, flags);
		if (rc == 0 && shield_fifo_rename(a.abs, b.abs) != 0)
			return fail(-ENOMEM);
		return rc;
	}
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
	return changed(do_rename(AT_FDCWD, from, AT_FDCWD, to, 0));
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
	return changed(do_rename(ofd, from, nfd, to, 0));
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	return changed(do_rename(ofd, from, nfd, to, flags));
}

static int do_access(int dirfd, const char *path, int amode, int flags)
{
	struct shield_path sp;
	struct ward_vstat st;
	int rc;
	if (shield_inside || !ward_shield_active() || path == NULL ||
	    ((flags & AT_SYMLINK_NOFOLLOW) ? shield_classify_nofollow(dirfd, path, &sp)
					    : shield_classify(dirfd, path, &sp)) != 0)
		return REAL(faccessat)(dirfd, path, amode, flags);
	if (sp.region == NULL) {
		if (sp.err != 0)
			return fail(-sp.err);
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(faccessat)(dirfd, path, amode, flags);
	}
	if (shield_reserved_name(sp.rel))
		return fail(-ENOENT);
	rc = shield_be_stat(sp.region, sp.rel, &st);
	if (rc == -ENOENT && shield_disk_only(sp.abs, NULL))
		return REAL(faccessat)(AT_FDCWD, sp.abs, amode, flags);
	if (rc != 0)
		return fail(rc);
	if ((amode & W_OK) && !shield_be_writable(sp.region))
		return fail(-EROFS);
	if ((amode & X_OK) && S_ISREG(st.mode) && !(st.mode & 0111))
		return fail(-EACCES);
	path = shield_real_path(&sp, &dirfd, path);
	rc = REAL(faccessat)(dirfd, path, amode & ~X_OK, flags & ~AT_SYMLINK_NOFOLLOW);
	return rc != 0 && (errno == ENOENT || errno == ENOTDIR) ? 0 : rc;
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
/* Returns 0 (done in the volume: the caller repeats it on the disk file),
 * -1 with errno, or 2 (a plain file: the caller passes the call on); for 0
 * and 2, *dirfd and *path are what the C library must be given (links in
 * volumes on the way resolved). */
static int setattr(int *dirfd, const char **path, int follow, int mode, int64_t mtime_ns, int *handled)
{
	static __thread char resolved[PATH_MAX];
	struct shield_path sp;
	int c = classify_ex(*dirfd, *path, &sp, "change", follow);
	*handled = c != 0;
	if (c >= 0 && sp.resolved) {
		memcpy(resolved, sp.abs, strlen(sp.abs) + 1);
		*path = resolved;
		*dirfd = AT_FDCWD;
	}
	if (c == 0)
		return sp.resolved ? 2 : 0;
	if (c < 0)
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
	int dirfd = AT_FDCWD;
	rc = setattr(&dirfd, &path, 1, (int)(mode & 07777), WARD_VOL_KEEP_MTIME, &h);
	if (!h || rc == 2)
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
	rc = setattr(&dirfd, &path, !(flags & AT_SYMLINK_NOFOLLOW), (int)(mode & 07777), WARD_VOL_KEEP_MTIME, &h);
	if (!h || rc == 2)
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
		ns = WARD_VOL_KEEP_MTIME;
	} else {
		ns = ward_ts_ns(ts[1].tv_sec, ts[1].tv_nsec);
	}
	rc = setattr(&dirfd, &path, !(flags & AT_SYMLINK_NOFOLLOW), -1, ns, &h);
	if (!h || rc == 2)
		return real(dirfd, path, ts, flags);
	if (rc == 0)
		(void)real(dirfd, path, ts, flags);
	return rc;
}

/* Hard links inside an encrypted region are paths of one volume file
 * (docs/file-shield.md); between a region and anything else, EXDEV. */
int linkat(int ofd, const char *from, int nfd, const char *to, int flags)
{
	struct shield_path a, b;
	int ca = classify_ex(ofd, from, &a, "link", (flags & AT_SYMLINK_FOLLOW) != 0);
	if (ca < 0)
		return -1;
	int cb = classify(nfd, to, &b, "link");
	if (cb < 0)
		return -1;
	if (ca == 0 && cb == 0) {
		from = shield_real_path(&a, &ofd, from);
		to = shield_real_path(&b, &nfd, to);
		return REAL(linkat)(ofd, from, nfd, to, flags);
	}
	if (ca != cb || a.region != b.region)
		return fail(-EXDEV);
	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return fail(-EINVAL);
	if (a.rel[0] == 0)
		return fail(-EPERM); /* the region's root is a directory */
	if (b.rel[0] == 0)
		return fail(-EEXIST);
	if (!(flags & AT_SYMLINK_FOLLOW)) {
		/* a hard link to a symbolic link: a second link to the same
		 * target (its own entry; the volume links files only) */
		char target[WARD_VOL_MAX_LINK + 1];
		ssize_t tl = shield_be_link_target(a.region, a.rel, target, sizeof(target) - 1);
		if (tl < 0)
			return fail((int)tl);
		if (tl > 0) {
			target[tl] = 0;
			int rc = shield_be_symlink(b.region, target, b.rel);
			return rc < 0 ? fail(rc) : 0;
		}
	}
	int rc = shield_be_link(a.region, a.rel, b.rel);
	return rc < 0 ? fail(rc) : 0;
}

int link(const char *from, const char *to)
{
	return linkat(AT_FDCWD, from, AT_FDCWD, to, 0);
}

/* Symbolic links inside an encrypted region are entries of the volume (the
 * target sealed as data, docs/file-shield.md); elsewhere the disk's. */
static int do_symlinkat(const char *target, int dirfd, const char *path);

int symlinkat(const char *target, int dirfd, const char *path)
{
	return changed(do_symlinkat(target, dirfd, path));
}

static int do_symlinkat(const char *target, int dirfd, const char *path)
{
	struct shield_path sp;
	if (target == NULL)
		return fail(-EFAULT);
	int c = classify(dirfd, path, &sp, "create the link");
	if (c < 0)
		return -1;
	if (c == 0) {
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(symlinkat)(target, dirfd, path);
	}
	if (sp.rel[0] == 0)
		return fail(-EEXIST);
	if (target[0] == 0)
		return fail(-ENOENT);
	c = shield_be_symlink(sp.region, target, sp.rel);
	return c < 0 ? fail(c) : 0;
}

int symlink(const char *target, const char *path)
{
	return symlinkat(target, AT_FDCWD, path); /* symlinkat says it changed */
}

/* readlink of a link in a volume: its target, verified. */
ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	typedef ssize_t (*fn)(int, const char *, char *, size_t);
	static fn real;
	struct shield_path sp;
	if (real == NULL)
		real = (fn)dlsym_next("readlinkat");
	if (shield_inside || !ward_shield_active() || path == NULL || shield_classify_nofollow(dirfd, path, &sp) != 0)
		return real(dirfd, path, buf, len);
	if (sp.region == NULL) {
		if (sp.err != 0)
			return fail(-sp.err);
		path = shield_real_path(&sp, &dirfd, path);
		return real(dirfd, path, buf, len);
	}
	if (shield_reserved_name(sp.rel))
		return fail(-ENOENT);
	if (sp.rel[0] == 0 || sp.kind == SHIELD_AUTHENTICATED) {
		struct ward_vstat st;
		int rc = sp.rel[0] == 0 ? 0 : shield_be_stat(sp.region, sp.rel, &st);
		return fail(rc != 0 ? rc : -EINVAL); /* no links in authenticated volumes */
	}
	if (len == 0)
		return fail(-EINVAL);
	ssize_t n = shield_be_readlink(sp.region, sp.rel, buf, len);
	if (n < 0)
		return fail((int)n);
	return (size_t)n < len ? n : (ssize_t)len;
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	return readlinkat(AT_FDCWD, path, buf, len);
}

/* realpath: the C library resolves links with its own internal calls,
 * which the shield cannot see; a path through links in a volume is
 * resolved here first, and the rest (links on disk) is the C library's. */
char *realpath(const char *path, char *resolved)
{
	typedef char *(*fn)(const char *, char *);
	static fn real;
	struct shield_path sp;
	if (real == NULL)
		real = (fn)dlsym_next("realpath");
	if (shield_inside || !ward_shield_active() || path == NULL || shield_classify(AT_FDCWD, path, &sp) != 0 ||
	    (!sp.resolved && sp.err == 0))
		return real(path, resolved);
	if (sp.err != 0) {
		errno = sp.err;
		return NULL;
	}
	return real(sp.abs, resolved);
}

char *canonicalize_file_name(const char *path)
{
	return realpath(path, NULL);
}

char *__realpath_chk(const char *path, char *resolved, size_t len);
char *__realpath_chk(const char *path, char *resolved, size_t len)
{
	(void)len; /* the buffer is PATH_MAX bytes by the API's contract */
	return realpath(path, resolved);
}

/* chdir through a link in a volume: the kernel cannot follow it (on disk
 * it is a sealed file), so the resolved directory is given instead; the
 * working directory is then the physical one, as after the kernel's. */
int chdir(const char *path)
{
	struct shield_path sp;
	if (shield_inside || !ward_shield_active() || path == NULL || shield_classify(AT_FDCWD, path, &sp) != 0 ||
	    (!sp.resolved && sp.err == 0))
		return REAL(chdir)(path);
	if (sp.err != 0)
		return fail(-sp.err);
	if (sp.region != NULL) {
		struct ward_vstat st;
		int rc = shield_reserved_name(sp.rel) ? -ENOENT : shield_be_stat(sp.region, sp.rel, &st);
		if (rc == 0 && !S_ISDIR(st.mode))
			rc = -ENOTDIR;
		if (rc != 0)
			return fail(rc);
	}
	return REAL(chdir)(sp.abs);
}

/* Volumes hold directories, regular files and links; a FIFO made in a
 * region lives on disk for this process (fifo.c); devices are refused. */
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
		if (!S_ISFIFO(mode))
			return fail(-EPERM); /* devices: the volume cannot vouch for them */
		/* A FIFO lives on disk, shown to this process only (fifo.c); it
		 * must not hide a volume entry, and its directory must be one. */
		struct ward_vstat vst;
		char parent[PATH_MAX];
		const char *slash = strrchr(sp.rel, '/');
		size_t pl = slash != NULL ? (size_t)(slash - sp.rel) : 0;
		if (sp.rel[0] == 0 || shield_be_stat(sp.region, sp.rel, &vst) == 0 || shield_disk_only(sp.abs, NULL))
			return fail(-EEXIST);
		memcpy(parent, sp.rel, pl);
		parent[pl] = 0;
		c = shield_be_stat(sp.region, parent, &vst);
		if (c != 0 || !S_ISDIR(vst.mode))
			return fail(c != 0 ? c : -ENOTDIR);
		if (real(AT_FDCWD, sp.abs, mode, dev) != 0)
			return -1;
		if (shield_fifo_add(sp.abs) != 0) {
			(void)REAL(unlinkat)(AT_FDCWD, sp.abs, 0);
			return fail(-ENOMEM);
		}
		return 0;
	}
	path = shield_real_path(&sp, &dirfd, path);
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
	rc = fd_setattr(fd, (int)(mode & 07777), WARD_VOL_KEEP_MTIME);
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
		ns = ward_ts_ns(ts[1].tv_sec, ts[1].tv_nsec);
	}
	rc = fd_setattr(fd, -1, ns);
	if (rc == 0)
		(void)real(fd, ts);
	return rc == 1 ? real(fd, ts) : rc;
}
