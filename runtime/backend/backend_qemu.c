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

/* A QEMU command line being built, and the fds it is given (closed after the spawn). */
struct qemu_cmd {
	struct vm *v;
	const struct vm_config *c;
	int log_fd;
	enum vm_accel accel;
	enum vm_machine mach;
	struct argv a;
	int fe[VM_MAX_PROCS]; /* our ends of the device servers' socket pairs */
	unsigned nfe;
	int dfd[VM_MAX_NET + 1]; /* directories QEMU reaches files through (via_dir_fd) */
	unsigned ndfd;
	char spec[4096];
	char qpath[PATH_MAX];
};

/* The machine: QEMU itself, its sandbox, machine type, accelerator, CPU model, RAM, vCPUs. */
static int qemu_base_args(struct qemu_cmd *q)
{
	const struct vm_config *c = q->c;
	unsigned mem = c->mem_mib ? c->mem_mib : 256, cpus = c->vcpus ? c->vcpus : 1;
	int r = 0;
	char *bin = c->qemu ? strdup(c->qemu) : strdup("qemu-system-x86_64");
	add(&q->a, "%s", bin ? bin : "qemu-system-x86_64");
	free(bin);
	add(&q->a, "-name");
	add(&q->a, "runm");
	add(&q->a, "-nodefaults");
	add(&q->a, "-no-user-config");
	add(&q->a, "-display");
	add(&q->a, "none");
	add(&q->a, "-no-reboot");
	/* QEMU's own seccomp filter: no obsolete calls, no privilege changes, no
	 * fork/exec, no scheduler/affinity games. */
	add(&q->a, "-sandbox");
	add(&q->a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	if (q->mach == VM_MACHINE_MICROVM) {
		add(&q->a, "-M");
		/* acpi=off: QEMU then appends virtio_mmio.device= words for the guest;
		 * the PIT gives it a clock reference for TSC calibration. */
		add(&q->a, "microvm,x-option-roms=off,acpi=off,pit=on,pic=on,rtc=off,isa-serial=on,memory-"
			   "backend=mem");
	} else {
		add(&q->a, "-M");
		add(&q->a, "pc,memory-backend=mem");
		/* Not qboot (~0.3 s faster to the kernel): it writes no PCI interrupt
		 * routing into the MP table, and without ACPI or PCI_MSI the guest
		 * then finds no IRQ for virtio-pci (docs/backends.md). */
	}
	add(&q->a, "-accel");
	add(&q->a, "%s", q->accel == VM_ACCEL_KVM ? "kvm" : "tcg");
	add(&q->a, "-cpu");
	/* TCG: every feature QEMU emulates but AVX/AVX2, new in QEMU 7.2's TCG and wrong often
	 * enough that glibc's AVX2 string functions crashed guest programs (busybox segfaults: 4 runs
	 * in 12 of one test with "max", 0 in 12 with "max,-avx,-avx2") */
	add(&q->a, "%s", q->accel == VM_ACCEL_KVM ? "host" : "max,-avx,-avx2");
	add(&q->a, "-m");
	add(&q->a, "%uM", mem);
	/* One socket per vCPU: QEMU ≥ 6.2 makes "-smp N" N cores of one socket, and SeaBIOS lists
	 * only the first logical CPU of each package in its MP table, the only CPU list our ACPI-less
	 * guest reads; with N sockets the guest sees all N. */
	add(&q->a, "-smp");
	add(&q->a, "%u,sockets=%u,cores=1,threads=1", cpus, cpus);
	add(&q->a, "-object");
	add(&q->a, "memory-backend-memfd,id=mem,size=%uM,share=on", mem);
	return r;
}

/* virtio-vsock on a vhost-user vsock server (jailed: the socket bound here and passed). */
static int qemu_add_vsock(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	uint32_t cid = c->guest_cid ? c->guest_cid : 3;
	int r = 0;
	if (c->vsock_uds) {
		unlink(c->vsock_uds);
		vm_add_cleanup(v, c->vsock_uds);
		/* Jailed, the server cannot create the socket: it gets it bound and listening. */
		int lfd = vm_jail_disabled()
			      ? -1
			      : vm_listen_at(c->vsock_uds, (uid_t)-1, (gid_t)-1, "vhost-user vsock server");
		if (!vm_jail_disabled() && lfd < 0) {
			r = lfd;
			return r;
		}
		char lopt[32] = "";
		if (lfd >= 0)
			snprintf(lopt, sizeof(lopt), ",listenfd=%d", lfd);
		snprintf(q->spec, sizeof(q->spec), "vsock,uds=%s,cid=%u%s", c->vsock_uds, cid, lopt);
		char sdir[PATH_MAX];
		snprintf(sdir, sizeof(sdir), "%s", c->vsock_uds);
		/* the socket directory, read-only and without the mounts below it (the share):
		 * guest->host connects reach <uds>_PORT there */
		r = start_device_server(v, c, q->spec, "vhost-user vsock server", q->log_fd, &q->fe[q->nfe],
					lfd, NULL, dirname(sdir), 0);
		if (lfd >= 0)
			close(lfd);
		if (r < 0)
			return r;
		add(&q->a, "-chardev");
		add_chardev(&q->a, "vsock0", q->fe[q->nfe++]);
		add(&q->a, "-device");
		add(&q->a, "%s,chardev=vsock0",
		    q->mach == VM_MACHINE_MICROVM ? "vhost-user-vsock-device" : "vhost-user-vsock-pci");
	}
	return r;
}

/* virtio-rng on a vhost-user rng server. */
static int qemu_add_rng(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	int r = 0;
	if (c->rng) {
		r = start_device_server(v, c, "rng", "vhost-user rng server", q->log_fd, &q->fe[q->nfe], -1,
					NULL, NULL, 0);
		if (r < 0)
			return r;
		add(&q->a, "-chardev");
		add_chardev(&q->a, "rng0", q->fe[q->nfe++]);
		add(&q->a, "-device");
		add(&q->a, "%s,chardev=rng0",
		    q->mach == VM_MACHINE_MICROVM ? "vhost-user-rng" : "vhost-user-rng-pci");
	}
	return r;
}

/* One vhost-user fs server per share. */
static int qemu_add_fs(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	int r = 0;
	for (unsigned i = 0; i < c->n_fs; i++) {
		char what[64];
		snprintf(what, sizeof(what), "vhost-user fs server %u", i);
		if (strchr(c->fs[i].tag, ',') || strchr(c->fs[i].dir, ',')) {
			log_error("start VM: fs share %s=%s: commas are not supported", c->fs[i].tag,
				  c->fs[i].dir);
			r = -EINVAL;
			return r;
		}
		snprintf(q->spec, sizeof(q->spec), "fs,tag=%s,dir=%s", c->fs[i].tag, c->fs[i].dir);
		r = start_device_server(v, c, q->spec, "vhost-user fs server", q->log_fd, &q->fe[q->nfe], -1,
					NULL, c->fs[i].dir, JAIL_RW | JAIL_REC);
		if (r < 0)
			return r;
		add(&q->a, "-chardev");
		char id[16];
		snprintf(id, sizeof(id), "fs%u", i);
		add_chardev(&q->a, id, q->fe[q->nfe++]);
		add(&q->a, "-device");
		add(&q->a, "%s,chardev=fs%u,tag=%s",
		    q->mach == VM_MACHINE_MICROVM ? "vhost-user-fs-device" : "vhost-user-fs-pci", i,
		    c->fs[i].tag);
	}
	return r;
}

/* One vhost-user blk server per drive. */
static int qemu_add_disks(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	int r = 0;
	/* Drives: vhost-user-blk-pci on a blk server that gets the image open (fd=N: no path in
	 * its jail). One queue: QEMU's auto num-queues would follow the vCPUs. */
	for (unsigned i = 0; i < c->n_disk; i++) {
		/* a literal: vm_spawn keeps the pointer for the process's end report */
		const char *what = "vhost-user blk server";
		char opts[96];
		int ifd = vm_disk_open(&c->disk[i], i);
		if (ifd < 0) {
			r = ifd;
			return r;
		}
		r = vm_disk_options(&c->disk[i], ifd, opts, sizeof(opts));
		if (r == 0) {
			snprintf(q->spec, sizeof(q->spec), "blk,%s", opts);
			r = start_device_server(v, c, q->spec, what, q->log_fd, &q->fe[q->nfe], ifd, NULL,
						NULL, 0);
		}
		close(ifd); /* the server has its copy */
		if (r < 0)
			return r;
		char id[16];
		snprintf(id, sizeof(id), "blk%u", i);
		add(&q->a, "-chardev");
		add_chardev(&q->a, id, q->fe[q->nfe++]);
		add(&q->a, "-device");
		add(&q->a, "%s,chardev=blk%u,num-queues=1",
		    q->mach == VM_MACHINE_MICROVM ? "vhost-user-blk" : "vhost-user-blk-pci", i);
	}
	return r;
}

/* One vhost-user net server per NIC. */
static int qemu_add_nets(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	int r = 0;
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
			return r;
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
			snprintf(q->spec, sizeof(q->spec), "net,%s", opts);
			unlink(sock);
			vm_add_cleanup(v, sock);
			r = start_device_server(v, c, q->spec, what, q->log_fd, &q->fe[q->nfe], tfd, sock,
						NULL, 0);
		}
		close(tfd); /* the server has its copy */
		if (r < 0)
			return r;
		if ((r = via_dir_fd(sock, q->dfd, &q->ndfd, q->qpath, sizeof(q->qpath))) < 0)
			return r;
		add(&q->a, "-chardev");
		add(&q->a, "socket,id=netc%u,path=%s", i, q->qpath);
		add(&q->a, "-netdev");
		add(&q->a, "vhost-user,id=net%u,chardev=netc%u", i, i);
		add(&q->a, "-device");
		const char *model = q->mach == VM_MACHINE_MICROVM ? "virtio-net-device" : "virtio-net-pci";
		char mtu[24] = "";
		if (c->net[i].mtu)
			snprintf(mtu, sizeof(mtu), ",host_mtu=%u", c->net[i].mtu);
		add(&q->a, "%s,netdev=net%u,mac=%s%s", model, i, mac, mtu);
	}
	return r;
}

