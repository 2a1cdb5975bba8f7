/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QEMU backend: qemu-system-x86_64 with guest RAM in a shared memfd, and the
 * container's devices (hybrid vsock, virtio-fs shares, rng, NICs on taps)
 * served over vhost-user by runm's own device code, one `runm-vmm vhost-user`
 * process per device.
 */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "runtime/backend/jail.h"

#define ARGV_MAX 160

struct argv {
	char *a[ARGV_MAX];
	unsigned n;
	bool oom;
};

static void add(struct argv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv *v, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s || v->n + 1 >= ARGV_MAX) {
		free(s);
		v->oom = true;
		return;
	}
	v->a[v->n++] = s;
	v->a[v->n] = NULL;
}

static void argv_free(struct argv *v)
{
	for (unsigned i = 0; i < v->n; i++)
		free(v->a[i]);
	v->n = 0;
}

/* QEMU's option parser splits on ','; a literal comma is written ",,". */
static char *qemu_escape(const char *s)
{
	size_t n = strlen(s), extra = 0;
	for (size_t i = 0; i < n; i++)
		extra += s[i] == ',';
	char *o = malloc(n + extra + 1), *p = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		*p++ = s[i];
		if (s[i] == ',')
			*p++ = ',';
	}
	*p = '\0';
	return o;
}

/* "-chardev socket,id=ID,fd=N": QEMU inherits our end of the pair. */
static void add_chardev(struct argv *a, const char *id, int fd)
{
	add(a, "socket,id=%s,fd=%d", id, fd);
}

