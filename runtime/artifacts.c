/* SPDX-License-Identifier: Apache-2.0 */
#include "artifacts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_choice.h"
#include "runm.h"

int self_dir(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if ((size_t)snprintf(out, cap, "%s", exe) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

bool find_guest_file(const char *name, char *out, size_t cap)
{
	char dir[PATH_MAX];
	if (self_dir(dir, sizeof(dir)) < 0)
		return false;
	const char *cands[] = {"guest", "../guest", "../share/runm"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[PATH_MAX * 2], real[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s/%s", dir, cands[i], name);
		if (access(p, R_OK) == 0 && realpath(p, real) && strlen(real) < cap) {
			memcpy(out, real, strlen(real) + 1);
			return true;
		}
	}
	return false;
}

static int parse_pos_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Number of CPUs in a cpuset list like "0-3,6". */
static int cpuset_count(const char *s)
{
	int n = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;
		if (end == s || a < 0)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		n += (int)(b - a + 1);
		if (n > 4096)
			return -1;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

int vm_size(long long mem_limit, long long quota, long long period, const char *cpuset, const char *ann_vcpus,
	    const char *ann_mem, int host_cpus, int *vcpus, int *mem_mib, char *err, size_t errlen)
{
	long v;
	*vcpus = 1;
	*mem_mib = VM_DEFAULT_MEM_MIB;
	if (mem_limit > 0) {
		long long mib = (mem_limit + (1 << 20) - 1) >> 20;
		if (mib > 1 << 20) {
			snprintf(err, errlen, "memory limit %lld too large for a VM", mem_limit);
			return -1;
		}
		*mem_mib = (int)mib + VM_BASE_MEM_MIB;
	}
	if (quota > 0) {
		if (period <= 0)
			period = 100000;
		long long c = (quota + period - 1) / period;
		*vcpus = c > VM_MAX_VCPUS ? VM_MAX_VCPUS : (int)c;
	} else if (cpuset && *cpuset) {
		int c = cpuset_count(cpuset);
		if (c <= 0) {
			snprintf(err, errlen, "invalid cpuset \"%s\"", cpuset);
			return -1;
		}
		*vcpus = c > VM_MAX_VCPUS ? VM_MAX_VCPUS : c;
	}
	if (ann_vcpus) {
		if (parse_pos_int(ann_vcpus, 1, VM_MAX_VCPUS, &v) < 0) {
			snprintf(err, errlen, "annotation io.runm.vcpus=\"%s\": want 1..%d", ann_vcpus,
				 VM_MAX_VCPUS);
			return -1;
		}
		*vcpus = (int)v;
	}
	if (ann_mem) {
		if (parse_pos_int(ann_mem, 32, 1 << 20, &v) < 0) {
			snprintf(err, errlen, "annotation io.runm.memory_mib=\"%s\": want 32..1048576",
				 ann_mem);
			return -1;
		}
		*mem_mib = (int)v;
	}
	if (host_cpus > 0 && *vcpus > host_cpus)
		*vcpus = host_cpus;
	return 0;
}

int vm_plan(const struct spec *s, const char *flag_backend, struct vm_plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (vm_size(s->mem_limit, s->cpu_quota, s->cpu_period, s->cpuset, spec_annotation(s, "io.runm.vcpus"),
		    spec_annotation(s, "io.runm.memory_mib"), (int)sysconf(_SC_NPROCESSORS_ONLN), &p->vcpus,
		    &p->mem_mib, err, errlen) < 0)
		return -1;
	const char *k = spec_annotation(s, "io.runm.kernel"), *i = spec_annotation(s, "io.runm.initrd");
	if (k) {
		if (k[0] != '/' || access(k, R_OK) < 0) {
			snprintf(err, errlen, "annotation io.runm.kernel=%s: %s", k,
				 k[0] != '/' ? "not an absolute path" : strerror(errno));
			return -1;
		}
		snprintf(p->kernel, sizeof(p->kernel), "%s", k);
	}
	if (i) {
		if (i[0] != '/' || access(i, R_OK) < 0) {
			snprintf(err, errlen, "annotation io.runm.initrd=%s: %s", i,
				 i[0] != '/' ? "not an absolute path" : strerror(errno));
			return -1;
		}
		snprintf(p->initrd, sizeof(p->initrd), "%s", i);
	}
	struct runm_config cfg;
	if (backend_choose_cfg(spec_annotation(s, "io.runm.backend"), flag_backend, NULL, &p->backend, &cfg,
			       err, errlen) < 0)
		return -1;
	p->rootfs_device = cfg.rootfs_device;
	/* runm-vmm boots the ELF vmlinux; QEMU's pc machine boots it through PVH too */
	if (!p->kernel[0] && !find_guest_file("vmlinux", p->kernel, sizeof(p->kernel))) {
		snprintf(err, errlen,
			 "guest kernel vmlinux not found next to runm (guest/) or in share/runm: "
			 "run `make guest` or `make install`");
		return -1;
	}
	if (!p->initrd[0] && !find_guest_file("initramfs.cpio", p->initrd, sizeof(p->initrd))) {
		snprintf(err, errlen,
			 "guest initramfs.cpio not found next to runm (guest/) or in share/runm: "
			 "run `make guest` or `make install`");
		return -1;
	}
	return 0;
}
