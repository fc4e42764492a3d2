/*
 * shield.h: the file shield inside libward-rt.so.
 *
 * The shield decides by path which files it protects (regions, longest
 * prefix wins: encrypted, authenticated, ephemeral, plain, denied) and
 * interposes the C library's file calls so that an unmodified program reads
 * and writes plaintext while the disk holds what the region's kind demands.
 *
 * Contract:
 * - ward_shield_start() reads the region list that `ward run` passed in
 *   WARD_SHIELD (never keys: key files are read here and wiped after use) and
 *   either succeeds or ends the process with one line (ward_rt_fatal).
 * - Before start, and for every fd or path outside the regions, each
 *   interposed call forwards to the C library unchanged.
 * - A program fd that refers to a shielded file is a real fd (opened on the
 *   underlying file, O_CLOEXEC), so fd numbers stay unique and poll/close
 *   work; the shield maps it to its own open-file description (fdtable.c).
 * - A read that fails verification returns EIO and logs one line naming the
 *   file, the chunk and the reason; no wrong plaintext is ever returned.
 */
#ifndef WARD_RUNTIME_SHIELD_H
#define WARD_RUNTIME_SHIELD_H

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

enum shield_kind {
	SHIELD_PLAIN = 0,
	SHIELD_ENCRYPTED,
	SHIELD_AUTHENTICATED,
	SHIELD_EPHEMERAL,
	SHIELD_DENIED,
};

struct shield_region;
struct shield_image;

/* Classification of one path: the region (NULL for plain/denied) and the
 * path relative to the region's root ("" for the root itself). */
struct shield_path {
	enum shield_kind kind;
	struct shield_region *region;
	char abs[PATH_MAX];
	const char *rel; /* points into abs */
	int dir_only;    /* the path ended in "/" (or "/."): it must name a directory */
	int resolved;    /* a link in a volume was followed: abs, not the caller's
			    path, is what the C library must be given */
	int err;         /* resolving the links failed (ELOOP, EIO, ENOENT, ...):
			    kind is SHIELD_DENIED and the call fails with it */
};

/* The path to give the C library for a call the shield passes through:
 * the caller's, unless links in a volume were followed on the way. */
static inline const char *shield_real_path(const struct shield_path *sp, int *dirfd, const char *path)
{
	if (!sp->resolved)
		return path;
	*dirfd = AT_FDCWD;
	return sp->abs;
}

/* A file inside a region, shared by every fd open on it. */
struct shield_node {
	struct shield_region *region;
	char rel[PATH_MAX];
	void *handle;            /* backend's open file */
	pthread_mutex_t lock;    /* serialises backend calls on this file */
	unsigned refs;           /* open-file descriptions using it; under the table lock */
	int unlinked;
	int writable;
	uint64_t ino;            /* the volume's inode number of the file (0: unknown):
				    paths that are hard links of one file share it */
	struct shield_image *img; /* the file's shared-mapping image (mmap.c), or NULL; under shield_table_lock */
};

/* An open-file description: what dup()ed fds share. */
struct shield_ofd {
	struct shield_node *node;
	pthread_mutex_t lock;    /* offset */
	uint64_t offset;
	int flags;               /* O_ACCMODE | O_APPEND | O_NONBLOCK ... */
	unsigned refs;           /* fds mapped to it + in-flight calls; under the table lock */
};

/* Process-wide state. */
int ward_shield_active(void);          /* any region configured */
int ward_shield_deny_outside(void);
void ward_shield_start(void);
void ward_shield_stop(void);           /* at exit: close volumes, remove ephemeral regions */
/* What _exit/_Exit run before the process ends (start.c): fn instead of
 * ward_shield_stop (fn must end by calling it), for the CAS's final tag
 * report. Set once at start, before the program runs. */
void shield_set_exit_hook(void (*fn)(void));
/* What a termination signal does before it ends the process (term.c):
 * commits the files still open and the stores into shared mappings, then
 * runs the signal hook (the CAS's final tag report), leaving the volumes
 * open: other threads may still be writing, and must not meet closed
 * volumes (what they write after the commit is dropped, as by a crash). */
void shield_commit_for_signal(void);
void shield_set_signal_hook(void (*fn)(void)); /* set once at start */
/* term.c: from the first open for writing in a region on, SIGTERM, SIGINT
 * and SIGHUP at their default disposition commit (shield_commit_for_signal)
 * before they end the process. Idempotent. */
void shield_term_arm(void);
/* Ends the periodic write-back, waiting for one in progress: before the
 * volumes are closed (exit, _exit, the CAS's final report). Idempotent. */
void shield_writeback_stop(void);
/* start.c: refuses (status 125, one line) a descriptor the process
 * inherited (a shell redirection) on a file inside an encrypted or
 * ephemeral region. */
void shield_check_inherited_fds(void);
/* regions.c: the program renamed, removed or made a link: directories
 * resolved through the disk's links are resolved again */
void shield_paths_changed(void);
/* io.c: the runtime's log writer once the shield runs (log.h) */
void shield_log_write(const char *buf, size_t n);

