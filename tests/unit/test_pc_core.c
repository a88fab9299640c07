/* Proves the payment center's logic with a fake clock, a fake gateway and a
 * fake business endpoint over a real SQLite file:
 * - the duplicate window expires exactly at window_ms (injected clock);
 * - callback signatures: good applies, bad/stale/future/missing/replayed
 *   are refused and change nothing;
 * - apply_gateway_fact is idempotent: a copy changes nothing more, a
 *   mismatching amount changes nothing, a SUCCESS after CLOSED becomes a
 *   refund (and the refund worker settles it at the gateway);
 * - the reconciler's schedule (fast tail, long tail, every 6 h forever,
 *   clamped to expiry) and its moves: NOTPAY reschedules, errors never
 *   change state, SUCCESS pays, expiry closes at the gateway first, 404 on
 *   an UNKNOWN order re-issues create with the same out_trade_no;
 * - the outbox retries on the notify schedule until 2xx;
 * - a sender sends the events handed to it without reading the store, once
 *   each (not when a read already saw its commit: that read sent it), and
 *   reads when a handed event is not its order's first;
 * - order ids grow: with the clock, past a clock that went back, and past
 *   the greatest id stored (what a restart continues after). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pc_core.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_sign.h"

#define T0 1767225600000LL
#define SECRET "gw-secret"

struct fake {
    int64_t now;
    /* gateway */
    char trade_state[16];      /* what query answers for any trade */
    long query_status;         /* 200 normally */
    long close_status;         /* 200 or 409 */
    long create_status;
    long refund_status;
    int creates, queries, closes, refunds;
    char last_create_otn[72];
    /* business */
    int biz_calls;
    long biz_status;
    char biz_last[512];        /* the last notification's body */
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static int fake_gw(void *ctx, const char *method, const char *path, const char *body,
                   long *status, cJSON **json)
{
    struct fake *f = ctx;
    char text[512];
    *json = NULL;
    if (strcmp(path, "/v1/payments") == 0) {
        f->creates++;
        cJSON *b = cJSON_Parse(body);
        snprintf(f->last_create_otn, sizeof f->last_create_otn, "%s",
                 cJSON_GetObjectItem(b, "out_trade_no")->valuestring);
        cJSON_Delete(b);
        *status = f->create_status;
        *json = cJSON_Parse("{\"trade_no\":\"42\",\"trade_state\":\"NOTPAY\"}");
        return PD_OK;
    }
    if (strcmp(path, "/v1/refunds") == 0) {
        f->refunds++;
        *status = f->refund_status;
        *json = cJSON_Parse("{\"status\":\"SUCCESS\"}");
        return PD_OK;
    }
    if (strstr(path, "/close") != NULL) {
        f->closes++;
        *status = f->close_status;
        *json = cJSON_Parse(f->close_status == 409 ? "{\"code\":\"ORDERPAID\"}"
                                                   : "{\"trade_state\":\"CLOSED\"}");
        return PD_OK;
    }
    (void)method;
    f->queries++;
    *status = f->query_status;
    if (f->query_status == 0)
        return PD_ETIMEDOUT;
    snprintf(text, sizeof text,
             "{\"trade_state\":\"%s\",\"amount\":1000,\"currency\":\"CNY\",\"merchant_id\":\"m-1\"}",
             f->trade_state);
    *json = cJSON_Parse(text);
    return PD_OK;
}

static int fake_biz(void *ctx, const char *body, size_t len, long *status)
{
    struct fake *f = ctx;
    snprintf(f->biz_last, sizeof f->biz_last, "%.*s", (int)len, body);
    f->biz_calls++;
    *status = f->biz_status;
    return PD_OK;
}

struct world {
    struct fake f;
    struct pd_clock clock;
    struct pc_config cfg;
    struct pc_app app;
    char path[64];
};

