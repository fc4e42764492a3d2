/*
 * check.h: the validator's toolkit: typed reads from a struct ward_doc with
 * errors that name file:line:column (YAML) or the field path (JSON), and
 * did-you-mean suggestions. Internal to src/policy.
 *
 * Contract: every function returning int gives 0 on success and -1 after
 * writing exactly one error line into the context (the first error wins).
 */
#ifndef WARD_POLICY_CHECK_H
#define WARD_POLICY_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "policy/doc.h"

struct pctx {
	const char *file;
	char *err;
	size_t errlen;
	int failed;
};

#define PATH_MAX_LEN 320

int pfail(struct pctx *c, const struct ward_doc *at, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* path helpers: out = parent.key / parent[i] */
void path_key(char out[PATH_MAX_LEN], const char *parent, const char *key);
void path_idx(char out[PATH_MAX_LEN], const char *parent, size_t i);

/* The closest of cands to s (edit distance <= 2, or <= a third of s), or NULL. */
const char *did_you_mean(const char *s, const char *const *cands, size_t n);

int expect_map(struct pctx *c, const struct ward_doc *d, const char *path);
int expect_seq(struct pctx *c, const struct ward_doc *d, const char *path);
/* Unknown keys are errors. allowed is NULL-terminated. */
int check_keys(struct pctx *c, const struct ward_doc *map, const char *path,
	       const char *const *allowed, const char *hint_for_unknown);

/* A text scalar (not null, number or boolean in JSON; any non-null scalar in
 * YAML), no NUL byte; *out is a fresh copy. */
int get_text(struct pctx *c, const struct ward_doc *d, const char *path, char **out);
/* map[key]: required (missing is an error) or optional (*out NULL when absent). */
int req_text(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, char **out);
int opt_text(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, char **out);
/* map[key], optional: true or false (YAML plain, JSON boolean; nothing
 * else, not even YAML 1.1's yes/no); *out 0 when absent. */
int opt_bool(struct pctx *c, const struct ward_doc *map, const char *path, const char *key, int *out);
/* Unsigned integer in [lo, hi]: YAML plain decimal, JSON integer. */
int get_uint(struct pctx *c, const struct ward_doc *d, const char *path, uint64_t lo, uint64_t hi,
	     uint64_t *out);
/* A list of text scalars; duplicates are errors when nodup. */
int get_text_list(struct pctx *c, const struct ward_doc *d, const char *path, int nodup,
		  char ***out, size_t *n);

int name_ok(const char *s);
/* Lower-cases s in place; 1 when it is hex of exactly digits digits (0: any
 * even length up to max_digits). */
int hex_ok(char *s, size_t digits, size_t max_digits);
int abs_path_ok(const char *s);

void free_list(char **v, size_t n);

#endif
