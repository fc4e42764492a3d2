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
};

int shield_abspath(int dirfd, const char *path, char out[PATH_MAX]);
int shield_region_count(void);
struct shield_region *shield_region_at(int i);
void shield_set_deny_outside(int on);

#endif
