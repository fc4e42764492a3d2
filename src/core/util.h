/*
 * util.h: small helpers shared by every component.
 *
 * Contract: functions return 0 on success and -1 on failure with errno set
 * (or a message written to err, when they take one); no function here logs.
 * Lengths read from untrusted input are always bounded by the caller's max.
 */
#ifndef WARD_CORE_UTIL_H
#define WARD_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define WARD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a whole file of at most max bytes into a fresh buffer (NUL
 * terminated, the NUL not counted in *len). Fails with EFBIG past max. */
int ward_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* Writes a file atomically: temporary file in the same directory, fsync,
 * rename, fsync of the directory. mode is applied to the new file. */
int ward_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* fsync of the directory that holds path (so that an entry just made or
 * renamed there survives a crash); best effort. */
void ward_fsync_parent(const char *path);

/* Writes a one-line reason into err (when err is not NULL and errlen > 0)
 * and returns -1: the usual tail of a failing function. */
int ward_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void ward_hex(const uint8_t *in, size_t len, char *out);

/* The value of one hex digit (either case), or -1. */
int ward_hex_digit(char c);

/* Parses exactly 2*len hex digits (either case). Returns -1 on any other input. */
int ward_unhex(const char *in, uint8_t *out, size_t len);

/* Parses a byte size: digits with an optional K, M, G or T suffix (powers of
 * 1024, case-insensitive, optional trailing "B"). Returns -1 on anything else
 * or on overflow. */
int ward_parse_size(const char *s, uint64_t *out);

/* Formats a size the way ward_parse_size reads it back ("512M", "1G", "12345"). */
void ward_format_size(uint64_t v, char *out, size_t outlen);

/* Strict base-10 unsigned parse of the whole string. */
int ward_parse_u64(const char *s, uint64_t *out);

/* Like strlcpy: always NUL-terminates, returns -1 when truncated. */
int ward_strlcpy(char *dst, const char *src, size_t size);

/* A file's identity as the caches use it (docs/measurement.md): device,
 * inode, size, mtime and ctime in nanoseconds. A write changes ctime, which
 * an unprivileged process cannot set; a rename changes the inode. */
struct ward_file_id {
	unsigned long long dev, ino, size, mtime_ns, ctime_ns;
};
struct stat;
void ward_file_id_of(const struct stat *st, struct ward_file_id *id);
int ward_file_id_eq(const struct ward_file_id *a, const struct ward_file_id *b);

/* pread/pwrite until len bytes are done, retrying EINTR. ward_pread_full
 * stops early at end of file (*got says how much was read); 0 or -1 with
 * errno. ward_pwrite_full fails with ENOSPC if the kernel writes nothing. */
int ward_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
int ward_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* write(2) until len bytes are out, retrying EINTR and short writes; the
 * bytes written (fewer on an error, with errno set). Inside the runtime the
 * write is the shield's. */
size_t ward_write_all(int fd, const void *buf, size_t len);

/* mmap(NULL, len, prot, flags, fd, 0) at an address that is a multiple of
 * 2 MiB when len is at least 2 MiB (so that 2 MiB pages or page-cache folios
 * can be mapped with one entry each); MAP_FAILED with errno on failure. */
void *ward_map_2m(size_t len, int prot, int flags, int fd);

/* An anonymous read-write mapping of len bytes (a multiple of 2 MiB),
 * aligned on 2 MiB and advised for transparent huge pages: filling it costs
 * a few faults instead of one per 4 KiB page, which matters on virtual
 * machines. Free with munmap(p, len). NULL with errno on failure. */
void *ward_map_huge(size_t len);

/* The absolute form of a path that may not exist yet: realpath() of p when
 * it exists, else realpath() of its parent joined with its last component
 * (trailing slashes dropped). out holds PATH_MAX bytes. 0, or -1 with errno:
 * ENAMETOOLONG, EINVAL when the last component is "." or "..", or what
 * realpath() of the parent gave (ENOENT: the parent does not exist). */
int ward_path_abs_maybe(const char *p, char *out);

/* mkdir -p: creates path and each missing parent with mode; 0, or -1 with
 * errno (EEXIST for a component that exists is not an error). */
int ward_mkdir_p(const char *path, unsigned mode);

/* A per-user directory in the XDG layout: "$VAR/SUB" when the variable
 * (XDG_DATA_HOME, XDG_CACHE_HOME, XDG_CONFIG_HOME) is an absolute path,
 * else "$HOME/HOME_REL/SUB" (HOME_REL: .local/share, .cache, .config).
 * Returns 0, -1 when neither is an absolute path, -2 when too long. */
int ward_xdg_dir(const char *var, const char *home_rel, const char *sub, char *out, size_t outlen);

/* Times as nanoseconds since the epoch (negative before 1970), saturated
 * to what an int64_t holds (about 1677..2262); and back, with 0 <= tv_nsec
 * < 10^9 as struct timespec requires. */
static inline int64_t ward_ts_ns(int64_t sec, long nsec)
{
	const int64_t lim = INT64_MAX / 1000000000 - 1;
	if (sec > lim)
		return lim * 1000000000;
	if (sec < -lim)
		return -lim * 1000000000;
	return sec * 1000000000 + nsec;
}

static inline void ward_ns_ts(int64_t ns, int64_t *sec, long *nsec)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	if (r < 0) {
		r += 1000000000;
		s--;
	}
	*sec = s;
	*nsec = (long)r;
}

#endif
