/* Proves pc_store's write path over a real SQLite file:
 * - WAL checkpoints run on the checkpointer thread once the WAL passes the
 *   threshold, and the WAL file stays bounded however many orders are
 *   written (with SQLite's own checkpoint off and no checkpointer it grows
 *   by every frame: ~40 MB for this test's orders);
 * - a read inside a write transaction sees that transaction's own writes
 *   (the writer connection), and the orders written are all there after
 *   reopening the file;
 * - write transactions (pc_store_tx.c), with real threads queued behind a
 *   combiner held inside its closure until they are all queued (so the
 *   queue is known):
 *   - callers queued behind one another share one COMMIT, and each returns
 *     from pc__tx only once its row is visible to another connection
 *     (nothing is acknowledged before it is committed); the combiner runs
 *     its own closure and hands the rest to the oldest waiting caller
 *     rather than answering its own caller late;
 *   - a closure that fails (after a partial write) or asks to undo loses
 *     its own writes only; the batch's other writes are committed, and a
 *     refusal resting on them is answered only once they are;
 *   - a COMMIT that fails (a WAL write failing with an I/O error or a full
 *     disk, through a VFS shim; a deferred constraint, which leaves the
 *     transaction open as SQLITE_BUSY does) fails every caller of the
 *     chunk, refusals included, with none of their rows there; the writer
 *     and the file are usable afterwards;
 *   - a closure calling pc__tx stops the process on an assertion instead
 *     of waiting for itself forever (in a child process);
 *   - 8 threads x 400 transactions, each kept, undone or refused: every
 *     caller returns with its own answer (no lost wake-up), exactly the
 *     kept rows are there, and the store closes with nobody queued;
 * - an order's history never goes back in time: a step whose caller took
 *   its clock reading before the previous step committed (a reconciler
 *   back from the gateway) is dated no earlier than that step;
 * - each step leaves the order's row as it says: the status UPDATE also
 *   writes the attempt, its trade, the paid trade, the check count (kept
 *   through a step, reset by a new attempt) and notify_seq, and an order
 *   without a trade keeps NULL there (null in the export). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pc_store.h"
#include "pc_store_internal.h"
#include "pd_assert.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_rand.h"

#define T0 1767225600000LL
#define ORDERS 3000
#define FRAMES 64

static char path[80];

static void remove_db(void)
{
    char p[96];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int submit_one(pc_store *s, int i)
{
    struct pc_order_in in = {.amount = 100 + i, .n_items = 1};
    snprintf(in.merchant_id, sizeof in.merchant_id, "m1");
    snprintf(in.user_id, sizeof in.user_id, "u%d", i);
    snprintf(in.currency, sizeof in.currency, "CNY");
    snprintf(in.items[0].sku, sizeof in.items[0].sku, "sku-%d", i);
    in.items[0].qty = 1;
    in.items[0].unit_amount = 100 + i;
    char fp[80], id[PC_ORDER_ID_MAX + 1], dup[PC_ORDER_ID_MAX + 1];
    snprintf(fp, sizeof fp, "fp-%064d", i);
    snprintf(id, sizeof id, "o-%016x", i);
    struct pc_submit sub = {.order = &in, .fingerprint = fp, .order_id = id,
                            .now_ms = T0 + i, .window_ms = 600000, .expiry_ms = 3600000};
    return pc_store_submit(s, &sub, dup);
}

static long wal_bytes(void)
{
    char p[96];
    struct stat st;
    snprintf(p, sizeof p, "%s-wal", path);
    return stat(p, &st) == 0 ? (long)st.st_size : 0;
}

static void checkpoints_keep_the_wal_bounded(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    pc_store_set_checkpoint_frames(s, FRAMES);
    for (int i = 0; i < ORDERS; i++)
        assert_int_equal(submit_one(s, i), PD_OK);
    /* The thread was asked many times; give a slow (sanitised) build time
     * to answer at least once. */
    for (int i = 0; i < 500 && pc_store_checkpoints(s) == 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    assert_true(pc_store_checkpoints(s) > 0);
    /* At most 4x FRAMES un-copied frames before the writer copies them
     * itself, plus one transaction's frames: far below ORDERS' ~12,000. */
    long bytes = wal_bytes();
    print_message("wal %ld bytes after %d orders, %ld checkpoints\n", bytes, ORDERS,
                  pc_store_checkpoints(s));
    assert_true(bytes < 8L * FRAMES * 4200);
    pc_store_close(s);

    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    struct pc_order o;
    assert_int_equal(pc_store_get(s, "o-0000000000000000", &o), PD_OK);
    char last[PC_ORDER_ID_MAX + 1];
    snprintf(last, sizeof last, "o-%016x", ORDERS - 1);
    assert_int_equal(pc_store_get(s, last, &o), PD_OK);
    assert_int_equal(o.amount, 100 + ORDERS - 1);
    pc_store_close(s);
}

