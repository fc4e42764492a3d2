/*
 * volume.h: encrypted and authenticated volumes (the on-disk format shared
 * by the runtime's file shield and `ward fs`). docs/volume-format.md holds
 * the byte layout, the crypto and the threat model.
 *
 * Model. A volume is a real directory (app.vol/). Every file keeps its
 * relative path; on disk it holds its ciphertext (encrypted kind: AES-256-GCM
 * per 4 KiB chunk, ciphertext length == plaintext length, so the file's size
 * on disk is normally its plaintext size) or its plaintext (authenticated
 * kind: every chunk checked against a SHA-256 in the manifest). The metadata
 * lives in the reserved entry DIR/.ward-volume/ (WARD_VOL_META_DIR), which is
 * never listed, opened, renamed or removed through this API. An authenticated
 * volume's manifest may live outside the directory (for read-only system
 * trees such as /usr/lib/python3.11).
 *
 * Paths given to this API are relative to the volume root: "a/b.py",
 * "./a/b.py" and "a//b.py" are the same file; "" and "." are the root. ".."
 * components, absolute paths and the reserved entry are refused (-EINVAL,
 * -EACCES).
 *
 * Errors. Every function returns 0 (or a byte count) on success and a
 * negative errno on failure; when err is not NULL it receives one line
 * (no "ward: " prefix, no newline, at most WARD_VOL_ERR_LEN bytes) naming the
 * file, the chunk and the reason, e.g.
 *   "'main.py' chunk 3: authentication failed (data modified, swapped or replayed)"
 * The library never logs, never prints key or plaintext bytes. Codes:
 *   -EIO           a chunk failed verification (the read returns no data)
 *   -EKEYREJECTED  wrong key (the volume's key check does not match)
 *   -EBADMSG       the manifest is malformed, tampered with, or does not
 *                  match expect_tag
 *   -EROFS         write to a volume opened read-only (authenticated volumes
 *                  are always read-only)
 *   -EBUSY         the volume is open for writing by another process;
 *                  -EAGAIN: a writer's open while others read it
 *   -EUCLEAN       the volume's creation was interrupted (incomplete)
 *   others         as the file system would return them (ENOENT, EEXIST,
 *                  ENOTDIR, EISDIR, ENOTEMPTY, ENOSPC, ...)
 *
 * Commit and crash consistency. Writes go to chunk slots that the last
 * committed state does not reference (copy-on-write), and become part of
 * the volume when the file is committed: ward_vf_sync() (durable: fdatasync
 * of data and journal) or ward_vf_close() (written to the kernel, not
 * fsynced; as close(2)). Namespace changes (create, unlink, rename, mkdir,
 * rmdir, setattr) commit at once. After a kill -9 at any point the volume
 * opens; every committed file reads back exactly as committed; uncommitted
 * writes are dropped.
 *
 * Threads. All functions are thread-safe. Many threads may read and write
 * the same ward_vfile (or different handles of the same file) at once;
 * handles of one file share one state, so a write through one is seen by
 * reads through the others. One volume directory may be opened read-write
 * by one process at a time, and not while it is open read-only elsewhere
 * (an flock on the metadata: see "Locks" at the flags below); read-only
 * opens share.
 *
 * Ownership. ward_vol_open() and ward_vf_open() return objects the caller
 * frees with ward_vol_close() / ward_vf_close(); outputs (*out) are only
 * written on success. Keys passed in are copied into derived keys and the
 * caller keeps (and wipes) its own copy.
 */
#ifndef WARD_FS_VOLUME_H
#define WARD_FS_VOLUME_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"
#include <sys/types.h>

#define WARD_VOL_KEY_LEN 32
#define WARD_VOL_TAG_LEN 32
#define WARD_VOL_ERR_LEN 320
#define WARD_VOL_META_DIR ".ward-volume"

typedef struct ward_vol ward_vol;
typedef struct ward_vfile ward_vfile;

enum ward_vol_kind {
	WARD_VOL_ENCRYPTED = 1,
	WARD_VOL_AUTHENTICATED = 2,
};

