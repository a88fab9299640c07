#define _GNU_SOURCE   /* pthread_setname_np */
#include "pc_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pc_bugs.h"
#include "pc_core.h"
#include "pc_http.h"
#include "pc_ports.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_util.h"

/* An idle worker sleeps until the earliest due time of its partition, at
 * most IDLE_MAX_MS (simulated) and never shorter than IDLE_MIN_MS. New work
 * is never due sooner than the shortest configured delay (callback
 * timeout, first schedule step), which also caps the sleep, and a new
 * outbox row wakes its sender at once. So nothing fires late, and idle
 * threads cost little even when libfaketime runs the clock 2000x faster. */
#define IDLE_MAX_MS 10000
#define IDLE_MIN_MS 20
#define NONCE_PRUNE_EVERY_MS 60000
#define WORKERS_MAX 130
/* New events a sender holds in memory (~2.2 KB each); past this it reads
 * them back. */
#define HANDED_MAX 256

struct worker {
    pthread_t tid;
    struct pc_server *srv;
    const char *name;           /* thread name prefix: "pc-recon", "pc-outbox" */
    pthread_cond_t cv;          /* CLOCK_MONOTONIC: libfaketime scales it too */
    unsigned long kicks;        /* under srv->mu */
    bool sender;
    /* sender: new events handed over (under srv->mu, oldest first), and
     * whether it must read the store (a broadcast kick, an overflow) */
    struct pc_event_new *handed, *handed_tail;
    int n_handed;
    bool read;
    struct pc_sender snd;       /* sender: its own, between ticks */
    int part, parts;
    int (*tick)(struct pc_server *srv, struct worker *w);
    int64_t (*next_due)(struct pc_server *srv, struct worker *w);
};

struct pc_server {
    struct pc_app app;
    pthread_mutex_t mu;
    struct worker workers[WORKERS_MAX];
    int n_workers, n_started;   /* set up (under mu), threads running */
    long refunds_woken;         /* pc_store_refunds_added at reconciler 0's last kick (mu) */
    int64_t last_prune_ms;
};

static void wake(struct worker *w)
{
    w->kicks++;
    pthread_cond_signal(&w->cv);
}

/* When a refund row was committed since the last such wake-up (or
 * order_id is NULL), wakes reconciler 0, which sends refunds; order_id
 * NULL also has every sender read the store. Senders learn of new outbox
 * rows from the store's event hook (on_event). Other work of the
 * reconcilers is never due sooner than their capped sleep
 * (reconcile_cap), so waking them on every change only cost CPU:
 * reconciler 0 was woken ~0.65 times an order for refunds a no-fault run
 * never has (docs/benchmarks.md, Stop 20). */
static void kick(void *ctx, const char *order_id)
{
    struct pc_server *srv = ctx;
    long refunds = pc_store_refunds_added(srv->app.store);
    pthread_mutex_lock(&srv->mu);
    bool refund = order_id == NULL || refunds != srv->refunds_woken;
    srv->refunds_woken = refunds;
    for (int i = 0; i < srv->n_workers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->sender ? order_id == NULL : w->part == 0 && refund) {
            w->read |= w->sender;
            wake(w);
        }
    }
    pthread_mutex_unlock(&srv->mu);
}

/* The store's event hook: a committed outbox row goes to its partition's
 * sender, which sends it without reading it back (one read an order less:
 * docs/benchmarks.md, Stop 22). Before the senders are set up, and past
 * HANDED_MAX, the row is left to the sender's read; ev NULL (a row the
 * store could not note) has every sender read. */
