/*
 * format.h: the on-disk layout of a volume (docs/volume-format.md, sections
 * "Layout" and "Manifest"). Everything is little-endian.
 *
 *   DIR/<path>                      file data: chunk i, slot 0, at i * CHUNK
 *   DIR/.ward-volume/manifest       header + MAC-chained records (journal)
 *   DIR/.ward-volume/alt/<id hex>   slot 1 of every chunk of one file (CoW)
 *   DIR/.ward-volume/lock           flock: one writer (LOCK_EX) or readers (LOCK_SH)
 *   DIR/.ward-volume/incomplete     the volume is being created: written
 *                                   first, removed last (volume.c)
 *
 * Manifest header (WVOL_HDR_LEN bytes):
 *   0  magic "WARDVOL1"        8  u32 version (1)   12 u32 kind (1 enc, 2 auth)
 *   16 u32 chunk_shift (12)    20 u32 zero          24 volume_id[16]
 *   40 key_check[32]           72 u64 generation    80 u64 snapshot end
 *   88 zero[8]
 *   96 mac[32] over bytes 0..95
 * The snapshot end (the offset where the leading ENTRY records end) lets a
 * manifest cut inside its snapshot be refused; 0 in older manifests.
 * Record: u32 type | u32 len | payload[len] | mac[32],
 *   mac = MAC(previous mac || type || len || payload)
 * MAC is HMAC-SHA256 under the manifest key (encrypted kind) or SHA-256
 * (authenticated kind: the pinned volume tag is then the trust anchor).
 *
 * Invariants:
 *  (1) A committed chunk's slot is never written again until a later commit
 *      stops referencing it (copy-on-write between slot 0 and slot 1).
 *  (2) Every chunk write draws a fresh random 96-bit nonce under a per-file
 *      key (HKDF of the volume key and the random 128-bit file id).
 *  (3) Data reaches its slot before the record that references it; a
 *      namespace record is appended before the disk operation it describes,
 *      and only the last record's disk operation can be incomplete.
 *  (4) A record is appended with one write; a short (torn) tail is a crash
 *      leftover and is dropped; a full-length record whose MAC fails is
 *      tampering.
 *  (5) A file's main data file grows past its committed length only after
 *      a DIRTY record; a commit that shortens it is recorded before the
 *      cut, and a read-write open finishes a cut the last record left
 *      undone (or records DIRTY when it cannot), and cuts back every file
 *      flagged as possibly longer to its committed length.
 *  (6) A link is created by a CREATE record immediately followed by the
 *      CHUNKS record of its target (both appended under the volume lock,
 *      data written in between, as for a file's first commit); a link
 *      entry is never changed afterwards (only renamed, its mtime set,
 *      removed). A link left without a target is a crash leftover, never
 *      shown: removed at the next read-write open, hidden read-only.
 *  (7) A hard link is made by a LINK record, then link() on disk from the
 *      file's main data file (the path its entry holds) to the new path;
 *      a read-write open finishes (or, when it cannot, undoes with an
 *      UNLINK record) a link the last record left undone. Removing the
 *      path whose disk file held slot 0 moves the entry to another path of
 *      the same file (the smallest by byte order), a hard link of the same
 *      disk file; every read is still verified against the manifest, so a
 *      disk file that is not that file fails as tampering.
 */
#ifndef WARD_FS_FORMAT_H
#define WARD_FS_FORMAT_H

#include <assert.h>
#include <stdint.h>

#define WVOL_MAGIC "WARDVOL1"
#define WVOL_VERSION 1u
#define WVOL_HDR_LEN 128u
#define WVOL_HDR_MAC_OFF 96u
#define WVOL_HDR_SNAP_END 80u /* u64: offset where the snapshot's ENTRY records end;
				0 in manifests written before it was recorded */
