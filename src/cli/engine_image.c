/* engine_image.c: see engine_image.h. */
#include "cli/engine_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/engine.h"
#include "core/log.h"
#include "core/util.h"

/* The interpreter's family and version from the executable's real name,
 * and its installation prefix (PREFIX/bin/NAME). */
static int identify(const char *engine, const char **family, unsigned *minor, char prefix[PATH_MAX])
{
	char real[PATH_MAX];
	char *base;
	unsigned major;
	char tail;

	if (realpath(engine, real) == NULL)
		return -1;
	base = strrchr(real, '/');
	if (base == NULL || base - real < 4 || strncmp(base - 4, "/bin", 4) != 0)
		return -1;
	*base++ = 0;
	if (sscanf(base, "python%u.%u%c", &major, minor, &tail) == 2 && major == 3)
		*family = "python";
	else if (sscanf(base, "pypy%u.%u%c", &major, minor, &tail) == 2 && major == 3)
		*family = "pypy";
	else
		return -1;
	real[strlen(real) - 4] = 0; /* drop "/bin" */
	return ward_strlcpy(prefix, real[0] ? real : "/", PATH_MAX);
}

int ward_engine_image_known(const char *engine)
{
	const char *family;
	unsigned minor;
	char prefix[PATH_MAX];
	return identify(engine, &family, &minor, prefix) == 0;
}

/* Where the engine image's manifests live. */
static int image_dir(char out[PATH_MAX])
{
	return ward_xdg_dir("XDG_DATA_HOME", ".local/share", "ward/engine", out, PATH_MAX) == 0 ? 0 : -1;
}

/* Fills t for one tree (skipped when the tree is not on this system),
 * building its manifest when missing. 1 added, 0 skipped, -1 failed. */
static int tree(const char *dir, const char *store, int rebuild, struct ward_image_tree *t)
{
	char name[PATH_MAX];
	struct stat st;
	size_t i;
	int rc;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	for (i = 0; dir[i + 1] && i < sizeof(name) - 1; i++)
		name[i] = dir[i + 1] == '/' ? '_' : dir[i + 1];
	name[i] = 0;
	if (ward_strlcpy(t->dir, dir, sizeof(t->dir)) != 0 ||
	    snprintf(t->manifest, sizeof(t->manifest), "%s/%s.manifest", store, name) >= (int)sizeof(t->manifest))
		return -1;
	if (rebuild || stat(t->manifest, &st) != 0) {
		/* `ward` itself stays libc-only (docs/runtime.md): ward-tool hashes.
		 * It writes the manifest atomically, so a crash leaves none. */
		char *argv[] = { (char *)"ward-tool", (char *)"fs", (char *)"authenticate", t->dir, (char *)"-o", t->manifest, NULL };
		/* Said once per tree; on a terminal even at the default log level,
		 * since the first start takes a moment. */
		if (isatty(2))
			fprintf(stderr, "ward: building the engine image for %s (%s, once)\n", dir, rebuild ? "rebuild" : "first use");
		else
			ward_info("building the engine image for %s (%s, once)", dir, rebuild ? "rebuild" : "first use");
		rc = ward_tool_run(argv);
		if (rc != 0) {
			ward_error("engine image: cannot authenticate %s (ward-tool fs authenticate exited with %d); run without it with --no-engine-image",
				   dir, rc);
			return -1;
		}
	}
	return 1;
}

int ward_engine_image_select(const char *engine, int option, struct ward_image_tree out[WARD_IMAGE_MAX_TREES])
{
	const char *env = getenv("WARD_ENGINE_IMAGE");
	int want = option;

	if (want < 0 && env != NULL && env[0] != 0) {
		if (strcmp(env, "0") != 0 && strcmp(env, "1") != 0) {
			ward_error("invalid WARD_ENGINE_IMAGE '%s': expected 0 or 1", env);
			return -1;
		}
		want = env[0] == '1';
	}
	if (want == 0)
		return 0;
	if (!ward_engine_image_known(engine)) {
		if (want < 0)
			return 0; /* the default applies to the engines that have an image */
		ward_error("--engine-image: no engine image is known for %s (CPython and PyPy have one); cover its library directories with --authenticated DIR:MANIFEST",
			   engine);
		return -1;
	}
	return ward_engine_image_trees(engine, 0, out);
}

int ward_engine_image_trees(const char *engine, int rebuild, struct ward_image_tree out[WARD_IMAGE_MAX_TREES])
{
	char store[PATH_MAX], dir[PATH_MAX], prefix[PATH_MAX];
	const char *family;
	unsigned minor;
	int n = 0, r;

	if (identify(engine, &family, &minor, prefix) != 0)
		return 0;
	if (image_dir(store) != 0 || ward_mkdir_p(store, 0700) != 0) {
		ward_error("engine image: cannot create the manifest store %s: %s; set XDG_DATA_HOME to a writable directory or use --no-engine-image",
			   image_dir(store) == 0 ? store : "(no HOME or XDG_DATA_HOME)", strerror(errno));
		return -1;
	}
	/* The interpreter's own tree PREFIX/lib/NAME3.X (its site-packages
	 * inside); for Debian's /usr, also the local dist-packages pip installs
	 * into and the shared dist-packages, in sys.path order, and the system
	 * OpenSSL's provider modules, which OpenSSL loads with dlopen when a
	 * program asks for one (python3-cryptography loads "legacy" when it
	 * starts): under WARD_ALLOW_DLOPEN=1 only a verified one may load. */
	int ntrees = strcmp(prefix, "/usr") == 0 ? 4 : 1;
	for (int i = 0; i < ntrees; i++) {
		int len;
		if (i == 0)
			len = snprintf(dir, sizeof(dir), "%s/lib/%s3.%u", prefix, family, minor);
		else if (i == 1)
			len = snprintf(dir, sizeof(dir), "/usr/local/lib/%s3.%u/dist-packages", family, minor);
		else if (i == 2)
			len = snprintf(dir, sizeof(dir), "/usr/lib/python3/dist-packages");
		else if (WARD_OSSL_MODULES_DIR[0] == '/')
			len = snprintf(dir, sizeof(dir), "%s", WARD_OSSL_MODULES_DIR);
		else
			continue;
		if (len < 0 || len >= (int)sizeof(dir))
			return -1;
		r = tree(dir, store, rebuild, &out[n]);
		if (r < 0)
			return -1;
		n += r;
	}
	return n;
}
