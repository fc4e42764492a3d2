/*
 * start.c: starting and stopping the shield.
 *
 * `ward run` passes the regions in WARD_SHIELD, one per line:
 *   KIND <TAB> ROOT <TAB> ARG
 * with KIND encrypted (ARG: key file), encrypted-ro (the same, opened
 * read-only: shared with other readers), authenticated (ARG: manifest or
 * empty), engine (an authenticated region of the engine image, which the
 * enclave hash also covers; ARG: manifest) or ephemeral (ARG empty), and WARD_SHIELD_DENY=1 when files
 * outside regions may not be opened. Keys never travel in the environment:
 * the runtime reads the key file itself. With deny-outside, Landlock (when
 * the kernel has it) backs the rule for direct system calls.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "fs/volume.h"
#include "runtime/crypto_load.h"
#include "runtime/runtime.h"
#include "runtime/shield/internal.h"
#include "runtime/shield/region.h"
#include "runtime/shield/shield.h"

static int parse_kind(const char *s, size_t n, enum shield_kind *k, int *engine, int *readonly)
{
	static const struct {
		const char *name;
		enum shield_kind kind;
		int engine, readonly;
	} kinds[] = { { "encrypted", SHIELD_ENCRYPTED, 0, 0 },	  { "encrypted-ro", SHIELD_ENCRYPTED, 0, 1 },
		      { "authenticated", SHIELD_AUTHENTICATED, 0, 0 }, { "engine", SHIELD_AUTHENTICATED, 1, 0 },
		      { "ephemeral", SHIELD_EPHEMERAL, 0, 0 },	  { "plain", SHIELD_PLAIN, 0, 0 } };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == n && strncmp(s, kinds[i].name, n) == 0) {
			*k = kinds[i].kind;
			*engine = kinds[i].engine;
			*readonly = kinds[i].readonly;
			return 0;
		}
	return -1;
}

static void stop_at_exit(void)
{
	ward_shield_stop();
}

/* The process that started the shield, once the regions of WARD_SHIELD
 * are open (0 before): only it commits at _exit, when it has regions. */
static pid_t started_pid;
static void (*exit_hook)(void) = ward_shield_stop;
typedef void (*exit_fn)(int);
static exit_fn real_exit; /* found at start: dlsym is not safe in a signal handler */

/* 1 when ret (a return address) is in this library: the runtime's own fatal
 * stops (ward_rt_fatal) are not the program's exits, and commit nothing. */
static int called_by_runtime(void *ret)
{
	Dl_info self, caller;
	return dladdr((void *)&shield_set_exit_hook, &self) != 0 && dladdr(ret, &caller) != 0 &&
	       self.dli_fbase == caller.dli_fbase;
}

void shield_set_exit_hook(void (*fn)(void))
{
	__atomic_store_n(&exit_hook, fn, __ATOMIC_RELEASE);
}

/* _exit and _Exit (Python's os._exit) skip the atexit handlers, but the
 * program's open files are committed all the same, as at a normal exit:
 * written data reaches the volume as it would reach the disk. abort() and
 * signals that end the process are crashes: what was not committed is
 * dropped (docs/file-shield.md, "Commit"). Called inside the shield (the
 * volume library), by the runtime itself, or before the regions are open,
 * nothing is committed. */
static void (*signal_hook)(void);

void shield_set_signal_hook(void (*fn)(void))
{
	__atomic_store_n(&signal_hook, fn, __ATOMIC_RELEASE);
}

void shield_commit_for_signal(void)
{
	void (*fn)(void) = __atomic_load_n(&signal_hook, __ATOMIC_ACQUIRE);
	shield_nodes_commit_all();
	shield_images_flush();
	if (fn != NULL)
		fn();
}

/* What _exit does for the program: commits the files still open, then runs
 * the exit hook (closes the volumes, reports final tags). */
static void shield_commit_for_exit(void)
{
	shield_writeback_stop();
	/* The files still open first (exit's own work expects them closed, so
	 * that the tags it reports are final). */
	shield_nodes_commit_all();
	__atomic_load_n(&exit_hook, __ATOMIC_ACQUIRE)();
}

