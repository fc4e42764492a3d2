/* test_quote_parse.c: the bounded parsers on real samples: every prefix
 * of a quote/report is rejected without touching memory past it (also in
 * claims mode), bad lengths are rejected, claims mode reads the same claims
 * and relaxes only the rules it documents, EPID quote bodies are read, hex
 * input is decoded, the PCS inner-object cutter returns the exact bytes. */
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
		struct ward_evidence_claims c;
		err[0] = 0;
		CHECK(ward_evidence_parse_claims(cut, n, WARD_CLAIMS_ANY, &c, err, sizeof(err)) == -1);
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
		/* claims mode reads the very same claims from valid evidence */
		struct ward_evidence_claims c;
		CHECK(ward_evidence_parse_claims(b, len, WARD_CLAIMS_ANY, &c, err, sizeof(err)) == 0);
		CHECK(memcmp(&c, &ev->c, sizeof(c)) == 0);
		CHECK(ward_evidence_parse_claims(b, len, t == WARD_EVIDENCE_SNP ? WARD_CLAIMS_DCAP : WARD_CLAIMS_SNP,
						 &c, err, sizeof(err)) == -1);
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

/* What claims mode relaxes, and only that (evidence.h). */
static void claims_mode(void)
{
	size_t len;
	uint8_t *b = load("sgx/qvl_sgx_quote.bin", &len), *big;
	struct ward_evidence *ev = NULL;
	struct ward_evidence_claims c;
	char err[256];
	if (!b)
		return;
	/* ECDSA P-384 attestation key: a claim to show, not one Ward verifies */
	b[2] = 3;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "quote header: attestation key type 3 is not ECDSA P-256 (2)") == 0);
	CHECK(ward_evidence_parse_claims(b, len, WARD_CLAIMS_DCAP, &c, err, sizeof(err)) == 0);
	CHECK(c.type == WARD_EVIDENCE_SGX && c.quote.att_key_type == 3);
	b[2] = 4;
	CHECK(ward_evidence_parse_claims(b, len, WARD_CLAIMS_DCAP, &c, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "quote header: attestation key type 4 is not ECDSA P-256 (2) nor P-384 (3)") == 0);
	b[2] = 2;
	/* a malformed certification data length: refused, or read up to it */
	size_t auth = b[0x3F4] | b[0x3F5] << 8, off = 0x3F6 + auth + 2;
	b[off]++;
	CHECK(ward_evidence_parse(b, len, &ev, err, sizeof(err)) == -1);
	CHECK(ward_evidence_parse_claims(b, len, WARD_CLAIMS_DCAP, &c, err, sizeof(err)) == 0);
	CHECK(c.quote.cert_type == 5 && c.quote.total_size == len && c.quote.trailing == 0);
	b[off]--;
	/* 100 KiB of zero padding: over the verifier's 64 KiB, counted here */
	big = calloc(1, len + 100 * 1024);
	CHECK(big != NULL);
	if (big) {
		memcpy(big, b, len);
		CHECK(ward_evidence_parse(big, len + 100 * 1024, &ev, err, sizeof(err)) == -1);
		CHECK(ward_evidence_parse_claims(big, len + 100 * 1024, WARD_CLAIMS_ANY, &c, err, sizeof(err)) == 0);
		CHECK(c.quote.trailing == 100 * 1024 && c.quote.total_size == len);
		/* and the one bound that stays: the evidence size */
		free(big);
		big = calloc(1, WARD_EVIDENCE_MAX_SIZE + 1);
		memcpy(big, b, len);
		CHECK(ward_evidence_parse_claims(big, WARD_EVIDENCE_MAX_SIZE + 1, WARD_CLAIMS_DCAP, &c, err,
						 sizeof(err)) == -1);
		CHECK(strstr(err, "exceeds the maximum") != NULL);
		free(big);
	}
	/* EPID quote body: the header of an EPID quote, then the same report body */
	uint8_t epid[432];
	struct ward_epid_quote_body e;
	memcpy(epid, b, sizeof(epid));
	epid[0] = 2, epid[1] = 0;
	CHECK(ward_epid_body_parse(epid, sizeof(epid), &e, err, sizeof(err)) == 0);
	CHECK(e.version == 2 && memcmp(e.report.mrenclave, b + 48 + 0x40, 32) == 0);
	CHECK(memcmp(e.report.report_data, b + 48 + 0x140, 64) == 0 && e.qe_svn == (b[8] | b[9] << 8));
	CHECK(ward_epid_body_parse(epid, 431, &e, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "EPID quote body has 431 bytes, expected 432") == 0);
	epid[0] = 3;
	CHECK(ward_epid_body_parse(epid, sizeof(epid), &e, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "EPID quote version 3 is not supported (1 or 2)") == 0);
	free(b);
	/* an SNP report with bytes after it */
	b = load("snp/gosev_attestation.bin", &len);
	if (!b)
		return;
	big = calloc(1, len + 7);
	CHECK(big != NULL);
	if (big) {
		memcpy(big, b, len);
		CHECK(ward_evidence_parse(big, len + 7, &ev, err, sizeof(err)) == -1);
		CHECK(ward_evidence_parse_claims(big, len + 7, WARD_CLAIMS_ANY, &c, err, sizeof(err)) == 0);
		CHECK(c.type == WARD_EVIDENCE_SNP && c.snp.trailing == 7);
		free(big);
	}
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
	claims_mode();
	return TEST_DONE();
}
