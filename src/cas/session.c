/* session.c: see session.h. */
#include "cas/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cas/hw_decision.h"
#include "cas/proto.h"
#ifdef WARD_CAS_HAVE_POLICY
#include "policy/policy.h"
#endif
#include "core/crypto.h"
#include "core/util.h"

#define SECRET_SIZE_MAX 4096

#define bad ward_fail /* src/core/util.h */

static int is_hex64(const char *s)
{
	uint8_t b[32];
	return s != NULL && strlen(s) == 64 && ward_unhex(s, b, 32) == 0;
}

static int is_hex96(const char *s)
{
	uint8_t b[48];
	return s != NULL && strlen(s) == 96 && ward_unhex(s, b, 48) == 0;
}

static const char *const secret_kinds[] = { "ascii", "hex", "binary", "private-key", "x509", "x509-ca" };
static const char *const tolerations[] = { "simulation", "debug-mode", "outdated-tcb", "hyperthreading",
					   "insecure-igpu", "software-hardening-needed", "insecure-configuration" };

static int in_list(const char *s, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, l[i]) == 0)
			return 1;
	return 0;
}

static int check_policy_list(json_t *ap, const char *which, char *err, size_t errlen)
{
	json_t *l = json_object_get(ap, which), *e;
	size_t i;
	if (l == NULL)
		return 0;
	if (!json_is_array(l))
		return bad(err, errlen, "access_policy.%s: must be a list", which);
	json_array_foreach(l, i, e) {
		const char *s = json_string_value(e);
		if (s == NULL || !(strcmp(s, "CREATOR") == 0 || strcmp(s, "ANY") == 0 ||
				   strcmp(s, "NONE") == 0 || is_hex64(s)))
			return bad(err, errlen,
				   "access_policy.%s[%zu]: must be CREATOR, ANY, NONE or a 64-hex-digit client key hash",
				   which, i);
	}
	return 0;
}

static int check_strmap(json_t *m, const char *where, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	if (m == NULL)
		return 0;
	if (!json_is_object(m))
		return bad(err, errlen, "%s: must be a map of names to strings", where);
	json_object_foreach(m, k, v) {
		if (k[0] == 0 || strchr(k, '=') != NULL)
			return bad(err, errlen, "%s: invalid variable name '%s'", where, k);
		if (!json_is_string(v))
			return bad(err, errlen, "%s.%s: must be a string", where, k);
	}
	return 0;
}

