/*
 * attest_srv.c: the attestation port (docs/cas-api.md, "Attestation
 * protocol"): TLS 1.3 authenticating the CAS only (no client certificate:
 * decoding one costs OpenSSL 3.0 more than the rest of the handshake), then
 * length-prefixed JSON frames. One connection = one struct aconn on the loop
 * thread.
 *
 * Invariants: (1) no frame longer than WARD_CAS_FRAME_MAX_IN is buffered;
 * (2) a configuration is sent only after the evidence verified, its report
 * data bound the enclave key named in the request + this connection's TLS
 * exporter and challenge + config id + volume tags, the measurement and
 * flags matched the policy and every volume tag was accepted; (2b) a tag
 * report is accepted only with a signature by an attested enclave key over
 * this connection's exporter and challenge; (3) every decision is audited,
 * and an allowed one is sent only once its audit record is durable
 * (fsync'ed; store.h, group commit).
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
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cas/evidence_check.h"
#include "cas/proto.h"
#include "cas/session.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"

#define ATTEST_TIMEOUT_S 10   /* idle: no byte for this long */
#define ATTEST_DEADLINE_S 30  /* whole connection, however busy (slow senders) */
#define ATTEST_CONNS_MAX 4096 /* per worker */

struct aconn {
	struct cas_server *s;
	struct cas_attest_worker *w;
	struct bufferevent *bev;
	uint8_t challenge[WARD_CAS_CHALLENGE_LEN];
	uint8_t exporter[WARD_CAS_EXPORTER_LEN]; /* TLS channel binding */
	char peer[65]; /* enclave key hash (hex), once an attest or tag frame named it */
	int ready;    /* handshake done, hello sent */
	int attested; /* config sent on this connection */
	int closing;
	json_t *answer;      /* decided, waiting for its audit record to be durable */
	uint64_t answer_seq; /* the store batch holding that record */
	int answer_allowed;
	struct timespec t0;
	struct event *deadline;
	struct aconn *prev, *next; /* the worker's list */
};

static unsigned long usec_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long)((t.tv_sec - t0->tv_sec) * 1000000L + (t.tv_nsec - t0->tv_nsec) / 1000);
}

static void aconn_free(struct aconn *c)
{
	c->w->open_conns--;
	c->s->open_attest_conns--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->deadline != NULL)
		event_free(c->deadline);
	json_decref(c->answer); /* never sent: the peer went away */
	bufferevent_free(c->bev);
	free(c);
}

static void send_frame(struct aconn *c, json_t *msg)
{
	uint8_t hdr[WARD_CAS_FRAME_HDR];
	char *txt = json_dumps(msg, JSON_COMPACT);
	size_t n = txt ? strlen(txt) : 0;

	json_decref(msg);
	if (txt == NULL || n > WARD_CAS_FRAME_MAX_OUT) {
		free(txt);
		c->closing = 1;
		return;
	}
	ward_cas_frame_header((uint32_t)n, hdr);
	/* one evbuffer chunk -> one SSL_write -> one TLS record */
	struct evbuffer *out = evbuffer_new();
	if (out == NULL || evbuffer_expand(out, n + sizeof(hdr)) != 0 ||
	    evbuffer_add(out, hdr, sizeof(hdr)) != 0 || evbuffer_add(out, txt, n) != 0 ||
	    evbuffer_pullup(out, -1) == NULL || bufferevent_write_buffer(c->bev, out) != 0)
		c->closing = 1;
	evbuffer_free(out);
	ward_wipe(txt, n); /* may hold secrets */
	free(txt);
}

/* Sends an error frame and closes once it is flushed. */
static void refuse(struct aconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(struct aconn *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_frame(c, json_pack("{s:s, s:s}", "type", "error", "reason", msg));
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
}

static int b64_decode(const char *in, uint8_t *out, size_t outmax, size_t *outlen)
{
	size_t n = strlen(in), pad = 0;
	int r;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > outmax)
		return -1;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0 || (size_t)r < pad)
		return -1;
	*outlen = (size_t)r - pad;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_read(struct bufferevent *bev, void *arg);

/* 0 when sig is the enclave key's ECDSA/SHA-256 signature of msg. The key
 * (DER SubjectPublicKeyInfo) must be an EC key and nothing may follow it. */