/* The console (a file chardev through the run directory's fd), kernel, initrd, command line. */
static int qemu_add_console_kernel(struct qemu_cmd *q)
{
	const struct vm_config *c = q->c;
	int r = 0;
	if (c->console_log) {
		/* A file chardev, reached through the run directory's fd (via_dir_fd: no ",," escapes
		 * either). */
		if ((r = via_dir_fd(c->console_log, q->dfd, &q->ndfd, q->qpath, sizeof(q->qpath))) < 0)
			return r;
		add(&q->a, "-chardev");
		add(&q->a, "file,id=con0,path=%s", q->qpath);
		add(&q->a, "-serial");
		add(&q->a, "chardev:con0");
	} else {
		add(&q->a, "-serial");
		add(&q->a, "null");
	}
	add(&q->a, "-kernel");
	add(&q->a, "%s", c->kernel);
	if (c->initrd) {
		add(&q->a, "-initrd");
		add(&q->a, "%s", c->initrd);
	}
	char *cl = cmdline_for(c->cmdline ? c->cmdline : "console=ttyS0 reboot=k panic=-1 quiet", q->mach);
	add(&q->a, "-append");
	add(&q->a, "%s", cl ? cl : "");
	free(cl);
	if (q->a.oom) {
		r = -ENOMEM;
		return r;
	}
	return r;
}

