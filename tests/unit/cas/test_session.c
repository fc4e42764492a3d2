/* test_session.c: validation messages, access checks, redaction, generated
 * secrets that survive updates, the measurement/toleration decision. */
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../test.h"
#include "cas/session.h"
#include "core/util.h"

#define M1 "9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e9c0e"

static json_t *doc(const char *txt)
{
	json_error_t je;
	return json_loads(txt, 0, &je);
}

static int invalid(const char *txt, const char *msg)
{
	char err[512] = "";
	json_t *d = doc(txt);
	int r = d != NULL && cas_session_validate(d, err, sizeof(err)) == -1 && strstr(err, msg) != NULL;
	if (!r)
		fprintf(stderr, "got '%s' for %s\n", err, txt);
	json_decref(d);
	return r;
}

int main(void)
{
	char err[512], reason[1024], h1[65], h2[65];
	json_t *d = doc("{\"name\":\"myapp\",\"services\":[{\"name\":\"web\",\"mrenclaves\":[\"" M1 "\"],"
			"\"command\":\"python3 -c pass\",\"environment\":{\"A\":\"1\"},"
			"\"volumes\":[{\"name\":\"data\",\"path\":\"/data\"}]}],"
			"\"secrets\":[{\"name\":\"pw\",\"kind\":\"ascii\",\"size\":16},{\"name\":\"given\",\"kind\":\"hex\",\"value\":\"abcd\"},"
			"{\"name\":\"ca\",\"kind\":\"x509-ca\"},{\"name\":\"crt\",\"kind\":\"x509\",\"issuer\":\"ca\",\"dns\":[\"web.local\"]}],"
			"\"security\":{\"attestation\":{\"tolerate\":[\"simulation\"]}}}");
	CHECK(d != NULL && cas_session_validate(d, err, sizeof(err)) == 0);

	CHECK(invalid("{\"services\":[]}", "name: missing"));
	CHECK(invalid("{\"name\":\"a\",\"services\":[{\"name\":\"w\",\"mrenclaves\":[\"xyz\"]}]}", "services[0].mrenclaves[0]"));
	CHECK(invalid("{\"name\":\"a\",\"services\":[{\"name\":\"w\"}]}", "services[0].mrenclaves"));
	CHECK(invalid("{\"name\":\"a\",\"secrets\":[{\"name\":\"s\",\"kind\":\"weird\"}]}", "secrets[0].kind"));
	CHECK(invalid("{\"name\":\"a\",\"access_policy\":{\"read\":[\"SOMEONE\"]}}", "access_policy.read[0]"));
	CHECK(invalid("{\"name\":\"a\",\"security\":{\"attestation\":{\"tolerate\":[\"everything\"]}}}", "tolerate[0]"));
	CHECK(invalid("{\"name\":\"a\",\"predecessor\":\"12\"}", "predecessor"));

	/* hash is stable and changes with content */
	CHECK(cas_session_hash(d, h1) == 0 && cas_session_hash(d, h2) == 0 && strcmp(h1, h2) == 0);

	/* access: default creator only */
	CHECK(cas_session_allowed(d, "read", "c1", "c1") && !cas_session_allowed(d, "read", "c1", "c2"));
	CHECK(!cas_session_allowed(d, "read", "c1", NULL));
	json_t *ap = doc("{\"name\":\"a\",\"access_policy\":{\"read\":[\"CREATOR\",\"NONE\"],\"update\":[\"ANY\"]}}");
	CHECK(!cas_session_allowed(ap, "read", "c1", "c1")); /* NONE wins */
	CHECK(cas_session_allowed(ap, "update", "c1", "c2"));
	json_decref(ap);

	/* generated secrets: created, kept across an unchanged update, redacted */
	json_t *st = cas_session_state(d, NULL, err, sizeof(err));
	CHECK(st != NULL);
	const char *pw = json_string_value(json_object_get(json_object_get(json_object_get(st, "secrets"), "pw"), "value"));
	CHECK(pw != NULL && strlen(pw) == 16);
	CHECK(strstr(json_string_value(json_object_get(json_object_get(json_object_get(st, "secrets"), "crt"), "value")), "BEGIN CERTIFICATE") != NULL);
	CHECK(json_object_get(json_object_get(st, "volume_keys"), "data") != NULL);
	{
		/* the x509 secret is issued by the x509-ca secret */
		json_t *crt = json_object_get(json_object_get(st, "secrets"), "crt");
		json_t *ca = json_object_get(json_object_get(st, "secrets"), "ca");
		BIO *b1 = BIO_new_mem_buf(json_string_value(json_object_get(crt, "value")), -1);
		BIO *b2 = BIO_new_mem_buf(json_string_value(json_object_get(ca, "value")), -1);
		X509 *xc = PEM_read_bio_X509(b1, NULL, NULL, NULL), *xca = PEM_read_bio_X509(b2, NULL, NULL, NULL);
		CHECK(xc != NULL && xca != NULL && X509_verify(xc, X509_get0_pubkey(xca)) == 1);
		CHECK(strstr(json_string_value(json_object_get(crt, "key")), "PRIVATE KEY") != NULL);
		CHECK(strcmp(json_string_value(json_object_get(crt, "chain")), json_string_value(json_object_get(ca, "value"))) == 0);
		X509_free(xc);
		X509_free(xca);
		BIO_free(b1);
		BIO_free(b2);
	}
	json_t *st2 = cas_session_state(d, st, err, sizeof(err));
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_object_get(st2, "secrets"), "pw"), "value")), pw) == 0);
	json_t *red = cas_session_redacted(d);
	char *txt = json_dumps(red, 0);
	CHECK(strstr(txt, "abcd") == NULL && strstr(txt, "<redacted>") != NULL);
	free(txt);

	/* decisions */
	struct cas_evidence ev = { .simulation = 1 };
	CHECK(ward_unhex(M1, ev.measurement, 32) == 0);
	CHECK(cas_session_check_evidence(d, "myapp", "web", &ev, reason, sizeof(reason)) == 0);
	ev.measurement[0] = 0x3f;
	CHECK(cas_session_check_evidence(d, "myapp", "web", &ev, reason, sizeof(reason)) == -1);
	CHECK(strstr(reason, "attestation denied by CAS: enclave hash 3f0e") == reason);
	CHECK(strstr(reason, "not in session 'myapp' service 'web' (expected one of: " M1 ")") != NULL);
	CHECK(cas_session_check_evidence(d, "myapp", "db", &ev, reason, sizeof(reason)) == -1 &&
	      strstr(reason, "has no service 'db'") != NULL);
	json_object_del(d, "security");
	CHECK(ward_unhex(M1, ev.measurement, 32) == 0);
	CHECK(cas_session_check_evidence(d, "myapp", "web", &ev, reason, sizeof(reason)) == -1 &&
	      strstr(reason, "simulation evidence not tolerated") != NULL);

	json_t *tags = json_object();
	json_t *cfg = cas_session_config(d, st, "myapp", "web", h1, tags, NULL);
	CHECK(cfg != NULL && json_array_size(json_object_get(cfg, "argv")) == 3);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_object_get(cfg, "secrets"), "pw"), "value")), pw) == 0);
	json_decref(cfg);
	json_decref(tags);
	json_decref(red);
	json_decref(st);
	json_decref(st2);
	json_decref(d);
	return TEST_DONE();
}
