/* Proves the generic profile and the payer against the real binary: create
 * is idempotent on out_trade_no (409 on other facts), query reports every
 * state, close is refused once paid, refunds are idempotent and never exceed
 * the charge, the payer charges at most once (second pay 409, recorded as
 * refused), and the ledger says all of it. Then the op faults: error,
 * rate_limit (429 + Retry-After), hang (the client times out, nothing
 * created), commit_drop (no answer, but the trade exists), stale_query,
 * slow; PUT /sim/faults replaces the rules, and an invalid document is
 * refused with its path while the old rules stay; reset empties the ledger;
 * --check-faults exits 0 or 2 with the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gw_support.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

static struct gw_t_fixture fx;
static const char notify[] = "http://127.0.0.1:9/notify";   /* nobody listens: callbacks just retry */

static int setup(void **state)
{
    (void)state;
    const char *args[] = {"--callback-schedule", "1h", NULL};
    gw_t_fixture_start(&fx, args);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_t_fixture_stop(&fx);
    return 0;
}

static long post(const char *path, const char *body, cJSON **out)
{
    char u[512];
    snprintf(u, sizeof u, "%s%s", fx.gw.url, path);
    return pd_test_http_json("POST", u, body, NULL, out);
}

static const char *code_of(cJSON *j)
{
    const cJSON *c = cJSON_GetObjectItem(j, "code");
    return cJSON_IsString(c) ? c->valuestring : "";
}

static const char *state_of(const char *otn)
{
    static char st[32];
    char path[128];
    cJSON *j = NULL;
    snprintf(path, sizeof path, "/v1/payments/%s", otn);
    gw_t_get(fx.gw.url, path, &j);
    const cJSON *s = cJSON_GetObjectItem(j, "trade_state");
    snprintf(st, sizeof st, "%s", cJSON_IsString(s) ? s->valuestring : "?");
    cJSON_Delete(j);
    return st;
}

