/*
 * doc.h: a small document tree shared by the YAML and JSON front ends of the
 * session language, so that one validator (parse.c) serves both.
 *
 * Contract: ward_doc_from_yaml/_jansson return a tree or NULL with one line
 * in err. Trees are bounded (depth, node count); YAML aliases, anchors on
 * use, tags other than the core ones, several documents and duplicate keys
 * are refused. Scalars keep their bytes and where they came from (line and
 * column, 1-based; 0 for JSON). ward_doc_free wipes scalar bytes.
 */
#ifndef WARD_POLICY_DOC_H
#define WARD_POLICY_DOC_H

#include <stddef.h>

#include <jansson.h>

enum ward_doc_type { WARD_DOC_SCALAR, WARD_DOC_MAP, WARD_DOC_SEQ };

/* What a scalar was written as: YAML decides types by context, JSON by syntax. */
enum ward_doc_style {
	WARD_DOC_PLAIN,       /* YAML unquoted scalar */
	WARD_DOC_QUOTED,      /* YAML quoted/block scalar, JSON string */
	WARD_DOC_JSON_NUMBER, /* JSON integer or real (text form) */
	WARD_DOC_JSON_BOOL,
	WARD_DOC_NULL,        /* JSON null, YAML ~ / null / empty */
};

struct ward_doc {
	enum ward_doc_type type;
	enum ward_doc_style style;  /* scalars only */
	char *str;                  /* scalars: bytes + NUL */
	size_t len;
	struct ward_doc **keys;     /* maps: keys[i] (scalars) -> items[i] */
	struct ward_doc **items;    /* maps and sequences */
	size_t n;
	unsigned line, col;
};

#define WARD_DOC_MAX_DEPTH 32
#define WARD_DOC_MAX_NODES 200000

struct ward_doc *ward_doc_from_yaml(const char *buf, size_t len, const char *file,
				    char *err, size_t errlen);
struct ward_doc *ward_doc_from_jansson(const json_t *j, const char *file, char *err, size_t errlen);
void ward_doc_free(struct ward_doc *d);

/* The value under key in a map, NULL when absent. */
const struct ward_doc *ward_doc_get(const struct ward_doc *map, const char *key);

/* "a string", "a list", "a mapping", "null", "a number", "a boolean". */
const char *ward_doc_type_name(const struct ward_doc *d);

#endif
