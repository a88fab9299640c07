/* Intake, pay, reads and callbacks. The reconciler, refunds and the outbox
 * sender are in pc_reconcile.c. */
#include "pc_core.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_bugs.h"
#include "pc_core_internal.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_sign.h"
#include "pd_util.h"

static const char *const reject_names[PC_REJ_COUNT] = {
    "bad_signature", "stale_timestamp", "missing_signature_headers", "replay",
    "amount_mismatch", "unknown_trade", "malformed"};

const char *pc_reject_name(int reason)
{
    return (reason >= 0 && reason < PC_REJ_COUNT) ? reject_names[reason] : "?";
}

void pc_reply_release(struct pc_reply *r)
{
    free(r->text);
    r->text = NULL;
}

void pc__reply_json(struct pc_reply *out, int status, cJSON *obj)
{
    out->status = status;
    out->text = obj ? pd_json_print(obj) : NULL;
    cJSON_Delete(obj);
    if (out->text == NULL) {
        out->status = 500;
        out->text = strdup("{\"error\":\"internal\",\"detail\":\"out of memory\"}");
    }
}

void pc__reply_error(struct pc_reply *out, int status, const char *error, const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "error", error);
        cJSON_AddStringToObject(o, "detail", detail);
    }
    pc__reply_json(out, status, o);
}

/* The gateway protocol's refusal body: {"code":"FAIL","message":...}. */
static void reply_fail(struct pc_reply *out, int status, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "code", "FAIL");
        cJSON_AddStringToObject(o, "message", message);
    }
    pc__reply_json(out, status, o);
}

int64_t pc__now(const struct pc_app *app)
{
    return pd_clock_now(app->clock);
}

/* ---- POST /orders ---- */

static void reply_duplicate(struct pc_reply *out, const char *original, const char *by)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "error", "duplicate_submission");
        char detail[128];
        snprintf(detail, sizeof detail,
                 "the same order facts were submitted inside the window (%s)", by);
        cJSON_AddStringToObject(o, "detail", detail);
        cJSON_AddStringToObject(o, "order_id", original);
    }
    pc__reply_json(out, 409, o);
}

static void reply_created(struct pc_reply *out, const struct pc_order_in *in,
                          const struct pc_submit *sub)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL) {
        cJSON_AddStringToObject(o, "order_id", sub->order_id);
        cJSON_AddStringToObject(o, "status", "UNPAID");
        cJSON_AddStringToObject(o, "merchant_id", in->merchant_id);
        cJSON_AddStringToObject(o, "user_id", in->user_id);
        if (in->client_ref[0])
            cJSON_AddStringToObject(o, "client_ref", in->client_ref);
        else
            cJSON_AddNullToObject(o, "client_ref");
        pd_json_add_i64(o, "amount", in->amount);
        cJSON_AddStringToObject(o, "currency", in->currency);
        pd_json_add_i64(o, "created_at", sub->now_ms);
        pd_json_add_i64(o, "expires_at", sub->now_ms + sub->expiry_ms);
        cJSON_AddStringToObject(o, "fingerprint", sub->fingerprint);
    }
    pc__reply_json(out, 201, o);
}

static int parse_body(struct pc_app *app, const char *body, size_t len, bool is_json,
                      struct pc_order_in *in, struct pc_reply *out)
{
    struct pd_json_err err = {{0}};
    if (!is_json) {
        pc__reply_error(out, 415, "unsupported_media_type",
                        "Content-Type must be application/json");
        return PD_EINVAL;
    }
    if (len > PC_BODY_MAX) {
        pc__reply_error(out, 413, "body_too_large", "request body over 65536 bytes");
        return PD_EINVAL;
    }
    cJSON *j = pd_json_parse_whole(body, len, NULL);
    if (j == NULL) {
        pc__reply_error(out, 400, "malformed_json", "the body is not one JSON document");
        return PD_EINVAL;
    }
    int rc = pc_order_parse(j, in, &err);
    cJSON_Delete(j);
    if (rc != PD_OK)
        pc__reply_error(out, 400, "invalid_order", err.text);
    (void)app;
    return rc;
}

/* Order ids grow with time: "o-" + 16 hex of (wall-clock ms << 20 | sequence),
 * strictly increasing: above the last id this process made, and above the
 * greatest stored when it started (pc_core_ids_after), so a restart whose
 * clock went back continues after the ids already stored. Every b-tree
 * keyed by the order id (orders, trades, outbox, history) then takes each
 * new order at its right edge, on the same few pages as the orders just
 * before it: one commit of a batch writes those pages once. Random ids put
 * each order on its own leaf page of each of those indexes. */
