/* util.c: see util.h. */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int ward_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t cap, n = 0;
	int fd, saved;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (st.st_size > 0 && (uint64_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	buf = malloc(cap);
	if (buf == NULL)
		goto fail;
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			uint8_t *nb;
			if (cap > max + 1) {
				errno = EFBIG;
				goto fail;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return -1;
}

int ward_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = data;
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	ward_fsync_parent(path);
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

void ward_fsync_parent(const char *path)
{
	char dir[PATH_MAX], *slash;
	int dfd;
	if (ward_strlcpy(dir, path, sizeof(dir)) != 0)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

void ward_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

int ward_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ward_unhex(const char *in, uint8_t *out, size_t len)
{
	if (strlen(in) != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = ward_hex_digit(in[2 * i]), lo = ward_hex_digit(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int ward_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (s == NULL || *s == 0)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int ward_parse_size(const char *s, uint64_t *out)
{
	char digits[32];
	size_t n = 0;
	unsigned shift = 0;
	uint64_t v;

	if (s == NULL)
		return -1;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, s, n);
	digits[n] = 0;
	if (ward_parse_u64(digits, &v) != 0)
		return -1;
	s += n;
	switch (*s) {
	case 0: break;
	case 'k': case 'K': shift = 10; s++; break;
	case 'm': case 'M': shift = 20; s++; break;
	case 'g': case 'G': shift = 30; s++; break;
	case 't': case 'T': shift = 40; s++; break;
	default: return -1;
	}
	if (shift && (*s == 'b' || *s == 'B'))
		s++;
	if (*s != 0)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

void ward_format_size(uint64_t v, char *out, size_t outlen)
{
	static const char suffix[] = "KMGT";
	int idx = -1;
	while (v != 0 && (v & 1023) == 0 && idx < 3) {
		v >>= 10;
		idx++;
	}
	if (idx < 0)
		snprintf(out, outlen, "%llu", (unsigned long long)v);
	else
		snprintf(out, outlen, "%llu%c", (unsigned long long)v, suffix[idx]);
}

void ward_file_id_of(const struct stat *st, struct ward_file_id *id)
{
	id->dev = (unsigned long long)st->st_dev;
	id->ino = (unsigned long long)st->st_ino;
	id->size = (unsigned long long)st->st_size;
	id->mtime_ns = (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st->st_mtim.tv_nsec;
	id->ctime_ns = (unsigned long long)st->st_ctim.tv_sec * 1000000000ULL + (unsigned long long)st->st_ctim.tv_nsec;
}

int ward_file_id_eq(const struct ward_file_id *a, const struct ward_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns;
}

int ward_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t d = 0;
	while (d < len) {
		ssize_t r = pread(fd, (uint8_t *)buf + d, len - d, (off_t)(off + d));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		d += (size_t)r;
	}
	*got = d;
	return 0;
}

int ward_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

size_t ward_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return done;
}

void *ward_map_2m(size_t len, int prot, int flags, int fd)
{
	const size_t unit = (size_t)2 << 20;
	uint8_t *r;
	void *p;
	uintptr_t a;
	size_t head;

	if (len < unit || len > SIZE_MAX - unit)
		return mmap(NULL, len, prot, flags, fd, 0);
	/* reserve one unit more, map over its aligned part, cut the ends */
	r = mmap(NULL, len + unit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return MAP_FAILED;
	a = ((uintptr_t)r + unit - 1) & ~(uintptr_t)(unit - 1);
	p = mmap((void *)a, len, prot, flags | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		munmap(r, len + unit);
		errno = e;
		return MAP_FAILED;
	}
	head = a - (uintptr_t)r;
	if (head)
		munmap(r, head);
	if (unit - head)
		munmap((uint8_t *)a + len, unit - head);
	return p;
}

void *ward_map_huge(size_t len)
{
	void *p;
	if (len == 0 || len % ((size_t)2 << 20) != 0) {
		errno = EINVAL;
		return NULL;
	}
	p = ward_map_2m(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: 4 KiB pages still work */
	return p;
}

int ward_mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATH_MAX];
	if (ward_strlcpy(tmp, path, sizeof(tmp)) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST ? -1 : 0;
}

int ward_xdg_dir(const char *var, const char *home_rel, const char *sub, char *out, size_t outlen)
{
	const char *x = getenv(var), *home = getenv("HOME");
	int n;
	if (x != NULL && x[0] == '/')
		n = snprintf(out, outlen, "%s/%s", x, sub);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, outlen, "%s/%s/%s", home, home_rel, sub);
	else
		return -1;
	return n > 0 && (size_t)n < outlen ? 0 : -2;
}

int ward_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = 0;
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int ward_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int ward_path_abs_maybe(const char *p, char *out)
{
	char tmp[PATH_MAX], parent[PATH_MAX];
	const char *slash, *base;
	size_t n;
	if (realpath(p, out) != NULL)
		return 0;
	if ((n = strlen(p)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, p, n + 1);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = 0;
	slash = strrchr(tmp, '/');
	base = slash ? slash + 1 : tmp;
	if (slash == tmp)
		strcpy(parent, "/");
	else if (slash != NULL) {
		memcpy(parent, tmp, (size_t)(slash - tmp));
		parent[slash - tmp] = 0;
	} else
		strcpy(parent, ".");
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (realpath(parent, out) == NULL)
		return -1;
	if (strlen(out) + strlen(base) + 2 > PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strcmp(out, "/") != 0)
		strcat(out, "/");
	strcat(out, base);
	return 0;
}
