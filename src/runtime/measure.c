/* measure.c: see measure.h. */
#include "runtime/measure.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/crypto.h"
#include "core/util.h"

#define CACHE_MAX_ENTRIES 512
#define CACHE_MAX_BYTES (256 * 1024)

struct cache_entry {
	unsigned long long dev, ino, size, mtime_ns, ctime_ns;
	uint8_t hash[32];
};

struct cache {
	struct cache_entry e[CACHE_MAX_ENTRIES];
	size_t n;
	int dirty;
};

int ward_measure_cache_path(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int r;
	if (xdg != NULL && xdg[0] == '/')
		r = snprintf(out, outlen, "%s/ward/hashes", xdg);
	else if (home != NULL && home[0] == '/')
		r = snprintf(out, outlen, "%s/.cache/ward/hashes", home);
	else
		return -1;
	return r > 0 && (size_t)r < outlen ? 0 : -1;
}

/* The cache is trusted only if only its owner (us) could have written it. */
static int cache_trusted(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	       (st.st_mode & 022) == 0;
}

static void cache_load(struct cache *c)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	char *line, *save = NULL;
	int fd;

	c->n = 0;
	c->dirty = 0;
	if (ward_measure_cache_path(path, sizeof(path)) != 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (!cache_trusted(fd)) {
		close(fd);
		return;
	}
	close(fd);
	if (ward_read_file(path, CACHE_MAX_BYTES, &buf, &len) != 0)
		return;
	for (line = strtok_r((char *)buf, "\n", &save); line && c->n < CACHE_MAX_ENTRIES;
	     line = strtok_r(NULL, "\n", &save)) {
		struct cache_entry *e = &c->e[c->n];
		char hex[65];
		if (sscanf(line, "%llu %llu %llu %llu %llu %64s", &e->dev, &e->ino, &e->size, &e->mtime_ns,
			   &e->ctime_ns, hex) != 6)
			continue;
		if (ward_unhex(hex, e->hash, 32) != 0)
			continue;
		c->n++;
	}
	free(buf);
}

static void cache_save(struct cache *c)
{
	char path[PATH_MAX], dir[PATH_MAX];
	char *out, *slash;
	size_t off = 0, cap = c->n * 160 + 1;

	if (!c->dirty || ward_measure_cache_path(path, sizeof(path)) != 0)
		return;
	ward_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return;
	*slash = 0;
	/* Create ~/.cache/ward (and ~/.cache) if needed; errors only mean no cache. */
	{
		char *p = strrchr(dir, '/');
		if (p != NULL && p != dir) {
			*p = 0;
			(void)mkdir(dir, 0700);
			*p = '/';
		}
		(void)mkdir(dir, 0700);
	}
	out = malloc(cap);
	if (out == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		char hex[65];
		int r;
		ward_hex(c->e[i].hash, 32, hex);
		r = snprintf(out + off, cap - off, "%llu %llu %llu %llu %llu %s\n", c->e[i].dev, c->e[i].ino,
			     c->e[i].size, c->e[i].mtime_ns, c->e[i].ctime_ns, hex);
		if (r < 0 || (size_t)r >= cap - off)
			break;
		off += (size_t)r;
	}
	(void)ward_write_file_atomic(path, out, off, 0600);
	free(out);
}

