/* measure_self.c: the enclave hash of the running process: the runtime
 * itself, the executable, and every object in the link map at start. */
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/crypto_load.h"
#include "runtime/measure.h"
#include "runtime/runtime.h"

struct collect {
	struct ward_measure_input *in;
	const char *self;
	int overflow;
};

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct collect *c = data;
	(void)size;
	/* The executable has an empty name, the vDSO a name without a slash:
	 * neither is a file the loader read. */
	if (info->dlpi_name == NULL || strchr(info->dlpi_name, '/') == NULL)
		return 0;
	if (strcmp(info->dlpi_name, c->self) == 0)
		return 0;
	if (c->in->nlibs >= WARD_MEASURE_MAX_LIBS) {
		c->overflow = 1;
		return 1;
	}
	c->in->libs[c->in->nlibs++] = info->dlpi_name;
	return 0;
}

int ward_rt_measure_self(const struct ward_config *cfg, uint8_t out[32], char *err, size_t errlen)
{
	static struct ward_measure_input in;
	static char exe[PATH_MAX];
	struct collect c = { &in, NULL, 0 };
	Dl_info self;
	ssize_t n;

	if (dladdr((void *)ward_rt_measure_self, &self) == 0 || self.dli_fname == NULL) {
		snprintf(err, errlen, "cannot locate the runtime library");
		return -1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot read /proc/self/exe");
		return -1;
	}
	exe[n] = 0;
	ward_measure_input_init(&in);
	in.runtime = self.dli_fname;
	in.engine = exe;
	c.self = self.dli_fname;
	dl_iterate_phdr(add_object, &c);
	if (c.overflow) {
		snprintf(err, errlen, "more than %d libraries loaded at start", WARD_MEASURE_MAX_LIBS);
		return -1;
	}
	/* A warm start needs neither hashing nor OpenSSL. */
	if (ward_measure_lookup(&in, cfg, out) == 0)
		return 0;
	if (ward_rt_crypto_load(0, err, errlen) != 0)
		return -1;
	return ward_measure(&in, cfg, 1, out, err, errlen);
}
