/* Refund and outbox queues, the export and the counts behind /metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_store_internal.h"
#include "pd_buf.h"
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

/* The export is written as JSON text straight from the rows, without a
 * cJSON tree: building, printing and freeing ~40 nodes an order was most
 * of its CPU, malloc and free alone a third (docs/benchmarks.md, Stop 21),
 * and the quiet check and the collection read every order. The bytes are
 * those pd_json_print gave for the tree (pd_json_put_*). */
#define EXPORT_CHUNK 100     /* orders read at once, and their lists */

/* A writer: the first failed append sticks, later ones do nothing. */
struct jw {
    struct pd_buf *b;
    int rc;
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
    if (w->rc == PD_OK)
        w->rc = pd_buf_append(w->b, s, n);
}

/* key is the literal that comes before the value: ",\"name\":". */
#define JW_KEY(w, key) jw_raw(w, key, sizeof key - 1)

static void jw_i64(struct jw *w, int64_t v)
{
    if (w->rc == PD_OK)
        w->rc = pd_json_put_i64(w->b, v);
}

static void jw_text_or_null(struct jw *w, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL)
        jw_raw(w, "null", 4);
    else if (w->rc == PD_OK)
        w->rc = pd_json_put_string(w->b, (const char *)t);
}

static void jw_int_or_null(struct jw *w, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        jw_raw(w, "null", 4);
    else
        jw_i64(w, sqlite3_column_int64(st, col));
}

#define JW_TEXT(w, key, st, col) (JW_KEY(w, key), jw_text_or_null(w, st, col))
#define JW_INT(w, key, st, col) (JW_KEY(w, key), jw_i64(w, sqlite3_column_int64(st, col)))
#define JW_INT_OR_NULL(w, key, st, col) (JW_KEY(w, key), jw_int_or_null(w, st, col))

/* An order's lists, read for a range of orders at once: one statement a
 * list for a chunk of orders, not one a list an order (four statements an
 * order were most of the export's SQLite time). Each reads the rows of
 * orders ?1..?2, by order_id then the list's own order; column 0 is the
 * order_id, row() writes one element from columns 1... */
struct list_kind {
    const char *key;        /* ",\"name\":[" */
    const char *sql;
    void (*row)(struct jw *w, sqlite3_stmt *st);
};

static void history_row(struct jw *w, sqlite3_stmt *st)
{
    JW_INT(w, "{\"at\":", st, 1);
    JW_TEXT(w, ",\"from\":", st, 2);
    JW_TEXT(w, ",\"to\":", st, 3);
    JW_TEXT(w, ",\"cause\":", st, 4);
}

static void trade_row(struct jw *w, sqlite3_stmt *st)
{
    JW_TEXT(w, "{\"out_trade_no\":", st, 1);
    JW_INT(w, ",\"attempt\":", st, 2);
    JW_TEXT(w, ",\"state\":", st, 3);
    JW_INT(w, ",\"created_at\":", st, 4);
    JW_TEXT(w, ",\"trade_no\":", st, 5);
}

static void refund_row(struct jw *w, sqlite3_stmt *st)
{
    JW_TEXT(w, "{\"out_refund_no\":", st, 1);
    JW_TEXT(w, ",\"out_trade_no\":", st, 2);
    JW_INT(w, ",\"amount\":", st, 3);
    JW_TEXT(w, ",\"status\":", st, 4);
    JW_INT(w, ",\"at\":", st, 5);
    JW_TEXT(w, ",\"reason\":", st, 6);
    JW_INT(w, ",\"attempts\":", st, 7);
}

static void notification_row(struct jw *w, sqlite3_stmt *st)
{
    JW_TEXT(w, "{\"event_id\":", st, 1);
    JW_INT(w, ",\"seq\":", st, 2);
    JW_TEXT(w, ",\"status\":", st, 3);
    JW_INT(w, ",\"attempts\":", st, 4);
    JW_INT_OR_NULL(w, ",\"delivered_at\":", st, 5);
    JW_INT_OR_NULL(w, ",\"last_http_status\":", st, 6);
    JW_INT_OR_NULL(w, ",\"next_try_at\":", st, 7);
}

