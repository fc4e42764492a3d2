/*
 * sim_evidence.c: see sim_evidence.h; layout in docs/sim-evidence.md.
 *
 * Layout (all integers little-endian):
 *   0   8  magic "WARDSIM\0"
 *   8   2  version (1)
 *   10  2  flags: bit 0 = simulation (must be set; other bits must be 0)
 *   12  4  reserved (must be 0)
 *   16  8  timestamp (Unix seconds)
 *   24  32 measurement
 *   56  64 report data
 *   120 2  signature algorithm (1 = Ed25519)
 *   122 2  public key length (32)
 *   124 32 platform public key (raw Ed25519)
 *   156 64 Ed25519 signature over bytes [0, 156)
 *   220    end (nothing may follow)
 * Invariants: (1) the signature covers every byte before it, including the
 * public key, so no field can change without the signature failing; (2) a
 * verifier that pins the platform fingerprint accepts only that machine.
 */
#include "attest/ratls/sim_evidence.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/crypto.h"
#include "core/util.h"

#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_FLAGS 10
#define OFF_RESERVED 12
#define OFF_TIME 16
#define OFF_MEAS 24
#define OFF_RDATA 56
#define OFF_ALG 120
#define OFF_KEYLEN 122
#define OFF_PUBKEY 124
#define OFF_SIG 156
#define SIG_LEN 64
#define SIGNED_LEN OFF_SIG

#define SIM_VERSION 1
#define SIM_FLAG_SIMULATION 0x0001
#define SIM_ALG_ED25519 1
#define KEY_FILE_MAX 4096

_Static_assert(OFF_SIG + SIG_LEN == WARD_SIM_EVIDENCE_LEN, "sim evidence layout");
_Static_assert(OFF_RDATA + WARD_SIM_REPORT_DATA_LEN == OFF_ALG, "sim evidence layout");
_Static_assert(OFF_PUBKEY + WARD_SIM_PUBKEY_LEN == OFF_SIG, "sim evidence layout");

static const uint8_t sim_magic[8] = { 'W', 'A', 'R', 'D', 'S', 'I', 'M', 0 };

struct ward_sim_platform {
	EVP_PKEY *key;
	uint8_t pub[WARD_SIM_PUBKEY_LEN];
	uint8_t fpr[WARD_SIM_FPR_LEN];
};

