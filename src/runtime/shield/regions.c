/*
 * regions.c: the region table and path classification.
 *
 * Paths are made absolute (against the working directory or a dirfd) and
 * normalised lexically ("." and ".." and repeated slashes); the region whose
 * root is the longest prefix at a component boundary wins. Symbolic links
 * on disk are not followed here: a link that leads from a plain directory
 * into a region exposes only ciphertext or authenticated bytes, and the
 * kernel backstop (Landlock) enforces the deny-outside rule on the resolved
 * path. Links held by a volume (a regular file on disk, sealed) are
 * followed here, component by component, when any region's volume holds
 * one: the kernel cannot see them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "fs/volume.h"
#include "runtime/shield/internal.h"
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

/* dirfd's directory joined with path, not normalised. */
static int abspath_raw(int dirfd, const char *path, char out[PATH_MAX])
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
			n = syscall(SYS_readlinkat, AT_FDCWD, link, base, sizeof(base) - 1);
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
	return 0;
}

/* The region whose root is the longest prefix of abs, or -1. */
static int region_of(const char *abs, size_t *rootlen)
{
	int best = -1;
	size_t bestlen = 0;
	for (int i = 0; i < nregions; i++) {
		size_t n = regions[i].rootlen;
		if (strncmp(abs, regions[i].root, n) == 0 && (abs[n] == 0 || abs[n] == '/' || n == 1) && n >= bestlen) {
			best = i;
			bestlen = n;
		}
	}
	*rootlen = bestlen;
	return best;
}

/* Whether any region's volume holds a link (else paths need no walk). */
static int links_anywhere(void)
{
	for (int i = 0; i < nregions; i++)
		if (shield_be_links(&regions[i]) > 0)
			return 1;
	return 0;
}

/* The volume link at abs: its target's length (target filled, NUL-ended),
 * 0 when abs is not a link in a volume that holds links, or -errno. */
static ssize_t link_at(const char *abs, char *target, size_t len)
{
	size_t rl;
	int i = region_of(abs, &rl);
	if (i < 0 || shield_be_links(&regions[i]) == 0)
		return 0;
	const char *rel = abs + rl;
	while (*rel == '/')
		rel++;
	if (rel[0] == 0 || shield_reserved_name(rel))
		return 0;
	ssize_t n = shield_be_link_target(&regions[i], rel, target, len - 1);
	if (n > 0)
		target[n] = 0;
	return n;
}

/* ".." needs its prefix to be a directory, as the kernel does: in a region
 * the volume says, elsewhere the disk. 0 or -ENOENT/-ENOTDIR. */
