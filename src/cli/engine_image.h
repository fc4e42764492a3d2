/*
 * engine_image.h: the engine image: authenticated regions over an
 * interpreter's own library trees (stdlib, lib-dynload, dist-packages), so
 * that every byte of the interpreter's Python code and C extensions is
 * verified like any other region, is part of the enclave hash, and
 * WARD_ALLOW_DLOPEN=1 can be the default.
 *
 * Contract: ward_engine_image_trees() lists, for a known engine (CPython
 * python3.X, PyPy pypy3.X, after symlinks, installed as PREFIX/bin/NAME),
 * the trees that exist on this system (PREFIX/lib/NAME; for Debian's /usr
 * also /usr/local/lib/NAME/dist-packages, /usr/lib/python3/dist-packages
 * and OpenSSL's provider modules) with their manifests in $XDG_DATA_HOME/ward/engine/ (default
 * ~/.local/share/ward/engine/), building each missing manifest with
 * `ward-tool fs authenticate` (all of them when rebuild is set). Returns the
 * number of trees, 0 for an engine that has no image (not an error), or -1
 * after printing one line. libc only: `ward` itself links no OpenSSL.
 */
#ifndef WARD_CLI_ENGINE_IMAGE_H
#define WARD_CLI_ENGINE_IMAGE_H

#include <limits.h>

#define WARD_IMAGE_MAX_TREES 4

struct ward_image_tree {
	char dir[PATH_MAX];
	char manifest[PATH_MAX];
};

/* 1 when an engine image is known for this engine (path to the executable). */
int ward_engine_image_known(const char *engine);

int ward_engine_image_trees(const char *engine, int rebuild, struct ward_image_tree out[WARD_IMAGE_MAX_TREES]);

/* What `ward run` and `ward measure` use: the option (1 --engine-image,
 * 0 --no-engine-image, -1 neither) or else WARD_ENGINE_IMAGE=0|1 decides;
 * by default every engine that has an image gets it. Returns the number of
 * trees (0: no image), or -1 after one line (an invalid WARD_ENGINE_IMAGE,
 * an image required for an engine without one, a tree that cannot be
 * authenticated). */
int ward_engine_image_select(const char *engine, int option, struct ward_image_tree out[WARD_IMAGE_MAX_TREES]);

#endif
