/* SPDX-License-Identifier: Apache-2.0 */
/* The container's cgroup on the host: where the shim and every VMM-side process live.
 *
 * Engines read a container's CPU and memory from the host cgroup named by the spec's
 * linux.cgroupsPath (podman/docker/containerd stats, metrics) and expect its CPU limit to hold.
 * For a microVM that cgroup is the right home for the whole VM: the shim enters it before it
 * boots the VM, so QEMU or runm-vmm, the device servers and their threads are all accounted
 * there (Kata's sandbox_cgroup_only). The container's own limits are enforced in the guest
 * (agent/cgroups.c); on the host runm applies the CPU limit (vCPU threads are host threads) and
 * no memory or pids limit: the VM's RAM is sized from the memory limit (artifacts.h) and a
 * host limit would kill the VMM, not the container's process. docs/usage.md "Host cgroups".
 *
 * cgroup v1 (every mounted hierarchy, cpuset initialised from its parent) and v2 (the
 * unified hierarchy, alone or hybrid). A path "slice:prefix:name" (--systemd-cgroup) names
 * what systemd would create: /<slice path>/<prefix>-<name>.scope. */
#ifndef RUNM_RUNTIME_HOST_CGROUP_H
#define RUNM_RUNTIME_HOST_CGROUP_H

#include <limits.h>
#include <stddef.h>

#include "spec.h"

#define HOST_CGROUP_RECORD "host-cgroup" /* in the state directory: the path, for delete */

/* The cgroup path for container ID of spec S (cgroupsPath as runc reads it). None given:
 * "/runm/<id>" for a container under the default --root (ROOT NULL or RUNM_DEFAULT_ROOT), else
 * "/runm/<id>-<8 hex digits of a hash of ROOT>": the same id under two roots (test suites, two
 * engines) must not share a group, since delete kills what is left in it. 0, or -1 with ERR for
 * a malformed path. */
int host_cgroup_path(const struct spec *s, const char *id, const char *root, char *out, size_t outlen,
		     char *err, size_t errlen);

/* What the VMM itself needs on the host beyond the guest's RAM (QEMU's code and TCG translation
 * cache, the device servers), for the check against a memory limit above PATH. */
#define HOST_CGROUP_VMM_OVERHEAD_MIB 128U

/* Create PATH in every hierarchy and move the calling process into it, apply the CPU limit
 * of S, record PATH in DIRFD/HOST_CGROUP_RECORD. VM_MIB (0: no VM of ours, a pod member): the
 * guest RAM; a memory limit already set above PATH (e.g. kubelet's pod cgroup) smaller than
 * VM_MIB + HOST_CGROUP_VMM_OVERHEAD_MIB would OOM-kill the VMM, and fails here. 0, or -1
 * with ERR (nothing left behind). A host where cgroups cannot be written (read-only
 * cgroupfs, rootless) gives 1 with a warning in ERR: the container runs, its VM stays in the
 * caller's cgroup. */
int host_cgroup_enter(const struct spec *s, const char *path, unsigned vm_mib, int dirfd, char *err,
		      size_t errlen);

/* Leave PATH (move the calling process to the root cgroup of each hierarchy) and remove
 * it where empty. The record in DIRFD goes too. Errors are logged, never fatal. */
void host_cgroup_leave(const char *path, int dirfd);

/* Remove the cgroup recorded in state directory DIR (delete after kill -9 of the shim). */
void host_cgroup_remove_recorded(const char *dir);

#endif
