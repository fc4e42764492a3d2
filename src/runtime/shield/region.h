/*
 * region.h: one region of the shield (root directory, kind, and the volume
 * behind it). Private to the shield.
 */
#ifndef WARD_RUNTIME_SHIELD_REGION_H
#define WARD_RUNTIME_SHIELD_REGION_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "runtime/shield/shield.h"

#define SHIELD_MAX_REGIONS 32

struct shield_region {
	enum shield_kind kind;
	char root[PATH_MAX];
	size_t rootlen;
	char arg[PATH_MAX];      /* key file (encrypted) or manifest (authenticated) */
	void *vol;               /* the volume library's handle */
	pthread_mutex_t vlock;   /* serialises calls into the volume */
	int dirty;               /* writes not yet committed */
	uint8_t key[32];         /* a key given directly (the CAS's), wiped once opened */
	int has_key;
	int create;              /* with has_key: create the volume if the directory holds none */
	int engine;              /* authenticated region of the engine image */
	int readonly;            /* encrypted: opened read-only (shared with other readers) */
	struct shield_ec *ec;    /* its warm-start cache (engine_cache.c), or NULL */
};

struct ward_vstat;
typedef struct ward_vol ward_vol;

/* engine_cache.c: the engine image's warm start (simulation mode only).
 * shield_ec_open_volume() opens an engine region's volume (shield_inside
 * set), using and filling the cache when it may: 0 or -errno with verr (or
 * err for -ENOPKG: OpenSSL could not be loaded). shield_ec_open() returns
 * a descriptor of the file abs (rel in region r, stat vst from the volume)
 * that the program may use as it is, or -1: open it the usual way; with
 * record, a file not yet known is checked in full and remembered. */
int shield_ec_enabled(void);
int shield_ec_open_volume(struct shield_region *r, ward_vol **v, char *verr, char *err, size_t errlen);
int shield_ec_open(struct shield_region *r, const char *abs, const char *rel, int flags, const struct ward_vstat *vst,
		   int record);
void shield_ec_close(struct shield_region *r);

int shield_region_count(void);
struct shield_region *shield_region_at(int i);
void shield_set_deny_outside(int on);

#endif
