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
#include "attest/quote/x509util.h"
#include "core/log.h"
#include "core/util.h"

static void help(void)
{
	printf("usage: ward evidence show FILE [--json]\n"
	       "       ward evidence verify FILE --collateral DIR|FILE.json [--at TIME] [--root ROOT.der] [--json]\n"
	       "       ward evidence verify FILE --no-collateral [--at TIME] [--root ROOT.der] [--json]\n"
	       "       ward evidence verify REPORT --vcek CERT | --vlek CERT --chain ASK_ARK.pem [--crl ARK.crl] [--at TIME] [--json]\n\n"
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
	       "  --crl FILE           SEV-SNP: the ARK's CRL (DER or PEM, as served by the KDS);\n"
	       "                       the ASK/ASVK must not be listed\n"
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

struct vopts {
	const char *file, *collateral, *at, *root, *cert, *chain, *ark, *crl;
	int json, no_collateral, vlek, cold;
	unsigned long iterations;
};

static int parse_vopts(int argc, char **argv, struct vopts *v, const char *sub)
{
	memset(v, 0, sizeof(*v));
	v->iterations = 2000;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		if (strcmp(a, "--json") == 0) {
			v->json = 1;
			continue;
		}
		if (strcmp(a, "--no-collateral") == 0) {
			v->no_collateral = 1;
			continue;
		}
		if (strcmp(a, "--cold") == 0 && strcmp(sub, "bench") == 0) {
			v->cold = 1; /* a fresh verification cache for every iteration */
			continue;
		}
		if (strcmp(a, "--collateral") == 0)
			dst = &v->collateral;
		else if (strcmp(a, "--at") == 0)
			dst = &v->at;
		else if (strcmp(a, "--root") == 0)
			dst = &v->root;
		else if (strcmp(a, "--vcek") == 0 || strcmp(a, "--vlek") == 0) {
			if (v->cert) {
				ward_error("give either --vcek or --vlek, once");
				return -1;
			}
			v->vlek = strcmp(a, "--vlek") == 0;
			dst = &v->cert;
		} else if (strcmp(a, "--chain") == 0)
			dst = &v->chain;
		else if (strcmp(a, "--ark") == 0)
			dst = &v->ark;
		else if (strcmp(a, "--crl") == 0)
			dst = &v->crl;
		else if (strcmp(a, "--iterations") == 0 && strcmp(sub, "bench") == 0) {
			uint64_t n;
			if (i + 1 >= argc || ward_parse_u64(argv[i + 1], &n) != 0 || n == 0 || n > 10000000) {
				ward_error("--iterations needs a count between 1 and 10000000");
				return -1;
			}
			v->iterations = (unsigned long)n;
			i++;
			continue;
		} else if (a[0] == '-' && a[1]) {
			ward_error("unknown option '%s' for 'ward evidence %s'; see 'ward evidence --help'", a, sub);
			return -1;
		} else if (!v->file) {
			v->file = a;
			continue;
		} else {
			ward_error("'ward evidence %s' takes one evidence file, got '%s' too", sub, a);
			return -1;
		}
		if (i + 1 >= argc) {
			ward_error("option %s needs a value; see 'ward evidence --help'", a);
			return -1;
		}
		*dst = argv[++i];
	}
	if (!v->file) {
		ward_error("no evidence file given; usage: ward evidence %s FILE ...", sub);
		return -1;
	}
	return 0;
}

/* Everything verify needs, loaded once (bench loops over it). */
struct vctx {
	struct ward_evidence *ev;
	struct ward_collateral *col;
	uint8_t *root, *cert, *chain, *ark, *crl;
	size_t root_len, cert_len, chain_len, ark_len, crl_len;
	struct ward_verify_opts o;
};

static void vctx_free(struct vctx *c)
{
	ward_evidence_free(c->ev);
	ward_collateral_free(c->col);
	free(c->root);
	free(c->cert);
	free(c->chain);
	free(c->ark);
	free(c->crl);
}

static int read_opt_file(const char *path, const char *what, uint8_t **out, size_t *len)
{
	if (!path)
		return 0;
	if (ward_read_file(path, 1u << 20, out, len) != 0) {
		ward_error("cannot read %s %s: %s", what, path, errno == EFBIG ? "file too large" : strerror(errno));
		return -1;
	}
	return 0;
}

/* 0 ok, 1 failure, 2 usage */
static int vctx_load(const struct vopts *v, struct vctx *c, const char *sub)
{
	char err[512];

	memset(c, 0, sizeof(*c));
	if (ward_evidence_load(v->file, &c->ev, err, sizeof(err)) != 0) {
		ward_error("cannot read evidence %s: %s", v->file, err);
		return 1;
	}
	if (v->at) {
		if (ward_parse_rfc3339(v->at, &c->o.at) != 0) {
			ward_error("--at '%s' is not an RFC 3339 UTC time such as 2025-08-20T00:00:00Z", v->at);
			return 2;
		}
	}
	if (c->ev->c.type == WARD_EVIDENCE_SNP) {
		if (v->collateral || v->no_collateral || v->root) {
			ward_error("%s is an SEV-SNP report: use --vcek/--vlek and --chain, not Intel collateral options", v->file);
			return 2;
		}
		if (!v->cert || !v->chain) {
			ward_error("%s is an SEV-SNP report: 'ward evidence %s' needs --vcek (or --vlek) CERT and --chain ASK_ARK.pem",
				   v->file, sub);
			return 2;
		}
		if (read_opt_file(v->cert, v->vlek ? "VLEK" : "VCEK", &c->cert, &c->cert_len) != 0 ||
		    read_opt_file(v->chain, "AMD chain", &c->chain, &c->chain_len) != 0 ||
		    read_opt_file(v->ark, "ARK", &c->ark, &c->ark_len) != 0 ||
		    read_opt_file(v->crl, "AMD CRL", &c->crl, &c->crl_len) != 0)
			return 1;
		c->o.snp_crl = c->crl;
		c->o.snp_crl_len = c->crl_len;
		c->o.snp_cert = c->cert;
		c->o.snp_cert_len = c->cert_len;
		c->o.snp_cert_is_vlek = v->vlek;
		c->o.snp_chain = c->chain;
		c->o.snp_chain_len = c->chain_len;
		c->o.ark_der = c->ark;
		c->o.ark_der_len = c->ark_len;
		return 0;
	}
	if (v->cert || v->chain || v->ark || v->crl) {
		ward_error("%s is an Intel %s quote: use --collateral, not SEV-SNP options", v->file,
			   c->ev->c.type == WARD_EVIDENCE_SGX ? "SGX" : "TDX");
		return 2;
	}
	if (!v->collateral == !v->no_collateral) {
		ward_error("'ward evidence %s' of an SGX/TDX quote needs --collateral DIR|FILE.json (or --no-collateral to check only the quote and PCK chain)",
			   sub);
		return 2;
	}
	if (v->collateral && ward_collateral_load(v->collateral, &c->col, err, sizeof(err)) != 0) {
		ward_error("cannot load collateral: %s", err);
		return 1;
	}
	if (read_opt_file(v->root, "root certificate", &c->root, &c->root_len) != 0)
		return 1;
	c->o.collateral = c->col;
	c->o.no_collateral = v->no_collateral;
	c->o.root_der = c->root;
	c->o.root_der_len = c->root_len;
	return 0;
}

static int evidence_verify_main(int argc, char **argv)
{
	struct vopts v;
	struct vctx c;
	struct ward_verify_result *res;
	char err[512];
	int rc;

	if (parse_vopts(argc, argv, &v, "verify") != 0)
		return 2;
	rc = vctx_load(&v, &c, "verify");
	if (rc != 0) {
		vctx_free(&c);
		return rc;
	}
	res = malloc(sizeof(*res));
	if (!res) {
		ward_error("out of memory");
		vctx_free(&c);
		return 1;
	}
	rc = ward_evidence_verify(c.ev, &c.o, res, err, sizeof(err)) == 0 ? 0 : 1;
	if (v.json) {
		json_t *o = ward_evidence_to_json(c.ev, &res->pck, res);
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		ward_evidence_print(stdout, c.ev, &res->pck, "");
		ward_verify_print(stdout, res);
	}
	fflush(stdout);
	if (rc != 0)
		ward_error("evidence %s failed verification: %s", v.file, err);
	free(res);
	vctx_free(&c);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hidden: `ward evidence bench FILE <verify options> [--iterations N] [--cold]`:
 * verifications per second on this thread, collateral loaded once, one
 * verification cache for all iterations (--cold: a new, empty one for
 * each, so every certificate is decoded and every signature verified). */
static int evidence_bench_main(int argc, char **argv)
{
	struct vopts v;
	struct vctx c;
	struct ward_verify_result *res;
	struct ward_verify_cache *cache;
	char err[512];
	int rc;

	if (parse_vopts(argc, argv, &v, "bench") != 0)
		return 2;
	rc = vctx_load(&v, &c, "bench");
	res = rc == 0 ? malloc(sizeof(*res)) : NULL;
	/* one cache for every iteration, as a long-running verifier keeps it
	 * (SGX/TDX would otherwise use the collateral's own) */
	cache = rc == 0 ? ward_verify_cache_new() : NULL;
	if (rc == 0 && (!res || !cache))
		rc = 1;
	c.o.cache = cache;
	if (rc == 0 && ward_evidence_verify(c.ev, &c.o, res, err, sizeof(err)) != 0) {
		ward_error("evidence %s failed verification: %s", v.file, err);
		rc = 1;
	}
	if (rc == 0) {
		double t0 = now_s(), dt;
		for (unsigned long i = 0; i < v.iterations && rc == 0; i++) {
			if (v.cold) {
				ward_verify_cache_free(cache);
				c.o.cache = cache = ward_verify_cache_new();
				if (!cache) {
					ward_error("out of memory");
					rc = 1;
					break;
				}
			}
			if (ward_evidence_verify(c.ev, &c.o, res, err, sizeof(err)) != 0) {
				ward_error("verification %lu failed: %s", i, err);
				rc = 1;
			}
		}
		dt = now_s() - t0;
		if (rc == 0)
			printf("{\"iterations\": %lu, \"seconds\": %.6f, \"per_second\": %.1f, \"ms_per_verification\": %.4f, \"status\": \"%s\"}\n",
			       v.iterations, dt, (double)v.iterations / dt, dt * 1000.0 / (double)v.iterations,
			       c.ev->c.type == WARD_EVIDENCE_SNP ? "verified" : ward_tcb_status_name(res->tcb_status));
	}
	free(res);
	ward_verify_cache_free(cache);
	vctx_free(&c);
	return rc;
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
