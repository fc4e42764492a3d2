/* check.c: typed reads from the document tree with located errors. */
#include "policy/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "policy/policy.h"

int pfail(struct pctx *c, const struct ward_doc *at, const char *path, const char *fmt, ...)
{
	if (c->failed)
		return -1;
	c->failed = 1;
	char msg[WARD_POLICY_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->line)
		snprintf(c->err, c->errlen, "%s:%u:%u: %s%s%s", c->file, at->line, at->col,
			 path && *path ? path : "", path && *path ? ": " : "", msg);
	else if (path && *path)
		snprintf(c->err, c->errlen, "%s: field '%s': %s", c->file, path, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
	return -1;
}

void path_key(char out[PATH_MAX_LEN], const char *parent, const char *key)
{
	snprintf(out, PATH_MAX_LEN, "%s%s%s", parent, *parent ? "." : "", key);
}

void path_idx(char out[PATH_MAX_LEN], const char *parent, size_t i)
{
	snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i);
}

/* Optimal string alignment distance: a transposition counts as one edit. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			size_t v = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *did_you_mean(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = 99, len = strlen(s);
	size_t limit = len <= 4 ? 1 : len / 3 > 2 ? len / 3 : 2;
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(s, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

int expect_map(struct pctx *c, const struct ward_doc *d, const char *path)
{
	if (d->type == WARD_DOC_MAP)
		return 0;
	return pfail(c, d, path, "expected a mapping (key: value lines), got %s", ward_doc_type_name(d));
}

int expect_seq(struct pctx *c, const struct ward_doc *d, const char *path)
{
	if (d->type == WARD_DOC_SEQ)
		return 0;
	return pfail(c, d, path, "expected a list ('- item' lines), got %s", ward_doc_type_name(d));
}

int check_keys(struct pctx *c, const struct ward_doc *map, const char *path,
	       const char *const *allowed, const char *hint)
{
	size_t n = 0;
	while (allowed[n])
		n++;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->str;
		int known = 0;
		for (size_t j = 0; j < n && !known; j++)
			known = strcmp(k, allowed[j]) == 0;
		if (known)
			continue;
		const char *m = did_you_mean(k, allowed, n);
		if (m)
			return pfail(c, map->keys[i], path, "unknown key '%s' (did you mean '%s'?)", k, m);
		char list[256] = "";
		for (size_t j = 0; j < n; j++) {
			strncat(list, allowed[j], sizeof(list) - strlen(list) - 1);
			if (j + 1 < n)
				strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		}
		return pfail(c, map->keys[i], path, "unknown key '%s' (expected one of: %s)%s%s", k, list,
			     hint ? "; " : "", hint ? hint : "");
	}
	return 0;
}

int get_text(struct pctx *c, const struct ward_doc *d, const char *path, char **out)
{
	*out = NULL;
	if (d->type != WARD_DOC_SCALAR || d->style == WARD_DOC_NULL ||
	    d->style == WARD_DOC_JSON_NUMBER || d->style == WARD_DOC_JSON_BOOL)
		return pfail(c, d, path, "expected a string, got %s%s", ward_doc_type_name(d),
			     d->style == WARD_DOC_NULL ? " (write \"\" for an empty string)" : "");
	if (memchr(d->str, 0, d->len))
		return pfail(c, d, path, "string contains a NUL byte");
	*out = strdup(d->str);
	if (!*out)
		return pfail(c, d, path, "out of memory");
	return 0;
}

int req_text(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, char **out)
{
	char p[PATH_MAX_LEN];
	const struct ward_doc *d = ward_doc_get(map, key);
	*out = NULL;
	if (!d)
		return pfail(c, map, path, "missing required key '%s'", key);
	path_key(p, path, key);
	return get_text(c, d, p, out);
}

int opt_text(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, char **out)
{
	*out = NULL;
	const struct ward_doc *d = ward_doc_get(map, key);
	if (!d)
		return 0;
	char p[PATH_MAX_LEN];
	path_key(p, path, key);
	return get_text(c, d, p, out);
}

int opt_bool(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, int *out)
{
	char p[PATH_MAX_LEN];
	const struct ward_doc *d = ward_doc_get(map, key);
	*out = 0;
	if (!d)
		return 0;
	path_key(p, path, key);
	if (d->type == WARD_DOC_SCALAR && (d->style == WARD_DOC_PLAIN || d->style == WARD_DOC_JSON_BOOL)) {
		if (strcmp(d->str, "true") == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(d->str, "false") == 0)
			return 0;
	}
	if (d->type == WARD_DOC_SCALAR && d->style != WARD_DOC_NULL)
		return pfail(c, d, p, "expected true or false, got '%.40s'", d->str);
	return pfail(c, d, p, "expected true or false, got %s", ward_doc_type_name(d));
}

int get_uint(struct pctx *c, const struct ward_doc *d, const char *path, uint64_t lo, uint64_t hi,
	     uint64_t *out)
{
	if (d->type != WARD_DOC_SCALAR || (d->style != WARD_DOC_PLAIN && d->style != WARD_DOC_JSON_NUMBER))
		return pfail(c, d, path, "expected a whole number, got %s", ward_doc_type_name(d));
	uint64_t v;
	if (ward_parse_u64(d->str, &v) < 0)
		return pfail(c, d, path, "expected a whole number, got '%.40s'", d->str);
	if (v < lo || v > hi)
		return pfail(c, d, path, "%llu is out of range (%llu..%llu)", (unsigned long long)v,
			     (unsigned long long)lo, (unsigned long long)hi);
	*out = v;
	return 0;
}

void free_list(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int get_text_list(struct pctx *c, const struct ward_doc *d, const char *path, int nodup,
		  char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (expect_seq(c, d, path) < 0)
		return -1;
	char **v = calloc(d->n ? d->n : 1, sizeof(*v));
	if (!v)
		return pfail(c, d, path, "out of memory");
	for (size_t i = 0; i < d->n; i++) {
		char p[PATH_MAX_LEN];
		path_idx(p, path, i);
		if (get_text(c, d->items[i], p, &v[i]) < 0) {
			free_list(v, i);
			return -1;
		}
		for (size_t j = 0; nodup && j < i; j++)
			if (strcmp(v[j], v[i]) == 0) {
				pfail(c, d->items[i], p, "duplicate entry '%.80s'", v[i]);
				free_list(v, i + 1);
				return -1;
			}
	}
	*out = v;
	*n = d->n;
	return 0;
}

int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > WARD_POLICY_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.'))
			return 0;
	}
	return 1;
}

int hex_ok(char *s, size_t digits, size_t max_digits)
{
	size_t n = strlen(s);
	if (digits ? n != digits : (n % 2 || n > max_digits))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'F')
			s[i] = (char)(ch - 'A' + 'a');
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
	}
	return 1;
}

int abs_path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] != '/' || n > 4095)
		return 0;
	/* No "." or ".." components: paths are compared as written. */
	for (const char *p = s; *p; p++)
		if (p[0] == '/' && p[1] == '.' && (p[2] == '/' || p[2] == 0 || (p[2] == '.' && (p[3] == '/' || p[3] == 0))))
			return 0;
	return 1;
}
