/* Proves the fault folding of report.html: "X attempt N" splits into X and
 * N only for a trailing decimal attempt, attempt lists print as ranges,
 * and grouping keeps first-appearance order, merges equal prefixes and
 * leaves strings without an attempt alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

static void test_suffix(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(rpt__attempt_suffix("callback.drop attempt 12", &len), 12);
    assert_int_equal(len, strlen("callback.drop"));
    assert_int_equal(rpt__attempt_suffix("a attempt 1 attempt 3", &len), 3);
    assert_int_equal(len, strlen("a attempt 1"));
    const char *none[] = {"process.kill sut at 1767225612000", "x attempt ", "x attempt 1a",
                          "attempt 2", "x attempt -1"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(rpt__attempt_suffix(none[i], &len), -1);
        assert_int_equal(len, strlen(none[i]));
    }
}

static void check_ranges(const long *v, size_t n, const char *want)
{
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__ranges(&o, v, n);
    assert_string_equal(o.buf.data ? o.buf.data : "", want);
    rpt__out_release(&o);
}

static void test_ranges(void **state)
{
    (void)state;
    const long a[] = {1, 2, 3, 4}, b[] = {1, 3, 4, 5, 9}, c[] = {7}, d[] = {2, 3, 1};
    check_ranges(a, 4, "1\xE2\x80\x93" "4");
    check_ranges(b, 5, "1, 3\xE2\x80\x93" "5, 9");
    check_ranges(c, 1, "7");
    check_ranges(d, 3, "2, 3, 1");
    check_ranges(a, 0, "");
}

static void emit(struct rpt__out *o, const char *s, size_t len, const long *att, size_t n)
{
    rpt__putn(o, s, len);
    rpt__puts(o, "[");
    rpt__ranges(o, att, n);
    rpt__puts(o, "] ");
}

static void test_groups(void **state)
{
    (void)state;
    cJSON *arr = cJSON_Parse("[\"callback.drop attempt 1\", \"query.stale attempt 1\","
                             "\"callback.drop attempt 2\", \"process.kill sut\","
                             "\"callback.drop attempt 3\", \"process.kill sut\"]");
    assert_non_null(arr);
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__fault_groups(&o, arr, emit);
    assert_int_equal(o.rc, PD_OK);
    assert_string_equal(o.buf.data, "callback.drop[1\xE2\x80\x93" "3] query.stale[1] "
                                    "process.kill sut[] process.kill sut[] ");
    rpt__out_release(&o);
    cJSON_Delete(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suffix), cmocka_unit_test(test_ranges), cmocka_unit_test(test_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
