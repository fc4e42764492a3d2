/*
 * worker.c: one helper thread that takes half of a large chunk run
 * (decryption or encryption), so that big reads and writes use both cores.
 * The helper starts on first use; when it is busy with another caller's
 * half, the caller does all the work itself (no queueing, no waiting).
 */
#include <pthread.h>

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

int wv_parallel(int (*fn)(void *arg, uint64_t lo, uint64_t hi), void *arg, uint64_t lo, uint64_t hi)
{
	uint64_t mid = lo + (hi - lo) / 2;
	int rc;

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
