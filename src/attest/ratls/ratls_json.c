/* ratls_json.c: RA-TLS certificate facts and verification as JSON
 * (jansson); field names are documented in docs/ratls.md. */
#include "attest/ratls/ratls_json.h"

#include <string.h>

#include <openssl/bio.h>

#include "core/util.h"

static json_t *hexj(const uint8_t *b, size_t n)
{
	char buf[2 * 4096 + 1];
	if (n > 4096)
		n = 4096;
	ward_hex(b, n, buf);
	return json_string(buf);
}

static void sethex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
	json_object_set_new(o, k, hexj(b, n));
}

static json_t *name_json(const X509_NAME *n)
{
	char buf[512] = "";
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != NULL) {
		if (X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253) >= 0) {
			int r = BIO_read(bio, buf, sizeof(buf) - 1);
			buf[r > 0 ? r : 0] = 0;
		}
		BIO_free(bio);
	}
	char *sp = strchr(buf, ' ');
	if (sp != NULL)
		*sp = 'T';
	return json_string(buf);
}

static json_t *time_json(const ASN1_TIME *t)
{
	char buf[64] = "";
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != NULL) {
		if (ASN1_TIME_print_ex(bio, t, ASN1_DTFLGS_ISO8601) == 1) {
			int r = BIO_read(bio, buf, sizeof(buf) - 1);
			buf[r > 0 ? r : 0] = 0;
		}
		BIO_free(bio);
	}
	char *sp = strchr(buf, ' ');
	if (sp != NULL)
		*sp = 'T';
	return json_string(buf);
}

void ward_ratls_key_desc(X509 *x, char *out, size_t outlen)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char grp[64] = "";
	size_t gl = 0;
	if (k == NULL) {
		ward_strlcpy(out, "unknown", outlen);
		return;
	}
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(k, "group", grp, sizeof(grp), &gl) != 1)
			ward_strlcpy(grp, "?", sizeof(grp));
		snprintf(out, outlen, "EC %s", grp);
		break;
	case EVP_PKEY_RSA:
		snprintf(out, outlen, "RSA-%d", EVP_PKEY_get_bits(k));
		break;
	case EVP_PKEY_ED25519:
		ward_strlcpy(out, "Ed25519", outlen);
		break;
	default:
		snprintf(out, outlen, "%s", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
	}
}

