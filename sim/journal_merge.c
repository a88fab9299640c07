/* journal_merge.c -- the merged journal: collect references, sort by t,
 * format line by line into a temp file, rename.
 *
 * The references are the checker's largest allocation after the model (13
 * per order in a no-fault run), so each is 16 bytes and they are sorted in
 * place: glibc's qsort would malloc a second array of the same size. */
#include "journal_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_afile.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "sim_json.h"

enum src {
    SRC_GATEWAY = 0, SRC_HIST, SRC_PTRADE, SRC_PREFUND, SRC_PNOTIF,
    SRC_SUB, SRC_PAYCALL, SRC_PAYER, SRC_BQUERY, SRC_RECEIPT, SRC_ACK, SRC_PROCESS
};

#define SUB_BITS 28                         /* b's share of ev.sb */
#define SUB_MAX (((uint32_t)1 << SUB_BITS) - 1)

/* Sorted by (t, src, a, b): a total order, so any sort gives one journal. */
struct ev {
    int64_t t;
    uint32_t a;         /* record index */
    uint32_t sb;        /* src << SUB_BITS | sub-record index b */
};

struct evs {
    struct ev *v;       /* NULL while counting */
    size_t n, cap;
};

static int push(struct evs *e, int64_t t, uint8_t src, size_t a, size_t b)
{
    if (t == SIM_NO_TIME)
        return PD_OK;
    if (b > SUB_MAX || a > UINT32_MAX)
        return PD_ETOOBIG;     /* more sub-records in one order than any input file holds */
    if (e->v != NULL) {
        PD_ASSERT(e->n < e->cap);
        e->v[e->n] = (struct ev){.t = t, .a = (uint32_t)a,
                                 .sb = (uint32_t)src << SUB_BITS | (uint32_t)b};
    }
    e->n++;
    return PD_OK;
}

static int collect_orders(const struct sim_model *m, struct evs *e)
{
    int rc = PD_OK;
    for (size_t i = 0; rc == PD_OK && i < m->orders.n; i++) {
        const struct sim_porder *o = &m->orders.v[i];
        for (uint32_t j = 0; rc == PD_OK && j < o->n_hist; j++)
            rc = push(e, o->hist[j].at, SRC_HIST, i, j);
        for (uint32_t j = 0; rc == PD_OK && j < o->n_trades; j++)
            rc = push(e, o->trades[j].created_at, SRC_PTRADE, i, j);
        for (uint32_t j = 0; rc == PD_OK && j < o->n_refunds; j++)
            rc = push(e, o->refunds[j].at, SRC_PREFUND, i, j);
        for (uint32_t j = 0; rc == PD_OK && j < o->n_notifs; j++)
            rc = push(e, o->notifs[j].delivered_at, SRC_PNOTIF, i, j);
    }
    return rc;
}

static int collect(const struct sim_model *m, struct evs *e)
{
    int rc = collect_orders(m, e);
    for (size_t i = 0; rc == PD_OK && i < m->gj.n; i++)
        rc = push(e, m->gj.v[i].at, SRC_GATEWAY, i, 0);
    for (size_t i = 0; rc == PD_OK && i < m->subs.n; i++)
        rc = push(e, m->subs.v[i].at, SRC_SUB, i, 0);
    for (size_t i = 0; rc == PD_OK && i < m->paycalls.n; i++)
        rc = push(e, m->paycalls.v[i].at, SRC_PAYCALL, i, 0);
    for (size_t i = 0; rc == PD_OK && i < m->payer.n; i++)
        rc = push(e, m->payer.v[i].at, SRC_PAYER, i, 0);
    for (size_t i = 0; rc == PD_OK && i < m->bqueries.n; i++)
        rc = push(e, m->bqueries.v[i].at, SRC_BQUERY, i, 0);
    for (size_t i = 0; rc == PD_OK && i < m->receipts.n; i++) {
        const struct sim_receipt *x = &m->receipts.v[i];
        rc = push(e, x->at, SRC_RECEIPT, i, 0);
        if (rc == PD_OK && x->answered >= 200 && x->answered < 300)
            rc = push(e, x->at, SRC_ACK, i, 0);
    }
    for (size_t i = 0; rc == PD_OK && i < m->pevents.n; i++)
        rc = push(e, m->pevents.v[i].at, SRC_PROCESS, i, 0);
    return rc;
}

static uint32_t ev_src(const struct ev *e)
{
    return e->sb >> SUB_BITS;
}

static bool ev_less(const struct ev *x, const struct ev *y)
{
    if (x->t != y->t)
        return x->t < y->t;
    if (ev_src(x) != ev_src(y))
        return ev_src(x) < ev_src(y);
    if (x->a != y->a)
        return x->a < y->a;
    return (x->sb & SUB_MAX) < (y->sb & SUB_MAX);
}

