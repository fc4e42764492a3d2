/*
 * ratls.h: RA-TLS certificates: X.509 certificates that carry attestation
 * evidence binding their own public key (format in docs/ratls.md).
 *
 * Reading (ward_ratls_parse): finds every evidence extension Ward knows,
 *  - TCG DICE tagged evidence, OID 2.23.133.5.4.9: CBOR tag(T)([evidence
 *    bstr, claims-buffer bstr]) per the CCC interoperable RA-TLS spec; T =
 *    60000 for Intel SGX/TDX quotes, WARD_CBOR_TAG_SIM for Ward simulation
 *    evidence, WARD_CBOR_TAG_SNP for SEV-SNP reports;
 *  - the Intel/Gramine SGX quote extension 1.2.840.113741.1337.6, also in
 *    Gramine's malformed encoding (OID content = the whole OID TLV);
 *  - Open Enclave 1.3.6.1.4.1.311.105.1 (16-byte header + quote);
 *  - an Intel IAS report in a Netscape comment (EPID);
 *  - sgx-ra-tls collateral extensions 1.2.840.113741.1337.7..10 (shown only),
 * matching OIDs by their raw bytes, and works out which key-binding rule
 * (if any) ties the evidence's report data to the certificate's key.
 * Nothing here checks a hardware signature chain: callers pass the
 * evidence to src/attest/quote/ for that. Sim evidence is verified here.
 *
 * Functions return 0 or -1 with a one-line reason in err; they never log.
 * Objects are not shared between threads; distinct objects are independent.
 */
#ifndef WARD_ATTEST_RATLS_RATLS_H
#define WARD_ATTEST_RATLS_RATLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/ratls/quote_fields.h"
#include "attest/ratls/sim_evidence.h"

#define WARD_CBOR_TAG_INTEL_QUOTE 60000u
#define WARD_CBOR_TAG_SIM 0x57415244u /* "WARD": Ward private, unregistered */
#define WARD_CBOR_TAG_SNP 0x57415253u /* "WARS": Ward private, unregistered */
#define WARD_RATLS_MAX_EVIDENCE 8
#define WARD_RATLS_CERT_MAX (1u << 20) /* largest certificate file read */

enum ward_ratls_ext {
	WARD_RATLS_EXT_DICE = 1,       /* 2.23.133.5.4.9 */
	WARD_RATLS_EXT_SGX_QUOTE,      /* 1.2.840.113741.1337.6 */
	WARD_RATLS_EXT_GRAMINE_LEGACY, /* same, malformed encoding 0.6.9.42.840.113741.1337.6 */
	WARD_RATLS_EXT_OPEN_ENCLAVE,   /* 1.3.6.1.4.1.311.105.1 */
	WARD_RATLS_EXT_DSTACK,         /* 1.3.6.1.4.1.62397.1.1: OCTET STRING holding a TDX quote */
	WARD_RATLS_EXT_IAS_COMMENT,    /* 2.16.840.1.113730.1.13 holding an IAS report */
	WARD_RATLS_EXT_INTEL_COLLATERAL, /* 1.2.840.113741.1337.7 .. .10 */
};

enum ward_ratls_evtype {
	WARD_RATLS_EV_INTEL_QUOTE = 1, /* SGX or TDX quote: see fields.kind */
	WARD_RATLS_EV_SNP_REPORT,
	WARD_RATLS_EV_SIM,
	WARD_RATLS_EV_IAS_REPORT,      /* EPID quote body inside a signed IAS report */
	WARD_RATLS_EV_COLLATERAL,
};

/* How report data ties the evidence to the certificate key. Names match
 * the test vectors' vocabulary. */
enum ward_ratls_rule {
	WARD_RATLS_RULE_NONE = 0,
	WARD_RATLS_RULE_SPKI_DER_SHA256,  /* Gramine: SHA-256(DER SubjectPublicKeyInfo) */
	WARD_RATLS_RULE_EC_POINT_SHA256,  /* Cosmian: SHA-256(04||X||Y) */
	WARD_RATLS_RULE_RSA_PKCS1_SHA256, /* rats-tls Enclave TLS: SHA-256(DER RSAPublicKey) */
	WARD_RATLS_RULE_SPKI_PEM_NUL_SHA256, /* Open Enclave: SHA-256(PEM SPKI + NUL) */
	WARD_RATLS_RULE_EC_POINT_SHA512,  /* dstack: SHA-512(04||X||Y), all 64 bytes */
	WARD_RATLS_RULE_DICE_CLAIMS,      /* DICE: SHA-256(claims) + claims' pubkey-hash of SPKI */
};

