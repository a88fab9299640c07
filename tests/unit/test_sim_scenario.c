/* Proves the scenario parser is strict and that every refusal names the file
 * and the field: a table of broken documents, each with the exact message
 * prefix it must produce; a full document keeps every value; defaults fill
 * what is left out; and the printed form (scenario.json of a run) parses
 * back to the same scenario, so replay runs exactly what ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "sim_scenario.h"

static const struct {
    const char *doc;
    const char *msg;    /* expected start of the message after "f.json: " */
} bad[] = {
    {"[1]", "(document): must be a JSON object"},
    {"{\"name\": \"x\",", "(document): not valid JSON"},
    {"{\"name\": \"x\",\n \"seed\": 1,\n \"description\": \"a\tb\"}",
     "(document): not valid JSON (line 3, byte 44)"},
    {"{\"name\": \"x\"}\n{\"name\": \"y\"}", "(document): not valid JSON (line 2, byte 14)"},
    {"{}", "name: required"},
    {"{\"name\": \"a b\"}", "name: only letters"},
    {"{\"name\": 7}", "name: must be a string"},
    {"{\"name\": \"x\", \"colour\": 1}", "colour: unknown field"},
    {"{\"name\": \"x\", \"seed\": -1}", "seed: must be between"},
    {"{\"name\": \"x\", \"seed\": 1.5}", "seed: must be an integer"},
    {"{\"name\": \"x\", \"time_scale\": 0}", "time_scale: must be between"},
    {"{\"name\": \"x\", \"time_scale\": \"fast\"}", "time_scale: must be a number"},
    {"{\"name\": \"x\", \"workload\": 3}", "workload: must be an object"},
    {"{\"name\": \"x\", \"workload\": {\"orders\": 0}}", "workload.orders: must be between"},
    {"{\"name\": \"x\", \"workload\": {\"ordres\": 5}}", "workload.ordres: unknown field"},
    {"{\"name\": \"x\", \"workload\": {\"concurrency\": 5000}}", "workload.concurrency: must be between"},
    {"{\"name\": \"x\", \"workload\": {\"currency\": \"cny\"}}", "workload.currency: must be an ISO 4217"},
    {"{\"name\": \"x\", \"workload\": {\"amount\": {\"min\": 10, \"max\": 5}}}", "workload.amount.max: must be >= min"},
    {"{\"name\": \"x\", \"workload\": {\"amount\": {\"min\": 0}}}", "workload.amount.min: must be between"},
    {"{\"name\": \"x\", \"workload\": {\"duplicates\": {\"immediate\": 1.5}}}", "workload.duplicates.immediate: must be between"},
    {"{\"name\": \"x\", \"workload\": {\"duplicates\": {\"immediate\": 0.6, \"concurrent\": 0.6}}}", "workload.duplicates: immediate + concurrent"},
    {"{\"name\": \"x\", \"workload\": {\"duplicates\": {\"burst\": 1}}}", "workload.duplicates.burst: must be between"},
    {"{\"name\": \"x\", \"workload\": {\"pay_double_click\": 2}}", "workload.pay_double_click: must be between"},
    {"{\"name\": \"x\", \"payer\": {\"pay\": 0.5}}", "payer: pay + pay_twice"},
    {"{\"name\": \"x\", \"payer\": {\"pay\": 1, \"delay_min\": \"5\"}}", "payer.delay_min: must be a duration"},
    {"{\"name\": \"x\", \"payer\": {\"pay\": 1, \"delay_min\": \"9s\", \"delay_max\": \"1s\"}}", "payer.delay_max: must be >= delay_min"},
    {"{\"name\": \"x\", \"business_faults\": {}}", "business_faults: must be an array"},
    {"{\"name\": \"x\", \"business_faults\": [{\"action\": \"explode\"}]}", "business_faults[0].action: must be one of"},
    {"{\"name\": \"x\", \"business_faults\": [{\"action\": \"slow\"}]}", "business_faults[0].delay: required for slow"},
    {"{\"name\": \"x\", \"business_faults\": [{\"action\": \"error\", \"status\": 200}]}", "business_faults[0].status: must be between"},
    {"{\"name\": \"x\", \"business_faults\": [{\"action\": \"error\", \"from\": \"1h\", \"until\": \"1m\"}]}", "business_faults[0].until: must be after from"},
    {"{\"name\": \"x\", \"process_faults\": [{\"target\": \"db\", \"at\": \"1m\"}]}", "process_faults[0].target: must be sut or gateway"},
    {"{\"name\": \"x\", \"process_faults\": [{\"target\": \"sut\"}]}", "process_faults[0]: exactly one of at, after_orders"},
    {"{\"name\": \"x\", \"process_faults\": [{\"target\": \"sut\", \"at\": \"1m\", \"after_orders\": 3}]}", "process_faults[0]: exactly one of at, after_orders"},
    {"{\"name\": \"x\", \"process_faults\": [{\"target\": \"sut\", \"at\": \"1m\", \"repeat\": 2, \"every\": \"1s\", \"restart_after\": \"5s\"}]}", "process_faults[0].every: must be longer"},
    {"{\"name\": \"x\", \"sut_env\": {\"lower\": \"1\"}}", "sut_env.lower: name must be"},
    {"{\"name\": \"x\", \"sut_env\": {\"PAYDRILL_LISTEN\": \"1\"}}", "sut_env.PAYDRILL_LISTEN: set by paydrill"},
    {"{\"name\": \"x\", \"sut_env\": {\"PAYDRILL_TIME_SCALE\": \"1\"}}", "sut_env.PAYDRILL_TIME_SCALE: set by paydrill"},
    {"{\"name\": \"x\", \"sut_env\": {\"FAKETIME_SHARED\": \"x\"}}", "sut_env.FAKETIME_SHARED: set by paydrill"},
    {"{\"name\": \"x\", \"sut_env\": {\"A\": 1}}", "sut_env.A: must be a string"},
    {"{\"name\": \"x\", \"gateway_env\": {\"GW_SEED\": \"3\"}}", "gateway_env.GW_SEED: set by paydrill"},
    {"{\"name\": \"x\", \"gateway_faults\": [1]}", "gateway_faults: must be an object"},
    {"{\"name\": \"x\", \"convergence_bound\": \"10ms\"}", "convergence_bound: too short"},
    {"{\"name\": \"x\", \"dedup_window\": \"400d\"}", "dedup_window: longer than 366d"},
    {"{\"name\": \"x\", \"wait_callbacks\": 1}", "wait_callbacks: must be true or false"},
    {"{\"name\": \"x\", \"expect\": {}}", "expect: must be an array"},
    {"{\"name\": \"x\", \"expect\": [3]}", "expect[0]: must be an object"},
    {"{\"name\": \"x\", \"expect\": [{}]}", "expect[0]: needs exactly one of gateway, count, process and business"},
    {"{\"name\": \"x\", \"expect\": [{\"count\": \"paid\", \"process\": {}}]}", "expect[0]: needs exactly one of"},
    {"{\"name\": \"x\", \"expect\": [{\"count\": \"paid\", \"atleast\": 1}]}", "expect[0].atleast: unknown field"},
    {"{\"name\": \"x\", \"expect\": [{\"count\": \"paid\"}, {\"count\": \"money\"}]}", "expect[1].count: must be one of orders"},
    {"{\"name\": \"x\", \"expect\": [{\"count\": \"paid\", \"at_least\": 0}]}", "expect[0].at_least: must be between"},
    {"{\"name\": \"x\", \"expect\": [{\"count\": \"paid\", \"why\": 5}]}", "expect[0].why: must be a string"},
    {"{\"name\": \"x\", \"expect\": [{\"gateway\": \"close\"}]}", "expect[0].gateway: must be an object"},
    {"{\"name\": \"x\", \"expect\": [{\"gateway\": {\"status\": 409}}]}", "expect[0].gateway.op: required"},
    {"{\"name\": \"x\", \"expect\": [{\"gateway\": {\"op\": \"close\", \"status\": 4090}}]}", "expect[0].gateway.status: must be between"},
    {"{\"name\": \"x\", \"expect\": [{\"gateway\": {\"op\": \"close\", \"state\": 1}}]}", "expect[0].gateway.state: unknown field"},
    {"{\"name\": \"x\", \"expect\": [{\"process\": {\"target\": \"db\", \"action\": \"kill\"}}]}", "expect[0].process.target: must be sut or gateway"},
    {"{\"name\": \"x\", \"expect\": [{\"process\": {\"target\": \"sut\", \"action\": \"stop\"}}]}", "expect[0].process.action: must be kill, restart"},
    {"{\"name\": \"x\", \"expect\": [{\"process\": {\"target\": \"sut\"}}]}", "expect[0].process.action: required"},
    {"{\"name\": \"x\", \"expect\": [{\"business\": {\"record\": \"orders\"}}]}", "expect[0].business.record: must be submissions, pay_calls"},
    {"{\"name\": \"x\", \"expect\": [{\"business\": {\"record\": \"pay_calls\", \"status\": -1}}]}", "expect[0].business.status: must be between"},
    {"{\"name\": \"x\", \"expect\": [{\"business\": {\"status\": 409}}]}", "expect[0].business.record: required"},
};

