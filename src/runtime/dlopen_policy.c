/*
 * dlopen_policy.c: WARD_ALLOW_DLOPEN. Libraries loaded at start are part of
 * the enclave hash; after start, 0 refuses every dlopen, 2 allows any (with
 * one warning that such libraries are not authenticated). A refusal makes
 * dlopen return NULL and dlerror() explain why, as a missing library would.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "runtime/runtime.h"

static int policy = 2;
static atomic_int started;
static atomic_int warned;
static __thread char refusal[512];
static __thread int refusal_pending;

typedef void *(*dlopen_fn)(const char *, int);
typedef void *(*dlmopen_fn)(Lmid_t, const char *, int);
typedef char *(*dlerror_fn)(void);

void ward_rt_dlopen_policy_start(int p)
{
	policy = p;
	atomic_store(&started, 1);
}

static int allowed(const char *file)
{
	if (!atomic_load(&started) || file == NULL)
		return 1;
	if (policy == 0) {
		snprintf(refusal, sizeof(refusal),
			 "%s: loading libraries after start is not permitted inside the enclave (WARD_ALLOW_DLOPEN=0)", file);
		refusal_pending = 1;
		ward_error("cannot load %s: libraries may not be loaded after start (WARD_ALLOW_DLOPEN=0); set WARD_ALLOW_DLOPEN=2 to allow unauthenticated libraries",
			   file);
		return 0;
	}
	if (policy == 2 && !atomic_exchange(&warned, 1))
		ward_warn("loading %s after start: such libraries are not part of the enclave hash and are not authenticated (WARD_ALLOW_DLOPEN=2)",
			  file);
	return 1;
}

void *dlopen(const char *file, int mode)
{
	static dlopen_fn real;
	if (real == NULL)
		real = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	if (!allowed(file))
		return NULL;
	refusal_pending = 0;
	return real(file, mode);
}

void *dlmopen(Lmid_t lmid, const char *file, int mode)
{
	static dlmopen_fn real;
	if (real == NULL)
		real = (dlmopen_fn)dlsym(RTLD_NEXT, "dlmopen");
	if (!allowed(file))
		return NULL;
	refusal_pending = 0;
	return real(lmid, file, mode);
}

char *dlerror(void)
{
	static dlerror_fn real;
	if (refusal_pending) {
		refusal_pending = 0;
		return refusal;
	}
	if (real == NULL)
		real = (dlerror_fn)dlsym(RTLD_NEXT, "dlerror");
	return real();
}
