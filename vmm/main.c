/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-vmm: boot a KVM microVM from a kernel (+ initrd) with an 8250 console,
 * an i8042 for reset and virtio-mmio devices from the device library.
 * Threads: one per vCPU, the event loop (this thread), the control socket.
 * Everything that can fail on bad input is checked before anything is created
 * on the filesystem, and whatever was created is removed on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "legacy/legacy.h"
#include "sandbox.h"
#include "vm.h"
#include "x86/boot.h"

#if __has_include("vhost_user/vhost_user.h")
#include "vhost_user/vhost_user.h"
#define HAVE_VHOST_USER 1
#endif

static struct termios saved_tty;
static bool tty_raw;

static void tty_set_raw(void)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	t = saved_tty;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		tty_raw = true;
}

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	int fd = vm->sig_fd;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_error("received SIG%s: stopping the VM", sigabbrev_np((int)si.ssi_signo));
	vm_request_exit(vm, 128 + (int)si.ssi_signo);
}

static void *loop_main(void *arg)
{
	struct vm *vm = arg;
	pthread_setname_np(pthread_self(), "runm-evloop");
	if (!vm->cfg->no_seccomp && sandbox_seccomp_loop() < 0)
		vm_request_exit(vm, 1);
	while (atomic_load(&vm->state) != VM_STOPPING) {
		int r = evloop_run(vm->loop);
		if (r < 0) {
			log_errno(-r, "event loop");
			vm_request_exit(vm, 1);
		}
	}
	return NULL;
}

static int create_devices(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	char spec[PATH_MAX + 64], err[512];
	unsigned n = vm_planned_devices(c);
	for (unsigned i = 0; i < n; i++) {
		/* in vm_planned_devices' order: vsock, fs shares, rng, NICs, drives */
		unsigned k = i - (c->vsock_uds ? 1 : 0);
		if (c->vsock_uds && i == 0) {
			int o =
			    snprintf(spec, sizeof(spec), "vsock,uds=%s,cid=%u", c->vsock_uds, c->vsock_cid);
			if (c->vsock_listen_fd >= 0 && o > 0 && (size_t)o < sizeof(spec))
				snprintf(spec + o, sizeof(spec) - (size_t)o, ",listenfd=%d",
					 c->vsock_listen_fd);
		} else if (k < c->n_fs) {
			const char *eq = strchr(c->fs[k], '=');
			snprintf(spec, sizeof(spec), "fs,tag=%.*s,dir=%s", (int)(eq - c->fs[k]), c->fs[k],
				 eq + 1);
		} else if (c->rng && k == c->n_fs) {
			snprintf(spec, sizeof(spec), "rng");
		} else if (k - c->n_fs - (c->rng ? 1 : 0) < c->n_net) {
			snprintf(spec, sizeof(spec), "net,%s", c->net[k - c->n_fs - (c->rng ? 1 : 0)]);
		} else {
			snprintf(spec, sizeof(spec), "blk,%s",
				 c->drive[k - c->n_fs - (c->rng ? 1 : 0) - c->n_net]);
		}
		struct virtio_dev *d = virtio_dev_create(spec, vm->loop, err, sizeof(err));
		if (!d) {
			log_error("%s", err);
			return -1;
		}
		struct mmio_dev *m = mmio_dev_new(vm, d, i, err, sizeof(err));
		if (!m) {
			log_error("virtio-mmio %s: %s", d->ops->name, err);
			virtio_dev_destroy(d);
			return -1;
		}
		vm->devs[vm->ndevs++] = m;
		vm->virtio[i] = d;
	}
	return 0;
}

static void destroy_devices(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		mmio_dev_free(vm->devs[i]);
		virtio_dev_destroy(vm->virtio[i]);
	}
	vm->ndevs = 0;
}

