/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-vmctl: run one microVM through the backend library, outside any
 * container (tests, benchmarks, debugging).
 *
 *   runm-vmctl [--backend auto|runm-vmm|qemu] [--accel auto|kvm|tcg]
 *              [--machine auto|pc|microvm] --kernel K [--initrd I] [--cmdline S]
 *              [--cpus N] [--mem MiB] [--vsock-uds PATH] [--cid N] [--fs TAG=DIR]... [--rng]
 *              [--net tapfd=N[,mac=MAC][,mtu=N]]...
 *              [--drive {path=FILE|fd=N}[,ro=on][,id=SERIAL]]...
 *              [--console FILE] [--run-dir DIR] [--runm-vmm BIN] [--qemu BIN]
 *              [--timeout SEC] [--debug]
 *   runm-vmctl --explain [--backend ...] [--accel ...]
 *
 * Prints one JSON line when the VM runs ({"event":"started","pids":[...]})
 * and one when it ended ({"event":"exited","status":N}); exits with N.
 * SIGTERM/SIGINT stop the VM; on --timeout the VM is killed (status 124).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "runtime/backend/backend.h"
#include "runtime/backend/backend_plan.h"
#include "runtime/backend/jail.h"

/* "tapfd=N[,mac=aa:bb:cc:dd:ee:ff][,mtu=N]" (the tap stays ours: inherited) */
static int parse_net(const char *v, struct vm_net *n)
{
	char *dup = strdup(v), *save = NULL;
	int bad = !dup;
	n->tap_fd = -1;
	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !bad; t = strtok_r(NULL, ",", &save)) {
		char *end, c;
		if (!strncmp(t, "tapfd=", 6)) {
			long fd = strtol(t + 6, &end, 10);
			bad = !t[6] || *end || fd < 0 || fd > 65535;
			n->tap_fd = (int)fd;
		} else if (!strncmp(t, "mtu=", 4)) {
			unsigned long m = strtoul(t + 4, &end, 10);
			bad = !t[4] || *end || m > 65535;
			n->mtu = (unsigned)m;
		} else if (!strncmp(t, "mac=", 4)) {
			bad = sscanf(t + 4, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%c", &n->mac[0], &n->mac[1],
				     &n->mac[2], &n->mac[3], &n->mac[4], &n->mac[5], &c) != 6;
		} else {
			bad = 1;
		}
	}
	free(dup);
	return bad || n->tap_fd < 0 ? -1 : 0;
}

