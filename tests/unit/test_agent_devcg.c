/* SPDX-License-Identifier: Apache-2.0 */
/* agent/devcgroup.c: the device program, run here by a small interpreter of the few eBPF
 * instructions it emits, against linux.resources.devices rules, with host block devices that
 * are drives in the guest (the map) and without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <yajl/yajl_tree.h>

#include "agent/cgroups.h"
#include "agent/spec.h"

#define MAX_INSNS (8 + 512 * 8)

/* The verdict of PROG for one access (struct bpf_cgroup_dev_ctx: access_type, major, minor). */
static int run(const struct bpf_insn *prog, size_t n, int type, int access, unsigned major, unsigned minor)
{
	uint32_t ctx[3] = {(uint32_t)type | (uint32_t)access << 16, major, minor};
	uint64_t r[11] = {0};
	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &prog[pc];
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, BPF_REG_1);
			assert_true(i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			r[i->dst_reg] = (uint32_t)r[i->src_reg];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP32 | BPF_JNE | BPF_K:
			if ((uint32_t)r[i->dst_reg] != (uint32_t)i->imm)
				pc += (size_t)i->off;
			break;
		case BPF_JMP32 | BPF_JEQ | BPF_K:
			if ((uint32_t)r[i->dst_reg] == (uint32_t)i->imm)
				pc += (size_t)i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			fail_msg("instruction %zu: unexpected code %#x", pc, i->code);
		}
	}
	fail_msg("the program ran off its end");
	return -1;
}

static struct bpf_insn prog[MAX_INSNS];

static size_t build(const char *json, const struct spec_devmap *map, size_t nmap)
{
	char err[256] = "";
	yajl_val v = yajl_tree_parse(json, err, sizeof(err));
	assert_non_null(v);
	size_t n = 0;
	int rc = devcg_program(v, map, nmap, prog, MAX_INSNS, &n, err, sizeof(err));
	yajl_tree_free(v);
	if (rc < 0)
		fail_msg("devcg_program: %s", err);
	return n;
}

#define B  BPF_DEVCG_DEV_BLOCK
#define C  BPF_DEVCG_DEV_CHAR
#define RD BPF_DEVCG_ACC_READ
#define WR BPF_DEVCG_ACC_WRITE
#define MK BPF_DEVCG_ACC_MKNOD

/* An engine's usual list: deny everything, then allow what it passes; runc's defaults after. */
static void test_rules_last_match_decides(void **st)
{
	size_t n = build("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
			 "{\"allow\":true,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"rwm\"},"
			 "{\"allow\":false,\"type\":\"c\",\"major\":10,\"minor\":200,\"access\":\"w\"}]}",
			 NULL, 0);
	assert_int_equal(run(prog, n, C, RD, 1, 3), 1);	       /* /dev/null: a default */
	assert_int_equal(run(prog, n, C, RD | WR, 136, 4), 1); /* a pty */
	assert_int_equal(run(prog, n, C, RD, 10, 200), 1);     /* allowed, and the deny is of w only */
	assert_int_equal(run(prog, n, C, WR, 10, 200), 0);
	assert_int_equal(run(prog, n, C, RD, 10, 201), 0);
	assert_int_equal(run(prog, n, B, RD, 8, 0), 0);
	assert_int_equal(run(prog, n, B, MK, 8, 0), 1); /* mknod of anything: a default */
	/* no rules: everything allowed (a new cgroup's default) */
	n = build("{}", NULL, 0);
	assert_int_equal(run(prog, n, B, RD | WR, 8, 0), 1);
}

/* Host block devices 7:2 and 7:3 are the guest's 254:16 and 254:32: rules naming them name
 * the drives; an allow rule naming a host block device that is not a drive is dropped (in the
 * guest 8:0 could be one of the VM's own disks); deny rules and wildcards stay as they are. */
static void test_host_devices_mapped_to_drives(void **st)
{
	const struct spec_devmap map[] = {{7, 2, 254, 16}, {7, 3, 254, 32}};
	size_t n = build("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
			 "{\"allow\":true,\"type\":\"b\",\"major\":7,\"minor\":2,\"access\":\"rw\"},"
			 "{\"allow\":true,\"type\":\"b\",\"major\":7,\"minor\":3,\"access\":\"r\"},"
			 "{\"allow\":true,\"type\":\"b\",\"major\":254,\"minor\":0,\"access\":\"rwm\"},"
			 "{\"allow\":true,\"type\":\"c\",\"major\":7,\"minor\":2,\"access\":\"rwm\"}]}",
			 map, 2);
	assert_int_equal(run(prog, n, B, RD | WR, 254, 16), 1);
	assert_int_equal(run(prog, n, B, RD, 254, 32), 1);
	assert_int_equal(run(prog, n, B, WR, 254, 32), 0); /* the rule gave r only */
	assert_int_equal(run(prog, n, B, RD, 7, 2), 0);	   /* the host's numbers mean nothing here */
	assert_int_equal(run(prog, n, B, RD, 254, 0), 0);  /* not a drive: the allow is dropped */
	assert_int_equal(run(prog, n, C, RD, 7, 2), 1);	   /* char devices are not mapped */
	/* a deny rule on a mapped device follows it too */
	n = build("{\"devices\":[{\"allow\":true,\"type\":\"b\",\"access\":\"rw\"},"
		  "{\"allow\":false,\"type\":\"b\",\"major\":7,\"minor\":2,\"access\":\"w\"}]}",
		  map, 2);
	assert_int_equal(run(prog, n, B, WR, 254, 16), 0);
	assert_int_equal(run(prog, n, B, RD, 254, 16), 1);
	assert_int_equal(run(prog, n, B, WR, 254, 32), 1);
}

static void test_bad_rules(void **st)
{
	static const char *const bad[][2] = {
	    {"{\"devices\":{}}", "not an array"},
	    {"{\"devices\":[{\"access\":\"r\"}]}", "devices[0].allow"},
	    {"{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}", "is not a, b or c"},
	    {"{\"devices\":[{\"allow\":true,\"access\":\"rq\"}]}", "'q' is not r, w or m"},
	    {"{\"devices\":[{\"allow\":true,\"major\":\"7\"}]}", "devices[0].major"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		yajl_val v = yajl_tree_parse(bad[i][0], err, sizeof(err));
		assert_non_null(v);
		size_t n = 0;
		assert_int_equal(devcg_program(v, NULL, 0, prog, MAX_INSNS, &n, err, sizeof(err)), -1);
		yajl_tree_free(v);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: %s", bad[i][0], err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules_last_match_decides),
	    cmocka_unit_test(test_host_devices_mapped_to_drives),
	    cmocka_unit_test(test_bad_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
