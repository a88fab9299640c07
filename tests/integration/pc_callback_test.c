/* Proves the callback protections of the real binary (POST /gateway/notify):
 * - forged signature, stale and future timestamps, missing headers: 401,
 *   nothing changes; wrong amount: 400, nothing changes; unknown trade:
 *   404; a replayed nonce: 401 -- the order stays PAYING throughout;
 * - duplicates, sequential and 20 concurrent copies, each with a fresh
 *   nonce: all acknowledged {"code":"SUCCESS"}, exactly one PAID history
 *   entry and one business notification (stable event id, good signature);
 * - ack only after commit: for 30 orders, payment-center is killed -9 the
 *   moment the 200 SUCCESS arrives, and the SQLite file (read by the test
 *   itself) already says PAID; after the restarts every one of them is
 *   still PAID through the API;
 * - 200 mutations of a genuine callback, correctly signed: acknowledged
 *   only with the trade's facts intact, else a 4xx FAIL; PAID once, only
 *   when one was acknowledged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "pc_stub.h"
#include "pd_json.h"
#include "pd_test.h"
#include "pd_time.h"

struct env {
    struct stub s;
    struct pd_proc pc;
    char dir[256];
};

static void env_up(struct env *e, const char *const *args)
{
    stub_start(&e->s);
    pd_test_tmpdir(e->dir);
    stub_start_pc(&e->s, e->dir, args, &e->pc);
}

static void env_down(struct env *e)
{
    pd_proc_kill9(&e->pc);
    stub_stop(&e->s);
    pd_test_rmdir(e->dir);
}

/* Submits and pays an order; returns its out_trade_no in otn. */
static void paying_order(struct env *e, const char *ref, char id[32], char otn[72])
{
    char url[256];
    assert_int_equal(pc_submit(e->pc.url, ref, 1234, id), 201);
    snprintf(url, sizeof url, "%s/orders/%s/pay", e->pc.url, id);
    assert_int_equal(pd_test_http_json("POST", url, NULL, NULL, NULL), 200);
    snprintf(otn, 72, "%s-1", id);
    assert_true(stub_pay(&e->s, otn));
}

static int history_paid_count(const char *pc_url, const char *id)
{
    char url[256];
    snprintf(url, sizeof url, "%s/orders/%s", pc_url, id);
    cJSON *j = NULL;
    pd_test_http_json("GET", url, NULL, NULL, &j);
    int n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "history"))
        n += strcmp(cJSON_GetObjectItem(h, "to")->valuestring, "PAID") == 0;
    cJSON_Delete(j);
    return n;
}

static void test_forged_and_stale(void **state)
{
    (void)state;
    struct env e;
    char id[32], otn[72], st[16], ack[256];
    env_up(&e, NULL);
    paying_order(&e, "forge", id, otn);
    assert_int_equal(stub_callback(&e.s, otn, 0, 0, true, NULL, ack, sizeof ack), 401);
    assert_non_null(strstr(ack, "\"FAIL\""));
    assert_int_equal(stub_callback(&e.s, otn, -301, 0, false, NULL, NULL, 0), 401);
    assert_int_equal(stub_callback(&e.s, otn, +301, 0, false, NULL, NULL, 0), 401);
    assert_int_equal(stub_callback(&e.s, otn, 0, +1, false, NULL, NULL, 0), 400);
    assert_int_equal(stub_callback(&e.s, otn, 0, -1234 + 1, false, NULL, NULL, 0), 400);
    /* Missing headers. */
    char url[256];
    snprintf(url, sizeof url, "%s/gateway/notify", e.pc.url);
    assert_int_equal(pd_test_http_json("POST", url, "{\"out_trade_no\":\"x\"}", NULL, NULL), 401);
    pc_status(e.pc.url, id, st);
    assert_string_equal(st, "PAYING");
    /* A genuine one applies; its nonce replayed is refused. */
    assert_int_equal(stub_callback(&e.s, otn, 0, 0, false, "nonce-once-1", ack, sizeof ack), 200);
    assert_string_equal(ack, "{\"code\":\"SUCCESS\"}");
    assert_int_equal(stub_callback(&e.s, otn, 0, 0, false, "nonce-once-1", NULL, 0), 401);
    pc_status(e.pc.url, id, st);
    assert_string_equal(st, "PAID");
    env_down(&e);
}

