/* cost_bench -- what one unit of each kind of work an order is made of
 * costs on this machine, in CPU time, with the product's own building
 * blocks; and from that, the least CPU an order can take while it is made
 * of those units.
 *
 * An order end to end (docs/sut-contract.md, docs/gateway-protocol.md; docs/benchmarks.md "Stop 18") is:
 * six HTTP exchanges over loopback (submit, pay, create, the payer's pay,
 * the callback, the notification), seven SQLite write transactions
 * (payment-center five, mock-gateway two), four HMAC signatures made and
 * four checked, and about a dozen JSON documents parsed or printed. Each is
 * measured here alone, in one process, on the real code paths:
 *   http   pd_http_request (libcurl, a kept-alive connection per thread)
 *          against pd_http_server_start (civetweb) answering with
 *          pd_http_read_body + pd_http_reply: CPU of both sides together,
 *          and the client's share (CLOCK_THREAD_CPUTIME_ID of its threads);
 *   raw    the same server, the client a blocking socket writing the
 *          request and reading the answer (the server's cost plus the
 *          least a client can spend);
 *   tx     a SQLite transaction (WAL, synchronous=NORMAL) inserting an
 *          order-like row with three indexes and updating it, one COMMIT
 *          each, and eight per COMMIT in savepoints (group commit);
 *   hmac   pd_sign over a 300-byte body;
 *   json   cJSON_Parse + cJSON_PrintUnformatted of a 300-byte object;
 *   switch two threads handing a token back and forth (semaphores): CPU
 *          per hand-off, a thread put to sleep and another woken;
 *   calls  a bare system call, and ten WAL frames written as SQLite does
 *          (header and page apart: 20 pwrites) against one pwrite.
 *
 * usage: cost_bench [--help] [--n N] [--threads T]
 * Prints one line per unit, then the sum for one order. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_sign.h"

static const char ORDER_JSON[] =
    "{\"merchant_id\":\"m-bench\",\"merchant_order_no\":\"bench-000123\","
    "\"client_ref\":\"bench-10k/123\",\"amount_minor\":12345,\"currency\":\"CNY\","
    "\"description\":\"cost bench order\",\"notify_url\":\"http://127.0.0.1:1/notify\","
    "\"items\":[{\"sku\":\"sku-1\",\"qty\":1,\"price_minor\":12345}],"
    "\"expires_in\":\"1h\",\"metadata\":{\"k\":\"v\"}}";

static double cpu_now_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double process_cpu_s(long *out_switches)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (out_switches != NULL)
        *out_switches = ru.ru_nvcsw + ru.ru_nivcsw;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- http ---- */

static int echo_handler(struct mg_connection *conn, void *cb)
{
    (void)cb;
    char *body = NULL;
    size_t len = 0;
    if (pd_http_read_body(conn, 1 << 16, &body, &len) != PD_OK) {
        pd_http_reply(conn, 400, "application/json", "{}", 2);
        return 400;
    }
    pd_http_reply(conn, 200, "application/json", body, len);
    free(body);
    return 200;
}

struct client_arg {
    const char *url;
    int port;
    int n;
    bool raw;
    double cpu_s;   /* out: this thread's CPU */
    int failures;   /* out */
};

static void *curl_client(void *p)
{
    struct client_arg *a = p;
    pd_http_client *c = pd_http_client_new();
    const char *hdr[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < a->n; i++) {
        struct pd_http_resp r;
        int rc = pd_http_request(c, "POST", a->url, hdr, ORDER_JSON, sizeof ORDER_JSON - 1,
                                 10000, 0, &r);
        if (rc != PD_OK || r.status != 200)
            a->failures++;
        pd_http_resp_release(&r);
    }
    pd_http_client_free(c);
    a->cpu_s = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

/* Reads one answer with a Content-Length head; returns false on error. */
static bool raw_read_answer(int fd, char *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + have, cap - 1 - have, 0);
        if (k <= 0)
            return false;
        have += (size_t)k;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        char *cl = strstr(buf, "\r\nContent-Length:");   /* pd_http_reply's spelling */
        size_t body = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - buf) + body)
            return true;
    }
}

