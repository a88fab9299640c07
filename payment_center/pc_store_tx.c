/* pc_store_tx.c -- write transactions, committed in groups.
 *
 * Every write transaction runs on the one writer connection under
 * write_mu (its page cache stays valid: nothing else writes). Each caller's
 * transaction is a SAVEPOINT inside a batch transaction that stays open
 * while other callers are queued for write_mu: the last caller of the
 * queue (or the PC_TX_BATCH_MAX-th) COMMITs the batch for all of them.
 * A caller returns from pc__commit only once its batch is committed, with
 * the batch's result, so nothing is acknowledged before it is durable.
 * pc__rollback undoes the caller's own savepoint and nothing else; when
 * the caller may have read earlier callers' writes it too waits for their
 * commit, since its answer (a duplicate's original, "not payable") rests
 * on them.
 *
 * Why: under load each order's five transactions touched mostly the same
 * b-tree pages as its neighbours' (the right-most leaves of the tables and
 * indexes). One commit for k of them writes those pages once, and takes
 * the WAL locks once, instead of k times.
 *
 * Callers in one batch run one after another, each seeing the earlier
 * ones' writes, exactly as if each had committed: a batch is a prefix of
 * the serial order, committed atomically. Read connections see a batch only
 * once it is committed, as before. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "pd_err.h"
#include "pd_log.h"

#include "pc_store_internal.h"

/* The most callers one commit covers: bounds the wait of the first. */
#define PC_TX_BATCH_MAX 64

struct pc_tx_waiter {
    struct pc_tx_waiter *next;
    int rc;
    bool done;
};

/* The store whose write transaction this thread holds, if any. */
static __thread pc_store *tx_store;

bool pc__in_tx(const pc_store *s)
{
    return tx_store == s;
}

/* The transaction statements, prepared once per connection (pc__stmt keys
 * its cache by these addresses): parsing them on every call through
 * sqlite3_exec was ~4 % of payment-center's CPU. */
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_savepoint[] = "SAVEPOINT op";
static const char sql_release[] = "RELEASE op";
static const char sql_rollback_to[] = "ROLLBACK TO op";
static const char sql_commit[] = "COMMIT";

static int exec_sql(struct pc_conn *c, const char *sql)
{
    sqlite3_stmt *st = pc__stmt(c, sql);
    int step = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
    if (st != NULL)
        sqlite3_reset(st);
    if (step == SQLITE_DONE)
        return PD_OK;
    PD_LOG(PD_LOG_ERROR, "pc", "act=db_tx sql=\"%s\" err=\"%s\"", sql, sqlite3_errmsg(c->db));
    return PD_EIO;
}

/* Ends the open batch (under write_mu): COMMIT, or ROLLBACK when failed
 * or when SQLite already rolled it back (an I/O error ends the whole
 * transaction), then hands every waiting caller the result. */
static int finish_batch(pc_store *s, bool failed)
{
    struct pc_conn *c = s->writer;
    int rc = PD_OK;
    if (failed || sqlite3_get_autocommit(c->db))
        rc = PD_EIO;
    else
        rc = exec_sql(c, sql_commit);
    if (rc != PD_OK && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    s->tx_open = false;
    s->tx_ops = 0;
    s->tx_commits++;
    struct pc_tx_waiter *w = s->tx_waiters;
    s->tx_waiters = NULL;
    pthread_mutex_lock(&s->tx_done_mu);
    while (w != NULL) {
        struct pc_tx_waiter *next = w->next;
        w->rc = rc;
        w->done = true;
        w = next;
    }
    pthread_cond_broadcast(&s->tx_done_cv);
    pthread_mutex_unlock(&s->tx_done_mu);
    return rc;
}

/* True when no caller is queued to join the open batch (or it is full):
 * this caller must commit it. */
static bool last_of_batch(pc_store *s)
{
    return __atomic_load_n(&s->tx_queued, __ATOMIC_SEQ_CST) == 0 ||
           s->tx_ops >= PC_TX_BATCH_MAX;
}

/* Ends this caller's turn on the writer when it added nothing to the
 * batch: commits the batch for the earlier callers if nobody follows. */
static void end_turn(pc_store *s)
{
    if (s->tx_open && last_of_batch(s))
        finish_batch(s, false);
    pthread_mutex_unlock(&s->write_mu);
}

int pc__begin(pc_store *s, struct pc_conn **out)
{
    __atomic_add_fetch(&s->tx_queued, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&s->write_mu);
    __atomic_sub_fetch(&s->tx_queued, 1, __ATOMIC_SEQ_CST);
    struct pc_conn *c = s->writer;
    if (s->tx_open && sqlite3_get_autocommit(c->db))
        finish_batch(s, true);      /* the batch's transaction is gone */
    if (!s->tx_open) {
        if (exec_sql(c, sql_begin) != PD_OK) {
            pthread_mutex_unlock(&s->write_mu);
            return PD_EIO;
        }
        s->tx_open = true;
    }
    if (exec_sql(c, sql_savepoint) != PD_OK) {
        end_turn(s);
        return PD_EIO;
    }
    tx_store = s;
    *out = c;
    return PD_OK;
}

/* Waits (without write_mu) until the batch this caller joined is ended. */
static int wait_batch(pc_store *s, struct pc_tx_waiter *me)
{
    pthread_mutex_lock(&s->tx_done_mu);
    while (!me->done)
        pthread_cond_wait(&s->tx_done_cv, &s->tx_done_mu);
    pthread_mutex_unlock(&s->tx_done_mu);
    return me->rc;
}

/* Adds this caller to the open batch's end: commits it when nobody
 * follows (or it is full), else waits for the caller who does. Gives up
 * write_mu. Returns the batch's result. */
static int join_batch(pc_store *s)
{
    if (last_of_batch(s)) {
        int rc = finish_batch(s, false);
        pthread_mutex_unlock(&s->write_mu);
        return rc;
    }
    struct pc_tx_waiter me = {.next = s->tx_waiters};
    s->tx_waiters = &me;
    pthread_mutex_unlock(&s->write_mu);
    return wait_batch(s, &me);
}

int pc__commit(pc_store *s, struct pc_conn *c)
{
    tx_store = NULL;
    if (exec_sql(c, sql_release) != PD_OK || sqlite3_get_autocommit(c->db)) {
        int rc = finish_batch(s, true);
        pthread_mutex_unlock(&s->write_mu);
        return rc;
    }
    s->tx_ops++;
    s->tx_ops_total++;
    return join_batch(s);
}

int pc__rollback(pc_store *s, struct pc_conn *c, int rc)
{
    tx_store = NULL;
    if (exec_sql(c, sql_rollback_to) != PD_OK || exec_sql(c, sql_release) != PD_OK ||
        sqlite3_get_autocommit(c->db)) {
        finish_batch(s, true);
        pthread_mutex_unlock(&s->write_mu);
        return PD_EIO;
    }
    if (s->tx_ops == 0) {       /* nothing uncommitted was there to read */
        end_turn(s);
        return rc;
    }
    /* It may have read the batch's writes (a duplicate's original, a
     * status): its answer must not leave before they are committed. */
    return join_batch(s) == PD_OK ? rc : PD_EIO;
}

int pc__end(pc_store *s, struct pc_conn *c, int rc)
{
    return rc == PD_OK ? pc__commit(s, c) : pc__rollback(s, c, rc);
}

void pc_store_tx_stats(pc_store *s, long *out_commits, long *out_ops)
{
    pthread_mutex_lock(&s->write_mu);
    *out_commits = s->tx_commits;
    *out_ops = s->tx_ops_total;
    pthread_mutex_unlock(&s->write_mu);
}
