/*
 * regions.c: the region table and path classification.
 *
 * Paths are made absolute (against the working directory or a dirfd) and
 * normalised lexically ("." and ".." and repeated slashes); the region whose
 * root is the longest prefix at a component boundary wins. Symbolic links
 * are not followed here: a link that leads from a plain directory into a
 * region exposes only ciphertext or authenticated bytes, and the kernel
 * backstop (Landlock) enforces the deny-outside rule on the resolved path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/crypto.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static struct shield_region regions[SHIELD_MAX_REGIONS];
static int nregions;
static int deny_outside;

int ward_shield_active(void)
{
	return nregions > 0 || deny_outside;
}

int ward_shield_deny_outside(void)
{
	return deny_outside;
}

void shield_set_deny_outside(int on)
{
	deny_outside = on;
}

int shield_region_count(void)
{
	return nregions;
}

struct shield_region *shield_region_at(int i)
{
	return i >= 0 && i < nregions ? &regions[i] : NULL;
}

const char *shield_kind_name(enum shield_kind k)
{
	switch (k) {
	case SHIELD_ENCRYPTED: return "encrypted";
	case SHIELD_AUTHENTICATED: return "authenticated";
	case SHIELD_EPHEMERAL: return "ephemeral";
	case SHIELD_DENIED: return "denied";
	default: return "plain";
	}
}

const char *shield_region_root(const struct shield_region *r)
{
	return r->root;
}

/* Lexical normalisation of an absolute path in place. */
static int normalise(char *p)
{
	char *out = p, *in = p;
	if (*in != '/')
		return -1;
	while (*in) {
		while (*in == '/')
			in++;
		if (*in == 0)
			break;
		char *end = in;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - in);
		if (n == 1 && in[0] == '.') {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *(out - 1) != '/')
				out--;
			if (out > p)
				out--;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == p)
		*out++ = '/';
	*out = 0;
	return 0;
}

/* Lexical normalisation would turn "missing/.." or "file/../x" into a path
 * that exists; the kernel refuses them. Every component before a ".." must
 * be a directory on disk (a volume's directories are directories on disk
 * too): 0 when so, -1 otherwise (the caller then leaves the call to the C
 * library, which gives the program the kernel's answer). */
static int dotdot_prefixes_ok(char *p)
{
	for (char *c = p; (c = strstr(c, "/..")) != NULL; c += 3) {
		if (c[3] != 0 && c[3] != '/')
			continue;
		if (c == p)
			continue; /* "/.." is "/" */
		struct stat st;
		*c = 0;
		int rc = REAL(fstatat64)(AT_FDCWD, p, &st, 0);
		*c = '/';
		if (rc != 0 || !S_ISDIR(st.st_mode))
			return -1;
	}
	return 0;
}

