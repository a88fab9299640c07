/* rpt_embed.c -- the JSON block report.html's script draws from.
 *
 * Compact on purpose (a 10,000-order run must stay under 10 MB): strings
 * that repeat (kinds, details, faults, statuses) sit once in "S" and are
 * referred to by index; each order carries its events as one flat array of
 * five numbers per event: time delta, kind*4+lane, detail, fault,
 * out_trade_no (string index + 1, 0 = none). A detail is a template
 * (rpt_detail.c): ~k, ~o, ~a stand for the order's key, order_id and
 * amount, ~t, ~g for the event's out_trade_no and its trade_no, ~~ for a
 * ~; "tn" gives each out_trade_no's trade_no. docs/reports.md has the
 * layout.
 * Every string goes through rpt__json_str, which keeps < > & and
 * U+2028/2029 out of the block. */
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

struct embed {
    struct rpt__out *o;
    const struct rpt__report *r;
    const struct rpt__journal *j;
    struct rpt__strtab extra;    /* statuses, currencies, faults, invariants */
    size_t *ev_start;            /* events grouped by order (counting sort) */
    uint32_t *ev_idx;
    long *viol_first, *viol_next;
    int64_t base;
};

/* Index in S of an extra string (after the journal's strings), or -1. */
static long extra_id(struct embed *e, const char *s)
{
    size_t idx;
    if (s == NULL)
        return -1;
    if (rpt__strtab_add(&e->extra, s, &idx) != PD_OK) {
        if (e->o->rc == PD_OK)
            e->o->rc = PD_ENOMEM;
        return -1;
    }
    return (long)(e->j->names.n + e->j->strs.n + idx);
}

static int group_events(struct embed *e)
{
    size_t n_orders = e->r->n_orders;
    e->ev_start = calloc(n_orders + 2, sizeof *e->ev_start);
    e->ev_idx = calloc(e->j->n + 1, sizeof *e->ev_idx);
    e->viol_first = malloc((n_orders + 1) * sizeof *e->viol_first);
    e->viol_next = malloc((e->r->n_viols + 1) * sizeof *e->viol_next);
    if (!e->ev_start || !e->ev_idx || !e->viol_first || !e->viol_next)
        return PD_ENOMEM;
    for (size_t i = 0; i < e->j->n; i++)
        if (e->j->ev[i].order >= 0)
            e->ev_start[e->j->ev[i].order + 2]++;
    for (size_t k = 2; k < n_orders + 2; k++)
        e->ev_start[k] += e->ev_start[k - 1];
    for (size_t i = 0; i < e->j->n; i++)
        if (e->j->ev[i].order >= 0)
            e->ev_idx[e->ev_start[e->j->ev[i].order + 1]++] = (uint32_t)i;
    /* now ev_start[k]..ev_start[k+1] are order k's events, in file order */
    for (size_t k = 0; k <= n_orders; k++)
        e->viol_first[k] = -1;
    for (size_t v = e->r->n_viols; v-- > 0;) {
        long oi = e->r->viols[v].order_idx;
        e->viol_next[v] = oi >= 0 ? e->viol_first[oi] : -1;
        if (oi >= 0)
            e->viol_first[oi] = (long)v;
    }
    return PD_OK;
}

/* S holds the journal's names, then its strs: an strs index + 1 moves up
 * by the number of names. */
static void event(struct rpt__out *o, const struct rpt__journal *j, const struct rpt__event *ev,
                  int64_t t_from, bool comma)
{
    size_t shift = j->names.n;
    rpt__printf(o, "%s%lld,%u,%zu,%u,%zu", comma ? "," : "", (long long)(ev->t - t_from),
                (unsigned)((ev->kind - 1) * 4 + ev->lane), ev->detail ? ev->detail + shift : 0,
                (unsigned)ev->fault, ev->otn ? ev->otn + shift : 0);
}

static void order_events(struct embed *e, size_t k)
{
    int64_t prev = e->base;
    rpt__puts(e->o, "[");
    for (size_t p = e->ev_start[k]; p < e->ev_start[k + 1]; p++) {
        const struct rpt__event *ev = &e->j->ev[e->ev_idx[p]];
        event(e->o, e->j, ev, prev, p > e->ev_start[k]);
        prev = ev->t;
    }
    rpt__puts(e->o, "]");
}

