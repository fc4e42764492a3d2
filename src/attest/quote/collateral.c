/*
 * collateral.c: loading Intel DCAP collateral.
 *
 * Two shapes: a directory of PCS files (classified by content) or a
 * dcap-qvl QuoteCollateralV3 JSON object. The TCB info and QE identity
 * signatures cover the exact bytes of the inner JSON object, so the raw
 * text is kept: from a PCS body it is cut out by ward_json_inner_object()
 * (a string-aware brace matcher; jansson parses the same text and the two
 * results must agree), in dcap-qvl JSON it is the string value itself.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "attest/quote/collateral.h"
#include "attest/quote/vcache.h"
#include "attest/quote/x509util.h"
#include "core/crypto.h"
#include "core/util.h"

#define MAX_COLLATERAL_FILE (1u << 20)
#define MAX_DIR_FILES 64

#define setf ward_fail /* src/core/util.h */

/* Skips a JSON string starting at body[i] == '"'; returns the index after
 * the closing quote, or len when unterminated. */
static size_t skip_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (b[i] == '\\')
			i++;
		else if (b[i] == '"')
			return i + 1;
	}
	return len;
}

int ward_json_inner_object(const char *b, size_t len, const char *key, size_t *start, size_t *end)
{
	size_t i = 0, klen = strlen(key);
	int depth = 0;

	while (i < len) {
		char ch = b[i];
		if (ch == '"') {
			size_t s = i, e = skip_string(b, len, i);
			if (e >= len)
				return -1;
			i = e;
			if (depth != 1)
				continue;
			size_t j = i;
			while (j < len && (b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t'))
				j++;
			if (j >= len || b[j] != ':')
				continue;
			if (e - s - 2 != klen || memcmp(b + s + 1, key, klen) != 0)
				continue;
			j++;
			while (j < len && (b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t'))
				j++;
			if (j >= len || b[j] != '{')
				return -1;
			/* matching brace */
			int d = 0;
			for (size_t k = j; k < len; k++) {
				if (b[k] == '"') {
					k = skip_string(b, len, k) - 1;
					if (k >= len - 1)
						return -1;
				} else if (b[k] == '{' || b[k] == '[') {
					d++;
				} else if (b[k] == '}' || b[k] == ']') {
					if (--d == 0) {
						*start = j;
						*end = k + 1;
						return 0;
					}
				}
			}
			return -1;
		}
		if (ch == '{' || ch == '[')
			depth++;
		else if (ch == '}' || ch == ']')
			depth--;
		i++;
	}
	return -1;
}

static int unhex_n(const char *s, uint8_t *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return -1;
	return ward_unhex(s, out, n);
}

/* Sets raw text + parsed object + signature of the TCB info or QE identity. */
static int set_signed(struct ward_collateral *c, int is_tcb, const char *raw, size_t rawlen, const char *sighex,
		      const char *name, char *err, size_t errlen)
{
	const char *what = is_tcb ? "TCB info" : "QE identity";
	char **dst = is_tcb ? &c->tcb_raw : &c->qe_raw;
	json_error_t je;
	json_t *obj;

	if (*dst)
		return setf(err, errlen, "%s: a second %s (only one is allowed)", name, what);
	obj = json_loadb(raw, rawlen, JSON_REJECT_DUPLICATES, &je);
	if (!obj || !json_is_object(obj)) {
		json_decref(obj);
		return setf(err, errlen, "%s: %s is not a JSON object (%s)", name, what, je.text);
	}
	uint8_t sig[64];
	if (unhex_n(sighex, sig, 64) != 0) {
		json_decref(obj);
		return setf(err, errlen, "%s: %s signature is not 128 hex digits", name, what);
	}
	*dst = malloc(rawlen + 1);
	if (!*dst) {
		json_decref(obj);
		return setf(err, errlen, "out of memory");
	}
	memcpy(*dst, raw, rawlen);
	(*dst)[rawlen] = 0;
	if (is_tcb) {
		c->tcb_len = rawlen;
		c->tcb = obj;
		memcpy(c->tcb_sig, sig, 64);
	} else {
		c->qe_len = rawlen;
		c->qe = obj;
		memcpy(c->qe_sig, sig, 64);
	}
	return 0;
}

static int add_crl(struct ward_collateral *c, X509_CRL *crl, const char *name, char *err, size_t errlen)
{
	char cn[128] = "";
	X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_commonName, cn, sizeof(cn));
	X509_CRL **slot = strcmp(cn, "Intel SGX Root CA") == 0 ? &c->root_crl : &c->pck_crl;
	if (*slot) {
		X509_CRL_free(crl);
		return setf(err, errlen, "%s: a second CRL issued by '%s'", name, cn);
	}
	*slot = crl;
	return 0;
}

static int add_certs(struct ward_collateral *c, const uint8_t *p, size_t len, const char *name, char *err,
		     size_t errlen)
{
	char e[160];
	STACK_OF(X509) *sk = ward_pem_certs(p, len, e, sizeof(e));
	if (!sk)
		return setf(err, errlen, "%s: %s", name, e);
	while (sk_X509_num(sk) > 0) {
		X509 *x = sk_X509_shift(sk);
		if (!sk_X509_push(c->certs, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			return setf(err, errlen, "out of memory");
		}
	}
	sk_X509_free(sk);
	if (sk_X509_num(c->certs) > 64)
		return setf(err, errlen, "%s: too many certificates", name);
	return 0;
}

static int add_crl_hex(struct ward_collateral *c, const char *hex, const char *name, const char *field, char *err,
		       size_t errlen)
{
	size_t n = hex ? strlen(hex) : 0;
	uint8_t *der;
	X509_CRL *crl;
	const unsigned char *p;

	if (n == 0 || n % 2 || n / 2 > MAX_COLLATERAL_FILE)
		return setf(err, errlen, "%s: %s is not hex of a DER CRL", name, field);
	der = malloc(n / 2);
	if (!der)
		return setf(err, errlen, "out of memory");
	if (ward_unhex(hex, der, n / 2) != 0) {
		free(der);
		return setf(err, errlen, "%s: %s is not hex of a DER CRL", name, field);
	}
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)(n / 2));
	if (!crl || p != der + n / 2) {
		X509_CRL_free(crl);
		free(der);
		ERR_clear_error();
		return setf(err, errlen, "%s: %s does not decode as a DER CRL", name, field);
	}
	free(der);
	return add_crl(c, crl, name, err, errlen);
}

static int add_qvl_json(struct ward_collateral *c, json_t *o, const char *name, char *err, size_t errlen)
{
	const char *t = json_string_value(json_object_get(o, "tcb_info"));
	const char *q = json_string_value(json_object_get(o, "qe_identity"));
	static const char *const chains[] = { "tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain" };

	if (!t || !q)
		return setf(err, errlen, "%s: dcap-qvl collateral needs string fields tcb_info and qe_identity", name);
	if (set_signed(c, 1, t, strlen(t), json_string_value(json_object_get(o, "tcb_info_signature")), name, err,
		       errlen) != 0 ||
	    set_signed(c, 0, q, strlen(q), json_string_value(json_object_get(o, "qe_identity_signature")), name, err,
		       errlen) != 0)
		return -1;
	if (add_crl_hex(c, json_string_value(json_object_get(o, "root_ca_crl")), name, "root_ca_crl", err, errlen) != 0 ||
	    add_crl_hex(c, json_string_value(json_object_get(o, "pck_crl")), name, "pck_crl", err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		const char *pem = json_string_value(json_object_get(o, chains[i]));
		if (pem && add_certs(c, (const uint8_t *)pem, strlen(pem), name, err, errlen) != 0)
			return -1;
	}
	return 0;
}

static int add_pcs_body(struct ward_collateral *c, const char *body, size_t len, json_t *o, const char *name,
			char *err, size_t errlen)
{
	int is_tcb = json_object_get(o, "tcbInfo") != NULL;
	const char *key = is_tcb ? "tcbInfo" : "enclaveIdentity";
	size_t s, e;

	if (ward_json_inner_object(body, len, key, &s, &e) != 0)
		return setf(err, errlen, "%s: cannot locate the \"%s\" object", name, key);
	/* the cut-out text must be exactly what jansson read */
	json_t *cut = json_loadb(body + s, e - s, 0, NULL);
	int same = cut && json_equal(cut, json_object_get(o, key));
	json_decref(cut);
	if (!same)
		return setf(err, errlen, "%s: the \"%s\" object is ambiguous", name, key);
	return set_signed(c, is_tcb, body + s, e - s, json_string_value(json_object_get(o, "signature")), name, err,
			  errlen);
}

int ward_collateral_add(struct ward_collateral *c, const char *name, const uint8_t *data, size_t len, char *err,
			size_t errlen)
{
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
		i++;
	if (i < len && data[i] == '{') {
		json_error_t je;
		json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
		int rc;
		if (!o || !json_is_object(o)) {
			json_decref(o);
			return setf(err, errlen, "%s: invalid JSON (line %d: %s)", name, je.line, je.text);
		}
		if (json_object_get(o, "tcbInfo") || json_object_get(o, "enclaveIdentity"))
			rc = add_pcs_body(c, (const char *)data, len, o, name, err, errlen);
		else if (json_object_get(o, "tcb_info"))
			rc = add_qvl_json(c, o, name, err, errlen);
		else
			rc = setf(err, errlen, "%s: JSON is neither an Intel PCS TCB info/QE identity nor dcap-qvl collateral",
				  name);
		json_decref(o);
		return rc;
	}
	if (data != NULL && len > 0 && memmem(data, len, "-----BEGIN X509 CRL-----", 24)) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!crl) {
			ERR_clear_error();
			return setf(err, errlen, "%s: PEM CRL does not decode", name);
		}
		return add_crl(c, crl, name, err, errlen);
	}
	if (len > 0 && memmem(data, len, "-----BEGIN CERTIFICATE-----", 27))
		return add_certs(c, data, len, name, err, errlen);
	{
		const unsigned char *p = data;
		X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl && p == data + len)
			return add_crl(c, crl, name, err, errlen);
		X509_CRL_free(crl);
		p = data;
		X509 *x = d2i_X509(NULL, &p, (long)len);
		if (x && p == data + len) {
			if (!sk_X509_push(c->certs, x)) {
				X509_free(x);
				return setf(err, errlen, "out of memory");
			}
			return 0;
		}
		X509_free(x);
		ERR_clear_error();
	}
	return setf(err, errlen, "%s: not collateral (expected PCS JSON, dcap-qvl JSON, a CRL or certificates)", name);
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct ward_collateral *c, const char *path, char *err, size_t errlen)
{
	DIR *d = opendir(path);
	char *names[MAX_DIR_FILES];
	size_t n = 0;
	int rc = 0;
	struct dirent *de;

	if (!d)
		return setf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == MAX_DIR_FILES) {
			rc = setf(err, errlen, "%s: more than %d files", path, MAX_DIR_FILES);
			break;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = setf(err, errlen, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(names[0]), cmpstr);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char full[4096];
		struct stat st;
		uint8_t *data;
		size_t len;
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (ward_read_file(full, MAX_COLLATERAL_FILE, &data, &len) != 0) {
			rc = setf(err, errlen, "cannot read %s: %s", full, strerror(errno));
			break;
		}
		rc = ward_collateral_add(c, names[i], data, len, err, errlen);
		free(data);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

void ward_collateral_free(struct ward_collateral *c)
{
	if (!c)
		return;
	free(c->tcb_raw);
	free(c->qe_raw);
	json_decref(c->tcb);
	json_decref(c->qe);
	X509_CRL_free(c->root_crl);
	X509_CRL_free(c->pck_crl);
	sk_X509_pop_free(c->certs, X509_free);
	free(c->cert_ids);
	ward_verify_cache_free(c->cache);
	free(c);
}

/* Identities of everything the verifier caches results for, and the cache. */
static int prepare(struct ward_collateral *c, char *err, size_t errlen)
{
	unsigned n = 0;
	int nc = sk_X509_num(c->certs);

	if (ward_sha256(c->tcb_raw, c->tcb_len, c->tcb_id) != 0 || ward_sha256(c->qe_raw, c->qe_len, c->qe_id) != 0 ||
	    (c->root_crl && X509_CRL_digest(c->root_crl, ward_md_sha256(), c->root_crl_id, &n) != 1) ||
	    (c->pck_crl && X509_CRL_digest(c->pck_crl, ward_md_sha256(), c->pck_crl_id, &n) != 1)) {
		ERR_clear_error();
		return setf(err, errlen, "cannot hash the collateral");
	}
	c->cert_ids = calloc(nc > 0 ? (size_t)nc : 1, 32);
	c->cache = ward_verify_cache_new();
	if (!c->cert_ids || !c->cache)
		return setf(err, errlen, "out of memory");
	for (int i = 0; i < nc; i++)
		if (ward_x509_id(sk_X509_value(c->certs, i), c->cert_ids[i]) != 0)
			return setf(err, errlen, "collateral certificate %d cannot be re-encoded", i + 1);
	return 0;
}

int ward_collateral_load(const char *path, struct ward_collateral **out, char *err, size_t errlen)
{
	struct ward_collateral *c = calloc(1, sizeof(*c));
	struct stat st;
	int rc;

	if (!c || !(c->certs = sk_X509_new_null())) {
		free(c);
		return setf(err, errlen, "out of memory");
	}
	if (stat(path, &st) != 0) {
		rc = setf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		rc = load_dir(c, path, err, errlen);
	} else {
		uint8_t *data;
		size_t len;
		const char *base = strrchr(path, '/');
		if (ward_read_file(path, MAX_COLLATERAL_FILE, &data, &len) != 0) {
			rc = setf(err, errlen, "cannot read %s: %s", path, errno == EFBIG ? "file too large" : strerror(errno));
		} else {
			rc = ward_collateral_add(c, base ? base + 1 : path, data, len, err, errlen);
			free(data);
		}
	}
	if (rc == 0 && !c->tcb_raw)
		rc = setf(err, errlen, "%s: no TCB info found", path);
	if (rc == 0 && !c->qe_raw)
		rc = setf(err, errlen, "%s: no QE identity found", path);
	if (rc == 0)
		rc = prepare(c, err, errlen);
	if (rc != 0) {
		ward_collateral_free(c);
		return -1;
	}
	*out = c;
	return 0;
}
