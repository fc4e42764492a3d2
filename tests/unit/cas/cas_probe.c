/*
 * cas_probe.c: a stand-in enclave for tests and benchmarks of ward-cas. It
 * speaks the attestation protocol through the real client library
 * (src/cas/attest_client.c) with simulation evidence from this machine's
 * platform key, and can misbehave on purpose (tampered, replayed or
 * misbound evidence).
 *
 *   cas-probe attest ADDR FPR CONFIG_ID MEASUREMENT [VOL=TAG ...]
 *       [--key FILE] [--tamper] [--wrong-key] [--save-evidence F] [--use-evidence F]
 *   cas-probe tag ADDR FPR --key FILE PHASE VOLUME TAG
 *   cas-probe relay ADDR FPR CONFIG_ID MEASUREMENT [--honest]
 *       two connections A and B; evidence bound to A's TLS channel (B's
 *       challenge) is presented on B, as a relay would; --honest binds B's
 *   cas-probe bench ADDR FPR CONFIG_ID MEASUREMENT CLIENTS SECONDS MAXCOUNT [--baseline HTTPADDR]
 *       own channel instead (the control: the same code path is accepted)
 *   cas-probe tag-relay ADDR FPR --key FILE PHASE VOLUME TAG [--honest]
 *       the same for a tag report: signed over A's challenge and exporter,
 *       sent on B (--honest: over B's)
 * Exit: 0 ok, 1 denied/refused (reason on stderr), 2 usage or other error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "cas/attest_client.h"
#include "cas/proto.h"
#include "attest/ratls/sim_evidence.h"
#include "core/util.h"

#if defined(__SANITIZE_ADDRESS__)
/* A one-shot test tool: it exits right after its one exchange and leaves the
 * freeing to the kernel; LeakSanitizer has nothing useful to say about it. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return 1; }
#endif

struct evctx {
	struct ward_sim_platform *plat;
	uint8_t meas[32];
	int tamper, wrong_key;
	const char *save, *use;
};

static int make_evidence(void *arg, const uint8_t rd[64], uint8_t *out, size_t max, size_t *len,
			 char *err, size_t errlen)
{
	struct evctx *e = arg;
	uint8_t r[64];
	memcpy(r, rd, 64);
	if (e->use != NULL) {
		uint8_t *b;
		size_t n;
		if (ward_read_file(e->use, max, &b, &n) != 0) {
			snprintf(err, errlen, "cannot read %s", e->use);
			return -1;
		}
		memcpy(out, b, n);
		*len = n;
		free(b);
		return 0;
	}
	if (e->wrong_key)
		r[0] ^= 1;
	if (max < WARD_SIM_EVIDENCE_LEN ||
	    ward_sim_evidence_create(e->plat, e->meas, r, 0, out, err, errlen) != 0)
		return -1;
	*len = WARD_SIM_EVIDENCE_LEN;
	if (e->tamper)
		out[30] ^= 0x40; /* inside the measurement, after signing */
	if (e->save != NULL && ward_write_file_atomic(e->save, out, *len, 0600) != 0) {
		snprintf(err, errlen, "cannot write %s", e->save);
		return -1;
	}
	return 0;
}

