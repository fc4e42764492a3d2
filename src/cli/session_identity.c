/* session_identity.c: the user's CAS client key pair and pinned CAS keys. */
#include "cli/session_identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"

#define KNOWN_MAX (256 * 1024)

static int config_dir(char *out, size_t len)
{
	int n = ward_xdg_dir("XDG_CONFIG_HOME", ".config", "ward", out, len);
	if (n == -1) {
		ward_error("cannot find a config directory for the CAS client key: neither XDG_CONFIG_HOME nor HOME is an absolute path; set one of them");
		return -1;
	}
	if (n != 0) {
		ward_error("config directory path is too long");
		return -1;
	}
	if (ward_mkdir_p(out, 0700) < 0) {
		ward_error("cannot create config directory %s: %s", out, strerror(errno));
		return -1;
	}
	return 0;
}

int ward_spki_hash_hex(X509 *x, char out[WARD_ID_HEX + 1])
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	uint8_t h[WARD_SHA256_LEN];
	if (n <= 0)
		return -1;
	int r = ward_sha256(der, (size_t)n, h);
	OPENSSL_free(der);
	if (r < 0)
		return -1;
	ward_hex(h, sizeof(h), out);
	return 0;
}

/* Writes PEM text produced by fn into path (0600, atomic). */
static int write_pem(const char *path, int is_key, EVP_PKEY *k, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	int ok = b && (is_key ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_X509(b, x));
	long len = ok ? BIO_get_mem_data(b, &data) : 0;
	int r = ok && len > 0 ? ward_write_file_atomic(path, data, (size_t)len, 0600) : -1;
	if (b && len > 0)
		ward_wipe(data, (size_t)len);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

static int create_pair(const struct ward_client_id *c)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int ok = k && x;
	ok = ok && X509_set_version(x, 2);
	ok = ok && ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	ok = ok && X509_gmtime_adj(X509_getm_notAfter(x), 10L * 366 * 24 * 3600);
	ok = ok && X509_set_pubkey(x, k);
	X509_NAME *nm = ok ? X509_get_subject_name(x) : NULL;
	ok = ok && X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"ward session client", -1, -1, 0);
	ok = ok && X509_set_issuer_name(x, nm);
	ok = ok && X509_sign(x, k, EVP_sha256()) > 0;
	/* key first: a certificate without its key is useless, the reverse is repaired below */
	ok = ok && write_pem(c->key_path, 1, k, NULL) == 0 && write_pem(c->cert_path, 0, NULL, x) == 0;
	EVP_PKEY_free(k);
	X509_free(x);
	ERR_clear_error();
	if (!ok)
		ward_error("cannot create the CAS client key pair in %s: %s", c->dir, errno ? strerror(errno) : "key generation failed");
	return ok ? 0 : -1;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return x;
}

int ward_client_id_load(struct ward_client_id *c)
{
	memset(c, 0, sizeof(*c));
	if (config_dir(c->dir, sizeof(c->dir)) < 0)
		return -1;
	snprintf(c->key_path, sizeof(c->key_path), "%s/client-key.pem", c->dir);
	snprintf(c->cert_path, sizeof(c->cert_path), "%s/client-cert.pem", c->dir);
	snprintf(c->known_path, sizeof(c->known_path), "%s/known-cas", c->dir);
	struct stat st;
	if (stat(c->key_path, &st) < 0) {
		if (errno != ENOENT) {
			ward_error("cannot read client key %s: %s", c->key_path, strerror(errno));
			return -1;
		}
		if (create_pair(c) < 0)
			return -1;
		ward_info("created the CAS client key pair in %s", c->dir);
	} else if (st.st_mode & 077) {
		ward_error("client key %s is accessible by group or others (mode %04o); run: chmod 600 %s", c->key_path,
			   (unsigned)(st.st_mode & 07777), c->key_path);
		return -1;
	}
	X509 *x = read_cert(c->cert_path);
	if (!x) {
		ward_error("cannot read client certificate %s; delete %s and %s to create a new identity (sessions owned by the old one stay with it)",
			   c->cert_path, c->key_path, c->cert_path);
		return -1;
	}
	/* The key must match the certificate. */
	FILE *f = fopen(c->key_path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	int match = k && X509_check_private_key(x, k) == 1;
	EVP_PKEY_free(k);
	ERR_clear_error();
	int r = match ? ward_spki_hash_hex(x, c->id) : -1;
	X509_free(x);
	if (!match) {
		ward_error("client key %s does not match certificate %s (or is not a PEM key); restore them from a backup or delete both to create a new identity",
			   c->key_path, c->cert_path);
		return -1;
	}
	return r;
}

int ward_known_cas_get(const struct ward_client_id *c, const char *addr, char *fp, size_t fplen)
{
	uint8_t *data;
	size_t len;
	fp[0] = 0;
	if (ward_read_file(c->known_path, KNOWN_MAX, &data, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		ward_error("cannot read %s: %s", c->known_path, strerror(errno));
		return -1;
	}
	char *save = NULL;
	for (char *line = strtok_r((char *)data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp || line[0] == '#')
			continue;
		*sp = 0;
		if (strcmp(line, addr) == 0) {
			ward_strlcpy(fp, sp + 1, fplen);
			break;
		}
	}
	free(data);
	return 0;
}

int ward_known_cas_add(const struct ward_client_id *c, const char *addr, const char *fp)
{
	uint8_t *data = NULL;
	size_t len = 0;
	if (ward_read_file(c->known_path, KNOWN_MAX, &data, &len) < 0 && errno != ENOENT) {
		ward_error("cannot read %s: %s", c->known_path, strerror(errno));
		return -1;
	}
	size_t cap = len + strlen(addr) + strlen(fp) + 4;
	char *out = malloc(cap);
	if (!out) {
		free(data);
		return -1;
	}
	int n = snprintf(out, cap, "%.*s%s%s %s\n", (int)len, data ? (char *)data : "",
			 len && data[len - 1] != '\n' ? "\n" : "", addr, fp);
	free(data);
	int r = ward_write_file_atomic(c->known_path, out, (size_t)n, 0600);
	free(out);
	if (r < 0)
		ward_error("cannot write %s: %s", c->known_path, strerror(errno));
	return r;
}
