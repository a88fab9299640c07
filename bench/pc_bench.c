/* pc_bench -- orders submitted and paid per second through payment-center's
 * HTTP API against an in-process stub gateway that answers create at once
 * and delivers the signed SUCCESS callback right away (from its own
 * threads), plus a business receiver that acknowledges every notification.
 *
 * usage: pc_bench [--help] [--orders N] [--concurrency C] [--sync normal|full]
 *                 [--bin PATH] [--callback-threads K] [--threads T] [--perf EVENTS]
 * Prints one line of figures per phase, the latency of submit and pay as
 * the clients saw it, and with --perf the counts `perf stat -p` took of
 * payment-center over the run; see docs/benchmarks.md. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_proc.h"
#include "pd_sign.h"
#include "pd_time.h"
#include "pd_util.h"

#define SECRET "bench-gw"
#define QUEUE_MAX 65536

struct cb_item {
    char otn[72];
    char url[160];
    char currency[4];
    char merchant[72];
    int64_t amount;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cb_item items[QUEUE_MAX];
    size_t head, tail;
    bool stop;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static atomic_long creates, callbacks_ok, biz_received;

static void q_push(const struct cb_item *it)
{
    pthread_mutex_lock(&q.mu);
    if (q.tail - q.head < QUEUE_MAX) {
        q.items[q.tail % QUEUE_MAX] = *it;
        q.tail++;
        pthread_cond_signal(&q.cv);
    }
    pthread_mutex_unlock(&q.mu);
}

static bool q_pop(struct cb_item *it)
{
    pthread_mutex_lock(&q.mu);
    while (q.head == q.tail && !q.stop)
        pthread_cond_wait(&q.cv, &q.mu);
    bool ok = q.head != q.tail;
    if (ok)
        *it = q.items[q.head++ % QUEUE_MAX];
    pthread_mutex_unlock(&q.mu);
    return ok;
}

static void on_create(struct mg_connection *c, cJSON *j)
{
    struct cb_item it;
    memset(&it, 0, sizeof it);
    const cJSON *v;
    if ((v = cJSON_GetObjectItem(j, "out_trade_no")) && cJSON_IsString(v))
        pd_strlcpy(it.otn, v->valuestring, sizeof it.otn);
    if ((v = cJSON_GetObjectItem(j, "notify_url")) && cJSON_IsString(v))
        pd_strlcpy(it.url, v->valuestring, sizeof it.url);
    if ((v = cJSON_GetObjectItem(j, "currency")) && cJSON_IsString(v))
        pd_strlcpy(it.currency, v->valuestring, sizeof it.currency);
    if ((v = cJSON_GetObjectItem(j, "merchant_id")) && cJSON_IsString(v))
        pd_strlcpy(it.merchant, v->valuestring, sizeof it.merchant);
    if ((v = cJSON_GetObjectItem(j, "amount")) && cJSON_IsNumber(v))
        it.amount = (int64_t)v->valuedouble;
    creates++;
    char body[256];
    snprintf(body, sizeof body, "{\"out_trade_no\":\"%s\",\"trade_no\":\"1\","
             "\"trade_state\":\"NOTPAY\"}", it.otn);
    pd_http_reply(c, 200, "application/json", body, strlen(body));
    q_push(&it);
}

static int handler(struct mg_connection *c, void *cbdata)
{
    (void)cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    char *body = NULL;
    size_t len = 0;
    pd_http_read_body(c, 1 << 20, &body, &len);
    if (strcmp(ri->local_uri, "/v1/payments") == 0) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        on_create(c, j);
        cJSON_Delete(j);
    } else if (strcmp(ri->local_uri, "/biz") == 0) {
        biz_received++;
        pd_http_reply(c, 200, "application/json", "{}", 2);
    } else {
        /* Queries: the callback is on its way; say so. */
        pd_http_reply(c, 200, "application/json",
                      "{\"trade_state\":\"NOTPAY\",\"amount\":1,\"currency\":\"CNY\","
                      "\"merchant_id\":\"m-bench\"}", 80);
    }
    free(body);
    return 200;
}

