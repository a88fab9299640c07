/* Proves each bug of payment-center-zoo removes the protection it names:
 * the same stub-gateway checks that pass against payment-center (the other
 * pc_*_test files) show the broken behaviour when the zoo binary runs with
 * --bug NAME. A bug that stopped breaking anything would fail here, so the
 * zoo cannot silently turn into a correct build. */
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
#include "pd_test.h"
#include "pd_time.h"

struct env {
    struct stub s;
    struct pd_proc pc;
    char dir[256];
};

static void up(struct env *e, const char *bug, const char *const *more)
{
    const char *args[24] = {"--bug", bug, "--callback-timeout", "500ms", "--query-schedule",
                            "200ms", "--notify-schedule", "200ms", "--refund-schedule", "200ms"};
    int n = 10;
    for (int i = 0; more != NULL && more[i] != NULL && n < 23; i++)
        args[n++] = more[i];
    args[n] = NULL;
    stub_start(&e->s);
    pd_test_tmpdir(e->dir);
    stub_start_bin(&e->s, "payment-center-zoo", e->dir, args, &e->pc);
}

/* Each case gets a fresh env on the heap, and teardown runs even when an
 * assertion failed half way: a payment-center left running would go on
 * calling the next case's stub. */
static int setup(void **state)
{
    *state = calloc(1, sizeof(struct env));
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    pd_proc_kill9(&e->pc);
    stub_stop(&e->s);
    if (e->dir[0] != '\0')
        pd_test_rmdir(e->dir);
    free(e);
    return 0;
}

static long pay(struct env *e, const char *id)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s/pay", e->pc.url, id);
    return pd_test_http_json("POST", url, NULL, NULL, NULL);
}

static int refunds_of(struct env *e, const char *id)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s", e->pc.url, id);
    cJSON *j = NULL;
    pd_test_http_json("GET", url, NULL, NULL, &j);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "refunds"));
    cJSON_Delete(j);
    return n;
}

static void test_no_dedup(void **state)
{
    struct env *e = *state;
    char a[32], b[32];
    up(e, "no-dedup", NULL);
    assert_int_equal(pc_submit(e->pc.url, "z", 100, a), 201);
    assert_int_equal(pc_submit(e->pc.url, "z", 100, b), 201);
    assert_string_not_equal(a, b);
}

struct racer {
    const char *url;
    pthread_barrier_t *barrier;
    long status;
};

static void *submit_main(void *arg)
{
    struct racer *r = arg;
    char id[32];
    pthread_barrier_wait(r->barrier);
    r->status = pc_submit(r->url, "race", 100, id);
    return NULL;
}

static void *pay_main(void *arg)
{
    struct racer *r = arg;
    if (r->barrier != NULL)
        pthread_barrier_wait(r->barrier);
    r->status = pd_test_http_json("POST", r->url, NULL, NULL, NULL);
    return NULL;
}

