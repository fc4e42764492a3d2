/* fuzz_manifest.c: the volume manifest parser (src/fs/manifest.c) on
 * records an attacker chose. An authenticated volume's chain is plain
 * SHA-256 (the pinned tag, compared after loading, is its trust anchor), so
 * anyone who can write the manifest can make records that pass the chain
 * check: every record type's parser must refuse malformed ones with an
 * error and never read out of bounds. The first input byte picks the mode:
 *   bit 0 clear: the rest is the whole manifest file as is (header, framing,
 *                torn tails), opened as an authenticated volume;
 *   bit 0 set:   the rest is a list of records (u8 type, u16 len, payload),
 *                framed with a valid header and a valid chain (forge.h, as
 *                the unit tests do): SHA-256 (bit 1 clear, authenticated)
 *                or HMAC-SHA256 under a fixed key (bit 1 set, encrypted),
 *                so they reach the parsers.
 * After an open that succeeds: the tag, a walk of the tree (readdir, stat,
 * and a read of each file, whose data on disk is one fixed file or
 * missing), and for authenticated manifests the same bytes again through
 * the trusted (lazy) open, which parses without the chain check. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/volume.h"
#include "../tests/unit/fs/forge.h"

static char dir[64], mpath[128];
static const uint8_t key[WARD_VOL_KEY_LEN] = { 7 };
static const uint8_t vid[WVOL_ID_LEN] = { 1, 2, 3 };

static void cleanup(void)
{
	char p[192];
	unlink(mpath);
	snprintf(p, sizeof(p), "%s/a", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/" WARD_VOL_META_DIR, dir);
	rmdir(p);
	rmdir(dir);
}

static void setup(void)
{
	char p[192];
	const char *tmp = getenv("TMPDIR");
	FILE *f;
	if (dir[0] != 0)
		return;
	if (tmp == NULL || tmp[0] == 0 || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/ward-fuzz-manifest.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	snprintf(p, sizeof(p), "%s/" WARD_VOL_META_DIR, dir);
	if (mkdir(p, 0700) != 0)
		abort();
	snprintf(mpath, sizeof(mpath), "%s/" WARD_VOL_META_DIR "/manifest", dir);
	snprintf(p, sizeof(p), "%s/a", dir); /* data for a file named "a" */
	if ((f = fopen(p, "wb")) == NULL)
		abort();
	for (int i = 0; i < 9000; i++)
		fputc('A' + i % 26, f);
	fclose(f);
}

static void walk(ward_vol *v, const char *path, int depth)
{
	char err[WARD_VOL_ERR_LEN], sub[4200];
	struct ward_vdirent *ents = NULL;
	size_t n = 0;
	if (depth > 8 || ward_vol_readdir(v, path, &ents, &n, err) != 0)
		return;
	for (size_t i = 0; i < n && i < 64; i++) {
		struct ward_vstat st;
		ward_vfile *f = NULL;
		uint8_t buf[10000];
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "/" : "", ents[i].name);
		if (ward_vol_stat(v, sub, &st, err) != 0)
			continue;
		if ((st.mode & S_IFMT) == S_IFDIR) {
			walk(v, sub, depth + 1);
		} else if (ward_vf_open(v, sub, O_RDONLY, 0, &f, err) == 0) {
			(void)ward_vf_pread(f, buf, sizeof(buf), 0, err);
			(void)ward_vf_pread(f, buf, 100, 4090, err);
			ward_vf_close(f, err);
		}
	}
	free(ents);
}

static void try_open(int enc, const struct ward_file_id *trusted)
{
	char err[WARD_VOL_ERR_LEN];
	uint8_t tag[WARD_VOL_TAG_LEN];
	struct ward_vol_opts o = { enc ? WARD_VOL_ENCRYPTED : WARD_VOL_AUTHENTICATED, enc ? key : NULL,
				   enc ? NULL : mpath, WARD_VOL_RDONLY, NULL, trusted };
	ward_vol *v = NULL;
	if (ward_vol_open(dir, &o, &v, err) != 0)
		return;
	(void)ward_vol_tag(v, tag);
	walk(v, "", 0);
	ward_vol_close(v, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m = NULL;
	size_t n;
	int enc = 0, fd;
	struct stat st;
	struct ward_file_id id;

	if (size < 1 || size > 65536)
		return 0;
	setup();
	if (data[0] & 1) {
		enc = (data[0] & 2) != 0;
		n = forge_manifest(enc, key, vid, data + 1, size - 1, &m);
	} else {
		n = size - 1;
		m = malloc(n ? n : 1);
		if (m == NULL)
			abort();
		memcpy(m, data + 1, n);
	}
	/* a new file each time: a new identity for the trusted open */
	unlink(mpath);
	fd = open(mpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, m, n) != (ssize_t)n)
		abort();
	close(fd);
	free(m);
	try_open(enc, NULL);
	if (!enc && stat(mpath, &st) == 0) {
		ward_file_id_of(&st, &id);
		try_open(0, &id);
	}
	return 0;
}
