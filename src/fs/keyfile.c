/* keyfile.c: volume key files (64 hex digits + newline, mode 0600). Read:
 * 64 hex digits followed by any whitespace (spaces, tabs, CR, LF), or the 32
 * raw key bytes; a file readable or writable by group or others is refused. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/util.h"
#include "fs/internal.h"

int ward_vol_key_load(const char *path, int create, uint8_t key[WARD_VOL_KEY_LEN], int *created, char *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	int rc;

	if (created)
		*created = 0;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT || !create)
			return wv_fail(err, -errno, "cannot read key file '%s': %s", path, strerror(errno));
		uint8_t k[WARD_VOL_KEY_LEN];
		char hx[2 * WARD_VOL_KEY_LEN + 2];
		if (ward_random(k, sizeof(k)) != 0)
			return wv_fail(err, -EIO, "no randomness for a new key");
		ward_hex(k, sizeof(k), hx);
		strcat(hx, "\n");
		/* written whole to a temporary name, then linked into place: a
		 * killed writer never leaves a partial key at path, and link()
		 * refuses an existing path as O_EXCL would */
		char tmp[PATH_MAX];
		int fd = -1;
		size_t hl = strlen(hx);
		rc = 0;
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
			rc = wv_fail(err, -ENAMETOOLONG, "cannot create key file '%s': %s", path, strerror(ENAMETOOLONG));
		else if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
			rc = wv_fail(err, -errno, "cannot create key file '%s': %s%s", path, strerror(errno),
				     errno == ENOENT ? "; create its directory first" : "");
		else if (fchmod(fd, 0600) != 0 || write(fd, hx, hl) != (ssize_t)hl || fsync(fd) != 0)
			rc = wv_fail(err, -(errno ? errno : EIO), "cannot write key file '%s': %s", path, strerror(errno));
		if (fd >= 0 && close(fd) != 0 && rc == 0)
			rc = wv_fail(err, -errno, "cannot write key file '%s': %s", path, strerror(errno));
		if (rc == 0 && link(tmp, path) != 0)
			rc = wv_fail(err, -errno, "cannot create key file '%s': %s%s", path, strerror(errno),
				     errno == ENOENT ? "; create its directory first" : "");
		if (fd >= 0)
			(void)unlink(tmp);
		if (rc == 0)
			ward_fsync_parent(path);
		if (rc == 0) {
			memcpy(key, k, sizeof(k));
			if (created)
				*created = 1;
		}
		ward_wipe(k, sizeof(k));
		ward_wipe(hx, sizeof(hx));
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return wv_fail(err, -EINVAL, "key file '%s' is not a regular file", path);
	if (st.st_mode & 077)
		return wv_fail(err, -EPERM, "key file '%s' is %s by group or others (mode %04o); run 'chmod 600 %s'", path,
			       (st.st_mode & 044) ? "readable" : (st.st_mode & 022) ? "writable" : "accessible",
			       (unsigned)(st.st_mode & 07777), path);
	if (ward_read_file(path, 256, &buf, &len) != 0)
		return wv_fail(err, -errno, "cannot read key file '%s': %s", path, strerror(errno));
	if (len == WARD_VOL_KEY_LEN) {
		memcpy(key, buf, WARD_VOL_KEY_LEN);
		rc = 0;
	} else {
		size_t l = len, h = 0;
		while (l > 0 && (buf[l - 1] == ' ' || buf[l - 1] == '\t' || buf[l - 1] == '\r' || buf[l - 1] == '\n'))
			l--;
		buf[l] = '\0';
		while (h < l && isxdigit(buf[h]))
			h++;
		if (l == 2 * WARD_VOL_KEY_LEN && h == l && ward_unhex((const char *)buf, key, WARD_VOL_KEY_LEN) == 0)
			rc = 0;
		else if (h < l) /* the position only: never a byte of the key */
			rc = wv_fail(err, -EINVAL,
				     "key file '%s' does not hold a volume key (64 hex digits expected, a character "
				     "that is not a hex digit at offset %zu)", path, h);
		else
			rc = wv_fail(err, -EINVAL,
				     "key file '%s' does not hold a volume key (64 hex digits expected, %zu found)", path, l);
	}
	ward_wipe(buf, len);
	free(buf);
	return rc;
}
