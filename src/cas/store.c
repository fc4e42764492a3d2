/*
 * store.c: see store.h.
 *
 * Schema (version 1):
 *   meta(key PRIMARY KEY, value BLOB sealed with aad "meta:KEY")
 *   sessions(name PRIMARY KEY, hash, creator, created, updated,
 *            doc BLOB sealed "doc:NAME", state BLOB sealed "state:NAME")
 *   volumes(session, name, tag, pending, PRIMARY KEY(session, name))
 *   enclaves(keyhash PRIMARY KEY, session, service, time)
 *   audit(id INTEGER PRIMARY KEY, time, event, session, service, client,
 *         measurement, platform, allowed, reason)
 * Invariants: (1) a fresh random IV per seal; (2) nothing sealed is used
 * before its tag verifies; (3) a session row and its audit entry commit in
 * one transaction.
 *
 * With cas_store_open_pg() the same tables and sealing live in PostgreSQL
 * (store_pg.c): each public function below first hands the call to it.
 */
#include "cas/store.h"
#include "cas/store_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/crypto.h"
#include "core/util.h"

#define MASTER_FILE "master.key"
#define DB_FILE "cas.db"
#define BLOB_MAX (8u << 20)

#define STMT_CACHE 24
#define ROW_CACHE 64 /* direct-mapped by name hash */

struct cas_store {
	sqlite3 *db;
	struct {
		const char *sql; /* a string literal: compared by address */
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	pthread_mutex_t mu;
	uint8_t key[WARD_AES256_KEY_LEN];
	/* Group commit of attestation decisions (see "Durability" below). */
	int walfd;                 /* cas.db-wal, for fdatasync outside the mutex */
	int batch_open;            /* a batch transaction is open on db */
	uint64_t open_seq;         /* its number */
	uint64_t committed_seq;    /* last batch committed (written to the WAL) */
	uint64_t durable_seq;      /* last batch whose WAL write was fsync'ed */
	int broken;                /* a batch could not be committed or synced */
	int stop, syncer_started;
	pthread_t syncer;
	pthread_cond_t work, done;
	void (*notify)(void *);
	void *notify_arg;
	int notifying; /* the syncer is inside notify (mutex released) */
	/* Decoded sessions, shared read-only with callers through jansson's
	 * atomic reference counts; every write of a session drops its entry. */
	struct cas_session_row rows[ROW_CACHE];
	struct cas_pg *pg; /* the PostgreSQL backend (store_pg.c), NULL for SQLite */
};

/* The last error of this thread: workers share the store. */
static _Thread_local char store_err[512];

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions(name TEXT PRIMARY KEY, hash TEXT NOT NULL,"
	" creator TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" doc BLOB NOT NULL, state BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS volumes(session TEXT NOT NULL, name TEXT NOT NULL,"
	" tag TEXT NOT NULL, pending TEXT NOT NULL, PRIMARY KEY(session, name));"
	"CREATE TABLE IF NOT EXISTS enclaves(keyhash TEXT PRIMARY KEY, session TEXT NOT NULL,"
	" service TEXT NOT NULL, time INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	" event TEXT NOT NULL, session TEXT, service TEXT, client TEXT, measurement TEXT,"
	" platform TEXT, allowed INTEGER NOT NULL, reason TEXT);"
	"CREATE INDEX IF NOT EXISTS audit_session ON audit(session, id);";

static int fail(struct cas_store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cas_store *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)st;
	vsnprintf(store_err, sizeof(store_err), fmt, ap);
	va_end(ap);
	return -1;
}

static int dbfail(struct cas_store *st, const char *what)
{
	return fail(st, "store: %s: %s", what, sqlite3_errmsg(st->db));
}

const char *cas_store_error(struct cas_store *st)
{
	(void)st;
	return store_err;
}

/* Loads DIR/master.key, creating it on first start. */
static int master_load(const char *dir, uint8_t master[32], char *err, size_t errlen)
{
	char path[4200];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, MASTER_FILE);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		uint8_t k[32];
		if (ward_random(k, sizeof(k)) != 0) {
			snprintf(err, errlen, "cannot create the CAS master key: no randomness");
			return -1;
		}
		/* link-free create: O_EXCL keeps two starts from both writing */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) != 0) {
			snprintf(err, errlen, "cannot create the CAS master key '%s': %s", path,
				 strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(path);
			}
			ward_wipe(k, sizeof(k));
			return -1;
		}
		close(fd);
		ward_wipe(k, sizeof(k));
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the CAS master key '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_size != 32) {
		close(fd);
		snprintf(err, errlen,
			 "the CAS master key '%s' must be a 32-byte regular file of mode 0600 (chmod 600 it, or restore it from backup)",
			 path);
		return -1;
	}
	if (read(fd, master, 32) != 32) {
		close(fd);
		snprintf(err, errlen, "cannot read the CAS master key '%s'", path);
		return -1;
	}
	close(fd);
	return 0;
}

