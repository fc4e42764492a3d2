/* cas_start.c: see cas_start.h. */
#include "runtime/cas_start.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attest/ratls/hw_attester.h"
#include "attest/ratls/sim_evidence.h"
#include "cas/attest_client.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/policy.h"
#include "runtime/crypto_load.h"
#include "runtime/runtime.h"
#include "runtime/shield/shield.h"

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

/*
 * Volumes the CAS manages. The CAS sends each volume's key and the tags it
 * accepts (the committed one and, after a crash, a pending one); the runtime
 * opens the volume with that key, which verifies every byte of its metadata,
 * and refuses to start unless the volume's tag is one of them. After every
 * commit (close of a written file, fsync, namespace change) a reporter thread
 * sends the new tag to the CAS, and at exit the final one: so an older copy
 * of the volume is refused at the next start (docs/cas.md).
 */
#define MAX_CAS_VOLUMES 32

struct cas_volume {
	char name[WARD_POLICY_NAME_MAX + 1];
	struct shield_region *region;
	char reported[65];
	int dirty;
};

static struct {
	struct ward_cas_peer peer;
	EVP_PKEY *key;
	uint8_t fpr[32];
	struct cas_volume vols[MAX_CAS_VOLUMES];
	size_t nvols;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int thread_running, stopping, warned;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Reports v's current tag if it changed. Called without st.lock held;
 * reports are serialised so that the last one sent is the newest state. */
static void report_volume(struct cas_volume *v)
{
	static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
	uint8_t tag[32];
	char hex[65], err[512];
	pthread_mutex_lock(&report_lock);
	if (shield_region_tag(v->region, tag) != 0)
		goto out;
	ward_hex(tag, 32, hex);
	if (strcmp(hex, v->reported) == 0)
		goto out;
	if (ward_cas_report_tag(&st.peer, "commit", v->name, hex, err, sizeof(err)) != 0) {
		if (!__atomic_exchange_n(&st.warned, 1, __ATOMIC_SEQ_CST))
			ward_warn("cannot report the new state of volume '%s' to the CAS: %s; until it is reported, the next start will refuse the volume (the owner can pin its tag with a session update)",
				  v->name, err);
		goto out;
	}
	memcpy(v->reported, hex, sizeof(hex));
out:
	pthread_mutex_unlock(&report_lock);
}

static void *reporter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&st.lock);
	for (;;) {
		int any = 0;
		for (size_t i = 0; i < st.nvols; i++)
			any |= st.vols[i].dirty;
		if (!any && st.stopping)
			break;
		if (!any) {
			pthread_cond_wait(&st.cond, &st.lock);
			continue;
		}
		for (size_t i = 0; i < st.nvols; i++) {
			if (!st.vols[i].dirty)
				continue;
			st.vols[i].dirty = 0;
			pthread_mutex_unlock(&st.lock);
			report_volume(&st.vols[i]);
			pthread_mutex_lock(&st.lock);
		}
	}
	pthread_mutex_unlock(&st.lock);
	return NULL;
}

/* A close is reported in the background (coalesced); an fsync before it
 * returns, so that what a program made durable is also what the CAS
 * expects at the next start. */
static void on_commit(struct shield_region *r, int durable)
{
	struct cas_volume *v = NULL;
	pthread_mutex_lock(&st.lock);
	for (size_t i = 0; i < st.nvols; i++)
		if (st.vols[i].region == r) {
			v = &st.vols[i];
			v->dirty = !durable;
			if (!durable)
				pthread_cond_signal(&st.cond);
		}
	pthread_mutex_unlock(&st.lock);
	if (v != NULL && durable)
		report_volume(v);
}

/* At exit: the program's files are closed (committed); report the final
 * tags before the shield closes the volumes. */
/* The final tags, with the volumes still open (a termination signal:
 * shield_commit_for_signal), and at exit before they are closed. */
static void report_final(void)
{
	shield_writeback_stop(); /* the tags reported are the last ones */
	pthread_mutex_lock(&st.lock);
	st.stopping = 1;
	pthread_cond_signal(&st.cond);
	pthread_mutex_unlock(&st.lock);
	if (st.thread_running)
		pthread_join(st.thread, NULL);
	st.thread_running = 0;
	shield_images_flush(); /* stores into shared mappings are part of the final state */
	for (size_t i = 0; i < st.nvols; i++)
		report_volume(&st.vols[i]);
}

static void report_at_exit(void)
{
	report_final();
	ward_shield_stop();
}

