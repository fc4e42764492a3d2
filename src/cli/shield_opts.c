/* shield_opts.c: see shield_opts.h. */
#include "cli/shield_opts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "cli/engine_image.h"
#include "runtime/config.h"

struct spec {
	char *buf;
	size_t len, cap;
};

static int append(struct spec *s, const char *kind, const char *dir, const char *arg)
{
	size_t need = strlen(kind) + strlen(dir) + strlen(arg) + 4;
	if (s->len + need > s->cap) {
		size_t cap = (s->cap + need) * 2;
		char *nb = realloc(s->buf, cap);
		if (nb == NULL)
			return -1;
		s->buf = nb;
		s->cap = cap;
	}
	s->len += (size_t)snprintf(s->buf + s->len, s->cap - s->len, "%s%s\t%s\t%s", s->len ? "\n" : "", kind, dir, arg);
	return 0;
}

/* Absolute path of an existing directory or file. */
/* hint (may be NULL): what to do when p does not exist, after "; ". */
/* DIR:FILE where either may hold ':' itself: the rightmost ':' whose left
 * part is an existing directory, else the rightmost one (whose errors then
 * name what is missing). */
static char *split_colon(char *v)
{
	char *last = strrchr(v, ':');
	for (char *c = last; c != NULL && c > v; c = memrchr(v, ':', (size_t)(c - v))) {
		struct stat st;
		*c = 0;
		int is_dir = stat(v, &st) == 0 && S_ISDIR(st.st_mode);
		*c = ':';
		if (is_dir)
			return c;
	}
	return last;
}

static int abs_existing(const char *opt, const char *p, int want_dir, char out[PATH_MAX], const char *hint)
{
	struct stat st;
	if (realpath(p, out) == NULL || stat(out, &st) != 0) {
		int e = errno;
		ward_error("%s %s: %s%s%s", opt, p, strerror(e), e == ENOENT && hint ? "; " : "",
			   e == ENOENT && hint ? hint : "");
		return -1;
	}
	if (want_dir && !S_ISDIR(st.st_mode)) {
		ward_error("%s %s: not a directory", opt, p);
		return -1;
	}
	return 0;
}

/* Absolute path of a directory that may not exist yet (its parent must). */
static int abs_maybe(const char *opt, const char *p, char out[PATH_MAX])
{
	if (ward_path_abs_maybe(p, out) == 0)
		return 0;
	if (errno == EINVAL)
		ward_error("%s %s: give a directory name", opt, p);
	else if (errno == ENAMETOOLONG)
		ward_error("%s %s: path too long", opt, p);
	else if (errno == ENOENT)
		ward_error("%s %s: its parent directory does not exist; create it first (ward makes only the region's own "
			   "directory)", opt, p);
	else
		ward_error("%s %s: its parent directory: %s", opt, p, strerror(errno));
	return -1;
}

static int clean(const char *opt, const char *v)
{
	if (v[0] == '\0') {
		ward_error("%s: empty path (it is not taken as the current directory); give a directory", opt);
		return -1;
	}
	if (strpbrk(v, "\t\n") != NULL) {
		ward_error("%s: paths with tabs or newlines are not supported", opt);
		return -1;
	}
	return 0;
}

static int engine_image = -1; /* --engine-image 1, --no-engine-image 0, else the default */
static struct spec saved;

