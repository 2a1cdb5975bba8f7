/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Privilege reduction once every device is open: capabilities are dropped
 * (libcap; a virtio-fs server keeps the file capabilities it needs to serve
 * files as their owners), and each thread kind installs its own seccomp
 * allowlist (libseccomp, thread-local filters). A disallowed syscall traps:
 * the SIGSYS handler names it and the VMM exits 1. Where no handler can run
 * (a thread that blocks SIGSYS dies of it) the kernel still logs the call
 * (filters carry SECCOMP_FILTER_FLAG_LOG: an audit type=1326 line naming the
 * syscall). --no-seccomp disables both for debugging.
 */
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "vm.h"

/* Syscall names, resolved before any filter exists: the SIGSYS handler must
 * not allocate (the trapped call may come from inside malloc). */
#define SYS_NAMES 512
static char *sys_names[SYS_NAMES];
static pthread_once_t sys_names_once = PTHREAD_ONCE_INIT;

static void resolve_sys_names(void)
{
	for (int i = 0; i < SYS_NAMES; i++)
		sys_names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char buf[128];
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < SYS_NAMES && sys_names[nr] ? sys_names[nr] : "?";
	int n = snprintf(buf, sizeof(buf), "runm-vmm: seccomp: blocked system call %d (%s)\n", nr, name);
	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

int sandbox_drop_caps(bool keep_fs_caps)
{
	static const cap_value_t fs_caps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
					      CAP_FOWNER, CAP_FSETID,	    CAP_SETGID,
					      CAP_SETUID, CAP_MKNOD,	    CAP_SETFCAP};
	const int nfs = (int)(sizeof(fs_caps) / sizeof(fs_caps[0]));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_errno(errno, "sandbox: PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	cap_t caps = cap_get_proc();
	if (!caps) {
		log_errno(errno, "sandbox: cap_get_proc");
		return -1;
	}
	cap_t want = cap_init();
	int rc = -1;
	if (!want) {
		log_errno(errno, "sandbox: cap_init");
		goto out;
	}
	if (keep_fs_caps) {
		for (int i = 0; i < nfs; i++) {
			cap_flag_value_t have = CAP_CLEAR;
			cap_get_flag(caps, fs_caps[i], CAP_PERMITTED, &have);
			if (have != CAP_SET)
				continue;
			cap_set_flag(want, CAP_PERMITTED, 1, &fs_caps[i], CAP_SET);
			cap_set_flag(want, CAP_EFFECTIVE, 1, &fs_caps[i], CAP_SET);
		}
	}
	if (cap_set_proc(want) < 0) {
		log_errno(errno, "sandbox: drop capabilities");
		goto out;
	}
	rc = 0;
out:
	cap_free(caps);
	if (want)
		cap_free(want);
	return rc;
}

/* Syscalls every thread needs (libc, malloc, ASan, logging, thread exit). */
static const int common_calls[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(close),
    SCMP_SYS(futex),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(tgkill),
    SCMP_SYS(sched_yield),
    SCMP_SYS(ioctl),
    SCMP_SYS(writev),
    SCMP_SYS(rseq),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(getrandom),
    SCMP_SYS(prctl),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(openat),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(lseek),
    SCMP_SYS(readlink),
    SCMP_SYS(pread64),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
};

/* The event loop thread also runs the devices: sockets (vsock), files (fs). */
static const int loop_calls[] = {
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(readv),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(pwrite64),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(accept4),
    SCMP_SYS(accept),
    SCMP_SYS(socket),
    SCMP_SYS(connect),
    SCMP_SYS(shutdown),
    SCMP_SYS(fcntl),
    SCMP_SYS(eventfd2),
    SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt),
    SCMP_SYS(dup),
    SCMP_SYS(dup3),
    SCMP_SYS(getdents64),
    SCMP_SYS(statx),
    SCMP_SYS(fstatfs),
    SCMP_SYS(statfs),
    SCMP_SYS(mkdirat),
    SCMP_SYS(unlinkat),
    SCMP_SYS(renameat2),
    SCMP_SYS(renameat),
    SCMP_SYS(linkat),
    SCMP_SYS(symlinkat),
    SCMP_SYS(readlinkat),
    SCMP_SYS(fchmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(fchownat),
    SCMP_SYS(fchown),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(utimensat),
    SCMP_SYS(mknodat),
    SCMP_SYS(flistxattr),
    SCMP_SYS(fgetxattr),
    SCMP_SYS(fsetxattr),
    SCMP_SYS(fremovexattr),
    SCMP_SYS(lgetxattr),
    SCMP_SYS(llistxattr),
    SCMP_SYS(copy_file_range),
    SCMP_SYS(lseek),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
    SCMP_SYS(setgroups),
    SCMP_SYS(setfsuid),
    SCMP_SYS(setfsgid),
    SCMP_SYS(umask),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(fchdir),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(pipe2),
    SCMP_SYS(getuid),
    SCMP_SYS(getgid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getegid),
    SCMP_SYS(capget),
    SCMP_SYS(capset),
    SCMP_SYS(unlink),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(getsockname),
    SCMP_SYS(socketpair),
    SCMP_SYS(flock),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(openat2),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(fadvise64),
    SCMP_SYS(sync_file_range),
    SCMP_SYS(syncfs),
    SCMP_SYS(lsetxattr),
    SCMP_SYS(lremovexattr),
    SCMP_SYS(getpeername),
    SCMP_SYS(splice),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwritev2),
};

