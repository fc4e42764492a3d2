/*
 * internal.h: the volume library's private state, shared by its .c files.
 *
 * Locking: vol->mu guards the entry table, the journal and every node's
 * path/refcount/committed fields; node->rw guards the node's working state
 * (chunk references, size, mtime, fds). Order: node->rw before vol->mu.
 */
#ifndef WARD_FS_INTERNAL_H
#define WARD_FS_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "fs/format.h"
#include "fs/volume.h"

static_assert(WARD_VOL_MAX_LINK < WVOL_CHUNK, "a link target is one chunk");

struct cref {
	uint8_t slot; /* WVOL_SLOT_* (encrypted); unused (authenticated) */
	uint8_t v[32]; /* encrypted: nonce[12] tag[16]; authenticated: sha256 */
};

struct ward_hkdf;

struct vnode {
	char *path;	 /* relative, normalized; "" is never stored (root implicit) */
	char *diskpath;	 /* override of path for a read-only open after an interrupted rename */
	uint8_t type;	 /* WVOL_T_FILE / WVOL_T_DIR / WVOL_T_LINK / WVOL_T_HLINK */
	uint8_t maybe_dirty;
	uint8_t unlinked;
	uint32_t mode;	 /* permission bits */
	uint8_t id[WVOL_ID_LEN];
	struct vnode *hnext; /* hash chain (vol->mu) */
	/* hard links (vol->mu): a WVOL_T_HLINK node is one more path of the
	 * file node `file` and holds nothing else (never opened or loaded);
	 * a file node counts its paths (nlink, itself included) and lists its
	 * hard-link nodes (hl, chained by hl_next). hl_target: the file's path
	 * named by an ENTRY record, until the load resolves it (ward_vol.hl_pending). */
	struct vnode *file, *hl, *hl_next;
	uint32_t nlink;
	char *hl_target;
	uint64_t nchild;     /* directories: entries directly below (not kept
				while the volume is lazy: wv_lazy_eager
				counts them before the first change) */

	/* committed state (vol->mu for the table; node->rw while open) */
	int64_t mtime;
	uint64_t size;
	uint64_t main_len;
	struct cref *c;	 /* ceil(size / CHUNK) entries */

	/* working state, while open (node->rw) */
	pthread_rwlock_t rw;
	int refs;	 /* open handles (vol->mu) */
	int loaded;	 /* fds and key ready; set under rw, read elsewhere with wv_loaded() */
	int fd_main, fd_alt;
	uint64_t wsize;
	int64_t wmtime;
	uint64_t wmain_len;
	struct cref *w;	 /* == c when nothing is uncommitted */
	uint64_t wcap;
	uint32_t *dirty; /* indexes of chunks changed since the commit */
	uint8_t *dmark;	 /* 1 per chunk index < dmark_len when listed in dirty */
	uint64_t ndirty, dirty_cap, dmark_len;
	int meta_dirty;	 /* size/mtime changed without chunk changes */
	int dirty_logged;
	int unsynced;	 /* committed without fdatasync */
	uint8_t data_unsynced[2]; /* slot 0 / slot 1 written (or unknown: just loaded) since its last fdatasync */
	uint8_t alt_entry_unsynced; /* its slot-1 file was opened with O_CREAT: the alt directory is synced too */
	uint8_t key[32];
	pthread_mutex_t pool_mu;
	EVP_CIPHER_CTX *pool[4];
	int npool;
	/* read-only shared mappings of slot 0 and slot 1 (map.c); changed
	 * under the write lock, used under the read lock */
	uint8_t *map[2];
	uint64_t maplen[2];
	struct wmap *wm[2]; /* map[slot]'s warm-up state (map.c), or NULL */
	uint8_t nomap;	 /* a mapping failed: this file uses pread */
	unsigned nsmall; /* small reads so far (atomic): mapped after MAP_AFTER (map.c) */
};

/* Whether n's working state is ready. Written under n->rw (release); a
 * reader holding only v->mu (stat, sync, a link's creation) sees the state
 * the loader set up before it, and rechecks under n->rw before using it. */
static inline int wv_loaded(const struct vnode *n)
{
	return __atomic_load_n(&n->loaded, __ATOMIC_ACQUIRE);
}

/*
 * A volume whose manifest is one snapshot (ENTRY records in path order,
 * nothing appended) is opened lazily: the manifest is read into private
 * memory once, every MAC and entry is checked as the eager loader would,
 * and only an index of the entries is built. A node is materialised from
 * its record on first lookup and then cached in the table; listings, path
 * lists and the tag are served from the index. A writable volume stays lazy
 * while it equals its snapshot: before its first change (any record
 * appended, a removal or a rename) wv_lazy_eager materialises every entry,
 * counts the children of directories and drops the index.
 */
