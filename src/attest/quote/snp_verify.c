/*
 * snp_verify.c: the trust chain of an SEV-SNP report (docs/evidence.md,
 * "Verifying an SEV-SNP report"):
 *
 *   pinned ARK-<product> (self-signed, RSA-PSS) ── ASK ── VCEK
 *                                              └─ ASVK ── VLEK
 *   VCEK/VLEK (EC P-384) signs SHA-384(report[0x000..0x2A0)), R and S
 *   little-endian at 0x2A0 / 0x2E8.
 *
 * The VCEK's SPL extensions (1.3.6.1.4.1.3704.1.3.*) must equal
 * REPORTED_TCB, its hwID (.1.4) must equal CHIP_ID (Turin: 8 bytes).
 * With an ARK CRL (--crl), the ASK/ASVK must not be listed (amd_crl).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>

#include "attest/quote/anchors.h"
#include "attest/quote/vcache.h"
#include "attest/quote/verify_internal.h"
#include "attest/quote/x509util.h"
#include "core/crypto.h"

#define AMD_OID "1.3.6.1.4.1.3704.1."

static ASN1_OCTET_STRING *ext_data(X509 *x, const char *oid)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int i = o ? X509_get_ext_by_OBJ(x, o, -1) : -1;
	ASN1_OBJECT_free(o);
	ERR_clear_error();
	return i < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(x, i));
}

static void read_cert_info(X509 *x, struct ward_snp_cert_info *ci)
{
	char oid[64];
	ASN1_OCTET_STRING *d;

	ci->present = 1;
	ward_asn1_time_str(X509_get0_notBefore(x), ci->not_before);
	ward_asn1_time_str(X509_get0_notAfter(x), ci->not_after);
	d = ext_data(x, AMD_OID "2");
	if (d) {
		const unsigned char *p = d->data;
		ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &p, d->length);
		if (s && s->length < (int)sizeof(ci->product)) {
			memcpy(ci->product, s->data, (size_t)s->length);
			ci->product[s->length] = 0;
		}
		ASN1_IA5STRING_free(s);
	}
	for (int i = 1; i <= 9; i++) {
		snprintf(oid, sizeof(oid), AMD_OID "3.%d", i);
		d = ext_data(x, oid);
		if (!d)
			continue;
		const unsigned char *p = d->data;
		ASN1_INTEGER *n = d2i_ASN1_INTEGER(NULL, &p, d->length);
		long v = n ? ASN1_INTEGER_get(n) : -1;
		ASN1_INTEGER_free(n);
		if (v >= 0 && v <= 255) {
			ci->has_spl[i] = 1;
			ci->spl[i] = (uint8_t)v;
		}
	}
	d = ext_data(x, AMD_OID "4");
	if (d && (d->length == 64 || d->length == 8)) {
		ci->has_hwid = 1;
		ci->hwid_len = (size_t)d->length;
		memcpy(ci->hwid, d->data, (size_t)d->length);
	}
	ERR_clear_error();
}

/* SHA-256 of the DER SubjectPublicKeyInfo, encoded from the certificate's
 * stored X509_PUBKEY (no provider encoder round trip). */
static int spki_sha256(X509 *x, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0) {
		ERR_clear_error();
		return -1;
	}
	int rc = ward_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return rc;
}

/* X509_verify(subject, issuer's key) through the cache: a pure function of
 * the two certificates (by id); only successes are remembered. */
static int signed_by(struct ward_verify_cache *c, X509 *subject, const uint8_t sid[32], X509 *issuer,
		     const uint8_t iid[32])
{
	uint8_t key[32];
	if (c && ward_vcache_key(key, "x509-signature", sid, (size_t)32, iid, (size_t)32, (void *)NULL) != 0)
		c = NULL;
	if (c && ward_vcache_fact(c, key, 0))
		return 1;
	if (X509_verify(subject, X509_get0_pubkey(issuer)) != 1) {
		ERR_clear_error();
		return 0;
	}
	ward_vcache_put_fact(c, key, NULL, 0);
	return 1;
}

