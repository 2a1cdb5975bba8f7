/* SPDX-License-Identifier: Apache-2.0 */
/* linux.seccomp → a libseccomp filter loaded just before exec. */
#include "setup.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

static int parse_action(yajl_val obj, const char *key, uint32_t *act, long long dflt_errno)
{
	const char *a = json_get_str(obj, key);
	long long ret = dflt_errno;
	json_get_int(obj, "errnoRet", 0, 4095, &ret);
	if (!a)
		return -1;
	if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*act = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*act = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*act = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*act = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_ERRNO"))
		*act = SCMP_ACT_ERRNO((uint16_t)ret);
	else if (!strcmp(a, "SCMP_ACT_TRACE"))
		*act = SCMP_ACT_TRACE((uint16_t)ret);
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*act = SCMP_ACT_LOG;
	else
		return -1;
	return 0;
}

static int parse_op(const char *op, enum scmp_compare *out)
{
	static const struct {
		const char *n;
		enum scmp_compare c;
	} ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
		   {"SCMP_CMP_LT", SCMP_CMP_LT},
		   {"SCMP_CMP_LE", SCMP_CMP_LE},
		   {"SCMP_CMP_EQ", SCMP_CMP_EQ},
		   {"SCMP_CMP_GE", SCMP_CMP_GE},
		   {"SCMP_CMP_GT", SCMP_CMP_GT},
		   {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
	for (size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].n, op)) {
			*out = ops[i].c;
			return 0;
		}
	return -1;
}

static uint64_t u64(yajl_val o, const char *key)
{
	yajl_val v = json_get(o, key, yajl_t_number);
	if (!v)
		return 0;
	if (YAJL_IS_INTEGER(v))
		return (uint64_t)YAJL_GET_INTEGER(v);
	return (uint64_t)YAJL_GET_DOUBLE(v);
}

int process_seccomp(yajl_val sc, struct setup_err *e)
{
	if (!sc)
		return 0;
	uint32_t dflt;
	if (parse_action(sc, "defaultAction", &dflt, EPERM) < 0)
		return setup_fail(e, "seccomp", "defaultAction", EINVAL);
	scmp_filter_ctx ctx = seccomp_init(dflt);
	if (!ctx)
		return setup_fail(e, "seccomp_init", "", ENOMEM);
	int r;
	yajl_val archs = json_get(sc, "architectures", yajl_t_array);
	for (size_t i = 0; archs && i < archs->u.array.len; i++) {
		yajl_val a = archs->u.array.values[i];
		if (!YAJL_IS_STRING(a) || strncmp(a->u.string, "SCMP_ARCH_", 10) != 0)
			continue;
		char lower[32];
		size_t k = 0;
		for (const char *c = a->u.string + 10; *c && k < sizeof(lower) - 1; c++)
			lower[k++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		lower[k] = '\0';
		uint32_t tok = seccomp_arch_resolve_name(lower);
		if (tok && tok != seccomp_arch_native() && (r = seccomp_arch_add(ctx, tok)) < 0 &&
		    r != -EEXIST) {
			seccomp_release(ctx);
			return setup_fail(e, "seccomp_arch_add", a->u.string, -r);
		}
	}
	yajl_val calls = json_get(sc, "syscalls", yajl_t_array);
	for (size_t i = 0; calls && i < calls->u.array.len; i++) {
		yajl_val rule = calls->u.array.values[i];
		uint32_t act;
		if (parse_action(rule, "action", &act, EPERM) < 0) {
			seccomp_release(ctx);
			return setup_fail(e, "seccomp", "syscalls[].action", EINVAL);
		}
		if (act == dflt)
			continue;
		struct scmp_arg_cmp cmp[6];
		unsigned ncmp = 0;
		yajl_val args = json_get(rule, "args", yajl_t_array);
		for (size_t j = 0; args && j < args->u.array.len && ncmp < 6; j++) {
			yajl_val a = args->u.array.values[j];
			long long idx;
			enum scmp_compare op;
			if (json_get_int(a, "index", 0, 5, &idx) < 0 ||
			    parse_op(json_get_str(a, "op"), &op) < 0) {
				seccomp_release(ctx);
				return setup_fail(e, "seccomp", "syscalls[].args", EINVAL);
			}
			cmp[ncmp++] = (struct scmp_arg_cmp){.arg = (unsigned)idx,
							    .op = op,
							    .datum_a = u64(a, "value"),
							    .datum_b = u64(a, "valueTwo")};
		}
		yajl_val names = json_get(rule, "names", yajl_t_array);
		for (size_t j = 0; names && j < names->u.array.len; j++) {
			yajl_val n = names->u.array.values[j];
			if (!YAJL_IS_STRING(n))
				continue;
			int nr = seccomp_syscall_resolve_name(n->u.string);
			if (nr == __NR_SCMP_ERROR)
				continue; /* unknown on this kernel/arch: ignored like runc */
			r = seccomp_rule_add_array(ctx, act, nr, ncmp, cmp);
			if (r < 0) {
				seccomp_release(ctx);
				return setup_fail(e, "seccomp_rule_add", n->u.string, -r);
			}
		}
	}
	/* libseccomp would set no_new_privs itself: only the spec decides (the caller sets it) */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0) {
		seccomp_release(ctx);
		return setup_fail(e, "seccomp_attr_set", "SCMP_FLTATR_CTL_NNP", -r);
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return setup_fail(e, "seccomp_load", "", -r);
	return 0;
}