static _Atomic uint64_t last_order_id;

void pc_core_ids_after(const char *order_id)
{
    if (order_id == NULL || strncmp(order_id, "o-", 2) != 0 || strlen(order_id) != 18 ||
        strspn(order_id + 2, "0123456789abcdef") != 16)
        return;     /* not an id of this form: nothing to continue after */
    uint64_t v = strtoull(order_id + 2, NULL, 16);
    uint64_t prev = atomic_load(&last_order_id);
    while (v > prev && !atomic_compare_exchange_weak(&last_order_id, &prev, v)) {
    }
}

static void new_order_id(int64_t now_ms, char out[PC_ORDER_ID_MAX + 1])
{
    uint64_t now = (uint64_t)now_ms << 20;
    uint64_t prev = atomic_load(&last_order_id);
    if (prev == 0) {
        char nonce[PD_NONCE_LEN + 1];
        now |= pd_nonce(nonce) == PD_OK ? strtoull(nonce + PD_NONCE_LEN - 5, NULL, 16) : 0;
    }
    uint64_t next;
    do
        next = now > prev ? now : prev + 1;
    while (!atomic_compare_exchange_weak(&last_order_id, &prev, next));
    snprintf(out, PC_ORDER_ID_MAX + 1, "o-%016" PRIx64, next);
}

/* The Redis pre-filter. Returns true when it already answered. */
static bool prefilter(struct pc_app *app, const struct pc_submit *sub, bool *claimed,
                      struct pc_reply *out)
{
    char original[PC_ORDER_ID_MAX + 1] = "";
    *claimed = false;
    if (app->dedup == NULL || pc_bug_on(PC_BUG_NO_DEDUP) || pc_bug_on(PC_BUG_DEDUP_RACE))
        return false;
    int v = app->dedup->claim(app->dedup->ctx, sub->fingerprint, sub->order_id,
                              sub->window_ms, original, sizeof original);
    if (v == PC_DEDUP_CLAIMED) {
        *claimed = true;
        return false;
    }
    if (v == PC_DEDUP_DUPLICATE && original[0] != '\0') {
        /* Redis may name an order that never got written: a SET whose
         * reply timed out still took effect, or its owner then lost the
         * database claim. Only an order the database has is an answer;
         * otherwise the database claim below decides. */
        struct pc_order o;
        if (pc_store_get(app->store, original, &o) == PD_OK) {
            app->metrics.duplicates_redis++;
            reply_duplicate(out, original, "redis");
            return true;
        }
        return false;
    }
    /* Redis down: the database claim below still guards correctly. */
    app->metrics.redis_unavailable++;
    return false;
}

void pc_core_submit(struct pc_app *app, const char *body, size_t len, bool is_json,
                    struct pc_reply *out)
{
    struct pc_order_in in;
    char fp[PD_SIG_HEX_LEN + 1], order_id[PC_ORDER_ID_MAX + 1], dup[PC_ORDER_ID_MAX + 1];
    app->metrics.submissions++;
    if (parse_body(app, body, len, is_json, &in, out) != PD_OK) {
        app->metrics.bad_requests++;
        return;
    }
    pc_order_fingerprint(&in, fp);
    int64_t now = pc__now(app);
    new_order_id(now, order_id);
    struct pc_submit sub = {&in, fp, order_id, now, app->cfg->dedup_window_ms,
                            app->cfg->payment_expiry_ms};
    bool claimed = false;
    if (prefilter(app, &sub, &claimed, out))
        return;
    int rc = pc_store_submit(app->store, &sub, dup);
    if (rc == PD_ECONFLICT && dup[0] != '\0') {
        app->metrics.duplicates_sqlite++;
        if (app->dedup != NULL && !pc_bug_on(PC_BUG_NO_DEDUP) && !pc_bug_on(PC_BUG_DEDUP_RACE))
            app->dedup->repoint(app->dedup->ctx, fp, dup, sub.window_ms);
        reply_duplicate(out, dup, "database");
        return;
    }
    if (rc != PD_OK) {
        if (claimed)
            app->dedup->release(app->dedup->ctx, fp, order_id);
        pc__reply_error(out, 500, "internal", pd_strerror(rc));
        return;
    }
    /* Redis answered nothing or named a ghost: point it at the truth. */
    if (app->dedup != NULL && !claimed && !pc_bug_on(PC_BUG_NO_DEDUP) &&
        !pc_bug_on(PC_BUG_DEDUP_RACE))
        app->dedup->repoint(app->dedup->ctx, fp, order_id, sub.window_ms);
    app->metrics.orders_created++;
    PD_LOG(PD_LOG_DEBUG, "pc", "act=order_created order=%s amount=%" PRId64 " currency=%s",
           order_id, in.amount, in.currency);
    reply_created(out, &in, &sub);
}

