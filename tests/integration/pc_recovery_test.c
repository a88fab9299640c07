/* Proves the payment center loses nothing across kill -9 and closes the
 * loop with the gateway, with the real binary, real SQLite files and a stub
 * gateway:
 * - kill -9 after the trade was created at the gateway, payer pays while
 *   the center is down, restart on the same data dir: the reconciler's
 *   query makes the order PAID and the business is notified once;
 * - kill -9 while create hangs (the gateway never kept it): after restart
 *   the reconciler re-issues create with the SAME out_trade_no, so one
 *   trade exists, and the payment completes;
 * - expiry: the trade is closed at the gateway first, CLOSED only after
 *   it confirms (close_confirmed); a close answered ORDERPAID makes the
 *   order PAID (close_refused_paid); money arriving after the close is
 *   refunded at the gateway and listed; an UNPAID order expires locally;
 * - a business notification refused, then the center killed, is delivered
 *   after restart with the same event id;
 * - a second payment-center on the same data dir is refused at start (the
 *   file is held for one process), says why, and the first one goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_stub.h"
#include "pd_err.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

static const char *const fast[] = {"--callback-timeout", "1s", "--query-schedule", "300ms",
                                   "--notify-schedule", "300ms", "--refund-schedule", "300ms",
                                   NULL};

static void pay(const char *pc_url, const char *id, long expect)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc_url, id);
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, NULL), expect);
}

static cJSON *get_order(const char *pc_url, const char *id)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s", pc_url, id);
    cJSON *j = NULL;
    assert_int_equal(pd_test_http_json("GET", url, NULL, NULL, &j), 200);
    return j;
}

static const char *last_cause(const cJSON *order)
{
    const cJSON *h = cJSON_GetObjectItem(order, "history");
    int n = cJSON_GetArraySize(h);
    return cJSON_GetObjectItem(cJSON_GetArrayItem(h, n - 1), "cause")->valuestring;
}

static bool wait_events(struct stub *s, const char *id, int n, int64_t timeout_ms)
{
    int64_t end = pd_mono_ms() + timeout_ms;
    while (stub_event_count(s, id) < n && pd_mono_ms() < end)
        pd_sleep_ms(50);
    return stub_event_count(s, id) >= n;
}

static void test_kill_after_create(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], otn[72];
    stub_start(&s);
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, fast, &pc);
    assert_int_equal(pc_submit(pc.url, "k1", 4200, id), 201);
    pay(pc.url, id, 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    pd_proc_kill9(&pc);
    assert_true(stub_pay(&s, otn));          /* paid while the center is down */
    stub_start_pc(&s, dir, fast, &pc);
    assert_true(pc_wait_status(pc.url, id, "PAID", 15000));
    cJSON *o = get_order(pc.url, id);
    assert_string_equal(last_cause(o), "query");
    cJSON_Delete(o);
    assert_true(wait_events(&s, id, 1, 10000));
    pd_sleep_ms(500);
    assert_int_equal(stub_event_count(&s, id), 1);
    assert_int_equal(stub_trade_count(&s), 1);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

struct bg_pay {
    const char *url;
    long status;
};

static void *bg_pay_main(void *arg)
{
    struct bg_pay *b = arg;
    b->status = pd_test_http_json("POST", b->url, NULL, NULL, NULL);
    return NULL;
}

