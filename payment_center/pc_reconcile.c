/* Gateway create, the reconciler, refunds and the outbox sender. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_bugs.h"
#include "pc_core_internal.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"

#define TICK_BATCH 64
/* How soon a sender tries again after its store failed it (simulated ms;
 * the worker's shortest sleep, pc_server.c IDLE_MIN_MS). */
#define STORE_RETRY_MS 20

int64_t pc_next_check_at(const struct pc_config *cfg, int64_t now_ms, int64_t check_count,
                         int64_t expires_at)
{
    int64_t t = now_ms + pc_schedule_at(cfg->query_schedule_ms, cfg->query_schedule_n,
                                        check_count);
    if (now_ms < expires_at && t > expires_at)
        t = expires_at;
    return t;
}

int64_t pc_next_notify_at(const struct pc_config *cfg, int64_t now_ms, int64_t attempts)
{
    return now_ms + pc_schedule_at(cfg->notify_schedule_ms, cfg->notify_schedule_n,
                                   attempts - 1);
}

static void order_of_trade(const char *out_trade_no, char out[PC_ORDER_ID_MAX + 1])
{
    pd_strlcpy(out, out_trade_no, PC_ORDER_ID_MAX + 1);
    char *dash = strrchr(out, '-');
    if (dash != NULL && dash != out)
        *dash = '\0';
}

static void after_change_order(struct pc_app *app, const char *order_id)
{
    pc__kick(app, order_id);
    /* PC_BUG_OUTBOX_OUTSIDE_TX: the status committed alone; the
     * notification row follows in a transaction of its own. */
    if (!pc_bug_on(PC_BUG_OUTBOX_OUTSIDE_TX))
        return;
    /* Like publishing to a queue after the commit: a kill in this window
     * loses the notification for good. Two simulated minutes (a slow
     * broker) rather than the 2 s it was: the default suite's kill -9 in
     * kill-sut-during-callbacks comes up to a minute after the payments
     * commit, so it lands in the window every run (docs/zoo.md). */
    pd_sleep_ms(120000);
    struct pc_order o;
    if (pc_store_get(app->store, order_id, &o) == PD_OK && pc_status_final(o.status) &&
        o.notify_seq == 0)
        pc_store_outbox_late(app->store, order_id, pc__now(app));
}

void pc__after_change(struct pc_app *app, const char *out_trade_no)
{
    char order_id[PC_ORDER_ID_MAX + 1];
    order_of_trade(out_trade_no, order_id);
    after_change_order(app, order_id);
}

void pc__outbox_again(struct pc_app *app, const char *out_trade_no)
{
    char order_id[PC_ORDER_ID_MAX + 1];
    order_of_trade(out_trade_no, order_id);
    struct pc_order o;
    if (pc_store_get(app->store, order_id, &o) == PD_OK && pc_status_final(o.status))
        pc_store_outbox_late(app->store, order_id, pc__now(app));
}

/* ---- create ---- */

static char *create_body(const struct pc_order *o, const char *out_trade_no,
                         const char *notify_url)
{
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return NULL;
    char desc[64];
    snprintf(desc, sizeof desc, "order %s", o->order_id);
    cJSON_AddStringToObject(j, "out_trade_no", out_trade_no);
    pd_json_add_i64(j, "amount", o->amount);
    cJSON_AddStringToObject(j, "currency", o->currency);
    cJSON_AddStringToObject(j, "notify_url", notify_url);
    cJSON_AddStringToObject(j, "merchant_id", o->merchant_id);
    cJSON_AddStringToObject(j, "description", desc);
    if (o->client_ref[0])
        cJSON_AddStringToObject(j, "attach", o->client_ref);
    char *text = pd_json_print(j);
    cJSON_Delete(j);
    return text;
}

/* 4xx other than 404/408/429 is a definitive refusal: nothing was created.
 * 5xx, 408, 429 and no answer leave the outcome unknown. */
