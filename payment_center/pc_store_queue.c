/* Refund and outbox queues, the export and the counts behind /metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_store_internal.h"
#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_util.h"

/* ---- refunds ---- */

int pc_store_due_refunds(pc_store *s, int64_t now_ms, struct pc_refund_due *out, size_t max,
                         size_t *out_n)
{
    static const char sql[] =
        "SELECT out_refund_no, out_trade_no, amount, attempts FROM refunds"
        " WHERE status='PENDING' AND next_try_at <= ? ORDER BY next_try_at LIMIT ?";
    struct pc_conn *c = pc__conn(s);
    *out_n = 0;
    sqlite3_stmt *st = c ? pc__query(c, sql, "ii", now_ms, (int64_t)max) : NULL;
    if (st == NULL)
        return PD_EIO;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && *out_n < max) {
        struct pc_refund_due *r = &out[(*out_n)++];
        pc__col_text(st, 0, r->out_refund_no, sizeof r->out_refund_no);
        pc__col_text(st, 1, r->out_trade_no, sizeof r->out_trade_no);
        r->amount = sqlite3_column_int64(st, 2);
        r->attempts = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return (step == SQLITE_DONE || step == SQLITE_ROW) ? PD_OK : PD_EIO;
}

/* The outcome of one delivery attempt (a refund call, a notification):
 * sql binds ?1 the HTTP status, ?2 now, ?3 the next try and ?4 the row's
 * key, each where it needs them. */
struct attempt_arg {
    const char *sql;
    int64_t http_status, now_ms, next_try_at;
    const char *key;
};

static int attempt_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct attempt_arg *a = arg;
    (void)undo;
    return pc__exec(c, NULL, a->sql, "iiit", a->http_status, a->now_ms, a->next_try_at, a->key);
}

static int attempt_write(pc_store *s, const char *sql, long http_status, int64_t now_ms,
                         int64_t next_try_at, const char *key)
{
    struct attempt_arg a = {sql, http_status, now_ms, next_try_at, key};
    return pc__tx(s, attempt_tx, &a);
}

int pc_store_refund_result(pc_store *s, const char *out_refund_no, bool done,
                           long http_status, int64_t now_ms, int64_t next_try_at)
{
    static const char ok[] =
        "UPDATE refunds SET status='SUCCESS', attempts=attempts+1, last_http_status=?1,"
        " done_at=?2, next_try_at=0 WHERE out_refund_no=?4 AND status='PENDING'";
    static const char retry[] =
        "UPDATE refunds SET attempts=attempts+1, last_http_status=?1, next_try_at=?3"
        " WHERE out_refund_no=?4 AND status='PENDING'";
    return attempt_write(s, done ? ok : retry, http_status, now_ms, next_try_at, out_refund_no);
}

/* ---- outbox ---- */

