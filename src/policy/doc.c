/* doc.c: YAML (libyaml events) and JSON (jansson) into struct ward_doc. */
#include "policy/doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/crypto.h"

static struct ward_doc *node_new(enum ward_doc_type t, unsigned line, unsigned col)
{
	struct ward_doc *d = calloc(1, sizeof(*d));
	if (d) {
		d->type = t;
		d->line = line;
		d->col = col;
	}
	return d;
}

void ward_doc_free(struct ward_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		if (d->keys)
			ward_doc_free(d->keys[i]);
		if (d->items)
			ward_doc_free(d->items[i]);
	}
	free(d->keys);
	free(d->items);
	if (d->str) {
		ward_wipe(d->str, d->len);
		free(d->str);
	}
	free(d);
}

/* Appends item (and key for maps). Returns -1 on ENOMEM. */
static int node_push(struct ward_doc *parent, struct ward_doc *key, struct ward_doc *item)
{
	size_t n = parent->n + 1;
	struct ward_doc **items = realloc(parent->items, n * sizeof(*items));
	if (!items)
		return -1;
	parent->items = items;
	if (parent->type == WARD_DOC_MAP) {
		struct ward_doc **keys = realloc(parent->keys, n * sizeof(*keys));
		if (!keys)
			return -1;
		parent->keys = keys;
		keys[parent->n] = key;
	}
	items[parent->n] = item;
	parent->n = n;
	return 0;
}

const struct ward_doc *ward_doc_get(const struct ward_doc *map, const char *key)
{
	if (!map || map->type != WARD_DOC_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->str, key) == 0)
			return map->items[i];
	return NULL;
}

const char *ward_doc_type_name(const struct ward_doc *d)
{
	if (d->type == WARD_DOC_MAP)
		return "a mapping";
	if (d->type == WARD_DOC_SEQ)
		return "a list";
	switch (d->style) {
	case WARD_DOC_NULL: return "null (nothing)";
	case WARD_DOC_JSON_NUMBER: return "a number";
	case WARD_DOC_JSON_BOOL: return "a boolean";
	default: return "a string";
	}
}

static int is_yaml_null(const char *s, size_t len)
{
	return len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int tag_ok(const unsigned char *tag)
{
	if (!tag)
		return 1;
	static const char *const ok[] = {"!", "tag:yaml.org,2002:str", "tag:yaml.org,2002:map",
					 "tag:yaml.org,2002:seq", "tag:yaml.org,2002:int",
					 "tag:yaml.org,2002:null"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp((const char *)tag, ok[i]) == 0)
			return 1;
	return 0;
}

struct ward_doc *ward_doc_from_yaml(const char *buf, size_t len, const char *file,
				    char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ward_doc *stack[WARD_DOC_MAX_DEPTH + 1];
	struct ward_doc *pending_key[WARD_DOC_MAX_DEPTH + 1];
	int depth = 0;
	size_t nodes = 0;
	struct ward_doc *root = NULL;
	int docs = 0, done = 0, failed = 0;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const yaml_mark_t *m = parser.problem_mark.line || parser.problem_mark.column
						       ? &parser.problem_mark : &parser.context_mark;
			snprintf(err, errlen, "%s:%zu:%zu: invalid YAML: %s%s%s", file, m->line + 1,
				 m->column + 1, parser.problem ? parser.problem : "syntax error",
				 parser.context ? " " : "", parser.context ? parser.context : "");
			failed = 1;
			break;
		}
		unsigned line = (unsigned)ev.start_mark.line + 1, col = (unsigned)ev.start_mark.column + 1;
		struct ward_doc *node = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				snprintf(err, errlen, "%s:%u:%u: a session file holds one YAML document; remove the second '---'",
					 file, line, col);
				failed = 1;
			}
			break;
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen, "%s:%u:%u: YAML aliases (*%s) are not supported in sessions; write the value out",
				 file, line, col, ev.data.alias.anchor ? (const char *)ev.data.alias.anchor : "");
			failed = 1;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const unsigned char *tag = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.tag
						   : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
						   : ev.data.mapping_start.tag;
			if (!tag_ok(tag)) {
				snprintf(err, errlen, "%s:%u:%u: YAML tag '%s' is not supported in sessions",
					 file, line, col, (const char *)tag);
				failed = 1;
				break;
			}
			if (++nodes > WARD_DOC_MAX_NODES) {
				snprintf(err, errlen, "%s:%u:%u: document too large (over %d values)", file,
					 line, col, WARD_DOC_MAX_NODES);
				failed = 1;
				break;
			}
			if (ev.type == YAML_SCALAR_EVENT) {
				node = node_new(WARD_DOC_SCALAR, line, col);
				if (node) {
					node->len = ev.data.scalar.length;
					node->str = malloc(node->len + 1);
					if (node->str) {
						memcpy(node->str, ev.data.scalar.value, node->len);
						node->str[node->len] = 0;
					}
					int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
						    !(ev.data.scalar.tag && strcmp((const char *)ev.data.scalar.tag,
										   "tag:yaml.org,2002:str") == 0);
					node->style = !plain ? WARD_DOC_QUOTED
						      : node->str && is_yaml_null(node->str, node->len) ? WARD_DOC_NULL
						      : WARD_DOC_PLAIN;
				}
				if (!node || !node->str) {
					ward_doc_free(node);
					snprintf(err, errlen, "%s: out of memory", file);
					failed = 1;
					break;
				}
			} else {
				node = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? WARD_DOC_SEQ : WARD_DOC_MAP,
						line, col);
				if (!node) {
					snprintf(err, errlen, "%s: out of memory", file);
					failed = 1;
					break;
				}
			}
			/* Attach to the parent. */
			if (depth == 0) {
				if (root) { /* cannot happen with one document, but be safe */
					ward_doc_free(node);
					snprintf(err, errlen, "%s:%u:%u: unexpected second document", file, line, col);
					failed = 1;
					break;
				}
				root = node;
			} else {
				struct ward_doc *parent = stack[depth - 1];
				if (parent->type == WARD_DOC_MAP && !pending_key[depth - 1]) {
					if (node->type != WARD_DOC_SCALAR || node->style == WARD_DOC_NULL) {
						snprintf(err, errlen, "%s:%u:%u: mapping keys must be plain names, not %s",
							 file, line, col, ward_doc_type_name(node));
						ward_doc_free(node);
						failed = 1;
						break;
					}
					for (size_t i = 0; i < parent->n; i++)
						if (strcmp(parent->keys[i]->str, node->str) == 0) {
							snprintf(err, errlen, "%s:%u:%u: duplicate key '%s' (first at line %u)",
								 file, line, col, node->str, parent->keys[i]->line);
							failed = 1;
							break;
						}
					if (failed) {
						ward_doc_free(node);
						break;
					}
					pending_key[depth - 1] = node;
					node = NULL; /* keys are not containers */
					break;
				}
				if (node_push(parent, pending_key[depth - 1], node) < 0) {
					ward_doc_free(node);
					snprintf(err, errlen, "%s: out of memory", file);
					failed = 1;
					break;
				}
				pending_key[depth - 1] = NULL;
			}
			if (node->type != WARD_DOC_SCALAR) {
				if (depth >= WARD_DOC_MAX_DEPTH) {
					snprintf(err, errlen, "%s:%u:%u: nesting deeper than %d levels", file, line,
						 col, WARD_DOC_MAX_DEPTH);
					failed = 1;
					break;
				}
				pending_key[depth] = NULL;
				stack[depth++] = node;
			}
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (failed)
			break;
	}
	/* A key without value cannot happen in well-formed YAML; free leftovers. */
	for (int i = 0; i < depth; i++)
		if (pending_key[i])
			ward_doc_free(pending_key[i]);
	yaml_parser_delete(&parser);
	if (failed) {
		ward_doc_free(root);
		return NULL;
	}
	if (!root || (root->type == WARD_DOC_SCALAR && root->style == WARD_DOC_NULL)) {
		ward_doc_free(root);
		snprintf(err, errlen, "%s:1:1: empty session: expected a mapping with name, version, services, ...", file);
		return NULL;
	}
	return root;
}

