/*
 * fdtable.c: program fds -> shield open-file descriptions -> shield nodes.
 *
 * The table is an array indexed by fd. A lookup of an fd that is not
 * shielded is one atomic load; a shielded lookup takes the table lock only to
 * count a reference, so a close racing a read never frees what the read uses.
 * Nodes (one per open file in a region) are kept in a list: few files are
 * open at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

#define SHIELD_FD_MAX 65536

static struct shield_ofd *_Atomic fdtab[SHIELD_FD_MAX];
pthread_mutex_t shield_table_lock = PTHREAD_MUTEX_INITIALIZER;
#define table_lock shield_table_lock

struct node_link {
	struct shield_node *n;
	struct node_link *next;
};
static struct node_link *nodes;

int shield_fd_is(int fd)
{
	return fd >= 0 && fd < SHIELD_FD_MAX && __atomic_load_n(&fdtab[fd], __ATOMIC_ACQUIRE) != NULL;
}

struct shield_ofd *shield_fd_get(int fd)
{
	struct shield_ofd *o;
	if (!shield_fd_is(fd))
		return NULL;
	pthread_mutex_lock(&table_lock);
	o = fdtab[fd];
	if (o != NULL)
		o->refs++;
	pthread_mutex_unlock(&table_lock);
	return o;
}

static int node_release_locked(struct shield_node *n)
{
	struct node_link **pp;
	int rc;
	if (--n->refs > 0)
		return 0;
	for (pp = &nodes; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->n == n) {
			struct node_link *l = *pp;
			*pp = l->next;
			free(l);
			break;
		}
	rc = shield_be_close(n);
	pthread_mutex_destroy(&n->lock);
	free(n);
	return rc;
}

int shield_ofd_release(struct shield_ofd *o)
{
	int rc = 0;
	if (o == NULL)
		return 0;
	pthread_mutex_lock(&table_lock);
	if (--o->refs == 0) {
		rc = node_release_locked(o->node);
		pthread_mutex_destroy(&o->lock);
		free(o);
	}
	pthread_mutex_unlock(&table_lock);
	return rc;
}

void shield_ofd_put(struct shield_ofd *o)
{
	(void)shield_ofd_release(o); /* a commit error was logged */
}

/* The C library's stdout and stderr write fds 1 and 2 with internal calls
 * no interposition sees (printf, perror, a C extension's warnings): once
 * one of them is a file in a region (dup2 of a volume file onto it, or
 * close and open), its FILE is replaced by one whose writes go through
 * write(2), that is through the shield. Without this, such output reached
 * the volume's disk file as plaintext, over its ciphertext. The new
 * stream stays for the run (it writes to whatever the fd is). */
static ssize_t std_write(void *cookie, const char *buf, size_t n)
{
	return (ssize_t)ward_write_all((int)(intptr_t)cookie, buf, n);
}

static void std_through_shield(int fd)
{
	static int done[3];
	if ((fd != 1 && fd != 2) || __atomic_exchange_n(&done[fd], 1, __ATOMIC_ACQ_REL))
		return;
	cookie_io_functions_t io = { .write = std_write };
	FILE *f = fopencookie((void *)(intptr_t)fd, "w", io);
	if (f == NULL) {
		__atomic_store_n(&done[fd], 0, __ATOMIC_RELEASE);
		return;
	}
	(void)setvbuf(f, NULL, fd == 2 ? _IONBF : _IOLBF, 0);
	f->_fileno = fd; /* fileno() works, as for stdio.c's streams */
	if (fd == 1)
		stdout = f;
	else
		stderr = f;
}

