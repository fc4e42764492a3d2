/*
 * io.c: the interposed open and fd calls (open family, read/write family,
 * lseek, ftruncate, fsync, close, dup, fcntl, sendfile, copy_file_range).
 *
 * Fast path: an fd the shield does not know costs one array load; before
 * start and inside the shield (shield_inside) every call goes straight to
 * the C library.
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
/* Programs may pass NULL where the headers say nonnull: check anyway. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/procfd.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

__thread int shield_inside;

int shield_reserved_name(const char *rel)
{
	size_t n = strlen(WARD_VOL_META_DIR);
	return strncmp(rel, WARD_VOL_META_DIR, n) == 0 && (rel[n] == 0 || rel[n] == '/');
}

int shield_deny(const struct shield_path *sp, const char *what)
{
	const char *abs = sp->abs;
	if (sp->err != 0) /* the links on the way could not be followed */
		return -sp->err;
	if (abs[0] == 0) /* too long to place (shield_classify): it might lead into a region */
		return -ENAMETOOLONG;
	static const char *const allowed[] = { "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
					       "/dev/tty", "/dev/stdin", "/dev/stdout", "/dev/stderr" };
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(abs, allowed[i]) == 0)
			return 0;
	/* the kernel's views (Landlock allows /proc too): CPU and memory facts
	 * that runtimes read at start (PyPy reads /proc/cpuinfo) */
	if (strncmp(abs, "/proc/", 6) == 0 || strncmp(abs, "/dev/fd/", 8) == 0)
		return 0;
	/* Probing for a file that does not exist (Python looks for pyvenv.cfg
	 * and the like) is answered as the disk would, without a message. */
	if (REAL(faccessat)(AT_FDCWD, abs, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
		return -ENOENT;
	ward_error("cannot %s %s: it is outside every region and the configuration denies files outside regions (--deny-outside); add a region for it",
		   what, abs);
	return -EACCES;
}

static int set_errno(long rc)
{
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return (int)rc;
}

/* Opens a file inside a region. Returns the program's fd or -errno. */
static int region_open(struct shield_path *sp, int flags, mode_t mode)
{
	struct shield_region *r = sp->region;
	struct ward_vstat st;
	struct shield_node *n;
	struct shield_ofd *o;
	int acc = flags & O_ACCMODE, fd, rc, created;

	if (shield_reserved_name(sp->rel))
		return -EACCES;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		return -EOPNOTSUPP; /* callers fall back to a named temporary file */
	rc = shield_be_stat(r, sp->rel, &st);
	if (rc == -ENOENT && !sp->dir_only && shield_disk_only(sp->abs, NULL)) {
		/* a FIFO made here (or a socket: ENXIO from the kernel) */
		if ((flags & O_CREAT) && (flags & O_EXCL))
			return -EEXIST;
		fd = REAL(open64)(sp->abs, flags & ~O_CREAT, 0);
		return fd < 0 ? -errno : fd;
	}
	if (sp->dir_only && !(rc == 0 && S_ISDIR(st.mode)))
		return rc == 0 ? -ENOTDIR : (flags & O_CREAT) ? -EISDIR : rc;
	if (sp->rel[0] == 0 || (flags & O_DIRECTORY) || (rc == 0 && S_ISDIR(st.mode))) {
		if (rc != 0 && sp->rel[0] != 0)
			return rc;
		if (flags & O_CREAT)
			return (flags & O_EXCL) ? -EEXIST : -EISDIR;
		if (acc != O_RDONLY)
			return -EISDIR;
		/* Directories are real directories (O_DIRECTORY: never a FIFO or
		 * device placed behind the volume's back). */
		fd = REAL(open64)(sp->abs, flags | O_DIRECTORY, mode);
		return fd < 0 ? -errno : fd;
	}
	if (r->kind == SHIELD_AUTHENTICATED && (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))) {
		if (rc == -ENOENT && !(flags & O_CREAT))
			return -ENOENT;
		return -EROFS;
	}
	if (rc == 0 && (flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT && !(flags & O_CREAT))
		return -ENOENT;
	/* The engine image's warm start: a file checked before, unchanged, is
	 * the program's as it is (engine_cache.c). */
	if (rc == 0 && r->ec != NULL && !sp->dir_only && (fd = shield_ec_open(r, sp->abs, sp->rel, flags, &st, 1)) >= 0)
		return fd;
	if (rc == -ENOENT) {
		/* The parent must be a directory of the volume. */
		char parent[PATH_MAX];
		const char *slash = strrchr(sp->rel, '/');
		size_t pl = slash ? (size_t)(slash - sp->rel) : 0;
		memcpy(parent, sp->rel, pl);
		parent[pl] = 0;
		rc = shield_be_stat(r, parent, &st);
		if (rc != 0)
			return rc;
		if (!S_ISDIR(st.mode))
			return -ENOTDIR;
	}
	if (acc != O_RDONLY || (flags & O_TRUNC))
		shield_term_arm(); /* from now on a SIGTERM commits first (term.c) */
	/* An open that creates or truncates first reserves the program's
	 * descriptor number: with no descriptor left (EMFILE, ENFILE) it fails
	 * before it changes the volume, as the kernel's open does. */
	int resv = -1;
	if (rc == -ENOENT || (flags & O_TRUNC)) {
		resv = eventfd(0, EFD_CLOEXEC);
		if (resv < 0)
			return -errno;
	}
	n = shield_node_get(r, sp->rel, &created);
	if (n == NULL) {
		if (resv >= 0)
			REAL(close)(resv);
		return -ENOMEM;
	}
	/* O_RDONLY|O_TRUNC truncates, as on Linux's common file systems: the
	 * volume handle is opened for writing, the descriptor stays read-only. */
	rc = shield_be_open(n, acc == O_RDONLY && (flags & O_TRUNC) ? (flags & ~O_ACCMODE) | O_RDWR : flags,
			    mode & ~shield_umask());
	if (rc != 0) {
		if (resv >= 0)
			REAL(close)(resv);
		shield_node_put(n);
		return rc;
	}
	{
		struct ward_vstat vst;
		if (shield_be_fstat(n, &vst) == 0)
			n->ino = vst.ino; /* hard links of one file: one image (mmap.c) */
	}
	shield_image_join(n, flags); /* the file may be mapped shared already */
	/* Reserve the fd number on the file itself (locks, poll, fstat's
	 * device and inode), or on /dev/null when it cannot be opened. */
	fd = REAL(open64)(sp->abs, (acc == O_RDONLY ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
					   (flags & O_CLOEXEC));
	if (fd < 0 && acc != O_RDONLY)
		fd = REAL(open64)(sp->abs, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (flags & O_CLOEXEC));
	if (fd >= 0) {
		struct stat rst;
		if (REAL(fstat64)(fd, &rst) != 0 || !S_ISREG(rst.st_mode)) {
			REAL(close)(fd); /* not the volume's file: do not keep it */
			fd = -1;
		} else {
			(void)REAL(fcntl64)(fd, F_SETFL, (void *)(long)(flags & O_NONBLOCK));
		}
	}
	if (fd < 0 && resv < 0)
		fd = REAL(open64)("/dev/null", O_RDWR | (flags & O_CLOEXEC));
	if (resv >= 0) {
		/* onto the reserved number; at the descriptor limit the
		 * reservation itself stands in, as /dev/null does above */
		if (fd >= 0 && REAL(dup3)(fd, resv, flags & O_CLOEXEC) != resv) {
			rc = -errno;
			REAL(close)(fd);
			REAL(close)(resv);
			shield_node_put(n);
			return rc;
		}
		if (fd >= 0)
			REAL(close)(fd);
		else if (!(flags & O_CLOEXEC))
			(void)REAL(fcntl64)(resv, F_SETFD, (void *)0L);
		fd = resv;
	}
	if (fd < 0) {
		rc = -errno;
		shield_node_put(n);
		return rc;
	}
	o = shield_ofd_new(n, flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOCTTY));
	if (o == NULL) {
		REAL(close)(fd);
		shield_node_put(n);
		return -ENOMEM;
	}
	rc = shield_fd_install(fd, o);
	if (rc != 0) {
		REAL(close)(fd);
		shield_ofd_put(o);
		return rc;
	}
	return fd;
}

int shield_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	struct shield_path sp;
	int rc, pfd = shield_procfd(path);
	if (pfd >= 0) { /* /proc/self/fd/N of a shielded N: that volume file again */
		rc = shield_procfd_path(pfd, &sp);
		return set_errno(rc != 0 ? rc : region_open(&sp, flags, mode));
	}
	/* O_NOFOLLOW, and O_CREAT|O_EXCL (which never follows), stop at a
	 * last component that is a link: the volume then refuses the open
	 * (ELOOP, EEXIST) as the kernel does. */
	rc = (flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)
		     ? shield_classify_nofollow(dirfd, path, &sp)
		     : shield_classify(dirfd, path, &sp);
	if (rc != 0)
		return REAL(openat64)(dirfd, path, flags, mode);
	switch (sp.kind) {
	case SHIELD_PLAIN:
		path = shield_real_path(&sp, &dirfd, path);
		return REAL(openat64)(dirfd, path, flags, mode);
	case SHIELD_DENIED:
		rc = shield_deny(&sp, "open");
		if (rc == 0) {
			path = shield_real_path(&sp, &dirfd, path);
			return REAL(openat64)(dirfd, path, flags, mode);
		}
		return set_errno(rc);
	default:
		return set_errno(region_open(&sp, flags, mode));
	}
}

