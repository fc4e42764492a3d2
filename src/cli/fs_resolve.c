/* fs_resolve.c: following symbolic links inside a volume (fs_resolve.h).
 *
 * The path still to walk is a string `rest`; the path walked so far,
 * every component a directory of the volume (links are replaced as they
 * are met), is `cur`. A link's target is put in front of what followed the
 * link, so `..` in it is lexical over `cur`, which holds no link. Each
 * expansion is remembered with the length of `rest` after its target, so
 * that a `..` leaving the volume names the link whose target holds it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/fs_resolve.h"

struct hop {
	char *link;	  /* the link's volume path */
	char *target;	  /* its target */
	size_t tail;	  /* bytes of rest after the target when it was expanded */
};

struct res {
	ward_vol *v;
	const char *path;
	char cur[WARD_VOL_MAX_LINK + 1];
	size_t curlen;
	char *rest;	  /* heap: a target and what follows it */
	size_t pos;	  /* next byte of rest to walk */
	struct hop hops[FS_RESOLVE_MAX_HOPS];
	int nhops;
	char *err;
};

/* one line into err (WARD_VOL_ERR_LEN bytes, cut when longer) */
__attribute__((format(printf, 2, 3))) static void say(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, WARD_VOL_ERR_LEN, fmt, ap);
	va_end(ap);
}

static void res_free(struct res *r)
{
	for (int i = 0; i < r->nhops; i++) {
		free(r->hops[i].link);
		free(r->hops[i].target);
	}
	free(r->rest);
}

/* The link whose target held the component just walked (r->pos is past
 * it and its slash), or NULL when it came from the path given: a
 * component of a target leaves at least the target's tail behind it, one
 * of the tail less. */
static const struct hop *owner(const struct res *r)
{
	size_t left = strlen(r->rest + r->pos);
	for (int i = r->nhops; i-- > 0;)
		if (left >= r->hops[i].tail)
			return &r->hops[i];
	return NULL;
}

static int leaves(struct res *r)
{
	const struct hop *h = owner(r);
	if (h != NULL)
		say(r->err,
			 "'%s' is a symbolic link to '%s', which leaves the volume; cat only follows links inside the volume",
			 h->link, h->target);
	else
		say(r->err, "'%s' leaves the volume (too many '..'); give a path inside it", r->path);
	return -EXDEV;
}

/* Replaces the link at cur + "/" + name (already in cand) by its target:
 * rest becomes target "/" what followed. */
static int expand(struct res *r, const char *cand, size_t next)
{
	char target[WARD_VOL_MAX_LINK + 1];
	ssize_t n;
	if (r->nhops == FS_RESOLVE_MAX_HOPS) {
		say(r->err,
			 "'%s': too many levels of symbolic links (more than %d; a loop at '%s'?)", r->path,
			 FS_RESOLVE_MAX_HOPS, cand);
		return -ELOOP;
	}
	n = ward_vol_readlink(r->v, cand, target, sizeof(target) - 1, r->err);
	if (n < 0)
		return (int)n;
	if ((size_t)n > WARD_VOL_MAX_LINK)
		return -EIO; /* cannot happen (volume.h) */
	target[n] = '\0';
	struct hop *h = &r->hops[r->nhops];
	if ((h->link = strdup(cand)) == NULL || (h->target = strdup(target)) == NULL) {
		free(h->link);
		say(r->err, "out of memory");
		return -ENOMEM;
	}
	r->nhops++;
	if (target[0] == '/') {
		say(r->err,
			 "'%s' is a symbolic link to '%s', an absolute path; cat only follows links inside the volume", cand,
			 target);
		return -EXDEV;
	}
	const char *after = r->rest + next;
	size_t al = strlen(after);
	char *nr = malloc((size_t)n + 1 + al + 1);
	if (nr == NULL) {
		say(r->err, "out of memory");
		return -ENOMEM;
	}
	memcpy(nr, target, (size_t)n);
	nr[n] = '/';
	memcpy(nr + n + 1, after, al + 1);
	h->tail = al;
	free(r->rest);
	r->rest = nr;
	r->pos = 0;
	return 0;
}

/* One component of rest (at r->pos, len bytes; the next starts at next). */
static int step(struct res *r, const char *c, size_t len, size_t next)
{
	char cand[WARD_VOL_MAX_LINK + 1];
	struct ward_vstat st;
	if (len == 0 || (len == 1 && c[0] == '.'))
		return 0;
	if (len == 2 && c[0] == '.' && c[1] == '.') {
		if (r->curlen == 0)
			return leaves(r);
		while (r->curlen > 0 && r->cur[r->curlen - 1] != '/')
			r->curlen--;
		r->curlen = r->curlen > 0 ? r->curlen - 1 : 0;
		r->cur[r->curlen] = '\0';
		return 0;
	}
	size_t cl = r->curlen ? r->curlen + 1 + len : len;
	if (cl > WARD_VOL_MAX_LINK) {
		say(r->err, "'%s': path too long for a volume (at most %u bytes)", r->path,
			 WARD_VOL_MAX_LINK);
		return -ENAMETOOLONG;
	}
	memcpy(cand, r->cur, r->curlen);
	if (r->curlen)
		cand[r->curlen] = '/';
	memcpy(cand + cl - len, c, len);
	cand[cl] = '\0';
	if (ward_vol_stat(r->v, cand, &st, NULL) == 0 && S_ISLNK(st.mode))
		return expand(r, cand, next);
	memcpy(r->cur, cand, cl + 1);
	r->curlen = cl;
	return 0;
}

int fs_resolve(ward_vol *v, const char *path, char *out, char *err)
{
	struct res r = { .v = v, .path = path, .err = err };
	int rc = 0;
	if ((r.rest = strdup(path)) == NULL) {
		say(err, "out of memory");
		return -ENOMEM;
	}
	while (rc == 0 && r.rest[r.pos] != '\0') {
		const char *c = r.rest + r.pos, *s = strchr(c, '/');
		size_t len = s ? (size_t)(s - c) : strlen(c), next = r.pos + len + (s != NULL);
		r.pos = next; /* owner() looks at what is left after the component */
		rc = step(&r, c, len, next);
	}
	if (rc == 0)
		memcpy(out, r.cur, r.curlen + 1);
	res_free(&r);
	return rc;
}
