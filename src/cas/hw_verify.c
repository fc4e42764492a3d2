/* hw_verify.c: see hw_verify.h. */
#include "cas/hw_verify.h"
#include "core/crypto.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/util.h"

#define CERT_FILE_MAX (64u * 1024)   /* a VCEK is ~1.4 KB */
#define CHAIN_FILE_MAX (256u * 1024) /* an ASK+ASVK+ARK PEM is ~7 KB */
#define SNP_CERTS_MAX 4096           /* signing certificates in all directories */
#define COLLATERAL_MAX 256           /* --collateral sets */

struct snp_cert {
	uint8_t *der;  /* as read (DER or PEM): what the verifier decodes */
	size_t len;
	int is_vlek;
	size_t chain;  /* index into chains */
};

struct snp_chain {
	uint8_t *pem;
	size_t len;
	STACK_OF(X509) *certs; /* for pairing at load time */
};

struct cas_hw {
	struct ward_collateral **col;
	size_t ncol;
	struct snp_cert *certs;
	size_t ncerts;
	struct snp_chain *chains;
	size_t nchains;
	struct ward_verify_cache *cache; /* shared by every verification */
};

#define fail ward_fail_ossl /* src/core/crypto.h */

void cas_hw_free(struct cas_hw *hw)
{
	if (hw == NULL)
		return;
	for (size_t i = 0; i < hw->ncol; i++)
		ward_collateral_free(hw->col[i]);
	free(hw->col);
	for (size_t i = 0; i < hw->ncerts; i++)
		free(hw->certs[i].der);
	free(hw->certs);
	for (size_t i = 0; i < hw->nchains; i++) {
		free(hw->chains[i].pem);
		sk_X509_pop_free(hw->chains[i].certs, X509_free);
	}
	free(hw->chains);
	ward_verify_cache_free(hw->cache);
	free(hw);
}

static int is_pem(const uint8_t *b, size_t n)
{
	static const char tag[] = "-----BEGIN";
	for (size_t i = 0; i < n; i++) {
		if (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')
			continue;
		return n - i >= sizeof(tag) - 1 && memcmp(b + i, tag, sizeof(tag) - 1) == 0;
	}
	return 0;
}

/* One certificate, DER (the whole buffer) or PEM (the first block). */
static X509 *decode_cert(const uint8_t *b, size_t n)
{
	X509 *x = NULL;
	if (n > CERT_FILE_MAX)
		return NULL;
	if (is_pem(b, n)) {
		BIO *bio = BIO_new_mem_buf(b, (int)n);
		x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
	} else {
		const unsigned char *p = b;
		x = d2i_X509(NULL, &p, (long)n);
		if (x != NULL && p != b + n) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	return x;
}

static void cert_cn(X509 *x, char *out, size_t n)
{
	out[0] = 0;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)n) < 0)
		out[0] = 0;
	ERR_clear_error();
}

static int load_chain(struct cas_hw *hw, const char *path, char *err, size_t errlen)
{
	struct snp_chain *c = &hw->chains[hw->nchains];
	BIO *bio;
	X509 *x;

	if (ward_read_file(path, CHAIN_FILE_MAX, &c->pem, &c->len) != 0)
		return fail(err, errlen, "--snp-chain %s: cannot read: %s (give the AMD ASK/ARK PEM from the KDS, at most %u KiB)",
			    path, strerror(errno), CHAIN_FILE_MAX / 1024);
	c->certs = sk_X509_new_null();
	bio = BIO_new_mem_buf(c->pem, (int)c->len);
	if (c->certs == NULL || bio == NULL) {
		BIO_free(bio);
		hw->nchains++;
		return fail(err, errlen, "--snp-chain %s: out of memory", path);
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(c->certs, x) <= 0) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	hw->nchains++;
	if (sk_X509_num(c->certs) == 0)
		return fail(err, errlen, "--snp-chain %s: no PEM certificate in it (expected the AMD ASK and/or ASVK and ARK)", path);
	for (int i = 0; i < sk_X509_num(c->certs); i++) {
		char cn[64];
		cert_cn(sk_X509_value(c->certs, i), cn, sizeof(cn));
		if (strncmp(cn, "ARK-", 4) == 0) {
			ERR_clear_error(); /* the loop ends on "no start line" */
			return 0;
		}
	}
	return fail(err, errlen, "--snp-chain %s: holds no AMD root key certificate (ARK-Milan, ARK-Genoa, ARK-Turin): give the chain as the AMD KDS serves it",
		    path);
}

