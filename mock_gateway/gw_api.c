/* gw_api.c -- the generic gateway profile over HTTP (create, query, close,
 * refund), the payer, and the routing of every request.
 *
 * Each channel request runs the same steps: validate (a 4xx changes
 * nothing), find the order key (attach, else out_trade_no), count the
 * occurrence of this op for the key, ask the fault rules, then answer as
 * the rule says. Every request gets one journal line. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_internal.h"
#include "gw_util.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_rand.h"
#include "pd_time.h"
#include "pd_util.h"

/* What a handler returns after it dropped the connection (for the access
 * log only: nothing was sent). */
#define CLOSE_CONNECTION 499
/* What a handler returns on the loop thread when the request must go to a
 * worker (it might sleep); nothing was answered, counted or changed. */
#define PUNT (-2)

/* Through gw_conn_reply, which also sends the Date header (paydrill reads
 * a child's simulated clock from it). */
void gw__reply_text(gw_conn *conn, int status, const char *json, size_t len)
{
    gw_conn_reply(conn, status, "application/json", json, len);
}

void gw__reply_error(gw_conn *conn, int status, const char *code, const char *fmt,
                     ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct pd_buf b;
    pd_buf_init(&b, 4096);
    int rc = pd_buf_puts(&b, "{\"code\":");
    rc = rc ? rc : gw_json_str(&b, code);
    rc = rc ? rc : pd_buf_puts(&b, ",\"message\":");
    rc = rc ? rc : gw_json_str(&b, msg);
    rc = rc ? rc : pd_buf_puts(&b, "}");
    if (rc == PD_OK)
        gw__reply_text(conn, status, b.data, b.len);
    else
        gw__reply_text(conn, 500, "{\"code\":\"SYSTEMERROR\",\"message\":\"internal\"}", 44);
    pd_buf_release(&b);
}

void gw__count(gw *g, enum gw_op op, int status)
{
    int cls = status / 100;
    if (cls < 0 || cls > 5)
        cls = 0;
    gw__inc(&g->requests[op][cls]);
}

/* ---- one channel request ---- */

struct req {
    gw *g;
    gw_conn *conn;
    enum gw_op op;
    int64_t now;
    char otn[GW_ID_MAX + 1];
    char key[GW_TEXT_MAX + 1];
    uint64_t attempt;
    struct gw_rules *rules;
    const struct gw_rule *rule;   /* the matching rule, or NULL */
    const char *fault;            /* journal label */
    int status;                   /* what was answered; 0 = nothing */
    char detail[200];
};

/* On the loop thread the line joins the group commit's batch, written
 * after the ledger commit and before any answer of the batch is sent. */
static void batch_line(gw *g, const struct gw_jentry *e)
{
    struct gw_bline *t = &g->batch_text[g->batch_n];
    struct gw_jentry *out = &g->batch[g->batch_n++];
    *out = *e;
    pd_strlcpy(t->detail, e->detail, sizeof t->detail);
    out->detail = t->detail;
    if (e->out_trade_no != NULL) {
        pd_strlcpy(t->otn, e->out_trade_no, sizeof t->otn);
        out->out_trade_no = t->otn;
    }
    if (e->key != NULL) {
        pd_strlcpy(t->key, e->key, sizeof t->key);
        out->key = t->key;
    }
}

static void journal_req(struct req *r)
{
    struct gw_jentry e = {r->now, gw_op_name(r->op), r->otn[0] ? r->otn : NULL,
                          r->key[0] ? r->key : NULL, r->attempt, r->fault, r->status,
                          r->detail};
    if (gw_conn_inline(r->conn))
        batch_line(r->g, &e);
    else
        gw_journal_append(r->g->journal, &e);
    gw__count(r->g, r->op, r->status);
}

/* A 4xx before anything happened: answered, journaled, nothing changed. */
static int refuse(struct req *r, int status, const char *code, const char *msg)
{
    r->status = status;
    snprintf(r->detail, sizeof r->detail, "%.40s: %.150s", code, msg);
    gw__inc(&r->g->metrics[GW_M_BAD_REQUEST]);
    journal_req(r);
    gw__reply_error(r->conn, status, code, "%s", msg);
    return status;
}

