/* parse.c: validates a document tree into struct ward_policy (one validator
 * for YAML and JSON). Reference: docs/session-language.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/crypto.h"
#include "core/util.h"
#include "policy/check.h"
#include "policy/doc.h"
#include "policy/names.h"
#include "policy/placeholder.h"
#include "policy/policy.h"

#define MAX_SERVICES 256
#define MAX_SECRETS 1024
#define MAX_LIST 1024
#define MAX_SECRET_SIZE 65536u
#define DEFAULT_SECRET_SIZE 32u
#define DEFAULT_VALID_DAYS 365u
#define DEFAULT_FILE_MODE 0600u

static const char *const top_keys[] = {"name", "version", "predecessor", "access_policy", "services",
				       "secrets", "security", NULL};
static const char *const access_keys[] = {"read", "update", NULL};
static const char *const service_keys[] = {"name", "mrenclaves", "command", "environment", "pwd",
					   "volumes", "injection_files", "sgx", "tdx", "snp", NULL};
static const char *const volume_keys[] = {"name", "path", "kind", "key", "tag", "read_only", NULL};
static const char *const file_keys[] = {"path", "content", "mode", NULL};
static const char *const secret_keys[] = {"name", "kind", "size", "value", "issuer", "private_key",
					  "common_name", "dns", "valid_days", NULL};
static const char *const security_keys[] = {"attestation", NULL};
static const char *const attestation_keys[] = {"tolerate", "ignore_advisories", NULL};
static const char *const sgx_keys[] = {"mrsigner", "isvprodid", "isvsvn", NULL};
static const char *const tdx_keys[] = {"mrtd", "rtmr", NULL};
static const char *const snp_keys[] = {"measurement", "host_data", NULL};

struct st {
	struct pctx c;
	struct ward_policy *p;
	const struct ward_doc **secret_nodes;
};

/* ---- small helpers ---------------------------------------------------- */

static int one_of(struct pctx *c, const struct ward_doc *d, const char *path, const char *what,
		  const char *const *names, size_t n, size_t *idx)
{
	char *s;
	if (get_text(c, d, path, &s) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*idx = i;
			free(s);
			return 0;
		}
	const char *m = did_you_mean(s, names, n);
	char list[200] = "";
	for (size_t i = 0; i < n; i++) {
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
		if (i + 1 < n)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	if (m)
		pfail(c, d, path, "unknown %s '%.60s' (did you mean '%s'?)", what, s, m);
	else
		pfail(c, d, path, "unknown %s '%.60s' (expected one of: %s)", what, s, list);
	free(s);
	return -1;
}

static int opt_hex(struct pctx *c, const struct ward_doc *map, const char *path, const char *key,
		   size_t digits, const char *what, char **out)
{
	if (opt_text(c, map, path, key, out) < 0)
		return -1;
	if (!*out || hex_ok(*out, digits, 0))
		return 0;
	char p[PATH_MAX_LEN];
	path_key(p, path, key);
	size_t n = strlen(*out);
	free(*out);
	*out = NULL;
	return pfail(c, ward_doc_get(map, key), p, "expected %zu hex digits (%s), got %zu characters%s",
		     digits, what, n, n == digits ? " with a non-hex character" : "");
}

static int check_placeholders(struct st *st, const struct ward_doc *d, const char *path, const char *s)
{
	size_t pos = 0, len = strlen(s);
	struct ward_ph ph;
	const char *why = NULL;
	int r;
	while ((r = ward_ph_next(s, len, &pos, &ph, &why)) == 1) {
		const struct ward_policy_secret *sec = ward_policy_find_secret(st->p, ph.name);
		if (!sec) {
			const char *names[MAX_SECRETS];
			for (size_t i = 0; i < st->p->n_secrets; i++)
				names[i] = st->p->secrets[i].name;
			const char *m = did_you_mean(ph.name, names, st->p->n_secrets);
			if (m)
				return pfail(&st->c, d, path, "placeholder $$WARD::%s$$ names no secret (did you mean '%s'?)",
					     ph.name, m);
			return pfail(&st->c, d, path, "placeholder $$WARD::%s$$ names no secret; declare it under secrets",
				     ph.name);
		}
		if (!ward_ph_format_applies(sec->kind, ph.format))
			return pfail(&st->c, d, path, "format ':%s' does not apply to %s secret '%s' (%s)", ph.format_name,
				     ward_secret_kind_name(sec->kind), sec->name,
				     sec->kind == WARD_SECRET_PRIVATE_KEY ? "use :pem or :key"
				     : sec->kind == WARD_SECRET_X509 || sec->kind == WARD_SECRET_X509_CA
					     ? "use :crt, :key, :chain or :pem"
					     : "use :hex, :base64 or :binary");
	}
	if (r < 0)
		return pfail(&st->c, d, path, "malformed placeholder at offset %zu: %s (write $$WARD::NAME$$ or $$WARD::NAME:FORMAT$$)",
			     ph.start, why);
	return 0;
}

/* Shell-like splitting: blanks separate words; '...' is literal; "..." allows
 * \" \\ \$ \` escapes; a backslash outside quotes escapes the next character. */
static int split_command(const char *s, char ***argv_out, size_t *argc_out, const char **why)
{
	size_t len = strlen(s), argc = 0;
	char **argv = calloc(len / 2 + 2, sizeof(*argv));
	char *word = malloc(len + 1);
	size_t w = 0;
	int in_word = 0;
	if (!argv || !word) {
		free(argv);
		free(word);
		*why = "out of memory";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];
		if (ch == 0 || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (in_word) {
				word[w] = 0;
				if (!(argv[argc++] = strdup(word)))
					goto oom;
				w = 0;
				in_word = 0;
			}
			continue;
		}
		in_word = 1;
		if (ch == '\\') {
			if (i + 1 >= len) {
				*why = "trailing backslash";
				goto fail;
			}
			word[w++] = s[++i];
		} else if (ch == '\'') {
			const char *end = strchr(s + i + 1, '\'');
			if (!end) {
				*why = "unterminated single quote";
				goto fail;
			}
			for (const char *q = s + i + 1; q < end; q++)
				word[w++] = *q;
			i = (size_t)(end - s);
		} else if (ch == '"') {
			size_t j = i + 1;
			for (; j < len && s[j] != '"'; j++) {
				if (s[j] == '\\' && j + 1 < len && strchr("\"\\$`", s[j + 1]))
					j++;
				word[w++] = s[j];
			}
			if (j >= len) {
				*why = "unterminated double quote";
				goto fail;
			}
			i = j;
		} else {
			word[w++] = ch;
		}
	}
	free(word);
	*argv_out = argv;
	*argc_out = argc;
	return 0;
oom:
	*why = "out of memory";
fail:
	free(word);
	free_list(argv, argc);
	return -1;
}