/* ward_vol_opts.flags
 *
 * WARD_VOL_RDWR: read-write when this process may write the volume's
 * metadata; when it may not (opening its lock or manifest for writing
 * fails with EACCES, EPERM or EROFS: a read-only mount, a volume owned by
 * another user), the volume is opened read-only instead, as with
 * WARD_VOL_RDONLY: writes fail with -EROFS, ward_vol_writable() says 0.
 *
 * WARD_VOL_CREATE: DIR must not exist, be empty, or hold the leftover of
 * an interrupted creation (which is removed: only a volume still marked
 * incomplete, or a metadata directory without a manifest); else
 * -ENOTEMPTY. The new volume is marked incomplete on disk from its first
 * step until its manifest is written, or with WARD_VOL_INCOMPLETE until
 * ward_vol_complete(); meanwhile every other open fails with -EUCLEAN
 * (-EBUSY while the creator has it open).
 *
 * Locks: a read-write open holds the volume's lock exclusively, a
 * read-only open of an encrypted volume shared; neither waits. A
 * read-only open while a writer has the volume fails with -EBUSY; a
 * read-write open fails with -EBUSY while another writer has it and with
 * -EAGAIN while readers do. Authenticated volumes are not locked (they
 * have no writer). */
#define WARD_VOL_RDONLY 0x0
#define WARD_VOL_RDWR 0x1
#define WARD_VOL_CREATE 0x2
#define WARD_VOL_INCOMPLETE 0x4 /* with WARD_VOL_CREATE: incomplete until ward_vol_complete() */

/* The identity of a file on disk, as the kernel reports it (stat): any write
 * changes ctime, which no unprivileged process can set, and a replacement
 * by rename changes the inode. */
struct ward_vol_opts {
	enum ward_vol_kind kind;
	const uint8_t *key;	       /* WARD_VOL_KEY_LEN bytes (encrypted); NULL (authenticated) */
	const char *manifest;	       /* authenticated: manifest file; NULL = DIR/.ward-volume/manifest */
	int flags;		       /* WARD_VOL_RDONLY, WARD_VOL_RDWR, | WARD_VOL_CREATE [| WARD_VOL_INCOMPLETE] */
	const uint8_t *expect_tag;     /* optional WARD_VOL_TAG_LEN bytes: refuse (-EBADMSG) unless the
					* state on disk has exactly this tag */
	/* Optional, authenticated read-only volumes only (else -EINVAL): a
	 * manifest the caller has seen pass the full check before, by its file
	 * identity. See "Trusted manifests" below. */
	const struct ward_file_id *trusted_manifest;
};

/*
 * Trusted manifests. With opts.trusted_manifest, ward_vol_open() skips the
 * manifest's SHA-256 chain (the header check and every record's) when the
 * manifest file it reads has exactly that identity, both before and after
 * reading it. Everything else still runs: the bytes are parsed as untrusted
 * input (magic, version, kind, every record's length and bounds, every
 * entry's path form, type, mode, sizes and chunk list, their order and
 * parents), so a manifest that does not match its identity's history can
 * make the open fail, never read out of bounds. The skip applies only to a
 * manifest that qualifies for the lazy open (one snapshot, see
 * docs/volume-format.md); when the identity differs or the manifest does
 * not qualify, the open fails with -ESTALE and the caller opens again
 * without the option (the full check). The caller's contract: the manifest
 * with this identity passed a full check by this library before, and no
 * one the caller does not trust can change a file without changing its
 * identity (true for unprivileged writers: ctime cannot be set).
 *
 * An open with the option that returns 0 or -ESTALE makes no OpenSSL call,
 * and neither do ward_vol_stat(), ward_vol_readdir() and ward_vol_close() on
 * such a volume as long as no file of it was opened with ward_vf_open()
 * (reads verify chunks with SHA-256) and no tag was asked for: a caller
 * that loads OpenSSL on demand needs it only from then on.
 */