int pc_store_due_events(pc_store *s, int64_t now_ms, int part, int parts,
                        struct pc_event_due *out, size_t max, size_t *out_n, int64_t *next_ms)
{
    /* Only the lowest undelivered seq of each order: per-order order. The
     * partition is by order, so one sender owns all events of an order.
     * One statement answers both of the sender's questions, what is due
     * and when the next is (the row tagged 1), so a wake-up costs one read
     * (docs/benchmarks.md, Stop 21). A later event of an order is never
     * "next": it waits for the one before it, whose row says so (more). */
#define PC_UNBLOCKED                                                                  \
    " o.delivered_at IS NULL AND o.shard % ?2 = ?3 AND NOT EXISTS (SELECT 1 FROM"     \
    " outbox p WHERE p.order_id=o.order_id AND p.seq<o.seq AND p.delivered_at IS NULL)"
    static const char sql[] =
        "SELECT * FROM (SELECT 0, o.event_id, o.payload, o.attempts, o.next_try_at,"
        " EXISTS (SELECT 1 FROM outbox q WHERE q.order_id=o.order_id AND q.seq>o.seq"
        "  AND q.delivered_at IS NULL) FROM outbox o WHERE o.next_try_at <= ?1 AND"
        PC_UNBLOCKED " ORDER BY o.next_try_at LIMIT ?4)"
        " UNION ALL SELECT * FROM (SELECT 1, NULL, NULL, 0, o.next_try_at, 0 FROM outbox o"
        " WHERE o.next_try_at > ?1 AND" PC_UNBLOCKED " ORDER BY o.next_try_at LIMIT 1)";
#undef PC_UNBLOCKED
    *out_n = 0;
    *next_ms = INT64_MAX;
    sqlite3_stmt *st = pc__due_query(s, sql, now_ms, part, parts, max);
    if (st == NULL)
        return PD_EIO;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0) == 1) {
            *next_ms = sqlite3_column_int64(st, 4);
            continue;
        }
        if (*out_n == max)
            continue;
        struct pc_event_due *e = &out[(*out_n)++];
        pc__col_text(st, 1, e->event_id, sizeof e->event_id);
        pc__col_text(st, 2, e->payload, sizeof e->payload);
        e->attempts = sqlite3_column_int64(st, 3);
        e->more = sqlite3_column_int(st, 5) != 0;
    }
    return pc__rows_end(st, step);
}

int pc_store_event_result(pc_store *s, const char *event_id, bool delivered,
                          long http_status, int64_t now_ms, int64_t next_try_at)
{
    static const char ok[] =
        "UPDATE outbox SET delivered_at=?2, attempts=attempts+1, last_http_status=?1,"
        " next_try_at=?2 WHERE event_id=?4 AND delivered_at IS NULL";
    static const char retry[] =
        "UPDATE outbox SET next_try_at=?3, attempts=attempts+1, last_http_status=?1"
        " WHERE event_id=?4 AND delivered_at IS NULL";
    return attempt_write(s, delivered ? ok : retry, http_status, now_ms, next_try_at,
                         event_id);
}

struct late_arg {
    const char *order_id;
    int64_t now_ms;
};

static int late_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct late_arg *a = arg;
    struct pc_order o;
    (void)undo;
    int rc = pc__load_order(c, a->order_id, &o);
    if (rc == PD_OK)
        rc = pc__outbox_insert(c, &o, a->now_ms);
    return rc;
}

int pc_store_outbox_late(pc_store *s, const char *order_id, int64_t now_ms)
{
    struct late_arg a = {order_id, now_ms};
    return pc__tx(s, late_tx, &a);
}

/* ---- export ---- */

static void add_ms_or_null(cJSON *obj, const char *key, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        cJSON_AddNullToObject(obj, key);
    else
        pd_json_add_i64(obj, key, sqlite3_column_int64(st, col));
}

static void add_text_or_null(cJSON *obj, const char *key, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL)
        cJSON_AddNullToObject(obj, key);
    else
        cJSON_AddStringToObject(obj, key, (const char *)t);
}

/* An order's lists in the export, read for a range of orders at once: one
 * statement a list for a page of orders, not one a list an order (the
 * quiet check and the collection export every order; four statements an
 * order were most of the export's SQLite time). Each reads the rows of
 * orders ?1..?2, by order_id then the list's own order. */
#define EXPORT_CHUNK 100     /* orders built at once, and their lists read */

struct list_kind {
    const char *name;
    const char *sql;
    void (*row)(cJSON *item, sqlite3_stmt *st);   /* columns 1.. (0: order_id) */
};

static void history_row(cJSON *h, sqlite3_stmt *st)
{
    pd_json_add_i64(h, "at", sqlite3_column_int64(st, 1));
    add_text_or_null(h, "from", st, 2);
    add_text_or_null(h, "to", st, 3);
    add_text_or_null(h, "cause", st, 4);
}

