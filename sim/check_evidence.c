/* check_evidence.c -- slices of G, P and B as cJSON for a violation's
 * evidence, and the faults an order met (from the gateway journal, the
 * payer's calls, the business's answers and the process events). */
#include <stdio.h>
#include <string.h>

#include "check_eval.h"
#include "check_evidence.h"
#include "pd_json.h"

void sim__json_str(cJSON *o, const char *k, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

void sim__json_time(cJSON *o, const char *k, int64_t v)
{
    if (v == SIM_NO_TIME)
        cJSON_AddNullToObject(o, k);
    else
        pd_json_add_i64(o, k, v);
}

/* A string member from a model string id (null for 0). */
static void jstr(const struct sim_model *m, cJSON *o, const char *k, sim_sid id)
{
    sim__json_str(o, k, sim__s(m, id));
}

cJSON *sim__ev_trade(const struct sim_model *m, const struct sim_gtrade *t)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    jstr(m, o, "out_trade_no", t->out_trade_no);
    jstr(m, o, "trade_no", t->trade_no);
    jstr(m, o, "attach", t->attach);
    pd_json_add_i64(o, "amount", t->amount);
    jstr(m, o, "currency", t->currency);
    jstr(m, o, "state", t->state);
    sim__json_time(o, "created_at", t->created_at);
    sim__json_time(o, "closed_at", t->closed_at);
    cJSON *ch = cJSON_AddArrayToObject(o, "charges");
    for (uint32_t i = 0; ch && i < t->n_charges; i++) {
        cJSON *c = cJSON_CreateObject();
        pd_json_add_i64(c, "at", t->charges[i].at);
        pd_json_add_i64(c, "amount", t->charges[i].amount);
        cJSON_AddItemToArray(ch, c);
    }
    cJSON *rf = cJSON_AddArrayToObject(o, "refunds");
    for (uint32_t i = 0; rf && i < t->n_refunds; i++) {
        cJSON *r = cJSON_CreateObject();
        jstr(m, r, "out_refund_no", t->refunds[i].out_refund_no);
        pd_json_add_i64(r, "amount", t->refunds[i].amount);
        sim__json_time(r, "at", t->refunds[i].at);
        cJSON_AddItemToArray(rf, r);
    }
    pd_json_add_i64(o, "refunded_amount", t->refunded_amount);
    cJSON *cb = cJSON_AddObjectToObject(o, "callbacks");
    if (cb != NULL) {
        pd_json_add_i64(cb, "attempts", t->cb_attempts);
        cJSON_AddBoolToObject(cb, "acked", t->cb_acked);
        cJSON_AddBoolToObject(cb, "gave_up", t->cb_gave_up);
        cJSON_AddBoolToObject(cb, "pending", t->cb_pending);
    }
    return o;
}

static cJSON *ev_history(const struct sim_model *m, const struct sim_porder *o)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < o->n_hist; i++) {
        cJSON *h = cJSON_CreateObject();
        pd_json_add_i64(h, "at", o->hist[i].at);
        jstr(m, h, "from", o->hist[i].from);
        jstr(m, h, "to", o->hist[i].to);
        jstr(m, h, "cause", o->hist[i].cause);
        cJSON_AddItemToArray(a, h);
    }
    return a;
}

static cJSON *ev_ptrades(const struct sim_model *m, const struct sim_porder *o)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < o->n_trades; i++) {
        cJSON *t = cJSON_CreateObject();
        jstr(m, t, "out_trade_no", o->trades[i].out_trade_no);
        pd_json_add_i64(t, "attempt", o->trades[i].attempt);
        jstr(m, t, "state", o->trades[i].state);
        cJSON_AddItemToArray(a, t);
    }
    return a;
}