static int race(const char *url, void *(*fn)(void *), long ok_status)
{
    enum { N = 20 };
    pthread_t tid[N];
    struct racer r[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){url, &barrier, 0};
        pthread_create(&tid[i], NULL, fn, &r[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(tid[i], NULL);
        ok += r[i].status == ok_status;
    }
    pthread_barrier_destroy(&barrier);
    return ok;
}

static void test_dedup_race(void **state)
{
    struct env *e = *state;
    up(e, "dedup-race", NULL);
    assert_true(race(e->pc.url, submit_main, 201) > 1);
}

/* The first pay call's create hangs at the stub, which has recorded it:
 * its PAYING is committed by then. A second call in that window opens a
 * second trade, which the lock refuses. Ordered, not raced: the catch does
 * not depend on how twenty threads are scheduled. */
static void test_no_paying_lock(void **state)
{
    struct env *e = *state;
    char id[32], url[256];
    up(e, "no-paying-lock", NULL);
    e->s.create_hang_ms = 1500;
    assert_int_equal(pc_submit(e->pc.url, "lock", 100, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", e->pc.url, id);
    struct racer first = {url, NULL, 0};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, pay_main, &first), 0);
    int64_t end = pd_mono_ms() + 10000;
    while (stub_trade_count(&e->s) < 1 && pd_mono_ms() < end)
        pd_sleep_ms(10);
    int first_trades = stub_trade_count(&e->s);
    if (first_trades == 1)
        pay(e, id);
    pthread_join(tid, NULL);                   /* before any assertion: it uses url */
    assert_int_equal(first_trades, 1);
    assert_true(stub_trade_count(&e->s) > 1);
}

/* Submits and pays; otn gets the trade number. */
static void paying(struct env *e, const char *ref, char id[32], char otn[72])
{
    assert_int_equal(pc_submit(e->pc.url, ref, 1000, id), 201);
    assert_int_equal(pay(e, id), 200);
    snprintf(otn, 72, "%s-1", id);
}

static void test_no_signature_check(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    up(e, "no-signature-check", NULL);
    paying(e, "sig", id, otn);
    assert_int_equal(stub_callback(&e->s, otn, 0, 0, true, NULL, NULL, 0), 200);
    assert_true(pc_wait_status(e->pc.url, id, "PAID", 2000));
}

static void test_no_amount_check(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    up(e, "no-amount-check", NULL);
    paying(e, "amt", id, otn);
    assert_int_equal(stub_callback(&e->s, otn, 0, -999, false, NULL, NULL, 0), 200);
    assert_true(pc_wait_status(e->pc.url, id, "PAID", 2000));
}

static void test_non_idempotent_callback(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    up(e, "non-idempotent-callback", NULL);
    paying(e, "idem", id, otn);
    for (int i = 0; i < 3; i++)
        assert_int_equal(stub_callback(&e->s, otn, 0, 0, false, NULL, NULL, 0), 200);
    int64_t end = pd_mono_ms() + 5000;
    while (stub_event_count(&e->s, id) < 3 && pd_mono_ms() < end)
        pd_sleep_ms(50);
    assert_int_equal(stub_event_count(&e->s, id), 3);
    pthread_mutex_lock(&e->s.mu);
    assert_string_not_equal(e->s.events[0].event_id, e->s.events[1].event_id);
    pthread_mutex_unlock(&e->s.mu);
}

static void test_no_reconciler(void **state)
{
    struct env *e = *state;
    char id[32], otn[72], st[16];
    up(e, "no-reconciler", NULL);
    paying(e, "rec", id, otn);
    assert_true(stub_pay(&e->s, otn));       /* paid; the callback never comes */
    pd_sleep_ms(2500);
    pc_status(e->pc.url, id, st);
    assert_string_equal(st, "PAYING");
    assert_int_equal(e->s.queries, 0);
}

static void test_reconciler_gives_up(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    up(e, "reconciler-gives-up", NULL);
    e->s.query_status = 503;
    paying(e, "giveup", id, otn);
    assert_true(pc_wait_status(e->pc.url, id, "CLOSED", 10000));
    assert_int_equal(e->s.closes, 0);          /* never closed at the gateway */
}

static void test_close_without_gateway(void **state)
{
    struct env *e = *state;
    char id[32], otn[72], st[16];
    const char *more[] = {"--payment-expiry", "1s", NULL};
    up(e, "close-without-gateway", more);
    paying(e, "close", id, otn);
    assert_true(pc_wait_status(e->pc.url, id, "CLOSED", 10000));
    assert_int_equal(e->s.closes, 0);
    assert_string_equal(stub_trade_state(&e->s, otn, st), "NOTPAY");   /* still payable */
}

static void test_timeout_is_failure(void **state)
{
    struct env *e = *state;
    char id[32], otn[72], st[16];
    up(e, "timeout-is-failure", NULL);
    e->s.create_status = 503;                  /* the trade exists, the answer says 503 */
    assert_int_equal(pc_submit(e->pc.url, "tmo", 100, id), 201);
    pay(e, id);
    snprintf(otn, sizeof otn, "%s-1", id);
    pc_status(e->pc.url, id, st);
    assert_string_equal(st, "CLOSED");
    assert_string_equal(stub_trade_state(&e->s, otn, st), "NOTPAY");
}

static void test_new_trade_no_on_retry(void **state)
{
    struct env *e = *state;
    char id[32];
    up(e, "new-trade-no-on-retry", NULL);
    e->s.create_status = 503;
    e->s.create_drop_record = true;
    assert_int_equal(pc_submit(e->pc.url, "retry", 100, id), 201);
    assert_int_equal(pay(e, id), 202);
    e->s.create_status = 0;
    e->s.create_drop_record = false;
    int64_t end = pd_mono_ms() + 10000;
    while (stub_trade_count(&e->s) < 1 && pd_mono_ms() < end)
        pd_sleep_ms(50);
    char otn[72];
    snprintf(otn, sizeof otn, "%s-1", id);
    assert_int_equal(stub_trade_count(&e->s), 1);
    assert_int_equal(stub_creates_for(&e->s, otn), 0);   /* retried under another number */
}

struct bg_callback {
    struct stub *s;
    const char *otn;
    long status;
};

static void *bg_callback_main(void *arg)
{
    struct bg_callback *b = arg;
    b->status = stub_callback(b->s, b->otn, 0, 0, false, NULL, NULL, 0);
    return NULL;
}

static void test_outbox_outside_tx(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    up(e, "outbox-outside-tx", NULL);
    paying(e, "obx", id, otn);
    struct bg_callback b = {&e->s, otn, -1};
    pthread_t tid;
    pthread_create(&tid, NULL, bg_callback_main, &b);
    bool paid = pc_wait_status(e->pc.url, id, "PAID", 2000);   /* committed */
    pd_proc_kill9(&e->pc);                     /* between the commit and the outbox row */
    pthread_join(tid, NULL);                   /* before any assertion: it uses e->s */
    assert_true(paid);
    const char *args[] = {"--bug", "outbox-outside-tx", "--notify-schedule", "200ms", NULL};
    stub_start_bin(&e->s, "payment-center-zoo", e->dir, args, &e->pc);
    assert_true(pc_wait_status(e->pc.url, id, "PAID", 2000));
    pd_sleep_ms(2500);
    assert_int_equal(stub_event_count(&e->s, id), 0);   /* lost for good */
}

static void test_no_late_refund(void **state)
{
    struct env *e = *state;
    char id[32], otn[72];
    const char *more[] = {"--payment-expiry", "1s", NULL};
    up(e, "no-late-refund", more);
    paying(e, "late", id, otn);
    assert_true(pc_wait_status(e->pc.url, id, "CLOSED", 10000));
    pthread_mutex_lock(&e->s.mu);
    snprintf(e->s.trades[0].state, sizeof e->s.trades[0].state, "SUCCESS");
    pthread_mutex_unlock(&e->s.mu);
    assert_int_equal(stub_callback(&e->s, otn, 0, 0, false, NULL, NULL, 0), 200);
    pd_sleep_ms(1000);
    assert_int_equal(refunds_of(e, id), 0);
    assert_int_equal(e->s.refund_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_paying_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_signature_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_amount_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_idempotent_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_reconciler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_without_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_trade_no_on_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_outside_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_late_refund, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
