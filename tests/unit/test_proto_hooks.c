/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/proto/proto_hooks.c: the "hooks" op's encoder and decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto_hooks.h"

static yajl_val tree(const char *s)
{
	char err[256];
	yajl_val t = json_parse(s, strlen(s), err, sizeof(err));
	if (!t)
		fail_msg("test JSON does not parse: %s: %s", err, s);
	return t;
}

static void roundtrip(void **state)
{
	const char *args[] = {"h", "-x", "a b", NULL}, *env[] = {"A=1", NULL};
	struct proto_hook in[2] = {{.path = "/usr/bin/h", .args = args, .env = env, .timeout = 5},
				   {.path = "/bin/true"}};
	struct json_gen pg;
	assert_int_equal(json_gen_begin(&pg), 0);
	proto_gen_hooks(&pg, "hooks", in, 2);
	const char *json;
	size_t len;
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	yajl_val t = tree(json);
	struct proto_hook *h;
	size_t n;
	char err[256];
	assert_int_equal(proto_parse_hooks(json_get(t, "hooks", yajl_t_any), &h, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].path, "/usr/bin/h");
	assert_string_equal(h[0].args[2], "a b");
	assert_null(h[0].args[3]);
	assert_string_equal(h[0].env[0], "A=1");
	assert_int_equal(h[0].timeout, 5);
	assert_string_equal(h[1].path, "/bin/true");
	assert_null(h[1].args);
	assert_null(h[1].env);
	assert_int_equal(h[1].timeout, 0);
	proto_hooks_free(h, n);
	yajl_tree_free(t);
	json_gen_free(&pg);
}

static void rejects(void **state)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
	    {"{\"hooks\":{}}", "hooks must be an array"},
	    {"{\"hooks\":[1]}", "hooks[0].path must be an absolute path"},
	    {"{\"hooks\":[{\"path\":\"rel/h\"}]}", "hooks[0].path must be an absolute path"},
	    {"{\"hooks\":[{\"path\":\"/h\"},{\"path\":\"/h\",\"args\":\"x\"}]}",
	     "hooks[1].args must be an array"},
	    {"{\"hooks\":[{\"path\":\"/h\",\"env\":[\"A\",2]}]}", "hooks[0].env[1] must be a string"},
	    {"{\"hooks\":[{\"path\":\"/h\",\"timeout\":-1}]}", "hooks[0].timeout must be an integer"},
	    {"{\"hooks\":[{\"path\":\"/h\",\"timeout\":1.5}]}", "hooks[0].timeout must be an integer"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		yajl_val t = tree(bad[i].json);
		struct proto_hook *h = (struct proto_hook *)1;
		size_t n = 7;
		char err[256] = "";
		assert_int_equal(
		    proto_parse_hooks(json_get(t, "hooks", yajl_t_any), &h, &n, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].json, err, bad[i].why);
		assert_null(h);
		assert_int_equal(n, 0);
		yajl_tree_free(t);
	}
	/* too many */
	char big[8192] = "{\"hooks\":[";
	for (int i = 0; i <= PROTO_HOOKS_MAX; i++)
		strcat(big, i ? ",{\"path\":\"/h\"}" : "{\"path\":\"/h\"}");
	strcat(big, "]}");
	yajl_val t = tree(big);
	struct proto_hook *h;
	size_t n;
	char err[256];
	assert_int_equal(proto_parse_hooks(json_get(t, "hooks", yajl_t_any), &h, &n, err, sizeof(err)), -1);
	yajl_tree_free(t);
	/* absent: no hooks */
	assert_int_equal(proto_parse_hooks(NULL, &h, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_true(proto_hook_kind_valid("createContainer") && proto_hook_kind_valid("startContainer"));
	assert_false(proto_hook_kind_valid("prestart") || proto_hook_kind_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(roundtrip),
	    cmocka_unit_test(rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
