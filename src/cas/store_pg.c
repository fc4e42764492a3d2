/*
 * store_pg.c: the CAS store in PostgreSQL (see store_pg.h and store.h).
 *
 * Schema (version 1, created on first start in one transaction; the
 * version is the one row of schema_version):
 *   meta(key PRIMARY KEY, value bytea sealed with aad "meta:KEY")
 *   sessions(name PRIMARY KEY, hash, creator, created, updated,
 *            doc bytea sealed "doc:NAME", state bytea sealed "state:NAME")
 *   volumes(session, name, tag, pending, PRIMARY KEY(session, name))
 *   enclaves(keyhash PRIMARY KEY, session, service, time)
 *   audit(id identity PRIMARY KEY, time, event, session, service, client,
 *         measurement, platform, allowed, reason)
 * The same tables and the same sealing as the SQLite store: PostgreSQL only
 * ever sees ciphertext for session documents, CAS-held secrets and keys.
 *
 * Races between CAS instances sharing the database: a session update is a
 * conditional UPDATE on the predecessor hash (under READ COMMITTED a
 * concurrent writer waits for the row lock and then re-checks the hash, so
 * exactly one of two updates from the same predecessor wins); a create is
 * INSERT ... ON CONFLICT DO NOTHING; a volume-tag check locks its row (FOR
 * UPDATE, after inserting an empty one if there was none) for the
 * read-check-write.
 */
#include "cas/store_pg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/crypto.h"
#include "core/util.h"

#define POOL 8 /* connections: one per concurrent call (API thread + attestation workers) */
#define SCHEMA_VERSION 1

struct cas_pg {
	struct cas_store *st; /* for sealing under its key */
	char *conninfo;
	pthread_mutex_t mu;
	pthread_cond_t freed;
	PGconn *conn[POOL];
	int busy[POOL];
	unsigned gen[POOL]; /* the value of lost when the slot connected */
	unsigned lost; /* bumped whenever a connection is found broken */
	int n; /* slots in use (connected or being connected) */
};

static const char schema[] =
	"CREATE TABLE meta(key text PRIMARY KEY, value bytea NOT NULL);"
	"CREATE TABLE sessions(name text PRIMARY KEY, hash text NOT NULL, creator text NOT NULL,"
	" created bigint NOT NULL, updated bigint NOT NULL, doc bytea NOT NULL, state bytea NOT NULL);"
	"CREATE TABLE volumes(session text NOT NULL, name text NOT NULL, tag text NOT NULL,"
	" pending text NOT NULL, PRIMARY KEY(session, name));"
	"CREATE TABLE enclaves(keyhash text PRIMARY KEY, session text NOT NULL, service text NOT NULL,"
	" time bigint NOT NULL);"
	"CREATE TABLE audit(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, time bigint NOT NULL,"
	" event text NOT NULL, session text, service text, client text, measurement text,"
	" platform text, allowed boolean NOT NULL, reason text);"
	"CREATE INDEX audit_session ON audit(session, id);"
	"INSERT INTO schema_version(version) VALUES(1);";

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running..."): users get one line. */
static const char *one_line(const char *msg)
{
	static _Thread_local char buf[400];
	size_t o = 0;
	int space = 0, newline = 0;
	for (const char *p = msg ? msg : ""; *p && o + 1 < sizeof(buf); p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
			space = o > 0;
			newline |= *p == '\n';
			continue;
		}
		if (space && newline && *p >= 'A' && *p <= 'Z' && strchr(".:;,?!", buf[o - 1]) == NULL &&
		    o + 3 < sizeof(buf))
			buf[o++] = ';'; /* "failed: Connection refused; Is the server running..." */
		if (space && o + 2 < sizeof(buf))
			buf[o++] = ' ';
		space = newline = 0;
		buf[o++] = *p;
	}
	buf[o] = 0;
	return buf;
}

static int conn_setup(PGconn *c);