/* Opens (or with WARD_VOL_CREATE creates) the volume in directory dir.
 * Verifies the whole manifest (MAC chain, key check, every length) before
 * returning; a crash leftover (torn journal tail, interrupted namespace
 * operation) is recovered silently. */
/* Reads the I/O tuning switches WARD_VOL_MMAP and WARD_VOL_WARM from the
 * environment (otherwise read at the first read of a volume). A program
 * that clears its environment before then calls this first. */
void ward_vol_read_env(void);

int ward_vol_open(const char *dir, const struct ward_vol_opts *opts, ward_vol **out, char *err);

/* For a volume opened with WARD_VOL_CREATE | WARD_VOL_INCOMPLETE, once it
 * holds what it should: commits every file, writes the manifest as one
 * snapshot, makes everything durable (syncfs), then removes the marker:
 * from then on the volume opens as any other. 0, or the first failure
 * (the volume is still incomplete). -EINVAL for any other volume. */
int ward_vol_complete(ward_vol *v, char *err);

/* For a volume opened with WARD_VOL_CREATE | WARD_VOL_INCOMPLETE and not
 * completed: removes everything it holds (the marker last, so that a
 * removal killed midway still leaves a volume known as incomplete) and
 * frees v, leaving DIR itself (empty) to the caller. 0 or the failure;
 * v is freed regardless. Any other volume: -EINVAL, nothing removed, v
 * closed as by ward_vol_close(). */
int ward_vol_discard(ward_vol *v, char *err);

/* The identity of the manifest file as read by ward_vol_open() (fstat of
 * the descriptor read, before and after reading): 0, or -ESTALE when it
 * changed while being read. */
int ward_vol_manifest_id(const ward_vol *v, struct ward_file_id *id);

/* 1 when the open skipped the manifest's chain check (trusted_manifest). */
int ward_vol_opened_trusted(const ward_vol *v);

/* Commits every dirty file, closes every open handle (they become invalid),
 * compacts the journal when opened read-write, and frees v. Returns the first
 * error met while committing (v is freed regardless). NULL is allowed. */
int ward_vol_close(ward_vol *v, char *err);

/* The volume tag: SHA-256 over the committed state (kind, chunk size,
 * volume id, and every entry's path, type, mode, mtime, size and per-chunk
 * authentication tags or hashes). Any change to a committed byte, name,
 * size, mode or mtime changes it; two volumes with equal tags hold equal
 * contents. Uncommitted writes are not included. */
int ward_vol_tag(ward_vol *v, uint8_t out[WARD_VOL_TAG_LEN]);

enum ward_vol_kind ward_vol_kind_of(const ward_vol *v);
int ward_vol_writable(const ward_vol *v);
/* The directory the volume was opened from (as given). Borrowed. */
const char *ward_vol_dir(const ward_vol *v);

/* Commits every dirty file durably (fdatasync). */
int ward_vol_sync(ward_vol *v, char *err);

struct ward_vstat {
	uint64_t size;	     /* plaintext size (0 for directories) */
	uint32_t mode;	     /* S_IFREG, S_IFDIR or S_IFLNK | permission bits */
	int64_t mtime_ns;    /* modification time, ns since the epoch (also use for ctime) */
	uint64_t ino;	     /* stable inode number for this entry (from its file id) */
	uint32_t nlink;	     /* files: how many paths the file has (1 unless hard-linked;
				ward_vf_stat: 0 once every path is removed); directories
				and symbolic links: 1 (a directory's count is the caller's) */
};

/* Stat by path; follows nothing: a symbolic link gives S_IFLNK | 0777 and
 * the length of its target as size. */
int ward_vol_stat(ward_vol *v, const char *path, struct ward_vstat *st, char *err);