/* ---- POST /orders/{id}/pay ---- */

static void reply_pay(struct pc_reply *out, int http, const struct pc_order *o,
                      const char *out_trade_no, int status, const char *error,
                      const char *detail)
{
    cJSON *j = cJSON_CreateObject();
    if (j != NULL) {
        if (error != NULL) {
            cJSON_AddStringToObject(j, "error", error);
            cJSON_AddStringToObject(j, "detail", detail);
        }
        cJSON_AddStringToObject(j, "order_id", o->order_id);
        cJSON_AddStringToObject(j, "status", pc_status_name(status));
        if (out_trade_no != NULL && out_trade_no[0] != '\0')
            cJSON_AddStringToObject(j, "out_trade_no", out_trade_no);
        pd_json_add_i64(j, "amount", o->amount);
        cJSON_AddStringToObject(j, "currency", o->currency);
        pd_json_add_i64(j, "expires_at", o->expires_at);
    }
    pc__reply_json(out, http, j);
}

static void pay_started(struct pc_app *app, struct pc_pay *p, struct pc_reply *out)
{
    int status = PC_ST_PAYING;
    int outcome = pc__create_trade(app, &p->order, p->out_trade_no, app->notify_url, &status);
    if (outcome == PC_CREATE_OK) {
        reply_pay(out, 200, &p->order, p->out_trade_no, status, NULL, NULL);
    } else if (outcome == PC_CREATE_REJECTED) {
        reply_pay(out, 502, &p->order, p->out_trade_no, status, "gateway_rejected",
                  "the gateway refused the trade; the order is payable again");
    } else if (pc_bug_on(PC_BUG_TIMEOUT_IS_FAILURE)) {
        /* PC_BUG_TIMEOUT_IS_FAILURE: a timeout is taken for "failed". */
        pc_store_close_blind(app->store, p->order.order_id, pc__now(app));
        reply_pay(out, 502, &p->order, p->out_trade_no, PC_ST_CLOSED, "gateway_failed",
                  "the gateway did not answer");
    } else {
        reply_pay(out, 202, &p->order, p->out_trade_no, status, NULL, NULL);
    }
}

void pc_core_pay(struct pc_app *app, const char *order_id, struct pc_reply *out)
{
    struct pc_pay p;
    app->metrics.pay_calls++;
    int rc = pc_store_pay_begin(app->store, order_id, app->notify_url, pc__now(app),
                                app->cfg->callback_timeout_ms, &p);
    if (rc == PD_ENOTFOUND) {
        pc__reply_error(out, 404, "order_not_found", "no order with this id");
        return;
    }
    if (rc != PD_OK) {
        pc__reply_error(out, 500, "internal", pd_strerror(rc));
        return;
    }
    if (p.verdict == PC_PAY_IN_PROGRESS) {
        reply_pay(out, 409, &p.order, p.out_trade_no, p.order.status, "payment_in_progress",
                  "a gateway trade is already open for this order");
        return;
    }
    if (p.verdict == PC_PAY_NOT_PAYABLE) {
        reply_pay(out, 409, &p.order, p.order.cur_trade, p.order.status, "order_not_payable",
                  pc_status_final(p.order.status) ? "the order is final"
                                                  : "the order has expired");
        return;
    }
    pay_started(app, &p, out);
}

/* ---- GET /orders/{id} ---- */

void pc_core_get(struct pc_app *app, const char *order_id, struct pc_reply *out)
{
    int rc = PD_OK;
    char *text = pc_store_order_json(app->store, order_id, &rc);
    if (text != NULL) {
        out->status = 200;
        out->text = text;
        return;
    }
    if (rc == PD_ENOTFOUND)
        pc__reply_error(out, 404, "order_not_found", "no order with this id");
    else
        pc__reply_error(out, 500, "internal", pd_strerror(rc));
}

/* ---- POST /gateway/notify ---- */

static void reject(struct pc_app *app, struct pc_reply *out, int status, int reason,
                   const char *detail)
{
    app->metrics.callbacks_rejected[reason]++;
    PD_LOG(PD_LOG_WARN, "pc", "act=callback_rejected reason=%s detail=\"%s\"",
           pc_reject_name(reason), detail);
    reply_fail(out, status, detail);
}