struct ward_ratls_evidence {
	enum ward_ratls_ext ext;
	char oid[96];                 /* dotted, as OpenSSL decodes the OID content */
	uint8_t oid_tlv[32];          /* DER of the OID TLV as found in the certificate */
	size_t oid_tlv_len;
	enum ward_ratls_evtype type;
	int collateral_index;         /* 7..10 for WARD_RATLS_EXT_INTEL_COLLATERAL */
	uint64_t cbor_tag;            /* DICE only */
	uint8_t *evidence;            /* owned: the evidence bytes (quote, report, sim) */
	size_t evidence_len;
	uint8_t *claims;              /* owned: DICE claims buffer, exact bytes */
	size_t claims_len;
	int parsed;                   /* fields/sim valid */
	char parse_error[200];
	struct ward_quote_fields fields; /* hardware evidence */
	struct ward_sim_claims sim;      /* sim evidence (signature verified when parsed) */
	uint8_t report_data[64];
	/* DICE claims */
	int has_pubkey_hash;
	uint64_t pubkey_hash_alg;     /* IANA named-information id: 1 sha-256, 7 sha-384, 8 sha-512 */
	uint8_t pubkey_hash[64];
	size_t pubkey_hash_len;
	int pubkey_hash_matches;      /* equals the hash of the certificate's DER SPKI */
	int report_data_binds_claims; /* report_data[0:32] = SHA-256(claims buffer) */
	uint8_t *nonce;               /* owned, DICE "nonce" claim */
	size_t nonce_len;
	size_t other_claims;          /* count of claims Ward does not interpret */
	/* IAS */
	char ias_status[64];
	char ias_timestamp[64];
	char ias_advisories[256];
	int ias_signature_ok;         /* report signed by the embedded IAS signing cert */
	X509 *ias_signing_cert;       /* owned */
	/* binding */
	enum ward_ratls_rule rule;    /* the rule that matched, NONE if none did */
	int report_data_rest_zero;    /* bytes after the bound hash are zero */
};

struct ward_ratls_cert {
	X509 *x509;                   /* owned */
	uint8_t spki_sha256[32];
	int self_signed;              /* subject == issuer */
	int self_signature_ok;        /* verifies with its own key */
	size_t n;
	struct ward_ratls_evidence ev[WARD_RATLS_MAX_EVIDENCE];
};

/* Loads a certificate (PEM or DER, at most WARD_RATLS_CERT_MAX bytes). */
int ward_ratls_load_file(const char *path, X509 **out, char *err, size_t errlen);

/* Parses the evidence in x (takes ownership of x in every case). A
 * certificate with no evidence extension is an error. Malformed evidence
 * does not fail the parse: it is recorded in ev[i].parse_error so `show`
 * can report it; `verify` refuses it. Free with ward_ratls_cert_free. */
int ward_ratls_parse(X509 *x, struct ward_ratls_cert **out, char *err, size_t errlen);
void ward_ratls_cert_free(struct ward_ratls_cert *c);

const char *ward_ratls_ext_name(enum ward_ratls_ext e);
const char *ward_ratls_rule_name(enum ward_ratls_rule r);   /* "spki_der_sha256", ... */
const char *ward_ratls_rule_text(enum ward_ratls_rule r);   /* a sentence */
const char *ward_ratls_evtype_name(const struct ward_ratls_evidence *e);

/* Builds the DICE claims buffer {"pubkey-hash": h'[1, SHA-256(SPKI)]'
 * (, "nonce": h'..')} for key, and the report data that binds it:
 * SHA-256(claims) || 0^32. *claims is malloc'ed (caller frees). */
int ward_ratls_claims(EVP_PKEY *key, const uint8_t *nonce, size_t nonce_len, uint8_t **claims,
		      size_t *claims_len, uint8_t report_data[64], char *err, size_t errlen);

/* Creates a self-signed certificate for key (CN=cn, valid `days` days from
 * now) carrying tag(T)([evidence, claims]) in the DICE extension. The tag
 * follows the evidence (sim magic, Intel quote, SNP report); refuses
 * evidence whose report data does not start with SHA-256(claims).
 * Caller frees *out with X509_free. */
int ward_ratls_cert_create(EVP_PKEY *key, const uint8_t *evidence, size_t evidence_len,
			   const uint8_t *claims, size_t claims_len, const char *cn, int days,
			   X509 **out, char *err, size_t errlen);

/* One call for simulation: claims for key, sim evidence of measurement
 * signed by platform p, certificate. */
int ward_ratls_cert_create_sim(EVP_PKEY *key, const struct ward_sim_platform *p,
			       const uint8_t measurement[32], const uint8_t *nonce,
			       size_t nonce_len, const char *cn, int days, X509 **out, char *err,
			       size_t errlen);

#endif
