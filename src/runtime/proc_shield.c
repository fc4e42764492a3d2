/*
 * proc_shield.c: one process per enclave.
 *
 * The C library's process-creating calls are interposed and fail with EPERM
 * after one line naming the call. A seccomp filter is the backstop for direct
 * system calls: fork, vfork, execve, execveat and clone without CLONE_THREAD
 * trap into a handler that prints the same line and makes the call return
 * EPERM; clone3 returns ENOSYS so that the C library creates threads with
 * clone. The process is made non-dumpable (no core file, no ptrace attach by
 * other processes of the same user) and cannot make itself dumpable again.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "core/log.h"
#include "runtime/runtime.h"

#ifndef CLONE_THREAD
#define CLONE_THREAD 0x00010000
#endif

void ward_rt_proc_shield_report(const char *call)
{
	ward_error("%s is not permitted inside the enclave: an enclave runs exactly one process (use threads instead)",
		   call);
}

static int deny(const char *call)
{
	ward_rt_proc_shield_report(call);
	errno = EPERM;
	return -1;
}

pid_t fork(void) { return deny("fork()"); }
pid_t vfork(void) { return deny("vfork()"); }
pid_t _Fork(void) { return deny("fork()"); }
int execve(const char *p, char *const a[], char *const e[]) { (void)p; (void)a; (void)e; return deny("execve()"); }
int execv(const char *p, char *const a[]) { (void)p; (void)a; return deny("execv()"); }
int execvp(const char *p, char *const a[]) { (void)p; (void)a; return deny("execvp()"); }
int execvpe(const char *p, char *const a[], char *const e[]) { (void)p; (void)a; (void)e; return deny("execvpe()"); }
int fexecve(int fd, char *const a[], char *const e[]) { (void)fd; (void)a; (void)e; return deny("fexecve()"); }
int execveat(int fd, const char *p, char *const a[], char *const e[], int f)
{
	(void)fd; (void)p; (void)a; (void)e; (void)f;
	return deny("execveat()");
}
int execl(const char *p, const char *a, ...) { (void)p; (void)a; return deny("execl()"); }
int execlp(const char *p, const char *a, ...) { (void)p; (void)a; return deny("execlp()"); }
int execle(const char *p, const char *a, ...) { (void)p; (void)a; return deny("execle()"); }

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	(void)pid; (void)path; (void)fa; (void)at; (void)argv; (void)envp;
	ward_rt_proc_shield_report("posix_spawn()");
	return EPERM;
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	(void)pid; (void)file; (void)fa; (void)at; (void)argv; (void)envp;
	ward_rt_proc_shield_report("posix_spawnp()");
	return EPERM;
}

int system(const char *cmd)
{
	/* system(NULL) asks whether a shell is available: it is not. */
	if (cmd == NULL)
		return 0;
	return deny("system()");
}

FILE *popen(const char *cmd, const char *mode)
{
	(void)cmd; (void)mode;
	deny("popen()");
	return NULL;
}

static const char *syscall_name(long nr)
{
	switch (nr) {
	case SYS_fork: return "fork()";
	case SYS_vfork: return "vfork()";
	case SYS_clone: return "clone() without CLONE_THREAD";
	case SYS_execve: return "execve()";
	case SYS_execveat: return "execveat()";
	default: return "a process-creating system call";
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	(void)sig;
	ward_rt_proc_shield_report(syscall_name(si->si_syscall));
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#else
#error "set the system call's return value for this architecture"
#endif
}

int ward_rt_proc_shield_apply(void)
{
	struct rlimit nocore = { 0, 0 };
	struct sigaction sa;
	scmp_filter_ctx f;
	int rc = 0;

	if (setrlimit(RLIMIT_CORE, &nocore) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;

	f = seccomp_init(SCMP_ACT_ALLOW);
	if (f == NULL)
		return -1;
	rc |= seccomp_rule_add(f, SCMP_ACT_TRAP, SCMP_SYS(fork), 0);
	rc |= seccomp_rule_add(f, SCMP_ACT_TRAP, SCMP_SYS(vfork), 0);
	rc |= seccomp_rule_add(f, SCMP_ACT_TRAP, SCMP_SYS(execve), 0);
	rc |= seccomp_rule_add(f, SCMP_ACT_TRAP, SCMP_SYS(execveat), 0);
	rc |= seccomp_rule_add(f, SCMP_ACT_TRAP, SCMP_SYS(clone), 1,
			       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Stay non-dumpable. */
	rc |= seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 1,
			       SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE));
	if (rc == 0)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc == 0 ? 0 : -1;
}