static void test_protocol(void **state)
{
    (void)state;
    cJSON *j = NULL;
    assert_int_equal(gw_t_create(fx.gw.url, "p-1", 1999, notify, "k-p1"), 200);
    assert_int_equal(gw_t_create(fx.gw.url, "p-1", 1999, notify, "k-p1"), 200);   /* idempotent */
    assert_int_equal(gw_t_create(fx.gw.url, "p-1", 2000, notify, "k-p1"), 409);
    assert_int_equal(post("/v1/payments", "{\"out_trade_no\":\"p-1\",\"amount\":1999,\"currency\":\"USD\","
                          "\"notify_url\":\"http://127.0.0.1:9/notify\",\"merchant_id\":\"m-1\"}", &j), 409);
    assert_string_equal(code_of(j), "OUT_TRADE_NO_USED");
    cJSON_Delete(j);
    assert_string_equal(state_of("p-1"), "NOTPAY");
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/nope", &j), 404);
    assert_string_equal(code_of(j), "ORDER_NOT_EXIST");
    cJSON_Delete(j);
    /* refund before pay */
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-0\",\"amount\":1}", &j), 409);
    assert_string_equal(code_of(j), "NOT_PAID");
    cJSON_Delete(j);
    assert_int_equal(gw_t_pay(fx.gw.url, "p-1"), 200);
    assert_int_equal(post("/sim/payer/p-1/pay", "{\"key\":\"k-p1\"}", &j), 409);
    assert_string_equal(code_of(j), "ALREADY_PAID");
    cJSON_Delete(j);
    assert_string_equal(state_of("p-1"), "SUCCESS");
    assert_int_equal(post("/v1/payments/p-1/close", NULL, &j), 409);
    assert_string_equal(code_of(j), "ORDERPAID");
    cJSON_Delete(j);
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-1\",\"amount\":1000}", NULL), 200);
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-1\",\"amount\":1000}", NULL), 200);
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-1\",\"amount\":999}", &j), 409);
    assert_string_equal(code_of(j), "OUT_REFUND_NO_USED");
    cJSON_Delete(j);
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-2\",\"amount\":1000}", &j), 409);
    assert_string_equal(code_of(j), "REFUND_EXCEEDS_CHARGE");
    cJSON_Delete(j);
    assert_int_equal(post("/v1/refunds", "{\"out_trade_no\":\"p-1\",\"out_refund_no\":\"r-3\",\"amount\":999}", NULL), 200);
    assert_string_equal(state_of("p-1"), "REFUND");
    /* close, then pay refused */
    assert_int_equal(gw_t_create(fx.gw.url, "p-2", 500, notify, NULL), 200);
    assert_int_equal(post("/v1/payments/p-2/close", "{}", NULL), 200);
    assert_int_equal(post("/v1/payments/p-2/close", NULL, NULL), 200);
    assert_string_equal(state_of("p-2"), "CLOSED");
    assert_int_equal(post("/sim/payer/p-2/pay", NULL, &j), 409);
    assert_string_equal(code_of(j), "TRADE_CLOSED");
    cJSON_Delete(j);
    assert_int_equal(post("/sim/payer/p-none/pay", NULL, &j), 404);
    cJSON_Delete(j);

    cJSON *t = gw_t_ledger_trade(fx.gw.url, "p-1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "charges")), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "refunds")), 2);
    assert_int_equal(cJSON_GetObjectItem(t, "refunded_amount")->valuedouble, 1999);
    cJSON *refused = cJSON_GetObjectItem(t, "pay_refused");
    assert_int_equal(cJSON_GetArraySize(refused), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(refused, 0), "reason")->valuestring,
                        "ALREADY_PAID");
    assert_string_equal(cJSON_GetObjectItem(t, "attach")->valuestring, "k-p1");
    cJSON_Delete(t);
    t = gw_t_ledger_trade(fx.gw.url, "p-2");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(t, "closed_at")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "pay_refused"), 0),
                                            "reason")->valuestring, "TRADE_CLOSED");
    cJSON_Delete(t);
    assert_int_equal(gw_t_get(fx.gw.url, "/sim/status", &j), 200);
    assert_int_equal(cJSON_GetObjectItem(j, "charges")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "refunds")->valuedouble, 2);
    assert_int_equal(cJSON_GetObjectItem(j, "callbacks_pending")->valuedouble, 1);
    cJSON_Delete(j);
}

static long put_faults(const char *doc, cJSON **out)
{
    char u[256];
    snprintf(u, sizeof u, "%s/sim/faults", fx.gw.url);
    return pd_test_http_json("PUT", u, doc, NULL, out);
}

/* A raw request with a client timeout: returns the status, 0 when none. */
static long raw(const char *method, const char *path, const char *body, long timeout_ms,
                struct pd_http_resp *resp)
{
    char u[256];
    snprintf(u, sizeof u, "%s%s", fx.gw.url, path);
    pd_http_client *c = pd_http_client_new();
    int rc = pd_http_request(c, method, u, NULL, body, body ? strlen(body) : 0, timeout_ms, 0, resp);
    pd_http_client_free(c);
    return rc == PD_OK ? resp->status : 0;
}

