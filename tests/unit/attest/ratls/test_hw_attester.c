/*
 * test_hw_attester.c: the hardware attesters against fake trees.
 *
 * The fake configfs-tsm is a real directory tree plus a hook that does what
 * the kernel does on mkdir (create the entry's attributes) and on writes
 * (bump generation; on inblob, generate outblob from a template quote with
 * the requested report data). The fake Gramine /dev/attestation is plain
 * files, the quote pre-filled. Templates are real evidence from the shared
 * test vectors when argv[1] names them, else synthetic layouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "attest/ratls/hw_attester.h"
#include "core/util.h"
#include "../../test.h"

struct fake {
	const char *provider;
	const uint8_t *tmpl;
	size_t tmpl_len;
	size_t rd_off;     /* where report data sits in the template */
	int patch;         /* put the requested report data into outblob */
	int extra_writer;  /* another process writes inblob too */
	int aux;           /* create an auxblob */
};

static void put(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(d, 1, n, f) == n);
		fclose(f);
	}
}

static void bump(const char *entry)
{
	char p[512], buf[32] = "0";
	snprintf(p, sizeof(p), "%s/generation", entry);
	FILE *f = fopen(p, "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			strcpy(buf, "0");
		fclose(f);
	}
	snprintf(buf, sizeof(buf), "%ld\n", atol(buf) + 1);
	put(p, buf, strlen(buf));
}

static void fake_hook(enum ward_hw_event ev, const char *path, void *arg)
{
	struct fake *fk = arg;
	char p[600], entry[512];
	if (ev == WARD_HW_EV_MKDIR) {
		snprintf(p, sizeof(p), "%s/generation", path);
		put(p, "0\n", 2);
		snprintf(p, sizeof(p), "%s/provider", path);
		put(p, fk->provider, strlen(fk->provider));
		snprintf(p, sizeof(p), "%s/inblob", path);
		put(p, "", 0);
		snprintf(p, sizeof(p), "%s/outblob", path);
		put(p, "", 0);
		snprintf(p, sizeof(p), "%s/privlevel", path);
		put(p, "", 0);
		if (fk->aux) {
			snprintf(p, sizeof(p), "%s/auxblob", path);
			put(p, "certtable", 9);
		}
		return;
	}
	if (ev == WARD_HW_EV_RMDIR) { /* configfs drops the attributes itself */
		static const char *files[] = { "generation", "provider", "inblob", "outblob",
					       "privlevel", "auxblob" };
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", path, files[i]);
			unlink(p);
		}
		return;
	}
	ward_strlcpy(entry, path, sizeof(entry));
	char *slash = strrchr(entry, '/');
	*slash = 0;
	bump(entry);
	if (strcmp(slash + 1, "inblob") == 0) {
		uint8_t rd[64], *out = malloc(fk->tmpl_len);
		FILE *f = fopen(path, "rb");
		CHECK(f && fread(rd, 1, 64, f) == 64);
		if (f)
			fclose(f);
		memcpy(out, fk->tmpl, fk->tmpl_len);
		if (fk->patch && fk->tmpl_len >= fk->rd_off + 64)
			memcpy(out + fk->rd_off, rd, 64);
		snprintf(p, sizeof(p), "%s/outblob", entry);
		put(p, out, fk->tmpl_len);
		free(out);
		if (fk->extra_writer)
			bump(entry);
	}
}

static int dir_empty(const char *d)
{
	DIR *dir = opendir(d);
	struct dirent *e;
	int n = 0;
	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dir);
	return n == 0;
}

static uint8_t *load(const char *dir, const char *name, size_t *len)
{
	char p[512];
	uint8_t *b = NULL;
	if (dir == NULL)
		return NULL;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (ward_read_file(p, 1 << 20, &b, len) != 0)
		return NULL;
	return b;
}

static uint8_t tdx_synth[48 + 584 + 4], snp_synth[1184], sgx_synth[48 + 384 + 4];

