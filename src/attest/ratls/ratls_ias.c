/*
 * ratls_ias.c: an Intel Attestation Service (EPID) report carried in a
 * Netscape comment extension, as raw bytes (no IA5String):
 *   report-json '|' base64(RSA-SHA256 signature over report-json) '|'
 *   base64(DER IAS signing certificate)
 * The report's isvEnclaveQuoteBody is the 432-byte EPID quote body.
 * Here: parse, and check the signature with the embedded certificate; the
 * certificate's chain to the IAS root is checked by the verifier.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/ratls/ratls_internal.h"
#include "core/util.h"

#define IAS_MAX 65536

/* Strict base64 (standard alphabet, padded). Returns a malloc'ed buffer. */
static uint8_t *b64dec(const uint8_t *in, size_t len, size_t *outlen)
{
	uint8_t *out;
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len > IAS_MAX)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	n = EVP_DecodeBlock(out, in, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	*outlen = (size_t)n - (size_t)pad;
	return out;
}

static void set(struct ward_ratls_evidence *e, const char *msg)
{
	ward_strlcpy(e->parse_error, msg, sizeof(e->parse_error));
}

void ward_ratls_parse_ias(struct ward_ratls_evidence *e, const uint8_t *v, size_t n)
{
	const uint8_t *bar1, *bar2;
	json_t *root = NULL, *a;
	json_error_t jerr;
	uint8_t *body = NULL, *sig = NULL, *certder = NULL;
	size_t bodylen = 0, siglen = 0, certlen = 0;
	const char *s;
	EVP_MD_CTX *ctx = NULL;
	char err[200];

	if (n > IAS_MAX) {
		set(e, "IAS report extension is too large");
		return;
	}
	bar2 = memrchr(v, '|', n);
	bar1 = bar2 ? memrchr(v, '|', (size_t)(bar2 - v)) : NULL;
	if (bar1 == NULL) {
		set(e, "IAS report extension is not report|signature|certificate");
		return;
	}
	root = json_loadb((const char *)v, (size_t)(bar1 - v), JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		set(e, "IAS report is not a JSON object");
		goto out;
	}
	if ((s = json_string_value(json_object_get(root, "isvEnclaveQuoteStatus"))) != NULL)
		ward_strlcpy(e->ias_status, s, sizeof(e->ias_status));
	if ((s = json_string_value(json_object_get(root, "timestamp"))) != NULL)
		ward_strlcpy(e->ias_timestamp, s, sizeof(e->ias_timestamp));
	a = json_object_get(root, "advisoryIDs");
	if (json_is_array(a)) {
		size_t i;
		json_t *it;
		json_array_foreach(a, i, it) {
			if (!json_is_string(it))
				continue;
			size_t cur = strlen(e->ias_advisories);
			snprintf(e->ias_advisories + cur, sizeof(e->ias_advisories) - cur, "%s%s",
				 cur ? "," : "", json_string_value(it));
		}
	}
	s = json_string_value(json_object_get(root, "isvEnclaveQuoteBody"));
	if (s == NULL || (body = b64dec((const uint8_t *)s, strlen(s), &bodylen)) == NULL) {
		set(e, "IAS report has no valid isvEnclaveQuoteBody");
		goto out;
	}
	if (ward_qf_parse_epid_body(body, bodylen, &e->fields, err, sizeof(err)) != 0) {
		set(e, err);
		goto out;
	}
	memcpy(e->report_data, e->fields.report_data, 64);
	e->evidence = body;
	e->evidence_len = bodylen;
	body = NULL; /* transferred */
	e->parsed = 1;

	sig = b64dec(bar1 + 1, (size_t)(bar2 - bar1 - 1), &siglen);
	certder = b64dec(bar2 + 1, (size_t)(v + n - bar2 - 1), &certlen);
	if (sig != NULL && certder != NULL) {
		const unsigned char *p = certder;
		e->ias_signing_cert = d2i_X509(NULL, &p, (long)certlen);
		EVP_PKEY *pk = e->ias_signing_cert ? X509_get0_pubkey(e->ias_signing_cert) : NULL;
		ctx = EVP_MD_CTX_new();
		e->ias_signature_ok =
			pk != NULL && ctx != NULL &&
			EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
			EVP_DigestVerify(ctx, sig, siglen, v, (size_t)(bar1 - v)) == 1;
	}
out:
	EVP_MD_CTX_free(ctx);
	free(body);
	free(sig);
	free(certder);
	json_decref(root);
	ERR_clear_error();
}
