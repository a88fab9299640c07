/* Proves the runner's decisions are keyed, not sequential: the plan of an
 * order depends only on (seed, scenario, index) whatever order the orders
 * are planned in, a different seed changes it, the drawn mix follows the
 * scenario's probabilities, and business-fault decisions depend only on
 * (seed, key, rule, attempt) and the rule's time window. Also proves the
 * time mapping (one simulated timeline for every process) and the FAKETIME
 * value each child is given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "sim_business.h"
#include "sim_plan.h"
#include "sim_procs.h"
#include "sim_scenario.h"
#include "sim_time.h"

static const char doc[] =
    "{\"name\": \"det\", \"seed\": 42, \"workload\": {\"orders\": 2000,"
    " \"duplicates\": {\"immediate\": 0.1, \"concurrent\": 0.2, \"after_window\": 0.1}},"
    " \"payer\": {\"pay\": 0.5, \"pay_twice\": 0.2, \"pay_late\": 0.1, \"abandon\": 0.2,"
    "   \"delay_min\": \"1s\", \"delay_max\": \"1m\"},"
    " \"business_faults\": [{\"action\": \"error\", \"probability\": 0.3, \"from\": \"1m\", \"until\": \"1h\"},"
    "   {\"action\": \"slow\", \"delay\": \"2s\"}]}";

static void load(struct sim_scenario *s)
{
    char err[SIM_ERR_MAX];
    if (sim_scenario_parse("det.json", doc, strlen(doc), NULL, s, err) != PD_OK)
        fail_msg("%s", err);
}

static bool same_plan(const struct sim_order_plan *a, const struct sim_order_plan *b)
{
    return strcmp(a->key, b->key) == 0 && a->amount == b->amount && a->dup == b->dup &&
           a->act == b->act && a->pay_delay_ms == b->pay_delay_ms && a->arrival_ms == b->arrival_ms;
}

static void test_plan_is_keyed(void **state)
{
    (void)state;
    struct sim_scenario s;
    load(&s);
    enum { N = 2000 };
    struct sim_order_plan *fwd = calloc(N, sizeof *fwd);
    for (int64_t i = 0; i < N; i++)
        sim_plan_order(&s, i, &fwd[i]);
    /* Backwards, as another thread schedule would: identical plans. */
    for (int64_t i = N - 1; i >= 0; i--) {
        struct sim_order_plan p;
        sim_plan_order(&s, i, &p);
        assert_true(same_plan(&p, &fwd[i]));
    }
    assert_string_equal(fwd[17].key, "det-17");
    s.seed = 43;
    int differ = 0;
    for (int64_t i = 0; i < N; i++) {
        struct sim_order_plan p;
        sim_plan_order(&s, i, &p);
        differ += !same_plan(&p, &fwd[i]);
    }
    assert_true(differ > N * 9 / 10);
    free(fwd);
    sim_scenario_release(&s);
}

static void test_plan_follows_probabilities(void **state)
{
    (void)state;
    struct sim_scenario s;
    load(&s);
    int acts[4] = {0}, dups[4] = {0};
    const int n = 2000;
    for (int64_t i = 0; i < n; i++) {
        struct sim_order_plan p;
        sim_plan_order(&s, i, &p);
        acts[p.act]++;
        dups[p.dup]++;
        assert_true(p.amount >= s.workload.amount_min && p.amount <= s.workload.amount_max);
        assert_true(p.pay_delay_ms >= 1000 && p.pay_delay_ms <= 60000);
    }
    const double want_act[4] = {0.5, 0.2, 0.1, 0.2}, want_dup[4] = {0.6, 0.1, 0.2, 0.1};
    for (int k = 0; k < 4; k++) {
        assert_true(fabs(acts[k] / (double)n - want_act[k]) < 0.04);
        assert_true(fabs(dups[k] / (double)n - want_dup[k]) < 0.04);
    }
    sim_scenario_release(&s);
}

static void test_business_decisions(void **state)
{
    (void)state;
    struct sim_scenario s;
    load(&s);
    int64_t delay = 0;
    /* Before the error window only the slow rule applies. */
    assert_int_equal(sim_business_decide(&s, "det-1", 0, 1, &delay), -1);
    assert_true(delay == 2000);
    int hits = 0;
    for (uint64_t a = 1; a <= 1000; a++) {
        int r1 = sim_business_decide(&s, "det-1", 120000, a, &delay);
        int r2 = sim_business_decide(&s, "det-1", 120000, a, &delay);
        assert_int_equal(r1, r2);
        hits += r1 == 0;
    }
    assert_true(hits > 240 && hits < 360);
    /* After the window: never. */
    for (uint64_t a = 1; a <= 100; a++)
        assert_int_equal(sim_business_decide(&s, "det-1", 3600000, a, &delay), -1);
    sim_scenario_release(&s);
}

static void test_time_mapping(void **state)
{
    (void)state;
    struct sim_timeline tl;
    sim_timeline_init(&tl, SIM_EPOCH_MS, 5000, 500);
    assert_true(sim_time_at(&tl, 5000) == SIM_EPOCH_MS);
    assert_true(sim_time_at(&tl, 5001) == SIM_EPOCH_MS + 500);
    assert_true(sim_time_at(&tl, 7000) == SIM_EPOCH_MS + 1000000);
    assert_true(sim_time_real_ms(&tl, 86400000) == 172800);
    assert_true(sim_time_real_ms(&tl, 1) == 1);   /* rounded up: never a zero wait */
    assert_true(sim_time_real_ms(&tl, 0) == 0);
    char ft[64];
    assert_int_equal(sim_faketime_value(SIM_EPOCH_MS + 3723000, 500, ft, sizeof ft), PD_OK);
    assert_string_equal(ft, "@2026-01-01 01:02:03 x500");
    assert_int_equal(sim_faketime_value(SIM_EPOCH_MS, 2.5, ft, sizeof ft), PD_OK);
    assert_string_equal(ft, "@2026-01-01 00:00:00 x2.5");
    assert_int_equal(sim_faketime_value(SIM_EPOCH_MS, 2.5, ft, 8), PD_ETOOBIG);
    /* Timeouts last at least 1.5 s of real time under any speed-up. */
    assert_true(sim_latency_allowance_ms(10000, 1) == 10000);
    assert_true(sim_latency_allowance_ms(10000, 1000) == 1500000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_is_keyed),
        cmocka_unit_test(test_plan_follows_probabilities),
        cmocka_unit_test(test_business_decisions),
        cmocka_unit_test(test_time_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