static int check_service(json_t *s, size_t i, char *err, size_t errlen)
{
	json_t *m = json_object_get(s, "mrenclaves"), *e, *c, *vols, *v;
	const char *name = json_string_value(json_object_get(s, "name"));
	size_t j;

	if (!json_is_object(s))
		return bad(err, errlen, "services[%zu]: must be a map", i);
	if (!ward_cas_name_ok(name))
		return bad(err, errlen, "services[%zu].name: missing or invalid (letters, digits, '_', '.', '-'; at most 128)", i);
	if (m != NULL && !json_is_array(m))
		return bad(err, errlen, "services[%zu].mrenclaves: must be a list of enclave hashes", i);
	if (json_array_size(m) == 0 && !json_is_string(json_object_get(json_object_get(s, "sgx"), "mrsigner")) &&
	    !json_is_string(json_object_get(json_object_get(s, "tdx"), "mrtd")) &&
	    !json_is_string(json_object_get(json_object_get(s, "snp"), "measurement")))
		return bad(err, errlen, "services[%zu].mrenclaves: must be a non-empty list of enclave hashes (or pin sgx.mrsigner, tdx.mrtd or snp.measurement)", i);
	json_array_foreach(m, j, e) {
		if (!is_hex64(json_string_value(e)) && !is_hex96(json_string_value(e)))
			return bad(err, errlen, "services[%zu].mrenclaves[%zu]: must be 64 hex digits (see `ward measure`; SGX MRENCLAVE) or 96 (TDX MRTD, SEV-SNP measurement)", i, j);
	}
	c = json_object_get(s, "command");
	if (c != NULL && !json_is_string(c)) {
		if (!json_is_array(c))
			return bad(err, errlen, "services[%zu].command: must be a string or a list of strings", i);
		json_array_foreach(c, j, e) if (!json_is_string(e))
			return bad(err, errlen, "services[%zu].command[%zu]: must be a string", i, j);
	}
	char where[64];
	snprintf(where, sizeof(where), "services[%zu].environment", i);
	if (check_strmap(json_object_get(s, "environment"), where, err, errlen) != 0)
		return -1;
	e = json_object_get(s, "pwd");
	if (e != NULL && (!json_is_string(e) || json_string_value(e)[0] != '/'))
		return bad(err, errlen, "services[%zu].pwd: must be an absolute path", i);
	vols = json_object_get(s, "volumes");
	if (vols != NULL && (!json_is_array(vols) || json_array_size(vols) > WARD_CAS_VOLUMES_MAX))
		return bad(err, errlen, "services[%zu].volumes: must be a list of at most %d volumes", i, WARD_CAS_VOLUMES_MAX);
	json_array_foreach(vols, j, v) {
		const char *p = json_string_value(json_object_get(v, "path"));
		json_t *k = json_object_get(v, "key"), *t = json_object_get(v, "tag");
		if (!ward_cas_name_ok(json_string_value(json_object_get(v, "name"))))
			return bad(err, errlen, "services[%zu].volumes[%zu].name: missing or invalid", i, j);
		if (p == NULL || p[0] != '/')
			return bad(err, errlen, "services[%zu].volumes[%zu].path: must be an absolute path", i, j);
		if (k != NULL && !is_hex64(json_string_value(k)))
			return bad(err, errlen, "services[%zu].volumes[%zu].key: must be 64 hex digits", i, j);
		if (t != NULL && !ward_cas_tag_ok(json_string_value(t)))
			return bad(err, errlen, "services[%zu].volumes[%zu].tag: must be hex (at most %d digits)", i, j, WARD_CAS_TAG_HEX_MAX);
	}
	return 0;
}

int cas_session_validate(json_t *doc, char *err, size_t errlen)
{
	json_t *svcs, *secs, *e, *ap, *sec, *tol;
	size_t i;

	if (!json_is_object(doc))
		return bad(err, errlen, "session: must be a map");
	if (!ward_cas_name_ok(json_string_value(json_object_get(doc, "name"))))
		return bad(err, errlen, "name: missing or invalid (letters, digits, '_', '.', '-'; at most 128)");
	e = json_object_get(doc, "predecessor");
	if (e != NULL && !json_is_null(e) && !is_hex64(json_string_value(e)))
		return bad(err, errlen, "predecessor: must be the 64-hex-digit hash of the previous version");
	ap = json_object_get(doc, "access_policy");
	if (ap != NULL) {
		if (!json_is_object(ap))
			return bad(err, errlen, "access_policy: must be a map with 'read' and 'update'");
		if (check_policy_list(ap, "read", err, errlen) || check_policy_list(ap, "update", err, errlen))
			return -1;
	}
	svcs = json_object_get(doc, "services");
	if (svcs != NULL && !json_is_array(svcs))
		return bad(err, errlen, "services: must be a list");
	json_array_foreach(svcs, i, e) {
		if (check_service(e, i, err, errlen) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(json_array_get(svcs, j), "name")),
				   json_string_value(json_object_get(e, "name"))) == 0)
				return bad(err, errlen, "services[%zu].name: '%s' is defined twice", i,
					   json_string_value(json_object_get(e, "name")));
	}
	secs = json_object_get(doc, "secrets");
	if (secs != NULL && !json_is_array(secs))
		return bad(err, errlen, "secrets: must be a list");
	json_array_foreach(secs, i, sec) {
		const char *kind = json_string_value(json_object_get(sec, "kind"));
		json_t *size = json_object_get(sec, "size"), *val = json_object_get(sec, "value");
		if (!ward_cas_name_ok(json_string_value(json_object_get(sec, "name"))))
			return bad(err, errlen, "secrets[%zu].name: missing or invalid", i);
		if (kind == NULL || !in_list(kind, secret_kinds, WARD_ARRAY_LEN(secret_kinds)))
			return bad(err, errlen, "secrets[%zu].kind: must be one of ascii, hex, binary, private-key, x509, x509-ca", i);
		if (size != NULL && (!json_is_integer(size) || json_integer_value(size) < 1 ||
				     json_integer_value(size) > SECRET_SIZE_MAX))
			return bad(err, errlen, "secrets[%zu].size: must be an integer from 1 to %d", i, SECRET_SIZE_MAX);
		if (val != NULL && !json_is_string(val))
			return bad(err, errlen, "secrets[%zu].value: must be a string", i);
	}
	tol = json_object_get(json_object_get(json_object_get(doc, "security"), "attestation"), "tolerate");
	if (tol != NULL && !json_is_array(tol))
		return bad(err, errlen, "security.attestation.tolerate: must be a list");
	json_array_foreach(tol, i, e) {
		if (!json_is_string(e) || !in_list(json_string_value(e), tolerations, WARD_ARRAY_LEN(tolerations)))
			return bad(err, errlen, "security.attestation.tolerate[%zu]: unknown toleration (known: simulation, debug-mode, outdated-tcb, hyperthreading, insecure-igpu, software-hardening-needed, insecure-configuration)", i);
	}
	return 0;
}