int shield_abspath(int dirfd, const char *path, char out[PATH_MAX])
{
	size_t bl, pl;
	if (path == NULL)
		return -EFAULT;
	pl = strlen(path);
	if (path[0] == '/') {
		if (pl >= PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(out, path, pl + 1);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			long r = syscall(SYS_getcwd, base, sizeof(base));
			if (r < 0)
				return -errno;
		} else {
			char link[64];
			ssize_t n;
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = readlink(link, base, sizeof(base) - 1);
			if (n < 0)
				return errno == ENOENT ? -EBADF : -errno;
			base[n] = 0;
			if (base[0] != '/')
				return -ENOTDIR;
		}
		bl = strlen(base);
		if (bl + 1 + pl >= PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(out, base, bl);
		out[bl] = '/';
		memcpy(out + bl + 1, path, pl + 1);
	}
	if (dotdot_prefixes_ok(out) != 0)
		return -ENOENT;
	return normalise(out) == 0 ? 0 : -EINVAL;
}

int shield_classify(int dirfd, const char *path, struct shield_path *out)
{
	int best = -1, r;
	size_t bestlen = 0;

	if (path == NULL || path[0] == 0)
		return -ENOENT;
	r = shield_abspath(dirfd, path, out->abs);
	if (r == -ENAMETOOLONG) {
		out->kind = SHIELD_DENIED;
		out->region = NULL;
		out->abs[0] = 0;
		out->rel = out->abs;
		out->dir_only = 0;
		return 0;
	}
	if (r != 0)
		return r;
	{
		size_t pl = strlen(path);
		out->dir_only = pl > 0 && (path[pl - 1] == '/' || (pl > 1 && path[pl - 1] == '.' && path[pl - 2] == '/'));
	}
	for (int i = 0; i < nregions; i++) {
		size_t n = regions[i].rootlen;
		if (strncmp(out->abs, regions[i].root, n) == 0 && (out->abs[n] == 0 || out->abs[n] == '/' || n == 1) &&
		    n >= bestlen) {
			best = i;
			bestlen = n;
		}
	}
	if (best < 0) {
		out->kind = deny_outside ? SHIELD_DENIED : SHIELD_PLAIN;
		out->region = NULL;
		out->rel = out->abs;
		return 0;
	}
	out->kind = regions[best].kind;
	out->region = out->kind == SHIELD_PLAIN ? NULL : &regions[best]; /* an allowed, unprotected region */
	out->rel = out->abs + bestlen;
	while (*out->rel == '/')
		out->rel++;
	return 0;
}

static int region_add(enum shield_kind kind, const char *root, const char *arg, const uint8_t *key, int create,
		      int engine, char *err, size_t errlen)
{
	struct shield_region *r;
	if (nregions >= SHIELD_MAX_REGIONS) {
		snprintf(err, errlen, "too many regions (at most %d)", SHIELD_MAX_REGIONS);
		return -1;
	}
	r = &regions[nregions];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->engine = engine;
	if (strlen(root) >= sizeof(r->root) || strlen(arg) >= sizeof(r->arg) || root[0] != '/') {
		snprintf(err, errlen, "region path '%s' must be absolute and shorter than %d bytes", root, PATH_MAX);
		return -1;
	}
	strcpy(r->root, root);
	if (normalise(r->root) != 0) {
		snprintf(err, errlen, "region path '%s' is not absolute", root);
		return -1;
	}
	r->rootlen = strlen(r->root);
	strcpy(r->arg, arg);
	for (int i = 0; i < nregions; i++)
		if (strcmp(regions[i].root, r->root) == 0) {
			snprintf(err, errlen, "%s is given as a region twice", r->root);
			return -1;
		}
	if (key != NULL) {
		memcpy(r->key, key, sizeof(r->key));
		r->has_key = 1;
		r->create = create;
	}
	if (kind != SHIELD_PLAIN && kind != SHIELD_DENIED && shield_region_open_backend(r, err, errlen) != 0) {
		if (r->has_key)
			ward_wipe(r->key, sizeof(r->key));
		return -1;
	}
	if (r->has_key) /* OpenSSL is loaded for keyed regions only */
		ward_wipe(r->key, sizeof(r->key));
	nregions++;
	return 0;
}

int shield_region_add(enum shield_kind kind, const char *root, const char *arg, char *err, size_t errlen)
{
	return region_add(kind, root, arg, NULL, 0, 0, err, errlen);
}

int shield_region_add_engine(const char *root, const char *manifest, char *err, size_t errlen)
{
	return region_add(SHIELD_AUTHENTICATED, root, manifest, NULL, 0, 1, err, errlen);
}

struct shield_region *shield_region_add_keyed(const char *root, const uint8_t key[32], int create, char *err,
					      size_t errlen)
{
	if (region_add(SHIELD_ENCRYPTED, root, "", key, create, 0, err, errlen) != 0)
		return NULL;
	return &regions[nregions - 1];
}

struct shield_region *shield_region_add_authenticated(const char *root, char *err, size_t errlen)
{
	if (region_add(SHIELD_AUTHENTICATED, root, "", NULL, 0, 0, err, errlen) != 0)
		return NULL;
	return &regions[nregions - 1];
}

void shield_regions_close(void)
{
	for (int i = 0; i < nregions; i++)
		shield_region_close_backend(&regions[i]);
}
