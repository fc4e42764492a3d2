/*
 * real.h: the C library's own versions of every call the shield interposes,
 * found with dlsym(RTLD_NEXT) on first use. The shield and the volume
 * library reach the disk only through these (or with shield_inside set).
 */
#ifndef WARD_RUNTIME_SHIELD_REAL_H
#define WARD_RUNTIME_SHIELD_REAL_H

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

struct statx;

#define SHIELD_REAL_LIST(X)                                                                      \
	X(open, int, (const char *, int, ...))                                                   \
	X(open64, int, (const char *, int, ...))                                                 \
	X(openat, int, (int, const char *, int, ...))                                            \
	X(openat64, int, (int, const char *, int, ...))                                          \
	X(read, ssize_t, (int, void *, size_t))                                                  \
	X(write, ssize_t, (int, const void *, size_t))                                           \
	X(pread64, ssize_t, (int, void *, size_t, off_t))                                        \
	X(pwrite64, ssize_t, (int, const void *, size_t, off_t))                                 \
	X(readv, ssize_t, (int, const struct iovec *, int))                                      \
	X(writev, ssize_t, (int, const struct iovec *, int))                                     \
	X(preadv64, ssize_t, (int, const struct iovec *, int, off_t))                            \
	X(pwritev64, ssize_t, (int, const struct iovec *, int, off_t))                           \
	X(preadv64v2, ssize_t, (int, const struct iovec *, int, off_t, int))                     \
	X(pwritev64v2, ssize_t, (int, const struct iovec *, int, off_t, int))                    \
	X(lseek64, off_t, (int, off_t, int))                                                     \
	X(ftruncate64, int, (int, off_t))                                                        \
	X(truncate64, int, (const char *, off_t))                                                \
	X(fsync, int, (int))                                                                     \
	X(fdatasync, int, (int))                                                                 \
	X(close, int, (int))                                                                     \
	X(close_range, int, (unsigned, unsigned, int))                                           \
	X(dup, int, (int))                                                                       \
	X(dup2, int, (int, int))                                                                 \
	X(dup3, int, (int, int, int))                                                            \
	X(fcntl64, int, (int, int, ...))                                                         \
	X(stat64, int, (const char *, struct stat *))                                            \
	X(lstat64, int, (const char *, struct stat *))                                           \
	X(fstat64, int, (int, struct stat *))                                                    \
	X(fstatat64, int, (int, const char *, struct stat *, int))                               \
	X(statx, int, (int, const char *, int, unsigned, struct statx *))                        \
	X(fopen64, FILE *, (const char *, const char *))                                         \
	X(fdopen, FILE *, (int, const char *))                                                   \
	X(freopen64, FILE *, (const char *, const char *, FILE *))                               \
	X(sendfile64, ssize_t, (int, int, off_t *, size_t))                                      \
	X(copy_file_range, ssize_t, (int, off_t *, int, off_t *, size_t, unsigned))              \
	X(rename, int, (const char *, const char *))                                             \
	X(renameat, int, (int, const char *, int, const char *))                                 \
	X(renameat2, int, (int, const char *, int, const char *, unsigned))                      \
	X(unlink, int, (const char *))                                                           \
	X(unlinkat, int, (int, const char *, int))                                               \
	X(remove, int, (const char *))                                                           \
	X(mkdir, int, (const char *, mode_t))                                                    \
	X(mkdirat, int, (int, const char *, mode_t))                                             \
	X(rmdir, int, (const char *))                                                            \
	X(access, int, (const char *, int))                                                      \
	X(faccessat, int, (int, const char *, int, int))                                         \
	X(opendir, DIR *, (const char *))                                                        \
	X(readdir64, struct dirent64 *, (DIR *))                                                 \
	X(readdir, struct dirent *, (DIR *))                                                     \
	X(link, int, (const char *, const char *))                                               \
	X(linkat, int, (int, const char *, int, const char *, int))                              \
	X(symlink, int, (const char *, const char *))                                            \
	X(symlinkat, int, (const char *, int, const char *))                                     \
	X(chdir, int, (const char *))                                                            \
	X(munmap, int, (void *, size_t))                                                         \
	X(msync, int, (void *, size_t, int))                                                     \
	X(mprotect, int, (void *, size_t, int))                                                  \
	X(pkey_mprotect, int, (void *, size_t, int, int))                                        \
	X(mremap, void *, (void *, size_t, size_t, int, ...))

#define SHIELD_REAL_DECL(name, ret, args) extern ret(*shield_real_##name) args;
SHIELD_REAL_LIST(SHIELD_REAL_DECL)

void shield_real_init(void);

/* REAL(open)(...) : the C library's open. */
#define REAL(name) (__builtin_expect(shield_real_##name != NULL, 1) ? shield_real_##name : (shield_real_init(), shield_real_##name))

#endif
