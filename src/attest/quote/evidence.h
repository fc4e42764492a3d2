/*
 * evidence.h: hardware attestation evidence: parse and verify Intel SGX
 * ECDSA quotes (v3), Intel TDX quotes (v4, v5; TD report 1.0 and 1.5) and
 * AMD SEV-SNP attestation reports (v2, v3, v5; Milan, Genoa, Turin).
 *
 * Contract:
 *  - ward_evidence_parse() reads untrusted bytes through a bounded cursor:
 *    every length is checked against the format maximum and what is left
 *    before use; truncated input, unknown versions and inconsistent lengths
 *    are errors. Bytes after the signed structure (zero padding of a quote
 *    buffer, the text go-tdx-guest appends) are counted in `trailing`, not
 *    parsed. The evidence owns a copy of the input; free it with
 *    ward_evidence_free() (accepts NULL).
 *  - ward_evidence_verify() runs every check it can with OpenSSL and records
 *    each outcome (pass, fail with a one-line reason, skipped) in the result;
 *    it never stops at the first failure and never prints. result->ok is 1
 *    only when every performed check passed. The TCB status is a fact to be
 *    judged by a policy (ward_evidence_policy_check()), except Revoked and
 *    "no matching TCB level", which fail the tcb_level check.
 *  - Trust anchors: the Intel SGX Root CA and the AMD ARKs (Milan, Genoa,
 *    Turin) are pinned by public key inside the library; opts->root_der
 *    replaces the Intel root (tests, private PKI).
 *  - Collateral (struct ward_collateral) is loaded once and may be reused
 *    for any number of verifications and shared between threads: its
 *    content is read-only after loading; it also owns a verification cache
 *    (struct ward_verify_cache, locked) that remembers decoded certificates
 *    and verified signatures and chains, so repeated verifications skip that
 *    work (docs/evidence.md, "Caching"). A caller may pass its own cache in
 *    opts->cache (SEV-SNP has no collateral to hold one). The only global
 *    state is immutable after first use: the decoded pinned Intel root and
 *    the fetched SHA-256/SHA-384 implementations.
 *  - Nothing here logs; errors are written to the caller's err buffer.
 * The byte layouts are in docs/evidence.md.
 */
#ifndef WARD_ATTEST_QUOTE_EVIDENCE_H
#define WARD_ATTEST_QUOTE_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* Largest evidence file accepted (a quote with its PEM chain is ~5 KB). */
#define WARD_EVIDENCE_MAX_SIZE (1u << 20)

enum ward_evidence_type {
	WARD_EVIDENCE_SGX = 1, /* SGX ECDSA quote v3 */
	WARD_EVIDENCE_TDX = 2, /* TDX quote v4 or v5 */
	WARD_EVIDENCE_SNP = 3, /* SEV-SNP attestation report */
};

/* SGX REPORTBODY (384 bytes): the enclave of an SGX quote, and the QE. */
struct ward_sgx_report {
	uint8_t cpusvn[16];
	uint8_t miscselect[4];
	uint8_t isv_ext_prod_id[16];
	uint8_t attributes[16]; /* FLAGS (u64 LE) then XFRM; FLAGS bit 1 = DEBUG */
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t config_id[64];
	uint16_t isv_prod_id;
	uint16_t isv_svn;
	uint16_t config_svn;
	uint8_t isv_family_id[16];
	uint8_t report_data[64];
};

/* TD quote body (TD report 1.0: 584 bytes; 1.5 adds 64). */
struct ward_td_report {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[48];
	uint8_t mrsignerseam[48];
	uint8_t seam_attributes[8];
	uint8_t td_attributes[8]; /* bit 0 = DEBUG */
	uint8_t xfam[8];
	uint8_t mrtd[48];
	uint8_t mrconfigid[48];
	uint8_t mrowner[48];
	uint8_t mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	int tdx15; /* TD report 1.5: the two fields below are set */
	uint8_t tee_tcb_svn2[16];
	uint8_t mrservicetd[48];
};

/* SEV-SNP TCB_VERSION, decoded per product (Turin has an FMC field). */
struct ward_snp_tcb {
	uint8_t raw[8];
	uint8_t fmc; /* Turin only */
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct ward_snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy; /* bit 19 = DEBUG */
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	struct ward_snp_tcb current_tcb;
	uint64_t platform_info;
	uint32_t key_info; /* bits 2-4: signing key (0 VCEK, 1 VLEK, 7 none) */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	struct ward_snp_tcb reported_tcb;
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step; /* v3+ */
	uint8_t chip_id[64];
	struct ward_snp_tcb committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	struct ward_snp_tcb launch_tcb;
	uint64_t launch_mit_vector, current_mit_vector; /* v5+ */
	uint8_t sig_r[72], sig_s[72]; /* little-endian as on the wire */
	int turin; /* TCB layout: CPUID family 0x1A */
	size_t trailing; /* bytes after the report (ward_evidence_parse_claims only; else 0) */
};

