/* Proves the business receiver's wait for an order's status
 * (sim_business_await), over real HTTP on loopback:
 * - a worker waiting for an order is woken by that order's signed
 *   delivery, well before its (long) wait runs out, and gets the status;
 * - a wait for an order nothing is delivered for ends with NULL when its
 *   time is up, and a delivery for another order does not end it early
 *   with a status;
 * - a forged delivery (bad signature) applies nothing: the wait for its
 *   order still ends with NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_sign.h"
#include "pd_time.h"
#include "sim_business.h"
#include "sim_procs.h"
#include "sim_scenario.h"
#include "sim_time.h"

#define LONG_WAIT_MS 30000

static const char doc[] = "{\"name\": \"biz\", \"seed\": 1, \"workload\": {\"orders\": 4}}";

struct post {
    char url[128];
    const char *order_id;
    bool forge;
    int64_t after_ms;       /* real delay before posting */
    int64_t now_sim_s;
    long status;            /* HTTP status of the answer */
};

static void *post_main(void *arg)
{
    struct post *p = arg;
    pd_sleep_ms(p->after_ms);
    char body[256], ts[32], sig[PD_SIG_HEX_LEN + 1], h[3][128];
    snprintf(body, sizeof body,
             "{\"event_id\":\"%s-paid\",\"order_id\":\"%s\",\"status\":\"PAID\","
             "\"amount\":100,\"currency\":\"CNY\",\"seq\":1}", p->order_id, p->order_id);
    snprintf(ts, sizeof ts, "%lld", (long long)p->now_sim_s);
    pd_sign(p->forge ? "not-the-secret" : SIM_SECRET_BUSINESS, p->now_sim_s, "nonce-1", body,
            strlen(body), sig);
    snprintf(h[0], sizeof h[0], "X-Paydrill-Timestamp: %s", ts);
    snprintf(h[1], sizeof h[1], "X-Paydrill-Nonce: nonce-1");
    snprintf(h[2], sizeof h[2], "X-Paydrill-Signature: %s", sig);
    const char *headers[] = {h[0], h[1], h[2], "Content-Type: application/json", NULL};
    pd_http_client *c = pd_http_client_new();
    struct pd_http_resp resp;
    p->status = -1;
    if (pd_http_request(c, "POST", p->url, headers, body, strlen(body), 10000, 0, &resp) == PD_OK)
        p->status = resp.status;
    pd_http_resp_release(&resp);
    pd_http_client_free(c);
    return NULL;
}

static void await_is_woken_by_its_delivery(void **state)
{
    (void)state;
    char err[SIM_ERR_MAX];
    struct sim_scenario s;
    if (sim_scenario_parse("biz.json", doc, NULL, &s, err) != PD_OK)
        fail_msg("%s", err);
    struct sim_timeline tl;
    sim_timeline_init(&tl, 1767225600000LL, pd_mono_ms(), 1.0);
    sim_business *b = NULL;
    struct post p = {.order_id = "o-1", .after_ms = 200};
    assert_int_equal(sim_business_start(&s, &tl, 0, &b, p.url), PD_OK);
    p.now_sim_s = sim_time_now(&tl) / 1000;

    /* Nothing delivered: the short wait runs out. */
    assert_null(sim_business_await(b, "o-1", 50));

    /* Forged, then another order's delivery: neither gives o-1 a status. */
    struct post forged = p, other = p;
    forged.forge = true;
    forged.after_ms = 0;
    other.order_id = "o-2";
    other.after_ms = 0;
    post_main(&forged);
    post_main(&other);
    assert_int_equal(forged.status, 401);
    assert_int_equal(other.status, 200);
    assert_null(sim_business_await(b, "o-1", 100));
    assert_string_equal(sim_business_await(b, "o-2", 0), "PAID");

    /* The real delivery, 200 ms from now, ends a 30 s wait. */
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, post_main, &p), 0);
    int64_t t0 = pd_mono_ms();
    const char *st = sim_business_await(b, "o-1", LONG_WAIT_MS);
    int64_t waited = pd_mono_ms() - t0;
    pthread_join(tid, NULL);
    assert_int_equal(p.status, 200);
    assert_non_null(st);
    assert_string_equal(st, "PAID");
    print_message("woken after %lld ms of a %d ms wait\n", (long long)waited, LONG_WAIT_MS);
    assert_true(waited < LONG_WAIT_MS / 2);     /* woken, not timed out */
    sim_business_free(b);
    sim_scenario_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(await_is_woken_by_its_delivery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