static void test_errors_name_file_and_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sim_scenario s;
        char err[SIM_ERR_MAX];
        int rc = sim_scenario_parse("f.json", bad[i].doc, strlen(bad[i].doc), NULL, &s, err);
        if (rc != PD_EINVAL || strncmp(err, "f.json: ", 8) != 0 ||
            strncmp(err + 8, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("doc %zu %s\n  got: %s\n  want: f.json: %s", i, bad[i].doc, err, bad[i].msg);
    }
}

static const char full[] =
    "{\"name\": \"full\", \"description\": \"d\", \"seed\": 9, \"time_scale\": 250,"
    " \"workload\": {\"orders\": 7, \"concurrency\": 3, \"arrival_rate\": 2.5,"
    "   \"amount\": {\"min\": 5, \"max\": 9}, \"currency\": \"EUR\", \"merchant_id\": \"m-9\","
    "   \"duplicates\": {\"immediate\": 0.1, \"concurrent\": 0.2, \"burst\": 4, \"after_window\": 0.3},"
    "   \"pay_double_click\": 0.25},"
    " \"payer\": {\"pay\": 0.4, \"pay_twice\": 0.3, \"pay_late\": 0.2, \"abandon\": 0.1,"
    "   \"delay_min\": \"1s\", \"delay_max\": \"2m\"},"
    " \"gateway_faults\": {\"rules\": []},"
    " \"business_faults\": [{\"action\": \"slow\", \"delay\": \"3s\", \"probability\": 0.5,"
    "   \"from\": \"1m\", \"until\": \"forever\"}, {\"action\": \"no_ack\", \"until\": \"1d\"}],"
    " \"process_faults\": [{\"target\": \"gateway\", \"after_orders\": 4, \"restart_after\": \"7s\","
    "   \"repeat\": 2, \"every\": \"1m\"}],"
    " \"sut_env\": {\"PAYDRILL_QUERY_SCHEDULE\": \"1s,2s\"}, \"gateway_env\": {\"GW_THREADS\": \"8\"},"
    " \"dedup_window\": \"5m\", \"payment_expiry\": \"7m\", \"notify_timeout\": \"30s\","
    " \"convergence_bound\": \"3h\", \"settle\": \"10s\", \"wait_callbacks\": false,"
    " \"expect\": [{\"gateway\": {\"op\": \"close\", \"status\": 409, \"detail\": \"ORDERPAID\","
    "   \"fault\": \"drop\"}, \"at_least\": 2, \"why\": \"raced\"}, {\"count\": \"refunds\"},"
    "   {\"process\": {\"target\": \"gateway\", \"action\": \"restart\"}, \"at_least\": 3},"
    "   {\"business\": {\"record\": \"pay_calls\", \"status\": 409}}]}";