/* Header and signature data of an Intel DCAP quote (SGX v3, TDX v4/v5). */
struct ward_dcap_quote {
	uint16_t version;
	uint16_t att_key_type;
	uint32_t tee_type; /* 0 SGX, 0x81 TDX */
	uint16_t qe_svn, pce_svn;
	uint8_t qe_vendor_id[16];
	uint8_t user_data[20];
	uint16_t v5_body_type; /* v5 only: 1 SGX, 2 TD 1.0, 3 TD 1.5 */
	uint32_t v5_body_size;
	size_t total_size;      /* bytes used: header .. end of signature data */
	size_t signed_len;      /* bytes signed by the attestation key */
	size_t sig_data_len;
	size_t trailing;        /* bytes after the signature data */
	uint8_t quote_sig[64];  /* r||s */
	uint8_t att_key[64];    /* x||y */
	uint16_t outer_cert_type; /* 6 in v4/v5, 0 in v3 */
	uint8_t qe_report_raw[384];
	struct ward_sgx_report qe_report;
	uint8_t qe_report_sig[64];
	size_t qe_auth_off, qe_auth_len; /* offsets into the evidence bytes */
	uint16_t cert_type;              /* 5 = PEM PCK chain */
	size_t cert_off, cert_len;
};

/* What the evidence claims: every measurement, by type. */
struct ward_evidence_claims {
	enum ward_evidence_type type;
	struct ward_dcap_quote quote;  /* SGX, TDX */
	struct ward_sgx_report sgx;    /* SGX enclave */
	struct ward_td_report td;      /* TDX */
	struct ward_snp_report snp;    /* SNP */
	int debug; /* SGX ATTRIBUTES.DEBUG, TDATTRIBUTES.DEBUG or SNP POLICY.DEBUG */
};

struct ward_evidence {
	struct ward_evidence_claims c;
	uint8_t *raw; /* owned copy of the evidence bytes */
	size_t raw_len;
};

/* Parses evidence bytes (binary; see ward_evidence_decode for hex). On
 * success *out owns a copy of buf; on failure *out is untouched and err
 * names the field and the reason. */
int ward_evidence_parse(const uint8_t *buf, size_t len, struct ward_evidence **out, char *err, size_t errlen);
void ward_evidence_free(struct ward_evidence *ev);

/* What ward_evidence_parse_claims() reads. */
enum ward_claims_want {
	WARD_CLAIMS_ANY = 0, /* dispatch on the first bytes, as ward_evidence_parse() */
	WARD_CLAIMS_DCAP,    /* an Intel SGX/TDX quote */
	WARD_CLAIMS_SNP,     /* an SEV-SNP report */
};

/* Reads what evidence claims, for callers that show claims or check a key
 * binding and leave verification to ward_evidence_parse() and
 * ward_evidence_verify() (RA-TLS, the hardware attesters). The same bounded
 * reader and the same header, body and length checks as ward_evidence_parse(),
 * without the rules only verification needs:
 *  - the attestation key may also be ECDSA P-384 (type 3);
 *  - the signature data must fit in the buffer (and the buffer in
 *    WARD_EVIDENCE_MAX_SIZE), but it has no 64 KiB limit and its inner
 *    structure is decoded only as far as it is well formed: quote.outer_cert_type
 *    and quote.cert_type (and the fields before them) are set when present,
 *    else 0; a malformed inner structure is not an error here;
 *  - bytes after a quote or an SNP report are counted (quote.trailing,
 *    snp.trailing), not limited.
 * Fills *out (zeroed first) on success; on failure *out is unspecified and
 * err names the field and the reason. Allocates nothing; thread-safe. */
int ward_evidence_parse_claims(const uint8_t *buf, size_t len, enum ward_claims_want want,
			       struct ward_evidence_claims *out, char *err, size_t errlen);

/* An EPID quote body (the isvEnclaveQuoteBody of an IAS report): a 48-byte
 * header and the enclave's SGX report body. Nothing in it is signed by a
 * key Ward can check; the IAS report signature covers it. */
struct ward_epid_quote_body {
	uint16_t version; /* 1 or 2 */
	uint16_t sign_type;
	uint8_t epid_group_id[4];
	uint16_t qe_svn, pce_svn;
	uint32_t xeid;
	uint8_t basename[32];
	struct ward_sgx_report report;
	int debug; /* ATTRIBUTES.DEBUG */
};

