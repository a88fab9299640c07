/* gw_store.c -- the ledger in SQLite. See gw_store.h. */
#include "gw_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_log.h"
#include "pd_util.h"
#include "gw_util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS trades("
    " id INTEGER PRIMARY KEY, out_trade_no TEXT NOT NULL UNIQUE, merchant_id TEXT NOT NULL,"
    " amount INTEGER NOT NULL, currency TEXT NOT NULL, notify_url TEXT NOT NULL,"
    " description TEXT NOT NULL, attach TEXT NOT NULL, state TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, closed_at INTEGER NOT NULL DEFAULT 0,"
    " success_time INTEGER NOT NULL DEFAULT 0, refunded_amount INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS charges(id INTEGER PRIMARY KEY, trade_id INTEGER NOT NULL,"
    " at INTEGER NOT NULL, amount INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS charges_trade ON charges(trade_id);"
    "CREATE TABLE IF NOT EXISTS refunds(id INTEGER PRIMARY KEY, out_refund_no TEXT NOT NULL"
    " UNIQUE, trade_id INTEGER NOT NULL, amount INTEGER NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS refunds_trade ON refunds(trade_id);"
    "CREATE TABLE IF NOT EXISTS pay_refused(id INTEGER PRIMARY KEY, trade_id INTEGER NOT NULL,"
    " at INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS pay_refused_trade ON pay_refused(trade_id);"
    "CREATE TABLE IF NOT EXISTS callbacks(trade_id INTEGER PRIMARY KEY, due_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,"
    " acked_at INTEGER NOT NULL DEFAULT 0, delayed_attempt INTEGER NOT NULL DEFAULT 0,"
    " held_attempt INTEGER NOT NULL DEFAULT 0);"
    /* Only a restart reads callbacks by state (gw_store_cb_load, one scan),
     * while every attempt's outcome moved the row between two places in
     * this index: two more pages written per callback. */
    "DROP INDEX IF EXISTS callbacks_state;";

#define TRADE_COLS                                                                          \
    "id, out_trade_no, merchant_id, amount, currency, notify_url, description, attach, state," \
    " created_at, closed_at, success_time, refunded_amount"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_GET, S_GET_ID, S_INSERT, S_SET_STATE, S_PAY, S_CHARGE,
    S_REFUSE, S_CB_INSERT, S_REFUND_GET, S_REFUND_INSERT, S_REFUND_ADD, S_CB_UPDATE,
    S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO, S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_GET] = "SELECT " TRADE_COLS " FROM trades WHERE out_trade_no = ?1",
    [S_GET_ID] = "SELECT " TRADE_COLS " FROM trades WHERE id = ?1",
    [S_INSERT] = "INSERT INTO trades(out_trade_no, merchant_id, amount, currency, notify_url,"
                 " description, attach, state, created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,'NOTPAY',?8)"
                 " ON CONFLICT(out_trade_no) DO NOTHING",
    [S_SET_STATE] = "UPDATE trades SET state = ?2, closed_at = ?3 WHERE id = ?1",
    [S_PAY] = "UPDATE trades SET state = 'SUCCESS', success_time = ?2 WHERE id = ?1"
              " AND state = 'NOTPAY'",
    [S_CHARGE] = "INSERT INTO charges(trade_id, at, amount) VALUES(?1, ?2, ?3)",
    [S_REFUSE] = "INSERT INTO pay_refused(trade_id, at, reason) VALUES(?1, ?2, ?3)",
    [S_CB_INSERT] = "INSERT OR REPLACE INTO callbacks(trade_id, due_at) VALUES(?1, ?2)",
    [S_REFUND_GET] = "SELECT r.out_refund_no, t.out_trade_no, r.amount, r.at FROM refunds r"
                     " JOIN trades t ON t.id = r.trade_id WHERE r.out_refund_no = ?1",
    [S_REFUND_INSERT] = "INSERT INTO refunds(out_refund_no, trade_id, amount, at)"
                        " VALUES(?1, ?2, ?3, ?4)",
    [S_REFUND_ADD] = "UPDATE trades SET refunded_amount = refunded_amount + ?2,"
                     " state = 'REFUND' WHERE id = ?1",
    [S_CB_UPDATE] = "UPDATE callbacks SET due_at = ?2, attempts = ?3, state = ?4, acked_at = ?5,"
                    " delayed_attempt = ?6, held_attempt = ?7 WHERE trade_id = ?1",
    [S_SAVEPOINT] = "SAVEPOINT op",
    [S_RELEASE] = "RELEASE op",
    [S_ROLLBACK_TO] = "ROLLBACK TO op",
};

