/* test_hw.c: the CAS's decision on real hardware evidence. Each recorded
 * sample of ../shared/testvectors (SGX, TDX quotes with their collateral,
 * SEV-SNP reports with their VCEK/VLEK) goes through the CAS's evidence
 * check (cas_evidence_check_at: the verification time of the sample, no
 * report-data binding, since a recorded quote cannot bind a fresh TLS key)
 * and the session decision (cas_session_check_evidence) with sessions
 * written in the session language. The binding is tested separately (a
 * hardware quote whose report data differs is refused before any signature
 * check) and end to end in tests/e2e/test_cas_hw.py. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cas/evidence_check.h"
#include "cas/hw_verify.h"
#include "cas/session.h"
#include "core/util.h"
#include "policy/policy.h"
#include "../test.h"

static const char *dir;
static char reason[2048], err[2048];

#define SGX_MRENCLAVE "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
#define SGX_MRSIGNER "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
#define TDX_QVL_MRTD "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
#define TDX_QVL_RTMR0 "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"
#define TDX_DCAPRS_MRTD "935be7742dd89c6a4df6dba8353d89041ae0f052beef993b1e7f4524d3bc57650df20e5582158352e1240b3f1fed55d8"
#define SNP_GOSEV_MEAS "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
#define SNP_MS_MEAS "5feee30d6d7e1a29f403d70a4198237ddfb13051a2d6976439487c609388ed7f98189887920ab2fa0096903a0c23fca1"
#define SNP_MS_HOST "4f4448c67f3c8dfc8de8a5e37125d807dadcc41f06cf23f615dbd52eec777d10"
#define SNP_VLEK_MEAS "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0"
#define SIM_HASH "9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e"
#define ZERO96 "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

/* verification times inside each sample's collateral window */
#define AT_SGX_QVL 1752919277   /* 2025-07-19T10:01:17Z */
#define AT_TDX_QVL 1752919234   /* 2025-07-19T10:00:34Z */
#define AT_TDX_DCAPRS 1739419232 /* 2025-02-13T04:00:32Z */
#define AT_2025 1748736000      /* 2025-06-01: the VLEK's validity */
#define AT_2026 1780272000      /* 2026-06-01: the Microsoft VCEKs' validity */

static char *path(const char *rel)
{
	static char p[4][1024];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, rel);
	return p[i];
}

static struct cas_hw *load(const char *const *col, size_t ncol, const char *const *certs, size_t ncerts,
			   const char *const *chains, size_t nchains)
{
	const char *c[8], *v[8], *k[8];
	for (size_t i = 0; i < ncol; i++)
		c[i] = strdup(path(col[i]));
	for (size_t i = 0; i < ncerts; i++)
		v[i] = strdup(path(certs[i]));
	for (size_t i = 0; i < nchains; i++)
		k[i] = strdup(path(chains[i]));
	struct cas_hw_paths p = { c, ncol, k, nchains, v, ncerts };
	struct cas_hw *hw = NULL;
	if (cas_hw_load(&p, &hw, err, sizeof(err)) != 0)
		hw = NULL; /* err says why */
	for (size_t i = 0; i < ncol; i++)
		free((void *)c[i]);
	for (size_t i = 0; i < ncerts; i++)
		free((void *)v[i]);
	for (size_t i = 0; i < nchains; i++)
		free((void *)k[i]);
	return hw;
}

static uint8_t *read_ev(const char *rel, size_t *n)
{
	uint8_t *raw = NULL, *out = NULL;
	size_t rn = 0;
	if (ward_read_file(path(rel), WARD_EVIDENCE_MAX_SIZE, &raw, &rn) != 0 ||
	    ward_evidence_decode(raw, rn, &out, n, err, sizeof(err)) != 0) {
		fprintf(stderr, "cannot read %s\n", rel);
		out = NULL;
	}
	free(raw);
	return out;
}

