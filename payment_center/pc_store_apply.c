/* apply_gateway_fact and the reconciler's closing moves. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pc_bugs.h"
#include "pc_store_internal.h"
#include "pd_err.h"
#include "pd_log.h"

static bool money_matches(const struct pc_fact *f, const struct pc_order *o)
{
    if (!f->has_money)
        return true;
    /* PC_BUG_NO_AMOUNT_CHECK: whatever the gateway says is taken. */
    if (pc_bug_on(PC_BUG_NO_AMOUNT_CHECK))
        return true;
    return f->amount == o->amount && f->currency != NULL && f->merchant_id != NULL &&
           strcmp(f->currency, o->currency) == 0 && strcmp(f->merchant_id, o->merchant_id) == 0;
}

/* A charge the order cannot keep: a PENDING refund row, once per trade. */
static int add_refund(struct pc_conn *c, const struct pc_order *o, const char *out_trade_no,
                      const char *reason, int64_t now_ms, bool *changed, bool *refund)
{
    static const char ins[] =
        "INSERT OR IGNORE INTO refunds(out_refund_no, order_id, out_trade_no, amount, status,"
        " reason, created_at, next_try_at) VALUES(?,?,?,?,'PENDING',?,?,?)";
    char out_refund_no[PC_TRADE_NO_MAX + 8];
    snprintf(out_refund_no, sizeof out_refund_no, "rf-%s", out_trade_no);
    int changes = 0;
    int rc = pc__exec(c, &changes, ins, "tttitii", out_refund_no, o->order_id, out_trade_no,
                      o->amount, reason, now_ms, now_ms);
    if (rc == PD_OK && changes == 1) {
        *changed = *refund = true;
        PD_LOG(PD_LOG_WARN, "pc", "act=refund_scheduled order=%s out_trade_no=%s reason=%s",
               o->order_id, out_trade_no, reason);
    }
    return rc;
}

static int cause_of(int source)
{
    return source == PC_SRC_CALLBACK ? PC_CAUSE_CALLBACK
           : source == PC_SRC_QUERY  ? PC_CAUSE_QUERY
                                     : PC_CAUSE_CLOSE_REFUSED_PAID;
}

static int mark_paid(struct pc_conn *c, struct pc_order *o, const struct pc_fact *f,
                     int64_t now_ms)
{
    /* pc__transition writes paid_trade with the status */
    snprintf(o->paid_trade, sizeof o->paid_trade, "%s", f->out_trade_no);
    return pc__transition(c, o, PC_ST_PAID, cause_of(f->source), now_ms);
}

static int apply_success(struct pc_conn *c, struct pc_order *o, const struct pc_fact *f,
                         int64_t now_ms, bool *changed, bool *refund)
{
    int rc = pc__set_trade_state(c, f->out_trade_no, "SUCCESS", NULL, f->trade_no, now_ms);
    if (rc != PD_OK)
        return rc;
    switch (o->status) {
    case PC_ST_PAYING:
    case PC_ST_UNKNOWN:
        *changed = true;
        return mark_paid(c, o, f, now_ms);
    case PC_ST_PAID:
        if (strcmp(o->paid_trade, f->out_trade_no) == 0)
            return PD_OK;   /* a copy: already applied */
        return add_refund(c, o, f->out_trade_no, "second_charge", now_ms, changed, refund);
    case PC_ST_CLOSED:
        /* PC_BUG_NO_LATE_REFUND: the late money is kept. */
        if (pc_bug_on(PC_BUG_NO_LATE_REFUND))
            return PD_OK;
        return add_refund(c, o, f->out_trade_no, "charge_after_close", now_ms, changed, refund);
    default:
        /* UNPAID: this trade was refused by the gateway, yet it was charged. */
        return add_refund(c, o, f->out_trade_no, "charge_after_reject", now_ms, changed, refund);
    }
}

static int apply_closed(struct pc_conn *c, struct pc_order *o, const struct pc_fact *f,
                        int64_t now_ms, bool *changed)
{
    int rc = pc__set_trade_state(c, f->out_trade_no, f->trade_state, "|INIT|AWAITING|UNKNOWN|",
                                 f->trade_no, now_ms);
    bool current = strcmp(o->cur_trade, f->out_trade_no) == 0;
    if (rc != PD_OK || f->source == PC_SRC_CALLBACK || !current ||
        (o->status != PC_ST_PAYING && o->status != PC_ST_UNKNOWN))
        return rc;
    *changed = true;
    return pc__transition(c, o, PC_ST_CLOSED, PC_CAUSE_QUERY, now_ms);
}