_Noreturn void _exit(int status)
{
	exit_fn real;
	if (!shield_inside && ward_shield_active() && __atomic_load_n(&started_pid, __ATOMIC_ACQUIRE) == getpid() &&
	    !called_by_runtime(__builtin_return_address(0))) {
		shield_commit_for_exit();
	}
	real = __atomic_load_n(&real_exit, __ATOMIC_ACQUIRE);
	if (real == NULL)
		real = (exit_fn)dlsym(RTLD_NEXT, "_exit");
	if (real != NULL)
		real(status);
	for (;;)
		syscall(SYS_exit_group, status);
}
_Noreturn void _Exit(int status) __attribute__((alias("_exit")));

void ward_shield_stop(void)
{
	static int stopped;
	if (__atomic_exchange_n(&stopped, 1, __ATOMIC_SEQ_CST))
		return;
	shield_writeback_stop();
	shield_images_flush(); /* shared mappings' stores, into the volumes */
	shield_fifos_remove(); /* FIFOs made in regions last for the run */
	shield_regions_close();
}

/* Descriptors the process inherited (the shell's redirections), noted
 * before the regions are opened: the volumes' own descriptors come after. */
#define INHERITED_MAX 64
static struct {
	int fd;
	char *target;
} inherited[INHERITED_MAX];
static int ninherited;

static void note_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && ninherited < INHERITED_MAX) {
		char link[64], target[PATH_MAX], *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end != 0 || end == e->d_name || fd < 0 || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0 || target[0] != '/')
			continue;
		target[n] = 0;
		char *copy = strdup(target);
		if (copy == NULL)
			break;
		inherited[ninherited].fd = (int)fd;
		inherited[ninherited++].target = copy;
	}
	closedir(d);
}

static int refusal_fd = -1;

static void refusal_writer(const char *buf, size_t n)
{
	if (refusal_fd >= 0)
		(void)ward_write_all(refusal_fd, buf, n);
}

/* A descriptor the shell opened on a file inside an encrypted region
 * (`ward run ... > app.vol/out.log`, `3> app.vol/x`) bypasses the volume:
 * the program would write plaintext next to its ciphertext, or read
 * ciphertext. Refused at start with one line, written where it cannot land
 * in the volume (the terminal, or stdout, when stderr is the culprit); an
 * empty file the shell made for the redirection, which the volume does not
 * list, is removed. */
