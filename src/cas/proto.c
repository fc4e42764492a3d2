/* proto.c: see proto.h. */
#include "cas/proto.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

void ward_cas_frame_header(uint32_t len, uint8_t hdr[WARD_CAS_FRAME_HDR])
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

int ward_cas_frame_parse(const uint8_t hdr[WARD_CAS_FRAME_HDR], uint32_t max, uint32_t *len)
{
	uint32_t v = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
		     (uint32_t)hdr[3];
	if (v == 0 || v > max)
		return -1;
	*len = v;
	return 0;
}

int ward_cas_name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > WARD_CAS_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int ward_cas_tag_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n % 2 != 0 || n > WARD_CAS_TAG_HEX_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

int ward_cas_config_id_split(const char *id, char session[WARD_CAS_NAME_MAX + 1],
			     char service[WARD_CAS_NAME_MAX + 1])
{
	const char *slash;
	size_t a;

	if (id == NULL || (slash = strchr(id, '/')) == NULL)
		return -1;
	a = (size_t)(slash - id);
	if (a == 0 || a > WARD_CAS_NAME_MAX || strlen(slash + 1) > WARD_CAS_NAME_MAX)
		return -1;
	memcpy(session, id, a);
	session[a] = 0;
	strcpy(service, slash + 1);
	if (!ward_cas_name_ok(session) || !ward_cas_name_ok(service))
		return -1;
	return 0;
}

int ward_cas_exporter(SSL *ssl, uint8_t out[WARD_CAS_EXPORTER_LEN])
{
	static const char label[] = WARD_CAS_EXPORTER_LABEL;
	if (ssl == NULL || SSL_version(ssl) != TLS1_3_VERSION)
		return -1;
	return SSL_export_keying_material(ssl, out, WARD_CAS_EXPORTER_LEN, label, sizeof(label) - 1, NULL, 0, 0) == 1
		       ? 0
		       : -1;
}

int ward_cas_binding(const uint8_t challenge[WARD_CAS_CHALLENGE_LEN],
		     const uint8_t exporter[WARD_CAS_EXPORTER_LEN], const char *config_id,
		     size_t nvol, const char *const *names, const char *const *tags,
		     uint8_t out[32])
{
	static const char label[] = "ward-cas-attest-v2";
	EVP_MD_CTX *md;
	unsigned int olen = 0;
	int ok;

	for (size_t i = 1; i < nvol; i++)
		if (strcmp(names[i - 1], names[i]) >= 0)
			return -1;
	md = EVP_MD_CTX_new();
	if (md == NULL)
		return -1;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, label, sizeof(label)) == 1 && /* includes the NUL */
	     EVP_DigestUpdate(md, challenge, WARD_CAS_CHALLENGE_LEN) == 1 &&
	     EVP_DigestUpdate(md, exporter, WARD_CAS_EXPORTER_LEN) == 1 &&
	     EVP_DigestUpdate(md, config_id, strlen(config_id) + 1) == 1;
	for (size_t i = 0; ok && i < nvol; i++)
		ok = EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1) == 1 &&
		     EVP_DigestUpdate(md, tags[i], strlen(tags[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int put(uint8_t *out, size_t *off, const void *p, size_t n)
{
	if (*off + n > WARD_CAS_TAG_MSG_MAX)
		return -1;
	memcpy(out + *off, p, n);
	*off += n;
	return 0;
}

int ward_cas_tag_message(const uint8_t challenge[WARD_CAS_CHALLENGE_LEN],
			 const uint8_t exporter[WARD_CAS_EXPORTER_LEN], const char *phase,
			 const char *volume, const char *tag, uint8_t out[WARD_CAS_TAG_MSG_MAX],
			 size_t *len)
{
	static const char label[] = "ward-cas-tag-v2";
	size_t off = 0;

	if (phase == NULL || volume == NULL || tag == NULL || strlen(phase) > 7 ||
	    strlen(volume) > WARD_CAS_NAME_MAX || strlen(tag) > WARD_CAS_TAG_HEX_MAX)
		return -1;
	if (put(out, &off, label, sizeof(label)) != 0 || /* includes the NUL */
	    put(out, &off, challenge, WARD_CAS_CHALLENGE_LEN) != 0 ||
	    put(out, &off, exporter, WARD_CAS_EXPORTER_LEN) != 0 ||
	    put(out, &off, phase, strlen(phase) + 1) != 0 || put(out, &off, volume, strlen(volume) + 1) != 0 ||
	    put(out, &off, tag, strlen(tag) + 1) != 0)
		return -1;
	*len = off;
	return 0;
}
