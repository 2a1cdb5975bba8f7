/* SPDX-License-Identifier: Apache-2.0 */
/* linux.resources.devices on cgroup v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to
 * the container's cgroup, as runc and crun do.  The rules are the spec's followed by runc's
 * default allowed devices (mknod of anything; null, zero, full, random, urandom, tty, ptmx and
 * the pty slaves), evaluated last to first: the last rule that matches decides, none matching
 * allows (a new cgroup's default).  An allow rule matches when it grants every access asked for,
 * a deny rule when it refuses any of them. */
#include "cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base.h"

#define ERR(...)  agent_errf(err, errlen, __VA_ARGS__)
#define MAX_RULES 512
#define MAX_INSNS (8 + MAX_RULES * 8)
#define ACC_ALL	  (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

struct devrule {
	bool allow;
	int type;		/* 0 any, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR */
	long long major, minor; /* -1: any */
	int access;		/* BPF_DEVCG_ACC_* */
};

static const struct devrule defaults[] = {
    {true, BPF_DEVCG_DEV_CHAR, -1, -1, BPF_DEVCG_ACC_MKNOD},
    {true, BPF_DEVCG_DEV_BLOCK, -1, -1, BPF_DEVCG_ACC_MKNOD},
    {true, BPF_DEVCG_DEV_CHAR, 1, 3, ACC_ALL},	  /* null */
    {true, BPF_DEVCG_DEV_CHAR, 1, 5, ACC_ALL},	  /* zero */
    {true, BPF_DEVCG_DEV_CHAR, 1, 7, ACC_ALL},	  /* full */
    {true, BPF_DEVCG_DEV_CHAR, 1, 8, ACC_ALL},	  /* random */
    {true, BPF_DEVCG_DEV_CHAR, 1, 9, ACC_ALL},	  /* urandom */
    {true, BPF_DEVCG_DEV_CHAR, 5, 0, ACC_ALL},	  /* tty */
    {true, BPF_DEVCG_DEV_CHAR, 5, 2, ACC_ALL},	  /* ptmx */
    {true, BPF_DEVCG_DEV_CHAR, 136, -1, ACC_ALL}, /* pts */
};

static int parse_rule(yajl_val v, size_t i, struct devrule *r, char *err, size_t errlen)
{
	if (!YAJL_IS_OBJECT(v))
		return ERR("linux.resources.devices[%zu]: not an object", i);
	int allow = json_get_bool(v, "allow", -1);
	if (allow < 0)
		return ERR("linux.resources.devices[%zu].allow: missing or not a boolean", i);
	r->allow = allow;
	const char *t = json_get_str(v, "type");
	if (!t || !strcmp(t, "a"))
		r->type = 0;
	else if (!strcmp(t, "c"))
		r->type = BPF_DEVCG_DEV_CHAR;
	else if (!strcmp(t, "b"))
		r->type = BPF_DEVCG_DEV_BLOCK;
	else
		return ERR("linux.resources.devices[%zu].type: \"%s\" is not a, b or c", i, t);
	static const char *const mm[2] = {"major", "minor"};
	long long *dst[2] = {&r->major, &r->minor};
	for (int k = 0; k < 2; k++) {
		*dst[k] = -1;
		if (json_get(v, mm[k], yajl_t_any) && json_get_int(v, mm[k], -1, 0xffffffffLL, dst[k]) < 0)
			return ERR("linux.resources.devices[%zu].%s: not an integer in [-1, 2^32)", i, mm[k]);
	}
	const char *a = json_get_str(v, "access");
	r->access = a ? 0 : ACC_ALL;
	for (; a && *a; a++) {
		if (*a == 'r')
			r->access |= BPF_DEVCG_ACC_READ;
		else if (*a == 'w')
			r->access |= BPF_DEVCG_ACC_WRITE;
		else if (*a == 'm')
			r->access |= BPF_DEVCG_ACC_MKNOD;
		else
			return ERR("linux.resources.devices[%zu].access: '%c' is not r, w or m", i, *a);
	}
	return 0;
}

