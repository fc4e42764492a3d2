/* test_policy.c: the session language: a full example round-trips through
 * canonical JSON with a stable hash; every validation error names
 * file:line:column and what is wrong; placeholders substitute per format. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "test.h"

static const char *good =
	"name: myapp\n"
	"version: \"0.3\"\n"
	"access_policy:\n"
	"  read: [CREATOR, 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef]\n"
	"  update: [CREATOR]\n"
	"services:\n"
	"  - name: web\n"
	"    mrenclaves: [9C0E000000000000000000000000000000000000000000000000000000000001]\n"
	"    command: python3 /app/main.py --token '$$WARD::token$$' \"a b\"\n"
	"    environment:\n"
	"      DB_PASS: $$WARD::db_pass$$\n"
	"      API_KEY: \"$$WARD::api_key:hex$$\"\n"
	"      PORT: 8080\n"
	"    pwd: /app\n"
	"    volumes:\n"
	"      - name: app\n"
	"        path: /app\n"
	"        kind: authenticated\n"
	"      - name: data\n"
	"        path: /data\n"
	"        key: 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
	"        tag: abcd\n"
	"        read_only: true\n"
	"      - name: tmp\n"
	"        path: /tmp\n"
	"        kind: ephemeral\n"
	"    injection_files:\n"
	"      - path: /etc/app.conf\n"
	"        content: |\n"
	"          password = $$WARD::db_pass$$\n"
	"          cert = $$WARD::tls:crt$$\n"
	"        mode: 0640\n"
	"    sgx: {mrsigner: 83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e, isvprodid: 0, isvsvn: 1}\n"
	"secrets:\n"
	"  - name: db_pass\n"
	"    kind: ascii\n"
	"    size: 24\n"
	"  - name: token\n"
	"    kind: ascii\n"
	"    value: hunter2\n"
	"  - name: api_key\n"
	"    kind: binary\n"
	"    value: AAECAw==\n"
	"  - name: ca\n"
	"    kind: x509-ca\n"
	"  - name: tls\n"
	"    kind: x509\n"
	"    issuer: ca\n"
	"    common_name: web.example\n"
	"    dns: [web.example, localhost]\n"
	"security:\n"
	"  attestation:\n"
	"    tolerate: [simulation, debug-mode]\n"
	"    ignore_advisories: [INTEL-SA-00334]\n";

static char err[WARD_POLICY_ERR_MAX];

static void test_good(void)
{
	struct ward_policy *p = ward_policy_parse_yaml(good, strlen(good), "policy.yaml", err, sizeof(err));
	if (!p) {
		fprintf(stderr, "unexpected error: %s\n", err);
		CHECK(0);
		return;
	}
	CHECK(strcmp(p->name, "myapp") == 0);
	CHECK(p->n_services == 1 && p->n_secrets == 5);
	const struct ward_policy_service *s = ward_policy_find_service(p, "web");
	CHECK(s && s->argc == 5);
	CHECK(s && strcmp(s->argv[3], "$$WARD::token$$") == 0 && strcmp(s->argv[4], "a b") == 0);
	CHECK(s && s->n_env == 3 && strcmp(s->env[0].key, "API_KEY") == 0 && strcmp(s->env[2].value, "8080") == 0);
	CHECK(s && strcmp(s->mrenclaves[0], "9c0e000000000000000000000000000000000000000000000000000000000001") == 0);
	CHECK(s && s->volumes[0].kind == WARD_VOLUME_AUTHENTICATED && s->volumes[1].kind == WARD_VOLUME_ENCRYPTED &&
	      s->volumes[2].kind == WARD_VOLUME_EPHEMERAL && !s->volumes[0].key);
	CHECK(s && !s->volumes[0].read_only && s->volumes[1].read_only && !s->volumes[2].read_only);
	CHECK(s && s->files[0].mode == 0640);
	CHECK(s && s->sgx_isvprodid == 0 && s->sgx_isvsvn == 1);
	CHECK(ward_policy_find_secret(p, "db_pass")->size == 24);
	CHECK(ward_policy_find_secret(p, "token")->size == 7);
	CHECK(ward_policy_find_secret(p, "api_key")->size == 4);
	CHECK(ward_policy_find_secret(p, "tls")->valid_days == 365);
	CHECK(p->tolerate == (WARD_TOLERATE_SIMULATION | WARD_TOLERATE_DEBUG_MODE));
	CHECK(strcmp(p->access.read[1], "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") == 0);
	CHECK(strcmp(p->access.update[0], "CREATOR") == 0);

	/* access checks */
	const char *creator = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *other = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *stranger = "2222222222222222222222222222222222222222222222222222222222222222";
	CHECK(ward_policy_allows(p, WARD_POLICY_READ, creator, creator));
	CHECK(ward_policy_allows(p, WARD_POLICY_READ, other, creator));
	CHECK(!ward_policy_allows(p, WARD_POLICY_READ, stranger, creator));
	CHECK(!ward_policy_allows(p, WARD_POLICY_UPDATE, other, creator));

	/* canonical JSON round trip, stable hash */
	char h1[65], h2[65];
	CHECK(ward_policy_hash(p, h1) == 0 && strlen(h1) == 64);
	char *j = ward_policy_to_json(p, 0);
	CHECK(j != NULL);
	struct ward_policy *q = ward_policy_parse_json(j, strlen(j), "stored", err, sizeof(err));
	if (!q)
		fprintf(stderr, "round trip: %s\n", err);
	CHECK(q != NULL);
	if (q) {
		char *j2 = ward_policy_to_json(q, 0);
		CHECK(j2 && strcmp(j, j2) == 0);
		CHECK(ward_policy_hash(q, h2) == 0 && strcmp(h1, h2) == 0);
		free(j2);
		ward_policy_free(q);
	}
	/* ward_policy_parse detects JSON */
	q = ward_policy_parse(j, strlen(j), "stored", err, sizeof(err));
	CHECK(q != NULL);
	ward_policy_free(q);
	free(j);

	/* redaction */
	char *r = ward_policy_to_json(p, WARD_POLICY_JSON_REDACT);
	CHECK(r && !strstr(r, "hunter2") && !strstr(r, "00112233445566778899") && strstr(r, WARD_POLICY_REDACTED));
	free(r);
	ward_policy_free(p);

	/* a different document gives a different hash; defaults equal explicit */
	const char *a = "name: x\nversion: '0.3'\nservices: [{name: s, mrenclaves: ["
			"0000000000000000000000000000000000000000000000000000000000000000]}]\n";
	const char *b = "name: x\nversion: '0.3'\naccess_policy: {read: [CREATOR], update: [CREATOR]}\n"
			"services: [{name: s, mrenclaves: ["
			"0000000000000000000000000000000000000000000000000000000000000000]}]\n";
	const char *c2 = "name: y\nversion: '0.3'\nservices: [{name: s, mrenclaves: ["
			 "0000000000000000000000000000000000000000000000000000000000000000]}]\n";
	struct ward_policy *pa = ward_policy_parse_yaml(a, strlen(a), "a", err, sizeof(err));
	struct ward_policy *pb = ward_policy_parse_yaml(b, strlen(b), "b", err, sizeof(err));
	struct ward_policy *pc = ward_policy_parse_yaml(c2, strlen(c2), "c", err, sizeof(err));
	CHECK(pa && pb && pc);
	if (pa && pb && pc) {
		ward_policy_hash(pa, h1);
		ward_policy_hash(pb, h2);
		CHECK(strcmp(h1, h2) == 0);
		ward_policy_hash(pc, h2);
		CHECK(strcmp(h1, h2) != 0);
	}
	ward_policy_free(pa);
	ward_policy_free(pb);
	ward_policy_free(pc);

	/* hardware pins: 96-hex measurements, TDX RTMRs (null = unpinned), SNP host data */
	const char *hw = "name: hw\nversion: '0.3'\nservices:\n  - name: s\n    mrenclaves: ["
			 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA, "
			 "0000000000000000000000000000000000000000000000000000000000000000]\n"
			 "    tdx: {rtmr: [null, 1111111111111111111111111111111111111111111111111111111111111111"
			 "11111111111111111111111111111111]}\n"
			 "    snp: {host_data: 2222222222222222222222222222222222222222222222222222222222222222}\n";
	struct ward_policy *ph = ward_policy_parse_yaml(hw, strlen(hw), "hw", err, sizeof(err));
	if (!ph)
		fprintf(stderr, "hw: %s\n", err);
	CHECK(ph != NULL);
	if (ph) {
		const struct ward_policy_service *hs = &ph->services[0];
		CHECK(hs->n_mrenclaves == 2 && strlen(hs->mrenclaves[0]) == 96 && hs->mrenclaves[0][0] == 'a');
		CHECK(!hs->tdx_mrtd && !hs->tdx_rtmr[0] && hs->tdx_rtmr[1] && !hs->tdx_rtmr[2] && !hs->tdx_rtmr[3]);
		CHECK(hs->snp_host_data && strlen(hs->snp_host_data) == 64);
		char *j = ward_policy_to_json(ph, 0);
		CHECK(j && strstr(j, "\"rtmr\":[null,\"1111") && strstr(j, "null,null]") && strstr(j, "\"host_data\":\"2222"));
		struct ward_policy *q = j ? ward_policy_parse_json(j, strlen(j), "stored", err, sizeof(err)) : NULL;
		char *j2 = q ? ward_policy_to_json(q, 0) : NULL;
		CHECK(j2 && strcmp(j, j2) == 0);
		free(j);
		free(j2);
		ward_policy_free(q);
	}
	ward_policy_free(ph);
}