static int read_json(struct req *r, bool optional, cJSON **out)
{
    char *body = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = gw_conn_body(r->conn, GW_BODY_MAX, &body, &len);
    if (rc == PD_ETOOBIG)
        return refuse(r, 413, "PAYLOAD_TOO_LARGE", "body: longer than 65536 bytes");
    if (rc != PD_OK)
        return refuse(r, 400, "PARAM_ERROR", "body: could not be read");
    if (optional && len == 0) {
        free(body);
        return 0;
    }
    *out = pd_json_parse_whole(body, len, NULL);
    free(body);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return refuse(r, 400, "PARAM_ERROR", "body: must be a JSON object");
    }
    return 0;
}

/* Sleeps for the base latency knob and a slow rule, then handles the
 * actions that answer instead of the operation. Returns 0 to go on. */
static int before(struct req *r)
{
    gw *g = r->g;
    struct gw_event ev = {r->op, r->key, r->otn, r->attempt, r->now, g->epoch_ms, g->cfg.seed};
    size_t pos = 0;
    if (r->rules == NULL)
        r->rules = gw__rules(g);
    r->rule = gw_rules_next(r->rules, &ev, &pos);
    if (g->cfg.has_latency && r->op != GW_OP_PAY) {
        struct gw_rule base = {.id = "latency"};
        pd_sleep_ms(gw_dist_draw(&g->cfg.latency, &base, &ev, "latency"));
    }
    if (r->rule == NULL)
        return 0;
    const struct gw_action *a = &r->rule->action;
    gw__inc(&g->faults[a->type]);
    switch (a->type) {
    case GW_ACT_SLOW:
        r->fault = "slow";
        pd_sleep_ms(gw_dist_draw(&a->dist, r->rule, &ev, "slow"));
        return 0;
    case GW_ACT_ERROR:
        r->fault = "error";
        r->status = a->status;
        snprintf(r->detail, sizeof r->detail, "injected error");
        journal_req(r);
        gw__reply_text(r->conn, a->status, a->body, strlen(a->body));
        return a->status;
    case GW_ACT_RATE_LIMIT: {
        r->fault = "rate_limit";
        r->status = 429;
        snprintf(r->detail, sizeof r->detail, "retry_after_ms=%" PRId64, a->retry_after_ms);
        char body[160];
        journal_req(r);
        int n = snprintf(body, sizeof body,
                         "{\"code\":\"FREQUENCY_LIMITED\",\"message\":\"rate limited\","
                         "\"retry_after_ms\":%" PRId64 "}", a->retry_after_ms);
        gw_conn_printf(r->conn, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                  "Retry-After: %" PRId64 "\r\nContent-Length: %d\r\n\r\n",
                  (a->retry_after_ms + 999) / 1000, n);
        gw_conn_write(r->conn, body, (size_t)n);
        return 429;
    }
    case GW_ACT_HANG:
        r->fault = "hang";
        snprintf(r->detail, sizeof r->detail, "no answer (%s)", a->close ? "closed" : "hung");
        journal_req(r);
        if (!a->close)
            pd_sleep_ms(a->dist.fixed_ms);
        gw_conn_drop(r->conn);
        return CLOSE_CONNECTION;
    default:
        return 0;   /* commit_drop and stale_query act after the operation */
    }
}

/* Answers body (or, under commit_drop, answers nothing), then journals. */
static int answer(struct req *r, int status, const char *body, size_t len)
{
    const struct gw_action *a = r->rule ? &r->rule->action : NULL;
    if (a != NULL && a->type == GW_ACT_COMMIT_DROP) {
        r->fault = "commit_drop";
        r->status = 0;
        snprintf(r->detail + strlen(r->detail), sizeof r->detail - strlen(r->detail),
                 " (would answer %d; dropped)", status);
        journal_req(r);
        if (!a->close)
            pd_sleep_ms(a->dist.fixed_ms);
        gw_conn_drop(r->conn);
        return CLOSE_CONNECTION;
    }
    r->status = status;
    /* Journaled before the answer leaves, so a client's next request always
     * lands after this one in the journal. */
    journal_req(r);
    gw__reply_text(r->conn, status, body, len);
    return status;
}