#define INSN(c, d, s, o, i)                                                                                  \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* One rule's block: jumps past it when the rule does not match; else returns its verdict. */
static size_t emit_rule(const struct devrule *r, struct bpf_insn *p)
{
	struct bpf_insn b[8];
	size_t n = 0;
	/* registers: r2 type, r3 access, r4 major, r5 minor; r1 scratch. off = fixed up below */
	if (r->type)
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0, r->type);
	if (r->access != ACC_ALL) {
		b[n++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
		if (r->allow) {
			b[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, ~r->access & ACC_ALL);
			b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
		} else {
			b[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, r->access);
			b[n++] = INSN(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0);
		}
	}
	if (r->major >= 0)
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int)(unsigned)r->major);
	if (r->minor >= 0)
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int)(unsigned)r->minor);
	b[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
	b[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	for (size_t i = 0; i < n; i++) {
		if (BPF_CLASS(b[i].code) == BPF_JMP32)
			b[i].off = (short)(n - i - 1);
		p[i] = b[i];
	}
	return n;
}

/* Whether rule R stays, with host block device numbers made the guest's (cgroups.h). */
static bool map_rule(struct devrule *r, const struct spec_devmap *map, size_t n)
{
	if (r->type == BPF_DEVCG_DEV_CHAR || r->major < 0 || r->minor < 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (map[i].host_major == r->major && map[i].host_minor == r->minor) {
			r->major = map[i].major;
			r->minor = map[i].minor;
			return true;
		}
	return !(r->type == BPF_DEVCG_DEV_BLOCK && r->allow);
}

int devcg_program(yajl_val resources, const struct spec_devmap *map, size_t nmap, struct bpf_insn *prog,
		  size_t max, size_t *len, char *err, size_t errlen)
{
	yajl_val devs = resources ? json_get(resources, "devices", yajl_t_any) : NULL;
	if (devs && !YAJL_IS_ARRAY(devs))
		return ERR("linux.resources.devices: not an array");
	size_t nspec = devs ? devs->u.array.len : 0;
	size_t ndef = sizeof(defaults) / sizeof(defaults[0]);
	if (nspec > MAX_RULES - ndef)
		return ERR("linux.resources.devices: %zu rules, at most %zu", nspec, MAX_RULES - ndef);
	if (max < 8 + (nspec + ndef) * 8)
		return ERR("device program: no room for %zu rules", nspec + ndef);
	size_t n = 0;
	prog[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0); /* access_type */
	prog[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);	 /* type */
	prog[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
	prog[n++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);	 /* access */
	prog[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0); /* major */
	prog[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0); /* minor */
	/* last rule first: the defaults (they come after the spec's, as in runc), then the spec's */
	for (size_t i = ndef; i-- > 0;)
		n += emit_rule(&defaults[i], prog + n);
	bool all = false; /* a rule that matches everything ends the program (the verifier refuses
			   * unreachable code) */
	for (size_t i = nspec; i-- > 0 && !all;) {
		struct devrule r;
		if (parse_rule(devs->u.array.values[i], i, &r, err, errlen) < 0)
			return -1;
		if (!map_rule(&r, map, nmap))
			continue;
		n += emit_rule(&r, prog + n);
		all = !r.type && r.major < 0 && r.minor < 0 && r.access == ACC_ALL;
	}
	/* the earlier rules must still parse */
	for (size_t i = 0; all && i < nspec; i++) {
		struct devrule r;
		if (parse_rule(devs->u.array.values[i], i, &r, err, errlen) < 0)
			return -1;
	}
	if (!all) {
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	*len = n;
	return 0;
}

int devcg_attach(const char *cgroup, yajl_val resources, const struct spec_devmap *map, size_t nmap,
		 char *err, size_t errlen)
{
	static struct bpf_insn prog[MAX_INSNS];
	size_t n = 0;
	if (devcg_program(resources, map, nmap, prog, MAX_INSNS, &n, err, errlen) < 0)
		return -1;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t) "Apache-2.0";
	/* no verifier log first: a log that does not fit fails the load itself (ENOSPC), and an
	 * engine's long rule list (Docker's) makes a long log */
	int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (pfd < 0) {
		/* rejected: load again with the log to say why (its last line names the problem) */
		int e = errno;
		static char log[1 << 16];
		log[0] = '\0';
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		if (syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)) >= 0)
			log[0] = '\0'; /* cannot happen: the same program */
		log[sizeof(log) - 1] = '\0';
		size_t l = strlen(log);
		while (l && log[l - 1] == '\n')
			log[--l] = '\0';
		char *last = strrchr(log, '\n');
		last = last ? last + 1 : log;
		return ERR("load the device cgroup program (%zu instructions): %s%s%s", n, strerror(e),
			   last[0] ? ": verifier: " : "", last);
	}
	int cfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0) {
		int e = errno;
		close(pfd);
		return ERR("open cgroup %s: %s", cgroup, strerror(e));
	}
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cfd;
	a.attach_bpf_fd = (uint32_t)pfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a));
	int e = errno;
	close(cfd);
	close(pfd);
	if (r < 0)
		return ERR("attach the device program to cgroup %s: %s", cgroup, strerror(e));
	return 0;
}
