/* Proves the pay protections of the real binary against a stub gateway:
 * - 20 concurrent pay calls on one order open exactly one gateway trade
 *   (one create at the stub), one caller gets 200, the others 409
 *   payment_in_progress naming the same out_trade_no;
 * - a definitive 4xx from create puts the order back to UNPAID and the
 *   next pay uses a new attempt number (-2);
 * - an ambiguous create (5xx) answers 202 and leaves the order UNKNOWN,
 *   never failed, and the reconciler re-issues create with the SAME
 *   out_trade_no until the gateway has it;
 * - a refund committed by a callback is sent at once (the refund sender is
 *   woken), not at the reconcilers' next 10 s tick;
 * - so is the notification of a callback's PAID (the store hands the new
 *   outbox row to its sender), not at the senders' next 10 s read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pc_stub.h"
#include "pd_test.h"
#include "pd_time.h"

#define PAYERS 20

struct payer {
    const char *url;
    pthread_barrier_t *barrier;
    long status;
    char out_trade_no[72];
};

static void *payer_main(void *arg)
{
    struct payer *p = arg;
    cJSON *j = NULL;
    pthread_barrier_wait(p->barrier);
    p->status = pd_test_http_json("POST", p->url, NULL, NULL, &j);
    const cJSON *o = j ? cJSON_GetObjectItem(j, "out_trade_no") : NULL;
    snprintf(p->out_trade_no, sizeof p->out_trade_no, "%s", cJSON_IsString(o) ? o->valuestring : "");
    cJSON_Delete(j);
    return NULL;
}

static void test_concurrent_pay_one_trade(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], url[256];
    stub_start(&s);
    s.create_hang_ms = 200;   /* keep the winner inside create while the others arrive */
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, NULL, &pc);
    assert_int_equal(pc_submit(pc.url, "pay-1", 1999, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    pthread_t tid[PAYERS];
    struct payer p[PAYERS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, PAYERS);
    for (int i = 0; i < PAYERS; i++) {
        p[i] = (struct payer){.url = url, .barrier = &barrier};
        pthread_create(&tid[i], NULL, payer_main, &p[i]);
    }
    for (int i = 0; i < PAYERS; i++)
        pthread_join(tid[i], NULL);
    int ok = 0;
    char expect[72];
    snprintf(expect, sizeof expect, "%s-1", id);
    for (int i = 0; i < PAYERS; i++) {
        if (p[i].status == 200)
            ok++;
        else
            assert_int_equal(p[i].status, 409);
        assert_string_equal(p[i].out_trade_no, expect);
    }
    assert_int_equal(ok, 1);
    assert_int_equal(s.creates, 1);
    assert_int_equal(stub_trade_count(&s), 1);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

static void test_rejected_then_new_attempt(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], url[256];
    stub_start(&s);
    s.create_status = 400;
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, NULL, &pc);
    assert_int_equal(pc_submit(pc.url, "rej-1", 500, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, &j), 502);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "UNPAID");
    cJSON_Delete(j);
    s.create_status = 0;
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, &j), 200);
    char expect[72];
    snprintf(expect, sizeof expect, "%s-2", id);
    assert_string_equal(cJSON_GetObjectItem(j, "out_trade_no")->valuestring, expect);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "PAYING");
    cJSON_Delete(j);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

/* Waits up to ms for one of the stub's counters (under s->mu) to pass 0;
 * returns it. */
static int count_within(struct stub *s, const int *counter, int ms)
{
    int64_t end = pd_mono_ms() + ms;
    int n = 0;
    do {
        pthread_mutex_lock(&s->mu);
        n = *counter;
        pthread_mutex_unlock(&s->mu);
        if (n > 0 || pd_mono_ms() >= end)
            return n;
        pd_sleep_ms(20);
    } while (true);
}

/* A committed refund wakes the refund sender at once: with every delay of
 * payment-center at 10 min or more, its reconcilers sleep 10 s at a time;
 * a trade the gateway refused (400) is charged anyway and called back, and
 * the refund reaches the gateway within 3 s, not at the next 10 s tick. */
