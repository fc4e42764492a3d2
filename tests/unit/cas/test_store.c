/* test_store.c: sealing at rest, tamper detection, wrong master key,
 * master key permissions, conflicts, persistence across reopen, group
 * commit of attestation decisions (durable before answered; a failed
 * decision leaves its batch-mates intact). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdatomic.h>

#include <sqlite3.h>

#include "../test.h"
#include "cas/store.h"

static atomic_int notified;
static void on_durable(void *arg)
{
	(void)arg;
	notified++;
}

/* Waits (bounded, not timed) until batch seq is resolved. */
static int wait_durable(struct cas_store *st, uint64_t seq)
{
	int d = 0;
	for (int i = 0; i < 20000 && (d = cas_store_durable(st, seq)) == 0; i++)
		usleep(500);
	return d;
}

static int audit_count(struct cas_store *st, const char *session)
{
	json_t *e = NULL;
	int n = cas_store_audit_list(st, session, 1000, &e) == 0 ? (int)json_array_size(e) : -1;
	json_decref(e);
	return n;
}

static int file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 20];
	size_t n;
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, needle, strlen(needle)) != NULL;
}

int main(void)
{
	char dir[] = "/tmp/ward-cas-store-XXXXXX", path[256], err[512], cur[CAS_HASH_HEX];
	struct cas_store *st = NULL;
	struct cas_session_row row = { 0 }, got;
	struct cas_audit a = { .event = "create", .session = "s1", .allowed = 1 };

	CHECK(mkdtemp(dir) != NULL);
	CHECK(cas_store_open(dir, &st, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/master.key", dir);
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600 && sb.st_size == 32);

	strcpy(row.name, "s1");
	strcpy(row.hash, "aa");
	strcpy(row.creator, "cc");
	row.doc = json_pack("{s:s, s:[{s:s, s:s}]}", "name", "s1", "secrets", "name", "pw", "value", "TOPSECRETVALUE1");
	row.state = json_pack("{s:{s:{s:s}}}", "secrets", "gen", "value", "GENERATEDSECRET2");
	CHECK(cas_store_session_put(st, &row, NULL, NULL, &a, cur) == 0);
	CHECK(cas_store_session_put(st, &row, NULL, NULL, &a, cur) == 1 && strcmp(cur, "aa") == 0);
	CHECK(cas_store_session_put(st, &row, "bb", NULL, &a, cur) == 1 && strcmp(cur, "aa") == 0);
	CHECK(cas_store_volume_set(st, "s1", "data", "0011", "2233") == 0);
	/* volume tag state machine (docs/cas.md, "Rollback protection") */
	char t[129], pd[129];
	CHECK(cas_store_volume_accept(st, "s1", "v", "", t, pd) == 0);          /* fresh, empty */
	CHECK(cas_store_volume_accept(st, "s1", "v", "01", t, pd) == 0);        /* first use recorded */
	CHECK(cas_store_volume_accept(st, "s1", "v", "", t, pd) == 1 && strcmp(t, "01") == 0);
	CHECK(cas_store_volume_report(st, "s1", "v", 0, "02") == 0);            /* prepare 02 */
	CHECK(cas_store_volume_accept(st, "s1", "v", "03", t, pd) == 1 && strcmp(t, "01") == 0 && strcmp(pd, "02") == 0);
	CHECK(cas_store_volume_accept(st, "s1", "v", "02", t, pd) == 0);        /* crash after write: promoted */
	CHECK(cas_store_volume_accept(st, "s1", "v", "01", t, pd) == 1 && strcmp(t, "02") == 0 && pd[0] == 0);
	CHECK(cas_store_volume_report(st, "s1", "v", 0, "04") == 0);            /* prepare 04 */
	CHECK(cas_store_volume_accept(st, "s1", "v", "02", t, pd) == 0);        /* crash before write: dropped */
	CHECK(cas_store_volume_accept(st, "s1", "v", "04", t, pd) == 1 && pd[0] == 0);
	CHECK(cas_store_volume_report(st, "s1", "v", 1, "05") == 0);            /* commit */
	CHECK(cas_store_volume_accept(st, "s1", "v", "05", t, pd) == 0);
	CHECK(cas_store_volume_accept(st, "s1", "v", "02", t, pd) == 1);

	/* group commit: decisions join a batch, become durable, then notify */
	struct cas_audit ok = { .event = "attest", .session = "g", .service = "web", .allowed = 1, .reason = "h" };
	struct cas_audit no = { .event = "attest", .session = "g", .service = "web", .reason = "denied: x" };
	struct cas_audit bad = { .event = NULL, .session = "g" }; /* violates NOT NULL */
	uint64_t s1, s2, s3;
	char se[129], sv[129];
	cas_store_on_durable(st, on_durable, NULL);
	CHECK(cas_store_attested(st, "k1", "g", "web", &ok, NULL) == 0);   /* waits itself */
	CHECK(cas_store_enclave_get(st, "k1", se, sv) == 0 && strcmp(se, "g") == 0);
	CHECK(cas_store_audit(st, &no, &s1) == 0);
	CHECK(cas_store_attested(st, "k2", "g", "web", &bad, &s2) == -1); /* rolled back alone */
	CHECK(cas_store_attested(st, "k3", "g", "web", &ok, &s3) == 0 && s3 >= s1);
	CHECK(wait_durable(st, s1) == 1 && wait_durable(st, s3) == 1);
	CHECK(notified > 0);
	CHECK(cas_store_enclave_get(st, "k2", se, sv) == 1 && cas_store_enclave_get(st, "k3", se, sv) == 0);
	CHECK(audit_count(st, "g") == 3);
	/* a session write commits the open batch first (and syncs it) */
	CHECK(cas_store_audit(st, &no, &s1) == 0);
	CHECK(cas_store_volume_set(st, "s1", "w", "aa", "") == 0);
	CHECK(wait_durable(st, s1) == 1 && audit_count(st, "g") == 4);
	cas_store_on_durable(st, NULL, NULL);
	cas_store_close(st);
	st = NULL;

	snprintf(path, sizeof(path), "%s/cas.db", dir);
	CHECK(!file_contains(path, "TOPSECRETVALUE1"));
	CHECK(!file_contains(path, "GENERATEDSECRET2"));

	/* reopen: everything is still there */
	CHECK(cas_store_open(dir, &st, err, sizeof(err)) == 0);
	CHECK(cas_store_session_get(st, "s1", &got) == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(json_object_get(got.doc, "secrets"), 0), "value")), "TOPSECRETVALUE1") == 0);
	cas_session_row_clear(&got);
	char tag[129], pend[129];
	CHECK(cas_store_volume_get(st, "s1", "data", tag, pend) == 0 && strcmp(tag, "0011") == 0 && strcmp(pend, "2233") == 0);
	CHECK(audit_count(st, "g") == 4 && cas_store_enclave_get(st, "k3", se, sv) == 0);
	cas_store_close(st);
	st = NULL;

	/* tamper one byte of the sealed doc: the read fails, nothing is returned */
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE sessions SET doc = substr(doc,1,20) || x'00' || substr(doc,22)", NULL, NULL, NULL) == SQLITE_OK);
	/* swap attempt: the state blob under the doc column */
	sqlite3_close(db);
	CHECK(cas_store_open(dir, &st, err, sizeof(err)) == 0);
	memset(&got, 0, sizeof(got));
	CHECK(cas_store_session_get(st, "s1", &got) == -1 && got.doc == NULL);
	CHECK(strstr(cas_store_error(st), "does not verify") != NULL);
	cas_store_close(st);
	st = NULL;

	/* loose permissions on the master key are refused */
	snprintf(path, sizeof(path), "%s/master.key", dir);
	chmod(path, 0644);
	CHECK(cas_store_open(dir, &st, err, sizeof(err)) == -1 && strstr(err, "0600") != NULL);
	chmod(path, 0600);

	/* a different master key does not open the store */
	uint8_t k[32] = { 0 };
	int fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, k, 32) == 32);
	close(fd);
	CHECK(cas_store_open(dir, &st, err, sizeof(err)) == -1 && strstr(err, "does not open the store") != NULL);

	json_decref(row.doc);
	json_decref(row.state);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