static inline int shield_on(void)
{
	return !shield_inside && ward_shield_active();
}

#define MODE_ARG(flags)                                        \
	mode_t mode = 0;                                       \
	if ((flags) & (O_CREAT | __O_TMPFILE)) {               \
		va_list ap;                                    \
		va_start(ap, flags);                           \
		mode = (mode_t)va_arg(ap, unsigned);           \
		va_end(ap);                                    \
	}

int open(const char *path, int flags, ...)
{
	MODE_ARG(flags);
	if (!shield_on())
		return REAL(open64)(path, flags, mode);
	return shield_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags);
	if (!shield_on())
		return REAL(openat64)(dirfd, path, flags, mode);
	return shield_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}
int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));
int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}
int __openat64_2(int dirfd, const char *path, int flags) __attribute__((alias("__openat_2")));

int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char *path, mode_t mode) __attribute__((alias("creat")));

/* ---- data ---- */

/* As the kernel: an O_PATH descriptor, or one opened with access mode 3
 * (O_RDWR|O_WRONLY, ioctl only), neither reads nor writes (EBADF). */
static int may_read(const struct shield_ofd *o)
{
	int acc = o->flags & O_ACCMODE;
	return !(o->flags & O_PATH) && (acc == O_RDONLY || acc == O_RDWR);
}

