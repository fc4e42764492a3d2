/*
 * dir.c: directory listings. A directory inside a region lists what the
 * volume holds: its metadata entry and anything placed on disk behind the
 * volume's back are skipped (they could not be opened anyway).
 */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
/* Programs may pass NULL where the headers say nonnull: check anyway. */
#pragma GCC diagnostic ignored "-Wnonnull-compare"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/volume.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/real.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

struct watched {
	DIR *d;
	struct shield_region *r;
	char rel[PATH_MAX];
	size_t seen;  /* entries listed that the volume holds */
	int checked;  /* the end of the listing was checked for missing entries */
	struct watched *next;
};
static struct watched *watched;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;

static void watch(DIR *d, struct shield_path *sp)
{
	struct watched *w;
	if (d == NULL || sp->region == NULL)
		return;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return;
	w->d = d;
	w->r = sp->region;
	w->seen = 0;
	w->checked = 0;
	snprintf(w->rel, sizeof(w->rel), "%s", sp->rel);
	pthread_mutex_lock(&wlock);
	w->next = watched;
	watched = w;
	pthread_mutex_unlock(&wlock);
}

static struct watched *find(DIR *d)
{
	struct watched *w;
	if (__atomic_load_n(&watched, __ATOMIC_RELAXED) == NULL)
		return NULL;
	pthread_mutex_lock(&wlock);
	for (w = watched; w != NULL && w->d != d; w = w->next)
		;
	pthread_mutex_unlock(&wlock);
	return w;
}

DIR *opendir(const char *path)
{
	struct shield_path sp;
	DIR *d;
	if (shield_inside || !ward_shield_active() || shield_classify(AT_FDCWD, path, &sp) != 0)
		return REAL(opendir)(path);
	if (sp.err != 0) {
		errno = sp.err;
		return NULL;
	}
	if (sp.kind == SHIELD_DENIED) {
		int rc = shield_deny(&sp, "list");
		if (rc != 0) {
			errno = -rc;
			return NULL;
		}
	}
	if (sp.region != NULL) {
		struct ward_vstat st;
		int rc = shield_reserved_name(sp.rel) ? -ENOENT : shield_be_stat(sp.region, sp.rel, &st);
		if (rc == 0 && !S_ISDIR(st.mode))
			rc = -ENOTDIR;
		if (rc != 0) {
			errno = -rc;
			return NULL;
		}
	}
	d = REAL(opendir)(sp.resolved ? sp.abs : path);
	watch(d, &sp);
	return d;
}

DIR *fdopendir(int fd)
{
	typedef DIR *(*fn)(int);
	static fn real;
	struct shield_path sp;
	char link[64];
	DIR *d;
	if (real == NULL)
		real = (fn)dlsym_next("fdopendir");
	d = real(fd);
	if (d == NULL || shield_inside || !ward_shield_active())
		return d;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	{
		char target[PATH_MAX];
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (shield_classify(AT_FDCWD, target, &sp) == 0)
				watch(d, &sp);
		}
	}
	return d;
}

int closedir(DIR *d)
{
	typedef int (*fn)(DIR *);
	static fn real;
	struct watched **pp, *w = NULL;
	if (real == NULL)
		real = (fn)dlsym_next("closedir");
	if (__atomic_load_n(&watched, __ATOMIC_RELAXED) != NULL) {
		pthread_mutex_lock(&wlock);
		for (pp = &watched; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->d == d) {
				w = *pp;
				*pp = w->next;
				break;
			}
		pthread_mutex_unlock(&wlock);
		free(w);
	}
	return real(d);
}

static int hidden(struct watched *w, struct dirent64 *e)
{
	const char *name = e->d_name;
	char rel[PATH_MAX];
	struct ward_vstat st;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (snprintf(rel, sizeof(rel), "%s%s%s", w->rel, w->rel[0] ? "/" : "", name) >= (int)sizeof(rel))
		return 1;
	if (shield_reserved_name(rel))
		return 1;
	shield_inside++;
	int rc = shield_be_stat(w->r, rel, &st);
	shield_inside--;
	if (rc == 0) {
		w->seen++;
		if (S_ISLNK(st.mode)) /* a link in the volume is a sealed file on disk */
			e->d_type = DT_LNK;
	}
	if (rc != 0) {
		/* Sockets bound inside a region, FIFOs made here: on disk only. */
		char abs[PATH_MAX];
		if (snprintf(abs, sizeof(abs), "%s/%s", w->r->root, rel) < (int)sizeof(abs) &&
		    shield_disk_only(abs, NULL))
			return 0;
	}
	return rc != 0;
}

/* At the end of a listing: an entry the volume holds but the disk does not
 * (deleted or renamed behind the volume's back) would otherwise just be
 * absent, and a program that looks before it opens (the import system)
 * would run without it unnoticed. It is reported as tampering. */
static void check_missing(struct watched *w)
{
	struct ward_vdirent *e = NULL;
	size_t n = 0;
	char name[256], rel[PATH_MAX];
	int saved = errno;
	shield_inside++;
	if (shield_be_readdir(w->r, w->rel, &e, &n) == 0 && n > w->seen &&
	    shield_be_missing(w->r, w->rel, name, sizeof(name)) == 1 &&
	    snprintf(rel, sizeof(rel), "%s%s%s", w->rel, w->rel[0] ? "/" : "", name) < (int)sizeof(rel))
		shield_report_missing(w->r, rel);
	shield_inside--;
	free(e);
	errno = saved;
}

struct dirent64 *readdir64(DIR *d)
{
	struct watched *w = find(d);
	struct dirent64 *e;
	do
		e = REAL(readdir64)(d);
	while (e != NULL && w != NULL && hidden(w, e));
	if (e == NULL && w != NULL && !w->checked) {
		w->checked = 1;
		check_missing(w);
	}
	return e;
}

struct dirent *readdir(DIR *d)
{
	/* struct dirent and struct dirent64 have one layout on 64-bit Linux. */
	return (struct dirent *)(void *)readdir64(d);
}
