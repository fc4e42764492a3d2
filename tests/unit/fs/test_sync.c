/* test_sync.c: what an fsync of a volume file syncs (src/fs/file.c,
 * sync_data): the chunk stores written since their last fdatasync and the
 * manifest, and not a store nothing was written to; and the alt
 * directory, by fsync, when a slot-1 store was just made in it (no program
 * knows that directory to sync it). fdatasync and fsync are replaced here
 * (the library is linked statically into this test) by ones that record
 * which file each call was for, then do the real sync. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/volume.h"
#include "test.h"

static char synced[16][512];
static int nsynced, alt_dir_fsyncs;

static void record(int fd, char target[512])
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, 511);
	target[n > 0 ? n : 0] = 0;
}

int fdatasync(int fd)
{
	char target[512];
	record(fd, target);
	if (nsynced < 16)
		snprintf(synced[nsynced++], sizeof(synced[0]), "%s", target);
	return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
	char target[512];
	size_t n;
	record(fd, target);
	n = strlen(target);
	alt_dir_fsyncs += n >= 17 && strcmp(target + n - 17, "/.ward-volume/alt") == 0;
	return (int)syscall(SYS_fsync, fd);
}

/* how many recorded syncs were of a file whose path contains s */
static int count(const char *s)
{
	int c = 0;
	for (int i = 0; i < nsynced; i++)
		c += strstr(synced[i], s) != NULL;
	return c;
}

int main(void)
{
	char err[WARD_VOL_ERR_LEN], tmpl[] = "/tmp/ward-sync-test.XXXXXX", dir[256];
	uint8_t key[32], buf[8192];
	ward_vol *v = NULL;
	ward_vfile *f = NULL;

	memset(key, 5, sizeof(key));
	memset(buf, 'a', sizeof(buf));
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s/v.vol", tmpl);
	struct ward_vol_opts o = { .kind = WARD_VOL_ENCRYPTED, .key = key, .flags = WARD_VOL_RDWR | WARD_VOL_CREATE };
	CHECK(ward_vol_open(dir, &o, &v, err) == 0);
	if (v == NULL)
		return TEST_DONE();
	CHECK(ward_vf_open(v, "db", O_RDWR | O_CREAT, 0600, &f, err) == 0);
	if (f == NULL)
		return TEST_DONE();

	/* new data goes to slot 0: it and the manifest are synced */
	nsynced = 0;
	CHECK(ward_vf_pwrite(f, buf, sizeof(buf), 0, err) == (ssize_t)sizeof(buf));
	CHECK(ward_vf_sync(f, err) == 0);
	CHECK(count("/v.vol/db") == 1 && count("/.ward-volume/manifest") == 1 && count("/alt/") == 0);

	CHECK(alt_dir_fsyncs == 0);

	/* a committed chunk rewritten goes to slot 1: slot 0 was not written
	 * since its sync, so only slot 1 and the manifest are synced, and the
	 * alt directory that now names the new slot-1 store */
	nsynced = 0;
	CHECK(ward_vf_pwrite(f, buf, 100, 0, err) == 100);
	CHECK(ward_vf_sync(f, err) == 0);
	CHECK(count("/alt/") == 1 && count("/.ward-volume/manifest") == 1 && count("/v.vol/db") == 0);
	CHECK(alt_dir_fsyncs == 1);

	/* nothing written: nothing to sync */
	nsynced = 0;
	alt_dir_fsyncs = 0;
	CHECK(ward_vf_sync(f, err) == 0);
	CHECK(nsynced == 0 && alt_dir_fsyncs == 0);

	/* a file opened again: what an earlier opener wrote may not be durable,
	 * so the first fsync syncs both stores */
	CHECK(ward_vf_close(f, err) == 0);
	f = NULL;
	CHECK(ward_vf_open(v, "db", O_RDWR, 0, &f, err) == 0);
	nsynced = 0;
	CHECK(f != NULL && ward_vf_pwrite(f, buf, 10, 4096, err) == 10);
	CHECK(ward_vf_sync(f, err) == 0);
	CHECK(count("/alt/") == 1 && count("/v.vol/db") == 1 && count("/.ward-volume/manifest") == 1);

	CHECK(ward_vf_close(f, err) == 0);
	CHECK(ward_vol_close(v, err) == 0);

	/* a writable volume that was only read: syncing it (as closing it
	 * does) flushes nothing; once a record was appended, the manifest is
	 * synced, and then not again */
	v = NULL;
	o.flags = WARD_VOL_RDWR;
	CHECK(ward_vol_open(dir, &o, &v, err) == 0);
	if (v == NULL)
		return TEST_DONE();
	f = NULL;
	CHECK(ward_vf_open(v, "db", O_RDONLY, 0, &f, err) == 0);
	CHECK(f != NULL && ward_vf_pread(f, buf, 100, 0, err) == 100);
	CHECK(f != NULL && ward_vf_close(f, err) == 0);
	nsynced = 0;
	CHECK(ward_vol_sync(v, err) == 0);
	CHECK(nsynced == 0);
	f = NULL;
	CHECK(ward_vf_open(v, "new", O_WRONLY | O_CREAT, 0600, &f, err) == 0);
	CHECK(f != NULL && ward_vf_pwrite(f, buf, 10, 0, err) == 10);
	CHECK(f != NULL && ward_vf_close(f, err) == 0);
	nsynced = 0;
	CHECK(ward_vol_sync(v, err) == 0);
	CHECK(count("/.ward-volume/manifest") == 1);
	nsynced = 0;
	CHECK(ward_vol_sync(v, err) == 0);
	CHECK(nsynced == 0);
	/* nor does closing it (the runtime's exit path) */
	CHECK(ward_vol_close(v, err) == 0);
	CHECK(nsynced == 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