static int dotdot_ok(const char *abs)
{
	size_t rl;
	int i = region_of(abs, &rl);
	if (i >= 0 && regions[i].kind != SHIELD_PLAIN && regions[i].vol != NULL) {
		const char *rel = abs + rl;
		struct ward_vstat vs;
		while (*rel == '/')
			rel++;
		if (rel[0] == 0)
			return 0;
		int rc = shield_be_stat(&regions[i], rel, &vs);
		return rc != 0 ? rc : S_ISDIR(vs.mode) ? 0 : -ENOTDIR;
	}
	struct stat st;
	if (REAL(fstatat64)(AT_FDCWD, abs, &st, 0) != 0)
		return -ENOENT;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

#define SHIELD_MAX_LINKS 40 /* links followed for one path, as Linux */

/* Walks the absolute path in (not normalised) component by component into
 * out, following links held by volumes; ".." is taken after the links
 * before it, as the kernel does. Links on disk are not followed (see the
 * top of this file). 0, or -ELOOP, -ENAMETOOLONG, -ENOENT, -ENOTDIR, -EIO. */
static int walk(const char *in, int follow_last, char out[PATH_MAX], int *followed)
{
	char rest[2 * PATH_MAX];
	char target[WARD_VOL_MAX_LINK + 2];
	size_t ol = 0, inl = strlen(in);
	int hops = 0;
	char *p = rest;
	if (inl >= sizeof(rest))
		return -ENAMETOOLONG;
	memcpy(rest, in, inl + 1);
	out[0] = 0;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == 0)
			break;
		char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		const char *after = end;
		while (*after == '/')
			after++;
		int last = *after == 0, trailing = last && *end == '/';
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			int rc = ol > 0 ? dotdot_ok(out) : 0;
			if (rc != 0)
				return rc;
			while (ol > 0 && out[ol - 1] != '/')
				ol--;
			if (ol > 0)
				ol--;
			out[ol] = 0;
			p = end;
			continue;
		}
		size_t prev = ol;
		if (ol + 1 + n >= PATH_MAX)
			return -ENAMETOOLONG;
		out[ol] = '/';
		memcpy(out + ol + 1, p, n);
		ol += 1 + n;
		out[ol] = 0;
		p = end;
		if (last && !follow_last && !trailing)
			continue;
		ssize_t tl = link_at(out, target, sizeof(target));
		if (tl < 0)
			return (int)tl;
		if (tl == 0)
			continue;
		if (++hops > SHIELD_MAX_LINKS)
			return -ELOOP;
		*followed = 1;
		ol = target[0] == '/' ? 0 : prev;
		out[ol] = 0;
		size_t left = strlen(p);
		if ((size_t)tl + left + 1 > sizeof(rest))
			return -ENAMETOOLONG;
		memmove(rest + tl, p, left + 1);
		memcpy(rest, target, (size_t)tl);
		p = rest;
	}
	if (ol == 0) {
		out[0] = '/';
		out[1] = 0;
	}
	return 0;
}

/* Resolving the disk's links costs an lstat per component, on every call
 * on a path outside the protected regions (stat of a plain file: 0.84 to
 * 2.8 us). Directories resolved lately are kept per thread: an entry holds
 * for PHYS_TTL_NS, and until the program itself renames, removes or makes a
 * link or an entry (shield_paths_changed); a link switched by another
 * process is seen within PHYS_TTL_NS. */
#define PHYS_SLOTS 8
#define PHYS_KEY 256
#define PHYS_TTL_NS 1000000000LL
typedef char *(*realpath_fn)(const char *, char *);
static unsigned long paths_gen;
static __thread struct {
	unsigned long gen;
	long long at;
	char dir[PHYS_KEY], phys[PHYS_KEY];
} phys_cache[PHYS_SLOTS];

void shield_paths_changed(void)
{
	__atomic_add_fetch(&paths_gen, 1, __ATOMIC_RELEASE);
}

/* realpath of directory dir into out, 0 or -1 */
static int phys_dir(realpath_fn real, const char *dir, char out[PATH_MAX])
{
	size_t dl = strlen(dir), h = 0;
	struct timespec ts;
	for (size_t i = 0; i < dl; i++)
		h = h * 31 + (unsigned char)dir[i];
	unsigned long gen = __atomic_load_n(&paths_gen, __ATOMIC_ACQUIRE);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	long long now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	__typeof__(&phys_cache[0]) e = &phys_cache[h % PHYS_SLOTS];
	if (dl < PHYS_KEY && e->gen == gen && now - e->at < PHYS_TTL_NS && strcmp(e->dir, dir) == 0) {
		strcpy(out, e->phys);
		return 0;
	}
	if (real(dir, out) == NULL)
		return -1;
	if (dl < PHYS_KEY && strlen(out) < PHYS_KEY) {
		memcpy(e->dir, dir, dl + 1);
		strcpy(e->phys, out);
		e->gen = gen;
		e->at = now;
	}
	return 0;
}

/* The physical path of abs (absolute, possibly holding "." and ".."),
 * through the disk's symbolic links, as the kernel would resolve it: its
 * directory's physical path plus the last name, and, when follow_last,
 * where a last name that is a link leads (by hand: its target may not
 * exist yet, and the kernel then creates it). 1 with out filled when it
 * differs from abs, else 0. /proc, /dev and /sys are left alone (their
 * links are the kernel's). */
