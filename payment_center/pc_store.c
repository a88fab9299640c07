#include "pc_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pc_bugs.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_rand.h"
#include "pd_util.h"

#include "pc_store_internal.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS orders("
    " order_id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    " client_ref TEXT, amount INTEGER NOT NULL, currency TEXT NOT NULL, items TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0, cur_trade TEXT, paid_trade TEXT,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, next_check_at INTEGER,"
    " check_count INTEGER NOT NULL DEFAULT 0, notify_seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS orders_due ON orders(next_check_at) WHERE next_check_at IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS orders_status ON orders(status);"
    "CREATE INDEX IF NOT EXISTS orders_fingerprint ON orders(fingerprint, created_at);"
    "CREATE TABLE IF NOT EXISTS dedup(fingerprint TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup(expires_at);"
    "CREATE TABLE IF NOT EXISTS history(id INTEGER PRIMARY KEY, order_id TEXT NOT NULL,"
    " at INTEGER NOT NULL, from_status TEXT, to_status TEXT NOT NULL, cause TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS history_order ON history(order_id, id);"
    "CREATE TABLE IF NOT EXISTS trades(out_trade_no TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
    " attempt INTEGER NOT NULL, state TEXT NOT NULL, trade_no TEXT, notify_url TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS trades_order ON trades(order_id, attempt);"
    "CREATE TABLE IF NOT EXISTS refunds(out_refund_no TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
    " out_trade_no TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, created_at INTEGER NOT NULL, done_at INTEGER,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_try_at INTEGER, last_http_status INTEGER);"
    "CREATE INDEX IF NOT EXISTS refunds_due ON refunds(next_try_at) WHERE status='PENDING';"
    "CREATE INDEX IF NOT EXISTS refunds_order ON refunds(order_id);"
    "CREATE TABLE IF NOT EXISTS outbox(event_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, shard INTEGER NOT NULL, status TEXT NOT NULL, payload TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_try_at INTEGER,"
    " delivered_at INTEGER, last_http_status INTEGER);"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(next_try_at) WHERE delivered_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS outbox_order ON outbox(order_id, seq);"
    "CREATE TABLE IF NOT EXISTS nonces(nonce TEXT PRIMARY KEY, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS nonces_at ON nonces(at);";

/* ---- connections ---- */

void pc__conn_free(struct pc_conn *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_stmts; i++)
        sqlite3_finalize(c->stmts[i].st);
    sqlite3_close(c->db);
    free(c);
}

static pthread_once_t sqlite_cfg_once = PTHREAD_ONCE_INIT;

/* No memory statistics: with them (Debian's default) every allocation
 * and free of SQLite's takes one process-wide mutex, contended by
 * hundreds of threads. Nothing here reads them. Before the first open
 * (sqlite3_config refuses once SQLite is initialised: then it is a no-op). */
