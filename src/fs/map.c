/*
 * map.c: read-only shared mappings of a file's chunk stores, the SIGBUS
 * guard that turns a fault in one into an error instead of a crash, and
 * the warm-up of a mapping's pages.
 *
 * Small reads copy each stored chunk out of a mapping of the file into
 * private memory and decrypt it from there (no pread); a file is mapped
 * only once it has had MAP_AFTER small reads (wv_map_wanted). See
 * docs/volume-format.md, "I/O path". A file shortened outside the
 * enclave while mapped makes the access fault with SIGBUS; the guard jumps
 * back to the read, which fails with EIO naming the chunk. The guard is a
 * SIGBUS handler installed on first use, with SA_NODEFER (the jump leaves
 * the handler without restoring the mask); a fault outside a guarded read
 * goes to the handler that was installed before (or the default action).
 *
 * Warm-up. The first touch of a mapped page can cost far more than the
 * pread it replaces: a page fault (the kernel maps 64 KiB around it from
 * the page cache), and on some virtual machines an exit to the hypervisor
 * for every 32 KiB touched for the first time in this process, even when
 * the page tables are already populated (MADV_POPULATE_READ does not
 * help there: only a touch does). So a mapping is read from in 64 KiB
 * windows, each in one of two states: cold (a read of it goes through
 * pread, at most COLD_PREADS times, after which the reader touches the
 * window itself) or warm (reads decrypt from the mapping). A mapping that
 * has served WARM_AFTER cold reads is being read at random, much: it is
 * then queued for a warm-up thread (one per process; a file read a few
 * times never pays for warming all of it),
 * SCHED_BATCH), which touches every page of each window whose pages are
 * all in the page cache (mincore: a file not in memory is not read from
 * disk by the warm-up), 2 MiB at a time, and marks it warm. The thread
 * holds a reference to the mapping: a file that drops or replaces its
 * mapping (close, growth) sets `stop`, and the thread stops at its next
 * step and unmaps. A file shortened on disk while being warmed faults in
 * the thread under the same guard as a read: the warm-up of that mapping
 * stops there (the reads of the file then fail with EIO as before).
 *
 * WARD_VOL_MMAP=0 in the environment turns mappings off (reads then use
 * pread into a scratch buffer); WARD_VOL_WARM=0 turns the warm-up and the
 * cold windows off (every read of a mapped range faults in what it needs).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/internal.h"

__thread sigjmp_buf *wv_map_guard;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int enabled, warm_enabled;
static size_t pagesz;
static struct sigaction prev;

#define WIN_SHIFT 16		       /* 64 KiB windows: the kernel's fault-around */
#define WIN_WARM 0xff		       /* window state: warm; below: cold reads so far */
#ifndef COLD_PREADS
#define COLD_PREADS 4		       /* reads of a cold window through pread before a reader touches it */
#define WARM_AFTER 256		       /* cold reads of a mapping before it is queued for warm-up */
#endif
#define MAP_AFTER COLD_PREADS	       /* small reads of a file before it is mapped */
#ifndef WARM_THREAD
#define WARM_THREAD 1
#endif
#define WARM_STEP ((uint64_t)2 << 20)  /* the warm-up thread checks for `stop` this often */
#define TRACK_MAX ((uint64_t)4 << 30)  /* windows tracked per mapping (64 KiB of state); past it, mapped as is */

struct wmap {
	int refs;	/* the file's, and the warm-up thread's while queued or running */
	int stop;	/* the file dropped the mapping */
	int queued;	/* the warm-up was started (once per mapping) */
	unsigned cold;	/* cold reads so far (queued at warm_after) */
	uint8_t *base;
	size_t len;
	uint64_t end;	/* bytes worth warming: the file's size when mapped, within nwin windows */
	uint64_t nwin;
	uint8_t *win;	/* per window: WIN_WARM or the number of cold reads; NULL: not tracked */
	struct wmap *next;
};

static void wmap_put(struct wmap *w)
{
	if (w != NULL && __atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		munmap(w->base, w->len);
		free(w->win);
		free(w);
	}
}

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

/* The tuning switches, read once; ward_vol_read_env() reads them early
 * for a program whose environment is cleared before its first read. */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_mmap_off, env_warm_off;

static int env_is_zero(const char *name)
{
	const char *e = getenv(name);
	return e != NULL && strcmp(e, "0") == 0;
}

static void read_env(void)
{
	env_mmap_off = env_is_zero("WARD_VOL_MMAP");
	env_warm_off = env_is_zero("WARD_VOL_WARM");
}

void ward_vol_read_env(void)
{
	pthread_once(&env_once, read_env);
}

