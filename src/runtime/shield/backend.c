/*
 * backend.c: regions over the volume library (src/fs/volume.h).
 *
 * encrypted: the key comes from the key file named by `ward run --volume`
 * (local development); it is read here, handed to the volume library and
 * wiped. authenticated: opened read-only against its manifest. ephemeral: a
 * fresh encrypted volume under a random key that exists only in this
 * process; the directory is removed at exit.
 *
 * Verification failures are logged here, once per failing call, as one line
 * naming the file, the chunk and the reason; the program gets EIO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/log.h"
#include "fs/volume.h"
#include "runtime/crypto_load.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

unsigned shield_integrity_failures;

/* The fix for a changed engine image names the running interpreter: the
 * image is per interpreter, and a bare --rebuild rebuilds the default one. */
static const char *engine_fix(void)
{
	static char fix[PATH_MAX + 160];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(fix, sizeof(fix),
		 " (if the interpreter's packages were updated on purpose, rebuild the engine image: 'ward engine-image --rebuild%s%s')",
		 n > 0 ? " " : "", exe);
	return fix;
}

static void report(struct shield_region *r, const char *rel, const char *what, int rc, const char *err)
{
	const char *detail = err;
	/* The library's line starts with the file's name, which ours names already. */
	if (detail[0] == '\'') {
		const char *q = strchr(detail + 1, '\'');
		if (q != NULL && (q[1] == ' ' || q[1] == ':'))
			detail = q[1] == ':' ? q + 2 + (q[2] == ' ') : q + 2;
	}
	if (rc == -EIO || rc == -EBADMSG) {
		/* Programs retry failed reads; one line per file and reason is enough. */
		static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
		static char last[PATH_MAX + 256];
		char key[PATH_MAX + 256];
		int repeat;
		__atomic_add_fetch(&shield_integrity_failures, 1, __ATOMIC_SEQ_CST);
		snprintf(key, sizeof(key), "%s/%s %s", r->root, rel, detail);
		pthread_mutex_lock(&last_lock);
		repeat = strcmp(key, last) == 0;
		memcpy(last, key, sizeof(last));
		pthread_mutex_unlock(&last_lock);
		if (!repeat)
			ward_error("cannot %s %s/%s: %s; the %s region %s was changed outside the enclave%s", what, r->root, rel,
				   detail[0] ? detail : strerror(-rc), shield_kind_name(r->kind), r->root,
				   r->engine ? engine_fix()
				   : r->kind == SHIELD_AUTHENTICATED
					   ? " (if it was updated on purpose, rebuild its manifest with 'ward fs authenticate')"
					   : "");
	}
	else if (err[0] && rc != -ENOENT && rc != -EEXIST && rc != -EISDIR && rc != -ENOTDIR && rc != -ENOTEMPTY &&
		 rc != -EROFS && rc != -EBADF)
		ward_debug("%s %s/%s: %s", what, r->root, rel, err);
}

/* A directory that may become an ephemeral volume: missing, empty, or the
 * leftover ephemeral volume of an earlier run (its key is gone; it is
 * removed). An ephemeral volume is marked by EPHEMERAL_MARK in its meta
 * directory, written right after it is created: any other volume found
 * there (a persistent one given by mistake) is refused, never removed. */
#define EPHEMERAL_MARK WARD_VOL_META_DIR "/ephemeral"

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

/* rm_entry for everything below the top directory */
static int rm_below(const char *p, const struct stat *st, int type, struct FTW *f)
{
	return f->level == 0 ? 0 : rm_entry(p, st, type, f);
}