static int answer_error(struct req *r, int status, const char *code, const char *msg)
{
    char body[300];
    int n = snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}", code, msg);
    snprintf(r->detail, sizeof r->detail, "%s", code);
    return answer(r, status, body, (size_t)n);
}

static int answer_buf(struct req *r, int status, struct pd_buf *b, int rc)
{
    if (rc != PD_OK) {
        pd_buf_release(b);
        return answer_error(r, 500, "SYSTEMERROR", "internal error");
    }
    int out = answer(r, status, b->data, b->len);
    pd_buf_release(b);
    return out;
}

static void set_key(struct req *r, const struct gw_trade *t)
{
    pd_strlcpy(r->key, t != NULL && t->attach[0] ? t->attach : r->otn, sizeof r->key);
}

/* On the loop thread: true when the request could sleep (a latency knob,
 * or a rule selecting the order), so it must go to a worker. The rules
 * taken here are the ones before() applies. */
static bool must_punt(struct req *r)
{
    gw *g = r->g;
    if (g->cfg.has_latency)
        return true;
    if (r->rules == NULL)
        r->rules = gw__rules(g);
    struct gw_event ev = {r->op, r->key, r->otn, 0, r->now, g->epoch_ms, g->cfg.seed};
    return gw_rules_may_select(r->rules, &ev);
}

/* Counts the occurrence (the first side effect of a request), or PUNT. */
static int begin_op(struct req *r, const struct gw_trade *t)
{
    set_key(r, t);
    if (gw_conn_inline(r->conn) && must_punt(r))
        return PUNT;
    r->attempt = gw_occ_next(r->g->occ, r->key, r->op);
    return 0;
}

/* ---- trades as JSON ---- */

static int trade_json(struct pd_buf *b, const struct gw_trade *t, const char *state,
                      bool hide_payment)
{
    int rc = pd_buf_puts(b, "{\"out_trade_no\":");
    rc = rc ? rc : gw_json_str(b, t->out_trade_no);
    rc = rc ? rc : pd_buf_printf(b, ",\"trade_no\":\"%s\",\"trade_state\":\"%s\",\"amount\":%" PRId64
                                 ",\"currency\":", t->trade_no, state, t->amount);
    rc = rc ? rc : gw_json_str(b, t->currency);
    rc = rc ? rc : pd_buf_puts(b, ",\"merchant_id\":");
    rc = rc ? rc : gw_json_str(b, t->merchant_id);
    rc = rc ? rc : pd_buf_puts(b, ",\"attach\":");
    rc = rc ? rc : gw_json_str(b, t->attach[0] ? t->attach : NULL);
    rc = rc ? rc : pd_buf_printf(b, ",\"created_at\":%" PRId64 ",\"success_time\":", t->created_at);
    rc = rc ? rc : gw_json_i64_or_null(b, t->success_time, hide_payment || t->success_time == 0);
    rc = rc ? rc : pd_buf_printf(b, ",\"refunded_amount\":%" PRId64 "}",
                                 hide_payment ? 0 : t->refunded_amount);
    return rc;
}

/* Optional text field: absent, null or "" mean none; else 1..max bytes, no
 * control characters. */
static int opt_text(const cJSON *obj, const char *key, size_t max, char *out, size_t out_len,
                    struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    out[0] = '\0';
    if (it == NULL || cJSON_IsNull(it) || (cJSON_IsString(it) && it->valuestring[0] == '\0'))
        return PD_OK;
    if (!cJSON_IsString(it) || !gw_valid_text(it->valuestring, max))
        return pd_json_fail(err, "%s: must be a string of at most %zu bytes without control "
                                 "characters", key, max);
    pd_strlcpy(out, it->valuestring, out_len);
    return PD_OK;
}