/* Whether another connection sees the nonce: committed, not just written. */
static int committed(const char *nonce)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT 1 FROM nonces WHERE nonce=?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_text(st, 1, nonce, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* ---- a VFS that fails the WAL's writes on demand ----
 * Registered under the name payment-center opens its files with
 * ("unix-excl"), ahead of the real one, it hands WAL files a copy of the
 * real methods whose xWrite answers wal_write_error when that is set.
 * WAL frames are written by COMMIT, so this is a COMMIT that fails with
 * an I/O error or a full disk. */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs fail_vfs;
static const sqlite3_io_methods *real_wal_io;
static sqlite3_io_methods fail_wal_io;
static int wal_write_error;     /* atomic; 0: writes go through */

static int fail_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int err = __atomic_load_n(&wal_write_error, __ATOMIC_SEQ_CST);
    return err != 0 ? err : real_wal_io->xWrite(f, buf, n, off);
}

static int fail_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                     int *out_flags)
{
    (void)vfs;
    int rc = real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
    if (rc != SQLITE_OK || !(flags & SQLITE_OPEN_WAL) || f->pMethods == NULL)
        return rc;
    if (real_wal_io == NULL) {
        real_wal_io = f->pMethods;
        fail_wal_io = *f->pMethods;
        fail_wal_io.xWrite = fail_write;
    }
    if (f->pMethods != real_wal_io)
        abort();                /* one WAL methods table is all this shim knows */
    f->pMethods = &fail_wal_io;
    return rc;
}

static void fail_vfs_register(void)
{
    real_vfs = sqlite3_vfs_find("unix-excl");
    assert_non_null(real_vfs);
    fail_vfs = *real_vfs;
    fail_vfs.pNext = NULL;
    fail_vfs.xOpen = fail_open;
    assert_int_equal(sqlite3_vfs_register(&fail_vfs, 0), SQLITE_OK);
    assert_ptr_equal(sqlite3_vfs_find("unix-excl"), &fail_vfs);
}

/* ---- callers in threads of their own ---- */

struct op {
    pc_store *s;
    const char *rows[3];    /* nonces inserted in this order (NULL ends) */
    bool undo;              /* then asks for its writes to be undone */
    int refuse;             /* then returns this (PD_ECONFLICT: a refusal) */
    int inject;             /* then sets wal_write_error to this */
    const char *sql;        /* then runs this on the writer */
    int wait_queued;        /* first waits for this many queued callers */
    const char *read;       /* a row of another caller it reads */
    const char *events[2];  /* outbox rows it notes after its rows (NULL ends) */
    int rc;                 /* what pc__tx returned */
    int started;            /* the closure has begun (atomic) */
    pthread_t caller, ran_on;
    int visible[3];         /* rows[i] seen by another connection right after */
    int read_visible;       /* read seen by another connection right after */
};

/* Callers queued for the combiner: requests pushed and not yet taken. */
static int queued(pc_store *s)
{
    int n = 0;
    for (struct pc_tx_req *r = __atomic_load_n(&s->tx_head, __ATOMIC_SEQ_CST); r != NULL;
         r = r->next)
        n++;
    return n;
}

/* Waits (10 s at most) until cond(arg) holds. */
static bool eventually(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 2000 && !cond(arg); i++)
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    return cond(arg);
}

static bool enough_queued(void *arg)
{
    struct op *op = arg;
    return queued(op->s) >= op->wait_queued;
}

static bool has_started(void *arg)
{
    return __atomic_load_n(&((struct op *)arg)->started, __ATOMIC_SEQ_CST) != 0;
}