/* Opens the CAS's volumes as shield regions and checks their tags. */
static void mount_volumes(json_t *vols)
{
	json_t *v;
	size_t i;

	json_array_foreach(vols, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *path = json_string_value(json_object_get(v, "path"));
		const char *kind = json_string_value(json_object_get(v, "kind"));
		const char *keyhex = json_string_value(json_object_get(v, "key"));
		const char *want = json_string_value(json_object_get(v, "tag"));
		const char *pending = json_string_value(json_object_get(v, "pending"));
		int read_only = json_is_true(json_object_get(v, "read_only"));
		struct cas_volume *cv;
		char err[1024], hex[65];
		uint8_t key[32], tag[32];
		struct stat sb;

		if (name == NULL || path == NULL || path[0] != '/')
			ward_rt_fatal(125, "the CAS sent a malformed volume (name and absolute path needed)");
		if (kind != NULL && strcmp(kind, "ephemeral") == 0) {
			if (mkdir(path, 0700) != 0 && errno != EEXIST)
				ward_rt_fatal(125, "cannot create the ephemeral volume '%s' at %s: %s", name, path, strerror(errno));
			if (shield_region_add(SHIELD_EPHEMERAL, path, "", err, sizeof(err)) != 0)
				ward_rt_fatal(125, "volume '%s': %s", name, err);
			continue;
		}
		if (kind != NULL && strcmp(kind, "encrypted") != 0 && strcmp(kind, "authenticated") != 0)
			ward_rt_fatal(125, "volume '%s' is of unknown kind '%s'", name, kind);
		if (st.nvols == MAX_CAS_VOLUMES)
			ward_rt_fatal(125, "too many volumes (at most %d)", MAX_CAS_VOLUMES);
		if (want == NULL)
			want = "";
		if (pending == NULL)
			pending = "";
		cv = &st.vols[st.nvols];
		ward_strlcpy(cv->name, name, sizeof(cv->name));
		if (kind != NULL && strcmp(kind, "authenticated") == 0) {
			/* Plaintext, every byte checked against its manifest (inside the
			 * volume); the tag pins the manifest, read-only. */
			cv->region = shield_region_add_authenticated(path, err, sizeof(err));
			if (cv->region == NULL)
				ward_rt_fatal(125, "volume '%s': %s", name, err);
			goto check_tag;
		}
		if (keyhex == NULL || ward_unhex(keyhex, key, sizeof(key)) != 0)
			ward_rt_fatal(125, "the CAS sent no usable key for volume '%s'", name);
		if (want[0] != 0 && stat(path, &sb) != 0)
			ward_rt_fatal(125, "volume '%s' is missing at %s, but the CAS expects tag %.16s...; restore it, or pin a new state with a session update",
				      name, path, want);
		if (read_only && stat(path, &sb) != 0)
			ward_rt_fatal(125, "volume '%s' is read-only in the policy but missing at %s; make it first ('ward fs encrypt' with the policy's key, or a run of a service that may write it)",
				      name, path);
		if (want[0] == 0 && !read_only && mkdir(path, 0700) != 0 && errno != EEXIST)
			ward_rt_fatal(125, "cannot create volume '%s' at %s: %s", name, path, strerror(errno));
		/* First use (no tag stored yet): an empty directory becomes the
		 * volume. A read-only one is never made or written: any number of
		 * enclaves share it. */
		cv->region = read_only ? shield_region_add_keyed_readonly(path, key, err, sizeof(err))
				       : shield_region_add_keyed(path, key, want[0] == 0, err, sizeof(err));
		ward_wipe(key, sizeof(key));
		if (cv->region == NULL)
			ward_rt_fatal(125, "volume '%s': %s", name, err);
check_tag:
		if (shield_region_tag(cv->region, tag) != 0)
			ward_rt_fatal(125, "volume '%s': cannot compute its tag", name);
		ward_hex(tag, 32, hex);
		if (want[0] != 0 && strcmp(hex, want) != 0 && strcmp(hex, pending) != 0)
			ward_rt_fatal(125, "volume '%s' at %s has tag %.16s..., but the CAS expects %.16s...%s%.16s%s: an older or foreign copy of the volume, or the last run ended before it could report its final state; if this copy is right, pin its tag with a session update (tag: %s)",
				      name, path, hex, want, pending[0] ? " or " : "", pending, pending[0] ? "..." : "", hex);
		/* The CAS learns the state we start from (first use, or a pending
		 * tag that the disk did reach). */
		if (strcmp(hex, want) != 0 || pending[0] != 0)
			cv->dirty = 1;
		else
			memcpy(cv->reported, hex, sizeof(hex));
		st.nvols++;
	}
}

