/*
 * file.c: file handles over a volume: chunked AES-256-GCM (encrypted kind)
 * or SHA-256-checked plaintext (authenticated kind), copy-on-write between
 * the two chunk slots, and commits. docs/volume-format.md, "Chunks" and
 * "Commit and crash consistency".
 *
 * A chunk i covers plaintext [i*4096, min((i+1)*4096, size)). Its
 * ciphertext has the same length and lives in slot 0 (the file itself, at
 * i*4096) or slot 1 (.ward-volume/alt/<id>, at i*4096), or nowhere (hole).
 * AAD = "WVC1" || file id || u64 index; nonce random per write; the
 * manifest keeps (slot, nonce, tag), which pins the exact version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core/crypto.h"
#include "core/util.h"
#include "fs/internal.h"

#define C WVOL_CHUNK
#define PAR_MIN_CHUNKS 64 /* 256 KiB: below this one core is quicker than a hand-off */
#define WBATCH_CHUNKS 4096 /* chunks per seal_chunks call (16 MiB; 116 KiB of nonces and tags) */

/* ---- paths ---- */

int wv_alt_path(ward_vol *v, const uint8_t id[WVOL_ID_LEN], char *out, size_t outlen)
{
	char hx[2 * WVOL_ID_LEN + 1];
	(void)v;
	ward_hex(id, WVOL_ID_LEN, hx);
	return snprintf(out, outlen, "%s/alt/%s", WARD_VOL_META_DIR, hx) < (int)outlen ? 0 : -1;
}

int wv_disk_path(ward_vol *v, struct vnode *n, char *out, size_t outlen)
{
	const char *p = n->path;
	if (v->alias_to != NULL) {
		size_t l = strlen(v->alias_to);
		if (strncmp(p, v->alias_to, l) == 0 && (p[l] == '\0' || p[l] == '/'))
			return snprintf(out, outlen, "%s%s", v->alias_from, p + l) < (int)outlen ? 0 : -1;
	}
	return ward_strlcpy(out, p, outlen);
}

/* ---- crypto contexts ---- */

static EVP_CIPHER_CTX *ctx_get(struct vnode *n)
{
	EVP_CIPHER_CTX *c = NULL;
	pthread_mutex_lock(&n->pool_mu);
	if (n->npool > 0)
		c = n->pool[--n->npool];
	pthread_mutex_unlock(&n->pool_mu);
	if (c != NULL)
		return c;
	c = EVP_CIPHER_CTX_new();
	if (c == NULL || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, n->key, NULL, 0) != 1) {
		ERR_clear_error();
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

static void ctx_put(struct vnode *n, EVP_CIPHER_CTX *c)
{
	pthread_mutex_lock(&n->pool_mu);
	if (n->npool < (int)WARD_ARRAY_LEN(n->pool)) {
		n->pool[n->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&n->pool_mu);
	EVP_CIPHER_CTX_free(c);
}

static void make_aad(const struct vnode *n, uint64_t idx, uint8_t aad[28])
{
	memcpy(aad, "WVC1", 4);
	memcpy(aad + 4, n->id, WVOL_ID_LEN);
	for (int i = 0; i < 8; i++)
		aad[20 + i] = (uint8_t)(idx >> (8 * i));
}

/* GCM with a keyed context: enc=1 seals (tag out), enc=0 opens (tag in).
 * Only the IV is reset per chunk (the key schedule stays in the context);
 * the tag moves through a prepared OSSL_PARAM (cheaper than the ctrl call,
 * which builds one per call). */
static int gcm_chunk(EVP_CIPHER_CTX *c, int enc, const struct vnode *n, uint64_t idx, const uint8_t nonce[12],
		     const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[16])
{
	uint8_t aad[28];
	int ol = 0;
	OSSL_PARAM tp[2] = { OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, 16), OSSL_PARAM_END };
	make_aad(n, idx, aad);
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &ol, aad, sizeof(aad)) != 1 ||
	    (len > 0 && EVP_CipherUpdate(c, out, &ol, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_set_params(c, tp) != 1) ||
	    EVP_CipherFinal_ex(c, out + ol, &ol) != 1 ||
	    (enc && EVP_CIPHER_CTX_get_params(c, tp) != 1)) {
		ERR_clear_error();
		if (!enc)
			OPENSSL_cleanse(out, len);
		return -1;
	}
	return 0;
}

/* ---- load / unload ---- */