static int add_cert(struct cas_hw *hw, const char *path, char *err, size_t errlen)
{
	struct snp_cert *c;
	uint8_t *b = NULL;
	size_t n = 0;
	X509 *x;
	char cn[64];
	size_t i;
	int k;

	if (hw->ncerts >= SNP_CERTS_MAX)
		return fail(err, errlen, "--snp-vcek: more than %d certificates", SNP_CERTS_MAX);
	if (ward_read_file(path, CERT_FILE_MAX, &b, &n) != 0)
		return fail(err, errlen, "--snp-vcek %s: cannot read: %s", path, strerror(errno));
	x = decode_cert(b, n);
	if (x == NULL) {
		free(b);
		return fail(err, errlen, "--snp-vcek %s: not a certificate (DER or PEM VCEK/VLEK expected)", path);
	}
	cert_cn(x, cn, sizeof(cn));
	if (strcmp(cn, "SEV-VCEK") != 0 && strcmp(cn, "SEV-VLEK") != 0) {
		X509_free(x);
		free(b);
		return fail(err, errlen, "--snp-vcek %s: certificate '%s' is neither an SEV-VCEK nor an SEV-VLEK", path, cn);
	}
	for (i = 0; i < hw->nchains; i++) {
		for (k = 0; k < sk_X509_num(hw->chains[i].certs); k++)
			if (X509_NAME_cmp(X509_get_subject_name(sk_X509_value(hw->chains[i].certs, k)),
					  X509_get_issuer_name(x)) == 0)
				goto paired;
	}
	{
		char issuer[96] = "";
		X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_commonName, issuer, sizeof(issuer));
		X509_free(x);
		free(b);
		return fail(err, errlen, "--snp-vcek %s: issued by '%s', which no --snp-chain holds (add the AMD chain of that product line, e.g. from https://kdsintf.amd.com/vcek/v1/Milan/cert_chain)",
			    path, issuer);
	}
