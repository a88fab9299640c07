/* The business receiver over real HTTP on loopback: a verified PAID
 * notification is applied once and wakes the driver worker waiting for
 * that order (sim_business_wait), and only that one; a forged one (bad
 * signature) applies nothing and wakes no one; a wait with no
 * notification ends at its timeout with NULL; stopping the receiver
 * releases every waiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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

static const char doc[] = "{\"name\": \"biz\", \"workload\": {\"orders\": 4}}";

#define WAITERS_MAX 4

struct fixture {
    struct sim_scenario s;
    struct sim_timeline tl;
    sim_business *b;
    char url[128];
    pd_http_client *http;
    /* Waiters started by start_waiter and not yet joined, with their
     * arguments here rather than in a case's frame: a failed assert leaves
     * that frame while they still run until teardown releases them. */
    pthread_t waiters[WAITERS_MAX];
    bool live[WAITERS_MAX];
    struct waiting {
        sim_business *b;
        const char *order_id;
        int64_t real_ms;
        const char *got;
        atomic_bool done;
    } waiting[WAITERS_MAX];
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    char err[SIM_ERR_MAX];
    if (sim_scenario_parse("biz.json", doc, strlen(doc), NULL, &f.s, err) != PD_OK)
        fail_msg("%s", err);
    sim_timeline_init(&f.tl, 1700000000000LL, pd_mono_ms(), 1.0);
    assert_int_equal(sim_business_start(&f.s, &f.tl, 0, &f.b, f.url), PD_OK);
    f.http = pd_http_client_new();
    assert_non_null(f.http);
    *state = &f;
    return 0;
}

/* A failed assert leaves the case with waiters parked: stopping the
 * receiver releases them, so they are joined before it is freed. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    sim_business_stop(f->b);
    for (int i = 0; i < WAITERS_MAX; i++)
        if (f->live[i])
            pthread_join(f->waiters[i], NULL);
    pd_http_client_free(f->http);
    sim_business_free(f->b);
    sim_scenario_release(&f->s);
    return 0;
}

/* POSTs one notification for order_id, signed with secret, with tail
 * after its JSON object; returns the HTTP status. */
static long notify_tail(struct fixture *f, const char *secret, const char *order_id,
                        const char *event_id, const char *tail)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"event_id\":\"%s\",\"order_id\":\"%s\",\"client_ref\":\"biz-%s\","
                     "\"status\":\"PAID\",\"seq\":1,\"amount\":100,\"currency\":\"CNY\"}%s",
                     event_id, order_id, order_id, tail);
    int64_t ts = sim_time_now(&f->tl) / 1000;
    char nonce[PD_NONCE_LEN + 1], sig[PD_SIG_HEX_LEN + 1];
    assert_int_equal(pd_nonce(nonce), PD_OK);
    assert_int_equal(pd_sign(secret, ts, nonce, body, (size_t)n, sig), PD_OK);
    char h_ts[64], h_nonce[96], h_sig[128];
    snprintf(h_ts, sizeof h_ts, "X-Paydrill-Timestamp: %" PRId64, ts);
    snprintf(h_nonce, sizeof h_nonce, "X-Paydrill-Nonce: %s", nonce);
    snprintf(h_sig, sizeof h_sig, "X-Paydrill-Signature: %s", sig);
    const char *headers[] = {"Content-Type: application/json", h_ts, h_nonce, h_sig, NULL};
    struct pd_http_resp resp;
    assert_int_equal(pd_http_request(f->http, "POST", f->url, headers, body, (size_t)n, 10000, 0,
                                     &resp), PD_OK);
    long status = resp.status;
    pd_http_resp_release(&resp);
    return status;
}

static long notify(struct fixture *f, const char *secret, const char *order_id, const char *event_id)
{
    return notify_tail(f, secret, order_id, event_id, "");
}

static void *wait_main(void *arg)
{
    struct waiting *w = arg;
    w->got = sim_business_wait(w->b, w->order_id, w->real_ms);
    atomic_store(&w->done, true);
    return NULL;
}

/* Starts a waiter for order_id in slot i of the fixture; its result is
 * f->waiting[i].got once joined. */
static struct waiting *start_waiter(struct fixture *f, int i, const char *order_id,
                                    int64_t real_ms)
{
    struct waiting *w = &f->waiting[i];
    w->b = f->b;
    w->order_id = order_id;
    w->real_ms = real_ms;
    w->got = NULL;
    atomic_store(&w->done, false);
    assert_int_equal(pthread_create(&f->waiters[i], NULL, wait_main, w), 0);
    f->live[i] = true;
    return w;
}

static void join_waiter(struct fixture *f, int i)
{
    f->live[i] = false;
    assert_int_equal(pthread_join(f->waiters[i], NULL), 0);
}

