/* cas_start.c: see cas_start.h. */
#include "runtime/cas_start.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/ratls/hw_attester.h"
#include "attest/ratls/sim_evidence.h"
#include "cas/attest_client.h"
#include "core/crypto.h"
#include "core/log.h"
#include "policy/policy.h"
#include "runtime/crypto_load.h"
#include "runtime/runtime.h"

#define CONFIG_ID_MAX 260

struct evidence_ctx {
	struct ward_sim_platform *plat; /* simulation; NULL on hardware */
	const uint8_t *measurement;
};

/* Hardware: the TEE signs the report data (SGX through Gramine's
 * /dev/attestation, TDX/SEV-SNP through configfs-tsm). The measurement is
 * the hardware's own (MRENCLAVE, MRTD, SNP measurement). */
static int hw_evidence(const uint8_t rd[64], uint8_t *out, size_t max, size_t *len, char *err, size_t errlen)
{
	struct ward_hw_opts o = { .root = "", .privlevel = -1 };
	struct ward_hw_evidence ev;
	memset(&ev, 0, sizeof(ev));
	if (ward_hw_attest(&o, rd, &ev, err, errlen) != 0)
		return -1;
	if (ev.len > max) {
		snprintf(err, errlen, "hardware evidence of %zu bytes exceeds the protocol's limit of %zu", ev.len, max);
		ward_hw_evidence_free(&ev);
		return -1;
	}
	memcpy(out, ev.evidence, ev.len);
	*len = ev.len;
	ward_hw_evidence_free(&ev);
	return 0;
}

static int make_evidence(void *arg, const uint8_t rd[64], uint8_t *out, size_t max, size_t *len, char *err,
			 size_t errlen)
{
	struct evidence_ctx *e = arg;
	if (e->plat == NULL)
		return hw_evidence(rd, out, max, len, err, errlen);
	if (max < WARD_SIM_EVIDENCE_LEN) {
		snprintf(err, errlen, "evidence buffer too small");
		return -1;
	}
	if (ward_sim_evidence_create(e->plat, e->measurement, rd, 0, out, err, errlen) != 0)
		return -1;
	*len = WARD_SIM_EVIDENCE_LEN;
	return 0;
}

static const struct {
	const char *name;
	enum ward_secret_kind kind;
} kinds[] = {
	{ "ascii", WARD_SECRET_ASCII },		  { "hex", WARD_SECRET_HEX },
	{ "binary", WARD_SECRET_BINARY },	  { "private-key", WARD_SECRET_PRIVATE_KEY },
	{ "x509", WARD_SECRET_X509 },		  { "x509-ca", WARD_SECRET_X509_CA },
};

/* Secrets as the CAS sent them: {"NAME": {"kind": K, "value": V}}. */
static int lookup_secret(void *ctx, const char *name, struct ward_secret_value *out)
{
	json_t *s = json_object_get((json_t *)ctx, name);
	const char *kind = json_string_value(json_object_get(s, "kind"));
	const char *value = json_string_value(json_object_get(s, "value"));
	if (kind == NULL || value == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, kind) == 0) {
			out->kind = kinds[i].kind;
			out->value = value;
			return 0;
		}
	return -1;
}

/* Substitutes placeholders; the result lives for the process (argv and the
 * environment keep pointing at it). */
