/*
 * sim_compat.c: stand-in for src/attest/ratls/sim_evidence.c until that
 * component is merged (see sim_compat.h); compiles to nothing once it is.
 * Layout (little-endian): magic "WARDSIM\0" | version u16 = 1 | flags u16
 * (only bit 0 = simulation, set) | reserved u32 = 0 | timestamp u64 |
 * measurement[32] | report data[64] | alg u16 = 1 (Ed25519) | keylen u16 = 32
 * | public key[32] | Ed25519 signature[64] over bytes [0,156).
 */
#include "cas/sim_compat.h"

#ifdef WARD_CAS_SIM_FALLBACK
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/crypto.h"
#include "core/util.h"

#define OFF_SIG 156

static const uint8_t sim_magic[8] = { 'W', 'A', 'R', 'D', 'S', 'I', 'M', 0 };

struct ward_sim_platform {
	EVP_PKEY *key;
	uint8_t fpr[WARD_SIM_FPR_LEN];
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int pub_fpr(EVP_PKEY *k, uint8_t fpr[32])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	int r;
	if (n <= 0)
		return -1;
	r = ward_sha256(der, (size_t)n, fpr);
	OPENSSL_free(der);
	return r;
}

int ward_sim_platform_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *d = getenv("WARD_SIM_PLATFORM_DIR");
	int n;
	if (d != NULL && d[0] != 0)
		n = snprintf(out, outlen, "%s", d);
	else if ((d = getenv("XDG_DATA_HOME")) != NULL && d[0] == '/')
		n = snprintf(out, outlen, "%s/ward", d);
	else if ((d = getenv("HOME")) != NULL && d[0] == '/')
		n = snprintf(out, outlen, "%s/.local/share/ward", d);
	else {
		seterr(err, errlen, "no directory for the simulation platform key: set WARD_SIM_PLATFORM_DIR or HOME");
		return -1;
	}
	if (n < 0 || (size_t)n >= outlen) {
		seterr(err, errlen, "simulation platform key directory name is too long");
		return -1;
	}
	return 0;
}

int ward_sim_platform_load(const char *dir, struct ward_sim_platform **out, char *err,
			   size_t errlen)
{
	char d[4096], path[4200], tmp[4300];
	struct ward_sim_platform *p;
	struct stat st;
	EVP_PKEY *k = NULL;
	FILE *f;

	if (dir == NULL) {
		if (ward_sim_platform_dir(d, sizeof(d), err, errlen) != 0)
			return -1;
		dir = d;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, WARD_SIM_KEY_FILE);
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
			seterr(err, errlen, "simulation platform key '%s' is not a private regular file (chmod 600 it)", path);
			return -1;
		}
		f = fopen(path, "r");
		if (f == NULL || (k = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL ||
		    EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
			if (f != NULL)
				fclose(f);
			EVP_PKEY_free(k);
			seterr(err, errlen, "cannot read simulation platform key '%s': not an Ed25519 private key", path);
			return -1;
		}
		fclose(f);
	} else {
		BIO *b = BIO_new(BIO_s_mem());
		char *pem;
		long n;
		int fd;
		mkdir(dir, 0700);
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (k == NULL || b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
			BIO_free(b);
			EVP_PKEY_free(k);
			seterr(err, errlen, "cannot create a simulation platform key");
			return -1;
		}
		n = BIO_get_mem_data(b, &pem);
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, pem, (size_t)n) != n || fsync(fd) != 0 ||
		    (link(tmp, path) != 0 && errno != EEXIST)) {
			if (fd >= 0)
				close(fd);
			unlink(tmp);
			BIO_free(b);
			EVP_PKEY_free(k);
			seterr(err, errlen, "cannot write simulation platform key '%s': %s", path, strerror(errno));
			return -1;
		}
		close(fd);
		unlink(tmp);
		BIO_free(b);
		EVP_PKEY_free(k);
		return ward_sim_platform_load(dir, out, err, errlen); /* the winner's key */
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || pub_fpr(k, p->fpr) != 0) {
		free(p);
		EVP_PKEY_free(k);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	p->key = k;
	*out = p;
	return 0;
}

void ward_sim_platform_free(struct ward_sim_platform *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->key);
	free(p);
}

void ward_sim_platform_fingerprint(const struct ward_sim_platform *p, uint8_t out[WARD_SIM_FPR_LEN])
{
	memcpy(out, p->fpr, WARD_SIM_FPR_LEN);
}

