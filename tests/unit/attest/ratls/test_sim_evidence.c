/* test_sim_evidence.c: roundtrip, every byte flip, truncation, trailing
 * bytes, wrong platform key, key file creation and permissions. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/ratls/sim_evidence.h"
#include "core/crypto.h"
#include "../../test.h"

static char dir_a[64], dir_b[64];

static void rm_dir(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, WARD_SIM_KEY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/%s", dir, WARD_SIM_KEY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/crlf/%s", dir, WARD_SIM_KEY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/crlf", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	struct ward_sim_platform *a = NULL, *a2 = NULL, *b = NULL, *c = NULL;
	uint8_t meas[32], rd[64], ev[WARD_SIM_EVIDENCE_LEN], fa[32], fa2[32], fb[32];
	uint8_t big[WARD_SIM_EVIDENCE_LEN + 1];
	struct ward_sim_claims cl;
	char err[256], path[256];
	struct stat st;

	strcpy(dir_a, "/tmp/ward-simtest-XXXXXX");
	strcpy(dir_b, "/tmp/ward-simtest-XXXXXX");
	CHECK(mkdtemp(dir_a) != NULL);
	CHECK(mkdtemp(dir_b) != NULL);

	/* Created on first use (in a directory that does not exist yet), 0600. */
	snprintf(path, sizeof(path), "%s/sub", dir_a);
	CHECK(ward_sim_platform_load(path, &a, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/sub/%s", dir_a, WARD_SIM_KEY_FILE);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/sub", dir_a);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* Loaded again: same key. */
	CHECK(ward_sim_platform_load(path, &a2, err, sizeof(err)) == 0);
	ward_sim_platform_fingerprint(a, fa);
	ward_sim_platform_fingerprint(a2, fa2);
	CHECK(memcmp(fa, fa2, 32) == 0);
	CHECK(ward_sim_platform_load(dir_b, &b, err, sizeof(err)) == 0);
	ward_sim_platform_fingerprint(b, fb);
	CHECK(memcmp(fa, fb, 32) != 0);

	/* Default directory follows WARD_SIM_PLATFORM_DIR. */
	setenv("WARD_SIM_PLATFORM_DIR", dir_b, 1);
	CHECK(ward_sim_platform_load(NULL, &c, err, sizeof(err)) == 0);
	if (c) {
		uint8_t fc[32];
		ward_sim_platform_fingerprint(c, fc);
		CHECK(memcmp(fc, fb, 32) == 0);
	}
	unsetenv("WARD_SIM_PLATFORM_DIR");
	setenv("XDG_DATA_HOME", "/xdg", 1);
	CHECK(ward_sim_platform_dir(path, sizeof(path), err, sizeof(err)) == 0 &&
	      strcmp(path, "/xdg/ward") == 0);
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/u", 1);
	CHECK(ward_sim_platform_dir(path, sizeof(path), err, sizeof(err)) == 0 &&
	      strcmp(path, "/home/u/.local/share/ward") == 0);

	/* Roundtrip. */
	for (int i = 0; i < 32; i++)
		meas[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xa0 ^ i);
	CHECK(ward_sim_evidence_create(a, meas, rd, 1700000000, ev, err, sizeof(err)) == 0);
	CHECK(ward_sim_evidence_is(ev, sizeof(ev)));
	memset(&cl, 0, sizeof(cl));
	CHECK(ward_sim_evidence_verify(ev, sizeof(ev), NULL, &cl, err, sizeof(err)) == 0);
	CHECK(memcmp(cl.measurement, meas, 32) == 0);
	CHECK(memcmp(cl.report_data, rd, 64) == 0);
	CHECK(memcmp(cl.platform_fpr, fa, 32) == 0);
	CHECK(cl.timestamp == 1700000000);
	CHECK(ward_sim_evidence_verify(ev, sizeof(ev), fa, &cl, err, sizeof(err)) == 0);

	/* Wrong platform key (pinned b, signed by a). */
	memset(&cl, 0x55, sizeof(cl));
	CHECK(ward_sim_evidence_verify(ev, sizeof(ev), fb, &cl, err, sizeof(err)) == -1);
	CHECK(strstr(err, "another machine") != NULL);
	CHECK(cl.timestamp == 0x5555555555555555ULL); /* untouched */

	/* Every single byte flip is refused (each bit position of each byte). */
	int accepted = 0;
	for (size_t i = 0; i < sizeof(ev); i++) {
		for (int bit = 0; bit < 8; bit++) {
			ev[i] ^= (uint8_t)(1 << bit);
			if (ward_sim_evidence_verify(ev, sizeof(ev), NULL, &cl, err, sizeof(err)) == 0)
				accepted++;
			ev[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK(accepted == 0);
	/* Replacing the embedded key by b's key is refused, pinned or not. */
	{
		uint8_t t[WARD_SIM_EVIDENCE_LEN];
		memcpy(t, ev, sizeof(t));
		ward_sim_platform_pubkey(b, t + 124);
		CHECK(ward_sim_evidence_verify(t, sizeof(t), NULL, &cl, err, sizeof(err)) == -1);
		CHECK(strstr(err, "signature does not verify") != NULL);
	}

	/* Truncation at every length, and trailing bytes. */
	int trunc_ok = 0;
	for (size_t n = 0; n < sizeof(ev); n++)
		if (ward_sim_evidence_verify(ev, n, NULL, &cl, err, sizeof(err)) == 0)
			trunc_ok++;
	CHECK(trunc_ok == 0);
	CHECK(ward_sim_evidence_verify(ev, 100, NULL, &cl, err, sizeof(err)) == -1 &&
	      strstr(err, "truncated") != NULL);
	memcpy(big, ev, sizeof(ev));
	big[sizeof(ev)] = 0;
	CHECK(ward_sim_evidence_verify(big, sizeof(big), NULL, &cl, err, sizeof(err)) == -1 &&
	      strstr(err, "trailing") != NULL);
	CHECK(ward_sim_evidence_verify(NULL, 0, NULL, &cl, err, sizeof(err)) == -1);

	/* A key file readable by others is refused. */
	snprintf(path, sizeof(path), "%s/%s", dir_b, WARD_SIM_KEY_FILE);
	CHECK(chmod(path, 0644) == 0);
	ward_sim_platform_free(c);
	c = NULL;
	CHECK(ward_sim_platform_load(dir_b, &c, err, sizeof(err)) == -1 && c == NULL);
	CHECK(strstr(err, "too open") != NULL);
	/* The key file as written is read without OpenSSL's decoders; the
	 * fingerprint is still SHA-256 of i2d_PUBKEY of the key the generic PEM
	 * decoder reads, and the same file with CRLF line ends (the generic
	 * path) loads to the same key. A P-256 key in the same PEM form is refused. */
	{
		char pa[300], pc[300], line[128];
		snprintf(pa, sizeof(pa), "%s/sub/%s", dir_a, WARD_SIM_KEY_FILE);
		FILE *f = fopen(pa, "r");
		EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
		unsigned char *der = NULL;
		int dl = k ? i2d_PUBKEY(k, &der) : -1;
		uint8_t h[32], fx[32];
		CHECK(dl > 0 && ward_sha256(der, (size_t)dl, h) == 0 && memcmp(h, fa, 32) == 0);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
		if (f)
			rewind(f);
		snprintf(pc, sizeof(pc), "%s/crlf", dir_a);
		CHECK(mkdir(pc, 0700) == 0);
		snprintf(pc, sizeof(pc), "%s/crlf/%s", dir_a, WARD_SIM_KEY_FILE);
		FILE *g = fopen(pc, "w");
		while (f && g && fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = 0;
			fprintf(g, "%s\r\n", line);
		}
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		CHECK(chmod(pc, 0600) == 0);
		struct ward_sim_platform *x = NULL;
		snprintf(pc, sizeof(pc), "%s/crlf", dir_a);
		CHECK(ward_sim_platform_load(pc, &x, err, sizeof(err)) == 0 && x != NULL);
		if (x) {
			ward_sim_platform_fingerprint(x, fx);
			CHECK(memcmp(fx, fa, 32) == 0);
		}
		ward_sim_platform_free(x);
		x = NULL;
		EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		snprintf(pc, sizeof(pc), "%s/crlf/%s", dir_a, WARD_SIM_KEY_FILE);
		g = fopen(pc, "w");
		CHECK(ec != NULL && g != NULL && PEM_write_PrivateKey(g, ec, NULL, NULL, 0, NULL, NULL) == 1);
		if (g)
			fclose(g);
		EVP_PKEY_free(ec);
		snprintf(pc, sizeof(pc), "%s/crlf", dir_a);
		CHECK(ward_sim_platform_load(pc, &x, err, sizeof(err)) == -1 && x == NULL);
		CHECK(strstr(err, "not an Ed25519 private key") != NULL);
	}
	/* A garbage key file is refused. */
	{
		FILE *f = fopen(path, "w");
		CHECK(f != NULL);
		if (f) {
			fputs("not a key\n", f);
			fclose(f);
		}
		CHECK(chmod(path, 0600) == 0);
		CHECK(ward_sim_platform_load(dir_b, &c, err, sizeof(err)) == -1);
		CHECK(strstr(err, "not an Ed25519 private key") != NULL);
	}

	ward_sim_platform_free(a);
	ward_sim_platform_free(a2);
	ward_sim_platform_free(b);
	ward_sim_platform_free(c);
	rm_dir(dir_a);
	rm_dir(dir_b);
	return TEST_DONE();
}
