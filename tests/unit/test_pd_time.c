/* Proves the duration and schedule syntax: every unit, the WeChat-like
 * default schedule, and refusal of negatives, overflow, bare numbers,
 * unknown units and over-long lists; the monotonic deadline helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pd_err.h"
#include "pd_time.h"

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {{"0", 0}, {"250ms", 250}, {"30s", 30000}, {"10m", 600000},
                {"3h", 10800000}, {"1d", 86400000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        assert_int_equal(pd_parse_duration(good[i].text, &v), PD_OK);
        assert_true(v == good[i].ms);
    }
    static const char *bad[] = {"", "5", "-5s", "5x", "s", "1.5s", "5 s",
                                "99999999999999999999d", "9223372036854775807d", NULL};
    for (size_t i = 0; bad[i]; i++) {
        int64_t v = 0;
        assert_int_equal(pd_parse_duration(bad[i], &v), PD_EINVAL);
    }
    int64_t v;
    assert_int_equal(pd_parse_duration(NULL, &v), PD_EINVAL);
}

static void test_schedule(void **state)
{
    (void)state;
    int64_t s[32];
    size_t n = 0;
    const char *wechat = "15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h";
    assert_int_equal(pd_parse_schedule(wechat, s, 32, &n), PD_OK);
    assert_int_equal(n, 15);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s[i];
    assert_true(total == (24 * 60 + 4) * 60000LL);  /* 24 h 4 m */
    assert_int_equal(pd_parse_schedule("1s, 2s", s, 32, &n), PD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(pd_parse_schedule("1s,,2s", s, 32, &n), PD_EINVAL);
    assert_int_equal(pd_parse_schedule("", s, 32, &n), PD_EINVAL);
    assert_int_equal(pd_parse_schedule("1s,2s,3s", s, 2, &n), PD_ETOOBIG);
}

static void test_format(void **state)
{
    (void)state;
    char out[32];
    pd_format_duration(90000, out, sizeof out);
    assert_string_equal(out, "90s");
    pd_format_duration(10800000, out, sizeof out);
    assert_string_equal(out, "3h");
    pd_format_duration(1250, out, sizeof out);
    assert_string_equal(out, "1250ms");
    char ts[32];
    pd_format_rfc3339(1767225600123LL, ts);
    assert_string_equal(ts, "2026-01-01T00:00:00.123Z");
}

/* The deadline is ms after the clock read before it (nanoseconds always
 * normalised), never before it, and now for a negative ms. */
static void test_mono_deadline(void **state)
{
    (void)state;
    const int64_t cases[] = {1500, 999, 1, 0, -5, 86400000};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct timespec before;
        clock_gettime(CLOCK_MONOTONIC, &before);
        struct timespec d = pd_mono_deadline(cases[i]);
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        int64_t before_ns = (int64_t)before.tv_sec * 1000000000LL + before.tv_nsec;
        int64_t d_ns = (int64_t)d.tv_sec * 1000000000LL + d.tv_nsec;
        int64_t want_ns = (cases[i] > 0 ? cases[i] : 0) * 1000000LL;
        assert_true(d_ns - before_ns >= want_ns);
        assert_true(d_ns - before_ns < want_ns + 1000000000LL);   /* the clock read between */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_mono_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
