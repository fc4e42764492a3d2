/*
 * test_ratls_mutate.c: robustness of the RA-TLS reader on damaged input: a
 * deterministic pseudo-random series of byte flips, truncations and
 * insertions applied to real certificates (the shared test vectors, when
 * argv[1] names them) and to one Ward creates here. The reader must never
 * crash, and any evidence it accepts must still be internally consistent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "attest/ratls/ratls.h"
#include "core/util.h"
#include "../../test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate_all(const uint8_t *der, size_t len, int rounds)
{
	uint8_t *buf = malloc(len + 16);
	char err[300];

	for (int r = 0; r < rounds; r++) {
		size_t n = len;
		memcpy(buf, der, len);
		switch (next() % 3) {
		case 0:
			for (int k = 0; k < 1 + (int)(next() % 4); k++)
				buf[next() % n] ^= (uint8_t)(1 + next() % 255);
			break;
		case 1:
			n = next() % len;
			break;
		default: {
			size_t at = next() % n;
			memmove(buf + at + 1, buf + at, n - at);
			buf[at] = (uint8_t)next();
			n++;
		}
		}
		const unsigned char *p = buf;
		X509 *x = d2i_X509(NULL, &p, (long)n);
		if (x == NULL)
			continue;
		struct ward_ratls_cert *c = NULL;
		if (ward_ratls_parse(x, &c, err, sizeof(err)) != 0)
			continue;
		for (size_t i = 0; i < c->n; i++) {
			const struct ward_ratls_evidence *e = &c->ev[i];
			CHECK(e->parsed || e->parse_error[0] != 0);
			if (e->rule == WARD_RATLS_RULE_DICE_CLAIMS)
				CHECK(e->pubkey_hash_matches && e->report_data_binds_claims);
		}
		ward_ratls_cert_free(c);
	}
	free(buf);
}

static void run_file(const char *dir, const char *name)
{
	char path[512], err[300];
	X509 *x = NULL;
	unsigned char *der = NULL;
	int len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ward_ratls_load_file(path, &x, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		CHECK(0);
		return;
	}
	len = i2d_X509(x, &der);
	X509_free(x);
	CHECK(len > 0);
	if (len > 0)
		mutate_all(der, (size_t)len, 400);
	OPENSSL_free(der);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/ward-mutate-XXXXXX", err[300], kp[128];
	struct ward_sim_platform *p = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t meas[32] = { 1 };
	X509 *x = NULL;
	unsigned char *der = NULL;
	int len;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(ward_sim_platform_load(dir, &p, err, sizeof(err)) == 0);
	CHECK(ward_ratls_cert_create_sim(k, p, meas, (const uint8_t *)"nonce", 5, "m", 1, &x, err,
					 sizeof(err)) == 0);
	len = i2d_X509(x, &der);
	CHECK(len > 0);
	mutate_all(der, (size_t)len, 1500);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	ward_sim_platform_free(p);
	snprintf(kp, sizeof(kp), "%s/%s", dir, WARD_SIM_KEY_FILE);
	unlink(kp);
	rmdir(dir);

	if (argc > 1 && access(argv[1], R_OK) == 0) {
		static const char *files[] = {
			"ratls/gramine_ccc_interop_cert.pem", "ratls/ratstls_ccc_interop_cert.pem",
			"ratls/cosmian_mse_ratls.pem", "ratls/maa_sharedeus_signing_rsa2048.der",
			"ratls/integritee_ias_TEST8_PRODUCTION.der", "ratls/intel_sgx-ra-tls_ecdsa_sample.der",
		};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			run_file(argv[1], files[i]);
	}
	return TEST_DONE();
}
