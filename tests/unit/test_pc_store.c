/* Proves pc_store's write path over a real SQLite file:
 * - WAL checkpoints run on the checkpointer thread once the WAL passes the
 *   threshold, and the WAL file stays bounded however many orders are
 *   written (with SQLite's own checkpoint off and no checkpointer it grows
 *   by every frame: ~40 MB for this test's orders);
 * - a read inside a write transaction sees that transaction's own writes
 *   (the writer connection), and the orders written are all there after
 *   reopening the file;
 * - an order's history never goes back in time: a step whose caller took
 *   its clock reading before the previous step committed (a reconciler
 *   back from the gateway) is dated no earlier than that step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pc_store.h"
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(checkpoints_keep_the_wal_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(history_times_never_go_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
