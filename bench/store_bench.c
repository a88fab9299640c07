/* store_bench: the CPU an order costs in payment-center's SQLite store
 * alone, through the store's own API (pc_store.h), without HTTP or a
 * gateway. T threads each run their share of N orders through the reference
 * flow's five write transactions -- submit, pay begin, the create's result,
 * the SUCCESS callback (with its nonce), the notification's delivery --
 * queued together on the store's flat combiner as payment-center's HTTP
 * threads are; with --recon R, R reader threads meanwhile ask for due
 * orders and the next due time of their partition, as the reconcilers do.
 * Prints the process's CPU (user+system) per order.
 *
 *   build-rel/bin/store_bench [--orders N] [--threads T] [--recon R] [--db PATH]
 *
 * (docs/benchmarks.md "Stop 19".) */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pc_store.h"
#include "pc_store_internal.h"
#include "pd_err.h"

#define T0 1767225600000LL

static pc_store *store;
static int n_orders = 20000, n_threads = 8, n_recon = 0;
static atomic_int next_order, failures;
static atomic_bool done;

static void rand_hex(unsigned *seed, char *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = "0123456789abcdef"[rand_r(seed) & 15];
    out[n] = '\0';
}

static void check(int rc, const char *what)
{
    if (rc != PD_OK && atomic_fetch_add(&failures, 1) < 5)
        fprintf(stderr, "store_bench: %s failed: %d\n", what, rc);
}

static void one_order(int i, unsigned *seed)
{
    int64_t now = T0 + i;
    struct pc_order_in in = {.amount = 100 + i % 900, .n_items = 1};
    snprintf(in.merchant_id, sizeof in.merchant_id, "m-bench");
    snprintf(in.user_id, sizeof in.user_id, "u-%d", i);
    snprintf(in.currency, sizeof in.currency, "CNY");
    snprintf(in.items[0].sku, sizeof in.items[0].sku, "sku-%d", i % 50);
    in.items[0].qty = 1;
    in.items[0].unit_amount = in.amount;
    char fp[PD_SIG_HEX_LEN + 1], id[PC_ORDER_ID_MAX + 1], dup[PC_ORDER_ID_MAX + 1];
    rand_hex(seed, fp, PD_SIG_HEX_LEN);
    /* time-ordered, as pc_core's ids: milliseconds << 20 | a sequence */
    snprintf(id, sizeof id, "o-%016" PRIx64, ((uint64_t)now << 20) | (uint64_t)(i & 0xfffff));
    struct pc_submit sub = {&in, fp, id, now, 600000, 900000};
    check(pc_store_submit(store, &sub, dup), "submit");
    struct pc_pay pay;
    check(pc_store_pay_begin(store, id, "http://127.0.0.1:9/notify", now + 1, 60000, &pay),
          "pay");
    int status = 0;
    char trade_no[40], nonce[33];
    rand_hex(seed, trade_no, 28);
    check(pc_store_create_result(store, pay.out_trade_no, PC_CREATE_OK, trade_no, now + 2,
                                 &status),
          "create");
    rand_hex(seed, nonce, 32);
    struct pc_fact f = {PC_SRC_CALLBACK, pay.out_trade_no, "SUCCESS", trade_no, true,
                        in.amount, "CNY", "m-bench", nonce};
    int result = 0;
    check(pc_store_apply_fact(store, &f, now + 3, &result), "callback");
    if (result != PC_APPLY_CHANGED)
        check(PD_EPROTO, "callback result");
    char event_id[PC_EVENT_ID_MAX + 1];
    snprintf(event_id, sizeof event_id, "ev-%s-1", id);
    check(pc_store_event_result(store, event_id, true, 200, now + 4, 0), "notify");
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    int i;
    while ((i = atomic_fetch_add(&next_order, 1)) < n_orders)
        one_order(i, &seed);
    return NULL;
}

static void *recon(void *arg)
{
    int part = (int)(uintptr_t)arg;
    struct pc_due due[64];
    while (!atomic_load(&done)) {
        size_t n = 0;
        int64_t now = T0 + atomic_load(&next_order), next = 0;
        check(pc_store_due_orders(store, now, part, n_recon, due, 64, &n), "due");
        check(pc_store_next_due(store, 0, part, n_recon, &next), "next_due");
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return NULL;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/store_bench.%d.db", (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--orders") == 0 && i + 1 < argc)
            n_orders = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            n_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--recon") == 0 && i + 1 < argc)
            n_recon = atoi(argv[++i]);
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            snprintf(path, sizeof path, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: store_bench [--orders N] [--threads T] [--recon R]"
                            " [--db PATH]\n");
            return 2;
        }
    }
    if (n_threads < 1 || n_threads > 256 || n_recon < 0 || n_recon > 64 || n_orders < 1)
        return 2;
    if (pc_store_open(path, false, &store) != PD_OK) {
        fprintf(stderr, "store_bench: cannot open %s\n", path);
        return 1;
    }
    pthread_t th[256], rt[64];
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    double c0 = cpu_s();
    for (int i = 0; i < n_recon; i++)
        pthread_create(&rt[i], NULL, recon, (void *)(uintptr_t)i);
    for (int i = 0; i < n_threads; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
    for (int i = 0; i < n_threads; i++)
        pthread_join(th[i], NULL);
    atomic_store(&done, true);
    for (int i = 0; i < n_recon; i++)
        pthread_join(rt[i], NULL);
    double cpu = cpu_s() - c0;
    clock_gettime(CLOCK_MONOTONIC, &w1);
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    long commits = 0, ops = 0;
    pc_store_tx_stats(store, &commits, &ops);
    int pages = 0, hi = 0;
    sqlite3_db_status(store->writer->db, SQLITE_DBSTATUS_CACHE_WRITE, &pages, &hi, 0);
    pc_store_close(store);
    printf("store_bench: orders=%d threads=%d recon=%d failures=%d\n", n_orders, n_threads,
           n_recon, atomic_load(&failures));
    printf("store_bench: CPU %.0f us an order (%.2f s), wall %.2f s, %.1f transactions a commit,"
           " %.1f pages written an order\n",
           cpu * 1e6 / n_orders, cpu, wall, commits ? (double)ops / (double)commits : 0.0,
           (double)pages / n_orders);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; strncmp(path, "/tmp/store_bench.", 17) == 0 && i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);     /* our own file: a --db given is left */
    }
    return atomic_load(&failures) == 0 ? 0 : 1;
}