static cJSON *ev_prefunds(const struct sim_model *m, const struct sim_porder *o)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < o->n_refunds; i++) {
        const struct sim_prefund *f = &o->refunds[i];
        cJSON *r = cJSON_CreateObject();
        jstr(m, r, "out_refund_no", f->out_refund_no);
        jstr(m, r, "out_trade_no", f->out_trade_no);
        pd_json_add_i64(r, "amount", f->amount);
        jstr(m, r, "status", f->status);
        jstr(m, r, "reason", f->reason);
        cJSON_AddItemToArray(a, r);
    }
    return a;
}

static cJSON *ev_pnotifs(const struct sim_model *m, const struct sim_porder *o)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < o->n_notifs; i++) {
        const struct sim_pnotif *n = &o->notifs[i];
        cJSON *x = cJSON_CreateObject();
        jstr(m, x, "event_id", n->event_id);
        pd_json_add_i64(x, "seq", n->seq);
        jstr(m, x, "status", n->status);
        pd_json_add_i64(x, "attempts", n->attempts);
        sim__json_time(x, "delivered_at", n->delivered_at);
        pd_json_add_i64(x, "last_http_status", n->last_http_status);
        cJSON_AddItemToArray(a, x);
    }
    return a;
}

cJSON *sim__ev_order(const struct sim_model *m, const struct sim_porder *o)
{
    cJSON *x = cJSON_CreateObject();
    if (x == NULL)
        return NULL;
    jstr(m, x, "order_id", o->order_id);
    jstr(m, x, "client_ref", o->client_ref);
    jstr(m, x, "status", o->status);
    pd_json_add_i64(x, "amount", o->amount);
    jstr(m, x, "currency", o->currency);
    cJSON_AddItemToObject(x, "history", ev_history(m, o));
    cJSON_AddItemToObject(x, "trades", ev_ptrades(m, o));
    cJSON_AddItemToObject(x, "refunds", ev_prefunds(m, o));
    cJSON_AddItemToObject(x, "notifications", ev_pnotifs(m, o));
    return x;
}

cJSON *sim__ev_receipt(const struct sim_model *m, const struct sim_receipt *r)
{
    cJSON *x = cJSON_CreateObject();
    if (x == NULL)
        return NULL;
    pd_json_add_i64(x, "at", r->at);
    jstr(m, x, "event_id", r->event_id);
    jstr(m, x, "order_id", r->order_id);
    sim__json_time(x, "seq", r->seq);
    jstr(m, x, "status", r->status);
    sim__json_time(x, "amount", r->amount);
    jstr(m, x, "currency", r->currency);
    cJSON_AddBoolToObject(x, "signature_ok", r->signature_ok);
    pd_json_add_i64(x, "answered", r->answered);
    cJSON_AddBoolToObject(x, "applied", r->applied);
    return x;
}

cJSON *sim__ev_submission(const struct sim_model *m, const struct sim_submission *s)
{
    cJSON *x = cJSON_CreateObject();
    if (x == NULL)
        return NULL;
    jstr(m, x, "key", s->key);
    jstr(m, x, "kind", s->kind);
    jstr(m, x, "original_key", s->original_key);
    pd_json_add_i64(x, "at", s->at);
    pd_json_add_i64(x, "status", s->status);
    jstr(m, x, "order_id", s->order_id);
    jstr(m, x, "error", s->error);
    jstr(m, x, "client_ref", s->client_ref);
    sim__json_time(x, "amount", s->amount);
    jstr(m, x, "currency", s->currency);
    return x;
}

/* {"G": {"trades": [...]}, "P": order or null, "B": {"receipts": [...]}}
 * for order o (or for the single trade t when o is SIM_NONE). */