static char *substitute(const char *in, json_t *secrets, const char *where)
{
	char err[WARD_POLICY_ERR_MAX];
	char *out = NULL;
	size_t outlen = 0;
	if (ward_policy_substitute(in, strlen(in), WARD_SUBST_TEXT, lookup_secret, secrets, &out, &outlen, err,
				   sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot apply the CAS configuration: %s: %s", where, err);
	return out;
}

static void apply_config(json_t *cfg, int *argc, char ***argv)
{
	json_t *jargv = json_object_get(cfg, "argv"), *env = json_object_get(cfg, "env");
	json_t *secrets = json_object_get(cfg, "secrets"), *vols = json_object_get(cfg, "volumes");
	json_t *files = json_object_get(cfg, "injection_files"), *v;
	const char *pwd = json_string_value(json_object_get(cfg, "pwd")), *key;
	size_t n, i;
	char **nargv;

	if (!json_is_array(jargv) || !json_is_object(env) || !json_is_object(secrets))
		ward_rt_fatal(125, "the CAS sent a malformed configuration (argv, env or secrets missing)");
	if (json_array_size(vols) > 0)
		ward_rt_fatal(125, "the policy mounts volumes, which need the file shield; this build of the runtime has none");
	if (json_array_size(files) > 0)
		ward_rt_fatal(125, "the policy has injection files, which need the file shield's ephemeral region; this build of the runtime has none");

	/* argv: the policy's command. Its first word names the program; the
	 * engine keeps the path it was started with as argv[0]. */
	n = json_array_size(jargv);
	nargv = calloc(n + 2, sizeof(*nargv));
	if (nargv == NULL)
		ward_rt_fatal(125, "out of memory");
	nargv[0] = (*argv)[0];
	json_array_foreach(jargv, i, v) {
		if (!json_is_string(v))
			ward_rt_fatal(125, "the CAS sent a malformed configuration (argv[%zu] is not a string)", i);
		if (i == 0)
			continue;
		nargv[i] = substitute(json_string_value(v), secrets, "command");
	}
	*argc = n > 0 ? (int)n : 1;
	*argv = nargv;

	/* The environment is the policy's alone. */
	if (clearenv() != 0)
		ward_rt_fatal(125, "cannot clear the environment");
	json_object_foreach(env, key, v) {
		char *val;
		if (!json_is_string(v))
			ward_rt_fatal(125, "the CAS sent a malformed configuration (environment %s)", key);
		val = substitute(json_string_value(v), secrets, key);
		if (setenv(key, val, 1) != 0)
			ward_rt_fatal(125, "cannot set environment variable %s: %s", key, strerror(errno));
		ward_wipe(val, strlen(val));
		free(val);
	}
	if (pwd != NULL && chdir(pwd) != 0)
		ward_rt_fatal(125, "cannot change to the policy's working directory %s: %s", pwd, strerror(errno));
}

/* Enclaves attest on the CAS's attestation port. By default it is the API
 * port's neighbour: host:8081 (API) pairs with host:8082 (attestation). */
static const char *derive_attest_addr(const char *api, char *out, size_t outlen)
{
	const char *colon = strrchr(api, ':');
	size_t hostlen;
	if (colon == NULL || colon == api)
		ward_rt_fatal(125, "invalid WARD_CAS_ADDR '%s': expected HOST:PORT (e.g. localhost:8081)", api);
	if (strcmp(colon + 1, "8081") != 0 && strcmp(colon + 1, "8082") != 0)
		ward_rt_fatal(125, "WARD_CAS_ADDR=%s does not use the default ports; set WARD_CAS_ATTEST_ADDR to the CAS's attestation address (ward-cas prints it as 'enclaves HOST:PORT')",
			      api);
	hostlen = (size_t)(colon - api);
	if (hostlen + 6 > outlen)
		ward_rt_fatal(125, "invalid WARD_CAS_ADDR '%s': host name too long", api);
	memcpy(out, api, hostlen);
	snprintf(out + hostlen, outlen - hostlen, ":8082");
	return out;
}

int ward_rt_cas_start(const struct ward_config *c, enum ward_mode used, const uint8_t measurement[32],
		      int *argc, char ***argv)
{
	const char *api = getenv("WARD_CAS_ADDR"), *id = getenv("WARD_CONFIG_ID");
	const char *addr = getenv("WARD_CAS_ATTEST_ADDR");
	char derived[300];
	const char *fpr_s = getenv("WARD_CAS_FINGERPRINT");
	struct ward_cas_peer peer;
	struct evidence_ctx ev = { NULL, measurement };
	uint8_t fpr[32];
	char err[512];
	char *config = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	json_error_t je;
	json_t *cfg;
	int r;

	(void)c;
	if (addr != NULL && *addr == 0)
		addr = NULL;
	if (api != NULL && *api == 0)
		api = NULL;
	if (addr == NULL && api == NULL && (id == NULL || *id == 0))
		return 0;
	if (addr == NULL && api == NULL)
		ward_rt_fatal(125, "WARD_CONFIG_ID is set but WARD_CAS_ADDR is not; set it to the CAS's address (e.g. localhost:8081)");
	if (addr == NULL)
		addr = derive_attest_addr(api, derived, sizeof(derived));
	if (id == NULL || *id == 0 || strchr(id, '/') == NULL || strlen(id) >= CONFIG_ID_MAX)
		ward_rt_fatal(125, "WARD_CONFIG_ID must be SESSION/SERVICE (e.g. myapp/web) when WARD_CAS_ADDR is set");
	if (ward_rt_crypto_load(1, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "%s", err);

	memset(&peer, 0, sizeof(peer));
	peer.addr = addr;
	if (fpr_s != NULL && *fpr_s != 0) {
		if (ward_cas_parse_fingerprint(fpr_s, fpr) != 0)
			ward_rt_fatal(125, "invalid WARD_CAS_FINGERPRINT '%s': expected sha256:<64 hex> as ward-cas prints it", fpr_s);
		peer.fingerprint = fpr;
	} else {
		ward_warn("WARD_CAS_FINGERPRINT is not set: the CAS at %s is not authenticated; set it to the fingerprint ward-cas prints",
			  addr);
	}
	if (used == WARD_MODE_SIM && ward_sim_platform_load(NULL, &ev.plat, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot load the simulation platform key: %s", err);
	if (ward_cas_identity_new(&key, &cert, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot create the enclave's key: %s", err);
	peer.key = key;
	peer.cert = cert;
	r = ward_cas_attest(&peer, id, 0, NULL, NULL, make_evidence, &ev, &config, err, sizeof(err));
	ward_sim_platform_free(ev.plat);
	if (r == 1)
		ward_rt_fatal(125, "%s", err);
	if (r != 0)
		ward_rt_fatal(125, "cannot attest to the CAS at %s: %s", addr, err);
	cfg = json_loads(config, JSON_REJECT_DUPLICATES, &je);
	ward_wipe(config, strlen(config));
	free(config);
	if (cfg == NULL)
		ward_rt_fatal(125, "the CAS sent a configuration that is not JSON (line %d)", je.line);
	apply_config(cfg, argc, argv);
	/* The secrets were used for substitution only: wipe and drop them. */
	{
		const char *name;
		json_t *sv;
		json_object_foreach(json_object_get(cfg, "secrets"), name, sv) {
			json_t *val = json_object_get(sv, "value");
			if (json_is_string(val))
				ward_wipe((char *)json_string_value(val), json_string_length(val));
		}
	}
	json_decref(cfg);
	X509_free(cert);
	EVP_PKEY_free(key);
	ward_info("attested to the CAS at %s as %s", addr, id);
	return 0;
}
