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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* pd_json_print prints what cJSON_PrintUnformatted prints, byte for
 * byte, for random trees of every type: strings of any byte 1-255 (the
 * escapes), keys likewise, whole numbers up to 10^15 and past it, negative
 * zero, fractions, huge and tiny doubles, NaN and infinities, raw text,
 * nesting. PD_SEED picks other trees (CI's random pass). */
static uint64_t rnd(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rand_text(uint64_t *s, char *out, size_t max)
{
    size_t n = rnd(s) % max;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(1 + rnd(s) % 255);
    out[n] = '\0';
}

static double rand_number(uint64_t *s)
{
    static const double special[] = {0.0, -0.0, 1e15, -1e15, 999999999999999.0, 1e15 + 1,
                                     2147483647.0, 2147483648.0, -2147483649.0,
                                     9007199254740993.0, 1e300, 1e-300, 0.1, 1.0 / 3};
    switch (rnd(s) % 6) {
    case 0: return special[rnd(s) % (sizeof special / sizeof special[0])];
    case 1: return (double)(int64_t)(rnd(s) % 2000000000000000ULL) - 1e15;
    case 2: return (double)(int32_t)rnd(s);
    case 3: return (double)(int64_t)rnd(s);
    case 4: { uint64_t bits = rnd(s); double d; memcpy(&d, &bits, sizeof d); return d; }
    default: return ((double)(rnd(s) % 100000) - 50000) / 64.0;
    }
}

static cJSON *rand_tree(uint64_t *s, int depth)
{
    char text[40];
    switch (rnd(s) % (depth < 4 ? 8 : 6)) {
    case 0: return cJSON_CreateNull();
    case 1: return cJSON_CreateBool(rnd(s) & 1);
    case 2: return cJSON_CreateNumber(rand_number(s));
    case 3: rand_text(s, text, sizeof text); return cJSON_CreateString(text);
    case 4: return cJSON_CreateRaw("{\"raw\":[1,2]}");
    case 5: return cJSON_CreateNumber((double)(int64_t)(rnd(s) % 4000000000000LL));
    case 6: {
        cJSON *a = cJSON_CreateArray();
        for (int i = (int)(rnd(s) % 5); i > 0; i--)
            cJSON_AddItemToArray(a, rand_tree(s, depth + 1));
        return a;
    }
    default: {
        cJSON *o = cJSON_CreateObject();
        for (int i = (int)(rnd(s) % 5); i > 0; i--) {
            rand_text(s, text, 12);
            cJSON_AddItemToObject(o, text, rand_tree(s, depth + 1));
        }
        return o;
    }
    }
}

static void test_print_as_cjson(void **state)
{
    (void)state;
    const char *env = getenv("PD_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20261127;
    uint64_t s = seed;
    for (int i = 0; i < 20000; i++) {
        cJSON *t = rand_tree(&s, 0);
        char *want = cJSON_PrintUnformatted(t);
        char *got = pd_json_print(t);
        assert_non_null(want);
        if (got == NULL || strcmp(got, want) != 0)
            fail_msg("seed %llu tree %d:\n got  %s\n want %s", (unsigned long long)seed, i,
                     got ? got : "(null)", want);
        free(got);
        cJSON_free(want);
        cJSON_Delete(t);
    }
    cJSON *bad = cJSON_CreateRaw(NULL);
    assert_null(pd_json_print(bad));
    cJSON_Delete(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_getters),
                                       cmocka_unit_test(test_parse_whole),
                                       cmocka_unit_test(test_print_as_cjson)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
