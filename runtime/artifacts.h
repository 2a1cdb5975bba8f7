/* SPDX-License-Identifier: Apache-2.0 */
/* Where the guest kernel/initramfs are, which backend runs the VM, how big the VM is. */
#ifndef RUNM_RUNTIME_ARTIFACTS_H
#define RUNM_RUNTIME_ARTIFACTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend/backend_plan.h"
#include "spec.h"

#define VM_BASE_MEM_MIB	   128 /* guest kernel + agent overhead added to a memory limit */
#define VM_DEFAULT_MEM_MIB 256
#define VM_MAX_VCPUS	   16

struct vm_plan {
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	struct backend_plan backend; /* what runs the VM, and why (backend_plan.h) */
	int vcpus;
	int mem_mib;
	bool rootfs_device; /* the config file's default for io.runm.rootfs-device (disks.h) */
};

/* Guest artifact NAME next to the binary (DIR/guest, DIR/../guest) or in
 * DIR/../share/runm. */
bool find_guest_file(const char *name, char *out, size_t cap);
/* Everything from the spec (resources, io.runm.* annotations), the --backend
 * flag (NULL when not given; see backend_choice.h) and the host. 0 or -1 + ERR. */
int vm_plan(const struct spec *s, const char *flag_backend, struct vm_plan *p, char *err, size_t errlen);
/* Pure part of vm_plan for tests: vCPUs and MiB from limits/annotations. */
int vm_size(long long mem_limit, long long quota, long long period, const char *cpuset, const char *ann_vcpus,
	    const char *ann_mem, int host_cpus, int *vcpus, int *mem_mib, char *err, size_t errlen);

#endif