static void synth(void)
{
	tdx_synth[0] = 4, tdx_synth[2] = 2, tdx_synth[4] = 0x81;
	memset(tdx_synth + 48 + 0x208, 0xee, 64);
	snp_synth[0] = 2, snp_synth[0x34] = 1;
	sgx_synth[0] = 3, sgx_synth[2] = 2;
	memset(sgx_synth + 48 + 0x140, 0x5a, 64);
}

static char root[] = "/tmp/ward-hwtest-XXXXXX";

static void mkdirs(const char *rel)
{
	char p[512], *s;
	snprintf(p, sizeof(p), "%s%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void test_tsm(const uint8_t *tdx, size_t tdxl, const uint8_t *snp, size_t snpl)
{
	struct fake fk = { .provider = "tdx_guest\n", .tmpl = tdx, .tmpl_len = tdxl,
			   .rd_off = 48 + 0x208, .patch = 1 };
	struct ward_hw_opts o = { .root = root, .privlevel = -1, .hook = fake_hook, .hook_arg = &fk };
	struct ward_hw_evidence ev;
	enum ward_hw_source src;
	uint8_t rd[64];
	char err[400], rep[512];

	snprintf(rep, sizeof(rep), "%s/sys/kernel/config/tsm/report", root);
	/* no interface yet */
	CHECK(ward_hw_detect(&o, &src, err, sizeof(err)) == -1 && strstr(err, "use WARD_MODE=sim") != NULL);
	mkdirs("/sys/kernel/config/tsm/report");
	CHECK(ward_hw_detect(&o, &src, err, sizeof(err)) == 0 && src == WARD_HW_TSM);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(i * 3);

	/* TDX */
	memset(&ev, 0, sizeof(ev));
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == 0);
	if (test_failures)
		fprintf(stderr, "%s\n", err);
	CHECK(ev.source == WARD_HW_TSM && strcmp(ev.provider, "tdx_guest") == 0);
	CHECK(ev.fields.kind == WARD_QF_TDX && memcmp(ev.fields.report_data, rd, 64) == 0);
	CHECK(ev.len == tdxl && ev.auxblob == NULL);
	ward_hw_evidence_free(&ev);
	CHECK(dir_empty(rep));

	/* SEV-SNP with privlevel and auxblob */
	fk = (struct fake){ .provider = "sev_guest", .tmpl = snp, .tmpl_len = snpl, .rd_off = 0x50,
			    .patch = 1, .aux = 1 };
	o.privlevel = 0;
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == 0);
	CHECK(strcmp(ev.provider, "sev_guest") == 0 && ev.fields.kind == WARD_QF_SNP);
	CHECK(ev.auxlen == 9 && memcmp(ev.auxblob, "certtable", 9) == 0);
	ward_hw_evidence_free(&ev);
	CHECK(dir_empty(rep));
	o.privlevel = -1;

	/* The TEE answered for other report data. */
	fk.patch = 0;
	memset(&ev, 0x77, sizeof(ev));
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 && strstr(err, "other report data") != NULL);
	CHECK(ev.len == 0x7777777777777777ULL); /* untouched */
	CHECK(dir_empty(rep));
	fk.patch = 1;

	/* Another writer bumped generation between our write and read. */
	fk.extra_writer = 1;
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 &&
	      strstr(err, "another process wrote to it") != NULL);
	CHECK(dir_empty(rep));
	fk.extra_writer = 0;

	/* Unknown provider; provider/outblob mismatch; empty outblob. */
	fk.provider = "arm_cca_guest";
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 && strstr(err, "not supported") != NULL);
	fk.provider = "tdx_guest";
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 &&
	      strstr(err, "outblob of provider tdx_guest is not a TDX quote") != NULL);
	/* a truncated quote: refused with the evidence parser's reason */
	fk.tmpl_len = 10;
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 &&
	      strcmp(err, "outblob of provider tdx_guest is not a TDX quote: quote header: truncated (10 bytes, need 48)") == 0);
	fk.provider = "sev_guest";
	fk.tmpl = snp, fk.tmpl_len = snpl - 1;
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 &&
	      strcmp(err, "outblob of provider sev_guest is not an SEV-SNP report: SEV-SNP report: truncated (1183 bytes, need 1184)") == 0);
	CHECK(dir_empty(rep));
}

