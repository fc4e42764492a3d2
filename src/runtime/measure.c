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

#define CACHE_MAX_FILES 512
#define CACHE_MAX_RESULTS 32
#define CACHE_MAX_BYTES (512 * 1024)
#define ID_LEN 112 /* five decimal 64-bit numbers with separators */
#define KEY_MAX ((WARD_MEASURE_MAX_LIBS + WARD_MEASURE_NDEPS + 2) * ID_LEN + WARD_MEASURE_MAX_IMAGES * (ID_LEN + PATH_MAX) + 128)

struct file_entry {
	struct ward_file_id id;
	uint8_t hash[32];
};

struct result_entry {
	char *key;
	uint8_t hash[32];
};

struct cache {
	struct file_entry f[CACHE_MAX_FILES];
	size_t nf;
	struct result_entry r[CACHE_MAX_RESULTS];
	size_t nr;
	int dirty;
};

void ward_measure_input_init(struct ward_measure_input *in)
{
	static const char *const deps[WARD_MEASURE_NDEPS] = WARD_MEASURE_RUNTIME_DEPS;
	memset(in, 0, sizeof(*in));
	for (size_t i = 0; i < WARD_MEASURE_NDEPS; i++)
		in->deps[i] = deps[i];
}

int ward_measure_cache_path(char *out, size_t outlen)
{
	return ward_xdg_dir("XDG_CACHE_HOME", ".cache", "ward/hashes", out, outlen) == 0 ? 0 : -1;
}

static void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nr; i++)
		free(c->r[i].key);
	free(c);
}

/* Loads the cache, or returns an empty one. It is trusted only if nobody
 * but its owner, the caller, could have written it. */
static struct cache *cache_load(void)
{
	struct cache *c = calloc(1, sizeof(*c));
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	char *line, *save = NULL;
	int fd;

	if (c == NULL)
		return NULL;
	if (ward_measure_cache_path(path, sizeof(path)) != 0)
		return c;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return c;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		close(fd);
		return c;
	}
	close(fd);
	if (ward_read_file(path, CACHE_MAX_BYTES, &buf, &len) != 0)
		return c;
	for (line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char hex[65];
		if (line[0] == 'F' && line[1] == ' ' && c->nf < CACHE_MAX_FILES) {
			struct file_entry *e = &c->f[c->nf];
			if (sscanf(line + 2, "%llu %llu %llu %llu %llu %64s", &e->id.dev, &e->id.ino, &e->id.size,
				   &e->id.mtime_ns, &e->id.ctime_ns, hex) == 6 &&
			    ward_unhex(hex, e->hash, 32) == 0)
				c->nf++;
		} else if (line[0] == 'M' && line[1] == ' ' && c->nr < CACHE_MAX_RESULTS) {
			char *sp = strrchr(line, ' ');
			if (sp == NULL || sp == line + 1 || ward_unhex(sp + 1, c->r[c->nr].hash, 32) != 0)
				continue;
			*sp = 0;
			c->r[c->nr].key = strdup(line + 2);
			if (c->r[c->nr].key != NULL)
				c->nr++;
		}
	}
	free(buf);
	return c;
}

static void cache_save(struct cache *c)
{
	char path[PATH_MAX], dir[PATH_MAX];
	char *out, *slash;
	size_t off = 0, cap = c->nf * 160 + 64;

	if (!c->dirty || ward_measure_cache_path(path, sizeof(path)) != 0)
		return;
	for (size_t i = 0; i < c->nr; i++)
		cap += strlen(c->r[i].key) + 72;
	ward_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return;
	*slash = 0;
	(void)ward_mkdir_p(dir, 0700); /* failure only means no cache */
	out = malloc(cap);
	if (out == NULL)
		return;
	for (size_t i = 0; i < c->nf; i++) {
		char hex[65];
		int r;
		ward_hex(c->f[i].hash, 32, hex);
		r = snprintf(out + off, cap - off, "F %llu %llu %llu %llu %llu %s\n", c->f[i].id.dev, c->f[i].id.ino,
			     c->f[i].id.size, c->f[i].id.mtime_ns, c->f[i].id.ctime_ns, hex);
		if (r < 0 || (size_t)r >= cap - off)
			goto done;
		off += (size_t)r;
	}
	for (size_t i = 0; i < c->nr; i++) {
		char hex[65];
		int r;
		ward_hex(c->r[i].hash, 32, hex);
		r = snprintf(out + off, cap - off, "M %s %s\n", c->r[i].key, hex);
		if (r < 0 || (size_t)r >= cap - off)
			goto done;
		off += (size_t)r;
	}
	(void)ward_write_file_atomic(path, out, off, 0600);
done:
	free(out);
}