static void test_op_faults(void **state)
{
    (void)state;
    struct pd_http_resp resp;
    cJSON *j = NULL;
    assert_int_equal(put_faults(
        "{\"rules\":["
        "{\"op\":\"create\",\"orders\":{\"out_trade_no\":[\"f-err\"]},\"nth\":1,\"action\":{\"type\":\"error\",\"status\":503,\"body\":{\"code\":\"SYSTEMERROR\",\"message\":\"try later\"}}},"
        "{\"op\":\"create\",\"orders\":{\"out_trade_no\":[\"f-rl\"]},\"action\":{\"type\":\"rate_limit\",\"retry_after\":\"2s\"}},"
        "{\"op\":\"create\",\"orders\":{\"out_trade_no\":[\"f-hang\"]},\"nth\":1,\"action\":{\"type\":\"hang\",\"duration\":\"3s\"}},"
        "{\"op\":\"create\",\"orders\":{\"out_trade_no\":[\"f-cd\"]},\"nth\":1,\"action\":{\"type\":\"commit_drop\",\"close\":true}},"
        "{\"op\":\"pay\",\"orders\":{\"keys\":[\"k-cdp\"]},\"nth\":1,\"action\":{\"type\":\"commit_drop\",\"duration\":\"300ms\"}},"
        "{\"op\":\"query\",\"orders\":{\"out_trade_no\":[\"f-sq\"]},\"action\":{\"type\":\"stale_query\",\"for\":\"1s\"}},"
        "{\"op\":\"query\",\"orders\":{\"out_trade_no\":[\"f-slow\"]},\"action\":{\"type\":\"slow\",\"fixed\":\"400ms\"}}]}",
        NULL), 200);
#define BODY "{\"out_trade_no\":\"%s\",\"amount\":100,\"currency\":\"CNY\"," \
             "\"notify_url\":\"http://127.0.0.1:9/notify\",\"merchant_id\":\"m-1\"}"
    char b[512];
    snprintf(b, sizeof b, BODY, "f-err");
    assert_int_equal(raw("POST", "/v1/payments", b, 5000, &resp), 503);
    assert_non_null(strstr(resp.body, "try later"));
    pd_http_resp_release(&resp);
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/f-err", NULL), 404);   /* nothing created */
    assert_int_equal(raw("POST", "/v1/payments", b, 5000, &resp), 200);    /* 2nd occurrence passes */
    pd_http_resp_release(&resp);

    snprintf(b, sizeof b, BODY, "f-rl");
    assert_int_equal(post("/v1/payments", b, &j), 429);
    assert_string_equal(code_of(j), "FREQUENCY_LIMITED");
    assert_int_equal(cJSON_GetObjectItem(j, "retry_after_ms")->valuedouble, 2000);
    cJSON_Delete(j);

    snprintf(b, sizeof b, BODY, "f-hang");
    int64_t t0 = pd_mono_ms();
    assert_int_equal(raw("POST", "/v1/payments", b, 1000, &resp), 0);      /* client timed out */
    assert_true(pd_mono_ms() - t0 >= 900);
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/f-hang", NULL), 404);

    snprintf(b, sizeof b, BODY, "f-cd");
    t0 = pd_mono_ms();
    assert_int_equal(raw("POST", "/v1/payments", b, 5000, &resp), 0);     /* connection closed */
    assert_true(pd_mono_ms() - t0 < 2000);
    assert_string_equal(state_of("f-cd"), "NOTPAY");                      /* but it exists */

    assert_int_equal(gw_t_create(fx.gw.url, "f-cdp", 100, notify, "k-cdp"), 200);
    assert_int_equal(raw("POST", "/sim/payer/f-cdp/pay", NULL, 5000, &resp), 0);
    assert_string_equal(state_of("f-cdp"), "SUCCESS");                    /* charged, caller never heard */

    assert_int_equal(gw_t_create(fx.gw.url, "f-sq", 100, notify, NULL), 200);
    assert_int_equal(gw_t_pay(fx.gw.url, "f-sq"), 200);
    assert_string_equal(state_of("f-sq"), "NOTPAY");                      /* stale for 1 s */
    pd_sleep_ms(1100);
    assert_string_equal(state_of("f-sq"), "SUCCESS");

    assert_int_equal(gw_t_create(fx.gw.url, "f-slow", 100, notify, NULL), 200);
    t0 = pd_mono_ms();
    assert_string_equal(state_of("f-slow"), "NOTPAY");
    assert_true(pd_mono_ms() - t0 >= 380);

    cJSON *jr = gw_t_journal(fx.gw.url);
    assert_int_equal(gw_t_count_lines(jr, "create", "f-err", "error"), 1);
    assert_int_equal(gw_t_count_lines(jr, "create", "f-hang", "hang"), 1);
    assert_int_equal(gw_t_count_lines(jr, "create", "f-cd", "commit_drop"), 1);
    assert_int_equal(gw_t_count_lines(jr, "pay", "f-cdp", "commit_drop"), 1);
    assert_int_equal(gw_t_count_lines(jr, "query", "f-sq", "stale_query"), 1);
    assert_int_equal(gw_t_count_lines(jr, "query", "f-slow", "slow"), 1);
    cJSON_Delete(jr);
}

