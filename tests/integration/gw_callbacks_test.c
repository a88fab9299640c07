/* Proves callback delivery end to end against the real mock-gateway binary
 * and a real receiver on loopback that counts what arrives:
 * - resends on the (compressed) schedule until 200 + {"code":"SUCCESS"},
 *   with a fresh nonce per delivery and a stable event_id; a 200 whose body
 *   is not that JSON counts as a failure; the gateway gives up after the
 *   last step;
 * - drop first N gives exactly N missing attempts, then success;
 * - duplicate 3 gives 3 copies; concurrent duplicates overlap in time at
 *   the receiver;
 * - forged callbacks fail pd_verify with the real secret (or carry tampered
 *   facts / a replayed nonce) while genuine ones pass;
 * - stale sends NOTPAY after SUCCESS; delay holds the first attempt back;
 *   reorder releases a held callback after later ones;
 * - a slow receiver with many callbacks loses none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_support.h"
#include "pd_sign.h"
#include "pd_test.h"
#include "pd_time.h"

struct env {
    char dir[256];
    char data[300];
    struct gw_rx rx;
    struct pd_proc gw;
};

/* Starts a receiver and a gateway with rules (may be NULL) and schedule. */
static void up(struct env *e, const char *rules, const char *schedule, const char *workers)
{
    char faults[512];
    pd_test_tmpdir(e->dir);
    snprintf(e->data, sizeof e->data, "%s/data", e->dir);
    gw_rx_start(&e->rx);
    const char *args[12] = {"--callback-schedule", schedule, "--callback-timeout", "2s",
                            "--callback-workers", workers ? workers : "16", "--seed", "7"};
    size_t n = 8;
    if (rules != NULL) {
        gw_t_write(e->dir, "faults.json", rules, faults);
        args[n++] = "--faults";
        args[n++] = faults;
    }
    args[n] = NULL;
    gw_t_start(&e->gw, e->data, args, NULL);
}

static void down(struct env *e)
{
    pd_proc_kill9(&e->gw);
    gw_rx_stop(&e->rx);
    pd_test_rmdir(e->dir);
}

static void create_and_pay(struct env *e, const char *otn, const char *attach)
{
    assert_int_equal(gw_t_create(e->gw.url, otn, 1999, e->rx.url, attach), 200);
    assert_int_equal(gw_t_pay(e->gw.url, otn), 200);
}

static cJSON *callbacks_of(cJSON *trade)
{
    return cJSON_GetObjectItem(trade, "callbacks");
}

static void test_resend_until_ack(void **state)
{
    (void)state;
    struct env e;
    up(&e, NULL, "50ms,50ms,50ms,50ms", NULL);
    e.rx.fail_first = 2;
    create_and_pay(&e, "o-resend", "k-resend");
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e.rx.a[i].verdict, PD_SIG_OK);
        assert_non_null(strstr(e.rx.a[i].body, "\"event_id\":\"ev-4200000001-SUCCESS\""));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(e.rx.a[i].nonce, e.rx.a[j].nonce);
    }
    cJSON *t = gw_t_ledger_trade(e.gw.url, "o-resend");
    assert_int_equal(cJSON_GetObjectItem(callbacks_of(t), "attempts")->valuedouble, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(callbacks_of(t), "acked")));
    cJSON_Delete(t);
    down(&e);
}

/* 200 with a plain "SUCCESS" or with {"code":"FAIL"} is not an ack: the
 * gateway goes on until the schedule is used up, then gives up. */
static void test_strict_ack_and_give_up(void **state)
{
    (void)state;
    struct env e;
    up(&e, NULL, "30ms,30ms,30ms", NULL);
    e.rx.answer = GW_RX_PLAIN_SUCCESS;
    create_and_pay(&e, "o-plain", NULL);
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 4);
    e.rx.answer = GW_RX_JSON_FAIL;
    create_and_pay(&e, "o-jsonfail", NULL);
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 8);
    cJSON *t = gw_t_ledger_trade(e.gw.url, "o-jsonfail");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(callbacks_of(t), "gave_up")));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(callbacks_of(t), "acked")));
    assert_int_equal(cJSON_GetObjectItem(callbacks_of(t), "attempts")->valuedouble, 4);
    cJSON_Delete(t);
    down(&e);
}

