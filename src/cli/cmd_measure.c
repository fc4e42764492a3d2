/* cmd_measure.c: `ward measure`: the enclave hash of a program, computed
 * offline. Nothing of the program runs: the dynamic loader only lists what
 * it would load. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/engine_image.h"
#include "cli/settings_opts.h"
#include "core/log.h"
#include "core/crypto.h"
#include "core/util.h"

static void help(void)
{
	printf("usage: ward measure [OPTIONS] [--] PROGRAM\n\n"
	       "Prints the enclave hash (64 hex digits) that 'ward run' with the same options\n"
	       "reports for PROGRAM, without running it. Pin this value in a policy.\n\n"
	       "Options:\n" WARD_SETTINGS_HELP
	       "  --no-engine-image    measure as 'ward run --no-engine-image' does (the engine\n"
	       "                       image of CPython and PyPy is measured by default, and built\n"
	       "                       on first use like 'ward run' does; env WARD_ENGINE_IMAGE=0)\n"
	       "  --files              also list every measured file with its SHA-256\n"
	       "  -h, --help           show this help\n\n"
	       "Regions ('ward run --volume', '--authenticated', ...) are not measured: the CAS\n"
	       "checks their tags. One exception: a region given for one of the engine image's\n"
	       "trees takes that tree out of the image, which 'ward measure' cannot know.\n"
	       "The definition of the hash is in docs/measurement.md.\n");
}

int cmd_measure(int argc, char **argv)
{
	struct ward_config c;
	struct ward_measure_input in;
	char prog[PATH_MAX], rt[PATH_MAX], err[512], hex[65];
	uint8_t hash[32];
	int first, code, skipped, files = 0, image = -1, nimages = 0;
	static struct ward_image_tree trees[WARD_IMAGE_MAX_TREES];

	if (cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0;) {
		int *flag = strcmp(argv[i], "--files") == 0 ? &files : NULL;
		int val = 1;
		if (strcmp(argv[i], "--engine-image") == 0 || strcmp(argv[i], "--no-engine-image") == 0) {
			flag = &image;
			val = argv[i][2] != 'n';
		}
		if (flag == NULL) {
			i++;
			continue;
		}
		*flag = val;
		for (int j = i; j < argc; j++)
			argv[j] = argv[j + 1];
		argc--;
	}
	first = ward_parse_settings(argc, argv, &c, "measure");
	if (first < 0)
		return 2;
	if (first >= argc) {
		ward_error("no program given; usage: ward measure [OPTIONS] [--] PROGRAM");
		return 2;
	}
	if (first + 1 < argc) {
		ward_error("'ward measure' takes only the program, not its arguments (arguments are not measured): got '%s'",
			   argv[first + 1]);
		return 2;
	}
	if (ward_engine_resolve(argv[first], prog, &code, &skipped) != 0)
		return 1;
	if (ward_runtime_path(rt) != 0) {
		ward_error("cannot find libward-rt.so next to the ward binary; reinstall ward or run it from its build directory");
		return 1;
	}
	nimages = ward_engine_image_select(prog, image, trees);
	if (nimages < 0)
		return 1;
	if (nimages > 0 && !(c.explicit_mask & (1u << WARD_SET_DLOPEN)))
		c.dlopen = 1;
	ward_measure_input_init(&in);
	in.runtime = rt;
	in.engine = prog;
	for (int i = 0; i < nimages; i++) {
		in.image_dirs[i] = trees[i].dir;
		in.image_manifests[i] = trees[i].manifest;
	}
	in.nimages = (size_t)nimages;
	if (ward_engine_libraries(prog, rt, &in, err, sizeof(err)) != 0) {
		ward_error("cannot measure %s: %s", prog, err);
		return 1;
	}
	if (ward_measure(&in, &c, 1, hash, err, sizeof(err)) != 0) {
		ward_error("%s", err);
		ward_engine_free(&in);
		return 1;
	}
	if (files) {
		const char *roles[2 + WARD_MEASURE_NDEPS], *paths[2 + WARD_MEASURE_NDEPS];
		size_t nfixed = 0;
		roles[nfixed] = "runtime";
		paths[nfixed++] = rt;
		for (size_t i = 0; i < WARD_MEASURE_NDEPS; i++) {
			roles[nfixed] = "runtime-dep";
			paths[nfixed++] = in.deps[i];
		}
		roles[nfixed] = "engine";
		paths[nfixed++] = prog;
		for (size_t i = 0; i < nfixed + in.nlibs; i++) {
			uint8_t h[32];
			const char *p = i < nfixed ? paths[i] : in.libs[i - nfixed];
			if (ward_sha256_file(p, h) != 0) {
				ward_error("cannot read %s: %s", p, strerror(errno));
				ward_engine_free(&in);
				return 1;
			}
			ward_hex(h, 32, hex);
			printf("%-11s %s %s\n", i < nfixed ? roles[i] : "library", hex, p);
		}
		for (int i = 0; i < nimages; i++) {
			uint8_t h[32];
			if (ward_sha256_file(trees[i].manifest, h) != 0) {
				ward_error("cannot read %s: %s", trees[i].manifest, strerror(errno));
				ward_engine_free(&in);
				return 1;
			}
			ward_hex(h, 32, hex);
			printf("%-11s %s %s (manifest %s)\n", "image", hex, trees[i].dir, trees[i].manifest);
		}
		printf("settings heap=%llu stack=%llu dlopen=%d\n", (unsigned long long)c.heap,
		       (unsigned long long)c.stack, c.dlopen);
	}
	ward_engine_free(&in);
	ward_hex(hash, 32, hex);
	printf("%s\n", hex);
	return 0;
}
