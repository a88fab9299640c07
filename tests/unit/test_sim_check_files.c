/* Proves sim_check_run over a run folder on disk: it reads the six input
 * files, writes report.json (the same verdict as the document path) and a
 * merged journal.ndjson sorted by t with all three lanes, every line with
 * the gateway trade_no of its out_trade_no (null when G lacks it); a missing or
 * malformed file is refused with an error naming the file and the place;
 * and a synthetic 10,000-order run (one order deliberately lost) is checked
 * to the end, finding exactly that order. The large run prints its
 * peak memory so a regression is visible, but asserts no timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"
#include "check_model.h"
#include "pd_assert.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_test.h"
#include "pd_util.h"
#include "test_sim_check_fixture.h"

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(path, 1u << 30, &text, &len), PD_OK);
    return text;
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(pd_write_file(path, text, strlen(text)), PD_OK);
}

/* A journal line's trade_no: right after out_trade_no, the gateway's
 * trade_no of that trade (ledger.json) when G holds it, else null. Returns
 * 1 when it is a string. */
static int check_trade_no(const char *line, const cJSON *e)
{
    static const char *const trades[][2] = {{"o-1-1", "4200000001"}, {"o-2-1", "4200000002"}};
    const char *at = strstr(line, ",\"trade_no\":");
    assert_non_null(at);
    assert_true(strstr(line, ",\"out_trade_no\":") < at && at < strstr(line, ",\"kind\":"));
    const cJSON *otn = cJSON_GetObjectItem(e, "out_trade_no");
    const cJSON *tn = cJSON_GetObjectItem(e, "trade_no");
    for (size_t i = 0; i < PD_ARRAY_LEN(trades); i++) {
        if (cJSON_IsString(otn) && strcmp(otn->valuestring, trades[i][0]) == 0) {
            assert_true(cJSON_IsString(tn));
            assert_string_equal(tn->valuestring, trades[i][1]);
            return 1;
        }
    }
    assert_true(cJSON_IsNull(tn));
    return 0;
}

/* The base run as files: pass, report.json written, journal merged. */
static void test_run_dir(void **state)
{
    (void)state;
    char dir[256];
    pd_test_tmpdir(dir);
    const struct fx_edit edits[] = {
        {"run", "process_events", "[{'at':1767225605000,'target':'sut','action':'kill',"
                                  "'detail':'SIGKILL'}]"},
        /* a payer call on a trade G never opened: its line's trade_no is null */
        {"business", "payer[]", "{'key':'k-2','out_trade_no':'o-2-9','at':1767225604000,"
                                "'action':'pay','status':404,'code':'ORDERNOTEXIST'}"},
        {0}};
    cJSON *fx = fx_load(edits);
    fx_write_dir(fx, dir);
    put(dir, "sut.log", "log\n");
    struct sim_check_summary s;
    assert_int_equal(sim_check_run(dir, &s), PD_OK);
    assert_true(s.pass);
    assert_string_equal(s.scenario, "unit");
    assert_int_equal(s.counts.orders, 3);
    char *text = slurp(dir, "report.json");
    cJSON *r = cJSON_Parse(text);
    free(text);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "pass");
    const cJSON *logs = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "files"), "logs");
    assert_int_equal(cJSON_GetArraySize(logs), 1);
    assert_string_equal(cJSON_GetArrayItem(logs, 0)->valuestring, "sut.log");
    assert_string_equal(cJSON_GetObjectItem(r, "replay")->valuestring, "paydrill replay /tmp/unit");
    cJSON_Delete(r);

    text = slurp(dir, "journal.ndjson");
    long long prev = 0;
    int lines = 0, lanes = 0, process = 0, with_trade_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        cJSON *e = cJSON_Parse(line);
        assert_non_null(e);
        long long t = (long long)cJSON_GetObjectItem(e, "t")->valuedouble;
        assert_true(t >= prev);
        prev = t;
        const char *lane = cJSON_GetObjectItem(e, "lane")->valuestring;
        lanes |= strcmp(lane, "gateway") == 0 ? 1 : strcmp(lane, "sut") == 0 ? 2 : 4;
        const char *kind = cJSON_GetObjectItem(e, "kind")->valuestring;
        process += strcmp(kind, "process") == 0 && strcmp(lane, "sut") == 0;
        if (strcmp(kind, "charge") == 0) {
            assert_string_equal(cJSON_GetObjectItem(e, "order_id")->valuestring, "o-1");
            assert_string_equal(cJSON_GetObjectItem(e, "out_trade_no")->valuestring, "o-1-1");
        }
        with_trade_no += check_trade_no(line, e);
        cJSON_Delete(e);
    }
    free(text);
    /* 6 gateway + 8 history + 2 trades + 3 notifications + 4 submissions +
     * 2 pay calls + 3 payer + 1 business query + 4 receipts + 3 acks +
     * 1 process event; 6 + 2 + 2 + 2 of them name a trade G holds. */
    assert_int_equal(lines, 37);
    assert_int_equal(with_trade_no, 12);
    assert_int_equal(process, 1);
    assert_int_equal(lanes, 7);
    sim_check_summary_release(&s);
    cJSON_Delete(fx);
    pd_test_rmdir(dir);
}

