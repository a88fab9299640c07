/* Proves every endpoint answers malformed, oversized and nonsensical input
 * with a 4xx JSON {"code","message"}, changes nothing for it, and never
 * crashes:
 * table-driven bad requests (types, ranges, missing fields, bad ids, bad
 * paths, wrong methods, huge bodies), then seeded random garbage at every
 * POST/PUT endpoint (the ledger exactly as before), mutated good bodies at
 * create, close and refund (a 2xx or a 4xx; the ledger gains exactly the
 * 2xx creates and refunds), then raw non-HTTP bytes on the socket (no
 * trade made); the process still answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_support.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_rand.h"
#include "pd_test.h"

static struct gw_t_fixture fx;

struct bad_req {
    const char *method, *path, *body;
    long status;
    const char *code;
};

#define OK_CREATE_TAIL "\"currency\":\"CNY\",\"notify_url\":\"http://127.0.0.1:9/n\",\"merchant_id\":\"m-1\"}"

static const struct bad_req table[] = {
    {"POST", "/v1/payments", "", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "[]", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "null", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{}", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"a b\",\"amount\":1," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"\",\"amount\":1," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":7,\"amount\":1," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":0," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":-5," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1.5," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1e13," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":\"100\"," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1,\"currency\":\"cny\",\"notify_url\":\"http://127.0.0.1:9/n\",\"merchant_id\":\"m-1\"}", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1,\"currency\":\"CNY\",\"notify_url\":\"ftp://x/y/z/w\",\"merchant_id\":\"m-1\"}", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1,\"currency\":\"CNY\",\"notify_url\":\"http://127.0.0.1:9/n\",\"merchant_id\":\"\"}", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1,\"attach\":\"a\\nb\"," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/payments", "{\"out_trade_no\":\"x\",\"amount\":1,\"attach\":[1]," OK_CREATE_TAIL, 400, "PARAM_ERROR"},
    {"POST", "/v1/refunds", "{\"out_trade_no\":\"x\"}", 400, "PARAM_ERROR"},
    {"POST", "/v1/refunds", "{\"out_trade_no\":\"x\",\"out_refund_no\":\"../r\",\"amount\":1}", 400, "PARAM_ERROR"},
    {"POST", "/v1/refunds", "{\"out_trade_no\":\"x\",\"out_refund_no\":\"r\",\"amount\":true}", 400, "PARAM_ERROR"},
    {"POST", "/v1/payments/keep/close", "{not json", 400, "PARAM_ERROR"},
    {"POST", "/sim/payer/keep/pay", "\"just a string\"", 400, "PARAM_ERROR"},
    {"POST", "/sim/payer/keep/pay", "{\"key\":5}", 400, "PARAM_ERROR"},
    {"GET", "/v1/payments/bad%20id", NULL, 400, "PARAM_ERROR"},
    {"GET", "/v1/payments/a%2Fb", NULL, 404, "NOT_FOUND"},
    {"GET", "/v1/payments//", NULL, 404, "NOT_FOUND"},
    {"GET", "/v1/payments/keep/extra/deep/path/x", NULL, 404, "NOT_FOUND"},
    {"GET", "/nothing", NULL, 404, "NOT_FOUND"},
    {"GET", "/sim/nothing", NULL, 404, "NOT_FOUND"},
    {"DELETE", "/v1/payments/keep", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"GET", "/v1/payments", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"PUT", "/v1/refunds", "{}", 405, "METHOD_NOT_ALLOWED"},
    {"GET", "/sim/payer/keep/pay", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"POST", "/sim/ledger", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"DELETE", "/sim/faults", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"GET", "/sim/reset", NULL, 405, "METHOD_NOT_ALLOWED"},
    {"PUT", "/sim/faults", "{\"rules\":[{\"op\":\"callback\"}]}", 400, "PARAM_ERROR"},
    {"PUT", "/sim/faults", "\xff\xfe\x00garbage", 400, "PARAM_ERROR"},
    {"PUT", "/sim/faults", "{\"rules\":[]} trailing", 400, "PARAM_ERROR"},
    {"POST", "/sim/payer/keep/pay", "{} {}", 400, "PARAM_ERROR"},
};

static int setup(void **state)
{
    (void)state;
    gw_t_fixture_start(&fx, NULL);
    assert_int_equal(gw_t_create(fx.gw.url, "keep", 100, "http://127.0.0.1:9/n", NULL), 200);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_t_fixture_stop(&fx);
    return 0;
}

/* Sends one JSON request to the gateway; an answer is required (what
 * names the request in the failure). */
