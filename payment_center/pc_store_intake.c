/* Order intake and the pay compare-and-set. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pc_bugs.h"
#include "pc_store_internal.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"

static char *items_json(const struct pc_order_in *o)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < o->n_items; i++) {
        cJSON *it = cJSON_CreateObject();
        if (it == NULL || !cJSON_AddItemToArray(arr, it)) {
            cJSON_Delete(it);
            break;
        }
        cJSON_AddStringToObject(it, "sku", o->items[i].sku);
        pd_json_add_i64(it, "qty", o->items[i].qty);
        pd_json_add_i64(it, "unit_amount", o->items[i].unit_amount);
    }
    char *text = arr ? pd_json_print(arr) : NULL;
    cJSON_Delete(arr);
    return text;
}

/* The orders themselves are the record the claim rows summarise. sub->now_ms
 * is the request's arrival, read before it queued for the writer --
 * under load (and libfaketime's speed-up) that can be minutes of clock
 * earlier than now, and the prune job deletes claim rows by the current
 * clock. So a claim row missing or taken over is checked here: an order with
 * these facts that arrived inside the window before this one's arrival (or
 * after it) makes this a duplicate. Runs inside the claim's transaction. */
static int recent_order(struct pc_conn *c, const struct pc_submit *sub,
                        char dup_id[PC_ORDER_ID_MAX + 1])
{
    static const char recent[] =
        "SELECT order_id FROM orders WHERE fingerprint=? AND created_at > ?"
        " ORDER BY created_at DESC LIMIT 1";
    sqlite3_stmt *st = pc__query(c, recent, "ti", sub->fingerprint,
                                 sub->now_ms - sub->window_ms);
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        pc__col_text(st, 0, dup_id, PC_ORDER_ID_MAX + 1);
    sqlite3_reset(st);
    return step == SQLITE_ROW ? PD_ECONFLICT : step == SQLITE_DONE ? PD_OK : PD_EIO;
}

/* The atomic claim: insert the fingerprint, or take over an expired claim,
 * in one statement. Zero rows changed means an unexpired claim exists; one
 * row changed still defers to a recent order (see recent_order). */
static int claim_fingerprint(struct pc_conn *c, const struct pc_submit *sub,
                             char dup_id[PC_ORDER_ID_MAX + 1])
{
    static const char upsert[] =
        "INSERT INTO dedup(fingerprint, order_id, expires_at) VALUES(?,?,?)"
        " ON CONFLICT(fingerprint) DO UPDATE SET order_id=excluded.order_id,"
        " expires_at=excluded.expires_at WHERE dedup.expires_at <= ?";
    static const char owner[] = "SELECT order_id FROM dedup WHERE fingerprint=?";
    int changes = 0;
    int rc = pc__exec(c, &changes, upsert, "ttii", sub->fingerprint, sub->order_id,
                      sub->now_ms + sub->window_ms, sub->now_ms);
    if (rc != PD_OK)
        return rc;
    if (changes == 1)
        return recent_order(c, sub, dup_id);
    sqlite3_stmt *st = pc__query(c, owner, "t", sub->fingerprint);
    if (st == NULL)
        return PD_EIO;
    rc = sqlite3_step(st) == SQLITE_ROW ? PD_ECONFLICT : PD_EIO;
    if (rc == PD_ECONFLICT)
        pc__col_text(st, 0, dup_id, PC_ORDER_ID_MAX + 1);
    sqlite3_reset(st);
    return rc;
}

static int insert_order(struct pc_conn *c, const struct pc_submit *sub)
{
    static const char ins[] =
        "INSERT INTO orders(order_id, merchant_id, user_id, client_ref, amount, currency,"
        " items, fingerprint, status, created_at, expires_at, next_check_at)"
        " VALUES(?,?,?,?,?,?,?,?,'UNPAID',?,?,?)";
    static const char hist[] =
        "INSERT INTO history(order_id, at, from_status, to_status, cause)"
        " VALUES(?,?,NULL,'UNPAID','submit')";
    const struct pc_order_in *o = sub->order;
    char *items = items_json(o);
    if (items == NULL)
        return PD_ENOMEM;
    int64_t expires = sub->now_ms + sub->expiry_ms;
    int rc = pc__exec(c, NULL, ins, "ttttitttiii", sub->order_id, o->merchant_id, o->user_id,
                      o->client_ref[0] ? o->client_ref : NULL, o->amount, o->currency, items,
                      sub->fingerprint, sub->now_ms, expires, expires);
    cJSON_free(items);
    if (rc == PD_OK)
        rc = pc__exec(c, NULL, hist, "ti", sub->order_id, sub->now_ms);
    return rc;
}