static void test_drop_first_n(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":[{\"op\":\"callback\",\"nth\":{\"first\":3},\"action\":{\"type\":\"drop\"}}]}",
       "50ms,50ms,50ms,50ms,50ms", NULL);
    create_and_pay(&e, "o-drop", "k-drop");
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 1);     /* attempts 1-3 never arrived */
    cJSON *j = gw_t_journal(e.gw.url);
    assert_int_equal(gw_t_count_lines(j, "callback", "o-drop", "drop"), 3);
    assert_int_equal(gw_t_count_lines(j, "callback", "o-drop", NULL), 4);
    cJSON_Delete(j);
    cJSON *t = gw_t_ledger_trade(e.gw.url, "o-drop");
    assert_int_equal(cJSON_GetObjectItem(callbacks_of(t), "attempts")->valuedouble, 4);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(callbacks_of(t), "acked")));
    cJSON_Delete(t);
    down(&e);
}

static void test_duplicate_sequential(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"copies\":3}}]}",
       "50ms", NULL);
    create_and_pay(&e, "o-dup", NULL);
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e.rx.a[i].verdict, PD_SIG_OK);
    assert_string_not_equal(e.rx.a[0].nonce, e.rx.a[1].nonce);
    assert_string_not_equal(e.rx.a[1].nonce, e.rx.a[2].nonce);
    cJSON *j = gw_t_journal(e.gw.url);
    assert_int_equal(gw_t_count_lines(j, "callback", "o-dup", "duplicate"), 3);
    cJSON_Delete(j);
    down(&e);
}

/* With a receiver that takes 400 ms per request, concurrent copies must be
 * inside the receiver at the same time. */
static void test_duplicate_concurrent(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"copies\":4,"
           "\"mode\":\"concurrent\"}}]}", "50ms", "8");
    e.rx.delay_ms = 400;
    create_and_pay(&e, "o-cdup", NULL);
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 4);
    int64_t latest_in = 0, earliest_out = INT64_MAX;
    for (int i = 0; i < 4; i++) {
        latest_in = e.rx.a[i].in_ms > latest_in ? e.rx.a[i].in_ms : latest_in;
        earliest_out = e.rx.a[i].out_ms < earliest_out ? e.rx.a[i].out_ms : earliest_out;
        assert_int_equal(e.rx.a[i].verdict, PD_SIG_OK);
    }
    /* All four were inside before the first one left. */
    assert_true(latest_in < earliest_out);
    down(&e);
}

static int count_verdict(struct gw_rx *rx, int verdict)
{
    int n = 0;
    for (int i = 0; i < rx->n; i++)
        n += rx->a[i].verdict == verdict;
    return n;
}

static void test_forgeries(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":["
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"bad_signature\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"stale_timestamp\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"wrong_amount\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"unknown_out_trade_no\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"other_merchant\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-f\"]},\"action\":{\"type\":\"forge\",\"kind\":\"replay\"}}]}",
       "50ms", NULL);
    create_and_pay(&e, "o-forge", "k-f");
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    /* genuine + 5 forged + 1 replay */
    assert_int_equal(gw_rx_count(&e.rx), 7);
    /* Genuine and the replay verify; the five forgeries do not. */
    assert_int_equal(count_verdict(&e.rx, PD_SIG_OK), 2);
    assert_int_equal(count_verdict(&e.rx, PD_SIG_BAD), 4);
    assert_int_equal(count_verdict(&e.rx, PD_SIG_STALE), 1);
    int genuine = -1, replay = -1;
    for (int i = 0; i < e.rx.n; i++) {
        if (e.rx.a[i].verdict != PD_SIG_OK)
            continue;
        if (genuine < 0)
            genuine = i;
        else
            replay = i;
    }
    assert_true(genuine >= 0 && replay >= 0);
    /* The replay is the same bytes and the same nonce: only a nonce check catches it. */
    assert_string_equal(e.rx.a[genuine].nonce, e.rx.a[replay].nonce);
    assert_string_equal(e.rx.a[genuine].body, e.rx.a[replay].body);
    assert_int_equal(gw_rx_count_body(&e.rx, "\"amount\":2000"), 1);
    assert_int_equal(gw_rx_count_body(&e.rx, "\"out_trade_no\":\"forged-"), 1);
    assert_int_equal(gw_rx_count_body(&e.rx, "\"merchant_id\":\"m-forged-m-1\""), 1);
    cJSON *j = gw_t_journal(e.gw.url);
    assert_int_equal(gw_t_count_lines(j, "callback", "o-forge", "forge.replay"), 1);
    assert_int_equal(gw_t_count_lines(j, "callback", "o-forge", "forge.bad_signature"), 1);
    cJSON_Delete(j);
    down(&e);
}

