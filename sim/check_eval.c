/* check_eval.c -- the eight invariants of DESIGN.md over G, P and B.
 * docs/checker.md states each in plain words; the comments here say how
 * the words become loops. Model strings are interned ids (sim_sid): two
 * fields hold the same text exactly when their ids are equal. */
#include "check_eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_clock.h"
#include "check_evidence.h"
#include "pd_err.h"
#include "pd_time.h"

#define SUMMARY_LEN 400

/* ---- recording ---- */

static void record(const struct sim_model *m, struct sim_results *res, int inv,
                   int32_t o, int32_t t, const char *order, sim_sid key,
                   const char *fmt, ...) __attribute__((format(printf, 8, 9)));

static void record(const struct sim_model *m, struct sim_results *res, int inv,
                   int32_t o, int32_t t, const char *order, sim_sid key,
                   const char *fmt, ...)
{
    res->count[inv]++;
    if (res->count[inv] > SIM_CHECK_MAX_LISTED || res->rc != PD_OK)
        return;
    struct sim_violation v = {.inv = inv, .order = order ? order : "-", .key = key};
    v.summary = malloc(SUMMARY_LEN);
    if (v.summary != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v.summary, SUMMARY_LEN, fmt, ap);
        va_end(ap);
    }
    v.evidence = sim__evidence(m, o, t);
    v.faults = sim__faults_of(m, res, key, o);
    if (v.summary == NULL || v.evidence == NULL || v.faults == NULL ||
        sim__vec_grow((void **)&res->v.v, &res->v.cap, res->v.n, sizeof v) != PD_OK) {
        free(v.summary);
        cJSON_Delete(v.evidence);
        cJSON_Delete(v.faults);
        res->rc = PD_ENOMEM;
        return;
    }
    res->v.v[res->v.n++] = v;
}

/* How many listed violations of inv already name order o. */
static int res_count_order(const struct sim_model *m, const struct sim_results *res, int inv,
                           const struct sim_porder *o)
{
    const char *id = sim__s(m, o->order_id);   /* chunks never move: the pointer recorded */
    int n = 0;
    for (size_t i = res->v.n; i-- > 0 && n == 0;)
        n += res->v.v[i].inv == inv && res->v.v[i].order == id;
    return n;
}

/* The string of id, or "?" when there is none. */
static const char *or_q(const struct sim_model *m, sim_sid id)
{
    return id != 0 ? sim__s(m, id) : "?";
}

static int64_t or_0(int64_t v)
{
    return v == SIM_NO_TIME ? 0 : v;
}

static bool is_2xx(int64_t s)
{
    return s >= 200 && s < 300;
}

/* ---- money helpers ---- */

static int64_t charged_of(const struct sim_gtrade *t)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < t->n_charges; i++)
        sum += t->charges[i].amount;
    return sum;
}

static int64_t refunded_of(const struct sim_gtrade *t)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < t->n_refunds; i++)
        sum += t->refunds[i].amount;
    return sum > t->refunded_amount ? sum : t->refunded_amount;
}

/* How many of the trade's charges are not covered by its refunds. */
static int64_t unrefunded_charges(const struct sim_gtrade *t)
{
    if (t->n_charges == 0)
        return 0;
    int64_t charged = charged_of(t), kept = charged - refunded_of(t);
    if (kept <= 0)
        return 0;
    int64_t per = charged / t->n_charges;
    if (per <= 0)
        return t->n_charges;
    int64_t n = (kept + per - 1) / per;
    return n > t->n_charges ? t->n_charges : n;
}

/* B was told the order is PAID: an applied PAID receipt -- or, when the
 * scenario's business app refuses some deliveries forever, any genuine PAID
 * delivery (the SUT did its part; the app's refusal is the fault). */
static bool has_applied_paid_receipt(const struct sim_model *m, const struct sim_porder *o)
{
    for (int32_t r = o->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order) {
        const struct sim_receipt *x = &m->receipts.v[r];
        if ((x->applied || m->run.biz_forever) && x->signature_ok &&
            sim__s_eq(m, x->status, "PAID"))
            return true;
    }
    return false;
}

static sim_sid key_of_trade(const struct sim_model *m, const struct sim_gtrade *t)
{
    if (t->order != SIM_NONE && m->orders.v[t->order].client_ref != 0)
        return m->orders.v[t->order].client_ref;
    return t->attach;
}

/* ---- no_lost_payment ---- */

static void check_lost(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_LOST_PAYMENT;
    for (size_t i = 0; i < m->trades.n; i++) {
        const struct sim_gtrade *t = &m->trades.v[i];
        if (t->n_charges == 0)
            continue;
        res->checked[inv]++;
        int64_t kept = charged_of(t) - refunded_of(t);
        if (kept <= 0)
            continue;
        sim_sid key = key_of_trade(m, t);
        if (t->order == SIM_NONE) {
            record(m, res, inv, SIM_NONE, (int32_t)i, sim__s(m, t->out_trade_no), key,
                   "trade %s charged %lld %s (attach %s) belongs to no order in P and "
                   "was not refunded", sim__sp(m, t->out_trade_no), (long long)kept,
                   or_q(m, t->currency), or_q(m, t->attach));
            continue;
        }
        const struct sim_porder *o = &m->orders.v[t->order];
        if (o->status_st != SIM_ST_PAID)
            record(m, res, inv, t->order, (int32_t)i, sim__s(m, o->order_id), key,
                   "trade %s charged %lld %s but the order is %s in P and the charge "
                   "was not refunded", sim__sp(m, t->out_trade_no), (long long)kept,
                   or_q(m, t->currency), or_q(m, o->status));
        else if (!has_applied_paid_receipt(m, o))
            record(m, res, inv, t->order, (int32_t)i, sim__s(m, o->order_id), key,
                   "order PAID in P (trade %s charged) but B holds no applied PAID "
                   "receipt for it", sim__sp(m, t->out_trade_no));
    }
}

/* ---- no_double_charge ---- */

/* One violation per order: more than one kept charge over its trades, or
 * a trade of it charged more than once (even if the extra was refunded: a
 * correct gateway charges a trade at most once). */
