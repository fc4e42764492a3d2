/* test_proto.c: frame bounds, names, tags, config ids and the binding hash. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../test.h"
#include "cas/attest_client.h"
#include "cas/proto.h"

/* ward_cas_key_spki gives exactly i2d_PUBKEY's bytes (the P-256 shortcut and
 * the generic path), and its hash is ward_cas_key_hash. */
static void check_spki(const char *alg, const char *param)
{
	EVP_PKEY *k = param ? EVP_PKEY_Q_keygen(NULL, NULL, alg, param) : EVP_PKEY_Q_keygen(NULL, NULL, alg);
	unsigned char *der = NULL;
	uint8_t mine[WARD_CAS_SPKI_MAX], h1[32], h2[32];
	size_t n = 0;
	int dl = k ? i2d_PUBKEY(k, &der) : -1;
	CHECK(dl > 0 && ward_cas_key_spki(k, mine, sizeof(mine), &n) == 0 && n == (size_t)dl &&
	      memcmp(mine, der, n) == 0);
	CHECK(ward_cas_key_hash(k, h1) == 0 && EVP_Q_digest(NULL, "SHA256", NULL, der, (size_t)dl, h2, NULL) == 1 &&
	      memcmp(h1, h2, 32) == 0);
	CHECK(ward_cas_key_spki(k, mine, 10, &n) == -1); /* too small */
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

int main(void)
{
	uint8_t h[4], ch[32] = { 1 }, ex[32] = { 2 }, b1[32], b2[32], m1[WARD_CAS_TAG_MSG_MAX], m2[WARD_CAS_TAG_MSG_MAX];
	size_t l1, l2;
	uint32_t len = 99;
	const char *n[2] = { "a", "b" }, *t[2] = { "00", "ff" }, *rev[2] = { "b", "a" };

	ward_cas_frame_header(65536, h);
	CHECK(ward_cas_frame_parse(h, WARD_CAS_FRAME_MAX_IN, &len) == 0 && len == 65536);
	ward_cas_frame_header(65537, h);
	len = 7;
	CHECK(ward_cas_frame_parse(h, WARD_CAS_FRAME_MAX_IN, &len) == -1 && len == 7);
	ward_cas_frame_header(0, h);
	CHECK(ward_cas_frame_parse(h, WARD_CAS_FRAME_MAX_IN, &len) == -1);
	memset(h, 0xff, 4);
	CHECK(ward_cas_frame_parse(h, WARD_CAS_FRAME_MAX_OUT, &len) == -1);

	CHECK(ward_cas_name_ok("my-app_1.0"));
	CHECK(!ward_cas_name_ok("") && !ward_cas_name_ok("-x") && !ward_cas_name_ok("a/b") &&
	      !ward_cas_name_ok("a b") && !ward_cas_name_ok(NULL));
	char big[200];
	memset(big, 'a', sizeof(big) - 1);
	big[199] = 0;
	CHECK(!ward_cas_name_ok(big));
	CHECK(ward_cas_tag_ok("") && ward_cas_tag_ok("00aAfF") && !ward_cas_tag_ok("0") && !ward_cas_tag_ok("zz"));

	char s[129], v[129];
	CHECK(ward_cas_config_id_split("myapp/web", s, v) == 0 && strcmp(s, "myapp") == 0 && strcmp(v, "web") == 0);
	CHECK(ward_cas_config_id_split("myapp", s, v) == -1);
	CHECK(ward_cas_config_id_split("/web", s, v) == -1);
	CHECK(ward_cas_config_id_split("a/b/c", s, v) == -1);

	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b1) == 0);
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) == 0);
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, rev, t, b2) == -1); /* must be sorted */
	CHECK(ward_cas_binding(ch, ex, "a/c", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) != 0);
	t[1] = "fe";
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) != 0);
	ch[5] = 9;
	t[1] = "ff";
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) != 0);
	ch[5] = 0;
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) == 0);
	ex[31] = 7; /* another TLS channel */
	CHECK(ward_cas_binding(ch, ex, "a/b", 2, n, t, b2) == 0 && memcmp(b1, b2, 32) != 0);

	/* the tag report's signed message: every field and the channel count */
	CHECK(ward_cas_tag_message(ch, ex, "commit", "data", "aa01", m1, &l1) == 0);
	CHECK(ward_cas_tag_message(ch, ex, "commit", "data", "aa01", m2, &l2) == 0 && l1 == l2 && memcmp(m1, m2, l1) == 0);
	CHECK(ward_cas_tag_message(ch, ex, "prepare", "data", "aa01", m2, &l2) == 0 && (l1 != l2 || memcmp(m1, m2, l1) != 0));
	CHECK(ward_cas_tag_message(ch, ex, "commit", "dat", "aaa01", m2, &l2) == 0 && l1 == l2 && memcmp(m1, m2, l1) != 0);
	ex[0] ^= 1;
	CHECK(ward_cas_tag_message(ch, ex, "commit", "data", "aa01", m2, &l2) == 0 && memcmp(m1, m2, l1) != 0);
	ex[0] ^= 1;
	ch[0] ^= 1;
	CHECK(ward_cas_tag_message(ch, ex, "commit", "data", "aa01", m2, &l2) == 0 && memcmp(m1, m2, l1) != 0);
	CHECK(ward_cas_tag_message(ch, ex, "commit", big, "aa01", m2, &l2) == -1);

	for (int i = 0; i < 8; i++)
		check_spki("EC", "P-256");
	check_spki("EC", "P-384");
	check_spki("ED25519", NULL);
	return TEST_DONE();
}