static int apply_open(struct pc_conn *c, struct pc_order *o, const struct pc_fact *f,
                      int64_t now_ms, bool *changed)
{
    /* A callback saying NOTPAY is stale news: acknowledged, ignored. */
    if (f->source == PC_SRC_CALLBACK || strcmp(o->cur_trade, f->out_trade_no) != 0)
        return PD_OK;
    int rc = pc__set_trade_state(c, f->out_trade_no, "AWAITING", "|INIT|UNKNOWN|", f->trade_no,
                                 now_ms);
    if (rc != PD_OK || o->status != PC_ST_UNKNOWN)
        return rc;
    *changed = true;
    return pc__transition(c, o, PC_ST_PAYING, PC_CAUSE_QUERY, now_ms);
}

static int record_nonce(struct pc_conn *c, const char *nonce, int64_t now_ms, int *result)
{
    static const char ins[] = "INSERT OR IGNORE INTO nonces(nonce, at) VALUES(?,?)";
    int changes = 0;
    int rc = pc__exec(c, &changes, ins, "ti", nonce, now_ms);
    if (rc == PD_OK && changes == 0)
        *result = PC_APPLY_REPLAY;
    return rc;
}

static int apply_in_tx(struct pc_conn *c, const struct pc_fact *f, int64_t now_ms, int *result,
                       bool *refund)
{
    char order_id[PC_ORDER_ID_MAX + 1], state[16];
    struct pc_order o;
    int rc = pc__trade_order(c, f->out_trade_no, order_id, state, sizeof state);
    if (rc == PD_ENOTFOUND) {
        *result = PC_APPLY_UNKNOWN_TRADE;
        return PD_OK;
    }
    if (rc == PD_OK)
        rc = pc__load_order(c, order_id, &o);
    if (rc != PD_OK)
        return rc;
    if (!money_matches(f, &o)) {
        *result = PC_APPLY_MISMATCH;
        return PD_OK;
    }
    if (f->nonce != NULL) {
        rc = record_nonce(c, f->nonce, now_ms, result);
        if (rc != PD_OK || *result == PC_APPLY_REPLAY)
            return rc;
    }
    bool changed = false;
    const char *ts = f->trade_state;
    if (strcmp(ts, "SUCCESS") == 0)
        rc = apply_success(c, &o, f, now_ms, &changed, refund);
    else if (strcmp(ts, "CLOSED") == 0 || strcmp(ts, "PAYERROR") == 0)
        rc = apply_closed(c, &o, f, now_ms, &changed);
    else if (strcmp(ts, "NOTPAY") == 0 || strcmp(ts, "USERPAYING") == 0)
        rc = apply_open(c, &o, f, now_ms, &changed);
    /* REFUND and anything else: nothing to change here. */
    *result = changed ? PC_APPLY_CHANGED : PC_APPLY_IGNORED;
    return rc;
}

struct apply_arg {
    const struct pc_fact *f;
    int64_t now_ms;
    int *result;
    bool refund;        /* a refund row was added */
};

static int apply_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct apply_arg *a = arg;
    a->refund = false;
    int rc = apply_in_tx(c, a->f, a->now_ms, a->result, &a->refund);
    /* A refused fact changes nothing, not even the nonce table. */
    *undo = *a->result == PC_APPLY_UNKNOWN_TRADE || *a->result == PC_APPLY_MISMATCH ||
            *a->result == PC_APPLY_REPLAY;
    return rc;
}

int pc_store_apply_fact(pc_store *s, const struct pc_fact *f, int64_t now_ms, int *out_result)
{
    *out_result = PC_APPLY_IGNORED;
    struct apply_arg a = {f, now_ms, out_result, false};
    int rc = pc__tx(s, apply_tx, &a);
    /* Counted once committed: whoever then reads the count to wake the
     * refund sender wakes it after the row is there to be read. */
    if (rc == PD_OK && a.refund)
        __atomic_add_fetch(&s->refunds_added, 1, __ATOMIC_RELEASE);
    return rc;
}

long pc_store_refunds_added(pc_store *s)
{
    return __atomic_load_n(&s->refunds_added, __ATOMIC_ACQUIRE);
}

/* ---- reconciler moves ---- */

int pc_store_due_orders(pc_store *s, int64_t now_ms, int part, int parts,
                        struct pc_due *out, size_t max, size_t *out_n)
{
    static const char sql[] =
        "SELECT order_id FROM orders WHERE next_check_at IS NOT NULL AND next_check_at <= ?"
        " AND rowid % ? = ? ORDER BY next_check_at LIMIT ?";
    *out_n = 0;
    sqlite3_stmt *st = pc__due_query(s, sql, now_ms, part, parts, max);
    if (st == NULL)
        return PD_EIO;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *out_n < max)
        pc__col_text(st, 0, out[(*out_n)++].order_id, PC_ORDER_ID_MAX + 1);
    return pc__rows_end(st, step);
}

