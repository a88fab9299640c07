/* Proves mock-gateway's own HTTP/1.1 front end (gw_loop.c, gw_http.c)
 * speaks HTTP correctly and safely, over real loopback sockets against the
 * real binary: a request split byte by byte across writes is answered;
 * several pipelined requests in one write (inline creates and queries, a
 * query of a create from the same write, a worker-path request between
 * them) are answered in order, and so are a create, two payer pays of its
 * trade and a query in one write (one charge, one callback owed); an oversized header block gets 431, an
 * oversized body 413, garbage 400 and a chunked body 411, each as
 * {"code","message"} JSON followed by a close, and none of it changes the
 * ledger or the journal; HTTP/1.0 and Connection: close end the connection
 * after the answer; a client that connects and sends nothing is closed
 * after --idle-timeout; and N concurrent clients creating N trades through
 * the group commit leave exactly N trades in the ledger and N create lines
 * in the journal, in seq order without gaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gw_support.h"
#include "pd_test.h"
#include "pd_time.h"

#define RESP_MAX 16
#define CONC_CLIENTS 16
#define CONC_PER_CLIENT 40

static struct gw_t_fixture fx;
static int port;

struct resp {
    int status;
    bool has_date;
    bool says_close;              /* a "Connection: close" field */
    char body[1024];
};

static int conn_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Parses one whole response at the start of buf[0..len); returns its size or 0. */
static size_t parse_one(const char *buf, size_t len, struct resp *r)
{
    char head[4096];
    const char *end = NULL;
    for (size_t i = 3; i < len && end == NULL; i++)
        if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0)
            end = buf + i + 1;
    if (end == NULL || (size_t)(end - buf) >= sizeof head)
        return 0;
    memcpy(head, buf, (size_t)(end - buf));
    head[end - buf] = '\0';
    const char *cl = strstr(head, "Content-Length: ");
    size_t body_len = cl ? (size_t)atol(cl + 16) : 0;
    if ((size_t)(end - buf) + body_len > len)
        return 0;
    memset(r, 0, sizeof *r);
    r->status = atoi(head + 9);
    r->has_date = strstr(head, "\r\nDate: ") != NULL;
    r->says_close = strstr(head, "\r\nConnection: close\r\n") != NULL;
    size_t keep = body_len < sizeof r->body - 1 ? body_len : sizeof r->body - 1;
    memcpy(r->body, end, keep);
    return (size_t)(end - buf) + body_len;
}

/* Reads until `want` responses (100 Continue skipped) or EOF or timeout.
 * Returns how many; *eof tells whether the server closed. */
