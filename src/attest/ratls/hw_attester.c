/* hw_attester.c: see hw_attester.h. Kernel ABI: Documentation/ABI/testing/
 * configfs-tsm; Gramine: Documentation "Attestation and Secret Provisioning"
 * (/dev/attestation pseudo-files). */
#include "attest/ratls/hw_attester.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/util.h"

#define GRAMINE_DIR "/dev/attestation"
#define TSM_DIR "/sys/kernel/config/tsm/report"
#define SMALL_MAX 64

#define seterr(...) ((void)ward_fail(__VA_ARGS__)) /* src/core/util.h */

static int mkpath(char *out, const struct ward_hw_opts *o, const char *a, const char *b)
{
	const char *root = o && o->root ? o->root : "";
	int n = snprintf(out, PATH_MAX, "%s%s%s%s", root, a, b ? "/" : "", b ? b : "");
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

static void hook(const struct ward_hw_opts *o, enum ward_hw_event ev, const char *path)
{
	if (o && o->hook)
		o->hook(ev, path, o->hook_arg);
}

/* Reads a whole pseudo-file (at most max bytes). -1 with errno on failure. */
static int read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	return ward_read_file(path, max, out, len);
}

static int write_all(const struct ward_hw_opts *o, const char *path, const void *data, size_t len,
		     char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t w;

	if (fd < 0) {
		seterr(err, errlen, "cannot open %s for writing: %s", path, strerror(errno));
		return -1;
	}
	do
		w = write(fd, data, len);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w != len) {
		seterr(err, errlen, "cannot write %zu bytes to %s: %s", len, path,
		       w < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	hook(o, WARD_HW_EV_WRITE, path);
	return 0;
}

/* A small text attribute, trailing newline removed. */
static int read_text(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (read_all(path, SMALL_MAX, &buf, &len) != 0) {
		seterr(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == 0))
		len--;
	buf[len] = 0;
	if (strlen((char *)buf) != len || ward_strlcpy(out, (char *)buf, outlen) != 0) {
		seterr(err, errlen, "%s holds unexpected content", path);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

static int read_u64(const char *path, uint64_t *v, char *err, size_t errlen)
{
	char t[SMALL_MAX + 1];
	if (read_text(path, t, sizeof(t), err, errlen) != 0)
		return -1;
	if (ward_parse_u64(t, v) != 0) {
		seterr(err, errlen, "%s is not a number ('%s')", path, t);
		return -1;
	}
	return 0;
}

/* entry is shorter than PATH_MAX - 32 (checked when it is made). */
static void attr(char *out, const char *entry, const char *name)
{
	size_t n = strlen(entry), m = strlen(name);
	memcpy(out, entry, n);
	out[n] = '/';
	memcpy(out + n + 1, name, m + 1);
}

static int exists(const char *path, int want_dir)
{
	struct stat st;
	return stat(path, &st) == 0 && (!want_dir || S_ISDIR(st.st_mode));
}

int ward_hw_detect(const struct ward_hw_opts *o, enum ward_hw_source *out, char *err,
		   size_t errlen)
{
	char p[PATH_MAX], q[PATH_MAX];
	if (mkpath(p, o, GRAMINE_DIR, "attestation_type") != 0 || mkpath(q, o, TSM_DIR, NULL) != 0) {
		seterr(err, errlen, "TEE root path is too long");
		return -1;
	}
	if (exists(p, 0)) {
		*out = WARD_HW_GRAMINE_SGX;
		return 0;
	}
	if (exists(q, 1)) {
		*out = WARD_HW_TSM;
		return 0;
	}
	seterr(err, errlen,
	       "no hardware attestation interface: neither %s (Gramine-SGX) nor %s (TDX/SEV-SNP guest with configfs-tsm) exists; use WARD_MODE=sim on this machine",
	       p, q);
	return -1;
}

static int check_echo(const struct ward_quote_fields *f, const uint8_t rd[64], const char *what,
		      char *err, size_t errlen)
{
	if (!ward_ct_equal(f->report_data, rd, 64)) {
		seterr(err, errlen,
		       "%s returned evidence for other report data than requested (another process used the interface at the same time?); retry",
		       what);
		return -1;
	}
	return 0;
}

int ward_hw_attest_gramine(const struct ward_hw_opts *o, const uint8_t report_data[64],
			   struct ward_hw_evidence *out, char *err, size_t errlen)
{
	char p[PATH_MAX], type[SMALL_MAX + 1], e2[200] = "";
	struct ward_hw_evidence ev;

	memset(&ev, 0, sizeof(ev));
	if (mkpath(p, o, GRAMINE_DIR, "attestation_type") != 0) {
		seterr(err, errlen, "TEE root path is too long");
		return -1;
	}
	if (read_text(p, type, sizeof(type), err, errlen) != 0)
		return -1;
	if (strcmp(type, "dcap") != 0) {
		seterr(err, errlen,
		       "Gramine remote attestation type is '%s', not 'dcap': set sgx.remote_attestation = \"dcap\" in the Gramine manifest",
		       type);
		return -1;
	}
	mkpath(p, o, GRAMINE_DIR, "user_report_data");
	if (write_all(o, p, report_data, 64, err, errlen) != 0)
		return -1;
	mkpath(p, o, GRAMINE_DIR, "quote");
	if (read_all(p, WARD_HW_EVIDENCE_MAX, &ev.evidence, &ev.len) != 0) {
		seterr(err, errlen, "cannot read the SGX quote from %s: %s", p,
		       errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		return -1;
	}
	if (ward_qf_parse(ev.evidence, ev.len, WARD_CLAIMS_DCAP, &ev.fields, e2, sizeof(e2)) != 0 ||
	    ev.fields.kind != WARD_QF_SGX) {
		seterr(err, errlen, "%s is not an SGX quote: %s", p,
		       ev.fields.kind != WARD_QF_SGX && e2[0] == 0 ? "TDX quote" : e2);
		free(ev.evidence);
		return -1;
	}
	if (check_echo(&ev.fields, report_data, "Gramine", err, errlen) != 0) {
		free(ev.evidence);
		return -1;
	}
	ev.source = WARD_HW_GRAMINE_SGX;
	ward_strlcpy(ev.provider, "gramine-sgx-dcap", sizeof(ev.provider));
	*out = ev;
	return 0;
}

int ward_hw_attest_tsm(const struct ward_hw_opts *o, const uint8_t report_data[64],
		       struct ward_hw_evidence *out, char *err, size_t errlen)
{
	char dir[PATH_MAX], entry[PATH_MAX], p[PATH_MAX], name[64], e2[200] = "";
	uint8_t rnd[8];
	char rh[17];
	uint64_t g0, g1, writes = 0;
	struct ward_hw_evidence ev;
	int ret = -1;

	memset(&ev, 0, sizeof(ev));
	if (mkpath(dir, o, TSM_DIR, NULL) != 0 || ward_random(rnd, sizeof(rnd)) != 0) {
		seterr(err, errlen, "TEE root path is too long");
		return -1;
	}
	ward_hex(rnd, sizeof(rnd), rh);
	snprintf(name, sizeof(name), "ward-%ld-%s", (long)getpid(), rh);
	if (mkpath(entry, o, TSM_DIR, name) != 0 || strlen(entry) > PATH_MAX - 32) {
		seterr(err, errlen, "TEE root path is too long");
		return -1;
	}
	if (mkdir(entry, 0700) != 0) {
		seterr(err, errlen, "cannot create report entry %s: %s%s", entry, strerror(errno),
		       errno == ENOENT ? " (kernel without configfs-tsm, or configfs not mounted)" : "");
		return -1;
	}
	hook(o, WARD_HW_EV_MKDIR, entry);

	attr(p, entry, "generation");
	if (read_u64(p, &g0, err, errlen) != 0)
		goto out;
	attr(p, entry, "inblob");
	if (write_all(o, p, report_data, 64, err, errlen) != 0)
		goto out;
	writes++;
	if (o && o->privlevel >= 0) {
		char lv[8];
		int n = snprintf(lv, sizeof(lv), "%d", o->privlevel);
		attr(p, entry, "privlevel");
		if (write_all(o, p, lv, (size_t)n, err, errlen) != 0)
			goto out;
		writes++;
	}
	attr(p, entry, "outblob");
	if (read_all(p, WARD_HW_EVIDENCE_MAX, &ev.evidence, &ev.len) != 0) {
		seterr(err, errlen, "cannot read the report from %s: %s", p,
		       errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		goto out;
	}
	attr(p, entry, "auxblob");
	if (exists(p, 0) && read_all(p, WARD_HW_EVIDENCE_MAX, &ev.auxblob, &ev.auxlen) != 0) {
		seterr(err, errlen, "cannot read %s: %s", p, strerror(errno));
		goto out;
	}
	attr(p, entry, "generation");
	if (read_u64(p, &g1, err, errlen) != 0)
		goto out;
	if (g1 != g0 + writes) {
		seterr(err, errlen,
		       "report entry %s changed while in use (generation %llu, expected %llu): another process wrote to it; retry",
		       entry, (unsigned long long)g1, (unsigned long long)(g0 + writes));
		goto out;
	}
	attr(p, entry, "provider");
	if (read_text(p, ev.provider, sizeof(ev.provider), err, errlen) != 0)
		goto out;
	if (strcmp(ev.provider, "tdx_guest") == 0) {
		if (ward_qf_parse(ev.evidence, ev.len, WARD_CLAIMS_DCAP, &ev.fields, e2, sizeof(e2)) != 0 ||
		    ev.fields.kind != WARD_QF_TDX) {
			seterr(err, errlen, "outblob of provider tdx_guest is not a TDX quote: %s",
			       e2[0] ? e2 : "SGX quote");
			goto out;
		}
	} else if (strcmp(ev.provider, "sev_guest") == 0) {
		if (ward_qf_parse(ev.evidence, ev.len, WARD_CLAIMS_SNP, &ev.fields, e2, sizeof(e2)) != 0) {
			seterr(err, errlen, "outblob of provider sev_guest is not an SEV-SNP report: %s", e2);
			goto out;
		}
	} else {
		seterr(err, errlen, "configfs-tsm provider '%s' is not supported (tdx_guest, sev_guest)",
		       ev.provider);
		goto out;
	}
	if (check_echo(&ev.fields, report_data, ev.provider, err, errlen) != 0)
		goto out;
	ev.source = WARD_HW_TSM;
	ret = 0;
out:
	hook(o, WARD_HW_EV_RMDIR, entry);
	if (rmdir(entry) != 0 && ret == 0) {
		seterr(err, errlen, "cannot remove report entry %s: %s", entry, strerror(errno));
		ret = -1;
	}
	if (ret == 0) {
		*out = ev;
	} else
		ward_hw_evidence_free(&ev);
	return ret;
}

int ward_hw_attest(const struct ward_hw_opts *o, const uint8_t report_data[64],
		   struct ward_hw_evidence *out, char *err, size_t errlen)
{
	enum ward_hw_source s;
	if (ward_hw_detect(o, &s, err, errlen) != 0)
		return -1;
	if (s == WARD_HW_GRAMINE_SGX)
		return ward_hw_attest_gramine(o, report_data, out, err, errlen);
	return ward_hw_attest_tsm(o, report_data, out, err, errlen);
}

void ward_hw_evidence_free(struct ward_hw_evidence *e)
{
	if (e == NULL)
		return;
	free(e->evidence);
	free(e->auxblob);
	e->evidence = e->auxblob = NULL;
	e->len = e->auxlen = 0;
}