static void test_faults_put_get(void **state)
{
    (void)state;
    cJSON *j = NULL;
    const char *good = "{\"rules\":[{\"op\":\"query\",\"action\":{\"type\":\"rate_limit\"}}]}";
    assert_int_equal(put_faults(good, NULL), 200);
    assert_int_equal(put_faults("{\"rules\":[{\"op\":\"query\",\"action\":{\"type\":\"drop\"}}]}", &j), 400);
    assert_string_equal(code_of(j), "PARAM_ERROR");
    assert_string_equal(cJSON_GetObjectItem(j, "message")->valuestring,
                        "rules[0].action.type: \"drop\" does not apply to op \"query\"");
    cJSON_Delete(j);
    assert_int_equal(put_faults("not json", &j), 400);
    cJSON_Delete(j);
    /* The old rules stay. */
    assert_int_equal(gw_t_get(fx.gw.url, "/sim/faults", &j), 200);
    char *text = cJSON_PrintUnformatted(j);
    assert_string_equal(text, good);
    free(text);
    cJSON_Delete(j);
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/p-1", NULL), 429);
    assert_int_equal(put_faults("{\"rules\":[]}", NULL), 200);
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/p-1", NULL), 200);
}

static void test_health_metrics_reset(void **state)
{
    (void)state;
    struct pd_http_resp resp;
    cJSON *j = NULL;
    assert_int_equal(gw_t_get(fx.gw.url, "/healthz", &j), 200);
    cJSON_Delete(j);
    assert_int_equal(raw("GET", "/metrics", NULL, 5000, &resp), 200);
    assert_non_null(strstr(resp.body, "gw_requests_total{op=\"create\",status=\"2xx\"}"));
    assert_non_null(strstr(resp.body, "gw_faults_total{action=\"commit_drop\"} 2"));
    assert_non_null(strstr(resp.body, "gw_callbacks_pending "));
    pd_http_resp_release(&resp);
    assert_int_equal(post("/sim/reset", NULL, NULL), 200);
    assert_int_equal(gw_t_get(fx.gw.url, "/sim/status", &j), 200);
    assert_int_equal(cJSON_GetObjectItem(j, "trades")->valuedouble, 0);
    assert_int_equal(cJSON_GetObjectItem(j, "callbacks_pending")->valuedouble, 0);
    cJSON_Delete(j);
    assert_int_equal(gw_t_get(fx.gw.url, "/v1/payments/p-1", NULL), 404);
    cJSON *jr = gw_t_journal(fx.gw.url);
    assert_int_equal(cJSON_GetArraySize(jr), 1);   /* only the 404 query since (reads of /sim/ are not journaled) */
    cJSON_Delete(jr);
}

static int run_check(const char *file)
{
    char bin[512], cmd[1200];
    pd_test_bin("mock-gateway", bin, sizeof bin);
    int n = snprintf(cmd, sizeof cmd, "'%s' --check-faults '%s' > '%s.out' 2>&1", bin, file,
                     file);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_check_faults_cli(void **state)
{
    (void)state;
    char good[512], bad[512], out[600];
    gw_t_write(fx.dir, "good.json", "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"drop\"}}]}", good);
    gw_t_write(fx.dir, "bad.json", "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"drop\"}},"
                                "{\"op\":\"callback\",\"nth\":{\"first\":0},\"action\":{\"type\":\"drop\"}}]}", bad);
    assert_int_equal(run_check(good), 0);
    assert_int_equal(run_check(bad), 2);
    snprintf(out, sizeof out, "%s.out", bad);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(out, 4096, &text, &len), PD_OK);
    char want[700];
    snprintf(want, sizeof want, "%s: rules[1].nth.first: must be an integer between 1 and 1000000\n", bad);
    assert_string_equal(text, want);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol),       cmocka_unit_test(test_op_faults),
        cmocka_unit_test(test_faults_put_get), cmocka_unit_test(test_health_metrics_reset),
        cmocka_unit_test(test_check_faults_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