static void test_unknown_trade(void **state)
{
    (void)state;
    struct env e;
    char id[32], otn[72];
    env_up(&e, NULL);
    paying_order(&e, "unknown", id, otn);
    /* Register a trade the payment center never created, then call back. */
    pthread_mutex_lock(&e.s.mu);
    struct stub_trade *t = &e.s.trades[e.s.n_trades++];
    *t = e.s.trades[0];
    snprintf(t->out_trade_no, sizeof t->out_trade_no, "o-ffffffffffffffff-1");
    pthread_mutex_unlock(&e.s.mu);
    assert_int_equal(stub_callback(&e.s, "o-ffffffffffffffff-1", 0, 0, false, NULL, NULL, 0), 404);
    env_down(&e);
}

struct copy {
    struct stub *s;
    const char *otn;
    pthread_barrier_t *barrier;
    long status;
};

static void *copy_main(void *arg)
{
    struct copy *c = arg;
    pthread_barrier_wait(c->barrier);
    c->status = stub_callback(c->s, c->otn, 0, 0, false, NULL, NULL, 0);
    return NULL;
}

static void test_duplicates_and_concurrent_copies(void **state)
{
    (void)state;
    struct env e;
    char id[32], otn[72];
    const char *args[] = {"--notify-schedule", "200ms", NULL};
    env_up(&e, args);
    paying_order(&e, "dups", id, otn);
    enum { N = 20 };
    pthread_t tid[N];
    struct copy c[N];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        c[i] = (struct copy){&e.s, otn, &barrier, 0};
        pthread_create(&tid[i], NULL, copy_main, &c[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(tid[i], NULL);
    for (int i = 0; i < N; i++)
        assert_int_equal(c[i].status, 200);
    /* Sequential copies after it too. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(stub_callback(&e.s, otn, 0, 0, false, NULL, NULL, 0), 200);
    assert_int_equal(history_paid_count(e.pc.url, id), 1);
    int64_t end = pd_mono_ms() + 10000;
    while (stub_event_count(&e.s, id) < 1 && pd_mono_ms() < end)
        pd_sleep_ms(50);
    pd_sleep_ms(500);
    assert_int_equal(stub_event_count(&e.s, id), 1);
    pthread_mutex_lock(&e.s.mu);
    char expect[64];
    snprintf(expect, sizeof expect, "ev-%s-1", id);
    assert_string_equal(e.s.events[0].event_id, expect);
    assert_string_equal(e.s.events[0].status, "PAID");
    assert_true(e.s.events[0].signature_ok);
    pthread_mutex_unlock(&e.s.mu);
    env_down(&e);
}

static void db_status(const char *db_path, const char *id, char out[16])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT status FROM orders WHERE order_id=?", -1,
                                        &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, 16, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_ack_after_commit(void **state)
{
    (void)state;
    struct env e;
    enum { N = 30 };
    char ids[N][32], otns[N][72], st[16], db[300];
    env_up(&e, NULL);
    snprintf(db, sizeof db, "%s/payment-center.db", e.dir);
    for (int i = 0; i < N; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "ack-%d", i);
        paying_order(&e, ref, ids[i], otns[i]);
    }
    /* Killed right after each ack, the file says PAID: the ack came after
     * the commit. (The file can only be read once payment-center is gone:
     * it holds it for itself while it runs.) */
    char listen[64];   /* the trades' notify_url names this port */
    snprintf(listen, sizeof listen, "127.0.0.1:%s", strrchr(e.pc.url, ':') + 1);
    const char *same_port[] = {"--listen", listen, NULL};
    for (int i = 0; i < N; i++) {
        assert_int_equal(stub_callback(&e.s, otns[i], 0, 0, false, NULL, NULL, 0), 200);
        pd_proc_kill9(&e.pc);
        db_status(db, ids[i], st);
        assert_string_equal(st, "PAID");
        stub_start_pc(&e.s, e.dir, same_port, &e.pc);
    }
    for (int i = 0; i < N; i++) {
        pc_status(e.pc.url, ids[i], st);
        assert_string_equal(st, "PAID");
    }
    env_down(&e);
}

/* True when a callback body is one whole JSON document (no NUL byte,
 * nothing after it) carrying the original's value under each of keys
 * (strings and numbers compared as such). */
static bool same_facts(const char *body, size_t len, const char *orig,
                       const char *const *keys, size_t n)
{
    cJSON *m = pd_json_parse_whole(body, len, NULL), *o = cJSON_Parse(orig);
    bool ok = m != NULL && o != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        ok = a != NULL && (cJSON_IsString(b) ? cJSON_IsString(a) &&
                                                   strcmp(a->valuestring, b->valuestring) == 0
                                             : cJSON_IsNumber(a) &&
                                                   a->valuedouble == b->valuedouble);
    }
    cJSON_Delete(m);
    cJSON_Delete(o);
    return ok;
}

static const char *const money_keys[] = {"out_trade_no", "amount", "currency", "merchant_id"};
static const char *const paid_keys[] = {"out_trade_no", "amount", "currency", "merchant_id",
                                        "trade_state"};

/* 200 mutations of a genuine SUCCESS callback, each correctly signed (a
 * genuine gateway's odd message, past the signature check). Each is
 * acknowledged SUCCESS only when it names this trade with its amount,
 * currency and merchant (a state the payment center does not act on, such
 * as "SUCCSS", is acknowledged and ignored, docs/payment-center.md), or
 * refused with a 4xx {"code":"FAIL",...}; never a 5xx or no answer. The
 * order turns PAID, once, exactly when an acknowledged one also said
 * SUCCESS. PD_SEED draws other mutations. */
static void test_mutated_signed_callbacks(void **state)
{
    (void)state;
    struct env e;
    char id[32], otn[72], st[16], body[1024], url[256], ack[512];
    env_up(&e, NULL);
    paying_order(&e, "fuzz", id, otn);
    assert_int_equal(stub_callback_body(&e.s, otn, 0, body, sizeof body, url, sizeof url), 0);
    uint64_t rng = pd_test_fuzz_seed(0x5eed0fca11bac4);
    int paid = 0;
    for (int i = 0; i < 200; i++) {
        char what[160];
        size_t len = 0;
        char *m = pd_test_mutate_json(body, &rng, &len, what, sizeof what);
        assert_non_null(m);
        long code = stub_callback_raw(url, m, len, ack, sizeof ack);
        if (code == 200) {
            if (strcmp(ack, "{\"code\":\"SUCCESS\"}") != 0 ||
                !same_facts(m, len, body, money_keys, 4))
                fail_msg("mutation %d (%s) acknowledged: %s for %.*s", i, what, ack, (int)len, m);
            paid += same_facts(m, len, body, paid_keys, 5);
        } else if (code < 400 || code > 499 || strstr(ack, "\"code\":\"FAIL\"") == NULL) {
            fail_msg("mutation %d (%s): HTTP %ld %s for %.*s", i, what, code, ack, (int)len, m);
        }
        pc_status(e.pc.url, id, st);
        if (strcmp(st, paid > 0 ? "PAID" : "PAYING") != 0)
            fail_msg("after mutation %d (%s): the order is %s for %.*s", i, what, st, (int)len,
                     m);
        free(m);
    }
    assert_true(paid > 0);          /* a service refusing everything fails here */
    assert_int_equal(history_paid_count(e.pc.url, id), 1);
    assert_true(pd_proc_alive(&e.pc));
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_signed_callbacks),
        cmocka_unit_test(test_forged_and_stale),
        cmocka_unit_test(test_unknown_trade),
        cmocka_unit_test(test_duplicates_and_concurrent_copies),
        cmocka_unit_test(test_ack_after_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