static int world_up(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    w->f = (struct fake){.now = T0, .query_status = 200, .close_status = 200,
                         .create_status = 200, .refund_status = 200, .biz_status = 200};
    snprintf(w->f.trade_state, sizeof w->f.trade_state, "NOTPAY");
    w->clock = (struct pd_clock){fake_now, &w->f};
    char *argv[] = {"pc", "--gateway-url", "http://gw", "--gateway-secret", SECRET,
                    "--business-url", "http://biz", "--business-secret", "b", "--db", "x",
                    NULL};
    FILE *null = fopen("/dev/null", "w");
    assert_int_equal(pc_config_parse(11, argv, &w->cfg, null, null), 0);
    fclose(null);
    snprintf(w->path, sizeof w->path, "/tmp/test_pc_core_%d.db", (int)getpid());
    unlink(w->path);
    assert_int_equal(pc_store_open(w->path, false, &w->app.store), PD_OK);
    w->app.cfg = &w->cfg;
    w->app.clock = &w->clock;
    w->app.gw = (struct pc_gateway_port){fake_gw, &w->f};
    w->app.biz = (struct pc_business_port){fake_biz, &w->f};
    snprintf(w->app.notify_url, sizeof w->app.notify_url, "http://pc/gateway/notify");
    *state = w;
    return 0;
}

static int world_down(void **state)
{
    struct world *w = *state;
    pc_store_close(w->app.store);
    char p[80];
    unlink(w->path);
    snprintf(p, sizeof p, "%s-wal", w->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", w->path);
    unlink(p);
    free(w);
    return 0;
}

static const char order_body[] =
    "{\"merchant_id\":\"m-1\",\"user_id\":\"u-1\",\"items\":[{\"sku\":\"a\",\"qty\":2,"
    "\"unit_amount\":500}],\"amount\":1000,\"currency\":\"CNY\"}";

static int submit_body(struct world *w, const char *body, char id[32])
{
    struct pc_reply r = {0};
    pc_core_submit(&w->app, body, strlen(body), true, &r);
    cJSON *j = cJSON_Parse(r.text);
    const cJSON *o = cJSON_GetObjectItem(j, "order_id");
    snprintf(id, 32, "%s", cJSON_IsString(o) ? o->valuestring : "");
    cJSON_Delete(j);
    int status = r.status;
    pc_reply_release(&r);
    return status;
}

static int submit(struct world *w, char id[32])
{
    return submit_body(w, order_body, id);
}

static int pay(struct world *w, const char *id)
{
    struct pc_reply r = {0};
    pc_core_pay(&w->app, id, &r);
    int status = r.status;
    pc_reply_release(&r);
    return status;
}

static int status_of(struct world *w, const char *id)
{
    struct pc_order o;
    assert_int_equal(pc_store_get(w->app.store, id, &o), PD_OK);
    return o.status;
}

static cJSON *order_json(struct world *w, const char *id)
{
    int rc = 0;
    char *text = pc_store_order_json(w->app.store, id, &rc);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int count_of(struct world *w, const char *id, const char *list)
{
    cJSON *j = order_json(w, id);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, list));
    cJSON_Delete(j);
    return n;
}

/* ---- dedup window ---- */

static void test_dedup_window(void **state)
{
    struct world *w = *state;
    char a[32], b[32], c[32];
    w->cfg.dedup_window_ms = 60000;
    assert_int_equal(submit(w, a), 201);
    w->f.now = T0 + 59999;
    assert_int_equal(submit(w, b), 409);
    assert_string_equal(b, a);
    w->f.now = T0 + 60000;
    assert_int_equal(submit(w, c), 201);
    assert_string_not_equal(c, a);
    w->f.now = T0 + 60001;
    assert_int_equal(submit(w, b), 409);
    assert_string_equal(b, c);
    assert_int_equal(w->app.metrics.duplicates_sqlite, 2);
}

/* ---- order ids ---- */