static int open_alt(ward_vol *v, struct vnode *n, int create)
{
	char ap[64];
	if (n->fd_alt >= 0)
		return 0;
	if (wv_alt_path(v, n->id, ap, sizeof(ap)) != 0)
		return -1;
	if (n->unlinked && create) {
		n->fd_alt = openat(v->dirfd, WARD_VOL_META_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		return n->fd_alt >= 0 ? 0 : -1;
	}
	int flags = (v->writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT : 0) | O_CLOEXEC | O_NOFOLLOW;
	n->fd_alt = openat(v->dirfd, ap, flags, 0600);
	/* The alternate store's directory is empty until a chunk is first
	 * rewritten, and copies that skip empty directories (git, some backup
	 * and archive tools) drop it: made again when it is needed. */
	if (n->fd_alt < 0 && errno == ENOENT && create && v->writable &&
	    (mkdirat(v->dirfd, WARD_VOL_META_DIR "/alt", 0700) == 0 || errno == EEXIST))
		n->fd_alt = openat(v->dirfd, ap, flags, 0600);
	if (n->fd_alt >= 0 && create)
		n->alt_entry_unsynced = 1;
	return n->fd_alt >= 0 ? 0 : -1;
}

/* Opens n's disk file by path; the caller holds v->mu. -1 with *eno set
 * when it failed (ENAMETOOLONG, ESTALE: removed or replaced meanwhile). */
static int open_main_locked(ward_vol *v, struct vnode *n, int *eno)
{
	char dp[WVOL_MAX_PATH + 1];
	if (n->unlinked) {
		*eno = ESTALE;
		return -1;
	}
	if (wv_disk_path(v, n, dp, sizeof(dp)) != 0) {
		*eno = ENAMETOOLONG;
		return -1;
	}
	/* An authenticated tree records a link to a regular file as that file
	 * (tree.c, walk_dir), so its disk path is followed: every byte read is
	 * checked against the manifest wherever it comes from, and O_NONBLOCK
	 * keeps a FIFO put in its place from blocking the open (load_rest
	 * refuses anything but a regular file). An encrypted volume never
	 * follows one: its files are written, and its links are sealed files. */
	int follow = v->kind == WARD_VOL_AUTHENTICATED;
	n->fd_main = openat(v->dirfd, dp,
			    (v->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | (follow ? O_NONBLOCK : O_NOFOLLOW));
	/* created, crash before the disk file: only an empty main file can be
	 * missing legitimately (a missing file with committed data is reported,
	 * never replaced by an empty one) */
	if (n->fd_main < 0 && errno == ENOENT && v->writable && n->main_len == 0)
		n->fd_main = openat(v->dirfd, dp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	*eno = errno;
	return n->fd_main >= 0 ? 0 : -1;
}

/* The rest of a load once open_main_locked has run (open_errno: its
 * errno when it failed). */
static int load_rest(ward_vol *v, struct vnode *n, int open_errno, char *err)
{
	struct stat st;
	if (open_errno == ESTALE && n->fd_main < 0)
		return wv_fail(err, -ESTALE, "'%s/%s': removed or replaced meanwhile", v->dir, n->path);
	if (open_errno == ENAMETOOLONG && n->fd_main < 0)
		return wv_fail(err, -ENAMETOOLONG, "'%s/%s': path too long", v->dir, n->path);
	if (n->fd_main < 0) {
		int e = open_errno;
		if (!(e == ENOENT && n->main_len == 0)) {
			if (e == ENOENT || e == ELOOP)
				return wv_fail(err, -EIO, "'%s/%s': file missing on disk (deleted or renamed outside the enclave)",
					       v->dir, n->path);
			return wv_fail(err, -e, "cannot open '%s/%s': %s", v->dir, n->path, strerror(e));
		}
	}
	uint64_t disk = 0;
	if (n->fd_main >= 0) {
		if (fstat(n->fd_main, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(n->fd_main);
			n->fd_main = -1;
			return wv_fail(err, -EIO, "'%s/%s': not a regular file on disk", v->dir, n->path);
		}
		disk = (uint64_t)st.st_size;
	}
	if (disk < n->main_len || (disk > n->main_len && !n->maybe_dirty)) {
		if (n->fd_main >= 0)
			close(n->fd_main);
		n->fd_main = -1;
		return wv_fail(err, -EIO, "'%s/%s': file %s on disk (%llu bytes, expected %llu)", v->dir, n->path,
			       disk < n->main_len ? "truncated" : "extended", (unsigned long long)disk,
			       (unsigned long long)n->main_len);
	}
	if (v->kind == WARD_VOL_ENCRYPTED &&
	    wv_file_key(v, n->id, n->key) != 0) {
		close(n->fd_main);
		n->fd_main = -1;
		return wv_fail(err, -ENOMEM, "cannot derive a file key");
	}
	n->w = n->c;
	n->wcap = 0;
	n->wsize = n->size;
	n->wmtime = n->mtime;
	n->wmain_len = disk > n->main_len ? disk : n->main_len;
	/* what an earlier opener wrote may not be durable yet: the first
	 * fsync syncs both stores */
	n->data_unsynced[WVOL_SLOT_MAIN] = n->data_unsynced[WVOL_SLOT_ALT] = 1;
	__atomic_store_n(&n->loaded, 1, __ATOMIC_RELEASE);
	return 0;
}

int wv_node_load(ward_vol *v, struct vnode *n, char *err)
{
	int eno = 0;
	if (n->loaded)
		return 0;
	/* The disk file is opened by path under the volume lock: another
	 * thread's rename or unlink (which hold it) may otherwise have put a
	 * different file at that path, or removed it, since n was looked up. */
	pthread_mutex_lock(&v->mu);
	(void)open_main_locked(v, n, &eno);
	pthread_mutex_unlock(&v->mu);
	return load_rest(v, n, eno, err);
}

void wv_node_unload(struct vnode *n)
{
	if (!n->loaded)
		return;
	if (n->fd_main >= 0)
		close(n->fd_main);
	if (n->fd_alt >= 0)
		close(n->fd_alt);
	n->fd_main = n->fd_alt = -1;
	wv_map_drop(n, WVOL_SLOT_MAIN);
	wv_map_drop(n, WVOL_SLOT_ALT);
	n->nomap = 0;
	n->nsmall = 0; /* counted per load: a file opened often but read little is not mapped */
	if (n->w != n->c)
		free(n->w);
	n->w = NULL;
	free(n->dirty);
	free(n->dmark);
	n->dirty = NULL;
	n->dmark = NULL;
	n->ndirty = n->dirty_cap = n->dmark_len = 0;
	for (int i = 0; i < n->npool; i++)
		EVP_CIPHER_CTX_free(n->pool[i]);
	n->npool = 0;
	ward_wipe(n->key, sizeof(n->key));
	__atomic_store_n(&n->loaded, 0, __ATOMIC_RELEASE);
}

/* ---- handles ---- */

static void unref(ward_vol *v, struct vnode *n)
{
	int fr = 0;
	pthread_mutex_lock(&v->mu);
	if (--n->refs == 0) {
		if (n->unlinked)
			fr = 1;
		else
			wv_node_unload(n);
	}
	pthread_mutex_unlock(&v->mu);
	if (fr)
		wv_node_free(n);
}

static int truncate_locked(ward_vol *v, struct vnode *n, uint64_t size, char *err);

int ward_vf_open(ward_vol *v, const char *path, int flags, unsigned mode, ward_vfile **out, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	int acc = flags & O_ACCMODE, wr = acc != O_RDONLY || (flags & O_TRUNC), rc;
	struct vnode *n;
	ward_vfile *f;

	if ((rc = wv_path_norm(path, p, sizeof(p), err)) != 0)
		return rc;
	if (p[0] == '\0')
		return wv_fail(err, -EISDIR, "the volume root is a directory");
	if (wr && !v->writable)
		return wv_fail(err, -EROFS, "'%s/%s': volume is read-only", v->dir, p);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return wv_fail(err, -ENOMEM, "out of memory");
	/* another thread may remove or replace the file between the lookup and
	 * the load (ESTALE): look the path up again, as the kernel would see
	 * the old file, the new one or none */
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&v->mu);
		rc = wv_find(v, p, &n);
		n = wv_file_of(n); /* a hard link: its file's one shared state */
		if (rc != 0 && rc != -ENOENT) {
			rc = wv_fail(err, rc, "'%s/%s': %s", v->dir, p, wv_find_why(rc));
		} else if (n == NULL) {
			rc = 0;
			if (!(flags & O_CREAT))
				rc = wv_fail(err, -ENOENT, "'%s/%s': no such file", v->dir, p);
			else if (!v->writable)
				rc = wv_fail(err, -EROFS, "'%s/%s': volume is read-only", v->dir, p);
			else if ((rc = wv_create_locked(v, p, WVOL_T_FILE, mode, err)) == 0)
				n = wv_lookup(v, p);
		} else if ((flags & O_CREAT) && (flags & O_EXCL)) {
			rc = wv_fail(err, -EEXIST, "'%s/%s' exists", v->dir, p);
		} else if (n->type == WVOL_T_DIR) {
			rc = wv_fail(err, -EISDIR, "'%s/%s' is a directory", v->dir, p);
		} else if (n->type == WVOL_T_LINK) {
			/* the library never follows a link (volume.h) */
			rc = wv_fail(err, -ELOOP, "'%s/%s' is a symbolic link (resolve it first)", v->dir, p);
		}
		if (rc != 0 || n == NULL) {
			pthread_mutex_unlock(&v->mu);
			free(f);
			return rc ? rc : wv_fail(err, -EIO, "internal error creating '%s'", p);
		}
		n->refs++;
		pthread_mutex_unlock(&v->mu);

		pthread_rwlock_wrlock(&n->rw);
		rc = wv_node_load(v, n, err);
		if (rc == 0 && (flags & O_TRUNC) && acc != O_RDONLY)
			rc = truncate_locked(v, n, 0, err);
		pthread_rwlock_unlock(&n->rw);
		if (rc == -ESTALE && tries < 100) {
			unref(v, n);
			continue;
		}
		if (rc != 0) {
			unref(v, n);
			free(f);
			return rc == -ESTALE ? -ENOENT : rc;
		}
		break;
	}
	f->v = v;
	f->n = n;
	f->flags = flags;
	*out = f;
	return 0;
}

uint64_t ward_vf_size(ward_vfile *f)
{
	return __atomic_load_n(&f->n->wsize, __ATOMIC_RELAXED);
}

int ward_vf_stat(ward_vfile *f, struct ward_vstat *st)
{
	struct vnode *n = f->n;
	pthread_rwlock_rdlock(&n->rw);
	st->size = n->wsize;
	st->mtime_ns = n->wmtime;
	st->mode = S_IFREG | n->mode;
	uint64_t x = 0;
	memcpy(&x, n->id, sizeof(x));
	st->ino = x | 1;
	pthread_mutex_lock(&f->v->mu); /* node->rw before vol->mu */
	st->nlink = n->unlinked ? 0 : n->nlink;
	pthread_mutex_unlock(&f->v->mu);
	pthread_rwlock_unlock(&n->rw);
	return 0;
}

int ward_vf_setattr(ward_vfile *f, int mode, int64_t mtime_ns, char *err)
{
	struct vnode *n = f->n;
	ward_vol *v = f->v;
	char p[WVOL_MAX_PATH + 1];
	int unlinked;
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	pthread_mutex_lock(&v->mu);
	unlinked = n->unlinked;
	if (!unlinked && snprintf(p, sizeof(p), "%s", n->path) >= (int)sizeof(p))
		unlinked = -1;
	pthread_mutex_unlock(&v->mu);
	if (unlinked < 0)
		return wv_fail(err, -ENAMETOOLONG, "path too long");
	if (!unlinked)
		return ward_vol_setattr(v, p, mode, mtime_ns, err);
	/* Unlinked or replaced: only the open handles see it, nothing to commit. */
	pthread_rwlock_wrlock(&n->rw);
	pthread_mutex_lock(&v->mu);
	if (mode >= 0)
		n->mode = (uint32_t)mode & 07777;
	if (mtime_ns != WARD_VOL_KEEP_MTIME)
		__atomic_store_n(&n->wmtime, mtime_ns, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&v->mu);
	pthread_rwlock_unlock(&n->rw);
	return 0;
}

/* ---- reading ---- */

static int slot_fd(ward_vol *v, struct vnode *n, uint8_t slot)
{
	(void)v; /* the alt store is opened under the write lock before reads */
	return slot == WVOL_SLOT_MAIN ? n->fd_main : n->fd_alt;
}

static size_t clen_of(uint64_t size, uint64_t i)
{
	uint64_t cs = i * C;
	return size - cs < C ? (size_t)(size - cs) : C;
}

/* verifies chunk i whose stored bytes are in `in` and puts its plaintext in
 * `out` (may equal in); on failure out is wiped */
static int open_chunk(ward_vol *v, struct vnode *n, EVP_CIPHER_CTX *c, uint64_t i, const uint8_t *in, uint8_t *out,
		      size_t len)
{
	const struct cref *r = &n->w[i];
	if (v->kind == WARD_VOL_ENCRYPTED) {
		uint8_t tag[16];
		memcpy(tag, r->v + 12, 16);
		return gcm_chunk(c, 0, n, i, r->v, in, out, len, tag);
	}
	uint8_t h[32];
	if (ward_sha256(in, len, h) != 0 || !ward_ct_equal(h, r->v, 32)) {
		OPENSSL_cleanse(out, len);
		return -1;
	}
	if (out != in)
		memcpy(out, in, len);
	return 0;
}

static int chunk_error(ward_vol *v, struct vnode *n, uint64_t i, char *err)
{
	if (v->kind == WARD_VOL_ENCRYPTED)
		return wv_fail(err, -EIO,
			       "'%s/%s' chunk %llu: authentication failed (data modified, swapped or replayed outside the enclave)",
			       v->dir, n->path, (unsigned long long)i);
	return wv_fail(err, -EIO, "'%s/%s' chunk %llu: content does not match the manifest (modified outside the enclave)",
		       v->dir, n->path, (unsigned long long)i);
}

/* A run of whole chunks [lo, hi) in one slot: SUB chunks per pread into the
 * thread's aligned scratch buffer (where they stay in the L2 cache), then
 * opened from there straight into the caller's buffer. The kernel's copy is
 * then fast whatever the caller's alignment, and the caller's buffer only
 * ever holds verified plaintext. Large runs are split between the caller
 * and the helper thread. Failures record the lowest failing chunk; the
 * caller then wipes the buffer and names that chunk. */
#define SUB 32 /* chunks per pread / pwrite (128 KiB) */

enum { BAD_NONE, BAD_AUTH, BAD_SHORT, BAD_IO };

struct rrun {
	ward_vol *v;
	struct vnode *n;
	int fd;
	const uint8_t *map; /* the slot's mapping when it covers the run, else NULL */
	uint8_t *buf;	/* chunk `first` at buf[0] */
	uint64_t first;
	pthread_mutex_t mu;
	uint64_t bad;	/* lowest failing chunk (UINT64_MAX: none) */
	int kind, eno;
};

static int rrun_fail(struct rrun *r, uint64_t k, int kind, int eno)
{
	pthread_mutex_lock(&r->mu);
	if (k < r->bad) {
		__atomic_store_n(&r->bad, k, __ATOMIC_RELAXED);
		r->kind = kind;
		r->eno = eno;
	}
	pthread_mutex_unlock(&r->mu);
	return -1;
}

/* Copies one stored chunk out of a mapping under the SIGBUS guard: 0, or
 * -1 when the file was shortened outside the enclave (the access faulted).
 * Chunks are verified only in private memory: the mapping is shared with
 * the disk, so a writer outside could change bytes between a check made
 * there and their use (a hash, then a copy; GCM's tag, then its tail). */
static int map_copy(const uint8_t *from, uint8_t *to, size_t len)
{
	sigjmp_buf jb;
	if (sigsetjmp(jb, 0) != 0)
		return -1;
	wv_map_guard = &jb;
	memcpy(to, from, len);
	wv_map_guard = NULL;
	return 0;
}

/* Opens chunks [lo, hi) from the slot's mapping into the caller's buffer,
 * each copied to private memory first (map_copy). A fault fails the read
 * as a short pread would. */
static int rrun_mapped(struct rrun *r, EVP_CIPHER_CTX **cp, uint64_t lo, uint64_t hi)
{
	struct vnode *n = r->n;
	uint8_t priv[C] __attribute__((aligned(64)));

	for (uint64_t i = lo; i < hi; i++) {
		size_t len = clen_of(n->wsize, i);
		if (i + 1 < hi) /* the page cache is not contiguous: the hardware prefetcher stops at each page */
			for (size_t o = 0; o < C; o += 64)
				__builtin_prefetch(r->map + (i + 1) * C + o);
		if (map_copy(r->map + i * C, priv, len) != 0)
			return rrun_fail(r, i, BAD_SHORT, 0);
		if (open_chunk(r->v, n, *cp, i, priv, r->buf + (i - r->first) * C, len) != 0)
			return rrun_fail(r, i, BAD_AUTH, 0);
	}
	return 0;
}

static int rrun_part(void *arg, uint64_t lo, uint64_t hi)
{
	struct rrun *r = arg;
	struct vnode *n = r->n;
	EVP_CIPHER_CTX *c = NULL;
	int rc = 0;
	uint8_t *sc = NULL;

	if (r->v->kind == WARD_VOL_ENCRYPTED && (c = ctx_get(n)) == NULL) {
		rc = rrun_fail(r, lo, BAD_IO, ENOMEM);
		goto out;
	}
	if (r->map != NULL) {
		rc = rrun_mapped(r, &c, lo, hi);
		goto out;
	}
	sc = wv_scratch((size_t)(hi - lo < SUB ? hi - lo : SUB) * C);
	if (sc == NULL) {
		rc = rrun_fail(r, lo, BAD_IO, ENOMEM);
		goto out;
	}
	for (uint64_t a = lo; a < hi && rc == 0; a += SUB) {
		uint64_t b = hi - a > SUB ? a + SUB : hi;
		uint8_t *p = r->buf + (a - r->first) * C;
		size_t want = (size_t)(b - 1 - a) * C + clen_of(n->wsize, b - 1), got = 0;
		if (__atomic_load_n(&r->bad, __ATOMIC_RELAXED) < a)
			break; /* a lower chunk failed already */
		if (ward_pread_full(r->fd, sc, want, a * C, &got) != 0) {
			rc = rrun_fail(r, a, BAD_IO, errno);
			break;
		}
		if (got < want) {
			rc = rrun_fail(r, a + got / C, BAD_SHORT, 0);
			break;
		}
		for (uint64_t k = a; k < b; k++)
			if (open_chunk(r->v, n, c, k, sc + (k - a) * C, p + (k - a) * C, clen_of(n->wsize, k)) != 0) {
				rc = rrun_fail(r, k, BAD_AUTH, 0);
				break;
			}
	}
out:
	if (c != NULL)
		ctx_put(n, c);
	return rc;
}

static int read_run(ward_vol *v, struct vnode *n, uint8_t slot, uint8_t *dst, uint64_t i, uint64_t j, char *err)
{
	struct rrun r = { .v = v, .n = n, .fd = slot_fd(v, n, slot), .buf = dst, .first = i, .bad = UINT64_MAX };
	int rc;
	/* small runs decrypt from the mapping (no pread, no copy); large ones
	 * read through the scratch buffer, which measured faster for them
	 * (the kernel's copy streams from memory better than the cipher does
	 * from scattered page-cache pages) */
	if (n->map[slot] != NULL && j * C <= n->maplen[slot] && j - i < PAR_MIN_CHUNKS &&
	    wv_map_hot(n, slot, i * C, (j - 1) * C + clen_of(n->wsize, j - 1)))
		r.map = n->map[slot];
	if (r.fd < 0)
		return wv_fail(err, -EIO, "'%s/%s' chunk %llu: data missing on disk", v->dir, n->path,
			       (unsigned long long)i);
	pthread_mutex_init(&r.mu, NULL);
	rc = j - i >= PAR_MIN_CHUNKS ? wv_parallel(rrun_part, &r, i, j, SUB) : rrun_part(&r, i, j);
	pthread_mutex_destroy(&r.mu);
	if (rc == 0 && r.bad == UINT64_MAX)
		return 0;
	switch (r.kind) {
	case BAD_AUTH:
		return chunk_error(v, n, r.bad, err);
	case BAD_SHORT:
		return wv_fail(err, -EIO, "'%s/%s' chunk %llu: file truncated on disk", v->dir, n->path,
			       (unsigned long long)r.bad);
	default:
		return wv_fail(err, r.eno == ENOMEM ? -ENOMEM : -r.eno, "cannot read '%s/%s': %s", v->dir, n->path,
			       strerror(r.eno));
	}
}

/* Opens chunk i (cl bytes) from the slot's mapping into out: 0, -1 when
 * it fails authentication, -2 on a fault (file shortened on disk). */
static int open_mapped1(ward_vol *v, struct vnode *n, EVP_CIPHER_CTX **cp, uint8_t slot, uint64_t i, uint8_t *out,
			size_t cl)
{
	uint8_t priv[C] __attribute__((aligned(64)));
	if (map_copy(n->map[slot] + i * C, priv, cl) != 0)
		return -2;
	return open_chunk(v, n, *cp, i, priv, out, cl);
}

/* Reads [off, off+len) (within wsize) under the node's lock (read or write).
 * On any failure the whole of buf is wiped: no partial plaintext escapes. */
static int read_range(ward_vol *v, struct vnode *n, uint8_t *buf, uint64_t off, size_t len, char *err)
{
	uint64_t end = off + len, i = off / C;
	EVP_CIPHER_CTX *c = NULL;
	uint8_t tmp[C];
	int rc = 0, used_tmp = 0;

	while (off < end) {
		uint64_t cs = i * C;
		size_t cl = clen_of(n->wsize, i);
		uint64_t s = off, e = end < cs + cl ? end : cs + cl;
		const struct cref *r = &n->w[i];
		uint8_t *dst = buf + (s - (end - len));
		uint8_t slot = v->kind == WARD_VOL_ENCRYPTED ? r->slot : WVOL_SLOT_MAIN;

		if (slot == WVOL_SLOT_HOLE) {
			memset(dst, 0, e - s);
		} else if (s == cs && e == cs + cl) {
			/* a run of wholly requested chunks in one slot */
			uint64_t j = i + 1;
			while (j * C < end && (v->kind != WARD_VOL_ENCRYPTED || n->w[j].slot == slot) &&
			       j * C + clen_of(n->wsize, j) <= end)
				j++;
			if ((rc = read_run(v, n, slot, dst, i, j, err)) != 0)
				goto out;
			e = (j - 1) * C + clen_of(n->wsize, j - 1);
			i = j;
			off = e;
			continue;
		} else {
			int fd = slot_fd(v, n, slot);
			size_t got = 0;
			used_tmp = 1;
			if (c == NULL && v->kind == WARD_VOL_ENCRYPTED && (c = ctx_get(n)) == NULL) {
				rc = wv_fail(err, -ENOMEM, "out of memory");
				goto out;
			}
			if (n->map[slot] != NULL && (i + 1) * C <= n->maplen[slot] &&
			    wv_map_hot(n, slot, i * C, i * C + cl)) {
				int m = open_mapped1(v, n, &c, slot, i, tmp, cl);
				if (m != 0) {
					rc = m == -2 ? wv_fail(err, -EIO, "'%s/%s' chunk %llu: file truncated on disk", v->dir,
							      n->path, (unsigned long long)i)
						     : chunk_error(v, n, i, err);
					goto out;
				}
				memcpy(dst, tmp + (s - cs), e - s);
				off = e;
				i++;
				continue;
			}
			if (fd < 0) {
				rc = wv_fail(err, -EIO, "'%s/%s' chunk %llu: data missing on disk", v->dir, n->path,
					     (unsigned long long)i);
				goto out;
			}
			if (ward_pread_full(fd, tmp, cl, cs, &got) != 0) {
				rc = wv_fail(err, -errno, "cannot read '%s/%s': %s", v->dir, n->path, strerror(errno));
				goto out;
			}
			if (got < cl) {
				rc = wv_fail(err, -EIO, "'%s/%s' chunk %llu: file truncated on disk", v->dir, n->path,
					     (unsigned long long)i);
				goto out;
			}
			if (open_chunk(v, n, c, i, tmp, tmp, cl) != 0) {
				rc = chunk_error(v, n, i, err);
				goto out;
			}
			memcpy(dst, tmp + (s - cs), e - s);
		}
		off = e;
		i++;
	}
out:
	if (used_tmp)
		OPENSSL_cleanse(tmp, sizeof(tmp));
	if (rc != 0)
		OPENSSL_cleanse(buf, len);
	if (c != NULL)
		ctx_put(n, c);
	return rc;
}

ssize_t ward_vf_pread(ward_vfile *f, void *buf, size_t len, uint64_t off, char *err)
{
	struct vnode *n = f->n;
	int rc;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return wv_fail(err, -EBADF, "'%s' was opened write-only", n->path);
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX & ~(size_t)(C - 1);
	/* the alt fd may be opened lazily by a read: take the write lock then */
	pthread_rwlock_rdlock(&n->rw);
	if (off >= n->wsize || len == 0) {
		pthread_rwlock_unlock(&n->rw);
		return 0;
	}
	if (len > n->wsize - off)
		len = (size_t)(n->wsize - off);
	/* slots the request reads from; the alt store and the mappings are
	 * made under the write lock (the alt store on first need, a mapping
	 * when it does not cover the request) */
	uint64_t endb = ((off + len - 1) / C + 1) * C;
	unsigned used = 1u << WVOL_SLOT_MAIN;
	if (f->v->kind == WARD_VOL_ENCRYPTED) {
		used = 0;
		for (uint64_t i = off / C; i <= (off + len - 1) / C && used != 7; i++)
			used |= 1u << n->w[i].slot;
	}
	int need_alt = (used & (1u << WVOL_SLOT_ALT)) && n->fd_alt < 0;
	int remap = 0;
	/* only small reads decrypt from a mapping (read_run); a file is
	 * mapped once it has had a few of them (wv_map_wanted) */
	if (len < PAR_MIN_CHUNKS * C && !n->nomap && wv_map_enabled() && wv_map_wanted(n))
		for (uint8_t s = WVOL_SLOT_MAIN; s <= WVOL_SLOT_ALT; s++)
			if ((used & (1u << s)) && n->maplen[s] < endb)
				remap = 1;
	if (need_alt || remap) {
		pthread_rwlock_unlock(&n->rw);
		pthread_rwlock_wrlock(&n->rw);
		if (n->fd_alt < 0 && (used & (1u << WVOL_SLOT_ALT)))
			(void)open_alt(f->v, n, 0);
		for (uint8_t s = WVOL_SLOT_MAIN; s <= WVOL_SLOT_ALT && remap; s++)
			if ((used & (1u << s)) && n->maplen[s] < endb && !n->nomap)
				wv_map_slot(n, s, endb);
		if (off >= n->wsize) {
			pthread_rwlock_unlock(&n->rw);
			return 0;
		}
		if (len > n->wsize - off)
			len = (size_t)(n->wsize - off);
	}
	rc = read_range(f->v, n, buf, off, len, err);
	pthread_rwlock_unlock(&n->rw);
	return rc != 0 ? rc : (ssize_t)len;
}

/* ---- writing ---- */

static int ensure_w(struct vnode *n, uint64_t need)
{
	uint64_t cn = wv_nchunks(n->size);
	if (n->w == n->c || n->wcap < need) {
		uint64_t cap = n->wcap ? n->wcap : 16;
		while (cap < need)
			cap *= 2;
		if (n->w == n->c) {
			struct cref *w = malloc(cap * sizeof(*w));
			if (w == NULL)
				return -1;
			uint64_t have = wv_nchunks(n->wsize) < cn ? wv_nchunks(n->wsize) : cn;
			if (have)
				memcpy(w, n->c, have * sizeof(*w));
			n->w = w;
		} else {
			struct cref *w = realloc(n->w, cap * sizeof(*w));
			if (w == NULL)
				return -1;
			n->w = w;
		}
		n->wcap = cap;
	}
	return 0;
}

static int mark(struct vnode *n, uint64_t i)
{
	if (i >= n->dmark_len) {
		uint64_t nl = n->dmark_len ? n->dmark_len : 64;
		while (nl <= i)
			nl *= 2;
		uint8_t *m = realloc(n->dmark, nl);
		if (m == NULL)
			return -1;
		memset(m + n->dmark_len, 0, nl - n->dmark_len);
		n->dmark = m;
		n->dmark_len = nl;
	}
	if (n->dmark[i])
		return 0;
	if (n->ndirty == n->dirty_cap) {
		uint64_t nc = n->dirty_cap ? n->dirty_cap * 2 : 64;
		uint32_t *d = realloc(n->dirty, nc * sizeof(*d));
		if (d == NULL)
			return -1;
		n->dirty = d;
		n->dirty_cap = nc;
	}
	n->dirty[n->ndirty++] = (uint32_t)i;
	n->dmark[i] = 1;
	return 0;
}

/* The main file may grow past its committed length: say so first, so that
 * a crash leftover is not taken for an extension by an attacker. */
static int note_growth(ward_vol *v, struct vnode *n, uint64_t end, char *err)
{
	int rc = 0;
	if (end <= n->main_len || n->dirty_logged || n->maybe_dirty)
		return 0;
	pthread_mutex_lock(&v->mu);
	if (!n->unlinked)
		rc = wv_manifest_dirty(v, n->path, err);
	pthread_mutex_unlock(&v->mu);
	if (rc == 0)
		n->dirty_logged = 1;
	return rc;
}

static uint8_t target_slot(struct vnode *n, uint64_t i)
{
	/* invariant 1: never the slot the committed state references */
	if (i < wv_nchunks(n->size) && n->c[i].slot == WVOL_SLOT_MAIN)
		return WVOL_SLOT_ALT;
	return WVOL_SLOT_MAIN;
}

/* Sealing a run of chunks: each worker encrypts SUB chunks at a time into
 * its thread's scratch buffer and writes them to their target slots; the
 * new (nonce, tag) of a chunk enters the working state only after its
 * ciphertext is written (so a failed write leaves every chunk readable). */
struct wrun {
	ward_vol *v;
	struct vnode *n;
	uint64_t first;	     /* chunk index of pt[0] and of the arrays' [0] */
	uint64_t last_len;   /* bytes of the last chunk of the run */
	uint64_t last;	     /* index of that chunk */
	const uint8_t *pt;   /* plaintext, NULL: zeros */
	uint8_t (*nonce)[12];
	uint8_t (*tag)[16];
	uint8_t *ok;	     /* 1 when the chunk's ciphertext is on disk */
	pthread_mutex_t mu;
	int eno;	     /* first errno (EIO: encryption failed) */
};

static const uint8_t zero_chunk[C];

static int wrun_fail(struct wrun *r, int eno)
{
	pthread_mutex_lock(&r->mu);
	if (r->eno == 0)
		__atomic_store_n(&r->eno, eno, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&r->mu);
	return -1;
}

static int wrun_part(void *arg, uint64_t lo, uint64_t hi)
{
	struct wrun *r = arg;
	struct vnode *n = r->n;
	uint8_t *ct = wv_scratch((size_t)(hi - lo < SUB ? hi - lo : SUB) * C);
	EVP_CIPHER_CTX *c = ctx_get(n);
	int rc = 0;

	if (ct == NULL || c == NULL) {
		rc = wrun_fail(r, ENOMEM);
		goto out;
	}
	for (uint64_t a = lo; a < hi && rc == 0; a += SUB) {
		uint64_t b = hi - a > SUB ? a + SUB : hi;
		if (__atomic_load_n(&r->eno, __ATOMIC_RELAXED) != 0)
			break; /* the write fails anyway */
		for (uint64_t k = a; k < b; k++) {
			size_t x = (size_t)(k - r->first), cl = k == r->last ? (size_t)r->last_len : C;
			const uint8_t *in = r->pt ? r->pt + x * C : zero_chunk;
			if (gcm_chunk(c, 1, n, k, r->nonce[x], in, ct + (k - a) * C, cl, r->tag[x]) != 0) {
				rc = wrun_fail(r, EIO);
				goto out;
			}
		}
		/* runs of equal target slot */
		for (uint64_t p = a; p < b;) {
			uint8_t sl = target_slot(n, p);
			uint64_t q = p + 1;
			while (q < b && target_slot(n, q) == sl)
				q++;
			size_t blen = (size_t)(q - 1 - p) * C + (q - 1 == r->last ? (size_t)r->last_len : C);
			if (ward_pwrite_full(sl == WVOL_SLOT_MAIN ? n->fd_main : n->fd_alt, ct + (p - a) * C, blen, p * C) != 0) {
				rc = wrun_fail(r, errno);
				goto out;
			}
			memset(r->ok + (p - r->first), 1, (size_t)(q - p));
			p = q;
		}
	}
out:
	if (c != NULL)
		ctx_put(n, c);
	return rc;
}

/* Writes whole new contents of chunks [i, j) (each C bytes, except that the
 * last may be shorter: len) from pt (NULL: zeros); all chunks go to their
 * target slot. */
static int seal_chunks(ward_vol *v, struct vnode *n, uint64_t i, uint64_t j, const uint8_t *pt, size_t len,
		       char *err)
{
	size_t m = (size_t)(j - i);
	uint8_t small[16 * 29], *meta = m <= 16 ? small : malloc(m * 29);
	struct wrun r = { .v = v, .n = n, .first = i, .last = j - 1, .last_len = len - (m - 1) * C, .pt = pt };
	uint64_t main_end = 0;
	int need_alt = 0, rc = 0;

	if (meta == NULL)
		return wv_fail(err, -ENOMEM, "out of memory");
	r.nonce = (uint8_t(*)[12])meta;
	r.tag = (uint8_t(*)[16])(meta + m * 12);
	r.ok = meta + m * 28;
	memset(r.ok, 0, m);
	if (ward_random(meta, m * 12) != 0) {
		rc = wv_fail(err, -EIO, "no randomness for nonces");
		goto out;
	}
	for (uint64_t k = i; k < j; k++) {
		if (target_slot(n, k) == WVOL_SLOT_ALT)
			need_alt = 1;
		else
			main_end = k * C + (k == j - 1 ? r.last_len : C);
	}
	if (need_alt && open_alt(v, n, 1) != 0) {
		rc = wv_fail(err, -errno, "cannot create the chunk store of '%s/%s': %s", v->dir, n->path,
			     strerror(errno));
		goto out;
	}
	/* invariant 3: the DIRTY record precedes any growth of slot 0 */
	if (main_end > 0 && (rc = note_growth(v, n, main_end, err)) != 0)
		goto out;
	pthread_mutex_init(&r.mu, NULL);
	rc = m >= PAR_MIN_CHUNKS ? wv_parallel(wrun_part, &r, i, j, SUB) : wrun_part(&r, i, j);
	pthread_mutex_destroy(&r.mu);
	for (uint64_t k = i; k < j; k++) {
		size_t x = (size_t)(k - i);
		if (!r.ok[x])
			continue;
		struct cref *cr = &n->w[k];
		cr->slot = target_slot(n, k);
		n->data_unsynced[cr->slot] = 1;
		memcpy(cr->v, r.nonce[x], 12);
		memcpy(cr->v + 12, r.tag[x], 16);
		if (mark(n, k) != 0 && rc == 0) {
			rc = -1;
			r.eno = ENOMEM;
		}
		if (cr->slot == WVOL_SLOT_MAIN) {
			uint64_t e = k * C + (k == j - 1 ? r.last_len : C);
			if (e > n->wmain_len)
				n->wmain_len = e;
		}
	}
	if (rc != 0) {
		if (r.eno == EIO)
			rc = wv_fail(err, -EIO, "encryption failed");
		else if (r.eno == ENOMEM)
			rc = wv_fail(err, -ENOMEM, "out of memory");
		else
			rc = wv_fail(err, -r.eno, "cannot write '%s/%s': %s", v->dir, n->path, strerror(r.eno));
	}
out:
	if (meta != small)
		free(meta);
	return rc;
}

/* Writes [off, off+len) from src (NULL: zeros); new size max(wsize, off+len).
 * Caller holds the write lock. */
static int write_locked(ward_vol *v, struct vnode *n, const uint8_t *src, size_t len, uint64_t off, char *err)
{
	uint64_t end = off + len, newsize = end > n->wsize ? end : n->wsize;
	uint64_t oldsize = n->wsize;
	int rc;

	if (len == 0)
		return 0;
	if (wv_nchunks(newsize) >= WVOL_MAX_CHUNKS)
		return wv_fail(err, -EFBIG, "'%s/%s': file too large for a volume (at most %u GiB)", v->dir, n->path,
			       WVOL_MAX_FILE_GIB);
	if (ensure_w(n, wv_nchunks(newsize)) != 0)
		return wv_fail(err, -ENOMEM, "out of memory");
	if (off > oldsize) {
		/* zero-extend: the old last partial chunk, then holes */
		uint64_t ochunks = wv_nchunks(oldsize), tail = ochunks * C;
		if (oldsize % C != 0) {
			uint64_t zend = tail < off ? tail : off;
			if ((rc = write_locked(v, n, NULL, (size_t)(zend - oldsize), oldsize, err)) != 0)
				return rc;
		}
		for (uint64_t i = ochunks; i < off / C; i++) {
			memset(&n->w[i], 0, sizeof(n->w[i]));
			n->w[i].slot = WVOL_SLOT_HOLE;
			if (mark(n, i) != 0)
				return wv_fail(err, -ENOMEM, "out of memory");
		}
		if (off / C * C > n->wsize)
			__atomic_store_n(&n->wsize, off / C * C, __ATOMIC_RELAXED);
		/* bytes in [wsize, off) of the head chunk read as zeros below */
		oldsize = n->wsize;
	}

	uint64_t i = off / C, last = (end - 1) / C;
	uint64_t first_full = off % C == 0 ? i : i + 1;
	uint64_t after_full = (end % C == 0 || end >= newsize) ? last + 1 : last;
	if (first_full > after_full)
		first_full = after_full;
	uint8_t tmp[C];

	/* partial head / tail chunks: read-modify-write */
	for (uint64_t k = i; k <= last; k++) {
		if (k >= first_full && k < after_full)
			continue;
		uint64_t cs = k * C;
		size_t ncl = clen_of(newsize, k), ocl = k * C < oldsize ? clen_of(oldsize, k) : 0;
		memset(tmp, 0, sizeof(tmp));
		if (ocl > 0 && (v->kind != WARD_VOL_ENCRYPTED || n->w[k].slot != WVOL_SLOT_HOLE)) {
			uint64_t saved = n->wsize;
			__atomic_store_n(&n->wsize, oldsize, __ATOMIC_RELAXED); /* stat reads it under v->mu */
			if (n->w[k].slot == WVOL_SLOT_ALT)
				(void)open_alt(v, n, 0);
			rc = read_range(v, n, tmp, cs, ocl, err);
			__atomic_store_n(&n->wsize, saved, __ATOMIC_RELAXED);
			if (rc != 0)
				return rc;
		}
		uint64_t s = off > cs ? off : cs, e = end < cs + ncl ? end : cs + ncl;
		if (src)
			memcpy(tmp + (s - cs), src + (s - off), e - s);
		else
			memset(tmp + (s - cs), 0, e - s);
		rc = seal_chunks(v, n, k, k + 1, tmp, ncl, err);
		OPENSSL_cleanse(tmp, sizeof(tmp));
		if (rc != 0)
			return rc;
	}
	/* whole chunks, in batches */
	for (uint64_t a = first_full; a < after_full;) {
		uint64_t b = after_full - a > WBATCH_CHUNKS ? a + WBATCH_CHUNKS : after_full;
		size_t blen = (size_t)((b - 1 - a) * C + clen_of(newsize, b - 1));
		if ((rc = seal_chunks(v, n, a, b, src ? src + (a * C - off) : NULL, blen, err)) != 0)
			return rc;
		a = b;
	}
	__atomic_store_n(&n->wsize, newsize, __ATOMIC_RELAXED);
	__atomic_store_n(&n->wmtime, wv_now_ns(), __ATOMIC_RELAXED);
	n->meta_dirty = 1;
	return 0;
}

static int check_writable(ward_vfile *f, char *err)
{
	if ((f->flags & O_ACCMODE) == O_RDONLY)
		return wv_fail(err, -EBADF, "'%s' was opened read-only", f->n->path);
	return 0;
}

ssize_t ward_vf_pwrite(ward_vfile *f, const void *buf, size_t len, uint64_t off, char *err)
{
	int rc = check_writable(f, err);
	if (rc != 0)
		return rc;
	if (len > (size_t)SSIZE_MAX || off + len < off)
		return wv_fail(err, -EFBIG, "write too large");
	pthread_rwlock_wrlock(&f->n->rw);
	rc = write_locked(f->v, f->n, buf, len, off, err);
	pthread_rwlock_unlock(&f->n->rw);
	return rc != 0 ? rc : (ssize_t)len;
}

ssize_t ward_vf_append(ward_vfile *f, const void *buf, size_t len, uint64_t *new_end, char *err)
{
	int rc = check_writable(f, err);
	if (rc != 0)
		return rc;
	pthread_rwlock_wrlock(&f->n->rw);
	uint64_t off = f->n->wsize;
	rc = write_locked(f->v, f->n, buf, len, off, err);
	if (rc == 0 && new_end != NULL)
		*new_end = f->n->wsize;
	pthread_rwlock_unlock(&f->n->rw);
	return rc != 0 ? rc : (ssize_t)len;
}

static int truncate_locked(ward_vol *v, struct vnode *n, uint64_t size, char *err)
{
	int rc;
	if (size > n->wsize) {
		uint64_t s = n->wsize;
		/* extend by writing zeros only where a chunk must change: the
		 * old partial tail; whole new chunks become holes */
		if (ensure_w(n, wv_nchunks(size)) != 0)
			return wv_fail(err, -ENOMEM, "out of memory");
		if (s % C != 0) {
			uint64_t zend = wv_nchunks(s) * C < size ? wv_nchunks(s) * C : size;
			if ((rc = write_locked(v, n, NULL, (size_t)(zend - s), s, err)) != 0)
				return rc;
		}
		for (uint64_t i = wv_nchunks(n->wsize); i < wv_nchunks(size); i++) {
			memset(&n->w[i], 0, sizeof(n->w[i]));
			n->w[i].slot = WVOL_SLOT_HOLE;
			if (mark(n, i) != 0)
				return wv_fail(err, -ENOMEM, "out of memory");
		}
	} else if (size < n->wsize) {
		if (size % C != 0) {
			uint64_t k = size / C;
			uint8_t tmp[C];
			if (ensure_w(n, wv_nchunks(n->wsize)) != 0)
				return wv_fail(err, -ENOMEM, "out of memory");
			if (v->kind != WARD_VOL_ENCRYPTED || n->w[k].slot != WVOL_SLOT_HOLE) {
				if (n->w[k].slot == WVOL_SLOT_ALT)
					(void)open_alt(v, n, 0);
				if ((rc = read_range(v, n, tmp, k * C, (size_t)(size - k * C), err)) != 0)
					return rc;
				uint64_t saved = n->wsize;
				__atomic_store_n(&n->wsize, size, __ATOMIC_RELAXED);
				rc = seal_chunks(v, n, k, k + 1, tmp, (size_t)(size - k * C), err);
				OPENSSL_cleanse(tmp, sizeof(tmp));
				if (rc != 0) {
					__atomic_store_n(&n->wsize, saved, __ATOMIC_RELAXED);
					return rc;
				}
			}
		}
	}
	/* as Linux: a truncation sets the modification time even when the
	 * size stays (open with O_TRUNC of an empty file, ftruncate to the
	 * same size) */
	__atomic_store_n(&n->wsize, size, __ATOMIC_RELAXED);
	__atomic_store_n(&n->wmtime, wv_now_ns(), __ATOMIC_RELAXED);
	n->meta_dirty = 1;
	return 0;
}

int ward_vf_truncate(ward_vfile *f, uint64_t size, char *err)
{
	int rc = check_writable(f, err);
	if (rc != 0)
		return rc;
	if (wv_nchunks(size) >= WVOL_MAX_CHUNKS)
		return wv_fail(err, -EFBIG, "'%s/%s': file too large for a volume (at most %u GiB)", f->v->dir, f->n->path,
			       WVOL_MAX_FILE_GIB);
	pthread_rwlock_wrlock(&f->n->rw);
	rc = truncate_locked(f->v, f->n, size, err);
	pthread_rwlock_unlock(&f->n->rw);
	return rc;
}

/* ---- commit ---- */

/* The file's chunk stores made durable before a record refers to them:
 * fdatasync of the stores written since their last one (a store nothing
 * was written to needs none: SQLite's journal, rewritten in place, touches
 * one of the two per sync), and, for a slot-1 file just made, an fsync of
 * the alt directory that holds its name, which no program knows of (the
 * main file's name is in a directory the program sees and fsyncs itself
 * when it needs to, as it would without the shield). 0, or -1 with errno
 * set. */
static int sync_data(ward_vol *v, struct vnode *n)
{
	int fds[2] = { n->fd_main, n->fd_alt };
	for (unsigned s = WVOL_SLOT_MAIN; s <= WVOL_SLOT_ALT; s++) {
		if (fds[s] < 0 || !n->data_unsynced[s])
			continue;
		if (fdatasync(fds[s]) != 0)
			return -1;
		n->data_unsynced[s] = 0;
	}
	if (n->alt_entry_unsynced && n->fd_alt >= 0) {
		int dfd = openat(v->dirfd, WARD_VOL_META_DIR "/alt", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int rc = dfd >= 0 ? fsync(dfd) : -1;
		if (dfd >= 0)
			close(dfd);
		if (rc != 0)
			return -1;
		n->alt_entry_unsynced = 0;
	}
	return 0;
}

/* Appends n's CHUNKS record (its working state) and makes that state the
 * committed one: 0 or -errno (then nothing is committed). The caller holds
 * n->rw (or alone can reach n) and v->mu; n is loaded and not unlinked. */
static int commit_record_locked(ward_vol *v, struct vnode *n, char *err)
{
	struct wbuf b = { 0 };
	uint64_t nn = wv_nchunks(n->wsize), cnt = 0;
	uint64_t main_len = n->wmain_len > n->wsize ? n->wsize : n->wmain_len;
	size_t cl = wv_cref_len(v);
	int rc;

	for (uint64_t k = 0; k < n->ndirty; k++)
		cnt += n->dirty[k] < nn;
	/* one allocation of the exact size, entries encoded in place: a large
	 * file's record (33 bytes per chunk written) is built without growing
	 * and copying the buffer */
	b.cap = 2 + strlen(n->path) + 4 + 8 + 8 + 8 + 4 + (size_t)cnt * (4 + cl);
	b.fixed = 1;
	if ((b.p = wv_record_buf(b.cap)) == NULL)
		b.oom = 1;
	wb_str(&b, n->path);
	wb_u32(&b, n->mode);
	wb_u64(&b, (uint64_t)n->wmtime);
	wb_u64(&b, n->wsize);
	wb_u64(&b, main_len);
	wb_u32(&b, (uint32_t)cnt);
	if (!b.oom) {
		uint8_t *q = b.p + b.len;
		for (uint64_t k = 0; k < n->ndirty; k++) {
			uint32_t x = n->dirty[k];
			if (x >= nn)
				continue;
			for (int s = 0; s < 4; s++)
				q[s] = (uint8_t)(x >> (8 * s));
			wv_put_cref(v, q + 4, &n->w[x]);
			q += 4 + cl;
		}
		b.len = (size_t)(q - b.p);
	}
	if (b.oom) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = wv_manifest_append(v, WVOL_R_CHUNKS, b.p, b.len, err)) != 0)
		goto out;
	/* the record is in: committed := working */
	if (nn > wv_nchunks(n->size) || n->c == NULL) {
		int alias = n->w == n->c;
		struct cref *c = realloc(n->c, (nn ? nn : 1) * sizeof(*c));
		if (c == NULL) {
			rc = wv_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		if (alias)
			n->w = c;
		n->c = c;
	}
	if (n->w != n->c)
		for (uint64_t k = 0; k < n->ndirty; k++)
			if (n->dirty[k] < nn)
				n->c[n->dirty[k]] = n->w[n->dirty[k]];
	n->size = n->wsize;
	n->mtime = n->wmtime;
	n->main_len = main_len;
	n->maybe_dirty = 0;
	if (n->wmain_len > main_len && n->fd_main >= 0) {
		/* invariant 5: the record first, then the cut */
		if (ftruncate(n->fd_main, (off_t)main_len) == 0) {
			n->wmain_len = main_len;
			n->data_unsynced[WVOL_SLOT_MAIN] = 1;
		} else {
			/* the file stays longer than committed: say so for good */
			if (wv_manifest_dirty(v, n->path, NULL) == 0)
				n->maybe_dirty = 1;
		}
	}
	if (v->jlen - v->snap_len > (16u << 20) && v->jlen - v->snap_len > 2 * v->snap_len)
		(void)wv_manifest_snapshot(v, NULL);
out:
	if (b.p != NULL)
		wv_record_buf_done();
	return rc;
}

/* the working state was committed (or dropped): no chunk is dirty */
static void clear_dirty(struct vnode *n)
{
	for (uint64_t k = 0; k < n->ndirty; k++)
		if (n->dirty[k] < n->dmark_len)
			n->dmark[n->dirty[k]] = 0;
	n->ndirty = 0;
	n->meta_dirty = 0;
	n->dirty_logged = 0;
}

int wv_node_commit(ward_vol *v, struct vnode *n, int durable, char *err)
{
	int rc = 0;

	pthread_rwlock_wrlock(&n->rw);
	if (!n->loaded || !v->writable)
		goto out;
	if (n->ndirty == 0 && !n->meta_dirty) {
		if (durable && n->unsynced) {
			if (sync_data(v, n) != 0)
				rc = wv_fail(err, -errno, "cannot sync '%s/%s': %s", v->dir, n->path, strerror(errno));
			else if (fdatasync(v->jfd) != 0)
				rc = wv_fail(err, -errno, "cannot sync the manifest of '%s': %s", v->dir, strerror(errno));
			else
				n->unsynced = 0;
		}
		goto out;
	}
	if (durable && sync_data(v, n) != 0) {
		rc = wv_fail(err, -errno, "cannot sync '%s/%s': %s", v->dir, n->path, strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&v->mu);
	if (n->unlinked) {
		pthread_mutex_unlock(&v->mu);
		goto clear;
	}
	rc = commit_record_locked(v, n, err);
	pthread_mutex_unlock(&v->mu);
	if (rc != 0)
		goto out;
	if (durable && fdatasync(v->jfd) != 0)
		rc = wv_fail(err, -errno, "cannot sync the manifest of '%s': %s", v->dir, strerror(errno));
	n->unsynced = !durable;
clear:
	clear_dirty(n);
out:
	pthread_rwlock_unlock(&n->rw);
	return rc;
}

int wv_link_fill_locked(ward_vol *v, struct vnode *n, const char *target, size_t len, char *err)
{
	int eno = 0, rc;
	/* No other thread can reach n (v->mu is held since its creation), so
	 * its rw lock is not needed. The CREATE record flagged it maybe dirty:
	 * its main file grows without a DIRTY record (note_growth), as a new
	 * file's does. */
	if (n->type != WVOL_T_LINK || n->refs != 0 || wv_loaded(n) || !n->maybe_dirty)
		return wv_fail(err, -EIO, "internal error: '%s' is not a new link", n->path);
	(void)open_main_locked(v, n, &eno);
	if ((rc = load_rest(v, n, eno, err)) != 0)
		return rc;
	rc = write_locked(v, n, (const uint8_t *)target, len, 0, err);
	if (rc == 0)
		rc = commit_record_locked(v, n, err);
	if (rc == 0)
		n->unsynced = 1;
	clear_dirty(n);
	wv_node_unload(n);
	return rc;
}

int ward_vf_sync(ward_vfile *f, char *err)
{
	return wv_node_commit(f->v, f->n, 1, err);
}

int ward_vf_commit(ward_vfile *f, char *err)
{
	return wv_node_commit(f->v, f->n, 0, err);
}

int ward_vf_close(ward_vfile *f, char *err)
{
	int rc;
	if (f == NULL)
		return 0;
	rc = (f->flags & O_ACCMODE) != O_RDONLY ? wv_node_commit(f->v, f->n, 0, err) : 0;
	unref(f->v, f->n);
	free(f);
	return rc;
}

/* ---- symbolic links (volume.h) ---- */

/* The verified target of link n (refs held by the caller) into t
 * (WVOL_CHUNK bytes): its length, or -errno with err set. */
static ssize_t link_read(ward_vol *v, struct vnode *n, uint8_t *t, char *err)
{
	ssize_t rc;
	pthread_rwlock_wrlock(&n->rw);
	rc = wv_node_load(v, n, err);
	if (rc == 0 && (n->wsize == 0 || n->wsize > WARD_VOL_MAX_LINK))
		rc = wv_fail(err, -EIO, "'%s/%s': link target of %llu bytes (internal error)", v->dir, n->path,
			     (unsigned long long)n->wsize);
	if (rc == 0 && v->kind == WARD_VOL_ENCRYPTED && n->w[0].slot == WVOL_SLOT_ALT && open_alt(v, n, 0) != 0)
		rc = wv_fail(err, -EIO, "'%s/%s' chunk 0: data missing on disk", v->dir, n->path);
	if (rc == 0)
		rc = read_range(v, n, t, 0, (size_t)n->wsize, err);
	if (rc == 0 && memchr(t, 0, (size_t)n->wsize) != NULL)
		rc = wv_fail(err, -EIO, "'%s/%s': link target holds a NUL byte", v->dir, n->path);
	if (rc == 0)
		rc = (ssize_t)n->wsize;
	pthread_rwlock_unlock(&n->rw);
	return rc;
}

ssize_t ward_vol_readlink(ward_vol *v, const char *path, char *buf, size_t len, char *err)
{
	char p[WVOL_MAX_PATH + 1];
	uint8_t t[C];
	struct vnode *n;
	ssize_t rc = wv_path_norm(path, p, sizeof(p), err);

	if (rc != 0)
		return rc;
	if (p[0] == '\0')
		return wv_fail(err, -EINVAL, "the volume root is not a symbolic link");
	/* as ward_vf_open: a link removed or replaced between the lookup and
	 * the load is looked up again */
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&v->mu);
		int f = wv_find(v, p, &n);
		if (f == -ENOENT)
			rc = wv_fail(err, -ENOENT, "'%s/%s': no such file", v->dir, p);
		else if (f != 0)
			rc = wv_fail(err, f, "'%s/%s': %s", v->dir, p, wv_find_why(f));
		else if (n->type != WVOL_T_LINK)
			rc = wv_fail(err, -EINVAL, "'%s/%s' is not a symbolic link", v->dir, p);
		else
			n->refs++;
		pthread_mutex_unlock(&v->mu);
		if (rc != 0)
			return rc;
		rc = link_read(v, n, t, err);
		unref(v, n);
		if (rc == -ESTALE && tries < 100)
			continue;
		break;
	}
	if (rc == -ESTALE)
		rc = wv_fail(err, -ENOENT, "'%s/%s': no such file", v->dir, p);
	if (rc > 0)
		memcpy(buf, t, (size_t)rc < len ? (size_t)rc : len);
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}