static int req_id(const cJSON *obj, const char *key, char *out, size_t out_len,
                  struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL)
        return pd_json_fail(err, "%s: required", key);
    if (!cJSON_IsString(it) || !gw_valid_id(it->valuestring, GW_ID_MAX))
        return pd_json_fail(err, "%s: must be 1 to 64 of [A-Za-z0-9_.-]", key);
    pd_strlcpy(out, it->valuestring, out_len);
    return PD_OK;
}

static int req_amount(const cJSON *obj, int64_t *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "amount");
    if (it == NULL)
        return pd_json_fail(err, "amount: required");
    if (!pd_json_is_int(it) || it->valuedouble < 1 || it->valuedouble > 1e12)
        return pd_json_fail(err, "amount: must be an integer between 1 and 1000000000000 "
                                 "(minor units)");
    *out = (int64_t)it->valuedouble;
    return PD_OK;
}

static int req_currency(const cJSON *obj, char out[4], struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "currency");
    const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
    if (it == NULL)
        return pd_json_fail(err, "currency: required");
    if (s == NULL || strlen(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' ||
        s[2] < 'A' || s[2] > 'Z')
        return pd_json_fail(err, "currency: must be an ISO 4217 code such as \"CNY\"");
    memcpy(out, s, 4);
    return PD_OK;
}

static int req_url(const cJSON *obj, char *out, size_t out_len, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "notify_url");
    const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
    if (it == NULL)
        return pd_json_fail(err, "notify_url: required");
    if (s == NULL || !gw_valid_text(s, GW_URL_MAX) || strchr(s, ' ') != NULL ||
        (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) || strlen(s) < 10)
        return pd_json_fail(err, "notify_url: must be an http(s) URL of at most 512 bytes");
    pd_strlcpy(out, s, out_len);
    return PD_OK;
}

static int parse_create(const cJSON *body, struct gw_trade *t, struct pd_json_err *err)
{
    memset(t, 0, sizeof *t);
    if (req_id(body, "out_trade_no", t->out_trade_no, sizeof t->out_trade_no, err) ||
        req_amount(body, &t->amount, err) || req_currency(body, t->currency, err) ||
        req_url(body, t->notify_url, sizeof t->notify_url, err) ||
        req_id(body, "merchant_id", t->merchant_id, sizeof t->merchant_id, err) ||
        opt_text(body, "description", GW_TEXT_MAX, t->description, sizeof t->description, err) ||
        opt_text(body, "attach", GW_TEXT_MAX, t->attach, sizeof t->attach, err))
        return PD_EINVAL;
    return PD_OK;
}

/* ---- the operations ---- */

static int do_create(struct req *r)
{
    cJSON *body = NULL;
    struct pd_json_err err;
    struct gw_trade in, t;
    int st = read_json(r, false, &body);
    if (st != 0)
        return st;
    int rc = parse_create(body, &in, &err);
    cJSON_Delete(body);
    if (rc != PD_OK)
        return refuse(r, 400, "PARAM_ERROR", err.text);
    pd_strlcpy(r->otn, in.out_trade_no, sizeof r->otn);
    if ((st = begin_op(r, &in)) != 0 || (st = before(r)) != 0)
        return st;
    in.created_at = r->now;
    enum gw_outcome oc = GW_OK;
    rc = gw_conn_inline(r->conn) ? gw_store_batch_create(r->g->store, &in, &t, &oc)
                                 : gw_store_create(r->g->store, &in, &t, &oc);
    if (rc != PD_OK)
        return answer_error(r, 500, "SYSTEMERROR", "ledger write failed");
    if (oc == GW_CONFLICT)
        return answer_error(r, 409, "OUT_TRADE_NO_USED",
                            "out_trade_no was used with other facts");
    snprintf(r->detail, sizeof r->detail, "trade_no=%s state=%s", t.trade_no, t.state);
    struct pd_buf b;
    pd_buf_init(&b, 8192);
    return answer_buf(r, 200, &b, trade_json(&b, &t, t.state, false));
}