/* PC_BUG_DEDUP_RACE: look first, in a transaction of its own, then insert
 * in another -- two twins can both see "no claim". */
static int racy_check(pc_store *s, const struct pc_submit *sub,
                      char dup_id[PC_ORDER_ID_MAX + 1])
{
    static const char look[] =
        "SELECT order_id FROM dedup WHERE fingerprint=? AND expires_at > ?";
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__query(c, look, "ti", sub->fingerprint, sub->now_ms) : NULL;
    if (st == NULL)
        return PD_EIO;
    int rc = sqlite3_step(st) == SQLITE_ROW ? PD_ECONFLICT : PD_OK;
    if (rc == PD_ECONFLICT)
        pc__col_text(st, 0, dup_id, PC_ORDER_ID_MAX + 1);
    sqlite3_reset(st);
    return rc;
}

static int blind_claim(struct pc_conn *c, const struct pc_submit *sub)
{
    static const char put[] =
        "INSERT OR REPLACE INTO dedup(fingerprint, order_id, expires_at) VALUES(?,?,?)";
    return pc__exec(c, NULL, put, "tti", sub->fingerprint, sub->order_id,
                    sub->now_ms + sub->window_ms);
}

struct submit_arg {
    const struct pc_submit *sub;
    char *dup_id;
};

static int submit_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct submit_arg *a = arg;
    int rc;
    (void)undo;
    if (pc_bug_on(PC_BUG_NO_DEDUP))
        rc = PD_OK;     /* PC_BUG_NO_DEDUP: no claim at all */
    else if (pc_bug_on(PC_BUG_DEDUP_RACE))
        rc = blind_claim(c, a->sub);
    else
        rc = claim_fingerprint(c, a->sub, a->dup_id);
    if (rc == PD_OK)
        rc = insert_order(c, a->sub);
    return rc;
}

int pc_store_submit(pc_store *s, const struct pc_submit *sub, char dup_id[PC_ORDER_ID_MAX + 1])
{
    dup_id[0] = '\0';
    if (pc_bug_on(PC_BUG_DEDUP_RACE)) {
        int rc = racy_check(s, sub, dup_id);
        if (rc != PD_OK)
            return rc;
        pd_sleep_ms(50);   /* the round trip real check-then-insert code makes */
    }
    struct submit_arg a = {sub, dup_id};
    return pc__tx(s, submit_tx, &a);
}

static int insert_trade(struct pc_conn *c, const struct pc_order *o, const char *notify_url,
                        int64_t now_ms)
{
    static const char ins[] =
        "INSERT INTO trades(out_trade_no, order_id, attempt, state, notify_url, created_at,"
        " updated_at) VALUES(?,?,?,'INIT',?,?,?)";
    return pc__exec(c, NULL, ins, "ttitii", o->cur_trade, o->order_id, o->attempt, notify_url,
                    now_ms, now_ms);
}

/* Moves an UNPAID order to PAYING on a new attempt (pc__transition writes
 * the attempt, its trade and the check count with the status). */
static int start_attempt(struct pc_conn *c, struct pc_order *o, const char *notify_url,
                         int64_t now_ms, int64_t first_check_ms)
{
    o->attempt++;
    snprintf(o->cur_trade, sizeof o->cur_trade, "%s-%" PRId64, o->order_id, o->attempt);
    o->next_check_at = now_ms + first_check_ms;
    o->check_count = 0;
    int rc = pc__transition(c, o, PC_ST_PAYING, PC_CAUSE_PAY, now_ms);
    if (rc == PD_OK)
        rc = insert_trade(c, o, notify_url, now_ms);
    return rc;
}