static void *callback_main(void *arg)
{
    (void)arg;
    pd_http_client *client = pd_http_client_new();
    struct cb_item it;
    while (q_pop(&it)) {
        char body[512], nonce[PD_NONCE_LEN + 1], sig[PD_SIG_HEX_LEN + 1];
        char h1[64], h2[96], h3[128];
        snprintf(body, sizeof body,
                 "{\"event_id\":\"ev-%s\",\"out_trade_no\":\"%s\",\"trade_no\":\"1\","
                 "\"trade_state\":\"SUCCESS\",\"amount\":%" PRId64 ",\"currency\":\"%s\","
                 "\"merchant_id\":\"%s\",\"attach\":null,\"success_time\":%" PRId64 "}",
                 it.otn, it.otn, it.amount, it.currency, it.merchant, pd_now_ms());
        int64_t ts = pd_now_ms() / 1000;
        pd_nonce(nonce);
        pd_sign(SECRET, ts, nonce, body, strlen(body), sig);
        snprintf(h1, sizeof h1, "X-Gateway-Timestamp: %" PRId64, ts);
        snprintf(h2, sizeof h2, "X-Gateway-Nonce: %s", nonce);
        snprintf(h3, sizeof h3, "X-Gateway-Signature: %s", sig);
        const char *headers[] = {"Content-Type: application/json", h1, h2, h3, NULL};
        struct pd_http_resp resp;
        if (pd_http_request(client, "POST", it.url, headers, body, strlen(body), 30000, 0,
                            &resp) == PD_OK && resp.status == 200)
            callbacks_ok++;
        pd_http_resp_release(&resp);
    }
    pd_http_client_free(client);
    return NULL;
}

struct driver {
    const char *pc_url;
    int first, count;
    int64_t failures;
};

/* Each order's submit and pay latency as its client saw it (µs, -1 when no
 * answer), indexed by order number. */
static int64_t *submit_us, *pay_us;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One request, timed: its latency into *out_us when it got an answer. */
static int timed_request(pd_http_client *client, const char *method, const char *url,
                         const char *const *headers, const char *body,
                         struct pd_http_resp *resp, int64_t *out_us)
{
    int64_t t0 = mono_us();
    int rc = pd_http_request(client, method, url, headers, body, body ? strlen(body) : 0,
                             30000, 0, resp);
    *out_us = rc == PD_OK ? mono_us() - t0 : -1;
    return rc;
}

static void *driver_main(void *arg)
{
    struct driver *d = arg;
    pd_http_client *client = pd_http_client_new();
    const char *headers[] = {"Content-Type: application/json", NULL};
    char url[256], body[512];
    for (int i = d->first; i < d->first + d->count; i++) {
        struct pd_http_resp resp;
        pay_us[i] = -1;
        snprintf(url, sizeof url, "%s/orders", d->pc_url);
        snprintf(body, sizeof body,
                 "{\"merchant_id\":\"m-bench\",\"user_id\":\"u-%d\",\"items\":[{\"sku\":\"s\","
                 "\"qty\":1,\"unit_amount\":%d}],\"amount\":%d,\"currency\":\"CNY\","
                 "\"client_ref\":\"bench-%d\"}", i, 100 + i % 1000, 100 + i % 1000, i);
        int rc = timed_request(client, "POST", url, headers, body, &resp, &submit_us[i]);
        cJSON *j = rc == PD_OK && resp.status == 201 ? cJSON_Parse(resp.body) : NULL;
        pd_http_resp_release(&resp);
        const cJSON *id = j ? cJSON_GetObjectItem(j, "order_id") : NULL;
        if (!cJSON_IsString(id)) {
            d->failures++;
            cJSON_Delete(j);
            continue;
        }
        snprintf(url, sizeof url, "%s/orders/%s/pay", d->pc_url, id->valuestring);
        cJSON_Delete(j);
        rc = timed_request(client, "POST", url, NULL, NULL, &resp, &pay_us[i]);
        if (rc != PD_OK || resp.status != 200)
            d->failures++;
        pd_http_resp_release(&resp);
    }
    pd_http_client_free(client);
    return NULL;
}