/* Reads an EPID quote body: exactly 432 bytes, version 1 or 2. Fills *out
 * on success; err names the reason on failure. Thread-safe. */
int ward_epid_body_parse(const uint8_t *buf, size_t len, struct ward_epid_quote_body *out, char *err,
			 size_t errlen);

/* Turns file content into evidence bytes: binary is kept; ASCII hex
 * (optional 0x prefix, either case, surrounding whitespace) is decoded.
 * *out is freshly allocated (free()). */
int ward_evidence_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/* Reads a file (at most WARD_EVIDENCE_MAX_SIZE), decodes and parses it. */
int ward_evidence_load(const char *path, struct ward_evidence **out, char *err, size_t errlen);

/* ---- the PCK certificate of a DCAP quote ---- */

struct ward_pck_info {
	int present;       /* the quote carried a PEM chain (type 5) */
	size_t ncerts;
	char subject[3][160]; /* leaf, intermediate, root: RFC 2253-ish "C=US,...,CN=..." */
	char not_before[3][32], not_after[3][32]; /* "2023-09-20T21:53:43+00:00" */
	uint8_t ppid[16];
	uint8_t comp_svn[16];
	uint16_t pcesvn;
	uint8_t cpusvn[16];
	uint8_t pceid[2];
	uint8_t fmspc[6];
};

/* Decodes the PCK chain in the quote's certification data and the leaf's
 * SGX extension (OID 1.2.840.113741.1.13.1). No signature is checked. */
int ward_evidence_pck_info(const struct ward_evidence *ev, struct ward_pck_info *out, char *err, size_t errlen);

/* ---- collateral (SGX/TDX) ---- */

struct ward_collateral; /* opaque; parsed TCB info, QE identity, CRLs, chains */

/* Loads collateral from a directory (Intel PCS JSON bodies with
 * {"tcbInfo":..}/{"enclaveIdentity":..}, CRLs as DER or PEM, PEM issuer
 * chains; file names do not matter, the content is classified) or from a
 * dcap-qvl QuoteCollateralV3 JSON file. */
int ward_collateral_load(const char *path, struct ward_collateral **out, char *err, size_t errlen);
void ward_collateral_free(struct ward_collateral *c);

/* ---- verification cache ---- */

/* Memo of pure verification results (decoded certificates, verified
 * certificate/CRL/collateral signatures, chains with the validity periods
 * they depend on). Thread-safe, bounded. Never holds a failure, never
 * holds the quote or report signature itself. NULL when out of memory. */
struct ward_verify_cache;
struct ward_verify_cache *ward_verify_cache_new(void);
void ward_verify_cache_free(struct ward_verify_cache *c);

/* ---- verification ---- */

enum ward_check_state {
	WARD_CHECK_SKIPPED = 0,
	WARD_CHECK_PASS = 1,
	WARD_CHECK_FAIL = 2,
};

struct ward_check {
	const char *name; /* static, e.g. "quote_signature" */
	enum ward_check_state state;
	char msg[256];    /* why it failed or what was checked */
};

enum ward_tcb_status {
	WARD_TCB_NOT_EVALUATED = 0, /* no collateral, or SNP */
	WARD_TCB_UP_TO_DATE,
	WARD_TCB_SW_HARDENING_NEEDED,
	WARD_TCB_CONFIGURATION_NEEDED,
	WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	WARD_TCB_OUT_OF_DATE,
	WARD_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	WARD_TCB_TD_RELAUNCH_ADVISED,
	WARD_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
	WARD_TCB_REVOKED,
	WARD_TCB_NO_MATCH, /* "no matching TCB level": not a status, an error */
};

/* "UpToDate", ..., "Revoked", "NoMatchingTcbLevel", "NotEvaluated". */
const char *ward_tcb_status_name(enum ward_tcb_status s);
/* Parses the Intel spelling; returns -1 for unknown strings. */
int ward_tcb_status_parse(const char *s, enum ward_tcb_status *out);

#define WARD_EVIDENCE_MAX_CHECKS 32
#define WARD_EVIDENCE_MAX_ADVISORIES 64