static int env_name_ok(const char *s)
{
	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return strlen(s) <= 255;
}

static int cmp_env(const void *a, const void *b)
{
	return strcmp(((const struct ward_policy_env *)a)->key, ((const struct ward_policy_env *)b)->key);
}

/* ---- access_policy ---------------------------------------------------- */

static int parse_access_list(struct st *st, const struct ward_doc *map, const char *path, const char *key,
			     char ***out, size_t *n)
{
	struct pctx *c = &st->c;
	const struct ward_doc *d = map ? ward_doc_get(map, key) : NULL;
	char p[PATH_MAX_LEN];
	path_key(p, path, key);
	if (!d) {
		*out = calloc(1, sizeof(char *));
		if (!*out || !((*out)[0] = strdup("CREATOR")))
			return pfail(c, NULL, p, "out of memory");
		*n = 1;
		return 0;
	}
	if (get_text_list(c, d, p, 1, out, n) < 0)
		return -1;
	if (*n == 0)
		return pfail(c, d, p, "empty list; write [NONE] to allow nobody or [CREATOR] for the creator only");
	static const char *const words[] = {"CREATOR", "ANY", "NONE"};
	for (size_t i = 0; i < *n; i++) {
		char ip[PATH_MAX_LEN];
		path_idx(ip, p, i);
		char *s = (*out)[i];
		if (strcmp(s, "CREATOR") == 0 || strcmp(s, "ANY") == 0 || strcmp(s, "NONE") == 0) {
			if (strcmp(s, "NONE") == 0 && *n > 1)
				return pfail(c, d->items[i], ip, "NONE must be the only entry of the list");
			continue;
		}
		if (hex_ok(s, 64, 0))
			continue;
		char up[16] = "";
		for (size_t k = 0; k < sizeof(up) - 1 && s[k]; k++)
			up[k] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]);
		const char *m = strlen(s) >= 4 ? did_you_mean(up, words, 3) : NULL;
		if (m)
			return pfail(c, d->items[i], ip, "unknown entry '%.40s' (did you mean '%s'?)", s, m);
		return pfail(c, d->items[i], ip,
			     "expected CREATOR, ANY, NONE or a client identity (64 hex digits, see `ward session whoami`), got '%.40s'",
			     s);
	}
	return 0;
}

/* ---- secrets ---------------------------------------------------------- */

static int no_pass_cb(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1; /* never prompt: encrypted PEM keys are refused */
}

static int pem_ok(const char *s, int cert)
{
	BIO *b = BIO_new_mem_buf(s, -1);
	int ok = 0;
	if (!b)
		return 0;
	if (cert) {
		X509 *x = PEM_read_bio_X509(b, NULL, no_pass_cb, NULL);
		ok = x != NULL;
		X509_free(x);
	} else {
		EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_pass_cb, NULL);
		ok = k != NULL;
		EVP_PKEY_free(k);
	}
	BIO_free(b);
	ERR_clear_error();
	return ok;
}

/* Strict base64 (no blanks); returns the decoded length or -1. */
static long b64_len(const char *s)
{
	size_t n = strlen(s), pad = 0;
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '=') {
			if (i < n - 2)
				return -1;
			pad++;
			continue;
		}
		if (pad || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			     ch == '+' || ch == '/'))
			return -1;
	}
	return (long)(n / 4 * 3 - pad);
}

static int not_for_kind(struct st *st, const struct ward_doc *m, const char *path, const char *key,
			enum ward_secret_kind k)
{
	const struct ward_doc *d = ward_doc_get(m, key);
	if (!d)
		return 0;
	const char *applies = strcmp(key, "size") == 0 ? "ascii, hex and binary secrets"
			      : strcmp(key, "dns") == 0 ? "x509 secrets"
							  : "x509 and x509-ca secrets";
	for (size_t i = 0; i < m->n; i++)
		if (m->items[i] == d)
			return pfail(&st->c, m->keys[i], path, "'%s' does not apply to a %s secret (only to %s)", key,
				     ward_secret_kind_name(k), applies);
	return -1;
}

