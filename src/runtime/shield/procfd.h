/*
 * procfd.h: paths that name a shielded descriptor (/proc/self/fd/N,
 * /proc/thread-self/fd/N, /proc/PID/fd/N of this process, /dev/fd/N).
 * See procfd.c for what the shield does with them.
 */
#ifndef WARD_RUNTIME_SHIELD_PROCFD_H
#define WARD_RUNTIME_SHIELD_PROCFD_H

#include "runtime/shield/shield.h"

/* N when the absolute path is one of the links above and N is a shielded
 * descriptor, else -1. Relative paths are never such links here. */
int shield_procfd(const char *path);

/* Fills sp with the volume path of fd's file (kind, region, abs, rel):
 * 0, -ENOENT when the file was unlinked or replaced, -EBADF when fd is not
 * shielded, -ENAMETOOLONG. */
int shield_procfd_path(int fd, struct shield_path *sp);

#endif