#define seterr(...) ((void)ward_fail(__VA_ARGS__)) /* src/core/util.h */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int ward_sim_platform_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *d = getenv("WARD_SIM_PLATFORM_DIR");
	int n;

	if (d != NULL && d[0] != 0)
		n = ward_strlcpy(out, d, outlen) == 0 ? 0 : -2;
	else if ((n = ward_xdg_dir("XDG_DATA_HOME", ".local/share", "ward", out, outlen)) == -1) {
		seterr(err, errlen,
		       "no directory for the simulation platform key: set WARD_SIM_PLATFORM_DIR or HOME");
		return -1;
	}
	if (n != 0) {
		seterr(err, errlen, "simulation platform key directory name is too long");
		return -1;
	}
	return 0;
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	if (ward_mkdir_p(dir, 0700) != 0) {
		seterr(err, errlen, "cannot create directory '%s': %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The DER SubjectPublicKeyInfo of an Ed25519 key is a fixed 12-byte prefix
 * and the raw key (RFC 8410): the bytes i2d_PUBKEY gives, without OpenSSL 3's
 * encoder (~100 us per call, more on first use). */
static const uint8_t ed25519_spki_prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
						 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

/* Likewise its PKCS#8 PrivateKeyInfo (RFC 8410, no attributes, no public
 * key): a fixed 16-byte prefix and the 32-byte seed. */
static const uint8_t ed25519_pkcs8_prefix[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
						  0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };

static int platform_finish(struct ward_sim_platform *p, char *err, size_t errlen)
{
	size_t publen = sizeof(p->pub);
	uint8_t spki[sizeof(ed25519_spki_prefix) + sizeof(p->pub)];

	if (EVP_PKEY_get_raw_public_key(p->key, p->pub, &publen) != 1 || publen != sizeof(p->pub)) {
		seterr(err, errlen, "cannot read the platform public key");
		return -1;
	}
	memcpy(spki, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
	memcpy(spki + sizeof(ed25519_spki_prefix), p->pub, sizeof(p->pub));
	if (ward_sha256(spki, sizeof(spki), p->fpr) != 0) {
		seterr(err, errlen, "cannot hash the platform public key");
		return -1;
	}
	return 0;
}

/* The key file as Ward writes it (PEM "PRIVATE KEY" of exactly the PKCS#8
 * form above), without OpenSSL 3's decoder chain (~0.6 ms at start-up).
 * NULL for anything else: the caller falls back to the generic decoder. */
static EVP_PKEY *pem_ed25519_fast(const uint8_t *buf, size_t n)
{
	static const char head[] = "-----BEGIN PRIVATE KEY-----\n", tail[] = "-----END PRIVATE KEY-----\n";
	const size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, b64 = 64; /* base64 of 48 bytes */
	uint8_t der[48 + 3];
	EVP_PKEY *k;

	if (n != hl + b64 + 1 + tl || memcmp(buf, head, hl) != 0 || buf[hl + b64] != '\n' ||
	    memcmp(buf + hl + b64 + 1, tail, tl) != 0 ||
	    EVP_DecodeBlock(der, buf + hl, (int)b64) != 48 || /* no padding: 48 bytes exactly */
	    memcmp(der, ed25519_pkcs8_prefix, sizeof(ed25519_pkcs8_prefix)) != 0)
		return NULL;
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, der + sizeof(ed25519_pkcs8_prefix), 32);
	ward_wipe(der, sizeof(der));
	return k;
}

/* Reads and parses an existing key file. Returns 0, -1 (error in err) or
 * 1 when the file does not exist. */
static int load_key_file(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	uint8_t buf[KEY_FILE_MAX];
	struct stat st;
	size_t n = 0;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		seterr(err, errlen, "cannot open simulation platform key '%s': %s", path,
		       strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		seterr(err, errlen, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, "simulation platform key '%s' is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		seterr(err, errlen,
		       "simulation platform key '%s' has permissions %04o, too open; run chmod 600 '%s'",
		       path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > KEY_FILE_MAX - 1) {
		seterr(err, errlen, "simulation platform key '%s' is too large (%lld bytes)", path,
		       (long long)st.st_size);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			seterr(err, errlen, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= sizeof(buf) - 1) {
			seterr(err, errlen, "simulation platform key '%s' is too large", path);
			goto out;
		}
	}
	key = pem_ed25519_fast(buf, n);
	if (key == NULL) { /* any other PEM form: OpenSSL's decoders */
		bio = BIO_new_mem_buf(buf, (int)n);
		if (bio == NULL) {
			seterr(err, errlen, "out of memory");
			goto out;
		}
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	}
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		seterr(err, errlen,
		       "simulation platform key '%s' is not an Ed25519 private key in PEM; move it away to create a new one",
		       path);
		goto out;
	}
	*out = key;
	key = NULL; /* transferred */
	ret = 0;
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	ward_wipe(buf, sizeof(buf));
	close(fd);
	ERR_clear_error();
	return ret;
}

/* Generates a key and publishes it at path with link(2). Returns 0 when
 * published, 1 when another process published one first, -1 on error. */
static int create_key_file(const char *dir, const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pemlen;
	int fd = -1, ret = -1, linked = 0;

	if (snprintf(tmp, sizeof(tmp), "%s/.sim-platform-key.XXXXXX", dir) >= (int)sizeof(tmp)) {
		seterr(err, errlen, "directory name '%s' is too long", dir);
		return -1;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	bio = BIO_new(BIO_s_secmem());
	if (key == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		seterr(err, errlen, "cannot generate the simulation platform key");
		goto out;
	}
	pemlen = BIO_get_mem_data(bio, &pem);
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		seterr(err, errlen, "cannot create a file in '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0) {
		seterr(err, errlen, "cannot set the mode of '%s': %s", tmp, strerror(errno));
		goto out;
	}
	for (long off = 0; off < pemlen;) {
		ssize_t w = write(fd, pem + off, (size_t)(pemlen - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			seterr(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
			goto out;
		}
		off += w;
	}
	if (fsync(fd) != 0) {
		seterr(err, errlen, "cannot sync '%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) != 0) {
		if (errno == EEXIST) {
			ret = 1;
			goto out;
		}
		seterr(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	linked = 1;
	ret = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (linked) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	BIO_free(bio); /* secure heap: cleared on free */
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}

int ward_sim_platform_load(const char *dir, struct ward_sim_platform **out, char *err,
			   size_t errlen)
{
	char dbuf[PATH_MAX];
	char path[PATH_MAX];
	struct ward_sim_platform *p = NULL;
	EVP_PKEY *key = NULL;
	int r;

	if (dir == NULL) {
		if (ward_sim_platform_dir(dbuf, sizeof(dbuf), err, errlen) != 0)
			return -1;
		dir = dbuf;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, WARD_SIM_KEY_FILE) >= (int)sizeof(path)) {
		seterr(err, errlen, "directory name '%s' is too long", dir);
		return -1;
	}
	for (int attempt = 0;; attempt++) {
		r = load_key_file(path, &key, err, errlen);
		if (r <= 0)
			break;
		if (attempt > 0) {
			seterr(err, errlen, "simulation platform key '%s' disappeared while loading", path);
			return -1;
		}
		if (mkdir_p(dir, err, errlen) != 0)
			return -1;
		if (create_key_file(dir, path, err, errlen) < 0)
			return -1;
		/* Published by us or by a concurrent first use: load what is there. */
	}
	if (r != 0)
		return -1;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		EVP_PKEY_free(key);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	p->key = key; /* transferred */
	if (platform_finish(p, err, errlen) != 0) {
		ward_sim_platform_free(p);
		ERR_clear_error();
		return -1;
	}
	*out = p;
	return 0;
}

void ward_sim_platform_free(struct ward_sim_platform *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->key);
	ward_wipe(p, sizeof(*p));
	free(p);
}

void ward_sim_platform_fingerprint(const struct ward_sim_platform *p,
				   uint8_t out[WARD_SIM_FPR_LEN])
{
	memcpy(out, p->fpr, WARD_SIM_FPR_LEN);
}

void ward_sim_platform_pubkey(const struct ward_sim_platform *p, uint8_t out[WARD_SIM_PUBKEY_LEN])
{
	memcpy(out, p->pub, WARD_SIM_PUBKEY_LEN);
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
	uint8_t ev[WARD_SIM_EVIDENCE_LEN];
	size_t siglen = SIG_LEN;
	EVP_MD_CTX *ctx;
	int ok;

	if (timestamp == 0)
		timestamp = (uint64_t)time(NULL);
	memset(ev, 0, sizeof(ev));
	memcpy(ev + OFF_MAGIC, sim_magic, sizeof(sim_magic));
	put16(ev + OFF_VERSION, SIM_VERSION);
	put16(ev + OFF_FLAGS, SIM_FLAG_SIMULATION);
	put64(ev + OFF_TIME, timestamp);
	memcpy(ev + OFF_MEAS, measurement, WARD_SIM_MEASUREMENT_LEN);
	memcpy(ev + OFF_RDATA, report_data, WARD_SIM_REPORT_DATA_LEN);
	put16(ev + OFF_ALG, SIM_ALG_ED25519);
	put16(ev + OFF_KEYLEN, WARD_SIM_PUBKEY_LEN);
	memcpy(ev + OFF_PUBKEY, p->pub, WARD_SIM_PUBKEY_LEN);

	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, p->key) == 1 &&
	     EVP_DigestSign(ctx, ev + OFF_SIG, &siglen, ev, SIGNED_LEN) == 1 && siglen == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (!ok) {
		seterr(err, errlen, "cannot sign simulation evidence with the platform key");
		return -1;
	}
	memcpy(out, ev, sizeof(ev));
	return 0;
}

int ward_sim_evidence_is(const uint8_t *ev, size_t len)
{
	return ev != NULL && len >= sizeof(sim_magic) && memcmp(ev, sim_magic, sizeof(sim_magic)) == 0;
}

int ward_sim_evidence_verify(const uint8_t *ev, size_t len, const uint8_t *pinned_fpr,
			     struct ward_sim_claims *out, char *err, size_t errlen)
{
	struct ward_sim_claims c;
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *ctx = NULL;
	int ok, ret = -1;
	uint16_t v;

	if (ev == NULL || len < sizeof(sim_magic) || memcmp(ev, sim_magic, sizeof(sim_magic)) != 0) {
		seterr(err, errlen, "not simulation evidence (bad magic)");
		return -1;
	}
	if (len < WARD_SIM_EVIDENCE_LEN) {
		seterr(err, errlen, "simulation evidence truncated (%zu bytes, expected %d)", len,
		       WARD_SIM_EVIDENCE_LEN);
		return -1;
	}
	if (len > WARD_SIM_EVIDENCE_LEN) {
		seterr(err, errlen, "simulation evidence has %zu trailing bytes",
		       len - WARD_SIM_EVIDENCE_LEN);
		return -1;
	}
	v = get16(ev + OFF_VERSION);
	if (v != SIM_VERSION) {
		seterr(err, errlen, "simulation evidence version %u is not supported (expected %d)",
		       v, SIM_VERSION);
		return -1;
	}
	v = get16(ev + OFF_FLAGS);
	if (v != SIM_FLAG_SIMULATION) {
		seterr(err, errlen, "simulation evidence flags 0x%04x are invalid (expected 0x0001)", v);
		return -1;
	}
	if (ev[OFF_RESERVED] | ev[OFF_RESERVED + 1] | ev[OFF_RESERVED + 2] | ev[OFF_RESERVED + 3]) {
		seterr(err, errlen, "simulation evidence reserved bytes are not zero");
		return -1;
	}
	if (get16(ev + OFF_ALG) != SIM_ALG_ED25519 || get16(ev + OFF_KEYLEN) != WARD_SIM_PUBKEY_LEN) {
		seterr(err, errlen, "simulation evidence signature algorithm is not Ed25519");
		return -1;
	}
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ev + OFF_PUBKEY,
					  WARD_SIM_PUBKEY_LEN);
	if (pub == NULL) {
		seterr(err, errlen, "simulation evidence platform public key is invalid");
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, ev + OFF_SIG, SIG_LEN, ev, SIGNED_LEN) == 1;
	if (!ok) {
		seterr(err, errlen,
		       "simulation evidence signature does not verify (evidence was modified or not signed by its platform key)");
		goto out;
	}
	uint8_t spki[sizeof(ed25519_spki_prefix) + WARD_SIM_PUBKEY_LEN];
	memcpy(spki, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
	memcpy(spki + sizeof(ed25519_spki_prefix), ev + OFF_PUBKEY, WARD_SIM_PUBKEY_LEN);
	if (ward_sha256(spki, sizeof(spki), c.platform_fpr) != 0) {
		seterr(err, errlen, "cannot hash the platform public key");
		goto out;
	}
	if (pinned_fpr != NULL && !ward_ct_equal(pinned_fpr, c.platform_fpr, WARD_SIM_FPR_LEN)) {
		char got[2 * WARD_SIM_FPR_LEN + 1], want[2 * WARD_SIM_FPR_LEN + 1];
		ward_hex(c.platform_fpr, WARD_SIM_FPR_LEN, got);
		ward_hex(pinned_fpr, WARD_SIM_FPR_LEN, want);
		seterr(err, errlen,
		       "simulation evidence signed by platform key %.16s..., expected %.16s... (evidence from another machine)",
		       got, want);
		goto out;
	}
	c.version = SIM_VERSION;
	c.timestamp = get64(ev + OFF_TIME);
	memcpy(c.measurement, ev + OFF_MEAS, WARD_SIM_MEASUREMENT_LEN);
	memcpy(c.report_data, ev + OFF_RDATA, WARD_SIM_REPORT_DATA_LEN);
	memcpy(c.platform_pubkey, ev + OFF_PUBKEY, WARD_SIM_PUBKEY_LEN);
	*out = c;
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	ERR_clear_error();
	return ret;
}
