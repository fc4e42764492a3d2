/* session_http.c: libcurl requests to the CAS with a pinned server key. */
#include "cli/session_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>

#include "core/log.h"
#include "core/util.h"

struct sink {
	char *p;
	size_t len;
	int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->len + n > WARD_CAS_RESPONSE_MAX) {
		s->too_big = 1;
		return 0;
	}
	char *np = realloc(s->p, s->len + n + 1);
	if (!np)
		return 0;
	memcpy(np + s->len, ptr, n);
	s->p = np;
	s->len += n;
	s->p[s->len] = 0;
	return n;
}

static int normalise_addr(const char *in, char *out, size_t outlen)
{
	if (strncmp(in, "https://", 8) == 0)
		in += 8;
	size_t n = strlen(in);
	while (n && in[n - 1] == '/')
		n--;
	if (n == 0 || n > 250)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z') || (in[i] >= '0' && in[i] <= '9') ||
		      strchr(".-:[]_", in[i])))
			return -1;
	const char *last_colon = NULL, *bracket = NULL;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == ':')
			last_colon = in + i;
		if (in[i] == ']')
			bracket = in + i;
	}
	int has_port = last_colon && (!bracket || last_colon > bracket) && (in[0] == '[' || strchr(in, ':') == last_colon);
	if (has_port && (size_t)(last_colon - in) + 1 >= n)
		return -1;
	int r = has_port ? snprintf(out, outlen, "%.*s", (int)n, in) : snprintf(out, outlen, "%.*s:8081", (int)n, in);
	return r < 0 || (size_t)r >= outlen ? -1 : 0;
}

static void base_opts(CURL *h, const struct ward_cas_conn *c, struct sink *s, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	/* The CAS certificate is self-signed: its pinned key replaces the PKI. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSLCERT, c->id.cert_path);
	curl_easy_setopt(h, CURLOPT_SSLKEY, c->id.key_path);
}

static void transport_error(const struct ward_cas_conn *c, CURLcode rc, const char *errbuf)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT)
		ward_error("cannot reach the CAS at %s: %s; is ward-cas running there? (set --cas ADDR or WARD_CAS_ADDR)",
			   c->addr, why);
	else
		ward_error("TLS/HTTP exchange with the CAS at %s failed: %s", c->addr, why);
}

/* Connects without a pin and returns the fingerprint of the key the CAS presents. */
static int probe_fingerprint(struct ward_cas_conn *c, char *fp, size_t fplen)
{
	CURL *h = curl_easy_init();
	struct sink s = {0};
	char errbuf[CURL_ERROR_SIZE] = "", url[400];
	int r = -1;
	if (!h)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/identity", c->base);
	base_opts(h, c, &s, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		transport_error(c, rc, errbuf);
		goto out;
	}
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1) {
		ward_error("the CAS at %s presented no certificate", c->addr);
		goto out;
	}
	for (struct curl_slist *e = ci->certinfo[0]; e; e = e->next) {
		if (strncmp(e->data, "Cert:", 5) != 0)
			continue;
		BIO *b = BIO_new_mem_buf(e->data + 5, -1);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		char hex[WARD_ID_HEX + 1];
		if (x && ward_spki_hash_hex(x, hex) == 0) {
			snprintf(fp, fplen, "sha256:%s", hex);
			r = 0;
		}
		X509_free(x);
		BIO_free(b);
		ERR_clear_error();
		break;
	}
	if (r < 0)
		ward_error("cannot read the certificate the CAS at %s presented", c->addr);
out:
	free(s.p);
	curl_easy_cleanup(h);
	return r;
}

int ward_cas_open(struct ward_cas_conn *c, const char *addr_opt)
{
	memset(c, 0, sizeof(*c));
	const char *addr = addr_opt ? addr_opt : getenv("WARD_CAS_ADDR");
	if (!addr || !*addr)
		addr = WARD_CAS_DEFAULT_ADDR;
	if (normalise_addr(addr, c->addr, sizeof(c->addr)) < 0) {
		ward_error("invalid CAS address '%.100s': expected HOST:PORT, e.g. localhost:8081", addr);
		return -1;
	}
	snprintf(c->base, sizeof(c->base), "https://%s", c->addr);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		ward_error("cannot initialise libcurl");
		return -1;
	}
	if (ward_client_id_load(&c->id) < 0)
		return -1;
	if (ward_known_cas_get(&c->id, c->addr, c->pin, sizeof(c->pin)) < 0)
		return -1;
	if (c->pin[0]) {
		if (strncmp(c->pin, "sha256:", 7) != 0 || strlen(c->pin) != 7 + WARD_ID_HEX) {
			ward_error("%s has a malformed entry for %s; delete that line to pin the CAS key again", c->id.known_path,
				   c->addr);
			return -1;
		}
		return 0;
	}
	if (probe_fingerprint(c, c->pin, sizeof(c->pin)) < 0)
		return -1;
	if (ward_known_cas_add(&c->id, c->addr, c->pin) < 0)
		return -1;
	ward_warn("first contact with the CAS at %s: pinned its key %s in %s", c->addr, c->pin, c->id.known_path);
	return 0;
}

static int pin_option(const char *fp, char *out, size_t outlen)
{
	uint8_t raw[32];
	if (ward_unhex(fp + 7, raw, sizeof(raw)) < 0)
		return -1;
	unsigned char b64[64];
	int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
	if (n <= 0)
		return -1;
	snprintf(out, outlen, "sha256//%.*s", n, (char *)b64);
	return 0;
}

int ward_cas_request(struct ward_cas_conn *c, const char *method, const char *path, const char *body,
		     size_t len, struct ward_cas_resp *r)
{
	CURL *h = curl_easy_init();
	struct sink s = {0};
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", url[1024], pin[120];
	int ret = -1;
	memset(r, 0, sizeof(*r));
	if (!h || pin_option(c->pin, pin, sizeof(pin)) < 0) {
		ward_error("cannot prepare a request to the CAS");
		curl_easy_cleanup(h);
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	base_opts(h, c, &s, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		char now[80] = "an unknown key";
		probe_fingerprint(c, now, sizeof(now));
		ward_error("the CAS at %s presented key %s, but %s pins %s for it: refusing to talk to it; if the CAS was re-installed or its key replaced on purpose, delete the line for %s in %s and retry",
			   c->addr, now, c->id.known_path, c->pin, c->addr, c->id.known_path);
		goto out;
	}
	if (s.too_big) {
		ward_error("the CAS at %s sent a response over %u bytes; refusing it", c->addr, WARD_CAS_RESPONSE_MAX);
		goto out;
	}
	if (rc != CURLE_OK) {
		transport_error(c, rc, errbuf);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (s.p)
		r->body = json_loadb(s.p, s.len, 0, NULL);
	ret = 0;
out:
	free(s.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return ret;
}

void ward_cas_resp_free(struct ward_cas_resp *r)
{
	json_decref(r->body);
	r->body = NULL;
}

const char *ward_cas_error_text(const struct ward_cas_resp *r)
{
	const char *e = json_string_value(json_object_get(r->body, "error"));
	return e ? e : "the CAS gave no reason";
}
