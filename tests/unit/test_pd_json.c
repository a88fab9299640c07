/* Proves the strict JSON getters: wrong types, missing required fields,
 * out-of-range and non-integral numbers, unknown keys are all refused with a
 * message naming the field path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_err.h"
#include "pd_json.h"

static void test_getters(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"a\":\"x\",\"n\":5,\"f\":1.5,\"big\":1e300,\"b\":true,\"e\":\"\"}");
    struct pd_json_err err;
    const char *s = NULL;
    int64_t v = 0;
    assert_int_equal(pd_json_str(o, "a", true, 10, "", &s, &err), PD_OK);
    assert_string_equal(s, "x");
    assert_int_equal(pd_json_str(o, "n", true, 10, "", &s, &err), PD_EINVAL);
    assert_string_equal(err.text, "n: must be a string");
    assert_int_equal(pd_json_str(o, "e", true, 10, "item", &s, &err), PD_EINVAL);
    assert_string_equal(err.text, "item.e: must not be empty");
    assert_int_equal(pd_json_str(o, "zz", false, 10, "", &s, &err), PD_OK);
    assert_null(s);
    assert_int_equal(pd_json_str(o, "zz", true, 10, "items[1]", &s, &err), PD_EINVAL);
    assert_string_equal(err.text, "items[1].zz: required");
    assert_int_equal(pd_json_i64(o, "n", true, 1, 10, "", &v, &err), PD_OK);
    assert_true(v == 5);
    assert_int_equal(pd_json_i64(o, "n", true, 6, 10, "", &v, &err), PD_EINVAL);
    assert_int_equal(pd_json_i64(o, "f", true, 0, 10, "", &v, &err), PD_EINVAL);
    assert_int_equal(pd_json_i64(o, "big", true, 0, INT64_MAX, "", &v, &err), PD_EINVAL);
    assert_string_equal(err.text, "big: must be an integer");
    bool b = false;
    assert_int_equal(pd_json_bool(o, "b", true, "", &b, &err), PD_OK);
    assert_true(b);
    static const char *const allowed[] = {"a", "n", "f", "big", "b", NULL};
    assert_int_equal(pd_json_only_keys(o, allowed, "", &err), PD_EINVAL);
    assert_string_equal(err.text, "e: unknown field");
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_getters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