static void test_gramine(const uint8_t *sgx, size_t sgxl)
{
	struct ward_hw_opts o = { .root = root, .privlevel = -1 };
	struct ward_hw_evidence ev;
	enum ward_hw_source src;
	char p[512], err[400];
	uint8_t rd[64], *got = NULL;
	size_t gl = 0;

	mkdirs("/dev/attestation");
	snprintf(p, sizeof(p), "%s/dev/attestation/attestation_type", root);
	put(p, "dcap", 4);
	snprintf(p, sizeof(p), "%s/dev/attestation/user_report_data", root);
	put(p, "", 0);
	snprintf(p, sizeof(p), "%s/dev/attestation/quote", root);
	put(p, sgx, sgxl);
	/* Gramine wins over configfs-tsm (both exist in this tree). */
	CHECK(ward_hw_detect(&o, &src, err, sizeof(err)) == 0 && src == WARD_HW_GRAMINE_SGX);
	memcpy(rd, sgx + 48 + 0x140, 64);
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == 0);
	CHECK(ev.source == WARD_HW_GRAMINE_SGX && ev.fields.kind == WARD_QF_SGX && ev.len == sgxl);
	ward_hw_evidence_free(&ev);
	snprintf(p, sizeof(p), "%s/dev/attestation/user_report_data", root);
	CHECK(ward_read_file(p, 128, &got, &gl) == 0 && gl == 64 && memcmp(got, rd, 64) == 0);
	free(got);
	rd[0] ^= 1;
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 && strstr(err, "other report data") != NULL);
	snprintf(p, sizeof(p), "%s/dev/attestation/attestation_type", root);
	put(p, "none\n", 5);
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 &&
	      strstr(err, "sgx.remote_attestation = \"dcap\"") != NULL);
	put(p, "dcap", 4);
	snprintf(p, sizeof(p), "%s/dev/attestation/quote", root);
	put(p, tdx_synth, sizeof(tdx_synth));
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 && strstr(err, "not an SGX quote") != NULL);
	unlink(p);
	CHECK(ward_hw_attest(&o, rd, &ev, err, sizeof(err)) == -1 && strstr(err, "cannot read the SGX quote") != NULL);
}

int main(int argc, char **argv)
{
	const char *tv = argc > 1 ? argv[1] : NULL;
	uint8_t *tdx, *snp, *sgx;
	size_t tdxl = 0, snpl = 0, sgxl = 0;
	char cmd[600];

	synth();
	CHECK(mkdtemp(root) != NULL);
	/* Synthetic layouts always; the real samples too when present. */
	test_tsm(tdx_synth, sizeof(tdx_synth), snp_synth, sizeof(snp_synth));
	test_gramine(sgx_synth, sizeof(sgx_synth));
	tdx = load(tv, "tdx/dcaprs_quote_tdx_00806f050000.dat", &tdxl);
	snp = load(tv, "snp/ms_milan_attestation_report.bin", &snpl);
	sgx = load(tv, "sgx/qvl_sgx_quote.bin", &sgxl);
	if (tdx && snp && sgx) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		CHECK(system(cmd) == 0);
		CHECK(mkdir(root, 0700) == 0);
		test_tsm(tdx, tdxl, snp, snpl);
		test_gramine(sgx, sgxl);
		printf("real samples: TDX %zu bytes, SNP %zu bytes, SGX %zu bytes\n", tdxl, snpl, sgxl);
	} else
		printf("real samples not found (argument: test vector directory); synthetic only\n");
	free(tdx);
	free(snp);
	free(sgx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
	return TEST_DONE();
}