/* QEMU itself, jailed, first in v->proc (the device servers behind it). */
static int qemu_spawn(struct qemu_cmd *q)
{
	struct vm *v = q->v;
	const struct vm_config *c = q->c;
	int r = 0;
	/* The VMM goes first in proc[]: move the device servers behind it. */
	struct vm_proc servers[VM_MAX_PROCS];
	unsigned ns = v->nproc;
	memcpy(servers, v->proc, sizeof(servers[0]) * ns);
	v->nproc = 0;
	/* QEMU needs no capability: it opens only what we own or hand it. Jailed it sees the
	 * kernel, the initrd, the console log (created here, owned by its uid), the socket
	 * directory when it connects to NICs' sockets, /dev/kvm with kvm, and the system's
	 * /usr (its libraries, BIOS and option ROMs). */
	struct jail *j = vm_jail_for(v, "qemu", q->a.a[0], &r);
	if (j) {
		r = jail_bind(j, c->kernel, 0, "qemu");
		if (r == 0 && c->initrd)
			r = jail_bind(j, c->initrd, 0, "qemu");
		if (r == 0 && c->console_log)
			r = vm_jail_file(j, c->console_log, "qemu");
		if (r == 0 && c->n_net)
			r = vm_jail_bind_dir_of(j, c->vsock_uds ? c->vsock_uds : v->log_path, 0, "qemu");
		if (r == 0 && q->accel == VM_ACCEL_KVM) {
			jail_add_group_of(j, "/dev/kvm");
			r = jail_bind(j, "/dev/kvm", JAIL_RW | JAIL_DEV, "qemu");
		}
	}
	int keep[VM_MAX_PROCS + VM_MAX_NET + 1];
	memcpy(keep, q->fe, q->nfe * sizeof(q->fe[0]));
	memcpy(keep + q->nfe, q->dfd, q->ndfd * sizeof(q->dfd[0]));
	if (r == 0)
		r = vm_spawn(v, "qemu", q->a.a, q->log_fd, keep, q->nfe + q->ndfd, VM_SPAWN_NO_CAPS, j);
	free(j);
	if (r == 0) {
		struct vm_proc qemu = v->proc[0];
		memcpy(&v->proc[1], servers, sizeof(servers[0]) * ns);
		v->proc[0] = qemu;
		v->nproc = ns + 1;
	} else {
		memcpy(v->proc, servers, sizeof(servers[0]) * ns);
		v->nproc = ns;
	}
	return r;
}

