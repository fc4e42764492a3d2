/* test_trusted.c: opening an authenticated volume with a trusted manifest
 * (volume.h, "Trusted manifests") skips only the SHA-256 chain, only for
 * the exact file identity given, and still parses the bytes as untrusted;
 * ward_vol_verify_fd() checks a caller's descriptor against the manifest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/internal.h"
#include "test.h"
#include "files.h"

static char tree[300], man[300];

static void put(const char *rel, const char *data, size_t n)
{
	put_in(tree, rel, data, n);
}

static int idof(const char *p, struct ward_file_id *id)
{
	struct stat st;
	if (stat(p, &st) != 0)
		return -1;
	ward_file_id_of(&st, id);
	return 0;
}

static int topen(const struct ward_file_id *id, ward_vol **v, char *err)
{
	struct ward_vol_opts o = { .kind = WARD_VOL_AUTHENTICATED, .manifest = man, .flags = WARD_VOL_RDONLY,
				   .trusted_manifest = id };
	*v = NULL;
	return ward_vol_open(tree, &o, v, err);
}

static int verify_path(ward_vol *v, const char *rel, char *err)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = ward_vol_verify_fd(v, rel, fd, err);
	close(fd);
	return rc;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-trusted-test.XXXXXX", p[600];
	static char big[3 * 4096 + 100];
	struct ward_file_id id, id2;
	struct ward_vstat st;
	uint8_t tag[32];
	size_t n;
	ward_vol *v;

	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(tree, sizeof(tree), "%s/t", tmpl);
	snprintf(man, sizeof(man), "%s/t.manifest", tmpl);
	snprintf(p, sizeof(p), "%s/d", tree);
	CHECK(mkdir(tree, 0755) == 0 && mkdir(p, 0755) == 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	put("d/big", big, sizeof(big));
	put("small", "hello", 5);
	put("empty", "", 0);
	CHECK(ward_vol_authenticate(tree, man, tag, NULL, NULL, NULL, err) == 0);
	CHECK(idof(man, &id) == 0);

	/* A full open reports the identity it read; trusted opens skip the chain. */
	CHECK(topen(NULL, &v, err) == 0);
	CHECK(v != NULL && !ward_vol_opened_trusted(v));
	CHECK(v != NULL && ward_vol_manifest_id(v, &id2) == 0 && memcmp(&id, &id2, sizeof(id)) == 0);
	/* verify_fd: the files as built match, every size */
	CHECK(verify_path(v, "d/big", err) == 0);
	CHECK(verify_path(v, "small", err) == 0);
	CHECK(verify_path(v, "empty", err) == 0);
	CHECK(verify_path(v, "d", err) == -EISDIR);
	ward_vol_close(v, NULL);

	CHECK(topen(&id, &v, err) == 0);
	CHECK(v != NULL && ward_vol_opened_trusted(v));
	CHECK(v != NULL && ward_vol_stat(v, "d/big", &st, err) == 0 && st.size == sizeof(big));
	ward_vol_close(v, NULL);

	/* Another identity: -ESTALE, and a full open still works. */
	id2 = id;
	id2.ctime_ns++;
	CHECK(topen(&id2, &v, err) == -ESTALE && v == NULL);

	/* An encrypted volume cannot be opened trusted. */
	{
		struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = (const uint8_t *)big, .flags = WARD_VOL_RDONLY,
					   .trusted_manifest = &id };
		CHECK(ward_vol_open(tree, &o, &v, err) == -EINVAL);
	}

	/* A modified manifest changes its identity: the trusted identity no
	 * longer matches (-ESTALE), and the full check refuses it. */
	uint8_t *orig = slurp(man, 1 << 20, &n), *m = malloc(n);
	memcpy(m, orig, n);
	m[n - WVOL_MAC_LEN - 5] ^= 1; /* inside the last record's payload */
	spill(man, m, n);
	CHECK(topen(&id, &v, err) == -ESTALE);
	CHECK(topen(NULL, &v, err) == -EBADMSG);
	/* Trusted with its new identity (the caller's contract broken on
	 * purpose): the chain is skipped, but the bytes are still parsed with
	 * every structural check. A flipped payload byte of a chunk hash is
	 * accepted (the contract is the caller's) ... */
	CHECK(idof(man, &id2) == 0);
	CHECK(topen(&id2, &v, err) == 0);
	if (v != NULL)
		ward_vol_close(v, NULL);
	/* ... an impossible record length is not (no out-of-bounds read: the
	 * open fails with -ESTALE and the caller runs the full check) ... */
	memcpy(m, orig, n);
	m[WVOL_HDR_LEN + 4] = 0xff;
	m[WVOL_HDR_LEN + 5] = 0xff;
	spill(man, m, n);
	CHECK(idof(man, &id2) == 0);
	CHECK(topen(&id2, &v, err) == -ESTALE);
	/* ... nor a path that is not in normal form, nor a truncated file. */
	memcpy(m, orig, n);
	m[WVOL_HDR_LEN + WVOL_REC_HDR + 2] = '/';
	spill(man, m, n);
	CHECK(idof(man, &id2) == 0);
	CHECK(topen(&id2, &v, err) == -ESTALE);
	spill(man, orig, n - 7);
	CHECK(idof(man, &id2) == 0);
	CHECK(topen(&id2, &v, err) == -ESTALE);
	spill(man, orig, n);
	CHECK(idof(man, &id2) == 0);
	CHECK(topen(&id2, &v, err) == 0);

	/* verify_fd refuses a modified, extended or truncated file. */
	if (v != NULL) {
		big[4096 + 7] ^= 1;
		put("d/big", big, sizeof(big));
		CHECK(verify_path(v, "d/big", err) == -EIO && strstr(err, "chunk 1") != NULL);
		big[4096 + 7] ^= 1;
		put("d/big", big, sizeof(big) - 1);
		CHECK(verify_path(v, "d/big", err) == -EIO && strstr(err, "truncated") != NULL);
		put("small", "hello!", 6);
		CHECK(verify_path(v, "small", err) == -EIO && strstr(err, "extended") != NULL);
		CHECK(verify_path(v, "missing", err) == -ENOENT);
		ward_vol_close(v, NULL);
	}
	free(m);
	free(orig);

	snprintf(p, sizeof(p), "rm -rf %s", tmpl);
	CHECK(system(p) == 0);
	return TEST_DONE();
}