/*
 * Symbolic links (encrypted volumes only). A link is an entry of its own
 * type whose content, sealed and verified as a file's data, is its target:
 * 1..WARD_VOL_MAX_LINK bytes, no NUL, kept verbatim (relative or absolute,
 * it may dangle). The library never follows a link: paths given to any
 * function here name the entry itself, and the caller (the shield, `ward
 * fs cat`) resolves links before it opens a file. On disk a link is a
 * regular file holding its sealed target.
 *
 * ward_vol_symlink: creates path as a link to target (-EEXIST when path
 * exists, -ENOENT/-ENOTDIR for a missing or non-directory parent,
 * -ENOENT for an empty target, -ENAMETOOLONG for a longer one, -EROFS on a
 * read-only or authenticated volume); committed at once.
 * ward_vol_readlink: copies the target into buf (at most len bytes, no NUL,
 * as readlink(2)) and returns its full length; -EINVAL when path is not a
 * link, -EIO (err names the link and the chunk) when it fails verification.
 * ward_vol_links: how many links the volume holds (cheap: a counter), so
 * that callers can skip resolving paths in volumes without any.
 * Other calls on a link: ward_vf_open -ELOOP; ward_vol_unlink removes it;
 * ward_vol_rmdir -ENOTDIR; ward_vol_rename moves it (and replaces a file
 * or link, as rename(2)); ward_vol_setattr sets its mtime, a mode gives
 * -EOPNOTSUPP; ward_vol_readdir lists it with S_IFLNK | 0777.
 */
#define WARD_VOL_MAX_LINK 4095u
int ward_vol_symlink(ward_vol *v, const char *path, const char *target, char *err);
ssize_t ward_vol_readlink(ward_vol *v, const char *path, char *buf, size_t len, char *err);
uint64_t ward_vol_links(ward_vol *v);

/* Hard links (encrypted volumes). ward_vol_link makes `to` a new path of
 * the regular file `from`: both paths are then the same file (one data,
 * one file id, one inode number, one mode and mtime); a write through
 * either is seen through the other (handles of both share the file's
 * state); unlinking one path leaves the others; renaming moves one path.
 * Errors as link(2): -EPERM when from is a directory, -EEXIST when to
 * exists, -ENOENT/-ENOTDIR for a missing from or a bad parent of to,
 * -EMLINK past WARD_VOL_MAX_NLINK paths, -EROFS on a read-only or
 * authenticated volume; a symbolic link as from is refused with -EPERM
 * too (the caller resolves it first, as linkat with AT_SYMLINK_FOLLOW
 * does). Committed at once (a LINK record, then link() on disk).
 *
 * from may be any path of the file. ward_vol_rename of a path onto another path of the same
 * file does nothing and succeeds (rename(2)). ward_vol_readdir lists every
 * path (S_IFREG, the file's mode and inode number); ward_vol_stat of any
 * path gives the file's stat with nlink. The file's data lives on disk in
 * the disk file of one of its paths, the others being hard links (link())
 * of it; removing that path moves the data to another path of the file
 * (the same disk file), and nothing on disk is trusted: reads through any
 * path are verified against the manifest. ward_vol_verify checks that each
 * further path's disk file is the file (the same disk file, or the same
 * bytes: a copy made without keeping hard links). */
#define WARD_VOL_MAX_NLINK 65000u
int ward_vol_link(ward_vol *v, const char *from, const char *to, char *err);

/* Sets the permission bits (mode >= 0, only 07777 kept) and/or the
 * modification time (any value but WARD_VOL_KEEP_MTIME: before 1970 is
 * negative). mode -1 and WARD_VOL_KEEP_MTIME leave a field unchanged. */
#define WARD_VOL_KEEP_MTIME INT64_MIN
int ward_vol_setattr(ward_vol *v, const char *path, int mode, int64_t mtime_ns, char *err);

int ward_vol_unlink(ward_vol *v, const char *path, char *err);
/* As rename(2): replaces an existing file target; a directory moves with
 * its contents; renaming a directory onto a non-empty one fails. */
int ward_vol_rename(ward_vol *v, const char *from, const char *to, char *err);
int ward_vol_mkdir(ward_vol *v, const char *path, unsigned mode, char *err);
int ward_vol_rmdir(ward_vol *v, const char *path, char *err);

struct ward_vdirent {
	const char *name;    /* points inside the same allocation */
	uint32_t mode;	     /* S_IFREG / S_IFDIR / S_IFLNK | permission bits */
	uint64_t ino;
};