static int read_resps(int fd, struct resp *out, int want, int timeout_ms, bool *eof)
{
    static char buf[1 << 16];
    size_t len = 0;
    int n = 0;
    *eof = false;
    int64_t until = pd_mono_ms() + timeout_ms;
    while (n < want && !*eof && pd_mono_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        *eof = r <= 0;
        len += r > 0 ? (size_t)r : 0;
        size_t used;
        while (n < want && (used = parse_one(buf, len, &out[n])) > 0) {
            n += out[n].status != 100;
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
    return n;
}

/* True when the server closes the connection within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
    char b[4096];
    int64_t until = pd_mono_ms() + timeout_ms;
    while (pd_mono_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && read(fd, b, sizeof b) <= 0)
            return true;
    }
    return false;
}

static double status_num(const char *field)
{
    cJSON *j = NULL;
    assert_int_equal(gw_t_get(fx.gw.url, "/sim/status", &j), 200);
    double v = cJSON_GetObjectItem(j, field)->valuedouble;
    cJSON_Delete(j);
    return v;
}

static int journal_lines(void)
{
    cJSON *j = gw_t_journal(fx.gw.url);
    int n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    return n;
}

static int create_req(char *out, size_t cap, const char *otn, const char *conn_hdr)
{
    char body[300];
    int bl = snprintf(body, sizeof body,
                      "{\"out_trade_no\":\"%s\",\"amount\":100,\"currency\":\"CNY\","
                      "\"notify_url\":\"http://127.0.0.1:9/n\",\"merchant_id\":\"m-1\"}", otn);
    return snprintf(out, cap, "POST /v1/payments HTTP/1.1\r\nHost: t\r\n%sContent-Type: "
                    "application/json\r\nContent-Length: %d\r\n\r\n%s", conn_hdr, bl, body);
}

static int setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--idle-timeout", "1s", NULL};
    gw_t_fixture_start(&fx, args);
    port = atoi(strrchr(fx.gw.url, ':') + 1);
    assert_int_equal(gw_t_create(fx.gw.url, "keep", 100, "http://127.0.0.1:9/n", NULL), 200);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_t_fixture_stop(&fx);
    return 0;
}

/* A create, then a query, each written one byte per write(), are answered
 * whole, with the Date header, and the trade exists. */
static void test_byte_by_byte(void **state)
{
    (void)state;
    char req[1024];
    int n = create_req(req, sizeof req, "bytewise-1", "");
    n += snprintf(req + n, sizeof req - (size_t)n, "GET /v1/payments/bytewise-1 HTTP/1.1\r\n\r\n");
    int fd = conn_open();
    for (int i = 0; i < n; i++) {
        send_all(fd, req + i, 1);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    struct resp r[2];
    bool eof;
    assert_int_equal(read_resps(fd, r, 2, 5000, &eof), 2);
    assert_int_equal(r[0].status, 200);
    assert_true(r[0].has_date && r[1].has_date);
    assert_non_null(strstr(r[0].body, "\"out_trade_no\":\"bytewise-1\""));
    assert_int_equal(r[1].status, 200);
    assert_non_null(strstr(r[1].body, "\"trade_state\":\"NOTPAY\""));
    close(fd);
}

/* Seven requests in one write come back in order: creates and queries run
 * inline in one group commit, the query of pipe-1 sees the create written
 * just before it, /healthz and /sim/status go through a worker between
 * them, and a query of an unknown trade answers 404. */
static void test_pipelined_in_order(void **state)
{
    (void)state;
    char req[4096];
    int n = create_req(req, sizeof req, "pipe-1", "");
    n += snprintf(req + n, sizeof req - (size_t)n, "GET /v1/payments/pipe-1 HTTP/1.1\r\n\r\n"
                  "GET /healthz HTTP/1.1\r\n\r\n");
    n += create_req(req + n, sizeof req - (size_t)n, "pipe-2", "");
    n += snprintf(req + n, sizeof req - (size_t)n, "GET /v1/payments/pipe-none HTTP/1.1\r\n\r\n"
                  "GET /sim/status HTTP/1.1\r\n\r\nGET /v1/payments/pipe-2 HTTP/1.1\r\n\r\n");
    int fd = conn_open();
    send_all(fd, req, (size_t)n);
    struct resp r[7];
    bool eof;
    assert_int_equal(read_resps(fd, r, 7, 5000, &eof), 7);
    static const int want[7] = {200, 200, 200, 200, 404, 200, 200};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(r[i].status, want[i]);
        assert_false(r[i].says_close);
    }
    assert_non_null(strstr(r[0].body, "\"out_trade_no\":\"pipe-1\""));
    assert_non_null(strstr(r[1].body, "\"out_trade_no\":\"pipe-1\""));
    assert_string_equal(r[2].body, "{\"status\":\"ok\"}");
    assert_non_null(strstr(r[3].body, "\"out_trade_no\":\"pipe-2\""));
    assert_non_null(strstr(r[4].body, "ORDER_NOT_EXIST"));
    assert_non_null(strstr(r[5].body, "\"trades\":"));
    assert_non_null(strstr(r[6].body, "\"out_trade_no\":\"pipe-2\""));
    assert_false(eof);
    close(fd);
}

/* The payer's pay runs inline too: a create, two pays of its trade and a
 * query in one write share one group commit. The second pay sees the
 * first's charge (409 ALREADY_PAID), the query sees SUCCESS, exactly one
 * charge is counted, and its callback is owed (callbacks_pending: the
 * receiver at port 9 refuses it, so it stays owed) once the batch
 * committed, which the answers wait for. */
static void test_pipelined_pay(void **state)
{
    (void)state;
    double charges = status_num("charges");
    double owed = status_num("callbacks_pending");
    static const char pay[] = "POST /sim/payer/pipe-pay/pay HTTP/1.1\r\nContent-Length: 2\r\n"
                              "\r\n{}";
    char req[4096];
    int n = create_req(req, sizeof req, "pipe-pay", "");
    n += snprintf(req + n, sizeof req - (size_t)n, "%s%sGET /v1/payments/pipe-pay HTTP/1.1\r\n\r\n",
                  pay, pay);
    int fd = conn_open();
    send_all(fd, req, (size_t)n);
    struct resp r[4];
    bool eof;
    assert_int_equal(read_resps(fd, r, 4, 5000, &eof), 4);
    static const int want[4] = {200, 200, 409, 200};
    for (int i = 0; i < 4; i++)
        assert_int_equal(r[i].status, want[i]);
    assert_non_null(strstr(r[1].body, "\"trade_state\":\"SUCCESS\""));
    assert_non_null(strstr(r[2].body, "ALREADY_PAID"));
    assert_non_null(strstr(r[3].body, "\"trade_state\":\"SUCCESS\""));
    close(fd);
    assert_int_equal(status_num("charges"), charges + 1);
    assert_int_equal(status_num("callbacks_pending"), owed + 1);
}

/* Sends raw bytes and expects status + a JSON error naming code, then a
 * close; the trade count and the journal are unchanged. */
static void expect_refusal(const char *raw, size_t len, int status, const char *code)
{
    double trades = status_num("trades");
    int lines = journal_lines();
    int fd = conn_open();
    send_all(fd, raw, len);
    struct resp r;
    bool eof;
    assert_int_equal(read_resps(fd, &r, 1, 5000, &eof), 1);
    assert_int_equal(r.status, status);
    char want[80];
    snprintf(want, sizeof want, "{\"code\":\"%s\",\"message\":\"", code);
    assert_memory_equal(r.body, want, strlen(want));
    assert_true(r.has_date);
    assert_true(r.says_close);
    assert_true(closed_within(fd, 5000));
    close(fd);
    assert_int_equal(status_num("trades"), trades);
    assert_int_equal(journal_lines(), lines);
}

/* A 20 KiB header block (on a create) is refused with 431. */
static void test_oversized_header(void **state)
{
    (void)state;
    size_t n = 20000;
    char *raw = malloc(n + 200);
    int k = snprintf(raw, 200, "POST /v1/payments HTTP/1.1\r\nX-Big: ");
    memset(raw + k, 'a', n);
    memcpy(raw + k + n, "\r\n\r\n", 4);
    expect_refusal(raw, (size_t)k + n + 4, 431, "HEADERS_TOO_LARGE");
    free(raw);
}

/* A body over the transport's 1 MiB limit is refused with 413 before it
 * is read; a body over 64 KiB on create is refused by the handler (413
 * too, kept in gw_badinput_test). */
static void test_oversized_body(void **state)
{
    (void)state;
    static const char raw[] = "POST /v1/payments HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n{\"a\":";
    expect_refusal(raw, sizeof raw - 1, 413, "PAYLOAD_TOO_LARGE");
}

/* Garbage request lines and headers get 400, a chunked body 411. */
static void test_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n", "GET /healthz HTTP/9.9\r\n\r\n", "get /healthz HTTP/1.1\r\n\r\n",
        "GET healthz HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n",
        "GET /v1/payments/%00 HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\nHost: x\r\n\r\n",
        "POST /v1/payments HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST /v1/payments HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refusal(bad[i], strlen(bad[i]), 400, "PARAM_ERROR");
    static const char chunked[] =
        "POST /v1/payments HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n";
    expect_refusal(chunked, sizeof chunked - 1, 411, "LENGTH_REQUIRED");
}

/* HTTP/1.0 without keep-alive, and HTTP/1.1 with Connection: close, get
 * their answer, which says "Connection: close", and then the server
 * closes. */
static void test_close_after_answer(void **state)
{
    (void)state;
    char req[1024];
    const char *http10 = "GET /v1/payments/keep HTTP/1.0\r\n\r\n";
    int n = create_req(req, sizeof req, "closing-1", "Connection: close\r\n");
    const char *reqs[2] = {http10, req};
    for (int i = 0; i < 2; i++) {
        int fd = conn_open();
        send_all(fd, reqs[i], strlen(reqs[i]));
        struct resp r;
        bool eof;
        assert_int_equal(read_resps(fd, &r, 1, 5000, &eof), 1);
        assert_int_equal(r.status, 200);
        assert_true(r.says_close);
        assert_true(closed_within(fd, 3000));
        close(fd);
    }
    assert_true(n > 0);
}

/* A client that connects and sends nothing is closed after --idle-timeout
 * (1 s here), not before half of it. */
static void test_idle_timeout(void **state)
{
    (void)state;
    int fd = conn_open();
    int64_t t0 = pd_mono_ms();
    assert_false(closed_within(fd, 500));
    assert_true(closed_within(fd, 4000));
    int64_t took = pd_mono_ms() - t0;
    assert_true(took >= 900 && took < 4500);
    close(fd);
}

struct conc {
    int id;
    int ok;
};

static void *conc_client(void *arg)
{
    struct conc *c = arg;
    char otn[64];
    for (int i = 0; i < CONC_PER_CLIENT; i++) {
        snprintf(otn, sizeof otn, "conc-%d-%d", c->id, i);
        c->ok += gw_t_create(fx.gw.url, otn, 100 + i, "http://127.0.0.1:9/n", NULL) == 200;
    }
    return NULL;
}

static int count_prefix(cJSON *arr, const char *field, const char *op)
{
    int n = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        cJSON *o = cJSON_GetObjectItem(it, field), *p = op ? cJSON_GetObjectItem(it, "op") : NULL;
        n += cJSON_IsString(o) && strncmp(o->valuestring, "conc-", 5) == 0 &&
             (op == NULL || (cJSON_IsString(p) && strcmp(p->valuestring, op) == 0));
    }
    return n;
}

