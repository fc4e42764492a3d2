/* model.c: the session struct's life cycle, lookups, access checks,
 * canonical JSON and hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/util.h"
#include "policy/names.h"
#include "policy/policy.h"

const char *const ward_names_secret_kind[WARD_SECRET_KINDS] = {"ascii", "hex", "binary", "private-key",
								"x509", "x509-ca"};
const char *const ward_names_volume_kind[WARD_VOLUME_KINDS] = {"encrypted", "authenticated", "ephemeral"};
const char *const ward_names_tolerate[WARD_TOLERATE_NAMES] = {"simulation", "debug-mode", "outdated-tcb",
							      "hyperthreading", "software-hardening-needed",
							      "insecure-configuration"};

const char *ward_volume_kind_name(enum ward_volume_kind k)
{
	return (unsigned)k < WARD_VOLUME_KINDS ? ward_names_volume_kind[k] : "?";
}

const char *ward_secret_kind_name(enum ward_secret_kind k)
{
	return (unsigned)k < WARD_SECRET_KINDS ? ward_names_secret_kind[k] : "?";
}

int ward_secret_kind_parse(const char *s, enum ward_secret_kind *out)
{
	for (unsigned i = 0; i < WARD_SECRET_KINDS; i++)
		if (strcmp(s, ward_names_secret_kind[i]) == 0) {
			*out = (enum ward_secret_kind)i;
			return 0;
		}
	return -1;
}

const char *ward_tolerate_name(unsigned bit)
{
	for (unsigned i = 0; i < WARD_TOLERATE_NAMES; i++)
		if (bit == 1u << i)
			return ward_names_tolerate[i];
	return NULL;
}

static void free_strs(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_secret_str(char *s)
{
	if (s) {
		ward_wipe(s, strlen(s));
		free(s);
	}
}

void ward_policy_free(struct ward_policy *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->version);
	free(p->predecessor);
	free_strs(p->access.read, p->access.n_read);
	free_strs(p->access.update, p->access.n_update);
	for (size_t i = 0; i < p->n_services; i++) {
		struct ward_policy_service *s = &p->services[i];
		free(s->name);
		free_strs(s->mrenclaves, s->n_mrenclaves);
		for (size_t k = 0; k < s->argc; k++)
			free_secret_str(s->argv[k]);
		free(s->argv);
		for (size_t k = 0; k < s->n_env; k++) {
			free(s->env[k].key);
			free_secret_str(s->env[k].value);
		}
		free(s->env);
		free(s->pwd);
		for (size_t k = 0; k < s->n_volumes; k++) {
			free(s->volumes[k].name);
			free(s->volumes[k].path);
			free_secret_str(s->volumes[k].key);
			free(s->volumes[k].tag);
		}
		free(s->volumes);
		for (size_t k = 0; k < s->n_files; k++) {
			free(s->files[k].path);
			free_secret_str(s->files[k].content);
		}
		free(s->files);
		free(s->sgx_mrsigner);
		free(s->tdx_mrtd);
		for (int k = 0; k < 4; k++)
			free(s->tdx_rtmr[k]);
		free(s->snp_measurement);
		free(s->snp_host_data);
	}
	free(p->services);
	for (size_t i = 0; i < p->n_secrets; i++) {
		struct ward_policy_secret *s = &p->secrets[i];
		free(s->name);
		free_secret_str(s->value);
		free(s->issuer);
		free(s->private_key);
		free(s->common_name);
		free_strs(s->dns, s->n_dns);
	}
	free(p->secrets);
	free_strs(p->ignore_advisories, p->n_ignore_advisories);
	free(p);
}

const struct ward_policy_service *ward_policy_find_service(const struct ward_policy *p, const char *name)
{
	for (size_t i = 0; p && name && i < p->n_services; i++)
		if (p->services[i].name && strcmp(p->services[i].name, name) == 0)
			return &p->services[i];
	return NULL;
}

const struct ward_policy_secret *ward_policy_find_secret(const struct ward_policy *p, const char *name)
{
	for (size_t i = 0; p && name && i < p->n_secrets; i++)
		if (p->secrets[i].name && strcmp(p->secrets[i].name, name) == 0)
			return &p->secrets[i];
	return NULL;
}

int ward_policy_allows(const struct ward_policy *p, enum ward_policy_op op, const char *client, const char *creator)
{
	char *const *list = op == WARD_POLICY_READ ? p->access.read : p->access.update;
	size_t n = op == WARD_POLICY_READ ? p->access.n_read : p->access.n_update;
	int ok = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = list[i];
		if (strcmp(e, "NONE") == 0)
			return 0;
		if (strcmp(e, "ANY") == 0)
			ok = 1;
		else if (strcmp(e, "CREATOR") == 0)
			ok |= client && creator && strlen(client) == WARD_POLICY_HASH_HEX &&
			      strlen(creator) == WARD_POLICY_HASH_HEX && ward_ct_equal(client, creator, WARD_POLICY_HASH_HEX);
		else
			ok |= client && strlen(client) == WARD_POLICY_HASH_HEX && ward_ct_equal(client, e, WARD_POLICY_HASH_HEX);
	}
	return ok;
}

/* ---- JSON ------------------------------------------------------------- */

