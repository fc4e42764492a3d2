/* attest_client.c: see attest_client.h. */
#include "cas/attest_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cas/proto.h"
#include "core/crypto.h"
#include "core/util.h"

struct conn {
	int fd;
	SSL_CTX *ctx; /* owned unless borrowed */
	int borrowed;
	SSL *ssl;
	uint8_t exporter[WARD_CAS_EXPORTER_LEN]; /* this connection's channel binding */
};

/* The CAS is authenticated by the SHA-256 of its key (pinned fingerprint,
 * checked after the handshake), not by a chain: building and checking one
 * would cost CPU for a result nobody reads. */
static int skip_chain(X509_STORE_CTX *x, void *arg)
{
	(void)x;
	(void)arg;
	return 1;
}

SSL_CTX *ward_cas_client_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	/* X25519 first: one key share, no HelloRetryRequest, the cheapest ECDHE.
	 * AES-128-GCM with SHA-256 first: the key schedule's HMACs run on the
	 * CPU's SHA extensions, SHA-384 (OpenSSL's default first suite) has none. */
	if (ctx != NULL && (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
			    SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
			    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
							  "TLS_CHACHA20_POLY1305_SHA256") != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ctx != NULL) {
		SSL_CTX_set_cert_verify_callback(ctx, skip_chain, NULL);
		SSL_CTX_set_read_ahead(ctx, 1); /* one read(2) per flight, not two per record */
	}
	return ctx;
}

/* SHA-256 of a certificate's SubjectPublicKeyInfo as it is encoded in the
 * certificate, to compare the CAS's certificate with its pinned key hash,
 * without OpenSSL 3's key encoders (i2d_PUBKEY costs about 100 us; this,
 * under 1 us). */
static int cert_key_hash(X509 *x, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = x ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der) : -1, r;
	if (n <= 0)
		return -1;
	r = ward_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return r;
}

/* A CAS that closes the connection must not kill the enclave with SIGPIPE
 * (OpenSSL writes with write(2)): SIGPIPE is blocked in the calling thread
 * for the exchange, and one raised meanwhile is consumed before unblocking. */
struct sigpipe_guard {
	sigset_t old;
	int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe, pending;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t pipe;
	struct timespec zero = { 0, 0 };
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	if (!g->was_pending)
		while (sigtimedwait(&pipe, NULL, &zero) > 0)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

#define cerr ward_fail_ossl /* src/core/crypto.h */

/* DER SubjectPublicKeyInfo of a P-256 key up to its 65-byte uncompressed
 * point (RFC 5480): SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 },
 * BIT STRING { 0 unused bits, point } }. */
static const uint8_t p256_spki_prefix[26] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};

int ward_cas_key_spki(EVP_PKEY *key, uint8_t *out, size_t max, size_t *len)
{
	char group[32];
	size_t gl = 0, pl = 0;
	unsigned char *der = NULL;
	int n;

	if (key == NULL)
		return -1;
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &gl) == 1 &&
	    strcmp(group, "prime256v1") == 0 && max >= sizeof(p256_spki_prefix) + 65 &&
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out + sizeof(p256_spki_prefix),
					    65, &pl) == 1 &&
	    pl == 65 && out[sizeof(p256_spki_prefix)] == 0x04) {
		memcpy(out, p256_spki_prefix, sizeof(p256_spki_prefix));
		*len = sizeof(p256_spki_prefix) + 65;
		return 0;
	}
	ERR_clear_error();
	n = i2d_PUBKEY(key, &der); /* any other key: OpenSSL's encoder */
	if (n <= 0 || (size_t)n > max) {
		OPENSSL_free(der);
		return -1;
	}
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	return 0;
}

int ward_cas_key_hash(EVP_PKEY *key, uint8_t out[32])
{
	uint8_t der[WARD_CAS_SPKI_MAX];
	size_t n;
	if (ward_cas_key_spki(key, der, sizeof(der), &n) != 0)
		return -1;
	return ward_sha256(der, n, out);
}

int ward_cas_parse_fingerprint(const char *s, uint8_t out[32])
{
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	return strlen(s) == 64 ? ward_unhex(s, out, 32) : -1;
}

int ward_cas_identity_new(EVP_PKEY **key, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k == NULL)
		return cerr(err, errlen, "cannot create the enclave's key pair");
	*key = k;
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (!c->borrowed)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

