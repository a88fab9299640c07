/* Proves the fault-rules parser accepts every documented form and refuses
 * each kind of bad input with the JSON path of the offending field; that the
 * matcher selects by op, order (all, fraction, out_trade_no, keys), nth
 * attempt, time window and probability; and that every decision is a pure
 * function of (seed, key, attempt): the same inputs in any order give the
 * same answers, and fractions/probabilities land near their rates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_faults.h"
#include "pd_err.h"

static struct gw_rules *parse_ok(const char *text)
{
    struct gw_rules *r = NULL;
    struct pd_json_err err = {{0}};
    int rc = gw_rules_parse(text, strlen(text), &r, &err);
    if (rc != PD_OK)
        fail_msg("refused: %s\n  for %s", err.text, text);
    return r;
}

static void test_good_documents(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{\"rules\":[]}",
        "{\"description\":\"x\",\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"drop\"}}]}",
        "{\"rules\":[{\"id\":\"d2\",\"op\":\"callback\",\"nth\":{\"first\":2},\"action\":{\"type\":\"drop\"}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"orders\":{\"fraction\":0.3},\"probability\":0.5,"
        "\"action\":{\"type\":\"delay\",\"uniform\":{\"lower\":\"1s\",\"upper\":\"5s\"}}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"lognormal\":{\"median\":\"2s\",\"sigma\":0.5}}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"fixed\":250}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"orders\":{\"keys\":[\"k1\",\"k2\"]},\"action\":{\"type\":\"duplicate\",\"copies\":3,\"mode\":\"concurrent\"}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"orders\":{\"out_trade_no\":[\"o-1\"]},\"action\":{\"type\":\"reorder\",\"after\":2,\"max_hold\":\"10s\"}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"stale\",\"state\":\"USERPAYING\",\"after\":\"1s\"}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"forge\",\"kind\":\"wrong_amount\",\"signature\":\"valid\"}}]}",
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"forge\",\"kind\":\"replay\",\"after\":\"10m\",\"replace\":true}}]}",
        "{\"rules\":[{\"op\":\"create\",\"nth\":[1,3],\"action\":{\"type\":\"error\",\"status\":503,\"body\":{\"code\":\"SYSTEMERROR\"}}}]}",
        "{\"rules\":[{\"op\":\"query\",\"window\":{\"from\":\"10s\",\"to\":\"1m\"},\"action\":{\"type\":\"stale_query\",\"for\":\"5s\"}}]}",
        "{\"rules\":[{\"op\":\"close\",\"window\":{\"from_at\":1767225600000},\"action\":{\"type\":\"rate_limit\",\"retry_after\":\"2s\"}}]}",
        "{\"rules\":[{\"op\":\"refund\",\"action\":{\"type\":\"commit_drop\",\"close\":true}}]}",
        "{\"rules\":[{\"op\":\"pay\",\"nth\":{\"from\":2,\"to\":4},\"action\":{\"type\":\"hang\",\"duration\":\"30s\"}}]}",
        "{\"rules\":[{\"op\":\"query\",\"orders\":\"all\",\"action\":{\"type\":\"slow\",\"fixed\":\"2s\"}}]}",
        "{\"rules\":[{\"op\":\"close\",\"orders\":{\"fraction\":0.5},\"action\":{\"type\":\"fake_success\"}}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct gw_rules *r = parse_ok(docs[i]);
        assert_non_null(r->text);
        gw_rules_unref(r);
    }
}

struct bad {
    const char *doc;
    const char *message;     /* exact err.text */
};