static int may_write(const struct shield_ofd *o)
{
	int acc = o->flags & O_ACCMODE;
	return !(o->flags & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

/* The kernel's rw_verify_area: a count above SSIZE_MAX, or one that takes
 * the position past the largest offset, is EINVAL. */
static int range_ok(uint64_t pos, size_t len)
{
	return len <= (size_t)SSIZE_MAX && pos <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - pos;
}

/* The runtime's own lines while this thread holds a description's lock:
 * when stderr is a file in a volume, writing one would take that lock again
 * (a failed write to stderr reporting itself waited for ever). Such lines
 * wait in a per-thread buffer until the lock is released. */
static __thread int io_depth;
static __thread char pending[2048];
static __thread size_t npending;

void shield_log_write(const char *buf, size_t n)
{
	if ((io_depth > 0 || shield_inside > 0) && shield_fd_is(STDERR_FILENO)) {
		size_t room = sizeof(pending) - npending;
		if (n > room)
			n = room; /* the rest of a burst is dropped, never blocked on */
		memcpy(pending + npending, buf, n);
		npending += n;
		return;
	}
	(void)ward_write_all(STDERR_FILENO, buf, n);
}

static void io_enter(void)
{
	io_depth++;
}

static void io_leave(void)
{
	if (--io_depth == 0 && npending > 0 && shield_inside == 0) {
		char out[sizeof(pending)];
		size_t n = npending;
		memcpy(out, pending, n);
		npending = 0;
		(void)ward_write_all(STDERR_FILENO, out, n);
	}
}

ssize_t shield_read_ofd(struct shield_ofd *o, void *buf, size_t len)
{
	ssize_t r;
	if (!may_read(o))
		return -EBADF;
	io_enter();
	pthread_mutex_lock(&o->lock);
	if (!range_ok(o->offset, len)) {
		pthread_mutex_unlock(&o->lock);
		io_leave();
		return -EINVAL;
	}
	r = shield_be_pread(o->node, buf, len, o->offset);
	if (r > 0)
		o->offset += (uint64_t)r;
	pthread_mutex_unlock(&o->lock);
	io_leave();
	return r;
}

ssize_t shield_write_ofd(struct shield_ofd *o, const void *buf, size_t len)
{
	ssize_t r;
	if (!may_write(o))
		return -EBADF;
	io_enter();
	pthread_mutex_lock(&o->lock);
	if (!(o->flags & O_APPEND) && !range_ok(o->offset, len)) {
		pthread_mutex_unlock(&o->lock);
		io_leave();
		return -EINVAL;
	}
	if (o->flags & O_APPEND) {
		uint64_t end = 0;
		r = shield_be_append(o->node, buf, len, &end);
		if (r >= 0)
			o->offset = end;
	} else {
		r = shield_be_pwrite(o->node, buf, len, o->offset);
		if (r > 0)
			o->offset += (uint64_t)r;
	}
	pthread_mutex_unlock(&o->lock);
	io_leave();
	return r;
}

static ssize_t pread_ofd(struct shield_ofd *o, void *buf, size_t len, off_t off)
{
	if (!may_read(o))
		return -EBADF;
	if (off < 0 || !range_ok((uint64_t)off, len))
		return -EINVAL;
	return shield_be_pread(o->node, buf, len, (uint64_t)off);
}

static ssize_t pwrite_ofd(struct shield_ofd *o, const void *buf, size_t len, off_t off)
{
	if (!may_write(o))
		return -EBADF;
	if (off < 0 || !range_ok((uint64_t)off, len))
		return -EINVAL;
	if (o->flags & O_APPEND) /* as Linux: O_APPEND wins over the offset */
		return shield_be_append(o->node, buf, len, NULL);
	return shield_be_pwrite(o->node, buf, len, (uint64_t)off);
}

/* pwritev2's RWF_APPEND: at the end of the file whatever the offset; with
 * at_pos (offset -1) the file offset moves to the new end, as write(2)
 * under O_APPEND. */
static ssize_t append_ofd(struct shield_ofd *o, const void *buf, size_t len, int at_pos)
{
	uint64_t end = 0;
	ssize_t r;
	if (!may_write(o))
		return -EBADF;
	r = shield_be_append(o->node, buf, len, &end);
	if (r >= 0 && at_pos) {
		pthread_mutex_lock(&o->lock);
		o->offset = end;
		pthread_mutex_unlock(&o->lock);
	}
	return r;
}

/* pwritev2's RWF_NOAPPEND: at off even when the descriptor is O_APPEND. */
static ssize_t pwrite_noappend_ofd(struct shield_ofd *o, const void *buf, size_t len, off_t off)
{
	if (!may_write(o))
		return -EBADF;
	if (off < 0 || !range_ok((uint64_t)off, len))
		return -EINVAL;
	return shield_be_pwrite(o->node, buf, len, (uint64_t)off);
}

#define WITH_OFD(fd, fallback, expr)                                        \
	do {                                                                \
		struct shield_ofd *o;                                       \
		long rc_;                                                   \
		if (__builtin_expect(!shield_fd_is(fd) || shield_inside, 1)) \
			return fallback;                                    \
		o = shield_fd_get(fd);                                      \
		if (o == NULL)                                              \
			return fallback;                                    \
		rc_ = (long)(expr);                                         \
		shield_ofd_put(o);                                          \
		if (rc_ < 0) {                                              \
			errno = (int)-rc_;                                  \
			return -1;                                          \
		}                                                           \
		return rc_;                                                 \
	} while (0)

ssize_t read(int fd, void *buf, size_t len)
{
	WITH_OFD(fd, REAL(read)(fd, buf, len), shield_read_ofd(o, buf, len));
}

ssize_t write(int fd, const void *buf, size_t len)
{
	WITH_OFD(fd, REAL(write)(fd, buf, len), shield_write_ofd(o, buf, len));
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	WITH_OFD(fd, REAL(pread64)(fd, buf, len, off), pread_ofd(o, buf, len, off));
}
ssize_t pread64(int fd, void *buf, size_t len, off_t off) __attribute__((alias("pread")));

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	WITH_OFD(fd, REAL(pwrite64)(fd, buf, len, off), pwrite_ofd(o, buf, len, off));
}
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) __attribute__((alias("pwrite")));