/* The VCEK/VLEK extensions (pure function of the certificate), cached. */
static void cert_info(struct ward_verify_cache *c, X509 *x, const uint8_t id[32], struct ward_snp_cert_info *ci)
{
	uint8_t key[32];
	if (c && ward_vcache_key(key, "snp-cert-info", id, (size_t)32, (void *)NULL) != 0)
		c = NULL;
	if (c && ward_vcache_get_blob(c, key, ci, sizeof(*ci)) == (long)sizeof(*ci))
		return;
	memset(ci, 0, sizeof(*ci));
	read_cert_info(x, ci);
	ward_vcache_put_blob(c, key, ci, sizeof(*ci));
}

/* The ARK's CRL (AMD KDS /vcek/v1/<product>/crl): issued and signed
 * (RSA-PSS) by the trusted ARK, current at `at`, not listing the ASK/ASVK. */
static void check_amd_crl(const struct ward_verify_opts *o, X509 *ark, X509 *ask, const char *ark_cn, time_t at,
			  struct ward_verify_result *r)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	const unsigned char *p = o->snp_crl;
	time_t t = at;
	char a[32], b[32];

	if (!o->snp_crl) {
		ward_check(r, "amd_crl", WARD_CHECK_SKIPPED, "no AMD CRL given (--crl): ASK/ASVK revocation not checked");
		return;
	}
	if (o->snp_crl_len > 0 && memmem(o->snp_crl, o->snp_crl_len, "-----BEGIN X509 CRL-----", 24)) {
		BIO *bio = BIO_new_mem_buf(o->snp_crl, (int)o->snp_crl_len);
		crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else {
		crl = d2i_X509_CRL(NULL, &p, (long)o->snp_crl_len);
		if (crl && p != o->snp_crl + o->snp_crl_len) {
			X509_CRL_free(crl);
			crl = NULL;
		}
	}
	ERR_clear_error();
	if (!crl) {
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "the AMD CRL does not decode (DER or PEM X.509 CRL expected)");
		return;
	}
	const ASN1_TIME *lu = X509_CRL_get0_lastUpdate(crl), *nu = X509_CRL_get0_nextUpdate(crl);
	ward_asn1_time_str(lu, a);
	ward_asn1_time_str(nu, b);
	if (!ark)
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "no trusted ARK to verify the CRL with");
	else if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ark)) != 0)
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "CRL is not issued by '%s'", ark_cn);
	else if (X509_CRL_verify(crl, X509_get0_pubkey(ark)) != 1)
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "CRL signature does not verify with the key of '%s'", ark_cn);
	else if (!lu || !nu || X509_cmp_time(lu, &t) > 0 || X509_cmp_time(nu, &t) < 0)
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "CRL is not valid at the verification time (valid %s .. %s)", a, b);
	else if (!ask)
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "no ASK/ASVK to look up in the CRL");
	else if (X509_CRL_get0_by_cert(crl, &rev, ask) == 1) {
		char ccn[96], when[32];
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ask), NULL);
		char *serial = bn ? BN_bn2hex(bn) : NULL;
		ward_cert_cn(ask, ccn, sizeof(ccn));
		ward_asn1_time_str(rev ? X509_REVOKED_get0_revocationDate(rev) : NULL, when);
		ward_check(r, "amd_crl", WARD_CHECK_FAIL, "certificate '%s' (serial %.48s) is revoked since %s by the CRL of '%s'",
			   ccn, serial ? serial : "?", when, ark_cn);
		OPENSSL_free(serial);
		BN_free(bn);
	} else
		ward_check(r, "amd_crl", WARD_CHECK_PASS, "CRL of '%s' valid %s .. %s, the ASK/ASVK is not revoked", ark_cn, a, b);
	X509_CRL_free(crl);
	ERR_clear_error();
}