static int parse_secret(struct st *st, const struct ward_doc *d, const char *path,
			struct ward_policy_secret *s)
{
	struct pctx *c = &st->c;
	char p[PATH_MAX_LEN];
	size_t idx;
	if (expect_map(c, d, path) < 0 || check_keys(c, d, path, secret_keys, NULL) < 0)
		return -1;
	if (req_text(c, d, path, "name", &s->name) < 0)
		return -1;
	if (!name_ok(s->name))
		return pfail(c, ward_doc_get(d, "name"), path,
			     "invalid secret name '%.60s' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)", s->name);
	const struct ward_doc *kd = ward_doc_get(d, "kind");
	if (!kd)
		return pfail(c, d, path, "secret '%s' has no kind (ascii, hex, binary, private-key, x509 or x509-ca)",
			     s->name);
	path_key(p, path, "kind");
	if (one_of(c, kd, p, "secret kind", ward_names_secret_kind, WARD_SECRET_KINDS, &idx) < 0)
		return -1;
	s->kind = (enum ward_secret_kind)idx;
	int bytes = s->kind <= WARD_SECRET_BINARY;
	int cert = s->kind == WARD_SECRET_X509 || s->kind == WARD_SECRET_X509_CA;
	if (!bytes && not_for_kind(st, d, path, "size", s->kind) < 0)
		return -1;
	if (!cert && (not_for_kind(st, d, path, "issuer", s->kind) < 0 ||
		      not_for_kind(st, d, path, "private_key", s->kind) < 0 ||
		      not_for_kind(st, d, path, "common_name", s->kind) < 0 ||
		      not_for_kind(st, d, path, "valid_days", s->kind) < 0))
		return -1;
	if (s->kind != WARD_SECRET_X509 && not_for_kind(st, d, path, "dns", s->kind) < 0)
		return -1;

	uint64_t v = 0;
	const struct ward_doc *sd = ward_doc_get(d, "size");
	path_key(p, path, "size");
	if (sd && get_uint(c, sd, p, 1, MAX_SECRET_SIZE, &v) < 0)
		return -1;
	s->size = (uint32_t)v;
	if (opt_text(c, d, path, "value", &s->value) < 0)
		return -1;
	const struct ward_doc *vd = ward_doc_get(d, "value");
	path_key(p, path, "value");
	if (s->value) {
		size_t have = 0;
		const char *unit = "bytes";
		switch (s->kind) {
		case WARD_SECRET_ASCII:
			have = strlen(s->value);
			unit = "characters";
			if (have == 0 || have > MAX_SECRET_SIZE)
				return pfail(c, vd, p, "an ascii value must hold 1..%u characters", MAX_SECRET_SIZE);
			break;
		case WARD_SECRET_HEX:
			if (!hex_ok(s->value, 0, 2 * MAX_SECRET_SIZE) || !*s->value)
				return pfail(c, vd, p, "expected an even number of hex digits (0-9 a-f), 2..%u", 2 * MAX_SECRET_SIZE);
			have = strlen(s->value) / 2;
			break;
		case WARD_SECRET_BINARY: {
			long n = b64_len(s->value);
			if (n <= 0 || n > (long)MAX_SECRET_SIZE)
				return pfail(c, vd, p, "expected base64 (A-Z a-z 0-9 + /, '=' padding, no blanks) of 1..%u bytes",
					     MAX_SECRET_SIZE);
			have = (size_t)n;
			break;
		}
		case WARD_SECRET_PRIVATE_KEY:
			if (!pem_ok(s->value, 0))
				return pfail(c, vd, p, "not a PEM private key (unencrypted, '-----BEGIN PRIVATE KEY-----')");
			break;
		case WARD_SECRET_X509:
		case WARD_SECRET_X509_CA:
			if (!pem_ok(s->value, 1))
				return pfail(c, vd, p, "not a PEM certificate ('-----BEGIN CERTIFICATE-----')");
			break;
		}
		if (bytes) {
			if (s->size && s->size != have)
				return pfail(c, vd, p, "value holds %zu %s but size says %u", have, unit, s->size);
			s->size = (uint32_t)have;
		}
	} else if (bytes && !s->size) {
		s->size = DEFAULT_SECRET_SIZE;
	}
	if (cert) {
		if (opt_text(c, d, path, "issuer", &s->issuer) < 0 ||
		    opt_text(c, d, path, "private_key", &s->private_key) < 0 ||
		    opt_text(c, d, path, "common_name", &s->common_name) < 0)
			return -1;
		if (s->common_name && (strlen(s->common_name) == 0 || strlen(s->common_name) > 64))
			return pfail(c, ward_doc_get(d, "common_name"), path, "common_name must hold 1..64 characters");
		const struct ward_doc *dd = ward_doc_get(d, "valid_days");
		v = DEFAULT_VALID_DAYS;
		path_key(p, path, "valid_days");
		if (dd && get_uint(c, dd, p, 1, 36500, &v) < 0)
			return -1;
		s->valid_days = (uint32_t)v;
		const struct ward_doc *dn = ward_doc_get(d, "dns");
		path_key(p, path, "dns");
		if (dn) {
			if (get_text_list(c, dn, p, 1, &s->dns, &s->n_dns) < 0)
				return -1;
			for (size_t i = 0; i < s->n_dns; i++) {
				const char *h = s->dns[i];
				size_t n = strlen(h);
				int ok = n > 0 && n <= 253;
				for (size_t k = 0; ok && k < n; k++)
					ok = (h[k] >= 'a' && h[k] <= 'z') || (h[k] >= 'A' && h[k] <= 'Z') ||
					     (h[k] >= '0' && h[k] <= '9') || h[k] == '-' || h[k] == '.' ||
					     (h[k] == '*' && k == 0);
				if (!ok) {
					char ip[PATH_MAX_LEN];
					path_idx(ip, p, i);
					return pfail(c, dn->items[i], ip, "'%.80s' is not a DNS name", h);
				}
			}
		}
		if (s->kind == WARD_SECRET_X509 && s->value && !s->private_key)
			return pfail(c, vd, p, "an x509 secret with an explicit certificate needs private_key naming the private-key secret that holds its key");
	}
	return 0;
}

