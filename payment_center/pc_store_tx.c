/* pc_store_tx.c -- write transactions, combined into group commits.
 *
 * Every store write is a closure passed to pc__tx(s, fn, arg). The caller
 * pushes a request (the closure and a semaphore of its own) onto a
 * lock-free stack; if no thread is combining, it becomes the combiner:
 * it takes every request pushed so far and runs them oldest first on the
 * one writer connection, each in a SAVEPOINT of one batch transaction,
 * and COMMITs once per chunk of at most PC_TX_BATCH_MAX. Only after that
 * COMMIT does it post each caller of the chunk its answer:
 * - the COMMIT succeeded: fn's own rc (a closure that failed or asked to
 *   undo was rolled back to its savepoint: its writes, and only its, are
 *   gone; the others' stay in the batch);
 * - the batch was lost (BEGIN, a SAVEPOINT, RELEASE, ROLLBACK TO or the
 *   COMMIT failed, or SQLite rolled the transaction back itself after an
 *   I/O error): PD_EIO for every caller of the chunk, whatever its fn
 *   returned, and the batch is rolled back. A refusal too may rest on an
 *   earlier caller's uncommitted write (a duplicate of an order of the
 *   same batch), so no answer of a lost batch stands.
 * So nothing is acknowledged before the COMMIT that holds it returned,
 * and nothing of a failed chunk is acknowledged at all.
 *
 * A caller reads its answer only after taking a post of its semaphore:
 * the request lives on the caller's stack, and a caller that read "done"
 * before the post could return while the combiner still had to post it.
 *
 * The combiner is an ordinary caller (an HTTP worker, a reconciler): as
 * soon as its own request is answered it stops, handing what is still
 * queued, and the combiner role, to the oldest waiting caller. Its own
 * answer thus waits only for the chunks ahead of it, as under a lock.
 *
 * Why: under load each order's five transactions touch mostly the same
 * b-tree pages as its neighbours' (the right-most leaves of the tables and
 * indexes). One commit for k of them writes those pages once and takes the
 * WAL locks once; and a caller sleeps once (for its answer) instead of
 * once for the write lock and again for the commit (docs/benchmarks.md).
 *
 * Callers in one batch run one after another, each seeing the earlier
 * ones' writes, exactly as if each had committed: a batch is a prefix of
 * the serial order, committed atomically. Read connections see a batch only
 * once it is committed. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_util.h"

#include "pc_store_internal.h"

/* The most callers one commit covers: bounds the wait of the first. */
#define PC_TX_BATCH_MAX 64

/* The store whose closure this thread is running, if any, and the request. */
static __thread pc_store *tx_store;
static __thread struct pc_tx_req *tx_req;

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
static const char sql_rollback[] = "ROLLBACK";

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

void pc_store_events_free(struct pc_event_new *ev)
{
    while (ev != NULL) {
        struct pc_event_new *next = ev->next;
        free(ev);
        ev = next;
    }
}

void pc__tx_event(int64_t seq, int64_t shard, const char *event_id, const char *payload)
{
    if (tx_req == NULL || tx_store->event_hook == NULL)
        return;
    struct pc_event_new *ev = malloc(sizeof *ev);
    if (ev == NULL) {
        tx_req->events_lost = true;     /* the senders read it back */
        return;
    }
    *ev = (struct pc_event_new){.next = tx_req->events, .seq = seq, .shard = shard};
    pd_strlcpy(ev->e.event_id, event_id, sizeof ev->e.event_id);
    pd_strlcpy(ev->e.payload, payload, sizeof ev->e.payload);
    tx_req->events = ev;            /* newest first; pc__tx hands them oldest first */
}

/* Runs r's closure in a savepoint of the open batch: kept when it returns
 * PD_OK without asking to undo, else rolled back to the savepoint (and the
 * outbox rows it noted dropped). False when the batch can no longer be
 * committed. */
static bool run_one(pc_store *s, struct pc_conn *c, struct pc_tx_req *r)
{
    if (exec_sql(c, sql_savepoint) != PD_OK)
        return false;
    bool undo = false;
    tx_store = s;
    tx_req = r;
    r->rc = r->fn(c, r->arg, &undo);
    tx_req = NULL;
    tx_store = NULL;
    bool ok;
    if (r->rc == PD_OK && !undo) {
        ok = exec_sql(c, sql_release) == PD_OK;
        s->tx_ops_total++;
    } else {
        pc_store_events_free(r->events);
        r->events = NULL;
        r->events_lost = false;
        ok = exec_sql(c, sql_rollback_to) == PD_OK && exec_sql(c, sql_release) == PD_OK;
    }
    /* An I/O error inside fn may have ended the whole transaction. */
    return ok && !sqlite3_get_autocommit(c->db);
}

/* Ends the batch: COMMIT when ok, else ROLLBACK -- also after a failed
 * COMMIT, which may leave the transaction open (SQLITE_BUSY, a deferred
 * constraint). True when committed. */
static bool end_batch(pc_store *s, struct pc_conn *c, bool ok)
{
    if (ok && exec_sql(c, sql_commit) == PD_OK) {
        /* Counted once COMMIT returned: a reader that sees the count
         * begins after the commit (pc_store_commits). */
        __atomic_add_fetch(&s->tx_commits, 1, __ATOMIC_RELEASE);
        return true;
    }
    if (!sqlite3_get_autocommit(c->db))
        exec_sql(c, sql_rollback);
    return false;
}

/* Posts r its new state; r may be gone as soon as this returns. */
static void post(struct pc_tx_req *r, int state)
{
    __atomic_store_n(&r->state, state, __ATOMIC_RELEASE);
    sem_post(&r->sem);
}