int cas_session_hash(json_t *doc, char out[65])
{
#ifdef WARD_CAS_HAVE_POLICY
	{
		char e[256];
		struct ward_policy *p = ward_policy_parse_jansson(doc, "session", e, sizeof(e));
		int r = p != NULL ? ward_policy_hash(p, out) : -1;
		ward_policy_free(p);
		if (p != NULL)
			return r;
	}
#endif
	uint8_t h[32];
	char *txt = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	int r;
	if (txt == NULL)
		return -1;
	r = ward_sha256(txt, strlen(txt), h);
	ward_wipe(txt, strlen(txt));
	free(txt);
	if (r == 0)
		ward_hex(h, 32, out);
	return r;
}

int cas_session_allowed(json_t *doc, const char *which, const char *creator, const char *client)
{
	json_t *l = json_object_get(json_object_get(doc, "access_policy"), which), *e;
	size_t i;

	if (client == NULL)
		return 0;
	if (l == NULL)
		return strcmp(creator, client) == 0;
	json_array_foreach(l, i, e) {
		if (strcmp(json_string_value(e), "NONE") == 0)
			return 0; /* NONE wins over every other entry */
	}
	json_array_foreach(l, i, e) {
		const char *s = json_string_value(e);
		if (strcmp(s, "ANY") == 0)
			return 1;
		if (strcmp(s, "CREATOR") == 0 && strcmp(creator, client) == 0)
			return 1;
		if (strcasecmp(s, client) == 0)
			return 1;
	}
	return 0;
}

json_t *cas_session_redacted(json_t *doc)
{
	json_t *c = json_deep_copy(doc), *e, *v;
	size_t i, j;
	if (c == NULL)
		return NULL;
	json_array_foreach(json_object_get(c, "secrets"), i, e) {
		if (json_object_get(e, "value") != NULL)
			json_object_set_new(e, "value", json_string("<redacted>"));
	}
	json_array_foreach(json_object_get(c, "services"), i, e) {
		json_array_foreach(json_object_get(e, "volumes"), j, v) {
			if (json_object_get(v, "key") != NULL)
				json_object_set_new(v, "key", json_string("<redacted>"));
		}
	}
	return c;
}

/* --- generated material --- */

static json_t *rand_hex(size_t n)
{
	uint8_t b[SECRET_SIZE_MAX];
	char h[2 * SECRET_SIZE_MAX + 1];
	json_t *r;
	if (n > SECRET_SIZE_MAX || ward_random(b, n) != 0)
		return NULL;
	ward_hex(b, n, h);
	r = json_string(h);
	ward_wipe(b, n);
	ward_wipe(h, sizeof(h));
	return r;
}

static json_t *rand_ascii(size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char s[SECRET_SIZE_MAX + 1];
	json_t *r;
	for (size_t i = 0; i < n; i++) {
		uint8_t b;
		do {
			if (ward_random(&b, 1) != 0)
				return NULL;
		} while (b >= 248); /* 248 = 4 * 62: no modulo bias */
		s[i] = set[b % 62];
	}
	s[n] = 0;
	r = json_string(s);
	ward_wipe(s, sizeof(s));
	return r;
}