static void *raw_client(void *p)
{
    struct client_arg *a = p;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        a->failures = a->n;
        close(fd);
        return NULL;
    }
    char req[1024];
    int len = snprintf(req, sizeof req,
                       "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       sizeof ORDER_JSON - 1, ORDER_JSON);
    char buf[4096];
    for (int i = 0; i < a->n; i++) {
        if (send(fd, req, (size_t)len, 0) != len || !raw_read_answer(fd, buf, sizeof buf)) {
            a->failures++;
            break;
        }
    }
    close(fd);
    a->cpu_s = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

struct unit {
    const char *name;
    double us;          /* CPU per unit, both sides */
    double client_us;   /* the client's part (http, raw) */
    double switches;    /* voluntary + involuntary context switches per unit */
};

static int bench_http(int n, int threads, bool raw, struct unit *out)
{
    struct pd_http_server_opts o = {.listen = "127.0.0.1:0", .threads = threads + 4};
    struct mg_context *ctx = NULL;
    int port = 0;
    if (pd_http_server_start(&o, NULL, &ctx, &port) != PD_OK)
        return PD_EIO;
    mg_set_request_handler(ctx, "/echo", echo_handler, NULL);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
    struct client_arg args[64];
    pthread_t tid[64];
    long sw0 = 0, sw1 = 0;
    double t0 = process_cpu_s(&sw0);
    for (int i = 0; i < threads; i++) {
        args[i] = (struct client_arg){.url = url, .port = port, .n = n / threads, .raw = raw};
        pthread_create(&tid[i], NULL, raw ? raw_client : curl_client, &args[i]);
    }
    double client = 0;
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        client += args[i].cpu_s;
        failures += args[i].failures;
    }
    double t1 = process_cpu_s(&sw1);
    mg_stop(ctx);
    int done = (n / threads) * threads;
    out->us = (t1 - t0) * 1e6 / done;
    out->client_us = client * 1e6 / done;
    out->switches = (double)(sw1 - sw0) / done;
    if (failures > 0)
        fprintf(stderr, "cost_bench: %d of %d %s requests failed\n", failures, done,
                raw ? "raw" : "curl");
    return failures > 0 ? PD_EIO : PD_OK;
}

/* ---- tx ---- */

static int bench_tx(int n, int per_commit, struct unit *out)
{
    char path[] = "/tmp/cost-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return PD_EIO;
    close(fd);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, "unix-excl");
    const char *schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
        "CREATE TABLE orders(id TEXT PRIMARY KEY, merchant TEXT, mon TEXT, client_ref TEXT,"
        " amount INTEGER, currency TEXT, state TEXT, body TEXT, updated INTEGER);"
        "CREATE UNIQUE INDEX o_mon ON orders(merchant, mon);"
        "CREATE INDEX o_ref ON orders(client_ref);"
        "CREATE INDEX o_state ON orders(state, updated);";
    if (rc != SQLITE_OK || sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "cost_bench: sqlite: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        unlink(path);
        return PD_EIO;
    }
    sqlite3_stmt *ins = NULL, *upd = NULL, *sp = NULL, *rel = NULL, *beg = NULL, *com = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO orders VALUES(?1,'m-bench',?1,?1,12345,'CNY','CREATED',?2,1)",
                       -1, &ins, NULL);
    sqlite3_prepare_v2(db, "UPDATE orders SET state='PAYING', updated=2 WHERE id=?1", -1, &upd,
                       NULL);
    sqlite3_prepare_v2(db, "SAVEPOINT s", -1, &sp, NULL);
    sqlite3_prepare_v2(db, "RELEASE s", -1, &rel, NULL);
    sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &beg, NULL);
    sqlite3_prepare_v2(db, "COMMIT", -1, &com, NULL);
    long sw0 = 0, sw1 = 0;
    double t0 = process_cpu_s(&sw0);
    int failures = 0;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "o-%08d", i);
        if (i % per_commit == 0)
            failures += sqlite3_step(beg) != SQLITE_DONE;
        sqlite3_reset(beg);
        failures += sqlite3_step(sp) != SQLITE_DONE;
        sqlite3_reset(sp);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, ORDER_JSON, -1, SQLITE_STATIC);
        failures += sqlite3_step(ins) != SQLITE_DONE;
        sqlite3_reset(ins);
        sqlite3_bind_text(upd, 1, id, -1, SQLITE_TRANSIENT);
        failures += sqlite3_step(upd) != SQLITE_DONE;
        sqlite3_reset(upd);
        failures += sqlite3_step(rel) != SQLITE_DONE;
        sqlite3_reset(rel);
        if (i % per_commit == per_commit - 1 || i == n - 1)
            failures += sqlite3_step(com) != SQLITE_DONE;
        sqlite3_reset(com);
    }
    double t1 = process_cpu_s(&sw1);
    sqlite3_stmt *all[] = {ins, upd, sp, rel, beg, com};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(db);
    static const char *const files[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char f[64];
        snprintf(f, sizeof f, "%s%s", path, files[i]);
        unlink(f);
    }
    out->us = (t1 - t0) * 1e6 / n;
    out->switches = (double)(sw1 - sw0) / n;
    if (failures > 0)
        fprintf(stderr, "cost_bench: %d SQLite steps failed\n", failures);
    return failures > 0 ? PD_EIO : PD_OK;
}