static int identify(const char *path, struct ward_file_id *id)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	ward_file_id_of(&st, id);
	return 0;
}

/* stable (may be NULL): set to 1 with *idout the identity when the hash is
 * known to belong to exactly that file */
static int hash_file_id(struct cache *c, const char *path, uint8_t out[32], struct ward_file_id *idout, int *stable)
{
	struct ward_file_id id, after;
	size_t slot;

	if (stable != NULL)
		*stable = 0;
	if (identify(path, &id) != 0)
		return -1;
	if (c != NULL)
		for (size_t i = 0; i < c->nf; i++)
			if (ward_file_id_eq(&c->f[i].id, &id)) {
				memcpy(out, c->f[i].hash, 32);
				if (stable != NULL) {
					*idout = id;
					*stable = 1;
				}
				return 0;
			}
	if (ward_sha256_file(path, out) != 0)
		return -1;
	/* Cache only what did not change while it was being read. */
	if (identify(path, &after) != 0 || !ward_file_id_eq(&id, &after))
		return 0;
	if (stable != NULL) {
		*idout = id;
		*stable = 1;
	}
	if (c == NULL)
		return 0;
	slot = c->nf;
	for (size_t i = 0; i < c->nf; i++)
		if (c->f[i].id.dev == id.dev && c->f[i].id.ino == id.ino)
			slot = i;
	if (slot == CACHE_MAX_FILES) {
		memmove(&c->f[0], &c->f[1], sizeof(c->f[0]) * (CACHE_MAX_FILES - 1));
		slot = CACHE_MAX_FILES - 1;
	} else if (slot == c->nf) {
		c->nf++;
	}
	c->f[slot].id = id;
	memcpy(c->f[slot].hash, out, 32);
	c->dirty = 1;
	return 0;
}

