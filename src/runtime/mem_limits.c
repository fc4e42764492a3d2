/*
 * mem_limits.c: the enclave's memory bounds.
 *
 * Heap: RLIMIT_DATA is set to WARD_HEAP, so that every private writable
 * mapping and brk past it fails with ENOMEM. The allocation entry points are
 * wrapped only to notice such a failure and say, once, which setting to
 * raise; they forward to the C library's allocator unchanged.
 * Stack: RLIMIT_STACK is WARD_STACK (set by `ward run` before exec, and
 * again here for threads); a fault in the main thread's stack guard area
 * prints a line naming WARD_STACK instead of a bare segmentation fault.
 */
/* mmap and mmap64 are both defined here; the header must not redirect one to the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "runtime/runtime.h"
#include "runtime/shield/shield.h"

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer its allocator owns malloc and its shadow memory
 * would exceed any RLIMIT_DATA: the heap bound is not applied there. */
#define WARD_HEAP_BOUND 0
#else
#define WARD_HEAP_BOUND 1
#endif

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int oom_reported;
static uint64_t heap_limit;
static uintptr_t stack_top, stack_low;
static uint64_t thread_stack; /* WARD_STACK */

static void report_oom(size_t size)
{
	char lim[32], more[32];
	if (heap_limit == 0 || atomic_exchange(&oom_reported, 1))
		return;
	ward_format_size(heap_limit, lim, sizeof(lim));
	ward_format_size(heap_limit * 2, more, sizeof(more));
	ward_error("out of enclave memory: an allocation of %zu bytes failed because the heap is limited to WARD_HEAP=%s; raise it with --heap or WARD_HEAP (e.g. WARD_HEAP=%s)",
		   size, lim, more);
}

#if WARD_HEAP_BOUND
void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	if (__builtin_expect(p == NULL, 0))
		report_oom(n);
	return p;
}

void *calloc(size_t a, size_t b)
{
	void *p = __libc_calloc(a, b);
	if (__builtin_expect(p == NULL, 0) && a != 0 && b != 0)
		report_oom(a * b);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = __libc_realloc(old, n);
	if (__builtin_expect(p == NULL, 0) && n != 0)
		report_oom(n);
	return p;
}

void *memalign(size_t align, size_t n)
{
	void *p = __libc_memalign(align, n);
	if (p == NULL && errno == ENOMEM)
		report_oom(n);
	return p;
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	p = __libc_memalign(align, n);
	if (p == NULL) {
		report_oom(n);
		return ENOMEM;
	}
	*out = p;
	return 0;
}

/* Each thread's stack (WARD_STACK unless the program sizes it) is private
 * writable memory, bounded by WARD_HEAP with the rest: a program that
 * starts many threads meets the bound as EAGAIN from pthread_create, with
 * no allocation failing where the line above would be printed. */
typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static pthread_create_fn real;
	static atomic_int said;
	if (real == NULL)
		real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	if (real == NULL)
		return EAGAIN;
	int rc = real(t, attr, fn, arg);
	if (rc == EAGAIN && heap_limit != 0 && !atomic_exchange(&said, 1)) {
		char lim[32], st[32];
		ward_format_size(heap_limit, lim, sizeof(lim));
		ward_format_size(thread_stack, st, sizeof(st));
		ward_error("cannot start a thread: its stack does not fit in the heap bound (WARD_HEAP=%s, and each "
			   "thread's stack takes WARD_STACK=%s of it); give threads smaller stacks with --stack (e.g. "
			   "--stack 1M) or raise --heap",
			   lim, st);
	}
	return rc;
}

#endif /* WARD_HEAP_BOUND */

/* Anonymous private writable mappings are how CPython's and PyPy's own
 * allocators get memory; a failure there is the heap limit too. */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;
	if (!(flags & MAP_ANONYMOUS) && ward_shield_fd(fd)) /* a protected file: the shield maps it */
		return ward_shield_mmap(addr, len, prot, flags, fd, off);
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if ((uintptr_t)p > (uintptr_t)-4096) {
		errno = -(int)(intptr_t)p;
		if (errno == ENOMEM && (flags & MAP_ANONYMOUS) && !(flags & MAP_SHARED) && (prot & PROT_WRITE))
			report_oom(len);
		return MAP_FAILED;
	}
	if (flags & MAP_FIXED) /* it may have replaced a shield mapping */
		ward_shield_unmapped(p, len);
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
	__attribute__((alias("mmap")));

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	(void)uc;
	/* The main stack grows down from stack_top to stack_low; the kernel
	 * keeps a guard gap of up to 1 MiB below it. */
	if (stack_top != 0 && a < stack_top && a + (1u << 20) >= stack_low && a < stack_low + 65536) {
		static const char a1[] = "ward: stack overflow: the program used more than WARD_STACK=";
		static const char a2[] = " of stack; raise it with --stack or WARD_STACK (e.g. WARD_STACK=";
		static const char a3[] = ")\n";
		char lim[32], more[32];
		ward_format_size((uint64_t)(stack_top - stack_low), lim, sizeof(lim));
		ward_format_size((uint64_t)(stack_top - stack_low) * 4, more, sizeof(more));
		(void)!write(STDERR_FILENO, a1, sizeof(a1) - 1);
		(void)!write(STDERR_FILENO, lim, strlen(lim));
		(void)!write(STDERR_FILENO, a2, sizeof(a2) - 1);
		(void)!write(STDERR_FILENO, more, strlen(more));
		(void)!write(STDERR_FILENO, a3, sizeof(a3) - 1);
	}
	/* Let the default action happen when the fault repeats. */
	signal(sig, SIG_DFL);
}

static void find_main_stack(uint64_t limit)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		if (strstr(line, "[stack]") != NULL && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			stack_top = hi;
			stack_low = hi > limit ? hi - limit : 0;
			break;
		}
	}
	fclose(f);
}

static int apply_heap_limit(uint64_t heap)
{
	struct rlimit rl;

	if (!WARD_HEAP_BOUND)
		return 0;
	heap_limit = heap;
	if (getrlimit(RLIMIT_DATA, &rl) != 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < heap) {
		ward_warn("the system limits data memory to %llu bytes, below WARD_HEAP; the lower limit applies",
			  (unsigned long long)rl.rlim_max);
		heap_limit = rl.rlim_max;
		return 0;
	}
	rl.rlim_cur = rl.rlim_max = heap;
	return setrlimit(RLIMIT_DATA, &rl);
}

int ward_rt_limits_apply(const struct ward_config *c)
{
	struct rlimit rl;
	static char altstack[64 * 1024];
	stack_t ss;
	struct sigaction sa;

	if (apply_heap_limit(c->heap) != 0)
		return -1;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= c->stack)) {
		rl.rlim_cur = c->stack;
		if (setrlimit(RLIMIT_STACK, &rl) != 0)
			return -1;
	}
	find_main_stack(c->stack);
	thread_stack = c->stack;
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		return -1;
	return 0;
}
