/*
 * engine_cache.c: the warm start of the engine image, in simulation mode only.
 *
 * The engine image's regions (kind "engine": authenticated regions over the
 * interpreter's own trees, whose manifests the enclave hash covers) cost
 * start-up time: loading OpenSSL, the SHA-256 chain over the manifests, the
 * per-chunk checks of every file read, and a sealed copy of every library
 * loaded. In simulation mode this file avoids all of that for state that was
 * checked before, with the trust argument of the measurement's hash cache
 * (docs/measurement.md): any write to a file changes its ctime, which no
 * unprivileged process can set, and a replacement changes its inode; the
 * cache is trusted only if the user running the enclave owns it and nobody
 * else can write it; that user and root are trusted in simulation mode.
 * On hardware (or with WARD_ENGINE_CACHE=0) nothing here is used: every
 * check runs.
 *
 * One cache file per manifest, named by the manifest's SHA-256 (the value in
 * the enclave hash): $XDG_CACHE_HOME/ward/engine/<sha256>, lines
 *   M dev ino size mtime_ns ctime_ns
 *       the manifest file with this identity passed the full check
 *   F dev ino size mtime_ns ctime_ns pathlen relpath
 *       the file relpath of the region, with this identity, matched the
 *       manifest in full (every chunk, its size, mode and mtime)
 * appended with one O_APPEND write per line (concurrent runs interleave whole
 * lines); malformed lines are ignored, the last line for a path wins, and
 * nothing is appended once the file holds EC_MAX_BYTES.
 *
 * Compaction: a line is stale when a later line for the same path replaced
 * it (the file was replaced or written, and checked again), when it is an M
 * line for another identity of the manifest (a copy with the same bytes),
 * or when it is malformed or torn. When the file is read at the start and
 * at least a third of its lines are stale (half as many as the live ones:
 * the last F line of each path, the M line of the measured manifest), it is
 * rewritten from the live lines alone: a new file (same directory, mode
 * 0600) renamed over the old one. So it holds at most one and a half lines
 * per file known, plus what one run appends, instead of growing to
 * EC_MAX_BYTES, and each rewrite is paid for by at least half as many
 * lines appended since the last one. A run still
 * appending to the old file while another renames the new one over it loses
 * those lines: their files are checked again the next time. Cache files of
 * other images unused for 30 days are removed when a new one is created
 * (prune_old).
 *
 * - Manifest: when the measured identity of the manifest (the file whose
 *   SHA-256 is in the enclave hash) has an M line, the volume is opened with
 *   that identity as trusted (volume.h, "Trusted manifests": the chain is
 *   skipped, the structural checks are not, and the library re-checks the
 *   identity of the file it reads). Otherwise it is opened with the full
 *   check, and an M line is added when the file read is the measured one.
 * - Files: when the program opens a file of the region, the file itself is
 *   opened and fstat'ed (the descriptor the program will use: no race
 *   between check and use on the path). If its identity is the one of the
 *   path's F line, its size, mode and mtime are the manifest's, and only
 *   its owner (root or this user) can write it, the program gets that
 *   descriptor as it is: reads, mmap and fstat go to the kernel. Otherwise
 *   the descriptor is checked in full against the manifest now (files of
 *   an engine tree are code, not large data: up to EC_VERIFY_MAX); when it
 *   matches and its identity did not change meanwhile, an F line is added
 *   and the program gets that descriptor as for a hit (every byte was
 *   checked before the program can read one, and the file is not checked
 *   a second time by every read). When it does not match, the open goes
 *   the usual way (every read checked, failures reported as without this
 *   cache).
 * - Libraries (dlopen): a library whose file hits is loaded from that
 *   descriptor (/proc/self/fd/N) instead of a sealed memfd copy.
 */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"
#include "runtime/measure.h"
#include "runtime/runtime.h"
#include "runtime/shield/real.h"
#include "runtime/crypto_load.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