static json_t *rand_b64(size_t n)
{
	uint8_t b[SECRET_SIZE_MAX];
	char s[4 * (SECRET_SIZE_MAX / 3 + 1) + 1];
	json_t *r;
	if (ward_random(b, n) != 0)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, b, (int)n);
	r = json_string(s);
	ward_wipe(b, sizeof(b));
	ward_wipe(s, sizeof(s));
	return r;
}

static json_t *bio_string(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	json_t *r = n > 0 ? json_stringn(p, (size_t)n) : NULL;
	return r;
}

/* The doc's secret object named name, or NULL. */
static json_t *doc_secret(json_t *doc, const char *name)
{
	json_t *sec;
	size_t i;
	json_array_foreach(json_object_get(doc, "secrets"), i, sec) {
		if (strcmp(json_string_value(json_object_get(sec, "name")), name) == 0)
			return sec;
	}
	return NULL;
}

/* PEM text of a secret (generated in secs, or explicit in the doc) and, for
 * certificates, of its key. NULL when absent. */
static const char *secret_pem(json_t *doc, json_t *secs, const char *name, const char **key)
{
	json_t *g = json_object_get(secs, name), *d = doc_secret(doc, name);
	*key = NULL;
	if (g != NULL) {
		*key = json_string_value(json_object_get(g, "key"));
		return json_string_value(json_object_get(g, "value"));
	}
	if (d != NULL && json_is_string(json_object_get(d, "value"))) {
		*key = json_string_value(json_object_get(d, "value")); /* cert and key in one PEM text */
		return *key;
	}
	return NULL;
}

static void *pem_read(const char *pem, int want_key)
{
	BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
	void *r = NULL;
	if (b != NULL)
		r = want_key ? (void *)PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)
			     : (void *)PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return r;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int r = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

/* A private key (P-256, or the named private-key secret) and, for x509 and
 * x509-ca, a certificate: subject CN common_name (default: the name),
 * valid_days (default 365), DNS names, issued by the named x509-ca secret or
 * self-signed. Returns {"value": PEM, "key": key PEM, "chain": issuer PEM}
 * (value is the key for private-key, the certificate otherwise). */
static json_t *gen_pki(json_t *doc, json_t *secs, json_t *sec, const char *kind)
{
	const char *name = json_string_value(json_object_get(sec, "name"));
	const char *cn = json_string_value(json_object_get(sec, "common_name"));
	const char *keyname = json_string_value(json_object_get(sec, "private_key"));
	const char *issuer = json_string_value(json_object_get(sec, "issuer"));
	json_t *days = json_object_get(sec, "valid_days"), *dns, *e, *r = NULL;
	int ca = strcmp(kind, "x509-ca") == 0, cert = strcmp(kind, "private-key") != 0;
	EVP_PKEY *k = NULL, *ik = NULL;
	X509 *x = NULL, *ix = NULL;
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	const char *ipem = NULL, *ikey = NULL;
	uint8_t serial[16];
	size_t i;

	if (kb == NULL || cb == NULL)
		goto out;
	if (keyname != NULL) {
		const char *kp, *dummy;
		kp = secret_pem(doc, secs, keyname, &dummy);
		k = pem_read(kp, 1);
	} else {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	}
	if (k == NULL || PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	if (!cert) {
		r = json_pack("{s:o}", "value", bio_string(kb));
		goto out;
	}
	if (issuer != NULL) {
		ipem = secret_pem(doc, secs, issuer, &ikey);
		ix = pem_read(ipem, 0);
		ik = pem_read(ikey, 1);
		if (ix == NULL || ik == NULL)
			goto out;
	}
	x = X509_new();
	if (x == NULL || ward_random(serial, sizeof(serial)) != 0)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	if (X509_set_version(x, 2) != 1 || X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * (days ? (long)json_integer_value(days) : 365)) == NULL ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				       (const unsigned char *)(cn ? cn : name), -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, ix ? X509_get_subject_name(ix) : X509_get_subject_name(x)) != 1 ||
	    X509_set_pubkey(x, k) != 1 ||
	    add_ext(x, ix, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") != 0 ||
	    add_ext(x, ix, NID_subject_key_identifier, "hash") != 0)
		goto out;
	dns = json_object_get(sec, "dns");
	if (json_array_size(dns) > 0) {
		char san[4096] = "";
		size_t used = 0;
		json_array_foreach(dns, i, e) {
			int n = snprintf(san + used, sizeof(san) - used, "%sDNS:%s", i ? "," : "", json_string_value(e));
			if (n < 0 || (size_t)n >= sizeof(san) - used)
				goto out;
			used += (size_t)n;
		}
		if (add_ext(x, ix, NID_subject_alt_name, san) != 0)
			goto out;
	}
	if (X509_sign(x, ik ? ik : k, EVP_sha256()) <= 0 || PEM_write_bio_X509(cb, x) != 1)
		goto out;
	r = json_pack("{s:o, s:o}", "value", bio_string(cb), "key", bio_string(kb));
	if (r != NULL && ix != NULL) {
		BIO *chb = BIO_new(BIO_s_mem());
		if (chb == NULL || PEM_write_bio_X509(chb, ix) != 1) {
			BIO_free(chb);
			json_decref(r);
			r = NULL;
			goto out;
		}
		json_object_set_new(r, "chain", bio_string(chb));
		BIO_free(chb);
	}
out:
	EVP_PKEY_free(k);
	EVP_PKEY_free(ik);
	X509_free(x);
	X509_free(ix);
	BIO_free(kb);
	BIO_free(cb);
	return r;
}