/* regions.c */
/* 0 with out filled, or -errno: the caller then passes the call to the C
 * library unchanged (an empty path gets ENOENT there, as natively). A path
 * too long to be placed (PATH_MAX once made absolute) is classified
 * SHIELD_DENIED with an empty abs, and shield_deny() fails it with
 * ENAMETOOLONG: it could lead into a region, so it never reaches the disk
 * unseen. */
int shield_classify(int dirfd, const char *path, struct shield_path *out);
/* As shield_classify, but a last component that is a link in a volume is
 * not followed (lstat, readlink, unlink, rename, O_NOFOLLOW, ...), unless
 * the path ends in "/". Links before the last component are followed. */
int shield_classify_nofollow(int dirfd, const char *path, struct shield_path *out);
int shield_region_add(enum shield_kind kind, const char *root, const char *arg, char *err, size_t errlen);
/* An encrypted region opened read-only (`--volume DIR:KEYFILE:ro`): any
 * number of runs may hold it at once, none writing; writes fail with
 * EROFS. */
int shield_region_add_readonly(const char *root, const char *keyfile, char *err, size_t errlen);
/* An authenticated region of the engine image (manifest outside it). */
int shield_region_add_engine(const char *root, const char *manifest, char *err, size_t errlen);
const char *shield_region_root(const struct shield_region *r);
const char *shield_kind_name(enum shield_kind k);
int shield_reserved_name(const char *name); /* the volume's own metadata entries */
void shield_regions_close(void);
/* Called by regions.c once per region: the backend opens it. */
int shield_region_open_backend(struct shield_region *r, char *err, size_t errlen);
/* Ends the volume library's helper thread (ward_vol_helper_retire), before
 * the process's restrictions are installed: they bind the installing
 * thread and the threads it creates later, which the helper then is. */
void ward_shield_helpers_retire(void);
void shield_region_close_backend(struct shield_region *r);

/* Regions whose key comes from the CAS rather than a key file (the attested
 * start, src/runtime/cas_start.c): opens, or with create makes, the volume
 * at root. The key is copied and wiped once the volume is open. */
struct shield_region *shield_region_add_keyed(const char *root, const uint8_t key[32], int create, char *err,
					      size_t errlen);
/* As shield_region_add_keyed, read-only (a policy volume with read_only:
 * true): never created, shared with other readers, writes EROFS. */
struct shield_region *shield_region_add_keyed_readonly(const char *root, const uint8_t key[32], char *err,
						       size_t errlen);
/* An authenticated region whose manifest lives inside it (for the CAS's
 * authenticated volumes); NULL with err on failure. */
struct shield_region *shield_region_add_authenticated(const char *root, char *err, size_t errlen);
/* The committed tag of an encrypted region (0 or -errno). */
int shield_region_tag(struct shield_region *r, uint8_t tag[32]);
/* fn runs after each commit in an encrypted region (close of a written
 * file, fsync, namespace changes), on the committing thread; durable is 1
 * for fsync/fdatasync, whose caller expects the state to be final. */
void shield_set_commit_hook(void (*fn)(struct shield_region *r, int durable));
void shield_committed(struct shield_region *r, int durable);

/* How many reads or opens failed verification so far (atomic). */
extern unsigned shield_integrity_failures;

/* landlock.c: the kernel backstop for deny-outside (0 ok, -1 errno). */
int shield_landlock_apply(void);

/* fdtable.c. shield_table_lock guards the fd table, the node list, node
 * reference counts and the image pointers and counts of mmap.c. */
extern pthread_mutex_t shield_table_lock;
struct shield_ofd *shield_fd_get(int fd);      /* takes a reference, NULL if not shielded */
void shield_ofd_put(struct shield_ofd *o);
/* As shield_ofd_put; returns the commit error (-errno) when this was the
 * file's last reference and committing it at close failed, else 0. */
int shield_ofd_release(struct shield_ofd *o);
int shield_fd_is(int fd);                       /* cheap test, no reference */
int shield_fd_install(int fd, struct shield_ofd *o); /* takes over one reference */
int shield_fd_forget(int fd);                   /* drops the fd's reference: 0 or the close's commit error */
struct shield_ofd *shield_ofd_new(struct shield_node *n, int flags);
struct shield_node *shield_node_get(struct shield_region *r, const char *rel, int *created);
struct shield_node *shield_node_find(struct shield_region *r, const char *rel); /* referenced or NULL */
void shield_node_put(struct shield_node *n);
/* Commits every file open for writing, durably (as fsync; at _exit). */
void shield_nodes_commit_all(void);
/* The same without fsync and without the stores of shared mappings: what
 * the periodic write-back (term.c) runs. */
void shield_nodes_commit_written(void);
void shield_node_rename(struct shield_region *r, const char *from, const char *to);
void shield_node_unlinked(struct shield_region *r, const char *rel); /* after a successful unlink */
/* With shield_table_lock held: one more reference to n; the image of
 * another node open on the same file as n, or NULL; every node of n's file
 * (n itself included) whose image is from gets to; every node whose image
 * is img loses it. */