enum vec_op { VEC_READ, VEC_WRITE, VEC_APPEND, VEC_NOAPPEND };

/* Vectored I/O: one call per buffer, stopping at a short transfer. off < 0
 * means "at the file offset". */
static long vec_io_op(struct shield_ofd *o, const struct iovec *iov, int cnt, off_t off, enum vec_op op)
{
	long total = 0;
	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < cnt; i++) {
		void *b = iov[i].iov_base;
		size_t n = iov[i].iov_len;
		ssize_t r;
		if (n == 0)
			continue;
		if (op == VEC_READ)
			r = off < 0 ? shield_read_ofd(o, b, n) : pread_ofd(o, b, n, off + total);
		else if (op == VEC_APPEND)
			r = append_ofd(o, b, n, off < 0);
		else if (op == VEC_NOAPPEND && off >= 0)
			r = pwrite_noappend_ofd(o, b, n, off + total);
		else /* at the file offset, RWF_NOAPPEND or not, is write(2) */
			r = off < 0 ? shield_write_ofd(o, b, n) : pwrite_ofd(o, b, n, off + total);
		if (r < 0)
			return total > 0 ? total : r;
		total += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return total;
}

static long vec_io(struct shield_ofd *o, const struct iovec *iov, int cnt, off_t off, int wr)
{
	return vec_io_op(o, iov, cnt, off, wr ? VEC_WRITE : VEC_READ);
}

