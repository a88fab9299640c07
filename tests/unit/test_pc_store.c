/* Proves pc_store's write path over a real SQLite file:
 * - WAL checkpoints run on the checkpointer thread once the WAL passes the
 *   threshold, and the WAL file stays bounded however many orders are
 *   written (with SQLite's own checkpoint off and no checkpointer it grows
 *   by every frame: ~40 MB for this test's orders);
 * - a read inside a write transaction sees that transaction's own writes
 *   (the writer connection), and the orders written are all there after
 *   reopening the file;
 * - group commit (pc_store_tx.c), with real threads queued on the writer:
 *   - callers queued behind one another share one COMMIT, and each returns
 *     from pc__commit only once its row is visible to another connection
 *     (nothing is acknowledged before it is committed);
 *   - a caller that rolls back undoes its own writes only: the batch's
 *     earlier callers are still committed, and it returns its own answer
 *     only once their rows (which it could read, like a duplicate's
 *     original) are committed;
 *   - when the batch's transaction is lost (SQLite rolls the whole
 *     transaction back on an I/O error; here a raw ROLLBACK), every caller
 *     of the batch gets PD_EIO and none of their rows is there; the next
 *     caller starts a fresh batch and commits.
 *   The queue is made deterministic by holding the writer in the first
 *   caller until the others are counted as waiting for it;
 * - an order's history never goes back in time: a step whose caller took
 *   its clock reading before the previous step committed (a reconciler
 *   back from the gateway) is dated no earlier than that step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pc_store.h"
#include "pc_store_internal.h"
#include "pd_err.h"
#include "pd_log.h"

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

enum op_end { END_COMMIT, END_ROLLBACK, END_LOSE_BATCH };

struct op {
    pc_store *s;
    const char *nonce;      /* the row this caller inserts */
    enum op_end end;
    int rc;                 /* what pc__commit returned */
    int visible;            /* the row seen by another connection right after */
    const char *read_nonce; /* an earlier caller's row it could read */
    int read_visible;       /* that row seen by another connection right after */
    struct op *queue_next;  /* started, and queued, while this one holds the writer */
    int hold_ms;            /* sleeps this long after its insert */
};

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

static int insert(struct pc_conn *c, const char *nonce)
{
    return pc__exec(c, NULL, "INSERT INTO nonces(nonce, at) VALUES(?, 1)", "t", nonce);
}

/* Waits (10 s at most) until n callers wait for the writer. */
static bool queued(pc_store *s, int n)
{
    for (int i = 0; i < 2000 && __atomic_load_n(&s->tx_queued, __ATOMIC_SEQ_CST) < n; i++)
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    return __atomic_load_n(&s->tx_queued, __ATOMIC_SEQ_CST) == n;
}

/* One caller: begin, insert, end as told. */
static void *op_main(void *arg)
{
    struct op *op = arg;
    struct pc_conn *c = NULL;
    op->rc = pc__begin(op->s, &c);
    if (op->rc != PD_OK)
        return NULL;
    if (insert(c, op->nonce) != PD_OK) {
        op->rc = pc__rollback(op->s, c, PD_EIO);
        return NULL;
    }
    pthread_t next;
    /* No cmocka assert off the main thread: a failure is a wrong rc. */
    if (op->queue_next != NULL) {
        op->queue_next->s = op->s;
        if (pthread_create(&next, NULL, op_main, op->queue_next) != 0 || !queued(op->s, 1))
            abort();
    }
    if (op->hold_ms > 0)
        nanosleep(&(struct timespec){0, op->hold_ms * 1000000L}, NULL);
    if (op->end == END_ROLLBACK) {
        op->rc = pc__rollback(op->s, c, PD_ECONFLICT);
    } else {
        if (op->end == END_LOSE_BATCH)
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        op->rc = pc__commit(op->s, c);
    }
    op->visible = committed(op->nonce);
    if (op->read_nonce != NULL)
        op->read_visible = committed(op->read_nonce);
    if (op->queue_next != NULL)
        pthread_join(next, NULL);
    return NULL;
}

