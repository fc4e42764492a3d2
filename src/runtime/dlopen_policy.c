/*
 * dlopen_policy.c: WARD_ALLOW_DLOPEN. Libraries loaded at start are part of
 * the enclave hash; after start, 0 refuses every dlopen, 2 allows any (with
 * one warning that such libraries are not authenticated). A refusal makes
 * dlopen return NULL and dlerror() explain why, as a missing library would.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "runtime/runtime.h"
#include "runtime/shield/shield.h"

static int policy = 2;
static atomic_int started;
static atomic_int warned;
static __thread char refusal[512];
static __thread int refusal_pending;

typedef void *(*dlopen_fn)(const char *, int);
typedef void *(*dlmopen_fn)(Lmid_t, const char *, int);
typedef char *(*dlerror_fn)(void);

/* The real dlerror, resolved before any dlopen: resolving it with dlsym
 * inside dlerror() would clear the very error it is asked for. */
static dlerror_fn real_dlerror;

static void resolve_dlerror(void)
{
	if (__atomic_load_n(&real_dlerror, __ATOMIC_ACQUIRE) == NULL)
		__atomic_store_n(&real_dlerror, (dlerror_fn)dlsym(RTLD_NEXT, "dlerror"), __ATOMIC_RELEASE);
}

void ward_rt_dlopen_policy_start(int p)
{
	resolve_dlerror();
	policy = p;
	atomic_store(&started, 1);
}

static int allowed(const char *file, int in_region, void *(*loaded)(const char *, int))
{
	if (!atomic_load(&started) || file == NULL || (in_region && policy != 0))
		return 1;
	if (policy == 1) {
		if (loaded(file, RTLD_LAZY | RTLD_NOLOAD) != NULL)
			return 1;
		snprintf(refusal, sizeof(refusal),
			 "%s: only libraries in an authenticated or encrypted region may be loaded (WARD_ALLOW_DLOPEN=1)", file);
		refusal_pending = 1;
		ward_error("cannot load %s: WARD_ALLOW_DLOPEN=1 allows only libraries in an authenticated or encrypted region; cover its directory with --authenticated DIR:MANIFEST or set WARD_ALLOW_DLOPEN=2",
			   file);
		return 0;
	}
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

/* With --deny-outside, the loader cannot open a library's dependencies
 * outside every region (Landlock refuses it, and the loader then reports
 * them as missing): say so once, keeping the loader's text for dlerror(). */
static void *explain(const char *file, void *h)
{
	static atomic_int said;
	const char *why;
	if (h != NULL || file == NULL || !atomic_load(&started) || !ward_shield_deny_outside())
		return h;
	why = real_dlerror();
	if (why == NULL)
		return NULL;
	snprintf(refusal, sizeof(refusal), "%s", why);
	refusal_pending = 1;
	if (!atomic_exchange(&said, 1))
		ward_error("cannot load %s: %s; with --deny-outside the libraries it needs must be in a region too (e.g. --plain /usr/lib/x86_64-linux-gnu)",
			   file, why);
	return NULL;
}

static void close_copy(const char *alt)
{
	int fd;
	if (sscanf(alt, "/proc/self/fd/%d", &fd) == 1)
		close(fd);
}

/* One decision for dlopen and dlmopen: 1 with *path the file to load (the
 * file, or the verified copy of a library in a region), 0 refused (dlerror
 * says why). Policy 0 refuses before anything of the library is prepared,
 * so not even its dependencies are loaded. */
static int gate(const char *file, char alt[64], const char **path, dlopen_fn loaded)
{
	int in_region = 0, prep = 0;
	*path = file;
	resolve_dlerror();
	if (!atomic_load(&started) || file == NULL)
		return 1;
	if (policy == 0)
		return allowed(file, 0, loaded);
	prep = ward_shield_dl_prepare(file, alt, &in_region);
	if (prep < 0) {
		snprintf(refusal, sizeof(refusal), "%s: cannot be loaded from its region (see the message above)", file);
		refusal_pending = 1;
		return 0;
	}
	if (!allowed(file, in_region, loaded)) {
		if (prep == 1)
			close_copy(alt);
		return 0;
	}
	refusal_pending = 0;
	if (prep == 1)
		*path = alt;
	return 1;
}

/* A failed load of a region's copy closes the copy (a loaded one stays
 * open: the loader remembers libraries by name). */
static void *loaded_or_closed(void *h, const char *path, const char *alt)
{
	if (h == NULL && path == alt)
		close_copy(alt);
	return h;
}

/* The C library opened by name (ctypes.CDLL("libc.so.6"), or one of its
 * stubs such as libpthread.so.0) is given to the program as the runtime
 * itself: a symbol looked up through that handle (dlsym(h, "open")) is
 * then the runtime's, found first, and every other one the C library's,
 * which the runtime depends on. Without this, such calls would go around
 * the file and process shields (plaintext written into a volume, a fork).
 * The C library is recognised by its handle, its stubs by name. */
static void *as_runtime(void *h, dlopen_fn real)
{
	static const char *const stubs[] = { "libc.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1" };
	static void *libc_h; /* a kept reference: the C library is never unloaded */
	struct link_map *lm = NULL;
	int is_libc;
	if (h == NULL)
		return h;
	void *l = __atomic_load_n(&libc_h, __ATOMIC_ACQUIRE);
	if (l == NULL) {
		l = real("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
		void *none = NULL;
		if (l != NULL && !__atomic_compare_exchange_n(&libc_h, &none, l, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			dlclose(l);
			l = none;
		}
	}
	is_libc = h == l;
	if (!is_libc && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm != NULL && lm->l_name != NULL) {
		const char *base = strrchr(lm->l_name, '/') ? strrchr(lm->l_name, '/') + 1 : lm->l_name;
		for (size_t i = 0; i < sizeof(stubs) / sizeof(stubs[0]) && !is_libc; i++)
			is_libc = strcmp(base, stubs[i]) == 0;
	}
	if (!is_libc)
		return h;
	/* rare (an explicit dlopen of the C library): a reference of its own
	 * each time, as the program's dlopen would take */
	Dl_info di;
	void *self = dladdr((void *)as_runtime, &di) != 0 && di.dli_fname != NULL
			     ? real(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD)
			     : NULL;
	if (self == NULL)
		return h;
	dlclose(h); /* the program holds the runtime instead */
	return self;
}

void *dlopen(const char *file, int mode)
{
	static dlopen_fn real;
	char alt[64];
	const char *path;
	if (real == NULL)
		real = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	if (!gate(file, alt, &path, real))
		return NULL;
	return as_runtime(explain(file, loaded_or_closed(real(path, mode), path, alt)), real);
}

void *dlmopen(Lmid_t lmid, const char *file, int mode)
{
	static dlmopen_fn real;
	static dlopen_fn plain;
	char alt[64];
	const char *path;
	if (real == NULL)
		real = (dlmopen_fn)dlsym(RTLD_NEXT, "dlmopen");
	if (plain == NULL)
		plain = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	if (!gate(file, alt, &path, plain))
		return NULL;
	void *h = explain(file, loaded_or_closed(real(lmid, path, mode), path, alt));
	return lmid == LM_ID_BASE ? as_runtime(h, plain) : h;
}

char *dlerror(void)
{
	if (refusal_pending) {
		refusal_pending = 0;
		return refusal;
	}
	resolve_dlerror(); /* a program that never called dlopen: nothing pending */
	return real_dlerror();
}
