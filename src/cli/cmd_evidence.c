/* cmd_evidence.c: `ward evidence show|verify`: SGX, TDX and SEV-SNP
 * evidence. Parsing and verification live in src/attest/quote/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/quote/evidence.h"
#include "cli/commands.h"
#include "attest/quote/print.h"
#include "core/log.h"
#include "core/util.h"

static void help(void)
{
	printf("usage: ward evidence show FILE [--json]\n"
	       "       ward evidence verify FILE --collateral DIR|FILE.json [--at TIME] [--root ROOT.der] [--json]\n"
	       "       ward evidence verify FILE --no-collateral [--at TIME] [--root ROOT.der] [--json]\n"
	       "       ward evidence verify REPORT --vcek CERT | --vlek CERT --chain ASK_ARK.pem [--at TIME] [--json]\n\n"
	       "Reads hardware attestation evidence: Intel SGX ECDSA quotes (v3), Intel TDX\n"
	       "quotes (v4, v5) and AMD SEV-SNP attestation reports (v2, v3, v5). FILE is\n"
	       "binary or hex text (detected).\n\n"
	       "show      prints every field (measurements, report data, debug flag, PCK\n"
	       "          certificate); nothing is verified.\n"
	       "verify    checks the evidence against its trust chain and prints each check.\n"
	       "          Exit status 0 only when every check passes; otherwise one line names\n"
	       "          the failed check. The TCB status (UpToDate, SWHardeningNeeded, ...,\n"
	       "          OutOfDate) is reported for a policy to judge; Revoked and 'no\n"
	       "          matching TCB level' fail.\n\n"
	       "Options:\n"
	       "  --json               machine-readable output (one JSON object)\n"
	       "  --collateral PATH    SGX/TDX collateral: a directory of Intel PCS files (TCB\n"
	       "                       info and QE identity JSON, root CA and PCK CRLs in DER or\n"
	       "                       PEM, the TCB signing chain PEM) or a dcap-qvl collateral\n"
	       "                       JSON file\n"
	       "  --no-collateral      SGX/TDX: verify only the quote, QE report and PCK chain\n"
	       "                       (no CRLs, no TCB status)\n"
	       "  --at TIME            verification time, RFC 3339 UTC (2025-08-20T00:00:00Z);\n"
	       "                       default: now\n"
	       "  --root FILE          trust this Intel SGX Root CA (DER or PEM) instead of the\n"
	       "                       pinned one\n"
	       "  --vcek FILE          SEV-SNP: the VCEK certificate (DER or PEM)\n"
	       "  --vlek FILE          SEV-SNP: the VLEK certificate (DER or PEM)\n"
	       "  --chain FILE         SEV-SNP: AMD ASK/ASVK and ARK (PEM, as served by the KDS)\n"
	       "  --ark FILE           SEV-SNP: trust this ARK instead of the pinned AMD ARKs\n"
	       "  -h, --help           show this help\n\n"
	       "The formats, the trust chain and every check are described in docs/evidence.md.\n");
}

static int show(int argc, char **argv)
{
	const char *file = NULL;
	int json = 0;
	struct ward_evidence *ev = NULL;
	struct ward_pck_info pck;
	char err[256], perr[256];

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1]) {
			ward_error("unknown option '%s' for 'ward evidence show'; see 'ward evidence --help'", argv[i]);
			return 2;
		} else if (!file)
			file = argv[i];
		else {
			ward_error("'ward evidence show' takes one file, got '%s' too", argv[i]);
			return 2;
		}
	}
	if (!file) {
		ward_error("no evidence file given; usage: ward evidence show FILE [--json]");
		return 2;
	}
	if (ward_evidence_load(file, &ev, err, sizeof(err)) != 0) {
		ward_error("cannot read evidence %s: %s", file, err);
		return 1;
	}
	memset(&pck, 0, sizeof(pck));
	perr[0] = 0;
	if (ev->c.type != WARD_EVIDENCE_SNP && ward_evidence_pck_info(ev, &pck, perr, sizeof(perr)) != 0)
		memset(&pck, 0, sizeof(pck));
	if (json) {
		json_t *o = ward_evidence_to_json(ev, &pck, NULL);
		if (perr[0])
			json_object_set_new(json_object_get(o, "quote"), "pck_error", json_string(perr));
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!s) {
			ward_error("cannot render evidence %s as JSON: out of memory", file);
			ward_evidence_free(ev);
			return 1;
		}
		printf("%s\n", s);
		free(s);
	} else {
		ward_evidence_print(stdout, ev, &pck, perr);
	}
	ward_evidence_free(ev);
	return 0;
}

static int evidence_verify_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ward_error("'ward evidence verify' is not available in this build yet");
	return 1;
}

static int evidence_bench_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}

int cmd_evidence(int argc, char **argv)
{
	if (argc < 2 || cli_wants_help(argc, argv)) {
		help();
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "show") == 0)
		return show(argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return evidence_verify_main(argc, argv);
	if (strcmp(argv[1], "bench") == 0)
		return evidence_bench_main(argc, argv);
	ward_error("unknown subcommand 'ward evidence %s'; use show or verify (see 'ward evidence --help')", argv[1]);
	return 2;
}
