/*
 * cas.h: the ward-cas server's shared state and the entry points of its
 * parts (REST API in api.c, attestation port in attest_srv.c, TLS identity
 * in tlsid.c). Everything runs on one libevent loop (one thread), so these
 * structures need no locks; the store has its own mutex.
 */
#ifndef WARD_CAS_CAS_H
#define WARD_CAS_CAS_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "cas/store.h"

struct cas_metrics {
	unsigned long http_requests, http_4xx, http_5xx;
	unsigned long attest_allowed, attest_denied, attest_errors, tag_reports;
	unsigned long attest_conns;
	double attest_seconds_sum; /* wall time from hello to decision */
};

struct cas_server {
	struct event_base *base;
	struct cas_store *store;
	SSL_CTX *ssl;
	char fingerprint[72];          /* "sha256:" + 64 hex */
	uint8_t sim_platform[32];
	int have_sim_platform;
	struct evhttp *http;
	struct evconnlistener *attest;
	struct cas_metrics m;
	long open_attest_conns;
};

/* tlsid.c: loads the CAS's TLS key and certificate from the store, creating
 * them on first start; builds the TLS 1.3 server context that requests (and
 * accepts any) client certificate. */
int cas_tls_init(struct cas_server *s, char *err, size_t errlen);

/* Lower-case hex SHA-256 of the peer's certificate public key (DER SPKI);
 * returns -1 when the peer sent no certificate. */
int cas_tls_peer_id(SSL *ssl, char out[65]);

/* api.c: installs the REST handlers on s->http. */
int cas_api_init(struct cas_server *s);

/* attest_srv.c: the accept callback for the attestation listener. */
void cas_attest_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		       int salen, void *arg);

#endif