static void double_by_order(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_DOUBLE_CHARGE;
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        res->checked[inv]++;
        int64_t kept = 0, trades = 0;
        const struct sim_gtrade *twice = NULL;
        for (int32_t t = o->first_trade; t != SIM_NONE; t = m->trades.v[t].next_of_order) {
            int64_t n = unrefunded_charges(&m->trades.v[t]);
            kept += n;
            trades += n > 0;
            if (m->trades.v[t].n_charges > 1 && twice == NULL)
                twice = &m->trades.v[t];
        }
        if (kept > 1)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "order keeps %lld unrefunded charges in G over %lld trade(s)",
                   (long long)kept, (long long)trades);
        else if (twice != NULL)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "trade %s was charged %u times in G", sim__sp(m, twice->out_trade_no),
                   twice->n_charges);
    }
}

/* A trade can still be paid when the gateway holds it open. */
static bool chargeable(const struct sim_model *m, const struct sim_gtrade *t)
{
    return sim__s_eq(m, t->state, "NOTPAY") || sim__s_eq(m, t->state, "USERPAYING");
}

/* Trade b of an order was opened while trade a could still be charged (a
 * was never closed at the gateway, or closed only after b appeared): a
 * second charge was one payer click away (payments.md §11, invariant 2). */
static bool opened_beside(const struct sim_gtrade *a, const struct sim_gtrade *b)
{
    if (a == b || a->created_at == SIM_NO_TIME || b->created_at == SIM_NO_TIME ||
        a->created_at > b->created_at)
        return false;
    if (a->created_at == b->created_at && a > b)
        return false;   /* judge each pair once */
    return a->closed_at == SIM_NO_TIME || a->closed_at > b->created_at;
}

#define EXPOSURE_MAX_TRADES 32   /* pairs judged per order */

static void double_exposure(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_DOUBLE_CHARGE;
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        int32_t first = o->first_trade;
        if (first == SIM_NONE || m->trades.v[first].next_of_order == SIM_NONE)
            continue;
        const struct sim_gtrade *hit_a = NULL, *hit_b = NULL;
        int na = 0;
        for (int32_t a = first; a != SIM_NONE && !hit_a && na++ < EXPOSURE_MAX_TRADES;
             a = m->trades.v[a].next_of_order) {
            int nb = 0;
            for (int32_t b = first; b != SIM_NONE && nb++ < EXPOSURE_MAX_TRADES;
                 b = m->trades.v[b].next_of_order)
                if (opened_beside(&m->trades.v[a], &m->trades.v[b])) {
                    hit_a = &m->trades.v[a];
                    hit_b = &m->trades.v[b];
                    break;
                }
        }
        if (hit_a != NULL && res_count_order(m, res, inv, o) == 0)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "trade %s was opened while trade %s could still be charged (%s%s)",
                   sim__sp(m, hit_b->out_trade_no), sim__sp(m, hit_a->out_trade_no),
                   hit_a->closed_at == SIM_NO_TIME ? "never closed, " : "closed later, ",
                   or_q(m, hit_a->state));
    }
}

/* Trades of no P order, grouped by attach: two kept charges under one
 * workload key are a double charge even if the SUT lists neither trade. */
static void double_orphans(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_DOUBLE_CHARGE;
    struct sim_map first = {0};
    int64_t *sum = calloc(m->trades.n + 1, sizeof *sum);
    if (sum == NULL) {
        res->rc = PD_ENOMEM;
        return;
    }
    for (size_t i = 0; i < m->trades.n; i++) {
        const struct sim_gtrade *t = &m->trades.v[i];
        if (t->order != SIM_NONE || t->n_charges == 0)
            continue;
        int32_t head = (int32_t)i;
        if (t->attach != 0 && *sim__s(m, t->attach) != '\0') {
            if (sim__map_put(&first, t->attach, (int32_t)i) != PD_OK)
                res->rc = PD_ENOMEM;
            head = sim__map_get(&first, t->attach);
        }
        if (head == SIM_NONE)
            head = (int32_t)i;
        sum[head] += unrefunded_charges(t);
    }
    for (size_t i = 0; i < m->trades.n; i++) {
        const struct sim_gtrade *t = &m->trades.v[i];
        if (sum[i] > 1 && t->n_charges <= 1)
            record(m, res, inv, SIM_NONE, (int32_t)i,
                   sim__s(m, t->attach && *sim__s(m, t->attach) ? t->attach : t->out_trade_no),
                   t->attach,
                   "%lld unrefunded charges in G under workload key %s, on trades no P "
                   "order lists", (long long)sum[i], or_q(m, t->attach));
    }
    sim__map_free(&first);
    free(sum);
}

/* Trades of no order charged more than once. */
static void double_per_trade(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_DOUBLE_CHARGE;
    for (size_t i = 0; i < m->trades.n; i++) {
        const struct sim_gtrade *t = &m->trades.v[i];
        if (t->order != SIM_NONE)
            continue;
        res->checked[inv]++;
        if (t->n_charges > 1)
            record(m, res, inv, SIM_NONE, (int32_t)i, sim__s(m, t->out_trade_no), t->attach,
                   "trade %s was charged %u times in G", sim__sp(m, t->out_trade_no), t->n_charges);
    }
}

/* ---- no_phantom_payment ---- */

static bool order_has_kept_charge(const struct sim_model *m, const struct sim_porder *o)
{
    for (int32_t t = o->first_trade; t != SIM_NONE; t = m->trades.v[t].next_of_order)
        if (unrefunded_charges(&m->trades.v[t]) > 0)
            return true;
    return false;
}

static bool any_paid_receipt(const struct sim_model *m, const struct sim_porder *o)
{
    for (int32_t r = o->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order)
        if (m->receipts.v[r].signature_ok && sim__s_eq(m, m->receipts.v[r].status, "PAID"))
            return true;
    return false;
}