static void test_kill_during_create(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], otn[72], url[256], st[16];
    stub_start(&s);
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, fast, &pc);
    assert_int_equal(pc_submit(pc.url, "k2", 990, id), 201);
    s.create_hang_ms = 3000;
    s.create_drop_record = true;
    snprintf(url, sizeof url, "%s/orders/%s/pay", pc.url, id);
    struct bg_pay b = {url, -1};
    pthread_t tid;
    pthread_create(&tid, NULL, bg_pay_main, &b);
    pd_sleep_ms(400);
    pd_proc_kill9(&pc);                      /* mid-create */
    pthread_join(tid, NULL);
    assert_int_equal(b.status, 0);
    s.create_hang_ms = 0;
    s.create_drop_record = false;
    stub_start_pc(&s, dir, fast, &pc);
    pc_status(pc.url, id, st);
    assert_string_equal(st, "PAYING");
    snprintf(otn, sizeof otn, "%s-1", id);
    int64_t end = pd_mono_ms() + 15000;
    while (stub_trade_count(&s) < 1 && pd_mono_ms() < end)
        pd_sleep_ms(50);
    assert_int_equal(stub_trade_count(&s), 1);
    assert_true(stub_creates_for(&s, otn) >= 1);
    assert_true(stub_pay(&s, otn));
    assert_true(pc_wait_status(pc.url, id, "PAID", 15000));
    assert_int_equal(stub_trade_count(&s), 1);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

static void test_expiry_close_and_late_refund(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], id2[32], id3[32], otn[72], st[16];
    stub_start(&s);
    pd_test_tmpdir(dir);
    const char *args[] = {"--callback-timeout", "1s", "--query-schedule", "300ms",
                          "--payment-expiry", "2s", "--refund-schedule", "300ms", NULL};
    stub_start_pc(&s, dir, args, &pc);
    assert_int_equal(pc_submit(pc.url, "exp-1", 300, id), 201);
    assert_int_equal(pc_submit(pc.url, "exp-3", 302, id3), 201);
    pay(pc.url, id, 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    assert_true(pc_wait_status(pc.url, id, "CLOSED", 15000));
    cJSON *o = get_order(pc.url, id);
    assert_string_equal(last_cause(o), "close_confirmed");
    cJSON_Delete(o);
    assert_string_equal(stub_trade_state(&s, otn, st), "CLOSED");
    assert_true(s.closes >= 1);
    /* UNPAID past expiry: closed locally, no gateway trade involved. */
    assert_true(pc_wait_status(pc.url, id3, "CLOSED", 15000));
    o = get_order(pc.url, id3);
    assert_string_equal(last_cause(o), "expired_unpaid");
    cJSON_Delete(o);
    /* Money arrives for the closed order anyway: refunded, status kept. */
    pthread_mutex_lock(&s.mu);
    for (int i = 0; i < s.n_trades; i++)
        if (strcmp(s.trades[i].out_trade_no, otn) == 0)
            snprintf(s.trades[i].state, sizeof s.trades[i].state, "SUCCESS");
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(stub_callback(&s, otn, 0, 0, false, NULL, NULL, 0), 200);
    int64_t end = pd_mono_ms() + 10000;
    const char *rs = "";
    cJSON *r = NULL;
    while (pd_mono_ms() < end) {
        cJSON_Delete(r);
        r = get_order(pc.url, id);
        const cJSON *ref = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "refunds"), 0);
        rs = ref ? cJSON_GetObjectItem(ref, "status")->valuestring : "";
        if (strcmp(rs, "SUCCESS") == 0)
            break;
        pd_sleep_ms(50);
    }
    assert_string_equal(rs, "SUCCESS");
    const cJSON *ref = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "refunds"), 0);
    assert_string_equal(cJSON_GetObjectItem(ref, "reason")->valuestring, "charge_after_close");
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "CLOSED");
    cJSON_Delete(r);
    assert_true(s.refund_calls >= 1);
    /* A close refused because the user just paid: PAID. */
    s.close_orderpaid = true;
    assert_int_equal(pc_submit(pc.url, "exp-2", 301, id2), 201);
    pay(pc.url, id2, 200);
    assert_true(pc_wait_status(pc.url, id2, "PAID", 15000));
    o = get_order(pc.url, id2);
    assert_string_equal(last_cause(o), "close_refused_paid");
    cJSON_Delete(o);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

/* Polls the order until its first notification shows at least want
 * attempts or timeout_ms passes; returns the last count seen. */