/* Generates one secret: {"value": ...} (+ "key", "chain" for certificates). */
static json_t *gen_secret(json_t *doc, json_t *secs, json_t *sec, const char *kind, size_t size)
{
	json_t *v = NULL;
	if (strcmp(kind, "ascii") == 0)
		v = rand_ascii(size);
	else if (strcmp(kind, "hex") == 0)
		v = rand_hex(size);
	else if (strcmp(kind, "binary") == 0)
		v = rand_b64(size);
	else
		return gen_pki(doc, secs, sec, kind);
	return v ? json_pack("{s:o}", "value", v) : NULL;
}

static int gen_pass(const char *kind)
{
	if (strcmp(kind, "x509") == 0)
		return 2;
	return strcmp(kind, "x509-ca") == 0 ? 1 : 0;
}

json_t *cas_session_state(json_t *doc, json_t *prev_state, char *err, size_t errlen)
{
	json_t *st = json_pack("{s:{}, s:{}}", "secrets", "volume_keys");
	json_t *secs = json_object_get(st, "secrets"), *vk = json_object_get(st, "volume_keys");
	json_t *psecs = json_object_get(prev_state, "secrets"), *pvk = json_object_get(prev_state, "volume_keys");
	json_t *e, *svc, *v;
	size_t i, j;

	if (st == NULL) {
		bad(err, errlen, "out of memory");
		return NULL;
	}
	/* three passes: keys and plain secrets, then CAs, then certificates
	 * (which may name a private-key secret and an x509-ca issuer) */
	for (int pass = 0; pass < 3; pass++) {
		json_array_foreach(json_object_get(doc, "secrets"), i, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			const char *kind = json_string_value(json_object_get(e, "kind"));
			json_t *size = json_object_get(e, "size"), *prev, *val;
			size_t n = size ? (size_t)json_integer_value(size) : 32;

			if (json_object_get(e, "value") != NULL || gen_pass(kind) != pass)
				continue;
			prev = json_object_get(psecs, name);
			if (prev != NULL && strcmp(json_string_value(json_object_get(prev, "kind")), kind) == 0 &&
			    json_integer_value(json_object_get(prev, "size")) == (json_int_t)n) {
				json_object_set(secs, name, prev);
				continue;
			}
			val = gen_secret(doc, secs, e, kind, n);
			if (val == NULL) {
				json_decref(st);
				bad(err, errlen, "secrets: cannot generate secret '%s' of kind '%s' (its issuer must be an x509-ca secret and its private_key a private-key secret)", name, kind);
				return NULL;
			}
			json_object_set_new(val, "kind", json_string(kind));
			json_object_set_new(val, "size", json_integer((json_int_t)n));
			json_object_set_new(secs, name, val);
		}
	}
	json_array_foreach(json_object_get(doc, "services"), i, svc) {
		json_array_foreach(json_object_get(svc, "volumes"), j, v) {
			const char *name = json_string_value(json_object_get(v, "name"));
			const char *vkind = json_string_value(json_object_get(v, "kind"));
			if (json_object_get(v, "key") != NULL || json_object_get(vk, name) != NULL ||
			    (vkind != NULL && strcmp(vkind, "ephemeral") == 0))
				continue;
			json_t *k = json_object_get(pvk, name);
			if (k != NULL)
				json_object_set(vk, name, k);
			else if ((k = rand_hex(32)) != NULL)
				json_object_set_new(vk, name, k);
			else {
				json_decref(st);
				bad(err, errlen, "cannot generate a volume key");
				return NULL;
			}
		}
	}
	return st;
}