static int ephemeral_prepare(const char *dir, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;
	int nonempty = 0, leftover = 0;
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create the ephemeral directory %s: %s", dir, strerror(errno));
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "cannot open the ephemeral directory %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		nonempty = 1;
		if (strcmp(e->d_name, WARD_VOL_META_DIR) == 0)
			leftover = 1;
	}
	closedir(d);
	if (!nonempty)
		return 0;
	if (!leftover) {
		snprintf(err, errlen,
			 "the ephemeral directory %s is not empty and is not a Ward volume; give an empty or new directory (its contents would be lost)",
			 dir);
		return -1;
	}
	char mark[PATH_MAX + 32];
	struct stat st;
	snprintf(mark, sizeof(mark), "%s/" EPHEMERAL_MARK, dir);
	if (lstat(mark, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "the ephemeral directory %s holds a Ward volume that is not an ephemeral one (it would be destroyed); give an empty or new directory, or open that volume with --volume DIR:KEYFILE",
			 dir);
		return -1;
	}
	/* a run still using it holds the volume's lock: never remove a live region */
	char lock[PATH_MAX + 32];
	snprintf(lock, sizeof(lock), "%s/" WARD_VOL_META_DIR "/lock", dir);
	int lfd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(lfd);
		if (e == EWOULDBLOCK)
			snprintf(err, errlen,
				 "the ephemeral directory %s is in use by another running program; give a different directory",
				 dir);
		else
			snprintf(err, errlen, "cannot lock the ephemeral directory %s: %s", dir, strerror(e));
		return -1;
	}
	ward_info("removing the ephemeral volume %s left by an earlier run (its key is gone)", dir);
	int rc = 0;
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 || mkdir(dir, 0700) != 0) {
		snprintf(err, errlen, "cannot clear the ephemeral directory %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* Marks the volume just created in dir as ephemeral (0 or -errno). */
static int ephemeral_mark(const char *dir)
{
	static const char text[] = "an ephemeral volume: its key existed for one run only; ward removes it\n";
	char mark[PATH_MAX + 32];
	int fd, rc = 0;
	snprintf(mark, sizeof(mark), "%s/" EPHEMERAL_MARK, dir);
	fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1))
		rc = errno ? -errno : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The fix for a region that cannot be opened, from the library's reason. */
static const char *open_fix(enum shield_kind kind, const char *verr)
{
	if (strstr(verr, "is not a volume") != NULL)
		return kind == SHIELD_ENCRYPTED ? "; make it with 'ward fs encrypt SRC_DIR VOL --key-file KEYFILE'"
						: "; make its manifest with 'ward fs authenticate DIR -o MANIFEST' and give "
						  "--authenticated DIR:MANIFEST";
	if (strstr(verr, "belongs to an encrypted volume") != NULL)
		return "; give the manifest that 'ward fs authenticate DIR -o MANIFEST' wrote for this directory";
	if (strstr(verr, "is an encrypted volume") != NULL)
		return "; open it with --volume DIR:KEYFILE";
	if (strstr(verr, "is an authenticated volume") != NULL)
		return "; open it with --authenticated DIR[:MANIFEST]";
	if (strstr(verr, "failed authentication") != NULL && kind == SHIELD_AUTHENTICATED)
		return "; the manifest was changed, or belongs to another tree: rebuild it with 'ward fs authenticate'";
	return "";
}

int shield_region_open_backend(struct shield_region *r, char *err, size_t errlen)
{
	uint8_t key[WARD_VOL_KEY_LEN];
	char verr[WARD_VOL_ERR_LEN] = "";
	struct ward_vol_opts o;
	int rc, created = 0, keyed = 0;
	ward_vol *v = NULL;

	memset(&o, 0, sizeof(o));
	shield_inside++;
	/* Every volume needs OpenSSL, except an engine region that may start
	 * warm (engine_cache.c): it loads OpenSSL itself when it must. */
	if (!(r->kind == SHIELD_AUTHENTICATED && r->engine) && (rc = ward_rt_crypto_load(0, err, errlen)) != 0) {
		shield_inside--;
		return -1;
	}
	keyed = r->kind == SHIELD_ENCRYPTED || r->kind == SHIELD_EPHEMERAL;
	switch (r->kind) {
	case SHIELD_ENCRYPTED:
		if (r->has_key) {
			struct stat st;
			char meta[PATH_MAX + 16];
			memcpy(key, r->key, sizeof(key));
			snprintf(meta, sizeof(meta), "%s/" WARD_VOL_META_DIR, r->root);
			rc = 0;
			if (r->create && stat(meta, &st) != 0)
				o.flags |= WARD_VOL_CREATE;
		} else
			rc = ward_vol_key_load(r->arg, 0, key, &created, verr);
		if (rc != 0) {
			snprintf(err, errlen, "cannot load the key for volume %s from %s: %s", r->root, r->arg,
				 verr[0] ? verr : strerror(-rc));
			goto out;
		}
		o.kind = WARD_VOL_ENCRYPTED;
		o.key = key;
		if (!r->readonly)
			o.flags |= WARD_VOL_RDWR;
		rc = ward_vol_open(r->root, &o, &v, verr);
		ward_wipe(key, sizeof(key));
		if (rc == -EKEYREJECTED)
			snprintf(err, errlen, "cannot open volume %s: wrong key: %s%s%s is not its key (key check does not match); %s",
				 r->root, r->has_key ? "the key from the CAS" : "'", r->has_key ? "" : r->arg,
				 r->has_key ? "" : "'",
				 r->has_key ? "give the CAS the key the volume was created with"
					    : "use the volume's current key file (the one it was created "
					      "with, or the one the last 'ward fs rekey' wrote)");
		else if (rc == -EBUSY && r->readonly)
			snprintf(err, errlen,
				 "cannot open volume %s read-only: another process has it open for writing; stop it first "
				 "(runs that only read can share a volume: %s)",
				 r->root, r->has_key ? "read_only: true for it in each of their policies"
						     : "give each of them --volume DIR:KEYFILE:ro");
		else if (rc == -EBUSY)
			snprintf(err, errlen,
				 "cannot open volume %s: another process has it open for writing; stop it first (runs that "
				 "only read can share a volume: %s)",
				 r->root, r->has_key ? "read_only: true in their policies" : "--volume DIR:KEYFILE:ro");
		else if (rc == -EAGAIN)
			snprintf(err, errlen,
				 "cannot open volume %s for writing: other processes have it open read-only; run this when "
				 "they have finished, or give this run read-only access too (%s)",
				 r->root, r->has_key ? "read_only: true in its policy" : "--volume DIR:KEYFILE:ro");
		else if (rc != 0)
			snprintf(err, errlen, "cannot open volume %s: %s%s", r->root, verr[0] ? verr : strerror(-rc),
				 open_fix(SHIELD_ENCRYPTED, verr));
		else if (!r->readonly && !ward_vol_writable(v)) {
			/* the library's fallback when the volume's metadata cannot
			 * be written: say so once, not at every EROFS */
			struct statvfs sv;
			if (statvfs(r->root, &sv) == 0 && (sv.f_flag & ST_RDONLY))
				ward_warn("volume %s is open read-only: it is on a read-only file system; writes in it fail "
					  "with EROFS (give :ro to open it read-only on purpose)",
					  r->root);
			else
				ward_warn("volume %s is open read-only: this user (uid %u) cannot write its metadata; writes "
					  "in it fail with EROFS (run as the volume's owner, or give :ro to open it "
					  "read-only on purpose)",
					  r->root, (unsigned)geteuid());
		}
		break;
	case SHIELD_AUTHENTICATED:
		if (r->engine) {
			rc = shield_ec_open_volume(r, &v, verr, err, errlen);
			if (rc == -ENOPKG)
				goto out; /* err says why OpenSSL could not be loaded */
		} else {
			o.kind = WARD_VOL_AUTHENTICATED;
			o.manifest = r->arg[0] ? r->arg : NULL;
			o.flags = WARD_VOL_RDONLY;
			rc = ward_vol_open(r->root, &o, &v, verr);
		}
		if (rc != 0)
			snprintf(err, errlen, "cannot open the authenticated region %s%s%s: %s%s", r->root,
				 r->arg[0] ? " with manifest " : "", r->arg, verr[0] ? verr : strerror(-rc),
				 r->engine ? "" : open_fix(SHIELD_AUTHENTICATED, verr));
		break;
	case SHIELD_EPHEMERAL:
		rc = ephemeral_prepare(r->root, err, errlen);
		if (rc != 0)
			goto out;
		if (ward_random(key, sizeof(key)) != 0) {
			snprintf(err, errlen, "cannot draw a key for the ephemeral region %s", r->root);
			rc = -EIO;
			goto out;
		}
		o.kind = WARD_VOL_ENCRYPTED;
		o.key = key;
		o.flags = WARD_VOL_RDWR | WARD_VOL_CREATE;
		rc = ward_vol_open(r->root, &o, &v, verr);
		ward_wipe(key, sizeof(key));
		if (rc != 0) {
			snprintf(err, errlen, "cannot create the ephemeral region %s: %s", r->root,
				 verr[0] ? verr : strerror(-rc));
			break;
		}
		if ((rc = ephemeral_mark(r->root)) != 0) {
			snprintf(err, errlen, "cannot create the ephemeral region %s: cannot mark it as ephemeral: %s",
				 r->root, strerror(-rc));
			ward_vol_close(v, NULL);
			v = NULL;
		}
		break;
	default:
		rc = 0;
	}
out:
	shield_inside--;
	if (keyed) /* OpenSSL is loaded: no call into it otherwise */
		ward_wipe(key, sizeof(key));
	if (rc != 0)
		return -1;
	r->vol = v;
	return 0;
}

void shield_region_close_backend(struct shield_region *r)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc;
	if (r->vol == NULL)
		return;
	ward_vol *v = r->vol;
	__atomic_store_n(&r->vol, NULL, __ATOMIC_SEQ_CST); /* later calls fail with EIO, not on freed memory */
	shield_inside++;
	rc = ward_vol_close(v, verr);
	if (rc != 0 && r->kind != SHIELD_EPHEMERAL)
		ward_error("closing volume %s at exit: %s; data written since the last close or fsync may be lost",
			   r->root, verr[0] ? verr : strerror(-rc));
	shield_ec_close(r);
	if (r->kind == SHIELD_EPHEMERAL) {
		/* the contents, then the directory itself; with --deny-outside,
		 * Landlock lets nothing inside remove an entry of the parent, so
		 * an empty directory stays (the next run takes it as it is) */
		if (nftw(r->root, rm_below, 16, FTW_DEPTH | FTW_PHYS) != 0)
			ward_warn("cannot remove the ephemeral region %s at exit: %s (its key is gone: the files are unreadable)",
				  r->root, strerror(errno));
		else if (rmdir(r->root) != 0 && !((errno == EACCES || errno == EPERM) && ward_shield_deny_outside()))
			ward_warn("cannot remove the empty ephemeral directory %s at exit: %s", r->root, strerror(errno));
	}
	shield_inside--;
}

