/* test_ratls_dice.c: the DICE tagged-evidence CBOR: roundtrip, byte-exact
 * interop with the CCC claims encoding, truncation, trailing bytes, wrong
 * shapes; and minted certificates refusing unbound evidence. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/ratls/ratls.h"
#include "attest/ratls/ratls_dice.h"
#include "../../test.h"

static void test_claims(void)
{
	uint8_t h[32], *buf = NULL;
	size_t len = 0;
	struct ward_dice_claims c;
	char err[256];
	/* Gramine's claims buffer for hash 5a5a...: a1 6b "pubkey-hash" 58 24 82 01 58 20 <32> */
	static const char prefix[] = "\xa1\x6b" "pubkey-hash" "\x58\x24\x82\x01\x58\x20";

	memset(h, 0x5a, sizeof(h));
	CHECK(ward_dice_claims_encode(1, h, 32, NULL, 0, &buf, &len, err, sizeof(err)) == 0);
	CHECK(len == sizeof(prefix) - 1 + 32);
	CHECK(buf && memcmp(buf, prefix, sizeof(prefix) - 1) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(ward_dice_claims_decode(buf, len, &c, err, sizeof(err)) == 0);
	CHECK(c.alg == 1 && c.hash_len == 32 && memcmp(c.hash, h, 32) == 0 && c.nonce == NULL);
	for (size_t n = 0; n < len; n++)
		CHECK(ward_dice_claims_decode(buf, n, &c, err, sizeof(err)) == -1);
	uint8_t *big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	CHECK(ward_dice_claims_decode(big, len + 1, &c, err, sizeof(err)) == -1 &&
	      strstr(err, "trailing") != NULL);
	free(big);
	free(buf);
	/* with a nonce */
	CHECK(ward_dice_claims_encode(8, (uint8_t[64]){ 1 }, 64, (const uint8_t *)"n0", 2, &buf, &len,
				      err, sizeof(err)) == 0);
	CHECK(ward_dice_claims_decode(buf, len, &c, err, sizeof(err)) == 0);
	CHECK(c.alg == 8 && c.hash_len == 64 && c.nonce_len == 2 && memcmp(c.nonce, "n0", 2) == 0);
	free(c.nonce);
	free(buf);
	/* unsupported algorithm, wrong hash length, missing claim, not a map */
	CHECK(ward_dice_claims_encode(2, h, 32, NULL, 0, &buf, &len, err, sizeof(err)) == 0);
	CHECK(ward_dice_claims_decode(buf, len, &c, err, sizeof(err)) == -1 &&
	      strstr(err, "not supported") != NULL);
	free(buf);
	CHECK(ward_dice_claims_encode(1, h, 31, NULL, 0, &buf, &len, err, sizeof(err)) == 0);
	CHECK(ward_dice_claims_decode(buf, len, &c, err, sizeof(err)) == -1 &&
	      strstr(err, "expected 32") != NULL);
	free(buf);
	static const uint8_t nohash[] = { 0xa1, 0x61, 'x', 0x41, 0x00 };
	CHECK(ward_dice_claims_decode(nohash, sizeof(nohash), &c, err, sizeof(err)) == -1 &&
	      strstr(err, "no pubkey-hash") != NULL);
	static const uint8_t arr[] = { 0x80 };
	CHECK(ward_dice_claims_decode(arr, sizeof(arr), &c, err, sizeof(err)) == -1);
}