static int start_qemu(struct vm *v, const struct vm_config *c, int log_fd)
{
	if (c->vsock_uds && strchr(c->vsock_uds, ',')) {
		log_error("start VM: vsock socket path %s: commas are not supported", c->vsock_uds);
		return -EINVAL;
	}
	struct qemu_cmd *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct qemu_cmd){.v = v,
			       .c = c,
			       .log_fd = log_fd,
			       .accel = c->accel, /* vm_start decided it */
			       .mach = c->machine == VM_MACHINE_AUTO ? VM_MACHINE_PC : c->machine};
	/* Device servers first: QEMU talks to them from its start. */
	int r = qemu_base_args(q);
	if (r == 0 && c->vsock_uds)
		r = qemu_add_vsock(q);
	if (r == 0 && c->rng)
		r = qemu_add_rng(q);
	if (r == 0)
		r = qemu_add_fs(q);
	if (r == 0)
		r = qemu_add_disks(q);
	if (r == 0)
		r = qemu_add_nets(q);
	if (r == 0)
		r = qemu_add_console_kernel(q);
	if (r == 0)
		r = qemu_spawn(q);
	for (unsigned i = 0; i < q->nfe; i++)
		close(q->fe[i]); /* QEMU has its copies */
	for (unsigned i = 0; i < q->ndfd; i++)
		close(q->dfd[i]);
	argv_free(&q->a);
	free(q);
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
