/* journal_merge.c -- the merged journal: collect references, sort by t,
 * format line by line into a temp file, rename. */
#include "journal_merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_err.h"
#include "sim_json.h"

enum src {
    SRC_GATEWAY = 0, SRC_HIST, SRC_PTRADE, SRC_PREFUND, SRC_PNOTIF,
    SRC_SUB, SRC_PAYCALL, SRC_PAYER, SRC_BQUERY, SRC_RECEIPT, SRC_ACK, SRC_PROCESS
};

struct ev {
    int64_t t;
    uint32_t a, b;      /* record index; sub-record index */
    uint8_t src;
};

struct evs {
    struct ev *v;
    size_t n, cap;
};

static int push(struct evs *e, int64_t t, uint8_t src, size_t a, size_t b)
{
    if (t == SIM_NO_TIME)
        return PD_OK;
    if (sim__vec_grow((void **)&e->v, &e->cap, e->n, sizeof *e->v) != PD_OK)
        return PD_ENOMEM;
    e->v[e->n++] = (struct ev){.t = t, .a = (uint32_t)a, .b = (uint32_t)b, .src = src};
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

static int cmp_ev(const void *pa, const void *pb)
{
    const struct ev *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

size_t sim_journal_merge_count(const struct sim_model *m)
{
    struct evs e = {0};
    size_t n = collect(m, &e) == PD_OK ? e.n : 0;
    free(e.v);
    return n;
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
    const char *lane, *key, *order_id, *out_trade_no, *kind, *fault;
    char detail[320];
};

static void put_line(FILE *f, const struct line *l)
{
    fprintf(f, "{\"t\":%lld,\"lane\":", (long long)l->t);
    put_json_str(f, l->lane);
    fputs(",\"key\":", f);
    put_json_str(f, l->key);
    fputs(",\"order_id\":", f);
    put_json_str(f, l->order_id);
    fputs(",\"out_trade_no\":", f);
    put_json_str(f, l->out_trade_no);
    fputs(",\"kind\":", f);
    put_json_str(f, l->kind);
    fputs(",\"detail\":", f);
    put_json_str(f, l->detail);
    fputs(",\"fault\":", f);
    put_json_str(f, l->fault);
    fputs("}\n", f);
}

static const char *q(const char *s)
{
    return s ? s : "?";
}

static const char *gateway_kind(const struct sim_gjline *g)
{
    static const char *const map[][2] = {{"create", "trade_created"}, {"query", "query"},
                                         {"close", "close"}, {"refund", "refund"},
                                         {"callback", "callback"}};
    if (strcmp(g->op, "pay") == 0)
        return g->status == 200 ? "charge" : "pay";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(g->op, map[i][0]) == 0)
            return map[i][1];
    return g->op;
}

static void fmt_gateway(const struct sim_model *m, const struct ev *e, struct line *l)
{
    const struct sim_gjline *g = &m->gj.v[e->a];
    int32_t t = sim__map_get(&m->trade_by_otn, g->out_trade_no);
    int32_t o = t != SIM_NONE ? m->trades.v[t].order : SIM_NONE;
    l->lane = "gateway";
    l->key = g->key;
    l->order_id = o != SIM_NONE ? m->orders.v[o].order_id : NULL;
    l->out_trade_no = g->out_trade_no;
    l->kind = gateway_kind(g);
    l->fault = g->fault;
    snprintf(l->detail, sizeof l->detail, "%s status=%lld attempt=%lld%s%s", g->op,
             (long long)g->status, (long long)g->attempt, g->detail ? " " : "",
             g->detail ? g->detail : "");
}

static void fmt_sut(const struct sim_model *m, const struct ev *e, struct line *l)
{
    const struct sim_porder *o = &m->orders.v[e->a];
    l->lane = "sut";
    l->key = o->client_ref;
    l->order_id = o->order_id;
    if (e->src == SRC_HIST) {
        const struct sim_hist *h = &o->hist[e->b];
        l->kind = "status";
        snprintf(l->detail, sizeof l->detail, "%s->%s (%s)", h->from ? h->from : "null",
                 q(h->to), q(h->cause));
    } else if (e->src == SRC_PTRADE) {
        const struct sim_ptrade *t = &o->trades[e->b];
        l->kind = "trade_created";
        l->out_trade_no = t->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "attempt %lld state %s", (long long)t->attempt,
                 q(t->state));
    } else if (e->src == SRC_PREFUND) {
        const struct sim_prefund *r = &o->refunds[e->b];
        l->kind = "refund";
        l->out_trade_no = r->out_trade_no;
        snprintf(l->detail, sizeof l->detail, "%s %lld %s (%s)", q(r->out_refund_no),
                 (long long)r->amount, q(r->status), q(r->reason));
    } else {
        const struct sim_pnotif *n = &o->notifs[e->b];
        l->kind = "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s delivered after %lld attempt(s), last "
                 "http %lld", q(n->event_id), q(n->status), (long long)n->attempts,
                 (long long)n->last_http_status);
    }
}