#define VCALL(expr)                  \
	({                           \
		__typeof__(expr) rc_; \
		shield_inside++;     \
		rc_ = (expr);        \
		shield_inside--;     \
		rc_;                 \
	})

/* A file or directory on disk that an authenticated region's manifest does
 * not hold was added after the manifest was built (a package installed
 * since the engine image was made, typically). The program gets ENOENT, as
 * for anything else the region does not hold, and one warning per
 * directory names the first such entry and the fix. Compiled caches
 * (__pycache__) are left out: without them Python compiles from source,
 * which only costs time. At most UNLISTED_MAX directories are reported. */
#define UNLISTED_MAX 16
static void note_unlisted(struct shield_region *r, const char *rel)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char *seen[UNLISTED_MAX]; /* the directories reported (absolute) */
	static unsigned nseen;
	char abs[PATH_MAX];
	struct stat st;
	int dup = 0;

	if (r->kind != SHIELD_AUTHENTICATED || rel[0] == 0 || strstr(rel, "__pycache__") != NULL ||
	    shield_reserved_name(rel) || __atomic_load_n(&nseen, __ATOMIC_RELAXED) >= UNLISTED_MAX)
		return;
	if (snprintf(abs, sizeof(abs), "%s/%s", r->root, rel) >= (int)sizeof(abs) || REAL(lstat64)(abs, &st) != 0)
		return;
	size_t dl = (size_t)(strrchr(abs, '/') - abs);
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < nseen && !dup; i++)
		dup = strlen(seen[i]) == dl && memcmp(seen[i], abs, dl) == 0;
	if (!dup && (nseen >= UNLISTED_MAX || (seen[nseen] = strndup(abs, dl)) == NULL))
		dup = 1; /* full, or out of memory: say nothing rather than repeat */
	else if (!dup)
		__atomic_store_n(&nseen, nseen + 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&mu);
	if (dup)
		return;
	if (r->engine)
		ward_warn("%s is not in the engine image (added after the image was built), so the program cannot see it%s",
			  abs, engine_fix());
	else
		ward_warn("%s is not in the manifest of the authenticated region %s (added after the manifest was built), "
			  "so the program cannot see it (if it was added on purpose, rebuild the manifest with 'ward fs "
			  "authenticate')",
			  abs, r->root);
}