static int open_console(struct vm *vm, int *in_fd, int *out_fd)
{
	const struct vm_config *c = vm->cfg;
	*in_fd = *out_fd = -1;
	if (c->console == CONSOLE_STDIO) {
		*in_fd = STDIN_FILENO;
		*out_fd = STDOUT_FILENO;
	} else if (c->console == CONSOLE_FILE) {
		*out_fd = open(c->console_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (*out_fd < 0) {
			log_errno(errno, "open console file %s", c->console_path);
			return -1;
		}
	}
	return 0;
}

static int run(struct vm *vm)
{
	struct vm_config *c = vm->cfg;
	int in_fd, out_fd = -1, rc = 1;
	sigset_t mask;
	pthread_t loop_thread;

	/* termination signals are taken by the event loop (signalfd); block them
	 * first so that one arriving during setup is handled, not fatal */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	if (vm_kvm_init(vm) < 0 || vm_memory_init(vm, c->mem_mib, c->hugepages) < 0 ||
	    vm_kvm_init_memory(vm) < 0 || vm_load_kernel(vm) < 0 || vm_vcpus_init(vm) < 0)
		return 1;
	vm->loop = evloop_new();
	if (!vm->loop) {
		log_errno(errno, "event loop");
		return 1;
	}
	/* from here on, things exist outside this process: undo them on failure */
	if (create_devices(vm) < 0 || open_console(vm, &in_fd, &out_fd) < 0)
		goto out;
	vm->serial = serial_new(vm, in_fd, out_fd);
	if (!vm->serial || serial_attach(vm->serial, vm->loop) < 0)
		goto out;
	vm->i8042 = i8042_new(vm);
	if (!vm->i8042) {
		log_errno(ENOMEM, "i8042");
		goto out;
	}
	if (c->control && control_open(vm, c->control) < 0)
		goto out;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	vm->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->sig_fd < 0 || evloop_add(vm->loop, vm->sig_fd, EPOLLIN, on_signal, vm) < 0) {
		log_errno(errno, "signalfd");
		goto out;
	}
	if (!c->no_seccomp && sandbox_drop_caps(c->n_fs > 0) < 0)
		goto out;
	if (c->console == CONSOLE_STDIO)
		tty_set_raw();
	if (vm_vcpus_start(vm) < 0)
		goto out;
	/* The event loop gets its own filtered thread; this one supervises and tears down,
	 * under the event loop's allowlist too (with the sanitizer runtimes' exit calls in
	 * sanitizer builds, vmm/sandbox.c): no thread of a running VM is unfiltered. */
	int e = pthread_create(&loop_thread, NULL, loop_main, vm);
	if (e) {
		log_errno(e, "start event loop thread");
		goto out;
	}
	if (!c->no_seccomp && sandbox_seccomp_loop() < 0) {
		vm_request_exit(vm, 1);
		pthread_join(loop_thread, NULL);
		goto out;
	}
	pthread_join(loop_thread, NULL);
	vm_vcpus_join(vm);
	rc = atomic_load(&vm->exit_code);
	if (rc < 0)
		rc = 1;
out:
	vm_request_exit(vm, 1);
	vm_vcpus_join(vm);
	tty_restore();
	control_close(vm);
	destroy_devices(vm);
	serial_free(vm->serial);
	vm->serial = NULL;
	i8042_free(vm->i8042);
	vm->i8042 = NULL;
	if (vm->sig_fd >= 0)
		close(vm->sig_fd);
	if (c->console == CONSOLE_FILE && out_fd >= 0)
		close(out_fd);
	return rc;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm vm;
	uint64_t exec_ns = now_ns();
	log_set_prog("runm-vmm");
	if (argc > 1 && strcmp(argv[1], "vhost-user") == 0) {
#ifdef HAVE_VHOST_USER
		return vhost_user_main(argc - 1, argv + 1);
#else
		log_error("vhost-user: this build has no vhost-user backend");
		return 1;
#endif
	}
	int r = vm_config_parse(&cfg, argc, argv);
	if (r != 0) {
		vm_config_free(&cfg);
		return r > 0 ? 0 : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = vm.sig_fd = vm.control_fd = -1;
	vm.ncpus = cfg.cpus;
	vm.exec_ns = exec_ns;
	atomic_init(&vm.state, VM_RUNNING);
	atomic_init(&vm.exit_code, -1);
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	int rc = run(&vm);
	if (vm.loop)
		evloop_free(vm.loop);
	vm_kvm_free(&vm);
	vm_memory_free(&vm);
	vm_config_free(&cfg);
	return rc;
}