static void on_event(void *ctx, struct pc_event_new *ev)
{
    struct pc_server *srv = ctx;
    if (ev == NULL) {
        kick(srv, NULL);
        return;
    }
    pthread_mutex_lock(&srv->mu);
    struct worker *w = NULL;
    for (int i = 0; i < srv->n_workers && w == NULL; i++)
        if (srv->workers[i].sender && ev->shard % srv->workers[i].parts == srv->workers[i].part)
            w = &srv->workers[i];
    if (w != NULL && w->n_handed < HANDED_MAX) {
        if (w->handed_tail != NULL)
            w->handed_tail->next = ev;
        else
            w->handed = ev;
        w->handed_tail = ev;
        w->n_handed++;
        ev = NULL;
    } else if (w != NULL) {
        w->read = true;
    }
    if (w != NULL)
        wake(w);
    pthread_mutex_unlock(&srv->mu);
    free(ev);
}

/* Sleeps up to ms, or until kicked or stopped. */
static void idle_wait(struct worker *w, unsigned long seen, int64_t ms)
{
    struct pc_server *srv = w->srv;
    struct timespec ts = pd_mono_deadline(ms);
    pthread_mutex_lock(&srv->mu);
    while (w->kicks == seen && !srv->app.stop)
        if (pthread_cond_timedwait(&w->cv, &srv->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&srv->mu);
}

static int tick_reconcile(struct pc_server *srv, struct worker *w)
{
    int n = pc_core_reconcile_tick(&srv->app, w->part, w->parts);
    if (w->part == 0) {
        n += pc_core_refund_tick(&srv->app);
        int64_t now = pd_clock_now(srv->app.clock);
        if (now - srv->last_prune_ms > NONCE_PRUNE_EVERY_MS) {
            srv->last_prune_ms = now;
            pc_store_prune_nonces(srv->app.store, now - 2 * srv->app.cfg->sig_tolerance_ms);
            pc_store_prune_dedup(srv->app.store, now);
        }
    }
    return n;
}

/* Non-zero when more is due at once; else next_outbox sleeps until
 * w->snd.next_at, which the tick's read told (no second query) or the
 * retries it scheduled moved. */
static int tick_outbox(struct pc_server *srv, struct worker *w)
{
    pthread_mutex_lock(&srv->mu);
    struct pc_event_new *handed = w->handed;
    bool read = w->read;
    w->handed = w->handed_tail = NULL;
    w->n_handed = 0;
    w->read = false;
    pthread_mutex_unlock(&srv->mu);
    pc_core_sender_tick(&srv->app, &w->snd, handed, read);
    return w->snd.next_at <= pd_clock_now(srv->app.clock);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* The longest an idle reconciler may sleep: no new order becomes due
 * sooner than the callback timeout or the first steps of the schedules. */
static int64_t reconcile_cap(const struct pc_config *cfg)
{
    int64_t cap = min64(IDLE_MAX_MS, cfg->callback_timeout_ms);
    cap = min64(cap, pc_schedule_at(cfg->query_schedule_ms, cfg->query_schedule_n, 0));
    cap = min64(cap, pc_schedule_at(cfg->refund_schedule_ms, cfg->refund_schedule_n, 0));
    return min64(cap, cfg->payment_expiry_ms);
}

static int64_t next_reconcile(struct pc_server *srv, struct worker *w)
{
    int64_t due = INT64_MAX, refund = INT64_MAX;
    pc_store_next_due(srv->app.store, 0, w->part, w->parts, &due);
    if (w->part == 0)
        pc_store_next_due(srv->app.store, 1, 0, 1, &refund);
    int64_t now = pd_clock_now(srv->app.clock);
    int64_t wait = min64(min64(due, refund), INT64_MAX - IDLE_MAX_MS) - now;
    return min64(wait, reconcile_cap(srv->app.cfg));
}

static int64_t next_outbox(struct pc_server *srv, struct worker *w)
{
    int64_t due = w->snd.next_at;
    const struct pc_config *cfg = srv->app.cfg;
    int64_t now = pd_clock_now(srv->app.clock);
    int64_t cap = min64(IDLE_MAX_MS, pc_schedule_at(cfg->notify_schedule_ms,
                                                    cfg->notify_schedule_n, 0));
    return min64(min64(due, INT64_MAX - IDLE_MAX_MS) - now, cap);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pc_server *srv = w->srv;
    char name[16];
    snprintf(name, sizeof name, "%s%d", w->name, w->part);
    pthread_setname_np(pthread_self(), name);   /* top -H, perf, /proc/PID/task */
    while (!srv->app.stop) {
        pthread_mutex_lock(&srv->mu);
        unsigned long seen = w->kicks;
        pthread_mutex_unlock(&srv->mu);
        if (w->tick(srv, w) != 0)
            continue;
        int64_t wait = w->next_due(srv, w);
        idle_wait(w, seen, wait < IDLE_MIN_MS ? IDLE_MIN_MS : wait);
    }
    return NULL;
}

/* Sets up n workers of one kind (no thread yet). Every worker's condition
 * variable is initialised before any worker thread runs: under
 * libfaketime, pthread_cond_init registers a CLOCK_MONOTONIC condition
 * variable in a table its pthread_cond_timedwait reads, so none is added
 * while workers already wait. */
static void add_workers(struct pc_server *srv, const char *name, int n,
                        int (*tick)(struct pc_server *, struct worker *),
                        int64_t (*next_due)(struct pc_server *, struct worker *))
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_lock(&srv->mu);       /* kick() walks the workers under mu */
    for (int i = 0; i < n && srv->n_workers < WORKERS_MAX; i++) {
        struct worker *w = &srv->workers[srv->n_workers++];
        *w = (struct worker){.srv = srv, .name = name, .sender = tick == tick_outbox,
                             .part = i, .parts = n, .tick = tick, .next_due = next_due};
        w->snd.part = i;
        w->snd.parts = n;
        pthread_cond_init(&w->cv, &attr);
    }
    pthread_mutex_unlock(&srv->mu);
    pthread_condattr_destroy(&attr);
}

/* Starts the threads of the workers set up; on failure, those started. */
static int start_workers(struct pc_server *srv)
{
    for (int i = 0; i < srv->n_workers; i++) {
        if (pthread_create(&srv->workers[i].tid, NULL, worker_main, &srv->workers[i]) != 0) {
            srv->n_started = i;
            return PD_EIO;
        }
    }
    srv->n_started = srv->n_workers;
    return PD_OK;
}

static void stop_workers(struct pc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->app.stop = true;
    for (int i = 0; i < srv->n_workers; i++)
        wake(&srv->workers[i]);
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < srv->n_started; i++)
        pthread_join(srv->workers[i].tid, NULL);
    pthread_mutex_lock(&srv->mu);
    int n = srv->n_workers;
    srv->n_workers = srv->n_started = 0;    /* kick and on_event touch none from here */
    for (int i = 0; i < n; i++) {
        pc_store_events_free(srv->workers[i].handed);  /* committed: read at the next start */
        srv->workers[i].handed = srv->workers[i].handed_tail = NULL;
    }
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < n; i++)
        pthread_cond_destroy(&srv->workers[i].cv);
}