/* The gateway journal's details, most of them left in the file by the
 * model and read back by the merge: every gateway line of journal.ndjson
 * has its own detail, whatever the line's place in the file (CRLF endings,
 * blank lines, a line earlier in the file than in time), its escapes, its
 * length (cut to the journal's 320 bytes) or whether it carries a fault
 * (kept in memory) or a null detail. */
static void test_gateway_details(void **state)
{
    (void)state;
    static const struct { const char *json, *want; } lines[] = {
        {"{\"seq\":1,\"at\":1767225601000,\"op\":\"create\",\"out_trade_no\":\"o-1-1\","
         "\"key\":\"k-1\",\"attempt\":1,\"fault\":null,\"status\":200,"
         "\"detail\":\"d1 caf\\u00e9 \\\"q\\\" back\\\\slash\"}\r\n",
         "create status=200 attempt=1 d1 caf\xc3\xa9 \"q\" back\\slash"},
        {"\n", NULL},
        {"{\"seq\":2,\"at\":1767225602000,\"op\":\"create\",\"out_trade_no\":\"o-2-1\","
         "\"key\":\"k-2\",\"attempt\":1,\"fault\":null,\"status\":200,\"detail\":null}\n",
         "create status=200 attempt=1"},
        /* later in time than the next line: the merge seeks back to it */
        {"{\"seq\":3,\"at\":1767225604000,\"op\":\"pay\",\"out_trade_no\":\"o-1-1\","
         "\"key\":\"k-1\",\"attempt\":1,\"fault\":null,\"status\":200,\"detail\":\"d3\"}\n",
         "pay status=200 attempt=1 d3"},
        {"{\"seq\":4,\"at\":1767225603000,\"op\":\"callback\",\"out_trade_no\":\"o-1-1\","
         "\"key\":\"k-1\",\"attempt\":1,\"fault\":\"drop\",\"status\":0,\"detail\":\"d4 kept\"}\n",
         "callback status=0 attempt=1 d4 kept"},
        {"{\"seq\":5,\"at\":1767225618000,\"op\":\"callback\",\"out_trade_no\":\"o-1-1\","
         "\"key\":\"k-1\",\"attempt\":2,\"fault\":null,\"status\":200,\"detail\":\"\"}\n",
         "callback status=200 attempt=2 "},
        {"{\"seq\":6,\"at\":1767225660000,\"op\":\"close\",\"out_trade_no\":\"o-2-1\","
         "\"key\":\"k-2\",\"attempt\":1,\"fault\":null,\"status\":200,\"detail\":\"d6 LONG\"}\n",
         "close status=200 attempt=1 d6 "},
    };
    _Static_assert(PD_ARRAY_LEN(lines) == 7, "found[] has a slot a line");
    char dir[256];
    pd_test_tmpdir(dir);
    cJSON *fx = fx_load(NULL);
    fx_write_dir(fx, dir);
    struct pd_buf b;
    pd_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < PD_ARRAY_LEN(lines); i++) {
        const char *long_at = strstr(lines[i].json, "LONG");
        if (long_at == NULL) {
            pd_buf_printf(&b, "%s", lines[i].json);
            continue;
        }
        pd_buf_printf(&b, "%.*s", (int)(long_at - lines[i].json), lines[i].json);
        for (int k = 0; k < 500; k++)
            pd_buf_printf(&b, "%c", 'a' + k % 26);
        pd_buf_printf(&b, "%s", long_at + 4);
    }
    put(dir, "gateway-journal.ndjson", b.data);
    pd_buf_release(&b);
    struct sim_check_summary s;
    assert_int_equal(sim_check_run(dir, &s), PD_OK);
    sim_check_summary_release(&s);

    char *text = slurp(dir, "journal.ndjson");
    int found[7] = {0}, gateway = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *e = cJSON_Parse(line);
        assert_non_null(e);
        if (strcmp(cJSON_GetObjectItem(e, "lane")->valuestring, "gateway") == 0) {
            const char *detail = cJSON_GetObjectItem(e, "detail")->valuestring;
            size_t i = 0;
            while (i < PD_ARRAY_LEN(lines) &&
                   (lines[i].want == NULL || strncmp(detail, lines[i].want,
                                                     strlen(lines[i].want)) != 0))
                i++;
            assert_true(i < PD_ARRAY_LEN(lines));
            found[i]++;
            if (strstr(lines[i].json, "LONG") != NULL) {   /* cut, not lost */
                assert_int_equal(strlen(detail), 319);
                assert_memory_equal(detail + strlen(lines[i].want), "abcdefghij", 10);
            } else {
                assert_string_equal(detail, lines[i].want);
            }
            gateway++;
        }
        cJSON_Delete(e);
    }
    free(text);
    assert_int_equal(gateway, 6);
    for (size_t i = 0; i < PD_ARRAY_LEN(lines); i++)
        assert_int_equal(found[i], lines[i].want != NULL);
    cJSON_Delete(fx);
    pd_test_rmdir(dir);
}