/* CPU milliseconds (user + system) a process has used, from /proc. */
static double cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static long metric(const char *pc_url, const char *name)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", pc_url);
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    long v = -1;
    if (pd_http_request(c, "GET", url, NULL, NULL, 0, 30000, 0, &resp) == PD_OK && resp.body) {
        const char *p = strstr(resp.body, name);
        if (p != NULL)
            v = strtol(p + strlen(name), NULL, 10);
    }
    pd_http_resp_release(&resp);
    pd_http_client_free(c);
    return v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Prints the median, 99th percentile (nearest rank) and maximum of the n
 * latencies in us that got an answer; sorts us. */
static void print_latency(const char *what, int64_t *us, int n)
{
    qsort(us, (size_t)n, sizeof *us, cmp_i64);
    int first = 0;
    while (first < n && us[first] < 0)
        first++;
    int answered = n - first;
    if (answered == 0)
        return;
    const int64_t *a = us + first;
    printf("pc_bench: %-6s latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d answers)\n", what,
           (double)a[(answered - 1) / 2] / 1000.0, (double)a[(answered - 1) * 99 / 100] / 1000.0,
           (double)a[answered - 1] / 1000.0, answered);
}

/* --perf: `perf stat` attached to payment-center from before the first
 * order until every order is notified (not its start-up nor its shutdown),
 * its counts written to out_path as CSV. */
static pid_t perf_start(const char *events, pid_t pid, const char *out_path)
{
    char pid_s[16];
    snprintf(pid_s, sizeof pid_s, "%d", (int)pid);
    pid_t p = fork();
    if (p == 0) {
        execlp("perf", "perf", "stat", "-x", ",", "-e", events, "-p", pid_s, "-o", out_path,
               (char *)NULL);
        _exit(127);
    }
    if (p > 0) {
        pd_proc_track(p);
        pd_sleep_ms(1000);  /* perf opens a counter per thread and event first */
    }
    return p;
}

/* Stops perf: on SIGINT it writes its counts and dies by the signal. */
static void perf_stop(pid_t p)
{
    int status = 0;
    kill(p, SIGINT);
    waitpid(p, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) &&
        !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "pc_bench: perf stat failed (wait status %d)\n", status);
}

/* Prints each count perf wrote and its value an order. */
static void perf_print(const char *out_path, int orders)
{
    FILE *f = fopen(out_path, "r");
    char line[512];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char *unit = strchr(line, ','), *event = unit ? strchr(unit + 1, ',') : NULL;
        if (line[0] == '#' || event == NULL)
            continue;
        char *end = strchr(event + 1, ',');
        if (end != NULL)
            *end = '\0';
        double v = strtod(line, NULL);
        printf("pc_bench: perf %s %.0f = %.2f an order\n", event + 1, v,
               v / (double)(orders ? orders : 1));
    }
    if (f != NULL)
        fclose(f);
}

static const char usage[] =
    "usage: pc_bench [--orders N] [--concurrency C] [--sync normal|full] [--bin PATH]\n"
    "                [--threads T] [--callback-threads K] [--perf EVENTS]\n\n"
    "Starts payment-center (PATH, default: next to pc_bench) on a fresh SQLite file, with an\n"
    "in-process stub gateway and business receiver, submits and pays N orders from C client\n"
    "threads and prints the submit+pay rate, the end-to-end rate, payment-center's CPU\n"
    "time per order and the submit and pay latency the clients saw (docs/benchmarks.md).\n\n"
    "  --orders N            orders (default 10000)\n"
    "  --concurrency C       client threads (default 64)\n"
    "  --sync normal|full    payment-center's PAYDRILL_SYNC (default normal)\n"
    "  --bin PATH            the payment-center to measure\n"
    "  --threads T           payment-center's HTTP threads (default 384)\n"
    "  --callback-threads K  stub threads delivering callbacks (default 16)\n"
    "  --perf EVENTS         also count EVENTS of payment-center from the first order until\n"
    "                        all are notified, with perf stat -e EVENTS -p PID (perf on PATH)\n";

