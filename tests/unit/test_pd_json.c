/* Proves the strict JSON getters: wrong types, missing required fields,
 * out-of-range and non-integral numbers, unknown keys are all refused with a
 * message naming the field path. And the strict whole-document parse:
 * every case cJSON alone accepts and RFC 8259 does not (bytes after the
 * value, a control character in a string or as white space, a NUL) is
 * refused with the offset of the first bad byte; what JSON allows (escaped
 * controls, the four white space bytes) still parses. */
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

static void test_parse_whole(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;     /* 0: strlen */
        long bad_at;    /* -1: parses */
    } cases[] = {
        {"{\"a\":\"x\"}", 0, -1},
        {" \t\r\n{\"a\" :\n\"x\\n\\t\\u0001\"}\r\n ", 0, -1},
        {"{\"a\":\"x\"} x", 0, 10},               /* trailing bytes */
        {"{\"a\":\"x\"}{}", 0, 9},
        {"{\"a\":\"x\ty\"}", 0, 7},              /* raw tab in a string */
        {"{\"a\":\"x\ny\"}", 0, 7},              /* raw newline in a string */
        {"{\"a\x01\":1}", 0, 3},                  /* in a key */
        {"{\"a\":1,\x0b\"b\":2}", 0, 7},          /* vertical tab as white space */
        {"{\"a\":\"m-1\0evil\"}", 15, 9},        /* NUL in a string */
        {"{\"a\":1}\0", 8, 7},                   /* NUL after the value */
        {"{\"a\":\"\\\"\x01\"}", 0, 8},         /* after an escaped quote */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        long off = -2;
        cJSON *doc = pd_json_parse_whole(cases[i].text, len, &off);
        if (cases[i].bad_at < 0) {
            assert_non_null(doc);
        } else {
            assert_null(doc);
            if (off != cases[i].bad_at)
                fail_msg("case %zu: bad byte reported at %ld, expected %ld", i, off,
                         cases[i].bad_at);
        }
        cJSON_Delete(doc);
    }
    assert_int_equal(pd_text_line("a\nb\nc", 0), 1);
    assert_int_equal(pd_text_line("a\nb\nc", 2), 2);
    assert_int_equal(pd_text_line("a\nb\nc", 4), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_getters),
                                       cmocka_unit_test(test_parse_whole)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
