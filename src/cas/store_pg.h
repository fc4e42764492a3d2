/*
 * store_pg.h: the PostgreSQL backend of the CAS store (store_pg.c), and the
 * few store.c helpers it shares. Not a public interface: callers use
 * store.h, whose functions dispatch here when the store was opened with
 * cas_store_open_pg(). Same contract as store.h (return values, sealing,
 * AAD rules, error reporting through cas_store_error()), with these
 * differences, all inside the backend:
 *   - several ward-cas processes may share one database: every
 *     read-check-write runs in one transaction on row locks or conditional
 *     updates, and nothing is cached between calls;
 *   - every write commits with synchronous_commit on before it returns, so
 *     an attestation decision is durable when cas_store_attested returns 0
 *     (cas_store_durable is always 1, the on_durable hook is never called);
 *   - a small pool of connections, one per concurrent call.
 */
#ifndef WARD_CAS_STORE_PG_H
#define WARD_CAS_STORE_PG_H

#include "cas/store.h"

struct cas_pg;

/* Connects with the libpq connection string conninfo, creates the schema on
 * first start (one transaction) and checks that the master key behind st
 * opens the database. err gets one line naming the reason and the fix. */
int cas_pg_open(struct cas_store *st, const char *dir, const char *conninfo, struct cas_pg **out,
		char *err, size_t errlen);
void cas_pg_close(struct cas_pg *pg);

int cas_pg_meta_get(struct cas_pg *pg, const char *key, uint8_t **val, size_t *len);
int cas_pg_meta_put(struct cas_pg *pg, const char *key, const void *val, size_t len);
int cas_pg_session_get(struct cas_pg *pg, const char *name, struct cas_session_row *row);
int cas_pg_session_put(struct cas_pg *pg, const struct cas_session_row *row, const char *expect_hash,
		       json_t *pin_tags, const struct cas_audit *a, char current[CAS_HASH_HEX]);
int cas_pg_session_delete(struct cas_pg *pg, const char *name, const struct cas_audit *a);
int cas_pg_session_list(struct cas_pg *pg, json_t **out);
int cas_pg_volume_get(struct cas_pg *pg, const char *session, const char *vol, char tag[129],
		      char pending[129]);
int cas_pg_volume_set(struct cas_pg *pg, const char *session, const char *vol, const char *tag,
		      const char *pending);
int cas_pg_volume_accept(struct cas_pg *pg, const char *session, const char *vol, const char *got,
			 char tag[129], char pending[129]);
int cas_pg_volume_report(struct cas_pg *pg, const char *session, const char *vol, int commit,
			 const char *newtag);
int cas_pg_enclave_put(struct cas_pg *pg, const char *keyhash, const char *session, const char *service);
int cas_pg_attested(struct cas_pg *pg, const char *keyhash, const char *session, const char *service,
		    const struct cas_audit *a, uint64_t *seq);
int cas_pg_enclave_get(struct cas_pg *pg, const char *keyhash, char session[129], char service[129]);
int cas_pg_audit(struct cas_pg *pg, const struct cas_audit *a, uint64_t *seq);
int cas_pg_audit_list(struct cas_pg *pg, const char *session, int limit, json_t **out);
int cas_pg_counts(struct cas_pg *pg, long *sessions, long *audit);

/* From store.c: whether a volume found with tag `got` may start, given the
 * stored committed tag and pending tag (cas_store_volume_accept's rule): 0
 * with *settag the tag to store as committed (NULL: no change), 1 refused. */
int cas_store_accept_decision(const char *tag, const char *pending, const char *got, const char **settag);

/* From store.c: the error of this thread (returns -1), and sealing under
 * the store key (store.h: iv || ciphertext || tag, AAD names row and
 * column). *pt is NUL-terminated; the caller wipes and frees it. */
int cas_store_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cas_store_seal(struct cas_store *st, const char *aad, const void *pt, size_t n, uint8_t **blob,
		   size_t *bloblen);
int cas_store_unseal(struct cas_store *st, const char *aad, const uint8_t *b, size_t bl, uint8_t **pt,
		     size_t *n);
int cas_store_seal_json(struct cas_store *st, const char *aad, json_t *j, uint8_t **b, size_t *bl);
int cas_store_unseal_json(struct cas_store *st, const char *aad, const void *b, size_t bl, json_t **out);

#endif
