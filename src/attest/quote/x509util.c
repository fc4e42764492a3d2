/* x509util.c: see x509util.h. */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "attest/quote/x509util.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

static const uint8_t *find(const uint8_t *h, size_t hl, const char *needle)
{
	size_t nl = strlen(needle);
	if (hl < nl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (h[i] == (uint8_t)needle[0] && memcmp(h + i, needle, nl) == 0)
			return h + i;
	return NULL;
}

static int only_space(const uint8_t *p, size_t n, int allow_nul_tail)
{
	size_t i = 0;
	for (; i < n; i++)
		if (!(p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
			break;
	if (allow_nul_tail)
		for (; i < n; i++)
			if (p[i] != 0)
				break;
	return i == n;
}

STACK_OF(X509) *ward_pem_certs(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	size_t off = 0;

	if (!sk) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (off < len) {
		const uint8_t *b = find(p + off, len - off, PEM_BEGIN);
		if (!b) {
			if (!only_space(p + off, len - off, 1)) {
				snprintf(err, errlen, "unexpected bytes after the last PEM certificate");
				goto bad;
			}
			break;
		}
		if (!only_space(p + off, (size_t)(b - (p + off)), 0)) {
			snprintf(err, errlen, "unexpected bytes before a PEM certificate");
			goto bad;
		}
		const uint8_t *e = find(b, len - (size_t)(b - p), PEM_END);
		if (!e) {
			snprintf(err, errlen, "PEM certificate without an END line");
			goto bad;
		}
		size_t blen = (size_t)(e - b) + strlen(PEM_END);
		BIO *bio = BIO_new_mem_buf(b, (int)blen);
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!x || !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(err, errlen, "PEM certificate %d does not decode", sk_X509_num(sk) + 1);
			goto bad;
		}
		off = (size_t)(b - p) + blen;
		if (sk_X509_num(sk) > 16) {
			snprintf(err, errlen, "more than 16 certificates");
			goto bad;
		}
	}
	if (sk_X509_num(sk) == 0) {
		snprintf(err, errlen, "no PEM certificate found");
		goto bad;
	}
	return sk;
bad:
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

X509 *ward_cert_load(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	X509 *x = NULL;
	if (len > 0 && find(p, len, PEM_BEGIN)) {
		STACK_OF(X509) *sk = ward_pem_certs(p, len, err, errlen);
		if (!sk)
			return NULL;
		if (sk_X509_num(sk) != 1) {
			snprintf(err, errlen, "expected one certificate, found %d", sk_X509_num(sk));
			sk_X509_pop_free(sk, X509_free);
			return NULL;
		}
		x = sk_X509_shift(sk);
		sk_X509_free(sk);
		return x;
	}
	const unsigned char *q = p;
	x = d2i_X509(NULL, &q, (long)len);
	if (!x || q != p + len) {
		X509_free(x);
		ERR_clear_error();
		snprintf(err, errlen, "not a DER or PEM X.509 certificate");
		return NULL;
	}
	return x;
}

int ward_asn1_time_str(const ASN1_TIME *t, char out[32])
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		snprintf(out, 32, "?");
		return -1;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	return 0;
}

void ward_name_str(const X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int k;
	out[0] = 0;
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		k = BIO_read(b, out, (int)len - 1);
		out[k > 0 ? k : 0] = 0;
	}
	BIO_free(b);
}

void ward_cert_cn(X509 *c, char *out, size_t len)
{
	out[0] = 0;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)len) < 0)
		out[0] = 0;
}

int ward_cert_valid_at(X509 *c, time_t at)
{
	time_t t = at;
	return X509_cmp_time(X509_get0_notBefore(c), &t) <= 0 && X509_cmp_time(X509_get0_notAfter(c), &t) >= 0;
}

int ward_ecdsa_verify_rs(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t msglen,
			 const uint8_t *r, const uint8_t *s, size_t n)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(r, (int)n, NULL), *bs = BN_bin2bn(s, (int)n, NULL);
	unsigned char *der = NULL;
	int derlen, ok = 0;
	EVP_MD_CTX *ctx = NULL;

	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		BN_free(br);
		BN_free(bs);
		goto out;
	}
	/* transferred */
	derlen = i2d_ECDSA_SIG(sig, &der);
	if (derlen <= 0)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, der, (size_t)derlen, msg, msglen) == 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return ok ? 0 : -1;
}

EVP_PKEY *ward_p256_key(const uint8_t xy[64])
{
	uint8_t pt[65];
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM params[3];

	pt[0] = 0x04;
	memcpy(pt + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
	params[2] = OSSL_PARAM_construct_end();
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	if (k) {
		/* on the curve and not the point at infinity; P-256 has cofactor
		 * 1, so the full check's n*Q = O multiplication adds nothing */
		EVP_PKEY_CTX *c2 = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		if (!c2 || EVP_PKEY_public_check_quick(c2) != 1) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		EVP_PKEY_CTX_free(c2);
	}
	ERR_clear_error();
	return k;
}

int ward_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (!(strcmp(s, "Z") == 0 || strcmp(s, "z") == 0 || strcmp(s, "+00:00") == 0))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm);
	return 0;
}

void ward_format_rfc3339(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