/* One statement with parameters (text unless fmt says binary; NULL value
 * = SQL NULL). Returns the result, or NULL with the error set. A read or a
 * BEGIN outside a transaction that finds the connection lost (a server
 * restart, a fail-over) reconnects and runs once more: nothing was done. */
/* Set by run() when it reconnected: release() then has every other pooled
 * connection reconnect on its next use too (it is likely just as dead). */
static _Thread_local int run_reset;

static PGresult *run(PGconn *c, const char *what, const char *sql, int n, const char *const *v,
		     const int *len, const int *fmt, int binary)
{
	int idle = PQtransactionStatus(c) == PQTRANS_IDLE;
	PGresult *res = PQexecParams(c, sql, n, NULL, v, len, fmt, binary);
	ExecStatusType s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && idle && PQstatus(c) == CONNECTION_BAD &&
	    (strncmp(sql, "SELECT ", 7) == 0 || strcmp(sql, "BEGIN") == 0)) {
		PQreset(c);
		if (PQstatus(c) == CONNECTION_OK && conn_setup(c) == 0) {
			run_reset = 1;
			PQclear(res);
			res = PQexecParams(c, sql, n, NULL, v, len, fmt, binary);
			s = PQresultStatus(res);
		}
	}
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return res;
	cas_store_fail("store: %s: %s", what,
		       one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c)));
	PQclear(res);
	return NULL;
}

static int run_ok(PGconn *c, const char *what, const char *sql, int n, const char *const *v)
{
	PGresult *res = run(c, what, sql, n, v, NULL, NULL, 0);
	PQclear(res);
	return res ? 0 : -1;
}

/* Every write runs in a transaction, even a single statement: run() can
 * safely retry a BEGIN on a connection found lost (nothing was done yet),
 * not a write whose fate it cannot know. release() rolls back on error. */
static int begin(PGconn *c)
{
	return run_ok(c, "begin", "BEGIN", 0, NULL);
}

/* Several statements without parameters (PQexecParams takes one). */
static int exec_many(PGconn *c, const char *what, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		cas_store_fail("store: %s: %s", what, one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c)));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Rows a command touched (UPDATE, INSERT ... ON CONFLICT DO NOTHING). */
static long affected(PGresult *res)
{
	return strtol(PQcmdTuples(res), NULL, 10);
}

static int commit(PGconn *c)
{
	PGresult *res = PQexec(c, "COMMIT");
	/* an aborted transaction "commits" as ROLLBACK */
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
	if (!ok)
		cas_store_fail("store: commit: %s", one_line(PQerrorMessage(c)));
	PQclear(res);
	return ok ? 0 : -1;
}

static void rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

/* Per connection: answers are durable when a commit returns (raised only
 * when it is off: local, remote_write... stay as configured), and no
 * NOTICE lines on stderr. */
static void no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int conn_setup(PGconn *c)
{
	PQsetNoticeProcessor(c, no_notice, NULL);
	/* PQexec, not run(): no reconnect from here */
	PGresult *res = PQexec(c, "SELECT set_config('synchronous_commit', 'on', false)"
				  " WHERE current_setting('synchronous_commit') = 'off'");
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		cas_store_fail("store: connection settings: %s", one_line(PQerrorMessage(c)));
	PQclear(res);
	return ok ? 0 : -1;
}