void ward_sim_report_data(const uint8_t key_hash[32], const uint8_t *nonce32,
			  uint8_t out[WARD_SIM_REPORT_DATA_LEN])
{
	memcpy(out, key_hash, 32);
	if (nonce32 != NULL)
		memcpy(out + 32, nonce32, 32);
	else
		memset(out + 32, 0, 32);
}

int ward_sim_evidence_create(const struct ward_sim_platform *p,
			     const uint8_t measurement[WARD_SIM_MEASUREMENT_LEN],
			     const uint8_t report_data[WARD_SIM_REPORT_DATA_LEN], uint64_t timestamp,
			     uint8_t out[WARD_SIM_EVIDENCE_LEN], char *err, size_t errlen)
{
	uint8_t b[WARD_SIM_EVIDENCE_LEN] = { 0 };
	size_t publen = 32, siglen = 64;
	EVP_MD_CTX *md;
	int ok;

	if (timestamp == 0)
		timestamp = (uint64_t)time(NULL);
	memcpy(b, sim_magic, 8);
	b[8] = 1;
	b[10] = 1;
	for (int i = 0; i < 8; i++)
		b[16 + i] = (uint8_t)(timestamp >> (8 * i));
	memcpy(b + 24, measurement, 32);
	memcpy(b + 56, report_data, 64);
	b[120] = 1;
	b[122] = 32;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_PKEY_get_raw_public_key(p->key, b + 124, &publen) == 1 &&
	     EVP_DigestSignInit(md, NULL, NULL, NULL, p->key) == 1 &&
	     EVP_DigestSign(md, b + OFF_SIG, &siglen, b, OFF_SIG) == 1 && siglen == 64;
	EVP_MD_CTX_free(md);
	if (!ok) {
		seterr(err, errlen, "cannot sign simulation evidence");
		return -1;
	}
	memcpy(out, b, sizeof(b));
	return 0;
}

int ward_sim_evidence_is(const uint8_t *ev, size_t len)
{
	return len >= 8 && memcmp(ev, sim_magic, 8) == 0;
}

int ward_sim_evidence_verify(const uint8_t *ev, size_t len, const uint8_t *pinned_fpr,
			     struct ward_sim_claims *out, char *err, size_t errlen)
{
	struct ward_sim_claims c;
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *md = NULL;
	int ok;

	if (len != WARD_SIM_EVIDENCE_LEN || !ward_sim_evidence_is(ev, len)) {
		seterr(err, errlen, "not simulation evidence (%zu bytes)", len);
		return -1;
	}
	if (ev[8] != 1 || ev[9] != 0) {
		seterr(err, errlen, "unknown simulation evidence version");
		return -1;
	}
	if (ev[10] != 1 || ev[11] != 0 || ev[12] || ev[13] || ev[14] || ev[15] ||
	    ev[120] != 1 || ev[121] != 0 || ev[122] != 32 || ev[123] != 0) {
		seterr(err, errlen, "malformed simulation evidence header");
		return -1;
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.platform_pubkey, ev + 124, 32);
	/* fingerprint = SHA-256 of the DER SubjectPublicKeyInfo, which for
	 * Ed25519 is a fixed 12-byte prefix and the raw key (RFC 8410) */
	static const uint8_t spki_prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
						 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	uint8_t spki[44];
	memcpy(spki, spki_prefix, 12);
	memcpy(spki + 12, ev + 124, 32);
	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ev + 124, 32);
	md = EVP_MD_CTX_new();
	ok = k != NULL && md != NULL && ward_sha256(spki, sizeof(spki), c.platform_fpr) == 0 &&
	     EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
	     EVP_DigestVerify(md, ev + OFF_SIG, 64, ev, OFF_SIG) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	if (!ok) {
		seterr(err, errlen, "simulation evidence signature does not verify");
		return -1;
	}
	if (pinned_fpr != NULL && !ward_ct_equal(pinned_fpr, c.platform_fpr, 32)) {
		seterr(err, errlen, "simulation evidence signed by another machine's platform key");
		return -1;
	}
	memcpy(c.measurement, ev + 24, 32);
	memcpy(c.report_data, ev + 56, 64);
	for (int i = 7; i >= 0; i--)
		c.timestamp = (c.timestamp << 8) | ev[16 + i];
	c.version = 1;
	*out = c;
	return 0;
}
#else
typedef int ward_cas_sim_compat_unused;
#endif
