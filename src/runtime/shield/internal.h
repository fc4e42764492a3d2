/*
 * internal.h: helpers shared by the shield's interposer files.
 */
#ifndef WARD_RUNTIME_SHIELD_INTERNAL_H
#define WARD_RUNTIME_SHIELD_INTERNAL_H

#include <sys/types.h>

/* Opens path for the program (classification, regions, deny); returns the
 * fd or -1 with errno. */
int shield_openat(int dirfd, const char *path, int flags, mode_t mode);

/* The deny-outside rule for sp->abs: 0 when allowed (a few devices and
 * /proc/self), else logs one line and returns -EACCES; a path whose links
 * could not be followed gives that error (sp->err), one too long to place
 * -ENAMETOOLONG. */
struct shield_path;
int shield_deny(const struct shield_path *sp, const char *what);

/* The process's umask as last set (tracked by the umask interposer). */
mode_t shield_umask(void);

/* fifo.c: FIFOs this process made inside a region (absolute paths). Only
 * these are shown; the volume holds no entry for them. add: 0 or -1
 * (ENOMEM); is: 1 or 0; rename: as add. */
int shield_fifo_add(const char *abs);
int shield_fifo_is(const char *abs);
void shield_fifo_forget(const char *abs);
int shield_fifo_rename(const char *from, const char *to);
/* At exit: removes every FIFO this process made in a region, so that the
 * volume directory holds only what the volume lists. */
void shield_fifos_remove(void);
/* Whether abs is an entry that lives on disk only and is shown as it is
 * there: a socket bound inside a region, or a FIFO this process made (st,
 * may be NULL, gets its lstat). */
struct stat;
int shield_disk_only(const char *abs, struct stat *st);

/* dlsym(RTLD_NEXT, name): the C library's definition. */
void *dlsym_next(const char *name);

#endif