/* Cross references between secrets: issuer -> x509-ca, private_key -> private-key. */
static int check_secret_refs(struct st *st)
{
	struct ward_policy *pol = st->p;
	for (size_t i = 0; i < pol->n_secrets; i++) {
		const struct ward_policy_secret *s = &pol->secrets[i];
		char path[PATH_MAX_LEN];
		snprintf(path, sizeof(path), "secrets[%zu]", i);
		const struct ward_doc *d = st->secret_nodes[i];
		if (s->private_key) {
			const struct ward_policy_secret *k = ward_policy_find_secret(pol, s->private_key);
			char p[PATH_MAX_LEN];
			path_key(p, path, "private_key");
			if (!k || k->kind != WARD_SECRET_PRIVATE_KEY)
				return pfail(&st->c, ward_doc_get(d, "private_key"), p,
					     "'%s' is %s; private_key must name a secret of kind private-key", s->private_key,
					     k ? "not a private-key secret" : "not a secret of this session");
		}
		if (s->issuer) {
			char p[PATH_MAX_LEN];
			path_key(p, path, "issuer");
			const struct ward_policy_secret *is = ward_policy_find_secret(pol, s->issuer);
			if (!is || is->kind != WARD_SECRET_X509_CA)
				return pfail(&st->c, ward_doc_get(d, "issuer"), p,
					     "'%s' is %s; issuer must name a secret of kind x509-ca", s->issuer,
					     is ? "not an x509-ca secret" : "not a secret of this session");
			if (is->value && !is->private_key)
				return pfail(&st->c, ward_doc_get(d, "issuer"), p,
					     "issuer '%s' has an explicit certificate but no private_key, so it cannot issue certificates",
					     s->issuer);
			/* No cycles among CAs. */
			const struct ward_policy_secret *cur = is;
			for (size_t steps = 0; cur && cur->issuer; steps++) {
				if (steps > pol->n_secrets || strcmp(cur->issuer, s->name) == 0)
					return pfail(&st->c, ward_doc_get(d, "issuer"), p,
						     "issuer chain of '%s' loops back to itself", s->name);
				cur = ward_policy_find_secret(pol, cur->issuer);
			}
		}
	}
	return 0;
}

/* ---- services --------------------------------------------------------- */

static int parse_volume(struct st *st, const struct ward_doc *d, const char *path, struct ward_policy_volume *v)
{
	struct pctx *c = &st->c;
	char p[PATH_MAX_LEN];
	if (expect_map(c, d, path) < 0 || check_keys(c, d, path, volume_keys, NULL) < 0)
		return -1;
	if (req_text(c, d, path, "name", &v->name) < 0)
		return -1;
	if (!name_ok(v->name))
		return pfail(c, ward_doc_get(d, "name"), path, "invalid volume name '%.60s' (1-128 of A-Z a-z 0-9 _ . -)", v->name);
	if (req_text(c, d, path, "path", &v->path) < 0)
		return -1;
	path_key(p, path, "path");
	if (!abs_path_ok(v->path))
		return pfail(c, ward_doc_get(d, "path"), p, "'%.80s' is not an absolute path without . or .. components", v->path);
	v->kind = WARD_VOLUME_ENCRYPTED;
	const struct ward_doc *kd = ward_doc_get(d, "kind");
	if (kd) {
		size_t idx;
		path_key(p, path, "kind");
		if (one_of(c, kd, p, "volume kind", ward_names_volume_kind, WARD_VOLUME_KINDS, &idx) < 0)
			return -1;
		v->kind = (enum ward_volume_kind)idx;
	}
	if (opt_hex(c, d, path, "key", 64, "a 256-bit volume key", &v->key) < 0)
		return -1;
	if (opt_text(c, d, path, "tag", &v->tag) < 0)
		return -1;
	path_key(p, path, "tag");
	if (v->tag && (!hex_ok(v->tag, 0, 128) || !*v->tag))
		return pfail(c, ward_doc_get(d, "tag"), p, "expected an even number of hex digits (2..128), as `ward fs tag` prints");
	if (v->kind == WARD_VOLUME_EPHEMERAL && (v->key || v->tag))
		return pfail(c, ward_doc_get(d, v->key ? "key" : "tag"), path,
			     "an ephemeral volume has no %s (it lives in enclave memory only)", v->key ? "key" : "tag");
	if (opt_bool(c, d, path, "read_only", &v->read_only) < 0)
		return -1;
	path_key(p, path, "read_only");
	if (v->read_only && v->kind == WARD_VOLUME_EPHEMERAL)
		return pfail(c, ward_doc_get(d, "read_only"), p,
			     "an ephemeral volume cannot be read-only (it starts empty in every run)");
	if (v->read_only && v->kind == WARD_VOLUME_AUTHENTICATED)
		return pfail(c, ward_doc_get(d, "read_only"), p,
			     "an authenticated volume is always read-only; drop read_only");
	return 0;
}