static int set(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *secret_json(const char *v, unsigned flags)
{
	return json_string((flags & WARD_POLICY_JSON_REDACT) ? WARD_POLICY_REDACTED : v);
}

static int service_json(json_t *o, const struct ward_policy_service *s, unsigned flags)
{
	int r = set(o, "name", json_string(s->name));
	if (s->n_mrenclaves)
		r |= set(o, "mrenclaves", str_array(s->mrenclaves, s->n_mrenclaves));
	if (s->argc)
		r |= set(o, "command", str_array(s->argv, s->argc));
	if (s->n_env) {
		json_t *e = json_object();
		r |= set(o, "environment", e);
		for (size_t i = 0; e && i < s->n_env; i++)
			r |= set(e, s->env[i].key, json_string(s->env[i].value));
	}
	if (s->pwd)
		r |= set(o, "pwd", json_string(s->pwd));
	if (s->n_volumes) {
		json_t *a = json_array();
		r |= set(o, "volumes", a);
		for (size_t i = 0; a && i < s->n_volumes; i++) {
			const struct ward_policy_volume *v = &s->volumes[i];
			json_t *vo = json_object();
			r |= json_array_append_new(a, vo);
			if (!vo)
				break;
			r |= set(vo, "name", json_string(v->name));
			r |= set(vo, "path", json_string(v->path));
			r |= set(vo, "kind", json_string(ward_volume_kind_name(v->kind)));
			if (v->key)
				r |= set(vo, "key", secret_json(v->key, flags));
			if (v->tag)
				r |= set(vo, "tag", json_string(v->tag));
			if (v->read_only)
				r |= set(vo, "read_only", json_true());
		}
	}
	if (s->n_files) {
		json_t *a = json_array();
		r |= set(o, "injection_files", a);
		for (size_t i = 0; a && i < s->n_files; i++) {
			const struct ward_policy_file *f = &s->files[i];
			json_t *fo = json_object();
			char mode[8];
			snprintf(mode, sizeof(mode), "0%03o", f->mode);
			r |= json_array_append_new(a, fo);
			if (!fo)
				break;
			r |= set(fo, "path", json_string(f->path));
			r |= set(fo, "content", secret_json(f->content, flags));
			r |= set(fo, "mode", json_string(mode));
		}
	}
	if (s->sgx_mrsigner || s->sgx_isvprodid >= 0 || s->sgx_isvsvn >= 0) {
		json_t *g = json_object();
		r |= set(o, "sgx", g);
		if (g && s->sgx_mrsigner)
			r |= set(g, "mrsigner", json_string(s->sgx_mrsigner));
		if (g && s->sgx_isvprodid >= 0)
			r |= set(g, "isvprodid", json_integer(s->sgx_isvprodid));
		if (g && s->sgx_isvsvn >= 0)
			r |= set(g, "isvsvn", json_integer(s->sgx_isvsvn));
	}
	int rtmr = s->tdx_rtmr[0] || s->tdx_rtmr[1] || s->tdx_rtmr[2] || s->tdx_rtmr[3];
	if (s->tdx_mrtd || rtmr) {
		json_t *t = json_object();
		r |= set(o, "tdx", t);
		if (t && s->tdx_mrtd)
			r |= set(t, "mrtd", json_string(s->tdx_mrtd));
		if (t && rtmr) { /* canonical: always four entries, null = unpinned */
			json_t *a = json_array();
			r |= set(t, "rtmr", a);
			for (int k = 0; a && k < 4; k++)
				r |= json_array_append_new(a, s->tdx_rtmr[k] ? json_string(s->tdx_rtmr[k]) : json_null()) != 0;
		}
	}
	if (s->snp_measurement || s->snp_host_data) {
		json_t *t = json_object();
		r |= set(o, "snp", t);
		if (t && s->snp_measurement)
			r |= set(t, "measurement", json_string(s->snp_measurement));
		if (t && s->snp_host_data)
			r |= set(t, "host_data", json_string(s->snp_host_data));
	}
	return r ? -1 : 0;
}

static int secret_to_json(json_t *o, const struct ward_policy_secret *s, unsigned flags)
{
	int r = set(o, "name", json_string(s->name));
	r |= set(o, "kind", json_string(ward_secret_kind_name(s->kind)));
	if (s->kind <= WARD_SECRET_BINARY)
		r |= set(o, "size", json_integer(s->size));
	if (s->value)
		r |= set(o, "value", secret_json(s->value, flags));
	if (s->issuer)
		r |= set(o, "issuer", json_string(s->issuer));
	if (s->private_key)
		r |= set(o, "private_key", json_string(s->private_key));
	if (s->common_name)
		r |= set(o, "common_name", json_string(s->common_name));
	if (s->n_dns)
		r |= set(o, "dns", str_array(s->dns, s->n_dns));
	if (s->kind == WARD_SECRET_X509 || s->kind == WARD_SECRET_X509_CA)
		r |= set(o, "valid_days", json_integer(s->valid_days));
	return r ? -1 : 0;
}

json_t *ward_policy_to_jansson(const struct ward_policy *p, unsigned flags)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int r = set(o, "name", json_string(p->name));
	r |= set(o, "version", json_string(p->version));
	if (p->predecessor)
		r |= set(o, "predecessor", json_string(p->predecessor));
	json_t *ap = json_object();
	r |= set(o, "access_policy", ap);
	if (ap) {
		r |= set(ap, "read", str_array(p->access.read, p->access.n_read));
		r |= set(ap, "update", str_array(p->access.update, p->access.n_update));
	}
	if (p->n_services) {
		json_t *a = json_array();
		r |= set(o, "services", a);
		for (size_t i = 0; a && i < p->n_services; i++) {
			json_t *so = json_object();
			r |= json_array_append_new(a, so);
			r |= so ? service_json(so, &p->services[i], flags) : -1;
		}
	}
	if (p->n_secrets) {
		json_t *a = json_array();
		r |= set(o, "secrets", a);
		for (size_t i = 0; a && i < p->n_secrets; i++) {
			json_t *so = json_object();
			r |= json_array_append_new(a, so);
			r |= so ? secret_to_json(so, &p->secrets[i], flags) : -1;
		}
	}
	if (p->tolerate || p->n_ignore_advisories) {
		json_t *sec = json_object(), *att = json_object();
		r |= set(o, "security", sec);
		r |= sec ? set(sec, "attestation", att) : -1;
		if (att && p->tolerate) {
			json_t *t = json_array();
			r |= set(att, "tolerate", t);
			for (unsigned i = 0; t && i < WARD_TOLERATE_NAMES; i++)
				if (p->tolerate & (1u << i))
					r |= json_array_append_new(t, json_string(ward_names_tolerate[i]));
		}
		if (att && p->n_ignore_advisories)
			r |= set(att, "ignore_advisories", str_array(p->ignore_advisories, p->n_ignore_advisories));
	}
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *ward_policy_to_json(const struct ward_policy *p, unsigned flags)
{
	json_t *o = ward_policy_to_jansson(p, flags);
	if (!o)
		return NULL;
	size_t jf = JSON_SORT_KEYS | ((flags & WARD_POLICY_JSON_PRETTY) ? JSON_INDENT(2) : JSON_COMPACT);
	char *s = json_dumps(o, jf);
	json_decref(o);
	return s;
}

int ward_policy_hash(const struct ward_policy *p, char out[WARD_POLICY_HASH_HEX + 1])
{
	char *s = ward_policy_to_json(p, 0);
	uint8_t h[WARD_SHA256_LEN];
	if (!s)
		return -1;
	size_t n = strlen(s);
	int r = ward_sha256(s, n, h);
	ward_wipe(s, n);
	free(s);
	if (r < 0)
		return -1;
	ward_hex(h, sizeof(h), out);
	return 0;
}