static void test_wait_times_out_without_notification(void **state)
{
    struct fixture *f = *state;
    assert_null(sim_business_wait(f->b, "o-none", 0));
    int64_t t0 = pd_mono_ms();
    assert_null(sim_business_wait(f->b, "o-none", 30));
    assert_true(pd_mono_ms() - t0 >= 30);      /* it did wait */
    assert_int_equal(sim_business_applied_count(f->b), 0);
}

/* The waiter for o-1 gets PAID from the delivery that applies it; the
 * waiter for o-2 is still waiting afterwards (it was not woken by o-1's
 * delivery: its later result comes from o-2's). The waits' own timeout is
 * ten minutes: a wake-up that never comes fails the case at CTest's
 * 60-second timeout, not by a clock in the test. */
static void test_notification_wakes_its_waiter(void **state)
{
    struct fixture *f = *state;
    struct waiting *w1 = start_waiter(f, 0, "o-1", 600000);
    struct waiting *w2 = start_waiter(f, 1, "o-2", 600000);
    while (sim_business_waiting(f->b) < 2)      /* both parked before anything arrives */
        pd_sleep_ms(1);
    assert_int_equal(notify(f, SIM_SECRET_BUSINESS, "o-1", "e-1"), 200);
    join_waiter(f, 0);
    assert_non_null(w1->got);
    assert_string_equal(w1->got, "PAID");
    assert_int_equal(sim_business_waiting(f->b), 1);    /* o-2's waiter waits on */
    assert_int_equal(sim_business_applied_count(f->b), 1);
    /* A repeat of o-1's delivery does not apply again. */
    assert_int_equal(notify(f, SIM_SECRET_BUSINESS, "o-1", "e-1"), 200);
    assert_int_equal(sim_business_applied_count(f->b), 1);
    assert_int_equal(notify(f, SIM_SECRET_BUSINESS, "o-2", "e-2"), 200);
    join_waiter(f, 1);
    assert_non_null(w2->got);
    assert_string_equal(w2->got, "PAID");
    /* Already applied: no wait at all. */
    assert_string_equal(sim_business_wait(f->b, "o-1", 0), "PAID");
    assert_int_equal(sim_business_applied_count(f->b), 2);
    assert_int_equal(sim_business_deliveries(f->b), 3);
}

static void test_forged_notification_applies_nothing(void **state)
{
    struct fixture *f = *state;
    struct waiting *w = start_waiter(f, 0, "o-3", 1000);
    while (sim_business_waiting(f->b) < 1 && !atomic_load(&w->done))
        pd_sleep_ms(1);
    assert_int_equal(notify(f, "not-the-business-secret", "o-3", "e-3"), 401);
    join_waiter(f, 0);
    assert_null(w->got);
    assert_null(sim_business_wait(f->b, "o-3", 0));
    assert_int_equal(sim_business_applied_count(f->b), 0);
    assert_int_equal(sim_business_deliveries(f->b), 1);     /* recorded, not applied */
}

/* A correctly signed notification that is not one JSON document (bytes
 * after the object, or a raw control character in a string) is the SUT's
 * bug: refused (400), recorded, not applied. */
static void test_malformed_notification_applies_nothing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(notify_tail(f, SIM_SECRET_BUSINESS, "o-5", "e-5", "x"), 400);
    assert_int_equal(notify_tail(f, SIM_SECRET_BUSINESS, "o-5\t", "e-6", ""), 400);
    assert_null(sim_business_wait(f->b, "o-5", 0));
    assert_int_equal(sim_business_applied_count(f->b), 0);
    assert_int_equal(sim_business_deliveries(f->b), 2);
    assert_int_equal(notify(f, SIM_SECRET_BUSINESS, "o-5", "e-7"), 200);
    assert_int_equal(sim_business_applied_count(f->b), 1);
}

/* Stopping the receiver releases a caller parked for ten minutes: it
 * returns what is known (nothing), and a later wait does not park at all.
 * Without the release the join waits out the ten minutes and the case
 * fails at CTest's timeout. */
static void test_stop_releases_waiters(void **state)
{
    struct fixture *f = *state;
    struct waiting *w = start_waiter(f, 0, "o-4", 600000);
    while (sim_business_waiting(f->b) < 1)
        pd_sleep_ms(1);
    sim_business_stop(f->b);
    join_waiter(f, 0);
    assert_null(w->got);
    assert_int_equal(sim_business_waiting(f->b), 0);
    assert_null(sim_business_wait(f->b, "o-4", 600000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_times_out_without_notification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notification_wakes_its_waiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_notification_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_notification_applies_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_releases_waiters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
