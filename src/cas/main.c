/*
 * main.c: ward-cas, the configuration and attestation service.
 *
 *   ward-cas --data-dir DIR [--postgres CONNINFO] [--listen 127.0.0.1:8081] [--attest-listen 127.0.0.1:8082]
 *            [--sim-platform-dir DIR | --no-sim]
 *            [--collateral DIR|FILE.json ...] [--snp-vcek CERT|DIR ...] [--snp-chain PEM ...]
 *
 * The main thread's libevent loop serves the REST API; N attestation
 * workers (--attest-threads, default: one per CPU) each run their own loop
 * on their own SO_REUSEPORT socket of the attestation port. SIGTERM/SIGINT
 * make every loop exit between callbacks (so no acknowledged write is lost),
 * the workers are joined, and the store is checkpointed and closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/ssl.h>

#include "cas/cas.h"
#include "attest/ratls/sim_evidence.h"
#include "core/log.h"
#include "core/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ward-cas --data-dir DIR [--postgres CONNINFO] [--listen ADDR:PORT] [--attest-listen ADDR:PORT]\n"
		"                [--sim-platform-dir DIR | --no-sim] [--attest-threads N] [--log LEVEL]\n"
		"                [--collateral DIR|FILE.json]... [--snp-vcek CERT|DIR]... [--snp-chain PEM]...\n"
		"\n"
		"The Ward configuration and attestation service.\n"
		"  --data-dir DIR         store (cas.db) and master key (master.key, back it up)\n"
		"  --postgres CONNINFO    keep the store in PostgreSQL instead of cas.db (libpq\n"
		"                         string or postgresql:// URI; default $WARD_CAS_POSTGRES);\n"
		"                         several instances may share it (same master.key in each)\n"
		"  --listen A:P           REST API for clients (default 127.0.0.1:8081; port 0 = any)\n"
		"  --attest-listen A:P    attestation port for enclaves (default 127.0.0.1:8082)\n"
		"  --sim-platform-dir DIR simulation platform key to accept (default: this machine's)\n"
		"  --no-sim               accept no simulation evidence at all\n"
		"  --attest-threads N     attestation worker threads (default: one per CPU)\n"
		"  --collateral PATH      Intel SGX/TDX collateral for hardware quotes: a PCS directory\n"
		"                         or a dcap-qvl JSON file, as `ward evidence verify` takes;\n"
		"                         repeat for each platform (FMSPC) and TEE\n"
		"  --snp-vcek PATH        SEV-SNP VCEK or VLEK certificate (DER/PEM), or a directory\n"
		"                         of them; repeatable\n"
		"  --snp-chain PEM        AMD ASK/ASVK + ARK chain of a product line (Milan, Genoa,\n"
		"                         Turin; as the AMD KDS serves it); repeatable\n"
		"  --log LEVEL            error, warn, info or debug (default: info)\n"
		"API: docs/cas-api.md\n");
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host) || ward_parse_u64(colon + 1, &port) != 0 ||
	    port > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct cas_server *s = arg;
	(void)what;
	ward_info("ward-cas: signal %d, shutting down", (int)sig);
	for (int i = 0; i < s->nworkers; i++)
		event_base_loopexit(s->workers[i].base, NULL);
	event_base_loopexit(s->base, NULL);
}

/* A listening socket with SO_REUSEPORT (one per worker, same port). */
static int listen_reuseport(const struct sockaddr_in *a)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)a, sizeof(*a)) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void *worker_main(void *arg)
{
	struct cas_attest_worker *w = arg;
	event_base_dispatch(w->base);
	cas_attest_worker_close_all(w); /* connections still open at shutdown */
	return NULL;
}

/* Creates the workers' loops and sockets (threads start later). On port 0
 * the first socket's port is shared by the others. */