paired:
	c = &hw->certs[hw->ncerts++];
	c->der = b;
	c->len = n;
	c->is_vlek = strcmp(cn, "SEV-VLEK") == 0;
	c->chain = i;
	X509_free(x);
	ERR_clear_error();
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file of a directory (sorted, dot files skipped). */
static int load_certs(struct cas_hw *hw, const char *path, char *err, size_t errlen)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (stat(path, &st) != 0)
		return fail(err, errlen, "--snp-vcek %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_cert(hw, path, err, errlen);
	if ((d = opendir(path)) == NULL)
		return fail(err, errlen, "--snp-vcek %s: cannot open the directory: %s", path, strerror(errno));
	while (r == 0 && (de = readdir(d)) != NULL) {
		char full[4096];
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >= sizeof(full) ||
		    stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n >= SNP_CERTS_MAX) {
			r = fail(err, errlen, "--snp-vcek %s: more than %d files", path, SNP_CERTS_MAX);
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(names, nc * sizeof(*names));
			if (nn == NULL) {
				r = fail(err, errlen, "out of memory");
				break;
			}
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(full)) == NULL) {
			r = fail(err, errlen, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0 && n == 0)
		r = fail(err, errlen, "--snp-vcek %s: the directory holds no certificate", path);
	if (r == 0)
		if (n > 1)
			qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = add_cert(hw, names[i], err, errlen);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int cas_hw_load(const struct cas_hw_paths *p, struct cas_hw **out, char *err, size_t errlen)
{
	struct cas_hw *hw = calloc(1, sizeof(*hw));
	char why[512];

	if (hw == NULL)
		return fail(err, errlen, "out of memory");
	if (p->ncollateral > COLLATERAL_MAX) {
		cas_hw_free(hw);
		return fail(err, errlen, "at most %d --collateral sets", COLLATERAL_MAX);
	}
	hw->cache = ward_verify_cache_new();
	hw->col = calloc(p->ncollateral + 1, sizeof(*hw->col));
	hw->chains = calloc(p->nsnp_chain + 1, sizeof(*hw->chains));
	hw->certs = calloc(SNP_CERTS_MAX, sizeof(*hw->certs));
	if (hw->cache == NULL || hw->col == NULL || hw->chains == NULL || hw->certs == NULL) {
		cas_hw_free(hw);
		return fail(err, errlen, "out of memory");
	}
	for (size_t i = 0; i < p->ncollateral; i++) {
		if (ward_collateral_load(p->collateral[i], &hw->col[i], why, sizeof(why)) != 0) {
			cas_hw_free(hw);
			return fail(err, errlen, "--collateral %s: %s", p->collateral[i], why);
		}
		hw->ncol++;
	}
	for (size_t i = 0; i < p->nsnp_chain; i++) {
		if (load_chain(hw, p->snp_chain[i], err, errlen) != 0) {
			cas_hw_free(hw);
			return -1;
		}
	}
	for (size_t i = 0; i < p->nsnp_cert; i++) {
		if (load_certs(hw, p->snp_cert[i], err, errlen) != 0) {
			cas_hw_free(hw);
			return -1;
		}
	}
	if (hw->nchains > 0 && hw->ncerts == 0) {
		cas_hw_free(hw);
		return fail(err, errlen, "--snp-chain without --snp-vcek: give the VCEK (or VLEK) certificates of the SEV-SNP hosts too");
	}
	*out = hw;
	return 0;
}

void cas_hw_describe(const struct cas_hw *hw, char *out, size_t outlen)
{
	snprintf(out, outlen, "%zu Intel collateral set%s, %zu SEV-SNP signing certificate%s, %zu AMD chain%s",
		 hw ? hw->ncol : 0, hw && hw->ncol == 1 ? "" : "s", hw ? hw->ncerts : 0,
		 hw && hw->ncerts == 1 ? "" : "s", hw ? hw->nchains : 0, hw && hw->nchains == 1 ? "" : "s");
}

static int check_failed(const struct ward_verify_result *r, const char *name)
{
	const struct ward_check *c = ward_verify_find_check(r, name);
	return c != NULL && c->state == WARD_CHECK_FAIL;
}

static int verify_dcap(const struct cas_hw *hw, const struct ward_evidence *ev, time_t at,
		       struct ward_verify_result *res, char *err, size_t errlen)
{
	const char *tee = ev->c.type == WARD_EVIDENCE_TDX ? "TDX" : "SGX";
	struct ward_verify_result *cur;
	char why[512];
	int have = 0;

	if (hw == NULL || hw->ncol == 0) {
		memset(res, 0, sizeof(*res));
		return fail(err, errlen, "%s quote cannot be verified: this CAS has no Intel collateral (start ward-cas with --collateral DIR or FILE.json for the platform)",
			    tee);
	}
	cur = malloc(sizeof(*cur));
	if (cur == NULL)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < hw->ncol; i++) {
		struct ward_verify_opts o = { .at = at, .collateral = hw->col[i], .cache = hw->cache };
		int r = ward_evidence_verify(ev, &o, cur, why, sizeof(why));
		if (r == 0) {
			memcpy(res, cur, sizeof(*res));
			free(cur);
			return 0;
		}
		if (check_failed(cur, "tcb_info_match") && !check_failed(cur, "pck_chain") &&
		    !check_failed(cur, "quote_signature")) {
			if (!have) { /* keep the first, for the FMSPC in the message */
				memcpy(res, cur, sizeof(*res));
				have = 1;
			}
			continue; /* collateral of another platform */
		}
		memcpy(res, cur, sizeof(*res));
		free(cur);
		return fail(err, errlen, "%s quote: %s", tee, why);
	}
	free(cur);
	{
		char f[13];
		ward_hex(res->pck.fmspc, 6, f);
		return fail(err, errlen, "%s quote cannot be verified: no --collateral set is for its platform (FMSPC %s; %zu set%s loaded): add the Intel PCS collateral for FMSPC %s",
			    tee, f, hw->ncol, hw->ncol == 1 ? "" : "s", f);
	}
}

