/*
 * api.c: the REST API on the client port (docs/cas-api.md, "REST
 * endpoints"), served by libevent's evhttp over bufferevent_openssl.
 * Every handler runs to completion on the loop thread: a response is sent
 * only after its store transaction committed.
 */
#include "cas/cas.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "cas/proto.h"
#include "cas/session.h"
#include "cas/session_text.h"
#include "core/crypto.h"
#include "core/util.h"

#define AUDIT_DEFAULT 100
#define AUDIT_MAX 10000

static void reply_json(struct cas_server *s, struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;

	s->m.http_requests++;
	if (code >= 400 && code < 500)
		s->m.http_4xx++;
	if (code >= 500)
		s->m.http_5xx++;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	if (b != NULL && txt != NULL) {
		evbuffer_add(b, txt, strlen(txt));
		evbuffer_add(b, "\n", 1);
	}
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
	free(txt);
	json_decref(body);
}

static void reply_err(struct cas_server *s, struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reply_err(struct cas_server *s, struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(s, req, code, json_pack("{s:s}", "error", msg));
}

static void reply_conflict(struct cas_server *s, struct evhttp_request *req, const char *msg,
			   const char *current)
{
	reply_json(s, req, 409, json_pack("{s:s, s:s}", "error", msg, "current_hash", current));
}

static int client_id(struct evhttp_request *req, char out[65])
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	return cas_tls_peer_id(bev ? bufferevent_openssl_get_ssl(bev) : NULL, out);
}