/* Each case: a YAML document and the exact error expected. */
struct bad {
	const char *yaml;
	const char *want;
};

#define HDR "name: myapp\nversion: '0.3'\n"
#define SVC "services:\n  - name: web\n    mrenclaves: [0000000000000000000000000000000000000000000000000000000000000000]\n"

static const struct bad bads[] = {
	{"", "p.yaml:1:1: empty session: expected a mapping with name, version, services, ..."},
	{"- a\n- b\n", "p.yaml:1:1: expected a mapping (key: value lines), got a list"},
	{"name: [x\n", "p.yaml:2:1: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"},
	{"version: '0.3'\n", "p.yaml:1:1: missing required key 'name'"},
	{"name: myapp\n", "p.yaml:1:1: missing required key 'version'"},
	{HDR "nmae: x\n", "p.yaml:3:1: unknown key 'nmae' (did you mean 'name'?)"},
	{HDR "zzzzzzzz: 1\n",
	 "p.yaml:3:1: unknown key 'zzzzzzzz' (expected one of: name, version, predecessor, access_policy, services, secrets, security)"},
	{HDR "images: []\n",
	 "p.yaml:3:1: unknown key 'images' (expected one of: name, version, predecessor, access_policy, services, secrets, security); Ward has no images: put injection_files under each service"},
	{"name: my/app\nversion: '0.3'\n",
	 "p.yaml:1:7: name: invalid session name 'my/app' (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)"},
	{"name: myapp\nversion: 1\n", "p.yaml:2:10: version: unsupported session language version '1' (this ward reads \"0.3\")"},
	{"name: myapp\nname: x\nversion: '0.3'\n", "p.yaml:2:1: duplicate key 'name' (first at line 1)"},
	{"name: &a x\nversion: *a\n", "p.yaml:2:10: YAML aliases (*a) are not supported in sessions; write the value out"},
	{"name: !!binary eA==\nversion: '0.3'\n", "p.yaml:1:7: YAML tag 'tag:yaml.org,2002:binary' is not supported in sessions"},
	{HDR "---\nname: x\n", "p.yaml:3:1: a session file holds one YAML document; remove the second '---'"},
	{HDR "predecessor: abc\n",
	 "p.yaml:3:14: predecessor: expected 64 hex digits (the hash of the session this one replaces, as `ward session show` prints), got 3 characters"},
	{HDR "access_policy:\n  read: [creator]\n", "p.yaml:4:10: access_policy.read[0]: unknown entry 'creator' (did you mean 'CREATOR'?)"},
	{HDR "access_policy:\n  read: [NONE, ANY]\n", "p.yaml:4:10: access_policy.read[0]: NONE must be the only entry of the list"},
	{HDR "access_policy:\n  update: []\n",
	 "p.yaml:4:11: access_policy.update: empty list; write [NONE] to allow nobody or [CREATOR] for the creator only"},
	{HDR "access_policy:\n  read: [abc]\n",
	 "p.yaml:4:10: access_policy.read[0]: expected CREATOR, ANY, NONE or a client identity (64 hex digits, see `ward session whoami`), got 'abc'"},
	{HDR "access_policy:\n  write: [ANY]\n", "p.yaml:4:3: access_policy: unknown key 'write' (expected one of: read, update)"},
	{HDR "services: {name: web}\n", "p.yaml:3:11: services: expected a list ('- item' lines), got a mapping"},
	{HDR "services:\n  - name: web\n    mrenclave: [x]\n", "p.yaml:5:5: services[0]: unknown key 'mrenclave' (did you mean 'mrenclaves'?)"},
	{HDR "services:\n  - name: web\n    image_name: x\n",
	 "p.yaml:5:5: services[0]: unknown key 'image_name' (expected one of: name, mrenclaves, command, environment, pwd, volumes, injection_files, sgx, tdx, snp); Ward has no images: put injection_files under the service"},
	{HDR "services:\n  - mrenclaves: []\n", "p.yaml:4:5: services[0]: missing required key 'name'"},
	{HDR "services:\n  - name: web\n", "p.yaml:4:5: services[0]: service 'web' names no enclave: add mrenclaves (the hash `ward measure` prints)"},
	{HDR "services:\n  - name: web\n    mrenclaves: [abcd]\n",
	 "p.yaml:5:18: services[0].mrenclaves[0]: expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got 4 characters"},
	{HDR "services:\n  - name: web\n    mrenclaves: [000000000000000000000000000000000000000000000000000000000000000g]\n",
	 "p.yaml:5:18: services[0].mrenclaves[0]: expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got 64 characters with a non-hex character"},
	{HDR "services:\n  - name: web\n    mrenclaves: {a: b}\n", "p.yaml:5:17: services[0].mrenclaves: expected a list ('- item' lines), got a mapping"},
	{HDR SVC "  - name: web\n    mrenclaves: [0000000000000000000000000000000000000000000000000000000000000000]\n",
	 "p.yaml:6:5: services[1]: duplicate service name 'web' (also services[0])"},
	{HDR SVC "    command: python3 'unterminated\n",
	 "p.yaml:6:14: services[0].command: cannot split the command: unterminated single quote"},
	{HDR SVC "    command: []\n", "p.yaml:6:14: services[0].command: empty command; leave 'command' out to keep the engine's arguments"},
	{HDR SVC "    command: {a: b}\n",
	 "p.yaml:6:14: services[0].command: expected a command line (string) or a list of arguments, got a mapping"},
	{HDR SVC "    command: [python3, [x]]\n", "p.yaml:6:24: services[0].command[1]: expected a string, got a list"},
	{HDR SVC "    command: python3 $$WARD::nope$$\n",
	 "p.yaml:6:14: services[0].command: placeholder $$WARD::nope$$ names no secret; declare it under secrets"},
	{HDR SVC "    environment:\n      X: $$WARD::db_pas$$\nsecrets:\n  - name: db_pass\n    kind: ascii\n",
	 "p.yaml:7:10: services[0].environment.X: placeholder $$WARD::db_pas$$ names no secret (did you mean 'db_pass'?)"},
	{HDR SVC "    environment:\n      X: $$WARD::k:crt$$\nsecrets:\n  - name: k\n    kind: hex\n",
	 "p.yaml:7:10: services[0].environment.X: format ':crt' does not apply to hex secret 'k' (use :hex, :base64 or :binary)"},
	{HDR SVC "    environment:\n      X: $$WARD::k:rot13$$\nsecrets:\n  - name: k\n    kind: hex\n",
	 "p.yaml:7:10: services[0].environment.X: malformed placeholder at offset 0: unknown format (expected hex, base64, binary, pem, crt, key or chain) (write $$WARD::NAME$$ or $$WARD::NAME:FORMAT$$)"},
	{HDR SVC "    environment:\n      X: a $$WARD::k\nsecrets:\n  - name: k\n    kind: hex\n",
	 "p.yaml:7:10: services[0].environment.X: malformed placeholder at offset 2: missing closing $$ (write $$WARD::NAME$$ or $$WARD::NAME:FORMAT$$)"},
	{HDR SVC "    environment:\n      X:\n", "p.yaml:7:9: services[0].environment.X: expected a string, got null (nothing) (write \"\" for an empty string)"},
	{HDR SVC "    environment:\n      1X: a\n",
	 "p.yaml:7:7: services[0].environment: invalid variable name '1X' (letters, digits, _; not starting with a digit)"},
	{HDR SVC "    pwd: app\n", "p.yaml:6:10: services[0].pwd: 'app' is not an absolute path without . or .. components"},
	{HDR SVC "    volumes:\n      - name: v\n", "p.yaml:7:9: services[0].volumes[0]: missing required key 'path'"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        kind: encrypt\n",
	 "p.yaml:9:15: services[0].volumes[0].kind: unknown volume kind 'encrypt' (did you mean 'encrypted'?)"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        key: 0011\n",
	 "p.yaml:9:14: services[0].volumes[0].key: expected 64 hex digits (a 256-bit volume key), got 4 characters"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        tag: abc\n",
	 "p.yaml:9:14: services[0].volumes[0].tag: expected an even number of hex digits (2..128), as `ward fs tag` prints"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        kind: ephemeral\n        tag: abcd\n",
	 "p.yaml:10:14: services[0].volumes[0]: an ephemeral volume has no tag (it lives in enclave memory only)"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        read_only: yes\n",
	 "p.yaml:9:20: services[0].volumes[0].read_only: expected true or false, got 'yes'"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        read_only: \"true\"\n",
	 "p.yaml:9:20: services[0].volumes[0].read_only: expected true or false, got 'true'"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        read_only: [true]\n",
	 "p.yaml:9:20: services[0].volumes[0].read_only: expected true or false, got a list"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        kind: ephemeral\n        read_only: true\n",
	 "p.yaml:10:20: services[0].volumes[0].read_only: an ephemeral volume cannot be read-only (it starts empty in every run)"},
	{HDR SVC "    volumes:\n      - name: v\n        path: /v\n        kind: authenticated\n        read_only: true\n",
	 "p.yaml:10:20: services[0].volumes[0].read_only: an authenticated volume is always read-only; drop read_only"},
	{HDR SVC "    volumes:\n      - {name: v, path: /v}\n      - {name: v, path: /w}\n",
	 "p.yaml:8:9: services[0].volumes[1]: duplicate volume name 'v' (also services[0].volumes[0])"},
	{HDR SVC "    volumes:\n      - {name: v, path: /v}\n      - {name: w, path: /v}\n",
	 "p.yaml:8:9: services[0].volumes[1]: volume path '/v' is already used by volume 'v'"},
	{HDR SVC "    injection_files:\n      - path: /etc/x\n        content: a\n        mode: 644\n",
	 "p.yaml:9:15: services[0].injection_files[0].mode: mode '644' must be octal with a leading 0, e.g. 0600 or 0o644"},
	{HDR SVC "    injection_files:\n      - path: /etc/x\n        content: a\n        mode: 0999\n",
	 "p.yaml:9:15: services[0].injection_files[0].mode: mode '0999' must be octal with a leading 0, e.g. 0600 or 0o644"},
	{HDR SVC "    injection_files:\n      - path: /etc/x\n", "p.yaml:7:9: services[0].injection_files[0]: missing required key 'content'"},
	{HDR SVC "    sgx: {isvsvn: 70000}\n", "p.yaml:6:19: services[0].sgx.isvsvn: 70000 is out of range (0..65535)"},
	{HDR SVC "    sgx: {isvsvn: '1'}\n", "p.yaml:6:19: services[0].sgx.isvsvn: expected a whole number, got a string"},
	{HDR SVC "    tdx: {mrtd: 00}\n", "p.yaml:6:17: services[0].tdx.mrtd: expected 96 hex digits (a TDX MRTD), got 2 characters"},
	{HDR SVC "    tdx: {rtmr: []}\n",
	 "p.yaml:6:17: services[0].tdx.rtmr: expected 1 to 4 entries (RTMR0..RTMR3, each 96 hex digits or null to leave it unpinned), got 0"},
	{HDR SVC "    tdx: {rtmr: [null, abc]}\n",
	 "p.yaml:6:24: services[0].tdx.rtmr[1]: expected 96 hex digits (a TDX RTMR value) or null, got 3 characters"},
	{HDR SVC "    snp: {host_data: 0011}\n",
	 "p.yaml:6:22: services[0].snp.host_data: expected 64 hex digits (the SEV-SNP HOST_DATA), got 4 characters"},
	{HDR SVC "    sgx: {mrsigner: 83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e}\n",
	 "p.yaml:6:10: services[0].sgx: sgx.mrsigner needs sgx.isvprodid too (the product id the signer gave this enclave): a signer pin alone would accept every enclave of that signer"},
	{HDR SVC "    sgx: {isvsvn: 2}\n",
	 "p.yaml:6:10: services[0].sgx: sgx.isvprodid and sgx.isvsvn pin nothing without sgx.mrsigner: add the signer's mrsigner"},
	{HDR "services:\n  - name: web\n    mrenclaves: [" "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000z]\n",
	 "p.yaml:5:18: services[0].mrenclaves[0]: expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got 96 characters with a non-hex character"},
	{HDR "secrets:\n  - name: s\n", "p.yaml:4:5: secrets[0]: secret 's' has no kind (ascii, hex, binary, private-key, x509 or x509-ca)"},
	{HDR "secrets:\n  - name: s\n    kind: password\n",
	 "p.yaml:5:11: secrets[0].kind: unknown secret kind 'password' (expected one of: ascii, hex, binary, private-key, x509, x509-ca)"},
	{HDR "secrets:\n  - name: s\n    kind: x509ca\n", "p.yaml:5:11: secrets[0].kind: unknown secret kind 'x509ca' (did you mean 'x509-ca'?)"},
	{HDR "secrets:\n  - {name: s, kind: ascii}\n  - {name: s, kind: hex}\n",
	 "p.yaml:5:5: secrets[1]: duplicate secret name 's' (also secrets[0])"},
	{HDR "secrets:\n  - name: s\n    kind: hex\n    value: abc\n",
	 "p.yaml:6:12: secrets[0].value: expected an even number of hex digits (0-9 a-f), 2..131072"},
	{HDR "secrets:\n  - name: s\n    kind: hex\n    value: abcd\n    size: 3\n",
	 "p.yaml:6:12: secrets[0].value: value holds 2 bytes but size says 3"},
	{HDR "secrets:\n  - name: s\n    kind: ascii\n    size: 0\n", "p.yaml:6:11: secrets[0].size: 0 is out of range (1..65536)"},
	{HDR "secrets:\n  - name: s\n    kind: binary\n    value: 'not base64!'\n",
	 "p.yaml:6:12: secrets[0].value: expected base64 (A-Z a-z 0-9 + /, '=' padding, no blanks) of 1..65536 bytes"},
	{HDR "secrets:\n  - name: s\n    kind: private-key\n    value: nope\n",
	 "p.yaml:6:12: secrets[0].value: not a PEM private key (unencrypted, '-----BEGIN PRIVATE KEY-----')"},
	{HDR "secrets:\n  - name: s\n    kind: ascii\n    issuer: ca\n",
	 "p.yaml:6:5: secrets[0]: 'issuer' does not apply to a ascii secret (only to x509 and x509-ca secrets)"},
	{HDR "secrets:\n  - name: s\n    kind: x509\n    size: 3\n",
	 "p.yaml:6:5: secrets[0]: 'size' does not apply to a x509 secret (only to ascii, hex and binary secrets)"},
	{HDR "secrets:\n  - name: s\n    kind: x509\n    issuer: nope\n",
	 "p.yaml:6:13: secrets[0].issuer: 'nope' is not a secret of this session; issuer must name a secret of kind x509-ca"},
	{HDR "secrets:\n  - {name: k, kind: hex}\n  - {name: s, kind: x509, issuer: k}\n",
	 "p.yaml:5:35: secrets[1].issuer: 'k' is not an x509-ca secret; issuer must name a secret of kind x509-ca"},
	{HDR "secrets:\n  - {name: a, kind: x509-ca, issuer: b}\n  - {name: b, kind: x509-ca, issuer: a}\n",
	 "p.yaml:4:38: secrets[0].issuer: issuer chain of 'a' loops back to itself"},
	{HDR "secrets:\n  - {name: s, kind: x509, dns: ['a b']}\n", "p.yaml:4:33: secrets[0].dns[0]: 'a b' is not a DNS name"},
	{HDR "security:\n  attestation:\n    tolerate: [simulaton]\n",
	 "p.yaml:5:16: security.attestation.tolerate[0]: unknown toleration 'simulaton' (did you mean 'simulation'?)"},
	{HDR "security:\n  attestation:\n    tolerate: [simulation, simulation]\n",
	 "p.yaml:5:28: security.attestation.tolerate[1]: duplicate entry 'simulation'"},
	{HDR "security:\n  attestaton: {}\n", "p.yaml:4:3: security: unknown key 'attestaton' (did you mean 'attestation'?)"},
	{HDR "name2: \"a\\0b\"\n", "p.yaml:3:1: unknown key 'name2' (did you mean 'name'?)"},
	{"name: \"a\\0b\"\nversion: '0.3'\n", "p.yaml:1:7: name: string contains a NUL byte"},
	{"[1, 2: 3]: x\n", "p.yaml:1:1: mapping keys must be plain names, not a list"},
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		err[0] = 0;
		struct ward_policy *p = ward_policy_parse_yaml(bads[i].yaml, strlen(bads[i].yaml), "p.yaml", err, sizeof(err));
		if (p || strcmp(err, bads[i].want) != 0) {
			fprintf(stderr, "case %zu:\n  got:  %s\n  want: %s\n", i, p ? "(accepted)" : err, bads[i].want);
			test_failures++;
		}
		ward_policy_free(p);
	}
}