static void check_full(const struct sim_scenario *s)
{
    assert_string_equal(s->name, "full");
    assert_true(s->seed == 9 && s->time_scale == 250);
    assert_true(s->workload.orders == 7 && s->workload.concurrency == 3);
    assert_true(s->workload.amount_min == 5 && s->workload.amount_max == 9);
    assert_string_equal(s->workload.currency, "EUR");
    assert_true(s->workload.burst_copies == 4 && s->workload.dup_after_window == 0.3);
    assert_true(s->workload.pay_double_click == 0.25);
    assert_true(s->payer.pay_late == 0.2 && s->payer.delay_max_ms == 120000);
    assert_true(s->n_biz == 2 && s->biz[0].action == SIM_BIZ_SLOW && s->biz[0].until_ms == -1);
    assert_true(s->biz[1].action == SIM_BIZ_NO_ACK && s->biz[1].status == 504);
    assert_true(s->n_procs == 1 && s->procs[0].target == SIM_TARGET_GATEWAY);
    assert_true(s->procs[0].after_orders == 4 && s->procs[0].at_ms == -1);
    assert_true(s->n_sut_env == 1 && strcmp(s->sut_env[0], "PAYDRILL_QUERY_SCHEDULE=1s,2s") == 0);
    assert_true(s->n_gateway_env == 1 && s->gateway_env[1] == NULL);
    assert_true(s->dedup_window_ms == 300000 && s->payment_expiry_ms == 420000);
    assert_true(s->convergence_bound_ms == 10800000 && s->settle_ms == 10000);
    assert_false(s->wait_callbacks);
    assert_non_null(s->gateway_faults);
    assert_int_equal(s->n_expect, 4);
    const struct sim_expect *e = &s->expect[0];
    assert_true(e->kind == SIM_EXPECT_GATEWAY && e->status == 409 && e->at_least == 2);
    assert_string_equal(e->op, "close");
    assert_string_equal(e->detail, "ORDERPAID");
    assert_string_equal(e->fault, "drop");
    assert_string_equal(e->why, "raced");
    assert_true(s->expect[1].kind == SIM_EXPECT_COUNT && s->expect[1].at_least == 1);
    assert_string_equal(s->expect[1].count, "refunds");
    assert_string_equal(s->expect[1].why, "");
    assert_true(s->expect[2].kind == SIM_EXPECT_PROCESS && s->expect[2].at_least == 3);
    assert_string_equal(s->expect[2].target, "gateway");
    assert_string_equal(s->expect[2].action, "restart");
    assert_true(s->expect[3].kind == SIM_EXPECT_BUSINESS && s->expect[3].status == 409);
    assert_string_equal(s->expect[3].record, "pay_calls");
    char what[256];
    sim_expect_describe(&s->expect[3], what, sizeof what);
    assert_string_equal(what, "business pay_calls status=409");
    sim_expect_describe(e, what, sizeof what);
    assert_string_equal(what, "gateway op=close status=409 detail~ORDERPAID fault=drop");
    assert_true(sim_expect_gateway_match(e, "close", 409, "code ORDERPAID x", "drop"));
    assert_false(sim_expect_gateway_match(e, "close", 200, "code ORDERPAID x", "drop"));
    assert_false(sim_expect_gateway_match(e, "close", 409, "code ORDERPAI", "drop"));
    assert_false(sim_expect_gateway_match(e, "close", 409, "ORDERPAID", NULL));
    assert_false(sim_expect_gateway_match(e, "query", 409, "ORDERPAID", "drop"));
    assert_false(sim_expect_gateway_match(&s->expect[1], "close", 409, "ORDERPAID", "drop"));
}