static int parse_file(struct st *st, const struct ward_doc *d, const char *path, struct ward_policy_file *f)
{
	struct pctx *c = &st->c;
	char p[PATH_MAX_LEN];
	if (expect_map(c, d, path) < 0 || check_keys(c, d, path, file_keys, NULL) < 0)
		return -1;
	if (req_text(c, d, path, "path", &f->path) < 0)
		return -1;
	path_key(p, path, "path");
	if (!abs_path_ok(f->path) || f->path[strlen(f->path) - 1] == '/')
		return pfail(c, ward_doc_get(d, "path"), p, "'%.80s' is not an absolute file path", f->path);
	if (req_text(c, d, path, "content", &f->content) < 0)
		return -1;
	path_key(p, path, "content");
	if (check_placeholders(st, ward_doc_get(d, "content"), p, f->content) < 0)
		return -1;
	f->mode = DEFAULT_FILE_MODE;
	const struct ward_doc *md = ward_doc_get(d, "mode");
	path_key(p, path, "mode");
	if (md) {
		/* Octal, written with a leading 0 (0600, 0o600); YAML plain or quoted, JSON string. */
		if (md->type != WARD_DOC_SCALAR || md->style == WARD_DOC_NULL || md->style == WARD_DOC_JSON_BOOL)
			return pfail(c, md, p, "expected an octal mode such as 0600, got %s", ward_doc_type_name(md));
		const char *s = md->str;
		if (s[0] != '0' || !s[1])
			return pfail(c, md, p, "mode '%.20s' must be octal with a leading 0, e.g. 0600 or 0o644", s);
		s += (s[1] == 'o' || s[1] == 'O') ? 2 : 1;
		unsigned m = 0;
		size_t n = 0;
		for (; *s; s++, n++) {
			if (*s < '0' || *s > '7' || n >= 4)
				return pfail(c, md, p, "mode '%.20s' must be octal with a leading 0, e.g. 0600 or 0o644", md->str);
			m = m * 8 + (unsigned)(*s - '0');
		}
		if (n == 0 || m > 0777)
			return pfail(c, md, p, "mode '%.20s' must be permission bits 0000..0777", md->str);
		f->mode = m;
	}
	return 0;
}