static int physical(const char *abs, int follow_last, char out[PATH_MAX])
{
	static realpath_fn real;
	char cur[PATH_MAX], dir[PATH_MAX], target[PATH_MAX];
	if (real == NULL)
		real = (realpath_fn)dlsym_next("realpath");
	if (real == NULL || strncmp(abs, "/proc/", 6) == 0 || strncmp(abs, "/dev/", 5) == 0 ||
	    strncmp(abs, "/sys/", 5) == 0 || strcmp(abs, "/") == 0 || strlen(abs) >= sizeof(cur))
		return 0;
	strcpy(cur, abs);
	for (int hops = 0;; hops++) {
		const char *slash = strrchr(cur, '/');
		size_t dl = (size_t)(slash - cur);
		if (slash == NULL || dl >= sizeof(dir))
			return 0;
		if (strcmp(slash, "/.") == 0 || strcmp(slash, "/..") == 0 || slash[1] == 0)
			return real(cur, out) != NULL && strcmp(out, abs) != 0; /* rare: the kernel's own answer */
		memcpy(dir, cur, dl);
		dir[dl] = 0;
		if (phys_dir(real, dl ? dir : "/", out) != 0)
			return 0;
		size_t ol = strlen(out);
		if (ol == 1) /* "/" */
			ol = 0;
		if (ol + strlen(slash) >= PATH_MAX)
			return 0;
		strcpy(out + ol, slash);
		/* a last name that is a link: where it leads (the system call:
		 * the shield's own readlink would classify again) */
		ssize_t tl;
		if (!follow_last || hops >= SHIELD_MAX_LINKS ||
		    (tl = syscall(SYS_readlinkat, AT_FDCWD, out, target, sizeof(target) - 1)) <= 0)
			break;
		target[tl] = 0;
		if (target[0] == '/') {
			strcpy(cur, target);
		} else {
			char *ls = strrchr(out, '/');
			size_t keep = (size_t)(ls - out) + 1;
			if (keep + (size_t)tl >= sizeof(cur))
				return 0;
			memcpy(cur, out, keep);
			memcpy(cur + keep, target, (size_t)tl + 1);
		}
	}
	return strcmp(out, abs) != 0;
}