int shield_fd_install(int fd, struct shield_ofd *o)
{
	struct shield_ofd *old;
	if (fd < 0 || fd >= SHIELD_FD_MAX)
		return -EMFILE;
	if (o != NULL)
		std_through_shield(fd);
	pthread_mutex_lock(&table_lock);
	old = fdtab[fd];
	__atomic_store_n(&fdtab[fd], o, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
	if (old != NULL)
		shield_ofd_put(old);
	return 0;
}

int shield_fd_forget(int fd)
{
	struct shield_ofd *old;
	if (!shield_fd_is(fd))
		return 0;
	pthread_mutex_lock(&table_lock);
	old = fdtab[fd];
	__atomic_store_n(&fdtab[fd], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&table_lock);
	return shield_ofd_release(old);
}

struct shield_ofd *shield_ofd_new(struct shield_node *n, int flags)
{
	struct shield_ofd *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->node = n;
	o->flags = flags;
	o->refs = 1;
	pthread_mutex_init(&o->lock, NULL);
	return o;
}

struct shield_node *shield_node_find(struct shield_region *r, const char *rel)
{
	struct shield_node *found = NULL;
	pthread_mutex_lock(&table_lock);
	for (struct node_link *l = nodes; l != NULL; l = l->next)
		if (l->n->region == r && !l->n->unlinked && strcmp(l->n->rel, rel) == 0) {
			found = l->n;
			found->refs++;
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return found;
}

/* Returns the node for rel with one more reference; *created says whether
 * the caller must open it in the backend (and call shield_node_put on
 * failure). A node being opened by another thread is waited for through its
 * lock, which the creator holds until the backend open is done. */
struct shield_node *shield_node_get(struct shield_region *r, const char *rel, int *created)
{
	/* One node per open: the volume library already shares one state
	 * between all handles of a file. Nodes are listed so that rename and
	 * unlink can follow open files. */
	struct shield_node *n;
	struct node_link *l;
	*created = 0;
	n = calloc(1, sizeof(*n));
	l = calloc(1, sizeof(*l));
	if (n == NULL || l == NULL || strlen(rel) >= sizeof(n->rel)) {
		free(n);
		free(l);
		return NULL;
	}
	n->region = r;
	strcpy(n->rel, rel);
	n->refs = 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_mutex_lock(&table_lock);
	l->n = n;
	l->next = nodes;
	nodes = l;
	pthread_mutex_unlock(&table_lock);
	*created = 1;
	return n;
}

static void commit_each(int (*commit)(struct shield_node *))
{
	struct shield_node *batch[64];
	size_t n = 0, skip = 0;
	for (;;) {
		size_t i = 0;
		/* Up to 64 written files at a time, held while committed
		 * without the table lock; skip the ones done before. */
		pthread_mutex_lock(&table_lock);
		n = 0;
		for (struct node_link *l = nodes; l != NULL && n < sizeof(batch) / sizeof(batch[0]); l = l->next)
			if (l->n->writable && l->n->handle != NULL && i++ >= skip) {
				l->n->refs++;
				batch[n++] = l->n;
			}
		pthread_mutex_unlock(&table_lock);
		for (size_t k = 0; k < n; k++) {
			(void)commit(batch[k]); /* a failure was logged */
			shield_node_put(batch[k]);
		}
		if (n < sizeof(batch) / sizeof(batch[0]))
			return;
		skip += n;
	}
}

void shield_nodes_commit_all(void)
{
	commit_each(shield_be_sync);
}

void shield_nodes_commit_written(void)
{
	commit_each(shield_vol_commit);
}

void shield_node_put(struct shield_node *n)
{
	pthread_mutex_lock(&table_lock);
	(void)node_release_locked(n); /* a commit error was logged */
	pthread_mutex_unlock(&table_lock);
}

void shield_node_rename(struct shield_region *r, const char *from, const char *to)
{
	size_t fl = strlen(from);
	pthread_mutex_lock(&table_lock);
	for (struct node_link *l = nodes; l != NULL; l = l->next) {
		struct shield_node *n = l->n;
		if (n->region != r || n->unlinked)
			continue;
		if (strcmp(n->rel, to) == 0)
			n->unlinked = 1; /* replaced */
		else if (strncmp(n->rel, from, fl) == 0 && (n->rel[fl] == 0 || n->rel[fl] == '/')) {
			char tmp[PATH_MAX];
			if (snprintf(tmp, sizeof(tmp), "%s%s", to, n->rel + fl) < (int)sizeof(tmp))
				strcpy(n->rel, tmp);
		}
	}
	pthread_mutex_unlock(&table_lock);
}

void shield_node_unlinked(struct shield_region *r, const char *rel)
{
	pthread_mutex_lock(&table_lock);
	for (struct node_link *l = nodes; l != NULL; l = l->next)
		if (l->n->region == r && !l->n->unlinked && strcmp(l->n->rel, rel) == 0)
			l->n->unlinked = 1;
	pthread_mutex_unlock(&table_lock);
}

void shield_node_hold_locked(struct shield_node *n)
{
	n->refs++;
}

/* Same file: n itself, or open on the same path of the same region (an
 * unlinked node's file has no path: only the node itself). */
/* Whether two opens are of one file: the volume's inode number when both
 * know it (it follows renames and covers hard links), else the path. */
static int same_file(const struct shield_node *a, const struct shield_node *b)
{
	if (a == b)
		return 1;
	if (a->region != b->region)
		return 0;
	if (a->ino != 0 && b->ino != 0)
		return a->ino == b->ino;
	return !a->unlinked && !b->unlinked && strcmp(a->rel, b->rel) == 0;
}

struct shield_image *shield_node_peer_image_locked(struct shield_node *n)
{
	for (struct node_link *l = nodes; l != NULL; l = l->next)
		if (l->n != n && l->n->img != NULL && same_file(l->n, n))
			return l->n->img;
	return NULL;
}

void shield_nodes_set_image_locked(struct shield_node *n, struct shield_image *from, struct shield_image *to)
{
	for (struct node_link *l = nodes; l != NULL; l = l->next)
		if (l->n->img == from && same_file(l->n, n))
			__atomic_store_n(&l->n->img, to, __ATOMIC_RELEASE);
}

void shield_nodes_clear_image_locked(struct shield_image *img)
{
	for (struct node_link *l = nodes; l != NULL; l = l->next)
		if (l->n->img == img)
			__atomic_store_n(&l->n->img, NULL, __ATOMIC_RELEASE);
}

int ward_shield_fd(int fd)
{
	return !shield_inside && shield_fd_is(fd);
}