struct lazy {
	uint8_t *buf;	/* the verified manifest, in private memory */
	void *map;	/* buf's anonymous mapping (NULL: buf is malloc'ed) */
	size_t maplen;
	uint32_t *rec;	/* offset of entry i's record; entries sorted by path */
	uint32_t n;
	uint32_t *hash;	/* open addressing by path: entry index + 1, 0 = free */
	size_t hmask;
	int index_in_map; /* rec and hash live in map, after buf */
	int have_tag;	/* the tag, once computed (the volume never changes) */
	uint32_t *nl;	/* hard links naming entry i (NULL: the snapshot has none) */
	uint8_t tag[32];
};

struct ward_vol {
	char *dir;
	char *meta;	 /* DIR/.ward-volume */
	char *manifest;
	enum ward_vol_kind kind;
	int writable;
	int dirfd;
	int lockfd;
	int jfd;	 /* manifest, open for appending (writable) */
	pthread_mutex_t mu;
	uint8_t vid[WVOL_ID_LEN];
	uint8_t kmeta[32];
	uint8_t kfile[32];
	struct ward_hkdf *fkeys; /* HKDF from kfile and vid, extracted once: file keys */
	uint8_t last_mac[WVOL_MAC_LEN];
	uint64_t generation;
	uint64_t jlen;		/* bytes of the manifest file */
	uint64_t jsynced;	/* jlen when the manifest was last known on disk (at
				   open, after a snapshot or an fdatasync): a
				   volume sync with nothing appended since
				   skips the fdatasync */
	uint64_t snap_len;	/* bytes of its snapshot part */
	EVP_MAC_CTX *mac;	/* keyed HMAC template (encrypted) */
	EVP_MAC_CTX *macw;	/* a copy of mac, re-initialised for each MAC
				   (at open, then under mu) */

	struct lazy *lz;	/* lazy snapshot (see struct lazy), or NULL */
	uint64_t hl_pending;	/* hard-link entries loaded, their file not yet resolved */
	char *hl_unfinished;	/* read-only open after a LINK record whose disk link
				   is missing: that path (ward_vol_verify) */
	uint64_t nlinks;	/* link entries (ward_vol_links): counted by the
				   lazy index, then kept by every record applied */
	/* the manifest file as read at open (ward_vol_manifest_id) */
	struct ward_file_id mid;
	int mid_ok;		/* mid did not change while the file was read */
	const struct ward_file_id *want_trusted; /* opts.trusted_manifest, during open */
	int trusted;		/* the chain check was skipped (see volume.h) */
	int incomplete;		/* created by this open, its marker still there
				   (format.h, META_INCOMPLETE in volume.c) */
	struct vnode **tab;	/* hash chains, by path (for a lazy volume: the
				   nodes materialised so far) */
	size_t tcap, tcount;
	/* the last record read at open: its disk operation may be unfinished */
	char *alias_from, *alias_to; /* read-only open after an interrupted rename */
	char *leftover;		     /* read-only open after an interrupted unlink: the path still on disk */
	uint32_t last_type;
	uint8_t *last_payload;
	size_t last_len;
};

struct ward_vfile {
	ward_vol *v;
	struct vnode *n;
	int flags;
};

/* errors.c-style helper: formats err (may be NULL) and returns code. */
int wv_fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* path.c */
int wv_path_norm(const char *in, char *out, size_t outlen, char *err);
const char *wv_basename(const char *p);

/* table (volume.c). wv_find: the node of path, materialised first when the
 * volume is lazy: 0 and *out, -ENOENT when the volume has no such entry, or
 * -ENOMEM (a lazy volume could not materialise it: the entry exists, so
 * this must never be reported as "no such file"; -EIO cannot happen, see
 * wv_find_why). wv_lookup: the same, NULL
 * for both failures; only where a lazy volume cannot reach (a volume being
 * loaded or made eager) or both failures mean the same. Caller holds v->mu. */
int wv_find(ward_vol *v, const char *path, struct vnode **out);
/* the reason for a wv_find failure other than -ENOENT (-EIO: an entry
 * checked at open no longer parses, which cannot happen) */
static inline const char *wv_find_why(int rc)
{
	return rc == -ENOMEM ? "out of memory" : "internal error (an entry checked at open no longer parses)";
}
struct vnode *wv_lookup(ward_vol *v, const char *path);
/* the file node a path's node stands for: itself, or a hard link's file */
static inline struct vnode *wv_file_of(struct vnode *n)
{
	return n != NULL && n->type == WVOL_T_HLINK ? n->file : n;
}
/* the file type bits of an entry type (S_IFREG, S_IFDIR, S_IFLNK) */
static inline uint32_t wv_type_mode(uint8_t type)
{
	return type == WVOL_T_DIR ? S_IFDIR : type == WVOL_T_LINK ? S_IFLNK : S_IFREG;
}
int wv_insert(ward_vol *v, struct vnode *n);
void wv_remove(ward_vol *v, struct vnode *n);
struct vnode *wv_node_new(const char *path, uint8_t type);
void wv_node_free(struct vnode *n);
uint64_t wv_nchunks(uint64_t size);