static int classify(int dirfd, const char *path, struct shield_path *out, int follow_last)
{
	int best = -1, r;
	size_t bestlen = 0;

	if (path == NULL || path[0] == 0)
		return -ENOENT;
	out->resolved = 0;
	out->err = 0;
	r = abspath_raw(dirfd, path, out->abs);
	/* ".." after a link on the disk goes up from where the link leads: the
	 * unnormalised path is what physical() must see (below) */
	char raw[PATH_MAX];
	int dotdot = r == 0 && strstr(out->abs, "/..") != NULL;
	if (dotdot)
		memcpy(raw, out->abs, strlen(out->abs) + 1);
	if (r == 0 && links_anywhere()) {
		/* component by component from the unnormalised path: ".."
		 * after a link goes up from where the link leads */
		char res[PATH_MAX];
		r = walk(out->abs, follow_last, res, &out->resolved);
		if (r == 0)
			memcpy(out->abs, res, strlen(res) + 1);
		else if (r != -ENAMETOOLONG)
			out->err = -r;
	} else if (r == 0) {
		if (dotdot_prefixes_ok(out->abs) != 0)
			return -ENOENT;
		if (normalise(out->abs) != 0)
			return -EINVAL;
	}
	if (r == -ENAMETOOLONG || out->err != 0) {
		/* too long to place, or links that cannot be followed: refused
		 * (shield_deny), never passed on unseen */
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
	best = region_of(out->abs, &bestlen);
	if (best < 0 || regions[best].kind == SHIELD_PLAIN) {
		/* A path outside the protected regions as written may lead into
		 * one through a symbolic link on the disk (a link to the volume,
		 * or to a directory above it): it is classified where it leads,
		 * else the program would read ciphertext and write plaintext
		 * into the volume's directory. */
		char phys[PATH_MAX];
		size_t plen;
		int pb;
		if (nregions > 0 && physical(dotdot ? raw : out->abs, follow_last, phys) &&
		    (pb = region_of(phys, &plen)) >= 0 &&
		    regions[pb].kind != SHIELD_PLAIN) {
			memcpy(out->abs, phys, strlen(phys) + 1);
			out->resolved = 1;
			best = pb;
			bestlen = plen;
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

int shield_classify(int dirfd, const char *path, struct shield_path *out)
{
	return classify(dirfd, path, out, 1);
}

int shield_classify_nofollow(int dirfd, const char *path, struct shield_path *out)
{
	return classify(dirfd, path, out, 0);
}

/* 1 when path lies strictly inside dir (both normalised, absolute) */
static int path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1) /* "/" */
		return path[1] != 0;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int region_add(enum shield_kind kind, const char *root, const char *arg, const uint8_t *key, int create,
		      int engine, int readonly, char *err, size_t errlen)
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
	r->readonly = readonly;
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
			snprintf(err, errlen, "%s is given as a region twice; give each directory once", r->root);
			return -1;
		}
	for (int i = 0; i < nregions; i++) {
		const struct shield_region *o = &regions[i], *outer, *inner;
		if (path_under(r->root, o->root))
			outer = o, inner = r;
		else if (path_under(o->root, r->root))
			outer = r, inner = o;
		else
			continue;
		/* A region inside a volume would show up in it as entries it does
		 * not list (ward fs verify calls them tampering), and one inside
		 * an ephemeral region is removed with it at exit. */
		if (outer->kind == SHIELD_ENCRYPTED || outer->kind == SHIELD_EPHEMERAL ||
		    (inner->kind == SHIELD_EPHEMERAL && outer->kind == SHIELD_AUTHENTICATED)) {
			snprintf(err, errlen,
				 "the %s region %s lies inside the %s region %s; choose a directory outside %s for it",
				 shield_kind_name(inner->kind), inner->root, shield_kind_name(outer->kind), outer->root,
				 outer->root);
			return -1;
		}
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
	return region_add(kind, root, arg, NULL, 0, 0, 0, err, errlen);
}

int shield_region_add_readonly(const char *root, const char *keyfile, char *err, size_t errlen)
{
	return region_add(SHIELD_ENCRYPTED, root, keyfile, NULL, 0, 0, 1, err, errlen);
}

int shield_region_add_engine(const char *root, const char *manifest, char *err, size_t errlen)
{
	return region_add(SHIELD_AUTHENTICATED, root, manifest, NULL, 0, 1, 0, err, errlen);
}

struct shield_region *shield_region_add_keyed(const char *root, const uint8_t key[32], int create, char *err,
					      size_t errlen)
{
	if (region_add(SHIELD_ENCRYPTED, root, "", key, create, 0, 0, err, errlen) != 0)
		return NULL;
	return &regions[nregions - 1];
}

struct shield_region *shield_region_add_keyed_readonly(const char *root, const uint8_t key[32], char *err,
						       size_t errlen)
{
	if (region_add(SHIELD_ENCRYPTED, root, "", key, 0, 0, 1, err, errlen) != 0)
		return NULL;
	return &regions[nregions - 1];
}

struct shield_region *shield_region_add_authenticated(const char *root, char *err, size_t errlen)
{
	if (region_add(SHIELD_AUTHENTICATED, root, "", NULL, 0, 0, 0, err, errlen) != 0)
		return NULL;
	return &regions[nregions - 1];
}

void shield_regions_close(void)
{
	for (int i = 0; i < nregions; i++)
		shield_region_close_backend(&regions[i]);
}