/* blob = iv || ct || tag */
static int seal(struct cas_store *st, const char *aad, const void *pt, size_t n, uint8_t **blob,
		size_t *bloblen)
{
	uint8_t *b = malloc(n + WARD_GCM_IV_LEN + WARD_GCM_TAG_LEN);
	if (b == NULL)
		return fail(st, "out of memory");
	if (ward_random(b, WARD_GCM_IV_LEN) != 0 ||
	    ward_aes256gcm_seal(st->key, b, aad, strlen(aad), pt, n, b + WARD_GCM_IV_LEN,
				b + WARD_GCM_IV_LEN + n) != 0) {
		free(b);
		return fail(st, "cannot seal a value");
	}
	*blob = b;
	*bloblen = n + WARD_GCM_IV_LEN + WARD_GCM_TAG_LEN;
	return 0;
}

/* *pt gets a NUL-terminated plaintext (the NUL not counted). */
static int unseal(struct cas_store *st, const char *aad, const uint8_t *b, size_t bl,
		  uint8_t **pt, size_t *n)
{
	uint8_t *p;
	size_t len;

	if (b == NULL || bl < WARD_GCM_IV_LEN + WARD_GCM_TAG_LEN || bl > BLOB_MAX)
		return fail(st, "store: sealed value '%s' is truncated", aad);
	len = bl - WARD_GCM_IV_LEN - WARD_GCM_TAG_LEN;
	p = malloc(len + 1);
	if (p == NULL)
		return fail(st, "out of memory");
	if (ward_aes256gcm_open(st->key, b, aad, strlen(aad), b + WARD_GCM_IV_LEN, len, p,
				b + WARD_GCM_IV_LEN + len) != 0) {
		free(p);
		return fail(st, "store: sealed value '%s' does not verify under the master key (wrong master.key or a modified database)", aad);
	}
	p[len] = 0;
	*pt = p;
	*n = len;
	return 0;
}

static void free_wiped(uint8_t *p, size_t n)
{
	if (p != NULL) {
		ward_wipe(p, n);
		free(p);
	}
}

static int exec(struct cas_store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return dbfail(st, sql);
	return 0;
}

static int meta_get_locked(struct cas_store *st, const char *key, uint8_t **val, size_t *len);
static int meta_put_locked(struct cas_store *st, const char *key, const void *val, size_t len);
static void *syncer_main(void *arg);

/* conninfo NULL: SQLite in dir; else PostgreSQL (the master key stays in dir). */
static int store_open(const char *dir, const char *conninfo, struct cas_store **out, char *err, size_t errlen)
{
	static const char check[] = "ward-cas master key check v1";
	struct cas_store *st;
	uint8_t master[32];
	char path[4200];
	uint8_t *v = NULL;
	size_t vl = 0;
	int r;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create data directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (master_load(dir, master, err, errlen) != 0)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		ward_wipe(master, sizeof(master));
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->work, NULL);
	pthread_cond_init(&st->done, NULL);
	st->walfd = -1;
	r = ward_hkdf_sha256(master, sizeof(master), NULL, 0, (const uint8_t *)"ward-cas store v1",
			     17, st->key, sizeof(st->key));
	ward_wipe(master, sizeof(master));
	if (r != 0) {
		snprintf(err, errlen, "cannot derive the store key");
		goto bad;
	}
	if (conninfo != NULL) {
		if (cas_pg_open(st, dir, conninfo, &st->pg, err, errlen) != 0)
			goto bad;
		*out = st;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, DB_FILE);
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the CAS store '%s': %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto bad;
	}
	chmod(path, 0600);
	sqlite3_busy_timeout(st->db, 5000);
	if (exec(st, schema) != 0 || exec(st, "PRAGMA synchronous=NORMAL;") != 0) {
		snprintf(err, errlen, "cannot initialise the CAS store '%s': %s", path, store_err);
		goto bad;
	}
	r = meta_get_locked(st, "check", &v, &vl);
	if (r == 1) {
		if (meta_put_locked(st, "check", check, sizeof(check)) != 0) {
			snprintf(err, errlen, "%s", store_err);
			goto bad;
		}
	} else if (r != 0 || vl != sizeof(check) || memcmp(v, check, vl) != 0) {
		snprintf(err, errlen,
			 "the master key in '%s/%s' does not open the store '%s' (restore the master key that belongs to this store from backup)",
			 dir, MASTER_FILE, path);
		free_wiped(v, vl);
		goto bad;
	}
	free_wiped(v, vl);
	snprintf(path, sizeof(path), "%s/%s-wal", dir, DB_FILE);
	st->walfd = open(path, O_RDONLY | O_CLOEXEC);
	if (st->walfd < 0) {
		snprintf(err, errlen, "cannot open the CAS store's write-ahead log '%s': %s", path, strerror(errno));
		goto bad;
	}
	if (pthread_create(&st->syncer, NULL, syncer_main, st) != 0) {
		snprintf(err, errlen, "cannot start the store's sync thread");
		goto bad;
	}
	st->syncer_started = 1;
	*out = st;
	return 0;