/* Looks the trade up for query/close/pay and starts the op. *found false
 * means 404 (already answered unless a fault answered first). */
static int lookup(struct req *r, struct gw_trade *t, bool *found)
{
    int rc = gw_conn_inline(r->conn) ? gw_store_batch_get(r->g->store, r->otn, t)
                                     : gw_store_get(r->g->store, r->otn, t);
    *found = rc == PD_OK;
    if (rc != PD_OK && rc != PD_ENOTFOUND)
        return refuse(r, 500, "SYSTEMERROR", "ledger read failed");
    int st = begin_op(r, *found ? t : NULL);
    return st ? st : before(r);
}

static int do_query(struct req *r)
{
    struct gw_trade t;
    bool found;
    int st = lookup(r, &t, &found);
    if (st != 0)
        return st;
    if (!found)
        return answer_error(r, 404, "ORDER_NOT_EXIST", "no such trade");
    const char *state = t.state;
    const struct gw_action *a = r->rule ? &r->rule->action : NULL;
    bool stale = a != NULL && a->type == GW_ACT_STALE_QUERY && t.success_time != 0 &&
                 r->now - t.success_time < a->for_ms;
    if (stale) {
        state = a->state;
        r->fault = "stale_query";
    }
    snprintf(r->detail, sizeof r->detail, "state=%s%s", state, stale ? " (stale)" : "");
    struct pd_buf b;
    pd_buf_init(&b, 8192);
    return answer_buf(r, 200, &b, trade_json(&b, &t, state, stale));
}

static int answer_closed(struct req *r, const char *detail)
{
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    char out[160];
    int n = snprintf(out, sizeof out, "{\"out_trade_no\":\"%s\",\"trade_state\":\"CLOSED\"}",
                     r->otn);
    return answer(r, 200, out, (size_t)n);
}

static int do_close(struct req *r)
{
    struct gw_trade t;
    bool found;
    cJSON *body = NULL;
    int st = read_json(r, true, &body);
    cJSON_Delete(body);
    if (st != 0)
        return st;
    if ((st = lookup(r, &t, &found)) != 0)
        return st;
    const struct gw_action *a = r->rule ? &r->rule->action : NULL;
    /* fake_success: "closed" although the trade stays open and payable
     * (catalogue #22); a paid trade still answers ORDERPAID below. */
    bool fake = a != NULL && a->type == GW_ACT_FAKE_SUCCESS && found &&
                (strcmp(t.state, "NOTPAY") == 0 || strcmp(t.state, "USERPAYING") == 0);
    if (fake) {
        r->fault = "fake_success";
        return answer_closed(r, "state=CLOSED (fake: still NOTPAY)");
    }
    enum gw_outcome oc = GW_NOT_FOUND;
    if (found && gw_store_close_trade(r->g->store, r->otn, r->now, &t, &oc) != PD_OK)
        return answer_error(r, 500, "SYSTEMERROR", "ledger write failed");
    if (oc == GW_NOT_FOUND)
        return answer_error(r, 404, "ORDER_NOT_EXIST", "no such trade");
    if (oc == GW_ORDERPAID)
        return answer_error(r, 409, "ORDERPAID", "the trade is paid; treat the order as paid");
    return answer_closed(r, "state=CLOSED");
}

static int refund_json(struct pd_buf *b, const struct gw_refund *rf)
{
    int rc = pd_buf_puts(b, "{\"out_refund_no\":");
    rc = rc ? rc : gw_json_str(b, rf->out_refund_no);
    rc = rc ? rc : pd_buf_puts(b, ",\"out_trade_no\":");
    rc = rc ? rc : gw_json_str(b, rf->out_trade_no);
    rc = rc ? rc : pd_buf_printf(b, ",\"amount\":%" PRId64 ",\"status\":\"SUCCESS\","
                                 "\"refunded_at\":%" PRId64 "}", rf->amount, rf->at);
    return rc;
}

