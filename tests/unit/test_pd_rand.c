/* Proves the keyed draws are pure functions of (seed, key, kind, attempt):
 * equal tuples give equal draws in any call order, each component changes
 * the result, and the distribution is close to uniform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "pd_rand.h"

static void test_pure(void **state)
{
    (void)state;
    uint64_t a = pd_draw_u64(7, "happy-3", "cb.drop", 1);
    for (int i = 0; i < 100; i++)
        (void)pd_draw_u64((uint64_t)i, "x", "y", (uint64_t)i);
    assert_true(a == pd_draw_u64(7, "happy-3", "cb.drop", 1));
    assert_true(a != pd_draw_u64(8, "happy-3", "cb.drop", 1));
    assert_true(a != pd_draw_u64(7, "happy-4", "cb.drop", 1));
    assert_true(a != pd_draw_u64(7, "happy-3", "cb.dup", 1));
    assert_true(a != pd_draw_u64(7, "happy-3", "cb.drop", 2));
    /* Concatenation ambiguity must not alias two tuples. */
    assert_true(pd_draw_u64(1, "ab", "c", 0) != pd_draw_u64(1, "a", "bc", 0));
    assert_true(pd_draw_u64(1, NULL, NULL, 0) == pd_draw_u64(1, "", "", 0));
}

static void test_uniform(void **state)
{
    (void)state;
    int buckets[10] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = pd_draw_unit(42, "k", "kind", (uint64_t)i);
        assert_true(u >= 0.0 && u < 1.0);
        buckets[(int)(u * 10)]++;
    }
    for (int b = 0; b < 10; b++)
        assert_true(abs(buckets[b] - n / 10) < n / 100);  /* within 10% of expected */
}

static void test_range(void **state)
{
    (void)state;
    int seen[5] = {0};
    for (int i = 0; i < 1000; i++) {
        int64_t v = pd_draw_range(3, "k", "r", (uint64_t)i, 10, 14);
        assert_true(v >= 10 && v <= 14);
        seen[v - 10] = 1;
    }
    for (int i = 0; i < 5; i++)
        assert_true(seen[i]);
    assert_int_equal(pd_draw_range(3, "k", "r", 0, 5, 5), 5);
}

static void test_lognormal_median(void **state)
{
    (void)state;
    int below = 0;
    const int n = 20000;
    for (int i = 0; i < n; i++)
        if (pd_draw_lognormal(9, "k", "ln", (uint64_t)i, 100.0, 0.5) < 100.0)
            below++;
    assert_true(fabs((double)below / n - 0.5) < 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pure),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_lognormal_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