/* The evidence check at time at; 0, or -1 with err. */
static int check_at(const struct cas_hw *hw, const char *rel, time_t at, struct cas_evidence *ev)
{
	struct cas_verifier v = { .sim_platform = NULL, .hw = hw };
	size_t n = 0;
	uint8_t *b = read_ev(rel, &n);
	int r = b ? cas_evidence_check_at(&v, b, n, at, ev, err, sizeof(err)) : -1;
	free(b);
	return r;
}

/* A session in the language (YAML), through the parser to the canonical
 * JSON the CAS stores; service 'w' of session 's'. */
static json_t *session(const char *fmt, ...)
{
	char y[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(y, sizeof(y), fmt, ap);
	va_end(ap);
	char e[WARD_POLICY_ERR_MAX];
	struct ward_policy *p = ward_policy_parse_yaml(y, strlen(y), "s.yaml", e, sizeof(e));
	if (p == NULL) {
		fprintf(stderr, "session: %s\n%s", e, y);
		return NULL;
	}
	json_t *j = ward_policy_to_jansson(p, 0);
	ward_policy_free(p);
	return j;
}

#define HEAD "name: s\nversion: '0.3'\nservices:\n  - name: w\n"

/* 0 allowed, -1 denied (reason set) */
static int decide(json_t *doc, const struct cas_evidence *ev)
{
	reason[0] = 0;
	if (doc == NULL)
		return 99;
	int r = cas_session_check_evidence(doc, "s", "w", ev, reason, sizeof(reason));
	json_decref(doc);
	return r;
}

static int has(const char *s, const char *sub)
{
	if (strstr(s, sub) != NULL)
		return 1;
	fprintf(stderr, "  expected '%s'\n  in       '%s'\n", sub, s);
	return 0;
}

static struct cas_evidence ev; /* ~14 KB */

static void sgx(const struct cas_hw *hw)
{
	const char *tol = "security:\n  attestation:\n    tolerate: [insecure-configuration, software-hardening-needed]\n";
	const char *ign = "    ignore_advisories: [INTEL-SA-00289, INTEL-SA-00615]\n";

	if (check_at(hw, "sgx/qvl_sgx_quote.bin", AT_SGX_QVL, &ev) != 0) {
		fprintf(stderr, "sgx: %s\n", err);
		CHECK(0);
		return;
	}
	char m[65];
	ward_hex(ev.measurement, 32, m);
	CHECK(strcmp(ev.platform, "sgx") == 0 && ev.measurement_len == 32 && strcmp(m, SGX_MRENCLAVE) == 0);
	CHECK(ev.verified && ev.hw.ok && !ev.simulation && !ev.debug);
	CHECK(ev.hw.tcb_status == WARD_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED && ev.hw.nadvisories == 2);

	/* accepted: MRENCLAVE listed, both statuses tolerated, both advisories ignored */
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s%s", tol, ign), &ev) == 0);
	/* accepted: signer identity (mrenclaves lists only a simulation hash) */
	CHECK(decide(session(HEAD "    mrenclaves: [" SIM_HASH "]\n    sgx: {mrsigner: " SGX_MRSIGNER
				   ", isvprodid: 0, isvsvn: 0}\n%s%s", tol, ign), &ev) == 0);
	/* accepted: every advisory ignored with "*" */
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s    ignore_advisories: ['*']\n", tol), &ev) == 0);

	/* wrong mrenclave */
	CHECK(decide(session(HEAD "    mrenclaves: [" SIM_HASH "]\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: enclave hash " SGX_MRENCLAVE " not in session 's' service 'w' (expected one of: " SIM_HASH ")"));
	/* a 96-hex entry is not compared with an SGX MRENCLAVE */
	CHECK(decide(session(HEAD "    mrenclaves: [" ZERO96 "]\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, "(expected one of: none: the service lists no 64-hex-digit value in mrenclaves)"));
	/* wrong mrsigner */
	CHECK(decide(session(HEAD "    sgx: {mrsigner: " SIM_HASH ", isvprodid: 0}\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: SGX enclave " SGX_MRENCLAVE " of session 's' service 'w': mrsigner " SGX_MRSIGNER " does not match the policy"));
	/* wrong product id */
	CHECK(decide(session(HEAD "    sgx: {mrsigner: " SGX_MRSIGNER ", isvprodid: 7}\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, ": isvprodid 0 does not match the policy (7)"));
	/* isvsvn below the minimum */
	CHECK(decide(session(HEAD "    sgx: {mrsigner: " SGX_MRSIGNER ", isvprodid: 0, isvsvn: 3}\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, ": isvsvn 0 is below the policy minimum 3"));
	/* TCB status not tolerated: each part of a combined status is needed */
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\nsecurity:\n  attestation:\n"
				   "    tolerate: [software-hardening-needed]\n%s", ign), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: platform TCB status is ConfigurationAndSWHardeningNeeded (advisories: INTEL-SA-00289, INTEL-SA-00615) and session 's' does not tolerate 'insecure-configuration'"));
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n"), &ev) == -1 &&
	      has(reason, "does not tolerate 'insecure-configuration'"));
	/* an advisory not ignored */
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s    ignore_advisories: [INTEL-SA-00289]\n", tol), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: platform TCB status ConfigurationAndSWHardeningNeeded names advisory INTEL-SA-00615, which session 's' does not ignore"));
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s", tol), &ev) == -1 &&
	      has(reason, "names advisory INTEL-SA-00289"));
	/* 'simulation' tolerates nothing about hardware */
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\nsecurity:\n  attestation:\n    tolerate: [simulation]\n"), &ev) == -1);

	/* a debug enclave (no recorded sample has one with collateral: the
	 * verified result is marked debug, as the verifier does for ATTRIBUTES.DEBUG) */
	ev.hw.c.debug = ev.debug = 1;
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s%s", tol, ign), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: debug enclave not tolerated by session 's' (add 'debug-mode' to security.attestation.tolerate)"));
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\nsecurity:\n  attestation:\n    tolerate: [debug-mode, "
				   "insecure-configuration, software-hardening-needed]\n%s", ign), &ev) == 0);
	/* a result that did not verify is never accepted */
	ev.hw.c.debug = ev.debug = 0;
	ev.hw.ok = 0;
	CHECK(decide(session(HEAD "    mrenclaves: [" SGX_MRENCLAVE "]\n%s%s", tol, ign), &ev) == -1);

	/* collateral window: the same quote at another time fails verification */
	CHECK(check_at(hw, "sgx/qvl_sgx_quote.bin", AT_SGX_QVL + 40L * 86400, &ev) == -1 &&
	      has(err, "evidence invalid: SGX quote: ") && has(err, "not valid at the verification time"));
	CHECK(strcmp(ev.platform, "sgx") == 0 && !ev.verified);
	CHECK(check_at(hw, "sgx/qvl_sgx_quote.bin", 0, &ev) == -1 && has(err, "not valid at the verification time"));
	CHECK(check_at(hw, "sgx/qvl_sgx_quote.bin", AT_SGX_QVL - 60L * 86400, &ev) == -1 && has(err, "evidence invalid: SGX quote: "));
}

static void tdx(const struct cas_hw *hw)
{
	char m[97], rt[97];

	/* UpToDate: MRTD listed, no toleration needed */
	if (check_at(hw, "tdx/qvl_tdx_quote.bin", AT_TDX_QVL, &ev) != 0) {
		fprintf(stderr, "tdx: %s\n", err);
		CHECK(0);
		return;
	}
	ward_hex(ev.measurement, 48, m);
	CHECK(strcmp(ev.platform, "tdx") == 0 && ev.measurement_len == 48 && strcmp(m, TDX_QVL_MRTD) == 0);
	CHECK(ev.hw.tcb_status == WARD_TCB_UP_TO_DATE && !ev.debug);
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_QVL_MRTD "]\n"), &ev) == 0);
	CHECK(decide(session(HEAD "    tdx: {mrtd: " TDX_QVL_MRTD "}\n"), &ev) == 0);
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_QVL_MRTD "]\n    tdx: {rtmr: [" TDX_QVL_RTMR0 "]}\n"), &ev) == 0);
	/* wrong MRTD */
	CHECK(decide(session(HEAD "    mrenclaves: [" ZERO96 ", " SIM_HASH "]\n"), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: TD measurement (MRTD) " TDX_QVL_MRTD " not in session 's' service 'w' (expected one of: " ZERO96 ")"));
	CHECK(decide(session(HEAD "    tdx: {mrtd: " ZERO96 "}\n"), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: TD " TDX_QVL_MRTD " of session 's' service 'w': mrtd " TDX_QVL_MRTD " does not match the policy"));
	/* an RTMR pin that does not hold */
	ward_hex(ev.hw.c.td.rtmr[1], 48, rt);
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_QVL_MRTD "]\n    tdx: {rtmr: [null, " ZERO96 "]}\n"), &ev) == -1 &&
	      has(reason, ": rtmr1 ") && has(reason, rt) && has(reason, "does not match the policy"));
	/* a debug TD */
	ev.hw.c.debug = ev.debug = 1;
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_QVL_MRTD "]\n"), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: debug TD not tolerated by session 's'"));

	/* OutOfDate with three advisories */
	if (check_at(hw, "tdx/dcaprs_quote_tdx_00806f050000.dat", AT_TDX_DCAPRS, &ev) != 0) {
		fprintf(stderr, "tdx dcaprs: %s\n", err);
		CHECK(0);
		return;
	}
	CHECK(ev.hw.tcb_status == WARD_TCB_OUT_OF_DATE && ev.hw.nadvisories == 3);
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_DCAPRS_MRTD "]\n"), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: platform TCB status is OutOfDate (advisories: INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986) and session 's' does not tolerate 'outdated-tcb' (update the platform's microcode and firmware, or add 'outdated-tcb' to security.attestation.tolerate)"));
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_DCAPRS_MRTD "]\nsecurity:\n  attestation:\n    tolerate: [outdated-tcb]\n"
				   "    ignore_advisories: [INTEL-SA-00960, INTEL-SA-00986]\n"), &ev) == -1 &&
	      has(reason, "names advisory INTEL-SA-00982, which session 's' does not ignore"));
	CHECK(decide(session(HEAD "    mrenclaves: [" TDX_DCAPRS_MRTD "]\nsecurity:\n  attestation:\n    tolerate: [outdated-tcb]\n"
				   "    ignore_advisories: [INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986]\n"), &ev) == 0);
	/* collateral window */
	CHECK(check_at(hw, "tdx/dcaprs_quote_tdx_00806f050000.dat", AT_TDX_DCAPRS + 60L * 86400, &ev) == -1 &&
	      has(err, "evidence invalid: TDX quote: "));
}

