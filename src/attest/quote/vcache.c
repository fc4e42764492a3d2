/* vcache.c: see vcache.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "attest/quote/vcache.h"
#include "attest/quote/x509util.h"

#define SETS 256
#define WAYS 4
#define MAX_TIMED 4
#define MAX_BLOB 4096
#define MAX_DECODED 17

struct entry {
	int used;
	uint8_t key[32];
	X509 *timed[MAX_TIMED]; /* fact: each must be valid at the lookup time */
	size_t ntimed;
	STACK_OF(X509) *certs;  /* decode result */
	uint8_t (*ids)[32];     /* with certs: SHA-256 of each DER */
	void *blob;
	size_t bloblen;
};

struct ward_verify_cache {
	pthread_mutex_t mu;
	struct entry e[SETS][WAYS];
	unsigned next[SETS];
};

static const EVP_MD *md256, *md384;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_init(void)
{
	md256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	md384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
	ERR_clear_error();
}

const EVP_MD *ward_md_sha256(void)
{
	pthread_once(&md_once, md_init);
	return md256;
}

const EVP_MD *ward_md_sha384(void)
{
	pthread_once(&md_once, md_init);
	return md384;
}

int ward_vcache_key(uint8_t key[32], const char *tag, ...)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned kl = 0;
	va_list ap;
	int ok = h && EVP_DigestInit_ex(h, ward_md_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(h, tag, strlen(tag) + 1) == 1;

	va_start(ap, tag);
	for (;;) {
		const void *p = va_arg(ap, const void *);
		if (!p)
			break;
		size_t n = va_arg(ap, size_t);
		uint8_t l[8];
		for (int i = 0; i < 8; i++)
			l[i] = (uint8_t)((uint64_t)n >> (8 * i));
		ok = ok && EVP_DigestUpdate(h, l, 8) == 1 && EVP_DigestUpdate(h, p, n) == 1;
	}
	va_end(ap);
	ok = ok && EVP_DigestFinal_ex(h, key, &kl) == 1 && kl == 32;
	EVP_MD_CTX_free(h);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int ward_x509_id(X509 *x, uint8_t id[32])
{
	unsigned n = 0;
	if (X509_digest(x, ward_md_sha256(), id, &n) != 1 || n != 32) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

struct ward_verify_cache *ward_verify_cache_new(void)
{
	struct ward_verify_cache *c = calloc(1, sizeof(*c));
	if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

static void entry_clear(struct entry *e)
{
	for (size_t i = 0; i < e->ntimed; i++)
		X509_free(e->timed[i]);
	sk_X509_pop_free(e->certs, X509_free);
	free(e->ids);
	free(e->blob);
	memset(e, 0, sizeof(*e));
}

void ward_verify_cache_free(struct ward_verify_cache *c)
{
	if (!c)
		return;
	for (size_t s = 0; s < SETS; s++)
		for (size_t w = 0; w < WAYS; w++)
			entry_clear(&c->e[s][w]);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* with the lock held */
static struct entry *find(struct ward_verify_cache *c, const uint8_t key[32])
{
	struct entry *set = c->e[key[0]];
	for (size_t w = 0; w < WAYS; w++)
		if (set[w].used && memcmp(set[w].key, key, 32) == 0)
			return &set[w];
	return NULL;
}

/* with the lock held: the entry for key, emptied (existing or evicted) */
static struct entry *slot(struct ward_verify_cache *c, const uint8_t key[32])
{
	struct entry *e = find(c, key);
	if (!e) {
		struct entry *set = c->e[key[0]];
		for (size_t w = 0; w < WAYS && !e; w++)
			if (!set[w].used)
				e = &set[w];
		if (!e)
			e = &set[c->next[key[0]]++ % WAYS];
	}
	entry_clear(e);
	memcpy(e->key, key, 32);
	e->used = 1;
	return e;
}

int ward_vcache_fact(struct ward_verify_cache *c, const uint8_t key[32], time_t at)
{
	int hit = 0;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, key);
	if (e) {
		hit = 1;
		for (size_t i = 0; i < e->ntimed && hit; i++)
			hit = ward_cert_valid_at(e->timed[i], at);
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void ward_vcache_put_fact(struct ward_verify_cache *c, const uint8_t key[32], X509 *const *timed, size_t ntimed)
{
	if (!c || ntimed > MAX_TIMED)
		return;
	pthread_mutex_lock(&c->mu);
	struct entry *e = slot(c, key);
	for (size_t i = 0; i < ntimed; i++)
		if (timed[i] && X509_up_ref(timed[i]) == 1)
			e->timed[e->ntimed++] = timed[i];
	pthread_mutex_unlock(&c->mu);
}

long ward_vcache_get_blob(struct ward_verify_cache *c, const uint8_t key[32], void *out, size_t cap)
{
	long n = -1;
	if (!c)
		return -1;
	pthread_mutex_lock(&c->mu);
	struct entry *e = find(c, key);
	if (e && e->blob && e->bloblen <= cap) {
		memcpy(out, e->blob, e->bloblen);
		n = (long)e->bloblen;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

void ward_vcache_put_blob(struct ward_verify_cache *c, const uint8_t key[32], const void *blob, size_t len)
{
	void *copy;
	if (!c || len == 0 || len > MAX_BLOB || !(copy = malloc(len)))
		return;
	memcpy(copy, blob, len);
	pthread_mutex_lock(&c->mu);
	struct entry *e = slot(c, key);
	e->blob = copy;
	e->bloblen = len;
	pthread_mutex_unlock(&c->mu);
}

/* new stack holding new references to the certificates of sk */
static STACK_OF(X509) *refs(STACK_OF(X509) *sk)
{
	STACK_OF(X509) *r = sk_X509_new_reserve(NULL, sk_X509_num(sk));
	if (!r)
		return NULL;
	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		if (X509_up_ref(x) != 1 || !sk_X509_push(r, x)) {
			sk_X509_pop_free(r, X509_free);
			return NULL;
		}
	}
	return r;
}

STACK_OF(X509) *ward_vcache_decode(struct ward_verify_cache *c, int one, const uint8_t *p, size_t len,
				   uint8_t ids[17][32], char *err, size_t errlen)
{
	uint8_t key[32];
	STACK_OF(X509) *sk = NULL;
	uint8_t (*mine)[32] = NULL;

	if (c && ward_vcache_key(key, one ? "decode-one" : "decode-pem", p, len, (void *)NULL) != 0)
		c = NULL;
	if (c) {
		pthread_mutex_lock(&c->mu);
		struct entry *e = find(c, key);
		if (e && e->certs) {
			sk = refs(e->certs);
			if (sk && ids)
				memcpy(ids, e->ids, (size_t)sk_X509_num(sk) * 32);
		}
		pthread_mutex_unlock(&c->mu);
		if (sk)
			return sk;
	}
	if (one) {
		X509 *x = ward_cert_load(p, len, err, errlen);
		if (!x)
			return NULL;
		sk = sk_X509_new_null();
		if (!sk || !sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_free(sk);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
	} else if (!(sk = ward_pem_certs(p, len, err, errlen))) {
		return NULL;
	}
	if (sk_X509_num(sk) > MAX_DECODED || !(mine = calloc((size_t)sk_X509_num(sk), 32))) {
		sk_X509_pop_free(sk, X509_free);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < sk_X509_num(sk); i++)
		if (ward_x509_id(sk_X509_value(sk, i), mine[i]) != 0) {
			free(mine);
			sk_X509_pop_free(sk, X509_free);
			snprintf(err, errlen, "certificate %d cannot be re-encoded", i + 1);
			return NULL;
		}
	if (ids)
		memcpy(ids, mine, (size_t)sk_X509_num(sk) * 32);
	STACK_OF(X509) *kept = c ? refs(sk) : NULL;
	if (kept) {
		pthread_mutex_lock(&c->mu);
		struct entry *e = slot(c, key);
		e->certs = kept;
		e->ids = mine;
		mine = NULL;
		pthread_mutex_unlock(&c->mu);
	}
	free(mine);
	return sk;
}