/* A broken run folder: the error names the file and what is wrong. */
static void test_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *file, *text, *error;
        int rc;
    } bad[] = {
        {"export.json", NULL, "export.json: missing or unreadable", PD_EINVAL},
        {"run.json", NULL, "run.json: missing", PD_EINVAL},
        {"export.json", "{\"orders\": [] x}",
         "export.json: byte 15: expected ',' or '}' after a member", PD_EINVAL},
        {"export.json", "{\"orders\": [{\"order_id\": \"o-1\" x}]}",
         "export.json: byte 12: orders[0]: not valid JSON", PD_EINVAL},
        {"export.json", "{\"orders\": [", "export.json: byte 12: expected a value", PD_EINVAL},
        {"ledger.json", "{\"trades\": [{\"out_trade_no\": 5}]}",
         "ledger.json: trades[0].out_trade_no: must be a string", PD_EINVAL},
        {"ledger.json", "{\"now\": 1}", "ledger.json: trades: required", PD_EINVAL},
        {"ledger.json", "[]", "ledger.json: byte 1: must be a JSON object", PD_EINVAL},
        {"business.json", "{\"submissions\": [], \"receipts\": [1]}",
         "business.json: receipts[0]: must be an object", PD_EINVAL},
        {"gateway-journal.ndjson", "{\"at\": 1, \"op\": \"pay\"}\n{oops\n",
         "gateway-journal.ndjson: line 2: not valid JSON", PD_EINVAL},
        {"run.json", "{\"quiet\": true", "run.json: not valid JSON", PD_EINVAL},
        {"scenario.json", "{\"description\": \"x\"}", "scenario.json: name: required", PD_EINVAL},
    };
    cJSON *fx = fx_load(NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[256], path[512];
        pd_test_tmpdir(dir);
        fx_write_dir(fx, dir);
        snprintf(path, sizeof path, "%s/%s", dir, bad[i].file);
        if (bad[i].text == NULL)
            remove(path);
        else
            put(dir, bad[i].file, bad[i].text);
        struct sim_check_summary s;
        assert_int_equal(sim_check_run(dir, &s), bad[i].rc);
        assert_string_equal(s.error, bad[i].error);
        sim_check_summary_release(&s);
        pd_test_rmdir(dir);
    }
    cJSON_Delete(fx);
}

/* ---- the large synthetic run ---- */

/* 10,000 by default; PD_CHECK_BIG_ORDERS=100000 tries the upper end by hand. */
static int big_orders = 10000;
#define BIG_ORDERS big_orders
#define LOST_ORDER 5000
#define T0 1767225600000LL

static FILE *open_out(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    return f;
}

/* Order i is paid (callback dropped once) unless i is odd-tenth: closed.
 * LOST_ORDER is closed in P although G charged it. */