/* ---- hmac, json, switch ---- */

static void bench_hmac(int n, struct unit *out)
{
    char sig[PD_SIG_HEX_LEN + 1];
    double t0 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        pd_sign("cost-bench-secret", 1767225600 + i, "nonce-0123456789", ORDER_JSON,
                sizeof ORDER_JSON - 1, sig);
    out->us = (cpu_now_s(CLOCK_THREAD_CPUTIME_ID) - t0) * 1e6 / n;
}

static void bench_json(int n, struct unit *out)
{
    double t0 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
        cJSON *j = cJSON_Parse(ORDER_JSON);
        char *s = cJSON_PrintUnformatted(j);
        free(s);
        cJSON_Delete(j);
    }
    out->us = (cpu_now_s(CLOCK_THREAD_CPUTIME_ID) - t0) * 1e6 / n;
}

/* A bare system call, and a WAL commit's ten frames written as SQLite
 * writes them (a 24-byte header and a 4 KiB page each) against one write
 * of the same bytes. */
static int bench_syscalls(int n, struct unit *bare, struct unit *split, struct unit *whole)
{
    char path[] = "/tmp/cost-bench-pw-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return PD_EIO;
    unlink(path);
    static char frames[10 * 4120];
    memset(frames, 'x', sizeof frames);
    double t0 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; i++)
        (void)getppid();
    double t1 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    int bad = 0;
    off_t off = 0;
    int commits = n / 10;
    for (int i = 0; i < commits; i++, off = (off + (off_t)sizeof frames) % (32 << 20))
        for (int f = 0; f < 10; f++) {
            bad += pwrite(fd, frames, 24, off + f * 4120) != 24;
            bad += pwrite(fd, frames, 4096, off + f * 4120 + 24) != 4096;
        }
    double t2 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    off = 0;
    for (int i = 0; i < commits; i++, off = (off + (off_t)sizeof frames) % (32 << 20))
        bad += pwrite(fd, frames, sizeof frames, off) != (ssize_t)sizeof frames;
    double t3 = cpu_now_s(CLOCK_THREAD_CPUTIME_ID);
    close(fd);
    bare->us = (t1 - t0) * 1e6 / n;
    split->us = (t2 - t1) * 1e6 / commits;
    whole->us = (t3 - t2) * 1e6 / commits;
    return bad > 0 ? PD_EIO : PD_OK;
}

static sem_t ping, pong;
static int switch_n;

static void *ponger(void *p)
{
    (void)p;
    for (int i = 0; i < switch_n; i++) {
        sem_wait(&ping);
        sem_post(&pong);
    }
    return NULL;
}

