/*
 * stdio.c: fopen and fdopen. The C library's FILE reads through its own
 * internal calls, which the shield cannot see, so a stream on a shielded
 * file is a fopencookie() stream whose functions use the shield's fd calls.
 * Its _fileno is set to the program's fd, so fileno() works as on any
 * file stream (glibc's cookie streams only use the cookie functions for
 * I/O, and treat any _fileno other than -1 as open).
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
/* Programs may pass NULL where the headers say nonnull: check anyway. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/procfd.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static int mode_flags(const char *mode, int *flags)
{
	int f;
	switch (mode[0]) {
	case 'r': f = O_RDONLY; break;
	case 'w': f = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': f = O_WRONLY | O_CREAT | O_APPEND; break;
	default: return -1;
	}
	for (const char *p = mode + 1; *p && *p != ','; p++) {
		if (*p == '+')
			f = (f & ~O_ACCMODE) | O_RDWR;
		else if (*p == 'x')
			f |= O_EXCL;
		else if (*p == 'e')
			f |= O_CLOEXEC;
	}
	*flags = f;
	return 0;
}

static ssize_t ck_read(void *c, char *buf, size_t n)
{
	return read((int)(intptr_t)c, buf, n);
}

static ssize_t ck_write(void *c, const char *buf, size_t n)
{
	ssize_t w = write((int)(intptr_t)c, buf, n);
	return w < 0 ? 0 : w; /* cookie write: 0 reports an error */
}

static int ck_seek(void *c, off64_t *pos, int whence)
{
	off_t r = lseek((int)(intptr_t)c, *pos, whence);
	if (r < 0)
		return -1;
	*pos = r;
	return 0;
}

static int ck_close(void *c)
{
	return close((int)(intptr_t)c);
}

static FILE *cookie_stream(int fd, const char *mode)
{
	cookie_io_functions_t io = { ck_read, ck_write, ck_seek, ck_close };
	FILE *f = fopencookie((void *)(intptr_t)fd, mode, io);
	if (f != NULL)
		f->_fileno = fd;
	return f;
}

FILE *fopen(const char *path, const char *mode)
{
	struct shield_path sp;
	int flags, fd;
	FILE *f;
	if (shield_inside || !ward_shield_active() || path == NULL || mode == NULL ||
	    (shield_procfd(path) < 0 && shield_classify(AT_FDCWD, path, &sp) != 0))
		return REAL(fopen64)(path, mode);
	if (shield_procfd(path) < 0 && sp.kind == SHIELD_PLAIN) {
		int dfd = AT_FDCWD;
		return REAL(fopen64)(shield_real_path(&sp, &dfd, path), mode);
	}
	if (mode_flags(mode, &flags) != 0) {
		errno = EINVAL;
		return NULL;
	}
	fd = shield_openat(AT_FDCWD, path, flags, 0666);
	if (fd < 0)
		return NULL;
	if (!shield_fd_is(fd)) { /* a directory or an allowed plain file */
		f = REAL(fdopen)(fd, mode);
	} else {
		/* As glibc's own streams: "a" (not "a+") starts at the end, so
		 * ftell gives the file's size before the first write. */
		if ((flags & O_APPEND) && (flags & O_ACCMODE) == O_WRONLY && lseek(fd, 0, SEEK_END) < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return NULL;
		}
		f = cookie_stream(fd, mode);
	}
	if (f == NULL) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}
FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

FILE *fdopen(int fd, const char *mode)
{
	if (!shield_fd_is(fd) || shield_inside)
		return REAL(fdopen)(fd, mode);
	return cookie_stream(fd, mode);
}

FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	struct shield_path sp;
	if (path != NULL && !shield_inside && ward_shield_active() && shield_classify(AT_FDCWD, path, &sp) == 0 &&
	    sp.kind != SHIELD_PLAIN) {
		errno = EOPNOTSUPP; /* a stream cannot change into a shielded one */
		return NULL;
	}
	return REAL(freopen64)(path, mode, stream);
}
FILE *freopen64(const char *path, const char *mode, FILE *stream) __attribute__((alias("freopen")));

/* dprintf writes through the C library's internal write: format here and
 * write through the shield when fd is shielded. The _chk forms are what
 * programs built with _FORTIFY_SOURCE call. */
int vdprintf(int fd, const char *fmt, va_list ap)
{
	typedef int (*fn)(int, const char *, va_list);
	static fn real;
	if (shield_inside || !shield_fd_is(fd)) {
		if (real == NULL)
			real = (fn)dlsym_next("vdprintf");
		return real(fd, fmt, ap);
	}
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	if (n < 0)
		return -1;
	size_t done = ward_write_all(fd, s, (size_t)n);
	free(s);
	return done == (size_t)n ? n : -1;
}

int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}

int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	(void)flag; /* the checks of %n in writable formats: vasprintf's own */
	return vdprintf(fd, fmt, ap);
}

int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	(void)flag;
	va_start(ap, fmt);
	int r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}