static int load_or_make_key(const char *file, EVP_PKEY **k)
{
	char err[256];
	FILE *f = file ? fopen(file, "r") : NULL;
	if (f != NULL) {
		*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		return *k ? 0 : -1;
	}
	if (ward_cas_identity_new(k, err, sizeof(err)) != 0)
		return -1;
	if (file != NULL && (f = fopen(file, "w")) != NULL) {
		PEM_write_PrivateKey(f, *k, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --- relay: the protocol by hand, to present evidence on another channel --- */
struct raw {
	int fd;
	SSL *ssl;
	uint8_t challenge[32], exporter[32];
};

static int raw_frame(SSL *ssl, json_t **msg)
{
	uint8_t hdr[4];
	uint32_t len;
	char body[65536];
	json_error_t je;
	if (SSL_read(ssl, hdr, 4) != 4 || ward_cas_frame_parse(hdr, sizeof(body), &len) != 0)
		return -1;
	for (uint32_t got = 0; got < len;) {
		int n = SSL_read(ssl, body + got, (int)(len - got));
		if (n <= 0)
			return -1;
		got += (uint32_t)n;
	}
	*msg = json_loadb(body, len, 0, &je);
	return *msg ? 0 : -1;
}

static int raw_open(const char *addr, SSL_CTX *ctx, struct raw *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(addr, ':'), *ch;
	json_t *hello = NULL;
	int ok;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	ok = c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	     (c->ssl = SSL_new(ctx)) != NULL && SSL_set_fd(c->ssl, c->fd) == 1 && SSL_connect(c->ssl) == 1 &&
	     ward_cas_exporter(c->ssl, c->exporter) == 0 && raw_frame(c->ssl, &hello) == 0 &&
	     (ch = json_string_value(json_object_get(hello, "challenge"))) != NULL && strlen(ch) == 64 &&
	     ward_unhex(ch, c->challenge, 32) == 0;
	json_decref(hello);
	return ok ? 0 : -1;
}

static int relay(struct ward_cas_peer *peer, const char *cid, struct evctx *ev, int honest)
{
	SSL_CTX *ctx = ward_cas_client_ctx_new();
	struct raw a = { .fd = -1 }, b = { .fd = -1 };
	EVP_PKEY *k = NULL;
	uint8_t rd[64], evb[WARD_SIM_EVIDENCE_LEN], hdr[4];
	char err[512], keyhex[65], ev64[400], *txt = NULL;
	json_t *req = NULL, *ans = NULL;
	int r = 2;

	if (ctx == NULL || raw_open(peer->addr, ctx, &a) != 0 || raw_open(peer->addr, ctx, &b) != 0 ||
	    ward_cas_identity_new(&k, err, sizeof(err)) != 0 || ward_cas_key_hash(k, rd) != 0 ||
	    ward_cas_binding(b.challenge, honest ? b.exporter : a.exporter, cid, 0, NULL, NULL, rd + 32) != 0 ||
	    ward_sim_evidence_create(ev->plat, ev->meas, rd, 0, evb, err, sizeof(err)) != 0) {
		fprintf(stderr, "cas-probe: relay set-up failed\n");
		goto out;
	}
	ward_hex(rd, 32, keyhex);
	EVP_EncodeBlock((unsigned char *)ev64, evb, sizeof(evb));
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "attest", "config_id", cid, "key", keyhex, "evidence", ev64);
	txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (txt == NULL)
		goto out;
	ward_cas_frame_header((uint32_t)strlen(txt), hdr);
	if (SSL_write(b.ssl, hdr, 4) != 4 || SSL_write(b.ssl, txt, (int)strlen(txt)) != (int)strlen(txt) ||
	    raw_frame(b.ssl, &ans) != 0) {
		fprintf(stderr, "cas-probe: relay exchange failed\n");
		goto out;
	}
	if (json_string_value(json_object_get(ans, "type")) != NULL &&
	    strcmp(json_string_value(json_object_get(ans, "type")), "config") == 0) {
		printf("allowed\n");
		r = 0;
	} else {
		const char *why = json_string_value(json_object_get(ans, "reason"));
		fprintf(stderr, "%s\n", why ? why : "?");
		r = 1;
	}
out:
	free(txt);
	json_decref(req);
	json_decref(ans);
	EVP_PKEY_free(k);
	SSL_free(a.ssl);
	SSL_free(b.ssl);
	if (a.fd >= 0)
		close(a.fd);
	if (b.fd >= 0)
		close(b.fd);
	SSL_CTX_free(ctx);
	return r;
}

static int send_json(SSL *ssl, json_t *req)
{
	uint8_t hdr[4];
	char *txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int ok = txt != NULL;
	if (ok) {
		ward_cas_frame_header((uint32_t)strlen(txt), hdr);
		ok = SSL_write(ssl, hdr, 4) == 4 && SSL_write(ssl, txt, (int)strlen(txt)) == (int)strlen(txt);
	}
	free(txt);
	return ok ? 0 : -1;
}

static int tag_relay(struct ward_cas_peer *peer, EVP_PKEY *k, const char *phase, const char *vol,
		     const char *tag, int honest)
{
	SSL_CTX *ctx = ward_cas_client_ctx_new();
	struct raw a = { .fd = -1 }, b = { .fd = -1 };
	uint8_t msg[WARD_CAS_TAG_MSG_MAX], spki[WARD_CAS_SPKI_MAX], sig[WARD_CAS_TAG_SIG_MAX];
	char spki64[2000], sig64[400];
	size_t msglen, spkilen, siglen = sizeof(sig);
	struct raw *signer;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	json_t *req = NULL, *ans = NULL;
	int r = 2;

	if (ctx == NULL || md == NULL || raw_open(peer->addr, ctx, &a) != 0 || raw_open(peer->addr, ctx, &b) != 0)
		goto out;
	/* b's challenge with the exporter of the channel the signature was made
	 * for (a's, unless honest): only the channel binding tells them apart */
	signer = honest ? &b : &a;
	if (ward_cas_tag_message(b.challenge, signer->exporter, phase, vol, tag, msg, &msglen) != 0 ||
	    ward_cas_key_spki(k, spki, sizeof(spki), &spkilen) != 0 ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 || EVP_DigestSign(md, sig, &siglen, msg, msglen) != 1)
		goto out;
	EVP_EncodeBlock((unsigned char *)spki64, spki, (int)spkilen);
	EVP_EncodeBlock((unsigned char *)sig64, sig, (int)siglen);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "tag", "phase", phase, "volume", vol, "tag", tag,
			"key", spki64, "signature", sig64);
	if (send_json(b.ssl, req) != 0 || raw_frame(b.ssl, &ans) != 0)
		goto out;
	if (json_string_value(json_object_get(ans, "type")) != NULL &&
	    strcmp(json_string_value(json_object_get(ans, "type")), "ok") == 0) {
		printf("ok\n");
		r = 0;
	} else {
		const char *why = json_string_value(json_object_get(ans, "reason"));
		fprintf(stderr, "%s\n", why ? why : "?");
		r = 1;
	}
out:
	if (r == 2)
		fprintf(stderr, "cas-probe: tag-relay failed\n");
	json_decref(req);
	json_decref(ans);
	EVP_MD_CTX_free(md);
	SSL_free(a.ssl);
	SSL_free(b.ssl);
	if (a.fd >= 0)
		close(a.fd);
	if (b.fd >= 0)
		close(b.fd);
	SSL_CTX_free(ctx);
	return r;
}

/* --- bench --- */
struct bench {
	struct ward_cas_peer peer;
	struct evctx ev;
	const char *config_id, *baseline;
	double deadline;
	long maxcount;
	long done, failed;
	double *lat;
	pthread_mutex_t mu;
	EVP_PKEY *keys[256];
};
#define POOL 256

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Baseline: a TLS 1.3 handshake (the client's context, no client
 * certificate, as on the attestation port) and GET /healthz. */
static int baseline_once(struct bench *b)
{
	char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf[512];
	SSL_CTX *ctx = b->peer.ctx;
	SSL *ssl = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(b->baseline, ':');
	int fd, one = 1, ok = 0;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - b->baseline), b->baseline);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* same as the attest client */
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && (ssl = SSL_new(ctx)) != NULL &&
	    SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 && SSL_write(ssl, req, (int)strlen(req)) > 0) {
		int n, tot = 0;
		while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
			tot += n;
		ok = tot > 0;
	}
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void *bench_thread(void *arg)
{
	struct bench *b = arg;
	char err[512];
	for (;;) {
		EVP_PKEY *k;
		char *cfg = NULL;
		double t0 = now();
		long slot;
		int r;

		pthread_mutex_lock(&b->mu);
		slot = b->done + b->failed;
		if (slot >= b->maxcount || t0 > b->deadline) {
			pthread_mutex_unlock(&b->mu);
			return NULL;
		}
		b->done++; /* reserve */
		pthread_mutex_unlock(&b->mu);
		/* enclave keys come from a pool made before the clock started: a
		 * real enclave makes its key once at start, outside the CAS's cost */
		k = b->keys[slot % POOL];
		struct ward_cas_peer p = b->peer; /* p.ctx: one client context shared by all threads */
		p.key = k;
		if (b->baseline)
			r = baseline_once(b);
		else
			r = ward_cas_attest(&p, b->config_id, 0, NULL, NULL, make_evidence, &b->ev, &cfg, err, sizeof(err));
		double dt = now() - t0;
		free(cfg);
		pthread_mutex_lock(&b->mu);
		if (r != 0) {
			b->done--;
			b->failed++;
			if (b->failed == 1)
				fprintf(stderr, "cas-probe: %s\n", err);
		} else {
			b->lat[b->done - 1] = dt;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct evctx ev = { 0 };
	struct ward_cas_peer peer = { 0 };
	const char *keyfile = NULL, *baseline = NULL;
	char *pos[32], err[2048];
	int npos = 0;
	uint8_t fpr[32];
	EVP_PKEY *k = NULL;
	int honest = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			keyfile = argv[++i];
		else if (strcmp(argv[i], "--tamper") == 0)
			ev.tamper = 1;
		else if (strcmp(argv[i], "--wrong-key") == 0)
			ev.wrong_key = 1;
		else if (strcmp(argv[i], "--save-evidence") == 0 && i + 1 < argc)
			ev.save = argv[++i];
		else if (strcmp(argv[i], "--use-evidence") == 0 && i + 1 < argc)
			ev.use = argv[++i];
		else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc)
			baseline = argv[++i];
		else if (strcmp(argv[i], "--honest") == 0)
			honest = 1;
		else if (npos < 32)
			pos[npos++] = argv[i];
	}
	if (npos < 3 || ward_cas_parse_fingerprint(pos[2], fpr) != 0) {
		fprintf(stderr, "usage: see the top of cas_probe.c\n");
		return 2;
	}
	peer.addr = pos[1];
	peer.fingerprint = fpr;
	if (strcmp(pos[0], "tag-relay") == 0) {
		if (npos != 6 || keyfile == NULL || load_or_make_key(keyfile, &k) != 0)
			return 2;
		int r = tag_relay(&peer, k, pos[3], pos[4], pos[5], honest);
		EVP_PKEY_free(k);
		return r;
	}
	if (strcmp(pos[0], "tag") == 0) {
		if (npos != 6 || keyfile == NULL || load_or_make_key(keyfile, &k) != 0)
			return 2;
		peer.key = k;
		int r = ward_cas_report_tag(&peer, pos[3], pos[4], pos[5], err, sizeof(err));
		if (r != 0)
			fprintf(stderr, "%s\n", err);
		EVP_PKEY_free(k);
		return r != 0;
	}
	if (npos < 5 || ward_unhex(pos[4], ev.meas, 32) != 0 ||
	    ward_sim_platform_load(NULL, &ev.plat, err, sizeof(err)) != 0) {
		fprintf(stderr, "cas-probe: bad arguments or no platform key: %s\n", err);
		return 2;
	}
	if (strcmp(pos[0], "attest") == 0) {
		char *names[64], *tags[64], *cfg = NULL;
		int nv = 0, r;
		for (int i = 5; i < npos && nv < 64; i++) {
			char *eq = strchr(pos[i], '=');
			if (eq == NULL)
				return 2;
			*eq = 0;
			names[nv] = pos[i];
			tags[nv++] = eq + 1;
		}
		/* sort name=tag pairs by name */
		for (int i = 0; i < nv; i++)
			names[i][strlen(names[i])] = '=';
		qsort(names, (size_t)nv, sizeof(char *), cmp_str);
		for (int i = 0; i < nv; i++) {
			char *eq = strchr(names[i], '=');
			*eq = 0;
			tags[i] = eq + 1;
		}
		if (load_or_make_key(keyfile, &k) != 0)
			return 2;
		peer.key = k;
		r = ward_cas_attest(&peer, pos[3], (size_t)nv, (const char *const *)names,
				    (const char *const *)tags, make_evidence, &ev, &cfg, err, sizeof(err));
		if (r == 0)
			printf("%s\n", cfg);
		else
			fprintf(stderr, "%s\n", err);
		free(cfg);
		EVP_PKEY_free(k);
		ward_sim_platform_free(ev.plat);
		return r == 0 ? 0 : r == 1 ? 1 : 2;
	}
	if (strcmp(pos[0], "relay") == 0 && npos == 5) {
		int r = relay(&peer, pos[3], &ev, honest);
		ward_sim_platform_free(ev.plat);
		return r;
	}
	if (strcmp(pos[0], "bench") == 0 && npos == 8) {
		struct bench b = { .peer = peer, .ev = ev, .config_id = pos[3], .baseline = baseline };
		long clients = atol(pos[5]);
		double secs = atof(pos[6]);
		pthread_t th[256];
		b.maxcount = atol(pos[7]);
		if (clients < 1 || clients > 256 || b.maxcount < 1)
			return 2;
		b.lat = calloc((size_t)b.maxcount, sizeof(double));
		b.peer.ctx = ward_cas_client_ctx_new();
		for (int i = 0; i < POOL; i++)
			if (ward_cas_identity_new(&b.keys[i], err, sizeof(err)) != 0)
				return 2;
		pthread_mutex_init(&b.mu, NULL);
		double c0 = cpu_self(), t0 = now();
		b.deadline = t0 + secs;
		for (long i = 0; i < clients; i++)
			pthread_create(&th[i], NULL, bench_thread, &b);
		for (long i = 0; i < clients; i++)
			pthread_join(th[i], NULL);
		double el = now() - t0, cpu = cpu_self() - c0;
		qsort(b.lat, (size_t)b.done, sizeof(double), cmp_d);
		printf("{\"clients\": %ld, \"count\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"per_second\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"client_cpu_ms\": %.3f}\n",
		       clients, b.done, b.failed, el, (double)b.done / el,
		       b.done ? 1000 * b.lat[b.done / 2] : 0, b.done ? 1000 * b.lat[(b.done * 99) / 100] : 0,
		       b.done ? 1000 * cpu / (double)b.done : 0);
		for (int i = 0; i < POOL; i++)
			EVP_PKEY_free(b.keys[i]);
		SSL_CTX_free(b.peer.ctx);
		free(b.lat);
		ward_sim_platform_free(ev.plat);
		return b.failed ? 1 : 0;
	}
	fprintf(stderr, "usage: see the top of cas_probe.c\n");
	return 2;
}
