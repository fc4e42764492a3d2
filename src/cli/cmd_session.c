/* cmd_session.c: `ward session`: validate policies locally and manage them
 * on a CAS (create, show, update, delete, audit, list, whoami). Logic lives
 * in src/policy (the language) and session_http/session_identity (transport). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/session_http.h"
#include "cli/session_identity.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ward session check -f POLICY.yaml\n"
		"       ward session create -f POLICY.yaml [--cas ADDR]\n"
		"       ward session update -f POLICY.yaml [--predecessor HASH] [--cas ADDR]\n"
		"       ward session show NAME [--json] [--cas ADDR]\n"
		"       ward session delete NAME [--cas ADDR]\n"
		"       ward session audit NAME [--limit N] [--json] [--cas ADDR]\n"
		"       ward session list [--json] [--cas ADDR]\n"
		"       ward session whoami\n\n"
		"Sessions (policies) say which enclaves may run a service and what they get:\n"
		"arguments, environment, volume keys, secrets, injected files. The language is\n"
		"described in docs/session-language.md. Every policy is validated locally\n"
		"first; errors name FILE:LINE:COLUMN.\n\n"
		"  check    validate a policy and print its hash; no CAS needed\n"
		"  create   store a new session on the CAS; you become its creator (owner)\n"
		"  update   replace a session; the file (or --predecessor) must name the hash\n"
		"           of the version it replaces, so concurrent updates are not lost\n"
		"  show     print a session (secret values and volume keys redacted)\n"
		"  delete   remove a session\n"
		"  audit    print the session's audit log (changes, attestation decisions)\n"
		"  list     list the sessions you may read\n"
		"  whoami   print your client identity (for access_policy lists)\n\n"
		"The CAS address is --cas, else WARD_CAS_ADDR, else localhost:8081.\n"
		"Your client key pair is created on first use in $XDG_CONFIG_HOME/ward\n"
		"(default ~/.config/ward, mode 0600); the CAS's key is pinned on first\n"
		"contact in known-cas there, and a changed key is refused.\n");
}

struct opts {
	const char *file, *cas, *predecessor, *name;
	int json;
	long limit;
};

static int parse_opts(int argc, char **argv, struct opts *o, int want_file, int want_name)
{
	memset(o, 0, sizeof(*o));
	o->limit = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0 || strcmp(a, "--cas") == 0 ||
			    strcmp(a, "--predecessor") == 0 || strcmp(a, "--limit") == 0;
		if (takes && !v) {
			ward_error("session %s: option %s needs a value", argv[1], a);
			return -1;
		}
		if ((strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) && want_file)
			o->file = argv[++i];
		else if (strcmp(a, "--cas") == 0)
			o->cas = argv[++i];
		else if (strcmp(a, "--predecessor") == 0 && strcmp(argv[1], "update") == 0)
			o->predecessor = argv[++i];
		else if (strcmp(a, "--limit") == 0 && strcmp(argv[1], "audit") == 0) {
			uint64_t n;
			if (ward_parse_u64(argv[++i], &n) < 0 || n == 0 || n > 100000) {
				ward_error("session audit: --limit must be a number from 1 to 100000");
				return -1;
			}
			o->limit = (long)n;
		} else if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (a[0] != '-' && want_name && !o->name)
			o->name = a;
		else {
			ward_error("session %s: unexpected argument '%s' (see ward session --help)", argv[1], a);
			return -1;
		}
	}
	if (want_file && !o->file) {
		ward_error("session %s: which policy? pass -f POLICY.yaml", argv[1]);
		return -1;
	}
	if (want_name && !o->name) {
		ward_error("session %s: which session? pass its NAME", argv[1]);
		return -1;
	}
	if (o->name) {
		size_t n = strlen(o->name);
		int ok = n > 0 && n <= WARD_POLICY_NAME_MAX && o->name[0] != '.' && o->name[0] != '-';
		for (size_t k = 0; ok && k < n; k++)
			ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", o->name[k]) != NULL;
		if (!ok) {
			ward_error("invalid session name '%.80s' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)", o->name);
			return -1;
		}
	}
	return 0;
}

/* Reads and validates a policy file; prints the error itself. */
static struct ward_policy *load_policy(const char *path)
{
	uint8_t *data;
	size_t len;
	if (ward_read_file(path, WARD_POLICY_MAX_DOC, &data, &len) < 0) {
		if (errno == EFBIG)
			ward_error("%s: session document is larger than 1 MiB; the CAS refuses such documents", path);
		else
			ward_error("cannot read policy %s: %s", path, strerror(errno));
		return NULL;
	}
	char err[WARD_POLICY_ERR_MAX];
	struct ward_policy *p = ward_policy_parse((const char *)data, len, path, err, sizeof(err));
	ward_wipe(data, len);
	free(data);
	if (!p)
		ward_error("%s", err);
	return p;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (s)
		printf("%s\n", s);
	free(s);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* One line for a refused request. */
static void refused(const struct ward_cas_conn *c, const char *what, const char *name, const struct ward_cas_resp *r)
{
	if (r->status == 401)
		ward_error("the CAS at %s did not accept your client certificate (%s): %s", c->addr, c->id.cert_path,
			   ward_cas_error_text(r));
	else if (r->status == 403)
		ward_error("not allowed to %s session '%s': %s (your identity: %s)", what, name, ward_cas_error_text(r),
			   c->id.id);
	else if (r->status == 404)
		ward_error("session '%s' does not exist on the CAS at %s", name, c->addr);
	else
		ward_error("cannot %s session '%s' (CAS answered %ld): %s", what, name, r->status, ward_cas_error_text(r));
}

static int do_check(struct opts *o)
{
	struct ward_policy *p = load_policy(o->file);
	char h[WARD_POLICY_HASH_HEX + 1];
	if (!p)
		return 1;
	int rc = ward_policy_hash(p, h);
	if (rc == 0)
		printf("%s: session '%s' is valid; hash %s\n", o->file, p->name, h);
	ward_policy_free(p);
	return rc == 0 ? 0 : 1;
}

static int send_policy(struct opts *o, int update)
{
	struct ward_policy *p = load_policy(o->file);
	if (!p)
		return 1;
	int rc = 1;
	char *body = NULL;
	struct ward_cas_conn c;
	struct ward_cas_resp r = {0};
	if (!update && p->predecessor) {
		ward_error("%s: predecessor is set, so this is an update: run `ward session update -f %s`", o->file, o->file);
		goto out;
	}
	if (update && o->predecessor) {
		char *pred = strdup(o->predecessor);
		size_t n = pred ? strlen(pred) : 0;
		int ok = pred && n == WARD_POLICY_HASH_HEX;
		for (size_t i = 0; ok && i < n; i++) {
			if (pred[i] >= 'A' && pred[i] <= 'F')
				pred[i] = (char)(pred[i] - 'A' + 'a');
			ok = (pred[i] >= '0' && pred[i] <= '9') || (pred[i] >= 'a' && pred[i] <= 'f');
		}
		if (!ok) {
			free(pred);
			ward_error("--predecessor must be the 64-hex hash `ward session show %s` prints", p->name);
			goto out;
		}
		if (p->predecessor && strcmp(p->predecessor, pred) != 0) {
			free(pred);
			ward_error("%s names predecessor %.12s... but --predecessor says %.12s...; use one of them", o->file,
				   p->predecessor, o->predecessor);
			goto out;
		}
		free(p->predecessor);
		p->predecessor = pred;
	}
	if (update && !p->predecessor) {
		ward_error("%s: an update must name the version it replaces: add `predecessor: HASH` (the hash `ward session show %s` prints) or pass --predecessor HASH",
			   o->file, p->name);
		goto out;
	}
	if (!(body = ward_policy_to_json(p, 0))) {
		ward_error("out of memory");
		goto out;
	}
	if (ward_cas_open(&c, o->cas) < 0)
		goto out;
	char path[200];
	if (update)
		snprintf(path, sizeof(path), "/v1/sessions/%s", p->name);
	else
		snprintf(path, sizeof(path), "/v1/sessions");
	if (ward_cas_request(&c, update ? "PUT" : "POST", path, body, strlen(body), &r) < 0)
		goto out;
	if (r.status == 200 || r.status == 201) {
		printf("%s session '%s'; hash %s\n", update ? "updated" : "created", p->name, jstr(r.body, "hash"));
		rc = 0;
	} else if (r.status == 409) {
		const char *cur = jstr(r.body, "current_hash");
		if (update)
			ward_error("session '%s' has changed since %.12s...: its current hash is %s; review it with `ward session show %s`, then set predecessor: %s",
				   p->name, p->predecessor, cur, p->name, cur);
		else
			ward_error("session '%s' already exists (hash %s); change it with `ward session update` and predecessor: %s",
				   p->name, cur, cur);
	} else {
		refused(&c, update ? "update" : "create", p->name, &r);
	}
out:
	ward_cas_resp_free(&r);
	if (body) {
		ward_wipe(body, strlen(body));
		free(body);
	}
	ward_policy_free(p);
	return rc;
}

static int simple_get(struct opts *o, const char *what, const char *path, struct ward_cas_conn *c,
		      struct ward_cas_resp *r)
{
	if (ward_cas_open(c, o->cas) < 0 || ward_cas_request(c, "GET", path, NULL, 0, r) < 0)
		return -1;
	if (r->status != 200) {
		refused(c, what, o->name ? o->name : "*", r);
		return -1;
	}
	if (!json_is_object(r->body)) {
		ward_error("the CAS at %s sent a response that is not a JSON object", c->addr);
		return -1;
	}
	return 0;
}

static void fmt_time(json_t *t, char *out, size_t len)
{
	time_t v = (time_t)json_integer_value(t);
	struct tm tm;
	if (!json_is_integer(t) || !gmtime_r(&v, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "-");
}

static int do_show(struct opts *o)
{
	struct ward_cas_conn c;
	struct ward_cas_resp r = {0};
	char path[200];
	snprintf(path, sizeof(path), "/v1/sessions/%s", o->name);
	int rc = 1;
	if (simple_get(o, "read", path, &c, &r) < 0)
		goto out;
	if (o->json) {
		print_json(r.body);
	} else {
		char t1[40], t2[40];
		fmt_time(json_object_get(r.body, "created"), t1, sizeof(t1));
		fmt_time(json_object_get(r.body, "updated"), t2, sizeof(t2));
		printf("# session: %s\n# hash: %s\n# creator: %s\n# created: %s  updated: %s\n", jstr(r.body, "name"),
		       jstr(r.body, "hash"), jstr(r.body, "creator"), t1, t2);
		print_json(json_object_get(r.body, "session"));
	}
	rc = 0;
out:
	ward_cas_resp_free(&r);
	return rc;
}

static int do_delete(struct opts *o)
{
	struct ward_cas_conn c;
	struct ward_cas_resp r = {0};
	char path[200];
	int rc = 1;
	snprintf(path, sizeof(path), "/v1/sessions/%s", o->name);
	if (ward_cas_open(&c, o->cas) < 0 || ward_cas_request(&c, "DELETE", path, NULL, 0, &r) < 0)
		goto out;
	if (r.status == 200) {
		printf("deleted session '%s'\n", o->name);
		rc = 0;
	} else {
		refused(&c, "delete", o->name, &r);
	}
out:
	ward_cas_resp_free(&r);
	return rc;
}

static int do_audit(struct opts *o)
{
	struct ward_cas_conn c;
	struct ward_cas_resp r = {0};
	char path[220];
	int rc = 1;
	if (o->limit > 0)
		snprintf(path, sizeof(path), "/v1/sessions/%s/audit?limit=%ld", o->name, o->limit);
	else
		snprintf(path, sizeof(path), "/v1/sessions/%s/audit", o->name);
	if (simple_get(o, "read the audit log of", path, &c, &r) < 0)
		goto out;
	json_t *entries = json_object_get(r.body, "entries");
	if (o->json) {
		print_json(r.body);
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(entries, i, e) {
			char t[40];
			json_t *allowed = json_object_get(e, "allowed");
			fmt_time(json_object_get(e, "time"), t, sizeof(t));
			printf("%s  %-6s", t, jstr(e, "event"));
			if (*jstr(e, "service"))
				printf("  service=%s", jstr(e, "service"));
			if (json_is_boolean(allowed))
				printf("  %s", json_is_true(allowed) ? "allowed" : "DENIED");
			if (*jstr(e, "client"))
				printf("  client=%.16s", jstr(e, "client"));
			if (*jstr(e, "measurement"))
				printf("  measurement=%.16s", jstr(e, "measurement"));
			if (*jstr(e, "platform"))
				printf("  platform=%s", jstr(e, "platform"));
			if (*jstr(e, "reason"))
				printf("  reason: %s", jstr(e, "reason"));
			printf("\n");
		}
	}
	rc = 0;
out:
	ward_cas_resp_free(&r);
	return rc;
}

static int do_list(struct opts *o)
{
	struct ward_cas_conn c;
	struct ward_cas_resp r = {0};
	int rc = 1;
	if (simple_get(o, "list", "/v1/sessions", &c, &r) < 0)
		goto out;
	if (o->json) {
		print_json(r.body);
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(r.body, "sessions"), i, e)
			printf("%-32s %s\n", jstr(e, "name"), jstr(e, "hash"));
	}
	rc = 0;
out:
	ward_cas_resp_free(&r);
	return rc;
}

int cmd_session(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (cli_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	const char *sub = argv[1];
	struct opts o;
	if (strcmp(sub, "check") == 0 || strcmp(sub, "validate") == 0)
		return parse_opts(argc, argv, &o, 1, 0) < 0 ? 2 : do_check(&o);
	if (strcmp(sub, "create") == 0)
		return parse_opts(argc, argv, &o, 1, 0) < 0 ? 2 : send_policy(&o, 0);
	if (strcmp(sub, "update") == 0)
		return parse_opts(argc, argv, &o, 1, 0) < 0 ? 2 : send_policy(&o, 1);
	if (strcmp(sub, "show") == 0)
		return parse_opts(argc, argv, &o, 0, 1) < 0 ? 2 : do_show(&o);
	if (strcmp(sub, "delete") == 0)
		return parse_opts(argc, argv, &o, 0, 1) < 0 ? 2 : do_delete(&o);
	if (strcmp(sub, "audit") == 0)
		return parse_opts(argc, argv, &o, 0, 1) < 0 ? 2 : do_audit(&o);
	if (strcmp(sub, "list") == 0)
		return parse_opts(argc, argv, &o, 0, 0) < 0 ? 2 : do_list(&o);
	if (strcmp(sub, "whoami") == 0) {
		struct ward_client_id id;
		if (parse_opts(argc, argv, &o, 0, 0) < 0)
			return 2;
		if (ward_client_id_load(&id) < 0)
			return 1;
		printf("%s\n", id.id);
		return 0;
	}
	ward_error("unknown session command '%s' (expected check, create, update, show, delete, audit, list or whoami)", sub);
	return 2;
}