#if defined(__SANITIZE_ADDRESS__)
/* ASan/LSan builds only: the leak checker stops the world at exit with a
 * ptrace-ing clone, which inherits the filter of the thread that exits (the
 * vhost-user server's main thread is filtered). On x86-64 the sanitizer
 * runtime's internal_open/getdents/stat use the legacy calls open(2),
 * getdents(2), stat(2), lstat(2), not their *at/64 forms. The clone runs with
 * every signal blocked, so a trapped call there cannot reach on_sigsys: the
 * kernel kills the clone silently and the exiting thread waits for it forever
 * in a sched_yield loop (100% CPU). Release builds never allow these. */
static const int sanitizer_calls[] = {
    SCMP_SYS(clone),	    SCMP_SYS(clone3),	 SCMP_SYS(ptrace),    SCMP_SYS(wait4),
    SCMP_SYS(rt_sigaction), SCMP_SYS(getppid),	 SCMP_SYS(kill),      SCMP_SYS(getdents64),
    SCMP_SYS(prlimit64),    SCMP_SYS(getrlimit), SCMP_SYS(setrlimit), SCMP_SYS(tkill),
    SCMP_SYS(open),	    SCMP_SYS(getdents),	 SCMP_SYS(stat),      SCMP_SYS(lstat),
};
#endif

static int install(const int *a, size_t na, const int *b, size_t nb, const char *who)
{
	pthread_once(&sys_names_once, resolve_sys_names);
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("seccomp %s: seccomp_init failed", who);
		return -1;
	}
	/* The kernel logs trapped calls too (needs libseccomp API level 3 and
	 * Linux 4.14; without them only on_sigsys reports). */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1) < 0)
		log_debug("seccomp %s: kernel logging of blocked calls unavailable", who);
	int r = 0;
	for (size_t i = 0; i < na && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, a[i], 0);
	for (size_t i = 0; i < nb && r == 0; i++)
		/* socket(2): unix sockets only (vsock's host side); an inet socket traps */
		r = b[i] == SCMP_SYS(socket)
			? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, b[i], 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0))
			: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, b[i], 0);
#if defined(__SANITIZE_ADDRESS__)
	for (size_t i = 0; i < sizeof(sanitizer_calls) / sizeof(int) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_calls[i], 0);
#endif
	if (r == 0)
		r = seccomp_load(ctx); /* without TSYNC: this thread only */
	seccomp_release(ctx);
	if (r < 0) {
		log_errno(-r, "seccomp %s: install filter", who);
		return -1;
	}
	return 0;
}

int sandbox_seccomp_vcpu(void)
{
	return install(common_calls, sizeof(common_calls) / sizeof(int), NULL, 0, "vCPU thread");
}

int sandbox_seccomp_control(void)
{
	static const int control_calls[] = {SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4),
					    SCMP_SYS(mincore)};
	return install(common_calls, sizeof(common_calls) / sizeof(int), control_calls,
		       sizeof(control_calls) / sizeof(int), "control thread");
}

int sandbox_seccomp_loop(void)
{
	return install(common_calls, sizeof(common_calls) / sizeof(int), loop_calls,
		       sizeof(loop_calls) / sizeof(int), "event loop thread");
}