static void test_tagged(void)
{
	uint8_t *buf = NULL, *ev = NULL, *cl = NULL;
	size_t len = 0, evl = 0, cll = 0;
	uint64_t tag = 0;
	char err[256];

	CHECK(ward_dice_encode(60000, (const uint8_t *)"quote", 5, (const uint8_t *)"cl", 2, &buf,
			       &len, err, sizeof(err)) == 0);
	/* d9 ea60 82 45 "quote" 42 "cl" */
	CHECK(len == 3 + 1 + 6 + 3 && buf[0] == 0xd9 && buf[1] == 0xea && buf[2] == 0x60 && buf[3] == 0x82);
	CHECK(ward_dice_decode(buf, len, &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == 0);
	CHECK(tag == 60000 && evl == 5 && memcmp(ev, "quote", 5) == 0 && cll == 2);
	free(ev);
	free(cl);
	for (size_t n = 0; n < len; n++)
		CHECK(ward_dice_decode(buf, n, &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1);
	free(buf);
	/* untagged array, 3-element array, text instead of bytes */
	static const uint8_t untagged[] = { 0x82, 0x41, 0x00, 0x41, 0x00 };
	static const uint8_t three[] = { 0xd9, 0xea, 0x60, 0x83, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00 };
	static const uint8_t text[] = { 0xd9, 0xea, 0x60, 0x82, 0x61, 0x00, 0x41, 0x00 };
	CHECK(ward_dice_decode(untagged, sizeof(untagged), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1 &&
	      strstr(err, "not a CBOR tag") != NULL);
	CHECK(ward_dice_decode(three, sizeof(three), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1);
	CHECK(ward_dice_decode(text, sizeof(text), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1);
	/* collections whose declared count exceeds the input are refused
	 * before anything is allocated for them (an array of 2^31 items, a map
	 * of 2^28 pairs nested in a valid array, a 2-element array whose second
	 * element claims 1000 items): no giant allocation, a clear reason */
	static const uint8_t huge_array[] = { 0xd9, 0xea, 0x60, 0x9a, 0x80, 0x00, 0x00, 0x00, 0x41, 0x00 };
	static const uint8_t huge_map[] = { 0xd9, 0xea, 0x60, 0x82, 0x41, 0x00, 0xba, 0x10, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t nested[] = { 0xd9, 0xea, 0x60, 0x82, 0x41, 0x00, 0x99, 0x03, 0xe8, 0x00, 0x00 };
	CHECK(ward_dice_decode(huge_array, sizeof(huge_array), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1 &&
	      strstr(err, "an item count exceeds the input") != NULL);
	CHECK(ward_dice_decode(huge_map, sizeof(huge_map), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1 &&
	      strstr(err, "an item count exceeds the input") != NULL);
	CHECK(ward_dice_decode(nested, sizeof(nested), &tag, &ev, &evl, &cl, &cll, err, sizeof(err)) == -1 &&
	      strstr(err, "an item count exceeds the input") != NULL);
}

static void test_create_refuses_unbound(void)
{
	char dir[] = "/tmp/ward-dicetest-XXXXXX", err[256], path[128];
	struct ward_sim_platform *p = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t meas[32] = { 7 }, rd[64], ev[WARD_SIM_EVIDENCE_LEN], *claims = NULL;
	size_t cl = 0;
	X509 *x = NULL;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(ward_sim_platform_load(dir, &p, err, sizeof(err)) == 0);
	CHECK(ward_ratls_claims(k, NULL, 0, &claims, &cl, rd, err, sizeof(err)) == 0);
	/* evidence for other report data */
	memset(rd, 0, sizeof(rd));
	CHECK(ward_sim_evidence_create(p, meas, rd, 0, ev, err, sizeof(err)) == 0);
	CHECK(ward_ratls_cert_create(k, ev, sizeof(ev), claims, cl, "t", 1, &x, err, sizeof(err)) == -1 &&
	      strstr(err, "does not start with SHA-256 of the claims") != NULL && x == NULL);
	/* claims for key k, certificate for key k2 */
	free(claims);
	CHECK(ward_ratls_claims(k, NULL, 0, &claims, &cl, rd, err, sizeof(err)) == 0);
	CHECK(ward_sim_evidence_create(p, meas, rd, 0, ev, err, sizeof(err)) == 0);
	CHECK(ward_ratls_cert_create(k2, ev, sizeof(ev), claims, cl, "t", 1, &x, err, sizeof(err)) == -1 &&
	      strstr(err, "not the hash of this key") != NULL);
	/* the right key works, also Ed25519 certificates */
	CHECK(ward_ratls_cert_create(k, ev, sizeof(ev), claims, cl, "t", 1, &x, err, sizeof(err)) == 0);
	X509_free(x);
	x = NULL;
	CHECK(ward_ratls_cert_create_sim(k2, p, meas, NULL, 0, "t", 1, &x, err, sizeof(err)) == 0);
	if (x) {
		struct ward_ratls_cert *c = NULL;
		CHECK(ward_ratls_parse(x, &c, err, sizeof(err)) == 0);
		CHECK(c && c->n == 1 && c->ev[0].rule == WARD_RATLS_RULE_DICE_CLAIMS && c->self_signature_ok);
		ward_ratls_cert_free(c);
	}
	/* garbage evidence */
	CHECK(ward_ratls_cert_create(k, (const uint8_t *)"junk", 4, claims, cl, "t", 1, &x, err,
				     sizeof(err)) == -1);
	free(claims);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	ward_sim_platform_free(p);
	snprintf(path, sizeof(path), "%s/%s", dir, WARD_SIM_KEY_FILE);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_claims();
	test_tagged();
	test_create_refuses_unbound();
	return TEST_DONE();
}