json_t *ward_ratls_evidence_json(const struct ward_ratls_evidence *e)
{
	json_t *o = json_object(), *f;

	json_object_set_new(o, "oid", json_string(e->oid));
	sethex(o, "oid_tlv_hex", e->oid_tlv, e->oid_tlv_len);
	json_object_set_new(o, "extension", json_string(ward_ratls_ext_name(e->ext)));
	json_object_set_new(o, "type", json_string(ward_ratls_evtype_name(e)));
	if (e->type == WARD_RATLS_EV_COLLATERAL) {
		static const char *what[] = { "PCK certificate", "PCK issuer chain", "TCB info",
					      "TCB info issuer chain" };
		int idx = e->collateral_index - 7;
		json_object_set_new(o, "collateral",
				    json_string(idx >= 0 && idx < 4 ? what[idx] : "unknown"));
		json_object_set_new(o, "length", json_integer((json_int_t)e->evidence_len));
		return o;
	}
	if (e->ext == WARD_RATLS_EXT_DICE) {
		json_object_set_new(o, "cbor_tag", json_integer((json_int_t)e->cbor_tag));
		if (e->claims) {
			sethex(o, "claims_buffer_hex", e->claims, e->claims_len);
			if (e->has_pubkey_hash) {
				json_t *ph = json_object();
				json_object_set_new(ph, "alg", json_integer((json_int_t)e->pubkey_hash_alg));
				sethex(ph, "hash", e->pubkey_hash, e->pubkey_hash_len);
				json_object_set_new(ph, "matches_spki", json_boolean(e->pubkey_hash_matches));
				json_object_set_new(o, "pubkey_hash", ph);
			}
			if (e->nonce)
				sethex(o, "nonce", e->nonce, e->nonce_len);
			json_object_set_new(o, "other_claims", json_integer((json_int_t)e->other_claims));
			json_object_set_new(o, "report_data_is_sha256_claims",
					    json_boolean(e->report_data_binds_claims));
		}
	}
	if (e->evidence) {
		uint8_t h[32];
		if (ward_sha256(e->evidence, e->evidence_len, h) == 0)
			sethex(o, e->type == WARD_RATLS_EV_IAS_REPORT ? "quote_body_sha256" : "quote_sha256", h, 32);
		json_object_set_new(o, "evidence_len", json_integer((json_int_t)e->evidence_len));
	}
	if (!e->parsed) {
		json_object_set_new(o, "error", json_string(e->parse_error));
		return o;
	}
	f = json_object();
	if (e->type == WARD_RATLS_EV_SIM) {
		json_object_set_new(f, "simulation", json_true());
		sethex(f, "measurement", e->sim.measurement, 32);
		sethex(f, "platform_fingerprint", e->sim.platform_fpr, 32);
		json_object_set_new(f, "timestamp", json_integer((json_int_t)e->sim.timestamp));
		sethex(f, "report_data", e->sim.report_data, 64);
	} else {
		const struct ward_quote_fields *q = &e->fields;
		json_object_set_new(f, "kind", json_string(ward_qf_kind_name(q->kind)));
		json_object_set_new(f, "version", json_integer(q->version));
		if (q->kind == WARD_QF_SGX || q->kind == WARD_QF_TDX) {
			json_object_set_new(f, "att_key_type", json_integer(q->att_key_type));
			json_object_set_new(f, "tee_type", json_integer(q->tee_type));
			sethex(f, "qe_vendor_id", q->qe_vendor_id, 16);
			sethex(f, "user_data", q->user_data, 20);
			json_object_set_new(f, "quote_len", json_integer((json_int_t)q->quote_len));
			json_object_set_new(f, "trailing_bytes", json_integer((json_int_t)q->trailing));
			json_object_set_new(f, "cert_data_type", json_integer(q->cert_data_type));
		}
		if (q->kind != WARD_QF_SNP) {
			json_object_set_new(f, "qe_svn", json_integer(q->qe_svn));
			json_object_set_new(f, "pce_svn", json_integer(q->pce_svn));
		}
		if (q->kind == WARD_QF_SGX || q->kind == WARD_QF_EPID) {
			sethex(f, "cpusvn", q->cpusvn, 16);
			sethex(f, "attributes", q->attributes, 16);
			sethex(f, "mrenclave", q->mrenclave, 32);
			sethex(f, "mrsigner", q->mrsigner, 32);
			json_object_set_new(f, "isvprodid", json_integer(q->isvprodid));
			json_object_set_new(f, "isvsvn", json_integer(q->isvsvn));
		} else if (q->kind == WARD_QF_TDX) {
			sethex(f, "mrtd", q->mrtd, 48);
			for (int r = 0; r < 4; r++) {
				char k[8];
				snprintf(k, sizeof(k), "rtmr%d", r);
				sethex(f, k, q->rtmr[r], 48);
			}
		} else if (q->kind == WARD_QF_SNP) {
			sethex(f, "measurement", q->snp_measurement, 48);
			sethex(f, "host_data", q->snp_host_data, 32);
			json_object_set_new(f, "policy", json_integer((json_int_t)q->snp_policy));
		}
		json_object_set_new(f, "debug", json_boolean(q->debug));
		sethex(f, "report_data", q->report_data, 64);
	}
	json_object_set_new(o, "fields", f);
	if (e->type == WARD_RATLS_EV_IAS_REPORT) {
		json_t *ias = json_object();
		json_object_set_new(ias, "isvEnclaveQuoteStatus", json_string(e->ias_status));
		json_object_set_new(ias, "timestamp", json_string(e->ias_timestamp));
		json_object_set_new(ias, "advisoryIDs", json_string(e->ias_advisories));
		json_object_set_new(ias, "signature_ok", json_boolean(e->ias_signature_ok));
		json_object_set_new(o, "ias", ias);
	}
	json_t *b = json_object();
	json_object_set_new(b, "rule", json_string(ward_ratls_rule_name(e->rule)));
	json_object_set_new(b, "description", json_string(ward_ratls_rule_text(e->rule)));
	json_object_set_new(b, "matches", json_boolean(e->rule != WARD_RATLS_RULE_NONE));
	if (e->rule != WARD_RATLS_RULE_NONE)
		json_object_set_new(b, "rest_zero", json_boolean(e->report_data_rest_zero));
	json_object_set_new(o, "key_binding", b);
	return o;
}

json_t *ward_ratls_cert_json(const struct ward_ratls_cert *c, const struct ward_ratls_verdict *v)
{
	json_t *o = json_object(), *cert = json_object(), *arr = json_array();
	char key[64];

	json_object_set_new(cert, "subject", name_json(X509_get_subject_name(c->x509)));
	json_object_set_new(cert, "issuer", name_json(X509_get_issuer_name(c->x509)));
	json_object_set_new(cert, "not_before", time_json(X509_get0_notBefore(c->x509)));
	json_object_set_new(cert, "not_after", time_json(X509_get0_notAfter(c->x509)));
	ward_ratls_key_desc(c->x509, key, sizeof(key));
	json_object_set_new(cert, "key", json_string(key));
	sethex(cert, "spki_sha256", c->spki_sha256, 32);
	json_object_set_new(cert, "self_signed", json_boolean(c->self_signed));
	json_object_set_new(cert, "signature_verifies_with_own_key", json_boolean(c->self_signature_ok));
	json_object_set_new(o, "certificate", cert);
	for (size_t i = 0; i < c->n; i++)
		json_array_append_new(arr, ward_ratls_evidence_json(&c->ev[i]));
	json_object_set_new(o, "evidence", arr);
	if (v != NULL) {
		json_t *checks = json_array();
		for (size_t i = 0; i < v->n; i++) {
			json_t *k = json_object();
			json_object_set_new(k, "name", json_string(v->checks[i].name));
			json_object_set_new(k, "evidence", json_integer(v->checks[i].evidence));
			json_object_set_new(k, "ok", json_boolean(v->checks[i].state));
			json_object_set_new(k, "message", json_string(v->checks[i].msg));
			json_array_append_new(checks, k);
		}
		json_object_set_new(o, "checks", checks);
		json_object_set_new(o, "ok", json_boolean(v->ok));
	}
	return o;
}
