/* real.c: see real.h. */
#include "runtime/shield/real.h"
#include "runtime/shield/internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#define SHIELD_REAL_DEF(name, ret, args) ret(*shield_real_##name) args;
SHIELD_REAL_LIST(SHIELD_REAL_DEF)

void shield_real_init(void)
{
	/* Idempotent: racing threads store the same values. */
#define SHIELD_REAL_SET(name, ret, args)                                                   \
	if (shield_real_##name == NULL)                                                     \
		__atomic_store_n((void **)&shield_real_##name, dlsym(RTLD_NEXT, #name), __ATOMIC_RELEASE);
	SHIELD_REAL_LIST(SHIELD_REAL_SET)
	if (shield_real_open == NULL || shield_real_read == NULL || shield_real_close == NULL) {
		static const char m[] = "ward: cannot find the C library's file calls; the runtime cannot start\n";
		(void)!syscall(1, 2, m, sizeof(m) - 1);
		_exit(125);
	}
}

__attribute__((constructor(101))) static void shield_real_ctor(void)
{
	shield_real_init();
}

void *dlsym_next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}