static int op_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct op *op = arg;
    op->ran_on = pthread_self();
    __atomic_store_n(&op->started, 1, __ATOMIC_SEQ_CST);
    if (op->wait_queued > 0 && !eventually(enough_queued, op))
        return PD_ETIMEDOUT;
    for (int i = 0; i < 3 && op->rows[i] != NULL; i++) {
        int rc = pc__exec(c, NULL, "INSERT INTO nonces(nonce, at) VALUES(?, 1)", "t",
                          op->rows[i]);
        if (rc != PD_OK)
            return rc;
    }
    if (op->read != NULL) {
        sqlite3_stmt *st = pc__query(c, "SELECT 1 FROM nonces WHERE nonce=?", "t", op->read);
        int step = st != NULL ? sqlite3_step(st) : SQLITE_ERROR;
        if (st != NULL)
            sqlite3_reset(st);
        if (step != SQLITE_ROW)
            return PD_ENOTFOUND;    /* it must see the batch's earlier write */
    }
    for (int i = 0; i < 2 && op->events[i] != NULL; i++)
        pc__tx_event(i + 1, 7, op->events[i], "{\"p\":1}");
    if (op->inject != 0)
        __atomic_store_n(&wal_write_error, op->inject, __ATOMIC_SEQ_CST);
    if (op->sql != NULL && sqlite3_exec(c->db, op->sql, NULL, NULL, NULL) != SQLITE_OK)
        return PD_EIO;
    *undo = op->undo;
    return op->refuse;
}

/* No cmocka assert off the main thread: a failure is a wrong rc. */
static void *op_main(void *arg)
{
    struct op *op = arg;
    op->rc = pc__tx(op->s, op_tx, op);
    for (int i = 0; i < 3 && op->rows[i] != NULL; i++)
        op->visible[i] = committed(op->rows[i]);
    if (op->read != NULL)
        op->read_visible = committed(op->read);
    return NULL;
}

/* The first caller becomes the combiner and, inside its closure, waits
 * until the others are queued behind it, started one at a time so that
 * their order is known; then all are joined. */
static void run_queue(pc_store *s, struct op *ops, int n)
{
    pthread_t tid[8];
    assert_true(n <= 8);
    ops[0].wait_queued = n - 1;
    for (int i = 0; i < n; i++) {
        ops[i].s = s;
        assert_int_equal(pthread_create(&tid[i], NULL, op_main, &ops[i]), 0);
        ops[i].caller = tid[i];
        if (i == 0)
            assert_true(eventually(has_started, &ops[0]));
        else if (i < n - 1)     /* the last one's push lets the first go on */
            assert_true(eventually(enough_queued, &(struct op){.s = s, .wait_queued = i}));
    }
    for (int i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
}

static void queued_callers_share_one_commit(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    long c0, o0, c1, o1;
    pc_store_tx_stats(s, &c0, &o0);
    struct op ops[4] = {{.rows = {"n-a"}}, {.rows = {"n-b"}}, {.rows = {"n-c"}},
                        {.rows = {"n-d"}}};
    run_queue(s, ops, 4);
    pc_store_tx_stats(s, &c1, &o1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ops[i].rc, PD_OK);
        assert_int_equal(ops[i].visible[0], 1);     /* answered only once committed */
    }
    /* The first ran alone; the three queued behind it share one commit. */
    assert_int_equal(o1 - o0, 4);
    assert_int_equal(c1 - c0, 2);
    /* The first ran its own closure only: once answered it handed the
     * queue to the oldest waiting caller, who ran all three. */
    assert_true(pthread_equal(ops[0].ran_on, ops[0].caller));
    for (int i = 1; i < 4; i++)
        assert_true(pthread_equal(ops[i].ran_on, ops[1].caller));
    pc_store_close(s);
}

static void a_rollback_undoes_only_its_own_writes(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    struct op ops[5] = {
        {.rows = {"n-first"}},
        {.rows = {"n-kept"}},
        /* a partial write: its second insert collides with n-kept */
        {.rows = {"n-partial", "n-kept"}, .read = "n-kept"},
        {.rows = {"n-undone"}, .undo = true},
        {.rows = {"n-refused"}, .refuse = PD_ECONFLICT, .read = "n-kept"},
    };
    run_queue(s, ops, 5);
    assert_int_equal(ops[1].rc, PD_OK);
    assert_int_equal(ops[2].rc, PD_ECONFLICT);
    assert_int_equal(ops[3].rc, PD_OK);             /* its own answer, unchanged */
    assert_int_equal(ops[4].rc, PD_ECONFLICT);
    /* Their answers rest on n-kept, so they came once it was committed. */
    assert_int_equal(ops[2].read_visible, 1);
    assert_int_equal(ops[4].read_visible, 1);
    assert_int_equal(committed("n-kept"), 1);
    assert_int_equal(committed("n-partial"), 0);
    assert_int_equal(committed("n-undone"), 0);
    assert_int_equal(committed("n-refused"), 0);
    pc_store_close(s);
}