/* Moves v[i] down the max-heap v[0..n). */
static void sift_down(struct ev *v, size_t i, size_t n)
{
    for (;;) {
        size_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ev_less(&v[big], &v[l]))
            big = l;
        if (r < n && ev_less(&v[big], &v[r]))
            big = r;
        if (big == i)
            return;
        struct ev tmp = v[i];
        v[i] = v[big];
        v[big] = tmp;
        i = big;
    }
}

/* Heapsort: in place, O(n log n), no extra memory. */
static void sort_events(struct ev *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t end = n; end > 1; end--) {
        struct ev tmp = v[0];
        v[0] = v[end - 1];
        v[end - 1] = tmp;
        sift_down(v, 0, end - 1);
    }
}

/* Collects every reference into an array of exactly the right size: one
 * pass counts, the second fills (no doubling slack: at 50,000 orders the
 * slack alone was 6 MB). */
static int collect_exact(const struct sim_model *m, struct evs *e)
{
    memset(e, 0, sizeof *e);
    int rc = collect(m, e);
    if (rc != PD_OK || e->n == 0)
        return rc;
    e->cap = e->n;
    e->n = 0;
    e->v = malloc(e->cap * sizeof *e->v);
    if (e->v == NULL)
        return PD_ENOMEM;
    rc = collect(m, e);
    PD_ASSERT(rc != PD_OK || e->n == e->cap);
    return rc;
}

size_t sim_journal_merge_count(const struct sim_model *m)
{
    struct evs e = {0};
    return collect(m, &e) == PD_OK ? e.n : 0;
}

/* ---- formatting ---- */

/* A JSON string, or null for NULL ("" stays a string, unlike
 * sim_json_str_or_null). */
static void put_json_str(FILE *f, const char *s)
{
    if (s == NULL)
        fputs("null", f);
    else
        sim_json_str(f, s);
}

struct line {
    int64_t t;
    const char *lane, *kind;
    sim_sid key, order_id, out_trade_no, fault;   /* model strings, 0 = null */
    char detail[320];
};

static void put_line(const struct sim_model *m, FILE *f, const struct line *l)
{
    fprintf(f, "{\"t\":%lld,\"lane\":", (long long)l->t);
    put_json_str(f, l->lane);
    fputs(",\"key\":", f);
    put_json_str(f, sim__s(m, l->key));
    fputs(",\"order_id\":", f);
    put_json_str(f, sim__s(m, l->order_id));
    fputs(",\"out_trade_no\":", f);
    put_json_str(f, sim__s(m, l->out_trade_no));
    fputs(",\"kind\":", f);
    put_json_str(f, l->kind);
    fputs(",\"detail\":", f);
    put_json_str(f, l->detail);
    fputs(",\"fault\":", f);
    put_json_str(f, sim__s(m, l->fault));
    fputs("}\n", f);
}

/* The string of id, or "?" when there is none. */
static const char *q(const struct sim_model *m, sim_sid id)
{
    return id != 0 ? sim__s(m, id) : "?";
}

/* " <prefix><string of id>" pieces of a detail: both "" when id is 0. */
static const char *pre(sim_sid id, const char *prefix)
{
    return id != 0 ? prefix : "";
}

static const char *opt(const struct sim_model *m, sim_sid id)
{
    return id != 0 ? sim__s(m, id) : "";
}

static const char *gateway_kind(const struct sim_model *m, const struct sim_gjline *g)
{
    static const char *const map[][2] = {{"create", "trade_created"}, {"query", "query"},
                                         {"close", "close"}, {"refund", "refund"},
                                         {"callback", "callback"}};
    if (sim__s_eq(m, g->op, "pay"))
        return g->status == 200 ? "charge" : "pay";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (sim__s_eq(m, g->op, map[i][0]))
            return map[i][1];
    return sim__s(m, g->op);
}

static void fmt_gateway(const struct sim_model *m, const struct ev *e, struct line *l)
{
    const struct sim_gjline *g = &m->gj.v[e->a];
    int32_t t = sim__map_get(&m->trade_by_otn, g->out_trade_no);
    int32_t o = t != SIM_NONE ? m->trades.v[t].order : SIM_NONE;
    l->lane = "gateway";
    l->key = g->key;
    l->order_id = o != SIM_NONE ? m->orders.v[o].order_id : 0;
    l->out_trade_no = g->out_trade_no;
    l->kind = gateway_kind(m, g);
    l->fault = g->fault;
    snprintf(l->detail, sizeof l->detail, "%s status=%lld attempt=%lld%s%s",
             sim__sp(m, g->op), (long long)g->status, (long long)g->attempt,
             pre(g->detail, " "), opt(m, g->detail));
}