static PGconn *conn_new(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (c == NULL) {
		cas_store_fail("store: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		cas_store_fail("cannot connect to the PostgreSQL store: %s", one_line(PQerrorMessage(c)));
		PQfinish(c);
		return NULL;
	}
	if (conn_setup(c) != 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* A connection for one call (a slot index), reconnecting a broken one.
 * Once one connection was found broken (a server restart, a fail-over),
 * every other one reconnects on its next use too; a write then finds its
 * connection dead at its BEGIN, which run() retries (begin()). */
static int acquire(struct cas_pg *pg)
{
	unsigned lost;
	int i;
	pthread_mutex_lock(&pg->mu);
	for (;;) {
		for (i = 0; i < pg->n && pg->busy[i]; i++)
			;
		if (i < pg->n || pg->n < POOL)
			break;
		pthread_cond_wait(&pg->freed, &pg->mu);
	}
	if (i == pg->n)
		pg->conn[pg->n++] = NULL;
	pg->busy[i] = 1;
	lost = pg->lost;
	pthread_mutex_unlock(&pg->mu);
	PGconn *c = pg->conn[i];
	if (c != NULL && (PQstatus(c) != CONNECTION_OK || pg->gen[i] != lost)) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK || conn_setup(c) != 0) {
			if (PQstatus(c) != CONNECTION_OK)
				cas_store_fail("store: lost the PostgreSQL connection: %s",
					       one_line(PQerrorMessage(c)));
			PQfinish(c);
			c = NULL;
			pg->conn[i] = NULL;
			goto bad;
		}
	}
	if (c == NULL && (pg->conn[i] = conn_new(pg->conninfo)) == NULL)
		goto bad;
	pg->gen[i] = lost;
	return i;
bad:
	pthread_mutex_lock(&pg->mu);
	pg->busy[i] = 0;
	pthread_cond_signal(&pg->freed);
	pthread_mutex_unlock(&pg->mu);
	return -1;
}

static void release(struct cas_pg *pg, int i)
{
	PGconn *c = pg->conn[i];
	if (c != NULL && PQtransactionStatus(c) != PQTRANS_IDLE)
		rollback(c); /* never leave a transaction open on a pooled connection */
	pthread_mutex_lock(&pg->mu);
	if (c != NULL && (PQstatus(c) != CONNECTION_OK || run_reset) && pg->gen[i] == pg->lost) {
		pg->lost++;
		if (run_reset)
			pg->gen[i] = pg->lost; /* this one was just reconnected */
	}
	run_reset = 0;
	pg->busy[i] = 0;
	pthread_cond_signal(&pg->freed);
	pthread_mutex_unlock(&pg->mu);
}

static int meta_get_c(struct cas_pg *pg, PGconn *c, const char *key, uint8_t **val, size_t *len)
{
	const char *v[1] = { key };
	char aad[160];
	PGresult *res = run(c, "read meta", "SELECT value FROM meta WHERE key=$1", 1, v, NULL, NULL, 1);
	int r;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	snprintf(aad, sizeof(aad), "meta:%s", key);
	r = cas_store_unseal(pg->st, aad, (const uint8_t *)PQgetvalue(res, 0, 0),
			     (size_t)PQgetlength(res, 0, 0), val, len);
	PQclear(res);
	return r;
}

static int meta_put_c(struct cas_pg *pg, PGconn *c, const char *key, const void *val, size_t len)
{
	char aad[160];
	uint8_t *b;
	size_t bl;
	int r;

	snprintf(aad, sizeof(aad), "meta:%s", key);
	if (cas_store_seal(pg->st, aad, val, len, &b, &bl) != 0)
		return -1;
	const char *v[2] = { key, (const char *)b };
	const int l[2] = { 0, (int)bl }, f[2] = { 0, 1 };
	PGresult *res = run(c, "write meta",
			    "INSERT INTO meta(key, value) VALUES($1, $2)"
			    " ON CONFLICT(key) DO UPDATE SET value=excluded.value", 2, v, l, f, 0);
	r = res ? 0 : -1;
	PQclear(res);
	free(b);
	return r;
}

/* Schema and master-key check, in one transaction; concurrent first
 * starts of several instances serialise on an advisory lock. */
static int init_db(struct cas_pg *pg, PGconn *c, const char *dir, char *err, size_t errlen)
{
	static const char check[] = "ward-cas master key check v1";
	PGresult *res;
	uint8_t *v = NULL;
	size_t vl = 0;
	int r;

	if (begin(c) != 0 ||
	    run_ok(c, "lock", "SELECT pg_advisory_xact_lock(7761727463617301)", 0, NULL) != 0 ||
	    run_ok(c, "create schema_version",
		   "CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)", 0, NULL) != 0 ||
	    (res = run(c, "read schema_version", "SELECT version FROM schema_version", 0, NULL, NULL, NULL, 0)) == NULL) {
		snprintf(err, errlen, "cannot initialise the PostgreSQL store: %s (does the role own the database, or may it create tables?)",
			 cas_store_error(pg->st));
		return -1;
	}
	r = PQntuples(res) == 0 ? 0 : (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (r == 0 && exec_many(c, "create tables", schema) != 0) {
		snprintf(err, errlen, "cannot create the CAS tables in PostgreSQL: %s (give ward-cas a database of its own)",
			 cas_store_error(pg->st));
		return -1;
	}
	if (r != 0 && r != SCHEMA_VERSION) {
		snprintf(err, errlen, "the PostgreSQL store has schema version %d, this ward-cas knows version %d (run the ward-cas that created it, or a newer one)",
			 r, SCHEMA_VERSION);
		return -1;
	}
	r = meta_get_c(pg, c, "check", &v, &vl);
	if (r == 1) {
		if (meta_put_c(pg, c, "check", check, sizeof(check)) != 0) {
			snprintf(err, errlen, "%s", cas_store_error(pg->st));
			return -1;
		}
	} else if (r != 0 || vl != sizeof(check) || memcmp(v, check, vl) != 0) {
		snprintf(err, errlen,
			 "the master key in '%s/master.key' does not open the PostgreSQL store (database '%s'; restore the master key that belongs to this database, or copy it from another instance of this CAS)",
			 dir, PQdb(c));
		if (v != NULL) {
			ward_wipe(v, vl);
			free(v);
		}
		return -1;
	}
	if (v != NULL) {
		ward_wipe(v, vl);
		free(v);
	}
	if (commit(c) != 0) {
		snprintf(err, errlen, "cannot initialise the PostgreSQL store: %s", cas_store_error(pg->st));
		return -1;
	}
	return 0;
}

int cas_pg_open(struct cas_store *st, const char *dir, const char *conninfo, struct cas_pg **out,
		char *err, size_t errlen)
{
	struct cas_pg *pg = calloc(1, sizeof(*pg));
	if (pg == NULL || (pg->conninfo = strdup(conninfo)) == NULL) {
		free(pg);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pg->st = st;
	pthread_mutex_init(&pg->mu, NULL);
	pthread_cond_init(&pg->freed, NULL);
	*out = pg; /* closed by cas_store_close on failure */
	pg->conn[0] = conn_new(conninfo);
	if (pg->conn[0] == NULL) {
		snprintf(err, errlen, "%s (check --postgres or WARD_CAS_POSTGRES: a libpq connection string or postgresql:// URI)",
			 cas_store_error(st));
		return -1;
	}
	pg->n = 1;
	if (init_db(pg, pg->conn[0], dir, err, errlen) != 0) {
		rollback(pg->conn[0]);
		return -1;
	}
	return 0;
}

void cas_pg_close(struct cas_pg *pg)
{
	if (pg == NULL)
		return;
	for (int i = 0; i < pg->n; i++)
		if (pg->conn[i] != NULL)
			PQfinish(pg->conn[i]);
	if (pg->conninfo != NULL) {
		ward_wipe(pg->conninfo, strlen(pg->conninfo)); /* may hold a password */
		free(pg->conninfo);
	}
	pthread_mutex_destroy(&pg->mu);
	pthread_cond_destroy(&pg->freed);
	free(pg);
}

int cas_pg_meta_get(struct cas_pg *pg, const char *key, uint8_t **val, size_t *len)
{
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	r = meta_get_c(pg, pg->conn[i], key, val, len);
	release(pg, i);
	return r;
}

int cas_pg_meta_put(struct cas_pg *pg, const char *key, const void *val, size_t len)
{
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	r = begin(pg->conn[i]) == 0 && meta_put_c(pg, pg->conn[i], key, val, len) == 0 ? commit(pg->conn[i]) : -1;
	release(pg, i);
	return r;
}

int cas_pg_session_get(struct cas_pg *pg, const char *name, struct cas_session_row *row)
{
	const char *v[1] = { name };
	char aad[160];
	PGresult *res;
	int i = acquire(pg), r;

	if (i < 0)
		return -1;
	/* binary results for the blobs; the other columns as text */
	res = run(pg->conn[i], "read session",
		  "SELECT hash, creator, created::text, updated::text, doc, state FROM sessions WHERE name=$1",
		  1, v, NULL, NULL, 1);
	release(pg, i);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	memset(row, 0, sizeof(*row));
	ward_strlcpy(row->name, name, sizeof(row->name));
	ward_strlcpy(row->hash, PQgetvalue(res, 0, 0), sizeof(row->hash));
	ward_strlcpy(row->creator, PQgetvalue(res, 0, 1), sizeof(row->creator));
	row->created = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	row->updated = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	snprintf(aad, sizeof(aad), "doc:%s", name);
	r = cas_store_unseal_json(pg->st, aad, PQgetvalue(res, 0, 4), (size_t)PQgetlength(res, 0, 4), &row->doc);
	snprintf(aad, sizeof(aad), "state:%s", name);
	if (r == 0)
		r = cas_store_unseal_json(pg->st, aad, PQgetvalue(res, 0, 5), (size_t)PQgetlength(res, 0, 5),
					  &row->state);
	if (r != 0)
		cas_session_row_clear(row);
	PQclear(res);
	return r;
}

static int audit_c(PGconn *c, const struct cas_audit *a)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	const char *v[9] = { t, a->event, a->session, a->service, a->client, a->measurement, a->platform,
			     a->allowed ? "true" : "false", a->reason };
	return run_ok(c, "write audit",
		      "INSERT INTO audit(time, event, session, service, client, measurement, platform, allowed, reason)"
		      " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)", 9, v);
}

static int volume_set_c(PGconn *c, const char *session, const char *vol, const char *tag, const char *pending)
{
	const char *v[4] = { session, vol, tag, pending };
	return run_ok(c, "write volume tag",
		      "INSERT INTO volumes(session, name, tag, pending) VALUES($1,$2,$3,$4)"
		      " ON CONFLICT(session, name) DO UPDATE SET tag=excluded.tag, pending=excluded.pending",
		      4, v);
}

/* The current hash of a session into out ("" when absent). */
static int current_hash_c(PGconn *c, const char *name, char out[CAS_HASH_HEX])
{
	const char *v[1] = { name };
	PGresult *res = run(c, "read session hash", "SELECT hash FROM sessions WHERE name=$1", 1, v, NULL, NULL, 0);
	out[0] = 0;
	if (res == NULL)
		return -1;
	if (PQntuples(res) > 0)
		ward_strlcpy(out, PQgetvalue(res, 0, 0), CAS_HASH_HEX);
	PQclear(res);
	return 0;
}

int cas_pg_session_put(struct cas_pg *pg, const struct cas_session_row *row, const char *expect_hash,
		       json_t *pin_tags, const struct cas_audit *a, char current[CAS_HASH_HEX])
{
	char aad[160], created[24], updated[24];
	uint8_t *db = NULL, *sb = NULL;
	size_t dl = 0, sl = 0;
	PGresult *res = NULL;
	PGconn *c;
	int i = -1, r = -1;

	current[0] = 0;
	snprintf(aad, sizeof(aad), "doc:%s", row->name);
	if (cas_store_seal_json(pg->st, aad, row->doc, &db, &dl) != 0)
		goto out;
	snprintf(aad, sizeof(aad), "state:%s", row->name);
	if (cas_store_seal_json(pg->st, aad, row->state, &sb, &sl) != 0)
		goto out;
	if ((i = acquire(pg)) < 0)
		goto out;
	c = pg->conn[i];
	snprintf(created, sizeof(created), "%lld", (long long)row->created);
	snprintf(updated, sizeof(updated), "%lld", (long long)row->updated);
	const char *v[8] = { row->name, row->hash, row->creator, created, updated, (const char *)db,
			     (const char *)sb, expect_hash };
	const int l[8] = { 0, 0, 0, 0, 0, (int)dl, (int)sl, 0 }, f[8] = { 0, 0, 0, 0, 0, 1, 1, 0 };
	if (begin(c) != 0)
		goto out;
	if (expect_hash == NULL)
		res = run(c, "write session",
			  "INSERT INTO sessions(name, hash, creator, created, updated, doc, state)"
			  " VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(name) DO NOTHING", 7, v, l, f, 0);
	else
		res = run(c, "write session",
			  "UPDATE sessions SET hash=$2, creator=$3, created=$4, updated=$5, doc=$6, state=$7"
			  " WHERE name=$1 AND hash=$8", 8, v, l, f, 0);
	if (res == NULL)
		goto out;
	if (affected(res) != 1) {
		/* created meanwhile, or updated from another predecessor (here or
		 * by another instance): a conflict, with the hash that won */
		rollback(c);
		r = current_hash_c(c, row->name, current) == 0 ? 1 : -1;
		goto out;
	}
	if (pin_tags != NULL) {
		const char *vol;
		json_t *t;
		json_object_foreach(pin_tags, vol, t) {
			if (volume_set_c(c, row->name, vol, json_is_string(t) ? json_string_value(t) : "", "") != 0)
				goto out;
		}
	}
	if (a != NULL && audit_c(c, a) != 0)
		goto out;
	r = commit(c);
out:
	PQclear(res);
	if (i >= 0)
		release(pg, i); /* rolls back what did not commit */
	free(db);
	free(sb);
	return r;
}

int cas_pg_session_delete(struct cas_pg *pg, const char *name, const struct cas_audit *a)
{
	const char *v[1] = { name };
	PGresult *res = NULL;
	PGconn *c;
	int i = acquire(pg), r = -1;

	if (i < 0)
		return -1;
	c = pg->conn[i];
	if (begin(c) != 0 ||
	    (res = run(c, "delete session", "DELETE FROM sessions WHERE name=$1", 1, v, NULL, NULL, 0)) == NULL)
		goto out;
	if (affected(res) == 0) {
		r = 1;
		goto out;
	}
	if (run_ok(c, "delete session", "DELETE FROM volumes WHERE session=$1", 1, v) == 0 &&
	    run_ok(c, "delete session", "DELETE FROM enclaves WHERE session=$1", 1, v) == 0 &&
	    (a == NULL || audit_c(c, a) == 0))
		r = commit(c);
out:
	PQclear(res);
	release(pg, i);
	return r;
}

int cas_pg_session_list(struct cas_pg *pg, json_t **out)
{
	PGresult *res;
	json_t *arr;
	int i = acquire(pg);

	if (i < 0)
		return -1;
	/* byte order, as in SQLite, whatever the database's collation */
	res = run(pg->conn[i], "list sessions", "SELECT name, hash, creator FROM sessions ORDER BY name COLLATE \"C\"",
		  0, NULL, NULL, NULL, 0);
	release(pg, i);
	if (res == NULL)
		return -1;
	arr = json_array();
	if (arr == NULL) {
		PQclear(res);
		return cas_store_fail("out of memory");
	}
	for (int k = 0; k < PQntuples(res); k++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", PQgetvalue(res, k, 0), "hash",
						     PQgetvalue(res, k, 1), "creator", PQgetvalue(res, k, 2)));
	PQclear(res);
	*out = arr;
	return 0;
}

/* One row of two text columns: 0 found (129 bytes each), 1 none, -1 error. */
static int get_two_texts(struct cas_pg *pg, const char *sql, int n, const char *const *v, char *out1, char *out2,
			 const char *what)
{
	PGresult *res;
	int i = acquire(pg), r;

	out1[0] = out2[0] = 0;
	if (i < 0)
		return -1;
	res = run(pg->conn[i], what, sql, n, v, NULL, NULL, 0);
	release(pg, i);
	if (res == NULL)
		return -1;
	r = PQntuples(res) == 0;
	if (r == 0) {
		ward_strlcpy(out1, PQgetvalue(res, 0, 0), 129);
		ward_strlcpy(out2, PQgetvalue(res, 0, 1), 129);
	}
	PQclear(res);
	return r;
}

int cas_pg_volume_get(struct cas_pg *pg, const char *session, const char *vol, char tag[129], char pending[129])
{
	const char *v[2] = { session, vol };
	return get_two_texts(pg, "SELECT tag, pending FROM volumes WHERE session=$1 AND name=$2", 2, v, tag, pending,
			     "read volume tag");
}

int cas_pg_volume_set(struct cas_pg *pg, const char *session, const char *vol, const char *tag, const char *pending)
{
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	PGconn *c = pg->conn[i];
	r = begin(c) == 0 && volume_set_c(c, session, vol, tag, pending) == 0 ? commit(c) : -1;
	release(pg, i);
	return r;
}

int cas_pg_volume_accept(struct cas_pg *pg, const char *session, const char *vol, const char *got, char tag[129],
			 char pending[129])
{
	const char *v[2] = { session, vol };
	const char *settag = NULL;
	PGresult *res = NULL;
	PGconn *c;
	int i = acquire(pg), r = -1;

	tag[0] = pending[0] = 0;
	if (i < 0)
		return -1;
	c = pg->conn[i];
	/* The row lock makes read-check-write atomic across instances; an
	 * empty row stands in for a missing one (and is rolled back unless
	 * this first use is recorded). */
	if (begin(c) != 0 ||
	    run_ok(c, "lock volume tag",
		   "INSERT INTO volumes(session, name, tag, pending) VALUES($1,$2,'','') ON CONFLICT DO NOTHING", 2,
		   v) != 0 ||
	    (res = run(c, "read volume tag", "SELECT tag, pending FROM volumes WHERE session=$1 AND name=$2 FOR UPDATE",
		       2, v, NULL, NULL, 0)) == NULL)
		goto out;
	if (PQntuples(res) > 0) {
		ward_strlcpy(tag, PQgetvalue(res, 0, 0), 129);
		ward_strlcpy(pending, PQgetvalue(res, 0, 1), 129);
	}
	PQclear(res);
	r = cas_store_accept_decision(tag, pending, got, &settag);
	if (r == 0 && settag != NULL) {
		char keep[129];
		ward_strlcpy(keep, settag, sizeof(keep));
		r = volume_set_c(c, session, vol, keep, "") == 0 ? commit(c) : -1;
	}
out:
	release(pg, i); /* rolls back when nothing was written */
	return r;
}

int cas_pg_volume_report(struct cas_pg *pg, const char *session, const char *vol, int commit_,
			 const char *newtag)
{
	const char *v[3] = { session, vol, newtag };
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	r = begin(pg->conn[i]) == 0 && run_ok(pg->conn[i], "write volume tag",
		   commit_ ? "INSERT INTO volumes(session, name, tag, pending) VALUES($1,$2,$3,'')"
			     " ON CONFLICT(session, name) DO UPDATE SET tag=excluded.tag, pending=''"
			   : "INSERT INTO volumes(session, name, tag, pending) VALUES($1,$2,'',$3)"
			     " ON CONFLICT(session, name) DO UPDATE SET pending=excluded.pending",
		   3, v) == 0 ? commit(pg->conn[i]) : -1;
	release(pg, i);
	return r;
}

static int enclave_put_c(PGconn *c, const char *keyhash, const char *session, const char *service)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	const char *v[4] = { keyhash, session, service, t };
	return run_ok(c, "write enclave key",
		      "INSERT INTO enclaves(keyhash, session, service, time) VALUES($1,$2,$3,$4)"
		      " ON CONFLICT(keyhash) DO UPDATE SET session=excluded.session, service=excluded.service,"
		      " time=excluded.time", 4, v);
}