/* What the store's event hook was given, in the order given. */
static struct {
    pthread_mutex_t mu;
    int n;
    char ids[8][PC_EVENT_ID_MAX + 1];
    int64_t seq[8];
    pthread_t thread[8];
    bool ok;                /* every event whole: shard, payload, no next */
} hooked = {.mu = PTHREAD_MUTEX_INITIALIZER, .ok = true};

static void hook(void *ctx, struct pc_event_new *ev)
{
    (void)ctx;
    pthread_mutex_lock(&hooked.mu);
    if (hooked.n < 8) {
        snprintf(hooked.ids[hooked.n], sizeof hooked.ids[0], "%s", ev->e.event_id);
        hooked.seq[hooked.n] = ev->seq;
        hooked.thread[hooked.n++] = pthread_self();
    }
    hooked.ok &= ev->shard == 7 && strcmp(ev->e.payload, "{\"p\":1}") == 0 &&
                 ev->next == NULL && ev->e.attempts == 0 && !ev->e.more;
    pthread_mutex_unlock(&hooked.mu);
    free(ev);
}

/* Index of event id in what the hook was given, -1 if not there. */
static int hooked_at(const char *id)
{
    for (int i = 0; i < hooked.n; i++)
        if (strcmp(hooked.ids[i], id) == 0)
            return i;
    return -1;
}

/* The outbox rows a closure notes reach the store's event hook only once
 * its transaction committed, in the caller's own thread after pc__tx, in
 * the order noted: none of a closure that failed, asked to undo or was
 * refused, none of a batch whose COMMIT failed. */
static void events_reach_the_hook_once_committed(void **state)
{
    (void)state;
    fail_vfs_register();
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    pc_store_set_event_hook(s, hook, NULL);
    struct op ops[6] = {
        {.rows = {"n-first"}, .events = {"e-first"}},
        {.rows = {"n-kept"}, .events = {"e-kept-1", "e-kept-2"}},
        {.rows = {"n-third"}, .events = {"e-third"}},
        {.rows = {"n-undone"}, .events = {"e-undone", "e-undone-2"}, .undo = true},
        {.rows = {"n-refused"}, .events = {"e-refused"}, .refuse = PD_ECONFLICT},
        {.rows = {"n-partial", "n-kept"}, .events = {"e-partial"}},
    };
    run_queue(s, ops, 6);
    assert_int_equal(ops[3].rc, PD_OK);     /* undone, its own answer unchanged */
    assert_int_equal(ops[5].rc, PD_ECONFLICT);
    assert_int_equal(hooked.n, 4);
    assert_true(hooked.ok);
    /* e-third's closure ran on the combiner's thread (ops[1], the oldest
     * waiting caller then); its row was handed in its own caller's. */
    int k3 = hooked_at("e-third");
    assert_true(k3 >= 0);
    assert_false(pthread_equal(ops[2].ran_on, ops[2].caller));
    assert_true(pthread_equal(hooked.thread[k3], ops[2].caller));
    assert_true(hooked_at("e-first") >= 0);
    assert_true(pthread_equal(hooked.thread[hooked_at("e-first")], ops[0].caller));
    int k1 = hooked_at("e-kept-1"), k2 = hooked_at("e-kept-2");
    assert_true(k1 >= 0 && k2 == k1 + 1);   /* oldest first, one after the other */
    assert_true(hooked.seq[k1] == 1 && hooked.seq[k2] == 2);
    assert_true(pthread_equal(hooked.thread[k1], ops[1].caller));
    assert_true(pthread_equal(hooked.thread[k2], ops[1].caller));

    /* A lost batch hands nothing over. */
    hooked.n = 0;
    struct op lost[3] = {
        {.rows = {"n-before"}, .events = {"e-before"}},
        {.rows = {"n-x"}, .events = {"e-x"}},
        {.rows = {"n-y"}, .events = {"e-y"}, .inject = SQLITE_IOERR_WRITE},
    };
    run_queue(s, lost, 3);
    __atomic_store_n(&wal_write_error, 0, __ATOMIC_SEQ_CST);
    assert_int_equal(lost[1].rc, PD_EIO);
    assert_int_equal(lost[2].rc, PD_EIO);
    assert_int_equal(hooked.n, 1);
    assert_string_equal(hooked.ids[0], "e-before");
    pc_store_close(s);
    sqlite3_vfs_unregister(&fail_vfs);
}