/* The RWF_* flags the shield honours; others are refused with EOPNOTSUPP,
 * as the kernel refuses flags it does not know. RWF_HIPRI, RWF_NOWAIT,
 * RWF_DONTCACHE and RWF_NOSIGNAL change nothing here (the shield's I/O
 * neither polls nor waits on the page cache, and a file raises no
 * SIGPIPE); RWF_ATOMIC, which the volume cannot promise, is refused. */
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#define SHIELD_RWF_DONTCACHE 0x00000080
#define SHIELD_RWF_NOSIGNAL 0x00000100
#define SHIELD_RWF_KNOWN                                                                                  \
	(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND | SHIELD_RWF_DONTCACHE | \
	 SHIELD_RWF_NOSIGNAL)

static long preadv2_ofd(struct shield_ofd *o, const struct iovec *iov, int cnt, off_t off, int fl)
{
	if (fl & ~SHIELD_RWF_KNOWN)
		return -EOPNOTSUPP;
	if (off < -1)
		return -EINVAL;
	return vec_io_op(o, iov, cnt, off, VEC_READ);
}

static long pwritev2_ofd(struct shield_ofd *o, const struct iovec *iov, int cnt, off_t off, int fl)
{
	long r;
	if (fl & ~SHIELD_RWF_KNOWN)
		return -EOPNOTSUPP;
	if (off < -1)
		return -EINVAL;
	r = vec_io_op(o, iov, cnt, off,
		      (fl & RWF_APPEND) ? VEC_APPEND : (fl & RWF_NOAPPEND) ? VEC_NOAPPEND : VEC_WRITE);
	if (r > 0 && (fl & (RWF_DSYNC | RWF_SYNC))) { /* as a write followed by fdatasync */
		int s = shield_be_sync(o->node);
		if (s < 0)
			return s;
	}
	return r;
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	WITH_OFD(fd, REAL(readv)(fd, iov, cnt), vec_io(o, iov, cnt, -1, 0));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	WITH_OFD(fd, REAL(writev)(fd, iov, cnt), vec_io(o, iov, cnt, -1, 1));
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	WITH_OFD(fd, REAL(preadv64)(fd, iov, cnt, off), off < 0 ? -EINVAL : vec_io(o, iov, cnt, off, 0));
}
ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off) __attribute__((alias("preadv")));

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	WITH_OFD(fd, REAL(pwritev64)(fd, iov, cnt, off), off < 0 ? -EINVAL : vec_io(o, iov, cnt, off, 1));
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) __attribute__((alias("pwritev")));

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
	WITH_OFD(fd, REAL(preadv64v2)(fd, iov, cnt, off, fl), preadv2_ofd(o, iov, cnt, off, fl));
}
ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) __attribute__((alias("preadv2")));

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
	WITH_OFD(fd, REAL(pwritev64v2)(fd, iov, cnt, off, fl), pwritev2_ofd(o, iov, cnt, off, fl));
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int fl) __attribute__((alias("pwritev2")));