struct ward_verify_opts {
	time_t at;                        /* verification time; 0 = now */
	const struct ward_collateral *collateral; /* SGX/TDX; NULL: TCB not evaluated, collateral checks fail */
	int no_collateral;                /* SGX/TDX: only quote, QE, PCK chain checks (TCB not evaluated) */
	const uint8_t *root_der;          /* replaces the pinned Intel SGX Root CA */
	size_t root_der_len;
	/* SEV-SNP: the VCEK or VLEK (DER or PEM) and the AMD chain (PEM:
	 * ASK and/or ASVK and ARK, any order). */
	const uint8_t *snp_cert; size_t snp_cert_len;
	int snp_cert_is_vlek;             /* the caller says VLEK (--vlek) */
	const uint8_t *snp_chain; size_t snp_chain_len;
	const uint8_t *ark_der;           /* replaces the pinned AMD ARKs */
	size_t ark_der_len;
	const uint8_t *snp_crl;           /* SEV-SNP: the ARK's CRL (DER or PEM) of ASKs/ASVKs; NULL: not checked */
	size_t snp_crl_len;
	struct ward_verify_cache *cache;  /* NULL: the collateral's own cache (SGX/TDX), or none */
};

struct ward_snp_cert_info {
	int present;
	int is_vlek;
	char product[32];      /* productName extension */
	int has_spl[10];       /* index: 1 bl, 2 tee, 3 snp, 4-7 reserved, 8 ucode, 9 fmc */
	uint8_t spl[10];
	int has_hwid;
	uint8_t hwid[64];
	size_t hwid_len;
	char not_before[32], not_after[32];
};

struct ward_verify_result {
	int ok;                  /* every performed check passed */
	int failed;              /* index of the first failed check, -1 if none */
	struct ward_evidence_claims c; /* copy of what the evidence claims */
	struct ward_check checks[WARD_EVIDENCE_MAX_CHECKS];
	size_t nchecks;
	time_t at;
	/* SGX/TDX */
	struct ward_pck_info pck;
	enum ward_tcb_status tcb_status;      /* converged status */
	enum ward_tcb_status platform_status; /* SGX (or TDX) TCB level */
	enum ward_tcb_status qe_status;
	enum ward_tcb_status module_status;   /* TDX module identity, when used */
	char tcb_date[32];
	char module_id[16];
	char advisories[WARD_EVIDENCE_MAX_ADVISORIES][24];
	size_t nadvisories;
	/* SNP */
	struct ward_snp_cert_info snp_cert;
};

/* Verifies ev. *res is always filled (also on failure); returns 0 when
 * res->ok, -1 otherwise. err gets "CHECK: reason" of the first failure. */
int ward_evidence_verify(const struct ward_evidence *ev, const struct ward_verify_opts *opts,
			 struct ward_verify_result *res, char *err, size_t errlen);

/* Finds a check by name (NULL if it was not recorded). */
const struct ward_check *ward_verify_find_check(const struct ward_verify_result *res, const char *name);

/* ---- JSON (jansson) ---- */

/* The parsed evidence as a JSON object (field names as in docs/evidence.md);
 * res adds "verification" (checks, TCB status, advisories) when non-NULL,
 * pck adds the PCK chain/extension when non-NULL. Caller json_decref()s. */
json_t *ward_evidence_to_json(const struct ward_evidence *ev, const struct ward_pck_info *pck,
			      const struct ward_verify_result *res);

/* ---- policy (for the CAS) ---- */

struct ward_evidence_policy {
	/* SGX: MRENCLAVE, or MRSIGNER + ISVPRODID + minimum ISVSVN */
	const uint8_t *mrenclave;   /* 32 bytes or NULL */
	const uint8_t *mrsigner;    /* 32 bytes or NULL */
	uint16_t isv_prod_id;
	uint16_t min_isv_svn;
	/* TDX */
	const uint8_t *mrtd;        /* 48 bytes or NULL */
	const uint8_t *rtmr[4];     /* 48 bytes each or NULL */
	/* SNP */
	const uint8_t *snp_measurement; /* 48 bytes or NULL */
	const uint8_t *snp_host_data;   /* 32 bytes or NULL */
	/* TCB: statuses accepted besides UpToDate ("SWHardeningNeeded", ...).
	 * With a non-UpToDate status every advisory must be listed in
	 * tolerated_advisories. */
	const char *const *tolerated_statuses; size_t ntolerated_statuses;
	const char *const *tolerated_advisories; size_t ntolerated_advisories;
	int allow_debug;            /* debug enclaves/TDs/guests refused unless 1 */
	int allow_unevaluated_tcb;  /* accept NotEvaluated (SNP has no TCB collateral) */
};

/* 0 when res passed verification and satisfies pol; -1 with err naming the
 * first rule that failed (e.g. "mrenclave: ... does not match the policy"). */
int ward_evidence_policy_check(const struct ward_verify_result *res, const struct ward_evidence_policy *pol,
			       char *err, size_t errlen);

#endif