static const struct bad bad_docs[] = {
    {"", "(document): not valid JSON (line 1, byte 0)"},
    {"{\"rules\": [\n  {\"op\": \"pay\",\n   \"action\": {\"type\": \"drop\"}\n  ]\n}",
     "(document): not valid JSON (line 4, byte 60)"},
    {"[1]", "(document): must be a JSON object {\"rules\": [...]}"},
    {"{}", "rules: required"},
    {"{\"rulez\":[]}", "(document).rulez: unknown field"},
    {"{\"rules\":{}}", "rules: must be a list of at most 256 rules"},
    {"{\"rules\":[1]}", "rules[0]: must be an object"},
    {"{\"rules\":[{\"action\":{\"type\":\"drop\"}}]}", "rules[0].op: required"},
    {"{\"rules\":[{\"op\":\"pay\",\"action\":{\"type\":\"drop\"}}]}",
     "rules[0].action.type: \"drop\" does not apply to op \"pay\""},
    {"{\"rules\":[{\"op\":\"callbak\",\"action\":{\"type\":\"drop\"}}]}",
     "rules[0].op: must be one of create, query, close, refund, pay, callback"},
    {"{\"rules\":[{\"op\":\"callback\"}]}", "rules[0].action: required"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"drop\",\"n\":1}}]}",
     "rules[0].action.n: unknown field"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"drop\"}},{\"op\":\"callback\",\"action\":{\"type\":\"drop\"}},"
     "{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"copies\":0}}]}",
     "rules[2].action.copies: must be an integer between 1 and 100"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"copies\":\"3\"}}]}",
     "rules[0].action.copies: must be an integer between 1 and 100"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"mode\":\"parallel\"}}]}",
     "rules[0].action.mode: must be one of sequential, concurrent"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\"}}]}",
     "rules[0].action: needs one of fixed, uniform, lognormal"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"fixed\":\"2 s\"}}]}",
     "rules[0].action.fixed: must be a duration such as \"250ms\", \"30s\", \"10m\", \"3h\""},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"fixed\":-5}}]}",
     "rules[0].action.fixed: must be a duration such as \"250ms\", \"30s\", \"10m\", \"3h\""},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"uniform\":{\"lower\":\"5s\",\"upper\":\"1s\"}}}]}",
     "rules[0].action.uniform.upper: must be >= lower"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"fixed\":\"1s\",\"uniform\":{}}}]}",
     "rules[0].action: give only one of fixed, uniform, lognormal"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"lognormal\":{\"median\":\"1s\",\"sigma\":-1}}}]}",
     "rules[0].action.lognormal.sigma: must be a number between 0 and 10"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"forge\"}}]}", "rules[0].action.kind: required"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"forge\",\"kind\":\"bad_signature\",\"signature\":\"valid\"}}]}",
     "rules[0].action.signature: a bad_signature forgery cannot be validly signed"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"stale\",\"state\":\"SUCCESS\"}}]}",
     "rules[0].action.state: must be one of NOTPAY, USERPAYING"},
    {"{\"rules\":[{\"op\":\"create\",\"action\":{\"type\":\"error\",\"status\":200}}]}",
     "rules[0].action.status: must be an integer between 400 and 599"},
    {"{\"rules\":[{\"op\":\"create\",\"action\":{\"type\":\"error\",\"body\":\"oops\"}}]}",
     "rules[0].action.body: must be a JSON object"},
    {"{\"rules\":[{\"op\":\"create\",\"action\":{\"type\":\"stale_query\"}}]}",
     "rules[0].action.type: \"stale_query\" does not apply to op \"create\""},
    {"{\"rules\":[{\"op\":\"query\",\"action\":{\"type\":\"fake_success\"}}]}",
     "rules[0].action.type: \"fake_success\" does not apply to op \"query\""},
    {"{\"rules\":[{\"op\":\"close\",\"action\":{\"type\":\"fake_success\",\"state\":\"NOTPAY\"}}]}",
     "rules[0].action.state: unknown field"},
    {"{\"rules\":[{\"op\":\"query\",\"action\":{\"type\":\"hang\",\"close\":1}}]}",
     "rules[0].action.close: must be true or false"},
    {"{\"rules\":[{\"op\":\"query\",\"probability\":1.5,\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].probability: must be a number between 0 and 1"},
    {"{\"rules\":[{\"op\":\"query\",\"orders\":{\"fraction\":0.5,\"keys\":[\"a\"]},\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].orders: give exactly one of fraction, out_trade_no, keys"},
    {"{\"rules\":[{\"op\":\"query\",\"orders\":{\"keys\":[\"a\",7]},\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].orders.keys[1]: must be a string of 1 to 128 bytes"},
    {"{\"rules\":[{\"op\":\"query\",\"orders\":\"some\",\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].orders: must be \"all\" or an object"},
    {"{\"rules\":[{\"op\":\"query\",\"nth\":0,\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].nth: must be an integer >= 1, a list of 1 to 32 of them, or {\"first\": N} / {\"from\": a, \"to\": b}"},
    {"{\"rules\":[{\"op\":\"query\",\"nth\":[1,-2],\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].nth[1]: must be an integer >= 1"},
    {"{\"rules\":[{\"op\":\"query\",\"nth\":{\"from\":5,\"to\":2},\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].nth.to: must be >= from"},
    {"{\"rules\":[{\"op\":\"query\",\"window\":{\"from\":\"1s\",\"to_at\":5},\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].window: give from/to (after start) or from_at/to_at (epoch ms)"},
    {"{\"rules\":[{\"op\":\"query\",\"id\":\"\",\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}",
     "rules[0].id: must be a string of 1 to 63 bytes"},
    {"{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"explode\"}}]}",
     "rules[0].action.type: must be one of drop, delay, duplicate, reorder, stale, forge, error, "
     "hang, commit_drop, stale_query, rate_limit, slow, fake_success"},
};