/* The first caller takes the writer and inserts; the others are started
 * and counted as queued; then the first commits and all are joined. */
static void run_batch(pc_store *s, struct op *first, struct op *rest, int n_rest)
{
    struct pc_conn *c = NULL;
    pthread_t tid[8];
    assert_int_equal(pc__begin(s, &c), PD_OK);
    assert_int_equal(insert(c, first->nonce), PD_OK);
    for (int i = 0; i < n_rest; i++) {
        rest[i].s = s;
        assert_int_equal(pthread_create(&tid[i], NULL, op_main, &rest[i]), 0);
        assert_true(queued(s, i + 1));
    }
    first->rc = pc__commit(s, c);
    first->visible = committed(first->nonce);
    for (int i = 0; i < n_rest; i++)
        pthread_join(tid[i], NULL);
}

static void queued_callers_share_one_commit(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    long c0, o0, c1, o1;
    pc_store_tx_stats(s, &c0, &o0);
    struct op first = {.nonce = "n-a"};
    struct op rest[2] = {{.nonce = "n-b"}, {.nonce = "n-c"}};
    run_batch(s, &first, rest, 2);
    pc_store_tx_stats(s, &c1, &o1);
    assert_int_equal(first.rc, PD_OK);
    assert_int_equal(first.visible, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rest[i].rc, PD_OK);
        assert_int_equal(rest[i].visible, 1);
    }
    assert_int_equal(o1 - o0, 3);
    assert_int_equal(c1 - c0, 1);
    pc_store_close(s);
}

static void a_rollback_undoes_only_its_own_writes(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    /* The one who rolls back is not the last: a slow caller queued behind
     * it commits the batch. */
    struct op last = {.nonce = "n-last", .hold_ms = 100};
    struct op first = {.nonce = "n-kept"};
    struct op rest[1] = {{.nonce = "n-undone", .end = END_ROLLBACK, .read_nonce = "n-kept",
                          .queue_next = &last}};
    run_batch(s, &first, rest, 1);
    assert_int_equal(first.rc, PD_OK);
    assert_int_equal(first.visible, 1);
    assert_int_equal(rest[0].rc, PD_ECONFLICT);      /* its own answer, unchanged */
    assert_int_equal(rest[0].visible, 0);
    assert_int_equal(rest[0].read_visible, 1);
    assert_int_equal(last.rc, PD_OK);
    assert_int_equal(committed("n-kept"), 1);
    assert_int_equal(committed("n-undone"), 0);
    assert_int_equal(committed("n-last"), 1);
    pc_store_close(s);
}

static void a_lost_batch_fails_every_caller_in_it(void **state)
{
    (void)state;
    pc_store *s = NULL;
    assert_int_equal(pc_store_open(path, false, &s), PD_OK);
    struct op first = {.nonce = "n-x"};
    struct op rest[1] = {{.nonce = "n-y", .end = END_LOSE_BATCH}};
    run_batch(s, &first, rest, 1);
    assert_int_equal(first.rc, PD_EIO);
    assert_int_equal(rest[0].rc, PD_EIO);
    assert_int_equal(committed("n-x"), 0);
    assert_int_equal(committed("n-y"), 0);
    /* The writer is usable again: a fresh batch commits. */
    struct op next = {.s = s, .nonce = "n-z"};
    op_main(&next);
    assert_int_equal(next.rc, PD_OK);
    assert_int_equal(next.visible, 1);
    pc_store_close(s);
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
    pd_log_set_level("off");        /* the lost batch logs errors on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(checkpoints_keep_the_wal_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(history_times_never_go_back, setup, teardown),
        cmocka_unit_test_setup_teardown(queued_callers_share_one_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rollback_undoes_only_its_own_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lost_batch_fails_every_caller_in_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