bad:
	cas_store_close(st);
	return -1;
}

int cas_store_open(const char *dir, struct cas_store **out, char *err, size_t errlen)
{
	return store_open(dir, NULL, out, err, errlen);
}

int cas_store_open_pg(const char *dir, const char *conninfo, struct cas_store **out, char *err, size_t errlen)
{
	return store_open(dir, conninfo, out, err, errlen);
}

void cas_store_close(struct cas_store *st)
{
	if (st == NULL)
		return;
	if (st->syncer_started) {
		/* the syncer commits and syncs what is pending, then exits */
		pthread_mutex_lock(&st->mu);
		st->stop = 1;
		st->notify = NULL;
		pthread_cond_signal(&st->work);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->syncer, NULL);
	}
	cas_pg_close(st->pg);
	if (st->walfd >= 0)
		close(st->walfd);
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(st->cache[i].stmt);
	for (size_t i = 0; i < ROW_CACHE; i++)
		cas_session_row_clear(&st->rows[i]);
	if (st->db != NULL) {
		sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
		sqlite3_close_v2(st->db);
	}
	ward_wipe(st->key, sizeof(st->key));
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->work);
	pthread_cond_destroy(&st->done);
	free(st);
}

/* Prepared statements are cached per SQL text (callers pass literals) and
 * handed back with release(); the store's mutex serialises their use. */
static sqlite3_stmt *prep(struct cas_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	for (i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++)
		if (st->cache[i].sql == sql)
			return st->cache[i].stmt;
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		dbfail(st, "prepare");
		return NULL;
	}
	if (i < STMT_CACHE) {
		st->cache[i].sql = sql;
		st->cache[i].stmt = s;
	}
	return s;
}

static void release(struct cas_store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < STMT_CACHE && st->cache[i].sql != NULL; i++) {
		if (st->cache[i].stmt == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return;
		}
	}
	sqlite3_finalize(s); /* not cached (cache full): prepared for this use only */
}

static const char sql_begin[] = "BEGIN;", sql_commit[] = "COMMIT;", sql_rollback[] = "ROLLBACK;";
static const char sql_savepoint[] = "SAVEPOINT one;", sql_release[] = "RELEASE one;",
		  sql_rollback_to[] = "ROLLBACK TO one;";

/* Runs a statement without results through the statement cache (BEGIN,
 * COMMIT...: sqlite3_exec would parse them again on every attestation). */
static int run(struct cas_store *st, const char *sql)
{
	sqlite3_stmt *s = prep(st, sql);
	int r;
	if (s == NULL)
		return -1;
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, sql);
	release(st, s);
	return r;
}

/*
 * Durability of attestation decisions (group commit). An attestation's
 * audit record (and, when allowed, its enclave key) is written into the open
 * "batch" transaction under a savepoint; a syncer thread commits the batch
 * (synchronous=NORMAL: the WAL frames are written, not yet synced), then
 * fdatasync()s the WAL file outside the mutex, then marks the batch durable
 * and calls the notify hook. Callers send the decision only once their
 * batch is durable. In WAL mode, synchronous=FULL differs from NORMAL only
 * by that sync of the WAL after the commit, so a durable batch survives a
 * power loss exactly as a FULL transaction would; batches are whatever
 * arrived during the previous sync, so one fsync serves many attestations.
 * Every other write (sessions, volume tags, metadata) first commits the
 * open batch, then runs its own FULL transaction, which also syncs the
 * batch. A failed commit or sync marks the store broken: pending and later
 * decisions are refused, nothing is answered as if recorded.
 */
static int batch_close_locked(struct cas_store *st)
{
	if (!st->batch_open)
		return 0;
	st->batch_open = 0;
	if (run(st, sql_commit) != 0) {
		run(st, sql_rollback);
		st->broken = 1;
		pthread_cond_broadcast(&st->done);
		return -1;
	}
	st->committed_seq = st->open_seq;
	pthread_cond_signal(&st->work);
	return 0;
}

/* Opens (or joins) the batch and a savepoint for one decision. */
static int batch_join_locked(struct cas_store *st, uint64_t *seq)
{
	if (st->broken)
		return fail(st, "store: an earlier decision could not be made durable (disk full or failing?); fix the disk and restart ward-cas");
	if (!st->batch_open) {
		if (run(st, sql_begin) != 0)
			return -1;
		st->batch_open = 1;
		st->open_seq = st->committed_seq + 1;
		pthread_cond_signal(&st->work);
	}
	*seq = st->open_seq;
	return run(st, sql_savepoint);
}

static int batch_leave_locked(struct cas_store *st, int ok)
{
	if (ok && run(st, sql_release) == 0)
		return 0;
	run(st, sql_rollback_to);
	run(st, sql_release);
	return -1;
}

