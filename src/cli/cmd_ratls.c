/* cmd_ratls.c: `ward ratls show|verify|create`: RA-TLS certificates
 * (logic in src/attest/ratls/; format in docs/ratls.md). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "attest/ratls/hw_attester.h"
#include "attest/ratls/ratls.h"
#include "attest/ratls/ratls_json.h"
#include "attest/ratls/ratls_verify.h"
#include "cli/commands.h"
#include "core/log.h"
#include "core/util.h"

static void help(void)
{
	printf("usage: ward ratls show CERT [--json]\n"
	       "       ward ratls verify CERT --measurement HEX [OPTIONS]\n"
	       "       ward ratls create --key KEY.pem --out CERT.pem [OPTIONS]\n\n"
	       "RA-TLS certificates carry attestation evidence that binds their public key.\n"
	       "CERT may be PEM or DER. Formats read: TCG DICE tagged evidence (2.23.133.5.4.9),\n"
	       "the SGX quote extension (1.2.840.113741.1337.6, also Gramine's malformed\n"
	       "encoding), Open Enclave, dstack, Intel IAS reports; see docs/ratls.md.\n\n"
	       "show:    prints the evidence type, the quote's key fields and the key-binding\n"
	       "         rule found (issuers hash different encodings of the key).\n"
	       "verify:  checks the key binding, the evidence signature chain, the measurement\n"
	       "         (MRENCLAVE, MRTD, SNP or Ward measurement), the debug flag and the\n"
	       "         certificate's validity time. Exit 0 only if every check passes.\n"
	       "  --measurement HEX     expected measurement (required)\n"
	       "  --platform HEX        pin the simulation platform key fingerprint (SHA-256)\n"
	       "  --collateral PATH     SGX/TDX collateral (directory of Intel PCS files, or a\n"
	       "                        dcap-qvl collateral JSON file): CRLs, TCB info, QE identity\n"
	       "  --no-collateral       SGX/TDX: check only quote, QE and PCK chain (TCB not evaluated)\n"
	       "  --tolerate-tcb LIST   TCB statuses accepted besides UpToDate (OutOfDate,...)\n"
	       "  --vcek FILE | --vlek FILE  SEV-SNP: the report's signing certificate\n"
	       "  --chain FILE          SEV-SNP: ASK/ASVK and ARK (PEM)\n"
	       "  --ias-root FILE       IAS report signing root (PEM), for EPID/IAS certificates\n"
	       "  --at TIME             verify at TIME (2025-08-20T00:00:00Z) instead of now\n"
	       "  --allow-debug         accept debug enclaves/TDs/guests\n"
	       "  --json                machine-readable output\n"
	       "create:  writes a self-signed certificate with SIMULATION evidence signed by\n"
	       "         this machine's simulation platform key (docs/sim-evidence.md), or with\n"
	       "         hardware evidence (--hw: Gramine-SGX /dev/attestation, or configfs-tsm\n"
	       "         in a TDX/SEV-SNP guest).\n"
	       "  --hw                  hardware evidence instead of simulation\n"
	       "  --tee-root DIR        with --hw: prefix of the TEE interface paths (tests)\n"
	       "  --key FILE            private key (PEM); created (EC P-256, mode 0600) if missing\n"
	       "  --out FILE            certificate to write (PEM)\n"
	       "  --measurement HEX     measurement to put in the evidence (default: zeros)\n"
	       "  --nonce HEX           nonce claim\n"
	       "  --cn NAME             subject common name (default: ward-ratls)\n"
	       "  --days N              validity in days (default: 30)\n");
}

static const char *rule_short(const struct ward_ratls_evidence *e)
{
	return e->rule == WARD_RATLS_RULE_NONE ? "NONE FOUND" : ward_ratls_rule_name(e->rule);
}

static void print_hex_line(const char *label, const uint8_t *b, size_t n)
{
	char buf[2 * 64 + 1];
	ward_hex(b, n, buf);
	printf("    %-14s %s\n", label, buf);
}

static void print_evidence(size_t i, const struct ward_ratls_evidence *e)
{
	printf("evidence %zu: %s\n", i + 1, ward_ratls_evtype_name(e));
	printf("    %-14s %s (%s)\n", "extension", e->oid, ward_ratls_ext_name(e->ext));
	if (e->ext == WARD_RATLS_EXT_DICE && e->claims != NULL)
		printf("    %-14s %llu, claims: pubkey-hash%s%s (+%zu other)\n", "cbor tag",
		       (unsigned long long)e->cbor_tag, e->has_pubkey_hash ? "" : " MISSING",
		       e->nonce ? ", nonce" : "", e->other_claims);
	if (e->type == WARD_RATLS_EV_COLLATERAL) {
		static const char *what[] = { "PCK certificate", "PCK issuer chain", "TCB info",
					      "TCB info issuer chain" };
		printf("    %-14s %s, %zu bytes\n", "collateral", what[e->collateral_index - 7],
		       e->evidence_len);
		return;
	}
	if (!e->parsed) {
		printf("    %-14s %s\n", "ERROR", e->parse_error);
		return;
	}
	if (e->type == WARD_RATLS_EV_SIM) {
		printf("    %-14s SIMULATION (no hardware guarantee)\n", "kind");
		print_hex_line("measurement", e->sim.measurement, 32);
		print_hex_line("platform key", e->sim.platform_fpr, 32);
		printf("    %-14s %llu\n", "timestamp", (unsigned long long)e->sim.timestamp);
	} else {
		const struct ward_quote_fields *q = &e->fields;
		printf("    %-14s %s version %u", "quote", ward_qf_kind_name(q->kind), q->version);
		if (q->kind == WARD_QF_SGX || q->kind == WARD_QF_TDX)
			printf(", key type %u, QE SVN %u, PCE SVN %u, %zu bytes", q->att_key_type,
			       q->qe_svn, q->pce_svn, q->quote_len);
		printf("\n");
		if (q->kind == WARD_QF_SGX || q->kind == WARD_QF_EPID) {
			print_hex_line("mrenclave", q->mrenclave, 32);
			print_hex_line("mrsigner", q->mrsigner, 32);
			printf("    %-14s %u\n    %-14s %u\n", "isvprodid", q->isvprodid, "isvsvn",
			       q->isvsvn);
			print_hex_line("attributes", q->attributes, 16);
		} else if (q->kind == WARD_QF_TDX) {
			print_hex_line("mrtd", q->mrtd, 48);
			for (int r = 0; r < 4; r++) {
				char l[8];
				snprintf(l, sizeof(l), "rtmr%d", r);
				print_hex_line(l, q->rtmr[r], 48);
			}
		} else if (q->kind == WARD_QF_SNP) {
			print_hex_line("measurement", q->snp_measurement, 48);
			print_hex_line("host_data", q->snp_host_data, 32);
		}
		printf("    %-14s %s\n", "debug", q->debug ? "YES (debug enclave)" : "no");
	}
	if (e->type == WARD_RATLS_EV_IAS_REPORT)
		printf("    %-14s %s, %s, advisories %s, IAS signature %s\n", "ias report",
		       e->ias_status, e->ias_timestamp, e->ias_advisories[0] ? e->ias_advisories : "none",
		       e->ias_signature_ok ? "valid" : "INVALID");
	print_hex_line("report_data", e->report_data, 64);
	printf("    %-14s %s: %s\n", "key binding", rule_short(e), ward_ratls_rule_text(e->rule));
	if (e->claims != NULL && e->rule == WARD_RATLS_RULE_NONE)
		printf("    %-14s report_data = SHA-256(claims): %s; pubkey-hash = hash(SPKI): %s\n", "",
		       e->report_data_binds_claims ? "yes" : "NO", e->pubkey_hash_matches ? "yes" : "NO");
}

static void print_cert(const struct ward_ratls_cert *c, const char *path)
{
	json_t *j = ward_ratls_cert_json(c, NULL);
	json_t *cert = json_object_get(j, "certificate");
	printf("certificate: %s\n", path);
	printf("    %-14s %s\n", "subject", json_string_value(json_object_get(cert, "subject")));
	printf("    %-14s %s\n", "issuer", json_string_value(json_object_get(cert, "issuer")));
	printf("    %-14s %s .. %s\n", "valid", json_string_value(json_object_get(cert, "not_before")),
	       json_string_value(json_object_get(cert, "not_after")));
	printf("    %-14s %s\n", "key", json_string_value(json_object_get(cert, "key")));
	printf("    %-14s %s\n", "spki sha256", json_string_value(json_object_get(cert, "spki_sha256")));
	printf("    %-14s %s\n", "self-signature",
	       !c->self_signed ? "not self-signed" : c->self_signature_ok ? "valid" : "INVALID");
	json_decref(j);
	for (size_t i = 0; i < c->n; i++)
		print_evidence(i, &c->ev[i]);
}

static int load(const char *path, struct ward_ratls_cert **out)
{
	char err[300];
	X509 *x;
	if (ward_ratls_load_file(path, &x, err, sizeof(err)) != 0) {
		ward_error("%s", err);
		return -1;
	}
	if (ward_ratls_parse(x, out, err, sizeof(err)) != 0) {
		ward_error("%s: %s", path, err);
		return -1;
	}
	return 0;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL)
		return -1;
	puts(s);
	free(s);
	return 0;
}

static int do_show(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0;
	struct ward_ratls_cert *c;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' || path != NULL) {
			ward_error("unexpected argument '%s'; usage: ward ratls show CERT [--json]", argv[i]);
			return 2;
		} else
			path = argv[i];
	}
	if (path == NULL) {
		ward_error("no certificate given; usage: ward ratls show CERT [--json]");
		return 2;
	}
	if (load(path, &c) != 0)
		return 1;
	if (json)
		print_json(ward_ratls_cert_json(c, NULL));
	else
		print_cert(c, path);
	ward_ratls_cert_free(c);
	return 0;
}

static int parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != 0)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static int hexarg(const char *opt, const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2 != 0 || n / 2 > max || n == 0 || ward_unhex(s, out, n / 2) != 0) {
		ward_error("%s '%.80s' is not hex of at most %zu bytes", opt, s, max);
		return -1;
	}
	*len = n / 2;
	return 0;
}

static int do_verify(int argc, char **argv)
{
	struct ward_ratls_verify_opts o;
	struct ward_ratls_verdict *v = NULL;
	struct ward_ratls_cert *c = NULL;
	uint8_t meas[64], fpr[32];
	size_t fl = 0;
	const char *path = NULL;
	int json = 0, have_meas = 0, rc = 1;
	char err[400];

	memset(&o, 0, sizeof(o));
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = strcmp(a, "--measurement") == 0 || strcmp(a, "--platform") == 0 ||
			    strcmp(a, "--collateral") == 0 || strcmp(a, "--ias-root") == 0 ||
			    strcmp(a, "--at") == 0 || strcmp(a, "--vcek") == 0 ||
			    strcmp(a, "--vlek") == 0 || strcmp(a, "--chain") == 0 ||
			    strcmp(a, "--tolerate-tcb") == 0;
		if (takes && val == NULL) {
			ward_error("%s needs a value; see 'ward ratls --help'", a);
			return 2;
		}
		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--allow-debug") == 0)
			o.allow_debug = 1;
		else if (strcmp(a, "--no-collateral") == 0)
			o.no_collateral = 1;
		else if (strcmp(a, "--vcek") == 0 || strcmp(a, "--vlek") == 0) {
			o.snp_cert = val;
			o.snp_cert_is_vlek = strcmp(a, "--vlek") == 0;
			i++;
		} else if (strcmp(a, "--tolerate-tcb") == 0) {
			o.tolerate_tcb = val;
			i++;
		} else if (strcmp(a, "--chain") == 0) {
			o.snp_chain = val;
			i++;
		}
		else if (strcmp(a, "--measurement") == 0) {
			if (hexarg(a, val, meas, sizeof(meas), &o.measurement_len) != 0)
				return 2;
			o.measurement = meas;
			have_meas = 1;
			i++;
		} else if (strcmp(a, "--platform") == 0) {
			if (hexarg(a, val, fpr, sizeof(fpr), &fl) != 0 || fl != 32) {
				if (fl != 32)
					ward_error("--platform must be 64 hex digits (SHA-256 of the platform key)");
				return 2;
			}
			o.sim_platform_fpr = fpr;
			i++;
		} else if (strcmp(a, "--collateral") == 0) {
			o.collateral = val;
			i++;
		} else if (strcmp(a, "--ias-root") == 0) {
			o.ias_root = val;
			i++;
		} else if (strcmp(a, "--at") == 0) {
			if (parse_time(val, &o.at) != 0) {
				ward_error("--at '%s' is not a UTC time like 2025-08-20T00:00:00Z", val);
				return 2;
			}
			i++;
		} else if (a[0] == '-' || path != NULL) {
			ward_error("unexpected argument '%s'; see 'ward ratls --help'", a);
			return 2;
		} else
			path = a;
	}
	if (path == NULL) {
		ward_error("no certificate given; usage: ward ratls verify CERT --measurement HEX");
		return 2;
	}
	if (!have_meas) {
		ward_error("--measurement is required: a verifier that does not pin the measurement accepts any enclave");
		return 2;
	}
	if (load(path, &c) != 0)
		return 1;
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		ward_error("out of memory");
		goto out;
	}
	int r = ward_ratls_verify(c, &o, v, err, sizeof(err));
	if (json)
		print_json(ward_ratls_cert_json(c, v));
	else {
		for (size_t i = 0; i < v->n; i++) {
			const struct ward_ratls_check *k = &v->checks[i];
			char where[24] = "certificate";
			if (k->evidence >= 0)
				snprintf(where, sizeof(where), "evidence %d", k->evidence + 1);
			printf("%-4s %-12s %-21s %s\n", k->state ? "ok" : "FAIL", where, k->name, k->msg);
		}
		int sim = 0;
		for (size_t i = 0; i < c->n; i++)
			sim |= c->ev[i].type == WARD_RATLS_EV_SIM;
		printf("%s\n", r != 0 ? "NOT verified"
				      : sim ? "verified (SIMULATION evidence: no hardware guarantee)"
					    : "verified");
	}
	if (r != 0)
		ward_error("%s: RA-TLS verification failed: %s", path, err);
	rc = r == 0 ? 0 : 1;
out:
	free(v);
	ward_ratls_cert_free(c);
	return rc;
}

/* Loads key.pem, or creates an EC P-256 key there (mode 0600). */
static EVP_PKEY *load_or_create_key(const char *path, int *created)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = NULL;
	*created = 0;
	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL)
			ward_error("%s is not a PEM private key (unencrypted)", path);
		ERR_clear_error();
		return k;
	}
	if (errno != ENOENT) {
		ward_error("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIO *bio = BIO_new(BIO_s_secmem());
	char *pem = NULL;
	long n;
	if (k == NULL || bio == NULL || PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0 ||
	    ward_write_file_atomic(path, pem, (size_t)n, 0600) != 0) {
		ward_error("cannot create key %s: %s", path, strerror(errno));
		EVP_PKEY_free(k);
		k = NULL;
	} else
		*created = 1;
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

static int write_cert(X509 *x, const char *outp)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n;
	int r = 0;
	if (bio == NULL || PEM_write_bio_X509(bio, x) != 1 || (n = BIO_get_mem_data(bio, &pem)) <= 0 ||
	    ward_write_file_atomic(outp, pem, (size_t)n, 0644) != 0) {
		ward_error("cannot write %s: %s", outp, strerror(errno));
		r = -1;
	}
	BIO_free(bio);
	return r;
}

/* Claims for the key -> hardware evidence with their hash -> certificate. */
static int create_hw(const char *keyp, const char *outp, const char *cn, int days,
		     const char *tee_root, const uint8_t *nonce, size_t nl)
{
	struct ward_hw_opts o = { .root = tee_root, .privlevel = -1 };
	struct ward_hw_evidence ev;
	uint8_t rd[64], *claims = NULL;
	size_t cl = 0;
	int created, rc = 1;
	EVP_PKEY *key;
	X509 *x = NULL;
	char err[600];

	memset(&ev, 0, sizeof(ev));
	key = load_or_create_key(keyp, &created);
	if (key == NULL)
		return 1;
	if (ward_ratls_claims(key, nonce, nl, &claims, &cl, rd, err, sizeof(err)) != 0 ||
	    ward_hw_attest(&o, rd, &ev, err, sizeof(err)) != 0 ||
	    ward_ratls_cert_create(key, ev.evidence, ev.len, claims, cl, cn, days, &x, err,
				   sizeof(err)) != 0) {
		ward_error("cannot create the RA-TLS certificate: %s", err);
		goto out;
	}
	if (write_cert(x, outp) != 0)
		goto out;
	if (created)
		printf("created key %s (EC P-256, mode 0600)\n", keyp);
	printf("wrote %s: %s evidence from %s, %zu bytes\n", outp, ward_qf_kind_name(ev.fields.kind),
	       ev.provider, ev.len);
	rc = 0;
out:
	ward_hw_evidence_free(&ev);
	free(claims);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int do_create(int argc, char **argv)
{
	const char *keyp = NULL, *outp = NULL, *cn = "ward-ratls", *tee_root = NULL;
	int hw = 0;
	uint8_t meas[32] = { 0 }, nonce[256];
	size_t ml = 32, nl = 0;
	uint64_t days = 30;
	int have_nonce = 0, created, rc = 1;
	EVP_PKEY *key = NULL;
	struct ward_sim_platform *p = NULL;
	X509 *x = NULL;
	char err[400];

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--hw") == 0) {
			hw = 1;
			continue;
		}
		if (val == NULL) {
			ward_error("unexpected argument '%s'; see 'ward ratls --help'", a);
			return 2;
		}
		if (strcmp(a, "--key") == 0)
			keyp = val;
		else if (strcmp(a, "--out") == 0)
			outp = val;
		else if (strcmp(a, "--cn") == 0)
			cn = val;
		else if (strcmp(a, "--tee-root") == 0)
			tee_root = val;
		else if (strcmp(a, "--measurement") == 0) {
			if (hexarg(a, val, meas, sizeof(meas), &ml) != 0)
				return 2;
			if (ml != 32) {
				ward_error("--measurement must be 64 hex digits (a Ward measurement, see 'ward measure')");
				return 2;
			}
		} else if (strcmp(a, "--nonce") == 0) {
			if (hexarg(a, val, nonce, sizeof(nonce), &nl) != 0)
				return 2;
			have_nonce = 1;
		} else if (strcmp(a, "--days") == 0) {
			if (ward_parse_u64(val, &days) != 0 || days == 0 || days > 3650) {
				ward_error("--days '%s' must be a number from 1 to 3650", val);
				return 2;
			}
		} else {
			ward_error("unexpected argument '%s'; see 'ward ratls --help'", a);
			return 2;
		}
		i++;
	}
	if (keyp == NULL || outp == NULL) {
		ward_error("usage: ward ratls create --key KEY.pem --out CERT.pem [--measurement HEX]");
		return 2;
	}
	if (hw)
		return create_hw(keyp, outp, cn, (int)days, tee_root, have_nonce ? nonce : NULL, nl);
	if (ward_sim_platform_load(NULL, &p, err, sizeof(err)) != 0) {
		ward_error("%s", err);
		return 1;
	}
	key = load_or_create_key(keyp, &created);
	if (key == NULL)
		goto out;
	if (ward_ratls_cert_create_sim(key, p, meas, have_nonce ? nonce : NULL, nl, cn, (int)days,
				       &x, err, sizeof(err)) != 0) {
		ward_error("cannot create the RA-TLS certificate: %s", err);
		goto out;
	}
	if (write_cert(x, outp) != 0)
		goto out;
	{
		uint8_t f[32];
		char mh[65], fh[65];
		ward_sim_platform_fingerprint(p, f);
		ward_hex(meas, 32, mh);
		ward_hex(f, 32, fh);
		if (created)
			printf("created key %s (EC P-256, mode 0600)\n", keyp);
		printf("wrote %s: simulation evidence, measurement %s, platform %s\n", outp, mh, fh);
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	ward_sim_platform_free(p);
	return rc;
}

int cmd_ratls(int argc, char **argv)
{
	if (argc < 2 || cli_wants_help(argc, argv)) {
		help();
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "show") == 0)
		return do_show(argc, argv);
	if (strcmp(argv[1], "verify") == 0)
		return do_verify(argc, argv);
	if (strcmp(argv[1], "create") == 0)
		return do_create(argc, argv);
	ward_error("unknown 'ward ratls' command '%s'; use show, verify or create", argv[1]);
	return 2;
}