/* fd is the program's descriptor, a real one on the file on disk (or on
 * /dev/null): the new position is checked against the file system's
 * largest file size by seeking it there too (EINVAL beyond, as on ext4). */
static long seek_ofd(struct shield_ofd *o, int fd, off_t off, int whence)
{
	uint64_t size;
	long long pos;
	pthread_mutex_lock(&o->lock);
	shield_be_size(o->node, &size);
	switch (whence) {
	case SEEK_SET: pos = off; break;
	case SEEK_CUR: pos = (long long)o->offset + off; break;
	case SEEK_END: pos = (long long)size + off; break;
	case SEEK_DATA:
		if (off < 0 || (uint64_t)off >= size) {
			pthread_mutex_unlock(&o->lock);
			return -ENXIO;
		}
		pos = off;
		break;
	case SEEK_HOLE:
		if (off < 0 || (uint64_t)off >= size) {
			pthread_mutex_unlock(&o->lock);
			return -ENXIO;
		}
		pos = (long long)size;
		break;
	default:
		pthread_mutex_unlock(&o->lock);
		return -EINVAL;
	}
	if (pos < 0 || REAL(lseek64)(fd, (off_t)pos, SEEK_SET) < 0) {
		pthread_mutex_unlock(&o->lock);
		return -EINVAL;
	}
	o->offset = (uint64_t)pos;
	pthread_mutex_unlock(&o->lock);
	return pos;
}

off_t lseek(int fd, off_t off, int whence)
{
	WITH_OFD(fd, REAL(lseek64)(fd, off, whence), seek_ofd(o, fd, off, whence));
}
off_t lseek64(int fd, off_t off, int whence) __attribute__((alias("lseek")));

static int truncate_ofd(struct shield_ofd *o, off_t len)
{
	if (o->flags & O_PATH)
		return -EBADF;
	if (!may_write(o))
		return -EINVAL;
	if (len < 0)
		return -EINVAL;
	return shield_be_truncate(o->node, (uint64_t)len);
}

int ftruncate(int fd, off_t len)
{
	WITH_OFD(fd, REAL(ftruncate64)(fd, len), truncate_ofd(o, len));
}
int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int fsync(int fd)
{
	WITH_OFD(fd, REAL(fsync)(fd), shield_be_sync(o->node));
}

int fdatasync(int fd)
{
	WITH_OFD(fd, REAL(fdatasync)(fd), shield_be_sync(o->node));
}