static void test_order_ids_grow(void **state)
{
    struct world *w = *state;
    char a[32], b[32], c[32], d[32], max[PC_ORDER_ID_MAX + 1];
    w->cfg.dedup_window_ms = 1;     /* the same body again is a new order */
    assert_int_equal(submit(w, a), 201);
    assert_int_equal(strlen(a), 18);
    w->f.now += 10;
    assert_int_equal(submit(w, b), 201);
    assert_true(strcmp(b, a) > 0);
    /* The clock steps back an hour: ids still grow. (Another user's order:
     * the first one's claim runs until a time this clock has not reached.) */
    w->f.now -= 3600000;
    assert_int_equal(submit_body(w,
                                 "{\"merchant_id\":\"m-1\",\"user_id\":\"u-2\",\"items\":"
                                 "[{\"sku\":\"a\",\"qty\":1,\"unit_amount\":500}],"
                                 "\"amount\":500,\"currency\":\"CNY\"}", c), 201);
    assert_true(strcmp(c, b) > 0);
    assert_int_equal(pc_store_max_order_id(w->app.store, max), PD_OK);
    assert_string_equal(max, c);
    /* A restart reads the greatest stored id and continues above it, even
     * one far ahead of this clock; ids of another form are ignored. */
    pc_core_ids_after("o-7fffffffffff0000");
    pc_core_ids_after("o-ffffffffffffffzz");
    pc_core_ids_after("o-ffffffffffff");
    pc_core_ids_after("x");
    pc_core_ids_after(NULL);
    w->f.now += 3600000 + 20;
    assert_int_equal(submit(w, d), 201);
    assert_true(strcmp(d, "o-7fffffffffff0000") > 0);
    assert_true(strcmp(d, "o-7fffffffffff00ff") < 0);
}

/* ---- signatures ---- */

static int notify(struct world *w, const char *otn, int64_t amount, int64_t ts_s,
                  const char *nonce, bool corrupt)
{
    char body[512], sig[65], ts[32];
    snprintf(body, sizeof body,
             "{\"event_id\":\"e\",\"out_trade_no\":\"%s\",\"trade_state\":\"SUCCESS\","
             "\"amount\":%" PRId64 ",\"currency\":\"CNY\",\"merchant_id\":\"m-1\"}", otn, amount);
    pd_sign(SECRET, ts_s, nonce, body, strlen(body), sig);
    if (corrupt)
        sig[5] = sig[5] == '0' ? '1' : '0';
    snprintf(ts, sizeof ts, "%" PRId64, ts_s);
    struct pc_reply r = {0};
    pc_core_notify(&w->app, ts, nonce, sig, body, strlen(body), &r);
    int status = r.status;
    pc_reply_release(&r);
    return status;
}

static void test_signatures(void **state)
{
    struct world *w = *state;
    char id[32], otn[72];
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    int64_t now_s = T0 / 1000;
    assert_int_equal(notify(w, otn, 1000, now_s, "n1", true), 401);
    assert_int_equal(notify(w, otn, 1000, now_s - 301, "n2", false), 401);
    assert_int_equal(notify(w, otn, 1000, now_s + 301, "n3", false), 401);
    struct pc_reply r = {0};
    pc_core_notify(&w->app, NULL, "n4", NULL, "{}", 2, &r);
    assert_int_equal(r.status, 401);
    pc_reply_release(&r);
    assert_int_equal(notify(w, otn, 999, now_s, "n5", false), 400);
    assert_int_equal(status_of(w, id), PC_ST_PAYING);
    assert_int_equal(notify(w, otn, 1000, now_s - 300, "n6", false), 200);
    assert_int_equal(status_of(w, id), PC_ST_PAID);
    assert_int_equal(notify(w, otn, 1000, now_s, "n6", false), 401);   /* replay */
    assert_int_equal(notify(w, otn, 1000, now_s, "n7", false), 200);   /* a copy */
    assert_int_equal(w->app.metrics.callbacks_rejected[PC_REJ_BAD_SIGNATURE], 1);
    assert_int_equal(w->app.metrics.callbacks_rejected[PC_REJ_STALE], 2);
    assert_int_equal(w->app.metrics.callbacks_rejected[PC_REJ_MISSING_HEADERS], 1);
    assert_int_equal(w->app.metrics.callbacks_rejected[PC_REJ_MISMATCH], 1);
    assert_int_equal(w->app.metrics.callbacks_rejected[PC_REJ_REPLAY], 1);
    assert_int_equal(count_of(w, id, "notifications"), 1);
}

/* ---- idempotent apply ---- */