static void test_refund_sent_at_once(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], url[256], otn[72];
    stub_start(&s);
    s.create_status = 400;      /* the stub records the trade, then refuses */
    pd_test_tmpdir(dir);
    const char *args[] = {"--callback-timeout", "10m", "--query-schedule", "10m",
                          "--refund-schedule", "10m", "--payment-expiry", "1h", NULL};
    stub_start_pc(&s, dir, args, &pc);
    assert_int_equal(pc_submit(pc.url, "refund-now", 700, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, &j), 502);
    cJSON_Delete(j);
    pd_sleep_ms(500);           /* the reconcilers are asleep now */
    snprintf(otn, sizeof otn, "%s-1", id);
    assert_true(stub_pay(&s, otn));
    assert_int_equal(stub_callback(&s, otn, 0, 0, false, NULL, NULL, 0), 200);
    assert_true(count_within(&s, &s.refund_calls, 3000) > 0);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

/* With every delay at 10 min or more, the senders sleep 10 s at a time
 * after their first read; the PAID notification still reaches the business
 * within 3 s of the callback: the committed outbox row was handed to its
 * sender. */
static void test_notification_sent_at_once(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], url[256], otn[72];
    stub_start(&s);
    pd_test_tmpdir(dir);
    const char *args[] = {"--callback-timeout", "10m", "--query-schedule", "10m",
                          "--notify-schedule", "10m", "--payment-expiry", "1h", NULL};
    stub_start_pc(&s, dir, args, &pc);
    assert_int_equal(pc_submit(pc.url, "notify-now", 700, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, &j), 200);
    cJSON_Delete(j);
    pd_sleep_ms(500);           /* the senders are asleep now */
    snprintf(otn, sizeof otn, "%s-1", id);
    assert_true(stub_pay(&s, otn));
    assert_int_equal(count_within(&s, &s.biz_calls, 0), 0);
    assert_int_equal(stub_callback(&s, otn, 0, 0, false, NULL, NULL, 0), 200);
    assert_true(count_within(&s, &s.biz_calls, 3000) > 0);
    pd_sleep_ms(300);           /* and only once */
    assert_int_equal(count_within(&s, &s.biz_calls, 0), 1);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

static void test_ambiguous_is_unknown_then_recreated(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], url[256], otn[72], st[16];
    stub_start(&s);
    s.create_status = 503;
    s.create_drop_record = true;   /* the gateway did not keep it */
    pd_test_tmpdir(dir);
    const char *args[] = {"--callback-timeout", "1s", "--query-schedule", "300ms", NULL};
    stub_start_pc(&s, dir, args, &pc);
    assert_int_equal(pc_submit(pc.url, "amb-1", 800, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    snprintf(otn, sizeof otn, "%s-1", id);
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, &j), 202);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "UNKNOWN");
    assert_string_equal(cJSON_GetObjectItem(j, "out_trade_no")->valuestring, otn);
    cJSON_Delete(j);
    pc_status(pc.url, id, st);
    assert_string_equal(st, "UNKNOWN");
    /* The gateway recovers: the reconciler's query finds nothing (404) and
     * re-issues create with the same number. */
    s.create_status = 0;
    s.create_drop_record = false;
    assert_true(pc_wait_status(pc.url, id, "PAYING", 10000));
    assert_int_equal(stub_trade_count(&s), 1);
    assert_true(stub_creates_for(&s, otn) >= 1);
    /* And the payer can pay it; the reconciler (no callback) makes it PAID. */
    assert_true(stub_pay(&s, otn));
    assert_true(pc_wait_status(pc.url, id, "PAID", 10000));
    assert_int_equal(stub_trade_count(&s), 1);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_pay_one_trade),
        cmocka_unit_test(test_rejected_then_new_attempt),
        cmocka_unit_test(test_ambiguous_is_unknown_then_recreated),
        cmocka_unit_test(test_refund_sent_at_once),
        cmocka_unit_test(test_notification_sent_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