int ward_shield_opts_take(int *argc, char **argv)
{
	struct spec s = { NULL, 0, 0 };
	int out = 1, i, any = 0, deny = 0, rc = -1;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL, *opt = NULL;
		char dir[PATH_MAX], arg[PATH_MAX], tmp[2 * PATH_MAX];
		if (strcmp(a, "--") == 0 || a[0] != '-')
			break;
		if (strcmp(a, "--deny-outside") == 0) {
			deny = 1;
			continue;
		}
		if (strcmp(a, "--engine-image") == 0 || strcmp(a, "--no-engine-image") == 0) {
			int want = a[2] != 'n';
			if (engine_image >= 0 && engine_image != want) {
				ward_error("--engine-image and --no-engine-image contradict each other; give one of them");
				goto out;
			}
			engine_image = want;
			continue;
		}
		for (const char *const *o = (const char *const[]){ "--volume", "--authenticated", "--ephemeral", "--plain", NULL }; *o;
		     o++) {
			size_t n = strlen(*o);
			if (strncmp(a, *o, n) == 0 && (a[n] == 0 || a[n] == '=')) {
				opt = *o;
				val = a[n] == '=' ? a + n + 1 : NULL;
				break;
			}
		}
		if (opt == NULL) {
			/* a setting: keep it (and its value) for the settings parser */
			argv[out++] = argv[i];
			if (strchr(a, '=') == NULL && i + 1 < *argc && strcmp(a, "-h") != 0 && strcmp(a, "--help") != 0)
				argv[out++] = argv[++i];
			continue;
		}
		if (val == NULL) {
			if (i + 1 >= *argc) {
				ward_error("option %s needs a value; see 'ward run --help'", opt);
				goto out;
			}
			val = argv[++i];
		}
		if (clean(opt, val) != 0 || strlen(val) >= sizeof(tmp))
			goto out;
		any = 1;
		strcpy(tmp, val);
		if (strcmp(opt, "--volume") == 0) {
			/* a trailing ":ro" opens it read-only (":rw", the default, may be said) */
			size_t tl = strlen(tmp);
			int ro = 0;
			if (tl > 3 && (strcmp(tmp + tl - 3, ":ro") == 0 || strcmp(tmp + tl - 3, ":rw") == 0)) {
				ro = tmp[tl - 1] == 'o';
				tmp[tl - 3] = 0;
			}
			char *colon = split_colon(tmp);
			if (colon == NULL || colon == tmp || colon[1] == 0) {
				ward_error("--volume %s: expected DIR:KEYFILE[:ro] (the volume directory and its key file; "
					   ":ro opens it read-only)",
					   val);
				goto out;
			}
			*colon = 0;
			/* "KEYFILE:rx" where KEYFILE exists: a mistyped mode, not a
			 * key file named with a colon */
			char *mode = strrchr(colon + 1, ':');
			struct stat kst;
			if (mode != NULL && access(colon + 1, F_OK) != 0 && strlen(mode + 1) >= 1 && strlen(mode + 1) <= 4 &&
			    strspn(mode + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(mode + 1)) {
				*mode = 0;
				int key_exists = stat(colon + 1, &kst) == 0;
				*mode = ':';
				if (key_exists) {
					ward_error("--volume %s: unknown mode '%s'; the mode is ':ro' (read-only) or ':rw' "
						   "(the default)",
						   val, mode + 1);
					goto out;
				}
			}
			if (abs_existing(opt, tmp, 1, dir,
					 "make the volume first: ward fs encrypt SRC_DIR VOL --key-file KEYFILE") != 0 ||
			    abs_existing(opt, colon + 1, 0, arg,
					 "give the key file the volume was made with (ward fs encrypt writes one)") != 0)
				goto out;
			if (append(&s, ro ? "encrypted-ro" : "encrypted", dir, arg) != 0)
				goto out;
		} else if (strcmp(opt, "--authenticated") == 0) {
			struct stat dst;
			char *colon = stat(tmp, &dst) == 0 && S_ISDIR(dst.st_mode) ? NULL : split_colon(tmp);
			arg[0] = 0;
			if (colon != NULL) {
				*colon = 0;
				if (abs_existing(opt, colon + 1, 0, arg,
						 "make it with: ward fs authenticate DIR -o MANIFEST") != 0)
					goto out;
			}
			if (abs_existing(opt, tmp, 1, dir, "give the directory the manifest was made of") != 0 ||
			    append(&s, "authenticated", dir, arg) != 0)
				goto out;
		} else if (strcmp(opt, "--plain") == 0) {
			if (abs_existing(opt, tmp, 1, dir, "give an existing directory") != 0 ||
			    append(&s, "plain", dir, "") != 0)
				goto out;
		} else {
			if (abs_maybe(opt, tmp, dir) != 0 || append(&s, "ephemeral", dir, "") != 0)
				goto out;
		}
	}
	for (; i < *argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	*argc = out;
	if (any && setenv("WARD_SHIELD", s.buf, 1) != 0)
		goto out;
	saved = s;
	s.buf = NULL;
	if (deny && setenv("WARD_SHIELD_DENY", "1", 1) != 0)
		goto out;
	rc = 0;
out:
	free(s.buf);
	return rc;
}

/* "." and ".." and repeated slashes of an absolute path, lexically. */
static void normalise(char *p)
{
	char *out = p, *in = p;
	while (*in) {
		while (*in == '/')
			in++;
		char *end = in + strcspn(in, "/");
		size_t n = (size_t)(end - in);
		if (n == 0 || (n == 1 && in[0] == '.')) {
			/* nothing */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
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
}

int ward_shield_encrypted_region_of(const char *path, char *dir, size_t dirlen)
{
	char abs[PATH_MAX];
	size_t best = 0;
	int found = 0;
	if (saved.buf == NULL || path == NULL)
		return 0;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(abs))
			return 0;
		strcpy(abs, path);
	} else {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL || (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return 0;
	}
	normalise(abs);
	/* saved holds lines "kind\tdir\targ" */
	for (const char *l = saved.buf; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *t1 = strchr(l, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t1 == NULL || t2 == NULL)
			break;
		size_t kl = (size_t)(t1 - l), dl = (size_t)(t2 - t1 - 1);
		int enc = (kl == 9 && strncmp(l, "encrypted", 9) == 0) || (kl == 12 && strncmp(l, "encrypted-ro", 12) == 0) ||
			  (kl == 9 && strncmp(l, "ephemeral", 9) == 0);
		if (!enc || dl < best || dl >= dirlen)
			continue;
		if (strncmp(abs, t1 + 1, dl) == 0 && (abs[dl] == '/' || abs[dl] == 0)) {
			memcpy(dir, t1 + 1, dl);
			dir[dl] = 0;
			best = dl;
			found = 1;
		}
	}
	return found;
}

int ward_shield_engine_image(const char *engine, struct ward_config *c)
{
	struct ward_image_tree t[WARD_IMAGE_MAX_TREES];
	int n = ward_engine_image_select(engine, engine_image, t), rc = -1;

	if (n <= 0) {
		rc = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		/* a region the user gave explicitly for the same tree wins */
		int given = 0;
		for (const char *p = saved.buf; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			const char *t1 = strchr(p, '\t');
			size_t dl = strlen(t[i].dir);
			if (t1 != NULL && strncmp(t1 + 1, t[i].dir, dl) == 0 && t1[1 + dl] == '\t')
				given = 1;
		}
		if (!given && append(&saved, "engine", t[i].dir, t[i].manifest) != 0)
			goto out;
	}
	if (saved.buf != NULL && setenv("WARD_SHIELD", saved.buf, 1) != 0)
		goto out;
	if (!(c->explicit_mask & (1u << WARD_SET_DLOPEN)))
		c->dlopen = 1;
	rc = 0;
out:
	free(saved.buf);
	saved.buf = NULL;
	return rc;
}
