/* Proves the delivery scheduler keeps the default 24 h 4 m WeChat schedule
 * under libfaketime's speed-up (as paydrill runs it): mock-gateway runs with
 * LD_PRELOAD=libfaketimeMT and FAKETIME "@2026-01-01 00:00:00 x4000" (x2000
 * in the sanitizer build), the
 * receiver refuses every callback, and within seconds of real time all 16
 * attempts arrive, the gaps between them in the gateway's simulated clock
 * follow 15s,15s,30s,3m,...,6h, and the ledger says it gave up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_support.h"
#include "pd_test.h"
#include "pd_time.h"

#define FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
/* The sanitizer build runs a few times slower: a gentler clock there, and
 * more real lateness allowed per attempt. */
#ifdef GW_T_SANITIZE
#define SPEED 2000
#define LATE_REAL_MS 1000LL
#else
#define SPEED 4000
#define LATE_REAL_MS 500LL
#endif

static const int64_t schedule_s[15] = {15,   15,   30,    180,   600,   1200,  1800, 1800,
                                       1800, 3600, 10800, 10800, 10800, 21600, 21600};

static void test_default_schedule_in_seconds(void **state)
{
    (void)state;
    assert_int_equal(access(FAKETIME_LIB, R_OK), 0);   /* CI installs libfaketime */
    char dir[256], data[300];
    pd_test_tmpdir(dir);
    snprintf(data, sizeof data, "%s/data", dir);
    struct gw_rx rx;
    gw_rx_start(&rx);
    rx.answer = GW_RX_FAIL_500;
    char faketime[64];
    snprintf(faketime, sizeof faketime, "FAKETIME=@2026-01-01 00:00:00 x%d", SPEED);
    /* Under ASan libasan must come first; this lets it come second. */
    const char *env[] = {"LD_PRELOAD=" FAKETIME_LIB, faketime, "FAKETIME_NO_CACHE=1",
                         "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL};
    struct pd_proc gw;
    int64_t t0 = pd_mono_ms();
    /* 5 s simulated is ~1 ms real at this speed: give the receiver 10 min. */
    const char *args[] = {"--callback-timeout", "10m", NULL};
    gw_t_start(&gw, data, args, env);
    assert_int_equal(gw_t_create(gw.url, "ft-1", 1999, rx.url, "k-ft"), 200);
    assert_int_equal(gw_t_pay(gw.url, "ft-1"), 200);
    assert_true(gw_t_wait_quiet(gw.url, 90000));
    int64_t real_ms = pd_mono_ms() - t0;
    assert_true(real_ms < 60000);
    assert_int_equal(gw_rx_count(&rx), 16);

    cJSON *j = gw_t_journal(gw.url);
    int64_t at[16];
    int n = 0;
    cJSON *l;
    cJSON_ArrayForEach(l, j)
    {
        if (strcmp(cJSON_GetObjectItem(l, "op")->valuestring, "callback") == 0 && n < 16)
            at[n++] = (int64_t)cJSON_GetObjectItem(l, "at")->valuedouble;
    }
    assert_int_equal(n, 16);
    /* The simulated clock started at 2026-01-01 (start-up takes a few
     * hundred real ms: minutes to hours simulated at this speed). */
    if (at[0] < 1767225600000LL || at[0] > 1767225600000LL + 6 * 3600000LL)
        fail_msg("first callback at %lld, not just after 2026-01-01", (long long)at[0]);
    for (int k = 0; k < 15; k++) {
        int64_t gap = at[k + 1] - at[k];
        int64_t want = schedule_s[k] * 1000;
        /* Never early. Late by at most 10 % plus LATE_REAL_MS of real
         * time (2000 s simulated): on a shared 2-core machine a
         * runnable thread can wait that long, and each real ms counts
         * SPEED simulated ms. A mistaken step (3m for 3h, 15s for 15m...)
         * is still far outside this band for every step from 30 m on. */
        if (gap < want || gap > want + want / 10 + LATE_REAL_MS * SPEED) {
            for (int i = 0; i < 15; i++)
                fprintf(stderr, "gap %d: %lld\n", i, (long long)(at[i + 1] - at[i]));
            fail_msg("gap %d: %lld ms simulated, schedule says %lld ms", k, (long long)gap,
                     (long long)want);
        }
    }
    assert_true(at[15] - at[0] >= (24 * 60 + 4) * 60000LL);
    cJSON_Delete(j);
    cJSON *t = gw_t_ledger_trade(gw.url, "ft-1");
    cJSON *cb = cJSON_GetObjectItem(t, "callbacks");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cb, "gave_up")));
    assert_int_equal(cJSON_GetObjectItem(cb, "attempts")->valuedouble, 16);
    cJSON_Delete(t);
    fprintf(stderr, "24h4m schedule ran in %lld ms real\n", (long long)real_ms);
    pd_proc_kill9(&gw);
    gw_rx_stop(&rx);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_default_schedule_in_seconds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
