/*
 * passthru.c: path calls the shield leaves to the C library (owners,
 * file-system statistics, pathconf, extended attributes outside volumes),
 * except that a region the program cannot write reports ST_RDONLY in
 * statvfs, that volumes have no extended attributes (below), and that a
 * path crossing a link held by a volume is resolved first: on disk such a
 * link is a sealed regular file, which the kernel cannot follow. A path
 * without such links goes to the C library unchanged; one whose links
 * cannot be followed fails with that error (ELOOP, EIO, ...).
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "runtime/shield/internal.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

/* The path to give the C library: path itself, or the resolved one (in
 * buf); NULL with errno set when the links on the way cannot be followed.
 * *dirfd becomes AT_FDCWD when the path changes. */
static const char *resolve(int *dirfd, const char *path, int follow, struct shield_path *sp)
{
	if (shield_inside || !ward_shield_active() || path == NULL || path[0] == 0 ||
	    (follow ? shield_classify(*dirfd, path, sp) : shield_classify_nofollow(*dirfd, path, sp)) != 0)
		return path;
	if (sp->err != 0) {
		errno = sp->err;
		return NULL;
	}
	return shield_real_path(sp, dirfd, path);
}

#define NEXT(sym)                                  \
	static __typeof__(&sym) real;              \
	if (real == NULL)                          \
		real = (__typeof__(&sym))dlsym_next(#sym)

#define RESOLVE_OR_FAIL(dfd, p, follow, failval)           \
	struct shield_path sp_;                            \
	const char *rp_ = resolve(&(dfd), (p), (follow), &sp_); \
	if (rp_ == NULL)                                   \
		return failval

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	NEXT(fchownat);
	RESOLVE_OR_FAIL(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), -1);
	return real(dirfd, rp_, uid, gid, flags);
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	return fchownat(AT_FDCWD, path, uid, gid, 0);
}

int lchown(const char *path, uid_t uid, gid_t gid)
{
	return fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}

/* A region the program cannot write (authenticated, or a volume opened
 * read-only) is a read-only file system to it: statvfs says ST_RDONLY. */
static int read_only_region(struct shield_region *r)
{
	return r != NULL && !shield_be_writable(r);
}

int statvfs(const char *path, struct statvfs *buf)
{
	int dfd = AT_FDCWD;
	struct shield_path sp;
	NEXT(statvfs);
	sp.region = NULL;
	const char *rp = resolve(&dfd, path, 1, &sp);
	if (rp == NULL)
		return -1;
	int rc = real(rp, buf);
	if (rc == 0 && read_only_region(sp.region))
		buf->f_flag |= ST_RDONLY;
	return rc;
}
int statvfs64(const char *path, struct statvfs64 *buf) __attribute__((alias("statvfs")));

int fstatvfs(int fd, struct statvfs *buf)
{
	NEXT(fstatvfs);
	int rc = real(fd, buf);
	if (rc == 0 && !shield_inside && shield_fd_is(fd)) {
		struct shield_ofd *o = shield_fd_get(fd);
		if (o != NULL) {
			if (read_only_region(o->node->region))
				buf->f_flag |= ST_RDONLY;
			shield_ofd_put(o);
		}
	}
	return rc;
}
int fstatvfs64(int fd, struct statvfs64 *buf) __attribute__((alias("fstatvfs")));

int statfs(const char *path, struct statfs *buf)
{
	int dfd = AT_FDCWD;
	NEXT(statfs);
	RESOLVE_OR_FAIL(dfd, path, 1, -1);
	return real(rp_, buf);
}
int statfs64(const char *path, struct statfs64 *buf) __attribute__((alias("statfs")));

long pathconf(const char *path, int name)
{
	int dfd = AT_FDCWD;
	NEXT(pathconf);
	RESOLVE_OR_FAIL(dfd, path, 1, -1);
	return real(rp_, name);
}