/* "{path=FILE|fd=N}[,ro=on][,id=SERIAL]" (strings stay in argv; an fd stays ours) */
static int parse_drive(char *v, struct vm_disk *d)
{
	char *save = NULL;
	int bad = 0;
	d->fd = -1;
	for (char *t = strtok_r(v, ",", &save); t && !bad; t = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strncmp(t, "path=", 5)) {
			d->path = t + 5;
			bad = !t[5];
		} else if (!strncmp(t, "fd=", 3)) {
			long fd = strtol(t + 3, &end, 10);
			bad = !t[3] || *end || fd < 0 || fd > 65535;
			d->fd = (int)fd;
		} else if (!strcmp(t, "ro=on") || !strcmp(t, "ro")) {
			d->ro = true;
		} else if (!strncmp(t, "id=", 3)) {
			d->serial = t + 3;
		} else {
			bad = 1;
		}
	}
	return bad || (!d->path) == (d->fd < 0) ? -1 : 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	struct vm_config c = {0};
	bool explain = false;
	long timeout = 0;
	log_set_prog("runm-vmctl");
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (!strcmp(o, "--explain")) {
			explain = true;
			continue;
		}
		if (!strcmp(o, "--rng")) {
			c.rng = true;
			continue;
		}
		if (!strcmp(o, "--no-jail")) {
			vm_jail_disable(); /* debugging, and stand-in programs of tests */
			continue;
		}
		if (!strcmp(o, "--debug")) {
			log_set_debug(1);
			continue;
		}
		if (i + 1 >= argc) {
			log_error("%s: missing value or unknown option", o);
			return 2;
		}
		const char *v = argv[++i];
		int bad = 0;
		if (!strcmp(o, "--backend"))
			bad = vm_backend_parse(v, &c.backend);
		else if (!strcmp(o, "--accel"))
			bad = vm_accel_parse(v, &c.accel);
		else if (!strcmp(o, "--machine"))
			bad = vm_machine_parse(v, &c.machine);
		else if (!strcmp(o, "--kernel"))
			c.kernel = v;
		else if (!strcmp(o, "--initrd"))
			c.initrd = v;
		else if (!strcmp(o, "--cmdline"))
			c.cmdline = v;
		else if (!strcmp(o, "--cpus"))
			c.vcpus = (unsigned)atoi(v);
		else if (!strcmp(o, "--mem"))
			c.mem_mib = (unsigned)atoi(v);
		else if (!strcmp(o, "--vsock-uds"))
			c.vsock_uds = v;
		else if (!strcmp(o, "--cid"))
			c.guest_cid = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--console"))
			c.console_log = v;
		else if (!strcmp(o, "--run-dir"))
			c.run_dir = v;
		else if (!strcmp(o, "--runm-vmm"))
			c.runm_vmm = v;
		else if (!strcmp(o, "--qemu"))
			c.qemu = v;
		else if (!strcmp(o, "--timeout"))
			timeout = atol(v);
		else if (!strcmp(o, "--fs")) {
			const char *eq = strchr(v, '=');
			if (!eq || eq == v || !eq[1] || c.n_fs == VM_MAX_FS) {
				log_error("--fs %s: TAG=DIR expected (at most %d)", v, VM_MAX_FS);
				return 2;
			}
			static char tags[VM_MAX_FS][256];
			snprintf(tags[c.n_fs], sizeof(tags[0]), "%.*s", (int)(eq - v), v);
			c.fs[c.n_fs].tag = tags[c.n_fs];
			c.fs[c.n_fs++].dir = eq + 1;
		} else if (!strcmp(o, "--net")) {
			if (c.n_net == VM_MAX_NET || parse_net(v, &c.net[c.n_net]) < 0) {
				log_error("--net %s: tapfd=N[,mac=MAC][,mtu=N] expected (at most %d)", v,
					  VM_MAX_NET);
				return 2;
			}
			c.n_net++;
		} else if (!strcmp(o, "--drive")) {
			if (c.n_disk == VM_MAX_DISKS || parse_drive(argv[i], &c.disk[c.n_disk]) < 0) {
				log_error(
				    "--drive: {path=FILE|fd=N}[,ro=on][,id=SERIAL] expected (at most %d)",
				    VM_MAX_DISKS);
				return 2;
			}
			c.n_disk++;
		} else {
			log_error("unknown option %s", o);
			return 2;
		}
		if (bad) {
			log_error("%s %s: invalid value", o, v);
			return 2;
		}
	}
	if (explain) {
		/* the decision vm_start makes, and its one reason (also when none is usable) */
		struct backend_plan p;
		char err[BACKEND_REASON_MAX];
		backend_plan_host(c.backend, c.accel, &p, err, sizeof(err));
		printf("{\"backend\":\"%s\",\"accel\":\"%s\",\"reason\":", vm_backend_name(p.vmm),
		       vm_accel_name(p.accel));
		json_str(p.reason);
		printf("}\n");
		return 0;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	struct vm *vm;
	if (vm_start(&c, &vm) < 0)
		return 1;
	pid_t pids[VM_MAX_PROCS];
	int n = vm_pids(vm, pids, VM_MAX_PROCS);
	printf("{\"event\":\"started\",\"backend\":\"%s\",\"pids\":[", vm_backend_name(vm_backend_of(vm)));
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", pids[i]);
	printf("]}\n");
	fflush(stdout);

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int status = 0;
	for (;;) {
		int r = vm_wait(vm, 100, &status);
		if (r == 1)
			break;
		if (r < 0) {
			log_errno(-r, "wait for the VM");
			status = 1;
			break;
		}
		struct timespec zero = {0, 0};
		int sig = sigtimedwait(&mask, NULL, &zero);
		if (sig > 0) {
			vm_stop(vm, 1000);
			status = 128 + sig;
			break;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout > 0 && t.tv_sec - t0.tv_sec >= timeout) {
			log_error("VM still running after %ld s: killing it", timeout);
			vm_stop(vm, 0);
			status = 124;
			break;
		}
	}
	vm_free(vm);
	printf("{\"event\":\"exited\",\"status\":%d}\n", status);
	return status;
}