/* manifest.c */
/* lazy volumes (see struct lazy): the node of path, materialised and cached:
 * 0 and *out, -ENOENT (no such entry), -ENOMEM (or -EIO: see wv_find_why);
 * caller holds v->mu */
int wv_lazy_node(ward_vol *v, const char *path, struct vnode **out);
/* stat of path from its record, without materialising a node (0 or
 * -ENOENT; -EAGAIN for a hard link: the caller looks its node up with
 * wv_find, as its file may be open); caller holds v->mu and found no node
 * in the table */
int wv_lazy_stat(ward_vol *v, const char *path, struct ward_vstat *st);
/* the children of directory dir ("" = root), sorted by name; 0 or -ENOMEM */
int wv_lazy_readdir(ward_vol *v, const char *dir, struct ward_vdirent **out, size_t *n);
void wv_lazy_free(struct lazy *lz);
/* a lazy volume becomes eager (see struct lazy); no-op when not lazy; 0 or
 * -ENOMEM (then still lazy and unchanged); caller holds v->mu */
int wv_lazy_eager(ward_vol *v);
/* calls fn(v, path) for each file entry flagged as maybe longer on disk
 * than committed (WVOL_EF_MAYBE_DIRTY), in path order, until fn returns
 * non-zero (returned); fn may materialise nodes. Caller holds v->mu or
 * v is not shared yet. */
int wv_lazy_each_flagged(ward_vol *v, int (*fn)(ward_vol *v, const char *path));
/* tests: open every volume eagerly (compare lazy and eager results) */
extern int wv_lazy_disabled;
/* tests: when set to N > 0, the Nth allocation made while materialising a
 * lazy volume's node fails (then it is 0 again: one failure) */
extern int wv_lazy_fail_alloc;
/* every path of the volume, sorted (strdup'ed); caller holds v->mu */
int wv_all_paths(ward_vol *v, char ***out, size_t *n);
int wv_apply(ward_vol *v, uint32_t type, const uint8_t *p, size_t len, int loading, char *why, size_t whylen);
struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
const uint8_t *rd_bytes(struct rd *r, size_t n);
/* reads a u16-prefixed path into out (NUL-terminated); 0 or -1 */
int rd_path(struct rd *r, char *out, size_t outlen);
size_t wv_cref_len(const ward_vol *v);
int wv_manifest_load(ward_vol *v, const uint8_t *key, char *err);
int wv_manifest_append(ward_vol *v, uint32_t type, const uint8_t *payload, size_t len, char *err);
/* Appends a DIRTY record for path: its main file may be longer on disk
 * than committed until its next commit (format.h invariant 5). v->mu
 * held, or v not shared yet (the open). */
int wv_manifest_dirty(ward_vol *v, const char *path, char *err);
int wv_manifest_snapshot(ward_vol *v, char *err);
int wv_manifest_init(ward_vol *v, const uint8_t *key, const uint8_t vid[WVOL_ID_LEN], char *err);
int wv_tag(ward_vol *v, uint8_t out[32]);
void wv_put_cref(const ward_vol *v, uint8_t *p, const struct cref *c);
int wv_derive(const uint8_t *key, const uint8_t vid[WVOL_ID_LEN], const char *label,
	      const uint8_t *extra, size_t extralen, uint8_t out[32]);
/* The key of the file with this id: wv_derive(kfile, vid, "ward-vol file
 * key", id), through v->fkeys (thread-safe). 0 or -1. */
int wv_file_key(ward_vol *v, const uint8_t id[WVOL_ID_LEN], uint8_t out[32]);

/* byte buffer for building records */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
	int fixed; /* p is not ours (a caller's buffer of cap bytes): never grown */
};
void wb_put(struct wbuf *b, const void *d, size_t n);
void wb_u8(struct wbuf *b, uint8_t x);
void wb_u16(struct wbuf *b, uint16_t x);
void wb_u32(struct wbuf *b, uint32_t x);
void wb_u64(struct wbuf *b, uint64_t x);
void wb_str(struct wbuf *b, const char *s);

/* volume.c */
int wv_create_locked(ward_vol *v, const char *p, uint8_t type, unsigned mode, char *err);
/* manifest.c: removes n from the table (the link counter, the parent's
 * children) and frees it unless it is open; caller holds v->mu */