static const char *volume_tag_in(json_t *doc, const char *vol)
{
	json_t *svc, *v;
	size_t i, j;
	json_array_foreach(json_object_get(doc, "services"), i, svc) {
		json_array_foreach(json_object_get(svc, "volumes"), j, v) {
			if (strcmp(json_string_value(json_object_get(v, "name")), vol) == 0 &&
			    json_is_string(json_object_get(v, "tag")))
				return json_string_value(json_object_get(v, "tag"));
		}
	}
	return NULL;
}

json_t *cas_session_pinned_tags(json_t *doc, json_t *prev_doc)
{
	json_t *out = json_object(), *svc, *v;
	size_t i, j;
	json_array_foreach(json_object_get(doc, "services"), i, svc) {
		json_array_foreach(json_object_get(svc, "volumes"), j, v) {
			const char *name = json_string_value(json_object_get(v, "name"));
			const char *t = json_string_value(json_object_get(v, "tag"));
			const char *pt = prev_doc ? volume_tag_in(prev_doc, name) : NULL;
			if (t != NULL && (pt == NULL || strcasecmp(pt, t) != 0))
				json_object_set_new(out, name, json_string(t));
		}
	}
	return out;
}

json_t *cas_session_service(json_t *doc, const char *svc)
{
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(doc, "services"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "name")), svc) == 0)
			return e;
	}
	return NULL;
}

int cas_session_tolerates(json_t *doc, const char *what)
{
	json_t *e;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(json_object_get(doc, "security"), "attestation"), "tolerate"), i, e) {
		if (strcmp(json_string_value(e), what) == 0)
			return 1;
	}
	return 0;
}

int cas_session_match_measurement(json_t *svc, const uint8_t *m, size_t n, char *list, size_t listlen)
{
	json_t *e;
	size_t i, used = 0;
	list[0] = 0;
	json_array_foreach(json_object_get(svc, "mrenclaves"), i, e) {
		const char *h = json_string_value(e);
		uint8_t want[48];
		if (h == NULL || strlen(h) != 2 * n)
			continue; /* a measurement of another kind (64 or 96 hex digits) */
		if (ward_unhex(h, want, n) == 0 && ward_ct_equal(want, m, n))
			return 1;
		int w = snprintf(list + used, listlen - used, "%s%s", used ? ", " : "", h);
		if (w > 0 && (size_t)w < listlen - used)
			used += (size_t)w;
	}
	if (used == 0)
		snprintf(list, listlen, "none: the service lists no %zu-hex-digit value in mrenclaves", 2 * n);
	return 0;
}

