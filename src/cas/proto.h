/*
 * proto.h: the enclave <-> CAS attestation protocol, shared by the server
 * (attest_srv.c) and the client (attest_client.c). Spec: docs/cas-api.md,
 * section "Attestation protocol".
 *
 * Frame = 4-byte big-endian length || UTF-8 JSON object. Lengths are bounded
 * per direction (WARD_CAS_FRAME_MAX_IN from enclaves, _OUT from the CAS).
 * The TLS channel is server-authenticated only (no client certificate). The
 * evidence's report data is SHA-256(enclave SPKI DER) || binding, where
 * binding = ward_cas_binding(challenge, TLS exporter, config id, volume
 * tags): the exporter ties the evidence to this one TLS connection, so a
 * relay or MITM cannot present it on another. Tag reports are signed by the
 * enclave key over ward_cas_tag_message() (also channel-bound).
 *
 * Pure functions (ward_cas_exporter reads the SSL's secrets), thread-safe,
 * no allocation, no logging.
 */
#ifndef WARD_CAS_PROTO_H
#define WARD_CAS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define WARD_CAS_PROTO_VERSION 2
#define WARD_CAS_FRAME_HDR 4
#define WARD_CAS_FRAME_MAX_IN 65536u          /* enclave -> CAS */
#define WARD_CAS_FRAME_MAX_OUT (4u << 20)     /* CAS -> enclave */
#define WARD_CAS_CHALLENGE_LEN 32
#define WARD_CAS_EVIDENCE_MAX 16384           /* raw evidence bytes */
#define WARD_CAS_CONFIG_ID_MAX 257            /* "session/service" */
#define WARD_CAS_NAME_MAX 128                 /* session, service, volume names */
#define WARD_CAS_TAG_HEX_MAX 128              /* volume tag, hex */
#define WARD_CAS_VOLUMES_MAX 64
#define WARD_CAS_EXPORTER_LEN 32
#define WARD_CAS_EXPORTER_LABEL "EXPORTER-ward-cas-attest-v2"
#define WARD_CAS_SPKI_MAX 1024                /* enclave key in a tag report, DER */
#define WARD_CAS_TAG_SIG_MAX 256              /* its signature, DER */
#define WARD_CAS_TAG_MSG_MAX (16 + 2 * 32 + 8 + 2 * (WARD_CAS_TAG_HEX_MAX + 1) + WARD_CAS_NAME_MAX)

typedef struct ssl_st SSL;

/* The channel binding: TLS 1.3 exporter (RFC 8446 7.5) with label
 * WARD_CAS_EXPORTER_LABEL, no context, 32 bytes. Equal on both ends of one
 * connection, different (and unpredictable) for every other. 0 or -1. */
int ward_cas_exporter(SSL *ssl, uint8_t out[WARD_CAS_EXPORTER_LEN]);

/* Writes the header for a body of len bytes. */
void ward_cas_frame_header(uint32_t len, uint8_t hdr[WARD_CAS_FRAME_HDR]);

/* Reads a header: 0 and *len when 1 <= len <= max, -1 otherwise. */
int ward_cas_frame_parse(const uint8_t hdr[WARD_CAS_FRAME_HDR], uint32_t max, uint32_t *len);

/* True when s is a valid session/service/volume name: 1..128 bytes of
 * [A-Za-z0-9_.-], not starting with '.' or '-'. */
int ward_cas_name_ok(const char *s);

/* True when s is an even-length lower/upper-case hex string of at most
 * WARD_CAS_TAG_HEX_MAX digits (the empty string is a valid "no tag"). */
int ward_cas_tag_ok(const char *s);

/* Splits "session/service" into its parts (both must pass
 * ward_cas_name_ok). Returns -1 on anything else. */
int ward_cas_config_id_split(const char *id, char session[WARD_CAS_NAME_MAX + 1],
			     char service[WARD_CAS_NAME_MAX + 1]);

/* binding = SHA-256("ward-cas-attest-v2" 0 challenge exporter config_id 0
 *                   { name 0 tag 0 } for each volume)
 * Volumes must be given sorted by name (strcmp order, no duplicates);
 * returns -1 when they are not, or on a hash failure. */
int ward_cas_binding(const uint8_t challenge[WARD_CAS_CHALLENGE_LEN],
		     const uint8_t exporter[WARD_CAS_EXPORTER_LEN], const char *config_id,
		     size_t nvol, const char *const *names, const char *const *tags,
		     uint8_t out[32]);

/* What the enclave key signs (ECDSA, SHA-256) for a tag report:
 * "ward-cas-tag-v2" 0 challenge exporter phase 0 volume 0 tag 0.
 * Writes at most WARD_CAS_TAG_MSG_MAX bytes; -1 when a field is too long. */
int ward_cas_tag_message(const uint8_t challenge[WARD_CAS_CHALLENGE_LEN],
			 const uint8_t exporter[WARD_CAS_EXPORTER_LEN], const char *phase,
			 const char *volume, const char *tag, uint8_t out[WARD_CAS_TAG_MSG_MAX],
			 size_t *len);

#endif
