/*
 * worker.c: one helper thread that shares large chunk runs (decryption or
 * encryption) with the caller, so that big reads and writes use both cores.
 *
 * Work is shared dynamically: the run is cut into grains that the caller
 * and the helper claim from an atomic cursor, so a helper that gets its
 * core late (or never, on a busy machine) costs at most one grain of
 * waiting; a job the helper has not picked up when the caller has claimed
 * everything is withdrawn. The helper starts on first use; when it is busy
 * with another caller's run, the caller does all the work itself (no
 * queueing). Between jobs the helper spins briefly (back-to-back requests
 * then skip a sleep and a wake-up), unless the last job came later than
 * the spin would have lasted. A forked child starts without the helper
 * (restarted on use); ward_vol_helper_retire() ends it and waits until it
 * is gone (restarted on use too).
 *
 * Also: wv_scratch(), a per-thread buffer for ciphertext on its way to disk,
 * and wv_record_buf(), one for building a manifest record.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fs/internal.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_job = PTHREAD_COND_INITIALIZER, cv_done = PTHREAD_COND_INITIALIZER;
static int started, failed_start, busy, posted, helper_in, retire;
static pthread_t helper_thread; /* while started */

/* the current job (one at a time: `busy`); fields set under mu before `posted` */
static int (*job_fn)(void *, uint64_t, uint64_t);
static void *job_arg;
static uint64_t job_next, job_hi, job_grain; /* job_next: atomic cursor */
static int job_rc;			    /* helper's result, under mu */

/* claims grains of the current job until none is left; first non-zero rc */
static int claim_loop(int (*fn)(void *, uint64_t, uint64_t), void *arg, uint64_t hi, uint64_t grain)
{
	int rc = 0;
	for (;;) {
		uint64_t a = __atomic_fetch_add(&job_next, grain, __ATOMIC_RELAXED);
		if (a >= hi)
			return rc;
		int r = fn(arg, a, hi - a > grain ? a + grain : hi);
		if (rc == 0)
			rc = r;
	}
}

/* Waiting: spin for up to `us` microseconds until *flag == want (read
 * without the lock), so that back-to-back requests (a program reading or
 * writing a big file in 1 MiB calls) do not pay a futex sleep and wake-up
 * per request; the caller then re-checks under the lock and sleeps. */
static void spin_until(int *flag, int want, long us)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1;; i++) {
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == want)
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		if ((i & 63) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 >= us)
				return;
		}
	}
}

#ifndef HELPER_SPIN_US
#define HELPER_SPIN_US 200 /* the helper, between jobs */
#endif
#ifndef CALLER_SPIN_US
#define CALLER_SPIN_US 500 /* the caller, for the helper's last grain (~100 us) */
#endif

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* when the current job was posted (under mu) */
static int64_t job_posted_ns;

