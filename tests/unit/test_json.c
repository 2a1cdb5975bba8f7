/* SPDX-License-Identifier: Apache-2.0 */
/* common/json: limits on untrusted text, typed access by key and by path, building. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static void test_parse_limits(void **st)
{
	(void)st;
	char err[128];
	char deep[200];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_null(json_parse(deep, strlen(deep), err, sizeof(err)));
	assert_non_null(strstr(err, "nesting deeper than 64"));
	const char nul[] = "{\"a\":\"x\0y\"}";
	assert_null(json_parse(nul, sizeof(nul) - 1, err, sizeof(err)));
	assert_non_null(strstr(err, "NUL byte at offset"));
	assert_null(json_parse("{\"a\":", 5, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid JSON"));
	/* brackets inside strings do not count as nesting */
	const char *s = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
	yajl_val v = json_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(v);
	yajl_tree_free(v);
}

static void test_typed_access(void **st)
{
	(void)st;
	char err[128];
	const char *s =
	    "{\"s\":\"x\",\"n\":7,\"big\":99999999999,\"t\":true,\"f\":false,\"o\":{\"p\":{\"q\":\"deep\"}},"
	    "\"a\":[1]}";
	yajl_val v = json_parse(s, strlen(s), err, sizeof(err));
	assert_non_null(v);
	assert_string_equal(json_get_str(v, "s"), "x");
	assert_null(json_get_str(v, "n"));
	long long n = 0;
	assert_int_equal(json_get_int(v, "n", 0, 10, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(json_get_int(v, "big", 0, 1 << 30, &n), -1);
	assert_int_equal(json_get_int(v, "s", 0, 10, &n), -1);
	assert_int_equal(json_get_bool(v, "t", 0), 1);
	assert_int_equal(json_get_bool(v, "f", 1), 0);
	assert_int_equal(json_get_bool(v, "missing", 5), 5);
	assert_int_equal(json_get_bool(v, "s", 0), -1);
	assert_non_null(json_get(v, "f", yajl_t_true)); /* "boolean" */
	assert_string_equal(json_at_str(v, "o", "p", "q", JSON_END), "deep");
	assert_null(json_at_str(v, "o", "p", JSON_END));	    /* an object, not a string */
	assert_null(json_at_str(v, "o", "x", "q", JSON_END));	    /* a missing step */
	assert_null(json_at(v, yajl_t_object, "s", "x", JSON_END)); /* through a string */
	assert_non_null(json_at(v, yajl_t_array, "a", JSON_END));
	assert_true(json_at(v, yajl_t_any, JSON_END) == v);
	assert_null(json_get_str(NULL, "s"));
	yajl_tree_free(v);
}

static void test_build_and_copy(void **st)
{
	(void)st;
	struct json_gen g;
	assert_int_equal(json_gen_begin(&g), 0);
	json_gen_str(&g, "s", "a\"b");
	json_gen_int(&g, "n", -3);
	json_gen_bool(&g, "b", 1);
	json_gen_strn(&g, "p", "xyz", 2);
	char err[64];
	const char *src = "{\"k\":[1,2.5,null,{\"z\":false}]}";
	yajl_val v = json_parse(src, strlen(src), err, sizeof(err));
	json_gen_key(&g, "copy");
	json_gen_value(g.g, v);
	const char *out;
	size_t len;
	assert_int_equal(json_gen_end(&g, &out, &len), 0);
	assert_string_equal(out, "{\"s\":\"a\\\"b\",\"n\":-3,\"b\":true,\"p\":\"xy\",\"copy\":{\"k\":[1,2.5,"
				 "null,{\"z\":false}]}}");
	yajl_tree_free(v);
	json_gen_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_typed_access),
	    cmocka_unit_test(test_build_and_copy),
	};
	return cmocka_run_group_tests_name("common/json", tests, NULL, NULL);
}