static void fmt_business(const struct sim_model *m, const struct ev *e, struct line *l)
{
    l->lane = "business";
    if (e->src == SRC_SUB) {
        const struct sim_submission *s = &m->subs.v[e->a];
        l->key = s->key;
        l->order_id = s->order_id;
        l->kind = s->status == 409 ? "duplicate_refused" : "submit";
        snprintf(l->detail, sizeof l->detail, "%s client_ref=%s status=%lld%s%s", s->kind,
                 q(s->client_ref), (long long)s->status, s->error ? " error=" : "",
                 s->error ? s->error : "");
    } else if (e->src == SRC_PAYCALL) {
        const struct sim_paycall *p = &m->paycalls.v[e->a];
        l->key = p->key;
        l->order_id = p->order_id;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "pay call status=%lld body_status=%s",
                 (long long)p->status, q(p->body_status));
    } else if (e->src == SRC_PAYER) {
        const struct sim_payer *p = &m->payer.v[e->a];
        l->key = p->key;
        l->out_trade_no = p->out_trade_no;
        l->kind = "pay";
        snprintf(l->detail, sizeof l->detail, "payer %s status=%lld%s%s", q(p->action),
                 (long long)p->status, p->code ? " code=" : "", p->code ? p->code : "");
    } else if (e->src == SRC_BQUERY) {
        const struct sim_bquery *bq = &m->bqueries.v[e->a];
        l->key = bq->key;
        l->order_id = bq->order_id;
        l->kind = "query";
        snprintf(l->detail, sizeof l->detail, "business asks the SUT: status=%lld order %s",
                 (long long)bq->status, q(bq->body_status));
    } else {
        const struct sim_receipt *x = &m->receipts.v[e->a];
        l->key = x->client_ref;
        l->order_id = x->order_id;
        l->kind = e->src == SRC_ACK ? "ack" : "notification";
        snprintf(l->detail, sizeof l->detail, "%s %s seq=%lld answered=%lld signature_ok=%s "
                 "applied=%s", q(x->event_id), q(x->status),
                 (long long)(x->seq == SIM_NO_TIME ? 0 : x->seq),
                 (long long)x->answered, x->signature_ok ? "true" : "false",
                 x->applied ? "true" : "false");
    }
}

static void fmt_event(const struct sim_model *m, const struct ev *e, struct line *l)
{
    memset(l, 0, sizeof *l);
    l->t = e->t;
    if (e->src == SRC_GATEWAY) {
        fmt_gateway(m, e, l);
    } else if (e->src <= SRC_PNOTIF) {
        fmt_sut(m, e, l);
    } else if (e->src == SRC_PROCESS) {
        const struct sim_pevent *p = &m->pevents.v[e->a];
        l->lane = p->target && strcmp(p->target, "gateway") == 0 ? "gateway" : "sut";
        l->kind = "process";
        snprintf(l->detail, sizeof l->detail, "%s %s%s%s", q(p->action), q(p->target),
                 p->detail ? " " : "", p->detail ? p->detail : "");
    } else {
        fmt_business(m, e, l);
    }
    /* Business records carry a key; find the order by it when they lack one. */
    if (l->order_id == NULL && l->key != NULL) {
        int32_t o = sim__map_get(&m->order_by_ref, l->key);
        if (o != SIM_NONE)
            l->order_id = m->orders.v[o].order_id;
    }
}

int sim_journal_merge_write(const struct sim_model *m, const char *path)
{
    struct evs e = {0};
    int rc = collect(m, &e);
    if (rc != PD_OK) {
        free(e.v);
        return rc;
    }
    if (e.n > 1)
        qsort(e.v, e.n, sizeof *e.v, cmp_ev);
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = (n > 0 && (size_t)n < sizeof tmp) ? fopen(tmp, "w") : NULL;
    if (f == NULL) {
        free(e.v);
        return PD_EIO;
    }
    struct line l;
    for (size_t i = 0; i < e.n; i++) {
        fmt_event(m, &e.v[i], &l);
        put_line(f, &l);
    }
    free(e.v);
    /* The same atomic-replace discipline as pd_write_file, but streamed:
     * the journal of a large run is too big to hold as one buffer. */
    bool ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return PD_EIO;
    }
    return PD_OK;
}