/* How the batch is lost at COMMIT: a failed WAL write (I/O error, full
 * disk), or a constraint checked only at COMMIT, which leaves the
 * transaction open, as SQLITE_BUSY does. */
static const struct {
    const char *what;
    int inject;
    const char *sql;
} commit_failures[] = {
    {"I/O error", SQLITE_IOERR_WRITE, NULL},
    {"disk full", SQLITE_FULL, NULL},
    {"deferred constraint", 0, "INSERT INTO temp.fk_child VALUES(7)"},
};

static void a_failed_commit_fails_every_caller_in_it(void **state)
{
    (void)state;
    fail_vfs_register();
    for (size_t k = 0; k < PD_ARRAY_LEN(commit_failures); k++) {
        print_message("COMMIT fails: %s\n", commit_failures[k].what);
        remove_db();
        pc_store *s = NULL;
        assert_int_equal(pc_store_open(path, false, &s), PD_OK);
        assert_int_equal(sqlite3_exec(s->writer->db,
                                      "PRAGMA foreign_keys=ON;"
                                      "CREATE TEMP TABLE fk_parent(id INTEGER PRIMARY KEY);"
                                      "CREATE TEMP TABLE fk_child(p INTEGER REFERENCES"
                                      " fk_parent(id) DEFERRABLE INITIALLY DEFERRED);",
                                      NULL, NULL, NULL), SQLITE_OK);
        struct op ops[4] = {
            {.rows = {"n-before"}},
            {.rows = {"n-x"}},
            {.rows = {"n-refused"}, .refuse = PD_ECONFLICT, .read = "n-x"},
            {.rows = {"n-y"}, .inject = commit_failures[k].inject,
             .sql = commit_failures[k].sql},
        };
        run_queue(s, ops, 4);
        __atomic_store_n(&wal_write_error, 0, __ATOMIC_SEQ_CST);
        assert_int_equal(ops[0].rc, PD_OK);
        for (int i = 1; i < 4; i++)     /* the refusal too: it read n-x */
            assert_int_equal(ops[i].rc, PD_EIO);
        assert_int_equal(committed("n-before"), 1);
        assert_int_equal(committed("n-x"), 0);
        assert_int_equal(committed("n-y"), 0);
        /* The writer is usable again, and the lost rows stay lost. */
        struct op next = {.s = s, .rows = {"n-z"}};
        op_main(&next);
        assert_int_equal(next.rc, PD_OK);
        assert_int_equal(next.visible[0], 1);
        assert_int_equal(committed("n-x"), 0);
        pc_store_close(s);
        /* And so is the file, reopened. */
        assert_int_equal(pc_store_open(path, false, &s), PD_OK);
        pc_store_close(s);
        assert_int_equal(committed("n-z"), 1);
        assert_int_equal(committed("n-y"), 0);
    }
    sqlite3_vfs_unregister(&fail_vfs);
}

static int nested_tx(struct pc_conn *c, void *arg, bool *undo)
{
    (void)c;
    (void)undo;
    return pc__tx(arg, nested_tx, arg);
}

/* A closure that calls pc__tx would wait for its own thread forever: the
 * process stops on an assertion instead (in a child, here). */