static void test_idempotent_apply(void **state)
{
    struct world *w = *state;
    char id[32], otn[72];
    int result = -1;
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    struct pc_fact bad = {PC_SRC_QUERY, otn, "SUCCESS", NULL, true, 1000, "USD", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &bad, T0, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_MISMATCH);
    assert_int_equal(status_of(w, id), PC_ST_PAYING);
    struct pc_fact f = {PC_SRC_CALLBACK, otn, "SUCCESS", "42", true, 1000, "CNY", "m-1", NULL};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pc_store_apply_fact(w->app.store, &f, T0 + i, &result), PD_OK);
        assert_int_equal(result, i == 0 ? PC_APPLY_CHANGED : PC_APPLY_IGNORED);
    }
    /* Stale news after the final state changes nothing. */
    struct pc_fact stale = {PC_SRC_QUERY, otn, "NOTPAY", NULL, true, 1000, "CNY", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &stale, T0 + 9, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_IGNORED);
    struct pc_fact closed = {PC_SRC_QUERY, otn, "CLOSED", NULL, true, 1000, "CNY", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &closed, T0 + 9, &result), PD_OK);
    assert_int_equal(status_of(w, id), PC_ST_PAID);
    assert_int_equal(count_of(w, id, "history"), 3);
    assert_int_equal(count_of(w, id, "notifications"), 1);
    struct pc_fact ghost = {PC_SRC_CALLBACK, "o-nope-1", "SUCCESS", NULL, true, 1000, "CNY", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &ghost, T0, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_UNKNOWN_TRADE);
}

/* ---- reconciler ---- */

static void test_schedule(void **state)
{
    struct world *w = *state;
    static const int64_t want_s[] = {10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200,
                                     10800, 21600, 21600, 21600, 21600};
    int64_t far = INT64_MAX / 2;
    for (int i = 0; i < 15; i++)
        assert_true(pc_next_check_at(&w->cfg, 0, i, far) == want_s[i] * 1000);
    assert_true(pc_next_check_at(&w->cfg, 0, 1000000, far) == 21600000);
    /* Clamped to the expiry while it is ahead, so the close is on time. */
    assert_true(pc_next_check_at(&w->cfg, 0, 11, 5000) == 5000);
    assert_true(pc_next_check_at(&w->cfg, 6000, 0, 5000) == 16000);
    static const int64_t notify_s[] = {15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600,
                                       10800, 10800, 10800, 21600, 21600, 21600};
    for (int i = 0; i < 16; i++)
        assert_true(pc_next_notify_at(&w->cfg, 0, i + 1) == notify_s[i] * 1000);
}

static struct pc_order order_at(struct world *w, const char *id)
{
    struct pc_order o;
    assert_int_equal(pc_store_get(w->app.store, id, &o), PD_OK);
    return o;
}

static void test_reconciler_moves(void **state)
{
    struct world *w = *state;
    char id[32];
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    struct pc_order o = order_at(w, id);
    assert_true(o.next_check_at == T0 + 30000);
    assert_int_equal(pc_core_reconcile_tick(&w->app, 0, 1), 0);   /* not due */
    w->f.now = T0 + 30000;
    assert_int_equal(pc_core_reconcile_tick(&w->app, 0, 1), 1);
    o = order_at(w, id);
    assert_int_equal(o.status, PC_ST_PAYING);
    assert_true(o.next_check_at == T0 + 40000);
    assert_true(o.check_count == 1);
    w->f.now = T0 + 40000;
    w->f.query_status = 500;   /* errors: state unchanged, backoff */
    pc_core_reconcile_tick(&w->app, 0, 1);
    o = order_at(w, id);
    assert_int_equal(o.status, PC_ST_PAYING);
    assert_true(o.next_check_at == T0 + 60000);
    w->f.now = T0 + 60000;
    w->f.query_status = 0;     /* no answer at all */
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_PAYING);
    w->f.now = order_at(w, id).next_check_at;
    w->f.query_status = 200;
    snprintf(w->f.trade_state, sizeof w->f.trade_state, "SUCCESS");
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_PAID);
    assert_true(order_at(w, id).next_check_at == 0);
    assert_int_equal(w->f.closes, 0);
}