struct resched_arg {
    const char *order_id;
    int64_t version, next_check_at, check_count;
    int changes;
};

static int resched_tx(struct pc_conn *c, void *arg, bool *undo)
{
    static const char upd[] =
        "UPDATE orders SET next_check_at=?, check_count=? WHERE order_id=? AND version=?"
        " AND status IN ('UNPAID','PAYING','UNKNOWN')";
    struct resched_arg *a = arg;
    (void)undo;
    return pc__exec(c, &a->changes, upd, "iiti", a->next_check_at, a->check_count, a->order_id,
                    a->version);
}

int pc_store_reschedule(pc_store *s, const char *order_id, int64_t version,
                        int64_t next_check_at, int64_t check_count)
{
    struct resched_arg a = {order_id, version, next_check_at, check_count, 0};
    int rc = pc__tx(s, resched_tx, &a);
    return rc == PD_OK && a.changes == 0 ? PD_ECONFLICT : rc;
}

struct close_arg {
    const char *order_id, *trade;
    int cause;
    int64_t now_ms;
};

/* Loads the order, checks it is in one of the given statuses (and on the
 * given trade, when trade is not NULL), and moves it to CLOSED. */
static int close_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct close_arg *a = arg;
    const char *order_id = a->order_id, *trade = a->trade;
    struct pc_order o;
    char oid[PC_ORDER_ID_MAX + 1], state[16];
    int rc = PD_OK;
    (void)undo;
    if (trade != NULL) {
        rc = pc__trade_order(c, trade, oid, state, sizeof state);
        order_id = oid;
        if (rc == PD_OK)
            rc = pc__set_trade_state(c, trade, "CLOSED", "|INIT|AWAITING|UNKNOWN|", NULL,
                                     a->now_ms);
    }
    if (rc == PD_OK)
        rc = pc__load_order(c, order_id, &o);
    if (rc == PD_OK && trade != NULL && strcmp(o.cur_trade, trade) != 0)
        rc = PD_ECONFLICT;
    if (rc == PD_OK)
        rc = pc__transition(c, &o, PC_ST_CLOSED, a->cause, a->now_ms);
    return rc;
}

static int close_with(pc_store *s, const char *order_id, const char *trade, int cause,
                      int64_t now_ms)
{
    struct close_arg a = {order_id, trade, cause, now_ms};
    return pc__tx(s, close_tx, &a);
}

int pc_store_close_unpaid(pc_store *s, const char *order_id, int64_t now_ms)
{
    return close_with(s, order_id, NULL, PC_CAUSE_EXPIRED_UNPAID, now_ms);
}

int pc_store_close_confirmed(pc_store *s, const char *out_trade_no, int64_t now_ms)
{
    return close_with(s, NULL, out_trade_no, PC_CAUSE_CLOSE_CONFIRMED, now_ms);
}

int pc_store_close_blind(pc_store *s, const char *order_id, int64_t now_ms)
{
    struct pc_order o;
    int rc = pc_store_get(s, order_id, &o);
    if (rc != PD_OK)
        return rc;
    if (o.status == PC_ST_UNPAID)
        return close_with(s, order_id, NULL, PC_CAUSE_EXPIRED_UNPAID, now_ms);
    return close_with(s, NULL, o.cur_trade, PC_CAUSE_CLOSE_CONFIRMED, now_ms);
}

struct prune_arg {
    const char *sql;
    int64_t at;
};

static int prune_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct prune_arg *a = arg;
    (void)undo;
    return pc__exec(c, NULL, a->sql, "i", a->at);
}

int pc_store_prune_nonces(pc_store *s, int64_t before_ms)
{
    static const char del[] = "DELETE FROM nonces WHERE at < ?";
    struct prune_arg a = {del, before_ms};
    return pc__tx(s, prune_tx, &a);
}

int pc_store_prune_dedup(pc_store *s, int64_t now_ms)
{
    /* Expired claims are dead weight: a new claim replaces them anyway. A
     * bounded delete keeps the writer's other callers waiting briefly. */
    static const char del[] =
        "DELETE FROM dedup WHERE rowid IN"
        " (SELECT rowid FROM dedup WHERE expires_at <= ? LIMIT 5000)";
    struct prune_arg a = {del, now_ms};
    return pc__tx(s, prune_tx, &a);
}
