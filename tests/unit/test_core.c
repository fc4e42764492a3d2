/* Unit tests for src/core (sizes, hex, AES-GCM, HKDF) and the settings parser. */
#include <string.h>

#include "core/crypto.h"
#include "core/util.h"
#include "runtime/config.h"
#include "test.h"

static void sizes(void)
{
	uint64_t v;
	char buf[32];
	CHECK(ward_parse_size("512M", &v) == 0 && v == 512ull << 20);
	CHECK(ward_parse_size("4g", &v) == 0 && v == 4ull << 30);
	CHECK(ward_parse_size("1KB", &v) == 0 && v == 1024);
	CHECK(ward_parse_size("123", &v) == 0 && v == 123);
	CHECK(ward_parse_size("12Q", &v) != 0);
	CHECK(ward_parse_size("", &v) != 0);
	CHECK(ward_parse_size("M", &v) != 0);
	CHECK(ward_parse_size("-1", &v) != 0);
	CHECK(ward_parse_size("99999999999999999999", &v) != 0);
	CHECK(ward_parse_size("17179869184T", &v) != 0); /* overflows 64 bits */
	ward_format_size(4ull << 30, buf, sizeof(buf));
	CHECK(strcmp(buf, "4G") == 0);
	ward_format_size(1000, buf, sizeof(buf));
	CHECK(strcmp(buf, "1000") == 0);
}

static void hex(void)
{
	uint8_t in[3] = { 0x00, 0xab, 0xff }, out[3];
	char h[7];
	ward_hex(in, 3, h);
	CHECK(strcmp(h, "00abff") == 0);
	CHECK(ward_unhex("00ABff", out, 3) == 0 && memcmp(in, out, 3) == 0);
	CHECK(ward_unhex("00ab", out, 3) != 0);
	CHECK(ward_unhex("00abzz", out, 3) != 0);
}

static void gcm(void)
{
	uint8_t key[32] = { 1 }, iv[12] = { 2 }, tag[16], ct[5], pt[5];
	CHECK(ward_aes256gcm_seal(key, iv, "ad", 2, "hello", 5, ct, tag) == 0);
	CHECK(memcmp(ct, "hello", 5) != 0);
	CHECK(ward_aes256gcm_open(key, iv, "ad", 2, ct, 5, pt, tag) == 0 && memcmp(pt, "hello", 5) == 0);
	ct[0] ^= 1;
	CHECK(ward_aes256gcm_open(key, iv, "ad", 2, ct, 5, pt, tag) != 0);
	ct[0] ^= 1;
	CHECK(ward_aes256gcm_open(key, iv, "aX", 2, ct, 5, pt, tag) != 0);
	tag[15] ^= 1;
	CHECK(ward_aes256gcm_open(key, iv, "ad", 2, ct, 5, pt, tag) != 0);
}

static void hkdf(void)
{
	/* RFC 5869 test case 1. */
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	CHECK(ward_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
			 want, 42) == 0);
	CHECK(ward_hkdf_sha256(ikm, 22, salt, 13, info, 10, okm, 42) == 0);
	CHECK(memcmp(okm, want, 42) == 0);

	/* extracted once, expanded many times: the same keys, whatever the
	 * order of the infos (no state carried from one expansion to the next) */
	struct ward_hkdf *h = ward_hkdf_new(ikm, 22, salt, 13);
	CHECK(h != NULL);
	memset(okm, 0, sizeof(okm));
	CHECK(ward_hkdf_expand(h, info, 10, okm, 42) == 0);
	CHECK(memcmp(okm, want, 42) == 0);
	for (int i = 0; i < 3; i++) {
		uint8_t other[33], a[32], b[32];
		memset(other, 'a' + i, sizeof(other));
		CHECK(ward_hkdf_expand(h, other, sizeof(other) - (size_t)i, a, 32) == 0);
		CHECK(ward_hkdf_sha256(ikm, 22, salt, 13, other, sizeof(other) - (size_t)i, b, 32) == 0);
		CHECK(memcmp(a, b, 32) == 0);
	}
	CHECK(ward_hkdf_expand(h, info, 10, okm, 42) == 0);
	CHECK(memcmp(okm, want, 42) == 0);
	ward_hkdf_free(h);
	ward_hkdf_free(NULL);
	CHECK(ward_hkdf_expand(NULL, info, 10, okm, 42) == -1);
}

static void settings(void)
{
	struct ward_config c;
	char err[256];
	ward_config_defaults(&c);
	CHECK(ward_config_set(&c, WARD_SET_HEAP, "12Q", "WARD_HEAP", err, sizeof(err)) != 0);
	CHECK(strstr(err, "WARD_HEAP") != NULL && strstr(err, "12Q") != NULL);
	CHECK(c.heap == WARD_DEFAULT_HEAP);
	CHECK(ward_config_set(&c, WARD_SET_MODE, "fast", "--mode", err, sizeof(err)) != 0);
	CHECK(strstr(err, "hw, sim or auto") != NULL);
	CHECK(ward_config_set(&c, WARD_SET_MODE, "SIM", "--mode", err, sizeof(err)) == 0 && c.mode == WARD_MODE_SIM);
	CHECK(ward_config_set(&c, WARD_SET_HEAP, "1K", "--heap", err, sizeof(err)) != 0); /* below minimum */
	CHECK(ward_config_set(&c, WARD_SET_DLOPEN, "3", "--allow-dlopen", err, sizeof(err)) != 0);
	CHECK(ward_config_set(&c, WARD_SET_DLOPEN, "0", "--allow-dlopen", err, sizeof(err)) == 0 && c.dlopen == 0);
	CHECK(ward_config_set(&c, WARD_SET_LOG, "loud", "WARD_LOG", err, sizeof(err)) != 0);
}

int main(void)
{
	sizes();
	hex();
	gcm();
	hkdf();
	settings();
	return TEST_DONE();
}
