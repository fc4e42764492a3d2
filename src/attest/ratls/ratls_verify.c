/* ratls_verify.c: see ratls_verify.h. */
#include "attest/ratls/ratls_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "attest/ratls/ratls_internal.h"
#include "core/crypto.h"
#include "core/util.h"

static void add(struct ward_ratls_verdict *v, const char *name, int ev, int ok, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static void add(struct ward_ratls_verdict *v, const char *name, int ev, int ok, const char *fmt,
		...)
{
	va_list ap;
	struct ward_ratls_check *c;

	if (v->n == WARD_RATLS_MAX_CHECKS) {
		v->ok = 0;
		return;
	}
	c = &v->checks[v->n++];
	ward_strlcpy(c->name, name, sizeof(c->name));
	c->evidence = ev;
	c->state = ok;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	if (!ok)
		v->ok = 0;
}

static void hex_short(const uint8_t *b, size_t n, char *out)
{
	char full[129];
	ward_hex(b, n > 64 ? 64 : n, full);
	snprintf(out, 20, "%.16s...", full);
}

static void check_cert(const struct ward_ratls_cert *c, const struct ward_ratls_verify_opts *o,
		       struct ward_ratls_verdict *v)
{
	time_t at = o->at ? o->at : time(NULL);
	const ASN1_TIME *nb = X509_get0_notBefore(c->x509), *na = X509_get0_notAfter(c->x509);
	char b1[64] = "?", b2[64] = "?";
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != NULL) {
		if (ASN1_TIME_print_ex(bio, nb, ASN1_DTFLGS_ISO8601) == 1) {
			int n = BIO_read(bio, b1, sizeof(b1) - 1);
			b1[n > 0 ? n : 0] = 0;
			char *sp = strchr(b1, ' ');
			if (sp != NULL)
				*sp = 'T';
		}
		(void)BIO_reset(bio);
		if (ASN1_TIME_print_ex(bio, na, ASN1_DTFLGS_ISO8601) == 1) {
			int n = BIO_read(bio, b2, sizeof(b2) - 1);
			b2[n > 0 ? n : 0] = 0;
			char *sp = strchr(b2, ' ');
			if (sp != NULL)
				*sp = 'T';
		}
		BIO_free(bio);
	}
	if (X509_cmp_time(nb, &at) > 0)
		add(v, "certificate_validity", -1, 0, "certificate is not valid before %s", b1);
	else if (X509_cmp_time(na, &at) < 0)
		add(v, "certificate_validity", -1, 0,
		    "certificate expired at %s (use --at to verify at an earlier time)", b2);
	else
		add(v, "certificate_validity", -1, 1, "valid %s .. %s", b1, b2);
	if (c->self_signed)
		add(v, "self_signature", -1, c->self_signature_ok,
		    c->self_signature_ok ? "self-signature verifies with the certificate key"
					 : "self-signed certificate whose signature does not verify with its own key (modified certificate)");
	else
		add(v, "self_signature", -1, 1,
		    "not self-signed: issuer not checked (the evidence binding authenticates the key)");
}

static void check_binding(const struct ward_ratls_evidence *e, int i, struct ward_ratls_verdict *v)
{
	char rd[20];
	if (e->rule != WARD_RATLS_RULE_NONE) {
		add(v, "key_binding", i, 1, "%s", ward_ratls_rule_text(e->rule));
		return;
	}
	if (e->claims != NULL) {
		if (!e->report_data_binds_claims)
			add(v, "key_binding", i, 0,
			    "report_data[0:32] is not SHA-256 of the DICE claims buffer");
		else
			add(v, "key_binding", i, 0,
			    "claims pubkey-hash is not the hash of this certificate's public key");
		return;
	}
	hex_short(e->report_data, 64, rd);
	add(v, "key_binding", i, 0,
	    "report data (%s) is not a hash of this certificate's public key under any known rule",
	    rd);
}

static void check_measurement(const struct ward_ratls_evidence *e, int i,
			      const struct ward_ratls_verify_opts *o, struct ward_ratls_verdict *v)
{
	const uint8_t *m = NULL;
	size_t ml = 0;
	const char *what = "measurement";
	char got[97];

	if (e->type == WARD_RATLS_EV_SIM) {
		m = e->sim.measurement;
		ml = 32;
	} else if (e->type == WARD_RATLS_EV_SNP_REPORT) {
		m = e->fields.snp_measurement;
		ml = 48;
		what = "SNP measurement";
	} else if (e->fields.kind == WARD_QF_TDX) {
		m = e->fields.mrtd;
		ml = 48;
		what = "MRTD";
	} else {
		m = e->fields.mrenclave;
		ml = 32;
		what = "MRENCLAVE";
	}
	ward_hex(m, ml, got);
	if (o->measurement_len != ml)
		add(v, "measurement", i, 0, "expected measurement has %zu bytes, the %s has %zu",
		    o->measurement_len, what, ml);
	else if (!ward_ct_equal(o->measurement, m, ml))
		add(v, "measurement", i, 0, "%s %s does not match the expected measurement", what,
		    got);
	else
		add(v, "measurement", i, 1, "%s matches", what);
}