static int refund_outcome(struct req *r, enum gw_outcome oc, const struct gw_refund *out)
{
    switch (oc) {
    case GW_CONFLICT:
        return answer_error(r, 409, "OUT_REFUND_NO_USED", "out_refund_no was used with other facts");
    case GW_NOT_FOUND: return answer_error(r, 404, "ORDER_NOT_EXIST", "no such trade");
    case GW_NOT_PAID: return answer_error(r, 409, "NOT_PAID", "the trade was not paid");
    case GW_EXCEEDS:
        return answer_error(r, 409, "REFUND_EXCEEDS_CHARGE", "refunds would exceed the charge");
    default: break;
    }
    snprintf(r->detail, sizeof r->detail, "out_refund_no=%s amount=%" PRId64, out->out_refund_no,
             out->amount);
    struct pd_buf b;
    pd_buf_init(&b, 4096);
    return answer_buf(r, 200, &b, refund_json(&b, out));
}

static int do_refund(struct req *r)
{
    cJSON *body = NULL;
    struct pd_json_err err;
    struct gw_refund in = {0}, out = {0};
    struct gw_trade t;
    int st = read_json(r, false, &body);
    if (st != 0)
        return st;
    int rc = req_id(body, "out_trade_no", in.out_trade_no, sizeof in.out_trade_no, &err);
    rc = rc ? rc : req_id(body, "out_refund_no", in.out_refund_no, sizeof in.out_refund_no, &err);
    rc = rc ? rc : req_amount(body, &in.amount, &err);
    cJSON_Delete(body);
    if (rc != PD_OK)
        return refuse(r, 400, "PARAM_ERROR", err.text);
    pd_strlcpy(r->otn, in.out_trade_no, sizeof r->otn);
    bool found;
    if ((st = lookup(r, &t, &found)) != 0)
        return st;
    in.at = r->now;
    enum gw_outcome oc = GW_OK;
    if (gw_store_refund(r->g->store, &in, &out, &oc) != PD_OK)
        return answer_error(r, 500, "SYSTEMERROR", "ledger write failed");
    return refund_outcome(r, oc, &out);
}

/* POST /sim/payer/{out_trade_no}/pay: the user pays in the wallet. */
static int do_pay(struct req *r)
{
    cJSON *body = NULL;
    struct gw_trade t;
    bool found;
    char payer_key[GW_TEXT_MAX + 1] = "";
    struct pd_json_err err;
    int st = read_json(r, true, &body);
    if (st != 0)
        return st;
    int rc = body ? opt_text(body, "key", GW_TEXT_MAX, payer_key, sizeof payer_key, &err) : PD_OK;
    cJSON_Delete(body);
    if (rc != PD_OK)
        return refuse(r, 400, "PARAM_ERROR", err.text);
    if ((st = lookup(r, &t, &found)) != 0)
        return st;
    enum gw_outcome oc = GW_NOT_FOUND;
    bool in_batch = gw_conn_inline(r->conn);
    if (found) {
        rc = in_batch ? gw_store_batch_pay(r->g->store, r->otn, r->now, r->now, &t, &oc)
                      : gw_store_pay(r->g->store, r->otn, r->now, r->now, &t, &oc);
        if (rc != PD_OK)
            return answer_error(r, 500, "SYSTEMERROR", "ledger write failed");
    }
    if (oc == GW_OK && in_batch)
        r->g->paid[r->g->paid_n++] = (struct gw_paid){t, r->now};   /* owed at the commit */
    else if (oc == GW_OK)
        gw_cb_owe(r->g->cb, &t, r->now);
    if (payer_key[0])
        snprintf(r->detail, sizeof r->detail, "payer_key=%s ", payer_key);
    if (oc == GW_NOT_FOUND)
        return answer_error(r, 404, "ORDER_NOT_EXIST", "no such trade");
    if (oc == GW_ALREADY_PAID)
        return answer_error(r, 409, "ALREADY_PAID", "the trade is already paid; no second charge");
    if (oc == GW_TRADE_CLOSED)
        return answer_error(r, 409, "TRADE_CLOSED", "the trade is closed and cannot be paid");
    char out[200];
    int n = snprintf(out, sizeof out, "{\"out_trade_no\":\"%s\",\"trade_no\":\"%s\","
                     "\"trade_state\":\"SUCCESS\",\"success_time\":%" PRId64 "}",
                     t.out_trade_no, t.trade_no, t.success_time);
    snprintf(r->detail + strlen(r->detail), sizeof r->detail - strlen(r->detail),
             "charged amount=%" PRId64, t.amount);
    return answer(r, 200, out, (size_t)n);
}