static int classify_create(int rc, long status)
{
    if (rc != PD_OK)
        return PC_CREATE_AMBIGUOUS;
    if (status == 200 || status == 201)
        return PC_CREATE_OK;
    if (status >= 400 && status < 500 && status != 404 && status != 408 && status != 429)
        return PC_CREATE_REJECTED;
    return PC_CREATE_AMBIGUOUS;
}

int pc__create_trade(struct pc_app *app, const struct pc_order *o, const char *out_trade_no,
                     const char *notify_url, int *out_status)
{
    char *body = create_body(o, out_trade_no, notify_url);
    long status = 0;
    cJSON *json = NULL;
    app->metrics.creates++;
    int rc = body ? app->gw.call(app->gw.ctx, "POST", "/v1/payments", body, &status, &json)
                  : PD_ENOMEM;
    cJSON_free(body);
    int outcome = classify_create(rc, status);
    const char *trade_no = NULL;
    const cJSON *tn = json ? cJSON_GetObjectItemCaseSensitive(json, "trade_no") : NULL;
    if (cJSON_IsString(tn))
        trade_no = tn->valuestring;
    PD_LOG(outcome == PC_CREATE_OK ? PD_LOG_DEBUG : PD_LOG_WARN, "pc",
           "act=gateway_create order=%s out_trade_no=%s http=%ld err=%s outcome=%d",
           o->order_id, out_trade_no, status, pd_strerror(rc), outcome);
    if (outcome == PC_CREATE_OK)
        app->metrics.create_ok++;
    else if (outcome == PC_CREATE_REJECTED)
        app->metrics.create_rejected++;
    else
        app->metrics.create_ambiguous++;
    *out_status = o->status;
    int src = pc_store_create_result(app->store, out_trade_no, outcome, trade_no, pc__now(app),
                                     out_status);
    if (src != PD_OK)
        PD_LOG(PD_LOG_ERROR, "pc", "act=create_record order=%s err=%s", o->order_id,
               pd_strerror(src));
    cJSON_Delete(json);
    return outcome;
}

/* ---- reconciler ---- */

static void reschedule(struct pc_app *app, const char *order_id)
{
    struct pc_order o;
    if (pc_store_get(app->store, order_id, &o) != PD_OK || pc_status_final(o.status))
        return;
    int64_t now = pc__now(app);
    int64_t next = pc_next_check_at(app->cfg, now, o.check_count, o.expires_at);
    pc_store_reschedule(app->store, order_id, o.version, next, o.check_count + 1);
}

