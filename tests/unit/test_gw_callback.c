/* Proves the pieces of callback delivery that need no network: the body is
 * the protocol's JSON and signs/verifies with the shared secret (and fails
 * with another secret, a tampered body or an old timestamp); the default
 * schedule is WeChat's 15 steps, 16 attempts over 24 h 4 m, after which the
 * gateway gives up; latency specs and --check-faults parse as documented;
 * and the JSON and id helpers escape and validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "gw_internal.h"
#include "gw_main.h"
#include "gw_util.h"
#include "pd_err.h"
#include "pd_sign.h"

static struct gw_trade sample(void)
{
    struct gw_trade t;
    memset(&t, 0, sizeof t);
    t.id = 17;
    strcpy(t.out_trade_no, "o-5f2c-1");
    strcpy(t.trade_no, "4200000017");
    strcpy(t.merchant_id, "m-1");
    t.amount = 1999;
    strcpy(t.currency, "CNY");
    strcpy(t.attach, "happy \"17\"");
    t.success_time = 1767225600123;
    return t;
}

static void test_body_shape(void **state)
{
    (void)state;
    struct gw_trade t = sample();
    char *body = gw__callback_body(&t, "SUCCESS", t.amount, t.out_trade_no, t.merchant_id);
    cJSON *doc = cJSON_Parse(body);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "event_id")->valuestring, "ev-4200000017-SUCCESS");
    assert_string_equal(cJSON_GetObjectItem(doc, "trade_state")->valuestring, "SUCCESS");
    assert_string_equal(cJSON_GetObjectItem(doc, "attach")->valuestring, "happy \"17\"");
    assert_int_equal((int64_t)cJSON_GetObjectItem(doc, "amount")->valuedouble, 1999);
    assert_int_equal((int64_t)cJSON_GetObjectItem(doc, "success_time")->valuedouble, 1767225600123);
    cJSON_Delete(doc);
    char *stale = gw__callback_body(&t, "NOTPAY", t.amount, t.out_trade_no, t.merchant_id);
    doc = cJSON_Parse(stale);
    assert_string_equal(cJSON_GetObjectItem(doc, "event_id")->valuestring, "ev-4200000017-NOTPAY");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "success_time")));
    cJSON_Delete(doc);
    free(stale);
    free(body);
}

static void test_signature(void **state)
{
    (void)state;
    struct gw_trade t = sample();
    char *body = gw__callback_body(&t, "SUCCESS", t.amount, t.out_trade_no, t.merchant_id);
    char *forged = gw__callback_body(&t, "SUCCESS", t.amount + 1, t.out_trade_no, t.merchant_id);
    char sig[PD_SIG_HEX_LEN + 1], nonce[PD_NONCE_LEN + 1], ts[24];
    int64_t now_s = 1767225600;
    assert_int_equal(pd_nonce(nonce), PD_OK);
    assert_int_equal(pd_sign("gw-secret", now_s, nonce, body, strlen(body), sig), PD_OK);
    snprintf(ts, sizeof ts, "%lld", (long long)now_s);
    assert_int_equal(pd_verify("gw-secret", ts, nonce, sig, body, strlen(body), now_s + 10, 300),
                     PD_SIG_OK);
    /* The same signature over a tampered body, or checked with another key. */
    assert_int_equal(pd_verify("gw-secret", ts, nonce, sig, forged, strlen(forged), now_s, 300),
                     PD_SIG_BAD);
    assert_int_equal(pd_verify("other", ts, nonce, sig, body, strlen(body), now_s, 300), PD_SIG_BAD);
    /* An hour-old timestamp, validly signed, is stale. */
    char old_ts[24];
    snprintf(old_ts, sizeof old_ts, "%lld", (long long)(now_s - 3600));
    pd_sign("gw-secret", now_s - 3600, nonce, body, strlen(body), sig);
    assert_int_equal(pd_verify("gw-secret", old_ts, nonce, sig, body, strlen(body), now_s, 300),
                     PD_SIG_STALE);
    free(forged);
    free(body);
}