static int verify(struct pc_app *app, const char *ts, const char *nonce, const char *sig,
                  const char *body, size_t len, struct pc_reply *out)
{
    /* PC_BUG_NO_SIGNATURE_CHECK: anything that parses is believed. */
    if (pc_bug_on(PC_BUG_NO_SIGNATURE_CHECK))
        return PD_OK;
    int v = pd_verify(app->cfg->gateway_secret, ts, nonce, sig, body, len,
                      pc__now(app) / 1000, app->cfg->sig_tolerance_ms / 1000);
    if (v == PD_SIG_OK)
        return PD_OK;
    int reason = v == PD_SIG_STALE   ? PC_REJ_STALE
                 : v == PD_SIG_BAD ? PC_REJ_BAD_SIGNATURE
                                   : PC_REJ_MISSING_HEADERS;
    reject(app, out, 401, reason, pd_verdict_name(v));
    return PD_EAUTH;
}

static int parse_fact(const char *body, size_t len, cJSON **json, struct pc_fact *f,
                      struct pd_json_err *err)
{
    *json = pd_json_parse_whole(body, len, NULL);
    if (*json == NULL || !cJSON_IsObject(*json))
        return pd_json_fail(err, "body: not a JSON object");
    cJSON *j = *json;
    f->has_money = true;
    int rc = pd_json_str(j, "out_trade_no", true, 64, "", &f->out_trade_no, err);
    if (rc == PD_OK)
        rc = pd_json_str(j, "trade_state", true, 16, "", &f->trade_state, err);
    if (rc == PD_OK)
        rc = pd_json_i64(j, "amount", true, 1, PC_AMOUNT_MAX, "", &f->amount, err);
    if (rc == PD_OK)
        rc = pd_json_str(j, "currency", true, 3, "", &f->currency, err);
    if (rc == PD_OK)
        rc = pd_json_str(j, "merchant_id", true, PC_ID_MAX, "", &f->merchant_id, err);
    if (rc == PD_OK)
        rc = pd_json_str(j, "trade_no", false, 64, "", &f->trade_no, err);
    return rc;
}

static void answer_applied(struct pc_app *app, const struct pc_fact *f, int result,
                           struct pc_reply *out)
{
    if (result == PC_APPLY_CHANGED) {
        app->metrics.callbacks_applied++;
        pc__after_change(app, f->out_trade_no);     /* wakes the refund sender if need be */
    } else {
        app->metrics.callbacks_ignored++;
        /* PC_BUG_NON_IDEMPOTENT_CALLBACK: every copy notifies again. */
        if (pc_bug_on(PC_BUG_NON_IDEMPOTENT_CALLBACK) && strcmp(f->trade_state, "SUCCESS") == 0)
            pc__outbox_again(app, f->out_trade_no);
    }
    cJSON *o = cJSON_CreateObject();
    if (o != NULL)
        cJSON_AddStringToObject(o, "code", "SUCCESS");
    pc__reply_json(out, 200, o);
}

void pc_core_notify(struct pc_app *app, const char *ts, const char *nonce, const char *sig,
                    const char *body, size_t len, struct pc_reply *out)
{
    app->metrics.callbacks_received++;
    if (verify(app, ts, nonce, sig, body, len, out) != PD_OK)
        return;
    struct pc_fact f = {.source = PC_SRC_CALLBACK, .nonce = nonce};
    struct pd_json_err err = {{0}};
    cJSON *json = NULL;
    if (parse_fact(body, len, &json, &f, &err) != PD_OK) {
        reject(app, out, 400, PC_REJ_MALFORMED, err.text);
        cJSON_Delete(json);
        return;
    }
    int result = PC_APPLY_IGNORED;
    int rc = pc_store_apply_fact(app->store, &f, pc__now(app), &result);
    if (rc != PD_OK)
        reply_fail(out, 500, "internal error, retry");
    else if (result == PC_APPLY_UNKNOWN_TRADE)
        reject(app, out, 404, PC_REJ_UNKNOWN_TRADE, "unknown out_trade_no");
    else if (result == PC_APPLY_MISMATCH)
        reject(app, out, 400, PC_REJ_MISMATCH, "amount, currency or merchant_id differ");
    else if (result == PC_APPLY_REPLAY)
        reject(app, out, 401, PC_REJ_REPLAY, "nonce already seen (replay)");
    else
        answer_applied(app, &f, result, out);
    cJSON_Delete(json);
}