static void check_phantom(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_NO_PHANTOM_PAYMENT;
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        bool p_paid = o->status_st == SIM_ST_PAID, b_paid = any_paid_receipt(m, o);
        if (!p_paid && !b_paid)
            continue;
        res->checked[inv]++;
        bool charged = order_has_kept_charge(m, o);
        if (p_paid && !charged)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "order PAID in P but G holds no kept charge on any of its trades");
        else if (b_paid && !p_paid)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "B received PAID for an order that is %s in P", or_q(m, o->status));
    }
    /* PAID receipts for orders P does not know at all. */
    struct sim_map seen = {0};
    for (size_t i = 0; i < m->receipts.n; i++) {
        const struct sim_receipt *x = &m->receipts.v[i];
        if (!x->signature_ok || !sim__s_eq(m, x->status, "PAID") ||
            sim__map_get(&m->order_by_id, x->order_id) != SIM_NONE ||
            sim__map_get(&seen, x->order_id) != SIM_NONE)
            continue;
        if (x->order_id != 0 && sim__map_put(&seen, x->order_id, 1) != PD_OK)
            res->rc = PD_ENOMEM;
        res->checked[inv]++;
        record(m, res, inv, SIM_NONE, SIM_NONE, or_q(m, x->order_id), x->client_ref,
               "B received PAID (event %s) for order %s that P does not hold",
               or_q(m, x->event_id), or_q(m, x->order_id));
    }
    sim__map_free(&seen);
}

/* ---- forged callbacks the SUT acknowledged ---- */

/* The gateway journal records what the SUT answered to each callback,
 * forged ones included. The gateway protocol says a receiver refuses (4xx)
 * a bad signature, a stale timestamp, a wrong amount and an unknown trade;
 * it may accept a replay (idempotence). A 2xx to any of the first four is
 * the SUT acting on a forgery, observable even when the genuine callback
 * arrived too: a wrong amount breaks amount_integrity, the others
 * no_phantom_payment (a PAID that no genuine gateway fact caused). */
static int forged_inv(const struct sim_model *m, const struct sim_gjline *g)
{
    if (!sim__s_eq(m, g->op, "callback") || g->fault == 0 ||
        strncmp(sim__s(m, g->fault), "forge.", 6) != 0 || sim__s_eq(m, g->fault, "forge.replay"))
        return -1;
    return sim__s_eq(m, g->fault, "forge.wrong_amount") ? SIM_INV_AMOUNT_INTEGRITY
                                                        : SIM_INV_NO_PHANTOM_PAYMENT;
}

static void check_forged(const struct sim_model *m, struct sim_results *res)
{
    for (size_t i = 0; i < m->gjx.n; i++) {     /* a forgery is a fault: kept whole */
        const struct sim_gjline *g = &m->gjx.v[i];
        int inv = forged_inv(m, g);
        if (inv < 0)
            continue;
        res->checked[inv]++;
        if (!is_2xx(g->status))
            continue;
        int32_t t = sim__map_get(&m->trade_by_otn, g->out_trade_no);
        int32_t o = t != SIM_NONE ? m->trades.v[t].order : sim__map_get(&m->order_by_ref, g->key);
        const char *label = o != SIM_NONE ? sim__s(m, m->orders.v[o].order_id)
                            : g->key ? sim__s(m, g->key) : or_q(m, g->out_trade_no);
        record(m, res, inv, o, t, label, g->key,
               "the SUT acknowledged a forged callback (%s, attempt %lld) for trade %s "
               "with HTTP %lld instead of refusing it", sim__s(m, g->fault) + 6,
               (long long)g->attempt, or_q(m, g->out_trade_no), (long long)g->status);
    }
}

/* ---- amount_integrity ---- */

struct mismatch {
    int n;
    char first[240];
};

/* ca and cb are currencies: interned, so equal ids are equal strings. */
static void mis(const struct sim_model *m, struct mismatch *mm, const char *what, int64_t a,
                sim_sid ca, int64_t b, sim_sid cb)
{
    if (a == b && ca == cb)
        return;
    if (mm->n++ == 0)
        snprintf(mm->first, sizeof mm->first, "%s %lld %s vs order %lld %s", what,
                 (long long)a, or_q(m, ca), (long long)b, or_q(m, cb));
}

static void amounts_of_order(const struct sim_model *m, const struct sim_porder *o,
                             struct mismatch *mm)
{
    char what[160];
    for (int32_t ti = o->first_trade; ti != SIM_NONE; ti = m->trades.v[ti].next_of_order) {
        const struct sim_gtrade *t = &m->trades.v[ti];
        snprintf(what, sizeof what, "G trade %s", sim__sp(m, t->out_trade_no));
        mis(m, mm, what, t->amount, t->currency, o->amount, o->currency);
        for (uint32_t c = 0; c < t->n_charges; c++) {
            snprintf(what, sizeof what, "G charge %u of %s", c + 1, sim__sp(m, t->out_trade_no));
            mis(m, mm, what, t->charges[c].amount, o->currency, o->amount, o->currency);
        }
    }
    for (int32_t r = o->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order) {
        const struct sim_receipt *x = &m->receipts.v[r];
        if (x->amount == SIM_NO_TIME && x->currency == 0)
            continue;
        snprintf(what, sizeof what, "B receipt %s", or_q(m, x->event_id));
        mis(m, mm, what, x->amount, x->currency, o->amount, o->currency);
    }
    if (o->submission != SIM_NONE) {
        const struct sim_submission *s = &m->subs.v[o->submission];
        if (s->amount != SIM_NO_TIME)
            mis(m, mm, "submitted", s->amount, s->currency, o->amount, o->currency);
    }
}

static void check_amounts(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_AMOUNT_INTEGRITY;
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        struct mismatch mm = {0};
        res->checked[inv]++;
        amounts_of_order(m, o, &mm);
        if (mm.n > 0)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "%s%s", mm.first, mm.n > 1 ? " (and more)" : "");
    }
}

/* ---- consistent_notifications ---- */

/* Two deliveries of one event agree on what both of them carry (a field a
 * delivery lacks is not a disagreement). */
static bool copies_agree(const struct sim_receipt *x, const struct sim_receipt *y)
{
    if (x->status != y->status)
        return false;
    if (x->amount != SIM_NO_TIME && y->amount != SIM_NO_TIME && x->amount != y->amount)
        return false;
    if (x->currency && y->currency && x->currency != y->currency)
        return false;
    return x->seq == SIM_NO_TIME || y->seq == SIM_NO_TIME || x->seq == y->seq;
}

