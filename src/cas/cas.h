/*
 * cas.h: the ward-cas server's shared state and the entry points of its
 * parts (REST API in api.c, attestation port in attest_srv.c, TLS identity
 * in tlsid.c). The REST API runs on the main thread's libevent loop; the
 * attestation port on N worker threads, each with its own loop and
 * listening socket (SO_REUSEPORT). Shared state is read-only after start
 * (TLS context, platform pin, hardware material), atomic (metrics) or locked (the store).
 */
#ifndef WARD_CAS_CAS_H
#define WARD_CAS_CAS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "cas/evidence_check.h"
#include "cas/hw_verify.h"
#include "cas/store.h"

/* Counters are atomic: attestation workers update them from their threads. */
struct cas_metrics {
	atomic_ulong http_requests, http_4xx, http_5xx;
	atomic_ulong attest_allowed, attest_denied, attest_errors, tag_reports;
	atomic_ulong attest_conns;
	atomic_ulong attest_usec_sum; /* wall time from hello to decision */
};

#define CAS_ATTEST_WORKERS_MAX 64

/* One attestation worker: a thread with its own event loop and its own
 * SO_REUSEPORT listening socket on the attestation port. */
struct cas_attest_worker {
	struct cas_server *s;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *wake; /* made active when a store batch became durable */
	pthread_t thread;
	long open_conns; /* this worker's connections (its thread only) */
	struct aconn *conns; /* list of them, freed at shutdown */
	int started;
};

struct cas_server {
	struct event_base *base;
	struct cas_store *store;
	SSL_CTX *ssl;
	char fingerprint[72];          /* "sha256:" + 64 hex */
	uint8_t sim_platform[32];
	int have_sim_platform;
	struct cas_hw *hw;             /* hardware material (--collateral, --snp-*), or NULL */
	struct cas_verifier verifier;  /* what attestation workers verify against */
	struct evhttp *http;
	struct cas_metrics m;
	atomic_long open_attest_conns;
	struct cas_attest_worker workers[CAS_ATTEST_WORKERS_MAX];
	int nworkers;
};

/* tlsid.c: loads the CAS's TLS key and certificate from the store, creating
 * them on first start; builds the TLS 1.3 server context that requests (and
 * accepts any) client certificate: the REST API identifies clients by it;
 * the attestation port turns the request off per connection (enclaves are
 * identified by their evidence, docs/cas-api.md). */
int cas_tls_init(struct cas_server *s, char *err, size_t errlen);

/* Lower-case hex SHA-256 of the peer's certificate public key (DER SPKI);
 * returns -1 when the peer sent no certificate. */
int cas_tls_peer_id(SSL *ssl, char out[65]);

/* api.c: installs the REST handlers on s->http. */
int cas_api_init(struct cas_server *s);

struct aconn;

/* attest_srv.c: frees the worker's remaining connections (its thread, after
 * its loop has stopped). */
void cas_attest_worker_close_all(struct cas_attest_worker *w);
/* The worker's wake event: sends the answers whose audit records became
 * durable (arg: the worker). */
void cas_attest_wake(evutil_socket_t fd, short what, void *arg);

/* attest_srv.c: the accept callback for a worker's listener (arg: the
 * struct cas_attest_worker). */
void cas_attest_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		       int salen, void *arg);

#endif