/* What the kernel says for a path that does not resolve: -ENOTDIR when a
 * component before the last is not a directory ("file/x"), else -ENOENT.
 * Only on the error path. */
static int enoent_or_notdir(struct shield_region *r, const char *rel)
{
	char p[PATH_MAX], verr[WARD_VOL_ERR_LEN];
	struct ward_vstat st;
	size_t n = strlen(rel);
	if (n >= sizeof(p) || r->vol == NULL)
		return -ENOENT;
	memcpy(p, rel, n + 1);
	for (char *s = p; (s = strchr(s, '/')) != NULL; *s++ = '/') {
		*s = 0;
		if (VCALL(ward_vol_stat(r->vol, p, &st, verr)) != 0)
			return -ENOENT;
		if (!S_ISDIR(st.mode))
			return -ENOTDIR;
	}
	note_unlisted(r, rel);
	return -ENOENT;
}

int shield_be_open(struct shield_node *n, int flags, mode_t mode)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	ward_vfile *f = NULL;
	int rc;
	if (ward_rt_crypto_load(0, verr, sizeof(verr)) != 0) { /* reads check chunks */
		ward_error("cannot open %s/%s: %s", n->region->root, n->rel, verr);
		return -EIO;
	}
	rc = VCALL(ward_vf_open(n->region->vol, n->rel, flags & (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC),
				   (unsigned)mode, &f, verr));
	if (rc == -ENOENT)
		return enoent_or_notdir(n->region, n->rel);
	if (rc != 0) {
		report(n->region, n->rel, "open", rc, verr);
		return rc;
	}
	n->handle = f;
	n->writable = (flags & O_ACCMODE) != O_RDONLY;
	return 0;
}

