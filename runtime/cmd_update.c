/* SPDX-License-Identifier: Apache-2.0 */
/* runm update [--resources FILE|-] [--memory N …] ID: new limits for the guest's cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "io.h"
#include "log.h"
#include "proto/proto.h"

struct update_opts {
	const char *resources, *memory, *memory_reservation, *memory_swap, *cpu_quota, *cpu_period,
	    *cpu_shares, *cpuset_cpus, *cpuset_mems, *pids_limit;
};

#define U_(m, name, help) OPT_VALUE(struct update_opts, m, name, 0, help)
const struct optdef update_opts[] = {
    OPT_VALUE(struct update_opts, resources, "resources", 'r',
	      "path to a resources JSON file, or - for stdin"),
    U_(memory, "memory", "memory limit in bytes (-1: none); bounded by the VM's RAM"),
    U_(memory_reservation, "memory-reservation", "memory soft limit in bytes (memory.low)"),
    U_(memory_swap, "memory-swap", "memory plus swap limit in bytes (-1: none)"),
    U_(cpu_quota, "cpu-quota", "CPU quota"),
    U_(cpu_period, "cpu-period", "CPU period"),
    U_(cpu_shares, "cpu-shares", "CPU shares"),
    U_(cpuset_cpus, "cpuset-cpus", "guest CPUs to use (0-3, 0,1)"),
    U_(cpuset_mems, "cpuset-mems", "guest memory nodes to use"),
    U_(pids_limit, "pids-limit", "pids limit"),
    OPT_END,
};
#undef U_

static int num_opt(const char *name, const char *v, long long *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || end == v) {
		log_error("invalid value for --%s: %s", name, v);
		return -1;
	}
	*out = n;
	return 0;
}

/* --resources FILE|-: a runtime-spec LinuxResources object into R. */
static int read_resources(const char *res, struct proto_resources *r)
{
	int fd = strcmp(res, "-") ? open(res, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0) {
		log_errno(errno, "open resources file %s", res);
		return -1;
	}
	char *doc = io_read_fd(fd, 1 << 20, NULL);
	if (fd != STDIN_FILENO)
		close(fd);
	if (!doc) {
		log_errno(errno, "read resources %s", res);
		return -1;
	}
	char err[256];
	yajl_val v = json_parse(doc, strlen(doc), err, sizeof(err));
	free(doc);
	if (v && !YAJL_IS_OBJECT(v))
		snprintf(err, sizeof(err), "not a JSON object");
	int rc = v && YAJL_IS_OBJECT(v) ? proto_parse_resources(v, r, err, sizeof(err)) : -1;
	if (v)
		yajl_tree_free(v);
	if (rc < 0) {
		char *nl = strchr(err, '\n');
		if (nl)
			*nl = '\0';
		log_error("decode resources %s: %s", res, err);
	}
	return rc;
}

/* The object of R as JSON text into *OUT (malloc'd), through the one decoder's bounds. */
static int resources_json(const struct proto_resources *r, char **out)
{
	struct json_gen pg;
	const char *js;
	size_t len;
	char err[256] = "out of memory";
	int rc = -1;
	*out = NULL;
	if (json_gen_begin(&pg) < 0)
		goto fail;
	proto_gen_resources(&pg, "r", r);
	yajl_val v = json_gen_end(&pg, &js, &len) == 0 ? json_parse(js, len, err, sizeof(err)) : NULL;
	yajl_val o = json_get(v, "r", yajl_t_object);
	struct proto_resources chk;
	if (o && proto_parse_resources(o, &chk, err, sizeof(err)) == 0) {
		*out = json_to_text(o);
		rc = *out ? 0 : -1;
	}
	if (v)
		yajl_tree_free(v);
fail:
	json_gen_free(&pg);
	if (rc < 0)
		log_error("update: %s", err);
	return rc;
}

/* runc's individual flags, over what --resources gave (as runc does). */
static int flag_resources(const struct update_opts *o, struct proto_resources *r)
{
	const struct {
		const char *name, *val;
		unsigned bit;
		long long *out;
	} nums[] = {
	    {"memory", o->memory, PROTO_RES_MEM_LIMIT, &r->mem_limit},
	    {"memory-reservation", o->memory_reservation, PROTO_RES_MEM_RESERVATION, &r->mem_reservation},
	    {"memory-swap", o->memory_swap, PROTO_RES_MEM_SWAP, &r->mem_swap},
	    {"cpu-quota", o->cpu_quota, PROTO_RES_CPU_QUOTA, &r->cpu_quota},
	    {"cpu-period", o->cpu_period, PROTO_RES_CPU_PERIOD, &r->cpu_period},
	    {"cpu-shares", o->cpu_shares, PROTO_RES_CPU_SHARES, &r->cpu_shares},
	    {"pids-limit", o->pids_limit, PROTO_RES_PIDS_LIMIT, &r->pids_limit},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!nums[i].val)
			continue;
		if (num_opt(nums[i].name, nums[i].val, nums[i].out) < 0)
			return -1;
		r->set |= nums[i].bit;
	}
	const char *cs = o->cpuset_cpus, *ms = o->cpuset_mems;
	if ((cs && strlen(cs) >= PROTO_CPUSET_MAX) || (ms && strlen(ms) >= PROTO_CPUSET_MAX)) {
		log_error("invalid value for --%s: longer than %d bytes",
			  cs && strlen(cs) >= PROTO_CPUSET_MAX ? "cpuset-cpus" : "cpuset-mems",
			  PROTO_CPUSET_MAX - 1);
		return -1;
	}
	if (cs) {
		snprintf(r->cpus, sizeof(r->cpus), "%s", cs);
		r->set |= PROTO_RES_CPU_CPUS;
	}
	if (ms) {
		snprintf(r->mems, sizeof(r->mems), "%s", ms);
		r->set |= PROTO_RES_CPU_MEMS;
	}
	return 0;
}

int cmd_update(int argc, char **argv)
{
	struct parsed p;
	struct update_opts o;
	if (PARSE_VERB("update", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	const char *res = o.resources;
	char *req = NULL;
	int rc = 1;
	struct proto_resources r;
	memset(&r, 0, sizeof(r));
	/* the same bounds as a --resources file: the object through the one decoder */
	if ((res && read_resources(res, &r) < 0) || flag_resources(&o, &r) < 0 ||
	    resources_json(&r, &req) < 0)
		goto out;
	rc = shim_request(p.pos[0], false, check_not_stopped, NULL,
			  &(struct ctl_req){.op = CTL_OP_UPDATE, .update = {.resources = req}});
out:
	free(req);
	parsed_free(&p);
	return rc;
}