/* A whole number in [1, max] from text, or -1. */
static int positive(const char *text, int max)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    return end != text && *end == '\0' && v >= 1 && v <= max ? (int)v : -1;
}

int main(int argc, char **argv)
{
    int orders = 10000, conc = 64, cb_threads = 16;
    const char *sync = "normal", *bin = NULL, *threads = "384", *perf_events = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        int bad = val == NULL;
        if (bad)
            ;
        else if (strcmp(opt, "--orders") == 0) bad = (orders = positive(val, 10000000)) < 0;
        else if (strcmp(opt, "--concurrency") == 0) bad = (conc = positive(val, 4096)) < 0;
        else if (strcmp(opt, "--callback-threads") == 0) bad = (cb_threads = positive(val, 4096)) < 0;
        else if (strcmp(opt, "--threads") == 0) bad = positive(threads = val, 4096) < 0;
        else if (strcmp(opt, "--bin") == 0) bin = val;
        else if (strcmp(opt, "--perf") == 0) perf_events = val;
        else if (strcmp(opt, "--sync") == 0)
            bad = strcmp(sync = val, "normal") != 0 && strcmp(val, "full") != 0;
        else {
            fprintf(stderr, "pc_bench: unknown option %s\n%s", opt, usage);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "pc_bench: %s needs %s\n", opt,
                    val == NULL ? "a value" : "a valid value (see --help)");
            return 2;
        }
    }
    char self_bin[512];
    if (bin == NULL) {
        /* payment-center sits next to pc_bench in the build bin folder. */
        snprintf(self_bin, sizeof self_bin, "%s", argv[0]);
        char *slash = strrchr(self_bin, '/');
        snprintf(slash ? slash + 1 : self_bin, sizeof self_bin - (size_t)(slash ? slash + 1 - self_bin : 0),
                 "payment-center");
        bin = self_bin;
    }
    struct mg_context *ctx = NULL;
    int port = 0;
    /* More workers than payment-center has: civetweb pins one per keep-alive
     * connection, and every payment-center thread keeps one to us. */
    struct pd_http_server_opts opts = {"127.0.0.1:0", 1024, 0};
    if (pd_http_server_start(&opts, NULL, &ctx, &port) != PD_OK)
        return 1;
    mg_set_request_handler(ctx, "/", handler, NULL);
    pthread_t cbt[64];
    cb_threads = cb_threads < 1 ? 1 : cb_threads > 64 ? 64 : cb_threads;
    for (int i = 0; i < cb_threads; i++)
        pthread_create(&cbt[i], NULL, callback_main, NULL);
    char dir[] = "/tmp/pc-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char e1[128], e2[128], e3[300], e4[64], e5[64];
    snprintf(e1, sizeof e1, "PAYDRILL_GATEWAY_URL=http://127.0.0.1:%d", port);
    snprintf(e2, sizeof e2, "PAYDRILL_BUSINESS_URL=http://127.0.0.1:%d/biz", port);
    snprintf(e3, sizeof e3, "PAYDRILL_DATA_DIR=%s", dir);
    snprintf(e4, sizeof e4, "PAYDRILL_SYNC=%s", sync);
    snprintf(e5, sizeof e5, "PAYDRILL_THREADS=%s", threads);
    const char *env[] = {e1, e2, e3, e4, e5, "PAYDRILL_GATEWAY_SECRET=" SECRET,
                         "PAYDRILL_BUSINESS_SECRET=b", "PAYDRILL_LISTEN=127.0.0.1:0",
                         "PAYDRILL_LOG_LEVEL=warn", NULL};
    const char *pargv[] = {bin, NULL};
    char log[400];
    snprintf(log, sizeof log, "%s/pc.log", dir);
    struct pd_proc pc;
    if (pd_proc_start(pargv, env, log, 20000, &pc) != PD_OK) {
        fprintf(stderr, "pc_bench: cannot start %s (log %s)\n", bin, log);
        return 1;
    }
    pthread_t *dt = calloc((size_t)conc, sizeof *dt);
    struct driver *d = calloc((size_t)conc, sizeof *d);
    submit_us = calloc((size_t)orders, sizeof *submit_us);
    pay_us = calloc((size_t)orders, sizeof *pay_us);
    char perf_out[64];
    snprintf(perf_out, sizeof perf_out, "%s/perf.csv", dir);
    pid_t perf = perf_events != NULL ? perf_start(perf_events, pc.pid, perf_out) : 0;
    int64_t t0 = pd_mono_ms();
    for (int i = 0; i < conc; i++) {
        d[i] = (struct driver){pc.url, i * (orders / conc), orders / conc, 0};
        pthread_create(&dt[i], NULL, driver_main, &d[i]);
    }
    int64_t failures = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(dt[i], NULL);
        failures += d[i].failures;
    }
    int total = (orders / conc) * conc;
    int64_t t_submit = pd_mono_ms() - t0;
    /* Waits on the stub receiver's count, not on payment-center: polling
     * its /metrics (a scan of every order) every 20 ms was up to 12 % of
     * payment-center's CPU in this phase (perf, 4,000 orders). */
    long paid = 0;
    for (;;) {
        while (biz_received < total - failures && pd_mono_ms() - t0 < 600000)
            pd_sleep_ms(5);
        /* Deliveries, not orders: a repeated one could end the wait early,
         * so the PAID count must agree (only then is /metrics read again). */
        paid = metric(pc.url, "pc_orders{status=\"PAID\"} ");
        if (paid >= total - failures || pd_mono_ms() - t0 >= 600000)
            break;
        pd_sleep_ms(100);
    }
    int64_t t_all = pd_mono_ms() - t0;
    if (perf > 0)
        perf_stop(perf);
    double pc_cpu = cpu_ms(pc.pid);
    long delivered = biz_received;
    long txs = metric(pc.url, "\npc_db_transactions_total ");
    long commits = metric(pc.url, "\npc_db_commits_total ");
    printf("pc_bench: orders=%d concurrency=%d sync=%s threads=%s failures=%" PRId64 "\n", total,
           conc, sync, threads, failures);
    printf("pc_bench: submit+pay  %d orders in %" PRId64 " ms = %.0f orders/s\n", total, t_submit,
           total * 1000.0 / (double)(t_submit ? t_submit : 1));
    printf("pc_bench: end to end  %ld PAID, %ld notified in %" PRId64 " ms = %.0f orders/s\n",
           paid, delivered, t_all, paid * 1000.0 / (double)(t_all ? t_all : 1));
    printf("pc_bench: payment-center CPU %.0f ms = %.2f ms per order\n", pc_cpu,
           pc_cpu / (double)(total ? total : 1));
    if (txs >= 0 && commits > 0)    /* payment-center before group commit: no such metric */
        printf("pc_bench: write transactions %ld in %ld commits = %.1f per commit\n", txs,
               commits, (double)txs / (double)commits);
    print_latency("submit", submit_us, total);
    print_latency("pay", pay_us, total);
    if (perf > 0)
        perf_print(perf_out, total);
    pd_proc_stop(&pc, 5000);
    pthread_mutex_lock(&q.mu);
    q.stop = true;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    for (int i = 0; i < cb_threads; i++)
        pthread_join(cbt[i], NULL);
    mg_stop(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pc_bench: could not remove %s\n", dir);
    free(dt);
    free(d);
    free(submit_us);
    free(pay_us);
    return failures == 0 && paid >= total ? 0 : 1;
}