static int pay_decide(struct pc_conn *c, const char *order_id, const char *notify_url,
                      int64_t now_ms, int64_t first_check_ms, struct pc_pay *out)
{
    int rc = pc__load_order(c, order_id, &out->order);
    if (rc != PD_OK)
        return rc;
    struct pc_order *o = &out->order;
    if (o->status == PC_ST_PAYING || o->status == PC_ST_UNKNOWN) {
        out->verdict = PC_PAY_IN_PROGRESS;
        pd_strlcpy(out->out_trade_no, o->cur_trade, sizeof out->out_trade_no);
        return PD_OK;
    }
    if (o->status != PC_ST_UNPAID || now_ms >= o->expires_at) {
        out->verdict = PC_PAY_NOT_PAYABLE;
        return PD_OK;
    }
    rc = start_attempt(c, o, notify_url, now_ms, first_check_ms);
    if (rc == PD_OK) {
        out->verdict = PC_PAY_STARTED;
        pd_strlcpy(out->out_trade_no, o->cur_trade, sizeof out->out_trade_no);
    }
    return rc;
}

struct pay_arg {
    const char *order_id, *notify_url;
    int64_t now_ms, first_check_ms;
    struct pc_pay *out;
};

static int pay_unlocked_tx(struct pc_conn *c, void *arg, bool *undo)
{
    static const char upd[] =
        "UPDATE orders SET attempt=attempt+1, status='PAYING', cur_trade=?, next_check_at=?"
        " WHERE order_id=?";
    struct pay_arg *a = arg;
    struct pc_order *o = &a->out->order;
    (void)undo;
    o->attempt++;
    snprintf(o->cur_trade, sizeof o->cur_trade, "%s-%" PRId64, o->order_id, o->attempt);
    int rc = pc__exec(c, NULL, upd, "tit", o->cur_trade, a->now_ms + a->first_check_ms,
                      a->order_id);
    if (rc == PD_OK)
        rc = insert_trade(c, o, a->notify_url, a->now_ms);
    if (rc == PD_OK) {
        a->out->verdict = PC_PAY_STARTED;
        pd_strlcpy(a->out->out_trade_no, o->cur_trade, sizeof a->out->out_trade_no);
    }
    return rc;
}

static int pay_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct pay_arg *a = arg;
    int rc = pay_decide(c, a->order_id, a->notify_url, a->now_ms, a->first_check_ms, a->out);
    *undo = a->out->verdict != PC_PAY_STARTED;
    return rc;
}

/* PC_BUG_NO_PAYING_LOCK: read the order without the lock, then open a new
 * attempt unconditionally -- concurrent callers each get their own trade. */
static int pay_unlocked(pc_store *s, const char *order_id, const char *notify_url,
                        int64_t now_ms, int64_t first_check_ms, struct pc_pay *out)
{
    struct pc_conn *c = pc__conn(s);
    if (c == NULL)
        return PD_EIO;
    int rc = pc__load_order(c, order_id, &out->order);
    if (rc != PD_OK)
        return rc;
    struct pc_order *o = &out->order;
    if (pc_status_final(o->status) || now_ms >= o->expires_at) {
        out->verdict = PC_PAY_NOT_PAYABLE;
        return PD_OK;
    }
    struct pay_arg a = {order_id, notify_url, now_ms, first_check_ms, out};
    return pc__tx(s, pay_unlocked_tx, &a);
}

int pc_store_pay_begin(pc_store *s, const char *order_id, const char *notify_url,
                       int64_t now_ms, int64_t first_check_ms, struct pc_pay *out)
{
    memset(out, 0, sizeof *out);
    if (pc_bug_on(PC_BUG_NO_PAYING_LOCK))
        return pay_unlocked(s, order_id, notify_url, now_ms, first_check_ms, out);
    struct pay_arg a = {order_id, notify_url, now_ms, first_check_ms, out};
    return pc__tx(s, pay_tx, &a);
}

static int trade_order(struct pc_conn *c, const char *out_trade_no, char *order_id,
                       char *state, size_t state_len)
{
    static const char sql[] = "SELECT order_id, state FROM trades WHERE out_trade_no=?";
    sqlite3_stmt *st = pc__query(c, sql, "t", out_trade_no);
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        pc__col_text(st, 0, order_id, PC_ORDER_ID_MAX + 1);
        pc__col_text(st, 1, state, state_len);
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW ? PD_OK : step == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}

