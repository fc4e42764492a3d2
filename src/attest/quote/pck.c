/*
 * pck.c: PCK chain and SGX extension (Intel "SGX PCK Certificate and CRL
 * Profile"): SEQUENCE OF SEQUENCE { OID, value } with
 *   .1 PPID (OCTET STRING 16)   .2 TCB (SEQUENCE: .2.1-.2.16 comp SVNs,
 *   .2.17 PCESVN, .2.18 CPUSVN)  .3 PCE-ID (2)  .4 FMSPC (6)  .5 SGX type
 *   .6 platform instance ID  .7 configuration (the last three are not used).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "attest/quote/pck.h"
#include "attest/quote/vcache.h"
#include "attest/quote/x509util.h"

#define SGX_EXT_OID "1.2.840.113741.1.13.1"

STACK_OF(X509) *ward_pck_chain(const struct ward_evidence *ev, struct ward_verify_cache *cache, uint8_t ids[17][32],
			       char *err, size_t errlen)
{
	const struct ward_dcap_quote *q = &ev->c.quote;
	STACK_OF(X509) *sk;
	char e[160];

	if (ev->c.type == WARD_EVIDENCE_SNP) {
		snprintf(err, errlen, "not a DCAP quote");
		return NULL;
	}
	if (q->cert_type != 5) {
		snprintf(err, errlen, "certification data type %u carries no PCK chain (type 5 needed to verify offline)",
			 q->cert_type);
		return NULL;
	}
	sk = ward_vcache_decode(cache, 0, ev->raw + q->cert_off, q->cert_len, ids, e, sizeof(e));
	if (!sk) {
		snprintf(err, errlen, "PCK chain: %s", e);
		return NULL;
	}
	if (sk_X509_num(sk) != 3) {
		snprintf(err, errlen, "PCK chain: %d certificates, expected 3 (PCK, intermediate CA, root)", sk_X509_num(sk));
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	return sk;
}

/* Numeric OID text of a SEQUENCE { OID, value } element; *val gets the value. */
static int oid_pair(const ASN1_TYPE *t, char *oid, size_t oidlen, STACK_OF(ASN1_TYPE) **pair, const ASN1_TYPE **val)
{
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *sk;

	if (t->type != V_ASN1_SEQUENCE)
		return -1;
	p = t->value.sequence->data;
	sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, t->value.sequence->length);
	if (!sk)
		return -1;
	if (p != t->value.sequence->data + t->value.sequence->length || sk_ASN1_TYPE_num(sk) != 2 ||
	    sk_ASN1_TYPE_value(sk, 0)->type != V_ASN1_OBJECT ||
	    OBJ_obj2txt(oid, (int)oidlen, sk_ASN1_TYPE_value(sk, 0)->value.object, 1) <= 0) {
		sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
		return -1;
	}
	*pair = sk;
	*val = sk_ASN1_TYPE_value(sk, 1);
	return 0;
}

static int octets(const ASN1_TYPE *v, uint8_t *out, size_t n)
{
	if (v->type != V_ASN1_OCTET_STRING || (size_t)v->value.octet_string->length != n)
		return -1;
	memcpy(out, v->value.octet_string->data, n);
	return 0;
}

static int small_int(const ASN1_TYPE *v, long max, long *out)
{
	long x;
	if (v->type != V_ASN1_INTEGER)
		return -1;
	x = ASN1_INTEGER_get(v->value.integer);
	if (x < 0 || x > max)
		return -1;
	*out = x;
	return 0;
}

static int parse_tcb(const ASN1_TYPE *v, struct ward_pck_info *info, char *err, size_t errlen)
{
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *sk;
	unsigned seen = 0;
	int rc = -1;

	if (v->type != V_ASN1_SEQUENCE)
		goto bad;
	p = v->value.sequence->data;
	sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, v->value.sequence->length);
	if (!sk)
		goto bad;
	for (int i = 0; i < sk_ASN1_TYPE_num(sk); i++) {
		char oid[64];
		STACK_OF(ASN1_TYPE) *pair;
		const ASN1_TYPE *val;
		unsigned idx;
		long x;
		if (oid_pair(sk_ASN1_TYPE_value(sk, i), oid, sizeof(oid), &pair, &val) != 0)
			goto out;
		if (strncmp(oid, SGX_EXT_OID ".2.", sizeof(SGX_EXT_OID ".2.") - 1) != 0 ||
		    sscanf(oid + sizeof(SGX_EXT_OID ".2.") - 1, "%u", &idx) != 1 || idx < 1 || idx > 18 ||
		    (seen & (1u << idx))) {
			sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
			goto out;
		}
		seen |= 1u << idx;
		if (idx <= 16)
			rc = small_int(val, 255, &x) == 0 ? (info->comp_svn[idx - 1] = (uint8_t)x, 0) : -1;
		else if (idx == 17)
			rc = small_int(val, 65535, &x) == 0 ? (info->pcesvn = (uint16_t)x, 0) : -1;
		else
			rc = octets(val, info->cpusvn, 16);
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (rc != 0)
			goto out;
	}
	rc = seen == 0x7fffeu ? 0 : -1;
