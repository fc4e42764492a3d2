/*
 * session_identity.h: the client side of `ward session`: where the user's
 * CAS credentials live and what they are.
 *
 * Contract: the config directory is $XDG_CONFIG_HOME/ward or ~/.config/ward
 * (created 0700). The client key pair (EC P-256, client-key.pem) and its
 * self-signed certificate (client-cert.pem) are created on first use, mode
 * 0600; an existing key readable by group or others is refused. The
 * identity is the lower-case hex SHA-256 of the public key's DER
 * SubjectPublicKeyInfo (the form access_policy lists and the CAS use).
 * known-cas holds "HOST:PORT sha256:HEX" lines: the pinned CAS keys.
 * Every failure prints one ward_error line and returns -1.
 */
#ifndef WARD_CLI_SESSION_IDENTITY_H
#define WARD_CLI_SESSION_IDENTITY_H

#include <stddef.h>

#include <openssl/x509.h>

#define WARD_ID_HEX 64

struct ward_client_id {
	char dir[4000];
	char key_path[4096];
	char cert_path[4096];
	char known_path[4096];
	char id[WARD_ID_HEX + 1];
};

/* Finds (creating if needed) the config directory and the key pair. */
int ward_client_id_load(struct ward_client_id *c);

/* Lower-case hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. */
int ward_spki_hash_hex(X509 *x, char out[WARD_ID_HEX + 1]);

/* The pinned fingerprint ("sha256:HEX") for addr, or "" when none: 0 / -1. */
int ward_known_cas_get(const struct ward_client_id *c, const char *addr, char *fp, size_t fplen);
/* Records addr -> fp (atomic rewrite). */
int ward_known_cas_add(const struct ward_client_id *c, const char *addr, const char *fp);

#endif