/* Runs up to PC_TX_BATCH_MAX requests of *pending (oldest first) in one
 * batch, ends it, and answers their callers; *pending moves past them. A
 * failure stops the chunk where it happened: the rest wait for the next. */
static void run_chunk(pc_store *s, struct pc_tx_req **pending)
{
    struct pc_tx_req *r = *pending;
    int n = 0;
    pthread_mutex_lock(&s->write_mu);
    struct pc_conn *c = s->writer;
    bool ok = exec_sql(c, sql_begin) == PD_OK;
    if (!ok) {
        for (; r != NULL && n < PC_TX_BATCH_MAX; r = r->next)
            n++;                /* none can run: the whole chunk fails */
    }
    for (; ok && r != NULL && n < PC_TX_BATCH_MAX; r = r->next, n++)
        ok = run_one(s, c, r);
    bool committed = end_batch(s, c, ok);
    long commit_no = __atomic_load_n(&s->tx_commits, __ATOMIC_RELAXED);   /* ours, if committed */
    pthread_mutex_unlock(&s->write_mu);
    struct pc_tx_req *a = *pending;
    *pending = r;
    for (; n > 0; n--) {
        struct pc_tx_req *next = a->next;
        if (!committed)
            a->rc = PD_EIO;
        for (struct pc_event_new *ev = a->events; ev != NULL; ev = ev->next)
            ev->commit_no = commit_no;
        post(a, PC_TX_DONE);
        a = next;
    }
}

/* Takes every request pushed so far, oldest first. */
static struct pc_tx_req *grab(pc_store *s)
{
    struct pc_tx_req *r = __atomic_exchange_n(&s->tx_head, NULL, __ATOMIC_SEQ_CST), *fifo = NULL;
    while (r != NULL) {
        struct pc_tx_req *next = r->next;
        r->next = fifo;
        fifo = r;
        r = next;
    }
    return fifo;
}

/* The combiner's loop, holding the role (tx_combining): runs pending (may
 * be NULL), then whatever was pushed meanwhile, until its own request me
 * is answered; then hands what is left, and the role, to the oldest
 * waiting caller, or gives the role up when nothing is left. */
static void combine(pc_store *s, struct pc_tx_req *pending, struct pc_tx_req *me)
{
    for (;;) {
        if (pending == NULL)
            pending = grab(s);
        if (pending == NULL) {
            __atomic_store_n(&s->tx_combining, false, __ATOMIC_SEQ_CST);
            /* A caller that pushed before the store above but saw the
             * role taken waits for us: take the role back for it, unless
             * another thread already did. */
            if (__atomic_load_n(&s->tx_head, __ATOMIC_SEQ_CST) == NULL ||
                __atomic_exchange_n(&s->tx_combining, true, __ATOMIC_SEQ_CST))
                return;
            continue;
        }
        if (__atomic_load_n(&me->state, __ATOMIC_ACQUIRE) == PC_TX_DONE) {
            post(pending, PC_TX_COMBINE);   /* the queue from pending on is its own */
            return;
        }
        run_chunk(s, &pending);
    }
}

/* The outbox rows of a committed request go to the hook, oldest first; a
 * request answered other than PD_OK was undone or its batch lost. */
static void hand_events(pc_store *s, struct pc_tx_req *r)
{
    struct pc_event_new *fifo = NULL, *ev = r->events;
    r->events = NULL;
    if (r->rc != PD_OK) {
        pc_store_events_free(ev);
        return;
    }
    if (r->events_lost)
        s->event_hook(s->event_ctx, NULL);
    while (ev != NULL) {
        struct pc_event_new *next = ev->next;
        ev->next = fifo;
        fifo = ev;
        ev = next;
    }
    while (fifo != NULL) {
        struct pc_event_new *next = fifo->next;
        fifo->next = NULL;
        s->event_hook(s->event_ctx, fifo);
        fifo = next;
    }
}

int pc__tx(pc_store *s, pc_tx_fn fn, void *arg)
{
    /* From inside a closure this would wait for its own thread forever. */
    PD_ASSERT(!pc__in_tx(s));
    struct pc_tx_req me = {.fn = fn, .arg = arg, .state = PC_TX_WAIT};
    if (sem_init(&me.sem, 0, 0) != 0)
        return PD_EIO;
    me.next = __atomic_load_n(&s->tx_head, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&s->tx_head, &me.next, &me, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED))
        ;
    if (!__atomic_exchange_n(&s->tx_combining, true, __ATOMIC_SEQ_CST))
        combine(s, NULL, &me);
    for (;;) {
        while (sem_wait(&me.sem) != 0)
            PD_ASSERT(errno == EINTR);
        if (__atomic_load_n(&me.state, __ATOMIC_ACQUIRE) == PC_TX_DONE)
            break;
        /* PC_TX_COMBINE: our turn to combine, the queue starting with us */
        combine(s, &me, &me);
    }
    sem_destroy(&me.sem);
    hand_events(s, &me);
    return me.rc;
}

void pc_store_set_event_hook(pc_store *s, pc_event_hook fn, void *ctx)
{
    s->event_hook = fn;
    s->event_ctx = ctx;
}

long pc_store_commits(pc_store *s)
{
    return __atomic_load_n(&s->tx_commits, __ATOMIC_ACQUIRE);
}

void pc_store_tx_stats(pc_store *s, long *out_commits, long *out_ops)
{
    pthread_mutex_lock(&s->write_mu);
    *out_commits = pc_store_commits(s);
    *out_ops = s->tx_ops_total;
    pthread_mutex_unlock(&s->write_mu);
}