static void test_expiry_closes_at_gateway(void **state)
{
    struct world *w = *state;
    char id[32];
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    w->f.close_status = 500;
    int64_t expires = order_at(w, id).expires_at;
    for (int i = 0; i < 200 && order_at(w, id).next_check_at < expires; i++) {
        w->f.now = order_at(w, id).next_check_at;
        pc_core_reconcile_tick(&w->app, 0, 1);
    }
    assert_true(order_at(w, id).next_check_at == expires);   /* clamped */
    w->f.now = expires;
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(w->f.closes, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_PAYING);   /* close failed: not closed */
    w->f.close_status = 200;
    w->f.now = order_at(w, id).next_check_at;
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_CLOSED);
    /* A charge after the close: refund row, then settled at the gateway. */
    int result = 0;
    char otn[72];
    snprintf(otn, sizeof otn, "%s-1", id);
    struct pc_fact late = {PC_SRC_CALLBACK, otn, "SUCCESS", NULL, true, 1000, "CNY", "m-1", "nn"};
    assert_int_equal(pc_store_apply_fact(w->app.store, &late, w->f.now, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_CHANGED);
    assert_int_equal(pc_store_apply_fact(w->app.store, &late, w->f.now, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_REPLAY);
    assert_int_equal(pc_core_refund_tick(&w->app), 1);
    assert_int_equal(w->f.refunds, 1);
    cJSON *j = order_json(w, id);
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "refunds"), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "SUCCESS");
    assert_string_equal(cJSON_GetObjectItem(r, "reason")->valuestring, "charge_after_close");
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "CLOSED");
    cJSON_Delete(j);
    assert_int_equal(pc_core_refund_tick(&w->app), 0);
}

static void test_close_refused_paid(void **state)
{
    struct world *w = *state;
    char id[32];
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    w->f.close_status = 409;
    w->f.now = order_at(w, id).expires_at;
    pc_core_reconcile_one(&w->app, id);
    assert_int_equal(order_at(w, id).status, PC_ST_PAID);
}

static void test_unknown_recreates_same_number(void **state)
{
    struct world *w = *state;
    char id[32], otn[72];
    assert_int_equal(submit(w, id), 201);
    w->f.create_status = 503;
    assert_int_equal(pay(w, id), 202);
    assert_int_equal(order_at(w, id).status, PC_ST_UNKNOWN);
    snprintf(otn, sizeof otn, "%s-1", id);
    w->f.create_status = 200;
    w->f.query_status = 404;
    w->f.now = order_at(w, id).next_check_at;
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(w->f.creates, 2);
    assert_string_equal(w->f.last_create_otn, otn);
    assert_int_equal(order_at(w, id).status, PC_ST_PAYING);
}

static void test_unpaid_expires_locally(void **state)
{
    struct world *w = *state;
    char id[32];
    assert_int_equal(submit(w, id), 201);
    w->f.now = order_at(w, id).expires_at - 1;
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_UNPAID);
    w->f.now += 1;
    pc_core_reconcile_tick(&w->app, 0, 1);
    assert_int_equal(order_at(w, id).status, PC_ST_CLOSED);
    assert_int_equal(w->f.queries + w->f.closes, 0);
    assert_int_equal(pay(w, id), 409);
}

/* ---- outbox ---- */

static void test_outbox_retry(void **state)
{
    struct world *w = *state;
    char id[32], otn[72];
    int result = 0;
    assert_int_equal(submit(w, id), 201);
    assert_int_equal(pay(w, id), 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    struct pc_fact f = {PC_SRC_CALLBACK, otn, "SUCCESS", NULL, true, 1000, "CNY", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &f, T0, &result), PD_OK);
    w->f.biz_status = 503;
    int64_t next = 0;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 1);         /* attempt 1 fails */
    assert_true(next == T0 + 15000);
    w->f.now = T0 + 14999;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);         /* not yet */
    assert_true(next == T0 + 15000);
    w->f.now = T0 + 15000;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 1);         /* attempt 2 fails */
    assert_true(next == T0 + 30000);
    w->f.now = T0 + 29999;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    w->f.biz_status = 204;
    w->f.now = T0 + 30000;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 1);         /* delivered */
    assert_true(next == INT64_MAX);
    w->f.now = T0 + 10000000;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    assert_true(next == INT64_MAX);
    assert_int_equal(w->f.biz_calls, 3);
    cJSON *j = order_json(w, id);
    const cJSON *n = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "notifications"), 0);
    assert_int_equal((int)cJSON_GetObjectItem(n, "attempts")->valuedouble, 3);
    assert_true(cJSON_GetObjectItem(n, "delivered_at")->valuedouble == (double)(T0 + 30000));
    assert_int_equal((int)cJSON_GetObjectItem(n, "last_http_status")->valuedouble, 204);
    cJSON_Delete(j);
}