static void trade_row(cJSON *t, sqlite3_stmt *st)
{
    add_text_or_null(t, "out_trade_no", st, 1);
    pd_json_add_i64(t, "attempt", sqlite3_column_int64(st, 2));
    add_text_or_null(t, "state", st, 3);
    pd_json_add_i64(t, "created_at", sqlite3_column_int64(st, 4));
    add_text_or_null(t, "trade_no", st, 5);
}

static void refund_row(cJSON *r, sqlite3_stmt *st)
{
    add_text_or_null(r, "out_refund_no", st, 1);
    add_text_or_null(r, "out_trade_no", st, 2);
    pd_json_add_i64(r, "amount", sqlite3_column_int64(st, 3));
    add_text_or_null(r, "status", st, 4);
    pd_json_add_i64(r, "at", sqlite3_column_int64(st, 5));
    add_text_or_null(r, "reason", st, 6);
    pd_json_add_i64(r, "attempts", sqlite3_column_int64(st, 7));
}

static void notification_row(cJSON *n, sqlite3_stmt *st)
{
    add_text_or_null(n, "event_id", st, 1);
    pd_json_add_i64(n, "seq", sqlite3_column_int64(st, 2));
    add_text_or_null(n, "status", st, 3);
    pd_json_add_i64(n, "attempts", sqlite3_column_int64(st, 4));
    add_ms_or_null(n, "delivered_at", st, 5);
    add_ms_or_null(n, "last_http_status", st, 6);
    add_ms_or_null(n, "next_try_at", st, 7);
}

static const struct list_kind lists[] = {
    {"history",
     "SELECT order_id, at, from_status, to_status, cause FROM history"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, id",
     history_row},
    {"trades",
     "SELECT order_id, out_trade_no, attempt, state, created_at, trade_no FROM trades"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, attempt",
     trade_row},
    {"refunds",
     "SELECT order_id, out_refund_no, out_trade_no, amount, status,"
     " COALESCE(done_at, created_at), reason, attempts FROM refunds"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, created_at",
     refund_row},
    {"notifications",
     "SELECT order_id, event_id, seq, status, attempts, delivered_at, last_http_status,"
     " next_try_at FROM outbox WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, seq",
     notification_row},
};

/* Adds each list to the n orders of ids[] (ascending), as arrays named
 * after the list: rows of both are in order_id order, so one walk. */
static int add_lists(struct pc_conn *c, cJSON *const *orders,
                     char (*ids)[PC_ORDER_ID_MAX + 1], int n)
{
    cJSON *arr[EXPORT_CHUNK];
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        for (int i = 0; i < n; i++)
            if ((arr[i] = cJSON_AddArrayToObject(orders[i], lists[k].name)) == NULL)
                return PD_ENOMEM;
        sqlite3_stmt *st = pc__query(c, lists[k].sql, "tt", ids[0], ids[n - 1]);
        if (st == NULL)
            return PD_EIO;
        int i = 0, step, rc = PD_OK;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(st, 0);
            while (i < n && (id == NULL || strcmp(ids[i], id) < 0))
                i++;
            if (i == n)
                break;
            if (strcmp(ids[i], id) != 0)
                continue;                    /* an orphan row: no such order */
            cJSON *item = cJSON_CreateObject();
            if (item == NULL || !cJSON_AddItemToArray(arr[i], item)) {
                cJSON_Delete(item);
                rc = PD_ENOMEM;
                break;
            }
            lists[k].row(item, st);
        }
        if (rc == PD_OK && step != SQLITE_ROW && step != SQLITE_DONE)
            rc = PD_EIO;
        sqlite3_reset(st);
        if (rc != PD_OK)
            return rc;
    }
    return PD_OK;
}