static void init_once(void)
{
	struct sigaction sa;
	ward_vol_read_env();
	if (env_mmap_off)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev) != 0)
		return;
	long ps = sysconf(_SC_PAGESIZE);
	pagesz = ps > 0 && ps <= (1 << WIN_SHIFT) ? (size_t)ps : 4096;
	warm_enabled = !env_warm_off;
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
	uint64_t len = 1u << 20, disk = 0;
	struct stat st;
	if (slot > WVOL_SLOT_ALT || !wv_map_enabled())
		return;
	if (fd < 0 || need > (UINT64_MAX >> 2)) {
		n->nomap = 1;
		return;
	}
	/* cover the whole file as it is on disk (random reads then map once),
	 * and reserve ahead (pages past the end of the file are never touched
	 * by a read of chunks the manifest places there), so a growing file is
	 * remapped a logarithmic number of times */
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= (UINT64_MAX >> 2))
		disk = (uint64_t)st.st_size;
	while (len < need || len < disk)
		len *= 2;
	if ((uint64_t)(size_t)len != len)
		return;
	struct wmap *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return;
	/* 2 MiB-aligned: where the page cache holds the file in 2 MiB folios,
	 * one fault maps a whole folio with one page-table entry (on some
	 * virtual machines every entry a process fills costs an exit) */
	void *p = ward_map_2m((size_t)len, PROT_READ, MAP_SHARED, fd);
	if (p == MAP_FAILED) {
		free(w);
		n->nomap = 1; /* e.g. a file system without mmap: reads use pread */
		return;
	}
	w->refs = 1;
	w->base = p;
	w->len = (size_t)len;
	if (warm_enabled) {
		w->nwin = (len < TRACK_MAX ? len : TRACK_MAX) >> WIN_SHIFT;
		w->end = disk < (w->nwin << WIN_SHIFT) ? disk : w->nwin << WIN_SHIFT;
		if ((w->win = calloc((size_t)w->nwin, 1)) == NULL)
			w->nwin = 0; /* untracked: every read maps */
	}
	wv_map_drop(n, slot);
	n->map[slot] = p;
	n->maplen[slot] = len;
	n->wm[slot] = w;
}

void wv_map_drop(struct vnode *n, uint8_t slot)
{
	struct wmap *w = n->wm[slot];
	if (w != NULL) {
		__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
		wmap_put(w); /* unmaps now, or when the warm-up thread lets go */
	}
	n->wm[slot] = NULL;
	n->map[slot] = NULL;
	n->maplen[slot] = 0;
}

/* ---- warm-up ---- */

static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER, qidle = PTHREAD_COND_INITIALIZER;
static struct wmap *qhead, *qtail, *qcur;
static unsigned warm_after = WARM_AFTER, map_after = MAP_AFTER;
static int qstarted, qfailed, qhold, qall;
static struct wv_warm_stats qstats;
static pthread_once_t qonce = PTHREAD_ONCE_INIT;

/* Touches every page of bytes [a, b) of w: 0, or -1 on a fault (the file
 * was shortened on disk). */
static int touch(struct wmap *w, uint64_t a, uint64_t b)
{
	sigjmp_buf jb;
	const uint8_t *volatile p = w->base + a; /* nothing is used after the jump */
	const uint8_t *const e = w->base + b;
	if (sigsetjmp(jb, 0) != 0)
		return -1;
	wv_map_guard = &jb;
	for (; p < e; p += pagesz)
		(void)*(volatile const uint8_t *)p;
	wv_map_guard = NULL;
	return 0;
}

/* 0: done, 1: stopped (the file dropped the mapping), 2: faulted */
static int warm_job(struct wmap *w)
{
	unsigned char vec[WARM_STEP / 512]; /* pages of one step (pages are at least 512 bytes) */
	for (uint64_t s = 0; s < w->end; s += WARM_STEP) {
		uint64_t e = w->end - s > WARM_STEP ? s + WARM_STEP : w->end;
		if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
			return 1;
		if (!__atomic_load_n(&qall, __ATOMIC_RELAXED) && mincore(w->base + s, (size_t)(e - s), vec) != 0)
			return 0;
		for (uint64_t x = s >> WIN_SHIFT; (x << WIN_SHIFT) < e; x++) {
			uint64_t a = x << WIN_SHIFT, b = e - a > (1u << WIN_SHIFT) ? a + (1u << WIN_SHIFT) : e;
			int resident = 1;
			if (__atomic_load_n(&w->win[x], __ATOMIC_RELAXED) == WIN_WARM)
				continue;
			if (!__atomic_load_n(&qall, __ATOMIC_RELAXED))
				for (uint64_t o = a; o < b && resident; o += pagesz)
					resident = vec[(o - s) / pagesz] & 1;
			if (!resident)
				continue; /* not read from disk for a warm-up */
			if (touch(w, a, b) != 0)
				return 2;
			__atomic_store_n(&w->win[x], WIN_WARM, __ATOMIC_RELAXED);
		}
	}
	return 0;
}

