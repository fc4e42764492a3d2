/*
 * session_text.h: turns a session document's text (JSON, or YAML through
 * the session language library) into its JSON form.
 *
 * Contract: returns a new JSON object (caller json_decref's) or NULL with a
 * one-line reason in err that names the position ("line 3, column 7: ...").
 * content_type may be NULL (sniffed: JSON when the text starts with '{').
 */
#ifndef WARD_CAS_SESSION_TEXT_H
#define WARD_CAS_SESSION_TEXT_H

#include <stddef.h>

#include <jansson.h>

json_t *cas_session_text_parse(const char *txt, size_t len, const char *content_type, char *err,
			       size_t errlen);

#endif