static void a_nested_transaction_aborts(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        pc_store *s = NULL;
        if (pc_store_open(path, false, &s) != PD_OK)
            _exit(3);
        pc__tx(s, nested_tx, s);
        _exit(4);               /* not reached: it returned */
    }
    int status = 0;
    for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    if (waitpid(pid, &status, WNOHANG) == 0) {     /* still waiting: deadlocked */
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("a nested pc__tx deadlocked");
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* Many callers at once, each closure kept, undone or failed by a seeded
 * draw: every caller returns (no lost wake-up), with its own answer, and
 * exactly the kept rows are there. */
#define STRESS_THREADS 8
#define STRESS_CALLS 400

struct stress {
    pc_store *s;
    int id;
    int kept, wrong;
};

struct stress_call {
    char nonce[32];
    int draw;
};

static int stress_tx(struct pc_conn *c, void *arg, bool *undo)
{
    struct stress_call *call = arg;
    int rc = pc__exec(c, NULL, "INSERT INTO nonces(nonce, at) VALUES(?, 1)", "t", call->nonce);
    *undo = call->draw == 1;
    return rc == PD_OK && call->draw == 2 ? PD_ECONFLICT : rc;
}

static void *stress_main(void *arg)
{
    struct stress *st = arg;
    for (int i = 0; i < STRESS_CALLS; i++) {
        struct stress_call call = {.draw = (int)pd_draw_range(1, NULL, "tx", (uint64_t)st->id *
                                                              STRESS_CALLS + (uint64_t)i, 0, 2)};
        snprintf(call.nonce, sizeof call.nonce, "s-%d-%d", st->id, i);
        int rc = pc__tx(st->s, stress_tx, &call);
        st->wrong += rc != (call.draw == 2 ? PD_ECONFLICT : PD_OK);
        st->kept += call.draw == 0;
    }
    return NULL;
}

static void many_callers_all_answered(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    pthread_t tid[STRESS_THREADS];
    struct stress st[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        st[i] = (struct stress){.s = s, .id = i};
        assert_int_equal(pthread_create(&tid[i], NULL, stress_main, &st[i]), 0);
    }
    int kept = 0;
    for (int i = 0; i < STRESS_THREADS; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(st[i].wrong, 0);
        kept += st[i].kept;
    }
    long commits, ops;
    pc_store_tx_stats(s, &commits, &ops);
    print_message("%d callers' transactions, %ld kept, %ld commits\n",
                  STRESS_THREADS * STRESS_CALLS, ops, commits);
    assert_int_equal(ops, kept);
    pc_store_close(s);          /* asserts that nobody is still queued */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM nonces", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), kept);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void history_times_never_go_back(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    assert_int_equal(submit_one(s, 7), PD_OK);          /* UNPAID at T0 + 7 */
    const char *id = "o-0000000000000007";
    struct pc_pay pay;
    /* The pay step's caller read its clock 5 s before the submit. */
    assert_int_equal(pc_store_pay_begin(s, id, "http://127.0.0.1:1/notify", T0 + 7 - 5000,
                                        30000, &pay), PD_OK);
    assert_int_equal(pay.verdict, PC_PAY_STARTED);
    int rc = PD_EIO;
    char *text = pc_store_order_json(s, id, &rc);
    assert_int_equal(rc, PD_OK);
    cJSON *o = cJSON_Parse(text);
    cJSON *hist = cJSON_GetObjectItem(o, "history");
    assert_int_equal(cJSON_GetArraySize(hist), 2);
    double first = cJSON_GetObjectItem(cJSON_GetArrayItem(hist, 0), "at")->valuedouble;
    double second = cJSON_GetObjectItem(cJSON_GetArrayItem(hist, 1), "at")->valuedouble;
    assert_true(first == (double)(T0 + 7));
    assert_true(second >= first);
    cJSON_Delete(o);
    free(text);
    pc_store_close(s);
}

/* The status UPDATE writes the row's other step columns too (attempt,
 * trades, check count, notify_seq): each value as the step leaves it, read
 * back through another connection after the commit. */
static void assert_row(pc_store *s, const char *id, int status, int64_t attempt,
                       const char *cur, const char *paid, int64_t check_count,
                       int64_t notify_seq)
{
    struct pc_order o;
    assert_int_equal(pc_store_get(s, id, &o), PD_OK);
    assert_int_equal(o.status, status);
    assert_true(o.attempt == attempt);
    assert_string_equal(o.cur_trade, cur);
    assert_string_equal(o.paid_trade, paid);
    assert_true(o.check_count == check_count);
    assert_true(o.notify_seq == notify_seq);
}

static cJSON *order_json(pc_store *s, const char *id)
{
    int rc = PD_EIO;
    char *text = pc_store_order_json(s, id, &rc);
    assert_int_equal(rc, PD_OK);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static void each_step_writes_its_columns(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    const char *id = "o-0000000000000008";
    struct pc_pay pay;
    int status = 0, result = -1;
    assert_int_equal(submit_one(s, 8), PD_OK);
    assert_int_equal(pc_store_pay_begin(s, id, "http://127.0.0.1:1/n", T0 + 10, 30000, &pay),
                     PD_OK);
    assert_row(s, id, PC_ST_PAYING, 1, "o-0000000000000008-1", "", 0, 0);
    /* a reconciler's count survives the next step, a new attempt resets it */
    assert_int_equal(pc_store_reschedule(s, id, pay.order.version, T0 + 50000, 3), PD_OK);
    assert_int_equal(pc_store_create_result(s, "o-0000000000000008-1", PC_CREATE_REJECTED,
                                            NULL, T0 + 20, &status), PD_OK);
    assert_row(s, id, PC_ST_UNPAID, 1, "o-0000000000000008-1", "", 3, 0);
    assert_int_equal(pc_store_pay_begin(s, id, "http://127.0.0.1:1/n", T0 + 30, 30000, &pay),
                     PD_OK);
    assert_row(s, id, PC_ST_PAYING, 2, "o-0000000000000008-2", "", 0, 0);
    struct pc_fact f = {PC_SRC_CALLBACK, "o-0000000000000008-2", "SUCCESS", "wx-8", true,
                        108, "CNY", "m1", "nonce-8"};
    assert_int_equal(pc_store_apply_fact(s, &f, T0 + 40, &result), PD_OK);
    assert_int_equal(result, PC_APPLY_CHANGED);
    assert_row(s, id, PC_ST_PAID, 2, "o-0000000000000008-2", "o-0000000000000008-2", 0, 1);
    /* the late writer (zoo) continues the sequence: seq 2 */
    assert_int_equal(pc_store_outbox_late(s, id, T0 + 50), PD_OK);
    assert_row(s, id, PC_ST_PAID, 2, "o-0000000000000008-2", "o-0000000000000008-2", 0, 2);
    cJSON *o = order_json(s, id);
    cJSON *n = cJSON_GetObjectItem(o, "notifications");
    assert_int_equal(cJSON_GetArraySize(n), 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(n, 1), "seq")->valueint, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "history")), 5);
    cJSON_Delete(o);

    /* an order closed without a trade keeps none: null in the export, not "" */
    assert_int_equal(submit_one(s, 9), PD_OK);
    assert_int_equal(pc_store_close_unpaid(s, "o-0000000000000009", T0 + 60), PD_OK);
    assert_row(s, "o-0000000000000009", PC_ST_CLOSED, 0, "", "", 0, 1);
    o = order_json(s, "o-0000000000000009");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "out_trade_no")));
    cJSON_Delete(o);
    pc_store_close(s);
}

