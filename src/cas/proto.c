/* proto.c: see proto.h. */
#include "cas/proto.h"

#include <string.h>

#include <openssl/evp.h>

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

int ward_cas_binding(const uint8_t challenge[WARD_CAS_CHALLENGE_LEN], const char *config_id,
		     size_t nvol, const char *const *names, const char *const *tags,
		     uint8_t out[32])
{
	static const char label[] = "ward-cas-attest-v1";
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
	     EVP_DigestUpdate(md, config_id, strlen(config_id) + 1) == 1;
	for (size_t i = 0; ok && i < nvol; i++)
		ok = EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1) == 1 &&
		     EVP_DigestUpdate(md, tags[i], strlen(tags[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}