/* The order row's own fields; its lists come from add_lists. */
static cJSON *order_row_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    add_text_or_null(o, "order_id", st, 0);
    add_text_or_null(o, "merchant_id", st, 1);
    add_text_or_null(o, "user_id", st, 2);
    add_text_or_null(o, "client_ref", st, 3);
    pd_json_add_i64(o, "amount", sqlite3_column_int64(st, 4));
    add_text_or_null(o, "currency", st, 5);
    const unsigned char *items = sqlite3_column_text(st, 6);
    cJSON *parsed = items ? cJSON_Parse((const char *)items) : NULL;
    if (parsed == NULL || !cJSON_AddItemToObject(o, "items", parsed))
        cJSON_Delete(parsed);
    add_text_or_null(o, "status", st, 7);
    pd_json_add_i64(o, "created_at", sqlite3_column_int64(st, 8));
    pd_json_add_i64(o, "expires_at", sqlite3_column_int64(st, 9));
    add_text_or_null(o, "fingerprint", st, 10);
    add_text_or_null(o, "out_trade_no", st, 11);
    pd_json_add_i64(o, "version", sqlite3_column_int64(st, 12));
    add_ms_or_null(o, "next_check_at", st, 13);
    pd_json_add_i64(o, "check_count", sqlite3_column_int64(st, 14));
    return o;
}

#define ROW_COLS                                                                      \
    "order_id, merchant_id, user_id, client_ref, amount, currency, items, status,"   \
    " created_at, expires_at, fingerprint, cur_trade, version, next_check_at, check_count"

/* Steps st for up to max orders (max <= EXPORT_CHUNK) and builds them
 * with their lists into orders[] and ids[]; *n how many, *done when st
 * had no more rows. */
static int read_orders(struct pc_conn *c, sqlite3_stmt *st, int max, cJSON **orders,
                       char (*ids)[PC_ORDER_ID_MAX + 1], int *n, bool *done)
{
    int step = SQLITE_ROW;
    *n = 0;
    *done = false;
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        pc__col_text(st, 0, ids[*n], PC_ORDER_ID_MAX + 1);
        if ((orders[*n] = order_row_json(st)) == NULL)
            return PD_ENOMEM;
        (*n)++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return PD_EIO;
    *done = step == SQLITE_DONE;
    return *n > 0 ? add_lists(c, orders, ids, *n) : PD_OK;
}

static void free_orders(cJSON **orders, int n)
{
    for (int i = 0; i < n; i++)
        cJSON_Delete(orders[i]);
}

char *pc_store_order_json(pc_store *s, const char *order_id, int *out_rc)
{
    static const char sql[] = "SELECT " ROW_COLS " FROM orders WHERE order_id=?";
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__query(c, sql, "t", order_id) : NULL;
    *out_rc = PD_EIO;
    if (st == NULL)
        return NULL;
    /* One read transaction: the order and its lists are one snapshot. */
    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    cJSON *o = NULL;
    char id[1][PC_ORDER_ID_MAX + 1];
    int n = 0;
    bool done = false;
    int rc = read_orders(c, st, 1, &o, id, &n, &done);
    sqlite3_reset(st);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    char *text = rc == PD_OK && n == 1 ? pd_json_print(o) : NULL;
    free_orders(&o, n);
    *out_rc = text ? PD_OK : rc == PD_OK && n == 0 ? PD_ENOTFOUND : rc == PD_OK ? PD_ENOMEM : rc;
    return text;
}

/* Emits orders[0..n) as the export's array elements (a comma before each
 * but the page's first). */
static int emit_orders(cJSON *const *orders, int n, bool first,
                       int (*emit)(void *, const char *, size_t), void *ctx)
{
    int rc = PD_OK;
    for (int i = 0; i < n && rc == PD_OK; i++) {
        char *text = pd_json_print(orders[i]);
        if (text == NULL)
            return PD_ENOMEM;
        if (!first || i > 0)
            rc = emit(ctx, ",", 1);
        if (rc == PD_OK)
            rc = emit(ctx, text, strlen(text));
        free(text);
    }
    return rc;
}