static const struct list_kind lists[] = {
    {",\"history\":[",
     "SELECT order_id, at, from_status, to_status, cause FROM history"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, id",
     history_row},
    {",\"trades\":[",
     "SELECT order_id, out_trade_no, attempt, state, created_at, trade_no FROM trades"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, attempt",
     trade_row},
    {",\"refunds\":[",
     "SELECT order_id, out_refund_no, out_trade_no, amount, status,"
     " COALESCE(done_at, created_at), reason, attempts FROM refunds"
     " WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, created_at",
     refund_row},
    {",\"notifications\":[",
     "SELECT order_id, event_id, seq, status, attempts, delivered_at, last_http_status,"
     " next_try_at FROM outbox WHERE order_id BETWEEN ?1 AND ?2 ORDER BY order_id, seq",
     notification_row},
};
#define N_LISTS (sizeof lists / sizeof lists[0])

/* The order row's own fields, from "{" up to (not with) its lists. The
 * stored items are the JSON text pc wrote at intake (pd_json_print of the
 * validated items), copied as they are. */
static void order_head(struct jw *w, sqlite3_stmt *st)
{
    JW_TEXT(w, "{\"order_id\":", st, 0);
    JW_TEXT(w, ",\"merchant_id\":", st, 1);
    JW_TEXT(w, ",\"user_id\":", st, 2);
    JW_TEXT(w, ",\"client_ref\":", st, 3);
    JW_INT(w, ",\"amount\":", st, 4);
    JW_TEXT(w, ",\"currency\":", st, 5);
    const unsigned char *items = sqlite3_column_text(st, 6);
    if (items != NULL) {
        JW_KEY(w, ",\"items\":");
        jw_raw(w, (const char *)items, (size_t)sqlite3_column_bytes(st, 6));
    }
    JW_TEXT(w, ",\"status\":", st, 7);
    JW_INT(w, ",\"created_at\":", st, 8);
    JW_INT(w, ",\"expires_at\":", st, 9);
    JW_TEXT(w, ",\"fingerprint\":", st, 10);
    JW_TEXT(w, ",\"out_trade_no\":", st, 11);
    JW_INT(w, ",\"version\":", st, 12);
    JW_INT_OR_NULL(w, ",\"next_check_at\":", st, 13);
    JW_INT(w, ",\"check_count\":", st, 14);
}

#define ROW_COLS                                                                      \
    "order_id, merchant_id, user_id, client_ref, amount, currency, items, status,"   \
    " created_at, expires_at, fingerprint, cur_trade, version, next_check_at, check_count"

/* One chunk's scratch: the orders' heads (head i is heads[at[i]..at[i+1]))
 * and ids, kept from one chunk to the next. */
struct chunk {
    struct pd_buf heads;
    size_t at[EXPORT_CHUNK + 1];
    char ids[EXPORT_CHUNK][PC_ORDER_ID_MAX + 1];
    int n;
};

/* Writes list k's elements for the order id: the rows of st from the
 * current one (*row: st has one) while they are that order's, skipping
 * rows of orders before it (orphans: no such order). */
static int write_list(struct jw *w, int k, sqlite3_stmt *st, bool *row, const char *id)
{
    jw_raw(w, lists[k].key, strlen(lists[k].key));
    bool first = true;
    while (*row && w->rc == PD_OK) {
        const char *rid = (const char *)sqlite3_column_text(st, 0);
        int cmp = rid == NULL ? -1 : strcmp(rid, id);
        if (cmp > 0)
            break;
        if (cmp == 0) {
            if (!first)
                jw_raw(w, ",", 1);
            first = false;
            lists[k].row(w, st);
            jw_raw(w, "}", 1);
        }
        int step = sqlite3_step(st);
        *row = step == SQLITE_ROW;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            return PD_EIO;
    }
    jw_raw(w, "]", 1);
    return PD_OK;
}

/* Writes the chunk's orders, each with its lists, into w (a comma before
 * each but the page's first), walking each list's rows along the orders. */