static void send_json(const char *method, const char *path, const char *body, size_t len,
                      const char *what, struct pd_http_resp *resp)
{
    char u[8300];
    snprintf(u, sizeof u, "%s%s", fx.gw.url, path);
    pd_http_client *c = pd_http_client_new();
    const char *headers[] = {"Content-Type: application/json", NULL};
    int rc = pd_http_request(c, method, u, headers, body, len, 10000, 0, resp);
    pd_http_client_free(c);
    if (rc != PD_OK)
        fail_msg("%s %s (%s): no answer (%s)", method, path, what, pd_strerror(rc));
}

/* Sends one request; checks a 4xx with a JSON code and message. */
static void expect_4xx(const char *method, const char *path, const char *body, size_t len,
                       long want_status, const char *want_code)
{
    struct pd_http_resp resp;
    send_json(method, path, body, len, method, &resp);
    cJSON *j = cJSON_Parse(resp.body);
    const cJSON *code = cJSON_GetObjectItem(j, "code");
    const cJSON *msg = cJSON_GetObjectItem(j, "message");
    if (resp.status < 400 || resp.status > 499 || !cJSON_IsString(code) || !cJSON_IsString(msg) ||
        (want_status && resp.status != want_status) ||
        (want_code && strcmp(code->valuestring, want_code) != 0))
        fail_msg("%s %.80s -> %ld %s", method, path, resp.status, resp.body ? resp.body : "");
    cJSON_Delete(j);
    pd_http_resp_release(&resp);
}

static char *ledger_text(void)
{
    cJSON *l = NULL;
    gw_t_get(fx.gw.url, "/sim/ledger", &l);
    cJSON_DeleteItemFromObject(l, "now");
    char *text = cJSON_PrintUnformatted(l);
    cJSON_Delete(l);
    return text;
}