static int set_trade_state(struct pc_conn *c, const char *out_trade_no, const char *state,
                           const char *only_if, const char *trade_no, int64_t now_ms)
{
    static const char upd[] =
        "UPDATE trades SET state=?, trade_no=COALESCE(?, trade_no), updated_at=?"
        " WHERE out_trade_no=? AND (? IS NULL OR instr(?, '|' || state || '|') > 0)";
    return pc__exec(c, NULL, upd, "ttittt", state, trade_no, now_ms, out_trade_no, only_if,
                    only_if);
}

static int create_apply(struct pc_conn *c, struct pc_order *o, const char *out_trade_no,
                        int outcome, const char *trade_no, int64_t now_ms)
{
    bool current = strcmp(o->cur_trade, out_trade_no) == 0;
    int rc;
    if (outcome == PC_CREATE_OK) {
        rc = set_trade_state(c, out_trade_no, "AWAITING", "|INIT|UNKNOWN|", trade_no, now_ms);
        if (rc == PD_OK && current && o->status == PC_ST_UNKNOWN)
            rc = pc__transition(c, o, PC_ST_PAYING, PC_CAUSE_CREATE_OK, now_ms);
        return rc;
    }
    if (outcome == PC_CREATE_REJECTED) {
        rc = set_trade_state(c, out_trade_no, "REJECTED", "|INIT|UNKNOWN|", NULL, now_ms);
        if (rc == PD_OK && current && o->status == PC_ST_PAYING) {
            o->next_check_at = o->expires_at;
            rc = pc__transition(c, o, PC_ST_UNPAID, PC_CAUSE_CREATE_REJECTED, now_ms);
        }
        return rc;
    }
    rc = set_trade_state(c, out_trade_no, "UNKNOWN", "|INIT|", NULL, now_ms);
    if (rc != PD_OK || !current || o->status != PC_ST_PAYING)
        return rc;
    /* PC_BUG_TIMEOUT_IS_FAILURE is handled by the caller (it closes). */
    return pc__transition(c, o, PC_ST_UNKNOWN, PC_CAUSE_CREATE_AMBIGUOUS, now_ms);
}

struct create_arg {
    const char *out_trade_no, *trade_no;
    int outcome;
    int64_t now_ms;
    int *out_status;
};

static int create_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct create_arg *a = arg;
    char order_id[PC_ORDER_ID_MAX + 1], state[16];
    struct pc_order o;
    (void)undo;
    int rc = trade_order(c, a->out_trade_no, order_id, state, sizeof state);
    if (rc == PD_OK)
        rc = pc__load_order(c, order_id, &o);
    if (rc == PD_OK)
        rc = create_apply(c, &o, a->out_trade_no, a->outcome, a->trade_no, a->now_ms);
    if (rc == PD_OK)
        *a->out_status = o.status;
    return rc;
}

int pc_store_create_result(pc_store *s, const char *out_trade_no, int outcome,
                           const char *trade_no, int64_t now_ms, int *out_status)
{
    struct create_arg a = {out_trade_no, trade_no, outcome, now_ms, out_status};
    return pc__tx(s, create_tx, &a);
}

int pc__trade_order(struct pc_conn *c, const char *out_trade_no, char *order_id,
                    char *state, size_t state_len)
{
    return trade_order(c, out_trade_no, order_id, state, state_len);
}

int pc__set_trade_state(struct pc_conn *c, const char *out_trade_no, const char *state,
                        const char *only_if, const char *trade_no, int64_t now_ms)
{
    return set_trade_state(c, out_trade_no, state, only_if, trade_no, now_ms);
}

int pc_store_trade_notify_url(pc_store *s, const char *out_trade_no, char *out, size_t out_len)
{
    static const char sql[] = "SELECT notify_url FROM trades WHERE out_trade_no=?";
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__query(c, sql, "t", out_trade_no) : NULL;
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        pc__col_text(st, 0, out, out_len);
    sqlite3_reset(st);
    return step == SQLITE_ROW ? PD_OK : step == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}