static void test_stale_and_delay(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":["
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-s\"]},\"action\":{\"type\":\"stale\",\"after\":\"200ms\"}},"
           "{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-d\"]},\"action\":{\"type\":\"delay\",\"fixed\":\"700ms\"}}]}",
       "50ms", NULL);
    int64_t t0 = pd_mono_ms();
    create_and_pay(&e, "o-stale", "k-s");
    create_and_pay(&e, "o-delay", "k-d");
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 3);
    int notpay = -1, success = -1, delayed = -1;
    for (int i = 0; i < e.rx.n; i++) {
        if (strstr(e.rx.a[i].body, "o-stale") && strstr(e.rx.a[i].body, "\"trade_state\":\"NOTPAY\""))
            notpay = i;
        else if (strstr(e.rx.a[i].body, "o-stale"))
            success = i;
        else
            delayed = i;
    }
    assert_true(success >= 0 && notpay > success);           /* NOTPAY after SUCCESS */
    assert_int_equal(e.rx.a[notpay].verdict, PD_SIG_OK);      /* stale, not forged */
    assert_true(e.rx.a[delayed].in_ms - t0 >= 650);
    down(&e);
}

/* k-first is held until one later callback went out: it arrives second. */
static void test_reorder(void **state)
{
    (void)state;
    struct env e;
    up(&e, "{\"rules\":[{\"op\":\"callback\",\"orders\":{\"keys\":[\"k-first\"]},"
           "\"action\":{\"type\":\"reorder\",\"after\":1,\"max_hold\":\"20s\"}}]}", "50ms", NULL);
    create_and_pay(&e, "o-first", "k-first");
    pd_sleep_ms(300);
    assert_int_equal(gw_rx_count(&e.rx), 0);
    create_and_pay(&e, "o-second", "k-second");
    assert_true(gw_t_wait_quiet(e.gw.url, 20000));
    assert_int_equal(gw_rx_count(&e.rx), 2);
    assert_non_null(strstr(e.rx.a[0].body, "o-second"));
    assert_non_null(strstr(e.rx.a[1].body, "o-first"));
    down(&e);
}

/* 300 callbacks through 8 workers into a receiver that takes 20 ms each and
 * fails every first try: all 300 are acknowledged, none lost. */
static void test_slow_receiver_loses_none(void **state)
{
    (void)state;
    struct env e;
    /* Ten steps: the 50 refusals are spread over many trades long before any
     * one trade could use up its schedule, so none may give up. */
    up(&e, NULL, "50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms", "8");
    e.rx.delay_ms = 20;
    e.rx.fail_first = 50;
    char otn[32];
    for (int i = 0; i < 300; i++) {
        snprintf(otn, sizeof otn, "o-many-%d", i);
        create_and_pay(&e, otn, NULL);
    }
    assert_true(gw_t_wait_quiet(e.gw.url, 60000));
    assert_int_equal(gw_rx_count(&e.rx), 350);
    cJSON *ledger = NULL;
    gw_t_get(e.gw.url, "/sim/ledger", &ledger);
    cJSON *t;
    int acked = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(ledger, "trades"))
        acked += cJSON_IsTrue(cJSON_GetObjectItem(callbacks_of(t), "acked"));
    assert_int_equal(acked, 300);
    cJSON_Delete(ledger);
    down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resend_until_ack),     cmocka_unit_test(test_strict_ack_and_give_up),
        cmocka_unit_test(test_drop_first_n),         cmocka_unit_test(test_duplicate_sequential),
        cmocka_unit_test(test_duplicate_concurrent), cmocka_unit_test(test_forgeries),
        cmocka_unit_test(test_stale_and_delay),      cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_slow_receiver_loses_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