static int parse_service(struct st *st, const struct ward_doc *d, const char *path, struct ward_policy_service *s)
{
	struct pctx *c = &st->c;
	char p[PATH_MAX_LEN];
	const struct ward_doc *x;
	s->sgx_isvprodid = s->sgx_isvsvn = -1;
	if (expect_map(c, d, path) < 0 ||
	    check_keys(c, d, path, service_keys,
		       ward_doc_get(d, "image_name") ? "Ward has no images: put injection_files under the service" : NULL) < 0)
		return -1;
	if (req_text(c, d, path, "name", &s->name) < 0)
		return -1;
	if (!name_ok(s->name))
		return pfail(c, ward_doc_get(d, "name"), path,
			     "invalid service name '%.60s' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)", s->name);
	if ((x = ward_doc_get(d, "mrenclaves"))) {
		path_key(p, path, "mrenclaves");
		if (get_text_list(c, x, p, 0, &s->mrenclaves, &s->n_mrenclaves) < 0)
			return -1;
		for (size_t i = 0; i < s->n_mrenclaves; i++) {
			char ip[PATH_MAX_LEN];
			path_idx(ip, p, i);
			size_t n = strlen(s->mrenclaves[i]);
			/* 64: Ward's enclave hash or an SGX MRENCLAVE; 96: a TDX MRTD or SEV-SNP measurement */
			if (!hex_ok(s->mrenclaves[i], n == 96 ? 96 : 64, 0))
				return pfail(c, x->items[i], ip,
					     "expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got %zu characters%s",
					     n, n == 64 || n == 96 ? " with a non-hex character" : "");
			for (size_t j = 0; j < i; j++)
				if (strcmp(s->mrenclaves[j], s->mrenclaves[i]) == 0)
					return pfail(c, x->items[i], ip, "duplicate enclave hash");
		}
	}
	if ((x = ward_doc_get(d, "command"))) {
		path_key(p, path, "command");
		if (x->type == WARD_DOC_SEQ) {
			if (get_text_list(c, x, p, 0, &s->argv, &s->argc) < 0)
				return -1;
		} else {
			char *cmd;
			const char *why;
			if (get_text(c, x, p, &cmd) < 0) {
				c->failed = 0;
				return pfail(c, x, p, "expected a command line (string) or a list of arguments, got %s",
					     ward_doc_type_name(x));
			}
			int r = split_command(cmd, &s->argv, &s->argc, &why);
			free(cmd);
			if (r < 0)
				return pfail(c, x, p, "cannot split the command: %s", why);
		}
		if (s->argc == 0)
			return pfail(c, x, p, "empty command; leave 'command' out to keep the engine's arguments");
		for (size_t i = 0; i < s->argc; i++)
			if (check_placeholders(st, x->type == WARD_DOC_SEQ ? x->items[i] : x, p, s->argv[i]) < 0)
				return -1;
	}
	if ((x = ward_doc_get(d, "environment"))) {
		path_key(p, path, "environment");
		if (expect_map(c, x, p) < 0)
			return -1;
		s->env = calloc(x->n ? x->n : 1, sizeof(*s->env));
		if (!s->env)
			return pfail(c, x, p, "out of memory");
		for (size_t i = 0; i < x->n; i++) {
			char ep[PATH_MAX_LEN];
			path_key(ep, p, x->keys[i]->str);
			if (!env_name_ok(x->keys[i]->str))
				return pfail(c, x->keys[i], p, "invalid variable name '%.60s' (letters, digits, _; not starting with a digit)",
					     x->keys[i]->str);
			if (!(s->env[i].key = strdup(x->keys[i]->str)))
				return pfail(c, x, p, "out of memory");
			s->n_env = i + 1;
			if (get_text(c, x->items[i], ep, &s->env[i].value) < 0 ||
			    check_placeholders(st, x->items[i], ep, s->env[i].value) < 0)
				return -1;
		}
		if (s->n_env > 1)
			qsort(s->env, s->n_env, sizeof(*s->env), cmp_env);
	}
	if (opt_text(c, d, path, "pwd", &s->pwd) < 0)
		return -1;
	path_key(p, path, "pwd");
	if (s->pwd && !abs_path_ok(s->pwd))
		return pfail(c, ward_doc_get(d, "pwd"), p, "'%.80s' is not an absolute path without . or .. components", s->pwd);
	if ((x = ward_doc_get(d, "volumes"))) {
		path_key(p, path, "volumes");
		if (expect_seq(c, x, p) < 0)
			return -1;
		if (x->n > 64)
			return pfail(c, x, p, "at most 64 volumes per service");
		s->volumes = calloc(x->n ? x->n : 1, sizeof(*s->volumes));
		if (!s->volumes)
			return pfail(c, x, p, "out of memory");
		for (size_t i = 0; i < x->n; i++) {
			char ip[PATH_MAX_LEN];
			path_idx(ip, p, i);
			s->n_volumes = i + 1;
			if (parse_volume(st, x->items[i], ip, &s->volumes[i]) < 0)
				return -1;
			for (size_t j = 0; j < i; j++) {
				if (strcmp(s->volumes[j].name, s->volumes[i].name) == 0)
					return pfail(c, x->items[i], ip, "duplicate volume name '%s' (also %s[%zu])",
						     s->volumes[i].name, p, j);
				if (strcmp(s->volumes[j].path, s->volumes[i].path) == 0)
					return pfail(c, x->items[i], ip, "volume path '%s' is already used by volume '%s'",
						     s->volumes[i].path, s->volumes[j].name);
			}
		}
	}
	if ((x = ward_doc_get(d, "injection_files"))) {
		path_key(p, path, "injection_files");
		if (expect_seq(c, x, p) < 0)
			return -1;
		if (x->n > MAX_LIST)
			return pfail(c, x, p, "at most %d injection files per service", MAX_LIST);
		s->files = calloc(x->n ? x->n : 1, sizeof(*s->files));
		if (!s->files)
			return pfail(c, x, p, "out of memory");
		for (size_t i = 0; i < x->n; i++) {
			char ip[PATH_MAX_LEN];
			path_idx(ip, p, i);
			s->n_files = i + 1;
			if (parse_file(st, x->items[i], ip, &s->files[i]) < 0)
				return -1;
			for (size_t j = 0; j < i; j++)
				if (strcmp(s->files[j].path, s->files[i].path) == 0)
					return pfail(c, x->items[i], ip, "duplicate injection file path '%s'", s->files[i].path);
		}
	}
	if ((x = ward_doc_get(d, "sgx"))) {
		path_key(p, path, "sgx");
		uint64_t v;
		if (expect_map(c, x, p) < 0 || check_keys(c, x, p, sgx_keys, NULL) < 0 ||
		    opt_hex(c, x, p, "mrsigner", 64, "an SGX signer hash", &s->sgx_mrsigner) < 0)
			return -1;
		char q[PATH_MAX_LEN];
		const struct ward_doc *y;
		path_key(q, p, "isvprodid");
		if ((y = ward_doc_get(x, "isvprodid"))) {
			if (get_uint(c, y, q, 0, 65535, &v) < 0)
				return -1;
			s->sgx_isvprodid = (int32_t)v;
		}
		path_key(q, p, "isvsvn");
		if ((y = ward_doc_get(x, "isvsvn"))) {
			if (get_uint(c, y, q, 0, 65535, &v) < 0)
				return -1;
			s->sgx_isvsvn = (int32_t)v;
		}
	}
	if ((x = ward_doc_get(d, "tdx"))) {
		path_key(p, path, "tdx");
		if (expect_map(c, x, p) < 0 || check_keys(c, x, p, tdx_keys, NULL) < 0 ||
		    opt_hex(c, x, p, "mrtd", 96, "a TDX MRTD", &s->tdx_mrtd) < 0)
			return -1;
		const struct ward_doc *r = ward_doc_get(x, "rtmr");
		if (r) {
			char q[PATH_MAX_LEN];
			path_key(q, p, "rtmr");
			if (expect_seq(c, r, q) < 0)
				return -1;
			if (r->n == 0 || r->n > 4)
				return pfail(c, r, q, "expected 1 to 4 entries (RTMR0..RTMR3, each 96 hex digits or null to leave it unpinned), got %zu", r->n);
			for (size_t i = 0; i < r->n; i++) {
				char ip[PATH_MAX_LEN];
				path_idx(ip, q, i);
				if (r->items[i]->type == WARD_DOC_SCALAR && r->items[i]->style == WARD_DOC_NULL)
					continue;
				if (get_text(c, r->items[i], ip, &s->tdx_rtmr[i]) < 0)
					return -1;
				size_t n = strlen(s->tdx_rtmr[i]);
				if (!hex_ok(s->tdx_rtmr[i], 96, 0))
					return pfail(c, r->items[i], ip, "expected 96 hex digits (a TDX RTMR value) or null, got %zu characters%s",
						     n, n == 96 ? " with a non-hex character" : "");
			}
		}
	}
	if ((x = ward_doc_get(d, "snp"))) {
		path_key(p, path, "snp");
		if (expect_map(c, x, p) < 0 || check_keys(c, x, p, snp_keys, NULL) < 0 ||
		    opt_hex(c, x, p, "measurement", 96, "an SEV-SNP launch measurement", &s->snp_measurement) < 0 ||
		    opt_hex(c, x, p, "host_data", 64, "the SEV-SNP HOST_DATA", &s->snp_host_data) < 0)
			return -1;
	}
	path_key(p, path, "sgx");
	if (s->sgx_mrsigner && s->sgx_isvprodid < 0)
		return pfail(c, ward_doc_get(d, "sgx"), p, "%s",
			     "sgx.mrsigner needs sgx.isvprodid too (the product id the signer gave this enclave): a signer pin alone would accept every enclave of that signer");
	if (!s->sgx_mrsigner && (s->sgx_isvprodid >= 0 || s->sgx_isvsvn >= 0))
		return pfail(c, ward_doc_get(d, "sgx"), p, "%s",
			     "sgx.isvprodid and sgx.isvsvn pin nothing without sgx.mrsigner: add the signer's mrsigner");
	if (!s->n_mrenclaves && !s->sgx_mrsigner && !s->tdx_mrtd && !s->snp_measurement)
		return pfail(c, d, path, "service '%s' names no enclave: add mrenclaves (the hash `ward measure` prints)",
			     s->name);
	return 0;
}

