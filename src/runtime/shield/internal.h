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

/* dlsym(RTLD_NEXT, name): the C library's definition. */
void *dlsym_next(const char *name);

#endif