static int workers_init(struct cas_server *s, struct sockaddr_in a, int n)
{
	for (int i = 0; i < n; i++) {
		struct cas_attest_worker *w = &s->workers[i];
		int fd = listen_reuseport(&a);
		if (fd < 0)
			return -1;
		if (i == 0 && a.sin_port == 0) {
			struct sockaddr_in b;
			socklen_t l = sizeof(b);
			if (getsockname(fd, (struct sockaddr *)&b, &l) != 0) {
				close(fd);
				return -1;
			}
			a.sin_port = b.sin_port;
		}
		w->s = s;
		/* the changelist folds the add/del pairs bufferevent_openssl makes
		 * within one loop pass into one epoll_ctl (or none) */
		struct event_config *cfg = event_config_new();
		if (cfg != NULL)
			event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		w->base = cfg ? event_base_new_with_config(cfg) : NULL;
		if (cfg != NULL)
			event_config_free(cfg);
		w->wake = w->base ? event_new(w->base, -1, 0, cas_attest_wake, w) : NULL;
		w->listener = w->wake ? evconnlistener_new(w->base, cas_attest_accept, w, LEV_OPT_CLOSE_ON_FREE, -1, fd) : NULL;
		if (w->listener == NULL) {
			close(fd);
			return -1;
		}
		s->nworkers = i + 1;
	}
	return 0;
}

/* The store's sync thread: a batch of decisions became durable. */
static void wake_workers(void *arg)
{
	struct cas_server *s = arg;
	for (int i = 0; i < s->nworkers; i++)
		event_active(s->workers[i].wake, 0, 0);
}