int truncate(const char *path, off_t len)
{
	struct shield_path sp;
	int fd, rc;
	if (!shield_on())
		return REAL(truncate64)(path, len);
	/* A descriptor link of a shielded fd (procfd.h) is opened through the
	 * shield below whatever its classification. */
	if (shield_procfd(path) < 0) {
		int dfd = AT_FDCWD;
		if (shield_classify(AT_FDCWD, path, &sp) != 0)
			return REAL(truncate64)(path, len);
		if (sp.kind == SHIELD_DENIED && (rc = shield_deny(&sp, "truncate")) != 0)
			return set_errno(rc);
		if (sp.kind == SHIELD_PLAIN || sp.kind == SHIELD_DENIED)
			return REAL(truncate64)(shield_real_path(&sp, &dfd, path), len);
	}
	fd = shield_openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = ftruncate(fd, len);
	if (rc != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}
int truncate64(const char *path, off_t len) __attribute__((alias("truncate")));

/* ---- fd lifetime ---- */

/* The last close of a written file commits it; a failed commit (a full
 * disk) is the close's error, as NFS reports write-back errors at close:
 * the fd is released either way. */
int close(int fd)
{
	int crc = 0, r;
	if (shield_fd_is(fd))
		crc = shield_fd_forget(fd);
	r = REAL(close)(fd);
	if (r == 0 && crc < 0) {
		errno = -crc;
		return -1;
	}
	return r;
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned fd = first; fd <= last && fd < 65536; fd++)
			if (shield_fd_is((int)fd))
				shield_fd_forget((int)fd);
	return REAL(close_range)(first, last, flags);
}

/* After the C library made newfd a copy of oldfd: share oldfd's
 * description. */
static int dup_follow(int oldfd, int newfd)
{
	struct shield_ofd *o;
	if (newfd < 0)
		return newfd;
	o = shield_fd_get(oldfd);
	if (o == NULL) {
		shield_fd_forget(newfd); /* it replaced a shielded fd */
		return newfd;
	}
	if (shield_fd_install(newfd, o) != 0) {
		shield_ofd_put(o);
		REAL(close)(newfd);
		errno = EMFILE;
		return -1;
	}
	return newfd;
}

int dup(int fd)
{
	int n = REAL(dup)(fd);
	if (n < 0 || !shield_fd_is(fd))
		return n;
	return dup_follow(fd, n);
}

/* What the C library's stdout or stderr holds goes where fd 1 or 2 points
 * now, before a shielded file takes its place (fdtable.c). */
static void flush_std_before(int oldfd, int nfd)
{
	if ((nfd == 1 || nfd == 2) && shield_fd_is(oldfd) && !shield_fd_is(nfd))
		(void)fflush(nfd == 1 ? stdout : stderr);
}

int dup2(int fd, int nfd)
{
	int r;
	if (fd == nfd)
		return REAL(dup2)(fd, nfd);
	flush_std_before(fd, nfd);
	r = REAL(dup2)(fd, nfd);
	if (r < 0 || (!shield_fd_is(fd) && !shield_fd_is(nfd)))
		return r;
	return dup_follow(fd, r);
}

int dup3(int fd, int nfd, int flags)
{
	flush_std_before(fd, nfd);
	int r = REAL(dup3)(fd, nfd, flags);
	if (r < 0 || (!shield_fd_is(fd) && !shield_fd_is(nfd)))
		return r;
	return dup_follow(fd, r);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r;
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!shield_fd_is(fd))
		return REAL(fcntl64)(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = REAL(fcntl64)(fd, cmd, arg);
		return r < 0 ? r : dup_follow(fd, r);
	case F_GETFL: {
		struct shield_ofd *o = shield_fd_get(fd);
		r = REAL(fcntl64)(fd, cmd, arg);
		if (o != NULL && r >= 0)
			r = (r & ~(O_ACCMODE | O_APPEND)) | (o->flags & (O_ACCMODE | O_APPEND));
		shield_ofd_put(o);
		return r;
	}
	case F_SETFL: {
		struct shield_ofd *o = shield_fd_get(fd);
		int fl = (int)(long)arg;
		r = REAL(fcntl64)(fd, cmd, (void *)(long)(fl & ~O_APPEND));
		if (o != NULL && r == 0) {
			pthread_mutex_lock(&o->lock);
			o->flags = (o->flags & ~(O_APPEND | O_NONBLOCK)) | (fl & (O_APPEND | O_NONBLOCK));
			pthread_mutex_unlock(&o->lock);
		}
		shield_ofd_put(o);
		return r;
	}
	default:
		return REAL(fcntl64)(fd, cmd, arg);
	}
}
int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

