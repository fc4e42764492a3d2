/*
 * falloc.c: fallocate and posix_fallocate on shielded descriptors.
 *
 * The file on disk holds the volume's chunks: reserving space in it behind
 * the volume's back would change its size on disk, which the volume then
 * reports as tampering at every later open. So for a shielded descriptor:
 * - mode 0 (and posix_fallocate) past the end grows the file with zeros,
 *   keeping its data, as ftruncate would; within the file it does nothing;
 * - FALLOC_FL_KEEP_SIZE alone succeeds and changes nothing (the volume
 *   allocates chunks as they are written);
 * - every other mode (punch hole, collapse, zero or insert range, ...)
 *   fails with EOPNOTSUPP, as on a file system without it.
 * glibc's posix_fallocate makes the system call itself, so both entry
 * points are interposed. Other descriptors go to the C library unchanged.
 */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "runtime/shield/internal.h"
#include "runtime/shield/shield.h"

/* 0 or -errno. */
static int falloc_ofd(struct shield_ofd *o, int mode, off_t off, off_t len)
{
	int acc = o->flags & O_ACCMODE;
	uint64_t size, end;
	int rc;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if ((o->flags & O_PATH) || !(acc == O_WRONLY || acc == O_RDWR))
		return -EBADF;
	if ((uint64_t)off > (uint64_t)INT64_MAX - (uint64_t)len)
		return -EFBIG;
	if (mode & FALLOC_FL_KEEP_SIZE)
		return 0;
	end = (uint64_t)off + (uint64_t)len;
	rc = shield_be_size(o->node, &size);
	if (rc < 0)
		return rc;
	if (end <= size)
		return 0;
	/* One zero byte at the new last position: the bytes before it are a
	 * hole, which reads as zeros; a write never shortens the file, even
	 * when another thread extends it meanwhile. */
	{
		static const char zero;
		ssize_t w = shield_be_pwrite(o->node, &zero, 1, end - 1);
		return w < 0 ? (int)w : 0;
	}
}

/* The shielded descriptor's result (0 or -errno) in *rc and 1, or 0 when
 * fd is not shielded. */
static int falloc_shielded(int fd, int mode, off_t off, off_t len, int *rc)
{
	struct shield_ofd *o;
	if (shield_inside || !shield_fd_is(fd) || (o = shield_fd_get(fd)) == NULL)
		return 0;
	*rc = falloc_ofd(o, mode, off, len);
	shield_ofd_put(o);
	return 1;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	typedef int (*fn)(int, int, off_t, off_t);
	static fn real;
	int rc;
	if (falloc_shielded(fd, mode, off, len, &rc)) {
		if (rc < 0) {
			errno = -rc;
			return -1;
		}
		return 0;
	}
	if (real == NULL)
		real = (fn)dlsym_next("fallocate64");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off_t off, off_t len) __attribute__((alias("fallocate")));

/* Returns an error number (errno is left alone), as POSIX says. */
int posix_fallocate(int fd, off_t off, off_t len)
{
	typedef int (*fn)(int, off_t, off_t);
	static fn real;
	int rc;
	if (falloc_shielded(fd, 0, off, len, &rc))
		return -rc;
	if (real == NULL)
		real = (fn)dlsym_next("posix_fallocate64");
	if (real == NULL)
		return ENOSYS;
	return real(fd, off, len);
}
int posix_fallocate64(int fd, off_t off, off_t len) __attribute__((alias("posix_fallocate")));