static int ias_chain_ok(X509 *signer, const char *root_path, time_t at, char *msg, size_t msglen)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *root = NULL;
	FILE *f;
	int ok = 0;

	f = fopen(root_path, "r");
	if (f != NULL) {
		root = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (root == NULL) {
		snprintf(msg, msglen, "cannot read the IAS root certificate %s (PEM)", root_path);
		goto out;
	}
	if (st == NULL || ctx == NULL || X509_STORE_add_cert(st, root) != 1 ||
	    X509_STORE_CTX_init(ctx, st, signer, NULL) != 1)
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, at);
	if (X509_verify_cert(ctx) == 1)
		ok = 1;
	else
		snprintf(msg, msglen, "IAS signing certificate does not chain to %s: %s", root_path,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	X509_free(root);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

static void check_signature(const struct ward_ratls_evidence *e, int i,
			    const struct ward_ratls_verify_opts *o, struct ward_ratls_verdict *v)
{
	char msg[256];
	time_t at = o->at ? o->at : time(NULL);

	switch (e->type) {
	case WARD_RATLS_EV_SIM:
		if (o->sim_platform_fpr != NULL &&
		    !ward_ct_equal(o->sim_platform_fpr, e->sim.platform_fpr, WARD_SIM_FPR_LEN)) {
			char got[65];
			ward_hex(e->sim.platform_fpr, 32, got);
			add(v, "evidence_signature", i, 0,
			    "simulation evidence signed by platform key %.16s..., not the pinned one (evidence from another machine)",
			    got);
		} else {
			char fh[65];
			ward_hex(e->sim.platform_fpr, 32, fh);
			add(v, "evidence_signature", i, 1,
			    "simulation evidence signed by platform key %.16s... (%s; SIMULATION: no hardware guarantee)",
			    fh, o->sim_platform_fpr ? "pinned" : "not pinned: --platform pins it");
		}
		return;
	case WARD_RATLS_EV_IAS_REPORT:
		if (!e->ias_signature_ok) {
			add(v, "evidence_signature", i, 0,
			    "IAS report signature does not verify with the embedded IAS signing certificate");
			return;
		}
		if (o->ias_root == NULL) {
			add(v, "evidence_signature", i, 0,
			    "IAS report signature verifies, but no IAS root was given (--ias-root FILE)");
			return;
		}
		if (!ias_chain_ok(e->ias_signing_cert, o->ias_root, at, msg, sizeof(msg))) {
			add(v, "evidence_signature", i, 0, "%s", msg);
			return;
		}
		add(v, "evidence_signature", i, 1,
		    "IAS report signed by Intel's report signing key (status %s)", e->ias_status);
		return;
	default:
		ward_ratls_verify_hw(e, i, o, v);
		return;
	}
}

void ward_ratls_verdict_add(struct ward_ratls_verdict *v, const char *name, int ev, int ok,
			    const char *msg)
{
	add(v, name, ev, ok, "%s", msg);
}

int ward_ratls_verify(const struct ward_ratls_cert *c, const struct ward_ratls_verify_opts *o,
		      struct ward_ratls_verdict *v, char *err, size_t errlen)
{
	size_t nev = 0;

	memset(v, 0, sizeof(*v));
	v->ok = 1;
	check_cert(c, o, v);
	for (size_t i = 0; i < c->n; i++) {
		const struct ward_ratls_evidence *e = &c->ev[i];
		if (e->type == WARD_RATLS_EV_COLLATERAL)
			continue;
		nev++;
		if (!e->parsed) {
			add(v, "evidence_format", (int)i, 0, "%s", e->parse_error);
			continue;
		}
		add(v, "evidence_format", (int)i, 1, "%s in %s", ward_ratls_evtype_name(e),
		    ward_ratls_ext_name(e->ext));
		check_binding(e, (int)i, v);
		check_signature(e, (int)i, o, v);
		check_measurement(e, (int)i, o, v);
		int debug = e->type == WARD_RATLS_EV_SIM ? 0 : e->fields.debug;
		if (debug && !o->allow_debug)
			add(v, "debug", (int)i, 0,
			    "evidence comes from a DEBUG enclave/TD/guest (its memory is readable by the host); pass --allow-debug to accept");
		else
			add(v, "debug", (int)i, 1, debug ? "debug accepted (--allow-debug)" : "not debug");
	}
	if (nev == 0)
		add(v, "evidence_format", -1, 0, "certificate has no evidence, only collateral");
	if (!v->ok) {
		for (size_t i = 0; i < v->n; i++)
			if (!v->checks[i].state) {
				snprintf(err, errlen, "%s: %s", v->checks[i].name, v->checks[i].msg);
				break;
			}
		return -1;
	}
	return 0;
}
