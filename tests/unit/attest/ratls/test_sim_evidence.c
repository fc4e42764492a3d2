/* test_sim_evidence.c: roundtrip, every byte flip, truncation, trailing
 * bytes, wrong platform key, key file creation and permissions. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/ratls/sim_evidence.h"
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