void wv_drop_node(ward_vol *v, struct vnode *n);
/* manifest.c: attaches every hard-link entry loaded to its file (0), or
 * says in why which one names no file of the volume (-1) */
int wv_hl_resolve(ward_vol *v, char *why, size_t whylen);
/* manifest.c: whether a link entry's fields are possible: a target of
 * 1..WARD_VOL_MAX_LINK bytes, mode 0777, never flagged dirty */
int wv_link_ok(uint64_t size, uint32_t mode, uint8_t flags);

/* worker.c: runs fn over [lo, hi) in pieces of `grain` shared between the
 * caller and a helper thread (all inline when the helper is busy); fn may
 * run concurrently on disjoint pieces, in any order. Returns the first
 * non-zero result. */
int wv_parallel(int (*fn)(void *arg, uint64_t lo, uint64_t hi), void *arg, uint64_t lo, uint64_t hi,
		uint64_t grain);
/* worker.c: this thread's scratch buffer of at least len bytes, 64-byte
 * aligned (kept for the thread's lifetime, freed at its exit; NULL when out
 * of memory). For ciphertext (or an authenticated volume's public bytes)
 * only: it is not wiped. */
uint8_t *wv_scratch(size_t len);
/* worker.c: this thread's buffer for building a manifest record (public
 * bytes: not wiped), at least len bytes, kept between calls so that a large
 * commit does not fault in fresh pages every time (each first touch of a
 * page is expensive on virtual machines); wv_record_buf_done() releases it
 * when it is larger than WV_RECORD_BUF_KEEP. */
#define WV_RECORD_BUF_KEEP (8u << 20)
uint8_t *wv_record_buf(size_t len);
void wv_record_buf_done(void);

/* map.c: wv_map_enabled() installs the SIGBUS guard on first use (0 when
 * mappings are off or the guard could not be installed); wv_map_slot()
 * (re)maps a slot to cover at least `need` bytes (keeps no mapping on
 * failure: reads then use pread); a guarded access sets wv_map_guard to a
 * sigsetjmp buffer of the same thread and clears it after. */
extern __thread sigjmp_buf *wv_map_guard;
int wv_map_enabled(void);
void wv_map_slot(struct vnode *n, uint8_t slot, uint64_t need);
void wv_map_drop(struct vnode *n, uint8_t slot);
/* map.c: whether bytes [a, b) of slot's mapping (which covers them) should
 * be read from it now (1) or through pread (0: a page of the range has not
 * been touched in this process yet, and its first touch costs more than a
 * pread; see "Warm-up" in map.c). Called under the node's read lock; the
 * first call for a mapping starts its warm-up. */
int wv_map_hot(struct vnode *n, uint8_t slot, uint64_t a, uint64_t b);
/* map.c: counts one small read of n (one that may read from a mapping) and
 * says whether the file is worth mapping yet: not before MAP_AFTER of
 * them, which are served by pread anyway (their windows are cold), so a
 * file read a few times (a module, a library's copy) never pays for a
 * mapping it would not use. Called under the node's read lock. */
int wv_map_wanted(struct vnode *n);
/* map.c, for tests: warm-up jobs finished, stopped early because their
 * file dropped the mapping, and stopped by a fault (file shortened on
 * disk); wv_map_warm_test() holds the warm-up thread before each job
 * (hold) and makes it ignore page-cache residency (all: touch every page
 * of the file), and queues a mapping at its first cold read instead of
 * after WARM_AFTER (and maps a file at its first small read instead of
 * after MAP_AFTER); wv_map_warm_wait() waits until no job is queued or
 * running, then fills the counters. */
struct wv_warm_stats {
	uint64_t done, stopped, faulted;
};
void wv_map_warm_test(int hold, int all);
void wv_map_warm_wait(struct wv_warm_stats *st);

/* file.c */
int wv_node_commit(ward_vol *v, struct vnode *n, int durable, char *err);
/* file.c: writes target (len bytes) as the content of the link n, just
 * created (CREATE record applied, refs 0, unreachable by others since the
 * caller holds v->mu from the creation on), and commits it with the
 * CHUNKS record of a file's commit; n is unloaded again. 0 or -errno
 * (then nothing is committed: the caller removes the link). */
int wv_link_fill_locked(ward_vol *v, struct vnode *n, const char *target, size_t len, char *err);
int wv_node_load(ward_vol *v, struct vnode *n, char *err);
void wv_node_unload(struct vnode *n);
int wv_disk_path(ward_vol *v, struct vnode *n, char *out, size_t outlen);
int wv_alt_path(ward_vol *v, const uint8_t id[WVOL_ID_LEN], char *out, size_t outlen);
int64_t wv_now_ns(void);

#endif
