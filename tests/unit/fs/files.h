/* files.h: helpers shared by the fs unit tests: plain files (writing a
 * source tree, reading and rewriting files on disk to tamper with them) and
 * reading a small volume file as a string, writing one and verifying a
 * volume. Include after test.h and fs/volume.h: failures are CHECKs of
 * the including test. */
#ifndef WARD_TEST_FS_FILES_H
#define WARD_TEST_FS_FILES_H
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
/* creates or rewrites the volume file at path with the string data and
 * commits it (closes it): 0 or -1 */
static inline int vol_put_str(ward_vol *v, const char *path, const char *data)
{
	char err[WARD_VOL_ERR_LEN];
	ward_vfile *f;
	if (ward_vf_open(v, path, O_RDWR | O_CREAT, 0600, &f, err) != 0)
		return -1;
	int ok = ward_vf_pwrite(f, data, strlen(data), 0, err) == (ssize_t)strlen(data);
	return ward_vf_close(f, err) == 0 && ok ? 0 : -1;
}

/* ward_vol_verify, printing the reason when it fails */
static inline int vol_verify(ward_vol *v)
{
	char err[WARD_VOL_ERR_LEN];
	int rc = ward_vol_verify(v, NULL, NULL, err);
	if (rc != 0)
		fprintf(stderr, "verify: %s\n", err);
	return rc;
}
#endif