static int write_chunk(struct pc_conn *c, const struct chunk *ch, bool first, struct jw *w)
{
    sqlite3_stmt *st[N_LISTS] = {NULL};
    bool row[N_LISTS];
    int rc = PD_OK;
    for (size_t k = 0; k < N_LISTS && rc == PD_OK; k++) {
        st[k] = pc__query(c, lists[k].sql, "tt", ch->ids[0], ch->ids[ch->n - 1]);
        int step = st[k] ? sqlite3_step(st[k]) : SQLITE_ERROR;
        row[k] = step == SQLITE_ROW;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = PD_EIO;
    }
    for (int i = 0; i < ch->n && rc == PD_OK && w->rc == PD_OK; i++) {
        if (!first || i > 0)
            jw_raw(w, ",", 1);
        jw_raw(w, ch->heads.data + ch->at[i], ch->at[i + 1] - ch->at[i]);
        for (size_t k = 0; k < N_LISTS && rc == PD_OK; k++)
            rc = write_list(w, (int)k, st[k], &row[k], ch->ids[i]);
        jw_raw(w, "}", 1);
    }
    for (size_t k = 0; k < N_LISTS; k++)
        if (st[k] != NULL)
            sqlite3_reset(st[k]);
    return rc != PD_OK ? rc : w->rc;
}

/* Steps st for up to max orders (max <= EXPORT_CHUNK) into ch (heads and
 * ids); *done when st had no more rows. */
static int read_chunk(sqlite3_stmt *st, int max, struct chunk *ch, bool *done)
{
    struct jw w = {&ch->heads, PD_OK};
    int step = SQLITE_ROW;
    ch->n = 0;
    ch->heads.len = 0;
    *done = false;
    while (ch->n < max && w.rc == PD_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        pc__col_text(st, 0, ch->ids[ch->n], PC_ORDER_ID_MAX + 1);
        ch->at[ch->n] = ch->heads.len;
        order_head(&w, st);
        ch->at[++ch->n] = ch->heads.len;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return PD_EIO;
    *done = step == SQLITE_DONE;
    return w.rc;
}

char *pc_store_order_json(pc_store *s, const char *order_id, int *out_rc)
{
    static const char sql[] = "SELECT " ROW_COLS " FROM orders WHERE order_id=?";
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__query(c, sql, "t", order_id) : NULL;
    *out_rc = PD_EIO;
    if (st == NULL)
        return NULL;
    struct chunk *ch = calloc(1, sizeof *ch);
    struct pd_buf out;
    pd_buf_init(&out, 0);
    struct jw w = {&out, PD_OK};
    bool done = false;
    int rc = PD_ENOMEM;
    if (ch != NULL) {
        pd_buf_init(&ch->heads, 0);
        /* One read transaction: the order and its lists are one snapshot. */
        sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
        rc = read_chunk(st, 1, ch, &done);
        if (rc == PD_OK && ch->n == 1)
            rc = write_chunk(c, ch, true, &w);
        sqlite3_reset(st);
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (rc == PD_OK && ch->n == 0)
            rc = PD_ENOTFOUND;
        pd_buf_release(&ch->heads);
        free(ch);
    }
    char *text = rc == PD_OK ? pd_buf_take(&out) : NULL;
    pd_buf_release(&out);
    *out_rc = rc == PD_OK && text == NULL ? PD_ENOMEM : rc;
    return text;
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
    struct chunk *ch = calloc(1, sizeof *ch);
    if (ch == NULL) {
        sqlite3_reset(st);
        return PD_ENOMEM;
    }
    pd_buf_init(&ch->heads, 0);
    struct pd_buf out;
    pd_buf_init(&out, 0);
    char last[PC_ORDER_ID_MAX + 1] = "";
    int total = 0;
    bool done = false, more = false;
    /* One read transaction: the page is one snapshot. Written and sent a
     * chunk of orders at a time, so a page of thousands is not held. */
    sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    int rc = emit(ctx, "{\"orders\":[", 11);
    while (rc == PD_OK && !done && total < limit) {
        int want = limit - total < EXPORT_CHUNK ? limit - total : EXPORT_CHUNK;
        struct jw w = {&out, PD_OK};
        out.len = 0;
        rc = read_chunk(st, want, ch, &done);
        if (rc == PD_OK && ch->n > 0)
            rc = write_chunk(c, ch, total == 0, &w);
        if (rc == PD_OK && out.len > 0)
            rc = emit(ctx, out.data, out.len);
        if (ch->n > 0)
            memcpy(last, ch->ids[ch->n - 1], sizeof last);
        total += ch->n;
        if (ch->n == 0)
            break;
    }
    if (rc == PD_OK && !done) {
        int step = sqlite3_step(st);         /* the row past the page, if any */
        more = step == SQLITE_ROW;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = PD_EIO;
    }
    sqlite3_reset(st);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    pd_buf_release(&out);
    pd_buf_release(&ch->heads);
    free(ch);
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