static void test_bad_documents(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        struct gw_rules *r = NULL;
        struct pd_json_err err = {{0}};
        int rc = gw_rules_parse(bad_docs[i].doc, strlen(bad_docs[i].doc), &r, &err);
        if (rc != PD_EINVAL || strcmp(err.text, bad_docs[i].message) != 0)
            fail_msg("case %zu: rc=%d\n  got:  %s\n  want: %s", i, rc, err.text,
                     bad_docs[i].message);
        assert_null(r);
    }
}

static void test_too_many_rules(void **state)
{
    (void)state;
    size_t cap = 300 * 64 + 32;
    char *doc = malloc(cap);
    size_t off = (size_t)snprintf(doc, cap, "{\"rules\":[");
    for (int i = 0; i < 300; i++)
        off += (size_t)snprintf(doc + off, cap - off, "%s{\"op\":\"query\",\"action\":{\"type\":\"drop\"}}",
                                i ? "," : "");
    snprintf(doc + off, cap - off, "]}");
    struct gw_rules *r = NULL;
    struct pd_json_err err;
    assert_int_equal(gw_rules_parse(doc, strlen(doc), &r, &err), PD_EINVAL);
    assert_string_equal(err.text, "rules: must be a list of at most 256 rules");
    free(doc);
}

static struct gw_event ev_of(enum gw_op op, const char *key, uint64_t attempt)
{
    struct gw_event ev = {op, key, key, attempt, 1000000, 0, 42};
    return ev;
}

static const struct gw_rule *first_match(struct gw_rules *r, struct gw_event ev)
{
    size_t pos = 0;
    return gw_rules_next(r, &ev, &pos);
}

static void test_match_op_nth_lists(void **state)
{
    (void)state;
    struct gw_rules *r = parse_ok(
        "{\"rules\":[{\"id\":\"a\",\"op\":\"callback\",\"nth\":{\"first\":2},\"action\":{\"type\":\"drop\"}},"
        "{\"id\":\"b\",\"op\":\"query\",\"orders\":{\"keys\":[\"k7\"]},\"nth\":[2,4],\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}},"
        "{\"id\":\"c\",\"op\":\"close\",\"orders\":{\"out_trade_no\":[\"o-9\"]},\"action\":{\"type\":\"rate_limit\"}}]}");
    assert_non_null(first_match(r, ev_of(GW_OP_CALLBACK, "x", 1)));
    assert_non_null(first_match(r, ev_of(GW_OP_CALLBACK, "x", 2)));
    assert_null(first_match(r, ev_of(GW_OP_CALLBACK, "x", 3)));
    assert_null(first_match(r, ev_of(GW_OP_CREATE, "x", 1)));
    assert_null(first_match(r, ev_of(GW_OP_QUERY, "k7", 1)));
    assert_string_equal(first_match(r, ev_of(GW_OP_QUERY, "k7", 2))->id, "b");
    assert_null(first_match(r, ev_of(GW_OP_QUERY, "k7", 3)));
    assert_non_null(first_match(r, ev_of(GW_OP_QUERY, "k7", 4)));
    assert_null(first_match(r, ev_of(GW_OP_QUERY, "k8", 2)));
    struct gw_event ev = ev_of(GW_OP_CLOSE, "key-1", 1);
    ev.out_trade_no = "o-9";
    assert_non_null(first_match(r, ev));
    ev.out_trade_no = "o-10";
    assert_null(first_match(r, ev));
    gw_rules_unref(r);
}

static void test_match_window(void **state)
{
    (void)state;
    struct gw_rules *r = parse_ok(
        "{\"rules\":[{\"op\":\"create\",\"window\":{\"from\":\"10s\",\"to\":\"1m\"},\"action\":{\"type\":\"rate_limit\"}},"
        "{\"op\":\"query\",\"window\":{\"from_at\":5000,\"to_at\":6000},\"action\":{\"type\":\"rate_limit\"}}]}");
    struct gw_event ev = ev_of(GW_OP_CREATE, "k", 1);
    ev.epoch_ms = 100000;
    ev.now_ms = 109999;
    assert_null(first_match(r, ev));
    ev.now_ms = 110000;
    assert_non_null(first_match(r, ev));
    ev.now_ms = 159999;
    assert_non_null(first_match(r, ev));
    ev.now_ms = 160000;
    assert_null(first_match(r, ev));
    ev.op = GW_OP_QUERY;
    ev.now_ms = 5500;
    assert_non_null(first_match(r, ev));
    ev.now_ms = 6000;
    assert_null(first_match(r, ev));
    gw_rules_unref(r);
}

/* fraction picks a stable set of orders (the same for every attempt);
 * probability draws per attempt. Both land near their rates and are pure. */