/* Blocks until batch seq is durable (callers without an event loop). */
static int batch_wait_locked(struct cas_store *st, uint64_t seq)
{
	while (!st->broken && st->durable_seq < seq)
		pthread_cond_wait(&st->done, &st->mu);
	return st->durable_seq >= seq ? 0 : -1;
}

static void *syncer_main(void *arg)
{
	struct cas_store *st = arg;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		if (st->batch_open)
			batch_close_locked(st);
		if (st->broken || st->committed_seq == st->durable_seq) {
			if (st->stop)
				break;
			pthread_cond_wait(&st->work, &st->mu);
			continue;
		}
		uint64_t target = st->committed_seq;
		pthread_mutex_unlock(&st->mu);
		int r = fdatasync(st->walfd);
		pthread_mutex_lock(&st->mu);
		if (r == 0)
			st->durable_seq = target;
		else
			st->broken = 1;
		pthread_cond_broadcast(&st->done);
		void (*fn)(void *) = st->notify;
		void *fa = st->notify_arg;
		st->notifying = fn != NULL;
		pthread_mutex_unlock(&st->mu);
		if (fn != NULL)
			fn(fa);
		pthread_mutex_lock(&st->mu);
		st->notifying = 0;
		pthread_cond_broadcast(&st->done);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

void cas_store_on_durable(struct cas_store *st, void (*fn)(void *), void *arg)
{
	if (st->pg != NULL)
		return; /* decisions are durable when recorded: nothing to wake */
	pthread_mutex_lock(&st->mu);
	st->notify = fn;
	st->notify_arg = arg;
	while (st->notifying) /* a call to the old hook may be running: let it end */
		pthread_cond_wait(&st->done, &st->mu);
	pthread_mutex_unlock(&st->mu);
}

int cas_store_durable(struct cas_store *st, uint64_t seq)
{
	if (st->pg != NULL)
		return 1;
	pthread_mutex_lock(&st->mu);
	int r = st->durable_seq >= seq ? 1 : st->broken ? -1 : 0;
	pthread_mutex_unlock(&st->mu);
	return r;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static int meta_get_locked(struct cas_store *st, const char *key, uint8_t **val, size_t *len)
{
	char aad[160];
	sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE key=?");
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, key);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE) {
		release(st, s);
		return 1;
	}
	if (r != SQLITE_ROW) {
		release(st, s);
		return dbfail(st, "read meta");
	}
	snprintf(aad, sizeof(aad), "meta:%s", key);
	r = unseal(st, aad, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), val, len);
	release(st, s);
	return r;
}

static int meta_put_locked(struct cas_store *st, const char *key, const void *val, size_t len)
{
	char aad[160];
	uint8_t *b;
	size_t bl;
	sqlite3_stmt *s;
	int r;

	snprintf(aad, sizeof(aad), "meta:%s", key);
	if (seal(st, aad, val, len, &b, &bl) != 0)
		return -1;
	s = prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
	if (s == NULL) {
		free(b);
		return -1;
	}
	bind_text(s, 1, key);
	sqlite3_bind_blob(s, 2, b, (int)bl, SQLITE_TRANSIENT);
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write meta");
	release(st, s);
	free(b);
	return r;
}

int cas_store_meta_get(struct cas_store *st, const char *key, uint8_t **val, size_t *len)
{
	if (st->pg != NULL)
		return cas_pg_meta_get(st->pg, key, val, len);
	pthread_mutex_lock(&st->mu);
	int r = meta_get_locked(st, key, val, len);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_meta_put(struct cas_store *st, const char *key, const void *val, size_t len)
{
	if (st->pg != NULL)
		return cas_pg_meta_put(st->pg, key, val, len);
	pthread_mutex_lock(&st->mu);
	batch_close_locked(st);
	exec(st, "PRAGMA synchronous=FULL;");
	int r = meta_put_locked(st, key, val, len);
	exec(st, "PRAGMA synchronous=NORMAL;");
	pthread_mutex_unlock(&st->mu);
	return r;
}

void cas_session_row_clear(struct cas_session_row *row)
{
	json_decref(row->doc);
	json_decref(row->state);
	row->doc = row->state = NULL;
}

static int unseal_json(struct cas_store *st, const char *aad, const void *b, int bl, json_t **out)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	json_error_t je;

	if (bl < 0 || unseal(st, aad, b, (size_t)bl, &pt, &n) != 0)
		return -1;
	*out = json_loadb((const char *)pt, n, JSON_REJECT_DUPLICATES, &je);
	free_wiped(pt, n);
	if (*out == NULL)
		return fail(st, "store: sealed value '%s' is not JSON", aad);
	return 0;
}

static struct cas_session_row *row_slot(struct cas_store *st, const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &st->rows[h % ROW_CACHE];
}

static void row_share(const struct cas_session_row *from, struct cas_session_row *to)
{
	*to = *from;
	json_incref(to->doc);
	json_incref(to->state);
}