#define EC_MAX_BYTES ((size_t)8 << 20)	  /* cache file: read and appended up to this */
#define EC_VERIFY_MAX ((uint64_t)512 << 20) /* files checked in full at open */

struct ec_ent {
	char *path; /* NULL: free slot */
	struct ward_file_id id;
};

struct shield_ec {
	int fd;		     /* the cache file (O_APPEND; -1 without one) */
	int writable;	     /* appends allowed (bound not reached) */
	uint64_t bytes;	     /* its size as far as this process knows */
	struct ward_file_id mid; /* the measured manifest's identity */
	int have_m;	     /* an M line for mid */
	pthread_mutex_t mu;  /* tab */
	struct ec_ent *tab;
	size_t cap, n;
	uint64_t lines;	     /* lines read (complete or not, malformed too) */
};

static int enabled = -1;

/* Simulation mode only, and not turned off: decided at the shield's start,
 * before the program can touch the environment. */
int shield_ec_enabled(void)
{
	if (enabled < 0) {
		const char *e = getenv("WARD_ENGINE_CACHE");
		enabled = ward_rt_mode_used == WARD_MODE_SIM && !(e != NULL && strcmp(e, "0") == 0);
	}
	return enabled;
}

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* ec->mu held (or single-threaded at start). Replaces the path's entry. */
static void tab_put(struct shield_ec *ec, const char *path, size_t len, const struct ward_file_id *id)
{
	if (2 * (ec->n + 1) > ec->cap) {
		size_t nc = ec->cap ? 2 * ec->cap : 1024;
		struct ec_ent *nt = calloc(nc, sizeof(*nt));
		if (nt == NULL)
			return;
		for (size_t i = 0; i < ec->cap; i++)
			if (ec->tab[i].path != NULL) {
				size_t h = hash_str(ec->tab[i].path, strlen(ec->tab[i].path)) & (nc - 1);
				while (nt[h].path != NULL)
					h = (h + 1) & (nc - 1);
				nt[h] = ec->tab[i];
			}
		free(ec->tab);
		ec->tab = nt;
		ec->cap = nc;
	}
	size_t h = hash_str(path, len) & (ec->cap - 1);
	while (ec->tab[h].path != NULL) {
		if (strlen(ec->tab[h].path) == len && memcmp(ec->tab[h].path, path, len) == 0) {
			ec->tab[h].id = *id;
			return;
		}
		h = (h + 1) & (ec->cap - 1);
	}
	char *p = malloc(len + 1);
	if (p == NULL)
		return;
	memcpy(p, path, len);
	p[len] = 0;
	ec->tab[h].path = p;
	ec->tab[h].id = *id;
	ec->n++;
}

/* ec->mu held. 1 when path has an entry with exactly this identity. */
static int tab_has(struct shield_ec *ec, const char *path, const struct ward_file_id *id)
{
	size_t len = strlen(path);
	if (ec->cap == 0)
		return 0;
	for (size_t h = hash_str(path, len) & (ec->cap - 1); ec->tab[h].path != NULL; h = (h + 1) & (ec->cap - 1))
		if (strcmp(ec->tab[h].path, path) == 0)
			return ward_file_id_eq(&ec->tab[h].id, id);
	return 0;
}

/* "N N N N N" at s: the five identity fields; returns the end or NULL. */
static const char *parse_id(const char *s, const char *end, struct ward_file_id *id)
{
	unsigned long long *f[5] = { &id->dev, &id->ino, &id->size, &id->mtime_ns, &id->ctime_ns };
	for (int i = 0; i < 5; i++) {
		unsigned long long x = 0;
		const char *d = s;
		if (s >= end || *s != ' ')
			return NULL;
		for (d = ++s; s < end && *s >= '0' && *s <= '9' && s - d < 19; s++) /* no overflow */
			x = x * 10 + (unsigned long long)(*s - '0');
		if (s == d)
			return NULL;
		*f[i] = x;
	}
	return s;
}