static int port_of(evutil_socket_t fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &l) != 0)
		return -1;
	return ntohs(a.sin_port);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "postgres", required_argument, NULL, 'P' },
		{ "listen", required_argument, NULL, 'l' },
		{ "attest-listen", required_argument, NULL, 'a' },
		{ "sim-platform-dir", required_argument, NULL, 's' },
		{ "no-sim", no_argument, NULL, 'n' },
		{ "attest-threads", required_argument, NULL, 't' },
		{ "log", required_argument, NULL, 'L' },
		{ "collateral", required_argument, NULL, 'C' },
		{ "snp-vcek", required_argument, NULL, 'V' },
		{ "snp-chain", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *pg = getenv("WARD_CAS_POSTGRES"), *listen = "127.0.0.1:8081", *alisten = "127.0.0.1:8082", *simdir = NULL;
	struct cas_server s;
	struct sockaddr_in la, aa;
	struct evhttp_bound_socket *hb;
	struct event *sigterm = NULL, *sigint = NULL;
	char err[1024];
	int c, nosim = 0, ret = 1;
	long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t v;
	const char *cols[64], *certs[64], *chains[64];
	struct cas_hw_paths hwp = { .collateral = cols, .snp_cert = certs, .snp_chain = chains };

	memset(&s, 0, sizeof(s));
	ward_log_set_level(WARD_LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'P': pg = optarg; break;
		case 'l': listen = optarg; break;
		case 'a': alisten = optarg; break;
		case 's': simdir = optarg; break;
		case 'n': nosim = 1; break;
		case 't':
			if (ward_parse_u64(optarg, &v) != 0 || v < 1 || v > CAS_ATTEST_WORKERS_MAX) {
				ward_error("--attest-threads must be a number from 1 to %d", CAS_ATTEST_WORKERS_MAX);
				return 2;
			}
			nthreads = (long)v;
			break;
		case 'L':
			if (ward_log_parse_level(optarg) < 0) {
				ward_error("unknown log level '%s' (use error, warn, info or debug)", optarg);
				return 2;
			}
			ward_log_set_level((enum ward_log_level)ward_log_parse_level(optarg));
			break;
		case 'C':
		case 'V':
		case 'K': {
			size_t *n = c == 'C' ? &hwp.ncollateral : c == 'V' ? &hwp.nsnp_cert : &hwp.nsnp_chain;
			const char **l = c == 'C' ? cols : c == 'V' ? certs : chains;
			if (*n >= 64) {
				ward_error("at most 64 --%s options (put the files into a directory)",
					   c == 'C' ? "collateral" : c == 'V' ? "snp-vcek" : "snp-chain");
				return 2;
			}
			l[(*n)++] = optarg;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (dir == NULL || optind != argc) {
		ward_error("%s (see ward-cas --help)", dir == NULL ? "--data-dir DIR is required" : "unexpected argument");
		return 2;
	}
	if (parse_addr(listen, &la) != 0 || parse_addr(alisten, &aa) != 0) {
		ward_error("cannot parse listen address '%s': use IPv4:PORT, e.g. 127.0.0.1:8081",
			   parse_addr(listen, &la) != 0 ? listen : alisten);
		return 2;
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > CAS_ATTEST_WORKERS_MAX)
		nthreads = CAS_ATTEST_WORKERS_MAX;
	signal(SIGPIPE, SIG_IGN);
	umask(077); /* the store, its WAL and the master key are private */
	if (evthread_use_pthreads() != 0) {
		ward_error("cannot enable libevent threads");
		return 1;
	}
	if (pg != NULL && pg[0] == 0)
		pg = NULL; /* WARD_CAS_POSTGRES= : SQLite */
	if ((pg ? cas_store_open_pg(dir, pg, &s.store, err, sizeof(err))
		: cas_store_open(dir, &s.store, err, sizeof(err))) != 0) {
		ward_error("%s", err);
		return 1;
	}
	if (!nosim) {
		struct ward_sim_platform *p = NULL;
		if (ward_sim_platform_load(simdir, &p, err, sizeof(err)) != 0) {
			ward_error("%s (or start with --no-sim)", err);
			goto out;
		}
		ward_sim_platform_fingerprint(p, s.sim_platform);
		ward_sim_platform_free(p);
		s.have_sim_platform = 1;
	}
	if (hwp.ncollateral + hwp.nsnp_cert + hwp.nsnp_chain > 0) {
		/* loaded once; shared read-only by every attestation worker */
		if (cas_hw_load(&hwp, &s.hw, err, sizeof(err)) != 0) {
			ward_error("%s", err);
			goto out;
		}
	}
	s.verifier.sim_platform = s.have_sim_platform ? s.sim_platform : NULL;
	s.verifier.hw = s.hw;
	if (cas_tls_init(&s, err, sizeof(err)) != 0) {
		ward_error("%s", err);
		goto out;
	}
	s.base = event_base_new();
	s.http = s.base ? evhttp_new(s.base) : NULL;
	if (s.http == NULL) {
		ward_error("cannot create the event loop");
		goto out;
	}
	cas_api_init(&s);
	hb = evhttp_bind_socket_with_handle(s.http, inet_ntoa(la.sin_addr), ntohs(la.sin_port));
	if (hb == NULL) {
		ward_error("cannot listen on %s: %s (is another ward-cas running? choose another port with --listen)",
			   listen, strerror(errno));
		goto out;
	}
	if (workers_init(&s, aa, (int)nthreads) != 0) {
		ward_error("cannot listen on %s: %s (choose another port with --attest-listen)",
			   alisten, strerror(errno));
		goto out;
	}
	{
		/* accepted sockets inherit TCP_NODELAY: small request/response
		 * exchanges must not wait for delayed ACKs */
		int one = 1;
		setsockopt(evhttp_bound_socket_get_fd(hb), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
	sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
	if (sigterm == NULL || sigint == NULL || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0)
		goto out;
	printf("ward-cas: clients https://%s:%d\n", inet_ntoa(la.sin_addr), port_of(evhttp_bound_socket_get_fd(hb)));
	printf("ward-cas: enclaves %s:%d\n", inet_ntoa(aa.sin_addr), port_of(evconnlistener_get_fd(s.workers[0].listener)));
	printf("ward-cas: fingerprint %s\n", s.fingerprint);
	if (s.hw != NULL) {
		char d[160];
		cas_hw_describe(s.hw, d, sizeof(d));
		printf("ward-cas: hardware evidence: %s\n", d);
	}
	printf("ward-cas: ready (data %s%s)\n", dir, pg ? ", store in PostgreSQL" : "");
	fflush(stdout);
	cas_store_on_durable(s.store, wake_workers, &s);
	for (int i = 0; i < s.nworkers; i++) {
		if (pthread_create(&s.workers[i].thread, NULL, worker_main, &s.workers[i]) != 0) {
			ward_error("cannot start attestation worker threads");
			goto out;
		}
		s.workers[i].started = 1;
	}
	if (event_base_dispatch(s.base) != 0)
		goto out;
	ward_info("ward-cas stopped");
	ret = 0;
out:
	if (s.store != NULL)
		cas_store_on_durable(s.store, NULL, NULL); /* before the loops go */
	for (int i = 0; i < s.nworkers; i++) {
		struct cas_attest_worker *w = &s.workers[i];
		if (w->started) {
			event_base_loopexit(w->base, NULL);
			pthread_join(w->thread, NULL);
		}
		if (w->listener)
			evconnlistener_free(w->listener);
		if (w->wake)
			event_free(w->wake);
		if (w->base)
			event_base_free(w->base);
	}
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (s.http)
		evhttp_free(s.http);
	if (s.base)
		event_base_free(s.base);
	SSL_CTX_free(s.ssl);
	cas_store_close(s.store);
	cas_hw_free(s.hw);
	return ret;
}