static void bench_switch(int n, struct unit *out)
{
    sem_init(&ping, 0, 0);
    sem_init(&pong, 0, 0);
    switch_n = n;
    pthread_t t;
    long sw0 = 0, sw1 = 0;
    double t0 = process_cpu_s(&sw0);
    pthread_create(&t, NULL, ponger, NULL);
    for (int i = 0; i < n; i++) {
        sem_post(&ping);
        sem_wait(&pong);
    }
    pthread_join(t, NULL);
    double t1 = process_cpu_s(&sw1);
    out->us = (t1 - t0) * 1e6 / (2.0 * n);   /* two hand-offs a round */
    out->switches = (double)(sw1 - sw0) / (2.0 * n);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cost_bench [--help] [--n N] [--threads T]\n"
            "  Measures the CPU of one unit of each kind of work an order is made of\n"
            "  (HTTP exchange over loopback with libcurl and civetweb, SQLite write\n"
            "  transaction, HMAC, JSON, thread hand-off, system calls) and sums them\n"
            "  for one order.\n"
            "  --n N        units per measurement (default 20000)\n"
            "  --threads T  concurrent HTTP clients (default 8)\n");
}

int main(int argc, char **argv)
{
    int n = 20000, threads = 8;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (n < 100 || threads < 1 || threads > 64) {
        fprintf(stderr, "cost_bench: --n must be >= 100 and --threads 1..64\n");
        return 2;
    }
    pd_http_global_init();
    struct unit http = {"http exchange (libcurl -> civetweb)", 0, 0, 0};
    struct unit raw = {"http exchange (socket -> civetweb)", 0, 0, 0};
    struct unit tx1 = {"write tx, 1 per COMMIT", 0, 0, 0};
    struct unit tx8 = {"write tx, 8 per COMMIT", 0, 0, 0};
    struct unit hmac = {"HMAC-SHA256 of 300 bytes", 0, 0, 0};
    struct unit json = {"JSON parse + print, 300 bytes", 0, 0, 0};
    struct unit sw = {"thread hand-off (sleep + wake)", 0, 0, 0};
    struct unit bare = {"bare system call (getppid)", 0, 0, 0};
    struct unit split = {"10 WAL frames as 20 pwrites", 0, 0, 0};
    struct unit whole = {"10 WAL frames as 1 pwrite", 0, 0, 0};
    int rc = bench_http(n, threads, false, &http);
    rc |= bench_http(n, threads, true, &raw);
    rc |= bench_tx(n, 1, &tx1);
    rc |= bench_tx(n, 8, &tx8);
    bench_hmac(n, &hmac);
    bench_json(n, &json);
    bench_switch(n, &sw);
    rc |= bench_syscalls(n, &bare, &split, &whole);
    const struct unit *all[] = {&http, &raw, &tx1, &tx8, &hmac, &json, &sw, &bare, &split, &whole};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        printf("cost_bench: %-38s %7.2f us CPU", all[i]->name, all[i]->us);
        if (all[i]->client_us > 0)
            printf(" (client %.1f, server %.1f)", all[i]->client_us,
                   all[i]->us - all[i]->client_us);
        if (all[i]->switches > 0)
            printf(", %.1f context switches", all[i]->switches);
        printf("\n");
    }
    /* One order: 6 exchanges, 7 write transactions (as batched today: ~7
     * per COMMIT in payment-center, pc_bench), 8 HMAC, 12 JSON. */
    double order = 6 * http.us + 7 * tx8.us + 8 * hmac.us + 12 * json.us;
    printf("cost_bench: one order made of these units: %.0f us CPU"
           " (6 http %.0f + 7 tx %.0f + 8 hmac %.0f + 12 json %.0f)"
           " -> at most %.0f orders/s on 2 cores\n",
           order, 6 * http.us, 7 * tx8.us, 8 * hmac.us, 12 * json.us, 2e6 / order);
    return rc != PD_OK;
}