static void sqlite_cfg(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct pc_conn *pc__conn_open(pc_store *s)
{
    pthread_once(&sqlite_cfg_once, sqlite_cfg);
    struct pc_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    /* "unix-excl": the first connection to read takes an exclusive lock on
     * the file for the whole process, and the WAL index lives in this
     * process's heap. Our connections still lock one another, inside the
     * process, but no transaction makes fcntl calls on the file or its -shm
     * (pc_bench: ~21 per order, a quarter of payment-center's system calls
     * with the pwrites of the WAL). A second payment-center on the same
     * file is refused (SQLITE_BUSY) instead of sharing it, and no other
     * process can read the file while this one runs: GET /orders is the
     * way in. The kernel drops the lock when the process dies, even by
     * SIGKILL, and the next start recovers the WAL as usual. */
    if (sqlite3_open_v2(s->path, &c->db, flags, "unix-excl") != SQLITE_OK) {
        PD_LOG(PD_LOG_ERROR, "pc", "act=db_open path=%s err=\"%s\"", s->path,
               c->db ? sqlite3_errmsg(c->db) : "oom");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    /* The first statement takes the file (unix-excl, above): held by another
     * process, it is refused after 2 s, not the 30 s a transaction may wait
     * for this process's other connections. */
    sqlite3_busy_timeout(c->db, 2000);
    /* No mmap: with hundreds of connections each one remaps the growing
     * file, and the munmap + TLB shootdowns cost more than pread copies
     * (measured with pc_bench: 3.6 vs 2.1 ms of CPU per order). Statement
     * and savepoint journals in memory: each caller's transaction is a
     * savepoint of its batch (pc_store_tx.c), and on disk every page it
     * touched again cost a 4-byte and a 4 KiB pwrite to a temp file, 2.7
     * times the WAL's own writes (strace, pc_bench). They hold one batch's
     * pages at most. */
    char pragmas[80];
    snprintf(pragmas, sizeof pragmas, "PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;",
             s->sync_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        bool busy = sqlite3_errcode(c->db) == SQLITE_BUSY;
        PD_LOG(PD_LOG_ERROR, "pc", "act=db_open path=%s err=\"%s\"%s", s->path,
               sqlite3_errmsg(c->db),
               busy ? " note=\"another process holds the file: a second payment-center"
                      " on the same --db?\"" : "");
        pc__conn_free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 30000);
    return c;
}

struct pc_conn *pc__conn(pc_store *s)
{
    if (pc__in_tx(s))
        return s->writer;
    struct pc_conn *c = pthread_getspecific(s->key);
    if (c != NULL)
        return c;
    c = pc__conn_open(s);
    if (c != NULL)
        pthread_setspecific(s->key, c);
    return c;
}

static void conn_free_key(void *p)
{
    pc__conn_free(p);
}

sqlite3_stmt *pc__stmt(struct pc_conn *c, const char *sql)
{
    for (size_t i = 0; i < c->n_stmts; i++)
        if (c->stmts[i].sql == sql) {
            sqlite3_reset(c->stmts[i].st);
            sqlite3_clear_bindings(c->stmts[i].st);
            return c->stmts[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        PD_LOG(PD_LOG_ERROR, "pc", "act=db_prepare err=\"%s\" sql=\"%.80s\"",
               sqlite3_errmsg(c->db), sql);
        return NULL;
    }
    if (c->n_stmts < PC_STMT_CACHE) {
        c->stmts[c->n_stmts].sql = sql;
        c->stmts[c->n_stmts].st = st;
        c->n_stmts++;
    }
    /* Past the cache size the statement leaks until the thread ends; the
     * cache is sized above the number of distinct statements. */
    return st;
}

/* Binds types ('t' text or NULL, 'i' int64, 'n' null) from ap. */
static int vbind(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 0; types[i] != '\0'; i++) {
        int rc;
        if (types[i] == 't') {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        } else if (types[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            rc = sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK)
            return PD_EIO;
    }
    return PD_OK;
}

sqlite3_stmt *pc__query(struct pc_conn *c, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = pc__stmt(c, sql);
    if (st == NULL)
        return NULL;
    va_list ap;
    va_start(ap, types);
    int rc = vbind(st, types, ap);
    va_end(ap);
    return rc == PD_OK ? st : NULL;
}

sqlite3_stmt *pc__due_query(pc_store *s, const char *sql, int64_t now_ms, int part, int parts,
                            size_t max)
{
    struct pc_conn *c = pc__conn(s);
    return c ? pc__query(c, sql, "iiii", now_ms, (int64_t)parts, (int64_t)part, (int64_t)max)
             : NULL;
}

int pc__rows_end(sqlite3_stmt *st, int step)
{
    sqlite3_reset(st);
    return (step == SQLITE_DONE || step == SQLITE_ROW) ? PD_OK : PD_EIO;
}

int pc__exec(struct pc_conn *c, int *out_changes, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = pc__stmt(c, sql);
    if (st == NULL)
        return PD_EIO;
    va_list ap;
    va_start(ap, types);
    int rc = vbind(st, types, ap);
    va_end(ap);
    if (rc != PD_OK)
        return rc;
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        PD_LOG(PD_LOG_ERROR, "pc", "act=db_exec err=\"%s\" sql=\"%.80s\"",
               sqlite3_errmsg(c->db), sql);
        return step == SQLITE_CONSTRAINT ? PD_ECONFLICT : PD_EIO;
    }
    if (out_changes != NULL)
        *out_changes = sqlite3_changes(c->db);
    return PD_OK;
}

void pc__col_text(sqlite3_stmt *st, int col, char *out, size_t out_len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    pd_strlcpy(out, t ? (const char *)t : "", out_len);
}

/* ---- open / close ---- */

int pc_store_open(const char *path, bool sync_full, pc_store **out)
{
    pc_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PD_ENOMEM;
    if (pd_strlcpy(s->path, path, sizeof s->path) != PD_OK) {
        free(s);
        return PD_EINVAL;
    }
    s->sync_full = sync_full;
    pthread_mutex_init(&s->write_mu, NULL);
    pthread_key_create(&s->key, conn_free_key);
    struct pc_conn *c = pc__conn(s);
    char *msg = NULL;
    if (c == NULL ||
        sqlite3_exec(c->db, "PRAGMA journal_mode=WAL;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(c->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        (s->writer = pc__conn_open(s)) == NULL || pc__ckpt_start(s) != PD_OK) {
        PD_LOG(PD_LOG_ERROR, "pc", "act=db_schema path=%s err=\"%s\"", path, msg ? msg : "open");
        sqlite3_free(msg);
        pc_store_close(s);
        return PD_EIO;
    }
    *out = s;
    return PD_OK;
}

void pc_store_close(pc_store *s)
{
    if (s == NULL)
        return;
    /* No caller may still be waiting for a write transaction. */
    PD_ASSERT(s->tx_head == NULL && !s->tx_combining);
    pc__conn_free(pthread_getspecific(s->key));
    pthread_setspecific(s->key, NULL);
    pc__ckpt_stop(s);
    pc__conn_free(s->writer);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->write_mu);
    free(s);
}

/* ---- orders ---- */

#define ORDER_COLS                                                                         \
    "order_id, merchant_id, user_id, client_ref, currency, fingerprint, amount, status," \
    " version, attempt, cur_trade, paid_trade, created_at, expires_at, next_check_at,"   \
    " check_count, notify_seq"

static void read_order(sqlite3_stmt *st, struct pc_order *o)
{
    memset(o, 0, sizeof *o);
    pc__col_text(st, 0, o->order_id, sizeof o->order_id);
    pc__col_text(st, 1, o->merchant_id, sizeof o->merchant_id);
    pc__col_text(st, 2, o->user_id, sizeof o->user_id);
    pc__col_text(st, 3, o->client_ref, sizeof o->client_ref);
    pc__col_text(st, 4, o->currency, sizeof o->currency);
    pc__col_text(st, 5, o->fingerprint, sizeof o->fingerprint);
    o->amount = sqlite3_column_int64(st, 6);
    o->status = pc_status_parse((const char *)sqlite3_column_text(st, 7));
    o->version = sqlite3_column_int64(st, 8);
    o->attempt = sqlite3_column_int64(st, 9);
    pc__col_text(st, 10, o->cur_trade, sizeof o->cur_trade);
    pc__col_text(st, 11, o->paid_trade, sizeof o->paid_trade);
    o->created_at = sqlite3_column_int64(st, 12);
    o->expires_at = sqlite3_column_int64(st, 13);
    o->next_check_at = sqlite3_column_int64(st, 14);
    o->check_count = sqlite3_column_int64(st, 15);
    o->notify_seq = sqlite3_column_int64(st, 16);
}

int pc__load_order(struct pc_conn *c, const char *order_id, struct pc_order *out)
{
    static const char sql[] = "SELECT " ORDER_COLS " FROM orders WHERE order_id=?";
    sqlite3_stmt *st = pc__query(c, sql, "t", order_id);
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        read_order(st, out);
    sqlite3_reset(st);
    if (step == SQLITE_ROW)
        return out->status > 0 ? PD_OK : PD_EIO;
    return step == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}

int pc_store_get(pc_store *s, const char *order_id, struct pc_order *out)
{
    struct pc_conn *c = pc__conn(s);
    return c ? pc__load_order(c, order_id, out) : PD_EIO;
}

int pc_store_max_order_id(pc_store *s, char out[PC_ORDER_ID_MAX + 1])
{
    static const char sql[] = "SELECT max(order_id) FROM orders";
    out[0] = '\0';
    struct pc_conn *c = pc__conn(s);
    sqlite3_stmt *st = c ? pc__stmt(c, sql) : NULL;
    if (st == NULL)
        return PD_EIO;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        pc__col_text(st, 0, out, PC_ORDER_ID_MAX + 1);
    return pc__rows_end(st, step);
}

int64_t pc_store_shard(const char *order_id)
{
    return (int64_t)(pd_hash_str(order_id) % 65536);
}

/* Inserts the outbox row of seq o->notify_seq + 1 for the order's status;
 * the caller bumps the order's notify_seq in the same transaction. */
static int outbox_row(struct pc_conn *c, const struct pc_order *o, int64_t now_ms)
{
    static const char ins[] =
        "INSERT INTO outbox(event_id, order_id, seq, shard, status, payload, created_at,"
        " next_try_at) VALUES(?,?,?,?,?,?,?,?)";
    int64_t seq = o->notify_seq + 1;
    char event_id[PC_EVENT_ID_MAX + 1];
    snprintf(event_id, sizeof event_id, "ev-%s-%" PRId64, o->order_id, seq);
    const char *trade = o->paid_trade[0] ? o->paid_trade : o->cur_trade;
    cJSON *p = cJSON_CreateObject();
    if (p == NULL)
        return PD_ENOMEM;
    cJSON_AddStringToObject(p, "event_id", event_id);
    cJSON_AddStringToObject(p, "order_id", o->order_id);
    pd_json_add_i64(p, "seq", seq);
    cJSON_AddStringToObject(p, "status", pc_status_name(o->status));
    pd_json_add_i64(p, "amount", o->amount);
    cJSON_AddStringToObject(p, "currency", o->currency);
    cJSON_AddStringToObject(p, "merchant_id", o->merchant_id);
    if (o->client_ref[0])
        cJSON_AddStringToObject(p, "client_ref", o->client_ref);
    else
        cJSON_AddNullToObject(p, "client_ref");
    if (trade[0])
        cJSON_AddStringToObject(p, "out_trade_no", trade);
    else
        cJSON_AddNullToObject(p, "out_trade_no");
    pd_json_add_i64(p, "occurred_at", now_ms);
    char *payload = pd_json_print(p);
    cJSON_Delete(p);
    if (payload == NULL)
        return PD_ENOMEM;
    int64_t shard = pc_store_shard(o->order_id);
    int rc = pc__exec(c, NULL, ins, "ttiittii", event_id, o->order_id, seq, shard,
                      pc_status_name(o->status), payload, now_ms, now_ms);
    if (rc == PD_OK)
        pc__tx_event(seq, shard, event_id, payload);
    cJSON_free(payload);
    return rc;
}

/* Writes the outbox row for the order's (final) status now. */
int pc__outbox_insert(struct pc_conn *c, struct pc_order *o, int64_t now_ms)
{
    static const char bump[] = "UPDATE orders SET notify_seq=notify_seq+1 WHERE order_id=?";
    int rc = pc__exec(c, NULL, bump, "t", o->order_id);
    if (rc == PD_OK)
        rc = outbox_row(c, o, now_ms);
    if (rc == PD_OK)
        o->notify_seq++;
    return rc;
}

/* The one place a status changes: legal edge, compare-and-set on status and
 * version, history row, and for a final status the outbox row -- all in the
 * caller's transaction. The same UPDATE writes the order's attempt, trades
 * and check count as o holds them (the caller loaded o in this transaction
 * and changed only what the step changes: one write of the row, not one per
 * column group) and, with the outbox row, bumps notify_seq. Returns
 * PD_EPROTO for an illegal edge (nothing written), PD_ECONFLICT when the
 * row moved meanwhile. */
int pc__transition(struct pc_conn *c, struct pc_order *o, int to, int cause, int64_t now_ms)
{
    static const char upd[] =
        "UPDATE orders SET status=?1, version=version+1, next_check_at=?2, attempt=?3,"
        " cur_trade=?4, paid_trade=?5, check_count=?6, notify_seq=notify_seq+?7"
        " WHERE order_id=?8 AND status=?9 AND version=?10";
    /* A step is never dated before the order's previous one: callers take
     * now_ms before they wait for the writer or for the gateway, so a
     * slower caller's now_ms can be older than a step committed meanwhile
     * (create-5xx: the pay handler's PAYING->UNKNOWN at 00:04:52, then the
     * reconciler's UNKNOWN->PAYING dated 00:04:47). History is the
     * order's log; its times go forward. */
    static const char hist[] =
        "INSERT INTO history(order_id, at, from_status, to_status, cause) VALUES(?1,"
        " MAX(?2, COALESCE((SELECT MAX(at) FROM history WHERE order_id=?1), ?2)), ?3, ?4, ?5)";
    if (!pc_transition_legal(o->status, to, cause)) {
        PD_LOG(PD_LOG_ERROR, "pc", "act=illegal_transition order=%s from=%s to=%s cause=%s",
               o->order_id, pc_status_name(o->status), pc_status_name(to), pc_cause_name(cause));
        return PD_EPROTO;
    }
    /* PC_BUG_OUTBOX_OUTSIDE_TX: the caller writes the row after the commit. */
    bool notify = pc_status_final(to) && !pc_bug_on(PC_BUG_OUTBOX_OUTSIDE_TX);
    int changes = 0;
    const char *cur = o->cur_trade[0] ? o->cur_trade : NULL;
    const char *paid = o->paid_trade[0] ? o->paid_trade : NULL;
    int rc = pc_status_final(to)
                 ? pc__exec(c, &changes, upd, "tnittiitti", pc_status_name(to), o->attempt,
                            cur, paid, o->check_count, (int64_t)notify, o->order_id,
                            pc_status_name(o->status), o->version)
                 : pc__exec(c, &changes, upd, "tiittiitti", pc_status_name(to),
                            o->next_check_at, o->attempt, cur, paid, o->check_count,
                            (int64_t)notify, o->order_id, pc_status_name(o->status),
                            o->version);
    if (rc != PD_OK)
        return rc;
    if (changes != 1)
        return PD_ECONFLICT;
    rc = pc__exec(c, NULL, hist, "tittt", o->order_id, now_ms, pc_status_name(o->status),
                  pc_status_name(to), pc_cause_name(cause));
    if (rc != PD_OK)
        return rc;
    PD_LOG(PD_LOG_DEBUG, "pc", "act=status order=%s from=%s to=%s cause=%s", o->order_id,
           pc_status_name(o->status), pc_status_name(to), pc_cause_name(cause));
    o->status = to;
    o->version++;
    if (pc_status_final(to))
        o->next_check_at = 0;
    if (notify) {
        rc = outbox_row(c, o, now_ms);
        if (rc == PD_OK)
            o->notify_seq++;
    }
    return rc;
}
