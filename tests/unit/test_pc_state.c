/* Proves the order state machine is exactly the documented one: every
 * (from, to, cause) triple is checked, the 17 legal edges are accepted and
 * all others refused -- in particular PAID and CLOSED are never left, and
 * UNKNOWN never becomes CLOSED without gateway evidence of a close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pc_state.h"

static const struct {
    int from, to;
    const char *cause;
} legal[] = {
    {PC_ST_NONE, PC_ST_UNPAID, "submit"},
    {PC_ST_UNPAID, PC_ST_PAYING, "pay"},
    {PC_ST_PAYING, PC_ST_UNKNOWN, "create_ambiguous"},
    {PC_ST_UNKNOWN, PC_ST_PAYING, "create_ok"},
    {PC_ST_UNKNOWN, PC_ST_PAYING, "query"},
    {PC_ST_PAYING, PC_ST_UNPAID, "create_rejected"},
    {PC_ST_PAYING, PC_ST_PAID, "callback"},
    {PC_ST_PAYING, PC_ST_PAID, "query"},
    {PC_ST_PAYING, PC_ST_PAID, "close_refused_paid"},
    {PC_ST_UNKNOWN, PC_ST_PAID, "callback"},
    {PC_ST_UNKNOWN, PC_ST_PAID, "query"},
    {PC_ST_UNKNOWN, PC_ST_PAID, "close_refused_paid"},
    {PC_ST_UNPAID, PC_ST_CLOSED, "expired_unpaid"},
    {PC_ST_PAYING, PC_ST_CLOSED, "query"},
    {PC_ST_PAYING, PC_ST_CLOSED, "close_confirmed"},
    {PC_ST_UNKNOWN, PC_ST_CLOSED, "query"},
    {PC_ST_UNKNOWN, PC_ST_CLOSED, "close_confirmed"},
};

static bool in_table(int from, int to, const char *cause)
{
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        if (legal[i].from == from && legal[i].to == to && strcmp(legal[i].cause, cause) == 0)
            return true;
    return false;
}

static void test_every_triple(void **state)
{
    (void)state;
    int accepted = 0;
    for (int from = 0; from < PC_ST_COUNT; from++)
        for (int to = 0; to < PC_ST_COUNT; to++)
            for (int c = 0; c < PC_CAUSE_COUNT; c++) {
                bool want = in_table(from, to, pc_cause_name(c));
                if (pc_transition_legal(from, to, c) != want)
                    fail_msg("%s -> %s (%s): expected %s", pc_status_name(from),
                             pc_status_name(to), pc_cause_name(c), want ? "legal" : "illegal");
                accepted += want;
            }
    assert_int_equal(accepted, (int)(sizeof legal / sizeof legal[0]));
}

static void test_finals_are_final(void **state)
{
    (void)state;
    for (int to = 0; to < PC_ST_COUNT; to++)
        for (int c = 0; c < PC_CAUSE_COUNT; c++) {
            assert_false(pc_transition_legal(PC_ST_PAID, to, c));
            assert_false(pc_transition_legal(PC_ST_CLOSED, to, c));
        }
    assert_true(pc_status_final(PC_ST_PAID));
    assert_true(pc_status_final(PC_ST_CLOSED));
    assert_false(pc_status_final(PC_ST_UNKNOWN));
    assert_int_equal(pc_status_parse("UNKNOWN"), PC_ST_UNKNOWN);
    assert_int_equal(pc_status_parse("NONE"), -1);
    assert_int_equal(pc_status_parse("paid"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_triple),
        cmocka_unit_test(test_finals_are_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