/* ---- copies between fds ---- */

/* A descriptor that is neither shielded nor a regular file: a pipe, a
 * socket, a terminal. The kernel's sendfile and splice return after the
 * first partial transfer to or from one, rather than wait for the rest. */
static int is_stream(int fd)
{
	struct stat st;
	if (shield_fd_is(fd))
		return 0;
	return REAL(fstat64)(fd, &st) != 0 || !S_ISREG(st.st_mode);
}

/* Copies up to count bytes (sendfile, splice, copy_file_range with one
 * end shielded), as the kernel would: between two files until count or
 * the end of the input; to or from a pipe or socket one buffer at most,
 * returning after a short write, and with the write's error (EAGAIN,
 * EINTR, EPIPE) when nothing was written. A shielded input read at its
 * file offset moves by what was written, so a short write loses nothing. */
static ssize_t copy_fds(int in, off_t *inoff, int out, off_t *outoff, size_t count)
{
	char buf[65536];
	size_t done = 0;
	int once = is_stream(in) || is_stream(out), track = 0, e;
	off_t pos = 0;
	if (inoff == NULL && shield_fd_is(in)) {
		pos = lseek(in, 0, SEEK_CUR);
		if (pos < 0)
			return -1;
		track = 1;
	}
	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t r = inoff ? pread(in, buf, want, *inoff) : track ? pread(in, buf, want, pos) : read(in, buf, want);
		ssize_t w = 0, k = 0;
		if (r < 0)
			return done > 0 ? (ssize_t)done : -1;
		if (r == 0)
			break;
		while (w < r) {
			k = outoff ? pwrite(out, buf + w, (size_t)(r - w), *outoff) : write(out, buf + w, (size_t)(r - w));
			if (k <= 0)
				break;
			if (outoff)
				*outoff += k;
			w += k;
			if (once)
				break;
		}
		e = errno;
		if (inoff)
			*inoff += w;
		else if (track && w > 0) {
			pos += w;
			if (lseek(in, pos, SEEK_SET) < 0)
				return -1;
		}
		done += (size_t)w;
		if (w < r || once || r < (ssize_t)want) {
			if (k < 0 && done == 0) {
				errno = e;
				return -1;
			}
			break;
		}
	}
	return (ssize_t)done;
}

/* 1 when out was opened (or set) with O_APPEND: the kernel's sendfile and
 * splice refuse it (EINVAL), copy_file_range too (EBADF). */
static int appends(int out)
{
	int fl = fcntl(out, F_GETFL);
	return fl >= 0 && (fl & O_APPEND);
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	if (shield_inside || (!shield_fd_is(in) && !shield_fd_is(out)))
		return REAL(sendfile64)(out, in, off, count);
	if (appends(out))
		return set_errno(-EINVAL);
	return copy_fds(in, off, out, NULL, count);
}
ssize_t sendfile64(int out, int in, off_t *off, size_t count) __attribute__((alias("sendfile")));

ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t count, unsigned flags)
{
	if (shield_inside || (!shield_fd_is(in) && !shield_fd_is(out)))
		return REAL(copy_file_range)(in, inoff, out, outoff, count, flags);
	if (flags != 0) {
		errno = EINVAL;
		return -1;
	}
	if (appends(out))
		return set_errno(-EBADF);
	return copy_fds(in, inoff, out, outoff, count);
}

ssize_t splice(int in, off_t *inoff, int out, off_t *outoff, size_t len, unsigned flags)
{
	typedef ssize_t (*fn)(int, off_t *, int, off_t *, size_t, unsigned);
	static fn real;
	if (real == NULL)
		real = (fn)dlsym_next("splice");
	if (shield_inside || (!shield_fd_is(in) && !shield_fd_is(out)))
		return real(in, inoff, out, outoff, len, flags);
	if (appends(out))
		return set_errno(-EINVAL);
	return copy_fds(in, inoff, out, outoff, len);
}
