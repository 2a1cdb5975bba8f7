/* SPDX-License-Identifier: Apache-2.0 */
/* Guest cgroups (cgroups.c) and the device controller's eBPF program (devcgroup.c). */
#ifndef RUNM_AGENT_CGROUPS_H
#define RUNM_AGENT_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "setup.h"

struct json_gen;
struct proto_resources;
struct bpf_insn;

int cgroup_create(const struct spec *s, const char *id, char *path, size_t len, char *err, size_t errlen);
/* devcgroup.c: linux.resources.devices as a cgroup device eBPF program, attached to CGROUP */
/* MAP (N entries): the host block devices that are drives in the guest. A block rule naming one
 * host device (major and minor) names its drive instead; an allow rule naming any other host
 * block device is dropped (in the guest those numbers could only be one of the VM's own
 * drives). */
int devcg_program(yajl_val resources, const struct spec_devmap *map, size_t n, struct bpf_insn *prog,
		  size_t max, size_t *len, char *err, size_t errlen);
int devcg_attach(const char *cgroup, yajl_val resources, const struct spec_devmap *map, size_t n, char *err,
		 size_t errlen);
/* Write the limits set in R to the cgroup at PATH (create and the "update" op). */
int cgroup_apply(const char *path, const struct proto_resources *r, char *err, size_t errlen);
int cgroup_enter(const char *path, pid_t pid, struct setup_err *e);
int cgroup_stats(const char *path, struct json_gen *pg);
void cgroup_remove(const char *path);
/* cgroup v2 freezer: write cgroup.freeze and wait up to TIMEOUT_MS for cgroup.events to say
 * "frozen 1" (or 0); an unfinished freeze is undone.  -1 with ERR (also for an empty PATH). */
int cgroup_freeze(const char *path, bool freeze, int timeout_ms, char *err, size_t errlen);
/* memory.events oom_kill counter (-1 if unavailable); inotify fd watching it, or -1. */
long long cgroup_oom_kills(const char *path);
int cgroup_watch_oom(const char *path);

#endif