out:
	sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
	if (rc == 0)
		return 0;
bad:
	ERR_clear_error();
	snprintf(err, errlen, "PCK SGX extension: malformed TCB element");
	return -1;
}

int ward_pck_sgx_ext_der(const uint8_t *der, size_t len, struct ward_pck_info *info, char *err, size_t errlen)
{
	const unsigned char *p = der;
	STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	unsigned seen = 0;
	int rc = -1;

	if (!sk || p != der + len) {
		snprintf(err, errlen, "PCK SGX extension: not a DER SEQUENCE");
		goto out;
	}
	for (int i = 0; i < sk_ASN1_TYPE_num(sk); i++) {
		char oid[64];
		STACK_OF(ASN1_TYPE) *pair;
		const ASN1_TYPE *val;
		unsigned idx;
		int r = 0;
		if (oid_pair(sk_ASN1_TYPE_value(sk, i), oid, sizeof(oid), &pair, &val) != 0) {
			snprintf(err, errlen, "PCK SGX extension: element %d is not {OID, value}", i);
			goto out;
		}
		if (strncmp(oid, SGX_EXT_OID ".", sizeof(SGX_EXT_OID ".") - 1) != 0 ||
		    sscanf(oid + sizeof(SGX_EXT_OID ".") - 1, "%u", &idx) != 1 || idx < 1 || idx > 31 ||
		    (seen & (1u << idx))) {
			sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
			snprintf(err, errlen, "PCK SGX extension: unexpected or repeated element %s", oid);
			goto out;
		}
		seen |= 1u << idx;
		switch (idx) {
		case 1: r = octets(val, info->ppid, 16); break;
		case 2: r = parse_tcb(val, info, err, errlen); break;
		case 3: r = octets(val, info->pceid, 2); break;
		case 4: r = octets(val, info->fmspc, 6); break;
		default: break; /* SGX type, platform instance, configuration */
		}
		sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
		if (r != 0) {
			if (idx != 2)
				snprintf(err, errlen, "PCK SGX extension: element %s has the wrong type or size", oid);
			goto out;
		}
	}
	if ((seen & 0x1e) != 0x1e) {
		snprintf(err, errlen, "PCK SGX extension: PPID, TCB, PCE-ID or FMSPC missing");
		goto out;
	}
	rc = 0;
out:
	sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
	ERR_clear_error();
	return rc;
}

int ward_pck_sgx_ext(X509 *leaf, struct ward_pck_info *info, char *err, size_t errlen)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXT_OID, 1);
	int idx = obj ? X509_get_ext_by_OBJ(leaf, obj, -1) : -1;
	ASN1_OBJECT_free(obj);
	if (idx < 0 || X509_get_ext_by_OBJ(leaf, X509_EXTENSION_get_object(X509_get_ext(leaf, idx)), idx) >= 0) {
		ERR_clear_error();
		snprintf(err, errlen, "PCK certificate: SGX extension %s missing or repeated", SGX_EXT_OID);
		return -1;
	}
	ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
	return ward_pck_sgx_ext_der(v->data, (size_t)v->length, info, err, errlen);
}

int ward_pck_info_from_chain(STACK_OF(X509) *sk, struct ward_pck_info *out, char *err, size_t errlen)
{
	struct ward_pck_info info;

	memset(&info, 0, sizeof(info));
	info.present = 1;
	info.ncerts = 3;
	for (int i = 0; i < 3; i++) {
		X509 *x = sk_X509_value(sk, i);
		ward_name_str(X509_get_subject_name(x), info.subject[i], sizeof(info.subject[i]));
		ward_asn1_time_str(X509_get0_notBefore(x), info.not_before[i]);
		ward_asn1_time_str(X509_get0_notAfter(x), info.not_after[i]);
	}
	if (ward_pck_sgx_ext(sk_X509_value(sk, 0), &info, err, errlen) != 0)
		return -1;
	*out = info;
	return 0;
}

int ward_evidence_pck_info(const struct ward_evidence *ev, struct ward_pck_info *out, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = ward_pck_chain(ev, NULL, NULL, err, errlen);
	int rc;

	if (!sk)
		return -1;
	rc = ward_pck_info_from_chain(sk, out, err, errlen);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}