static void row_forget(struct cas_store *st, const char *name)
{
	struct cas_session_row *c = row_slot(st, name);
	if (c->doc != NULL && strcmp(c->name, name) == 0)
		cas_session_row_clear(c);
}

int cas_store_session_get(struct cas_store *st, const char *name, struct cas_session_row *row)
{
	if (st->pg != NULL)
		return cas_pg_session_get(st->pg, name, row);
	struct cas_session_row *cached;
	sqlite3_stmt *s;
	char aad[160];
	int r;

	pthread_mutex_lock(&st->mu);
	cached = row_slot(st, name);
	if (cached->doc != NULL && strcmp(cached->name, name) == 0) {
		row_share(cached, row);
		pthread_mutex_unlock(&st->mu);
		return 0;
	}
	s = prep(st, "SELECT hash, creator, created, updated, doc, state FROM sessions WHERE name=?");
	if (s == NULL) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	bind_text(s, 1, name);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE) {
		r = 1;
	} else if (r != SQLITE_ROW) {
		r = dbfail(st, "read session");
	} else {
		memset(row, 0, sizeof(*row));
		ward_strlcpy(row->name, name, sizeof(row->name));
		ward_strlcpy(row->hash, (const char *)sqlite3_column_text(s, 0), sizeof(row->hash));
		ward_strlcpy(row->creator, (const char *)sqlite3_column_text(s, 1), sizeof(row->creator));
		row->created = sqlite3_column_int64(s, 2);
		row->updated = sqlite3_column_int64(s, 3);
		snprintf(aad, sizeof(aad), "doc:%s", name);
		r = unseal_json(st, aad, sqlite3_column_blob(s, 4), sqlite3_column_bytes(s, 4), &row->doc);
		snprintf(aad, sizeof(aad), "state:%s", name);
		if (r == 0)
			r = unseal_json(st, aad, sqlite3_column_blob(s, 5), sqlite3_column_bytes(s, 5),
					&row->state);
		if (r != 0) {
			cas_session_row_clear(row);
		} else {
			cas_session_row_clear(cached);
			row_share(row, cached);
		}
	}
	release(st, s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

static int seal_json(struct cas_store *st, const char *aad, json_t *j, uint8_t **b, size_t *bl)
{
	char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	int r;
	if (txt == NULL)
		return fail(st, "out of memory");
	r = seal(st, aad, txt, strlen(txt), b, bl);
	free_wiped((uint8_t *)txt, strlen(txt));
	return r;
}

static int audit_locked(struct cas_store *st, const struct cas_audit *a)
{
	sqlite3_stmt *s = prep(st, "INSERT INTO audit(time, event, session, service, client, measurement,"
				   " platform, allowed, reason) VALUES(?,?,?,?,?,?,?,?,?)");
	int r;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
	bind_text(s, 2, a->event);
	bind_text(s, 3, a->session);
	bind_text(s, 4, a->service);
	bind_text(s, 5, a->client);
	bind_text(s, 6, a->measurement);
	bind_text(s, 7, a->platform);
	sqlite3_bind_int(s, 8, a->allowed ? 1 : 0);
	bind_text(s, 9, a->reason);
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write audit");
	release(st, s);
	return r;
}

static int volume_set_locked(struct cas_store *st, const char *session, const char *vol,
			     const char *tag, const char *pending)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO volumes(session, name, tag, pending) VALUES(?,?,?,?)");
	int r;
	if (s == NULL)
		return -1;
	bind_text(s, 1, session);
	bind_text(s, 2, vol);
	bind_text(s, 3, tag);
	bind_text(s, 4, pending);
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write volume tag");
	release(st, s);
	return r;
}

/* current hash of a session: 0 found, 1 absent, -1 error */
static int current_hash(struct cas_store *st, const char *name, char out[CAS_HASH_HEX])
{
	sqlite3_stmt *s = prep(st, "SELECT hash FROM sessions WHERE name=?");
	int r;
	out[0] = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		ward_strlcpy(out, (const char *)sqlite3_column_text(s, 0), CAS_HASH_HEX);
		r = 0;
	} else {
		r = r == SQLITE_DONE ? 1 : dbfail(st, "read session hash");
	}
	release(st, s);
	return r;
}

static int begin(struct cas_store *st)
{
	if (batch_close_locked(st) != 0 || exec(st, "PRAGMA synchronous=FULL;") != 0)
		return -1;
	return exec(st, "BEGIN IMMEDIATE;");
}

static int end(struct cas_store *st, int ok)
{
	int r = exec(st, ok ? "COMMIT;" : "ROLLBACK;");
	if (r != 0 && ok)
		exec(st, "ROLLBACK;");
	exec(st, "PRAGMA synchronous=NORMAL;");
	return r;
}