static void test_json_errors(void)
{
	struct {
		const char *json, *want;
	} cases[] = {
		{"{\"name\": \"x\", \"version\": 0.3}", "body: field 'version': expected a string, got a number"},
		{"{\"name\": \"x\", \"version\": \"0.3\", \"services\": [{\"name\": \"s\", \"mrenclaves\": [\"ab\"]}]}",
		 "body: field 'services[0].mrenclaves[0]': expected 64 hex digits (an enclave hash, as `ward measure` prints) or 96 (a TDX MRTD or SEV-SNP measurement), got 2 characters"},
		{"{\"name\": \"x\", \"name\": \"y\"}", "body:1:20: invalid JSON: duplicate object key near '\"name\"'"},
		{"{\"name\": ", "body:1:9: invalid JSON: unexpected token near end of file"},
		{"[1]", "body: expected a JSON object (the session), got an array"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		struct ward_policy *p = ward_policy_parse_json(cases[i].json, strlen(cases[i].json), "body", err, sizeof(err));
		if (p || strcmp(err, cases[i].want) != 0) {
			fprintf(stderr, "json case %zu:\n  got:  %s\n  want: %s\n", i, p ? "(accepted)" : err, cases[i].want);
			test_failures++;
		}
		ward_policy_free(p);
	}
}

/* ---- substitution ---- */

static int lookup(void *ctx, const char *name, struct ward_secret_value *out)
{
	(void)ctx;
	if (strcmp(name, "pw") == 0) {
		out->kind = WARD_SECRET_ASCII;
		out->value = "s3cret";
		return 0;
	}
	if (strcmp(name, "h") == 0) {
		out->kind = WARD_SECRET_HEX;
		out->value = "00ff10";
		return 0;
	}
	if (strcmp(name, "b") == 0) {
		out->kind = WARD_SECRET_BINARY;
		out->value = "AP8Q";
		return 0;
	}
	if (strcmp(name, "c") == 0) {
		out->kind = WARD_SECRET_X509;
		out->value = "CERT\n";
		out->key_pem = "KEY\n";
		out->chain_pem = "CA\n";
		return 0;
	}
	return -1;
}

static void subst_ok(const char *in, unsigned flags, const char *want, size_t wantlen)
{
	char *out;
	size_t n;
	err[0] = 0;
	if (ward_policy_substitute(in, strlen(in), flags, lookup, NULL, &out, &n, err, sizeof(err)) < 0) {
		fprintf(stderr, "subst '%s': %s\n", in, err);
		test_failures++;
		return;
	}
	if (n != wantlen || memcmp(out, want, n) != 0) {
		fprintf(stderr, "subst '%s': got '%.*s'\n", in, (int)n, out);
		test_failures++;
	}
	free(out);
}

static void subst_bad(const char *in, unsigned flags, const char *want)
{
	char *out = NULL;
	size_t n;
	err[0] = 0;
	int r = ward_policy_substitute(in, strlen(in), flags, lookup, NULL, &out, &n, err, sizeof(err));
	if (r == 0 || strcmp(err, want) != 0) {
		fprintf(stderr, "subst '%s':\n  got:  %s\n  want: %s\n", in, r == 0 ? "(ok)" : err, want);
		test_failures++;
	}
	CHECK(out == NULL);
	free(out);
}

static void test_subst(void)
{
	subst_ok("", WARD_SUBST_TEXT, "", 0);
	subst_ok("no placeholders $$ here", WARD_SUBST_TEXT, "no placeholders $$ here", 23);
	subst_ok("pw=$$WARD::pw$$!", WARD_SUBST_TEXT, "pw=s3cret!", 10);
	subst_ok("$$WARD::pw:hex$$", 0, "733363726574", 12);
	subst_ok("$$WARD::pw:base64$$", 0, "czNjcmV0", 8);
	subst_ok("$$WARD::h$$", 0, "00ff10", 6);
	subst_ok("$$WARD::h:base64$$", 0, "AP8Q", 4);
	subst_ok("$$WARD::h:binary$$", 0, "\x00\xff\x10", 3);
	subst_ok("$$WARD::b$$", 0, "\x00\xff\x10", 3);
	subst_ok("$$WARD::b:hex$$$$WARD::b:base64$$", 0, "00ff10AP8Q", 10);
	subst_ok("$$WARD::c$$|$$WARD::c:crt$$|$$WARD::c:key$$|$$WARD::c:chain$$", 0, "CERT\n|CERT\n|KEY\n|CERT\nCA\n", 25);
	subst_bad("$$WARD::b$$", WARD_SUBST_TEXT,
		  "placeholder $$WARD::b$$: the secret holds a NUL byte and cannot go into an argument or environment variable; use :hex or :base64");
	subst_bad("x $$WARD::nope$$", 0, "placeholder $$WARD::nope$$: no secret 'nope' was delivered by the CAS");
	subst_bad("$$WARD::c:hex$$", 0, "placeholder $$WARD::c:hex$$: format does not apply to a x509 secret");
	subst_bad("$$WARD::pw", 0, "malformed placeholder at offset 0: missing closing $$");
	subst_bad("$$WARD::$$", 0, "malformed placeholder at offset 0: no secret name after $$WARD::");
}

/* Garbage must give a clean error, never a crash (run under ASan in CI). */
static void test_garbage(void)
{
	uint32_t seed = 12345;
	char buf[512];
	size_t n_err = 0;
	for (int round = 0; round < 3000; round++) {
		size_t len = 0;
		if (round % 3 == 0) {
			/* mutate the good document */
			size_t gl = strlen(good);
			len = gl < sizeof(buf) ? gl : sizeof(buf);
			memcpy(buf, good, len);
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % len] = (char)(seed >> 20);
			}
		} else {
			static const char alphabet[] = "ab:- \n[]{}'\"&*!|>#%@`$\\\t0,?";
			seed = seed * 1103515245u + 12345u;
			len = (seed >> 8) % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
		}
		err[0] = 0;
		struct ward_policy *p = ward_policy_parse(buf, len, "g.yaml", err, sizeof(err));
		if (!p) {
			n_err++;
			if (strncmp(err, "g.yaml", 6) != 0 || strchr(err, '\n')) {
				fprintf(stderr, "garbage %d: bad error '%s'\n", round, err);
				test_failures++;
			}
		}
		ward_policy_free(p);
	}
	CHECK(n_err > 2000);
	/* deep nesting and big documents are refused cleanly */
	char deep[400];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0;
	CHECK(ward_policy_parse_yaml(deep, strlen(deep), "d.yaml", err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "d.yaml:", 7) == 0);
	CHECK(ward_policy_parse_yaml(deep, WARD_POLICY_MAX_DOC + 1, "big.yaml", err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "big.yaml: session document is 1048577 bytes; the limit is 1048576 bytes (1 MiB)") == 0);
}

int main(void)
{
	test_good();
	test_bad();
	test_json_errors();
	test_subst();
	test_garbage();
	return TEST_DONE();
}