static void fact_from_query(const cJSON *j, const char *out_trade_no, struct pc_fact *f)
{
    const cJSON *v;
    memset(f, 0, sizeof *f);
    f->source = PC_SRC_QUERY;
    f->out_trade_no = out_trade_no;
    v = cJSON_GetObjectItemCaseSensitive(j, "trade_state");
    f->trade_state = cJSON_IsString(v) ? v->valuestring : "";
    v = cJSON_GetObjectItemCaseSensitive(j, "trade_no");
    f->trade_no = cJSON_IsString(v) ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(j, "amount");
    f->has_money = true;
    f->amount = pd_json_is_int(v) ? (int64_t)v->valuedouble : -1;
    v = cJSON_GetObjectItemCaseSensitive(j, "currency");
    f->currency = cJSON_IsString(v) ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(j, "merchant_id");
    f->merchant_id = cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Close at the gateway first; CLOSED only when it confirms. */
static void close_at_gateway(struct pc_app *app, const struct pc_order *o)
{
    char path[128];
    long status = 0;
    cJSON *json = NULL;
    int64_t now = pc__now(app);
    /* PC_BUG_CLOSE_WITHOUT_GATEWAY: the gateway trade stays open. */
    if (pc_bug_on(PC_BUG_CLOSE_WITHOUT_GATEWAY)) {
        pc_store_close_blind(app->store, o->order_id, now);
        after_change_order(app, o->order_id);
        return;
    }
    snprintf(path, sizeof path, "/v1/payments/%s/close", o->cur_trade);
    app->metrics.closes++;
    int rc = app->gw.call(app->gw.ctx, "POST", path, "{}", &status, &json);
    const cJSON *code = json ? cJSON_GetObjectItemCaseSensitive(json, "code") : NULL;
    if (rc == PD_OK && status == 200) {
        pc_store_close_confirmed(app->store, o->cur_trade, now);
        after_change_order(app, o->order_id);
    } else if (rc == PD_OK && status == 409 && cJSON_IsString(code) &&
               strcmp(code->valuestring, "ORDERPAID") == 0) {
        struct pc_fact f = {.source = PC_SRC_CLOSE, .out_trade_no = o->cur_trade,
                            .trade_state = "SUCCESS"};
        int result = 0;
        if (pc_store_apply_fact(app->store, &f, now, &result) == PD_OK &&
            result == PC_APPLY_CHANGED)
            after_change_order(app, o->order_id);
    } else {
        app->metrics.close_errors++;
        PD_LOG(PD_LOG_WARN, "pc", "act=gateway_close order=%s out_trade_no=%s http=%ld err=%s",
               o->order_id, o->cur_trade, status, pd_strerror(rc));
        reschedule(app, o->order_id);
    }
    cJSON_Delete(json);
}

/* The gateway has no such trade: the create never landed (or is still on
 * its way). Re-issue it with the same out_trade_no and the same facts --
 * idempotent at the gateway, so it can never open a second trade. */
static void reissue_create(struct pc_app *app, const struct pc_order *o)
{
    char notify_url[PC_URL_MAX + 32];
    int status = 0;
    if (pc_store_trade_notify_url(app->store, o->cur_trade, notify_url, sizeof notify_url) !=
            PD_OK || notify_url[0] == '\0')
        pd_strlcpy(notify_url, app->notify_url, sizeof notify_url);
    if (pc_bug_on(PC_BUG_NEW_TRADE_NO_ON_RETRY)) {
        /* PC_BUG_NEW_TRADE_NO_ON_RETRY: a fresh number for the retry. */
        char fresh[PC_TRADE_NO_MAX + 8];
        snprintf(fresh, sizeof fresh, "%s-r%" PRId64, o->order_id, o->check_count + 1);
        pc__create_trade(app, o, fresh, notify_url, &status);
    } else {
        pc__create_trade(app, o, o->cur_trade, notify_url, &status);
    }
    reschedule(app, o->order_id);
}

static void after_query(struct pc_app *app, const struct pc_order *before, const cJSON *json)
{
    struct pc_fact f;
    int result = 0;
    fact_from_query(json, before->cur_trade, &f);
    int64_t now = pc__now(app);
    int rc = pc_store_apply_fact(app->store, &f, now, &result);
    if (rc != PD_OK || result == PC_APPLY_MISMATCH || result == PC_APPLY_UNKNOWN_TRADE) {
        PD_LOG(PD_LOG_WARN, "pc", "act=query_refused order=%s out_trade_no=%s result=%d err=%s",
               before->order_id, before->cur_trade, result, pd_strerror(rc));
        reschedule(app, before->order_id);
        return;
    }
    if (result == PC_APPLY_CHANGED)
        after_change_order(app, before->order_id);
    struct pc_order o;
    if (pc_store_get(app->store, before->order_id, &o) != PD_OK || pc_status_final(o.status))
        return;
    if (now >= o.expires_at &&
        (strcmp(f.trade_state, "NOTPAY") == 0 || strcmp(f.trade_state, "USERPAYING") == 0))
        close_at_gateway(app, &o);
    else
        reschedule(app, o.order_id);
}

static void query_trade(struct pc_app *app, const struct pc_order *o)
{
    char path[128];
    long status = 0;
    cJSON *json = NULL;
    snprintf(path, sizeof path, "/v1/payments/%s", o->cur_trade);
    app->metrics.queries++;
    int rc = app->gw.call(app->gw.ctx, "GET", path, NULL, &status, &json);
    if (rc == PD_OK && status == 200 && json != NULL) {
        after_query(app, o, json);
    } else if (rc == PD_OK && status == 404) {
        reissue_create(app, o);
    } else {
        app->metrics.query_errors++;
        PD_LOG(PD_LOG_WARN, "pc", "act=gateway_query order=%s out_trade_no=%s http=%ld err=%s",
               o->order_id, o->cur_trade, status, pd_strerror(rc));
        reschedule(app, o->order_id);
    }
    cJSON_Delete(json);
}

/* Zoo only: the callback timeout and the first three query steps. */
static int64_t fast_tail_ms(const struct pc_config *cfg)
{
    int64_t t = cfg->callback_timeout_ms;
    for (int i = 0; i < 3; i++)
        t += pc_schedule_at(cfg->query_schedule_ms, cfg->query_schedule_n, i);
    return t;
}

static void check_open_order(struct pc_app *app, const struct pc_order *o, int64_t now)
{
    /* PC_BUG_NO_RECONCILER: nobody ever asks the gateway. */
    if (pc_bug_on(PC_BUG_NO_RECONCILER)) {
        pc_store_reschedule(app->store, o->order_id, o->version, INT64_MAX, o->check_count);
        return;
    }
    /* PC_BUG_RECONCILER_GIVES_UP: after the fast tail, "failed": three
     * unanswered queries, or once the tail's time has passed (a sped-up
     * clock on a loaded machine may allow fewer than three queries). */
    if (pc_bug_on(PC_BUG_RECONCILER_GIVES_UP) &&
        (o->check_count >= 3 || now - o->created_at >= fast_tail_ms(app->cfg))) {
        pc_store_close_blind(app->store, o->order_id, now);
        after_change_order(app, o->order_id);
        return;
    }
    query_trade(app, o);
}

int pc_core_reconcile_one(struct pc_app *app, const char *order_id)
{
    struct pc_order o;
    int rc = pc_store_get(app->store, order_id, &o);
    if (rc != PD_OK || pc_status_final(o.status))
        return rc;
    int64_t now = pc__now(app);
    if (o.status == PC_ST_UNPAID) {
        /* No gateway trade exists for an UNPAID order: closing locally is safe. */
        if (now >= o.expires_at) {
            rc = pc_store_close_unpaid(app->store, order_id, now);
            after_change_order(app, order_id);
            return rc;
        }
        return pc_store_reschedule(app->store, order_id, o.version, o.expires_at, o.check_count);
    }
    check_open_order(app, &o, now);
    return PD_OK;
}

int pc_core_reconcile_tick(struct pc_app *app, int part, int parts)
{
    struct pc_due due[TICK_BATCH];
    size_t n = 0;
    if (pc_store_due_orders(app->store, pc__now(app), part, parts, due, TICK_BATCH, &n) != PD_OK)
        return 0;
    for (size_t i = 0; i < n && !app->stop; i++)
        pc_core_reconcile_one(app, due[i].order_id);
    return (int)n;
}

/* ---- refunds ---- */

static void refund_one(struct pc_app *app, const struct pc_refund_due *r)
{
    long status = 0;
    cJSON *json = NULL;
    cJSON *req = cJSON_CreateObject();
    if (req != NULL) {
        cJSON_AddStringToObject(req, "out_trade_no", r->out_trade_no);
        cJSON_AddStringToObject(req, "out_refund_no", r->out_refund_no);
        pd_json_add_i64(req, "amount", r->amount);
    }
    char *body = req ? pd_json_print(req) : NULL;
    cJSON_Delete(req);
    if (body == NULL)
        return;
    app->metrics.refund_calls++;
    int rc = app->gw.call(app->gw.ctx, "POST", "/v1/refunds", body, &status, &json);
    cJSON_free(body);
    const cJSON *st = json ? cJSON_GetObjectItemCaseSensitive(json, "status") : NULL;
    bool done = rc == PD_OK && status == 200 && cJSON_IsString(st) &&
                strcmp(st->valuestring, "SUCCESS") == 0;
    int64_t now = pc__now(app);
    int64_t next = now + pc_schedule_at(app->cfg->refund_schedule_ms, app->cfg->refund_schedule_n,
                                        r->attempts);
    if (!done)
        PD_LOG(PD_LOG_WARN, "pc", "act=gateway_refund out_refund_no=%s http=%ld err=%s",
               r->out_refund_no, status, pd_strerror(rc));
    pc_store_refund_result(app->store, r->out_refund_no, done, status, now, next);
    cJSON_Delete(json);
}

int pc_core_refund_tick(struct pc_app *app)
{
    struct pc_refund_due due[TICK_BATCH];
    size_t n = 0;
    if (pc_store_due_refunds(app->store, pc__now(app), due, TICK_BATCH, &n) != PD_OK)
        return 0;
    for (size_t i = 0; i < n && !app->stop; i++)
        refund_one(app, &due[i]);
    return (int)n;
}

/* ---- outbox ---- */

/* Delivers e and writes the outcome; *next moves to now when the order
 * has its next event waiting, or to a failed attempt's retry. */
static void deliver(struct pc_app *app, const struct pc_event_due *e, int64_t *next,
                    bool *store_failed)
{
    long status = 0;
    app->metrics.notify_attempts++;
    int rc = app->biz.notify(app->biz.ctx, e->payload, strlen(e->payload), &status);
    bool ok = rc == PD_OK && status >= 200 && status < 300;
    int64_t now = pc__now(app);
    if (ok)
        app->metrics.notify_delivered++;
    else
        PD_LOG(PD_LOG_INFO, "pc", "act=notify_failed event=%s attempt=%" PRId64
               " http=%ld err=%s", e->event_id, e->attempts + 1, status, pd_strerror(rc));
    int64_t retry_at = pc_next_notify_at(app->cfg, now, e->attempts + 1);
    if (pc_store_event_result(app->store, e->event_id, ok, status, now, retry_at) != PD_OK)
        *store_failed = true;                   /* still due: tried again after a pause */
    else if (ok && e->more && now < *next)
        *next = now;                            /* the order's next event is due */
    else if (!ok && retry_at < *next)
        *next = retry_at;
}

int pc_core_sender_tick(struct pc_app *app, struct pc_sender *s, struct pc_event_new *handed,
                        bool read)
{
    int64_t now = pc__now(app), next = s->next_at;
    bool store_failed = false;
    for (const struct pc_event_new *ev = handed; ev != NULL; ev = ev->next)
        read |= ev->seq != 1;
    read |= next <= now;
    struct pc_event_due *due = NULL;
    size_t n = 0;
    if (read) {
        next = INT64_MAX;
        long upto = pc_store_commits(app->store);
        due = malloc(sizeof *due * TICK_BATCH);
        if (due == NULL || pc_store_due_events(app->store, now, s->part, s->parts, due,
                                               TICK_BATCH, &n, &next) != PD_OK) {
            n = 0;
            store_failed = true;
            next = now + STORE_RETRY_MS;        /* read again then, not at the cap */
        } else {
            s->read_upto = upto;
        }
        if (n == TICK_BATCH)
            next = now;                         /* a full batch: more may be due */
    }
    int tried = 0;
    /* The read's rows first. A handed event whose commit a read saw is the
     * read's: sent by it, or due by next_at (a full batch, not due yet). A
     * commit counted just after a read began is sent twice at worst. */
    for (size_t i = 0; i < n && !app->stop; i++, tried++)
        deliver(app, &due[i], &next, &store_failed);
    for (const struct pc_event_new *ev = handed; ev != NULL && !app->stop; ev = ev->next) {
        if (ev->seq != 1 || ev->commit_no <= s->read_upto)
            continue;
        deliver(app, &ev->e, &next, &store_failed);
        tried++;
    }
    /* A failing store pauses the sender, full batch or not: it would
     * otherwise send the same events again at once, and again. Events whose
     * outcome it failed to keep are still due, and read again by then or
     * at the next due time or capped sleep. */
    if (store_failed && next < now + STORE_RETRY_MS)
        next = now + STORE_RETRY_MS;
    free(due);
    pc_store_events_free(handed);
    s->next_at = next;
    return tried;
}

int pc_core_outbox_tick(struct pc_app *app, int part, int parts, int64_t *next_ms)
{
    struct pc_sender s = {.part = part, .parts = parts};
    int n = pc_core_sender_tick(app, &s, NULL, true);
    if (next_ms != NULL)
        *next_ms = s.next_at;
    return n;
}
