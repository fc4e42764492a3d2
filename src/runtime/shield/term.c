/*
 * term.c: a run stopped by SIGTERM, SIGINT or SIGHUP commits first, and
 * open files are committed every WRITEBACK_SECONDS meanwhile.
 *
 * Natively, what a program wrote before such a signal ended it is in the
 * page cache and stays. In a volume, writes become part of the volume when
 * they are committed (docs/file-shield.md, "Commit"), so a service stopped
 * the usual way (systemd, docker stop, Ctrl-C) would lose them. Once the
 * program opens a file for writing in a region, each of these signals that
 * is still at its default disposition gets a handler; the handler only
 * wakes a thread of the runtime (sem_post is async-signal-safe), which
 * commits what is open, as _exit does but leaving the volumes open for the
 * threads still running (start.c, shield_commit_for_signal), then ends the
 * process by the same signal, with the default action: the
 * program's status is what it would have been. A program that installs
 * its own handler replaces this one, as it replaces the default. A second
 * signal while the commit runs ends the process at once.
 *
 * The same thread commits the files open for writing every
 * WRITEBACK_SECONDS (not durably: as their close would), so that a kill -9
 * or a crash of the program loses at most the last few seconds of writes,
 * not everything since the file was opened: natively, the page cache keeps
 * every completed write. Each file's commit is atomic; it happens between
 * two of the program's writes, as the kernel's write-back would.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/shield.h"

static const int term_signals[] = { SIGTERM, SIGINT, SIGHUP };

/* Between two write-backs: what a kill -9 (or a crash of the program) can
 * lose, as the kernel's own write-back bounds what a power loss loses. */
#define WRITEBACK_SECONDS 5
static sem_t wake;
static volatile sig_atomic_t caught;
/* Held during a write-back; stopped once the runtime closes the volumes
 * (shield_writeback_stop): no write-back may run into a closed volume. */
static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static int wb_stopped;
static pthread_once_t armed = PTHREAD_ONCE_INIT;

static void on_term(int sig)
{
	int e = errno;
	if (caught != 0) {
		/* a second signal: stop waiting for the commit */
		signal(sig, SIG_DFL);
		raise(sig);
	} else {
		caught = sig;
		sem_post(&wake);
	}
	errno = e;
}

static void *committer(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec at;
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += WRITEBACK_SECONDS;
		if (sem_timedwait(&wake, &at) == 0)
			break;
		if (errno == ETIMEDOUT) {
			pthread_mutex_lock(&wb_lock);
			if (!wb_stopped)
				shield_nodes_commit_written();
			pthread_mutex_unlock(&wb_lock);
		}
	}
	int sig = caught;
	shield_commit_for_signal();
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig); /* the default action ends the process */
	for (;;)
		pause();
	return NULL;
}

static void arm(void)
{
	struct sigaction sa, old;
	sigset_t all, prev;
	pthread_attr_t at;
	pthread_t t;
	int rc;

	if (sem_init(&wake, 0, 0) != 0)
		return;
	/* the write-back runs whatever the signals' dispositions */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]); i++)
		if (sigaction(term_signals[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL)
			(void)sigaction(term_signals[i], &sa, NULL);
	/* the thread takes no signal itself; it must not be the one that the
	 * handler interrupts while it waits */
	sigfillset(&all);
	if ((rc = pthread_attr_init(&at)) != 0)
		goto undo;
	(void)pthread_attr_setstacksize(&at, 1 << 20);
	(void)pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &prev);
	rc = pthread_create(&t, &at, committer, NULL);
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
	pthread_attr_destroy(&at);
	if (rc == 0) {
		(void)pthread_setname_np(t, "ward-commit");
		return;
	}
undo:
	ward_warn("cannot start the thread that commits open files (every %d s, and on SIGTERM): %s; a kill or "
		  "such a signal will drop the writes not yet committed",
		  WRITEBACK_SECONDS, strerror(rc));
	for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]); i++)
		if (sigaction(term_signals[i], NULL, &old) == 0 && old.sa_handler == on_term)
			signal(term_signals[i], SIG_DFL);
}

void shield_writeback_stop(void)
{
	pthread_mutex_lock(&wb_lock); /* waits for a write-back in progress */
	wb_stopped = 1;
	pthread_mutex_unlock(&wb_lock);
}

void shield_term_arm(void)
{
	pthread_once(&armed, arm);
}