int cas_session_check_evidence(json_t *doc, const char *session, const char *svc,
			       const struct cas_evidence *ev, char *reason, size_t reasonlen)
{
	json_t *s = cas_session_service(doc, svc);
	char got[97], list[1024];

	if (s == NULL)
		return bad(reason, reasonlen, "attestation denied by CAS: session '%s' has no service '%s'", session, svc);
	if (!ev->simulation)
		return cas_hw_decide(doc, s, session, svc, ev, reason, reasonlen);
	ward_hex(ev->measurement, 32, got);
	if (!cas_session_match_measurement(s, ev->measurement, 32, list, sizeof(list)))
		return bad(reason, reasonlen, "attestation denied by CAS: enclave hash %s not in session '%s' service '%s' (expected one of: %s)",
			   got, session, svc, list);
	if (!cas_session_tolerates(doc, "simulation"))
		return bad(reason, reasonlen, "attestation denied by CAS: simulation evidence not tolerated by session '%s' (add 'simulation' to security.attestation.tolerate)", session);
	if (ev->debug && !cas_session_tolerates(doc, "debug-mode"))
		return bad(reason, reasonlen, "attestation denied by CAS: debug enclave not tolerated by session '%s' (add 'debug-mode' to security.attestation.tolerate)", session);
	return 0;
}

static json_t *split_command(const char *cmd)
{
	json_t *a = json_array();
	const char *p = cmd;
	while (a != NULL && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *q = p;
		while (*q && *q != ' ' && *q != '\t')
			q++;
		if (q > p)
			json_array_append_new(a, json_stringn(p, (size_t)(q - p)));
		p = q;
	}
	return a;
}

json_t *cas_session_config(json_t *doc, json_t *state, const char *session, const char *svc,
			   const char *hash, json_t *tags, json_t *pending)
{
	json_t *s = cas_session_service(doc, svc), *cmd, *cfg, *vols, *secs, *e, *inj;
	size_t i;

	if (s == NULL)
		return NULL;
	cmd = json_object_get(s, "command");
	cfg = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "type", "config", "session", session,
			"service", svc, "session_hash", hash,
			"argv", cmd == NULL ? json_array() : json_is_string(cmd) ? split_command(json_string_value(cmd)) : json_deep_copy(cmd),
			"env", json_object_get(s, "environment") ? json_deep_copy(json_object_get(s, "environment")) : json_object(),
			"pwd", json_object_get(s, "pwd") ? json_string_value(json_object_get(s, "pwd")) : "/");
	if (cfg == NULL)
		return NULL;
	vols = json_array();
	json_array_foreach(json_object_get(s, "volumes"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *k = json_object_get(e, "key");
		if (k == NULL)
			k = json_object_get(json_object_get(state, "volume_keys"), name);
		const char *t = json_string_value(json_object_get(tags, name));
		const char *p = json_string_value(json_object_get(pending, name));
		const char *kind = json_string_value(json_object_get(e, "kind"));
		json_t *vol = json_pack("{s:s, s:s, s:O, s:s, s:s}", "name", name, "path",
					json_string_value(json_object_get(e, "path")), "key", k ? k : json_null(),
					"tag", t ? t : "", "kind", kind ? kind : "encrypted");
		if (vol != NULL && pending != NULL)
			json_object_set_new(vol, "pending", json_string(p ? p : ""));
		if (vol != NULL && json_is_true(json_object_get(e, "read_only")))
			json_object_set_new(vol, "read_only", json_true());
		json_array_append_new(vols, vol);
	}
	json_object_set_new(cfg, "volumes", vols);
	secs = json_object();
	json_array_foreach(json_object_get(doc, "secrets"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *v = json_object_get(e, "value");
		if (v == NULL)
			v = json_object_get(json_object_get(json_object_get(state, "secrets"), name), "value");
		json_t *g = json_object_get(json_object_get(state, "secrets"), name), *out;
		if (v == NULL)
			continue;
		out = json_pack("{s:O, s:O}", "kind", json_object_get(e, "kind"), "value", v);
		if (out != NULL && json_object_get(e, "value") == NULL && json_object_get(g, "key") != NULL)
			json_object_set(out, "key", json_object_get(g, "key"));
		if (out != NULL && json_object_get(e, "value") == NULL && json_object_get(g, "chain") != NULL)
			json_object_set(out, "chain", json_object_get(g, "chain"));
		json_object_set_new(secs, name, out);
	}
	json_object_set_new(cfg, "secrets", secs);
	inj = json_object_get(s, "injection_files");
	if (inj == NULL)
		inj = json_object_get(doc, "injection_files");
	json_object_set_new(cfg, "injection_files", inj ? json_deep_copy(inj) : json_array());
	return cfg;
}