static void h_metrics(struct cas_server *s, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	long sessions = 0, audit = 0;
	cas_store_counts(s->store, &sessions, &audit);
	s->m.http_requests++;
	evbuffer_add_printf(b,
		"# TYPE ward_cas_http_requests_total counter\nward_cas_http_requests_total %lu\n"
		"# TYPE ward_cas_http_client_errors_total counter\nward_cas_http_client_errors_total %lu\n"
		"# TYPE ward_cas_http_server_errors_total counter\nward_cas_http_server_errors_total %lu\n"
		"# TYPE ward_cas_attestations_total counter\n"
		"ward_cas_attestations_total{result=\"allowed\"} %lu\n"
		"ward_cas_attestations_total{result=\"denied\"} %lu\n"
		"ward_cas_attestations_total{result=\"error\"} %lu\n"
		"# TYPE ward_cas_attestation_seconds_sum counter\nward_cas_attestation_seconds_sum %.6f\n"
		"# TYPE ward_cas_tag_reports_total counter\nward_cas_tag_reports_total %lu\n"
		"# TYPE ward_cas_attest_connections_total counter\nward_cas_attest_connections_total %lu\n"
		"# TYPE ward_cas_attest_connections_open gauge\nward_cas_attest_connections_open %ld\n"
		"# TYPE ward_cas_sessions gauge\nward_cas_sessions %ld\n"
		"# TYPE ward_cas_audit_records gauge\nward_cas_audit_records %ld\n",
		(unsigned long)s->m.http_requests, (unsigned long)s->m.http_4xx, (unsigned long)s->m.http_5xx,
		(unsigned long)s->m.attest_allowed, (unsigned long)s->m.attest_denied,
		(unsigned long)s->m.attest_errors, (double)s->m.attest_usec_sum / 1e6,
		(unsigned long)s->m.tag_reports, (unsigned long)s->m.attest_conns,
		(long)s->open_attest_conns, sessions, audit);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* Reads the body as a session document: JSON, or YAML through the session
 * language library. 0, or -1 after replying 400/413/415. */
static int read_doc(struct cas_server *s, struct evhttp_request *req, json_t **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	size_t n = evbuffer_get_length(in);
	char err[512] = "";
	char *txt;

	if (n == 0) {
		reply_err(s, req, 400, "empty request body: send the session document (YAML or JSON)");
		return -1;
	}
	if (n > CAS_SESSION_DOC_MAX) {
		reply_err(s, req, 413, "session document too large (%zu bytes; at most %u)", n, CAS_SESSION_DOC_MAX);
		return -1;
	}
	txt = malloc(n + 1);
	if (txt == NULL || evbuffer_remove(in, txt, n) != (int)n) {
		free(txt);
		reply_err(s, req, 500, "out of memory");
		return -1;
	}
	txt[n] = 0;
	*out = cas_session_text_parse(txt, n, ct, err, sizeof(err));
	ward_wipe(txt, n);
	free(txt);
	if (*out == NULL) {
		reply_err(s, req, 400, "%s", err);
		return -1;
	}
	if (cas_session_validate(*out, err, sizeof(err)) != 0) {
		json_decref(*out);
		reply_err(s, req, 400, "invalid session: %s", err);
		return -1;
	}
	return 0;
}

static void h_create(struct cas_server *s, struct evhttp_request *req, const char *client)
{
	struct cas_session_row row;
	struct cas_audit a = { 0 };
	char err[512], cur[CAS_HASH_HEX];
	json_t *doc, *pins;
	int r;

	if (read_doc(s, req, &doc) != 0)
		return;
	memset(&row, 0, sizeof(row));
	ward_strlcpy(row.name, json_string_value(json_object_get(doc, "name")), sizeof(row.name));
	ward_strlcpy(row.creator, client, sizeof(row.creator));
	row.created = row.updated = time(NULL);
	row.doc = doc;
	if (cas_session_hash(doc, row.hash) != 0 ||
	    (row.state = cas_session_state(doc, NULL, err, sizeof(err))) == NULL) {
		json_decref(doc);
		reply_err(s, req, 400, "invalid session: %s", err);
		return;
	}
	pins = cas_session_pinned_tags(doc, NULL);
	a.event = "create";
	a.session = row.name;
	a.client = client;
	a.allowed = 1;
	a.reason = row.hash;
	r = cas_store_session_put(s->store, &row, NULL, pins, &a, cur);
	json_decref(pins);
	if (r == 1)
		reply_conflict(s, req, "session already exists: update it with its current hash as predecessor", cur);
	else if (r != 0)
		reply_err(s, req, 500, "%s", cas_store_error(s->store));
	else
		reply_json(s, req, 201, json_pack("{s:s, s:s}", "name", row.name, "hash", row.hash));
	cas_session_row_clear(&row);
}

static void h_update(struct cas_server *s, struct evhttp_request *req, const char *name,
		     const char *client)
{
	struct cas_session_row cur, row;
	struct cas_audit a = { 0 };
	char err[512], now[CAS_HASH_HEX];
	const char *pred;
	json_t *doc, *pins;
	int r;

	r = cas_store_session_get(s->store, name, &cur);
	if (r == 1)
		return reply_err(s, req, 404, "no session '%s' (create it with POST /v1/sessions)", name);
	if (r != 0)
		return reply_err(s, req, 500, "%s", cas_store_error(s->store));
	if (!cas_session_allowed(cur.doc, "update", cur.creator, client)) {
		cas_session_row_clear(&cur);
		return reply_err(s, req, 403, "client %.16s... may not update session '%s' (access_policy.update)", client, name);
	}
	if (read_doc(s, req, &doc) != 0) {
		cas_session_row_clear(&cur);
		return;
	}
	if (strcmp(json_string_value(json_object_get(doc, "name")), name) != 0) {
		json_decref(doc);
		cas_session_row_clear(&cur);
		return reply_err(s, req, 400, "session document names '%s' but the request is for '%s'",
				 json_string_value(json_object_get(doc, "name")), name);
	}
	pred = json_string_value(json_object_get(doc, "predecessor"));
	if (pred == NULL || strcasecmp(pred, cur.hash) != 0) {
		reply_conflict(s, req, pred == NULL ? "update must name its predecessor (the current hash)"
						    : "predecessor is not the current version (someone else updated the session): fetch it and retry",
			       cur.hash);
		json_decref(doc);
		cas_session_row_clear(&cur);
		return;
	}
	memset(&row, 0, sizeof(row));
	ward_strlcpy(row.name, name, sizeof(row.name));
	ward_strlcpy(row.creator, cur.creator, sizeof(row.creator));
	row.created = cur.created;
	row.updated = time(NULL);
	row.doc = doc;
	if (cas_session_hash(doc, row.hash) != 0 ||
	    (row.state = cas_session_state(doc, cur.state, err, sizeof(err))) == NULL) {
		json_decref(doc);
		cas_session_row_clear(&cur);
		return reply_err(s, req, 400, "invalid session: %s", err);
	}
	pins = cas_session_pinned_tags(doc, cur.doc);
	a.event = "update";
	a.session = name;
	a.client = client;
	a.allowed = 1;
	a.reason = row.hash;
	r = cas_store_session_put(s->store, &row, cur.hash, pins, &a, now);
	json_decref(pins);
	if (r == 1)
		reply_conflict(s, req, "predecessor is not the current version (concurrent update): fetch it and retry", now);
	else if (r != 0)
		reply_err(s, req, 500, "%s", cas_store_error(s->store));
	else
		reply_json(s, req, 200, json_pack("{s:s, s:s}", "name", name, "hash", row.hash));
	cas_session_row_clear(&row);
	cas_session_row_clear(&cur);
}

static void h_session(struct cas_server *s, struct evhttp_request *req, const char *name,
		      const char *sub, const char *client, struct evkeyvalq *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct cas_session_row cur;
	int r;

	if (!ward_cas_name_ok(name))
		return reply_err(s, req, 400, "invalid session name");
	if (cmd == EVHTTP_REQ_PUT && sub == NULL)
		return h_update(s, req, name, client);
	r = cas_store_session_get(s->store, name, &cur);
	if (r == 1)
		return reply_err(s, req, 404, "no session '%s'", name);
	if (r != 0)
		return reply_err(s, req, 500, "%s", cas_store_error(s->store));
	if (sub == NULL && cmd == EVHTTP_REQ_GET) {
		if (!cas_session_allowed(cur.doc, "read", cur.creator, client))
			reply_err(s, req, 403, "client %.16s... may not read session '%s' (access_policy.read)", client, name);
		else
			reply_json(s, req, 200, json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "name", name,
							  "hash", cur.hash, "creator", cur.creator,
							  "created", (json_int_t)cur.created,
							  "updated", (json_int_t)cur.updated,
							  "session", cas_session_redacted(cur.doc)));
	} else if (sub == NULL && cmd == EVHTTP_REQ_DELETE) {
		struct cas_audit a = { .event = "delete", .session = name, .client = client, .allowed = 1,
				       .reason = cur.hash };
		if (!cas_session_allowed(cur.doc, "update", cur.creator, client))
			reply_err(s, req, 403, "client %.16s... may not delete session '%s' (access_policy.update)", client, name);
		else if (cas_store_session_delete(s->store, name, &a) != 0)
			reply_err(s, req, 500, "%s", cas_store_error(s->store));
		else
			reply_json(s, req, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
	} else if (sub != NULL && strcmp(sub, "audit") == 0 && cmd == EVHTTP_REQ_GET) {
		const char *lim = evhttp_find_header(query, "limit");
		uint64_t limit = AUDIT_DEFAULT;
		json_t *entries;
		if (lim != NULL && (ward_parse_u64(lim, &limit) != 0 || limit == 0 || limit > AUDIT_MAX))
			reply_err(s, req, 400, "limit must be an integer from 1 to %d", AUDIT_MAX);
		else if (!cas_session_allowed(cur.doc, "read", cur.creator, client))
			reply_err(s, req, 403, "client %.16s... may not read the audit log of session '%s' (access_policy.read)", client, name);
		else if (cas_store_audit_list(s->store, name, (int)limit, &entries) != 0)
			reply_err(s, req, 500, "%s", cas_store_error(s->store));
		else
			reply_json(s, req, 200, json_pack("{s:o}", "entries", entries));
	} else {
		reply_err(s, req, 405, "method not allowed on this path");
	}
	cas_session_row_clear(&cur);
}

static void h_list(struct cas_server *s, struct evhttp_request *req, const char *client)
{
	json_t *all, *out = json_array(), *e;
	size_t i;
	if (cas_store_session_list(s->store, &all) != 0) {
		json_decref(out);
		return reply_err(s, req, 500, "%s", cas_store_error(s->store));
	}
	json_array_foreach(all, i, e) {
		struct cas_session_row row;
		if (cas_store_session_get(s->store, json_string_value(json_object_get(e, "name")), &row) != 0)
			continue;
		if (cas_session_allowed(row.doc, "read", row.creator, client))
			json_array_append(out, e);
		cas_session_row_clear(&row);
	}
	json_decref(all);
	reply_json(s, req, 200, json_pack("{s:o}", "sessions", out));
}

static void route(struct evhttp_request *req, void *arg)
{
	struct cas_server *s = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq query = { 0 };
	char client[65], name[WARD_CAS_NAME_MAX + 2];
	const char *rest, *q = u ? evhttp_uri_get_query(u) : NULL;

	TAILQ_INIT(&query);
	if (path == NULL)
		return reply_err(s, req, 400, "bad request URI");
	if (q != NULL && evhttp_parse_query_str(q, &query) != 0)
		return reply_err(s, req, 400, "bad query string");
	if (strcmp(path, "/healthz") == 0 && cmd == EVHTTP_REQ_GET)
		reply_json(s, req, 200, json_pack("{s:s}", "status", "ok"));
	else if (strcmp(path, "/metrics") == 0 && cmd == EVHTTP_REQ_GET)
		h_metrics(s, req);
	else if (strcmp(path, "/v1/identity") == 0 && cmd == EVHTTP_REQ_GET)
		reply_json(s, req, 200, json_pack("{s:s, s:s}", "fingerprint", s->fingerprint, "version", WARD_VERSION_STRING));
	else if (strncmp(path, "/v1/sessions", 12) == 0 && (path[12] == 0 || path[12] == '/')) {
		if (client_id(req, client) != 0) {
			reply_err(s, req, 401, "no TLS client certificate: clients authenticate with their key pair (ward session creates one on first use)");
			goto out;
		}
		rest = path[12] ? path + 13 : "";
		if (rest[0] == 0) {
			if (cmd == EVHTTP_REQ_POST)
				h_create(s, req, client);
			else if (cmd == EVHTTP_REQ_GET)
				h_list(s, req, client);
			else
				reply_err(s, req, 405, "method not allowed on /v1/sessions");
		} else {
			const char *slash = strchr(rest, '/');
			size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
			if (n > WARD_CAS_NAME_MAX) {
				reply_err(s, req, 400, "invalid session name");
				goto out;
			}
			memcpy(name, rest, n);
			name[n] = 0;
			h_session(s, req, name, slash ? slash + 1 : NULL, client, &query);
		}
	} else {
		reply_err(s, req, 404, "no such endpoint (see docs/cas-api.md)");
	}
out:
	evhttp_clear_headers(&query);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct cas_server *s = arg;
	SSL *ssl = SSL_new(s->ssl);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

int cas_api_init(struct cas_server *s)
{
	evhttp_set_bevcb(s->http, make_bev, s);
	evhttp_set_gencb(s->http, route, s);
	evhttp_set_max_body_size(s->http, CAS_SESSION_DOC_MAX);
	evhttp_set_max_headers_size(s->http, 16384);
	evhttp_set_timeout(s->http, 10);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	return 0;
}