static int hash_file(struct cache *c, const char *path, uint8_t out[32])
{
	struct stat st;
	struct cache_entry key;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	close(fd);
	key.dev = (unsigned long long)st.st_dev;
	key.ino = (unsigned long long)st.st_ino;
	key.size = (unsigned long long)st.st_size;
	key.mtime_ns = (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st.st_mtim.tv_nsec;
	key.ctime_ns = (unsigned long long)st.st_ctim.tv_sec * 1000000000ULL + (unsigned long long)st.st_ctim.tv_nsec;
	if (c != NULL) {
		for (size_t i = 0; i < c->n; i++) {
			struct cache_entry *e = &c->e[i];
			if (e->dev == key.dev && e->ino == key.ino && e->size == key.size &&
			    e->mtime_ns == key.mtime_ns && e->ctime_ns == key.ctime_ns) {
				memcpy(out, e->hash, 32);
				return 0;
			}
		}
	}
	if (ward_sha256_file(path, out) != 0)
		return -1;
	if (c != NULL) {
		size_t slot = c->n;
		/* Replace a stale entry for the same file, else append (or evict the oldest). */
		for (size_t i = 0; i < c->n; i++)
			if (c->e[i].dev == key.dev && c->e[i].ino == key.ino)
				slot = i;
		if (slot == CACHE_MAX_ENTRIES) {
			memmove(&c->e[0], &c->e[1], sizeof(c->e[0]) * (CACHE_MAX_ENTRIES - 1));
			slot = CACHE_MAX_ENTRIES - 1;
		} else if (slot == c->n) {
			c->n++;
		}
		memcpy(key.hash, out, 32);
		c->e[slot] = key;
		c->dirty = 1;
	}
	return 0;
}

static int cmp_hex(const void *a, const void *b)
{
	return memcmp(a, b, 65);
}

int ward_measure(const struct ward_measure_input *in, const struct ward_config *cfg, int use_cache,
		 uint8_t out[32], char *err, size_t errlen)
{
	struct cache *c = NULL;
	char (*libhex)[65] = NULL;
	char line[160];
	uint8_t h[32];
	char hex[65];
	EVP_MD_CTX *ctx = NULL;
	unsigned int outlen = 0;
	int rc = -1;

	if (in->nlibs > WARD_MEASURE_MAX_LIBS) {
		snprintf(err, errlen, "too many libraries loaded at start (%zu, limit %d)", in->nlibs,
			 WARD_MEASURE_MAX_LIBS);
		return -1;
	}
	if (use_cache) {
		c = malloc(sizeof(*c));
		if (c != NULL)
			cache_load(c);
	}
	libhex = calloc(in->nlibs + 1, sizeof(*libhex));
	ctx = EVP_MD_CTX_new();
	if (libhex == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "out of memory while measuring");
		goto out;
	}
#define ADD(s) do { if (EVP_DigestUpdate(ctx, (s), strlen(s)) != 1) goto digest_fail; } while (0)
	ADD("WARD-ENCLAVE-V1\n");
	if (hash_file(c, in->runtime, h) != 0) {
		snprintf(err, errlen, "cannot measure the runtime %s: %s", in->runtime, strerror(errno));
		goto out;
	}
	ward_hex(h, 32, hex);
	snprintf(line, sizeof(line), "runtime %s\n", hex);
	ADD(line);
	if (hash_file(c, in->engine, h) != 0) {
		snprintf(err, errlen, "cannot measure the program %s: %s", in->engine, strerror(errno));
		goto out;
	}
	ward_hex(h, 32, hex);
	snprintf(line, sizeof(line), "engine %s\n", hex);
	ADD(line);
	for (size_t i = 0; i < in->nlibs; i++) {
		if (hash_file(c, in->libs[i], h) != 0) {
			snprintf(err, errlen, "cannot measure library %s: %s", in->libs[i], strerror(errno));
			goto out;
		}
		ward_hex(h, 32, libhex[i]);
	}
	qsort(libhex, in->nlibs, sizeof(*libhex), cmp_hex);
	for (size_t i = 0; i < in->nlibs; i++) {
		snprintf(line, sizeof(line), "library %s\n", libhex[i]);
		ADD(line);
	}
	snprintf(line, sizeof(line), "heap %llu\nstack %llu\ndlopen %d\n", (unsigned long long)cfg->heap,
		 (unsigned long long)cfg->stack, cfg->dlopen);
	ADD(line);
#undef ADD
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) {
		snprintf(err, errlen, "SHA-256 failed while measuring");
		goto out;
	}
	rc = 0;
	if (c != NULL)
		cache_save(c);
	goto out;
digest_fail:
	snprintf(err, errlen, "SHA-256 failed while measuring");
out:
	EVP_MD_CTX_free(ctx);
	free(libhex);
	free(c);
	return rc;
}