/* The first contradiction among an order's receipts, into why; false when none. */
static bool receipts_contradict(const struct sim_model *m, const struct sim_porder *o,
                                char *why, size_t len)
{
    const struct sim_receipt *paid = NULL, *closed = NULL, *last = NULL;
    for (int32_t a = o->first_receipt; a != SIM_NONE; a = m->receipts.v[a].next_of_order) {
        const struct sim_receipt *x = &m->receipts.v[a];
        if (!x->signature_ok) {
            if (x->applied) {
                snprintf(why, len, "receipt %s with a bad signature was applied",
                         or_q(m, x->event_id));
                return true;
            }
            continue;
        }
        for (int32_t b = x->next_of_order; b != SIM_NONE; b = m->receipts.v[b].next_of_order) {
            const struct sim_receipt *y = &m->receipts.v[b];
            if (!y->signature_ok)
                continue;
            if (x->event_id == y->event_id && !copies_agree(x, y)) {
                snprintf(why, len, "two deliveries of event %s disagree (%s %lld seq %lld vs "
                         "%s %lld seq %lld)", or_q(m, x->event_id), or_q(m, x->status),
                         (long long)or_0(x->amount), (long long)or_0(x->seq),
                         or_q(m, y->status), (long long)or_0(y->amount), (long long)or_0(y->seq));
                return true;
            }
            if (x->status == y->status && x->event_id != y->event_id) {
                snprintf(why, len, "status %s notified under two event ids (%s, %s)",
                         or_q(m, x->status), or_q(m, x->event_id), or_q(m, y->event_id));
                return true;
            }
        }
        if (sim__s_eq(m, x->status, "PAID"))
            paid = x;
        if (sim__s_eq(m, x->status, "CLOSED"))
            closed = x;
        if (last == NULL || x->at >= last->at)
            last = x;
    }
    if (paid && closed) {
        snprintf(why, len, "B received both PAID (%s) and CLOSED (%s)", or_q(m, paid->event_id),
                 or_q(m, closed->event_id));
        return true;
    }
    if (last && sim__is_final(o->status_st) && last->status != o->status) {
        snprintf(why, len, "the last receipt says %s but P says %s", or_q(m, last->status),
                 or_q(m, o->status));
        return true;
    }
    return false;
}

/* P's own notification list: one event id per status, no PAID and CLOSED. */
static bool pnotifs_contradict(const struct sim_model *m, const struct sim_porder *o,
                               char *why, size_t len)
{
    bool paid = false, closed = false;
    for (uint32_t i = 0; i < o->n_notifs; i++) {
        const struct sim_pnotif *a = &o->notifs[i];
        paid |= sim__s_eq(m, a->status, "PAID");
        closed |= sim__s_eq(m, a->status, "CLOSED");
        for (uint32_t j = i + 1; j < o->n_notifs; j++)
            if (a->status == o->notifs[j].status &&
                a->event_id != o->notifs[j].event_id) {
                snprintf(why, len, "P lists status %s under two event ids (%s, %s)",
                         or_q(m, a->status), or_q(m, a->event_id), or_q(m, o->notifs[j].event_id));
                return true;
            }
    }
    if (paid && closed) {
        snprintf(why, len, "P notified both PAID and CLOSED");
        return true;
    }
    return false;
}

static void check_notifications(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_CONSISTENT_NOTIFICATIONS;
    char why[SUMMARY_LEN];
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        res->checked[inv]++;
        if (receipts_contradict(m, o, why, sizeof why) || pnotifs_contradict(m, o, why, sizeof why))
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "%s", why);
    }
    for (size_t i = 0; i < m->receipts.n; i++) {
        const struct sim_receipt *x = &m->receipts.v[i];
        if (sim__map_get(&m->order_by_id, x->order_id) == SIM_NONE && x->applied &&
            !x->signature_ok)
            record(m, res, inv, SIM_NONE, SIM_NONE, or_q(m, x->order_id), x->client_ref,
                   "receipt %s with a bad signature was applied", or_q(m, x->event_id));
    }
}

/* ---- legal_history ---- */

static bool legal_step(uint8_t from, uint8_t to)
{
    switch (from) {
    case SIM_ST_UNPAID:
        return to == SIM_ST_PAYING || to == SIM_ST_CLOSED;
    case SIM_ST_PAYING:
        return to == SIM_ST_UNKNOWN || to == SIM_ST_UNPAID || to == SIM_ST_PAID ||
               to == SIM_ST_CLOSED;
    case SIM_ST_UNKNOWN:
        return to == SIM_ST_PAYING || to == SIM_ST_PAID || to == SIM_ST_CLOSED;
    default:
        return false;   /* nothing leaves PAID or CLOSED; OTHER is no state */
    }
}

static bool history_illegal(const struct sim_model *m, const struct sim_porder *o,
                            char *why, size_t len)
{
    if (o->n_hist == 0) {
        snprintf(why, len, "empty status history");
        return true;
    }
    if (o->hist[0].from != 0 || o->hist[0].to_st != SIM_ST_UNPAID) {
        snprintf(why, len, "history[0] is %s->%s, not null->UNPAID", or_q(m, o->hist[0].from),
                 or_q(m, o->hist[0].to));
        return true;
    }
    for (uint32_t i = 1; i < o->n_hist; i++) {
        const struct sim_hist *p = &o->hist[i - 1], *h = &o->hist[i];
        if (h->from != p->to) {
            snprintf(why, len, "history[%u] starts from %s but the order was %s", i,
                     or_q(m, h->from), or_q(m, p->to));
            return true;
        }
        if (!legal_step(h->from_st, h->to_st)) {
            snprintf(why, len, "history[%u] %s->%s (%s) is not a transition of the state "
                     "machine", i, or_q(m, h->from), or_q(m, h->to), or_q(m, h->cause));
            return true;
        }
        if (h->at < p->at) {
            snprintf(why, len, "history[%u] at %lld goes back before %lld", i,
                     (long long)h->at, (long long)p->at);
            return true;
        }
    }
    if (o->hist[o->n_hist - 1].to != o->status) {
        snprintf(why, len, "history ends at %s but the order is %s",
                 or_q(m, o->hist[o->n_hist - 1].to), or_q(m, o->status));
        return true;
    }
    return false;
}

