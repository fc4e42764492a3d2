/* files.h: helpers shared by the fs unit tests: plain files (writing a
 * source tree, reading and rewriting files on disk to tamper with them) and
 * reading a small volume file as a string. Include after test.h and
 * fs/volume.h: failures are CHECKs of the including test. */
#ifndef WARD_TEST_FS_FILES_H
#define WARD_TEST_FS_FILES_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* writes n bytes of data to dir/rel */
static inline void put_in(const char *dir, const char *rel, const void *data, size_t n)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	FILE *f = fopen(p, "wb");
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(fwrite(data, 1, n, f) == n);
		fclose(f);
	}
}

/* up to cap bytes of file p in a new buffer (free it); *n: bytes read */
static inline uint8_t *slurp(const char *p, size_t cap, size_t *n)
{
	FILE *f = fopen(p, "rb");
	uint8_t *b = malloc(cap);
	*n = f && b ? fread(b, 1, cap, f) : 0;
	if (f)
		fclose(f);
	return b;
}

/* replaces file p with n bytes of b */
static inline void spill(const char *p, const uint8_t *b, size_t n)
{
	FILE *f = fopen(p, "wb");
	CHECK(f != NULL && fwrite(b, 1, n, f) == n);
	if (f)
		fclose(f);
}

/* the volume file at path as a NUL-terminated string (at most cap - 1
 * bytes): its length, or a negative errno from opening or reading it */
static inline int vol_read_str(ward_vol *v, const char *path, char *buf, size_t cap)
{
	ward_vfile *f;
	int rc = ward_vf_open(v, path, O_RDONLY, 0, &f, NULL);
	if (rc != 0)
		return rc;
	ssize_t r = ward_vf_pread(f, buf, cap - 1, 0, NULL);
	ward_vf_close(f, NULL);
	buf[r > 0 ? r : 0] = 0;
	return (int)r;
}
#endif