static int verify_snp(const struct cas_hw *hw, const struct ward_evidence *ev, time_t at,
		      struct ward_verify_result *res, char *err, size_t errlen)
{
	unsigned key = (ev->c.snp.key_info >> 2) & 7;
	const char *kind = key == 1 ? "VLEK" : "VCEK";
	struct ward_verify_result *cur;
	char why[512], chip[17];
	size_t tried = 0, chip_ok = 0;

	memset(res, 0, sizeof(*res));
	if (key > 1)
		return fail(err, errlen, "SEV-SNP report is signed by no VCEK or VLEK (SIGNING_KEY %u)", key);
	cur = malloc(sizeof(*cur));
	if (cur == NULL)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; hw != NULL && i < hw->ncerts; i++) {
		const struct snp_cert *c = &hw->certs[i];
		const struct snp_chain *ch = &hw->chains[c->chain];
		if (c->is_vlek != (key == 1))
			continue;
		struct ward_verify_opts o = { .at = at, .snp_cert = c->der, .snp_cert_len = c->len,
					      .snp_cert_is_vlek = c->is_vlek, .snp_chain = ch->pem,
					      .snp_chain_len = ch->len, .cache = hw->cache };
		int r = ward_evidence_verify(ev, &o, cur, why, sizeof(why));
		if (tried++ == 0)
			memcpy(res, cur, sizeof(*res));
		if (r == 0) {
			memcpy(res, cur, sizeof(*res));
			free(cur);
			return 0;
		}
		if (!check_failed(cur, "chip_id"))
			chip_ok++;
		if (check_failed(cur, "chip_id") || check_failed(cur, "reported_tcb") || check_failed(cur, "product"))
			continue; /* the certificate of another chip, TCB version or product line */
		memcpy(res, cur, sizeof(*res));
		free(cur);
		return fail(err, errlen, "SEV-SNP report: %s", why);
	}
	free(cur);
	ward_hex(ev->c.snp.chip_id, 8, chip);
	if (tried == 0)
		return fail(err, errlen, "SEV-SNP report cannot be verified: this CAS has no %s (start ward-cas with --snp-vcek CERT|DIR and --snp-chain ASK_ARK.pem)",
			    kind);
	if (key == 0 && chip_ok == 0)
		return fail(err, errlen, "SEV-SNP report cannot be verified: none of the %zu VCEKs loaded is for its chip (chip id %s...): add this host's VCEK with --snp-vcek",
			    tried, chip);
	return fail(err, errlen, "SEV-SNP report cannot be verified: none of the %zu %ss loaded is for its reported TCB (bootloader %u, TEE %u, SNP %u, microcode %u): add the %s for that TCB with --snp-vcek",
		    tried, kind, ev->c.snp.reported_tcb.bootloader, ev->c.snp.reported_tcb.tee, ev->c.snp.reported_tcb.snp,
		    ev->c.snp.reported_tcb.microcode, kind);
}

int cas_hw_verify(const struct cas_hw *hw, const struct ward_evidence *ev, time_t at,
		  struct ward_verify_result *res, char *err, size_t errlen)
{
	if (ev->c.type == WARD_EVIDENCE_SNP)
		return verify_snp(hw, ev, at, res, err, errlen);
	return verify_dcap(hw, ev, at, res, err, errlen);
}