/* The base command line without words that would hide PCI devices. */
static char *cmdline_for(const char *base, enum vm_machine m)
{
	char *out = calloc(1, strlen(base ? base : "") + 64);
	char *dup = strdup(base ? base : "");
	if (!out || !dup) {
		free(out);
		free(dup);
		return NULL;
	}
	for (char *save, *w = strtok_r(dup, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (m == VM_MACHINE_PC && !strcmp(w, "pci=off"))
			continue;
		if (!strcmp(w, "no_timer_check"))
			continue; /* added below, once */
		if (*out)
			strcat(out, " ");
		strcat(out, w);
	}
	/* Linux checks at boot that the PIT's interrupt reaches the IO-APIC within a busy loop;
	 * under TCG on a loaded host the emulated clock runs past it and the guest panics ("IO-APIC
	 * + timer doesn't work!", seen with 16 guests booting on 2 cores). The timer works: skip
	 * the check, as cloud images do. */
	strcat(out, *out ? " no_timer_check" : "no_timer_check");
	free(dup);
	return out;
}

/* QEMU runs without any capability, so it cannot walk a directory that only CAP_DAC_OVERRIDE lets
 * root through (containerd's runc shim makes /run/containerd mode 0600 when containerd's own state
 * is elsewhere; a state directory lives below it). Files of the state directory (the NIC sockets,
 * the console log) are named to QEMU through an inherited O_PATH fd of their directory:
 * /proc/self/fd/N/NAME never walks the path's ancestors. The fd goes to dfd[*n]. */
static int via_dir_fd(const char *path, int *dfd, unsigned *n, char *out, size_t cap)
{
	if (!vm_jail_disabled()) {
		/* jailed, QEMU finds them bound at their own paths in its root (below) */
		char *esc = qemu_escape(path);
		if (!esc)
			return -ENOMEM;
		int w = snprintf(out, cap, "%s", esc);
		free(esc);
		return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
	}
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int fd = vm_fd_above_stdio(open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (fd < 0) {
		int e = errno;
		log_errno(e, "start VM: open directory %s (for QEMU)", dir);
		return -e;
	}
	dfd[(*n)++] = fd;
	snprintf(out, cap, "/proc/self/fd/%d/%s", fd, slash ? slash + 1 : path);
	return 0;
}

/* Start one device server on one end of a socket pair and wait until its
 * device exists; *fe_fd gets the other end, for QEMU's chardev. No socket
 * file: nothing to race for, nothing to clean up, no sun_path length limit.
 * With sock_path the server listens there instead (*fe_fd = -1): QEMU 7.2's
 * vhost-user netdev refuses an fd= chardev ("does not support FD passing"),
 * only a path one is marked as able to pass fds. The server removes the file
 * when QEMU has connected. extra_fd (>= 0) is inherited too (a tap). */
static int start_device_server(struct vm *v, const struct vm_config *c, const char *spec, const char *what,
			       int log_fd, int *fe_fd, int extra_fd, const char *sock_path,
			       const char *bind_path, unsigned bind_flags)
{
	int pfd[2] = {-1, -1}, sv[2] = {-1, -1}, r;
	struct jail *j = NULL;
	*fe_fd = -1;
	if (pipe2(pfd, O_CLOEXEC) < 0 ||
	    (!sock_path && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)) {
		r = -errno;
		log_errno(-r, "start %s: pipe/socketpair", what);
		goto fail;
	}
	/* The child's stdio is rebuilt with dup2: keep these fds out of 0..2. */
	for (int i = 0; i < 2; i++) {
		pfd[i] = vm_fd_above_stdio(pfd[i]);
		if (!sock_path)
			sv[i] = vm_fd_above_stdio(sv[i]);
		if (pfd[i] < 0 || (!sock_path && sv[i] < 0)) {
			r = pfd[i] < 0 ? pfd[i] : sv[i];
			log_errno(-r, "start %s: move fd above stdio", what);
			goto fail;
		}
	}
	char *bin = c->runm_vmm ? strdup(c->runm_vmm) : vm_sibling_path("runm-vmm");
	char fdarg[16], readyarg[16];
	int lfd = -1; /* jailed: the socket at sock_path, bound here */
	r = 0;
	j = bin ? vm_jail_for(v, what, bin, &r) : NULL;
	if (!j && r < 0) {
		free(bin);
		goto fail;
	}
	if (j && bind_path && (r = jail_bind(j, bind_path, bind_flags, what)) < 0) {
		free(bin);
		goto fail;
	}
	if (j && (bind_flags & JAIL_REC))
		jail_keep_fs_caps(j); /* the fs server (docs/security.md) */
	if (j && sock_path) {
		lfd = vm_listen_at(sock_path, j->uid, j->gid, what);
		if (lfd < 0) {
			r = lfd;
			free(bin);
			goto fail;
		}
		sv[1] = lfd;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	snprintf(readyarg, sizeof(readyarg), "%d", pfd[1]);
	/* runm --debug reaches the device servers too (their log is the VM's log). */
	char *argv[] = {bin,
			"vhost-user",
			lfd >= 0    ? "--listen-fd"
			: sock_path ? "--socket"
				    : "--fd",
			sock_path && lfd < 0 ? (char *)sock_path : fdarg,
			"--device",
			(char *)spec,
			"--ready-fd",
			readyarg,
			log_debug_enabled() ? "--debug" : NULL,
			NULL};
	int keep[3] = {pfd[1], extra_fd, sv[1]};
	unsigned nkeep = 1 + (extra_fd >= 0);
	if (sv[1] >= 0)
		keep[nkeep++] = sv[1];
	r = bin ? vm_spawn(v, what, argv, log_fd, keep, nkeep, 0, j) : -ENOMEM;
	free(bin);
	close(pfd[1]);
	if (sv[1] >= 0)
		close(sv[1]);
	pfd[1] = sv[1] = -1;
	if (r < 0)
		goto fail;
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	char b = 0;
	int n = poll(&p, 1, 10000);
	ssize_t got = n > 0 ? read(pfd[0], &b, 1) : -1;
	close(pfd[0]);
	pfd[0] = -1;
	if (got != 1 || b != '1') {
		log_error("start %s: the device server did not come up (%s; see %s)", what,
			  n == 0 ? "timed out" : "it exited", v->log_path);
		r = -EIO;
		goto fail;
	}
	*fe_fd = sv[0];
	free(j);
	return 0;
fail:
	free(j);
	for (int i = 0; i < 2; i++) {
		if (pfd[i] >= 0)
			close(pfd[i]);
		if (sv[i] >= 0)
			close(sv[i]);
	}
	return r;
}

static int start_qemu(struct vm *v, const struct vm_config *c, int log_fd)
{
	enum vm_accel accel = c->accel; /* decided by vm_start (backend_plan.h) */
	enum vm_machine mach = c->machine == VM_MACHINE_AUTO ? VM_MACHINE_PC : c->machine;
	unsigned mem = c->mem_mib ? c->mem_mib : 256, cpus = c->vcpus ? c->vcpus : 1;
	uint32_t cid = c->guest_cid ? c->guest_cid : 3;
	struct argv a = {0};
	int fe[VM_MAX_PROCS] = {0}; /* our ends of the device servers' socket pairs */
	unsigned nfe = 0;
	int dfd[VM_MAX_NET + 1]; /* directories QEMU reaches files through (via_dir_fd) */
	unsigned ndfd = 0;
	char qpath[PATH_MAX];
	int r;

	if (c->vsock_uds && strchr(c->vsock_uds, ',')) {
		log_error("start VM: vsock socket path %s: commas are not supported", c->vsock_uds);
		return -EINVAL;
	}

	/* Device servers first: QEMU talks to them from its start. */
	char spec[4096];
	char *bin = c->qemu ? strdup(c->qemu) : strdup("qemu-system-x86_64");
	add(&a, "%s", bin ? bin : "qemu-system-x86_64");
	free(bin);
	add(&a, "-name");
	add(&a, "runm");
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-no-reboot");
	/* QEMU's own seccomp filter: no obsolete calls, no privilege changes, no
	 * fork/exec, no scheduler/affinity games. */
	add(&a, "-sandbox");
	add(&a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	if (mach == VM_MACHINE_MICROVM) {
		add(&a, "-M");
		/* acpi=off: QEMU then appends virtio_mmio.device= words for the guest;
		 * the PIT gives it a clock reference for TSC calibration. */
		add(&a, "microvm,x-option-roms=off,acpi=off,pit=on,pic=on,rtc=off,isa-serial=on,memory-"
			"backend=mem");
	} else {
		add(&a, "-M");
		add(&a, "pc,memory-backend=mem");
		/* Not qboot (~0.3 s faster to the kernel): it writes no PCI interrupt
		 * routing into the MP table, and without ACPI or PCI_MSI the guest
		 * then finds no IRQ for virtio-pci (docs/backends.md). */
	}
	add(&a, "-accel");
	add(&a, "%s", accel == VM_ACCEL_KVM ? "kvm" : "tcg");
	add(&a, "-cpu");
	/* TCG: every feature QEMU emulates but AVX/AVX2, new in QEMU 7.2's TCG and wrong often
	 * enough that glibc's AVX2 string functions crashed guest programs (busybox segfaults: 4 runs
	 * in 12 of one test with "max", 0 in 12 with "max,-avx,-avx2") */
	add(&a, "%s", accel == VM_ACCEL_KVM ? "host" : "max,-avx,-avx2");
	add(&a, "-m");
	add(&a, "%uM", mem);
	/* One socket per vCPU: QEMU ≥ 6.2 makes "-smp N" N cores of one socket, and SeaBIOS lists
	 * only the first logical CPU of each package in its MP table, the only CPU list our ACPI-less
	 * guest reads; with N sockets the guest sees all N. */
	add(&a, "-smp");
	add(&a, "%u,sockets=%u,cores=1,threads=1", cpus, cpus);
	add(&a, "-object");
	add(&a, "memory-backend-memfd,id=mem,size=%uM,share=on", mem);
	if (c->vsock_uds) {
		unlink(c->vsock_uds);
		vm_add_cleanup(v, c->vsock_uds);
		/* Jailed, the server cannot create the socket: it gets it bound and listening. */
		int lfd = vm_jail_disabled()
			      ? -1
			      : vm_listen_at(c->vsock_uds, (uid_t)-1, (gid_t)-1, "vhost-user vsock server");
		if (!vm_jail_disabled() && lfd < 0) {
			r = lfd;
			goto out;
		}
		char lopt[32] = "";
		if (lfd >= 0)
			snprintf(lopt, sizeof(lopt), ",listenfd=%d", lfd);
		snprintf(spec, sizeof(spec), "vsock,uds=%s,cid=%u%s", c->vsock_uds, cid, lopt);
		char sdir[PATH_MAX];
		snprintf(sdir, sizeof(sdir), "%s", c->vsock_uds);
		/* the socket directory, read-only and without the mounts below it (the share):
		 * guest->host connects reach <uds>_PORT there */
		r = start_device_server(v, c, spec, "vhost-user vsock server", log_fd, &fe[nfe], lfd, NULL,
					dirname(sdir), 0);
		if (lfd >= 0)
			close(lfd);
		if (r < 0)
			goto out;
		add(&a, "-chardev");
		add_chardev(&a, "vsock0", fe[nfe++]);
		add(&a, "-device");
		add(&a, "%s,chardev=vsock0",
		    mach == VM_MACHINE_MICROVM ? "vhost-user-vsock-device" : "vhost-user-vsock-pci");
	}
	if (c->rng) {
		r = start_device_server(v, c, "rng", "vhost-user rng server", log_fd, &fe[nfe], -1, NULL,
					NULL, 0);
		if (r < 0)
			goto out;
		add(&a, "-chardev");
		add_chardev(&a, "rng0", fe[nfe++]);
		add(&a, "-device");
		add(&a, "%s,chardev=rng0",
		    mach == VM_MACHINE_MICROVM ? "vhost-user-rng" : "vhost-user-rng-pci");
	}

	for (unsigned i = 0; i < c->n_fs; i++) {
		char what[64];
		snprintf(what, sizeof(what), "vhost-user fs server %u", i);
		if (strchr(c->fs[i].tag, ',') || strchr(c->fs[i].dir, ',')) {
			log_error("start VM: fs share %s=%s: commas are not supported", c->fs[i].tag,
				  c->fs[i].dir);
			r = -EINVAL;
			goto out;
		}
		snprintf(spec, sizeof(spec), "fs,tag=%s,dir=%s", c->fs[i].tag, c->fs[i].dir);
		r = start_device_server(v, c, spec, "vhost-user fs server", log_fd, &fe[nfe], -1, NULL,
					c->fs[i].dir, JAIL_RW | JAIL_REC);
		if (r < 0)
			goto out;
		add(&a, "-chardev");
		char id[16];
		snprintf(id, sizeof(id), "fs%u", i);
		add_chardev(&a, id, fe[nfe++]);
		add(&a, "-device");
		add(&a, "%s,chardev=fs%u,tag=%s",
		    mach == VM_MACHINE_MICROVM ? "vhost-user-fs-device" : "vhost-user-fs-pci", i,
		    c->fs[i].tag);
	}

	/* Drives: vhost-user-blk-pci on a blk server that gets the image open (fd=N: no path in
	 * its jail). One queue: QEMU's auto num-queues would follow the vCPUs. */
	for (unsigned i = 0; i < c->n_disk; i++) {
		/* a literal: vm_spawn keeps the pointer for the process's end report */
		const char *what = "vhost-user blk server";
		char opts[96];
		int ifd = vm_disk_open(&c->disk[i], i);
		if (ifd < 0) {
			r = ifd;
			goto out;
		}
		r = vm_disk_options(&c->disk[i], ifd, opts, sizeof(opts));
		if (r == 0) {
			snprintf(spec, sizeof(spec), "blk,%s", opts);
			r = start_device_server(v, c, spec, what, log_fd, &fe[nfe], ifd, NULL, NULL, 0);
		}
		close(ifd); /* the server has its copy */
		if (r < 0)
			goto out;
		char id[16];
		snprintf(id, sizeof(id), "blk%u", i);
		add(&a, "-chardev");
		add_chardev(&a, id, fe[nfe++]);
		add(&a, "-device");
		add(&a, "%s,chardev=blk%u,num-queues=1",
		    mach == VM_MACHINE_MICROVM ? "vhost-user-blk" : "vhost-user-blk-pci", i);
	}

	/* NICs: virtio-net-pci (or -device) on a vhost-user netdev; the server
	 * gets a duplicate of the caller's tap fd. QEMU owns the config space
	 * (mac, link status, host_mtu); the server offers MTU only when given. */
	for (unsigned i = 0; i < c->n_net; i++) {
		char what[48], mac[18], opts[96];
		snprintf(what, sizeof(what), "vhost-user net server %u", i);
		int tfd = vm_net_dup(&c->net[i]);
		if (tfd < 0) {
			r = tfd;
			log_errno(-r, "start %s: duplicate tap fd %d", what, c->net[i].tap_fd);
			goto out;
		}
		/* the socket goes next to the vsock socket (its directory was chosen to fit sun_path:
		 * runtime/sockdir.h), else next to vmm.log (the run directory) */
		char sock[128];
		const char *base = c->vsock_uds ? c->vsock_uds : v->log_path;
		size_t dl = (size_t)(strrchr(base, '/') ? strrchr(base, '/') + 1 - base : 0);
		int w = snprintf(sock, sizeof(sock), "%.*snet%u.sock", (int)dl, base, i);
		r = w < 0 || (size_t)w >= sizeof(((struct sockaddr_un *)0)->sun_path) ? -ENAMETOOLONG : 0;
		if (r < 0)
			log_error("start %s: socket path %.*snet%u.sock: longer than %zu bytes", what,
				  (int)dl, base, i, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		if (r == 0)
			r = vm_net_options(&c->net[i], tfd, opts, sizeof(opts), mac);
		if (r == 0) {
			snprintf(spec, sizeof(spec), "net,%s", opts);
			unlink(sock);
			vm_add_cleanup(v, sock);
			r = start_device_server(v, c, spec, what, log_fd, &fe[nfe], tfd, sock, NULL, 0);
		}
		close(tfd); /* the server has its copy */
		if (r < 0)
			goto out;
		if ((r = via_dir_fd(sock, dfd, &ndfd, qpath, sizeof(qpath))) < 0)
			goto out;
		add(&a, "-chardev");
		add(&a, "socket,id=netc%u,path=%s", i, qpath);
		add(&a, "-netdev");
		add(&a, "vhost-user,id=net%u,chardev=netc%u", i, i);
		add(&a, "-device");
		const char *model = mach == VM_MACHINE_MICROVM ? "virtio-net-device" : "virtio-net-pci";
		char mtu[24] = "";
		if (c->net[i].mtu)
			snprintf(mtu, sizeof(mtu), ",host_mtu=%u", c->net[i].mtu);
		add(&a, "%s,netdev=net%u,mac=%s%s", model, i, mac, mtu);
	}

	if (c->console_log) {
		/* A file chardev, reached through the run directory's fd (via_dir_fd: no ",," escapes
		 * either). */
		if ((r = via_dir_fd(c->console_log, dfd, &ndfd, qpath, sizeof(qpath))) < 0)
			goto out;
		add(&a, "-chardev");
		add(&a, "file,id=con0,path=%s", qpath);
		add(&a, "-serial");
		add(&a, "chardev:con0");
	} else {
		add(&a, "-serial");
		add(&a, "null");
	}
	add(&a, "-kernel");
	add(&a, "%s", c->kernel);
	if (c->initrd) {
		add(&a, "-initrd");
		add(&a, "%s", c->initrd);
	}
	char *cl = cmdline_for(c->cmdline ? c->cmdline : "console=ttyS0 reboot=k panic=-1 quiet", mach);
	add(&a, "-append");
	add(&a, "%s", cl ? cl : "");
	free(cl);
	if (a.oom) {
		r = -ENOMEM;
		goto out;
	}
	/* The VMM goes first in proc[]: move the device servers behind it. */
	struct vm_proc servers[VM_MAX_PROCS];
	unsigned ns = v->nproc;
	memcpy(servers, v->proc, sizeof(servers[0]) * ns);
	v->nproc = 0;
	/* QEMU needs no capability: it opens only what we own or hand it. Jailed it sees the
	 * kernel, the initrd, the console log (created here, owned by its uid), the socket
	 * directory when it connects to NICs' sockets, /dev/kvm with kvm, and the system's
	 * /usr (its libraries, BIOS and option ROMs). */
	struct jail *j = vm_jail_for(v, "qemu", a.a[0], &r);
	if (j) {
		r = jail_bind(j, c->kernel, 0, "qemu");
		if (r == 0 && c->initrd)
			r = jail_bind(j, c->initrd, 0, "qemu");
		if (r == 0 && c->console_log)
			r = vm_jail_file(j, c->console_log, "qemu");
		if (r == 0 && c->n_net)
			r = vm_jail_bind_dir_of(j, c->vsock_uds ? c->vsock_uds : v->log_path, 0, "qemu");
		if (r == 0 && accel == VM_ACCEL_KVM) {
			jail_add_group_of(j, "/dev/kvm");
			r = jail_bind(j, "/dev/kvm", JAIL_RW | JAIL_DEV, "qemu");
		}
	}
	int keep[VM_MAX_PROCS + VM_MAX_NET + 1];
	memcpy(keep, fe, nfe * sizeof(fe[0]));
	memcpy(keep + nfe, dfd, ndfd * sizeof(dfd[0]));
	if (r == 0)
		r = vm_spawn(v, "qemu", a.a, log_fd, keep, nfe + ndfd, VM_SPAWN_NO_CAPS, j);
	free(j);
	if (r == 0) {
		struct vm_proc q = v->proc[0];
		memcpy(&v->proc[1], servers, sizeof(servers[0]) * ns);
		v->proc[0] = q;
		v->nproc = ns + 1;
	} else {
		memcpy(v->proc, servers, sizeof(servers[0]) * ns);
		v->nproc = ns;
	}
out:
	for (unsigned i = 0; i < nfe; i++)
		close(fe[i]); /* QEMU has its copies */
	for (unsigned i = 0; i < ndfd; i++)
		close(dfd[i]);
	argv_free(&a);
	return r;
}

const struct vm_backend_ops vm_backend_qemu = {
    .what = "VM",
    .log_name = "vmm.log",
    .boots_kernel = true,
    .start = start_qemu,
    .wait = vm_group_wait,
    .kill = vm_group_kill,
    .stop = vm_group_stop,
    .pidfds = vm_group_pidfds,
};
