/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile "device server" for test_jail.py: runm-vmctl starts it in place of
 * `runm-vmm vhost-user` (--runm-vmm), so it runs in exactly the jail a device
 * server gets, but as arbitrary code before any seccomp filter: it tries to
 * escape and prints one JSON object of errno names to stderr (vmm.log).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

/* "ok", or the errno name of the call just made */
#define TRY(call) ((call) < 0 ? strerrorname_np(errno) : "ok")

int main(void)
{
	char pids[256] = "";
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
		    strlen(pids) + strlen(e->d_name) + 2 < sizeof(pids)) {
			strcat(pids, e->d_name);
			strcat(pids, " ");
		}
	if (d)
		closedir(d);
	const char *passwd = TRY(open("/etc/passwd", O_RDONLY));
	const char *work = TRY(open("/work", O_RDONLY));
	const char *usr = TRY(open("/usr/jail-probe", O_WRONLY | O_CREAT, 0600));
	char *const argv[] = {"/usr/bin/true", NULL};
	const char *ex = TRY(execve("/usr/bin/true", argv, argv + 1));
	const char *pt = TRY(ptrace(PTRACE_ATTACH, 1, NULL, NULL));
	const char *mnt = TRY(mount("none", "/proc", "tmpfs", 0, NULL));
	const char *su = TRY(setuid(0));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	const char *sock = s < 0 ? strerrorname_np(errno) : "ok";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(22)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	const char *con = s < 0 ? sock : TRY(connect(s, (struct sockaddr *)&a, sizeof(a)));
	const char *kvm = TRY(open("/dev/kvm", O_RDWR));
	fprintf(
	    stderr,
	    "JAIL-PROBE {\"uid\": %u, \"pids\": \"%s\", \"open_passwd\": \"%s\", \"open_work\": \"%s\", "
	    "\"create_in_usr\": \"%s\", \"execve\": \"%s\", \"ptrace\": \"%s\", \"mount\": \"%s\", "
	    "\"setuid0\": \"%s\", \"inet_socket\": \"%s\", \"inet_connect\": \"%s\", \"open_kvm\": \"%s\"}\n",
	    getuid(), pids, passwd, work, usr, ex, pt, mnt, su, sock, con, kvm);
	return 3;
}