static void parse(struct shield_ec *ec, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
		struct ward_file_id id;
		ec->lines++;
		if (nl == NULL)
			break; /* an unfinished line: ignored */
		if (nl - p >= 2 && (p[0] == 'M' || p[0] == 'F') && (q = parse_id(p + 1, nl, &id)) != NULL) {
			if (p[0] == 'M' && q == nl) {
				if (ward_file_id_eq(&id, &ec->mid))
					ec->have_m = 1;
			} else if (p[0] == 'F' && q < nl && *q == ' ') {
				uint64_t pl = 0;
				const char *d = ++q;
				for (; q < nl && *q >= '0' && *q <= '9' && q - d < 5; q++)
					pl = pl * 10 + (uint64_t)(*q - '0');
				/* the length guards against two lines run together */
				if (q > d && q < nl && *q == ' ' && pl > 0 && pl < PATH_MAX && (uint64_t)(nl - q - 1) == pl &&
				    memchr(q + 1, 0, pl) == NULL)
					tab_put(ec, q + 1, pl, &id);
			}
		}
		p = nl + 1;
	}
}

/* One line, one write (O_APPEND: whole lines even with concurrent runs).
 * ec->mu held or single-threaded. */
static void append(struct shield_ec *ec, const char *line, size_t len)
{
	if (ec->fd < 0 || !ec->writable || ec->bytes + len > EC_MAX_BYTES)
		return;
	ssize_t w = REAL(write)(ec->fd, line, len);
	if (w != (ssize_t)len) {
		ec->writable = 0; /* a full disk: stop; a torn line is ignored when read */
		return;
	}
	ec->bytes += len;
}

/* The live lines (see "Compaction" above) into buf, or the bytes needed
 * when cap is too small. ec->mu held or single-threaded. */
static size_t live_lines(struct shield_ec *ec, char *buf, size_t cap)
{
	size_t len = 0;
	for (size_t i = 0; i <= ec->cap; i++) {
		const struct ward_file_id *id = i < ec->cap ? &ec->tab[i].id : &ec->mid;
		char line[64 + 5 * 21 + PATH_MAX];
		int n;
		if (i < ec->cap && ec->tab[i].path == NULL)
			continue;
		if (i == ec->cap && !ec->have_m)
			break;
		n = snprintf(line, sizeof(line), "%c %llu %llu %llu %llu %llu", i < ec->cap ? 'F' : 'M',
			     (unsigned long long)id->dev, (unsigned long long)id->ino, (unsigned long long)id->size,
			     (unsigned long long)id->mtime_ns, (unsigned long long)id->ctime_ns);
		if (n > 0 && i < ec->cap)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %zu %s", strlen(ec->tab[i].path),
				      ec->tab[i].path);
		if (n <= 0 || (size_t)n >= sizeof(line) - 1)
			continue;
		line[n++] = '\n';
		if (len + (size_t)n <= cap)
			memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
	}
	return len;
}

/* Rewrites the cache file at path from its live lines when at least a
 * third of the lines read were stale ("Compaction" above); on any failure
 * the old file stays as it is. */