/* The contract's guard on CLOSED: an order with a trade is closed only
 * after the gateway confirmed the close. The gateway refuses to charge a
 * closed trade, so a CLOSED order whose trade is still open, or was charged
 * at all, was closed locally -- unless the gateway journal shows a close of
 * that trade answered 200 (a gateway that lies about the close, fault
 * fake_success: the SUT did what the contract asks). */
static bool closed_unconfirmed(const struct sim_model *m, const struct sim_porder *o,
                               char *why, size_t len)
{
    if (o->status_st != SIM_ST_CLOSED)
        return false;
    for (int32_t ti = o->first_trade; ti != SIM_NONE; ti = m->trades.v[ti].next_of_order) {
        const struct sim_gtrade *t = &m->trades.v[ti];
        if (t->n_close_ok == 0 && (chargeable(m, t) || t->n_charges > 0)) {
            snprintf(why, len, "CLOSED although trade %s was never closed at the gateway "
                     "(state %s, %u charge(s))", sim__sp(m, t->out_trade_no), or_q(m, t->state),
                     t->n_charges);
            return true;
        }
    }
    return false;
}

static void check_history(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_LEGAL_HISTORY;
    char why[SUMMARY_LEN];
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        res->checked[inv]++;
        if (history_illegal(m, o, why, sizeof why) || closed_unconfirmed(m, o, why, sizeof why))
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "%s", why);
    }
}

/* ---- convergence ---- */

static bool final_delivered(const struct sim_model *m, const struct sim_porder *o)
{
    for (uint32_t i = 0; i < o->n_notifs; i++)
        if (o->notifs[i].status == o->status && o->notifs[i].delivered_at != SIM_NO_TIME)
            return true;
    for (int32_t r = o->first_receipt; r != SIM_NONE; r = m->receipts.v[r].next_of_order) {
        const struct sim_receipt *x = &m->receipts.v[r];
        if (x->signature_ok && (is_2xx(x->answered) || m->run.biz_forever) &&
            (x->status == o->status))
            return true;
    }
    return false;
}

/* Why an order is still open at the end of the run (OPEN_NONE: it is not);
 * why says so in words. */
enum open_why { OPEN_NONE, OPEN_NOT_FINAL, OPEN_CHARGE_KEPT, OPEN_REFUND, OPEN_UNACKED, OPEN_N };

static enum open_why order_open(const struct sim_model *m, const struct sim_porder *o,
                                bool healed, char *why, size_t len)
{
    if (!sim__is_final(o->status_st)) {
        snprintf(why, len, "order still %s at the end of the run", or_q(m, o->status));
        return OPEN_NOT_FINAL;
    }
    for (int32_t ti = o->first_trade; ti != SIM_NONE; ti = m->trades.v[ti].next_of_order) {
        const struct sim_gtrade *t = &m->trades.v[ti];
        if (o->status_st != SIM_ST_PAID && charged_of(t) > refunded_of(t)) {
            snprintf(why, len, "charge on trade %s not accounted for: kept by the gateway, "
                     "the order is %s", sim__sp(m, t->out_trade_no), or_q(m, o->status));
            return OPEN_CHARGE_KEPT;
        }
    }
    for (uint32_t i = 0; i < o->n_refunds; i++)
        if (!sim__s_eq(m, o->refunds[i].status, "SUCCESS")) {
            snprintf(why, len, "refund %s still %s at the end of the run",
                     or_q(m, o->refunds[i].out_refund_no), or_q(m, o->refunds[i].status));
            return OPEN_REFUND;
        }
    if (healed && !final_delivered(m, o)) {
        snprintf(why, len, "final status %s never acknowledged by the business",
                 or_q(m, o->status));
        return OPEN_UNACKED;
    }
    return OPEN_NONE;
}

static bool orphan_charge(const struct sim_gtrade *t)
{
    return t->order == SIM_NONE && charged_of(t) > refunded_of(t);
}

/* "3 orders open (2 not final, 1 never acknowledged), 1 charge with no
 * order" from the per-order checks, for the run's own line. */
static void open_summary(const struct sim_model *m, bool healed, char *out, size_t len)
{
    static const char *const words[OPEN_N] = {"", "not final", "a charge kept",
                                              "a refund pending", "never acknowledged"};
    int64_t n[OPEN_N] = {0}, open = 0, orphans = 0;
    char why[SUMMARY_LEN];
    for (size_t oi = 0; oi < m->orders.n; oi++)
        n[order_open(m, &m->orders.v[oi], healed, why, sizeof why)]++;
    for (size_t i = 0; i < m->trades.n; i++)
        orphans += orphan_charge(&m->trades.v[i]);
    for (int w = OPEN_NOT_FINAL; w < OPEN_N; w++)
        open += n[w];
    if (open == 0 && orphans == 0) {
        snprintf(out, len, "every order final and accounted for");
        return;
    }
    size_t k = (size_t)snprintf(out, len, "%lld order%s open", (long long)open,
                                open == 1 ? "" : "s");
    const char *sep = " (";
    for (int w = OPEN_NOT_FINAL; w < OPEN_N && k < len; w++) {
        if (n[w] == 0)
            continue;
        k += (size_t)snprintf(out + k, len - k, "%s%lld %s", sep, (long long)n[w], words[w]);
        sep = ", ";
    }
    if (open > 0 && k < len)
        k += (size_t)snprintf(out + k, len - k, ")");
    if (orphans > 0 && k < len)
        snprintf(out + k, len - k, ", %lld charge%s with no order", (long long)orphans,
                 orphans == 1 ? "" : "s");
}