static void test_schedule(void **state)
{
    (void)state;
    struct gw_config cfg;
    gw_config_defaults(&cfg);
    assert_int_equal(cfg.schedule_n, 15);
    int64_t total = 0, now = 0;
    int attempts = 1;   /* the first attempt went out at 0 and failed */
    for (;;) {
        int64_t due = gw__next_due(cfg.schedule_ms, cfg.schedule_n, attempts, now);
        if (due < 0)
            break;
        total += due - now;
        now = due;
        attempts++;
    }
    assert_int_equal(attempts, 16);
    assert_int_equal(total, (24 * 60 + 4) * 60 * 1000LL);
    assert_int_equal(gw__next_due(cfg.schedule_ms, cfg.schedule_n, 1, 1000), 16000);
    assert_int_equal(gw__next_due(cfg.schedule_ms, cfg.schedule_n, 4, 0), 180000);
    assert_int_equal(gw__next_due(cfg.schedule_ms, cfg.schedule_n, 0, 0), -1);
    int64_t tiny[2] = {100, 200};
    assert_int_equal(gw__next_due(tiny, 2, 2, 50), 250);
    assert_int_equal(gw__next_due(tiny, 2, 3, 50), -1);
}

static void test_latency_spec(void **state)
{
    (void)state;
    struct gw_dist d;
    assert_int_equal(gw_parse_latency("5ms", &d), PD_OK);
    assert_int_equal(d.kind, GW_DIST_FIXED);
    assert_int_equal(d.fixed_ms, 5);
    assert_int_equal(gw_parse_latency("uniform:1ms:10ms", &d), PD_OK);
    assert_int_equal(d.kind, GW_DIST_UNIFORM);
    assert_int_equal(d.hi_ms, 10);
    assert_int_equal(gw_parse_latency("lognormal:5ms:0.5", &d), PD_OK);
    assert_int_equal(d.kind, GW_DIST_LOGNORMAL);
    static const char *const bad[] = {"", "5", "uniform:1ms", "uniform:9ms:1ms", "lognormal:5ms:x",
                                      "normal:1ms:2ms", "lognormal:5ms:0.5:1", "-1ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_parse_latency(bad[i], &d), PD_EINVAL);
}

static void test_check_faults(void **state)
{
    (void)state;
    char path[] = "/tmp/gwcheck-XXXXXX";
    int fd = mkstemp(path);
    const char doc[] = "{\"rules\":[{\"op\":\"callback\",\"action\":{\"type\":\"duplicate\",\"copies\":0}}]}";
    assert_true(write(fd, doc, sizeof doc - 1) == (ssize_t)(sizeof doc - 1));
    close(fd);
    char out[512] = "", want[512];
    FILE *f = fmemopen(out, sizeof out, "w");
    assert_int_equal(gw_check_faults(path, f), 2);
    fclose(f);
    snprintf(want, sizeof want, "%s: rules[0].action.copies: must be an integer between 1 and 100\n",
             path);
    assert_string_equal(out, want);
    unlink(path);
    f = fmemopen(out, sizeof out, "w");
    assert_int_equal(gw_check_faults(path, f), 2);   /* now missing */
    fclose(f);
    assert_non_null(strstr(out, ": (file): cannot read"));
}

static void test_helpers(void **state)
{
    (void)state;
    struct pd_buf b;
    pd_buf_init(&b, 1024);
    assert_int_equal(gw_json_str(&b, "a\"b\\c\n\x01"), PD_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    pd_buf_release(&b);
    assert_true(gw_valid_id("o-1.x_Y", 64));
    assert_false(gw_valid_id("", 64));
    assert_false(gw_valid_id("a/b", 64));
    assert_false(gw_valid_id("ab", 1));
    assert_true(gw_valid_text("happy path 3", 128));
    assert_false(gw_valid_text("tab\there", 128));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_shape),   cmocka_unit_test(test_signature),
        cmocka_unit_test(test_schedule),     cmocka_unit_test(test_latency_spec),
        cmocka_unit_test(test_check_faults), cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