int cas_store_session_put(struct cas_store *st, const struct cas_session_row *row,
			  const char *expect_hash, json_t *pin_tags, const struct cas_audit *a,
			  char current[CAS_HASH_HEX])
{
	if (st->pg != NULL)
		return cas_pg_session_put(st->pg, row, expect_hash, pin_tags, a, current);
	char aad[160];
	uint8_t *db = NULL, *sb = NULL;
	size_t dl = 0, sl = 0;
	sqlite3_stmt *s = NULL;
	int r, found;

	pthread_mutex_lock(&st->mu);
	snprintf(aad, sizeof(aad), "doc:%s", row->name);
	if (seal_json(st, aad, row->doc, &db, &dl) != 0)
		goto err_unlocked_tx;
	snprintf(aad, sizeof(aad), "state:%s", row->name);
	if (seal_json(st, aad, row->state, &sb, &sl) != 0)
		goto err_unlocked_tx;
	if (begin(st) != 0)
		goto err_unlocked_tx;
	found = current_hash(st, row->name, current);
	if (found < 0)
		goto err_tx;
	if ((expect_hash == NULL && found == 0) ||
	    (expect_hash != NULL && (found == 1 || strcmp(current, expect_hash) != 0))) {
		end(st, 0);
		r = 1;
		goto out;
	}
	s = prep(st, "INSERT OR REPLACE INTO sessions(name, hash, creator, created, updated, doc, state)"
		     " VALUES(?,?,?,?,?,?,?)");
	if (s == NULL)
		goto err_tx;
	bind_text(s, 1, row->name);
	bind_text(s, 2, row->hash);
	bind_text(s, 3, row->creator);
	sqlite3_bind_int64(s, 4, row->created);
	sqlite3_bind_int64(s, 5, row->updated);
	sqlite3_bind_blob(s, 6, db, (int)dl, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 7, sb, (int)sl, SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE) {
		dbfail(st, "write session");
		goto err_tx;
	}
	if (pin_tags != NULL) {
		const char *vol;
		json_t *t;
		json_object_foreach(pin_tags, vol, t) {
			if (volume_set_locked(st, row->name, vol, json_is_string(t) ? json_string_value(t) : "",
					      "") != 0)
				goto err_tx;
		}
	}
	if (a != NULL && audit_locked(st, a) != 0)
		goto err_tx;
	r = end(st, 1);
	row_forget(st, row->name);
	goto out;
err_tx:
	end(st, 0);
err_unlocked_tx:
	r = -1;
out:
	release(st, s);
	free(db);
	free(sb);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_session_delete(struct cas_store *st, const char *name, const struct cas_audit *a)
{
	if (st->pg != NULL)
		return cas_pg_session_delete(st->pg, name, a);
	static const char *const sql[] = { "DELETE FROM sessions WHERE name=?",
					   "DELETE FROM volumes WHERE session=?",
					   "DELETE FROM enclaves WHERE session=?" };
	char cur[CAS_HASH_HEX];
	int r;

	pthread_mutex_lock(&st->mu);
	if (begin(st) != 0) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	r = current_hash(st, name, cur);
	for (size_t i = 0; r == 0 && i < WARD_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *s = prep(st, sql[i]);
		if (s == NULL) {
			r = -1;
			break;
		}
		bind_text(s, 1, name);
		if (sqlite3_step(s) != SQLITE_DONE)
			r = dbfail(st, "delete session");
		release(st, s);
	}
	if (r == 0 && a != NULL)
		r = audit_locked(st, a);
	if (r == 0)
		r = end(st, 1);
	else
		end(st, 0);
	row_forget(st, name);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_session_list(struct cas_store *st, json_t **out)
{
	if (st->pg != NULL)
		return cas_pg_session_list(st->pg, out);
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int r;

	pthread_mutex_lock(&st->mu);
	s = prep(st, "SELECT name, hash, creator FROM sessions ORDER BY name");
	if (s == NULL || arr == NULL) {
		release(st, s);
		json_decref(arr);
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
						     "name", (const char *)sqlite3_column_text(s, 0),
						     "hash", (const char *)sqlite3_column_text(s, 1),
						     "creator", (const char *)sqlite3_column_text(s, 2)));
	release(st, s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		r = dbfail(st, "list sessions");
	} else {
		*out = arr;
		r = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* One row of two text columns selected by one or two keys: 0 found (out1,
 * out2 filled, 129 bytes each), 1 no row, -1 error. */
static int get_two_texts(struct cas_store *st, const char *sql, const char *k1, const char *k2, char *out1,
			 char *out2, const char *what)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->mu);
	s = prep(st, sql);
	if (s == NULL) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	bind_text(s, 1, k1);
	if (k2 != NULL)
		bind_text(s, 2, k2);
	out1[0] = out2[0] = 0;
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		ward_strlcpy(out1, (const char *)sqlite3_column_text(s, 0), 129);
		ward_strlcpy(out2, (const char *)sqlite3_column_text(s, 1), 129);
		r = 0;
	} else {
		r = r == SQLITE_DONE ? 1 : dbfail(st, what);
	}
	release(st, s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_volume_get(struct cas_store *st, const char *session, const char *vol,
			 char tag[129], char pending[129])
{
	if (st->pg != NULL)
		return cas_pg_volume_get(st->pg, session, vol, tag, pending);
	return get_two_texts(st, "SELECT tag, pending FROM volumes WHERE session=? AND name=?", session, vol, tag,
			     pending, "read volume tag");
}

int cas_store_volume_set(struct cas_store *st, const char *session, const char *vol,
			 const char *tag, const char *pending)
{
	if (st->pg != NULL)
		return cas_pg_volume_set(st->pg, session, vol, tag, pending);
	int r;
	pthread_mutex_lock(&st->mu);
	r = begin(st);
	if (r == 0) {
		r = volume_set_locked(st, session, vol, tag, pending);
		if (end(st, r == 0) != 0)
			r = -1;
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_accept_decision(const char *tag, const char *pending, const char *got, const char **settag)
{
	*settag = NULL;
	if (tag[0] == 0 && pending[0] == 0)
		*settag = got[0] ? got : NULL;		   /* trust on first use */
	else if (strcasecmp(got, tag) == 0)
		*settag = pending[0] ? tag : NULL;	   /* crash before the write: drop pending */
	else if (pending[0] && strcasecmp(got, pending) == 0)
		*settag = pending;			   /* crash after the write: promote */
	else
		return 1;
	return 0;
}

int cas_store_volume_accept(struct cas_store *st, const char *session, const char *vol,
			    const char *got, char tag[129], char pending[129])
{
	if (st->pg != NULL)
		return cas_pg_volume_accept(st->pg, session, vol, got, tag, pending);
	const char *settag = NULL;
	sqlite3_stmt *s;
	int r = 0, found;

	/* The mutex makes read-check-write atomic (one connection, one
	 * process); the write, when one is needed, is its own synchronous
	 * transaction. */
	pthread_mutex_lock(&st->mu);
	tag[0] = pending[0] = 0;
	s = prep(st, "SELECT tag, pending FROM volumes WHERE session=? AND name=?");
	if (s == NULL) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	bind_text(s, 1, session);
	bind_text(s, 2, vol);
	found = sqlite3_step(s);
	if (found == SQLITE_ROW) {
		ward_strlcpy(tag, (const char *)sqlite3_column_text(s, 0), 129);
		ward_strlcpy(pending, (const char *)sqlite3_column_text(s, 1), 129);
	}
	release(st, s);
	if (found != SQLITE_ROW && found != SQLITE_DONE)
		r = dbfail(st, "read volume tag");
	else
		r = cas_store_accept_decision(tag, pending, got, &settag);
	if (r == 0 && settag != NULL) {
		char keep[129];
		ward_strlcpy(keep, settag, sizeof(keep));
		r = begin(st);
		if (r == 0) {
			r = volume_set_locked(st, session, vol, keep, "");
			if (end(st, r == 0) != 0)
				r = -1;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_volume_report(struct cas_store *st, const char *session, const char *vol,
			    int commit, const char *newtag)
{
	if (st->pg != NULL)
		return cas_pg_volume_report(st->pg, session, vol, commit, newtag);
	sqlite3_stmt *s;
	int r;
	pthread_mutex_lock(&st->mu);
	if (begin(st) != 0) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	s = prep(st, commit ? "INSERT OR REPLACE INTO volumes(session, name, tag, pending) VALUES(?,?,?,'')"
			    : "INSERT INTO volumes(session, name, tag, pending) VALUES(?,?,'',?)"
			      " ON CONFLICT(session, name) DO UPDATE SET pending=excluded.pending");
	r = s == NULL ? -1 : 0;
	if (s != NULL) {
		bind_text(s, 1, session);
		bind_text(s, 2, vol);
		bind_text(s, 3, newtag);
		r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write volume tag");
		release(st, s);
	}
	if (end(st, r == 0) != 0)
		r = -1;
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_enclave_put(struct cas_store *st, const char *keyhash, const char *session,
			  const char *service)
{
	if (st->pg != NULL)
		return cas_pg_enclave_put(st->pg, keyhash, session, service);
	sqlite3_stmt *s;
	int r;
	pthread_mutex_lock(&st->mu);
	batch_close_locked(st);
	s = prep(st, "INSERT OR REPLACE INTO enclaves(keyhash, session, service, time) VALUES(?,?,?,?)");
	if (s == NULL) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	bind_text(s, 1, keyhash);
	bind_text(s, 2, session);
	bind_text(s, 3, service);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write enclave key");
	release(st, s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_attested(struct cas_store *st, const char *keyhash, const char *session,
		       const char *service, const struct cas_audit *a, uint64_t *seq)
{
	if (st->pg != NULL)
		return cas_pg_attested(st->pg, keyhash, session, service, a, seq);
	sqlite3_stmt *s;
	uint64_t n;
	int r;
	pthread_mutex_lock(&st->mu);
	if (batch_join_locked(st, &n) != 0) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	s = prep(st, "INSERT OR REPLACE INTO enclaves(keyhash, session, service, time) VALUES(?,?,?,?)");
	r = s == NULL ? -1 : 0;
	if (s != NULL) {
		bind_text(s, 1, keyhash);
		bind_text(s, 2, session);
		bind_text(s, 3, service);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
		r = sqlite3_step(s) == SQLITE_DONE ? 0 : dbfail(st, "write enclave key");
		release(st, s);
	}
	if (r == 0)
		r = audit_locked(st, a);
	r = batch_leave_locked(st, r == 0);
	if (r == 0 && seq == NULL)
		r = batch_wait_locked(st, n);
	if (seq != NULL)
		*seq = n;
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_enclave_get(struct cas_store *st, const char *keyhash, char session[129],
			  char service[129])
{
	if (st->pg != NULL)
		return cas_pg_enclave_get(st->pg, keyhash, session, service);
	return get_two_texts(st, "SELECT session, service FROM enclaves WHERE keyhash=?", keyhash, NULL, session,
			     service, "read enclave key");
}

int cas_store_audit(struct cas_store *st, const struct cas_audit *a, uint64_t *seq)
{
	if (st->pg != NULL)
		return cas_pg_audit(st->pg, a, seq);
	uint64_t n;
	pthread_mutex_lock(&st->mu);
	int r = batch_join_locked(st, &n);
	if (r == 0)
		r = batch_leave_locked(st, audit_locked(st, a) == 0);
	if (r == 0 && seq == NULL)
		r = batch_wait_locked(st, n);
	if (seq != NULL)
		*seq = n;
	pthread_mutex_unlock(&st->mu);
	return r;
}

static json_t *col_json(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? json_string((const char *)t) : json_null();
}

int cas_store_audit_list(struct cas_store *st, const char *session, int limit, json_t **out)
{
	if (st->pg != NULL)
		return cas_pg_audit_list(st->pg, session, limit, out);
	sqlite3_stmt *s;
	json_t *arr = json_array();
	int r;

	pthread_mutex_lock(&st->mu);
	s = prep(st, "SELECT time, event, session, service, client, measurement, platform, allowed, reason"
		     " FROM (SELECT * FROM audit WHERE session=? ORDER BY id DESC LIMIT ?) ORDER BY id");
	if (s == NULL || arr == NULL) {
		release(st, s);
		json_decref(arr);
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	bind_text(s, 1, session);
	sqlite3_bind_int(s, 2, limit);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "time", json_integer(sqlite3_column_int64(s, 0)));
		json_object_set_new(e, "event", col_json(s, 1));
		json_object_set_new(e, "session", col_json(s, 2));
		json_object_set_new(e, "service", col_json(s, 3));
		json_object_set_new(e, "client", col_json(s, 4));
		json_object_set_new(e, "measurement", col_json(s, 5));
		json_object_set_new(e, "platform", col_json(s, 6));
		json_object_set_new(e, "allowed", json_boolean(sqlite3_column_int(s, 7)));
		json_object_set_new(e, "reason", col_json(s, 8));
		json_array_append_new(arr, e);
	}
	release(st, s);
	if (r != SQLITE_DONE) {
		json_decref(arr);
		r = dbfail(st, "read audit");
	} else {
		*out = arr;
		r = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return r;
}

int cas_store_counts(struct cas_store *st, long *sessions, long *audit)
{
	if (st->pg != NULL)
		return cas_pg_counts(st->pg, sessions, audit);
	sqlite3_stmt *s;
	int r = -1;
	pthread_mutex_lock(&st->mu);
	s = prep(st, "SELECT (SELECT count(*) FROM sessions), (SELECT max(id) FROM audit)");
	if (s != NULL && sqlite3_step(s) == SQLITE_ROW) {
		*sessions = (long)sqlite3_column_int64(s, 0);
		*audit = (long)sqlite3_column_int64(s, 1);
		r = 0;
	}
	release(st, s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* Shared with the PostgreSQL backend (store_pg.h). */
int cas_store_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_err, sizeof(store_err), fmt, ap);
	va_end(ap);
	return -1;
}

int cas_store_seal(struct cas_store *st, const char *aad, const void *pt, size_t n, uint8_t **blob,
		   size_t *bloblen)
{
	return seal(st, aad, pt, n, blob, bloblen);
}

int cas_store_unseal(struct cas_store *st, const char *aad, const uint8_t *b, size_t bl, uint8_t **pt,
		     size_t *n)
{
	return unseal(st, aad, b, bl, pt, n);
}

int cas_store_seal_json(struct cas_store *st, const char *aad, json_t *j, uint8_t **b, size_t *bl)
{
	return seal_json(st, aad, j, b, bl);
}

int cas_store_unseal_json(struct cas_store *st, const char *aad, const void *b, size_t bl, json_t **out)
{
	if (bl > BLOB_MAX)
		return fail(st, "store: sealed value '%s' is too large", aad);
	return unseal_json(st, aad, b, (int)bl, out);
}