ssize_t shield_vol_pread(struct shield_node *n, void *buf, size_t len, uint64_t off)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	char verr[WARD_VOL_ERR_LEN] = "";
	ssize_t r = VCALL(ward_vf_pread(n->handle, buf, len, off, verr));
	if (r < 0)
		report(n->region, n->rel, "read", (int)r, verr);
	return r;
}

ssize_t shield_vol_pwrite(struct shield_node *n, const void *buf, size_t len, uint64_t off)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	char verr[WARD_VOL_ERR_LEN] = "";
	ssize_t r = VCALL(ward_vf_pwrite(n->handle, buf, len, off, verr));
	if (r < 0)
		report(n->region, n->rel, "write", (int)r, verr);
	return r;
}

ssize_t shield_vol_append(struct shield_node *n, const void *buf, size_t len, uint64_t *end)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	char verr[WARD_VOL_ERR_LEN] = "";
	ssize_t r = VCALL(ward_vf_append(n->handle, buf, len, end, verr));
	if (r < 0)
		report(n->region, n->rel, "write", (int)r, verr);
	return r;
}

int shield_vol_size(struct shield_node *n, uint64_t *size)
{
	if (n->region->vol == NULL || n->handle == NULL) {
		*size = 0;
		return -EIO;
	}
	*size = VCALL(ward_vf_size(n->handle));
	return 0;
}

int shield_be_fstat(struct shield_node *n, struct ward_vstat *st)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	return VCALL(ward_vf_stat(n->handle, st));
}

int shield_vol_truncate(struct shield_node *n, uint64_t size)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vf_truncate(n->handle, size, verr));
	if (rc < 0)
		report(n->region, n->rel, "truncate", rc, verr);
	return rc;
}

int shield_vol_sync(struct shield_node *n)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return -EIO; /* the volumes were closed at exit */
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vf_sync(n->handle, verr));
	if (rc < 0)
		report(n->region, n->rel, "sync", rc, verr);
	else
		shield_committed(n->region, 1);
	return rc;
}

int shield_vol_commit(struct shield_node *n)
{
	if (n->region->vol == NULL || n->handle == NULL)
		return 0; /* closed at exit meanwhile */
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vf_commit(n->handle, verr));
	if (rc < 0)
		report(n->region, n->rel, "commit", rc, verr);
	return rc;
}

int shield_be_close(struct shield_node *n)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc;
	if (n->handle == NULL || n->region->vol == NULL)
		return 0;
	rc = VCALL(ward_vf_close(n->handle, verr));
	n->handle = NULL;
	if (rc < 0)
		ward_error("cannot commit %s/%s at close: %s", n->region->root, n->rel, verr[0] ? verr : strerror(-rc));
	else if (n->writable)
		shield_committed(n->region, 0);
	return rc < 0 ? rc : 0;
}

void ward_shield_helpers_retire(void)
{
	ward_vol_helper_retire();
}

int shield_be_writable(struct shield_region *r)
{
	ward_vol *v = __atomic_load_n(&r->vol, __ATOMIC_ACQUIRE);
	return v != NULL && ward_vol_writable(v);
}

int shield_be_stat(struct shield_region *r, const char *rel, struct ward_vstat *st)
{
	if (r->vol == NULL)
		return -EIO;
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_stat(r->vol, rel, st, verr));
	if (rc == -ENOENT)
		return enoent_or_notdir(r, rel);
	if (rc < 0)
		report(r, rel, "stat", rc, verr);
	return rc;
}

