/*
 * session_http.h: HTTPS/JSON requests from `ward session` to a CAS
 * (docs/cas-api.md), over libcurl with TLS 1.3, the user's client key pair,
 * and the CAS's public key pinned on first use.
 *
 * Contract: ward_cas_open resolves the address (option, else WARD_CAS_ADDR,
 * else localhost:8081), loads the client identity and the pin; on first
 * contact with an address it fetches the CAS key, records it in known-cas
 * and says so on stderr. Every later request is refused unless the CAS
 * presents the pinned key. Transport failures print one ward_error line
 * and return -1; HTTP statuses (incl. 4xx) are returned to the caller with
 * the parsed JSON body (or NULL when the body is not JSON).
 */
#ifndef WARD_CLI_SESSION_HTTP_H
#define WARD_CLI_SESSION_HTTP_H

#include <stddef.h>

#include <jansson.h>

#include "cli/session_identity.h"

#define WARD_CAS_DEFAULT_ADDR "localhost:8081"
#define WARD_CAS_RESPONSE_MAX (16u << 20)

struct ward_cas_conn {
	char addr[300];      /* normalised "host:port" */
	char base[320];      /* "https://host:port" */
	char pin[80];        /* "sha256:HEX" */
	struct ward_client_id id;
};

struct ward_cas_resp {
	long status;
	json_t *body;        /* NULL when not JSON */
};

int ward_cas_open(struct ward_cas_conn *c, const char *addr_opt);

/* body may be NULL (no body). path starts with '/'. */
int ward_cas_request(struct ward_cas_conn *c, const char *method, const char *path, const char *body,
		     size_t len, struct ward_cas_resp *r);

void ward_cas_resp_free(struct ward_cas_resp *r);

/* The server's error text from a 4xx/5xx body, or a generic one. */
const char *ward_cas_error_text(const struct ward_cas_resp *r);

#endif
