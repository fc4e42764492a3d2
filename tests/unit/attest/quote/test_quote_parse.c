/* test_quote_parse.c: the bounded parsers on real samples: every prefix
 * of a quote/report is rejected without touching memory past it, bad
 * lengths are rejected, hex input is decoded, the PCS inner-object cutter
 * returns the exact bytes. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/quote/collateral.h"
#include "attest/quote/evidence.h"
#include "core/util.h"
#include "../../test.h"

static const char *dir;

static uint8_t *load(const char *rel, size_t *len)
{
	char p[4096];
	uint8_t *raw, *bin;
	size_t rl;
	char err[256];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (ward_read_file(p, 1 << 22, &raw, &rl) != 0)
		return NULL;
	if (ward_evidence_decode(raw, rl, &bin, len, err, sizeof(err)) != 0) {
		free(raw);
		return NULL;
	}
	free(raw);
	return bin;
}

static void every_prefix_fails(const char *rel, size_t used)
{
	size_t len;
	uint8_t *b = load(rel, &len);
	CHECK(b != NULL);
	if (!b)
		return;
	for (size_t n = 0; n < used; n++) {
		/* a fresh exact-size copy so ASan catches any over-read */
		uint8_t *cut = malloc(n ? n : 1);
		struct ward_evidence *ev = (struct ward_evidence *)0x1;
		char err[256] = "";
		memcpy(cut, b, n);
		int rc = ward_evidence_parse(cut, n, &ev, err, sizeof(err));
		CHECK(rc == -1);
		CHECK(ev == (struct ward_evidence *)0x1); /* untouched on failure */
		CHECK(err[0] != 0);
		free(cut);
	}
	free(b);
}

static void parses(const char *rel, enum ward_evidence_type t, size_t trailing)
{
	size_t len;
	uint8_t *b = load(rel, &len);
	struct ward_evidence *ev = NULL;
	char err[256];
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == 0);
	if (ev) {
		CHECK(ev->c.type == t);
		if (t != WARD_EVIDENCE_SNP)
			CHECK(ev->c.quote.trailing == trailing);
		struct ward_pck_info pck;
		if (t != WARD_EVIDENCE_SNP)
			CHECK(ward_evidence_pck_info(ev, &pck, err, sizeof(err)) == 0);
	}
	ward_evidence_free(ev);
	free(b);
}

static void bad_lengths(void)
{
	size_t len;
	uint8_t *b = load("sgx/qvl_sgx_quote.bin", &len);
	struct ward_evidence *ev = NULL;
	char err[256];
	if (!b)
		return;
	/* signature data length larger than the maximum */
	b[0x1B0] = 0xff; b[0x1B1] = 0xff; b[0x1B2] = 0xff; b[0x1B3] = 0x7f;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(strstr(err, "exceeds the maximum") != NULL);
	free(b);
	b = load("sgx/qvl_sgx_quote.bin", &len);
	/* certification data length one byte too long */
	size_t auth = b[0x3F4] | b[0x3F5] << 8, off = 0x3F6 + auth + 2;
	b[off]++;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(strstr(err, "certification data") != NULL);
	free(b);
	b = load("tdx/qvl_tdx_quote.bin", &len);
	/* outer type 6 replaced */
	b[0x2FC] = 5;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(strstr(err, "expected 6") != NULL);
	free(b);
	b = load("snp/gosev_attestation.bin", &len);
	b[0x34] = 2; /* signature algorithm */
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(strstr(err, "signature algorithm 2") != NULL);
	free(b);
}

static void hex_decode(void)
{
	uint8_t *o;
	size_t n;
	char err[128];
	CHECK(ward_evidence_decode((const uint8_t *)" 0xA0b1\n", 8, &o, &n, err, sizeof(err)) == 0);
	CHECK(n == 2 && o[0] == 0xa0 && o[1] == 0xb1);
	free(o);
	CHECK(ward_evidence_decode((const uint8_t *)"abc", 3, &o, &n, err, sizeof(err)) == -1);
	CHECK(ward_evidence_decode((const uint8_t *)"\x03\x00", 2, &o, &n, err, sizeof(err)) == 0);
	CHECK(n == 2 && o[0] == 3);
	free(o);
}

static void inner_object(void)
{
	const char *b = "{\"x\":\"{\\\"tcbInfo\\\":{}\",\"tcbInfo\":{\"a\":\"}\",\"b\":[{}]},\"signature\":\"00\"}";
	size_t s, e;
	CHECK(ward_json_inner_object(b, strlen(b), "tcbInfo", &s, &e) == 0);
	CHECK(e - s == strlen("{\"a\":\"}\",\"b\":[{}]}") && memcmp(b + s, "{\"a\":\"}\",\"b\":[{}]}", e - s) == 0);
	CHECK(ward_json_inner_object(b, strlen(b), "missing", &s, &e) == -1);
	CHECK(ward_json_inner_object("{\"tcbInfo\":{\"a\":1", 17, "tcbInfo", &s, &e) == -1);
}

int main(int argc, char **argv)
{
	struct stat st;
	hex_decode();
	inner_object();
	if (argc < 2 || stat(argv[1], &st) != 0) {
		printf("skipped: shared test vectors not found\n");
		return test_failures ? 1 : 77;
	}
	dir = argv[1];
	parses("sgx/qvl_sgx_quote.bin", WARD_EVIDENCE_SGX, 0);
	parses("sgx/automata_sample_quote1.hex", WARD_EVIDENCE_SGX, 0);
	parses("tdx/gotdx_tdx_prod_quote_SPR_E4.dat", WARD_EVIDENCE_TDX, 39);
	parses("tdx/dcaprs_quote_tdx_00806f050000.dat", WARD_EVIDENCE_TDX, 3065);
	parses("tdx/gotdx_quote_v5_sample.dat", WARD_EVIDENCE_TDX, 0);
	parses("snp/ms_turin_attestation_report.bin", WARD_EVIDENCE_SNP, 0);
	every_prefix_fails("sgx/qvl_sgx_quote.bin", 4600);
	every_prefix_fails("tdx/gotdx_quote_v5_sample.dat", 5006);
	every_prefix_fails("tdx/qvl_tdx_quote.bin", 5006 - 70);
	every_prefix_fails("snp/gosev_attestation.bin", 1184);
	bad_lengths();
	return TEST_DONE();
}
