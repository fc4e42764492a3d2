/*
 * store.h: the CAS's persistent state: one SQLite file (cas.db) and the CAS
 * master key (master.key, 32 random bytes, mode 0600) in the data directory,
 * or the same tables in PostgreSQL (cas_store_open_pg, store_pg.c).
 *
 * Every secret, key and volume key is sealed with AES-256-GCM under a key
 * derived from the master key (HKDF-SHA256, info "ward-cas store v1"); the
 * additional data names the row and column, so sealed values cannot be
 * swapped between rows. Blob layout: iv (12) || ciphertext || tag (16).
 * Plain columns: names, hashes, client ids, volume tags, audit records.
 *
 * Contract: functions return 0 on success, -1 on error (reason in st->err via
 * cas_store_error()), and some return 1 for "not found" / "conflict" as
 * documented. Writes are transactions; session and volume-tag writes are
 * synchronous (fsync) before they return; attestation decisions are
 * group-committed (below). Thread-safe: every call takes the
 * store's mutex. Returned JSON objects are owned by the caller (json_decref).
 */
#ifndef WARD_CAS_STORE_H
#define WARD_CAS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cas_store;

#define CAS_HASH_HEX 65 /* 64 hex digits + NUL */

struct cas_session_row {
	char name[129];
	char hash[CAS_HASH_HEX];
	char creator[CAS_HASH_HEX];
	int64_t created, updated;
	json_t *doc;   /* the session document (JSON form) */
	json_t *state; /* CAS-held material: {"secrets":{...},"volume_keys":{...}} */
};

struct cas_audit {
	const char *event;   /* create, update, delete, attest, tag */
	const char *session, *service, *client, *measurement, *platform, *reason;
	int allowed;
};

/* Opens (creating on first start) DIR/master.key and DIR/cas.db. Refuses a
 * master key that is not a private regular file of 32 bytes, or that does
 * not open the store. Writes the reason into err. */
int cas_store_open(const char *dir, struct cas_store **out, char *err, size_t errlen);
/* The same store in PostgreSQL (docs/cas.md, "PostgreSQL"): conninfo is a
 * libpq connection string or postgresql:// URI; the master key stays in
 * DIR/master.key and everything secret is sealed under it exactly as in
 * SQLite. Creates the schema on first start; refuses a database whose check
 * value another master key sealed. Several ward-cas processes may share the
 * database (store_pg.h). Every write commits synchronously, so decisions
 * are durable when recorded. */
int cas_store_open_pg(const char *dir, const char *conninfo, struct cas_store **out, char *err,
		      size_t errlen);
void cas_store_close(struct cas_store *st);
const char *cas_store_error(struct cas_store *st);

/* Sealed key/value metadata (the CAS's TLS key). *val malloc'ed; the caller
 * wipes and frees it. Returns 1 when absent. */
int cas_store_meta_get(struct cas_store *st, const char *key, uint8_t **val, size_t *len);
int cas_store_meta_put(struct cas_store *st, const char *key, const void *val, size_t len);

/* Returns 0 and fills row (caller calls cas_session_row_clear), 1 when absent.
 * row->doc and row->state may be shared with the store's cache and other
 * threads: callers must not modify them (copy first). */
int cas_store_session_get(struct cas_store *st, const char *name, struct cas_session_row *row);
void cas_session_row_clear(struct cas_session_row *row);

/* Creates (expect_hash NULL) or replaces (expect_hash = current hash) a
 * session row, with its volume tag rows (volumes: {"name": "tag"|null}
 * to (re)pin, absent = keep). Returns 1 on conflict (exists on create,
 * absent or other hash on update) with the current hash (or "") in
 * current. Also appends the audit entry (same transaction). */
int cas_store_session_put(struct cas_store *st, const struct cas_session_row *row,
			  const char *expect_hash, json_t *pin_tags, const struct cas_audit *a,
			  char current[CAS_HASH_HEX]);
/* Returns 1 when absent. Removes volume tags and enclave keys too. */
int cas_store_session_delete(struct cas_store *st, const char *name, const struct cas_audit *a);

/* All sessions as [{"name","hash","creator"}]: the caller filters. */
int cas_store_session_list(struct cas_store *st, json_t **out);

/* Volume tags: tag/pending "" when none. Returns 1 when no row. */
int cas_store_volume_get(struct cas_store *st, const char *session, const char *vol,
			 char tag[129], char pending[129]);
int cas_store_volume_set(struct cas_store *st, const char *session, const char *vol,
			 const char *tag, const char *pending);

/* Atomically checks a presented volume tag against the stored (tag,
 * pending) pair and advances it (docs/cas.md, "Rollback protection"):
 * 0 accepted (first use recorded, pending promoted or dropped), 1 refused
 * (tag and pending filled for the message), -1 error. */
int cas_store_volume_accept(struct cas_store *st, const char *session, const char *vol,
			    const char *got, char tag[129], char pending[129]);
/* A tag report: commit 0 sets pending = newtag (keeps tag), commit 1 sets
 * tag = newtag and clears pending. Synchronous. */
int cas_store_volume_report(struct cas_store *st, const char *session, const char *vol,
			    int commit, const char *newtag);

/* Enclave TLS keys attested for a session/service (for later tag reports). */
int cas_store_enclave_put(struct cas_store *st, const char *keyhash, const char *session,
			  const char *service);
/* Attestation decisions are group-committed (store.c, "Durability"): the
 * record joins the open batch and *seq names that batch; the decision may
 * be sent once cas_store_durable(st, *seq) is 1 (its WAL write fsync'ed),
 * never when it is -1 (the store could not commit or sync). With seq NULL
 * the call itself waits until the record is durable. */
/* An allowed attestation: the enclave key and the audit record, together. */
int cas_store_attested(struct cas_store *st, const char *keyhash, const char *session,
		       const char *service, const struct cas_audit *a, uint64_t *seq);
/* 1 durable, 0 not yet, -1 never (the store is broken). */
int cas_store_durable(struct cas_store *st, uint64_t seq);
/* fn(arg) runs on the store's sync thread after each batch is resolved;
 * it must only wake the waiters (e.g. event_active). NULL clears it; the
 * call returns once no call to the previous hook is running. */
void cas_store_on_durable(struct cas_store *st, void (*fn)(void *), void *arg);
int cas_store_enclave_get(struct cas_store *st, const char *keyhash, char session[129],
			  char service[129]);

/* A denied attestation's record: batched like cas_store_attested. */
int cas_store_audit(struct cas_store *st, const struct cas_audit *a, uint64_t *seq);
int cas_store_audit_list(struct cas_store *st, const char *session, int limit, json_t **out);

/* Counts for /metrics. */
int cas_store_counts(struct cas_store *st, long *sessions, long *audit);

#endif