/* Lists directory path (sorted by name, without "." and ".."). *out is one
 * allocation the caller frees with free(); *n entries. */
int ward_vol_readdir(ward_vol *v, const char *path, struct ward_vdirent **out, size_t *n, char *err);
/* Whether an entry of directory path is missing on disk (deleted or renamed
 * behind the volume's back): 1 with its name in name, 0 when every entry is
 * there, or -errno. */
int ward_vol_missing(ward_vol *v, const char *path, char *name, size_t namelen, char *err);

/* Opens a file. flags: O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_TRUNC
 * (others ignored; O_APPEND is the caller's business: use ward_vf_append).
 * mode: permission bits for a created file. Opening a directory: -EISDIR.
 * Writing flags on a read-only volume: -EROFS. The file's on-disk size is
 * checked here (truncated or extended on disk: -EIO). */
int ward_vf_open(ward_vol *v, const char *path, int flags, unsigned mode, ward_vfile **out, char *err);

/* Reads up to len bytes at off; returns the count (0 at end of file).
 * Every byte returned has been verified; on a verification failure
 * returns -EIO and nothing in buf may be used. Large reads are decrypted
 * straight into buf (on two threads from 256 KiB up). */
ssize_t ward_vf_pread(ward_vfile *f, void *buf, size_t len, uint64_t off, char *err);

/* Ends the library's helper thread, which shares large reads, writes and
 * the MAC checks of a large manifest between two cores; the next such
 * request starts it again. For a caller about to install restrictions
 * that bind only the calling thread and the threads it creates afterwards
 * (Landlock, a seccomp filter without TSYNC): afterwards, the helper is
 * one of those. Waits for the thread to leave; does nothing while another
 * thread's request has it. */
void ward_vol_helper_retire(void);

/* Writes len bytes at off (a hole before off reads as zeros); returns len.
 * -EBADF when the handle was opened read-only. */
ssize_t ward_vf_pwrite(ward_vfile *f, const void *buf, size_t len, uint64_t off, char *err);

/* Appends atomically at the current end of file; *new_end (may be NULL)
 * receives the size after the write. Returns len. */
ssize_t ward_vf_append(ward_vfile *f, const void *buf, size_t len, uint64_t *new_end, char *err);

int ward_vf_truncate(ward_vfile *f, uint64_t size, char *err);

/* Current plaintext size, including uncommitted writes. */
uint64_t ward_vf_size(ward_vfile *f);

int ward_vf_stat(ward_vfile *f, struct ward_vstat *st);

/* As ward_vol_setattr, on this handle's file wherever it is now (renamed:
 * its new path). A file unlinked or replaced since it was opened keeps
 * the new attributes for its open handles only (ward_vf_stat), as an
 * unlinked file on Linux. Any handle will do (read-only too); -EROFS on a
 * read-only volume. */
int ward_vf_setattr(ward_vfile *f, int mode, int64_t mtime_ns, char *err);

/* Commits this file and makes it durable (fsync/fdatasync semantics). */
int ward_vf_sync(ward_vfile *f, char *err);

/* Commits this file's writes without making them durable, as its close
 * would (the shield's periodic write-back). */
int ward_vf_commit(ward_vfile *f, char *err);

/* Commits this file (not durable, as close(2)) and frees the handle.
 * Returns the commit's error, the handle is freed regardless. NULL allowed. */
int ward_vf_close(ward_vfile *f, char *err);

/* Reads and verifies every byte of every file (and the manifest, already
 * checked by open). Returns 0 or the first failure (-EIO with the file and
 * chunk in err). progress (may be NULL) is called after each file with the
 * bytes verified so far. */
int ward_vol_verify(ward_vol *v, void (*progress)(void *arg, uint64_t done, uint64_t total),
		    void *arg, char *err);