static void fmt_sut(const struct sim_model *m, const struct ev *e, struct line *l)
{
    const struct sim_porder *o = &m->orders.v[e->a];
    uint32_t b = e->sb & SUB_MAX;
    l->lane = "sut";
    l->key = o->client_ref;
    l->order_id = o->order_id;
    if (ev_src(e) == SRC_HIST) {
        const struct sim_hist *h = &o->hist[b];
        l->kind = "status";
        snprintf(l->detail, sizeof l->detail, "%s->%s (%s)",
                 h->from != 0 ? sim__s(m, h->from) : "null", q(m, h->to), q(m, h->cause));
    } else if (ev_src(e) == SRC_PTRADE) {
        const struct sim_ptrade *t = &o->trades[b];
        l->kind = "trade_created";
        l->out_trade_no = t->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "attempt %lld state %s", (long long)t->attempt,
                 q(m, t->state));
    } else if (ev_src(e) == SRC_PREFUND) {
        const struct sim_prefund *r = &o->refunds[b];
        l->kind = "refund";
        l->out_trade_no = r->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "%s %lld %s (%s)", q(m, r->out_refund_no),
                 (long long)r->amount, q(m, r->status), q(m, r->reason));
    } else {
        const struct sim_pnotif *n = &o->notifs[b];
        l->kind = "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s delivered after %lld attempt(s), last "
                 "http %lld", q(m, n->event_id), q(m, n->status), (long long)n->attempts,
                 (long long)n->last_http_status);
    }
}

static void fmt_business(const struct sim_model *m, const struct ev *e, struct line *l)
{
    l->lane = "business";
    if (ev_src(e) == SRC_SUB) {
        const struct sim_submission *s = &m->subs.v[e->a];
        l->key = s->key;
        l->order_id = s->order_id;
        l->kind = s->status == 409 ? "duplicate_refused" : "submit";
        snprintf(l->detail, sizeof l->detail, "%s client_ref=%s status=%lld%s%s",
                 sim__sp(m, s->kind), q(m, s->client_ref), (long long)s->status,
                 pre(s->error, " error="), opt(m, s->error));
    } else if (ev_src(e) == SRC_PAYCALL) {
        const struct sim_paycall *p = &m->paycalls.v[e->a];
        l->key = p->key;
        l->order_id = p->order_id;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "pay call status=%lld body_status=%s",
                 (long long)p->status, q(m, p->body_status));
    } else if (ev_src(e) == SRC_PAYER) {
        const struct sim_payer *p = &m->payer.v[e->a];
        l->key = p->key;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "payer %s status=%lld%s%s", q(m, p->action),
                 (long long)p->status, pre(p->code, " code="), opt(m, p->code));
    } else if (ev_src(e) == SRC_BQUERY) {
        const struct sim_bquery *bq = &m->bqueries.v[e->a];
        l->key = bq->key;
        l->order_id = bq->order_id;
        l->kind = "query";
        snprintf(l->detail, sizeof l->detail, "business asks the SUT: status=%lld order %s",
                 (long long)bq->status, q(m, bq->body_status));
    } else {
        const struct sim_receipt *x = &m->receipts.v[e->a];
        l->key = x->client_ref;
        l->order_id = x->order_id;
        l->kind = ev_src(e) == SRC_ACK ? "ack" : "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s seq=%lld answered=%lld signature_ok=%s "
                 "applied=%s", q(m, x->event_id), q(m, x->status),
                 (long long)(x->seq == SIM_NO_TIME ? 0 : x->seq),
                 (long long)x->answered, x->signature_ok ? "true" : "false",
                 x->applied ? "true" : "false");
    }
}

static void fmt_event(const struct sim_model *m, const struct ev *e, struct line *l)
{
    memset(l, 0, sizeof *l);
    l->t = e->t;
    if (ev_src(e) == SRC_GATEWAY) {
        fmt_gateway(m, e, l);
    } else if (ev_src(e) <= SRC_PNOTIF) {
        fmt_sut(m, e, l);
    } else if (ev_src(e) == SRC_PROCESS) {
        const struct sim_pevent *p = &m->pevents.v[e->a];
        l->lane = sim__s_eq(m, p->target, "gateway") ? "gateway" : "sut";
        l->kind = "process";
        snprintf(l->detail, sizeof l->detail, "%s %s%s%s", q(m, p->action), q(m, p->target),
                 pre(p->detail, " "), opt(m, p->detail));
    } else {
        fmt_business(m, e, l);
    }
    /* Business records carry a key; find the order by it when they lack one. */
    if (l->order_id == 0 && l->key != 0) {
        int32_t o = sim__map_get(&m->order_by_ref, l->key);
        if (o != SIM_NONE)
            l->order_id = m->orders.v[o].order_id;
    }
}

int sim_journal_merge_write(const struct sim_model *m, const char *path)
{
    struct evs e;
    int rc = collect_exact(m, &e);
    if (rc == PD_OK)
        sort_events(e.v, e.n);
    /* Streamed: the journal of a large run is too big to hold as one buffer. */
    struct pd_afile af;
    if (rc == PD_OK && pd_afile_open(&af, path) != PD_OK)
        rc = PD_EIO;
    if (rc != PD_OK) {
        free(e.v);
        return rc;
    }
    struct line l;
    for (size_t i = 0; i < e.n; i++) {
        fmt_event(m, &e.v[i], &l);
        put_line(m, af.f, &l);
    }
    free(e.v);
    return pd_afile_commit(&af);
}
