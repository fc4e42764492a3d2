/*
 * internal.h: helpers shared by the shield's interposer files.
 */
#ifndef WARD_RUNTIME_SHIELD_INTERNAL_H
#define WARD_RUNTIME_SHIELD_INTERNAL_H

#include <sys/types.h>

/* Opens path for the program (classification, regions, deny); returns the
 * fd or -1 with errno. */
int shield_openat(int dirfd, const char *path, int flags, mode_t mode);

/* The deny-outside rule for abs: 0 when allowed (a few devices and
 * /proc/self), else logs one line and returns -EACCES. */
int shield_deny(const char *abs, const char *what);

/* The process's umask as last set (tracked by the umask interposer). */
mode_t shield_umask(void);

/* dlsym(RTLD_NEXT, name): the C library's definition. */
void *dlsym_next(const char *name);

#endif