static void *helper(void *unused)
{
	int64_t done_ns = 0;
	int spin = 1;
	(void)unused;
	pthread_mutex_lock(&mu);
	for (;;) {
		/* Spinning pays when requests come back to back (a big file read
		 * in 1 MiB calls); when the last one came later than the spin
		 * lasts (a library copied between other work, say), it would
		 * only burn the core: then sleep at once. */
		if (!posted && spin && !retire) {
			pthread_mutex_unlock(&mu);
			spin_until(&posted, 1, HELPER_SPIN_US);
			pthread_mutex_lock(&mu);
		}
		while (!posted && !retire)
			pthread_cond_wait(&cv_job, &mu);
		if (!posted) { /* ward_vol_helper_retire */
			started = retire = 0;
			pthread_cond_broadcast(&cv_done);
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		spin = done_ns == 0 || job_posted_ns - done_ns <= (int64_t)HELPER_SPIN_US * 1000;
		__atomic_store_n(&posted, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&helper_in, 1, __ATOMIC_RELAXED);
		int (*fn)(void *, uint64_t, uint64_t) = job_fn;
		void *arg = job_arg;
		uint64_t hi = job_hi, grain = job_grain;
		pthread_mutex_unlock(&mu);
		int rc = claim_loop(fn, arg, hi, grain);
		pthread_mutex_lock(&mu);
		done_ns = now_ns();
		job_rc = rc;
		__atomic_store_n(&helper_in, 0, __ATOMIC_RELEASE);
		pthread_cond_signal(&cv_done);
	}
	return NULL;
}

/* after fork() only the forking thread exists: forget the helper */
static void child_reset(void)
{
	pthread_mutex_init(&mu, NULL);
	pthread_cond_init(&cv_job, NULL);
	pthread_cond_init(&cv_done, NULL);
	started = failed_start = busy = posted = helper_in = retire = 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static int scratch_ok;

struct scratch {
	size_t cap, rcap;
	uint8_t *data; /* 64-byte aligned: the kernel copies into it at full speed */
	uint8_t *rec;  /* wv_record_buf() */
};

static void scratch_free(void *p)
{
	struct scratch *s = p;
	free(s->data);
	free(s->rec);
	free(s);
}

static void init_once(void)
{
	(void)pthread_atfork(NULL, NULL, child_reset);
	scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static struct scratch *scratch_get(void)
{
	pthread_once(&once, init_once);
	if (!scratch_ok)
		return NULL;
	struct scratch *s = pthread_getspecific(scratch_key);
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return NULL;
		if (pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

uint8_t *wv_record_buf(size_t len)
{
	struct scratch *s = scratch_get();
	if (s == NULL)
		return NULL;
	if (s->rcap >= len)
		return s->rec;
	free(s->rec);
	s->rcap = 0;
	if ((s->rec = malloc(len)) == NULL)
		return NULL;
	s->rcap = len;
	return s->rec;
}

void wv_record_buf_done(void)
{
	struct scratch *s = pthread_getspecific(scratch_key);
	if (s != NULL && s->rcap > WV_RECORD_BUF_KEEP) {
		free(s->rec);
		s->rec = NULL;
		s->rcap = 0;
	}
}

uint8_t *wv_scratch(size_t len)
{
	struct scratch *s = scratch_get();
	if (s == NULL)
		return NULL;
	if (s->cap >= len)
		return s->data;
	size_t cap = (len + 63) & ~(size_t)63;
	uint8_t *d = aligned_alloc(64, cap ? cap : 64);
	if (d == NULL)
		return NULL;
	free(s->data);
	s->data = d;
	s->cap = cap;
	return d;
}

int wv_parallel(int (*fn)(void *arg, uint64_t lo, uint64_t hi), void *arg, uint64_t lo, uint64_t hi,
		uint64_t grain)
{
	int rc;

	if (grain == 0)
		grain = 1;
	pthread_once(&once, init_once);
	pthread_mutex_lock(&mu);
	if (!started && !failed_start) {
		/* joinable: ward_vol_helper_retire waits until it is gone */
		if (pthread_create(&helper_thread, NULL, helper, NULL) == 0)
			started = 1;
		else
			failed_start = 1;
	}
	if (!started || busy || hi - lo <= grain) {
		pthread_mutex_unlock(&mu);
		return fn(arg, lo, hi);
	}
	busy = 1;
	job_fn = fn;
	job_arg = arg;
	__atomic_store_n(&job_next, lo, __ATOMIC_RELAXED);
	job_hi = hi;
	job_grain = grain;
	job_rc = 0;
	job_posted_ns = now_ns();
	__atomic_store_n(&posted, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&cv_job);
	pthread_mutex_unlock(&mu);

	rc = claim_loop(fn, arg, hi, grain);

	pthread_mutex_lock(&mu);
	if (posted) {
		__atomic_store_n(&posted, 0, __ATOMIC_RELAXED); /* never picked up: nothing left for it */
	} else {
		if (helper_in) {
			pthread_mutex_unlock(&mu);
			spin_until(&helper_in, 0, CALLER_SPIN_US);
			pthread_mutex_lock(&mu);
		}
		while (helper_in)
			pthread_cond_wait(&cv_done, &mu);
		if (rc == 0)
			rc = job_rc;
	}
	busy = 0;
	pthread_mutex_unlock(&mu);
	return rc;
}

void ward_vol_helper_retire(void)
{
	int gone = 0;
	pthread_t t;
	pthread_once(&once, init_once);
	pthread_mutex_lock(&mu);
	if (started && !busy) {
		t = helper_thread;
		retire = 1;
		pthread_cond_signal(&cv_job);
		while (started)
			pthread_cond_wait(&cv_done, &mu);
		gone = 1;
	}
	pthread_mutex_unlock(&mu);
	if (gone)
		pthread_join(t, NULL); /* out of the lock: it leaves unlocked */
}