int cas_pg_enclave_put(struct cas_pg *pg, const char *keyhash, const char *session, const char *service)
{
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	PGconn *c = pg->conn[i];
	r = begin(c) == 0 && enclave_put_c(c, keyhash, session, service) == 0 ? commit(c) : -1;
	release(pg, i);
	return r;
}

/* Decisions commit (synchronously) before these return: *seq is already
 * durable (cas_store_durable). */
int cas_pg_attested(struct cas_pg *pg, const char *keyhash, const char *session, const char *service,
		    const struct cas_audit *a, uint64_t *seq)
{
	PGconn *c;
	int i = acquire(pg), r = -1;
	if (i < 0)
		return -1;
	c = pg->conn[i];
	if (begin(c) == 0 && enclave_put_c(c, keyhash, session, service) == 0 &&
	    audit_c(c, a) == 0)
		r = commit(c);
	release(pg, i);
	if (r == 0 && seq != NULL)
		*seq = 0; /* durable already (cas_store_durable is always 1 here) */
	return r;
}

int cas_pg_enclave_get(struct cas_pg *pg, const char *keyhash, char session[129], char service[129])
{
	const char *v[1] = { keyhash };
	return get_two_texts(pg, "SELECT session, service FROM enclaves WHERE keyhash=$1", 1, v, session, service,
			     "read enclave key");
}