static int hash_file(struct cache *c, const char *path, uint8_t out[32])
{
	return hash_file_id(c, path, out, NULL, NULL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole-result key: the settings, then every file's identity with its
 * role, sorted. Fails (no key) if a file cannot be identified. */
static char *result_key(const struct ward_measure_input *in, const struct ward_config *cfg,
			struct ward_file_id image_ids[WARD_MEASURE_MAX_IMAGES])
{
	size_t n = 0, total = 2 + WARD_MEASURE_NDEPS + in->nlibs, off;
	char **ids = calloc(total, sizeof(*ids));
	char *key = NULL;
	struct ward_file_id id;

	if (ids == NULL || in->nlibs > WARD_MEASURE_MAX_LIBS)
		goto out;
	for (size_t i = 0; i < total; i++) {
		const char *role, *path;
		if (i == 0) {
			role = "r";
			path = in->runtime;
		} else if (i <= WARD_MEASURE_NDEPS) {
			role = "d";
			path = in->deps[i - 1];
		} else if (i == WARD_MEASURE_NDEPS + 1) {
			role = "e";
			path = in->engine;
		} else {
			role = "l";
			path = in->libs[i - WARD_MEASURE_NDEPS - 2];
		}
		if (path == NULL || identify(path, &id) != 0)
			goto out;
		ids[n] = malloc(ID_LEN);
		if (ids[n] == NULL)
			goto out;
		snprintf(ids[n], ID_LEN, "%s:%llu:%llu:%llu:%llu:%llu", role, id.dev, id.ino, id.size, id.mtime_ns,
			 id.ctime_ns);
		n++;
	}
	/* The runtime's deps keep their order; the rest is a set. */
	qsort(ids + 2 + WARD_MEASURE_NDEPS, in->nlibs, sizeof(*ids), cmp_str);
	key = malloc(KEY_MAX);
	if (key == NULL)
		goto out;
	off = (size_t)snprintf(key, KEY_MAX, "v1:%llu:%llu:%d", (unsigned long long)cfg->heap,
			       (unsigned long long)cfg->stack, cfg->dlopen);
	for (size_t i = 0; i < n && off < KEY_MAX; i++)
		off += (size_t)snprintf(key + off, KEY_MAX - off, ",%s", ids[i]);
	/* The engine image: each tree with its manifest's identity, in order. */
	for (size_t i = 0; i < in->nimages && off < KEY_MAX; i++) {
		if (in->nimages > WARD_MEASURE_MAX_IMAGES || identify(in->image_manifests[i], &id) != 0) {
			off = KEY_MAX;
			break;
		}
		if (image_ids != NULL)
			image_ids[i] = id;
		off += (size_t)snprintf(key + off, KEY_MAX - off, ",i:%llu:%llu:%llu:%llu:%llu:%s", id.dev, id.ino, id.size,
					id.mtime_ns, id.ctime_ns, in->image_dirs[i]);
	}
	if (off >= KEY_MAX) {
		free(key);
		key = NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return key;
}

int ward_measure_lookup(struct ward_measure_input *in, const struct ward_config *cfg, uint8_t out[32])
{
	struct cache *c = cache_load();
	struct ward_file_id ids[WARD_MEASURE_MAX_IMAGES];
	char *key = result_key(in, cfg, ids);
	int rc = -1;

	if (c != NULL && key != NULL)
		for (size_t i = 0; i < c->nr; i++)
			if (strcmp(c->r[i].key, key) == 0) {
				memcpy(out, c->r[i].hash, 32);
				rc = 0;
				break;
			}
	/* the manifests' hashes, for exactly the identities in the key */
	for (size_t k = 0; rc == 0 && k < in->nimages && k < WARD_MEASURE_MAX_IMAGES; k++) {
		in->image_known[k] = 0;
		for (size_t i = 0; i < c->nf; i++)
			if (ward_file_id_eq(&c->f[i].id, &ids[k])) {
				in->image_id[k] = ids[k];
				memcpy(in->image_sha256[k], c->f[i].hash, 32);
				in->image_known[k] = 1;
				break;
			}
		if (!in->image_known[k])
			rc = -1; /* the shield must know what was measured: measure in full */
	}
	free(key);
	cache_free(c);
	return rc;
}

static void remember_result(struct cache *c, char *key, const uint8_t hash[32])
{
	if (key == NULL)
		return;
	for (size_t i = 0; i < c->nr; i++)
		if (strcmp(c->r[i].key, key) == 0) {
			free(key);
			return;
		}
	if (c->nr == CACHE_MAX_RESULTS) {
		free(c->r[0].key);
		memmove(&c->r[0], &c->r[1], sizeof(c->r[0]) * (CACHE_MAX_RESULTS - 1));
		c->nr--;
	}
	c->r[c->nr].key = key;
	memcpy(c->r[c->nr].hash, hash, 32);
	c->nr++;
	c->dirty = 1;
}

static int cmp_hex(const void *a, const void *b)
{
	return memcmp(a, b, 65);
}

int ward_measure(struct ward_measure_input *in, const struct ward_config *cfg, int use_cache,
		 uint8_t out[32], char *err, size_t errlen)
{
	struct cache *c = NULL;
	char (*libhex)[65] = NULL;
	char line[160], hex[65];
	char *key = NULL;
	uint8_t h[32];
	EVP_MD_CTX *ctx = NULL;
	unsigned int outlen = 0;
	int rc = -1;

	if (in->nlibs > WARD_MEASURE_MAX_LIBS) {
		snprintf(err, errlen, "too many libraries loaded at start (%zu, limit %d)", in->nlibs,
			 WARD_MEASURE_MAX_LIBS);
		return -1;
	}
	if (use_cache) {
		c = cache_load();
		key = result_key(in, cfg, NULL); /* taken before hashing: a change meanwhile misses next time */
	}
	libhex = calloc(in->nlibs + 1, sizeof(*libhex));
	ctx = EVP_MD_CTX_new();
	if (libhex == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "out of memory while measuring");
		goto out;
	}
#define ADD(s)                                                         \
	do {                                                           \
		if (EVP_DigestUpdate(ctx, (s), strlen(s)) != 1)        \
			goto digest_fail;                              \
	} while (0)
#define ADD_FILE(label, path, what)                                                            \
	do {                                                                                   \
		if (hash_file(c, (path), h) != 0) {                                            \
			snprintf(err, errlen, "cannot measure %s %s: %s", what, (path), strerror(errno)); \
			goto out;                                                              \
		}                                                                              \
		ward_hex(h, 32, hex);                                                          \
		snprintf(line, sizeof(line), "%s %s\n", label, hex);                           \
		ADD(line);                                                                     \
	} while (0)
	ADD("WARD-ENCLAVE-V1\n");
	ADD_FILE("runtime", in->runtime, "the runtime");
	for (size_t i = 0; i < WARD_MEASURE_NDEPS; i++)
		ADD_FILE("runtime-dep", in->deps[i], "the runtime's dependency");
	ADD_FILE("engine", in->engine, "the program");
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
	if (in->nimages > WARD_MEASURE_MAX_IMAGES) {
		snprintf(err, errlen, "too many engine image trees (%zu, limit %d)", in->nimages, WARD_MEASURE_MAX_IMAGES);
		goto out;
	}
	/* sorted by directory: the image is a set of trees (insertion sort of
	 * at most WARD_MEASURE_MAX_IMAGES indexes) */
	size_t order[WARD_MEASURE_MAX_IMAGES];
	for (size_t k = 0; k < in->nimages; k++) {
		size_t j = k;
		for (; j > 0 && strcmp(in->image_dirs[order[j - 1]], in->image_dirs[k]) > 0; j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
	for (size_t k = 0; k < in->nimages; k++) {
		size_t i = order[k];
		if (hash_file_id(c, in->image_manifests[i], h, &in->image_id[i], &in->image_known[i]) != 0) {
			snprintf(err, errlen, "cannot measure the engine image manifest %s: %s", in->image_manifests[i],
				 strerror(errno));
			goto out;
		}
		memcpy(in->image_sha256[i], h, 32);
		ward_hex(h, 32, hex);
		if (strchr(in->image_dirs[i], '\n') != NULL) {
			snprintf(err, errlen, "engine image tree %s: newline in path", in->image_dirs[i]);
			goto out;
		}
		ADD("image ");
		ADD(in->image_dirs[i]);
		snprintf(line, sizeof(line), " %s\n", hex);
		ADD(line);
	}
	snprintf(line, sizeof(line), "heap %llu\nstack %llu\ndlopen %d\n", (unsigned long long)cfg->heap,
		 (unsigned long long)cfg->stack, cfg->dlopen);
	ADD(line);
#undef ADD
#undef ADD_FILE
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32)
		goto digest_fail;
	rc = 0;
	if (c != NULL) {
		remember_result(c, key, out);
		key = NULL;
		cache_save(c);
	}
	goto out;
digest_fail:
	snprintf(err, errlen, "SHA-256 failed while measuring");
out:
	free(key);
	EVP_MD_CTX_free(ctx);
	free(libhex);
	cache_free(c);
	return rc;
}