/* Extended attributes. A volume has no place for them: on the disk file
 * they would be plaintext and unchecked, so in an encrypted or ephemeral
 * region every xattr call fails with EOPNOTSUPP, as on a file system
 * without them (shutil.copystat and CPython's own tests take that as "not
 * supported"). An authenticated region is read-only to the program:
 * setting or removing fails with EROFS, reading passes through. */
static int xattr_refusal(const struct shield_region *r, int kind, int modifies)
{
	if (r == NULL)
		return 0;
	if (kind == SHIELD_ENCRYPTED || kind == SHIELD_EPHEMERAL)
		return EOPNOTSUPP;
	if (modifies && kind == SHIELD_AUTHENTICATED)
		return EROFS;
	return 0;
}

static int fd_xattr_refusal(int fd, int modifies)
{
	int e = 0;
	if (shield_inside || !shield_fd_is(fd))
		return 0;
	struct shield_ofd *o = shield_fd_get(fd);
	if (o != NULL) {
		e = xattr_refusal(o->node->region, o->node->region->kind, modifies);
		shield_ofd_put(o);
	}
	return e;
}

#define XATTR_PATH_CHECK(follow, modifies, failval)                                    \
	int dfd = AT_FDCWD;                                                            \
	struct shield_path sp_;                                                        \
	sp_.region = NULL;                                                             \
	const char *rp_ = resolve(&dfd, path, (follow), &sp_);                         \
	if (rp_ == NULL)                                                               \
		return failval;                                                        \
	int e_ = xattr_refusal(sp_.region, sp_.kind, (modifies));                      \
	if (e_ != 0) {                                                                 \
		errno = e_;                                                            \
		return failval;                                                        \
	}

#define XATTR_GET(fn, follow)                                                        \
	ssize_t fn(const char *path, const char *name, void *value, size_t size)     \
	{                                                                            \
		NEXT(fn);                                                            \
		XATTR_PATH_CHECK(follow, 0, -1);                                     \
		return real(rp_, name, value, size);                                 \
	}
XATTR_GET(getxattr, 1)
XATTR_GET(lgetxattr, 0)

#define XATTR_LIST(fn, follow)                                          \
	ssize_t fn(const char *path, char *list, size_t size)           \
	{                                                               \
		NEXT(fn);                                               \
		XATTR_PATH_CHECK(follow, 0, -1);                        \
		return real(rp_, list, size);                           \
	}
XATTR_LIST(listxattr, 1)
XATTR_LIST(llistxattr, 0)

#define XATTR_SET(fn, follow)                                                                  \
	int fn(const char *path, const char *name, const void *value, size_t size, int flags) \
	{                                                                                      \
		NEXT(fn);                                                                      \
		XATTR_PATH_CHECK(follow, 1, -1);                                               \
		return real(rp_, name, value, size, flags);                                    \
	}
XATTR_SET(setxattr, 1)
XATTR_SET(lsetxattr, 0)

#define XATTR_REMOVE(fn, follow)                                \
	int fn(const char *path, const char *name)              \
	{                                                       \
		NEXT(fn);                                       \
		XATTR_PATH_CHECK(follow, 1, -1);                \
		return real(rp_, name);                         \
	}
XATTR_REMOVE(removexattr, 1)
XATTR_REMOVE(lremovexattr, 0)

#define FD_XATTR_REFUSE(modifies)                          \
	int e_ = fd_xattr_refusal(fd, (modifies));        \
	if (e_ != 0) {                                     \
		errno = e_;                                \
		return -1;                                 \
	}

ssize_t fgetxattr(int fd, const char *name, void *value, size_t size)
{
	NEXT(fgetxattr);
	FD_XATTR_REFUSE(0);
	return real(fd, name, value, size);
}

ssize_t flistxattr(int fd, char *list, size_t size)
{
	NEXT(flistxattr);
	FD_XATTR_REFUSE(0);
	return real(fd, list, size);
}

int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	NEXT(fsetxattr);
	FD_XATTR_REFUSE(1);
	return real(fd, name, value, size, flags);
}

int fremovexattr(int fd, const char *name)
{
	NEXT(fremovexattr);
	FD_XATTR_REFUSE(1);
	return real(fd, name);
}