int pc_store_export(pc_store *s, const char *after, int limit,
                    int (*emit)(void *ctx, const char *data, size_t len), void *ctx)
{
    static const char sql[] =
        "SELECT " ROW_COLS " FROM orders WHERE order_id > ? ORDER BY order_id LIMIT ?";
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__query(c, sql, "ti", after ? after : "", (int64_t)limit + 1) : NULL;
    if (st == NULL)
        return PD_EIO;
    cJSON *orders[EXPORT_CHUNK];
    char ids[EXPORT_CHUNK][PC_ORDER_ID_MAX + 1], last[PC_ORDER_ID_MAX + 1] = "";
    int total = 0;
    bool done = false, more = false;
    /* One read transaction: the page is one snapshot. Built and sent a
     * chunk of orders at a time, so a page of thousands is not held. */
    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    int rc = emit(ctx, "{\"orders\":[", 11);
    while (rc == PD_OK && !done && total < limit) {
        int n = 0;
        int want = limit - total < EXPORT_CHUNK ? limit - total : EXPORT_CHUNK;
        rc = read_orders(c, st, want, orders, ids, &n, &done);
        if (rc == PD_OK)
            rc = emit_orders(orders, n, total == 0, emit, ctx);
        if (n > 0)
            memcpy(last, ids[n - 1], sizeof last);
        free_orders(orders, n);
        total += n;
    }
    if (rc == PD_OK && !done) {
        int step = sqlite3_step(st);         /* the row past the page, if any */
        more = step == SQLITE_ROW;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = PD_EIO;
    }
    sqlite3_reset(st);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    char tail[64];
    if (more)
        snprintf(tail, sizeof tail, "],\"next_after\":\"%s\"}", last);
    else
        snprintf(tail, sizeof tail, "],\"next_after\":null}");
    if (rc == PD_OK)
        rc = emit(ctx, tail, strlen(tail));
    return rc;
}

/* ---- counts ---- */

static int count_into(struct pc_conn *c, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = pc__stmt(c, sql);
    if (st == NULL)
        return PD_EIO;
    *out = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return PD_OK;
}

int pc_store_counts(pc_store *s, struct pc_counts *out)
{
    static const char by_status[] = "SELECT status, count(*) FROM orders GROUP BY status";
    static const char pend[] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL";
    static const char deliv[] = "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL";
    static const char rpend[] = "SELECT count(*) FROM refunds WHERE status='PENDING'";
    static const char rdone[] = "SELECT count(*) FROM refunds WHERE status='SUCCESS'";
    memset(out, 0, sizeof *out);
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__stmt(c, by_status) : NULL;
    if (st == NULL)
        return PD_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int status = pc_status_parse((const char *)sqlite3_column_text(st, 0));
        if (status > 0)
            out->by_status[status] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    int rc = count_into(c, pend, &out->notifications_pending);
    if (rc == PD_OK)
        rc = count_into(c, deliv, &out->notifications_delivered);
    if (rc == PD_OK)
        rc = count_into(c, rpend, &out->refunds_pending);
    if (rc == PD_OK)
        rc = count_into(c, rdone, &out->refunds_done);
    return rc;
}

int pc_store_next_due(pc_store *s, int what, int part, int parts, int64_t *out_ms)
{
    static const char orders_sql[] =
        "SELECT next_check_at FROM orders WHERE next_check_at IS NOT NULL"
        " AND rowid % ? = ? ORDER BY next_check_at LIMIT 1";
    static const char refunds_sql[] =
        "SELECT next_try_at FROM refunds WHERE status='PENDING' AND ? >= 0 AND ? >= 0"
        " ORDER BY next_try_at LIMIT 1";
    const char *sql = what == 0 ? orders_sql : refunds_sql;
    struct pc_conn *c = pc__conn(s);
    *out_ms = INT64_MAX;
    sqlite3_stmt *st = c ? pc__query(c, sql, "ii", (int64_t)parts, (int64_t)part) : NULL;
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out_ms = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return (step == SQLITE_ROW || step == SQLITE_DONE) ? PD_OK : PD_EIO;
}