/* 16 concurrent clients create 40 trades each: all 640 are
 * answered 200, the ledger holds exactly 640 of them, the journal exactly
 * 640 create lines, and the journal's seq runs 1..N in file order. */
static void test_concurrent_group_commit(void **state)
{
    (void)state;
    pthread_t t[CONC_CLIENTS];
    struct conc c[CONC_CLIENTS];
    for (int i = 0; i < CONC_CLIENTS; i++) {
        c[i] = (struct conc){i, 0};
        pthread_create(&t[i], NULL, conc_client, &c[i]);
    }
    for (int i = 0; i < CONC_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].ok, CONC_PER_CLIENT);
    }
    cJSON *ledger = NULL;
    assert_int_equal(gw_t_get(fx.gw.url, "/sim/ledger", &ledger), 200);
    assert_int_equal(count_prefix(cJSON_GetObjectItem(ledger, "trades"), "out_trade_no", NULL),
                     CONC_CLIENTS * CONC_PER_CLIENT);
    cJSON_Delete(ledger);
    cJSON *j = gw_t_journal(fx.gw.url);
    assert_int_equal(count_prefix(j, "out_trade_no", "create"), CONC_CLIENTS * CONC_PER_CLIENT);
    int seq = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, j)
        assert_int_equal(cJSON_GetObjectItem(it, "seq")->valuedouble, ++seq);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_oversized_header),
        cmocka_unit_test(test_oversized_body),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_close_after_answer),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_concurrent_group_commit),
        cmocka_unit_test(test_pipelined_pay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