static void order_row(struct embed *e, size_t k)
{
    const struct rpt__order *ord = &e->r->orders[k];
    struct rpt__out *o = e->o;
    rpt__puts(o, k ? ",\n[" : "[");
    rpt__json_str(o, ord->key);
    rpt__puts(o, ",");
    rpt__json_str(o, ord->order_id);
    rpt__printf(o, ",%ld,%lld,%ld,%lld,%lld,%lld,%lld,[", extra_id(e, ord->status),
                (long long)ord->amount, extra_id(e, ord->currency), (long long)ord->charges,
                (long long)ord->callbacks, (long long)ord->queries,
                (long long)ord->notifications);
    size_t n = 0;
    for (const cJSON *f = ord->faults ? ord->faults->child : NULL; f; f = f->next)
        rpt__printf(o, "%s%ld", n++ ? "," : "", extra_id(e, f->valuestring));
    rpt__puts(o, "],[");
    n = 0;
    for (long v = e->viol_first[k]; v >= 0; v = e->viol_next[v])
        rpt__printf(o, "%s%ld", n++ ? "," : "", extra_id(e, e->r->viols[v].invariant));
    rpt__puts(o, "],");
    order_events(e, k);
    rpt__puts(o, "]");
}

static void global_events(struct embed *e)
{
    size_t n = 0;
    rpt__puts(e->o, "[");
    for (size_t i = 0; i < e->j->n; i++)
        if (e->j->ev[i].order < 0)
            event(e->o, e->j, &e->j->ev[i], e->base, n++ > 0);
    rpt__puts(e->o, "]");
}

/* Each out_trade_no's trade_no, for ~g: flat pairs of S indexes. */
static void trade_nos(struct embed *e)
{
    size_t shift = e->j->names.n, n = 0;
    rpt__puts(e->o, "[");
    for (size_t i = 0; i < e->j->n_trade_of; i++)
        if (e->j->trade_of[i] != 0)
            rpt__printf(e->o, "%s%zu,%zu", n++ ? "," : "", i + shift,
                        e->j->trade_of[i] - 1 + shift);
    rpt__puts(e->o, "]");
}

static void strings(struct embed *e)
{
    const struct rpt__strtab *parts[] = {&e->j->names, &e->j->strs, &e->extra};
    size_t n = 0;
    rpt__puts(e->o, "[");
    for (size_t p = 0; p < 3; p++) {
        for (size_t i = 0; i < parts[p]->n; i++) {
            rpt__puts(e->o, n++ ? "," : "");
            rpt__json_str(e->o, parts[p]->strs[i]);
        }
    }
    rpt__puts(e->o, "]");
}

static int64_t time_base(const struct rpt__report *r, const struct rpt__journal *j)
{
    int64_t base = r->sim_started_at;
    for (size_t i = 0; i < j->n; i++)
        if (base <= 0 || j->ev[i].t < base)
            base = j->ev[i].t;
    return base;
}

void rpt__html_embed(struct rpt__out *o, const struct rpt__report *r,
                     const struct rpt__journal *j)
{
    struct embed e = {.o = o, .r = r, .j = j, .base = time_base(r, j)};
    rpt__strtab_init(&e.extra);
    if (group_events(&e) != PD_OK && o->rc == PD_OK)
        o->rc = PD_ENOMEM;
    if (o->rc == PD_OK) {
        rpt__printf(o, "{\"v\":3,\"base\":%lld,\"lanes\":[\"business app\",\"SUT\",\"gateway\"],"
                       "\"o\":[\n", (long long)e.base);
        for (size_t k = 0; k < r->n_orders && o->rc == PD_OK; k++)
            order_row(&e, k);
        rpt__puts(o, "],\n\"g\":");
        global_events(&e);
        rpt__puts(o, ",\n\"tn\":");
        trade_nos(&e);
        rpt__puts(o, ",\n\"S\":");
        strings(&e);   /* last: order rows added the extra strings */
        rpt__puts(o, "}");
    }
    free(e.ev_start);
    free(e.ev_idx);
    free(e.viol_first);
    free(e.viol_next);
    rpt__strtab_release(&e.extra);
}