void shield_node_hold_locked(struct shield_node *n);
struct shield_image *shield_node_peer_image_locked(struct shield_node *n);
void shield_nodes_set_image_locked(struct shield_node *n, struct shield_image *from, struct shield_image *to);
void shield_nodes_clear_image_locked(struct shield_image *img);

/* backend.c: the volume library behind a region. All return >= 0 or
 * -errno; verification failures are logged there. shield_be_pread, _pwrite,
 * _append, _size, _truncate and _sync (mmap.c) go to the file's image while
 * it is mapped shared, and to the volume (shield_vol_*) otherwise. */
struct ward_vstat;
struct ward_vdirent;
int shield_be_open(struct shield_node *n, int flags, mode_t mode);
ssize_t shield_vol_pread(struct shield_node *n, void *buf, size_t len, uint64_t off);
ssize_t shield_vol_pwrite(struct shield_node *n, const void *buf, size_t len, uint64_t off);
ssize_t shield_vol_append(struct shield_node *n, const void *buf, size_t len, uint64_t *end);
int shield_vol_size(struct shield_node *n, uint64_t *size);
int shield_vol_truncate(struct shield_node *n, uint64_t size);
int shield_vol_sync(struct shield_node *n);
int shield_vol_commit(struct shield_node *n); /* not durable: the periodic write-back (term.c) */
ssize_t shield_be_pread(struct shield_node *n, void *buf, size_t len, uint64_t off);
ssize_t shield_be_pwrite(struct shield_node *n, const void *buf, size_t len, uint64_t off);
ssize_t shield_be_append(struct shield_node *n, const void *buf, size_t len, uint64_t *end);
int shield_be_size(struct shield_node *n, uint64_t *size);
int shield_be_fstat(struct shield_node *n, struct ward_vstat *st);
int shield_be_truncate(struct shield_node *n, uint64_t size);
int shield_be_sync(struct shield_node *n);
/* Commits and frees the backend handle: 0 or the commit's -errno (logged). */
int shield_be_close(struct shield_node *n);
int shield_be_stat(struct shield_region *r, const char *rel, struct ward_vstat *st);
/* 1 when the region's volume takes writes; 0 for an authenticated region,
 * a volume opened read-only (`:ro`, or not ours to write), or none open. */
int shield_be_writable(struct shield_region *r);
int shield_be_unlink(struct shield_region *r, const char *rel);
int shield_be_rename(struct shield_region *r, const char *from, const char *to);
int shield_be_mkdir(struct shield_region *r, const char *rel, mode_t mode);
int shield_be_rmdir(struct shield_region *r, const char *rel);
int shield_be_setattr(struct shield_region *r, const char *rel, int mode, int64_t mtime_ns);
int shield_be_readdir(struct shield_region *r, const char *rel, struct ward_vdirent **out, size_t *n);
/* Symbolic links in a region's volume (encrypted and ephemeral kinds):
 * how many the volume holds (0: paths in it need no resolving); the target
 * of rel when it is a link (its length, at most len) or 0 when rel is not a
 * link or does not exist; readlink(2) of rel (-EINVAL: not a link); and a
 * new link rel to target. Failed verification is logged as for reads. */
uint64_t shield_be_links(struct shield_region *r);
ssize_t shield_be_link_target(struct shield_region *r, const char *rel, char *buf, size_t len);
ssize_t shield_be_readlink(struct shield_region *r, const char *rel, char *buf, size_t len);
int shield_be_symlink(struct shield_region *r, const char *target, const char *rel);
/* A hard link: to becomes another path of the file from (link(2) errors). */
int shield_be_link(struct shield_region *r, const char *from, const char *to);
/* 1 with the name of an entry of directory rel that is missing on disk, 0
 * when none is, or -errno. */
int shield_be_missing(struct shield_region *r, const char *rel, char *name, size_t namelen);
/* Reports rel as missing on disk: one line, and the run's exit status 74. */
void shield_report_missing(struct shield_region *r, const char *rel);

/* io.c helpers shared by stdio.c and mmap.c */
ssize_t shield_read_ofd(struct shield_ofd *o, void *buf, size_t len);
ssize_t shield_write_ofd(struct shield_ofd *o, const void *buf, size_t len);
/* mem_limits.c's mmap asks ward_shield_fd() and hands such fds over. */
int ward_shield_fd(int fd);
void *ward_shield_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
/* mem_limits.c's mmap, after a MAP_FIXED mapping replaced [addr, addr+len). */
void ward_shield_unmapped(void *addr, size_t len);
/* mmap.c: a node just opened joins its file's image (O_TRUNC empties it). */
void shield_image_join(struct shield_node *n, int flags);
/* mmap.c: at exit, before the volumes' tags are reported and the volumes
 * close: every image written back and committed (once; later calls do nothing). */
void shield_images_flush(void);

/* dlopen.c: for dlopen(file): 0 = load file as given (not in a region);
 * 1 = load out instead (a sealed copy of the verified library; *in_region
 * set); -1 = refused (one line logged, errno set). */
int ward_shield_dl_prepare(const char *file, char out[64], int *in_region);

/* Thread-local guard: while set, interposed calls made by the shield or the
 * volume library themselves go straight to the C library. */
extern __thread int shield_inside;

#endif
