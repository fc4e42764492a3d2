/* test_vf_setattr.c: ward_vf_setattr (src/fs/volume.h) sets the attributes
 * of the handle's own file: at its new path after a rename, only in its
 * handles once it was replaced, never on the file now at its old path. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/volume.h"
#include "test.h"

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	return remove(p);
}

static int make(ward_vol *v, const char *path, char *err)
{
	ward_vfile *f;
	int rc = ward_vf_open(v, path, O_RDWR | O_CREAT | O_EXCL, 0644, &f, err);
	if (rc != 0)
		return rc;
	if (ward_vf_pwrite(f, path, strlen(path), 0, err) != (ssize_t)strlen(path))
		rc = -EIO;
	return ward_vf_close(f, err) != 0 ? -EIO : rc;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-fs-setattr.XXXXXX", dir[256];
	uint8_t key[32];
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_CREATE };
	struct ward_vstat st;
	ward_vol *v = NULL;
	ward_vfile *a, *c;

	memset(key, 5, sizeof(key));
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	CHECK(ward_vol_open(dir, &o, &v, err) == 0);
	CHECK(make(v, "a", err) == 0 && make(v, "b", err) == 0 && make(v, "c", err) == 0);

	/* renamed: the change lands at the new path */
	CHECK(ward_vf_open(v, "c", O_RDONLY, 0, &c, err) == 0);
	CHECK(ward_vol_rename(v, "c", "d", err) == 0);
	CHECK(ward_vf_setattr(c, 0640, 2000000000, err) == 0);
	CHECK(ward_vol_stat(v, "d", &st, err) == 0 && (st.mode & 07777) == 0640 && st.mtime_ns == 2000000000);
	CHECK(ward_vf_close(c, err) == 0);

	/* replaced: only the handle sees it; the file at "a" now is untouched */
	CHECK(ward_vf_open(v, "a", O_RDONLY, 0, &a, err) == 0);
	CHECK(ward_vol_rename(v, "b", "a", err) == 0);
	CHECK(ward_vf_setattr(a, 0600, 1000000000, err) == 0);
	CHECK(ward_vf_stat(a, &st) == 0 && (st.mode & 07777) == 0600 && st.mtime_ns == 1000000000);
	CHECK(ward_vol_stat(v, "a", &st, err) == 0 && (st.mode & 07777) == 0644 && st.mtime_ns != 1000000000);
	CHECK(ward_vf_close(a, err) == 0);
	CHECK(ward_vol_close(v, err) == 0);

	/* kept across a reopen; the volume verifies */
	o.flags = WARD_VOL_RDONLY;
	CHECK(ward_vol_open(dir, &o, &v, err) == 0);
	CHECK(ward_vol_stat(v, "d", &st, err) == 0 && (st.mode & 07777) == 0640 && st.mtime_ns == 2000000000);
	CHECK(ward_vol_stat(v, "a", &st, err) == 0 && (st.mode & 07777) == 0644);
	CHECK(ward_vol_verify(v, NULL, NULL, err) == 0);
	CHECK(ward_vf_open(v, "d", O_RDONLY, 0, &c, err) == 0);
	CHECK(ward_vf_setattr(c, 0600, -1, err) == -EROFS);
	CHECK(ward_vf_close(c, err) == 0);
	CHECK(ward_vol_close(v, err) == 0);

	CHECK(nftw(tmpl, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0);
	return TEST_DONE();
}