static int conn_open(const struct ward_cas_peer *p, struct conn *c, char *err, size_t errlen)
{
	char host[256];
	const char *colon = p->addr ? strrchr(p->addr, ':') : NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	uint8_t fpr[32];
	int r;

	c->fd = -1;
	c->ssl = NULL;
	c->ctx = NULL;
	c->borrowed = 0;
	if (colon == NULL || colon == p->addr || (size_t)(colon - p->addr) >= sizeof(host))
		return cerr(err, errlen, "CAS address '%s' is not host:port", p->addr ? p->addr : "");
	memcpy(host, p->addr, (size_t)(colon - p->addr));
	host[colon - p->addr] = 0;
	r = getaddrinfo(host, colon + 1, &hints, &res);
	if (r != 0)
		return cerr(err, errlen, "cannot resolve CAS address '%s': %s", p->addr, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int one = 1;
		/* frames are small request/response pairs: no Nagle delay */
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return cerr(err, errlen, "cannot connect to the CAS at %s: %s (is ward-cas running?)", p->addr,
			    strerror(errno));
	c->borrowed = p->ctx != NULL;
	c->ctx = p->ctx != NULL ? p->ctx : ward_cas_client_ctx_new();
	if (c->ctx == NULL || (c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_close(c);
		return cerr(err, errlen, "cannot set up TLS to the CAS");
	}
	SSL_set_tlsext_host_name(c->ssl, host);
	if (SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_peek_last_error();
		conn_close(c);
		return cerr(err, errlen, "TLS handshake with the CAS at %s failed: %s", p->addr,
			    e ? ERR_reason_error_string(e) : "connection closed");
	}
	if (p->fingerprint != NULL) {
		X509 *srv = SSL_get0_peer_certificate(c->ssl);
		if (srv == NULL || cert_key_hash(srv, fpr) != 0 ||
		    !ward_ct_equal(fpr, p->fingerprint, 32)) {
			char got[65] = "?";
			if (srv != NULL)
				ward_hex(fpr, 32, got);
			conn_close(c);
			return cerr(err, errlen, "the CAS at %s has fingerprint sha256:%s, not the pinned one (a different CAS, or its identity changed)",
				    p->addr, got);
		}
	}
	if (ward_cas_exporter(c->ssl, c->exporter) != 0) {
		conn_close(c);
		return cerr(err, errlen, "cannot derive the TLS channel binding with the CAS at %s", p->addr);
	}
	return 0;
}

static int io_all(struct conn *c, void *buf, size_t n, int wr)
{
	size_t done = 0;
	while (done < n) {
		int chunk = n - done > 1u << 30 ? 1 << 30 : (int)(n - done);
		int r = wr ? SSL_write(c->ssl, (uint8_t *)buf + done, chunk)
			   : SSL_read(c->ssl, (uint8_t *)buf + done, chunk);
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int send_msg(struct conn *c, json_t *msg, char *err, size_t errlen)
{
	char *txt = json_dumps(msg, JSON_COMPACT);
	size_t n = txt ? strlen(txt) : 0;
	uint8_t hdr[WARD_CAS_FRAME_HDR];
	int r;
	if (txt == NULL || n == 0 || n > WARD_CAS_FRAME_MAX_IN) {
		free(txt);
		return cerr(err, errlen, "attestation request too large");
	}
	uint8_t *frame = malloc(n + sizeof(hdr));
	if (frame == NULL) {
		free(txt);
		return cerr(err, errlen, "out of memory");
	}
	ward_cas_frame_header((uint32_t)n, hdr);
	memcpy(frame, hdr, sizeof(hdr));
	memcpy(frame + sizeof(hdr), txt, n);
	r = io_all(c, frame, n + sizeof(hdr), 1); /* one TLS record */
	free(frame);
	free(txt);
	return r == 0 ? 0 : cerr(err, errlen, "connection to the CAS lost while sending");
}

/* Receives one frame: *txt (malloc'ed, NUL-terminated) and its JSON. */
static int recv_msg(struct conn *c, char **txt, json_t **msg, char *err, size_t errlen)
{
	uint8_t hdr[WARD_CAS_FRAME_HDR];
	uint32_t len;
	json_error_t je;
	char *b;

	if (io_all(c, hdr, sizeof(hdr), 0) != 0)
		return cerr(err, errlen, "connection to the CAS closed or timed out");
	if (ward_cas_frame_parse(hdr, WARD_CAS_FRAME_MAX_OUT, &len) != 0)
		return cerr(err, errlen, "the CAS sent a frame of invalid length");
	b = malloc((size_t)len + 1);
	if (b == NULL)
		return cerr(err, errlen, "out of memory");
	if (io_all(c, b, len, 0) != 0) {
		free(b);
		return cerr(err, errlen, "connection to the CAS lost while receiving");
	}
	b[len] = 0;
	*msg = json_loadb(b, len, JSON_REJECT_DUPLICATES, &je);
	if (*msg == NULL || !json_is_string(json_object_get(*msg, "type"))) {
		json_decref(*msg);
		ward_wipe(b, len);
		free(b);
		return cerr(err, errlen, "the CAS sent a malformed message");
	}
	*txt = b;
	return 0;
}

static int expect_hello(struct conn *c, uint8_t challenge[32], char *err, size_t errlen)
{
	char *txt;
	json_t *m;
	const char *ch;
	int r = -1;

	if (recv_msg(c, &txt, &m, err, errlen) != 0)
		return -1;
	ch = json_string_value(json_object_get(m, "challenge"));
	if (strcmp(json_string_value(json_object_get(m, "type")), "error") == 0)
		cerr(err, errlen, "the CAS refused the connection: %s",
		     json_string_value(json_object_get(m, "reason")) ? json_string_value(json_object_get(m, "reason")) : "?");
	else if (strcmp(json_string_value(json_object_get(m, "type")), "hello") != 0 ||
		 json_integer_value(json_object_get(m, "version")) != WARD_CAS_PROTO_VERSION || ch == NULL ||
		 strlen(ch) != 64 || ward_unhex(ch, challenge, 32) != 0)
		cerr(err, errlen, "the CAS sent an unexpected greeting (protocol version mismatch?)");
	else
		r = 0;
	json_decref(m);
	free(txt);
	return r;
}

static int attest(const struct ward_cas_peer *peer, const char *config_id, size_t nvol,
		  const char *const *vol_names, const char *const *vol_tags,
		  ward_cas_evidence_fn evidence, void *evidence_arg, char **config_json, char *err,
		  size_t errlen)
{
	struct conn c;
	uint8_t challenge[32], rd[64], *ev = NULL;
	size_t evlen = 0;
	char *b64 = NULL, *txt = NULL, keyhex[65];
	json_t *req = NULL, *vols = NULL, *m = NULL;
	const char *type;
	int ret = -1;

	if (nvol > WARD_CAS_VOLUMES_MAX)
		return cerr(err, errlen, "too many volumes (at most %d)", WARD_CAS_VOLUMES_MAX);
	if (conn_open(peer, &c, err, errlen) != 0)
		return -1;
	if (expect_hello(&c, challenge, err, errlen) != 0)
		goto out;
	if (ward_cas_key_hash(peer->key, rd) != 0 ||
	    ward_cas_binding(challenge, c.exporter, config_id, nvol, vol_names, vol_tags, rd + 32) != 0) {
		cerr(err, errlen, "cannot compute the report data (volume names must be sorted and unique)");
		goto out;
	}
	ev = malloc(WARD_CAS_EVIDENCE_MAX);
	b64 = malloc((WARD_CAS_EVIDENCE_MAX + 2) / 3 * 4 + 1);
	if (ev == NULL || b64 == NULL) {
		cerr(err, errlen, "out of memory");
		goto out;
	}
	if (evidence(evidence_arg, rd, ev, WARD_CAS_EVIDENCE_MAX, &evlen, err, errlen) != 0)
		goto out;
	if (evlen == 0 || evlen > WARD_CAS_EVIDENCE_MAX) {
		cerr(err, errlen, "evidence has an invalid size");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, ev, (int)evlen);
	vols = json_object();
	for (size_t i = 0; i < nvol; i++)
		json_object_set_new(vols, vol_names[i], json_string(vol_tags[i]));
	ward_hex(rd, 32, keyhex);
	req = json_pack("{s:s, s:s, s:s, s:s}", "type", "attest", "config_id", config_id, "key", keyhex, "evidence",
			b64);
	/* vol_names NULL: the enclave checks its volumes' tags itself against
	 * the ones the configuration carries (docs/cas-api.md). */
	if (req != NULL && vol_names != NULL && json_object_set(req, "volumes", vols) != 0) {
		json_decref(req);
		req = NULL;
	}
	if (req == NULL) {
		cerr(err, errlen, "invalid config id or volume names");
		goto out;
	}
	if (send_msg(&c, req, err, errlen) != 0 || recv_msg(&c, &txt, &m, err, errlen) != 0)
		goto out;
	type = json_string_value(json_object_get(m, "type"));
	if (strcmp(type, "config") == 0) {
		*config_json = txt;
		txt = NULL; /* transferred */
		ret = 0;
	} else if (strcmp(type, "denied") == 0 || strcmp(type, "error") == 0) {
		const char *why = json_string_value(json_object_get(m, "reason"));
		cerr(err, errlen, "%s", why ? why : "attestation denied by CAS: no reason given");
		ret = strcmp(type, "denied") == 0 ? 1 : -1;
	} else {
		cerr(err, errlen, "the CAS sent an unexpected message '%.32s'", type);
	}
out:
	if (txt != NULL) {
		ward_wipe(txt, strlen(txt));
		free(txt);
	}
	json_decref(m);
	json_decref(req);
	json_decref(vols);
	free(ev);
	free(b64);
	conn_close(&c);
	return ret;
}

static int report_tag(const struct ward_cas_peer *peer, const char *phase, const char *volume,
		      const char *tag, char *err, size_t errlen)
{
	struct conn c;
	uint8_t challenge[32], msg[WARD_CAS_TAG_MSG_MAX], spki[WARD_CAS_SPKI_MAX], sig[WARD_CAS_TAG_SIG_MAX];
	char spki64[(WARD_CAS_SPKI_MAX + 2) / 3 * 4 + 1], sig64[(WARD_CAS_TAG_SIG_MAX + 2) / 3 * 4 + 1];
	size_t msglen, spkilen, siglen = sizeof(sig);
	char *txt = NULL;
	json_t *req, *m = NULL;
	EVP_MD_CTX *md = NULL;
	int ret = -1;

	if (conn_open(peer, &c, err, errlen) != 0)
		return -1;
	if (expect_hello(&c, challenge, err, errlen) != 0)
		goto out;
	/* proof that this is the attested enclave: its key signs the report,
	 * bound to this connection (exporter) and its challenge */
	md = EVP_MD_CTX_new();
	if (ward_cas_tag_message(challenge, c.exporter, phase, volume, tag, msg, &msglen) != 0 ||
	    ward_cas_key_spki(peer->key, spki, sizeof(spki), &spkilen) != 0 || md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, peer->key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, msglen) != 1) {
		cerr(err, errlen, "cannot sign the volume tag report with the enclave's key");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)spki64, spki, (int)spkilen);
	EVP_EncodeBlock((unsigned char *)sig64, sig, (int)siglen);
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "tag", "phase", phase, "volume", volume, "tag", tag,
			"key", spki64, "signature", sig64);
	if (req == NULL || send_msg(&c, req, err, errlen) != 0) {
		json_decref(req);
		goto out;
	}
	json_decref(req);
	if (recv_msg(&c, &txt, &m, err, errlen) != 0)
		goto out;
	if (strcmp(json_string_value(json_object_get(m, "type")), "ok") == 0)
		ret = 0;
	else
		cerr(err, errlen, "the CAS refused the volume tag: %s",
		     json_string_value(json_object_get(m, "reason")) ? json_string_value(json_object_get(m, "reason")) : "?");
out:
	EVP_MD_CTX_free(md);
	free(txt);
	json_decref(m);
	conn_close(&c);
	return ret;
}

int ward_cas_attest(const struct ward_cas_peer *peer, const char *config_id, size_t nvol,
		    const char *const *vol_names, const char *const *vol_tags,
		    ward_cas_evidence_fn evidence, void *evidence_arg, char **config_json, char *err,
		    size_t errlen)
{
	struct sigpipe_guard g;
	int r;
	sigpipe_block(&g);
	r = attest(peer, config_id, nvol, vol_names, vol_tags, evidence, evidence_arg, config_json, err,
		   errlen);
	sigpipe_restore(&g);
	return r;
}

int ward_cas_report_tag(const struct ward_cas_peer *peer, const char *phase, const char *volume,
			const char *tag, char *err, size_t errlen)
{
	struct sigpipe_guard g;
	int r;
	sigpipe_block(&g);
	r = report_tag(peer, phase, volume, tag, err, errlen);
	sigpipe_restore(&g);
	return r;
}