static void big_ledger(const char *dir)
{
    FILE *f = open_out(dir, "ledger.json");
    fprintf(f, "{\"now\": %lld, \"trades\": [", T0 + 999999);
    for (int i = 0; i < BIG_ORDERS; i++) {
        bool paid = i % 10 != 7 || i == LOST_ORDER;
        long long t = T0 + i * 10;
        fprintf(f, "%s{\"out_trade_no\":\"o-%d-1\",\"trade_no\":\"42%d\",\"merchant_id\":\"m-1\","
                "\"amount\":%d,\"currency\":\"CNY\",\"attach\":\"big-%d\",\"state\":\"%s\","
                "\"created_at\":%lld,\"closed_at\":null,\"charges\":[",
                i ? "," : "", i, i, 100 + i, i, paid ? "SUCCESS" : "CLOSED", t + 1);
        if (paid)
            fprintf(f, "{\"at\":%lld,\"amount\":%d}", t + 2, 100 + i);
        fprintf(f, "],\"refunds\":[],\"refunded_amount\":0,\"pay_refused\":[],\"callbacks\":"
                "{\"attempts\":2,\"acked\":true,\"acked_at\":%lld,\"gave_up\":false,"
                "\"pending\":false}}", t + 3);
    }
    fputs("]}\n", f);
    fclose(f);
    f = open_out(dir, "gateway-journal.ndjson");
    for (int i = 0; i < BIG_ORDERS; i++) {
        long long t = T0 + i * 10;
        fprintf(f, "{\"seq\":%d,\"at\":%lld,\"op\":\"create\",\"out_trade_no\":\"o-%d-1\","
                "\"key\":\"big-%d\",\"attempt\":1,\"fault\":null,\"status\":200,\"detail\":\"\"}\n",
                3 * i, t + 1, i, i);
        fprintf(f, "{\"seq\":%d,\"at\":%lld,\"op\":\"callback\",\"out_trade_no\":\"o-%d-1\","
                "\"key\":\"big-%d\",\"attempt\":1,\"fault\":\"drop\",\"status\":0,\"detail\":\"\"}\n",
                3 * i + 1, t + 2, i, i);
        fprintf(f, "{\"seq\":%d,\"at\":%lld,\"op\":\"callback\",\"out_trade_no\":\"o-%d-1\","
                "\"key\":\"big-%d\",\"attempt\":2,\"fault\":null,\"status\":200,\"detail\":\"\"}\n",
                3 * i + 2, t + 3, i, i);
    }
    fclose(f);
}

static void big_export(const char *dir)
{
    FILE *f = open_out(dir, "export.json");
    fputs("{\"orders\": [", f);
    for (int i = 0; i < BIG_ORDERS; i++) {
        bool paid = i % 10 != 7 && i != LOST_ORDER;
        long long t = T0 + i * 10;
        const char *st = paid ? "PAID" : "CLOSED";
        fprintf(f, "%s{\"order_id\":\"o-%d\",\"merchant_id\":\"m-1\",\"user_id\":\"u-%d\","
                "\"client_ref\":\"big-%d\",\"amount\":%d,\"currency\":\"CNY\",\"items\":[],"
                "\"status\":\"%s\",\"created_at\":%lld,\"expires_at\":%lld,\"fingerprint\":\"f\","
                "\"history\":[{\"at\":%lld,\"from\":null,\"to\":\"UNPAID\",\"cause\":\"submit\"},"
                "{\"at\":%lld,\"from\":\"UNPAID\",\"to\":\"PAYING\",\"cause\":\"pay\"},"
                "{\"at\":%lld,\"from\":\"PAYING\",\"to\":\"%s\",\"cause\":\"callback\"}],"
                "\"trades\":[{\"out_trade_no\":\"o-%d-1\",\"attempt\":1,\"state\":\"SUCCESS\","
                "\"created_at\":%lld}],\"refunds\":[],\"notifications\":[{\"event_id\":\"ev-o-%d-1\","
                "\"seq\":1,\"status\":\"%s\",\"attempts\":1,\"delivered_at\":%lld,"
                "\"last_http_status\":200}]}",
                i ? "," : "", i, i, i, 100 + i, st, t, t + 900000, t, t + 1, t + 3, st, i, t + 1,
                i, st, t + 4);
    }
    fputs("], \"next_after\": null}\n", f);
    fclose(f);
}

