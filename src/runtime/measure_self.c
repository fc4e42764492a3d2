/* measure_self.c: the enclave hash of the running process: the runtime
 * itself, the executable, and every object in the link map at start. */
#include <dlfcn.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The engine image's trees, from the "engine" lines of WARD_SHIELD
 * (KIND<TAB>DIR<TAB>MANIFEST, set by ward run; start.c checks the rest). */
static int add_images(struct ward_measure_input *in, char *err, size_t errlen)
{
	static char paths[WARD_MEASURE_MAX_IMAGES][2][PATH_MAX];
	const char *p = getenv("WARD_SHIELD");

	while (p != NULL && *p) {
		const char *end = strchr(p, '\n'), *t1, *t2;
		if (end == NULL)
			end = p + strlen(p);
		t1 = memchr(p, '\t', (size_t)(end - p));
		t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;
		if (t1 != NULL && t2 != NULL && t1 - p == 6 && strncmp(p, "engine", 6) == 0) {
			size_t dl = (size_t)(t2 - t1 - 1), ml = (size_t)(end - t2 - 1);
			if (in->nimages >= WARD_MEASURE_MAX_IMAGES || dl >= PATH_MAX || ml >= PATH_MAX) {
				snprintf(err, errlen, "invalid engine image in WARD_SHIELD (too many trees or a path too long)");
				return -1;
			}
			memcpy(paths[in->nimages][0], t1 + 1, dl);
			paths[in->nimages][0][dl] = 0;
			memcpy(paths[in->nimages][1], t2 + 1, ml);
			paths[in->nimages][1][ml] = 0;
			in->image_dirs[in->nimages] = paths[in->nimages][0];
			in->image_manifests[in->nimages] = paths[in->nimages][1];
			in->nimages++;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static struct ward_measure_input in;

int ward_rt_image_manifest(const char *manifest, uint8_t sha[32], struct ward_file_id *id)
{
	for (size_t i = 0; i < in.nimages && i < WARD_MEASURE_MAX_IMAGES; i++)
		if (in.image_known[i] && strcmp(in.image_manifests[i], manifest) == 0) {
			memcpy(sha, in.image_sha256[i], 32);
			*id = in.image_id[i];
			return 0;
		}
	return -1;
}

int ward_rt_measure_self(const struct ward_config *cfg, uint8_t out[32], char *err, size_t errlen)
{
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
	if (add_images(&in, err, errlen) != 0)
		return -1;
	/* A warm start needs neither hashing nor OpenSSL. */
	if (ward_measure_lookup(&in, cfg, out) == 0)
		return 0;
	if (ward_rt_crypto_load(0, err, errlen) != 0)
		return -1;
	return ward_measure(&in, cfg, 1, out, err, errlen);
}
