/* cmd_engine_image.c: `ward engine-image`: shows (and rebuilds) the engine
 * image of an interpreter: the authenticated trees `ward run` covers by
 * default, their manifests and volume tags. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/engine_image.h"
#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"

static void help(void)
{
	printf("usage: ward engine-image [--rebuild] [PROGRAM]\n\n"
	       "Shows the engine image of PROGRAM (default python3): the interpreter's own\n"
	       "trees (stdlib and lib-dynload, dist-packages) that 'ward run' covers with\n"
	       "authenticated regions, each with its manifest and volume tag. The manifests\n"
	       "are built on first use and measured into the enclave hash; a file changed\n"
	       "afterwards is refused when read.\n\n"
	       "Options:\n"
	       "  --rebuild            authenticate the trees again (after upgrading the\n"
	       "                       interpreter or its packages on purpose); the enclave hash\n"
	       "                       changes, so update the policies that pin it\n"
	       "  -h, --help           show this help\n\n"
	       "Manifests live in $XDG_DATA_HOME/ward/engine (default ~/.local/share/ward/engine).\n"
	       "CPython (python3.X) and PyPy (pypy3.X) have an engine image.\n");
}

int cmd_engine_image(int argc, char **argv)
{
	static struct ward_image_tree t[WARD_IMAGE_MAX_TREES];
	const char *program = "python3";
	char prog[PATH_MAX], err[WARD_VOL_ERR_LEN], hx[2 * WARD_VOL_TAG_LEN + 1];
	int rebuild = 0, n, code, skipped, status = 0;

	if (cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	for (int i = 1, opts = 1, have = 0; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0)
			opts = 0;
		else if (opts && strcmp(argv[i], "--rebuild") == 0)
			rebuild = 1;
		else if (opts && argv[i][0] == '-') {
			ward_error("engine-image: unknown option '%s'; see 'ward engine-image --help'", argv[i]);
			return 2;
		} else if (have++) {
			ward_error("engine-image: takes one PROGRAM; got '%s' after '%s'", argv[i], program);
			return 2;
		} else
			program = argv[i];
	}
	if (ward_engine_resolve(program, prog, &code, &skipped) != 0)
		return 1;
	if (!ward_engine_image_known(prog)) {
		ward_error("engine-image: no engine image is known for %s (CPython and PyPy have one)", prog);
		return 1;
	}
	n = ward_engine_image_trees(prog, rebuild, t);
	if (n < 0)
		return 1;
	printf("engine %s\n", prog);
	for (int i = 0; i < n; i++) {
		struct ward_vol_opts vo = { .flags = WARD_VOL_RDONLY, .kind = WARD_VOL_AUTHENTICATED, .manifest = t[i].manifest };
		uint8_t tag[WARD_VOL_TAG_LEN];
		ward_vol *v;
		if (ward_vol_open(t[i].dir, &vo, &v, err) != 0) {
			ward_error("engine image %s: %s; rebuild it with 'ward engine-image --rebuild %s'", t[i].dir, err, program);
			status = 1;
			continue;
		}
		if (ward_vol_tag(v, tag) != 0) {
			ward_error("engine image %s: cannot compute the tag", t[i].dir);
			status = 1;
		} else {
			ward_hex(tag, sizeof(tag), hx);
			printf("tree %s\n  manifest %s\n  tag %s\n", t[i].dir, t[i].manifest, hx);
		}
		ward_vol_close(v, NULL);
	}
	return status;
}
