/*
 * manifest.c: the volume manifest (format.h): loading and verifying the
 * header and the MAC chain of records, applying records to the in-memory
 * entry table, appending records, writing snapshots, and the volume tag.
 *
 * Record payloads (little-endian; "path" = u16 length + bytes):
 *   ENTRY   path u8 type u8 flags u32 mode i64 mtime id[16] u64 size
 *           u64 main_len cref[ceil(size/4096)]           (files; dirs: no crefs)
 *   CHUNKS  path u32 mode i64 mtime u64 size u64 main_len u32 n
 *           n x (u32 index cref)
 *   CREATE  path u8 type u32 mode i64 mtime id[16]
 * (type 1 file, 2 directory, 3 link: a link is a file whose content is
 * its target, 1..4095 bytes, mode 0777, never flagged: format.h)
 *   UNLINK  path
 *   RENAME  path(from) path(to)
 *   SETATTR path u32 mode i64 mtime
 *   DIRTY   path
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/crypto.h"
#include "core/util.h"
#include "fs/internal.h"

/* ---- bounded reader ---- */

const uint8_t *rd_bytes(struct rd *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t rd_le(struct rd *r, size_t n)
{
	const uint8_t *p = rd_bytes(r, n);
	uint64_t x = 0;
	if (p == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

uint8_t rd_u8(struct rd *r) { return (uint8_t)rd_le(r, 1); }
uint16_t rd_u16(struct rd *r) { return (uint16_t)rd_le(r, 2); }
uint32_t rd_u32(struct rd *r) { return (uint32_t)rd_le(r, 4); }
uint64_t rd_u64(struct rd *r) { return rd_le(r, 8); }

int rd_path(struct rd *r, char *out, size_t outlen)
{
	uint16_t n = rd_u16(r);
	const uint8_t *p = rd_bytes(r, n);
	if (p == NULL || n == 0 || n > WVOL_MAX_PATH || (size_t)n + 1 > outlen || memchr(p, 0, n))
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	/* a stored path must already be in normal form */
	char norm[WVOL_MAX_PATH + 1];
	if (wv_path_norm(out, norm, sizeof(norm), NULL) != 0 || strcmp(norm, out) != 0)
		return -1;
	return 0;
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

/* fixed-width little-endian loads (one instruction each once inlined) */
static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le(uint8_t *p, uint64_t x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}

size_t wv_cref_len(const ward_vol *v)
{
	return v->kind == WARD_VOL_ENCRYPTED ? WVOL_ENC_CREF : WVOL_AUTH_CREF;
}

void wv_put_cref(const ward_vol *v, uint8_t *p, const struct cref *c)
{
	if (v->kind == WARD_VOL_ENCRYPTED) {
		p[0] = c->slot;
		memcpy(p + 1, c->v, 28);
	} else {
		memcpy(p, c->v, 32);
	}
}

static int get_cref(const ward_vol *v, struct rd *r, struct cref *c)
{
	const uint8_t *p = rd_bytes(r, wv_cref_len(v));
	if (p == NULL)
		return -1;
	memset(c, 0, sizeof(*c));
	if (v->kind == WARD_VOL_ENCRYPTED) {
		c->slot = p[0];
		if (c->slot > WVOL_SLOT_HOLE)
			return -1;
		memcpy(c->v, p + 1, 28);
	} else {
		memcpy(c->v, p, 32);
	}
	return 0;
}

/* ---- keys and MACs ---- */

int wv_derive(const uint8_t *key, const uint8_t vid[WVOL_ID_LEN], const char *label,
	      const uint8_t *extra, size_t extralen, uint8_t out[32])
{
	uint8_t info[64 + WVOL_ID_LEN];
	size_t ll = strlen(label);
	if (ll > 64 || extralen > WVOL_ID_LEN)
		return -1;
	memcpy(info, label, ll);
	if (extralen)
		memcpy(info + ll, extra, extralen);
	return ward_hkdf_sha256(key, WARD_VOL_KEY_LEN, vid, WVOL_ID_LEN, info, ll + extralen, out, 32);
}

int wv_file_key(ward_vol *v, const uint8_t id[WVOL_ID_LEN], uint8_t out[32])
{
	static const char label[] = "ward-vol file key";
	uint8_t info[sizeof(label) - 1 + WVOL_ID_LEN];
	memcpy(info, label, sizeof(label) - 1);
	memcpy(info + sizeof(label) - 1, id, WVOL_ID_LEN);
	return ward_hkdf_expand(v->fkeys, info, sizeof(info), out, 32);
}

/* mac = MAC(prev || hdr || payload) (prev may be NULL) */
static int mac3(ward_vol *v, const uint8_t *prev, const uint8_t *a, size_t alen, const uint8_t *b,
		size_t blen, uint8_t out[WVOL_MAC_LEN])
{
	int rc = -1;
	if (v->kind == WARD_VOL_ENCRYPTED) {
		/* re-initialising the keyed copy (a NULL key keeps the key) costs
		 * far less than duplicating the template for every record */
		EVP_MAC_CTX *c = v->macw;
		size_t ol = 0;
		if (c != NULL && EVP_MAC_init(c, NULL, 0, NULL) == 1 &&
		    (prev == NULL || EVP_MAC_update(c, prev, WVOL_MAC_LEN) == 1) && EVP_MAC_update(c, a, alen) == 1 &&
		    (blen == 0 || EVP_MAC_update(c, b, blen) == 1) && EVP_MAC_final(c, out, &ol, WVOL_MAC_LEN) == 1 &&
		    ol == WVOL_MAC_LEN)
			rc = 0;
	} else {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		    (prev == NULL || EVP_DigestUpdate(c, prev, WVOL_MAC_LEN) == 1) &&
		    EVP_DigestUpdate(c, a, alen) == 1 && (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
		    EVP_DigestFinal_ex(c, out, NULL) == 1)
			rc = 0;
		EVP_MD_CTX_free(c);
	}
	if (rc != 0) /* the thread's error queue is costly to clear: only when a call failed */
		ERR_clear_error();
	return rc;
}

static int setup_keys(ward_vol *v, const uint8_t *key)
{
	if (v->kind != WARD_VOL_ENCRYPTED)
		return 0;
	if (wv_derive(key, v->vid, "ward-vol manifest mac", NULL, 0, v->kmeta) != 0 ||
	    wv_derive(key, v->vid, "ward-vol file keys", NULL, 0, v->kfile) != 0)
		return -1;
	/* every file's key is HKDF(kfile, vid, "ward-vol file key" || id): the
	 * extract step once here, the expand step per file (wv_file_key) */
	ward_hkdf_free(v->fkeys);
	if ((v->fkeys = ward_hkdf_new(v->kfile, sizeof(v->kfile), v->vid, WVOL_ID_LEN)) == NULL)
		return -1;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM prm[2] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			      OSSL_PARAM_construct_end() };
	EVP_MAC_CTX_free(v->mac);
	EVP_MAC_CTX_free(v->macw);
	v->macw = NULL;
	v->mac = m ? EVP_MAC_CTX_new(m) : NULL;
	EVP_MAC_free(m);
	if (v->mac == NULL || EVP_MAC_init(v->mac, v->kmeta, sizeof(v->kmeta), prm) != 1 ||
	    (v->macw = EVP_MAC_CTX_dup(v->mac)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static void build_header(ward_vol *v, const uint8_t *key, uint8_t h[WVOL_HDR_LEN])
{
	memset(h, 0, WVOL_HDR_LEN);
	memcpy(h, WVOL_MAGIC, 8);
	put_le(h + 8, WVOL_VERSION, 4);
	put_le(h + 12, (uint32_t)v->kind, 4);
	put_le(h + 16, WVOL_CHUNK_SHIFT, 4);
	memcpy(h + 24, v->vid, WVOL_ID_LEN);
	if (v->kind == WARD_VOL_ENCRYPTED)
		(void)wv_derive(key, v->vid, "ward-vol key check", NULL, 0, h + 40);
	put_le(h + 72, v->generation, 8);
}

/* ---- applying records ---- */

/* Without overflow: a size read from a manifest may be near 2^64 (it is
 * then refused as more than WVOL_MAX_CHUNKS chunks, never wrapped to 0). */
uint64_t wv_nchunks(uint64_t size)
{
	return size / WVOL_CHUNK + (size % WVOL_CHUNK != 0);
}

static int parent_ok(ward_vol *v, const char *path, struct vnode **parent)
{
	const char *s = strrchr(path, '/');
	*parent = NULL;
	if (s == NULL)
		return 1;
	char pp[WVOL_MAX_PATH + 1];
	memcpy(pp, path, (size_t)(s - path));
	pp[s - path] = '\0';
	struct vnode *p = wv_lookup(v, pp);
	*parent = p;
	return p != NULL && p->type == WVOL_T_DIR;
}

int wv_link_ok(uint64_t size, uint32_t mode, uint8_t flags)
{
	return size >= 1 && size <= WARD_VOL_MAX_LINK && mode == WVOL_LINK_MODE && flags == 0;
}

static int type_ok(uint8_t t)
{
	return t == WVOL_T_FILE || t == WVOL_T_DIR || t == WVOL_T_LINK;
}

/* ---- hard links (format.h, WVOL_T_HLINK) ---- */

static void hl_attach(struct vnode *f, struct vnode *l)
{
	l->file = f;
	l->hl_next = f->hl;
	f->hl = l;
}

static void hl_detach(struct vnode *f, struct vnode *l)
{
	for (struct vnode **pp = &f->hl; *pp; pp = &(*pp)->hl_next)
		if (*pp == l) {
			*pp = l->hl_next;
			break;
		}
	l->hl_next = NULL;
	l->file = NULL;
}

int wv_hl_resolve(ward_vol *v, char *why, size_t whylen)
{
	for (size_t b = 0; b < v->tcap && v->hl_pending > 0; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext) {
			if (x->type != WVOL_T_HLINK || x->file != NULL)
				continue;
			struct vnode *f = x->hl_target ? wv_lookup(v, x->hl_target) : NULL;
			if (f == NULL || f->type != WVOL_T_FILE || memcmp(f->id, x->id, WVOL_ID_LEN) != 0)
				return snprintf(why, whylen, "hard link '%s' names '%s', which is not a file of the volume with its id",
						x->path, x->hl_target ? x->hl_target : ""), -1;
			if (f->nlink >= WARD_VOL_MAX_NLINK)
				return snprintf(why, whylen, "file '%s' has more than %u paths", f->path, WARD_VOL_MAX_NLINK), -1;
			hl_attach(f, x);
			f->nlink++;
			free(x->hl_target);
			x->hl_target = NULL;
			v->hl_pending--;
		}
	return 0;
}

/* The file node f loses its own path (removed, or replaced by a rename)
 * while it has hard links: the smallest of them becomes its path (its
 * disk file is a hard link of f's, format.h invariant 7) and that link
 * node goes. Caller holds v->mu; nothing is allocated. */
static void hl_promote(ward_vol *v, struct vnode *f)
{
	struct vnode *best = f->hl;
	for (struct vnode *l = f->hl; l; l = l->hl_next)
		if (strcmp(l->path, best->path) < 0)
			best = l;
	wv_remove(v, f);
	wv_remove(v, best);
	hl_detach(f, best);
	free(f->path);
	f->path = best->path;
	best->path = NULL;
	free(f->diskpath);
	f->diskpath = NULL;
	f->nlink--;
	(void)wv_insert(v, f); /* the table just lost two nodes: no growth */
	wv_node_free(best);
}

static void child_delta(ward_vol *v, const char *path, int d)
{
	struct vnode *p;
	if (parent_ok(v, path, &p) && p != NULL)
		p->nchild = (uint64_t)((int64_t)p->nchild + d);
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -1)

/* An ENTRY record of a hard link (format.h, WVOL_T_HLINK): its fields
 * but the id are zero (nonzero: their OR), then the path of its file,
 * attached by wv_hl_resolve once every entry is loaded. */
static int apply_hl_entry(ward_vol *v, struct rd *r, const char *path, const uint8_t *id, uint64_t nonzero,
			  char *why, size_t whylen)
{
	char target[WVOL_MAX_PATH + 1];
	struct vnode *n, *par;
	if (v->kind != WARD_VOL_ENCRYPTED || nonzero != 0 || rd_path(r, target, sizeof(target)) != 0 ||
	    strcmp(target, path) == 0)
		return WHY("hard link '%s': malformed entry", path);
	if (wv_lookup(v, path) != NULL || !parent_ok(v, path, &par))
		return WHY("entry '%s' duplicated or without a parent directory", path);
	if ((n = wv_node_new(path, WVOL_T_HLINK)) == NULL || (n->hl_target = strdup(target)) == NULL) {
		wv_node_free(n);
		return WHY("out of memory");
	}
	memcpy(n->id, id, WVOL_ID_LEN);
	if (wv_insert(v, n) != 0) {
		wv_node_free(n);
		return WHY("out of memory");
	}
	child_delta(v, path, 1);
	v->hl_pending++;
	return 0;
}

static int apply_entry(ward_vol *v, struct rd *r, char *why, size_t whylen)
{
	char path[WVOL_MAX_PATH + 1];
	struct vnode *n, *par;
	if (rd_path(r, path, sizeof(path)) != 0)
		return WHY("bad path");
	uint8_t type = rd_u8(r), flags = rd_u8(r);
	uint32_t mode = rd_u32(r);
	int64_t mtime = (int64_t)rd_u64(r);
	const uint8_t *id = rd_bytes(r, WVOL_ID_LEN);
	uint64_t size = rd_u64(r), main_len = rd_u64(r);
	if (!r->bad && type == WVOL_T_HLINK)
		return apply_hl_entry(v, r, path, id, flags | mode | (uint64_t)mtime | size | main_len, why, whylen);
	if (r->bad || !type_ok(type) || (mode & ~07777u) || (flags & ~1u))
		return WHY("malformed entry");
	if (type == WVOL_T_LINK && (v->kind != WARD_VOL_ENCRYPTED || !wv_link_ok(size, mode, flags)))
		return WHY("link '%s': target of %llu bytes, mode %o or flags %u (a target takes 1..%u bytes)", path,
			   (unsigned long long)size, mode, flags, WARD_VOL_MAX_LINK);
	if (wv_lookup(v, path) != NULL || !parent_ok(v, path, &par))
		return WHY("entry '%s' duplicated or without a parent directory", path);
	if (type == WVOL_T_DIR && (size != 0 || main_len != 0))
		return WHY("directory '%s' with a size", path);
	uint64_t nc = wv_nchunks(size);
	if (nc >= WVOL_MAX_CHUNKS || nc * wv_cref_len(v) > r->len - r->off)
		return WHY("entry '%s': size does not match its chunk list", path);
	n = wv_node_new(path, type);
	if (n == NULL)
		return WHY("out of memory");
	n->maybe_dirty = (flags & WVOL_EF_MAYBE_DIRTY) != 0;
	n->mode = mode;
	n->mtime = mtime;
	memcpy(n->id, id, WVOL_ID_LEN);
	n->size = size;
	n->main_len = main_len;
	if (nc > 0) {
		n->c = calloc(nc, sizeof(struct cref));
		if (n->c == NULL) {
			wv_node_free(n);
			return WHY("out of memory");
		}
		for (uint64_t i = 0; i < nc; i++)
			if (get_cref(v, r, &n->c[i]) != 0) {
				wv_node_free(n);
				return WHY("entry '%s': bad chunk reference %llu", path, (unsigned long long)i);
			}
	}
	if (wv_insert(v, n) != 0) {
		wv_node_free(n);
		return WHY("out of memory");
	}
	child_delta(v, path, 1);
	__atomic_add_fetch(&v->nlinks, type == WVOL_T_LINK, __ATOMIC_RELEASE);
	return 0;
}

static int apply_chunks(ward_vol *v, struct rd *r, char *why, size_t whylen)
{
	char path[WVOL_MAX_PATH + 1];
	if (rd_path(r, path, sizeof(path)) != 0)
		return WHY("bad path");
	uint32_t mode = rd_u32(r);
	int64_t mtime = (int64_t)rd_u64(r);
	uint64_t size = rd_u64(r), main_len = rd_u64(r);
	uint32_t cnt = rd_u32(r);
	struct vnode *n = wv_file_of(wv_lookup(v, path));
	if (r->bad || (mode & ~07777u))
		return WHY("malformed commit record");
	if (n == NULL || n->type == WVOL_T_DIR)
		return WHY("commit of '%s', which is not a file", path);
	/* a link's target is committed once, right after its creation */
	if (n->type == WVOL_T_LINK && (n->size != 0 || !wv_link_ok(size, mode, 0)))
		return WHY("commit of link '%s': a second target, or one of %llu bytes (at most %u)", path,
			   (unsigned long long)size, WARD_VOL_MAX_LINK);
	uint64_t onc = wv_nchunks(n->size), nc = wv_nchunks(size);
	if (nc >= WVOL_MAX_CHUNKS || (uint64_t)cnt * (4 + wv_cref_len(v)) != r->len - r->off)
		return WHY("commit of '%s': chunk list does not match", path);
	/* every chunk past the old end is in the list: checked before the
	 * arrays are sized by nc, which the list's length does not bound */
	if (nc > onc && nc - onc > cnt)
		return WHY("commit of '%s': chunk %llu missing", path, (unsigned long long)(onc + cnt));
	struct cref *c = nc ? calloc(nc, sizeof(*c)) : NULL;
	uint8_t *set = nc > onc ? calloc(nc - onc, 1) : NULL;
	if ((nc && c == NULL) || (nc > onc && set == NULL)) {
		free(c);
		free(set);
		return WHY("out of memory");
	}
	if (nc && onc) /* n->c is NULL for a file that had no chunks */
		memcpy(c, n->c, (onc < nc ? onc : nc) * sizeof(*c));
	for (uint32_t k = 0; k < cnt; k++) {
		uint32_t i = rd_u32(r);
		struct cref cr;
		if (get_cref(v, r, &cr) != 0 || i >= nc) {
			free(c);
			free(set);
			return WHY("commit of '%s': bad chunk %u", path, i);
		}
		c[i] = cr;
		if (i >= onc)
			set[i - onc] = 1;
	}
	for (uint64_t i = onc; i < nc; i++)
		if (!set[i - onc]) {
			free(c);
			free(set);
			return WHY("commit of '%s': chunk %llu missing", path, (unsigned long long)i);
		}
	free(set);
	free(n->c);
	n->c = c;
	n->size = size;
	n->mode = mode;
	n->mtime = mtime;
	n->main_len = main_len;
	n->maybe_dirty = 0;
	return 0;
}

static int is_below(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	return strncmp(path, dir, l) == 0 && path[l] == '/';
}

/* Removes n from the table and frees it unless it is open (then it lives on
 * as an unlinked node owned by its handles). */
void wv_drop_node(ward_vol *v, struct vnode *n)
{
	if (n->type == WVOL_T_HLINK && n->file != NULL) {
		n->file->nlink--;
		hl_detach(n->file, n);
	} else if (n->hl != NULL) {
		child_delta(v, n->path, -1);
		hl_promote(v, n); /* the file stays, at another of its paths */
		return;
	}
	child_delta(v, n->path, -1);
	__atomic_sub_fetch(&v->nlinks, n->type == WVOL_T_LINK, __ATOMIC_RELEASE);
	wv_remove(v, n);
	if (n->refs > 0)
		n->unlinked = 1;
	else
		wv_node_free(n);
}

static int apply_rename(ward_vol *v, const char *from, const char *to, char *why, size_t whylen)
{
	struct vnode *n = wv_lookup(v, from), *t = wv_lookup(v, to), *par;
	if (n == NULL)
		return WHY("rename of missing '%s'", from);
	if (strcmp(from, to) == 0 || (t != NULL && n->type != WVOL_T_DIR && wv_file_of(t) == wv_file_of(n)))
		return 0; /* two paths of one file: rename(2) does nothing */
	if (!parent_ok(v, to, &par) || is_below(to, from))
		return WHY("rename of '%s' to '%s': bad target", from, to);
	if (t != NULL) {
		/* as rename(2): a directory replaces an empty directory, a file
		 * or link replaces a file or link */
		if ((t->type == WVOL_T_DIR) != (n->type == WVOL_T_DIR) || (t->type == WVOL_T_DIR && t->nchild != 0))
			return WHY("rename of '%s' onto '%s': incompatible target", from, to);
		wv_drop_node(v, t);
	}
	if (n->type == WVOL_T_DIR) {
		/* move every descendant: collect first, then re-key */
		size_t cnt = 0, k = 0, fl = strlen(from), tl = strlen(to);
		for (size_t b = 0; b < v->tcap; b++)
			for (struct vnode *x = v->tab[b]; x; x = x->hnext)
				cnt += is_below(x->path, from);
		struct vnode **list = cnt ? malloc(cnt * sizeof(*list)) : NULL;
		if (cnt && list == NULL)
			return WHY("out of memory");
		for (size_t b = 0; b < v->tcap; b++)
			for (struct vnode *x = v->tab[b]; x; x = x->hnext)
				if (is_below(x->path, from))
					list[k++] = x;
		for (k = 0; k < cnt; k++) {
			struct vnode *x = list[k];
			size_t rest = strlen(x->path) - fl;
			if (tl + rest > WVOL_MAX_PATH) {
				free(list);
				return WHY("rename of '%s': path too long", from);
			}
		}
		for (k = 0; k < cnt; k++) {
			struct vnode *x = list[k];
			char *np = malloc(tl + strlen(x->path) - fl + 1);
			if (np == NULL) {
				free(list);
				return WHY("out of memory");
			}
			memcpy(np, to, tl);
			strcpy(np + tl, x->path + fl);
			wv_remove(v, x);
			free(x->path);
			x->path = np;
			(void)wv_insert(v, x); /* re-insert into an existing table cannot fail */
		}
		free(list);
	}
	child_delta(v, from, -1);
	wv_remove(v, n);
	char *np = strdup(to);
	if (np == NULL)
		return WHY("out of memory");
	free(n->path);
	n->path = np;
	free(n->diskpath);
	n->diskpath = NULL;
	(void)wv_insert(v, n);
	child_delta(v, to, 1);
	return 0;
}

/* LINK record: `to` becomes one more path of the file at `from` */
static int apply_link(ward_vol *v, const char *from, const char *to, char *why, size_t whylen)
{
	struct vnode *f = wv_file_of(wv_lookup(v, from)), *l, *par;
	if (v->kind != WARD_VOL_ENCRYPTED || f == NULL || f->type != WVOL_T_FILE)
		return WHY("hard link to '%s', which is not a file", from);
	if (wv_lookup(v, to) != NULL || !parent_ok(v, to, &par))
		return WHY("hard link '%s': exists or no parent", to);
	if (f->nlink >= WARD_VOL_MAX_NLINK)
		return WHY("hard link '%s': '%s' has %u paths already", to, from, f->nlink);
	if ((l = wv_node_new(to, WVOL_T_HLINK)) == NULL)
		return WHY("out of memory");
	memcpy(l->id, f->id, WVOL_ID_LEN);
	if (wv_insert(v, l) != 0) {
		wv_node_free(l);
		return WHY("out of memory");
	}
	hl_attach(f, l);
	f->nlink++;
	child_delta(v, to, 1);
	return 0;
}

int wv_apply(ward_vol *v, uint32_t type, const uint8_t *p, size_t len, int loading, char *why, size_t whylen)
{
	struct rd r = { p, len, 0, 0 };
	char path[WVOL_MAX_PATH + 1], to[WVOL_MAX_PATH + 1];
	struct vnode *n, *par;
	int rc;

	switch (type) {
	case WVOL_R_ENTRY:
		rc = apply_entry(v, &r, why, whylen);
		break;
	case WVOL_R_CHUNKS:
		rc = apply_chunks(v, &r, why, whylen);
		break;
	case WVOL_R_CREATE: {
		if (rd_path(&r, path, sizeof(path)) != 0)
			return WHY("bad path");
		uint8_t t = rd_u8(&r);
		uint32_t mode = rd_u32(&r);
		int64_t mtime = (int64_t)rd_u64(&r);
		const uint8_t *id = rd_bytes(&r, WVOL_ID_LEN);
		if (r.bad || !type_ok(t) || (mode & ~07777u) ||
		    (t == WVOL_T_LINK && (v->kind != WARD_VOL_ENCRYPTED || mode != WVOL_LINK_MODE)))
			return WHY("malformed create record");
		if (wv_lookup(v, path) != NULL || !parent_ok(v, path, &par))
			return WHY("create of '%s': exists or no parent", path);
		n = wv_node_new(path, t);
		if (n == NULL)
			return WHY("out of memory");
		n->mode = mode;
		n->mtime = mtime;
		memcpy(n->id, id, WVOL_ID_LEN);
		n->maybe_dirty = t != WVOL_T_DIR;
		if (wv_insert(v, n) != 0) {
			wv_node_free(n);
			return WHY("out of memory");
		}
		child_delta(v, path, 1);
		__atomic_add_fetch(&v->nlinks, t == WVOL_T_LINK, __ATOMIC_RELEASE);
		rc = 0;
		break;
	}
	case WVOL_R_UNLINK:
		if (rd_path(&r, path, sizeof(path)) != 0)
			return WHY("bad path");
		n = wv_lookup(v, path);
		if (n == NULL || (n->type == WVOL_T_DIR && n->nchild != 0))
			return WHY("removal of '%s': missing or not empty", path);
		wv_drop_node(v, n);
		rc = 0;
		break;
	case WVOL_R_RENAME:
		if (rd_path(&r, path, sizeof(path)) != 0 || rd_path(&r, to, sizeof(to)) != 0)
			return WHY("bad path");
		rc = apply_rename(v, path, to, why, whylen);
		break;
	case WVOL_R_SETATTR: {
		if (rd_path(&r, path, sizeof(path)) != 0)
			return WHY("bad path");
		uint32_t mode = rd_u32(&r);
		int64_t mtime = (int64_t)rd_u64(&r);
		n = wv_file_of(wv_lookup(v, path));
		if (r.bad || n == NULL || (mode & ~07777u) || (n->type == WVOL_T_LINK && mode != WVOL_LINK_MODE))
			return WHY("malformed attribute record for '%s'", path);
		n->mode = mode;
		n->mtime = mtime;
		rc = 0;
		break;
	}
	case WVOL_R_DIRTY:
		if (rd_path(&r, path, sizeof(path)) != 0)
			return WHY("bad path");
		n = wv_file_of(wv_lookup(v, path));
		if (n == NULL || n->type != WVOL_T_FILE)
			return WHY("dirty mark for missing '%s'", path);
		if (loading)
			n->maybe_dirty = 1;
		rc = 0;
		break;
	case WVOL_R_LINK:
		if (rd_path(&r, path, sizeof(path)) != 0 || rd_path(&r, to, sizeof(to)) != 0)
			return WHY("bad path");
		rc = apply_link(v, path, to, why, whylen);
		break;
	default:
		return WHY("unknown record type %u", type);
	}
	if (rc == 0 && r.off != r.len)
		return WHY("trailing bytes in record type %u", type);
	return rc;
}

/* ---- load ---- */

/*
 * The manifest is read into private memory (never mapped from the file,
 * whose later changes would then reach verified state). A large one goes
 * into an anonymous mapping in 2 MiB units with transparent huge pages
 * asked for: filling fresh memory one 4 KiB page fault at a time costs
 * more than reading and hashing it (about 9 ms instead of 0.7 for a 2.3 MB
 * manifest on a virtual machine). The room after the bytes is zero and
 * holds a lazy volume's index (struct lazy), bounded by LZ_INDEX_ROOM.
 */
#define MBUF_MAP_MIN ((size_t)256 << 10)
#define MBUF_UNIT ((size_t)2 << 20)
/* the smallest record (an ENTRY with a one-byte path) and the index per
 * entry: its offset, and up to four hash slots */
#define LZ_MIN_REC (WVOL_REC_HDR + 2u + 1u + 46u + WVOL_MAC_LEN)
#define LZ_INDEX_ROOM(len) (((len) / LZ_MIN_REC + 8) * 5 * sizeof(uint32_t) + 64)

struct mbuf {
	uint8_t *p;
	size_t len;
	void *map; /* mapping (munmap) or NULL (free p) */
	size_t maplen;
	struct ward_file_id id; /* of the file read */
	int id_ok;		    /* unchanged while it was read */
};

static void mbuf_free(struct mbuf *b)
{
	if (b->map != NULL)
		munmap(b->map, b->maplen);
	else
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* -1 with errno set */
static int mbuf_read(const char *path, struct mbuf *b)
{
	struct stat st;
	size_t n = 0, cap;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	memset(b, 0, sizeof(*b));
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if ((uint64_t)st.st_size > WVOL_MAX_MANIFEST) {
		errno = EFBIG;
		goto fail;
	}
	cap = (size_t)st.st_size;
	if (cap >= MBUF_MAP_MIN) {
		b->maplen = (cap + LZ_INDEX_ROOM(cap) + MBUF_UNIT - 1) / MBUF_UNIT * MBUF_UNIT;
		if ((b->map = ward_map_huge(b->maplen)) == NULL)
			goto fail;
		b->p = b->map;
	} else if ((b->p = malloc(cap ? cap : 1)) == NULL) {
		goto fail;
	}
	/* bytes appended since fstat are left for the next open, as if read
	 * just before the append (records are only ever appended; a snapshot
	 * replaces the file by rename) */
	if (ward_pread_full(fd, b->p, cap, 0, &n) != 0)
		goto fail;
	ward_file_id_of(&st, &b->id);
	{
		struct stat after;
		struct ward_file_id a;
		b->id_ok = 0;
		if (n == cap && fstat(fd, &after) == 0) {
			ward_file_id_of(&after, &a);
			b->id_ok = ward_file_id_eq(&a, &b->id);
		}
	}
	close(fd);
	b->len = n;
	return 0;
fail:
	e = errno;
	mbuf_free(b);
	close(fd);
	errno = e;
	return -1;
}

static int lazy_load(ward_vol *v, struct mbuf *b);

int wv_manifest_load(ward_vol *v, const uint8_t *key, char *err)
{
	uint8_t *buf = NULL, mac[WVOL_MAC_LEN];
	size_t len = 0;
	int rc;
	char why[200];
	const char *mname = v->manifest;
	struct mbuf mb;

	if (mbuf_read(v->manifest, &mb) == 0) {
		buf = mb.p;
		len = mb.len;
		v->mid = mb.id;
		v->mid_ok = mb.id_ok;
	} else {
		int e = errno;
		if (e == ENOENT)
			return wv_fail(err, -ENOENT, "'%s' is not a volume (no manifest %s)", v->dir, mname);
		return wv_fail(err, -e, "cannot read manifest %s: %s", mname, strerror(e));
	}
	if (len < WVOL_HDR_LEN || memcmp(buf, WVOL_MAGIC, 8) != 0) {
		rc = wv_fail(err, -EBADMSG, "manifest %s: not a Ward volume manifest (bad magic or too short)", mname);
		goto out;
	}
	if (get_le(buf + 8, 4) != WVOL_VERSION || get_le(buf + 16, 4) != WVOL_CHUNK_SHIFT) {
		rc = wv_fail(err, -EBADMSG, "manifest %s: unsupported version %u or chunk size", mname,
			     (unsigned)get_le(buf + 8, 4));
		goto out;
	}
	uint32_t kind = (uint32_t)get_le(buf + 12, 4);
	if (kind != (uint32_t)v->kind) {
		/* the wrong option, not tampering: its own errno (EMEDIUMTYPE) */
		const char *is = kind == WARD_VOL_ENCRYPTED	      ? "encrypted"
				 : kind == WARD_VOL_AUTHENTICATED ? "authenticated"
								  : "unknown";
		const char *want = v->kind == WARD_VOL_ENCRYPTED ? "encrypted" : "authenticated";
		char own[PATH_MAX];
		int given = snprintf(own, sizeof(own), "%s/%s/manifest", v->dir, WARD_VOL_META_DIR) >= (int)sizeof(own) ||
			    strcmp(own, v->manifest) != 0;
		if (given) /* a manifest given for the directory: the manifest is wrong */
			rc = wv_fail(err, -EMEDIUMTYPE, "manifest %s belongs to an %s volume, not to an %s one", mname, is,
				     want);
		else
			rc = wv_fail(err, -EMEDIUMTYPE, "'%s' is an %s volume, not an %s one", v->dir, is, want);
		goto out;
	}
	memcpy(v->vid, buf + 24, WVOL_ID_LEN);
	v->generation = get_le(buf + 72, 8);
	if (v->want_trusted != NULL) {
		/* volume.h, "Trusted manifests": no OpenSSL call on this path */
		if (v->kind != WARD_VOL_AUTHENTICATED || v->writable || !mb.id_ok ||
		    !ward_file_id_eq(&mb.id, v->want_trusted)) {
			rc = wv_fail(err, -ESTALE, "manifest %s: not the one checked before", mname);
			goto out;
		}
		v->trusted = 1;
		memcpy(v->last_mac, buf + WVOL_HDR_MAC_OFF, WVOL_MAC_LEN);
		rc = lazy_load(v, &mb);
		if (rc > 0)
			return 0; /* the bytes now belong to the volume */
		v->trusted = 0;
		rc = rc < 0 ? wv_fail(err, -ENOMEM, "out of memory")
			    : wv_fail(err, -ESTALE, "manifest %s: not a single snapshot, or malformed", mname);
		goto out;
	}
	if (v->kind == WARD_VOL_ENCRYPTED) {
		uint8_t kc[32];
		if (key == NULL) {
			rc = wv_fail(err, -EINVAL, "'%s' is encrypted: a key is needed", v->dir);
			goto out;
		}
		if (wv_derive(key, v->vid, "ward-vol key check", NULL, 0, kc) != 0 || setup_keys(v, key) != 0) {
			rc = wv_fail(err, -ENOMEM, "cannot derive the volume keys");
			goto out;
		}
		if (!ward_ct_equal(kc, buf + 40, 32)) {
			rc = wv_fail(err, -EKEYREJECTED, "wrong key for volume '%s' (the key check does not match)", v->dir);
			goto out;
		}
	}
	if (mac3(v, NULL, buf, WVOL_HDR_MAC_OFF, NULL, 0, mac) != 0) {
		rc = wv_fail(err, -ENOMEM, "cannot compute a MAC");
		goto out;
	}
	if (!ward_ct_equal(mac, buf + WVOL_HDR_MAC_OFF, WVOL_MAC_LEN)) {
		rc = wv_fail(err, -EBADMSG, "manifest %s: header authentication failed (tampered)", mname);
		goto out;
	}
	memcpy(v->last_mac, mac, WVOL_MAC_LEN);
	rc = lazy_load(v, &mb);
	if (rc < 0) {
		rc = wv_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (rc > 0)
		return 0; /* the bytes now belong to the volume */
	size_t off = WVOL_HDR_LEN, recno = 0;
	uint64_t snap_end = get_le(buf + WVOL_HDR_SNAP_END, 8);
	int in_snap = 1;
	v->snap_len = off;
	while (len - off >= WVOL_REC_HDR) {
		uint32_t type = (uint32_t)get_le(buf + off, 4), plen = (uint32_t)get_le(buf + off + 4, 4);
		if (plen > WVOL_MAX_RECORD) {
			rc = wv_fail(err, -EBADMSG, "manifest %s: record %zu (offset %zu) has an impossible length (tampered)",
				     mname, recno, off);
			goto out;
		}
		if ((size_t)plen + WVOL_REC_HDR + WVOL_MAC_LEN > len - off)
			break; /* torn tail of an interrupted append: not committed */
		if (mac3(v, v->last_mac, buf + off, WVOL_REC_HDR, buf + off + WVOL_REC_HDR, plen, mac) != 0) {
			rc = wv_fail(err, -ENOMEM, "cannot compute a MAC");
			goto out;
		}
		if (!ward_ct_equal(mac, buf + off + WVOL_REC_HDR + plen, WVOL_MAC_LEN)) {
			rc = wv_fail(err, -EBADMSG,
				     "manifest %s: record %zu (offset %zu) failed authentication (metadata tampered)",
				     mname, recno, off);
			goto out;
		}
		if ((type != WVOL_R_ENTRY && wv_hl_resolve(v, why, sizeof(why)) != 0) ||
		    wv_apply(v, type, buf + off + WVOL_REC_HDR, plen, 1, why, sizeof(why)) != 0) {
			rc = wv_fail(err, -EBADMSG, "manifest %s: record %zu: %s", mname, recno, why);
			goto out;
		}
		memcpy(v->last_mac, mac, WVOL_MAC_LEN);
		if (type != WVOL_R_ENTRY)
			in_snap = 0;
		off += WVOL_REC_HDR + plen + WVOL_MAC_LEN;
		if (in_snap)
			v->snap_len = off;
		free(v->last_payload);
		v->last_payload = malloc(plen ? plen : 1);
		if (v->last_payload == NULL) {
			rc = wv_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		memcpy(v->last_payload, buf + off - WVOL_MAC_LEN - plen, plen);
		v->last_len = plen;
		v->last_type = type;
		recno++;
	}
	/* A snapshot is written whole (temporary file, fsync, rename): no crash
	 * leaves it shorter than its header says, so a manifest that ends
	 * inside it was cut (the files listed after the cut would vanish). */
	if (snap_end != 0 && v->snap_len != snap_end) {
		if (v->snap_len < snap_end && off == v->snap_len)
			rc = wv_fail(err, -EBADMSG,
				     "manifest %s: cut short inside its snapshot (%zu of %llu bytes: part of the file "
				     "list is missing)",
				     mname, len, (unsigned long long)snap_end);
		else
			rc = wv_fail(err, -EBADMSG,
				     "manifest %s: the snapshot ends at byte %zu, its header says %llu (malformed)", mname,
				     v->snap_len, (unsigned long long)snap_end);
		goto out;
	}
	if (wv_hl_resolve(v, why, sizeof(why)) != 0) {
		rc = wv_fail(err, -EBADMSG, "manifest %s: %s (malformed)", mname, why);
		goto out;
	}
	v->jlen = off;
	rc = 0;
out:
	mbuf_free(&mb);
	return rc;
}

/* ---- append ---- */

/* Writes header, payload and MAC at off as one pwritev (short writes are
 * continued); 0 or -1 with errno. The payload is written from the caller's
 * buffer: no copy of a large record into fresh memory. */
static int write_record(int fd, const uint8_t *hdr, const uint8_t *payload, size_t len, const uint8_t *mac,
			off_t off)
{
	struct iovec iov[3] = { { (void *)hdr, WVOL_REC_HDR }, { (void *)payload, len }, { (void *)mac, WVOL_MAC_LEN } };
	int i = 0;
	while (i < 3) {
		ssize_t w = pwritev(fd, iov + i, 3 - i, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
		while (i < 3 && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < 3) {
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

int wv_manifest_append(ward_vol *v, uint32_t type, const uint8_t *payload, size_t len, char *err)
{
	uint8_t hdr[WVOL_REC_HDR], mac[WVOL_MAC_LEN];
	size_t tot = WVOL_REC_HDR + len + WVOL_MAC_LEN;

	if (len > WVOL_MAX_RECORD)
		return wv_fail(err, -EFBIG, "a single commit is too large (%zu bytes of metadata)", len);
	if (!v->writable)
		return wv_fail(err, -EROFS, "volume '%s' is read-only", v->dir);
	if (wv_lazy_eager(v) != 0)
		return wv_fail(err, -ENOMEM, "out of memory");
	put_le(hdr, type, 4);
	put_le(hdr + 4, len, 4);
	if (mac3(v, v->last_mac, hdr, WVOL_REC_HDR, payload, len, mac) != 0)
		return wv_fail(err, -ENOMEM, "cannot compute a MAC");
	if (write_record(v->jfd, hdr, payload, len, mac, (off_t)v->jlen) != 0) {
		int e = errno ? errno : EIO;
		/* cut a partial record so the next append starts at a boundary */
		if (ftruncate(v->jfd, (off_t)v->jlen) != 0) {
			/* the torn tail is dropped at the next open */
		}
		return wv_fail(err, -e, "cannot write the manifest of '%s': %s", v->dir, strerror(e));
	}
	v->jlen += tot;
	memcpy(v->last_mac, mac, WVOL_MAC_LEN);
	return 0;
}

int wv_manifest_dirty(ward_vol *v, const char *path, char *err)
{
	struct wbuf b = { 0 };
	int rc;
	wb_str(&b, path);
	rc = b.oom ? wv_fail(err, -ENOMEM, "out of memory") : wv_manifest_append(v, WVOL_R_DIRTY, b.p, b.len, err);
	free(b.p);
	return rc;
}

/* ---- snapshot ---- */

static int cmp_nodes(const void *a, const void *b)
{
	return strcmp((*(struct vnode *const *)a)->path, (*(struct vnode *const *)b)->path);
}

static struct vnode **sorted_nodes(ward_vol *v)
{
	struct vnode **list = malloc((v->tcount ? v->tcount : 1) * sizeof(*list));
	size_t k = 0;
	if (list == NULL)
		return NULL;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			list[k++] = x;
	if (k > 1)
		qsort(list, k, sizeof(*list), cmp_nodes);
	return list;
}

static void put_entry(ward_vol *v, struct wbuf *b, struct vnode *n, int for_tag)
{
	size_t cl = wv_cref_len(v);
	uint8_t cb[WVOL_AUTH_CREF];
	if (n->type == WVOL_T_HLINK) { /* format.h: zeros, the id, the file's path */
		wb_str(b, n->path);
		wb_u8(b, WVOL_T_HLINK);
		if (!for_tag)
			wb_u8(b, 0);
		wb_u32(b, 0);
		wb_u64(b, 0);
		wb_put(b, n->id, WVOL_ID_LEN);
		wb_u64(b, 0);
		if (!for_tag)
			wb_u64(b, 0);
		wb_str(b, n->file->path);
		return;
	}
	wb_str(b, n->path);
	wb_u8(b, n->type);
	if (!for_tag)
		wb_u8(b, n->type == WVOL_T_FILE && (n->maybe_dirty || n->dirty_logged) ? WVOL_EF_MAYBE_DIRTY : 0);
	wb_u32(b, n->mode);
	wb_u64(b, (uint64_t)n->mtime);
	wb_put(b, n->id, WVOL_ID_LEN);
	wb_u64(b, n->size);
	if (!for_tag)
		wb_u64(b, n->main_len);
	for (uint64_t i = 0; i < wv_nchunks(n->size); i++) {
		wv_put_cref(v, cb, &n->c[i]);
		wb_put(b, cb, cl);
	}
}

static int snapshot_bytes(ward_vol *v, const uint8_t *key, struct wbuf *out)
{
	static const uint8_t nomac[WVOL_MAC_LEN];
	uint8_t h[WVOL_HDR_LEN], mac[WVOL_MAC_LEN];
	struct vnode **list = wv_lazy_eager(v) == 0 ? sorted_nodes(v) : NULL;
	struct wbuf e = { 0 };
	int rc = -1;

	if (list == NULL)
		return -1;
	if (key != NULL || v->kind != WARD_VOL_ENCRYPTED)
		build_header(v, key, h);
	else {
		/* keep the existing key check: rebuild from the manifest header */
		int fd = open(v->manifest, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd >= 0 ? pread(fd, h, WVOL_HDR_LEN, 0) : -1;
		if (fd >= 0)
			close(fd);
		if (r != (ssize_t)WVOL_HDR_LEN)
			goto out;
		put_le(h + 72, v->generation, 8);
	}
	/* The records first, their MACs left blank: the header holds where the
	 * snapshot ends (WVOL_HDR_SNAP_END), and the chain starts from the
	 * header's MAC. */
	wb_put(out, h, WVOL_HDR_LEN);
	for (size_t i = 0; i < v->tcount; i++) {
		uint8_t rh[WVOL_REC_HDR];
		e.len = 0;
		put_entry(v, &e, list[i], 0);
		if (e.oom || e.len > WVOL_MAX_RECORD)
			goto out;
		put_le(rh, WVOL_R_ENTRY, 4);
		put_le(rh + 4, e.len, 4);
		wb_put(out, rh, sizeof(rh));
		wb_put(out, e.p, e.len);
		wb_put(out, nomac, WVOL_MAC_LEN);
	}
	if (out->oom)
		goto out;
	put_le(h + WVOL_HDR_SNAP_END, out->len, 8);
	if (mac3(v, NULL, h, WVOL_HDR_MAC_OFF, NULL, 0, mac) != 0)
		goto out;
	memcpy(h + WVOL_HDR_MAC_OFF, mac, WVOL_MAC_LEN);
	memcpy(out->p, h, WVOL_HDR_LEN);
	for (size_t off = WVOL_HDR_LEN; off < out->len;) {
		size_t plen = (size_t)get_le(out->p + off + 4, 4);
		if (mac3(v, mac, out->p + off, WVOL_REC_HDR, out->p + off + WVOL_REC_HDR, plen, mac) != 0)
			goto out;
		off += WVOL_REC_HDR + plen;
		memcpy(out->p + off, mac, WVOL_MAC_LEN);
		off += WVOL_MAC_LEN;
	}
	memcpy(v->last_mac, mac, WVOL_MAC_LEN);
	rc = 0;
out:
	free(e.p);
	free(list);
	return rc;
}

static int write_snapshot(ward_vol *v, const uint8_t *key, char *err)
{
	struct wbuf b = { 0 };
	int rc;
	v->generation++;
	if (snapshot_bytes(v, key, &b) != 0) {
		free(b.p);
		return wv_fail(err, -ENOMEM, "cannot build the manifest of '%s'", v->dir);
	}
	if (ward_write_file_atomic(v->manifest, b.p, b.len, v->kind == WARD_VOL_ENCRYPTED ? 0600 : 0644) != 0) {
		int e = errno ? errno : EIO;
		free(b.p);
		return wv_fail(err, -e, "cannot write manifest %s: %s", v->manifest, strerror(e));
	}
	v->jlen = v->snap_len = v->jsynced = b.len; /* the atomic write synced it */
	free(b.p);
	rc = 0;
	if (v->writable) {
		int fd = open(v->manifest, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return wv_fail(err, -errno, "cannot reopen manifest %s: %s", v->manifest, strerror(errno));
		if (v->jfd >= 0)
			close(v->jfd);
		v->jfd = fd;
	}
	return rc;
}

int wv_manifest_snapshot(ward_vol *v, char *err)
{
	return write_snapshot(v, NULL, err);
}

int wv_manifest_init(ward_vol *v, const uint8_t *key, const uint8_t vid[WVOL_ID_LEN], char *err)
{
	memcpy(v->vid, vid, WVOL_ID_LEN);
	v->generation = 0;
	if (setup_keys(v, key) != 0)
		return wv_fail(err, -ENOMEM, "cannot derive the volume keys");
	return write_snapshot(v, key, err);
}

/* ---- lazy snapshots (internal.h, struct lazy) ---- */

int wv_lazy_disabled;

/* ENTRY payload after the path: u8 type, u8 flags, u32 mode, i64 mtime,
 * id[16], u64 size, u64 main_len */
#define ENT_FIXED (1u + 1u + 4u + 8u + WVOL_ID_LEN + 8u + 8u)

struct ent {
	const uint8_t *path;
	size_t plen;
	uint8_t type, flags;
	uint32_t mode;
	int64_t mtime;
	const uint8_t *id;
	uint64_t size, main_len, nc;
	const uint8_t *crefs;
	const uint8_t *target; /* hard links: the file's path (tlen bytes) */
	size_t tlen;
};

/* A stored path in normal form (what wv_path_norm returns for itself):
 * non-empty components separated by single slashes, none "." or "..", no
 * NUL, not the reserved entry. */
static int path_is_normal(const uint8_t *p, size_t n)
{
	size_t ml = strlen(WARD_VOL_META_DIR);
	if (n == 0 || n > WVOL_MAX_PATH || memchr(p, 0, n) != NULL)
		return 0;
	if (n >= ml && memcmp(p, WARD_VOL_META_DIR, ml) == 0 && (n == ml || p[ml] == '/'))
		return 0;
	for (size_t i = 0; i < n;) {
		const uint8_t *s = memchr(p + i, '/', n - i);
		size_t cl = (s ? (size_t)(s - p) : n) - i;
		if (cl == 0 || (cl == 1 && p[i] == '.') || (cl == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i += cl + 1;
		if (s != NULL && i == n)
			return 0; /* trailing slash */
	}
	return 1;
}

/* Parses and checks one ENTRY payload as apply_entry does (all but the
 * parent, which needs the other entries). 0 or -1. */
static int ent_parse(const ward_vol *v, const uint8_t *p, size_t len, struct ent *e)
{
	size_t cl = wv_cref_len(v);
	if (len < 2)
		return -1;
	e->plen = (size_t)le16(p);
	if (len - 2 < e->plen || len - 2 - e->plen < ENT_FIXED)
		return -1;
	e->path = p + 2;
	if (!path_is_normal(e->path, e->plen))
		return -1;
	const uint8_t *q = p + 2 + e->plen;
	e->type = q[0];
	e->flags = q[1];
	e->mode = (uint32_t)le32(q + 2);
	e->mtime = (int64_t)le64(q + 6);
	e->id = q + 14;
	e->size = le64(q + 14 + WVOL_ID_LEN);
	e->main_len = le64(q + 22 + WVOL_ID_LEN);
	e->crefs = q + ENT_FIXED;
	e->target = NULL;
	e->tlen = 0;
	if (e->type == WVOL_T_HLINK) { /* format.h: zeros but the id, then the file's path */
		size_t rest = len - 2 - e->plen - ENT_FIXED;
		if (v->kind != WARD_VOL_ENCRYPTED || e->flags || e->mode || e->mtime || e->size || e->main_len || rest < 2)
			return -1;
		e->tlen = (size_t)le16(e->crefs);
		e->target = e->crefs + 2;
		e->nc = 0;
		if (rest - 2 != e->tlen || !path_is_normal(e->target, e->tlen) ||
		    (e->tlen == e->plen && memcmp(e->target, e->path, e->plen) == 0))
			return -1;
		return 0;
	}
	if (!type_ok(e->type) || (e->mode & ~07777u) || (e->flags & ~1u))
		return -1;
	if (e->type == WVOL_T_LINK && (v->kind != WARD_VOL_ENCRYPTED || !wv_link_ok(e->size, e->mode, e->flags)))
		return -1;
	if (e->type == WVOL_T_DIR && (e->size != 0 || e->main_len != 0))
		return -1;
	e->nc = wv_nchunks(e->size);
	size_t rest = len - 2 - e->plen - ENT_FIXED;
	if (e->nc >= WVOL_MAX_CHUNKS || rest % cl != 0 || rest / cl != e->nc)
		return -1;
	if (v->kind == WARD_VOL_ENCRYPTED)
		for (uint64_t i = 0; i < e->nc; i++)
			if (e->crefs[i * cl] > WVOL_SLOT_HOLE)
				return -1;
	return 0;
}

static const uint8_t *lz_payload(const struct lazy *lz, uint32_t i, size_t *len)
{
	const uint8_t *r = lz->buf + lz->rec[i];
	*len = (size_t)le32(r + 4);
	return r + WVOL_REC_HDR;
}

/* entry i's path (bytes, not NUL-terminated) */
static const uint8_t *lz_path(const struct lazy *lz, uint32_t i, size_t *plen)
{
	size_t len;
	const uint8_t *p = lz_payload(lz, i, &len);
	*plen = (size_t)le16(p);
	return p + 2;
}

/* a path's hash, eight bytes at a time (only for the in-memory index) */
static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

/* index of the entry with path s[0..n), or -1 */
static int64_t lz_find(const struct lazy *lz, const uint8_t *s, size_t n)
{
	for (size_t h = hash_bytes(s, n) & lz->hmask;; h = (h + 1) & lz->hmask) {
		uint32_t x = lz->hash[h];
		size_t pl;
		if (x == 0)
			return -1;
		const uint8_t *p = lz_path(lz, x - 1, &pl);
		if (pl == n && memcmp(p, s, n) == 0)
			return (int64_t)x - 1;
	}
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c != 0 ? c : (al > bl) - (al < bl);
}

/* first entry whose path is >= key (entries are sorted) */
static uint32_t lz_lower(const struct lazy *lz, uint32_t lo, const uint8_t *key, size_t kl)
{
	uint32_t hi = lz->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		size_t pl;
		const uint8_t *p = lz_path(lz, mid, &pl);
		if (bytes_cmp(p, pl, key, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* first entry at or after lo whose path does not start with prefix */
static uint32_t lz_prefix_end(const struct lazy *lz, uint32_t lo, const uint8_t *prefix, size_t n)
{
	uint32_t hi = lz->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		size_t pl;
		const uint8_t *p = lz_path(lz, mid, &pl);
		if (pl >= n && memcmp(p, prefix, n) == 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void wv_lazy_free(struct lazy *lz)
{
	if (lz == NULL)
		return;
	if (!lz->index_in_map) {
		free(lz->rec);
		free(lz->hash);
	}
	free(lz->nl);
	if (lz->map != NULL)
		munmap(lz->map, lz->maplen);
	else
		free(lz->buf);
	free(lz);
}

/* Whether a record's stored MAC is right: the HMAC (m: encrypted volumes)
 * or the chained SHA-256 (c with md: authenticated ones) of prev || hdr ||
 * payload, which lie contiguous in the buffer (the previous MAC, the
 * header's for the first record, comes right before the record). The
 * contexts are the caller's, so threads can check records side by side. */
static int record_ok(EVP_MAC_CTX *m, EVP_MD_CTX *c, const EVP_MD *md, const uint8_t *buf, size_t off, size_t plen)
{
	uint8_t mac[WVOL_MAC_LEN];
	const uint8_t *from = buf + off - WVOL_MAC_LEN;
	size_t n = WVOL_MAC_LEN + WVOL_REC_HDR + plen, ol = WVOL_MAC_LEN;
	int ok = m != NULL ? EVP_MAC_init(m, NULL, 0, NULL) == 1 && EVP_MAC_update(m, from, n) == 1 &&
				     EVP_MAC_final(m, mac, &ol, sizeof(mac)) == 1
			   : c != NULL && EVP_DigestInit_ex(c, md, NULL) == 1 && EVP_DigestUpdate(c, from, n) == 1 &&
				     EVP_DigestFinal_ex(c, mac, NULL) == 1;
	if (!ok || ol != WVOL_MAC_LEN) {
		ERR_clear_error();
		return 0;
	}
	return ward_ct_equal(mac, buf + off + WVOL_REC_HDR + plen, WVOL_MAC_LEN);
}

static int chain_ok(ward_vol *v, EVP_MD_CTX *c, const EVP_MD *md, const uint8_t *buf, size_t off, size_t plen)
{
	if (v->kind == WARD_VOL_ENCRYPTED)
		return v->macw != NULL && record_ok(v->macw, NULL, NULL, buf, off, plen);
	return record_ok(NULL, c, md, buf, off, plen);
}

/* Every hard-link entry of lz (indexed) names a file entry with its id:
 * counts them per file into lz->nl. 0, 1 when one does not (the eager
 * loader says which), -1 out of memory. */
static int lz_count_hl(const ward_vol *v, struct lazy *lz)
{
	if ((lz->nl = calloc(lz->n ? lz->n : 1, sizeof(uint32_t))) == NULL)
		return -1;
	for (uint32_t i = 0; i < lz->n; i++) {
		size_t len, tl;
		struct ent e, t;
		const uint8_t *p = lz_payload(lz, i, &len);
		if (ent_parse(v, p, len, &e) != 0)
			return 1;
		if (e.type != WVOL_T_HLINK)
			continue;
		int64_t ti = lz_find(lz, e.target, e.tlen);
		if (ti < 0)
			return 1;
		p = lz_payload(lz, (uint32_t)ti, &tl);
		if (ent_parse(v, p, tl, &t) != 0 || t.type != WVOL_T_FILE || memcmp(t.id, e.id, WVOL_ID_LEN) != 0 ||
		    ++lz->nl[ti] >= WARD_VOL_MAX_NLINK)
			return 1;
	}
	return 0;
}

/*
 * Opens a snapshot lazily (read-only or read-write: struct lazy). b holds
 * the manifest, whose header (ending in its verified MAC) has been checked. Returns 1 when done (b's
 * memory then belongs to the volume), 0 when the manifest does not qualify
 * or does not verify: the caller then runs the eager loader over the same
 * bytes, which reports any failure with its usual line. -1: out of memory.
 */
#define LZ_AHEAD 16 /* records between a slot's prefetch and its probe */
#define LZ_PAR_MIN 1024	 /* records: from here their MACs are checked on both cores */
#define LZ_PAR_GRAIN 256 /* records per piece */

struct chain_job {
	ward_vol *v;
	const uint8_t *buf;
	const uint32_t *rec; /* the records' offsets */
	const EVP_MD *md;    /* authenticated volumes: SHA-256 */
};

/* Checks the MACs (encrypted) or chained hashes (authenticated) of
 * records [lo, hi) with a context of its own. Each record's MAC covers the
 * MAC stored before it in the buffer, so every record is checked on its
 * own, in any order, by either thread (wv_parallel). 0 when all match, 1
 * at the first that does not (the eager loader then names it). */
static int chain_part(void *arg, uint64_t lo, uint64_t hi)
{
	const struct chain_job *j = arg;
	int enc = j->v->kind == WARD_VOL_ENCRYPTED;
	EVP_MAC_CTX *m = enc ? EVP_MAC_CTX_dup(j->v->mac) : NULL;
	EVP_MD_CTX *c = enc ? NULL : EVP_MD_CTX_new();
	int bad = enc ? m == NULL : c == NULL;
	for (uint64_t i = lo; i < hi && !bad; i++)
		bad = !record_ok(m, c, j->md, j->buf, j->rec[i], (size_t)le32(j->buf + j->rec[i] + 4));
	EVP_MAC_CTX_free(m);
	EVP_MD_CTX_free(c);
	if (bad)
		ERR_clear_error();
	return bad;
}

static int lazy_load(ward_vol *v, struct mbuf *b)
{
	const uint8_t *buf = b->p;
	size_t len = b->len;
	struct lazy *lz;
	size_t off, n = 0, cap;
	EVP_MD_CTX *c = NULL;
	EVP_MD *md = NULL;
	const uint8_t *prev = NULL, *okdir = NULL;
	size_t prevl = 0, okdl = 0;
	uint64_t nlinks = 0, nhl = 0;
	int rc = -1;

	if (wv_lazy_disabled || len > UINT32_MAX)
		return 0;
	/* qualifies: whole ENTRY records up to the last byte */
	for (off = WVOL_HDR_LEN; len - off >= WVOL_REC_HDR; n++) {
		uint64_t plen = le32(buf + off + 4);
		if (le32(buf + off) != WVOL_R_ENTRY || plen > WVOL_MAX_RECORD ||
		    plen + WVOL_REC_HDR + WVOL_MAC_LEN > len - off)
			return 0;
		off += WVOL_REC_HDR + plen + WVOL_MAC_LEN;
	}
	if (off != len || n >= UINT32_MAX / 4)
		return 0;
	uint64_t snap_end = le64(buf + WVOL_HDR_SNAP_END);
	if (snap_end != 0 && snap_end != len)
		return 0; /* cut short or malformed: the eager loader says which */
	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	if ((lz = calloc(1, sizeof(*lz))) == NULL)
		goto oom;
	/* the index goes after the bytes in the (zeroed) mapping when it fits */
	size_t at = (len + 63) & ~(size_t)63, need = (n + cap) * sizeof(uint32_t);
	if (b->map != NULL && at <= b->maplen && need <= b->maplen - at) {
		lz->rec = (uint32_t *)(void *)(b->p + at);
		lz->hash = lz->rec + n;
		lz->index_in_map = 1;
	} else if ((lz->rec = malloc((n ? n : 1) * sizeof(uint32_t))) == NULL ||
		   (lz->hash = calloc(cap, sizeof(uint32_t))) == NULL) {
		goto oom;
	}
	lz->hmask = cap - 1;
	lz->buf = b->p; /* the caller's until success */
	if (v->kind != WARD_VOL_ENCRYPTED && !v->trusted &&
	    ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL || (c = EVP_MD_CTX_new()) == NULL))
		goto oom;
	/* Many records: their MACs first, on both cores (the offsets are
	 * recorded here; the loop below records the same ones). */
	int chained = 0;
	if (!v->trusted && n >= LZ_PAR_MIN) {
		uint32_t i = 0;
		for (off = WVOL_HDR_LEN; off < len; i++) {
			lz->rec[i] = (uint32_t)off;
			off += WVOL_REC_HDR + (size_t)le32(buf + off + 4) + WVOL_MAC_LEN;
		}
		struct chain_job j = { v, buf, lz->rec, md };
		if (wv_parallel(chain_part, &j, 0, n, LZ_PAR_GRAIN) != 0)
			goto no; /* tampered: the eager loader says where */
		chained = 1;
	}
	/* A second cursor runs LZ_AHEAD records ahead and prefetches the hash
	 * slot of that record's path: a large table is probed at random, and
	 * each probe would otherwise wait for memory (most of the time of this
	 * loop for 100,000 entries). A hint only: every record is checked when
	 * its turn comes; the bounds of all of them were checked above. */
	size_t ahead = WVOL_HDR_LEN;
	for (int k = 0; k < LZ_AHEAD && ahead < len; k++)
		ahead += WVOL_REC_HDR + (size_t)le32(buf + ahead + 4) + WVOL_MAC_LEN;
	for (off = WVOL_HDR_LEN; off < len; lz->n++) {
		size_t plen = (size_t)le32(buf + off + 4);
		const uint8_t *p = buf + off + WVOL_REC_HDR;
		struct ent e;
		if (ahead < len) {
			size_t al = (size_t)le32(buf + ahead + 4);
			const uint8_t *ap = buf + ahead + WVOL_REC_HDR;
			if (al >= 2 && (size_t)le16(ap) <= al - 2)
				__builtin_prefetch(&lz->hash[hash_bytes(ap + 2, le16(ap)) & lz->hmask], 1);
			ahead += WVOL_REC_HDR + al + WVOL_MAC_LEN;
		}
		/* trusted: the chain was checked when this file was (volume.h) */
		if ((!v->trusted && !chained && !chain_ok(v, c, md, buf, off, plen)) || ent_parse(v, p, plen, &e) != 0 ||
		    (prev != NULL && bytes_cmp(prev, prevl, e.path, e.plen) >= 0))
			goto no; /* tampered, malformed or not in order: the eager loader says which */
		/* the parent sorts before its children: it is indexed if it exists
		 * (and is usually the previous entry's parent, checked already) */
		const uint8_t *s = e.path + e.plen;
		while (s > e.path && s[-1] != '/')
			s--;
		size_t dl = s > e.path ? (size_t)(s - 1 - e.path) : 0;
		if (dl != 0 && !(dl == okdl && memcmp(okdir, e.path, dl) == 0)) {
			int64_t pi = lz_find(lz, e.path, dl);
			size_t pl, ppl;
			if (pi < 0)
				goto no;
			const uint8_t *pp = lz_payload(lz, (uint32_t)pi, &pl);
			ppl = (size_t)le16(pp);
			if (pp[2 + ppl] != WVOL_T_DIR)
				goto no;
			okdir = pp + 2;
			okdl = ppl;
		}
		lz->rec[lz->n] = (uint32_t)off;
		size_t h = hash_bytes(e.path, e.plen) & lz->hmask;
		while (lz->hash[h] != 0)
			h = (h + 1) & lz->hmask;
		lz->hash[h] = lz->n + 1;
		prev = e.path;
		prevl = e.plen;
		nlinks += e.type == WVOL_T_LINK;
		nhl += e.type == WVOL_T_HLINK;
		off += WVOL_REC_HDR + plen + WVOL_MAC_LEN;
	}
	if (nhl > 0) {
		int hr = lz_count_hl(v, lz);
		if (hr < 0)
			goto oom;
		if (hr > 0)
			goto no;
	}
	if (c != NULL) /* no OpenSSL call at all when trusted */
		EVP_MD_CTX_free(c);
	if (md != NULL)
		EVP_MD_free(md);
	memcpy(v->last_mac, buf + len - WVOL_MAC_LEN, WVOL_MAC_LEN);
	v->jlen = v->snap_len = len;
	lz->map = b->map;
	lz->maplen = b->maplen;
	memset(b, 0, sizeof(*b));
	v->lz = lz;
	__atomic_store_n(&v->nlinks, nlinks, __ATOMIC_RELEASE);
	return 1;
no:
	rc = 0;
oom:
	if (c != NULL)
		EVP_MD_CTX_free(c);
	if (md != NULL)
		EVP_MD_free(md);
	if (lz != NULL && !lz->index_in_map) { /* b keeps its memory */
		free(lz->rec);
		free(lz->hash);
	}
	if (lz != NULL)
		free(lz->nl);
	free(lz);
	return rc;
}

int wv_lazy_fail_alloc;

/* whether the allocation about to be made should fail (wv_lazy_fail_alloc) */
static int lz_fail_alloc(void)
{
	return wv_lazy_fail_alloc > 0 && --wv_lazy_fail_alloc == 0;
}

/* Materialises entry i (path: its path) and caches it in the table: 0 and
 * *out, or -ENOMEM (the entry exists: never "not found"). */
static int lz_node(ward_vol *v, uint32_t i, const char *path, struct vnode **out)
{
	struct lazy *lz = v->lz;
	size_t plen, cl = wv_cref_len(v);
	struct ent e;
	const uint8_t *p = lz_payload(lz, i, &plen);
	struct vnode *f = NULL;
	if (ent_parse(v, p, plen, &e) != 0)
		return -EIO; /* checked at open: cannot happen */
	if (e.type == WVOL_T_HLINK) { /* its file first (checked at open: a file entry) */
		char tp[WVOL_MAX_PATH + 1];
		memcpy(tp, e.target, e.tlen);
		tp[e.tlen] = '\0';
		int rc = wv_find(v, tp, &f);
		if (rc != 0)
			return rc;
		if (f->type != WVOL_T_FILE)
			return -EIO;
	}
	struct vnode *n = lz_fail_alloc() ? NULL : wv_node_new(path, e.type);
	if (n == NULL)
		return -ENOMEM;
	if (e.type == WVOL_T_FILE && lz->nl != NULL)
		n->nlink = 1 + lz->nl[i];
	n->maybe_dirty = (e.flags & WVOL_EF_MAYBE_DIRTY) != 0;
	n->mode = e.mode;
	n->mtime = e.mtime;
	memcpy(n->id, e.id, WVOL_ID_LEN);
	n->size = e.size;
	n->main_len = e.main_len;
	if (e.nc > 0) {
		struct rd r = { e.crefs, (size_t)e.nc * cl, 0, 0 };
		if (lz_fail_alloc() || (n->c = calloc(e.nc, sizeof(struct cref))) == NULL)
			goto oom;
		for (uint64_t k = 0; k < e.nc; k++)
			if (get_cref(v, &r, &n->c[k]) != 0) {
				wv_node_free(n);
				return -EIO; /* checked at open (ent_parse): cannot happen */
			}
	}
	if (lz_fail_alloc() || wv_insert(v, n) != 0)
		goto oom;
	if (f != NULL)
		hl_attach(f, n); /* f->nlink counted them all (lz->nl) */
	*out = n;
	return 0;
oom:
	wv_node_free(n);
	return -ENOMEM;
}

int wv_lazy_node(ward_vol *v, const char *path, struct vnode **out)
{
	int64_t i = lz_find(v->lz, (const uint8_t *)path, strlen(path));
	*out = NULL;
	return i < 0 ? -ENOENT : lz_node(v, (uint32_t)i, path, out);
}

int wv_lazy_eager(ward_vol *v)
{
	struct lazy *lz = v->lz;
	char path[WVOL_MAX_PATH + 1];
	if (lz == NULL)
		return 0;
	for (uint32_t i = 0; i < lz->n; i++) {
		size_t pl;
		const uint8_t *p = lz_path(lz, i, &pl);
		memcpy(path, p, pl); /* pl <= WVOL_MAX_PATH: checked at open */
		path[pl] = '\0';
		struct vnode *n;
		int rc = wv_find(v, path, &n); /* cached, or materialised now */
		if (rc != 0)
			return rc;
	}
	/* every entry is in the table: count the children as the eager
	 * loader does (no entry was added or removed while lazy) */
	v->lz = NULL;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			x->nchild = 0;
	for (size_t b = 0; b < v->tcap; b++)
		for (struct vnode *x = v->tab[b]; x; x = x->hnext)
			child_delta(v, x->path, 1);
	wv_lazy_free(lz);
	return 0;
}

int wv_lazy_each_flagged(ward_vol *v, int (*fn)(ward_vol *v, const char *path))
{
	struct lazy *lz = v->lz;
	char path[WVOL_MAX_PATH + 1];
	for (uint32_t i = 0; i < lz->n; i++) {
		size_t len, pl;
		const uint8_t *p = lz_payload(lz, i, &len);
		pl = (size_t)le16(p);
		const uint8_t *q = p + 2 + pl; /* type, flags (checked at open) */
		if (q[0] != WVOL_T_FILE || !(q[1] & WVOL_EF_MAYBE_DIRTY))
			continue;
		memcpy(path, p + 2, pl);
		path[pl] = '\0';
		int rc = fn(v, path);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int wv_lazy_stat(ward_vol *v, const char *path, struct ward_vstat *st)
{
	struct lazy *lz = v->lz;
	size_t plen;
	struct ent e;
	uint64_t ino = 0;
	int64_t i = lz_find(lz, (const uint8_t *)path, strlen(path));
	if (i < 0)
		return -ENOENT;
	const uint8_t *p = lz_payload(lz, (uint32_t)i, &plen);
	if (ent_parse(v, p, plen, &e) != 0)
		return -ENOENT; /* checked at open */
	if (e.type == WVOL_T_HLINK)
		return -EAGAIN; /* the caller looks the node up (its file may be open) */
	st->nlink = e.type == WVOL_T_FILE && lz->nl != NULL ? 1 + lz->nl[i] : 1;
	memcpy(&ino, e.id, sizeof(ino));
	st->mode = wv_type_mode(e.type) | e.mode;
	st->ino = ino | 1; /* as volume.c's ino_of */
	st->size = e.size;
	st->mtime_ns = e.mtime;
	return 0;
}

/* the mode of the file a hard-link entry names (q: the entry after its
 * path; the file's entry was checked at open) */
static uint32_t lz_hl_mode(const struct lazy *lz, const uint8_t *q)
{
	const uint8_t *t = q + ENT_FIXED;
	int64_t ti = lz_find(lz, t + 2, (size_t)le16(t));
	size_t len, pl;
	if (ti < 0)
		return 0;
	const uint8_t *p = lz_payload(lz, (uint32_t)ti, &len);
	pl = (size_t)le16(p);
	return (uint32_t)le32(p + 2 + pl + 2);
}

int wv_lazy_readdir(ward_vol *v, const char *dir, struct ward_vdirent **out, size_t *nout)
{
	struct lazy *lz = v->lz;
	char pre[WVOL_MAX_PATH + 2];
	size_t dl = strlen(dir), pl = dl ? dl + 1 : 0, cnt = 0, names = 0;
	uint32_t lo, hi;

	if (dl) {
		memcpy(pre, dir, dl);
		pre[dl] = '/';
	}
	lo = pl ? lz_lower(lz, 0, (const uint8_t *)pre, pl) : 0;
	hi = pl ? lz_prefix_end(lz, lo, (const uint8_t *)pre, pl) : lz->n;
	/* two passes over the children (count, then fill); a deeper entry
	 * starts its child directory's subtree, which is skipped whole */
	for (int pass = 0; pass < 2; pass++) {
		struct ward_vdirent *e = NULL;
		char *np = NULL;
		size_t k = 0;
		if (pass) {
			if ((e = malloc(cnt * sizeof(*e) + names + 1)) == NULL)
				return -ENOMEM;
			np = (char *)(e + cnt);
		}
		for (uint32_t i = lo; i < hi;) {
			size_t l, len;
			const uint8_t *p = lz_path(lz, i, &l);
			const uint8_t *name = p + pl, *slash = memchr(name, '/', l - pl);
			size_t nl = l - pl;
			if (slash != NULL) {
				i = lz_prefix_end(lz, i, p, (size_t)(slash - p) + 1);
				continue;
			}
			if (pass) {
				const uint8_t *q = lz_payload(lz, i, &len) + 2 + l;
				uint64_t x;
				memcpy(np, name, nl);
				np[nl] = '\0';
				e[k].name = np;
				e[k].mode = wv_type_mode(q[0]) | (uint32_t)le32(q + 2);
				if (q[0] == WVOL_T_HLINK) /* the file's mode (its entry: checked at open) */
					e[k].mode = S_IFREG | lz_hl_mode(lz, q);
				memcpy(&x, q + 14, sizeof(x));
				e[k].ino = x | 1; /* as ino_of() in volume.c */
				np += nl + 1;
				k++;
			} else {
				cnt++;
				names += nl + 1;
			}
			i++;
		}
		if (pass) {
			*out = e;
			*nout = cnt;
		}
	}
	return 0;
}

/* The tag (see wv_tag) straight from the verified records: an entry's tag
 * bytes are its record without the flags byte and main_len. */
static int lazy_tag(ward_vol *v, EVP_MD_CTX *c)
{
	struct lazy *lz = v->lz;
	for (uint32_t i = 0; i < lz->n; i++) {
		size_t len, pl;
		const uint8_t *p = lz_payload(lz, i, &len);
		pl = (size_t)le16(p);
		const uint8_t *q = p + 2 + pl;
		if (EVP_DigestUpdate(c, p, 2 + pl + 1) != 1 || EVP_DigestUpdate(c, q + 2, ENT_FIXED - 2 - 8) != 1 ||
		    EVP_DigestUpdate(c, q + ENT_FIXED, len - 2 - pl - ENT_FIXED) != 1)
			return -1;
	}
	return 0;
}

int wv_all_paths(ward_vol *v, char ***out, size_t *n)
{
	size_t k = 0, cnt = v->lz ? v->lz->n : v->tcount;
	char **l = malloc((cnt ? cnt : 1) * sizeof(*l));
	if (l == NULL)
		return -1;
	if (v->lz != NULL) {
		for (; k < cnt; k++) {
			size_t pl;
			const uint8_t *p = lz_path(v->lz, (uint32_t)k, &pl);
			if ((l[k] = malloc(pl + 1)) == NULL)
				goto oom;
			memcpy(l[k], p, pl);
			l[k][pl] = '\0';
		}
	} else {
		struct vnode **s = sorted_nodes(v);
		if (s == NULL)
			goto oom;
		for (; k < cnt; k++)
			if ((l[k] = strdup(s[k]->path)) == NULL) {
				free(s);
				goto oom;
			}
		free(s);
	}
	*out = l;
	*n = cnt;
	return 0;
oom:
	while (k-- > 0)
		free(l[k]);
	free(l);
	return -1;
}

/* ---- tag ---- */

int wv_tag(ward_vol *v, uint8_t out[32])
{
	if (v->lz != NULL && v->lz->have_tag) {
		memcpy(out, v->lz->tag, 32);
		return 0;
	}
	struct vnode **list = v->lz ? NULL : sorted_nodes(v);
	struct wbuf e = { 0 };
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int rc = -1;
	static const char dom[] = "ward-volume-tag-v1";
	uint8_t hdr[8];

	if ((list == NULL && v->lz == NULL) || c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		goto out;
	put_le(hdr, (uint32_t)v->kind, 4);
	put_le(hdr + 4, WVOL_CHUNK_SHIFT, 4);
	if (EVP_DigestUpdate(c, dom, sizeof(dom)) != 1 || EVP_DigestUpdate(c, hdr, 8) != 1 ||
	    EVP_DigestUpdate(c, v->vid, WVOL_ID_LEN) != 1)
		goto out;
	if (v->lz != NULL) {
		if (lazy_tag(v, c) != 0)
			goto out;
	} else {
		for (size_t i = 0; i < v->tcount; i++) {
			e.len = 0;
			put_entry(v, &e, list[i], 1);
			if (e.oom || EVP_DigestUpdate(c, e.p, e.len) != 1)
				goto out;
		}
	}
	if (EVP_DigestFinal_ex(c, out, NULL) != 1)
		goto out;
	if (v->lz != NULL) {
		memcpy(v->lz->tag, out, 32);
		v->lz->have_tag = 1;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(c);
	free(e.p);
	free(list);
	return rc;
}