static void test_seeded_draws(void **state)
{
    (void)state;
    struct gw_rules *r = parse_ok(
        "{\"rules\":[{\"id\":\"f\",\"op\":\"callback\",\"orders\":{\"fraction\":0.3},\"action\":{\"type\":\"drop\"}},"
        "{\"id\":\"p\",\"op\":\"query\",\"probability\":0.25,\"action\":{\"type\":\"slow\",\"fixed\":\"1s\"}}]}");
    int picked = 0, hits = 0;
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        bool a1 = first_match(r, ev_of(GW_OP_CALLBACK, key, 1)) != NULL;
        bool a5 = first_match(r, ev_of(GW_OP_CALLBACK, key, 5)) != NULL;
        assert_true(a1 == a5);
        picked += a1;
        hits += first_match(r, ev_of(GW_OP_QUERY, key, (uint64_t)(i % 7 + 1))) != NULL;
    }
    assert_in_range(picked, 2700, 3300);
    assert_in_range(hits, 2200, 2800);
    /* Pure: asking again, in another order, gives the same answers. */
    for (int i = 9999; i >= 0; i -= 37) {
        snprintf(key, sizeof key, "key-%d", i);
        struct gw_event e = ev_of(GW_OP_QUERY, key, (uint64_t)(i % 7 + 1));
        bool again = first_match(r, e) != NULL;
        assert_true(again == (first_match(r, e) != NULL));
    }
    /* Another seed picks another set. */
    struct gw_event e1 = ev_of(GW_OP_CALLBACK, "key-1", 1);
    int differ = 0;
    for (uint64_t s = 1; s < 50; s++) {
        e1.seed = s;
        bool m1 = first_match(r, e1) != NULL;
        e1.seed = s + 1000;
        differ += m1 != (first_match(r, e1) != NULL);
    }
    assert_true(differ > 0);
    gw_rules_unref(r);
}

static void test_dist_draws(void **state)
{
    (void)state;
    struct gw_rules *r = parse_ok(
        "{\"rules\":[{\"id\":\"u\",\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"uniform\":{\"lower\":\"1s\",\"upper\":\"2s\"}}},"
        "{\"id\":\"l\",\"op\":\"callback\",\"action\":{\"type\":\"delay\",\"lognormal\":{\"median\":\"1s\",\"sigma\":0.5}}}]}");
    const struct gw_rule *u = &r->rules[0], *l = &r->rules[1];
    int below = 0;
    for (uint64_t a = 1; a <= 2000; a++) {
        struct gw_event ev = ev_of(GW_OP_CALLBACK, "k", a);
        int64_t d = gw_dist_draw(&u->action.dist, u, &ev, "delay");
        assert_in_range(d, 1000, 2000);
        assert_int_equal(d, gw_dist_draw(&u->action.dist, u, &ev, "delay"));
        int64_t x = gw_dist_draw(&l->action.dist, l, &ev, "delay");
        assert_true(x > 0);
        below += x < 1000;
    }
    assert_in_range(below, 850, 1150);   /* the median splits the draws in half */
    gw_rules_unref(r);
}

static void test_action_defaults(void **state)
{
    (void)state;
    struct gw_rules *r = parse_ok(
        "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\"}},"
        "{\"op\":\"callback\",\"action\":{\"type\":\"forge\",\"kind\":\"stale_timestamp\"}},"
        "{\"op\":\"callback\",\"action\":{\"type\":\"forge\",\"kind\":\"wrong_amount\"}},"
        "{\"op\":\"query\",\"action\":{\"type\":\"stale_query\"}},"
        "{\"op\":\"create\",\"action\":{\"type\":\"error\"}}]}");
    assert_int_equal(r->rules[0].action.copies, 2);
    assert_false(r->rules[0].action.concurrent);
    assert_true(r->rules[1].action.valid_signature);
    assert_int_equal(r->rules[1].action.skew_ms, 3600000);
    assert_false(r->rules[2].action.valid_signature);
    assert_string_equal(r->rules[3].action.state, "NOTPAY");
    assert_int_equal(r->rules[3].action.for_ms, 5000);
    assert_int_equal(r->rules[4].action.status, 500);
    assert_string_equal(r->rules[4].action.body,
                        "{\"code\":\"SYSTEMERROR\",\"message\":\"injected fault\"}");
    assert_string_equal(r->rules[0].id, "r0");
    gw_rules_unref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_documents),   cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_too_many_rules),   cmocka_unit_test(test_match_op_nth_lists),
        cmocka_unit_test(test_match_window),     cmocka_unit_test(test_seeded_draws),
        cmocka_unit_test(test_dist_draws),       cmocka_unit_test(test_action_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