/* ---- top level -------------------------------------------------------- */

static int parse_security(struct st *st, const struct ward_doc *d)
{
	struct pctx *c = &st->c;
	const struct ward_doc *a, *x;
	if (expect_map(c, d, "security") < 0 || check_keys(c, d, "security", security_keys, NULL) < 0)
		return -1;
	if (!(a = ward_doc_get(d, "attestation")))
		return 0;
	const char *ap = "security.attestation";
	if (expect_map(c, a, ap) < 0 || check_keys(c, a, ap, attestation_keys, NULL) < 0)
		return -1;
	if ((x = ward_doc_get(a, "tolerate"))) {
		const char *tp = "security.attestation.tolerate";
		if (expect_seq(c, x, tp) < 0)
			return -1;
		for (size_t i = 0; i < x->n; i++) {
			char ip[PATH_MAX_LEN];
			size_t idx;
			path_idx(ip, tp, i);
			if (one_of(c, x->items[i], ip, "toleration", ward_names_tolerate, WARD_TOLERATE_NAMES, &idx) < 0)
				return -1;
			if (st->p->tolerate & (1u << idx))
				return pfail(c, x->items[i], ip, "duplicate entry '%s'", ward_names_tolerate[idx]);
			st->p->tolerate |= 1u << idx;
		}
	}
	if ((x = ward_doc_get(a, "ignore_advisories"))) {
		const char *ip = "security.attestation.ignore_advisories";
		if (get_text_list(c, x, ip, 1, &st->p->ignore_advisories, &st->p->n_ignore_advisories) < 0)
			return -1;
		for (size_t i = 0; i < st->p->n_ignore_advisories; i++) {
			const char *s = st->p->ignore_advisories[i];
			int ok = strcmp(s, "*") == 0 || (strlen(s) > 0 && strlen(s) <= 64);
			for (const char *q = s; ok && *s != '*' && *q; q++)
				ok = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_';
			if (!ok) {
				char p[PATH_MAX_LEN];
				path_idx(p, ip, i);
				return pfail(c, x->items[i], p, "expected an advisory id such as INTEL-SA-00334, or *");
			}
		}
	}
	return 0;
}