static void check_convergence(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_CONVERGENCE;
    const struct sim_run_info *ri = &m->run;
    bool healed = ri->faults_healed_at != SIM_NO_TIME;
    char bound[32], took[32], open[SUMMARY_LEN];
    pd_format_duration(ri->convergence_bound_ms, bound, sizeof bound);
    res->checked[inv]++;
    if (!ri->quiet) {
        open_summary(m, healed, open, sizeof open);
        record(m, res, inv, SIM_NONE, SIM_NONE, "(run)", 0,
               "the run did not become quiet within the convergence bound (%s): %s", bound,
               open);
    } else if (healed && ri->quiet_at != SIM_NO_TIME &&
               ri->quiet_at - ri->faults_healed_at > ri->convergence_bound_ms) {
        pd_format_duration(ri->quiet_at - ri->faults_healed_at, took, sizeof took);
        record(m, res, inv, SIM_NONE, SIM_NONE, "(run)", 0,
               "quiet %s after the faults healed, past the convergence bound (%s)", took, bound);
    }
    for (size_t i = 0; i < m->trades.n; i++) {
        const struct sim_gtrade *t = &m->trades.v[i];
        if (orphan_charge(t))
            record(m, res, inv, SIM_NONE, (int32_t)i, sim__s(m, t->out_trade_no), t->attach,
                   "charge on trade %s not accounted for: kept by the gateway, no order",
                   sim__sp(m, t->out_trade_no));
    }
    char why[SUMMARY_LEN];
    for (size_t oi = 0; oi < m->orders.n; oi++) {
        const struct sim_porder *o = &m->orders.v[oi];
        res->checked[inv]++;
        if (order_open(m, o, healed, why, sizeof why) != OPEN_NONE)
            record(m, res, inv, (int32_t)oi, SIM_NONE, sim__s(m, o->order_id), o->client_ref,
                   "%s", why);
    }
}

/* ---- duplicate_submission_rejected ---- */

/* The order the SUT kept for a workload key: the original's when it was
 * accepted, else the one P holds under the original's client_ref, else the
 * one a 409 named. */
static sim_sid accepted_id(const struct sim_model *m, const struct sim_submission *orig)
{
    if (orig == NULL)
        return 0;
    if (is_2xx(orig->status) && orig->order_id)
        return orig->order_id;
    int32_t o = sim__map_get(&m->order_by_ref, orig->client_ref ? orig->client_ref : orig->key);
    if (o != SIM_NONE)
        return m->orders.v[o].order_id;
    return orig->status == 409 ? orig->order_id : 0;
}

enum window { W_IN, W_OUT, W_AMBIGUOUS };

static int64_t created_of(const struct sim_model *m, int32_t o)
{
    return o != SIM_NONE ? m->orders.v[o].created_at : SIM_NO_TIME;
}

static enum window judge(int64_t dt, int64_t w, int64_t margin)
{
    if (dt < w - margin)
        return W_IN;
    return dt >= w + margin ? W_OUT : W_AMBIGUOUS;
}

/* Classifies a resubmission by time, not only by label. A "concurrent" one
 * is in the window by construction. The window runs on the SUT's clock from
 * the moment it accepted the original, so: an accepted resubmission is
 * judged by the two orders' creation times in P (one clock); a refused one
 * by its send time moved onto the SUT's clock with the offset estimated
 * near that moment (check_clock.h; for a refused one, at most the least
 * offset of the run, so queueing is never taken for time passed). Within
 * a margin of the window's edge
 * -- max(1 s, window/20, how much the nearby offsets disagree) -- it is not
 * judged. */
static enum window classify(const struct sim_model *m, const struct sim_clock_map *cm,
                            const struct sim_submission *d, const struct sim_submission *orig)
{
    if (sim__s_eq(m, d->kind, "concurrent"))
        return W_IN;
    int64_t w = m->run.dedup_window_ms;
    if (orig == NULL || w == SIM_NO_TIME)
        return sim__s_eq(m, d->kind, "immediate") ? W_IN : W_OUT;
    int64_t margin = w / 20 > 1000 ? w / 20 : 1000;
    int64_t claim = created_of(m, sim__map_get(&m->order_by_id, accepted_id(m, orig)));
    int64_t own = is_2xx(d->status) ? created_of(m, sim__map_get(&m->order_by_id, d->order_id))
                                    : SIM_NO_TIME;
    if (own != SIM_NO_TIME && claim != SIM_NO_TIME)
        return judge(own - claim, w, margin);
    int64_t off_d, spread_d, off_o, spread_o, off_min;
    if (!sim__clock_map_at(cm, d->at, &off_d, &spread_d))
        return judge(d->at - orig->at, w, margin);
    /* The samples' offsets carry their requests' latency. A refused copy
     * is out of the window only if it was even when the SUT handled it as
     * early as it can have: take the least latency seen in the run, not
     * that of the originals sent nearby (under load they all queued, and
     * the copy, sent later on a quiet SUT, need not have). */
    if (!is_2xx(d->status) && sim__clock_map_min(cm, &off_min) && off_min < off_d)
        off_d = off_min;
    if (claim == SIM_NO_TIME) {
        sim__clock_map_at(cm, orig->at, &off_o, &spread_o);
        claim = orig->at + off_o;
        spread_d += spread_o;
    }
    return judge(d->at + off_d - claim, w, margin > spread_d ? margin : spread_d);
}

/* When the SUT never accepted an original (it answered 404 or 503 while
 * starting, say, and holds no order for it), the first copy it accepted is
 * the order, not a duplicate: returns that copy, or NULL. */
static const struct sim_submission *stand_in(const struct sim_model *m,
                                             const struct sim_submission *orig)
{
    const struct sim_submission *first = NULL;
    for (size_t i = 0; orig != NULL && i < m->subs.n; i++) {
        const struct sim_submission *s = &m->subs.v[i];
        if (s != orig && is_2xx(s->status) && s->order_id != 0 &&
            (s->original_key == orig->key) && (first == NULL || s->at < first->at))
            first = s;
    }
    return first;
}

/* "300 ms after the original", "20 ms before the original" (a concurrent
 * double-click may be sent first), or "with no original on record". */
