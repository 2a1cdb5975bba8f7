/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket (--control PATH): AF_UNIX stream, one JSON request per line,
 * one JSON response line each. Requests: {"cmd":"pause"}, {"cmd":"resume"},
 * {"cmd":"stop"}, {"cmd":"status"}. See docs/vmm.md. Served by its own thread
 * so that a pause (which waits for the vCPUs) never blocks the event loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "log.h"
#include "sandbox.h"
#include "vm.h"

#define CONTROL_LINE_MAX 4096

static const char *state_name(int s)
{
	return s == VM_RUNNING ? "running" : s == VM_PAUSED ? "paused" : "stopping";
}

static uint64_t rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long v = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Handle one request line; writes the response (with newline) into out. */
int control_handle(struct vm *vm, const char *line, char *out, size_t outlen)
{
	char err[128] = "";
	yajl_val root = yajl_tree_parse(line, err, sizeof(err));
	const char *path[] = {"cmd", NULL};
	yajl_val cmd = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;
	const char *c = cmd ? YAJL_GET_STRING(cmd) : NULL;
	int stop = 0;
	if (!root || !YAJL_IS_OBJECT(root)) {
		snprintf(out, outlen,
			 "{\"ok\":false,\"error\":\"invalid request: expected a JSON object\"}\n");
	} else if (!c) {
		snprintf(out, outlen, "{\"ok\":false,\"error\":\"missing \\\"cmd\\\" string\"}\n");
	} else if (!strcmp(c, "pause")) {
		vm_pause(vm);
		snprintf(out, outlen, "{\"ok\":true,\"state\":\"%s\"}\n",
			 state_name(atomic_load(&vm->state)));
	} else if (!strcmp(c, "resume")) {
		vm_resume(vm);
		snprintf(out, outlen, "{\"ok\":true,\"state\":\"%s\"}\n",
			 state_name(atomic_load(&vm->state)));
	} else if (!strcmp(c, "stop")) {
		snprintf(out, outlen, "{\"ok\":true,\"state\":\"stopping\"}\n");
		stop = 1;
	} else if (!strcmp(c, "status")) {
		uint64_t up = vm->start_ns ? (now_ns() - vm->start_ns) / 1000000 : 0;
		uint64_t fr = atomic_load(&vm->first_run_ns), frc = atomic_load(&vm->first_run_cpu_ns);
		snprintf(out, outlen,
			 "{\"ok\":true,\"state\":\"%s\",\"vcpus\":%u,\"memory_mib\":%llu,\"uptime_ms\":%llu,"
			 "\"first_run_wall_ms\":%.3f,\"first_run_cpu_ms\":%.3f,\"rss_kib\":%llu,"
			 "\"guest_resident_kib\":%llu}\n",
			 state_name(atomic_load(&vm->state)), vm->ncpus,
			 (unsigned long long)(vm->ram_size >> 20), (unsigned long long)up,
			 fr ? (double)(fr - vm->exec_ns) / 1e6 : 0.0, (double)frc / 1e6,
			 (unsigned long long)rss_kib(), (unsigned long long)(vm_guest_resident(vm) >> 10));
	} else {
		char esc[64];
		size_t j = 0;
		for (const char *p = c; *p && j < sizeof(esc) - 1; p++)
			esc[j++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '?' : *p;
		esc[j] = 0;
		snprintf(
		    out, outlen,
		    "{\"ok\":false,\"error\":\"unknown cmd \\\"%s\\\" (pause, resume, stop, status)\"}\n",
		    esc);
	}
	yajl_tree_free(root);
	return stop;
}

static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Serve one client until EOF; returns false when the thread should end. */
static bool serve_client(struct vm *vm, int fd)
{
	char buf[CONTROL_LINE_MAX + 1], out[1024];
	size_t len = 0;
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {vm->control_stop_fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (p[1].revents)
			return false;
		ssize_t n = read(fd, buf + len, CONTROL_LINE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return true;
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = 0;
			int stop = control_handle(vm, buf, out, sizeof(out));
			write_all(fd, out);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			if (stop) {
				vm_request_exit(vm, 0);
				return false;
			}
		}
		if (len == CONTROL_LINE_MAX) {
			write_all(fd, "{\"ok\":false,\"error\":\"request line too long\"}\n");
			return true;
		}
	}
}

static void *control_thread(void *arg)
{
	struct vm *vm = arg;
	pthread_setname_np(pthread_self(), "runm-control");
	/* capabilities are per thread: this one was started before the drop */
	if (!vm->cfg->no_seccomp && (sandbox_drop_caps(false) < 0 || sandbox_seccomp_control() < 0)) {
		vm_request_exit(vm, 1);
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = {{vm->control_fd, POLLIN, 0}, {vm->control_stop_fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		int c = accept4(vm->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		bool more = serve_client(vm, c);
		close(c);
		if (!more)
			break;
	}
	return NULL;
}

int control_open(struct vm *vm, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	if (strlen(path) >= sizeof(a.sun_path)) {
		log_error("control socket %s: path too long", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("control socket %s: path exists and is not a socket", path);
			return -1;
		}
		int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t >= 0 && connect(t, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(t);
			log_error("control socket %s: already in use by another process", path);
			return -1;
		}
		if (t >= 0)
			close(t);
		unlink(path); /* stale socket of a dead VMM */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_errno(errno, "control socket %s: socket", path);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		log_errno(errno, "control socket %s: bind", path);
		close(fd);
		return -1;
	}
	vm->control_path = strdup(path);
	vm->control_fd = fd;
	vm->control_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!vm->control_path || listen(fd, 4) < 0 || vm->control_stop_fd < 0) {
		log_errno(errno ? errno : ENOMEM, "control socket %s: listen", path);
		control_close(vm);
		return -1;
	}
	int e = pthread_create(&vm->control_thread, NULL, control_thread, vm);
	if (e) {
		log_errno(e, "control socket %s: thread", path);
		control_close(vm);
		return -1;
	}
	vm->control_running = true;
	return 0;
}

void control_close(struct vm *vm)
{
	if (vm->control_running) {
		uint64_t one = 1;
		if (write(vm->control_stop_fd, &one, sizeof(one)) < 0)
			log_errno(errno, "control: stop thread");
		pthread_join(vm->control_thread, NULL);
		vm->control_running = false;
	}
	if (vm->control_fd >= 0)
		close(vm->control_fd);
	vm->control_fd = -1;
	if (vm->control_stop_fd > 0)
		close(vm->control_stop_fd);
	vm->control_stop_fd = -1;
	if (vm->control_path)
		unlink(vm->control_path);
	free(vm->control_path);
	vm->control_path = NULL;
}