static int recorded_attempts(const char *pc_url, const char *id, int want, int64_t timeout_ms)
{
    int seen = 0;
    int64_t end = pd_mono_ms() + timeout_ms;
    do {
        cJSON *o = get_order(pc_url, id);
        const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "notifications"), 0);
        const cJSON *a = cJSON_GetObjectItem(n, "attempts");
        seen = cJSON_IsNumber(a) ? (int)a->valuedouble : 0;
        cJSON_Delete(o);
        if (seen < want)
            pd_sleep_ms(20);
    } while (seen < want && pd_mono_ms() < end);
    return seen;
}

static void test_outbox_across_restart(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc;
    char dir[256], id[32], otn[72];
    stub_start(&s);
    s.biz_status = 500;
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, fast, &pc);
    assert_int_equal(pc_submit(pc.url, "ob-1", 555, id), 201);
    pay(pc.url, id, 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    assert_true(stub_pay(&s, otn));
    assert_int_equal(stub_callback(&s, otn, 0, 0, false, NULL, NULL, 0), 200);
    /* Kill once the center has recorded two refused attempts: the stub
     * counts a call when it arrives, the center records it after the
     * answer, so waiting on the stub's count raced the kill. */
    assert_true(recorded_attempts(pc.url, id, 2, 10000) >= 2);
    assert_true(s.biz_calls >= 2);
    pd_proc_kill9(&pc);
    s.biz_status = 0;
    stub_start_pc(&s, dir, fast, &pc);
    assert_true(wait_events(&s, id, 1, 10000));
    pd_sleep_ms(600);
    assert_int_equal(stub_event_count(&s, id), 1);
    cJSON *o = get_order(pc.url, id);
    const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "notifications"), 0);
    char expect[64];
    snprintf(expect, sizeof expect, "ev-%s-1", id);
    assert_string_equal(cJSON_GetObjectItem(n, "event_id")->valuestring, expect);
    assert_true(cJSON_GetObjectItem(n, "attempts")->valuedouble >= 3);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(n, "delivered_at")));
    assert_int_equal((int)cJSON_GetObjectItem(n, "last_http_status")->valuedouble, 200);
    cJSON_Delete(o);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

static void test_second_instance_refused(void **state)
{
    (void)state;
    struct stub s;
    struct pd_proc pc, twin = {0};
    char dir[256], id[32], log[300], bin[512], data_env[300], gw_env[300];
    stub_start(&s);
    pd_test_tmpdir(dir);
    stub_start_pc(&s, dir, NULL, &pc);
    pd_test_bin("payment-center", bin, sizeof bin);
    snprintf(log, sizeof log, "%s/twin.log", dir);
    snprintf(data_env, sizeof data_env, "PAYDRILL_DATA_DIR=%s", dir);
    snprintf(gw_env, sizeof gw_env, "PAYDRILL_GATEWAY_URL=%s", s.url);
    const char *argv[] = {bin, NULL};
    const char *env[] = {data_env, gw_env, "PAYDRILL_GATEWAY_SECRET=x",
                         "PAYDRILL_BUSINESS_URL=http://127.0.0.1:9/biz",
                         "PAYDRILL_BUSINESS_SECRET=x", "PAYDRILL_LISTEN=127.0.0.1:0", NULL};
    assert_int_equal(pd_proc_start(argv, env, log, 20000, &twin), PD_EIO);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(log, 1 << 20, &text, &len), PD_OK);
    if (strstr(text, "another process holds the file") == NULL)
        fail_msg("twin.log lacks the reason:\n%s", text);
    free(text);
    assert_true(pd_proc_alive(&pc));
    assert_int_equal(pc_submit(pc.url, "still-mine", 100, id), 201);
    pd_proc_kill9(&pc);
    stub_stop(&s);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_after_create),
        cmocka_unit_test(test_kill_during_create),
        cmocka_unit_test(test_expiry_close_and_late_refund),
        cmocka_unit_test(test_outbox_across_restart),
        cmocka_unit_test(test_second_instance_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