/* A tick reads once and says when its partition next has work: at once
 * when a delivered event's order has a later event waiting, and never the
 * due time of an event still waiting for an undelivered one before it
 * (that would spin the sender). */
/* An order paid by its callback at T0: its PAID event is due (the store
 * has no event hook here, so nothing is handed over). Returns the number of
 * the commit that wrote the event. */
static long paid_order(struct world *w, int user, char id[32])
{
    char body[sizeof order_body + 8], otn[72];
    int result = 0;
    snprintf(body, sizeof body, "%s", order_body);
    body[strlen("{\"merchant_id\":\"m-1\",\"user_id\":\"u-")] = (char)('a' + user);
    assert_int_equal(submit_body(w, body, id), 201);
    assert_int_equal(pay(w, id), 200);
    snprintf(otn, sizeof otn, "%s-1", id);
    struct pc_fact f = {PC_SRC_CALLBACK, otn, "SUCCESS", NULL, true, 1000, "CNY", "m-1", NULL};
    assert_int_equal(pc_store_apply_fact(w->app.store, &f, T0, &result), PD_OK);
    return pc_store_commits(w->app.store);
}

/* A handed event as the store's hook gives it, of commit commit_no;
 * payload marks where the sent body came from. */
static struct pc_event_new *handed(long commit_no, const char *order_id, int64_t seq,
                                   const char *payload)
{
    struct pc_event_new *ev = calloc(1, sizeof *ev);
    assert_non_null(ev);
    ev->seq = seq;
    ev->commit_no = commit_no;
    snprintf(ev->e.event_id, sizeof ev->e.event_id, "ev-%s-%" PRId64, order_id, seq);
    snprintf(ev->e.payload, sizeof ev->e.payload, "%s", payload);
    return ev;
}

static void test_outbox_next(void **state)
{
    struct world *w = *state;
    char a[32], b[32];
    int64_t next = 0;
    paid_order(w, 0, a);
    paid_order(w, 1, b);
    /* a's seq 2, due at T0 + 5000, but only after seq 1. */
    assert_int_equal(pc_store_outbox_late(w->app.store, a, T0 + 5000), PD_OK);

    /* Seq 1 fails: the next work is its retry, not seq 2's due time. */
    w->f.biz_status = 503;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 2);   /* a#1, b#1 */
    assert_true(next == T0 + 15000);
    w->f.now = T0 + 5000;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    assert_true(next == T0 + 15000);

    /* Delivered: a's seq 2 is due at once, and sent on the next tick. */
    w->f.biz_status = 204;
    w->f.now = T0 + 15000;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 2);
    assert_true(next <= T0 + 15000);
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 1);
    assert_non_null(strstr(w->f.biz_last, a));
    assert_true(next == INT64_MAX);
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    assert_true(next == INT64_MAX);
    assert_int_equal(w->f.biz_calls, 5);
}

/* A store that fails the sender's result writes pauses it (20 ms), even
 * after a full batch of 64, which otherwise means "more is due at once":
 * it would send the same 64 again and again without a pause. The failure
 * is a trigger that refuses every outbox update. */
static void test_outbox_store_failure_pauses(void **state)
{
    struct world *w = *state;
    int result = 0;
    int64_t next = 0;
    for (int i = 0; i < 64; i++) {
        char id[32], otn[72], body[256];
        snprintf(body, sizeof body,
                 "{\"merchant_id\":\"m-1\",\"user_id\":\"u-%d\",\"items\":[{\"sku\":\"a\","
                 "\"qty\":2,\"unit_amount\":500}],\"amount\":1000,\"currency\":\"CNY\"}", i);
        assert_int_equal(submit_body(w, body, id), 201);
        assert_int_equal(pay(w, id), 200);
        snprintf(otn, sizeof otn, "%s-1", id);
        struct pc_fact f = {PC_SRC_CALLBACK, otn, "SUCCESS", NULL, true, 1000, "CNY", "m-1", NULL};
        assert_int_equal(pc_store_apply_fact(w->app.store, &f, T0, &result), PD_OK);
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE UPDATE ON outbox"
                                      " BEGIN SELECT RAISE(ABORT, 'injected'); END",
                                  NULL, NULL, NULL), SQLITE_OK);
    w->f.biz_status = 204;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 64);
    assert_true(next == T0 + 20);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER refuse", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    w->f.now = T0 + 20;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 64);   /* sent again: recorded */
    assert_true(next <= T0 + 20);                                      /* a full batch */
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    assert_true(next == INT64_MAX);
    assert_int_equal(w->f.biz_calls, 128);
}

