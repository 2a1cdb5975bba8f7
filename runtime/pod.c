/* SPDX-License-Identifier: Apache-2.0 */
/* Who boots a pod's VM and who joins one: the engines' annotations (runtime/pod.h). */
#include "pod.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "runm.h"

#define A_CRI_TYPE     "io.kubernetes.cri.container-type"
#define A_CRI_SANDBOX  "io.kubernetes.cri.sandbox-id"
#define A_CRIO_TYPE    "io.kubernetes.cri-o.ContainerType"
#define A_CRIO_SANDBOX "io.kubernetes.cri-o.SandboxID"

const char *pod_role_name(enum pod_role r)
{
	return r == POD_SANDBOX ? "sandbox" : r == POD_MEMBER ? "member" : "none";
}

static int set(struct pod_info *pi, enum pod_role role, const char *sandbox, const char *why, char *err,
	       size_t errlen)
{
	pi->role = role;
	if (role == POD_NONE)
		return 0;
	if (!sandbox || !*sandbox) {
		snprintf(err, errlen, "pod member: %s gives no sandbox id", why);
		return -1;
	}
	if (!valid_id(sandbox) || strlen(sandbox) >= sizeof(pi->sandbox)) {
		snprintf(err, errlen, "pod: %s: sandbox id \"%s\" is not a valid container id", why, sandbox);
		return -1;
	}
	snprintf(pi->sandbox, sizeof(pi->sandbox), "%s", sandbox);
	return 0;
}

/* "sandbox" | "container" (CRI) → role; -1 for anything else. */
static int cri_role(const char *v)
{
	if (!strcmp(v, "sandbox"))
		return POD_SANDBOX;
	if (!strcmp(v, "container"))
		return POD_MEMBER;
	return -1;
}

int pod_classify(const struct spec *s, const char *id, struct pod_info *pi, char *err, size_t errlen)
{
	memset(pi, 0, sizeof(*pi));
	const char *role = spec_annotation(s, POD_ANN_ROLE), *sb = spec_annotation(s, POD_ANN_SANDBOX);
	if (role) {
		if (!strcmp(role, "none"))
			return 0;
		if (!strcmp(role, "sandbox"))
			return set(pi, POD_SANDBOX, id, POD_ANN_ROLE, err, errlen);
		if (!strcmp(role, "member"))
			return set(pi, POD_MEMBER, sb, POD_ANN_ROLE "=member with " POD_ANN_SANDBOX, err,
				   errlen);
		snprintf(err, errlen, "annotation " POD_ANN_ROLE "=\"%s\": want sandbox, member or none",
			 role);
		return -1;
	}
	static const char *const pairs[][2] = {{A_CRI_TYPE, A_CRI_SANDBOX}, {A_CRIO_TYPE, A_CRIO_SANDBOX}};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const char *t = spec_annotation(s, pairs[i][0]);
		if (!t)
			continue;
		int r = cri_role(t);
		if (r < 0) {
			snprintf(err, errlen, "annotation %s=\"%s\": want sandbox or container", pairs[i][0],
				 t);
			return -1;
		}
		char why[128];
		snprintf(why, sizeof(why), "%s=%s with %s", pairs[i][0], t, pairs[i][1]);
		return set(pi, (enum pod_role)r, r == POD_SANDBOX ? id : spec_annotation(s, pairs[i][1]), why,
			   err, errlen);
	}
	/* podman pods: only the infra container's id; the infra container names itself */
	const char *crio = spec_annotation(s, A_CRIO_SANDBOX);
	if (crio && *crio)
		return set(pi, strcmp(crio, id) ? POD_MEMBER : POD_SANDBOX, crio, A_CRIO_SANDBOX, err,
			   errlen);
	return 0;
}

static int ann_ll(const struct spec *s, const char *key, long long min, long long *out, char *err,
		  size_t errlen)
{
	const char *v = spec_annotation(s, key);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < min) {
		snprintf(err, errlen, "annotation %s=\"%s\": want an integer ≥ %lld", key, v, min);
		return -1;
	}
	*out = n;
	return 1;
}

int pod_sandbox_size(const struct spec *s, long long *mem, long long *quota, long long *period, char *err,
		     size_t errlen)
{
	long long m = 0, q = 0, p = 0;
	int rm = ann_ll(s, "io.kubernetes.cri.sandbox-memory", 0, &m, err, errlen);
	int rq = rm < 0 ? -1 : ann_ll(s, "io.kubernetes.cri.sandbox-cpu-quota", -1, &q, err, errlen);
	int rp = rq < 0 ? -1 : ann_ll(s, "io.kubernetes.cri.sandbox-cpu-period", 0, &p, err, errlen);
	if (rm < 0 || rq < 0 || rp < 0)
		return -1;
	if (*mem <= 0 && m > 0)
		*mem = m;
	if (*quota <= 0 && q > 0) {
		*quota = q;
		if (p > 0)
			*period = p;
	}
	return 0;
}

/* Whether PATH names the namespace TYPE (proc name NSNAME) of process PID: the same path, or
 * the same namespace (device and inode) when both can be looked at. */
static bool names_ns_of(const char *path, int pid, const char *nsname)
{
	char want[64];
	snprintf(want, sizeof(want), "/proc/%d/ns/%s", pid, nsname);
	if (!strcmp(path, want))
		return true;
	struct stat a, b;
	return stat(path, &a) == 0 && stat(want, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* /proc/<pid>/ns/ names of the spec's namespace types */
static const char *proc_ns_name(const char *type)
{
	static const char *const map[][2] = {{"network", "net"},   {"mount", "mnt"}, {"pid", "pid"},
					     {"ipc", "ipc"},	   {"uts", "uts"},   {"user", "user"},
					     {"cgroup", "cgroup"}, {"time", "time"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(type, map[i][0]))
			return map[i][1];
	return NULL;
}

int pod_ns_paths(const struct spec *s, int sandbox_pid, bool *ipc, bool *uts, char *err, size_t errlen)
{
	*ipc = *uts = false;
	yajl_val nss = s->root ? json_at(s->root, yajl_t_array, "linux", "namespaces", JSON_END) : NULL;
	for (size_t i = 0; nss && i < nss->u.array.len; i++) {
		yajl_val e = nss->u.array.values[i];
		const char *ts = json_get_str(e, "type"), *ps = json_get_str(e, "path");
		if (!ts || !ps || !ps[0] || !strcmp(ts, "network"))
			continue; /* a network namespace path is the host's, and the shim joins it */
		const char *nsname = proc_ns_name(ts);
		if (nsname && sandbox_pid > 0 && names_ns_of(ps, sandbox_pid, nsname)) {
			/* the pod sandbox's: ipc, uts, user and pid are shared in the guest (the
			 * guest config names the sandbox's), mount and cgroup stay the member's
			 * own there (docs/pods.md) */
			*ipc |= !strcmp(ts, "ipc");
			*uts |= !strcmp(ts, "uts");
			continue;
		}
		snprintf(
		    err, errlen,
		    "%s namespace %s: a namespace on the host cannot be joined from inside a microVM (runm "
		    "shares namespaces only between the containers of one pod: docs/pods.md)",
		    ts, ps);
		return -1;
	}
	return 0;
}