static void compact(struct shield_ec *ec, const char *path)
{
	uint64_t live = ec->n + (ec->have_m ? 1 : 0);
	char tmp[PATH_MAX + 32];
	size_t len, off = 0;
	char *buf;
	int fd;

	if (ec->fd < 0 || !ec->writable || ec->lines <= live || 2 * (ec->lines - live) < live ||
	    snprintf(tmp, sizeof(tmp), "%s.%ld.new", path, (long)getpid()) >= (int)sizeof(tmp))
		return;
	len = live_lines(ec, NULL, 0);
	if ((buf = malloc(len ? len : 1)) == NULL || live_lines(ec, buf, len) != len) {
		free(buf);
		return;
	}
	(void)REAL(unlink)(tmp); /* left by a run of a process with the same id that died */
	fd = REAL(open64)(tmp, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	while (fd >= 0 && off < len) {
		ssize_t w = REAL(write)(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(buf);
	if (fd < 0 || off != len || REAL(rename)(tmp, path) != 0) {
		if (fd >= 0) {
			REAL(close)(fd);
			(void)REAL(unlink)(tmp);
		}
		return;
	}
	REAL(close)(ec->fd);
	ec->fd = fd;
	ec->bytes = len;
	ward_debug("engine image cache %s compacted: %llu of %llu lines kept", path, (unsigned long long)live,
		   (unsigned long long)ec->lines);
}

static void ec_free(struct shield_ec *ec)
{
	if (ec == NULL)
		return;
	if (ec->fd >= 0)
		REAL(close)(ec->fd);
	for (size_t i = 0; i < ec->cap; i++)
		free(ec->tab[i].path);
	free(ec->tab);
	pthread_mutex_destroy(&ec->mu);
	free(ec);
}

/* Caches of other images (an interpreter upgraded, a tree changed) are
 * never read again once their image is gone: when a new cache file is
 * created, the cache files of this directory (64 hexadecimal digits, or a
 * compaction's leftover) that were not used for EC_KEEP_DAYS are removed.
 * A cache in use has its mtime refreshed at most once a day, so only unused
 * ones age; several interpreters sharing the directory keep theirs. */
#define EC_KEEP_DAYS 30

static int cache_name(const char *n)
{
	size_t i = 0;
	while (i < 64 && ((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
		i++;
	return i == 64 && (n[64] == 0 || (n[64] == '.' && strstr(n + 65, ".new") != NULL));
}

static void prune_old(const char *dir, const char *keep)
{
	DIR *d = REAL(opendir)(dir);
	struct dirent64 *e;
	time_t now = time(NULL);
	if (d == NULL)
		return;
	while ((e = REAL(readdir64)(d)) != NULL) {
		struct stat st;
		if (!cache_name(e->d_name) || strcmp(e->d_name, keep) == 0 ||
		    REAL(fstatat64)(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid() || now - st.st_mtime < (time_t)EC_KEEP_DAYS * 86400)
			continue;
		if (REAL(unlinkat)(dirfd(d), e->d_name, 0) == 0)
			ward_debug("engine image cache %s/%s removed: unused for %d days", dir, e->d_name, EC_KEEP_DAYS);
	}
	closedir(d);
}

/* The cache of the manifest whose SHA-256 is sha: opened (created if need
 * be) and read through one descriptor, trusted only when it is a regular
 * file of this user that nobody else can write. NULL: no cache. */
static struct shield_ec *ec_load(const uint8_t sha[32], const struct ward_file_id *mid)
{
	char path[PATH_MAX], hex[65], sub[96];
	struct shield_ec *ec;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;

	ward_hex(sha, 32, hex);
	snprintf(sub, sizeof(sub), "ward/engine/%s", hex);
	if (ward_xdg_dir("XDG_CACHE_HOME", ".cache", sub, path, sizeof(path)) != 0)
		return NULL;
	if ((ec = calloc(1, sizeof(*ec))) == NULL)
		return NULL;
	pthread_mutex_init(&ec->mu, NULL);
	ec->mid = *mid;
	ec->writable = 1;
	ec->fd = REAL(open64)(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (ec->fd < 0 && errno == ENOENT) {
		/* the first time: create its directory ($XDG_CACHE_HOME/ward/engine) */
		char *s1 = strrchr(path, '/');
		*s1 = 0;
		(void)ward_mkdir_p(path, 0700);
		*s1 = '/';
		ec->fd = REAL(open64)(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (ec->fd < 0) {
		ec->writable = 0;
		ec->fd = REAL(open64)(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (ec->fd < 0 || REAL(fstat64)(ec->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0) {
		if (ec->fd >= 0)
			ward_debug("engine image cache %s ignored: not a regular file of this user writable only by it", path);
		ec_free(ec);
		return NULL;
	}
	if (ec->writable && st.st_size == 0) {
		char *s1 = strrchr(path, '/');
		*s1 = 0;
		prune_old(path, hex);
		*s1 = '/';
	} else if (ec->writable && time(NULL) - st.st_mtime > 86400) {
		(void)futimens(ec->fd, NULL); /* in use: not aged out ("Caches of other images") */
	}
	ec->bytes = (uint64_t)st.st_size;
	len = (size_t)st.st_size < EC_MAX_BYTES ? (size_t)st.st_size : EC_MAX_BYTES;
	if (len > 0 && (buf = malloc(len)) != NULL) {
		size_t got = 0;
		while (got < len) {
			ssize_t r = REAL(pread64)(ec->fd, buf + got, len - got, (off_t)got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		parse(ec, buf, got);
		free(buf);
		if ((uint64_t)st.st_size > got)
			ec->lines++; /* bytes not read: stale as well */
		compact(ec, path);
	}
	return ec;
}

static int open_vol(struct shield_region *r, const struct ward_file_id *trusted, ward_vol **v, char *verr)
{
	struct ward_vol_opts o;
	memset(&o, 0, sizeof(o));
	o.kind = WARD_VOL_AUTHENTICATED;
	o.manifest = r->arg[0] ? r->arg : NULL;
	o.flags = WARD_VOL_RDONLY;
	o.trusted_manifest = trusted;
	*v = NULL;
	return ward_vol_open(r->root, &o, v, verr);
}

/* Called with shield_inside set. */
int shield_ec_open_volume(struct shield_region *r, ward_vol **v, char *verr, char *err, size_t errlen)
{
	struct ward_file_id mid;
	struct ward_file_id got;
	struct shield_ec *ec = NULL;
	uint8_t sha[32];
	int rc;

	/* The manifest used must be the one the enclave hash measured, with or
	 * without the cache (hardware mode too): compared after the open. */
	if (!r->arg[0] || ward_rt_image_manifest(r->arg, sha, &mid) != 0) {
		snprintf(verr, WARD_VOL_ERR_LEN, "the engine image manifest %.200s was not measured", r->arg);
		return -ESTALE;
	}
	if (shield_ec_enabled())
		ec = ec_load(sha, &mid);
	if (ec != NULL && ec->have_m) {
		rc = open_vol(r, &ec->mid, v, verr);
		if (rc == 0) {
			r->ec = ec;
			ward_debug("engine image %s: manifest checked before (warm start)", r->root);
			return 0;
		}
		if (rc != -ESTALE) {
			ec_free(ec);
			return rc;
		}
		verr[0] = 0;
	}
	if (ward_rt_crypto_load(0, err, errlen) != 0) {
		ec_free(ec);
		return -ENOPKG;
	}
	rc = open_vol(r, NULL, v, verr);
	if (rc == 0 && (ward_vol_manifest_id(*v, &got) != 0 || !ward_file_id_eq(&got, &mid))) {
		ward_vol_close(*v, NULL);
		*v = NULL;
		snprintf(verr, WARD_VOL_ERR_LEN,
			 "the manifest %.200s changed after the enclave was measured; start again", r->arg);
		rc = -ESTALE;
	}
	if (rc != 0 || ec == NULL) {
		ec_free(ec);
		return rc;
	}
	/* Checked in full, and the file the enclave hash measured. */
	if (!ec->have_m) {
		char line[160];
		int n = snprintf(line, sizeof(line), "M %llu %llu %llu %llu %llu\n", (unsigned long long)got.dev,
				 (unsigned long long)got.ino, (unsigned long long)got.size,
				 (unsigned long long)got.mtime_ns, (unsigned long long)got.ctime_ns);
		if (n > 0 && (size_t)n < sizeof(line))
			append(ec, line, (size_t)n);
		ec->have_m = 1;
	}
	r->ec = ec;
	return 0;
}

void shield_ec_close(struct shield_region *r)
{
	ec_free(r->ec);
	r->ec = NULL;
}

/* The fd's file may be given to the program as it is: a regular file that
 * only root or this user can write, whose size, mode and mtime are the
 * manifest's. */
static int plausible(const struct stat *st, const struct ward_vstat *vst)
{
	int64_t mt = ward_ts_ns(st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	return S_ISREG(st->st_mode) && (st->st_uid == 0 || st->st_uid == geteuid()) && (st->st_mode & 022) == 0 &&
	       (uint64_t)st->st_size == vst->size && mt == vst->mtime_ns && (st->st_mode & 07777) == (vst->mode & 07777);
}

#define EC_FLAGS_OK (O_ACCMODE | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_LARGEFILE | O_NOFOLLOW | O_NOATIME)

int shield_ec_open(struct shield_region *r, const char *abs, const char *rel, int flags, const struct ward_vstat *vst,
		   int record)
{
	struct shield_ec *ec = r->ec;
	struct ward_file_id id, after;
	struct stat st;
	int fd, hit;

	if (ec == NULL || (flags & O_ACCMODE) != O_RDONLY || (flags & ~EC_FLAGS_OK) != 0 || !S_ISREG(vst->mode))
		return -1;
	shield_inside++;
	fd = REAL(open64)(abs, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (flags & (O_CLOEXEC | O_NOATIME)));
	if (fd < 0)
		goto miss;
	if (REAL(fstat64)(fd, &st) != 0 || !plausible(&st, vst))
		goto miss;
	ward_file_id_of(&st, &id);
	pthread_mutex_lock(&ec->mu);
	hit = tab_has(ec, rel, &id);
	pthread_mutex_unlock(&ec->mu);
	if (hit)
		goto use;
	if (!record || id.size > EC_VERIFY_MAX || !ec->writable || ec->fd < 0 || strchr(rel, '\n') != NULL)
		goto miss;
	/* Not known: check this very descriptor in full now, and remember it
	 * when it matches and did not change meanwhile. Then it is used as a
	 * hit would be: every byte was checked before the program gets the
	 * descriptor, and any change since the check would have changed the
	 * identity compared below (so the file is checked once, not again by
	 * every read). */
	{
		char err[256], verr[WARD_VOL_ERR_LEN];
		if (ward_rt_crypto_load(0, err, sizeof(err)) != 0 || r->vol == NULL ||
		    ward_vol_verify_fd(r->vol, rel, fd, verr) != 0 || REAL(fstat64)(fd, &st) != 0)
			goto miss;
		ward_file_id_of(&st, &after);
		if (!ward_file_id_eq(&id, &after) || !plausible(&st, vst))
			goto miss;
		size_t rl = strlen(rel), cap = rl + 160;
		char *line = malloc(cap);
		if (line != NULL) {
			int n = snprintf(line, cap, "F %llu %llu %llu %llu %llu %zu %s\n", (unsigned long long)id.dev,
					 (unsigned long long)id.ino, (unsigned long long)id.size,
					 (unsigned long long)id.mtime_ns, (unsigned long long)id.ctime_ns, rl, rel);
			pthread_mutex_lock(&ec->mu);
			if (n > 0 && (size_t)n < cap && !tab_has(ec, rel, &id)) {
				append(ec, line, (size_t)n);
				tab_put(ec, rel, rl, &id);
			}
			pthread_mutex_unlock(&ec->mu);
			free(line);
		}
	}
use:
	if (!(flags & O_NONBLOCK)) /* opened non-blocking in case a FIFO had been put there */
		(void)REAL(fcntl64)(fd, F_SETFL, (void *)(long)(flags & O_NOATIME));
	shield_inside--;
	return fd;
miss:
	if (fd >= 0)
		REAL(close)(fd);
	shield_inside--;
	return -1;
}