static void test_table(void **state)
{
    (void)state;
    char *before = ledger_text();
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        expect_4xx(table[i].method, table[i].path, table[i].body,
                   table[i].body ? strlen(table[i].body) : 0, table[i].status, table[i].code);
    char *after = ledger_text();
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_huge(void **state)
{
    (void)state;
    size_t n = 3u << 20;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[0] = '{';
    big[n] = '\0';
    expect_4xx("POST", "/v1/payments", big, 70000, 413, "PAYLOAD_TOO_LARGE");
    expect_4xx("POST", "/v1/refunds", big, 1u << 20, 413, "PAYLOAD_TOO_LARGE");
    expect_4xx("POST", "/sim/payer/keep/pay", big, 100000, 413, "PAYLOAD_TOO_LARGE");
    expect_4xx("PUT", "/sim/faults", big, n, 413, "PAYLOAD_TOO_LARGE");
    /* A 4000-byte path segment. */
    char path[4100] = "/v1/payments/";
    memset(path + 13, 'x', 4000);
    path[4013] = '\0';
    expect_4xx("GET", path, NULL, 0, 0, NULL);
    free(big);
}

static void test_random_garbage(void **state)
{
    (void)state;
    static const char *const paths[] = {"/v1/payments", "/v1/refunds", "/v1/payments/keep/close",
                                        "/sim/payer/keep/pay", "/sim/faults"};
    char *before = ledger_text();
    char body[600];
    for (uint64_t i = 0; i < 400; i++) {
        size_t len = (size_t)pd_draw_range(3, "garbage", "len", i, 1, sizeof body - 1);
        for (size_t k = 0; k < len; k++)
            body[k] = (char)pd_draw_range(3, "garbage", "byte", i * 1000 + k, 1, 255);
        if (i % 3 == 0)
            body[0] = '{';   /* start like JSON to reach deeper */
        body[len] = '\0';
        const char *p = paths[i % 5];
        expect_4xx(i % 5 == 4 ? "PUT" : "POST", p, body, len, 0, NULL);
    }
    char *after = ledger_text();
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_raw_socket_garbage(void **state)
{
    (void)state;
    int port = atoi(strrchr(fx.gw.url, ':') + 1);
    cJSON *j = NULL;
    gw_t_get(fx.gw.url, "/sim/status", &j);
    double trades = cJSON_GetObjectItem(j, "trades")->valuedouble;
    cJSON_Delete(j);
    static const char *const junk[] = {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                                       "GET\r\n\r\n", "POST /v1/payments HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                       "POST /v1/payments HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n{",
                                       "HELLO WORLD\r\n\r\n"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_true(write(fd, junk[i], strlen(junk[i])) > 0);
        shutdown(fd, SHUT_WR);
        char buf[512];
        while (read(fd, buf, sizeof buf) > 0) {
        }
        close(fd);
    }
    assert_int_equal(pd_proc_alive(&fx.gw), 1);
    assert_int_equal(gw_t_get(fx.gw.url, "/healthz", NULL), 200);
    gw_t_get(fx.gw.url, "/sim/status", &j);
    assert_true(cJSON_GetObjectItem(j, "trades")->valuedouble == trades);   /* none made */
    cJSON_Delete(j);
}

/* Sends one request; returns the status (2xx, or a 4xx with a JSON code
 * and message: anything else fails) and, from a 2xx, the answer's key. */
static long expect_2xx_4xx(const char *path, const char *body, size_t len, const char *what,
                           const char *key, char *val, size_t val_len)
{
    struct pd_http_resp resp;
    send_json("POST", path, body, len, what, &resp);
    cJSON *j = cJSON_Parse(resp.body);
    const cJSON *code = cJSON_GetObjectItem(j, "code");
    const cJSON *msg = cJSON_GetObjectItem(j, "message");
    const cJSON *t = cJSON_GetObjectItem(j, key);
    bool ok2 = resp.status >= 200 && resp.status < 300;
    bool ok4 = resp.status >= 400 && resp.status < 500 && cJSON_IsString(code) &&
               cJSON_IsString(msg);
    if (!ok2 && !ok4)
        fail_msg("POST %s (%s) -> %ld %s for %.*s", path, what, resp.status,
                 resp.body ? resp.body : "", (int)len, body);
    snprintf(val, val_len, "%s", ok2 && cJSON_IsString(t) ? t->valuestring : "");
    long status = resp.status;
    cJSON_Delete(j);
    pd_http_resp_release(&resp);
    return status;
}

/* Adds v to set (n entries) unless there. */
static void add_distinct(char set[][72], int *n, const char *v)
{
    for (int k = 0; k < *n; k++)
        if (strcmp(set[k], v) == 0)
            return;
    snprintf(set[(*n)++], 72, "%s", v);
}

static int status_count(const char *field)
{
    cJSON *j = NULL;
    gw_t_get(fx.gw.url, "/sim/status", &j);
    int n = (int)cJSON_GetObjectItem(j, field)->valuedouble;
    cJSON_Delete(j);
    return n;
}

/* Mutated good bodies (pd_test_mutate_json: hostile values, dropped keys,
 * bytes deleted or inserted) at create, close and refund: each answer is a
 * 2xx or a 4xx {"code","message"}, never a 5xx; the ledger gains exactly
 * the trades whose create and the refunds whose request was answered 2xx,
 * and some of each were. PD_SEED draws other mutations. (Close takes "{}":
 * only its byte mutations differ from it.) */
static void test_mutated_bodies(void **state)
{
    (void)state;
    assert_int_equal(gw_t_create(fx.gw.url, "fz-paid", 100, "http://127.0.0.1:9/n", NULL), 200);
    assert_int_equal(gw_t_pay(fx.gw.url, "fz-paid"), 200);
    assert_int_equal(gw_t_create(fx.gw.url, "fz-close", 100, "http://127.0.0.1:9/n", NULL), 200);
    static const struct {
        const char *path, *body, *key;
    } goods[] = {
        {"/v1/payments", "{\"out_trade_no\":\"fz-1\",\"amount\":100,\"currency\":\"CNY\","
                         "\"notify_url\":\"http://127.0.0.1:9/n\",\"merchant_id\":\"m-1\","
                         "\"description\":\"d\",\"attach\":\"a\"}", "out_trade_no"},
        {"/v1/payments/fz-close/close", "{}", "out_trade_no"},
        {"/v1/refunds", "{\"out_trade_no\":\"fz-paid\",\"out_refund_no\":\"r-1\",\"amount\":1,"
                        "\"reason\":\"r\"}", "out_refund_no"},
    };
    uint64_t rng = pd_test_fuzz_seed(0x9e3779b97f4a7c15ull);
    int trades_before = status_count("trades"), refunds_before = status_count("refunds");
    static char created[300][72], refunded[300][72];
    int n_created = 0, n_refunded = 0;
    for (int i = 0; i < 300; i++) {
        int g = i % 3;
        char what[160], val[72];
        size_t len = 0;
        char *m = pd_test_mutate_json(goods[g].body, &rng, &len, what, sizeof what);
        assert_non_null(m);
        long st = expect_2xx_4xx(goods[g].path, m, len, what, goods[g].key, val, sizeof val);
        free(m);
        if (st >= 300 || val[0] == '\0')
            continue;
        if (g == 0)
            add_distinct(created, &n_created, val);
        else if (g == 2)
            add_distinct(refunded, &n_refunded, val);
    }
    assert_true(n_created > 0 && n_refunded > 0);   /* refusing everything fails here */
    assert_int_equal(status_count("trades"), trades_before + n_created);
    assert_int_equal(status_count("refunds"), refunds_before + n_refunded);
    assert_int_equal(pd_proc_alive(&fx.gw), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_random_garbage),
        cmocka_unit_test(test_mutated_bodies),
        cmocka_unit_test(test_raw_socket_garbage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