static int open_store(const struct pc_config *cfg, pc_store **out)
{
    if (cfg->data_dir[0] != '\0' && pd_mkdirs(cfg->data_dir) != PD_OK) {
        fprintf(stderr, "payment-center: cannot create data dir %s\n", cfg->data_dir);
        return PD_EIO;
    }
    int rc = pc_store_open(cfg->db_path, cfg->sync_full, out);
    if (rc != PD_OK)
        fprintf(stderr, "payment-center: cannot open database %s: %s\n", cfg->db_path,
                pd_strerror(rc));
    return rc;
}

static void set_notify_url(struct pc_app *app, const struct pc_config *cfg, const char *host,
                           int port)
{
    if (cfg->public_url[0] != '\0') {
        size_t n = strlen(cfg->public_url);
        snprintf(app->notify_url, sizeof app->notify_url, "%.*s/gateway/notify",
                 (int)(n > 0 && cfg->public_url[n - 1] == '/' ? n - 1 : n), cfg->public_url);
        return;
    }
    const char *h = (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0') ? "127.0.0.1" : host;
    snprintf(app->notify_url, sizeof app->notify_url, "http://%s:%d/gateway/notify", h, port);
}

static int wait_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    return sig;
}

static int serve(struct pc_server *srv, const struct pc_config *cfg)
{
    struct mg_context *ctx = NULL;
    int port = 0;
    char host[64];
    struct pd_http_server_opts opts = {.listen = cfg->listen, .threads = cfg->threads,
                                       .until_ready = true};
    if (pd_http_parse_listen(cfg->listen, host, &port) != PD_OK ||
        pd_http_server_start(&opts, &srv->app, &ctx, &port) != PD_OK) {
        fprintf(stderr, "payment-center: cannot listen on %s\n", cfg->listen);
        return 1;
    }
    pc_http_register(ctx, &srv->app);
    set_notify_url(&srv->app, cfg, host, port);
    pd_http_server_ready(ctx);   /* 503 "starting" until here, never a bare 404 */
    add_workers(srv, "pc-recon", cfg->reconcilers, tick_reconcile, next_reconcile);
    add_workers(srv, "pc-outbox", cfg->senders, tick_outbox, next_outbox);
    if (start_workers(srv) != PD_OK) {
        fprintf(stderr, "payment-center: cannot start worker threads\n");
        mg_stop(ctx);           /* first: no request hands a row to a sender going away */
        stop_workers(srv);
        return 1;
    }
    PD_LOG(PD_LOG_INFO, "pc", "act=start listen=%s:%d db=%s sync=%s dedup=%s notify_url=%s bug=%s",
           host, port, cfg->db_path, cfg->sync_full ? "full" : "normal", cfg->dedup,
           srv->app.notify_url, pc_bug_name(pc_bug_active));
    printf("listening on http://%s:%d\n", host, port);
    fflush(stdout);
    int sig = wait_signal();
    PD_LOG(PD_LOG_INFO, "pc", "act=stop signal=%d", sig);
    mg_stop(ctx);
    stop_workers(srv);
    return 0;
}

