/*
 * worker.c: one helper thread that takes half of a large chunk run
 * (decryption or encryption), so that big reads and writes use both cores.
 * The helper starts on first use; when it is busy with another caller's
 * half, the caller does all the work itself (no queueing, no waiting).
 * A forked child starts without the helper (it is restarted on first use).
 *
 * Also: wv_scratch(), a per-thread buffer for ciphertext on its way to disk.
 */
#include <pthread.h>
#include <stdlib.h>

#include "fs/internal.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_job = PTHREAD_COND_INITIALIZER, cv_done = PTHREAD_COND_INITIALIZER;
static int started, failed_start, busy, have_job, done;
static int (*job_fn)(void *, uint64_t, uint64_t);
static void *job_arg;
static uint64_t job_lo, job_hi;
static int job_rc;

static void *helper(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!have_job)
			pthread_cond_wait(&cv_job, &mu);
		have_job = 0;
		pthread_mutex_unlock(&mu);
		int rc = job_fn(job_arg, job_lo, job_hi);
		pthread_mutex_lock(&mu);
		job_rc = rc;
		done = 1;
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
	started = failed_start = busy = have_job = done = 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static int scratch_ok;

struct scratch {
	size_t cap;
	uint8_t *data; /* 64-byte aligned: the kernel copies into it at full speed */
};

static void scratch_free(void *p)
{
	struct scratch *s = p;
	free(s->data);
	free(s);
}

static void init_once(void)
{
	(void)pthread_atfork(NULL, NULL, child_reset);
	scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

uint8_t *wv_scratch(size_t len)
{
	pthread_once(&once, init_once);
	if (!scratch_ok)
		return NULL;
	struct scratch *s = pthread_getspecific(scratch_key);
	if (s != NULL && s->cap >= len)
		return s->data;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return NULL;
		if (pthread_setspecific(scratch_key, s) != 0) {
			free(s);
			return NULL;
		}
	}
	size_t cap = (len + 63) & ~(size_t)63;
	uint8_t *d = aligned_alloc(64, cap ? cap : 64);
	if (d == NULL)
		return NULL;
	free(s->data);
	s->data = d;
	s->cap = cap;
	return d;
}

int wv_parallel(int (*fn)(void *arg, uint64_t lo, uint64_t hi), void *arg, uint64_t lo, uint64_t hi)
{
	uint64_t mid = lo + (hi - lo) / 2;
	int rc;

	pthread_once(&once, init_once);
	pthread_mutex_lock(&mu);
	if (!started && !failed_start) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, helper, NULL) == 0)
			started = 1;
		else
			failed_start = 1;
		pthread_attr_destroy(&a);
	}
	if (!started || busy || hi - lo < 2) {
		pthread_mutex_unlock(&mu);
		return fn(arg, lo, hi);
	}
	busy = 1;
	job_fn = fn;
	job_arg = arg;
	job_lo = mid;
	job_hi = hi;
	done = 0;
	have_job = 1;
	pthread_cond_signal(&cv_job);
	pthread_mutex_unlock(&mu);

	rc = fn(arg, lo, mid);

	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv_done, &mu);
	if (rc == 0)
		rc = job_rc;
	busy = 0;
	pthread_mutex_unlock(&mu);
	return rc;
}