static int tag_signature_ok(const uint8_t *spki, size_t spkilen, const uint8_t *sig, size_t siglen,
			    const uint8_t *msg, size_t msglen)
{
	const unsigned char *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)spkilen);
	EVP_MD_CTX *md = NULL;
	int ok = k != NULL && p == spki + spkilen && EVP_PKEY_is_a(k, "EC") && (md = EVP_MD_CTX_new()) != NULL &&
		 EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		 EVP_DigestVerify(md, sig, siglen, msg, msglen) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* Sends a decided answer whose audit record is now durable (or, if the
 * store could not make it durable, a denial instead of a configuration).
 * A denial closes the connection; a configuration keeps it for tags. */
static void answer_now(struct aconn *c, int durable)
{
	json_t *msg = c->answer;
	c->answer = NULL;
	c->s->m.attest_usec_sum += usec_since(&c->t0);
	if (durable < 0) {
		ward_error("cannot make an attestation decision durable: %s", cas_store_error(c->s->store));
		json_decref(msg);
		msg = json_pack("{s:s, s:s}", "type", "denied", "reason",
				"attestation denied by CAS: cannot record the decision in the store");
		c->answer_allowed = 0;
	}
	send_frame(c, msg);
	if (c->answer_allowed)
		c->s->m.attest_allowed++; /* counted when answered */
	else
		c->s->m.attest_denied++;
	if (!c->answer_allowed) {
		c->closing = 1;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	c->attested = 1;
	bufferevent_enable(c->bev, EV_READ);
	on_read(c->bev, c); /* frames that came while we waited */
}

/* Holds msg until store batch seq is durable (cas_attest_wake). */
static void answer_when_durable(struct aconn *c, json_t *msg, uint64_t seq, int allowed)
{
	c->answer = msg;
	c->answer_seq = seq;
	c->answer_allowed = allowed;
	bufferevent_disable(c->bev, EV_READ); /* one decision at a time */
	int d = cas_store_durable(c->s->store, seq);
	if (d != 0)
		answer_now(c, d);
}

void cas_attest_wake(evutil_socket_t fd, short what, void *arg)
{
	struct cas_attest_worker *w = arg;
	(void)fd;
	(void)what;
	for (struct aconn *c = w->conns; c != NULL; c = c->next) {
		if (c->answer == NULL)
			continue;
		int d = cas_store_durable(c->s->store, c->answer_seq);
		if (d != 0)
			answer_now(c, d);
	}
}

/* Denies, audits and sends the reason once the record is durable; the
 * connection closes after it. */
static void deny(struct aconn *c, struct cas_audit *a, const char *reason)
{
	json_t *msg = json_pack("{s:s, s:s}", "type", "denied", "reason", reason);
	uint64_t seq = 0;
	a->allowed = 0;
	a->reason = reason;
	ward_info("%s", reason);
	if (cas_store_audit(c->s->store, a, &seq) != 0) {
		/* a denial grants nothing: it is sent even when unrecorded */
		ward_error("cannot write audit record: %s", cas_store_error(c->s->store));
		c->answer = msg;
		c->answer_allowed = 0;
		answer_now(c, 1);
		return;
	}
	answer_when_durable(c, msg, seq, 0);
}

/* Checks (and advances) the stored tag of one volume. 0 accepted, -1 with reason. */
static int check_tag(struct aconn *c, const char *session, const char *vol, const char *got,
		     char *reason, size_t rl)
{
	char tag[129], pending[129];
	int r = cas_store_volume_accept(c->s->store, session, vol, got, tag, pending);

	if (r < 0) {
		snprintf(reason, rl, "attestation denied by CAS: internal store error");
		return -1;
	}
	if (r == 0)
		return 0;
	snprintf(reason, rl,
		 "attestation denied by CAS: volume '%s' of session '%s' has tag %s, expected %s%s%s (an old or foreign copy of the volume; if this copy is right, pin its tag with a session update)",
		 vol, session, got[0] ? got : "(none: empty volume)", tag[0] ? tag : "(none)",
		 pending[0] ? " or " : "", pending);
	return -1;
}

static void do_attest(struct aconn *c, json_t *msg)
{
	const char *cid = json_string_value(json_object_get(msg, "config_id"));
	const char *ev64 = json_string_value(json_object_get(msg, "evidence"));
	json_t *vols = json_object_get(msg, "volumes"), *t, *cfg = NULL, *accepted = NULL, *pendings = NULL, *svc, *v;
	const char *names[WARD_CAS_VOLUMES_MAX], *tags[WARD_CAS_VOLUMES_MAX], *k;
	char session[WARD_CAS_NAME_MAX + 1], service[WARD_CAS_NAME_MAX + 1];
	char reason[2048], why[1024], meas[97] = "";
	uint8_t ev[WARD_CAS_EVIDENCE_MAX + 3], bind[32], keyh[32], rd[64];
	struct cas_evidence e;
	struct cas_session_row row;
	const char *keyhex = json_string_value(json_object_get(msg, "key"));
	/* the audit names the enclave key only once the evidence proves it */
	struct cas_audit a = { .event = "attest", .client = NULL };
	size_t evlen = 0, nvol = 0, i;
	int have_row = 0;

	if (cid == NULL || ward_cas_config_id_split(cid, session, service) != 0)
		return refuse(c, "attest: config_id must be 'session/service' (names of letters, digits, '_', '.', '-')");
	if (keyhex == NULL || strlen(keyhex) != 64 || ward_unhex(keyhex, keyh, 32) != 0)
		return refuse(c, "attest: key must be the SHA-256 of the enclave's public key (64 hex digits)");
	ward_hex(keyh, 32, c->peer); /* lower case, as the store keeps it */
	a.session = session;
	a.service = service;
	if (ev64 == NULL || strlen(ev64) > (WARD_CAS_EVIDENCE_MAX + 2) / 3 * 4 ||
	    b64_decode(ev64, ev, sizeof(ev), &evlen) != 0 || evlen > WARD_CAS_EVIDENCE_MAX)
		return refuse(c, "attest: evidence must be base64 of at most %d bytes", WARD_CAS_EVIDENCE_MAX);
	if (vols != NULL && (!json_is_object(vols) || json_object_size(vols) > WARD_CAS_VOLUMES_MAX))
		return refuse(c, "attest: volumes must be a map of at most %d volume names to tags", WARD_CAS_VOLUMES_MAX);
	json_object_foreach(vols, k, t) {
		if (!ward_cas_name_ok(k) || !ward_cas_tag_ok(json_string_value(t)))
			return refuse(c, "attest: volume names must be valid names and tags hex strings");
		names[nvol++] = k;
	}
	qsort(names, nvol, sizeof(names[0]), cmp_str);
	for (i = 0; i < nvol; i++)
		tags[i] = json_string_value(json_object_get(vols, names[i]));

	/* the report data this connection expects: enclave key hash || binding
	 * of this TLS channel (exporter), its challenge, config id, volumes */
	if (ward_cas_binding(c->challenge, c->exporter, cid, nvol, names, tags, bind) != 0)
		return refuse(c, "attest: internal error computing the binding");
	memcpy(rd, keyh, 32);
	memcpy(rd + 32, bind, 32);
	int er = cas_evidence_check(&c->s->verifier, ev, evlen, rd, &e, why, sizeof(why));
	if (e.platform[0])
		a.platform = e.platform;
	if (er == 0 || (er == CAS_EVIDENCE_UNBOUND && e.verified)) {
		ward_hex(e.measurement, e.measurement_len, meas);
		a.measurement = meas;
	}
	if (er == CAS_EVIDENCE_UNBOUND || (er == 0 && !ward_ct_equal(e.report_data, rd, 64)))
		return deny(c, &a, "attestation denied by CAS: evidence report data does not bind this TLS connection (channel and challenge), the enclave key, config id and volume tags (evidence replayed or relayed from another connection, or forged)");
	if (er != 0) {
		snprintf(reason, sizeof(reason), "attestation denied by CAS: %s", why);
		return deny(c, &a, reason);
	}
	a.client = c->peer;
	int r = cas_store_session_get(c->s->store, session, &row);
	if (r != 0) {
		snprintf(reason, sizeof(reason), r == 1 ? "attestation denied by CAS: session '%s' does not exist"
							: "attestation denied by CAS: internal store error reading session '%s'", session);
		return deny(c, &a, reason);
	}
	have_row = 1;
	if (cas_session_check_evidence(row.doc, session, service, &e, reason, sizeof(reason)) != 0) {
		deny(c, &a, reason);
		goto out;
	}
	svc = cas_session_service(row.doc, service);
	accepted = json_object();
	pendings = json_object();
	json_array_foreach(json_object_get(svc, "volumes"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		const char *got = json_string_value(json_object_get(vols, vn));
		const char *vkind = json_string_value(json_object_get(v, "kind"));
		char cur[129], pend[129];
		if (vkind != NULL && strcmp(vkind, "ephemeral") == 0)
			continue; /* in-memory: no tag, no rollback */
		if (vols == NULL) {
			/* The enclave checks the tags itself: send what is accepted. */
			if (cas_store_volume_get(c->s->store, session, vn, cur, pend) < 0) {
				deny(c, &a, "attestation denied by CAS: internal store error reading volume tags");
				goto out;
			}
			json_object_set_new(accepted, vn, json_string(cur));
			json_object_set_new(pendings, vn, json_string(pend));
			continue;
		}
		if (got == NULL)
			got = "";
		if (check_tag(c, session, vn, got, reason, sizeof(reason)) != 0) {
			deny(c, &a, reason);
			goto out;
		}
		json_object_set_new(accepted, vn, json_string(got));
	}
	cfg = cas_session_config(row.doc, row.state, session, service, row.hash, accepted, pendings);
	if (cfg == NULL) {
		deny(c, &a, "attestation denied by CAS: internal error building the configuration");
		goto out;
	}
	a.allowed = 1;
	a.reason = row.hash;
	uint64_t seq;
	if (cas_store_attested(c->s->store, c->peer, session, service, &a, &seq) != 0) {
		deny(c, &a, "attestation denied by CAS: cannot record the decision in the store");
		goto out;
	}
	answer_when_durable(c, cfg, seq, 1);
	cfg = NULL; /* transferred */
out:
	json_decref(cfg);
	json_decref(accepted);
	json_decref(pendings);
	if (have_row)
		cas_session_row_clear(&row);
}

static void do_tag(struct aconn *c, json_t *msg)
{
	const char *phase = json_string_value(json_object_get(msg, "phase"));
	const char *vol = json_string_value(json_object_get(msg, "volume"));
	const char *tag = json_string_value(json_object_get(msg, "tag"));
	const char *key64 = json_string_value(json_object_get(msg, "key"));
	const char *sig64 = json_string_value(json_object_get(msg, "signature"));
	char session[129], service[129];
	uint8_t spki[WARD_CAS_SPKI_MAX + 3], sig[WARD_CAS_TAG_SIG_MAX + 3], tm[WARD_CAS_TAG_MSG_MAX], h[32];
	size_t spkilen = 0, siglen = 0, tmlen = 0;
	struct cas_session_row row;
	json_t *v, *svc;
	size_t i;
	int found = 0, r;

	if (phase == NULL || (strcmp(phase, "prepare") != 0 && strcmp(phase, "commit") != 0) ||
	    !ward_cas_name_ok(vol) || !ward_cas_tag_ok(tag) || tag[0] == 0)
		return refuse(c, "tag: needs phase 'prepare' or 'commit', a volume name and a non-empty hex tag");
	if (key64 == NULL || sig64 == NULL || strlen(key64) > (WARD_CAS_SPKI_MAX + 2) / 3 * 4 ||
	    strlen(sig64) > (WARD_CAS_TAG_SIG_MAX + 2) / 3 * 4 || b64_decode(key64, spki, sizeof(spki), &spkilen) != 0 ||
	    b64_decode(sig64, sig, sizeof(sig), &siglen) != 0 || spkilen > WARD_CAS_SPKI_MAX ||
	    siglen > WARD_CAS_TAG_SIG_MAX)
		return refuse(c, "tag: needs the enclave's public key and its signature of the report (base64)");
	if (ward_sha256(spki, spkilen, h) != 0)
		return refuse(c, "tag: internal error");
	ward_hex(h, 32, c->peer);
	r = cas_store_enclave_get(c->s->store, c->peer, session, service);
	if (r != 0)
		return refuse(c, "tag: this key belongs to no attested enclave (attest first)");
	if (ward_cas_tag_message(c->challenge, c->exporter, phase, vol, tag, tm, &tmlen) != 0 ||
	    tag_signature_ok(spki, spkilen, sig, siglen, tm, tmlen) != 0)
		return refuse(c, "tag: the signature does not verify with the attested enclave key for this connection (a report made on another connection, or not by the enclave)");
	if (cas_store_session_get(c->s->store, session, &row) != 0)
		return refuse(c, "tag: session '%s' no longer exists", session);
	svc = cas_session_service(row.doc, service);
	json_array_foreach(json_object_get(svc, "volumes"), i, v) {
		if (strcmp(json_string_value(json_object_get(v, "name")), vol) == 0)
			found = 1;
	}
	cas_session_row_clear(&row);
	if (!found)
		return refuse(c, "tag: service '%s' of session '%s' has no volume '%s'", service, session, vol);
	r = cas_store_volume_report(c->s->store, session, vol, strcmp(phase, "commit") == 0, tag);
	if (r != 0)
		return refuse(c, "tag: internal store error");
	c->s->m.tag_reports++;
	send_frame(c, json_pack("{s:s}", "type", "ok"));
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct aconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->closing && c->ready && c->answer == NULL) {
		uint8_t hdr[WARD_CAS_FRAME_HDR];
		uint32_t len;
		char *body;
		json_error_t je;
		json_t *msg;
		const char *type;

		if (evbuffer_get_length(in) < WARD_CAS_FRAME_HDR)
			break;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (ward_cas_frame_parse(hdr, WARD_CAS_FRAME_MAX_IN, &len) != 0)
			return refuse(c, "frame length must be 1..%u bytes", WARD_CAS_FRAME_MAX_IN);
		if (evbuffer_get_length(in) < WARD_CAS_FRAME_HDR + (size_t)len)
			break;
		evbuffer_drain(in, WARD_CAS_FRAME_HDR);
		body = malloc(len);
		if (body == NULL)
			return refuse(c, "out of memory");
		evbuffer_remove(in, body, len);
		msg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
		free(body);
		type = json_string_value(json_object_get(msg, "type"));
		if (msg == NULL || type == NULL)
			refuse(c, "frame is not a JSON object with a 'type'");
		else if (strcmp(type, "attest") == 0 && !c->attested)
			do_attest(c, msg);
		else if (strcmp(type, "tag") == 0)
			do_tag(c, msg);
		else
			refuse(c, "unexpected message '%.32s'", type);
		json_decref(msg);
	}
	if (!c->closing && c->ready && c->answer == NULL &&
	    evbuffer_get_length(in) > WARD_CAS_FRAME_HDR + WARD_CAS_FRAME_MAX_IN)
		refuse(c, "too much data");
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct aconn *c = arg;
	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		aconn_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct aconn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (ward_cas_exporter(bufferevent_openssl_get_ssl(c->bev), c->exporter) != 0 ||
		    ward_random(c->challenge, sizeof(c->challenge)) != 0) {
			c->ready = 1;
			c->s->m.attest_errors++;
			return refuse(c, "cannot derive this connection's channel binding");
		}
		char hex[2 * WARD_CAS_CHALLENGE_LEN + 1];
		ward_hex(c->challenge, sizeof(c->challenge), hex);
		clock_gettime(CLOCK_MONOTONIC, &c->t0);
		c->ready = 1;
		send_frame(c, json_pack("{s:s, s:i, s:s}", "type", "hello", "version", WARD_CAS_PROTO_VERSION,
					"challenge", hex));
		on_read(c->bev, c); /* data may have arrived with the handshake */
		return;
	}
	/* EOF, error, timeout: drop the connection (nothing is pending for it) */
	if (!c->attested && !c->closing)
		c->s->m.attest_errors++;
	aconn_free(c);
}