static const char *since_original(const struct sim_submission *d,
                                  const struct sim_submission *orig, char *buf, size_t len)
{
    if (orig == NULL) {
        snprintf(buf, len, "with no original on record");
        return buf;
    }
    long long dt = (long long)(d->at - orig->at);
    snprintf(buf, len, "%lld ms %s the original", dt < 0 ? -dt : dt, dt < 0 ? "before" : "after");
    return buf;
}

static void check_dup_in(const struct sim_model *m, struct sim_results *res,
                         const struct sim_submission *d, const struct sim_submission *orig)
{
    const int inv = SIM_INV_DUPLICATE_SUBMISSION_REJECTED;
    char when[64];
    sim_sid kept = accepted_id(m, orig);
    if (kept == 0 && orig != NULL) {
        const struct sim_submission *s = stand_in(m, orig);
        if (s != NULL && s->client_ref == d->client_ref)
            return;
        kept = s != NULL ? s->order_id : 0;
    }
    int32_t extra = sim__map_get(&m->order_by_ref, d->client_ref);
    sim_sid extra_id = extra != SIM_NONE ? m->orders.v[extra].order_id : 0;
    /* A concurrent double-click may win the race: then the original is the
     * one refused, naming the duplicate's order, and that is correct. */
    bool won_race = sim__s_eq(m, d->kind, "concurrent") && is_2xx(d->status) && orig &&
                    orig->status == 409 && orig->order_id == d->order_id;
    if (won_race)
        return;
    if (is_2xx(d->status) || (extra_id && extra_id != kept))
        record(m, res, inv, extra, SIM_NONE, extra_id ? sim__s(m, extra_id) : or_q(m, d->order_id),
               d->original_key, "%s resubmission %s (%s) was accepted as order %s instead "
               "of refused", sim__sp(m, d->kind), or_q(m, d->client_ref),
               since_original(d, orig, when, sizeof when),
               extra_id ? sim__s(m, extra_id) : or_q(m, d->order_id));
    else if (d->status == 409 && kept && d->order_id != kept)
        record(m, res, inv, sim__map_get(&m->order_by_id, kept), SIM_NONE, sim__s(m, kept),
               d->original_key, "%s resubmission %s refused with 409 naming %s, not the "
               "original order %s", sim__sp(m, d->kind), or_q(m, d->client_ref),
               or_q(m, d->order_id),
               sim__s(m, kept));
}

/* True when the refused original lost a double-click race: a concurrent
 * resubmission of it was accepted as the very order its 409 names. won maps
 * an order id to the concurrent resubmission accepted as it. */
static bool concurrent_winner(const struct sim_model *m, const struct sim_map *won,
                              const struct sim_submission *orig)
{
    int32_t w = sim__map_get(won, orig->order_id);
    return w != SIM_NONE && m->subs.v[w].original_key == orig->key;
}

static int index_winners(const struct sim_model *m, struct sim_map *won)
{
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission *d = &m->subs.v[i];
        if (sim__s_eq(m, d->kind, "concurrent") && is_2xx(d->status) && d->order_id != 0 &&
            sim__map_put(won, d->order_id, (int32_t)i) != PD_OK)
            return PD_ENOMEM;
    }
    return PD_OK;
}

/* A submission retried after a lost answer may be refused (409) in favour of
 * the order its own first attempt created: when the order a 409 names
 * carries the submission's own client_ref, it was in fact accepted. */
static struct sim_submission effective(const struct sim_model *m,
                                       const struct sim_submission *d)
{
    struct sim_submission e = *d;
    int32_t o = sim__map_get(&m->order_by_id, d->order_id);
    if (d->status == 409 && o != SIM_NONE && d->client_ref != 0 &&
        (m->orders.v[o].client_ref == d->client_ref))
        e.status = 201;
    return e;
}

static void check_dups(const struct sim_model *m, struct sim_results *res)
{
    const int inv = SIM_INV_DUPLICATE_SUBMISSION_REJECTED;
    char when[64];
    struct sim_map won = {0};
    struct sim_clock_map cm;
    if (index_winners(m, &won) != PD_OK || sim__clock_map_build(m, &cm) != PD_OK) {
        sim__map_free(&won);
        res->rc = PD_ENOMEM;
        return;
    }
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission eff = effective(m, &m->subs.v[i]);
        const struct sim_submission *d = &eff;
        int32_t oi = sim__map_get(&m->sub_original, d->original_key);
        const struct sim_submission *orig = oi != SIM_NONE ? &m->subs.v[oi] : NULL;
        if (sim__s_eq(m, d->kind, "original")) {
            res->checked[inv]++;
            if (d->status == 409 && !concurrent_winner(m, &won, d))
                record(m, res, inv, sim__map_get(&m->order_by_id, d->order_id), SIM_NONE,
                       sim__s(m, d->client_ref ? d->client_ref : d->key), d->key,
                       "the original submission of %s was refused with 409 (naming %s)",
                       sim__sp(m, d->key), or_q(m, d->order_id));
            continue;
        }
        enum window w = classify(m, &cm, d, orig);
        if (w == W_AMBIGUOUS)
            continue;
        res->checked[inv]++;
        if (w == W_IN)
            check_dup_in(m, res, d, orig);
        else if (d->status == 409)
            record(m, res, inv, sim__map_get(&m->order_by_id, d->order_id), SIM_NONE,
                   sim__s(m, d->client_ref ? d->client_ref : d->key), d->original_key,
                   "%s resubmission %s came %s (window %lld ms) and was refused with 409",
                   sim__sp(m, d->kind), or_q(m, d->client_ref),
                   since_original(d, orig, when, sizeof when),
                   (long long)m->run.dedup_window_ms);
    }
    sim__map_free(&won);
    sim__clock_map_free(&cm);
}

/* ---- counts, fault index ---- */