cJSON *sim__evidence(const struct sim_model *m, int32_t o, int32_t t)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON *g = cJSON_AddObjectToObject(ev, "G");
    cJSON *gt = cJSON_AddArrayToObject(g, "trades");
    if (ev == NULL || gt == NULL) {
        cJSON_Delete(ev);
        return NULL;
    }
    if (o != SIM_NONE) {
        for (int32_t i = m->orders.v[o].first_trade; i != SIM_NONE;
             i = m->trades.v[i].next_of_order)
            cJSON_AddItemToArray(gt, sim__ev_trade(m, &m->trades.v[i]));
    } else if (t != SIM_NONE) {
        cJSON_AddItemToArray(gt, sim__ev_trade(m, &m->trades.v[t]));
    }
    if (o != SIM_NONE)
        cJSON_AddItemToObject(ev, "P", sim__ev_order(m, &m->orders.v[o]));
    else
        cJSON_AddNullToObject(ev, "P");
    cJSON *b = cJSON_AddObjectToObject(ev, "B");
    cJSON *br = cJSON_AddArrayToObject(b, "receipts");
    for (int32_t i = o != SIM_NONE ? m->orders.v[o].first_receipt : SIM_NONE;
         br && i != SIM_NONE; i = m->receipts.v[i].next_of_order)
        cJSON_AddItemToArray(br, sim__ev_receipt(m, &m->receipts.v[i]));
    if (b != NULL && o != SIM_NONE && m->orders.v[o].submission != SIM_NONE)
        cJSON_AddItemToObject(b, "submission",
                              sim__ev_submission(m, &m->subs.v[m->orders.v[o].submission]));
    return ev;
}

/* ---- faults ---- */

static bool is_2xx(int64_t s)
{
    return s >= 200 && s < 300;
}

/* The order's life span, for process events: from its first history entry
 * (or creation) to its last (or the end of the run). */
static void order_span(const struct sim_model *m, int32_t o, int64_t *from, int64_t *to)
{
    *from = INT64_MIN;
    *to = INT64_MAX;
    if (o == SIM_NONE)
        return;
    const struct sim_porder *p = &m->orders.v[o];
    if (p->n_hist > 0) {
        *from = p->hist[0].at;
        if (sim__is_final(p->status_st))
            *to = p->hist[p->n_hist - 1].at;
    } else if (p->created_at != SIM_NO_TIME) {
        *from = p->created_at;
    }
    /* Notifications keep flowing after the final status: extend to the last
     * delivery the business saw. */
    for (int32_t r = p->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order)
        if (m->receipts.v[r].at > *to)
            *to = m->receipts.v[r].at;
}

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

/* Walks an order's receipts, yielding runs of refused deliveries: one run
 * is consecutive deliveries of the same event answered the same way (a
 * business app down for a day refuses hundreds; the plan shows one line). */
struct nack_walk {
    int32_t r;          /* next receipt to look at */
    int64_t pos;        /* its 1-based position among the order's receipts */
    int32_t head;       /* the run's first receipt */
    int64_t attempt;    /* its position */
    int64_t count;      /* deliveries in the run */
};

static bool same_nack(const struct sim_receipt *a, const struct sim_receipt *b)
{
    return !is_2xx(b->answered) && a->answered == b->answered &&
           (a->event_id == b->event_id);   /* interned: id equality */
}

static bool next_nack_run(const struct sim_model *m, struct nack_walk *w)
{
    while (w->r != SIM_NONE && is_2xx(m->receipts.v[w->r].answered)) {
        w->r = m->receipts.v[w->r].next_of_order;
        w->pos++;
    }
    if (w->r == SIM_NONE)
        return false;
    w->head = w->r;
    w->attempt = ++w->pos;
    w->count = 1;
    w->r = m->receipts.v[w->r].next_of_order;
    while (w->r != SIM_NONE && same_nack(&m->receipts.v[w->head], &m->receipts.v[w->r])) {
        w->count++;
        w->pos++;
        w->r = m->receipts.v[w->r].next_of_order;
    }
    return true;
}

static void push_line(cJSON *arr, const char *line)
{
    cJSON_AddItemToArray(arr, cJSON_CreateString(line));
}