static struct ward_doc *from_json(const json_t *j, int depth, size_t *nodes, const char *file,
				  char *err, size_t errlen)
{
	if (depth > WARD_DOC_MAX_DEPTH || ++*nodes > WARD_DOC_MAX_NODES) {
		snprintf(err, errlen, "%s: document too deep or too large", file);
		return NULL;
	}
	struct ward_doc *d = NULL;
	if (json_is_object(j)) {
		d = node_new(WARD_DOC_MAP, 0, 0);
		const char *k;
		json_t *v;
		if (!d)
			goto oom;
		json_object_foreach((json_t *)j, k, v) {
			struct ward_doc *key = node_new(WARD_DOC_SCALAR, 0, 0);
			if (!key || !(key->str = strdup(k))) {
				ward_doc_free(key);
				goto oom_free;
			}
			key->len = strlen(k);
			key->style = WARD_DOC_QUOTED;
			struct ward_doc *item = from_json(v, depth + 1, nodes, file, err, errlen);
			if (!item) {
				ward_doc_free(key);
				ward_doc_free(d);
				return NULL;
			}
			if (node_push(d, key, item) < 0) {
				ward_doc_free(key);
				ward_doc_free(item);
				goto oom_free;
			}
		}
		return d;
	}
	if (json_is_array(j)) {
		d = node_new(WARD_DOC_SEQ, 0, 0);
		if (!d)
			goto oom;
		for (size_t i = 0; i < json_array_size(j); i++) {
			struct ward_doc *item = from_json(json_array_get(j, i), depth + 1, nodes, file, err, errlen);
			if (!item) {
				ward_doc_free(d);
				return NULL;
			}
			if (node_push(d, NULL, item) < 0) {
				ward_doc_free(item);
				goto oom_free;
			}
		}
		return d;
	}
	d = node_new(WARD_DOC_SCALAR, 0, 0);
	if (!d)
		goto oom;
	char num[64];
	const char *s = "";
	size_t len = 0;
	if (json_is_string(j)) {
		s = json_string_value(j);
		len = json_string_length(j);
		d->style = WARD_DOC_QUOTED;
	} else if (json_is_integer(j)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		s = num;
		len = strlen(num);
		d->style = WARD_DOC_JSON_NUMBER;
	} else if (json_is_real(j)) {
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		s = num;
		len = strlen(num);
		d->style = WARD_DOC_JSON_NUMBER;
	} else if (json_is_boolean(j)) {
		s = json_is_true(j) ? "true" : "false";
		len = strlen(s);
		d->style = WARD_DOC_JSON_BOOL;
	} else {
		d->style = WARD_DOC_NULL;
	}
	d->str = malloc(len + 1);
	if (!d->str)
		goto oom_free;
	memcpy(d->str, s, len);
	d->str[len] = 0;
	d->len = len;
	return d;
oom_free:
	ward_doc_free(d);
oom:
	snprintf(err, errlen, "%s: out of memory", file);
	return NULL;
}

struct ward_doc *ward_doc_from_jansson(const json_t *j, const char *file, char *err, size_t errlen)
{
	size_t nodes = 0;
	return from_json(j, 0, &nodes, file, err, errlen);
}
