/* SPDX-License-Identifier: Apache-2.0 */
/* Pods (docs/pods.md): which container boots a pod's microVM (the sandbox: CRI's pause, podman's
 * infra container) and which joins one (a member), from the engine's annotations. */
#ifndef RUNM_RUNTIME_POD_H
#define RUNM_RUNTIME_POD_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

enum pod_role {
	POD_NONE,    /* a standalone container: its own VM (no pod annotation) */
	POD_SANDBOX, /* boots the pod's VM, exactly like a standalone container */
	POD_MEMBER,  /* boots nothing: joins the sandbox's VM */
};

/* state.json annotations runm adds (runm state / list) */
#define POD_ANN_SANDBOX "io.runm.pod.sandbox"
#define POD_ANN_ROLE	"io.runm.pod.role"

struct pod_info {
	enum pod_role role;
	char sandbox[256]; /* the sandbox's container id (its own for a sandbox), "" for POD_NONE */
};

/* Classify container ID from S's annotations:
 *   io.runm.pod.role = sandbox | member | none, io.runm.pod.sandbox = <id>  (override, first)
 *   io.kubernetes.cri.container-type = sandbox | container, io.kubernetes.cri.sandbox-id (containerd)
 *   io.kubernetes.cri-o.ContainerType = sandbox | container, io.kubernetes.cri-o.SandboxID (CRI-O)
 *   io.kubernetes.cri-o.SandboxID alone (podman pods): its own id → sandbox, another → member
 * 0, or -1 with ERR (a member without a sandbox id, an unknown role, an invalid id). */
int pod_classify(const struct spec *s, const char *id, struct pod_info *pi, char *err, size_t errlen);
const char *pod_role_name(enum pod_role r);

/* VM size for a sandbox: containerd's io.kubernetes.cri.sandbox-memory (bytes) and
 * sandbox-cpu-quota / -period fill MEM/QUOTA/PERIOD where the spec gave none (they describe
 * the whole pod, the pause container's own limits do not).  0, or -1 with ERR. */
int pod_sandbox_size(const struct spec *s, long long *mem, long long *quota, long long *period, char *err,
		     size_t errlen);

/* Check the spec's namespace paths. Those of a pod member (SANDBOX_PID: the sandbox shim's
 * pid; -1 for a container that is no member) that name the sandbox's namespaces are fine, and
 * *IPC / *UTS say whether ipc / uts are shared with the sandbox container in the guest; a
 * network namespace path is always fine (the shim joins it on the host). Any other path names
 * a host namespace, which cannot cross into the guest: -1 with ERR naming type and path. */
int pod_ns_paths(const struct spec *s, int sandbox_pid, bool *ipc, bool *uts, char *err, size_t errlen);

#endif
