/*
 * map.c: read-only shared mappings of a file's chunk stores, and the
 * SIGBUS guard that turns a fault in one into an error instead of a crash.
 *
 * Reads decrypt straight from a mapping of the file (no pread, no copy);
 * see docs/volume-format.md, "I/O path". A file shortened outside the
 * enclave while mapped makes the access fault with SIGBUS; the guard jumps
 * back to the read, which fails with EIO naming the chunk. The guard is a
 * SIGBUS handler installed on first use, with SA_NODEFER (the jump leaves
 * the handler without restoring the mask); a fault outside a guarded read
 * goes to the handler that was installed before (or the default action).
 *
 * WARD_VOL_MMAP=0 in the environment turns mappings off (reads then use
 * pread into a scratch buffer).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs/internal.h"

__thread sigjmp_buf *wv_map_guard;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int enabled;
static struct sigaction prev;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = wv_map_guard;
	if (jb != NULL) {
		wv_map_guard = NULL;
		siglongjmp(*jb, 1);
	}
	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, si, uc);
	} else if (prev.sa_handler == SIG_IGN || prev.sa_handler == SIG_DFL) {
		/* not ours: restore the default, and the fault repeats on return */
		signal(SIGBUS, SIG_DFL);
	} else {
		prev.sa_handler(sig);
	}
}

static void init_once(void)
{
	const char *e = getenv("WARD_VOL_MMAP");
	struct sigaction sa;
	if (e != NULL && strcmp(e, "0") == 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev) != 0)
		return;
	enabled = 1;
}

int wv_map_enabled(void)
{
	pthread_once(&once, init_once);
	return enabled;
}

void wv_map_slot(struct vnode *n, uint8_t slot, uint64_t need)
{
	int fd = slot == WVOL_SLOT_MAIN ? n->fd_main : n->fd_alt;
	uint64_t len = 1u << 20;
	if (slot > WVOL_SLOT_ALT || !wv_map_enabled())
		return;
	if (fd < 0 || need > (UINT64_MAX >> 2)) {
		n->nomap = 1;
		return;
	}
	/* reserve ahead (pages past the end of the file are never touched by a
	 * read of chunks the manifest places there), so a growing file is
	 * remapped a logarithmic number of times */
	while (len < need)
		len *= 2;
	if ((uint64_t)(size_t)len != len)
		return;
	void *p = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		n->nomap = 1; /* e.g. a file system without mmap: reads use pread */
		return;
	}
	wv_map_drop(n, slot);
	n->map[slot] = p;
	n->maplen[slot] = len;
}

void wv_map_drop(struct vnode *n, uint8_t slot)
{
	if (n->map[slot] != NULL)
		munmap(n->map[slot], (size_t)n->maplen[slot]);
	n->map[slot] = NULL;
	n->maplen[slot] = 0;
}