static struct ward_policy *validate(const struct ward_doc *root, const char *file, char *err, size_t errlen)
{
	struct st st = {.c = {.file = file, .err = err, .errlen = errlen}};
	struct pctx *c = &st.c;
	const struct ward_doc *x;
	struct ward_policy *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	st.p = p;
	if (expect_map(c, root, "") < 0 ||
	    check_keys(c, root, "", top_keys,
		       ward_doc_get(root, "images") ? "Ward has no images: put injection_files under each service" : NULL) < 0)
		goto fail;
	if (req_text(c, root, "", "name", &p->name) < 0)
		goto fail;
	if (!name_ok(p->name)) {
		pfail(c, ward_doc_get(root, "name"), "name",
		      "invalid session name '%.60s' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)", p->name);
		goto fail;
	}
	if (req_text(c, root, "", "version", &p->version) < 0)
		goto fail;
	if (strcmp(p->version, WARD_POLICY_LANG_VERSION) != 0) {
		pfail(c, ward_doc_get(root, "version"), "version",
		      "unsupported session language version '%.20s' (this ward reads \"%s\")", p->version,
		      WARD_POLICY_LANG_VERSION);
		goto fail;
	}
	if (opt_hex(c, root, "", "predecessor", 64, "the hash of the session this one replaces, as `ward session show` prints",
		    &p->predecessor) < 0)
		goto fail;
	x = ward_doc_get(root, "access_policy");
	if (x && (expect_map(c, x, "access_policy") < 0 || check_keys(c, x, "access_policy", access_keys, NULL) < 0))
		goto fail;
	if (parse_access_list(&st, x, "access_policy", "read", &p->access.read, &p->access.n_read) < 0 ||
	    parse_access_list(&st, x, "access_policy", "update", &p->access.update, &p->access.n_update) < 0)
		goto fail;
	if ((x = ward_doc_get(root, "secrets"))) {
		if (expect_seq(c, x, "secrets") < 0)
			goto fail;
		if (x->n > MAX_SECRETS) {
			pfail(c, x, "secrets", "at most %d secrets per session", MAX_SECRETS);
			goto fail;
		}
		p->secrets = calloc(x->n ? x->n : 1, sizeof(*p->secrets));
		st.secret_nodes = calloc(x->n ? x->n : 1, sizeof(*st.secret_nodes));
		if (!p->secrets || !st.secret_nodes) {
			pfail(c, x, "secrets", "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < x->n; i++) {
			char ip[PATH_MAX_LEN];
			path_idx(ip, "secrets", i);
			p->n_secrets = i + 1;
			st.secret_nodes[i] = x->items[i];
			if (parse_secret(&st, x->items[i], ip, &p->secrets[i]) < 0)
				goto fail;
			for (size_t j = 0; j < i; j++)
				if (strcmp(p->secrets[j].name, p->secrets[i].name) == 0) {
					pfail(c, x->items[i], ip, "duplicate secret name '%s' (also secrets[%zu])",
					      p->secrets[i].name, j);
					goto fail;
				}
		}
		if (check_secret_refs(&st) < 0)
			goto fail;
	}
	if ((x = ward_doc_get(root, "services"))) {
		if (expect_seq(c, x, "services") < 0)
			goto fail;
		if (x->n > MAX_SERVICES) {
			pfail(c, x, "services", "at most %d services per session", MAX_SERVICES);
			goto fail;
		}
		p->services = calloc(x->n ? x->n : 1, sizeof(*p->services));
		if (!p->services) {
			pfail(c, x, "services", "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < x->n; i++) {
			char ip[PATH_MAX_LEN];
			path_idx(ip, "services", i);
			p->n_services = i + 1;
			if (parse_service(&st, x->items[i], ip, &p->services[i]) < 0)
				goto fail;
			for (size_t j = 0; j < i; j++)
				if (strcmp(p->services[j].name, p->services[i].name) == 0) {
					pfail(c, x->items[i], ip, "duplicate service name '%s' (also services[%zu])",
					      p->services[i].name, j);
					goto fail;
				}
		}
	}
	if ((x = ward_doc_get(root, "security")) && parse_security(&st, x) < 0)
		goto fail;
	free(st.secret_nodes);
	return p;
fail:
	free(st.secret_nodes);
	ward_policy_free(p);
	return NULL;
}

static int too_big(size_t len, const char *file, char *err, size_t errlen)
{
	if (len <= WARD_POLICY_MAX_DOC)
		return 0;
	snprintf(err, errlen, "%s: session document is %zu bytes; the limit is %u bytes (1 MiB)", file, len,
		 WARD_POLICY_MAX_DOC);
	return 1;
}

struct ward_policy *ward_policy_parse_yaml(const char *buf, size_t len, const char *file, char *err, size_t errlen)
{
	if (too_big(len, file, err, errlen))
		return NULL;
	struct ward_doc *d = ward_doc_from_yaml(buf, len, file, err, errlen);
	if (!d)
		return NULL;
	struct ward_policy *p = validate(d, file, err, errlen);
	ward_doc_free(d);
	return p;
}

struct ward_policy *ward_policy_parse_jansson(const json_t *doc, const char *file, char *err, size_t errlen)
{
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "%s: expected a JSON object (the session), got %s", file,
			 json_is_array(doc) ? "an array" : "a scalar");
		return NULL;
	}
	struct ward_doc *d = ward_doc_from_jansson(doc, file, err, errlen);
	if (!d)
		return NULL;
	struct ward_policy *p = validate(d, file, err, errlen);
	ward_doc_free(d);
	return p;
}

struct ward_policy *ward_policy_parse_json(const char *buf, size_t len, const char *file, char *err, size_t errlen)
{
	if (too_big(len, file, err, errlen))
		return NULL;
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", file, je.line, je.column, je.text);
		return NULL;
	}
	struct ward_policy *p = ward_policy_parse_jansson(j, file, err, errlen);
	json_decref(j);
	return p;
}

struct ward_policy *ward_policy_parse(const char *buf, size_t len, const char *file, char *err, size_t errlen)
{
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i < len && buf[i] == '{')
		return ward_policy_parse_json(buf, len, file, err, errlen);
	return ward_policy_parse_yaml(buf, len, file, err, errlen);
}
