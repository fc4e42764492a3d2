/*
 * stat.c: the stat family. Inside a region the program sees the volume's
 * view: plaintext size, permission bits and modification time from the
 * manifest (Python's .pyc validation compares size and mtime), and entries
 * that are on disk but not in the volume do not exist. Device, inode, owner
 * and link count come from the file on disk, and so do a directory's times
 * (its entries change on disk as in the volume) and the volume root's mode.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
/* Programs may pass NULL where the headers say nonnull: check anyway. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "fs/volume.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/procfd.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static void apply(struct stat *st, const struct ward_vstat *v, int have_real)
{
	if (!have_real) {
		memset(st, 0, sizeof(*st));
		st->st_nlink = S_ISDIR(v->mode) ? 2 : 1;
		st->st_uid = getuid();
		st->st_gid = getgid();
		st->st_blksize = 4096;
		st->st_ino = v->ino;
	}
	st->st_mode = (mode_t)v->mode;
	if (S_ISREG(v->mode))
		st->st_nlink = v->nlink; /* its paths in the volume (0: all removed, still open) */
	if (S_ISREG(v->mode) || S_ISLNK(v->mode)) { /* a link's size: its target's length */
		st->st_size = (off_t)v->size;
		st->st_blocks = (blkcnt_t)((v->size + 511) / 512);
	}
	/* A directory's times are the disk's: every entry made, removed or
	 * renamed in it is made on disk too, so they move as natively (the
	 * import system's directory cache depends on it); they carry no data. */
	if (S_ISDIR(v->mode) && have_real)
		return;
	int64_t sec;
	long nsec;
	ward_ns_ts(v->mtime_ns, &sec, &nsec);
	st->st_mtim.tv_sec = (time_t)sec;
	st->st_mtim.tv_nsec = nsec;
	st->st_ctim = st->st_mtim;
}

/* Fills st for a path in a region; returns 0 or -errno. */
static int region_stat(struct shield_path *sp, struct stat *st)
{
	struct ward_vstat v;
	int rc, have;
	if (shield_reserved_name(sp->rel))
		return -ENOENT;
	rc = shield_be_stat(sp->region, sp->rel, &v);
	if (rc == -ENOENT && shield_disk_only(sp->abs, st))
		return 0; /* a socket bound inside a region, a FIFO made here: no data */
	if (rc != 0)
		return rc;
	if (sp->dir_only && !S_ISDIR(v.mode))
		return -ENOTDIR;
	have = REAL(stat64)(sp->abs, st) == 0;
	mode_t disk_mode = have ? st->st_mode : 0;
	apply(st, &v, have);
	if (have && sp->rel[0] == 0 && S_ISDIR(disk_mode)) {
		/* the root's attributes are the disk's (the volume keeps none);
		 * its metadata directory is not one of its subdirectories */
		st->st_mode = disk_mode;
		if (st->st_nlink > 2)
			st->st_nlink--;
	}
	return 0;
}

static int fd_stat(int fd, struct stat *st);