/* ---- routing ---- */

#define SEGS_MAX 6

/* Splits "/a/b/c" into segments (pointing into buf). Returns the count, or
 * -1 when there are too many or one is empty (e.g. "//"). */
static int split_path(const char *path, char *buf, size_t buf_len, char **segs)
{
    if (pd_strlcpy(buf, path, buf_len) != PD_OK || buf[0] != '/')
        return -1;
    int n = 0;
    char *p = buf + 1;
    if (*p == '\0')
        return 0;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash != NULL)
            *slash = '\0';
        if (*p == '\0' || n == SEGS_MAX)
            return -1;
        segs[n++] = p;
        if (slash == NULL)
            return n;
        p = slash + 1;
    }
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The protocol or payer operation a path names, or -1; *post tells the
 * method it takes (POST, else GET). */
static int channel_op(char **s, int n, bool *post)
{
    bool payments = n >= 2 && is(s[0], "v1") && is(s[1], "payments");
    *post = true;
    if (payments && n == 2)
        return GW_OP_CREATE;
    if (payments && n == 3) {
        *post = false;
        return GW_OP_QUERY;
    }
    if (payments && n == 4 && is(s[3], "close"))
        return GW_OP_CLOSE;
    if (n == 2 && is(s[0], "v1") && is(s[1], "refunds"))
        return GW_OP_REFUND;
    if (n == 4 && is(s[0], "sim") && is(s[1], "payer") && is(s[3], "pay"))
        return GW_OP_PAY;
    return -1;
}

/* The protocol and payer routes. Returns -1 when the path is not one. */
static int route_channel(struct req *r, const char *method, char **s, int n)
{
    bool want;   /* POST, else GET */
    int op = channel_op(s, n, &want);
    if (op < 0)
        return -1;
    r->op = (enum gw_op)op;
    if (!is(method, want ? "POST" : "GET"))
        return refuse(r, 405, "METHOD_NOT_ALLOWED", want ? "use POST" : "use GET");
    if (r->op == GW_OP_QUERY || r->op == GW_OP_CLOSE || r->op == GW_OP_PAY) {
        const char *otn = s[2];   /* /v1/payments/{otn}[/close], /sim/payer/{otn}/pay */
        if (!gw_valid_id(otn, GW_ID_MAX))
            return refuse(r, 400, "PARAM_ERROR", "out_trade_no: must be 1 to 64 of [A-Za-z0-9_.-]");
        pd_strlcpy(r->otn, otn, sizeof r->otn);
    }
    switch (r->op) {
    case GW_OP_CREATE: return do_create(r);
    case GW_OP_QUERY: return do_query(r);
    case GW_OP_CLOSE: return do_close(r);
    case GW_OP_REFUND: return do_refund(r);
    default: return do_pay(r);
    }
}

static int admin_bad_method(gw_conn *conn, const char *allowed)
{
    gw__reply_error(conn, 405, "METHOD_NOT_ALLOWED", "use %s", allowed);
    return 405;
}