static void snp(const struct cas_hw *hw)
{
	/* Milan, VCEK from the KDS chain */
	if (check_at(hw, "snp/gosev_attestation.bin", AT_2025, &ev) != 0) {
		fprintf(stderr, "snp: %s\n", err);
		CHECK(0);
		return;
	}
	char m[97];
	ward_hex(ev.measurement, 48, m);
	CHECK(strcmp(ev.platform, "sev-snp") == 0 && ev.measurement_len == 48 && strcmp(m, SNP_GOSEV_MEAS) == 0);
	/* this guest runs with POLICY.DEBUG set: a real debug sample */
	CHECK(ev.debug && ev.hw.c.debug);
	const char *dbg = "security:\n  attestation:\n    tolerate: [debug-mode]\n";
	CHECK(decide(session(HEAD "    mrenclaves: [" SNP_GOSEV_MEAS "]\n"), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: debug guest not tolerated by session 's' (add 'debug-mode' to security.attestation.tolerate)"));
	CHECK(decide(session(HEAD "    mrenclaves: [" SNP_GOSEV_MEAS "]\n%s", dbg), &ev) == 0);
	CHECK(decide(session(HEAD "    snp: {measurement: " SNP_GOSEV_MEAS "}\n%s", dbg), &ev) == 0);
	CHECK(decide(session(HEAD "    mrenclaves: [" ZERO96 "]\n%s", dbg), &ev) == -1 &&
	      has(reason, "attestation denied by CAS: SEV-SNP launch measurement " SNP_GOSEV_MEAS " not in session 's' service 'w' (expected one of: " ZERO96 ")"));
	CHECK(decide(session(HEAD "    snp: {measurement: " ZERO96 "}\n%s", dbg), &ev) == -1 &&
	      has(reason, ": measurement " SNP_GOSEV_MEAS " does not match the policy"));

	/* Milan with HOST_DATA (Microsoft), not debug */
	CHECK(check_at(hw, "snp/ms_milan_attestation_report.bin", AT_2026, &ev) == 0 && !ev.debug);
	CHECK(decide(session(HEAD "    mrenclaves: [" SNP_MS_MEAS "]\n    snp: {host_data: " SNP_MS_HOST "}\n"), &ev) == 0);
	CHECK(decide(session(HEAD "    mrenclaves: [" SNP_MS_MEAS "]\n    snp: {host_data: " SIM_HASH "}\n"), &ev) == -1 &&
	      has(reason, ": host_data " SNP_MS_HOST " does not match the policy"));
	/* Turin, Genoa, and a VLEK: each finds its certificate and chain */
	CHECK(check_at(hw, "snp/ms_turin_attestation_report.bin", AT_2026, &ev) == 0);
	CHECK(check_at(hw, "snp/trustee_azure_genoa_report.bin", AT_2026, &ev) == 0);
	CHECK(check_at(hw, "snp/trustee_vlek_report.bin", AT_2025, &ev) == 0 &&
	      decide(session(HEAD "    mrenclaves: [" SNP_VLEK_MEAS "]\n"), &ev) == 0);
	/* outside the VLEK's validity */
	CHECK(check_at(hw, "snp/trustee_vlek_report.bin", AT_2026, &ev) == -1 &&
	      has(err, "evidence invalid: SEV-SNP report: signing_cert: SEV-VLEK is not valid at the verification time"));
}

/* Material for another platform: a clear reason, no guessing. */
static void missing_material(void)
{
	static const char *const tdx_only[] = { "tdx/qvl_tdx_quote_collateral.json" };
	static const char *const virtee[] = { "snp/virtee_vcek_milan.der" };
	static const char *const milan[] = { "amd-pki/milan_ask_ark_asvk.pem" };
	struct cas_hw *hw = load(tdx_only, 1, virtee, 1, milan, 1);
	CHECK(hw != NULL);
	CHECK(check_at(hw, "sgx/qvl_sgx_quote.bin", AT_SGX_QVL, &ev) == -1 &&
	      has(err, "evidence invalid: SGX quote cannot be verified: no --collateral set is for its platform (FMSPC 00a067110000; 1 set loaded)"));
	CHECK(check_at(hw, "snp/gosev_attestation.bin", AT_2025, &ev) == -1 &&
	      has(err, "evidence invalid: SEV-SNP report cannot be verified: none of the 1 VCEKs loaded is for its chip (chip id 3ac3fe21e13fb099...)"));
	CHECK(check_at(hw, "snp/trustee_vlek_report.bin", AT_2025, &ev) == -1 &&
	      has(err, "this CAS has no VLEK (start ward-cas with --snp-vcek"));
	CHECK(check_at(NULL, "tdx/qvl_tdx_quote.bin", AT_TDX_QVL, &ev) == -1 &&
	      has(err, "TDX quote cannot be verified: this CAS has no Intel collateral (start ward-cas with --collateral"));
	cas_hw_free(hw);

	/* loading errors name the file */
	const char *const bad_col[] = { "sgx/expected.json" };
	CHECK(load(bad_col, 1, NULL, 0, NULL, 0) == NULL && has(err, "--collateral ") && has(err, "sgx/expected.json"));
	const char *const vcek_no_chain[] = { "snp/gosev_vcek.der" };
	CHECK(load(NULL, 0, vcek_no_chain, 1, NULL, 0) == NULL &&
	      has(err, "issued by 'SEV-Milan', which no --snp-chain holds"));
	const char *const not_cert[] = { "snp/expected.json" };
	CHECK(load(NULL, 0, not_cert, 1, milan, 1) == NULL && has(err, "not a certificate"));
}

/* The binding: a hardware quote whose report data is not the expected one
 * is refused before verification, with or without material. */
static void binding(const struct cas_hw *hw)
{
	struct cas_verifier v = { .hw = hw };
	uint8_t rd[64] = { 0 };
	size_t n = 0;
	uint8_t *b = read_ev("sgx/qvl_sgx_quote.bin", &n);
	CHECK(b != NULL);
	if (b == NULL)
		return;
	CHECK(cas_evidence_check(&v, b, n, rd, &ev, err, sizeof(err)) == CAS_EVIDENCE_UNBOUND &&
	      strcmp(ev.platform, "sgx") == 0 && !ev.verified);
	/* the quote's own report data passes the binding, then verification runs (at now: collateral expired) */
	memcpy(rd, ev.report_data, 64);
	CHECK(cas_evidence_check(&v, b, n, rd, &ev, err, sizeof(err)) == -1 && has(err, "evidence invalid: SGX quote: "));
	/* garbage */
	b[0] ^= 0xff;
	CHECK(cas_evidence_check(&v, b, n, rd, &ev, err, sizeof(err)) == -1 && has(err, "unknown evidence type"));
	free(b);
	b = read_ev("snp/gosev_attestation.bin", &n);
	memset(rd, 0, sizeof(rd));
	CHECK(b && cas_evidence_check(&v, b, n, rd, &ev, err, sizeof(err)) == CAS_EVIDENCE_UNBOUND &&
	      strcmp(ev.platform, "sev-snp") == 0);
	free(b);
}

int main(int argc, char **argv)
{
	struct stat st;
	if (argc < 2 || stat(argv[1], &st) != 0) {
		printf("skipped: shared test vectors not found\n");
		return 77;
	}
	dir = argv[1];
	static const char *const col[] = { "sgx/qvl_sgx_quote_collateral.json", "tdx/qvl_tdx_quote_collateral.json",
					   "tdx/derived/dcaprs_quote_tdx_00806f050000.collateral.json" };
	static const char *const certs[] = { "snp/gosev_vcek.der", "snp/ms_milan_vcek.pem", "snp/ms_turin_vcek.pem",
					     "snp/trustee_azure_vcek_genoa.pem", "snp/trustee_vlek.der" };
	static const char *const chains[] = { "amd-pki/milan_ask_ark_asvk.pem", "amd-pki/genoa_ask_ark_asvk.pem",
					      "amd-pki/turin_ask_ark_asvk.pem" };
	struct cas_hw *hw = load(col, 3, certs, 5, chains, 3);
	if (hw == NULL)
		fprintf(stderr, "cas_hw_load: %s\n", err);
	CHECK(hw != NULL);
	if (hw != NULL) {
		char d[160];
		cas_hw_describe(hw, d, sizeof(d));
		CHECK(strcmp(d, "3 Intel collateral sets, 5 SEV-SNP signing certificates, 3 AMD chains") == 0);
		sgx(hw);
		tdx(hw);
		snp(hw);
		binding(hw);
	}
	missing_material();
	cas_hw_free(hw);
	return TEST_DONE();
}