static void big_business(const char *dir)
{
    FILE *f = open_out(dir, "business.json");
    fputs("{\"submissions\": [", f);
    for (int i = 0; i < BIG_ORDERS; i++) {
        long long t = T0 + i * 10;
        fprintf(f, "%s{\"key\":\"big-%d\",\"seq\":0,\"kind\":\"original\",\"original_key\":"
                "\"big-%d\",\"at\":%lld,\"status\":201,\"order_id\":\"o-%d\",\"error\":null,"
                "\"client_ref\":\"big-%d\",\"amount\":%d,\"currency\":\"CNY\",\"merchant_id\":"
                "\"m-1\",\"user_id\":\"u-%d\"}", i ? "," : "", i, i, t, i, i, 100 + i, i);
        if (i % 3 == 0)
            fprintf(f, ",{\"key\":\"big-%d\",\"seq\":1,\"kind\":\"concurrent\",\"original_key\":"
                    "\"big-%d\",\"at\":%lld,\"status\":409,\"order_id\":\"o-%d\",\"error\":"
                    "\"duplicate_submission\",\"client_ref\":\"big-%d~dup1\",\"amount\":%d,"
                    "\"currency\":\"CNY\"}", i, i, t, i, i, 100 + i);
    }
    fputs("], \"pay_calls\": [], \"payer\": [], \"receipts\": [", f);
    for (int i = 0; i < BIG_ORDERS; i++) {
        bool paid = i % 10 != 7 && i != LOST_ORDER;
        fprintf(f, "%s{\"at\":%lld,\"event_id\":\"ev-o-%d-1\",\"order_id\":\"o-%d\",\"seq\":1,"
                "\"status\":\"%s\",\"amount\":%d,\"currency\":\"CNY\",\"client_ref\":\"big-%d\","
                "\"signature_ok\":true,\"answered\":200,\"applied\":true}",
                i ? "," : "", T0 + i * 10 + 4, i, i, paid ? "PAID" : "CLOSED", 100 + i, i);
    }
    fputs("]}\n", f);
    fclose(f);
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_large_run(void **state)
{
    (void)state;
    const char *n = getenv("PD_CHECK_BIG_ORDERS");
    if (n != NULL && atoi(n) > LOST_ORDER)
        big_orders = atoi(n);
    char dir[256];
    pd_test_tmpdir(dir);
    cJSON *fx = fx_load(NULL);
    fx_write_dir(fx, dir);      /* scenario.json and run.json; the rest is replaced */
    cJSON_Delete(fx);
    big_ledger(dir);
    big_export(dir);
    big_business(dir);
    long before = peak_rss_kb();
    struct sim_check_summary s;
    int rc = sim_check_run(dir, &s);
    if (rc != PD_OK)
        fail_msg("sim_check_run: %s", s.error);
    long after = peak_rss_kb();
    print_message("%d orders: peak RSS %ld KiB before the check, %ld KiB after "
                  "(%.2f KiB per order at most)\n", BIG_ORDERS, before, after,
                  (double)(after - before) / BIG_ORDERS);
    fx_dump(&s);
    assert_false(s.pass);
    assert_int_equal(s.counts.orders, BIG_ORDERS);
    assert_int_equal(s.violations[SIM_INV_NO_LOST_PAYMENT], 1);
    assert_true(fx_has(&s, "no_lost_payment", "o-5000"));
    int64_t total = 0;
    for (int i = 0; i < SIM_INV_COUNT; i++)
        total += s.violations[i];
    /* The lost order is CLOSED everywhere except in G: it was closed without
     * the gateway's confirmation (legal_history) and its charge is not
     * accounted for at the end (convergence); nothing else breaks. */
    assert_int_equal(s.violations[SIM_INV_LEGAL_HISTORY], 1);
    assert_true(fx_has(&s, "legal_history", "o-5000"));
    assert_int_equal(s.violations[SIM_INV_CONVERGENCE], 1);
    assert_true(fx_has(&s, "convergence", "o-5000"));
    assert_int_equal(total, 3);
    assert_int_equal(s.counts.duplicates_sent, (BIG_ORDERS + 2) / 3);
    assert_int_equal(s.counts.duplicates_rejected, (BIG_ORDERS + 2) / 3);
    assert_int_equal(s.counts.callbacks, 2 * BIG_ORDERS);
    sim_check_summary_release(&s);

    /* The gateway lines without a fault were left in the file and read
     * again by the merge: keeping every line whole gives the same bytes. */
    char *report = slurp(dir, "report.json"), *journal = slurp(dir, "journal.ndjson");
    sim__gj_keep_whole = true;
    rc = sim_check_run(dir, &s);
    sim__gj_keep_whole = false;
    assert_int_equal(rc, PD_OK);
    sim_check_summary_release(&s);
    char *report2 = slurp(dir, "report.json"), *journal2 = slurp(dir, "journal.ndjson");
    assert_true(strcmp(report, report2) == 0);
    assert_true(strcmp(journal, journal2) == 0);
    free(report);
    free(journal);
    free(report2);
    free(journal2);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_dir),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_gateway_details),
        cmocka_unit_test(test_large_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