#define READERS 4               /* read connections for lookups (WAL: they never block writers) */

struct reader {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *get;
};

struct gw_store {
    struct reader readers[READERS];
    unsigned next_reader;        /* round robin (atomic) */
    pthread_mutex_t mu;          /* the write connection and its statements */
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    pthread_mutex_t read_mu;     /* the ledger-dump connection */
    sqlite3 *rdb;
    struct gw_counts counts;     /* under mu */
    bool batch_open;             /* a group commit holds mu (the HTTP loop thread) */
    bool batch_failed;           /* its transaction is gone: it must not commit */
    int64_t batch_trades;        /* trades it created, counted at commit */
    int64_t batch_charges;       /* charges it made, counted at commit */
};

static pthread_once_t sqlite_cfg_once = PTHREAD_ONCE_INIT;

/* No memory statistics: each SQLite allocation would take a process-wide
 * mutex (payment_center/pc_store.c has the figures). */
static void sqlite_cfg(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int open_db(const char *path, bool sync_full, sqlite3 **out)
{
    sqlite3 *db = NULL;
    pthread_once(&sqlite_cfg_once, sqlite_cfg);
    /* "unix-excl": this process alone opens the ledger; its connections
     * lock one another in memory, with no fcntl on the file or its -shm at
     * every transaction (payment-center's pc_store.c has the figures). */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                       SQLITE_OPEN_NOMUTEX, "unix-excl") != SQLITE_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=db_open path=%s err=\"%s\"", path,
               db ? sqlite3_errmsg(db) : "nomem");
        sqlite3_close(db);
        return PD_EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;"
             " PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;",
             sync_full ? "FULL" : "NORMAL");
    if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=db_schema path=%s err=\"%s\"", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return PD_EIO;
    }
    *out = db;
    return PD_OK;
}

static int64_t count_of(sqlite3 *db, const char *q)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void load_counts(gw_store *s)
{
    s->counts.trades = count_of(s->db, "SELECT count(*) FROM trades");
    s->counts.charges = count_of(s->db, "SELECT count(*) FROM charges");
    s->counts.refunds = count_of(s->db, "SELECT count(*) FROM refunds");
}

int gw_store_open(const char *dir, bool sync_full, gw_store **out)
{
    char path[1024];
    *out = NULL;
    if (pd_mkdirs(dir) != PD_OK)
        return PD_EIO;
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    gw_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PD_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->read_mu, NULL);
    int rc = open_db(path, sync_full, &s->db);
    if (rc == PD_OK)
        rc = open_db(path, sync_full, &s->rdb);
    for (int i = 0; i < READERS; i++) {
        struct reader *r = &s->readers[i];
        pthread_mutex_init(&r->mu, NULL);
        if (rc == PD_OK)
            rc = open_db(path, sync_full, &r->db);
        if (rc == PD_OK && sqlite3_prepare_v3(r->db, sql[S_GET], -1, SQLITE_PREPARE_PERSISTENT,
                                              &r->get, NULL) != SQLITE_OK)
            rc = PD_EIO;
    }
    for (int i = 0; rc == PD_OK && i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            PD_LOG(PD_LOG_ERROR, "gw", "act=db_prepare i=%d err=\"%s\"", i, sqlite3_errmsg(s->db));
            rc = PD_EIO;
        }
    }
    if (rc != PD_OK) {
        gw_store_close(s);
        return rc;
    }
    load_counts(s);
    *out = s;
    return PD_OK;
}

void gw_store_close(gw_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < READERS; i++) {
        sqlite3_finalize(s->readers[i].get);
        sqlite3_close(s->readers[i].db);
        pthread_mutex_destroy(&s->readers[i].mu);
    }
    sqlite3_close(s->db);
    sqlite3_close(s->rdb);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->read_mu);
    free(s);
}

/* ---- helpers (called with mu held) ---- */

static sqlite3_stmt *stmt(gw_store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static int exec_stmt(gw_store *s, int which)
{
    int rc = sqlite3_step(stmt(s, which));
    return rc == SQLITE_DONE ? PD_OK : PD_EIO;
}

static int step_done(gw_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=db_step err=\"%s\"", sqlite3_errmsg(s->db));
        return PD_EIO;
    }
    return PD_OK;
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    pd_strlcpy(dst, t ? (const char *)t : "", len);
}