void cas_attest_worker_close_all(struct cas_attest_worker *w)
{
	while (w->conns != NULL)
		aconn_free(w->conns);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct aconn *c = arg;
	(void)fd;
	(void)what;
	if (!c->attested && !c->closing)
		c->s->m.attest_errors++;
	aconn_free(c);
}

void cas_attest_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		       int salen, void *arg)
{
	struct cas_attest_worker *w = arg;
	struct cas_server *s = w->s;
	struct timeval tv = { ATTEST_TIMEOUT_S, 0 };
	struct aconn *c;
	SSL *ssl;

	(void)l;
	(void)sa;
	(void)salen;
	if (w->open_conns >= ATTEST_CONNS_MAX || (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	ssl = SSL_new(s->ssl);
	if (ssl != NULL) /* no CertificateRequest: the evidence binds the channel */
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	c->s = s;
	c->w = w;
	c->bev = ssl ? bufferevent_openssl_socket_new(w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						      BEV_OPT_CLOSE_ON_FREE)
		     : NULL;
	if (c->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	w->open_conns++;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	s->open_attest_conns++;
	s->m.attest_conns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	tv.tv_sec = ATTEST_DEADLINE_S;
	c->deadline = evtimer_new(w->base, on_deadline, c);
	if (c->deadline != NULL)
		evtimer_add(c->deadline, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, WARD_CAS_FRAME_HDR + WARD_CAS_FRAME_MAX_IN + 1);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}
