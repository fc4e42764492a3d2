/*
 * measure.h: the enclave hash (see docs/measurement.md for the exact
 * definition).
 *
 *   SHA-256 over "WARD-ENCLAVE-V1\n",
 *     "runtime <sha256 of libward-rt.so>\n",
 *     "runtime-dep <sha256>\n" for OpenSSL's libcrypto, then libssl, which the
 *       runtime loads on demand (always measured, loaded or not),
 *     "engine <sha256 of the executable>\n",
 *     "library <sha256>\n" for every other object loaded at start, sorted,
 *     "image <dir> <sha256 of its manifest>\n" for every tree of the engine
 *       image, sorted by dir (none without an engine image),
 *     "heap <bytes>\nstack <bytes>\ndlopen <0|1|2>\n".
 *
 * Contract: the same inputs give the same hash whether computed inside the
 * process (runtime) or offline (`ward measure`). File hashes may come from
 * a per-user cache keyed by device, inode, size, mtime and ctime (ctime
 * cannot be set by an unprivileged process); the cache is ignored unless it
 * is owned by the caller and not writable by anyone else. The cache also
 * keeps whole results keyed by the identities of all files and the
 * settings, so that a warm start needs no hashing at all (and no OpenSSL:
 * ward_measure_lookup() makes no OpenSSL call; ward_measure() does).
 */
#ifndef WARD_RUNTIME_MEASURE_H
#define WARD_RUNTIME_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"
#include "runtime/config.h"

#define WARD_MEASURE_MAX_LIBS 256
#define WARD_MEASURE_MAX_IMAGES 8

#define WARD_MEASURE_RUNTIME_DEPS { WARD_LIBCRYPTO_PATH, WARD_LIBSSL_PATH }
#define WARD_MEASURE_NDEPS 2

struct ward_measure_input {
	const char *runtime;
	const char *deps[WARD_MEASURE_NDEPS]; /* filled by ward_measure_input_init */
	const char *engine;
	const char *libs[WARD_MEASURE_MAX_LIBS];
	size_t nlibs;
	/* the engine image: authenticated trees and their manifests */
	const char *image_dirs[WARD_MEASURE_MAX_IMAGES];
	const char *image_manifests[WARD_MEASURE_MAX_IMAGES];
	size_t nimages;
	/* Outputs: each manifest's SHA-256 and the identity of the file that
	 * hashed to it (image_known[i] set only when both are sure: the file
	 * did not change while it was hashed, or the hash came from the cache
	 * for exactly this identity). */
	struct ward_file_id image_id[WARD_MEASURE_MAX_IMAGES];
	uint8_t image_sha256[WARD_MEASURE_MAX_IMAGES][32];
	int image_known[WARD_MEASURE_MAX_IMAGES];
};

/* Zeroes in and sets the runtime dependencies. */
void ward_measure_input_init(struct ward_measure_input *in);

/* The enclave hash from the cache alone: 0 on a hit, -1 otherwise. On a
 * hit, also the image outputs of in (for manifests whose hash line is in the
 * cache). */
int ward_measure_lookup(struct ward_measure_input *in, const struct ward_config *cfg, uint8_t out[32]);

/* Computes the enclave hash. use_cache: consult and update the hash cache.
 * On failure writes a one-line reason to err. */
int ward_measure(struct ward_measure_input *in, const struct ward_config *cfg, int use_cache,
		 uint8_t out[32], char *err, size_t errlen);

/* Path of the per-user hash cache (in $XDG_CACHE_HOME/ward or ~/.cache/ward). */
int ward_measure_cache_path(char *out, size_t outlen);

#endif