static void test_sender_handed(void **state)
{
    struct world *w = *state;
    char a[32], b[32], c[32], d[32], e[32];
    long ca = paid_order(w, 0, a), cb = paid_order(w, 1, b);
    struct pc_sender *snd = calloc(1, sizeof *snd);
    snd->parts = 1;
    snd->next_at = T0 + 60000;

    /* Handed and not yet due to read: a is sent from memory, b not read. */
    assert_int_equal(pc_core_sender_tick(&w->app, snd, handed(ca, a, 1, "handed-a"), false), 1);
    assert_int_equal(w->f.biz_calls, 1);
    assert_string_equal(w->f.biz_last, "handed-a");
    assert_true(snd->next_at == T0 + 60000);

    /* b handed and read in one pass: sent once, as read. */
    assert_int_equal(pc_core_sender_tick(&w->app, snd, handed(cb, b, 1, "handed-b"), true), 1);
    assert_int_equal(w->f.biz_calls, 2);
    assert_non_null(strstr(w->f.biz_last, b));
    assert_true(snd->next_at == INT64_MAX);

    /* c read first, handed after: the read saw its commit, not sent again. */
    long cc = paid_order(w, 2, c);
    assert_int_equal(pc_core_sender_tick(&w->app, snd, NULL, true), 1);
    assert_int_equal(pc_core_sender_tick(&w->app, snd, handed(cc, c, 1, "handed-c"), false), 0);
    assert_int_equal(w->f.biz_calls, 3);

    /* A handed seq 2 may wait for seq 1: the sender reads, and sends d#1. */
    long cd = paid_order(w, 3, d);
    assert_int_equal(pc_core_sender_tick(&w->app, snd, handed(cd, d, 2, "handed-d2"), false), 1);
    assert_int_equal(w->f.biz_calls, 4);
    assert_non_null(strstr(w->f.biz_last, d));

    /* e committed after the last read: sent from memory. Refused by the
     * business, its retry is the next work. */
    long ce = paid_order(w, 4, e);
    w->f.biz_status = 503;
    snd->next_at = INT64_MAX;
    assert_int_equal(pc_core_sender_tick(&w->app, snd, handed(ce, e, 1, "handed-e"), false), 1);
    assert_true(snd->next_at == T0 + 15000);
    w->f.biz_status = 204;
    w->f.now = T0 + 15000;
    assert_int_equal(pc_core_sender_tick(&w->app, snd, NULL, false), 1);  /* its time came */
    assert_non_null(strstr(w->f.biz_last, e));
    assert_true(snd->next_at == INT64_MAX);
    assert_int_equal(w->f.biz_calls, 6);
    free(snd);
}

/* A sender whose read fails reads again STORE_RETRY_MS (20) later, not at
 * its capped sleep: the outbox table renamed away makes the read fail. */
static void test_outbox_read_failure_pauses(void **state)
{
    struct world *w = *state;
    char a[32];
    int64_t next = 0;
    paid_order(w, 0, a);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE outbox RENAME TO outbox_away", NULL, NULL,
                                  NULL), SQLITE_OK);
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 0);
    assert_true(next == T0 + 20);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE outbox_away RENAME TO outbox", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(db);
    w->f.now = T0 + 20;
    assert_int_equal(pc_core_outbox_tick(&w->app, 0, 1, &next), 1);
    assert_int_equal(w->f.biz_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dedup_window, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_order_ids_grow, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_signatures, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_idempotent_apply, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_schedule, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_reconciler_moves, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_expiry_closes_at_gateway, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_close_refused_paid, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_unknown_recreates_same_number, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_unpaid_expires_locally, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_outbox_retry, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_outbox_next, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_outbox_store_failure_pauses, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_sender_handed, world_up, world_down),
        cmocka_unit_test_setup_teardown(test_outbox_read_failure_pauses, world_up, world_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
