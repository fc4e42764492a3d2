/*
 * fifo.c: named pipes the program made inside a region. A FIFO carries no
 * stored data, so the volume holds no entry for it: it lives on disk, and
 * the shield shows it (stat, listings, open, unlink, rename) only when this
 * process made it, and removes it at exit. One found on disk otherwise
 * (placed behind the volume's back) stays invisible, like any entry the
 * volume does not hold: a program that expects a file there never reads
 * from a pipe someone else feeds.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/shield/internal.h"
#include "runtime/shield/real.h"

struct fifo {
	struct fifo *next;
	char path[]; /* absolute, normalised */
};

static struct fifo *fifos;
static pthread_mutex_t fifo_lock = PTHREAD_MUTEX_INITIALIZER;

int shield_fifo_add(const char *abs)
{
	size_t n = strlen(abs) + 1;
	struct fifo *f = malloc(sizeof(*f) + n);
	if (f == NULL)
		return -1;
	memcpy(f->path, abs, n);
	pthread_mutex_lock(&fifo_lock);
	f->next = fifos;
	fifos = f;
	pthread_mutex_unlock(&fifo_lock);
	return 0;
}

static struct fifo **find_locked(const char *abs)
{
	struct fifo **p;
	for (p = &fifos; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->path, abs) == 0)
			return p;
	return NULL;
}

int shield_fifo_is(const char *abs)
{
	if (__atomic_load_n(&fifos, __ATOMIC_RELAXED) == NULL)
		return 0;
	pthread_mutex_lock(&fifo_lock);
	int found = find_locked(abs) != NULL;
	pthread_mutex_unlock(&fifo_lock);
	return found;
}

void shield_fifo_forget(const char *abs)
{
	pthread_mutex_lock(&fifo_lock);
	struct fifo **p = find_locked(abs), *f = p != NULL ? *p : NULL;
	if (f != NULL)
		*p = f->next;
	pthread_mutex_unlock(&fifo_lock);
	free(f);
}

void shield_fifos_remove(void)
{
	pthread_mutex_lock(&fifo_lock);
	struct fifo *f = fifos;
	fifos = NULL;
	pthread_mutex_unlock(&fifo_lock);
	while (f != NULL) {
		struct fifo *next = f->next;
		struct stat st;
		if (REAL(lstat64)(f->path, &st) == 0 && S_ISFIFO(st.st_mode))
			(void)REAL(unlinkat)(AT_FDCWD, f->path, 0);
		free(f);
		f = next;
	}
}

int shield_fifo_rename(const char *from, const char *to)
{
	shield_fifo_forget(to);
	shield_fifo_forget(from);
	return shield_fifo_add(to);
}

int shield_disk_only(const char *abs, struct stat *st)
{
	struct stat tmp;
	if (st == NULL)
		st = &tmp;
	if (REAL(lstat64)(abs, st) != 0)
		return 0;
	return S_ISSOCK(st->st_mode) || (S_ISFIFO(st->st_mode) && shield_fifo_is(abs));
}