static void server_init(struct pc_server *srv, const struct pc_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    pthread_mutex_init(&srv->mu, NULL);
    srv->app.cfg = cfg;
    srv->app.clock = &pd_clock_real;
    srv->app.kick = kick;
    srv->app.kick_ctx = srv;
}

int pc_server_run(const struct pc_config *cfg)
{
    /* Signals are taken by sigwait in the main thread only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pc_bug_active = cfg->bug[0] ? pc_bug_parse(cfg->bug) : PC_BUG_NONE;
    static struct pc_server srv;
    static struct pc_http_ports ports;
    server_init(&srv, cfg);
    if (open_store(cfg, &srv.app.store) != PD_OK)
        return 1;
    pc_store_set_event_hook(srv.app.store, on_event, &srv);
    char max_id[PC_ORDER_ID_MAX + 1];
    if (pc_store_max_order_id(srv.app.store, max_id) != PD_OK) {
        fprintf(stderr, "payment-center: cannot read the orders of %s\n", cfg->db_path);
        pc_store_close(srv.app.store);
        return 1;
    }
    pc_core_ids_after(max_id);
    pc_ports_init(&ports, cfg, &srv.app);
    struct pc_redis *redis = NULL;
    struct pc_dedup_port dedup;
    if (strncmp(cfg->dedup, "redis://", 8) == 0) {
        if (pc_redis_new(cfg->dedup, &redis) != PD_OK) {
            fprintf(stderr, "payment-center: dedup: bad redis URL %s\n", cfg->dedup);
            pc_store_close(srv.app.store);
            return 2;
        }
        dedup = pc_redis_port(redis);
        srv.app.dedup = &dedup;
    }
    int rc = serve(&srv, cfg);
    pc_store_close(srv.app.store);
    pc_redis_free(redis);
    return rc;
}