/* The admin routes. Returns -1 when the path is not one. */
static int route_admin(gw *g, gw_conn *conn, const char *method, char **s, int n)
{
    bool get = is(method, "GET");
    if (n == 1 && is(s[0], "healthz"))
        return get ? (gw__reply_text(conn, 200, "{\"status\":\"ok\"}", 15), 200)
                   : admin_bad_method(conn, "GET");
    if (n == 1 && is(s[0], "metrics"))
        return get ? (gw_admin_metrics(g, conn), 200) : admin_bad_method(conn, "GET");
    if (n != 2 || !is(s[0], "sim"))
        return -1;
    if (is(s[1], "status"))
        return get ? (gw_admin_status(g, conn), 200) : admin_bad_method(conn, "GET");
    if (is(s[1], "ledger"))
        return get ? (gw_admin_ledger(g, conn), 200) : admin_bad_method(conn, "GET");
    if (is(s[1], "journal"))
        return get ? (gw_admin_journal(g, conn), 200) : admin_bad_method(conn, "GET");
    if (is(s[1], "reset"))
        return is(method, "POST") ? (gw_admin_reset(g, conn), 200) : admin_bad_method(conn, "POST");
    if (is(s[1], "faults")) {
        if (get)
            gw_admin_faults_get(g, conn);
        else if (is(method, "PUT"))
            gw_admin_faults_put(g, conn);
        else
            return admin_bad_method(conn, "GET or PUT");
        return 200;
    }
    return -1;
}

static void req_init(struct req *r, gw *g, gw_conn *conn)
{
    memset(r, 0, sizeof *r);
    r->g = g;
    r->conn = conn;
    r->now = pd_now_ms();
    r->op = GW_OP_QUERY;
}

void gw_api_slow(void *ctx, gw_conn *conn)
{
    gw *g = ctx;
    const struct gw_request *rq = gw_conn_request(conn);
    struct req r;
    req_init(&r, g, conn);
    char buf[1024];
    char *segs[SEGS_MAX];
    const char *path = rq->path;
    int n = split_path(path, buf, sizeof buf, segs);
    int st = n < 0 ? -1 : route_channel(&r, rq->method, segs, n);
    if (st < 0 && n >= 0)
        st = route_admin(g, conn, rq->method, segs, n);
    gw_rules_unref(r.rules);
    if (st < 0)
        gw__reply_error(conn, 404, "NOT_FOUND", "no such endpoint: %.100s %.200s", rq->method,
                        path);
}

bool gw_api_fast(void *ctx, gw_conn *conn)
{
    gw *g = ctx;
    const struct gw_request *rq = gw_conn_request(conn);
    char buf[1024];
    char *segs[SEGS_MAX];
    if (g->cfg.has_latency || g->batch_n >= GW_BATCH_MAX || g->paid_n >= GW_BATCH_MAX)
        return false;
    int n = split_path(rq->path, buf, sizeof buf, segs);
    bool post;
    int op = n < 0 ? -1 : channel_op(segs, n, &post);
    if ((op != GW_OP_CREATE && op != GW_OP_QUERY && op != GW_OP_PAY) ||
        !is(rq->method, post ? "POST" : "GET"))
        return false;
    struct req r;
    req_init(&r, g, conn);
    int st = route_channel(&r, rq->method, segs, n);
    gw_rules_unref(r.rules);
    return st != PUNT;
}

int gw_api_flush(void *ctx)
{
    gw *g = ctx;
    int rc = gw_store_batch_commit(g->store);
    if (rc == PD_OK && g->batch_n > 0)
        gw_journal_append_many(g->journal, g->batch, g->batch_n);
    /* A charge's callback is owed once the charge is stored, and before
     * its payer hears of it (the loop sends the batch's answers next). A
     * failed batch charged nothing: its callbacks are not owed. */
    for (size_t i = 0; rc == PD_OK && i < g->paid_n; i++)
        gw_cb_owe(g->cb, &g->paid[i].t, g->paid[i].due_ms);
    if (rc != PD_OK)
        PD_LOG(PD_LOG_ERROR, "gw", "act=group_commit lines=%zu charges=%zu err=%s", g->batch_n,
               g->paid_n, pd_strerror(rc));
    g->batch_n = 0;
    g->paid_n = 0;
    return rc;
}