static void *warm_main(void *unused)
{
	(void)unused;
	/* a batch thread: its fair share of CPU (at nice 19 it hardly ran on a
	 * busy machine, and the reader then paid the first touches itself),
	 * but it never preempts the program's threads on wake-up */
	struct sched_param sp = { 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	pthread_mutex_lock(&qmu);
	for (;;) {
		while (qhead == NULL || qhold)
			pthread_cond_wait(&qcv, &qmu);
		struct wmap *w = qcur = qhead;
		if ((qhead = w->next) == NULL)
			qtail = NULL;
		pthread_mutex_unlock(&qmu);
		int r = warm_job(w);
		pthread_mutex_lock(&qmu);
		qcur = NULL;
		if (r == 0)
			qstats.done++;
		else if (r == 1)
			qstats.stopped++;
		else
			qstats.faulted++;
		pthread_mutex_unlock(&qmu);
		wmap_put(w);
		pthread_mutex_lock(&qmu);
		if (qhead == NULL)
			pthread_cond_broadcast(&qidle);
	}
	return NULL;
}

/* after fork() only the forking thread exists: release what the warm-up
 * thread held and start over */
static void child_reset(void)
{
	struct wmap *w = qhead, *cur = qcur;
	qhead = qtail = qcur = NULL;
	pthread_mutex_init(&qmu, NULL);
	pthread_cond_init(&qcv, NULL);
	pthread_cond_init(&qidle, NULL);
	qstarted = qfailed = 0;
	while (w != NULL) {
		struct wmap *next = w->next;
		wmap_put(w);
		w = next;
	}
	wmap_put(cur);
}

static void qinit(void)
{
	(void)pthread_atfork(NULL, NULL, child_reset);
}

static void enqueue(struct wmap *w)
{
	pthread_once(&qonce, qinit);
	__atomic_add_fetch(&w->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&qmu);
	if (!WARM_THREAD)
		qfailed = 1;
	if (!qstarted && !qfailed) {
		pthread_t t;
		pthread_attr_t a;
		sigset_t all, old;
		/* the thread takes no signals but the synchronous ones (SIGBUS
		 * from a shortened file goes to the guard) */
		sigfillset(&all);
		sigdelset(&all, SIGBUS);
		sigdelset(&all, SIGSEGV);
		sigdelset(&all, SIGILL);
		sigdelset(&all, SIGFPE);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, warm_main, NULL) == 0)
			qstarted = 1;
		else
			qfailed = 1;
		pthread_attr_destroy(&a);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!qstarted) {
		pthread_mutex_unlock(&qmu);
		wmap_put(w);
		return;
	}
	w->next = NULL;
	if (qtail != NULL)
		qtail->next = w;
	else
		qhead = w;
	qtail = w;
	pthread_cond_signal(&qcv);
	pthread_mutex_unlock(&qmu);
}

int wv_map_hot(struct vnode *n, uint8_t slot, uint64_t a, uint64_t b)
{
	struct wmap *w = slot <= WVOL_SLOT_ALT ? n->wm[slot] : NULL;
	int hot = 1;
	if (w == NULL || w->nwin == 0 || b <= a || (a >> WIN_SHIFT) >= w->nwin)
		return 1;
	for (uint64_t x = a >> WIN_SHIFT; x <= (b - 1) >> WIN_SHIFT && x < w->nwin; x++) {
		uint8_t s = __atomic_load_n(&w->win[x], __ATOMIC_RELAXED);
		if (s == WIN_WARM)
			continue;
		if (s >= COLD_PREADS) {
			/* read often enough: touching it now pays for itself */
			__atomic_store_n(&w->win[x], WIN_WARM, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_store_n(&w->win[x], (uint8_t)(s + 1), __ATOMIC_RELAXED); /* a lost count only delays it */
		hot = 0;
	}
	if (!hot && __atomic_add_fetch(&w->cold, 1, __ATOMIC_RELAXED) >= __atomic_load_n(&warm_after, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&w->queued, __ATOMIC_RELAXED) && !__atomic_exchange_n(&w->queued, 1, __ATOMIC_ACQ_REL))
		enqueue(w);
	return hot;
}

int wv_map_wanted(struct vnode *n)
{
	unsigned after = __atomic_load_n(&map_after, __ATOMIC_RELAXED);
	/* once past the threshold, a plain load: no shared write per read */
	if (__atomic_load_n(&n->nsmall, __ATOMIC_RELAXED) > after)
		return 1;
	return __atomic_add_fetch(&n->nsmall, 1, __ATOMIC_RELAXED) > after;
}

void wv_map_warm_test(int hold, int all)
{
	__atomic_store_n(&warm_after, 1u, __ATOMIC_RELAXED);
	__atomic_store_n(&map_after, 0u, __ATOMIC_RELAXED);
	pthread_mutex_lock(&qmu);
	qhold = hold;
	__atomic_store_n(&qall, all, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&qcv);
	pthread_mutex_unlock(&qmu);
}

void wv_map_warm_wait(struct wv_warm_stats *st)
{
	pthread_mutex_lock(&qmu);
	while (qstarted && (qhead != NULL || qcur != NULL))
		pthread_cond_wait(&qidle, &qmu);
	*st = qstats;
	pthread_mutex_unlock(&qmu);
}