#define WVOL_MAC_LEN 32u
#define WVOL_ID_LEN 16u
#define WVOL_CHUNK_SHIFT 12u
#define WVOL_CHUNK ((uint32_t)1 << WVOL_CHUNK_SHIFT)
#define WVOL_REC_HDR 8u

#define WVOL_MAX_PATH 4095u
#define WVOL_MAX_NAME 255u /* bytes of one path component (NAME_MAX) */
#define WVOL_MAX_RECORD (256u << 20)	     /* bytes of one record's payload */
#define WVOL_MAX_MANIFEST ((uint64_t)2 << 30) /* bytes of a manifest file */
/* chunks of one file (28 GiB): a file's whole chunk list (36 bytes a chunk
 * at most, with its index) fits in one record, so that a commit rewriting
 * all of it and the file's snapshot entry can always be written */
#define WVOL_MAX_CHUNKS ((uint64_t)7 << 20)
#define WVOL_MAX_FILE_GIB 28u

/* Chunk slots as stored in the manifest. */
#define WVOL_SLOT_MAIN 0u /* DIR/<path> at index * CHUNK */
#define WVOL_SLOT_ALT 1u  /* DIR/.ward-volume/alt/<id> at index * CHUNK */
#define WVOL_SLOT_HOLE 2u /* all zeros, nothing on disk */

/* Serialized chunk reference: encrypted = slot, nonce[12], gcm tag[16];
 * authenticated = sha256[32] of the plaintext chunk. */
#define WVOL_ENC_CREF 29u
#define WVOL_AUTH_CREF 32u

enum wvol_rec {
	WVOL_R_ENTRY = 1,  /* snapshot of one entry (file or directory) */
	WVOL_R_CHUNKS = 2, /* commit of one file: new size, times, changed chunks */
	WVOL_R_CREATE = 3, /* new empty file or directory */
	WVOL_R_UNLINK = 4, /* remove a file or an empty directory */
	WVOL_R_RENAME = 5, /* move a path (and everything below it) */
	WVOL_R_SETATTR = 6,/* mode and/or mtime */
	WVOL_R_DIRTY = 7,  /* a file has uncommitted writes on disk */
	WVOL_R_LINK = 8,   /* a new path of an existing file (a hard link) */
};

#define WVOL_T_FILE 1u
#define WVOL_T_DIR 2u
/* A symbolic link (encrypted kind only): stored as a file whose plaintext
 * is the target, 1..WARD_VOL_MAX_LINK bytes (one chunk), mode 0777; its
 * disk file is a regular file (never a real link: nothing on disk is ever
 * followed). Created by a CREATE record and committed by the CHUNKS record
 * that follows it at once; a link without a target (a creation killed
 * between the two) is removed by the next open (volume.c). */
#define WVOL_T_LINK 3u
#define WVOL_LINK_MODE 0777u
/* A hard link (encrypted kind only): another path of a regular file. Its
 * ENTRY record has flags, mode, mtime, size and main_len zero, the file's
 * id, and in place of chunk references the path of the file's entry (u16
 * length and bytes: a WVOL_T_FILE entry with the same id). Created by a
 * LINK record (from path, to path). On disk: a hard link of the file's
 * main data file. */
#define WVOL_T_HLINK 4u

#define WVOL_EF_MAYBE_DIRTY 0x1u

static_assert(WVOL_HDR_MAC_OFF + WVOL_MAC_LEN == WVOL_HDR_LEN, "header layout");
static_assert(WVOL_ENC_CREF == 1 + 12 + 16, "encrypted chunk reference");
static_assert(WVOL_CHUNK == 4096, "chunk size");
static_assert(WVOL_MAX_CHUNKS * (4 + WVOL_AUTH_CREF) + (1u << 20) <= WVOL_MAX_RECORD, "a file's chunk list fits a record");
static_assert(WVOL_MAX_CHUNKS * WVOL_CHUNK == (uint64_t)WVOL_MAX_FILE_GIB << 30, "file limit");

#endif