static char *substitute(const char *in, json_t *secrets, const char *where);

/* Injection files are written through the shield, so they must land in one
 * of the policy's ephemeral or encrypted volumes. */
static void write_injection_files(json_t *files, json_t *secrets)
{
	json_t *f;
	size_t i;
	json_array_foreach(files, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *content = json_string_value(json_object_get(f, "content"));
		json_int_t mode = json_integer_value(json_object_get(f, "mode"));
		struct shield_path sp;
		char *text;
		size_t len, off = 0;
		int fd;

		if (path == NULL || content == NULL || path[0] != '/')
			ward_rt_fatal(125, "the CAS sent a malformed injection file");
		if (shield_classify(AT_FDCWD, path, &sp) != 0 ||
		    (sp.kind != SHIELD_EPHEMERAL && sp.kind != SHIELD_ENCRYPTED))
			ward_rt_fatal(125, "injection file %s is outside every ephemeral or encrypted volume of the policy; add a volume whose path contains it (kind: ephemeral), so that its content never reaches the disk in the clear",
				      path);
		text = substitute(content, secrets, path);
		len = strlen(text);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)(mode > 0 ? mode & 07777 : 0600));
		if (fd < 0)
			ward_rt_fatal(125, "cannot write injection file %s: %s", path, strerror(errno));
		while (off < len) {
			ssize_t w = write(fd, text + off, len - off);
			if (w <= 0)
				ward_rt_fatal(125, "cannot write injection file %s: %s", path, strerror(errno));
			off += (size_t)w;
		}
		ward_wipe(text, len);
		free(text);
		if (close(fd) != 0)
			ward_rt_fatal(125, "cannot write injection file %s: %s", path, strerror(errno));
	}
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
	if (json_array_size(vols) > 0) {
		mount_volumes(vols);
		shield_check_inherited_fds();
		if (st.nvols > 0) {
			shield_set_commit_hook(on_commit);
			if (pthread_create(&st.thread, NULL, reporter, NULL) != 0)
				ward_rt_fatal(125, "cannot start the volume tag reporter");
			st.thread_running = 1;
		}
		/* Registered after the shield's own handler, so it runs first. */
		if (atexit(report_at_exit) != 0)
			ward_rt_fatal(125, "cannot register the exit handler");
		shield_set_exit_hook(report_at_exit); /* _exit too */
		shield_set_signal_hook(report_final);  /* and SIGTERM (term.c) */
	}
	write_injection_files(files, secrets);

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
	struct ward_cas_peer *peer = &st.peer;
	struct evidence_ctx ev = { NULL, measurement };
	char err[512];
	char *config = NULL;
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

	memset(peer, 0, sizeof(*peer));
	peer->addr = strdup(addr); /* the environment is replaced below */
	if (peer->addr == NULL)
		ward_rt_fatal(125, "out of memory");
	if (fpr_s != NULL && *fpr_s != 0) {
		if (ward_cas_parse_fingerprint(fpr_s, st.fpr) != 0)
			ward_rt_fatal(125, "invalid WARD_CAS_FINGERPRINT '%s': expected sha256:<64 hex> as ward-cas prints it", fpr_s);
		peer->fingerprint = st.fpr;
	} else {
		ward_warn("WARD_CAS_FINGERPRINT is not set: the CAS at %s is not authenticated; set it to the fingerprint ward-cas prints",
			  addr);
	}
	if (used == WARD_MODE_SIM && ward_sim_platform_load(NULL, &ev.plat, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot load the simulation platform key: %s", err);
	if (ward_cas_identity_new(&st.key, err, sizeof(err)) != 0)
		ward_rt_fatal(125, "cannot create the enclave's key: %s", err);
	peer->key = st.key;
	/* one TLS context for the attestation and every later tag report (NULL:
	 * the client library makes one per connection) */
	peer->ctx = ward_cas_client_ctx_new();
	r = ward_cas_attest(peer, id, 0, NULL, NULL, make_evidence, &ev, &config, err, sizeof(err));
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
	/* The enclave's key stays: volume tags are reported with it. */
	ward_info("attested to the CAS at %s as %s", peer->addr, id);
	return 0;
}