/* The export reads each list for a chunk of orders at once and hands the
 * rows out by order id (pc_store_queue.c). 250 orders in varied states
 * (submitted; paying; paying on a second attempt; paid with one or two
 * notifications), paged with limits that do and do not divide the chunk
 * and the count: every order once, in order, next_after naming the last
 * order of a page that has more, and each order exactly as it exports
 * alone, with lists that belong to it (every trade's out_trade_no and
 * every event's id name it; a history row of no order is in none). */
struct page {
    char *text;
    size_t len;
};

static int page_emit(void *ctx, const char *data, size_t len)
{
    struct page *p = ctx;
    char *t = realloc(p->text, p->len + len + 1);
    if (t == NULL)
        return PD_ENOMEM;
    memcpy(t + p->len, data, len);
    p->len += len;
    t[p->len] = '\0';
    p->text = t;
    return PD_OK;
}

static void export_pages_match_single_orders(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    enum { N = 250 };
    for (int i = 1; i <= N; i++) {
        char id[PC_ORDER_ID_MAX + 1], otn[64];
        snprintf(id, sizeof id, "o-%016x", i);
        assert_int_equal(submit_one(s, i), PD_OK);
        if (i % 5 == 0)
            continue;
        struct pc_pay pay;
        int st = 0, result = -1;
        assert_int_equal(pc_store_pay_begin(s, id, "http://127.0.0.1:1/n", T0 + i, 30000, &pay),
                         PD_OK);
        int attempt = 1;
        if (i % 5 == 2) {
            snprintf(otn, sizeof otn, "%s-1", id);
            assert_int_equal(pc_store_create_result(s, otn, PC_CREATE_REJECTED, NULL, T0 + i, &st),
                             PD_OK);
            assert_int_equal(pc_store_pay_begin(s, id, "http://127.0.0.1:1/n", T0 + i, 30000,
                                                &pay), PD_OK);
            attempt = 2;
        }
        if (i % 5 == 1)
            continue;
        char nonce[32];
        snprintf(otn, sizeof otn, "%s-%d", id, attempt);
        snprintf(nonce, sizeof nonce, "nonce-%d", i);
        struct pc_fact f = {PC_SRC_CALLBACK, otn, "SUCCESS", "wx", true, 100 + i, "CNY", "m1",
                            nonce};
        assert_int_equal(pc_store_apply_fact(s, &f, T0 + i, &result), PD_OK);
        if (i % 5 == 3)
            assert_int_equal(pc_store_outbox_late(s, id, T0 + i), PD_OK);
    }
    /* A list row of no order (none is written so; a hand-edited file could
     * have one), keyed between two orders of a page: it goes nowhere. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO history(order_id, at, from_status, to_status, cause)"
                                  " VALUES('o-0000000000000005x', 1, NULL, 'UNPAID', 'submit')",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    static const int limits[] = {1, 7, 100, 101, 250, 1000};
    for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        char after[PC_ORDER_ID_MAX + 1] = "";
        int seen = 0;
        for (;;) {
            struct page pg = {0};
            assert_int_equal(pc_store_export(s, after, limits[l], page_emit, &pg), PD_OK);
            cJSON *doc = cJSON_Parse(pg.text);
            assert_non_null(doc);
            cJSON *o;
            cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "orders")) {
                seen++;
                char want_id[PC_ORDER_ID_MAX + 1];
                snprintf(want_id, sizeof want_id, "o-%016x", seen);
                const char *id = cJSON_GetObjectItem(o, "order_id")->valuestring;
                assert_string_equal(id, want_id);
                cJSON *alone = order_json(s, id);
                if (!cJSON_Compare(o, alone, true))
                    fail_msg("limit %d: %s differs in the page", limits[l], id);
                cJSON_Delete(alone);
                cJSON *t;
                cJSON_ArrayForEach(t, cJSON_GetObjectItem(o, "trades"))
                    assert_int_equal(strncmp(cJSON_GetObjectItem(t, "out_trade_no")->valuestring,
                                             id, strlen(id)), 0);
                cJSON_ArrayForEach(t, cJSON_GetObjectItem(o, "notifications"))
                    assert_non_null(strstr(cJSON_GetObjectItem(t, "event_id")->valuestring, id));
                int k = seen % 5;
                int trades = k == 0 ? 0 : k == 2 ? 2 : 1;
                int notes = k == 3 ? 2 : k == 4 || k == 2 ? 1 : 0;
                assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "trades")), trades);
                assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "notifications")),
                                 notes);
                assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(o, "history")) >= 1);
            }
            cJSON *next = cJSON_GetObjectItem(doc, "next_after");
            int got = cJSON_GetArraySize(cJSON_GetObjectItem(doc, "orders"));
            if (seen < N) {
                assert_int_equal(got, limits[l]);
                assert_true(cJSON_IsString(next));
                snprintf(after, sizeof after, "%s", next->valuestring);
            } else {
                assert_true(cJSON_IsNull(next));
            }
            cJSON_Delete(doc);
            free(pg.text);
            if (seen >= N)
                break;
        }
        assert_int_equal(seen, N);
    }
    pc_store_close(s);
}

static int setup(void **state)
{
    (void)state;
    if (getenv("TEST_LOG") != NULL)
        pd_log_set_level(getenv("TEST_LOG"));
    snprintf(path, sizeof path, "/tmp/test_pc_store_%d.db", (int)getpid());
    remove_db();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove_db();
    return 0;
}

int main(void)
{
    pd_log_set_level("off");        /* the failed commits log errors on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(checkpoints_keep_the_wal_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(history_times_never_go_back, setup, teardown),
        cmocka_unit_test_setup_teardown(each_step_writes_its_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(export_pages_match_single_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(queued_callers_share_one_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rollback_undoes_only_its_own_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(events_reach_the_hook_once_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_fails_every_caller_in_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_nested_transaction_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(many_callers_all_answered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