uint64_t shield_be_links(struct shield_region *r)
{
	ward_vol *v = __atomic_load_n(&r->vol, __ATOMIC_ACQUIRE);
	if (v == NULL || (r->kind != SHIELD_ENCRYPTED && r->kind != SHIELD_EPHEMERAL))
		return 0;
	return VCALL(ward_vol_links(v));
}

ssize_t shield_be_link_target(struct shield_region *r, const char *rel, char *buf, size_t len)
{
	struct ward_vstat st;
	char verr[WARD_VOL_ERR_LEN] = "";
	ssize_t n;
	if (r->vol == NULL)
		return -EIO;
	if (VCALL(ward_vol_stat(r->vol, rel, &st, verr)) != 0 || !S_ISLNK(st.mode))
		return 0;
	n = VCALL(ward_vol_readlink(r->vol, rel, buf, len, verr));
	if (n < 0)
		report(r, rel, "follow the link", (int)n, verr);
	else if ((size_t)n > len)
		return -ENAMETOOLONG;
	return n;
}

ssize_t shield_be_readlink(struct shield_region *r, const char *rel, char *buf, size_t len)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	if (r->vol == NULL)
		return -EIO;
	ssize_t n = VCALL(ward_vol_readlink(r->vol, rel, buf, len, verr));
	if (n < 0)
		report(r, rel, "read the link", (int)n, verr);
	return n;
}

int shield_be_symlink(struct shield_region *r, const char *target, const char *rel)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_symlink(r->vol, rel, target, verr));
	if (rc < 0)
		report(r, rel, "create the link", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_link(struct shield_region *r, const char *from, const char *to)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_link(r->vol, from, to, verr));
	if (rc == -ENOENT)
		return enoent_or_notdir(r, from);
	if (rc < 0)
		report(r, to, "link", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_unlink(struct shield_region *r, const char *rel)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_unlink(r->vol, rel, verr));
	if (rc == -ENOENT)
		return enoent_or_notdir(r, rel);
	if (rc < 0)
		report(r, rel, "remove", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_rename(struct shield_region *r, const char *from, const char *to)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_rename(r->vol, from, to, verr));
	if (rc < 0)
		report(r, from, "rename", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_mkdir(struct shield_region *r, const char *rel, mode_t mode)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_mkdir(r->vol, rel, (unsigned)mode, verr));
	if (rc < 0)
		report(r, rel, "create directory", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_rmdir(struct shield_region *r, const char *rel)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_rmdir(r->vol, rel, verr));
	if (rc < 0)
		report(r, rel, "remove directory", rc, verr);
	else
		shield_committed(r, 0);
	return rc;
}

int shield_be_setattr(struct shield_region *r, const char *rel, int mode, int64_t mtime_ns)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_setattr(r->vol, rel, mode, mtime_ns, verr));
	if (rc == 0)
		shield_committed(r, 0);
	return rc;
}

int shield_be_readdir(struct shield_region *r, const char *rel, struct ward_vdirent **out, size_t *n)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	int rc = VCALL(ward_vol_readdir(r->vol, rel, out, n, verr));
	if (rc < 0)
		report(r, rel, "list", rc, verr);
	return rc;
}

int shield_be_missing(struct shield_region *r, const char *rel, char *name, size_t namelen)
{
	char verr[WARD_VOL_ERR_LEN] = "";
	return VCALL(ward_vol_missing(r->vol, rel, name, namelen, verr));
}

void shield_report_missing(struct shield_region *r, const char *rel)
{
	report(r, rel, "list", -EIO, "file missing on disk (deleted or renamed outside the enclave)");
}

static void (*commit_hook)(struct shield_region *r, int durable);

void shield_set_commit_hook(void (*fn)(struct shield_region *r, int durable))
{
	__atomic_store_n(&commit_hook, fn, __ATOMIC_RELEASE);
}

void shield_committed(struct shield_region *r, int durable)
{
	void (*fn)(struct shield_region *, int) = __atomic_load_n(&commit_hook, __ATOMIC_ACQUIRE);
	if (fn != NULL && r->kind == SHIELD_ENCRYPTED)
		fn(r, durable);
}

int shield_region_tag(struct shield_region *r, uint8_t tag[32])
{
	int rc;
	char err[256];
	if (r->vol == NULL)
		return -EBADF;
	if (ward_rt_crypto_load(0, err, sizeof(err)) != 0)
		return -ENOPKG;
	rc = VCALL(ward_vol_tag(r->vol, tag)); /* the volume library is thread-safe */
	return rc;
}