static void test_full_and_roundtrip(void **state)
{
    (void)state;
    struct sim_scenario s, back;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_scenario_parse("f.json", full, strlen(full), NULL, &s, err), PD_OK);
    check_full(&s);
    cJSON *doc = sim_scenario_to_json(&s);
    char *text = cJSON_Print(doc);
    int rc = sim_scenario_parse("scenario.json", text, strlen(text), NULL, &back, err);
    if (rc != PD_OK)
        fail_msg("printed scenario does not parse back: %s", err);
    check_full(&back);
    cJSON_free(text);
    cJSON_Delete(doc);
    sim_scenario_release(&s);
    sim_scenario_release(&back);
}

static void test_defaults(void **state)
{
    (void)state;
    struct sim_scenario s;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_scenario_parse("f.json", "{\"name\": \"d\"}", 13, NULL, &s, err), PD_OK);
    assert_true(s.seed == 1 && s.workload.orders == 100 && s.payer.pay == 1.0);
    assert_true(s.dedup_window_ms == 600000 && s.payment_expiry_ms == 1800000);
    assert_true(s.wait_callbacks && s.gateway_faults == NULL && s.n_procs == 0);
    sim_scenario_release(&s);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct sim_scenario s;
    char err[SIM_ERR_MAX];
    assert_int_equal(sim_scenario_load("/nonexistent/x.json", NULL, &s, err), PD_ENOTFOUND);
    assert_string_equal(err, "/nonexistent/x.json: (file): no such file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_name_file_and_field),
        cmocka_unit_test(test_full_and_roundtrip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
