/*
 * session.h: the CAS's view of a session document (JSON form of the session
 * language, docs/cas-api.md): validation of what the CAS relies on, the
 * session hash, access checks, redaction, CAS-generated material and the
 * configuration sent to an attested enclave.
 *
 * Contract: functions never log; failures write one line into err naming
 * the field ("services[0].mrenclaves[1]: ..."). JSON arguments are borrowed;
 * returned JSON is owned by the caller. Thread-safe (no global state).
 */
#ifndef WARD_CAS_SESSION_H
#define WARD_CAS_SESSION_H

#include <stddef.h>

#include <jansson.h>

#include "cas/evidence_check.h"

#define CAS_SESSION_DOC_MAX (1u << 20)

/* Checks the document's structure and values. 0 ok, -1 with err. */
int cas_session_validate(json_t *doc, char *err, size_t errlen);

/* Lower-case hex SHA-256 of the canonical JSON (sorted keys, compact). */
int cas_session_hash(json_t *doc, char out[65]);

/* access_policy check: which is "read" or "update"; client is the caller's
 * key hash (hex) or NULL; creator the session's. 1 allowed, 0 not. */
int cas_session_allowed(json_t *doc, const char *which, const char *creator, const char *client);

/* Copy of doc with secret values and volume keys replaced by "<redacted>". */
json_t *cas_session_redacted(json_t *doc);

/* CAS-held material for a new version: keeps entries of prev_state (may be
 * NULL) whose secret name/kind/size are unchanged, generates the others
 * (secrets without a value, volumes without a key). NULL with err on failure. */
json_t *cas_session_state(json_t *doc, json_t *prev_state, char *err, size_t errlen);

/* Volume tags the document pins: {"vol": "tag"} for volumes with a "tag"
 * that is new or changed against prev_doc (NULL on create). Never NULL. */
json_t *cas_session_pinned_tags(json_t *doc, json_t *prev_doc);

/* The service object named svc, or NULL. */
json_t *cas_session_service(json_t *doc, const char *svc);

/* Checks measurement and evidence flags against the service and the
 * session's tolerations; hardware evidence also against the service's pins
 * (cas/hw_decision.h). 0 allowed; -1 with the full denial reason
 * ("attestation denied by CAS: ...") in reason. */
int cas_session_check_evidence(json_t *doc, const char *session, const char *svc,
			       const struct cas_evidence *ev, char *reason, size_t reasonlen);

/* 1 when security.attestation.tolerate lists what. */
int cas_session_tolerates(json_t *doc, const char *what);

/* 1 when svc's mrenclaves lists the n-byte measurement m (entries of another
 * length are skipped); 0 with the entries of this length, ", "-separated,
 * in list (or a note that there are none). */
int cas_session_match_measurement(json_t *svc, const uint8_t *m, size_t n, char *list, size_t listlen);

/* The "config" message for an attested enclave (see docs/cas-api.md);
 * tags: {"vol": "tag"} as accepted; pending: {"vol": "tag"} or NULL, sent
 * when the enclave checks its volumes itself. NULL on failure. */
json_t *cas_session_config(json_t *doc, json_t *state, const char *session, const char *svc,
			   const char *hash, json_t *tags, json_t *pending);

#endif
