/* Proves a SIGKILL of mock-gateway loses no charge and no owed callback:
 * trades are paid while the receiver refuses every callback, and payments
 * are still arriving when the gateway is killed -9. After a restart on the
 * same data dir, every payment that was answered 200 is in the ledger with
 * exactly one charge, every owed callback is delivered once the receiver
 * accepts, and the journal kept its lines and goes on numbering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_support.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

#define TRADES 120

struct payer {
    const char *url;
    long status[TRADES];
    volatile int stop_at;   /* pays trades [0, stop_at) until killed */
};

static void *pay_all(void *arg)
{
    struct payer *p = arg;
    char otn[32];
    for (int i = 0; i < TRADES; i++) {
        snprintf(otn, sizeof otn, "rs-%d", i);
        p->status[i] = gw_t_pay(p->url, otn);
    }
    return NULL;
}

static void test_sigkill_restart(void **state)
{
    (void)state;
    char dir[256], data[300];
    pd_test_tmpdir(dir);
    snprintf(data, sizeof data, "%s/data", dir);
    struct gw_rx rx;
    gw_rx_start(&rx);
    rx.answer = GW_RX_FAIL_500;
    const char *args[] = {"--callback-schedule", "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,"
                          "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
                          NULL};
    struct pd_proc gw;
    gw_t_start(&gw, data, args, NULL);
    char otn[32];
    for (int i = 0; i < TRADES; i++) {
        snprintf(otn, sizeof otn, "rs-%d", i);
        assert_int_equal(gw_t_create(gw.url, otn, 100 + i, rx.url, NULL), 200);
    }
    struct payer p = {.url = gw.url};
    pthread_t tid;
    pthread_create(&tid, NULL, pay_all, &p);
    /* Kill in the middle of the payments. */
    while (gw_rx_count(&rx) < 20)
        pd_sleep_ms(2);
    pd_proc_kill9(&gw);
    pthread_join(tid, NULL);
    int answered = 0;
    for (int i = 0; i < TRADES; i++)
        answered += p.status[i] == 200;
    assert_true(answered >= 1);
    /* The journal file as the killed process left it. */
    char jpath[400], *jtext = NULL;
    size_t jlen = 0;
    snprintf(jpath, sizeof jpath, "%s/journal.ndjson", data);
    assert_int_equal(pd_read_file(jpath, 64u << 20, &jtext, &jlen), 0);
    int lines_before = 0;
    for (size_t i = 0; i < jlen; i++)
        lines_before += jtext[i] == '\n';
    free(jtext);
    assert_true(lines_before >= TRADES + answered);

    rx.answer = GW_RX_ACK;
    gw_t_start(&gw, data, args, NULL);
    assert_true(gw_t_wait_quiet(gw.url, 30000));

    cJSON *ledger = NULL;
    gw_t_get(gw.url, "/sim/ledger", &ledger);
    cJSON *trades = cJSON_GetObjectItem(ledger, "trades");
    assert_int_equal(cJSON_GetArraySize(trades), TRADES);
    int charged = 0;
    for (int i = 0; i < TRADES; i++) {
        cJSON *t = cJSON_GetArrayItem(trades, i);
        int idx = atoi(cJSON_GetObjectItem(t, "out_trade_no")->valuestring + 3);
        int charges = cJSON_GetArraySize(cJSON_GetObjectItem(t, "charges"));
        assert_true(charges <= 1);
        if (p.status[idx] == 200)
            assert_int_equal(charges, 1);   /* answered 200 => in the ledger */
        charged += charges;
        cJSON *cb = cJSON_GetObjectItem(t, "callbacks");
        if (charges == 1) {
            assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cb, "acked")));
            snprintf(otn, sizeof otn, "\"rs-%d\"", idx);
            assert_true(gw_rx_count_body(&rx, otn) >= 1);
        }
    }
    assert_true(charged >= answered);
    cJSON_Delete(ledger);

    /* The journal kept its old lines and numbers on. */
    cJSON *journal = gw_t_journal(gw.url);
    int n = cJSON_GetArraySize(journal);
    assert_true(n > lines_before);
    for (int i = 0; i < n; i++)
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(journal, i), "seq")->valuedouble, i + 1);
    cJSON_Delete(journal);
    pd_proc_kill9(&gw);
    gw_rx_stop(&rx);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_restart)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