void ward_verify_snp(const struct ward_evidence *ev, const struct ward_verify_opts *o, struct ward_verify_result *r)
{
	const struct ward_snp_report *s = &ev->c.snp;
	struct ward_snp_cert_info *ci = &r->snp_cert;
	struct ward_verify_cache *cache = o->cache;
	X509 *cert = NULL, *ark = NULL, *ask = NULL, *pin = NULL;
	STACK_OF(X509) *chain = NULL, *certsk = NULL, *pinsk = NULL;
	uint8_t cert_id[17][32], chain_ids[17][32], pin_ids[17][32];
	const uint8_t *ark_id = NULL, *ask_id = NULL;
	char e[256], cn[96] = "", product[32] = "";
	time_t at = r->at;

	/* signing certificate */
	if (!o->snp_cert) {
		ward_check(r, "signing_cert", WARD_CHECK_FAIL, "no VCEK or VLEK given");
	} else if (!(certsk = ward_vcache_decode(cache, 1, o->snp_cert, o->snp_cert_len, cert_id, e, sizeof(e)))) {
		ward_check(r, "signing_cert", WARD_CHECK_FAIL, "VCEK/VLEK: %s", e);
	} else {
		cert = sk_X509_value(certsk, 0);
		ward_cert_cn(cert, cn, sizeof(cn));
		cert_info(cache, cert, cert_id[0], ci);
		ci->is_vlek = strcmp(cn, "SEV-VLEK") == 0;
		EVP_PKEY *k = X509_get0_pubkey(cert);
		if (strcmp(cn, "SEV-VCEK") != 0 && strcmp(cn, "SEV-VLEK") != 0)
			ward_check(r, "signing_cert", WARD_CHECK_FAIL, "certificate '%s' is neither SEV-VCEK nor SEV-VLEK", cn);
		else if (o->snp_cert_is_vlek != ci->is_vlek)
			ward_check(r, "signing_cert", WARD_CHECK_FAIL, "certificate is a %s, given as --%s", cn,
				   o->snp_cert_is_vlek ? "vlek" : "vcek");
		else if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 384)
			ward_check(r, "signing_cert", WARD_CHECK_FAIL, "%s key is not EC P-384", cn);
		else if (!ward_cert_valid_at(cert, at))
			ward_check(r, "signing_cert", WARD_CHECK_FAIL, "%s is not valid at the verification time (valid %s .. %s)",
				   cn, ci->not_before, ci->not_after);
		else
			ward_check(r, "signing_cert", WARD_CHECK_PASS, "%s '%s' valid %s .. %s", cn, ci->product, ci->not_before,
				   ci->not_after);
	}

	/* signer-info SIGNING_KEY agrees with the certificate */
	{
		unsigned sk = (s->key_info >> 2) & 7;
		if (!cert)
			ward_check(r, "signing_key_type", WARD_CHECK_FAIL, "no signing certificate");
		else if (sk != (ci->is_vlek ? 1u : 0u))
			ward_check(r, "signing_key_type", WARD_CHECK_FAIL, "report says it is signed by %s, the certificate is %s",
				   sk == 0 ? "a VCEK" : sk == 1 ? "a VLEK" : "no key", cn);
		else
			ward_check(r, "signing_key_type", WARD_CHECK_PASS, "report signed by a %s", ci->is_vlek ? "VLEK" : "VCEK");
	}

	/* AMD chain: ARK (pinned) and the VCEK's issuer (ASK or ASVK) */
	if (!o->snp_chain) {
		ward_check(r, "ark", WARD_CHECK_FAIL, "no AMD certificate chain given (--chain)");
	} else if (!(chain = ward_vcache_decode(cache, 0, o->snp_chain, o->snp_chain_len, chain_ids, e, sizeof(e)))) {
		ward_check(r, "ark", WARD_CHECK_FAIL, "AMD chain: %s", e);
	} else {
		for (int i = 0; i < sk_X509_num(chain); i++) {
			X509 *x = sk_X509_value(chain, i);
			char c[96];
			ward_cert_cn(x, c, sizeof(c));
			if (strncmp(c, "ARK-", 4) == 0 && !ark) {
				ark = x;
				ark_id = chain_ids[i];
			} else if (cert && !ask && X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(cert)) == 0) {
				ask = x;
				ask_id = chain_ids[i];
			}
		}
		if (o->ark_der && !(pinsk = ward_vcache_decode(cache, 1, o->ark_der, o->ark_der_len, pin_ids, e, sizeof(e)))) {
			ward_check(r, "ark", WARD_CHECK_FAIL, "the given ARK: %s", e);
		} else if (!ark) {
			ward_check(r, "ark", WARD_CHECK_FAIL, "no ARK-* certificate in the AMD chain");
		} else {
			uint8_t h[32];
			const char *prod = NULL;
			ward_cert_cn(ark, product, sizeof(product));
			pin = pinsk ? sk_X509_value(pinsk, 0) : NULL;
			if (pin) {
				if (EVP_PKEY_eq(X509_get0_pubkey(pin), X509_get0_pubkey(ark)) == 1)
					prod = product + 4;
			} else if (spki_sha256(ark, h) == 0) {
				for (size_t i = 0; i < ward_amd_arks_len; i++)
					if (CRYPTO_memcmp(h, ward_amd_arks[i].spki_sha256, 32) == 0 &&
					    strcmp(product + 4, ward_amd_arks[i].product) == 0)
						prod = ward_amd_arks[i].product;
			}
			if (!prod)
				ward_check(r, "ark", WARD_CHECK_FAIL, "'%s' is not a %s AMD root key", product, pin ? "given" : "pinned");
			else if (!signed_by(cache, ark, ark_id, ark, ark_id))
				ward_check(r, "ark", WARD_CHECK_FAIL, "'%s' is not correctly self-signed", product);
			else if (!ward_cert_valid_at(ark, at))
				ward_check(r, "ark", WARD_CHECK_FAIL, "'%s' is not valid at the verification time", product);
			else
				ward_check(r, "ark", WARD_CHECK_PASS, "'%s' self-signed, %s root key", product, pin ? "given" : "pinned AMD");
			if (r->checks[r->nchecks - 1].state != WARD_CHECK_PASS)
				ark = NULL;
		}
	}
	{
		char ac[96] = "";
		if (ask)
			ward_cert_cn(ask, ac, sizeof(ac));
		if (!ark)
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_FAIL, "no trusted ARK");
		else if (!ask)
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_FAIL, "the chain has no certificate named as the issuer of the %s",
				   cert ? cn : "VCEK/VLEK");
		else if (ci->is_vlek != (strncmp(ac, "SEV-VLEK-", 9) == 0))
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_FAIL, "%s is issued by '%s', expected an %s", cn, ac,
				   ci->is_vlek ? "ASVK (SEV-VLEK-*)" : "ASK (SEV-*)");
		else if (!signed_by(cache, ask, ask_id, ark, ark_id))
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_FAIL, "'%s' is not signed by '%s'", ac, product);
		else if (!ward_cert_valid_at(ask, at))
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_FAIL, "'%s' is not valid at the verification time", ac);
		else
			ward_check(r, "ask_signed_by_ark", WARD_CHECK_PASS, "'%s' signed by '%s'", ac, product);
		if (r->checks[r->nchecks - 1].state != WARD_CHECK_PASS)
			ask = NULL;
		check_amd_crl(o, ark, ask, product, at, r);
		if (!cert || !ask)
			ward_check(r, "cert_signed_by_ask", WARD_CHECK_FAIL, "no trusted ASK/ASVK to verify the %s with",
				   cert ? cn : "VCEK/VLEK");
		else if (!signed_by(cache, cert, cert_id[0], ask, ask_id))
			ward_check(r, "cert_signed_by_ask", WARD_CHECK_FAIL, "%s is not signed by '%s'", cn, ac);
		else
			ward_check(r, "cert_signed_by_ask", WARD_CHECK_PASS, "%s signed by '%s'", cn, ac);
	}

	/* product line: the ARK, the VCEK productName and the report's CPUID agree */
	if (product[0] && ci->present && ci->product[0]) {
		const char *p = product + 4;
		const char *cpu = NULL;
		if (s->version >= 3 && s->cpuid_fam_id == 0x1A)
			cpu = "Turin";
		else if (s->version >= 3 && s->cpuid_fam_id == 0x19)
			cpu = s->cpuid_mod_id < 0x10 ? "Milan" : "Genoa";
		if (strncmp(ci->product, p, strlen(p)) != 0)
			ward_check(r, "product", WARD_CHECK_FAIL, "%s is for '%s', the chain is '%s'", cn, ci->product, product);
		else if (cpu && strcmp(cpu, p) != 0)
			ward_check(r, "product", WARD_CHECK_FAIL, "report CPUID (family 0x%x model 0x%x) is %s, the chain is '%s'",
				   s->cpuid_fam_id, s->cpuid_mod_id, cpu, product);
		else
			ward_check(r, "product", WARD_CHECK_PASS, "%s", ci->product);
	}

	/* report signature */
	if (!cert) {
		ward_check(r, "report_signature", WARD_CHECK_FAIL, "no signing certificate");
	} else {
		uint8_t rb[72], sb[72];
		for (int i = 0; i < 72; i++) {
			rb[i] = s->sig_r[71 - i];
			sb[i] = s->sig_s[71 - i];
		}
		if (ward_ecdsa_verify_rs(X509_get0_pubkey(cert), ward_md_sha384(), ev->raw, 0x2A0, rb, sb, 72) != 0)
			ward_check(r, "report_signature", WARD_CHECK_FAIL, "report signature does not verify with the %s key", cn);
		else
			ward_check(r, "report_signature", WARD_CHECK_PASS, "report signed by the %s", cn);
	}

	/* REPORTED_TCB against the SPL extensions */
	if (ci->present) {
		const struct ward_snp_tcb *t = &s->reported_tcb;
		int turin = s->turin || strcmp(ci->product, "Turin") == 0;
		struct { int idx; uint8_t v; const char *n; } f[] = {
			{ 1, t->bootloader, "blSPL" }, { 2, t->tee, "teeSPL" }, { 3, t->snp, "snpSPL" }, { 8, t->microcode, "ucodeSPL" },
			{ 9, t->fmc, "fmcSPL" },
		};
		int bad = -1;
		for (int i = 0; i < (turin ? 5 : 4) && bad < 0; i++)
			if (!ci->has_spl[f[i].idx] || ci->spl[f[i].idx] != f[i].v)
				bad = i;
		if (bad >= 0)
			ward_check(r, "reported_tcb", WARD_CHECK_FAIL, "REPORTED_TCB %s %u differs from the certificate's %s",
				   f[bad].n, f[bad].v, ci->has_spl[f[bad].idx] ? "value" : "(missing extension)");
		else
			ward_check(r, "reported_tcb", WARD_CHECK_PASS, "REPORTED_TCB equals the certificate's SPLs");
	}

	/* CHIP_ID against hwID (VCEK only) */
	if (ci->present && !ci->is_vlek) {
		static const uint8_t zero[64];
		if (!ci->has_hwid)
			ward_check(r, "chip_id", WARD_CHECK_FAIL, "VCEK has no 64- or 8-byte hwID extension");
		else if ((s->key_info & 2) && memcmp(s->chip_id, zero, 64) == 0)
			ward_check(r, "chip_id", WARD_CHECK_SKIPPED, "CHIP_ID masked by the guest policy");
		else if (CRYPTO_memcmp(s->chip_id, ci->hwid, ci->hwid_len) != 0 ||
			 memcmp(s->chip_id + ci->hwid_len, zero, 64 - ci->hwid_len) != 0)
			ward_check(r, "chip_id", WARD_CHECK_FAIL, "CHIP_ID differs from the VCEK hwID");
		else
			ward_check(r, "chip_id", WARD_CHECK_PASS, "CHIP_ID equals the VCEK hwID (%zu bytes)", ci->hwid_len);
	}

	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(certsk, X509_free);
	sk_X509_pop_free(pinsk, X509_free);
	ERR_clear_error();
}