cJSON *sim__faults_of(const struct sim_model *m, const struct sim_results *res,
                      sim_sid key, int32_t o)
{
    cJSON *arr = cJSON_CreateArray();
    char line[320];
    if (arr == NULL)
        return NULL;
    for (int32_t i = sim__map_get(&res->gj_first, key); i != SIM_NONE; i = res->gj_next[i]) {
        const struct sim_gjline *g = &m->gjx.v[i];
        snprintf(line, sizeof line, "%s.%s attempt %lld", sim__sp(m, g->op), sim__sp(m, g->fault),
                 (long long)g->attempt);
        push_line(arr, line);
    }
    for (int32_t i = sim__map_get(&res->payer_first, key); i != SIM_NONE;
         i = res->payer_next[i])
    {
        snprintf(line, sizeof line, "payer.%s status %lld", sim__sp(m, m->payer.v[i].action),
                 (long long)m->payer.v[i].status);
        push_line(arr, line);
    }
    struct nack_walk w = {.r = o != SIM_NONE ? m->orders.v[o].first_receipt : SIM_NONE};
    while (next_nack_run(m, &w)) {
        const struct sim_receipt *x = &m->receipts.v[w.head];
        int n = snprintf(line, sizeof line, "business.nack %s answered %lld",
                         or_q(sim__s(m, x->status)),
                         (long long)x->answered);
        if (w.count > 1 && n > 0 && (size_t)n < sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, " x%lld", (long long)w.count);
        push_line(arr, line);
    }
    int64_t from, to;
    order_span(m, o, &from, &to);
    for (size_t i = 0; o != SIM_NONE && i < m->pevents.n; i++) {
        const struct sim_pevent *p = &m->pevents.v[i];
        if (p->at >= from && p->at <= to) {
            snprintf(line, sizeof line, "process.%s %s at %lld", sim__sp(m, p->action),
                     sim__sp(m, p->target),
                     (long long)p->at);
            push_line(arr, line);
        }
    }
    return arr;
}

static cJSON *plan_entry(const char *source, const char *kind, const char *op,
                         int64_t attempt, const char *detail)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL)
        return NULL;
    cJSON_AddStringToObject(e, "source", source);
    cJSON_AddStringToObject(e, "kind", kind);
    sim__json_str(e, "op", op);
    pd_json_add_i64(e, "attempt", attempt);
    sim__json_str(e, "detail", detail);
    return e;
}

cJSON *sim__fault_plan_of(const struct sim_model *m, const struct sim_results *res,
                          sim_sid key)
{
    cJSON *arr = cJSON_CreateArray();
    char kind[160];
    for (int32_t i = sim__map_get(&res->gj_first, key); arr && i != SIM_NONE;
         i = res->gj_next[i]) {
        const struct sim_gjline *g = &m->gjx.v[i];
        const char *op = sim__s(m, g->op);
        snprintf(kind, sizeof kind, "%s.%s", sim__sp(m, g->op), sim__sp(m, g->fault));
        cJSON_AddItemToArray(arr, plan_entry("gateway", kind, op, g->attempt,
                                             sim__s(m, g->detail)));
    }
    for (int32_t i = sim__map_get(&res->payer_first, key); arr && i != SIM_NONE;
         i = res->payer_next[i]) {
        const struct sim_payer *p = &m->payer.v[i];
        snprintf(kind, sizeof kind, "payer.%s", sim__sp(m, p->action));
        cJSON_AddItemToArray(arr, plan_entry("payer", kind, "pay", 0, sim__s(m, p->code)));
    }
    int32_t o = sim__map_get(&m->order_by_ref, key);
    struct nack_walk w = {.r = o != SIM_NONE ? m->orders.v[o].first_receipt : SIM_NONE};
    while (arr && next_nack_run(m, &w)) {
        const struct sim_receipt *x = &m->receipts.v[w.head];
        snprintf(kind, sizeof kind, "answered %lld to %s%s", (long long)x->answered,
                 or_q(sim__s(m, x->event_id)), w.count > 1 ? " on " : "");
        if (w.count > 1)
            snprintf(kind + strlen(kind), sizeof kind - strlen(kind), "%lld deliveries in a row",
                     (long long)w.count);
        cJSON_AddItemToArray(arr, plan_entry("business", "business.nack", "notification",
                                             w.attempt, kind));
    }
    return arr;
}