static void read_trade(sqlite3_stmt *st, struct gw_trade *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    snprintf(t->trade_no, sizeof t->trade_no, "42%08" PRId64, t->id);
    copy_col(st, 1, t->out_trade_no, sizeof t->out_trade_no);
    copy_col(st, 2, t->merchant_id, sizeof t->merchant_id);
    t->amount = sqlite3_column_int64(st, 3);
    copy_col(st, 4, t->currency, sizeof t->currency);
    copy_col(st, 5, t->notify_url, sizeof t->notify_url);
    copy_col(st, 6, t->description, sizeof t->description);
    copy_col(st, 7, t->attach, sizeof t->attach);
    copy_col(st, 8, t->state, sizeof t->state);
    t->created_at = sqlite3_column_int64(st, 9);
    t->closed_at = sqlite3_column_int64(st, 10);
    t->success_time = sqlite3_column_int64(st, 11);
    t->refunded_amount = sqlite3_column_int64(st, 12);
}

/* Looks a trade up by out_trade_no (which=S_GET) or id (S_GET_ID). */
static int get_locked(gw_store *s, int which, const char *otn, int64_t id, struct gw_trade *out)
{
    sqlite3_stmt *st = stmt(s, which);
    if (which == S_GET)
        sqlite3_bind_text(st, 1, otn, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_trade(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? PD_OK : rc == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}

static int begin(gw_store *s)
{
    pthread_mutex_lock(&s->mu);
    if (exec_stmt(s, S_BEGIN) != PD_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=db_begin err=\"%s\"", sqlite3_errmsg(s->db));
        sqlite3_reset(s->st[S_BEGIN]);
        pthread_mutex_unlock(&s->mu);
        return PD_EIO;
    }
    return PD_OK;
}

/* Commits when rc is 0, else rolls back; always unlocks. */
static int finish(gw_store *s, int rc)
{
    if (rc == PD_OK && exec_stmt(s, S_COMMIT) != PD_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=db_commit err=\"%s\"", sqlite3_errmsg(s->db));
        rc = PD_EIO;
    }
    if (rc != PD_OK)
        exec_stmt(s, S_ROLLBACK);
    for (int i = S_BEGIN; i <= S_ROLLBACK; i++)
        sqlite3_reset(s->st[i]);
    for (int i = S_SAVEPOINT; i <= S_ROLLBACK_TO; i++)
        sqlite3_reset(s->st[i]);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void count_add(int64_t *counter, int64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static bool same_facts(const struct gw_trade *a, const struct gw_trade *b)
{
    return a->amount == b->amount && strcmp(a->currency, b->currency) == 0 &&
           strcmp(a->merchant_id, b->merchant_id) == 0 &&
           strcmp(a->notify_url, b->notify_url) == 0;
}

static int insert_trade(gw_store *s, const struct gw_trade *in)
{
    sqlite3_stmt *st = stmt(s, S_INSERT);
    sqlite3_bind_text(st, 1, in->out_trade_no, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->merchant_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, in->amount);
    sqlite3_bind_text(st, 4, in->currency, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, in->notify_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, in->description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, in->attach, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, in->created_at);
    return step_done(s, st);
}

/* One INSERT that does nothing on a known out_trade_no: a new trade costs
 * a single statement; only a repeat reads the stored facts back to compare
 * them. Called with mu held; *created tells whether a row was added. */
static int create_locked(gw_store *s, const struct gw_trade *in, struct gw_trade *out,
                         enum gw_outcome *outcome, bool *created)
{
    int rc = insert_trade(s, in);
    *created = rc == PD_OK && sqlite3_changes(s->db) == 1;
    if (*created) {
        *out = *in;
        out->id = sqlite3_last_insert_rowid(s->db);
        snprintf(out->trade_no, sizeof out->trade_no, "42%08" PRId64, out->id);
        snprintf(out->state, sizeof out->state, "NOTPAY");
        out->closed_at = out->success_time = out->refunded_amount = 0;
        *outcome = GW_OK;
    } else if (rc == PD_OK) {
        rc = get_locked(s, S_GET, in->out_trade_no, 0, out);
        *outcome = rc == PD_OK && same_facts(in, out) ? GW_OK : GW_CONFLICT;
    }
    return rc;
}

/* Outside a group commit the INSERT is its own transaction. */
int gw_store_create(gw_store *s, const struct gw_trade *in, struct gw_trade *out,
                    enum gw_outcome *outcome)
{
    bool created = false;
    pthread_mutex_lock(&s->mu);
    int rc = create_locked(s, in, out, outcome, &created);
    pthread_mutex_unlock(&s->mu);
    if (created)
        count_add(&s->counts.trades, 1);
    return rc;
}

/* ---- group commit: one transaction for a loop iteration's operations ---- */

static int batch_open(gw_store *s)
{
    if (s->batch_open)
        return s->batch_failed ? PD_EIO : PD_OK;
    int rc = begin(s);
    if (rc != PD_OK)
        return rc;
    s->batch_open = true;
    s->batch_failed = false;
    s->batch_trades = 0;
    s->batch_charges = 0;
    return PD_OK;
}

/* Each operation in a savepoint: a failing one rolls back only itself. If
 * SQLite dropped the whole transaction (I/O error), the batch is failed. */
static int batch_savepoint_end(gw_store *s, int rc)
{
    if (rc != PD_OK)
        exec_stmt(s, S_ROLLBACK_TO);
    exec_stmt(s, S_RELEASE);
    if (sqlite3_get_autocommit(s->db)) {
        s->batch_failed = true;
        rc = PD_EIO;
    }
    return rc;
}

int gw_store_batch_create(gw_store *s, const struct gw_trade *in, struct gw_trade *out,
                          enum gw_outcome *outcome)
{
    bool created = false;
    int rc = batch_open(s);
    if (rc != PD_OK)
        return rc;
    rc = exec_stmt(s, S_SAVEPOINT);
    rc = batch_savepoint_end(s, rc ? rc : create_locked(s, in, out, outcome, &created));
    if (rc == PD_OK && created)
        s->batch_trades++;
    return rc;
}

int gw_store_batch_get(gw_store *s, const char *out_trade_no, struct gw_trade *out)
{
    int rc = batch_open(s);
    return rc ? rc : get_locked(s, S_GET, out_trade_no, 0, out);
}

int gw_store_batch_commit(gw_store *s)
{
    if (!s->batch_open)
        return PD_OK;
    int64_t trades = s->batch_trades, charges = s->batch_charges;
    bool failed = s->batch_failed;
    s->batch_open = false;
    int rc = finish(s, failed ? PD_EIO : PD_OK);
    if (rc == PD_OK) {
        count_add(&s->counts.trades, trades);
        count_add(&s->counts.charges, charges);
    }
    return rc;
}

/* Lookups go to a read connection, so queries never wait for the writer:
 * each SELECT runs in its own read transaction and sees every commit made
 * before it started. */
int gw_store_get(gw_store *s, const char *out_trade_no, struct gw_trade *out)
{
    unsigned first = __atomic_fetch_add(&s->next_reader, 1, __ATOMIC_RELAXED);
    struct reader *r = NULL;
    for (unsigned i = 0; i < READERS && r == NULL; i++)
        if (pthread_mutex_trylock(&s->readers[(first + i) % READERS].mu) == 0)
            r = &s->readers[(first + i) % READERS];
    if (r == NULL) {
        r = &s->readers[first % READERS];
        pthread_mutex_lock(&r->mu);
    }
    sqlite3_reset(r->get);
    sqlite3_bind_text(r->get, 1, out_trade_no, -1, SQLITE_STATIC);
    int rc = sqlite3_step(r->get);
    if (rc == SQLITE_ROW)
        read_trade(r->get, out);
    sqlite3_reset(r->get);
    sqlite3_clear_bindings(r->get);
    pthread_mutex_unlock(&r->mu);
    return rc == SQLITE_ROW ? PD_OK : rc == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}

int gw_store_get_by_id(gw_store *s, int64_t id, struct gw_trade *out)
{
    pthread_mutex_lock(&s->mu);
    int rc = get_locked(s, S_GET_ID, NULL, id, out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static bool is_paid(const char *state)
{
    return strcmp(state, "SUCCESS") == 0 || strcmp(state, "REFUND") == 0;
}

int gw_store_close_trade(gw_store *s, const char *otn, int64_t now_ms, struct gw_trade *out,
                         enum gw_outcome *outcome)
{
    int rc = begin(s);
    if (rc != PD_OK)
        return rc;
    rc = get_locked(s, S_GET, otn, 0, out);
    if (rc == PD_ENOTFOUND) {
        *outcome = GW_NOT_FOUND;
        rc = PD_OK;
    } else if (rc == PD_OK && is_paid(out->state)) {
        *outcome = GW_ORDERPAID;
    } else if (rc == PD_OK) {
        *outcome = GW_OK;
        if (strcmp(out->state, "CLOSED") != 0) {
            sqlite3_stmt *st = stmt(s, S_SET_STATE);
            sqlite3_bind_int64(st, 1, out->id);
            sqlite3_bind_text(st, 2, "CLOSED", -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now_ms);
            rc = step_done(s, st);
            snprintf(out->state, sizeof out->state, "CLOSED");
            out->closed_at = now_ms;
        }
    }
    return finish(s, rc);
}

static int refuse(gw_store *s, int64_t trade_id, int64_t now_ms, const char *reason)
{
    sqlite3_stmt *st = stmt(s, S_REFUSE);
    sqlite3_bind_int64(st, 1, trade_id);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    return step_done(s, st);
}

/* NOTPAY -> SUCCESS, one charge row and one owed callback, atomically. */
static int charge(gw_store *s, struct gw_trade *t, int64_t now_ms, int64_t cb_due_ms)
{
    sqlite3_stmt *st = stmt(s, S_PAY);
    sqlite3_bind_int64(st, 1, t->id);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = step_done(s, st);
    if (rc == PD_OK && sqlite3_changes(s->db) != 1)
        rc = PD_ECONFLICT;   /* cannot happen under mu: the state was read as NOTPAY */
    if (rc == PD_OK) {
        st = stmt(s, S_CHARGE);
        sqlite3_bind_int64(st, 1, t->id);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, t->amount);
        rc = step_done(s, st);
    }
    if (rc == PD_OK) {
        st = stmt(s, S_CB_INSERT);
        sqlite3_bind_int64(st, 1, t->id);
        sqlite3_bind_int64(st, 2, cb_due_ms);
        rc = step_done(s, st);
    }
    snprintf(t->state, sizeof t->state, "SUCCESS");
    t->success_time = now_ms;
    return rc;
}

/* The pay's reads and writes, with mu held inside a transaction. */
static int pay_locked(gw_store *s, const char *otn, int64_t now_ms, int64_t cb_due_ms,
                      struct gw_trade *out, enum gw_outcome *outcome)
{
    int rc = get_locked(s, S_GET, otn, 0, out);
    if (rc == PD_ENOTFOUND) {
        *outcome = GW_NOT_FOUND;
        rc = PD_OK;
    } else if (rc == PD_OK && is_paid(out->state)) {
        *outcome = GW_ALREADY_PAID;
        rc = refuse(s, out->id, now_ms, "ALREADY_PAID");
    } else if (rc == PD_OK && strcmp(out->state, "NOTPAY") != 0) {
        *outcome = GW_TRADE_CLOSED;
        rc = refuse(s, out->id, now_ms, "TRADE_CLOSED");
    } else if (rc == PD_OK) {
        *outcome = GW_OK;
        rc = charge(s, out, now_ms, cb_due_ms);
    }
    return rc;
}

int gw_store_pay(gw_store *s, const char *otn, int64_t now_ms, int64_t cb_due_ms,
                 struct gw_trade *out, enum gw_outcome *outcome)
{
    int rc = begin(s);
    if (rc != PD_OK)
        return rc;
    rc = finish(s, pay_locked(s, otn, now_ms, cb_due_ms, out, outcome));
    if (rc == PD_OK && *outcome == GW_OK)
        count_add(&s->counts.charges, 1);
    return rc;
}

int gw_store_batch_pay(gw_store *s, const char *otn, int64_t now_ms, int64_t cb_due_ms,
                       struct gw_trade *out, enum gw_outcome *outcome)
{
    int rc = batch_open(s);
    if (rc != PD_OK)
        return rc;
    rc = exec_stmt(s, S_SAVEPOINT);
    rc = batch_savepoint_end(s, rc ? rc : pay_locked(s, otn, now_ms, cb_due_ms, out, outcome));
    if (rc == PD_OK && *outcome == GW_OK)
        s->batch_charges++;
    return rc;
}

static int refund_get(gw_store *s, const char *out_refund_no, struct gw_refund *out)
{
    sqlite3_stmt *st = stmt(s, S_REFUND_GET);
    sqlite3_bind_text(st, 1, out_refund_no, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_col(st, 0, out->out_refund_no, sizeof out->out_refund_no);
        copy_col(st, 1, out->out_trade_no, sizeof out->out_trade_no);
        out->amount = sqlite3_column_int64(st, 2);
        out->at = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? PD_OK : rc == SQLITE_DONE ? PD_ENOTFOUND : PD_EIO;
}

static int refund_new(gw_store *s, const struct gw_refund *in, struct gw_refund *out,
                      enum gw_outcome *outcome)
{
    struct gw_trade t;
    int rc = get_locked(s, S_GET, in->out_trade_no, 0, &t);
    if (rc == PD_ENOTFOUND) {
        *outcome = GW_NOT_FOUND;
        return PD_OK;
    }
    if (rc != PD_OK)
        return rc;
    if (!is_paid(t.state)) {
        *outcome = GW_NOT_PAID;
        return PD_OK;
    }
    if (t.refunded_amount + in->amount > t.amount) {
        *outcome = GW_EXCEEDS;
        return PD_OK;
    }
    sqlite3_stmt *st = stmt(s, S_REFUND_INSERT);
    sqlite3_bind_text(st, 1, in->out_refund_no, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t.id);
    sqlite3_bind_int64(st, 3, in->amount);
    sqlite3_bind_int64(st, 4, in->at);
    rc = step_done(s, st);
    if (rc == PD_OK) {
        st = stmt(s, S_REFUND_ADD);
        sqlite3_bind_int64(st, 1, t.id);
        sqlite3_bind_int64(st, 2, in->amount);
        rc = step_done(s, st);
    }
    *out = *in;
    *outcome = GW_OK;
    return rc;
}

int gw_store_refund(gw_store *s, const struct gw_refund *in, struct gw_refund *out,
                    enum gw_outcome *outcome)
{
    int rc = begin(s);
    if (rc != PD_OK)
        return rc;
    bool created = false;
    rc = refund_get(s, in->out_refund_no, out);
    if (rc == PD_OK) {
        *outcome = (out->amount == in->amount && strcmp(out->out_trade_no, in->out_trade_no) == 0)
                       ? GW_OK
                       : GW_CONFLICT;
    } else if (rc == PD_ENOTFOUND) {
        rc = refund_new(s, in, out, outcome);
        created = rc == PD_OK && *outcome == GW_OK;
    }
    rc = finish(s, rc);
    if (rc == PD_OK && created)
        count_add(&s->counts.refunds, 1);
    return rc;
}

int gw_store_cb_update(gw_store *s, const struct gw_owed *o, enum gw_cb_state state,
                       int64_t acked_at)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = stmt(s, S_CB_UPDATE);
    sqlite3_bind_int64(st, 1, o->trade_id);
    sqlite3_bind_int64(st, 2, o->due_at);
    sqlite3_bind_int(st, 3, o->attempts);
    sqlite3_bind_int(st, 4, (int)state);
    sqlite3_bind_int64(st, 5, acked_at);
    sqlite3_bind_int(st, 6, o->delayed_attempt);
    sqlite3_bind_int(st, 7, o->held_attempt);
    int rc = step_done(s, st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gw_store_cb_load(gw_store *s, void (*fn)(void *ctx, const struct gw_owed *owed), void *ctx)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT trade_id, due_at, attempts, delayed_attempt, held_attempt"
                                " FROM callbacks WHERE state = 0 ORDER BY due_at",
                                -1, &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        struct gw_owed o = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                            sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                            sqlite3_column_int(st, 4)};
        fn(ctx, &o);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? PD_OK : PD_EIO;
}

void gw_store_counts(gw_store *s, struct gw_counts *out)
{
    out->trades = __atomic_load_n(&s->counts.trades, __ATOMIC_RELAXED);
    out->charges = __atomic_load_n(&s->counts.charges, __ATOMIC_RELAXED);
    out->refunds = __atomic_load_n(&s->counts.refunds, __ATOMIC_RELAXED);
}

int gw_store_reset(gw_store *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = sqlite3_exec(s->db,
                          "BEGIN IMMEDIATE; DELETE FROM trades; DELETE FROM charges;"
                          " DELETE FROM refunds; DELETE FROM pay_refused; DELETE FROM callbacks;"
                          " COMMIT;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else
        memset(&s->counts, 0, sizeof s->counts);
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? PD_OK : PD_EIO;
}

/* ---- the ledger dump: one pass over trades, merged with three cursors ---- */

struct cursor {
    sqlite3_stmt *st;
    bool row;                  /* st is on a row */
};

static int cursor_open(sqlite3 *db, const char *q, struct cursor *c)
{
    c->row = false;
    if (sqlite3_prepare_v2(db, q, -1, &c->st, NULL) != SQLITE_OK)
        return PD_EIO;
    c->row = sqlite3_step(c->st) == SQLITE_ROW;
    return PD_OK;
}

/* Appends the rows of c that belong to trade_id as JSON objects via fmt_row. */
static int cursor_emit(struct cursor *c, int64_t trade_id, struct pd_buf *b,
                       int (*fmt_row)(sqlite3_stmt *st, struct pd_buf *b))
{
    int rc = pd_buf_puts(b, "[");
    bool first = true;
    while (rc == PD_OK && c->row && sqlite3_column_int64(c->st, 0) <= trade_id) {
        if (sqlite3_column_int64(c->st, 0) == trade_id) {
            rc = first ? PD_OK : pd_buf_puts(b, ",");
            if (rc == PD_OK)
                rc = fmt_row(c->st, b);
            first = false;
        }
        c->row = sqlite3_step(c->st) == SQLITE_ROW;
    }
    return rc == PD_OK ? pd_buf_puts(b, "]") : rc;
}

static int fmt_charge(sqlite3_stmt *st, struct pd_buf *b)
{
    return pd_buf_printf(b, "{\"at\":%" PRId64 ",\"amount\":%" PRId64 "}",
                         (int64_t)sqlite3_column_int64(st, 1),
                         (int64_t)sqlite3_column_int64(st, 2));
}

static int fmt_refund(sqlite3_stmt *st, struct pd_buf *b)
{
    int rc = pd_buf_puts(b, "{\"out_refund_no\":");
    if (rc == PD_OK)
        rc = gw_json_str(b, (const char *)sqlite3_column_text(st, 1));
    return rc ? rc
              : pd_buf_printf(b, ",\"amount\":%" PRId64 ",\"at\":%" PRId64 "}",
                              (int64_t)sqlite3_column_int64(st, 2),
                              (int64_t)sqlite3_column_int64(st, 3));
}

static int fmt_refused(sqlite3_stmt *st, struct pd_buf *b)
{
    int rc = pd_buf_printf(b, "{\"at\":%" PRId64 ",\"reason\":", (int64_t)sqlite3_column_int64(st, 1));
    if (rc == PD_OK)
        rc = gw_json_str(b, (const char *)sqlite3_column_text(st, 2));
    return rc ? rc : pd_buf_puts(b, "}");
}

/* Trade columns as in TRADE_COLS, then the callback's attempts, state, acked_at
 * (NULL when nothing is owed). */
static int fmt_trade_head(sqlite3_stmt *st, struct pd_buf *b)
{
    struct gw_trade t;
    read_trade(st, &t);
    int rc = pd_buf_puts(b, "{\"out_trade_no\":");
    rc = rc ? rc : gw_json_str(b, t.out_trade_no);
    rc = rc ? rc : pd_buf_printf(b, ",\"trade_no\":\"%s\",\"merchant_id\":", t.trade_no);
    rc = rc ? rc : gw_json_str(b, t.merchant_id);
    rc = rc ? rc : pd_buf_printf(b, ",\"amount\":%" PRId64 ",\"currency\":", t.amount);
    rc = rc ? rc : gw_json_str(b, t.currency);
    rc = rc ? rc : pd_buf_puts(b, ",\"attach\":");
    rc = rc ? rc : gw_json_str(b, t.attach[0] ? t.attach : NULL);
    rc = rc ? rc : pd_buf_puts(b, ",\"notify_url\":");
    rc = rc ? rc : gw_json_str(b, t.notify_url);
    rc = rc ? rc : pd_buf_printf(b, ",\"state\":\"%s\",\"created_at\":%" PRId64 ",\"closed_at\":",
                                 t.state, t.created_at);
    rc = rc ? rc : gw_json_i64_or_null(b, t.closed_at, t.closed_at == 0);
    rc = rc ? rc : pd_buf_puts(b, ",\"success_time\":");
    rc = rc ? rc : gw_json_i64_or_null(b, t.success_time, t.success_time == 0);
    rc = rc ? rc : pd_buf_printf(b, ",\"refunded_amount\":%" PRId64, t.refunded_amount);
    return rc;
}

static int fmt_trade_callbacks(sqlite3_stmt *st, struct pd_buf *b)
{
    bool owed = sqlite3_column_type(st, 13) != SQLITE_NULL;
    int state = sqlite3_column_int(st, 14);
    int64_t acked_at = sqlite3_column_int64(st, 15);
    char event_id[48] = "";
    if (owed)
        snprintf(event_id, sizeof event_id, "ev-42%08" PRId64 "-SUCCESS",
                 (int64_t)sqlite3_column_int64(st, 0));
    int rc = pd_buf_printf(b, ",\"callbacks\":{\"event_id\":");
    rc = rc ? rc : gw_json_str(b, owed ? event_id : NULL);
    rc = rc ? rc : pd_buf_printf(b, ",\"attempts\":%d,\"acked\":%s,\"acked_at\":",
                                 owed ? sqlite3_column_int(st, 13) : 0,
                                 owed && state == GW_CB_ACKED ? "true" : "false");
    rc = rc ? rc : gw_json_i64_or_null(b, acked_at, !owed || state != GW_CB_ACKED);
    rc = rc ? rc : pd_buf_printf(b, ",\"gave_up\":%s,\"pending\":%s}",
                                 owed && state == GW_CB_GAVE_UP ? "true" : "false",
                                 owed && state == GW_CB_PENDING ? "true" : "false");
    return rc;
}

static int ledger_walk(sqlite3 *db, struct pd_buf *out)
{
    struct cursor tr = {0}, ch = {0}, rf = {0}, rs = {0};
    int rc = cursor_open(db, "SELECT t.id, t.out_trade_no, t.merchant_id, t.amount, t.currency,"
                             " t.notify_url, t.description, t.attach, t.state, t.created_at,"
                             " t.closed_at, t.success_time, t.refunded_amount, c.attempts,"
                             " c.state, c.acked_at FROM trades t LEFT JOIN callbacks c"
                             " ON c.trade_id = t.id ORDER BY t.id", &tr);
    rc = rc ? rc : cursor_open(db, "SELECT trade_id, at, amount FROM charges ORDER BY trade_id, id", &ch);
    rc = rc ? rc : cursor_open(db, "SELECT trade_id, out_refund_no, amount, at FROM refunds"
                                   " ORDER BY trade_id, id", &rf);
    rc = rc ? rc : cursor_open(db, "SELECT trade_id, at, reason FROM pay_refused"
                                   " ORDER BY trade_id, id", &rs);
    for (bool first = true; rc == PD_OK && tr.row; first = false) {
        int64_t id = sqlite3_column_int64(tr.st, 0);
        rc = first ? PD_OK : pd_buf_puts(out, ",");
        rc = rc ? rc : fmt_trade_head(tr.st, out);
        rc = rc ? rc : pd_buf_puts(out, ",\"charges\":");
        rc = rc ? rc : cursor_emit(&ch, id, out, fmt_charge);
        rc = rc ? rc : pd_buf_puts(out, ",\"refunds\":");
        rc = rc ? rc : cursor_emit(&rf, id, out, fmt_refund);
        rc = rc ? rc : pd_buf_puts(out, ",\"pay_refused\":");
        rc = rc ? rc : cursor_emit(&rs, id, out, fmt_refused);
        rc = rc ? rc : fmt_trade_callbacks(tr.st, out);
        rc = rc ? rc : pd_buf_puts(out, "}");
        tr.row = sqlite3_step(tr.st) == SQLITE_ROW;
    }
    sqlite3_finalize(tr.st);
    sqlite3_finalize(ch.st);
    sqlite3_finalize(rf.st);
    sqlite3_finalize(rs.st);
    return rc;
}

int gw_store_ledger(gw_store *s, int64_t now_ms, struct pd_buf *out)
{
    pthread_mutex_lock(&s->read_mu);
    /* One read transaction: a consistent snapshot while writers go on. */
    int rc = sqlite3_exec(s->rdb, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? PD_OK : PD_EIO;
    rc = rc ? rc : pd_buf_printf(out, "{\"now\":%" PRId64 ",\"trades\":[", now_ms);
    rc = rc ? rc : ledger_walk(s->rdb, out);
    rc = rc ? rc : pd_buf_puts(out, "]}");
    sqlite3_exec(s->rdb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->read_mu);
    return rc;
}