static void compute_counts(const struct sim_model *m, struct sim_results *res)
{
    struct sim_check_counts *c = &res->counts;
    c->orders = (int64_t)m->orders.n;
    c->submissions = (int64_t)m->subs.n;
    for (size_t i = 0; i < m->subs.n; i++)
        if (!sim__s_eq(m, m->subs.v[i].kind, "original")) {
            c->duplicates_sent++;
            c->duplicates_rejected += m->subs.v[i].status == 409;
        }
    for (size_t i = 0; i < m->orders.n; i++) {
        c->paid += m->orders.v[i].status_st == SIM_ST_PAID;
        c->closed += m->orders.v[i].status_st == SIM_ST_CLOSED;
    }
    int64_t attempts = 0;
    res->reproducible = true;
    for (size_t i = 0; i < m->trades.n; i++) {
        c->charges += m->trades.v[i].n_charges;
        c->refunds += m->trades.v[i].n_refunds;
        attempts += m->trades.v[i].cb_attempts;
        if (m->trades.v[i].attach == 0 || *sim__s(m, m->trades.v[i].attach) == '\0')
            res->reproducible = false;
    }
    c->callbacks = m->gj_callbacks;
    for (size_t i = 0; i < m->gjx.n; i++)
        c->callbacks += sim__s_eq(m, m->gjx.v[i].op, "callback");
    if (m->gj.n == 0)
        c->callbacks = attempts;
    c->notifications = (int64_t)m->receipts.n;
}

/* Chains the journal's faulty lines and the payer's unusual calls by key.
 * Built backwards so each chain is in input order. */
static int index_faults(const struct sim_model *m, struct sim_results *res)
{
    res->gj_next = malloc((m->gjx.n + 1) * sizeof *res->gj_next);
    res->payer_next = malloc((m->payer.n + 1) * sizeof *res->payer_next);
    if (res->gj_next == NULL || res->payer_next == NULL)
        return PD_ENOMEM;
    for (size_t i = m->gjx.n; i-- > 0;) {   /* lines with a fault are kept whole */
        const struct sim_gjline *g = &m->gjx.v[i];
        res->gj_next[i] = SIM_NONE;
        if (g->fault == 0 || g->key == 0)
            continue;
        res->gj_next[i] = sim__map_get(&res->gj_first, g->key);
        if (sim__map_set(&res->gj_first, g->key, (int32_t)i) != PD_OK)
            return PD_ENOMEM;
    }
    for (size_t i = m->payer.n; i-- > 0;) {
        const struct sim_payer *p = &m->payer.v[i];
        res->payer_next[i] = SIM_NONE;
        if (p->key == 0 || sim__s_eq(m, p->action, "pay"))
            continue;
        res->payer_next[i] = sim__map_get(&res->payer_first, p->key);
        if (sim__map_set(&res->payer_first, p->key, (int32_t)i) != PD_OK)
            return PD_ENOMEM;
    }
    return PD_OK;
}

/* ---- expectations: did the scenario's story happen? ---- */

void sim__counts_values(const struct sim_check_counts *c, int64_t out[SIM_COUNTS_N])
{
    const int64_t v[SIM_COUNTS_N] = {c->orders, c->submissions, c->duplicates_sent,
                                     c->duplicates_rejected, c->paid, c->closed, c->charges,
                                     c->refunds, c->callbacks, c->notifications};
    memcpy(out, v, sizeof v);
}

static int64_t count_named(const struct sim_check_counts *c, const char *name)
{
    int64_t v[SIM_COUNTS_N];
    sim__counts_values(c, v);
    for (size_t i = 0; i < SIM_COUNTS_N; i++)
        if (strcmp(sim_expect_counts[i], name) == 0)
            return v[i];
    return 0;
}

/* Records of one business.json list with the given status (-1: all);
 * a receipt's status is what the business app answered. */
static int64_t count_business(const struct sim_model *m, const struct sim_expect *e)
{
    int64_t n = 0;
    bool any = e->status < 0;
#define COUNT_STATUS(list, vec, field)                                       \
    if (strcmp(e->record, list) == 0)                                        \
        for (size_t i = 0; i < (vec).n; i++)                                 \
            n += any || (vec).v[i].field == e->status;
    COUNT_STATUS("submissions", m->subs, status)
    COUNT_STATUS("pay_calls", m->paycalls, status)
    COUNT_STATUS("payer", m->payer, status)
    COUNT_STATUS("queries", m->bqueries, status)
    COUNT_STATUS("receipts", m->receipts, answered)
#undef COUNT_STATUS
    return n;
}

static void check_expectations(const struct sim_model *m, struct sim_results *res)
{
    for (size_t i = 0; i < m->n_expect; i++) {
        const struct sim_expect *e = &m->expect[i];
        int64_t seen = 0;
        if (e->kind == SIM_EXPECT_GATEWAY) {
            seen = m->expect_gateway_seen[i];
        } else if (e->kind == SIM_EXPECT_COUNT) {
            seen = count_named(&res->counts, e->count);
        } else if (e->kind == SIM_EXPECT_BUSINESS) {
            seen = count_business(m, e);
        } else {
            for (size_t k = 0; k < m->pevents.n; k++)
                seen += sim__s_eq(m, m->pevents.v[k].target, e->target) &&
                        sim__s_eq(m, m->pevents.v[k].action, e->action);
        }
        res->expect_seen[i] = seen;
        res->expect_unmet += seen < e->at_least;
    }
}

int sim__evaluate(const struct sim_model *m, struct sim_results *res)
{
    memset(res, 0, sizeof *res);
    int rc = index_faults(m, res);
    if (rc != PD_OK)
        return rc;
    compute_counts(m, res);
    check_lost(m, res);
    double_by_order(m, res);
    double_exposure(m, res);
    double_orphans(m, res);
    double_per_trade(m, res);
    check_phantom(m, res);
    check_amounts(m, res);
    check_forged(m, res);
    check_notifications(m, res);
    check_dups(m, res);
    check_history(m, res);
    check_convergence(m, res);
    check_expectations(m, res);
    return res->rc;
}

void sim__results_free(struct sim_results *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->v.n; i++) {
        free(res->v.v[i].summary);
        cJSON_Delete(res->v.v[i].evidence);
        cJSON_Delete(res->v.v[i].faults);
    }
    free(res->v.v);
    sim__map_free(&res->gj_first);
    sim__map_free(&res->payer_first);
    free(res->gj_next);
    free(res->payer_next);
    memset(res, 0, sizeof *res);
}