void shield_check_inherited_fds(void)
{
	static const char *const names[] = { "standard input", "standard output", "standard error" };
	struct shield_path sp;
	int bad = -1, stdout_bad = 0, stderr_bad = 0;
	for (int i = 0; i < ninherited; i++) {
		struct shield_path q;
		struct stat st;
		if (shield_classify(AT_FDCWD, inherited[i].target, &q) != 0 || q.region == NULL ||
		    (q.kind != SHIELD_ENCRYPTED && q.kind != SHIELD_EPHEMERAL) || fstat(inherited[i].fd, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		stdout_bad |= inherited[i].fd == 1;
		stderr_bad |= inherited[i].fd == 2;
		if (bad < 0)
			bad = i;
	}
	if (bad < 0)
		return;
	int fd = inherited[bad].fd;
	const char *target = inherited[bad].target;
	if (shield_classify(AT_FDCWD, target, &sp) != 0) /* sp.rel points into sp: classify it here */
		return;
	if (stderr_bad) {
		refusal_fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (refusal_fd < 0 && !stdout_bad)
			refusal_fd = 1;
		ward_log_set_writer(refusal_writer);
	}
	struct ward_vstat vst;
	struct stat st;
	int made = 0;
	if (fd > 0 && fstat(fd, &st) == 0 && st.st_size == 0 && shield_be_stat(sp.region, sp.rel, &vst) == -ENOENT) {
		shield_inside++; /* the disk file itself, which the volume does not list */
		made = unlink(target) == 0;
		shield_inside--;
	}
	char what[48];
	if (fd <= 2)
		snprintf(what, sizeof(what), "%s (fd %d)", names[fd], fd);
	else
		snprintf(what, sizeof(what), "descriptor %d", fd);
	ward_rt_fatal(125,
		      "%s is the file %s inside the %s region %s, opened outside the enclave (a shell "
		      "redirection?): the program would %s; redirect it to a file outside the region%s",
		      what, target, shield_kind_name(sp.kind), shield_region_root(sp.region),
		      fd == 0 ? "read its ciphertext" : "write plaintext into the volume's directory",
		      made ? " (the empty file made for it was removed)" : "");
}

void ward_shield_start(void)
{
	const char *spec = getenv("WARD_SHIELD"), *deny = getenv("WARD_SHIELD_DENY");
	char err[1024];

	ward_vol_read_env(); /* before the runtime clears WARD_* from the environment */
	/* the regions come from WARD_SHIELD, or from the CAS (cas_start.c) */
	const char *cas = getenv("WARD_CAS_ADDR");
	if ((spec != NULL && *spec) || (cas != NULL && *cas))
		note_inherited();
	if (deny != NULL && strcmp(deny, "1") == 0)
		shield_set_deny_outside(1);
	else if (deny != NULL && deny[0] != 0 && strcmp(deny, "0") != 0)
		ward_rt_fatal(125, "invalid WARD_SHIELD_DENY '%s': expected 0 or 1", deny);
	while (spec != NULL && *spec) {
		const char *end = strchr(spec, '\n'), *t1, *t2;
		char root[PATH_MAX], arg[PATH_MAX];
		enum shield_kind k;
		int engine, readonly;
		size_t len;
		if (end == NULL)
			end = spec + strlen(spec);
		t1 = memchr(spec, '\t', (size_t)(end - spec));
		t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;
		if (t1 == NULL || t2 == NULL || parse_kind(spec, (size_t)(t1 - spec), &k, &engine, &readonly) != 0)
			ward_rt_fatal(125, "invalid WARD_SHIELD entry: expected KIND<TAB>DIR<TAB>ARG lines (set by ward run)");
		len = (size_t)(t2 - t1 - 1);
		if (len >= sizeof(root) || (size_t)(end - t2 - 1) >= sizeof(arg))
			ward_rt_fatal(125, "invalid WARD_SHIELD entry: path too long");
		memcpy(root, t1 + 1, len);
		root[len] = 0;
		len = (size_t)(end - t2 - 1);
		memcpy(arg, t2 + 1, len);
		arg[len] = 0;
		if ((engine     ? shield_region_add_engine(root, arg, err, sizeof(err))
		     : readonly ? shield_region_add_readonly(root, arg, err, sizeof(err))
				: shield_region_add(k, root, arg, err, sizeof(err))) != 0) {
			shield_regions_close(); /* ephemeral regions opened so far are removed */
			ward_rt_fatal(125, "%s", err);
		}
		ward_debug("region %s%s: %s", shield_kind_name(k), readonly ? " (read-only)" : "", root);
		spec = *end ? end + 1 : end;
	}
	/* opening large volumes may have started the volume library's helper;
	 * Landlock (below) binds this thread and the ones it creates later */
	ward_shield_helpers_retire();
	if (ward_shield_deny_outside()) {
		/* OpenSSL is loaded on first need (crypto_load.h), but Landlock
		 * will not let the runtime open its files later: load it now
		 * (libssl too when the CAS will be reached, for tag reports). */
		const char *cas = getenv("WARD_CAS_ADDR");
		if (ward_rt_crypto_load(cas != NULL && cas[0] != 0, err, sizeof(err)) != 0)
			ward_rt_fatal(125, "--deny-outside: %s", err);
		if (shield_landlock_apply() != 0)
			ward_rt_fatal(125, "--deny-outside: cannot install the Landlock rules: %s", strerror(errno));
	}
	if (ward_shield_active()) {
		ward_log_set_writer(shield_log_write);
		shield_check_inherited_fds();
		atexit(stop_at_exit);
	}
	/* The CAS's regions (cas_start.c) are added after this. */
	__atomic_store_n(&real_exit, (exit_fn)dlsym(RTLD_NEXT, "_exit"), __ATOMIC_RELEASE);
	__atomic_store_n(&started_pid, getpid(), __ATOMIC_RELEASE);
}