static int path_stat(int dirfd, const char *path, struct stat *st, int flags)
{
	struct shield_path sp;
	int rc, pfd;
	/* stat of /proc/self/fd/N follows the link: the shield's fstat of N
	 * (lstat shows the link itself, as the kernel does). */
	if (!shield_inside && !(flags & AT_SYMLINK_NOFOLLOW) && (pfd = shield_procfd(path)) >= 0)
		return fd_stat(pfd, st);
	if (shield_inside || !ward_shield_active() || path == NULL || (path[0] == 0 && (flags & AT_EMPTY_PATH)) ||
	    ((flags & AT_SYMLINK_NOFOLLOW) ? shield_classify_nofollow(dirfd, path, &sp)
					    : shield_classify(dirfd, path, &sp)) != 0)
		return REAL(fstatat64)(dirfd, path, st, flags);
	if (sp.region == NULL) {
		if (sp.err != 0) {
			errno = sp.err;
			return -1;
		}
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(fstatat64)(dirfd, path, st, flags);
	}
	rc = region_stat(&sp, st);
	if (rc != 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

int stat(const char *path, struct stat *st)
{
	return path_stat(AT_FDCWD, path, st, 0);
}
int stat64(const char *path, struct stat64 *st) __attribute__((alias("stat")));

int lstat(const char *path, struct stat *st)
{
	return path_stat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
int lstat64(const char *path, struct stat64 *st) __attribute__((alias("lstat")));

static int fd_stat(int fd, struct stat *st)
{
	struct shield_ofd *o = shield_fd_get(fd);
	struct ward_vstat v;
	int rc;
	if (o == NULL)
		return REAL(fstat64)(fd, st);
	rc = REAL(fstat64)(fd, st);
	if (rc == 0 && shield_be_fstat(o->node, &v) == 0) {
		/* The fd may sit on /dev/null (file not yet on disk). */
		int have = S_ISREG(st->st_mode);
		apply(st, &v, have);
		v.size = 0;
		uint64_t size;
		shield_be_size(o->node, &size);
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	}
	shield_ofd_put(o);
	return rc;
}

int fstat(int fd, struct stat *st)
{
	if (__builtin_expect(!shield_fd_is(fd) || shield_inside, 1))
		return REAL(fstat64)(fd, st);
	return fd_stat(fd, st);
}
int fstat64(int fd, struct stat64 *st) __attribute__((alias("fstat")));

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	if (path != NULL && path[0] == 0 && (flags & AT_EMPTY_PATH))
		return fstat(dirfd, st);
	return path_stat(dirfd, path, st, flags);
}
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) __attribute__((alias("fstatat")));

/* The pre-2.33 glibc entry points, for extensions built against older
 * libraries. */
int __xstat(int ver, const char *path, struct stat *st);
int __xstat(int ver, const char *path, struct stat *st)
{
	(void)ver;
	return stat(path, st);
}
int __xstat64(int ver, const char *path, struct stat64 *st) __attribute__((alias("__xstat")));
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st)
{
	(void)ver;
	return lstat(path, st);
}
int __lxstat64(int ver, const char *path, struct stat64 *st) __attribute__((alias("__lxstat")));
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st)
{
	(void)ver;
	return fstat(fd, st);
}
int __fxstat64(int ver, int fd, struct stat64 *st) __attribute__((alias("__fxstat")));
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	(void)ver;
	return fstatat(dirfd, path, st, flags);
}
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags) __attribute__((alias("__fxstatat")));

int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *sx)
{
	struct stat st;
	struct shield_path sp;
	int rc;
	int is_fd = path != NULL && path[0] == 0 && (flags & AT_EMPTY_PATH), pfd;
	if (shield_inside || !ward_shield_active())
		return REAL(statx)(dirfd, path, flags, mask, sx);
	if (!(flags & AT_SYMLINK_NOFOLLOW) && (pfd = shield_procfd(path)) >= 0) {
		dirfd = pfd; /* the link followed: the descriptor itself */
		path = "";
		flags = (flags & ~AT_SYMLINK_NOFOLLOW) | AT_EMPTY_PATH;
		is_fd = 1;
	}
	if (is_fd ? !shield_fd_is(dirfd)
		  : (path == NULL || ((flags & AT_SYMLINK_NOFOLLOW) ? shield_classify_nofollow(dirfd, path, &sp)
								    : shield_classify(dirfd, path, &sp)) != 0))
		return REAL(statx)(dirfd, path, flags, mask, sx);
	if (!is_fd && sp.region == NULL) {
		if (sp.err != 0) {
			errno = sp.err;
			return -1;
		}
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(statx)(dirfd, path, flags, mask, sx);
	}
	if (!is_fd)
		path = shield_real_path(&sp, &dirfd, path);
	rc = REAL(statx)(dirfd, path, flags, mask, sx);
	if (is_fd ? fstat(dirfd, &st) != 0 : fstatat(dirfd, path, &st, flags) != 0)
		return -1;
	if (rc != 0) {
		memset(sx, 0, sizeof(*sx));
		sx->stx_nlink = (unsigned)st.st_nlink;
		sx->stx_uid = st.st_uid;
		sx->stx_gid = st.st_gid;
		sx->stx_ino = st.st_ino;
		sx->stx_blksize = (unsigned)st.st_blksize;
	}
	sx->stx_mask |= STATX_BASIC_STATS;
	sx->stx_mode = (unsigned short)st.st_mode;
	sx->stx_size = (uint64_t)st.st_size;
	sx->stx_blocks = (uint64_t)st.st_blocks;
	sx->stx_mtime.tv_sec = st.st_mtim.tv_sec;
	sx->stx_mtime.tv_nsec = (unsigned)st.st_mtim.tv_nsec;
	sx->stx_ctime = sx->stx_mtime;
	return 0;
}
