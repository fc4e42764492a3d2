/*
 * procfd.c: the descriptor links /proc/self/fd/N, /proc/thread-self/fd/N,
 * /proc/PID/fd/N (PID this process) and /dev/fd/N, for a shielded N.
 *
 * The kernel resolves such a path to the file on disk, which holds
 * ciphertext: reading it would give ciphertext, writing it would put
 * plaintext on disk and break the file. So a path naming a shielded
 * descriptor is answered by the shield: opening it opens the same volume
 * file again (a new open-file description, as on Linux), and stat follows
 * it to the shield's stat of the descriptor. A descriptor whose file was
 * unlinked or replaced has no path in the volume any more: opening its link
 * fails with ENOENT (Linux would open the deleted file). lstat, readlink
 * and paths naming other descriptors are left to the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/shield/procfd.h"
#include "runtime/shield/region.h"

/* Parses up to 9 decimal digits at *p (no sign, no leading zero unless
 * alone), moving *p past them: the value, or -1. */
static long digits(const char **p)
{
	const char *s = *p;
	long v = 0;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 9)
			return -1;
		v = v * 10 + (s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	*p = s + n;
	return v;
}

int shield_procfd(const char *path)
{
	const char *p;
	long fd;
	if (path == NULL || path[0] != '/')
		return -1;
	if (strncmp(path, "/dev/fd/", 8) == 0) {
		p = path + 8;
	} else if (strncmp(path, "/proc/", 6) == 0) {
		p = path + 6;
		if (strncmp(p, "self/", 5) == 0) {
			p += 5;
		} else if (strncmp(p, "thread-self/", 12) == 0) {
			p += 12;
		} else {
			long pid = digits(&p);
			if (pid < 0 || pid != (long)getpid() || *p != '/')
				return -1;
			p++;
		}
		if (strncmp(p, "fd/", 3) != 0)
			return -1;
		p += 3;
	} else {
		return -1;
	}
	fd = digits(&p);
	if (fd < 0 || *p != 0 || !shield_fd_is((int)fd))
		return -1;
	return (int)fd;
}

int shield_procfd_path(int fd, struct shield_path *sp)
{
	struct shield_ofd *o = shield_fd_get(fd);
	struct shield_region *r;
	int n = 0, rc = 0;
	if (o == NULL)
		return -EBADF;
	r = o->node->region;
	memset(sp, 0, sizeof(*sp));
	sp->kind = r->kind;
	sp->region = r;
	pthread_mutex_lock(&shield_table_lock); /* rel changes under it (rename) */
	if (o->node->unlinked)
		rc = -ENOENT;
	else if (o->node->rel[0] == 0)
		n = snprintf(sp->abs, sizeof(sp->abs), "%s", r->root);
	else
		n = snprintf(sp->abs, sizeof(sp->abs), "%s%s%s", r->root,
			     r->rootlen > 0 && r->root[r->rootlen - 1] == '/' ? "" : "/", o->node->rel);
	pthread_mutex_unlock(&shield_table_lock);
	shield_ofd_put(o);
	if (rc != 0)
		return rc;
	if (n < 0 || (size_t)n >= sizeof(sp->abs))
		return -ENAMETOOLONG;
	sp->rel = sp->abs + r->rootlen;
	while (*sp->rel == '/')
		sp->rel++;
	return 0;
}