int cas_pg_audit(struct cas_pg *pg, const struct cas_audit *a, uint64_t *seq)
{
	int i = acquire(pg), r;
	if (i < 0)
		return -1;
	r = begin(pg->conn[i]) == 0 && audit_c(pg->conn[i], a) == 0 ? commit(pg->conn[i]) : -1;
	release(pg, i);
	if (r == 0 && seq != NULL)
		*seq = 0; /* durable already (cas_store_durable is always 1 here) */
	return r;
}

static json_t *col_json(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

int cas_pg_audit_list(struct cas_pg *pg, const char *session, int limit, json_t **out)
{
	char lim[24];
	PGresult *res;
	json_t *arr;
	int i = acquire(pg);

	if (i < 0)
		return -1;
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *v[2] = { session, lim };
	res = run(pg->conn[i], "read audit",
		  "SELECT time, event, session, service, client, measurement, platform, allowed, reason"
		  " FROM (SELECT * FROM audit WHERE session=$1 ORDER BY id DESC LIMIT $2) AS last ORDER BY id",
		  2, v, NULL, NULL, 0);
	release(pg, i);
	if (res == NULL)
		return -1;
	arr = json_array();
	if (arr == NULL) {
		PQclear(res);
		return cas_store_fail("out of memory");
	}
	for (int k = 0; k < PQntuples(res); k++) {
		json_t *e = json_object();
		json_object_set_new(e, "time", json_integer(strtoll(PQgetvalue(res, k, 0), NULL, 10)));
		json_object_set_new(e, "event", col_json(res, k, 1));
		json_object_set_new(e, "session", col_json(res, k, 2));
		json_object_set_new(e, "service", col_json(res, k, 3));
		json_object_set_new(e, "client", col_json(res, k, 4));
		json_object_set_new(e, "measurement", col_json(res, k, 5));
		json_object_set_new(e, "platform", col_json(res, k, 6));
		json_object_set_new(e, "allowed", json_boolean(PQgetvalue(res, k, 7)[0] == 't'));
		json_object_set_new(e, "reason", col_json(res, k, 8));
		json_array_append_new(arr, e);
	}
	PQclear(res);
	*out = arr;
	return 0;
}

int cas_pg_counts(struct cas_pg *pg, long *sessions, long *audit)
{
	PGresult *res;
	int i = acquire(pg);
	if (i < 0)
		return -1;
	res = run(pg->conn[i], "counts",
		  "SELECT (SELECT count(*) FROM sessions), (SELECT coalesce(max(id), 0) FROM audit)", 0, NULL, NULL,
		  NULL, 0);
	release(pg, i);
	if (res == NULL)
		return -1;
	*sessions = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*audit = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}