/* Whether the volume's directories hold on disk an entry its manifest does
 * not list: 0 when none does, 1 with the first one named in err, or
 * -errno. ward_vol_verify() fails on one in an encrypted volume; an
 * authenticated tree is one others may add to (a package installed since),
 * so its caller decides (ward fs verify warns: programs under ward run do
 * not see such files). In an authenticated tree, the links that ward fs
 * authenticate leaves out (to directories, dangling) are not counted. */
int ward_vol_find_unlisted(ward_vol *v, char *err);

/* Checks every byte of fd, a regular file the caller opened (and keeps),
 * against the entry of path in a read-only volume (authenticated kind):
 * its size must be the entry's and every chunk's SHA-256 the manifest's.
 * Reads fd with pread (its offset is not moved). 0 when all of it matches,
 * -EIO with the chunk in err when not, -ENOENT/-EISDIR/-EINVAL as usual.
 * The caller decides what a match is worth (the file may change after). */
int ward_vol_verify_fd(ward_vol *v, const char *path, int fd, char *err);

/* What ward_vol_authenticate left out of a plain tree: symbolic links to
 * directories and dangling ones (an authenticated volume holds files and
 * directories only; links to regular files are read as the files).
 * ward_vol_import keeps every link and leaves nothing out. */
#define WARD_VOL_SKIPPED_NAME 4096 /* a volume path (WVOL_MAX_PATH) and its NUL */
struct ward_vol_skipped {
	size_t links;			    /* how many */
	char first[WARD_VOL_SKIPPED_NAME];  /* the first one's path, relative to the tree */
};

/* Copies the plain tree src (directories, regular files, and symbolic
 * links as links with their targets verbatim, never followed; modes and
 * mtimes kept; paths of one regular file, hard links in the tree, stay
 * hard links of one volume file: ward_vol_link) into the root of the writable encrypted volume v,
 * committing each file. Other file types are refused; *skipped (may be
 * NULL) is zeroed. progress (may be NULL) gets bytes done and the total. */
int ward_vol_import(ward_vol *v, const char *src, void (*progress)(void *arg, uint64_t done, uint64_t total),
		    void *arg, struct ward_vol_skipped *skipped, char *err);

/* Decrypts (or copies, verified) the whole volume into out_dir, which must
 * not exist or be empty (-ENOTEMPTY); modes and mtimes kept, links made as
 * symbolic links (symlinkat), the paths of a hard-linked file as hard links
 * (linkat) of the first one written. A file or link that fails verification is
 * not left behind. */
int ward_vol_export(ward_vol *v, const char *out_dir, void (*progress)(void *arg, uint64_t done, uint64_t total),
		    void *arg, char *err);

/* Copies every entry of src into the root of the new, empty, writable
 * encrypted volume dst (another key, another volume id): directories,
 * files (every byte verified on the way; runs of zero blocks left as
 * holes), symbolic links, the paths of a hard-linked file as paths of one
 * file, modes and mtimes. Plaintext stays in memory. For re-keying (ward
 * fs rekey); the caller completes or discards dst. */
int ward_vol_copy(ward_vol *src, ward_vol *dst, void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
		  char *err);

/* Builds the manifest of an authenticated (integrity-only) volume over an
 * existing tree dir without modifying it, writes it atomically to
 * manifest_path (outside dir, or inside DIR/.ward-volume/), and returns
 * the volume tag. The tree is read as ward_vol_import reads it: symlinks
 * to regular files count as the files (their content is pinned; reads
 * through the link are checked), symlinks to directories and dangling ones
 * are left out and counted in *skipped (may be NULL), special files are
 * refused with a message. */
int ward_vol_authenticate(const char *dir, const char *manifest_path, uint8_t tag[WARD_VOL_TAG_LEN],
			  void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
			  struct ward_vol_skipped *skipped, char *err);

/* Loads a volume key file (64 hex digits and an optional newline, or 32
 * raw bytes). When create is set and the file does not exist, generates a
 * fresh key and writes it with mode 0600 (*created = 1). A key file that
 * is readable by group or others is refused (-EPERM) unless it was just
 * created. */
int ward_vol_key_load(const char *path, int create, uint8_t key[WARD_VOL_KEY_LEN], int *created,
		      char *err);

#endif
