/* Proves the writers on fixture run folders (tests/data/reports): a
 * passing run gives a junit.xml with one passing test case per invariant;
 * a failing run gives <failure>s whose message names the orders and whose
 * text holds evidence, faults and the replay command; a hostile run's
 * report.html and junit.xml carry every hostile string escaped (no raw
 * markup from data, exactly our two <script> elements); a suite gives an
 * index with a row and a relative link per run and a merged junit.xml;
 * malformed inputs (missing report.json, bad JSON, wrong schema, a wrong
 * field, a bad journal line, more distinct kinds and faults than an event
 * can index, broken JSON inside the orders that are parsed one at a time,
 * a duplicate or escaped "orders" key, a wrong expectations element) give
 * PD_E* codes and messages naming the file and the field or line; a run
 * that fails only on an unmet expectation says so in junit.xml,
 * report.html and the suite index. Each test works on a fresh copy in
 * /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pd_err.h"
#include "pd_test.h"
#include "pd_buf.h"
#include "pd_util.h"
#include "rpt.h"
#include "rpt_internal.h"

#ifndef RPT_FIXTURES
#error "RPT_FIXTURES must name tests/data/reports"
#endif

struct fx {
    char dir[256];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    pd_test_tmpdir(fx->dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp -r '%s/pass' '%s/fail' '%s/hostile' '%s/expect' '%s/'",
             RPT_FIXTURES, RPT_FIXTURES, RPT_FIXTURES, RPT_FIXTURES, fx->dir);
    assert_int_equal(system(cmd), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    pd_test_rmdir(fx->dir);
    free(fx);
    return 0;
}

/* dir/name into out; false when it does not fit. */
static bool join_path(char *out, size_t out_len, const char *dir, const char *name)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < out_len;
}

/* noinline: inlined into its callers, GCC 12 at -O3 takes the returned
 * buffer for a pointer to the local `text` (-Wdangling-pointer false
 * positive) and a Release build fails. */
__attribute__((noinline)) static char *slurp(const char *dir, const char *name)
{
    char path[512];
    assert_true(join_path(path, sizeof path, dir, name));
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(path, (size_t)64 << 20, &text, &len), PD_OK);
    return text;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void write_run(const struct fx *fx, const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", fx->dir, name);
    int rc = rpt_write_run(dir);
    if (rc != PD_OK)
        fail_msg("rpt_write_run(%s): %s", dir, rpt_last_error());
}

static void test_junit_pass(void **state)
{
    struct fx *fx = *state;
    write_run(fx, "pass");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    char *x = slurp(dir, "junit.xml");
    assert_non_null(strstr(x, "<testsuite name=\"happy-path\" tests=\"5\" failures=\"0\" errors=\"0\""));
    assert_int_equal(count(x, "<testcase "), 5);
    assert_int_equal(count(x, "<failure"), 0);
    assert_non_null(strstr(x, "<property name=\"seed\" value=\"7\"/>"));
    assert_non_null(strstr(x, "<testcase name=\"no_double_charge\" classname=\"paydrill.happy-path\""));
    free(x);
    char *h = slurp(dir, "report.html");
    assert_non_null(strstr(h, "<div class=\"verdict\" id=\"verdict\">PASS</div>"));
    assert_non_null(strstr(h, "No invariant was violated."));
    free(h);
}

static void test_junit_fail(void **state)
{
    struct fx *fx = *state;
    write_run(fx, "fail");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fail", fx->dir);
    char *x = slurp(dir, "junit.xml");
    assert_non_null(strstr(x, "tests=\"5\" failures=\"2\""));
    assert_int_equal(count(x, "<failure "), 2);
    assert_non_null(strstr(x, "message=\"no_double_charge violated by 1 order: "
                              "o-7a10c0de00000003 (key chaos-3)\""));
    assert_non_null(strstr(x, "message=\"no_lost_payment violated by 1 order: "
                              "o-7a10c0de00000006 (key chaos-6)\""));
    /* the text: evidence, faults, plan, replay */
    assert_non_null(strstr(x, "faults met: create.commit_drop attempt 1; callback.duplicate attempt 1"));
    assert_non_null(strstr(x, "kind=query.stale_query"));
    assert_non_null(strstr(x, "&quot;state&quot;:\t&quot;SUCCESS&quot;"));
    assert_true(count(x, "replay: paydrill replay /work/runs/2026-11-26T030000Z/callback-chaos") >= 2);
    free(x);
    char *h = slurp(dir, "report.html");
    assert_non_null(strstr(h, "id=\"verdict\">FAIL</div>"));
    /* violations come before the invariants, the orders and the histograms */
    const char *v = strstr(h, "<section id=\"violations\">");
    assert_non_null(v);
    assert_true(v < strstr(h, "<section id=\"invariants\">"));
    assert_true(v < strstr(h, "<section id=\"orders\">"));
    assert_int_equal(count(h, "<details class=\"viol\""), 2);
    assert_non_null(strstr(h, "<svg viewBox"));
    assert_non_null(strstr(h, "(7 orders)"));   /* 7 reached PAID after a pay */
    free(h);
}

/* The expect fixture: no invariant violated, verdict fail because one of
 * its two expectations was not met. junit.xml has a test case per
 * expectation, a failure for the unmet one only and no generic verdict
 * case; report.html says why it failed and lists both; the suite index
 * row shows the unmet expectation. */
static void test_expectations(void **state)
{
    struct fx *fx = *state;
    write_run(fx, "expect");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/expect", fx->dir);
    char *x = slurp(dir, "junit.xml");
    assert_non_null(strstr(x, "<testsuite name=\"close-refused-just-paid\" tests=\"7\" "
                              "failures=\"1\" errors=\"0\""));
    assert_int_equal(count(x, "<testcase "), 7);
    assert_int_equal(count(x, "<failure "), 1);
    assert_non_null(strstr(x, "<testcase name=\"expectation 1: count paid\" "
                              "classname=\"paydrill.close-refused-just-paid\" time=\"0\"/>"));
    assert_non_null(strstr(x, "<testcase name=\"expectation 2: gateway op=close status=409 "
                              "detail~ORDERPAID\" classname=\"paydrill.close-refused-just-paid"
                              "\" time=\"0\">\n      <failure type=\"expectation not met\" "
                              "message=\"seen 0, expected at least 1: the scenario's story did "
                              "not happen (a close raced the payment &amp; the gateway refused "
                              "it)\">"));
    assert_non_null(strstr(x, "expect: {&quot;gateway&quot;:{&quot;op&quot;:&quot;close&quot;"));
    assert_non_null(strstr(x, "replay: paydrill replay /work/runs/2026-11-26T030000Z/"
                              "close-refused-just-paid"));
    assert_null(strstr(x, "<testcase name=\"verdict\""));
    free(x);

    char *h = slurp(dir, "report.html");
    assert_non_null(strstr(h, "id=\"verdict\">FAIL</div>"));
    assert_non_null(strstr(h, "<p class=\"reason\" id=\"fail-reason\">No invariant was "
                              "violated: the run fails because <a href=\"#expectations\">1 of 2 "
                              "expectations was not met</a>"));
    assert_non_null(strstr(h, "<span class=\"k\">expectations met</span><span class=\"v\">"
                              "1 of 2</span>"));
    assert_non_null(strstr(h, "<a href=\"#expectations\">expectations</a>"));
    const char *sec = strstr(h, "<section id=\"expectations\">");
    assert_non_null(sec);
    assert_true(sec > strstr(h, "<section id=\"violations\">"));
    assert_true(sec < strstr(h, "<section id=\"invariants\">"));
    assert_non_null(strstr(sec, "<h2>Expectations <span class=\"n\">1 not met</span></h2>"));
    assert_non_null(strstr(sec, "<tr class=\"ok\"><td>count paid</td><td>orders get paid</td>"
                                "<td>1</td><td>3</td><td>met</td></tr>"));
    assert_non_null(strstr(sec, "<tr class=\"bad\"><td>gateway op=close status=409 "
                                "detail~ORDERPAID</td><td>a close raced the payment &amp; the "
                                "gateway refused it</td><td>1</td><td>0</td><td>NOT MET</td></tr>"));
    free(h);

    /* A run without expectations (an older report.json) shows none of it. */
    write_run(fx, "pass");
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    h = slurp(dir, "report.html");
    assert_null(strstr(h, "<section id=\"expectations\">"));
    assert_null(strstr(h, "<a href=\"#expectations\""));
    assert_null(strstr(h, "expectations met"));
    free(h);

    char out[512], expect_dir[512], pass_dir[512];
    snprintf(out, sizeof out, "%s/out-expect", fx->dir);
    snprintf(expect_dir, sizeof expect_dir, "%s/expect", fx->dir);
    snprintf(pass_dir, sizeof pass_dir, "%s/pass", fx->dir);
    const char *list[] = {pass_dir, expect_dir};
    assert_int_equal(rpt_write_suite(out, list, 2), PD_OK);
    char *idx = slurp(out, "index.html");
    const char *row = strstr(idx, "<a href=\"../expect/report.html\">close-refused-just-paid</a>");
    assert_non_null(row);
    assert_non_null(strstr(row, "<span class=\"inv\">expectation not met</span> &times;1"));
    assert_int_equal(count(idx, "expectation not met"), 1);   /* not on the pass row */
    free(idx);
    x = slurp(out, "junit.xml");
    assert_non_null(strstr(x, "<testsuites name=\"paydrill\" tests=\"12\" failures=\"1\" "
                              "errors=\"0\""));
    free(x);
}

/* Between the data block and our script, only our two <script> tags. */
static void test_hostile(void **state)
{
    struct fx *fx = *state;
    write_run(fx, "hostile");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/hostile", fx->dir);
    char *h = slurp(dir, "report.html");
    assert_int_equal(count(h, "<script"), 2);
    assert_int_equal(count(h, "</script"), 2);
    assert_null(strstr(h, "<img"));
    assert_null(strstr(h, "<b id"));
    assert_null(strstr(h, "<svg onload"));
    assert_null(strstr(h, "<!-- "));
    assert_null(strstr(h, "\xE2\x80\xA8"));   /* U+2028 only as \u2028 in the data */
    assert_non_null(strstr(h, "&lt;/script&gt;&lt;script&gt;document.title=&#39;pwned&#39;"));
    const char *data = strstr(h, "<script type=\"application/json\" id=\"rpt-data\">");
    assert_non_null(data);
    assert_non_null(strstr(data, "\\u003c/script\\u003e\\u003cscript\\u003edocument.title="));
    assert_non_null(strstr(data, "\\u2028\\u2029"));
    free(h);
    char *x = slurp(dir, "junit.xml");
    assert_null(strstr(x, "\x01"));
    assert_null(strstr(x, "\x07"));
    assert_null(strstr(x, "<script"));
    assert_non_null(strstr(x, "&lt;/script&gt;&lt;script&gt;document.title=&apos;pwned&apos;"));
    free(x);
}

static void test_suite(void **state)
{
    struct fx *fx = *state;
    char out[512], dirs[3][512];
    const char *names[] = {"pass", "fail", "hostile"};
    const char *list[3];
    for (size_t i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", fx->dir, names[i]);
        list[i] = dirs[i];
    }
    snprintf(out, sizeof out, "%s/out", fx->dir);
    assert_int_equal(rpt_write_suite(out, list, 3), PD_OK);
    char *idx = slurp(out, "index.html");
    assert_int_equal(count(idx, "<tr class="), 3);
    assert_non_null(strstr(idx, "<a href=\"../pass/report.html\">happy-path</a>"));
    assert_non_null(strstr(idx, "<a href=\"../fail/report.html\">callback-chaos</a>"));
    assert_non_null(strstr(idx, "<span class=\"inv\">no_lost_payment</span> &times;1"));
    assert_non_null(strstr(idx, "id=\"verdict\">FAIL</div>"));
    assert_null(strstr(idx, "<script"));
    free(idx);
    char *x = slurp(out, "junit.xml");
    assert_non_null(strstr(x, "<testsuites name=\"paydrill\" tests=\"12\" failures=\"3\" errors=\"0\""));
    assert_int_equal(count(x, "<testsuite "), 3);
    assert_non_null(strstr(x, "<testsuite name=\"callback-chaos\" tests=\"5\" failures=\"2\""));
    free(x);
}

static void expect_error(const char *dir, int want_rc, const char *want_a, const char *want_b)
{
    int rc = rpt_write_run(dir);
    const char *msg = rpt_last_error();
    if (rc != want_rc || strstr(msg, want_a) == NULL || strstr(msg, want_b) == NULL)
        fail_msg("rc %d (want %d), message \"%s\" (want \"%s\" and \"%s\")", rc, want_rc, msg,
                 want_a, want_b);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    assert_true(join_path(path, sizeof path, dir, name));
    assert_int_equal(pd_write_file(path, text, strlen(text)), PD_OK);
}

static void test_malformed(void **state)
{
    struct fx *fx = *state;
    char dir[512], other[512];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    snprintf(other, sizeof other, "%s/nothing-here", fx->dir);
    assert_int_equal(pd_mkdirs(other), PD_OK);
    expect_error(other, PD_ENOTFOUND, "nothing-here/report.json", "missing");
    char *good = slurp(dir, "report.json");
    put(dir, "report.json", "{\"schema\": \"paydrill.report/1\",\n \"seed\": 1,,}");
    expect_error(dir, PD_EINVAL, "pass/report.json", "not valid JSON (line 2");
    put(dir, "report.json", "{\"schema\": \"paydrill.report/2\"}");
    expect_error(dir, PD_EINVAL, "pass/report.json", "schema: expected \"paydrill.report/1\"");
    char *bad = strdup(good);
    char *holds = strstr(bad, "\"holds\": true");
    assert_non_null(holds);
    memcpy(holds, "\"holds\": 1   ", 13);
    put(dir, "report.json", bad);
    expect_error(dir, PD_EINVAL, "pass/report.json", "invariants[0].holds: must be true or false");
    free(bad);
    put(dir, "report.json", good);
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\"}\n\n"
                               "{\"t\": 2, \"lane\": \"moon\", \"kind\": \"x\"}\n");
    char junit[600];
    snprintf(junit, sizeof junit, "%s/junit.xml", dir);
    unlink(junit);
    expect_error(dir, PD_EINVAL, "pass/journal.ndjson:3", "lane: must be");
    assert_int_equal(access(junit, F_OK), 0);   /* junit.xml still written for CI */
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\"}\nnot json\n");
    expect_error(dir, PD_EINVAL, "pass/journal.ndjson:2", "not a JSON object");
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\", \"detail\": 5}\n");
    expect_error(dir, PD_EINVAL, "pass/journal.ndjson:1", "detail");
    /* trade_no: a string or null, or missing (older journals); checked on
     * a line without an out_trade_no too. */
    static const char *const bad_trade_no[] = {"42", "true", "[\"1\"]", "{}"};
    for (size_t i = 0; i < sizeof bad_trade_no / sizeof bad_trade_no[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\"}\n"
                 "{\"t\": 2, \"lane\": \"gateway\", \"kind\": \"charge\", %s"
                 "\"trade_no\": %s}\n", i % 2 ? "" : "\"out_trade_no\": \"x-1\", ", bad_trade_no[i]);
        put(dir, "journal.ndjson", text);
        expect_error(dir, PD_EINVAL, "pass/journal.ndjson:2: trade_no", "trade_no");
    }
    /* key and order_id: a string or null, or missing; not another type. */
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\", \"key\": 7}\n");
    expect_error(dir, PD_EINVAL, "pass/journal.ndjson:1: key", "key");
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"sut\", \"kind\": \"status\", "
                               "\"key\": null, \"order_id\": [1]}\n");
    expect_error(dir, PD_EINVAL, "pass/journal.ndjson:1: order_id", "order_id");
    put(dir, "journal.ndjson", "{\"t\": 1, \"lane\": \"gateway\", \"kind\": \"charge\", "
                               "\"out_trade_no\": \"x-1\"}\n{\"t\": 2, \"lane\": \"gateway\", "
                               "\"kind\": \"charge\", \"out_trade_no\": \"x-1\", \"trade_no\": null}\n");
    assert_int_equal(rpt_write_run(dir), PD_OK);
    free(good);
}

/* The embedded data of report.html (docs/reports.md), parsed. */
static cJSON *embedded(const char *dir)
{
    char *h = slurp(dir, "report.html");
    const char *tag = "<script type=\"application/json\" id=\"rpt-data\">";
    char *from = strstr(h, tag), *to = from ? strstr(from, "</script>") : NULL;
    assert_true(from != NULL && to != NULL);
    from += strlen(tag);
    cJSON *d = cJSON_ParseWithLength(from, (size_t)(to - from));
    free(h);
    assert_non_null(d);
    return d;
}

/* What report.js shows as event e's detail of order row o (NULL: a global
 * event): its template expanded with the row's key, id and amount, the
 * event's out_trade_no and the trade_no "tn" gives that. */
static void shown_detail(const cJSON *d, const cJSON *o, const cJSON *ev, int e, char *out,
                         size_t out_len)
{
    const cJSON *S = cJSON_GetObjectItem(d, "S"), *tn = cJSON_GetObjectItem(d, "tn");
    int detail = cJSON_GetArrayItem(ev, 5 * e + 2)->valueint;
    int otn = cJSON_GetArrayItem(ev, 5 * e + 4)->valueint;
    const char *vals[RPT_TMPL_N] = {NULL, NULL, NULL, NULL, NULL};
    char amount[32];
    if (o != NULL) {
        vals[RPT_TMPL_KEY] = cJSON_GetArrayItem(o, 0)->valuestring;
        vals[RPT_TMPL_ORDER] = cJSON_GetArrayItem(o, 1)->valuestring;
        snprintf(amount, sizeof amount, "%.0f", cJSON_GetArrayItem(o, 3)->valuedouble);
        vals[RPT_TMPL_AMOUNT] = amount;
    }
    if (otn > 0)
        vals[RPT_TMPL_OTN] = cJSON_GetArrayItem(S, otn - 1)->valuestring;
    for (int p = 0; otn > 0 && p + 1 < cJSON_GetArraySize(tn); p += 2)
        if (cJSON_GetArrayItem(tn, p)->valueint == otn - 1)
            vals[RPT_TMPL_TRADE] =
                cJSON_GetArrayItem(S, cJSON_GetArrayItem(tn, p + 1)->valueint)->valuestring;
    assert_true(detail > 0);
    assert_int_equal(rpt__detail_expand(cJSON_GetArrayItem(S, detail - 1)->valuestring, vals,
                                        out, out_len), PD_OK);
}

/* s with each # replaced by the digit k. */
static void numbered(char *out, size_t out_len, const char *s, int k)
{
    size_t n = 0;
    for (; s[n] != '\0' && n + 1 < out_len; n++)
        out[n] = s[n] == '#' ? (char)('0' + k) : s[n];
    out[n] = '\0';
}

/* The gateway's details carry the order's amount and the trade's trade_no
 * (journal field "trade_no"): report.html folds them into ~a and ~g (the
 * two orders' lines share their templates), gives each out_trade_no its
 * first trade_no in "tn", and every event expands back to the journal's
 * detail. A line whose trade_no is missing, null or not the first its
 * out_trade_no had keeps its number literally; an amount inside a longer
 * number is not a ~a. */
static void test_trade_no_templates(void **state)
{
    static const char *const details[] = {   /* # is the order's number */
        "create status=200 attempt=1 trade_no=420000000# state=NOTPAY",
        "pay status=200 attempt=1 payer_key=happy-# charged amount=1999 of 19990",
        "callback status=200 attempt=1 event_id=ev-420000000#-SUCCESS copy=1 acked",
        "query status=200 attempt=1 trade_no=420000000# (no trade_no field)",
        "query status=200 attempt=2 trade_no=420000000# (trade_no null)",
        "close status=200 attempt=1 trade_no=420000009# (another trade_no)",
    };
    static const char *const fields[] = {", \"trade_no\": \"420000000#\"",
                                         ", \"trade_no\": \"420000000#\"",
                                         ", \"trade_no\": \"420000000#\"", "",
                                         ", \"trade_no\": null",
                                         ", \"trade_no\": \"420000009#\""};
    struct fx *fx = *state;
    char dir[512], want[12][200];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    struct pd_buf b;
    pd_buf_init(&b, 1 << 16);
    for (int k = 1, n = 0; k <= 2; k++) {
        for (int i = 0; i < 6; i++, n++) {
            char field[64];
            numbered(field, sizeof field, fields[i], k);
            numbered(want[n], sizeof want[n], details[i], k);
            pd_buf_printf(&b, "{\"t\": %d, \"lane\": \"gateway\", \"key\": \"happy-%d\", "
                          "\"out_trade_no\": \"o-%d-1\"%s, \"kind\": \"k%d\", \"detail\": \"%s\"}\n",
                          n, k, k, field, i, want[n]);
        }
    }
    put(dir, "journal.ndjson", b.data);
    pd_buf_release(&b);
    write_run(fx, "pass");
    cJSON *d = embedded(dir);
    assert_int_equal(cJSON_GetObjectItem(d, "v")->valueint, 3);
    char *S = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "S"));
    assert_int_equal(count(S, "\"create status=200 attempt=1 trade_no=~g state=NOTPAY\""), 1);
    assert_int_equal(count(S, "payer_key=~k charged amount=~a of 19990\""), 1);
    assert_int_equal(count(S, "event_id=ev-~g-SUCCESS copy=1 acked\""), 1);
    assert_int_equal(count(S, "~g"), 2);   /* no other line got one */
    free(S);
    const cJSON *tn = cJSON_GetObjectItem(d, "tn"), *strs = cJSON_GetObjectItem(d, "S");
    assert_int_equal(cJSON_GetArraySize(tn), 4);
    for (int p = 0; p < 4; p += 2) {
        char otn[16], no[16];
        snprintf(otn, sizeof otn, "o-%d-1", p / 2 + 1);
        snprintf(no, sizeof no, "420000000%d", p / 2 + 1);
        assert_string_equal(cJSON_GetArrayItem(strs, cJSON_GetArrayItem(tn, p)->valueint)->valuestring, otn);
        assert_string_equal(cJSON_GetArrayItem(strs, cJSON_GetArrayItem(tn, p + 1)->valueint)->valuestring, no);
    }
    for (int k = 0; k < 2; k++) {
        const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "o"), k);
        const cJSON *ev = cJSON_GetArrayItem(o, 11);
        assert_int_equal(cJSON_GetArraySize(ev), 5 * 6);
        for (int e = 0; e < 6; e++) {
            char shown[RPT_DETAIL_MAX_BYTES + 1];
            shown_detail(d, o, ev, e, shown, sizeof shown);
            assert_string_equal(shown, want[6 * k + e]);
        }
    }
    cJSON_Delete(d);
}

/* Writes good with the first occurrence of from replaced by to. */
static void put_edited(const char *dir, const char *good, const char *from, const char *to)
{
    const char *at = strstr(good, from);
    assert_non_null(at);
    size_t head = (size_t)(at - good), n = strlen(good) + strlen(to) + 1;
    char *text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "%.*s%s%s", (int)head, good, to, at + strlen(from));
    put(dir, "report.json", text);
    free(text);
}

/* report.json's orders are parsed one element at a time (rpt_split.c):
 * broken JSON inside them is still an error with its line, and where the
 * cut is not clean (an "orders" key spelled with escapes first, a second
 * "orders") the first member counts, as a whole parse has it. */
static void test_orders_split(void **state)
{
    static const struct {
        const char *from, *to, *want;
    } broken[] = {
        {"\"key\":", "\"key\" ", "not valid JSON (line 90,"},
        {"\"faults\": []\n  }\n ],", "\"faults\": []\n  },\n ],", "not valid JSON"},
        {"\"faults\": []\n  }\n ],", "\"faults\": []\n  } 7\n ],", "not valid JSON"},
        {"\"orders\": [", "\"orders\": [,", "not valid JSON (line 88,"},
        {"\"schema\"", "\"ord\\u0065rs\": 5, \"schema\"", "orders: must be an array"},
        {"\"schema\"", "\"orders\": 5, \"schema\"", "orders: must be an array"},
    };
    struct fx *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    char *good = slurp(dir, "report.json");
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        put_edited(dir, good, broken[i].from, broken[i].to);
        expect_error(dir, PD_EINVAL, "pass/report.json", broken[i].want);
    }
    put_edited(dir, good, "\"schema\"", "\"orders\": [], \"schema\"");
    assert_int_equal(rpt_write_run(dir), PD_OK);
    char *html = slurp(dir, "report.html");
    assert_non_null(strstr(html, "\"o\":[\n]"));   /* the first, empty, orders */
    free(html);
    put(dir, "report.json", good);
    assert_int_equal(rpt_write_run(dir), PD_OK);
    free(good);
}

/* The expect fixture's report.json with element i of expectations (i < 0:
 * the root) given member name = json (NULL: the member removed). */
static void put_expect_edit(const char *dir, const char *good, int i, const char *sub,
                            const char *name, const char *json)
{
    cJSON *r = cJSON_Parse(good);
    assert_non_null(r);
    cJSON *obj = i < 0 ? r : cJSON_GetArrayItem(cJSON_GetObjectItem(r, "expectations"), i);
    if (obj != NULL && sub != NULL)
        obj = cJSON_GetObjectItem(obj, sub);
    assert_non_null(obj);
    cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
    if (json != NULL) {
        cJSON *v = cJSON_Parse(json);
        assert_non_null(v);
        cJSON_AddItemToObject(obj, name, v);
    }
    char *text = cJSON_Print(r);
    put(dir, "report.json", text);
    free(text);
    cJSON_Delete(r);
}

/* expectations is optional, but what is there is checked like the rest:
 * a wrong type or a missing field is refused with its path. Absent or null,
 * the run loads, and a fail verdict with nothing failing gets the generic
 * verdict test case again. */
static void test_expectations_malformed(void **state)
{
    static const struct {
        int i;
        const char *sub, *name, *json, *want;
    } bad[] = {
        {-1, NULL, "expectations", "5", "expectations: must be an array"},
        {-1, NULL, "expectations", "[7]", "expectations[0]: must be an object"},
        {1, NULL, "met", "\"no\"", "expectations[1].met: must be true or false"},
        {1, NULL, "met", NULL, "expectations[1].met: required"},
        {0, NULL, "what", "7", "expectations[0].what: must be a string"},
        {0, NULL, "what", NULL, "expectations[0].what: required"},
        {0, NULL, "seen", "\"3\"", "expectations[0].seen: must be an integer"},
        {1, NULL, "seen", "-1", "expectations[1].seen: must be between 0 and"},
        {1, NULL, "expect", NULL, "expectations[1].expect: required"},
        {1, NULL, "expect", "[]", "expectations[1].expect: must be an object"},
        {1, "expect", "at_least", "0", "expectations[1].expect.at_least: must be between 1"},
        {0, "expect", "at_least", NULL, "expectations[0].expect.at_least: required"},
        {0, "expect", "why", "5", "expectations[0].expect.why: must be a string"},
    };
    struct fx *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/expect", fx->dir);
    char *good = slurp(dir, "report.json");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        put_expect_edit(dir, good, bad[k].i, bad[k].sub, bad[k].name, bad[k].json);
        expect_error(dir, PD_EINVAL, "expect/report.json", bad[k].want);
    }
    /* why may be null or absent: no why shown, none in the message */
    put_expect_edit(dir, good, 1, "expect", "why", "null");
    write_run(fx, "expect");
    char *x = slurp(dir, "junit.xml");
    assert_non_null(strstr(x, "message=\"seen 0, expected at least 1: the scenario's story did "
                              "not happen\">"));
    free(x);
    const char *absent[] = {NULL, "null"};
    for (size_t k = 0; k < 2; k++) {
        put_expect_edit(dir, good, -1, NULL, "expectations", absent[k]);
        write_run(fx, "expect");
        x = slurp(dir, "junit.xml");
        assert_non_null(strstr(x, "tests=\"6\" failures=\"1\""));
        assert_non_null(strstr(x, "<testcase name=\"verdict\""));
        assert_null(strstr(x, "expectation: "));
        free(x);
    }
    free(good);
}

/* An event holds a kind's or a fault's index in 14 bits: 16,383 distinct
 * names load, one more is refused by name, never wrapped into another. */
static void test_too_many_names(void **state)
{
    struct fx *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    for (int n = RPT_NAMES_MAX; n <= RPT_NAMES_MAX + 1; n++) {
        struct pd_buf b;
        pd_buf_init(&b, (size_t)1 << 24);
        for (int i = 0; i < n; i++) {   /* n names: even lines a kind, odd a fault */
            if (i % 2 == 0)
                pd_buf_printf(&b, "{\"t\": %d, \"lane\": \"sut\", \"kind\": \"k%d\"}\n", i, i);
            else
                pd_buf_printf(&b, "{\"t\": %d, \"lane\": \"sut\", \"kind\": \"k0\", "
                                  "\"fault\": \"f%d\"}\n", i, i);
        }
        put(dir, "journal.ndjson", b.data);
        pd_buf_release(&b);
        if (n == RPT_NAMES_MAX)
            assert_int_equal(rpt_write_run(dir), PD_OK);
        else
            expect_error(dir, PD_ETOOBIG, "pass/journal.ndjson:", "more than 16383 distinct");
    }
}

/* A suite with one unreadable run still writes both files, with an error row. */
static void test_suite_with_broken_run(void **state)
{
    struct fx *fx = *state;
    char out[512], pass[512], broken[512];
    snprintf(out, sizeof out, "%s/out2", fx->dir);
    snprintf(pass, sizeof pass, "%s/pass", fx->dir);
    snprintf(broken, sizeof broken, "%s/broken", fx->dir);
    assert_int_equal(pd_mkdirs(broken), PD_OK);
    put(broken, "report.json", "[]");
    const char *list[] = {pass, broken};
    assert_int_equal(rpt_write_suite(out, list, 2), PD_EINVAL);
    assert_non_null(strstr(rpt_last_error(), "broken/report.json: top level: must be an object"));
    char *x = slurp(out, "junit.xml");
    assert_non_null(strstr(x, "tests=\"6\" failures=\"0\" errors=\"1\""));
    assert_non_null(strstr(x, "<error type=\"report unreadable\""));
    free(x);
    char *idx = slurp(out, "index.html");
    assert_non_null(strstr(idx, ">ERROR</span>"));
    free(idx);
}

/* docs/report-json.md: scenario.name and replay may be null; a
 * convergence violation names the order "(run)"; listed < violations. */
static void test_nullable_and_run_level(void **state)
{
    struct fx *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pass", fx->dir);
    char *text = slurp(dir, "report.json");
    cJSON *r = cJSON_Parse(text);
    free(text);
    assert_non_null(r);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(r, "scenario"), "name", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(r, "replay", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(r, "verdict", cJSON_CreateString("fail"));
    cJSON *inv = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "invariants"), 4);
    cJSON_ReplaceItemInObject(inv, "holds", cJSON_CreateFalse());
    cJSON_ReplaceItemInObject(inv, "violations", cJSON_CreateNumber(1500));
    cJSON_ReplaceItemInObject(r, "fault_plan", cJSON_Parse(
        "{\"*\": [{\"source\": \"process\", \"kind\": \"process.kill\", \"op\": \"sut\","
        " \"attempt\": 0, \"detail\": \"SIGKILL\", \"at\": 1767225612000}]}"));
    cJSON_ReplaceItemInObject(r, "violations", cJSON_Parse(
        "[{\"invariant\": \"states_agree\", \"order\": \"(run)\", \"key\": null,"
        " \"summary\": \"3 orders still PAYING\", \"evidence\": {}, \"faults\": []}]"));
    char *out = cJSON_Print(r);
    put(dir, "report.json", out);
    free(out);
    cJSON_Delete(r);
    write_run(fx, "pass");
    char *x = slurp(dir, "junit.xml");
    assert_non_null(strstr(x, "<testsuite name=\"unnamed scenario\""));
    assert_non_null(strstr(x, "message=\"states_agree violated by 1500 orders: (run) and 1499 more\""));
    assert_non_null(strstr(x, "kind=process.kill op=sut detail=SIGKILL attempt=0 at=1767225612000"));
    assert_non_null(strstr(x, "replay: (no replay command recorded)"));
    free(x);
    char *h = slurp(dir, "report.html");
    assert_non_null(strstr(h, "<span class=\"oid\">(run)</span>"));
    assert_non_null(strstr(h, "data-order=\"-1\""));
    assert_non_null(strstr(h, "<span class=\"pk\">kind</span> process.kill"));
    free(h);
}

/* Every prefix of report.json and of the journal: an error or a report. */
static void test_truncated_inputs(void **state)
{
    struct fx *fx = *state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fail", fx->dir);
    const char *files[] = {"report.json", "journal.ndjson"};
    for (size_t f = 0; f < 2; f++) {
        char *whole = slurp(dir, files[f]);
        size_t len = strlen(whole), step = len / 97 + 1;
        for (size_t cut = 0; cut < len; cut += step) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            assert_int_equal(pd_write_file(path, whole, cut), PD_OK);
            int rc = rpt_write_run(dir);
            assert_true(rc == PD_OK || rc == PD_EINVAL);
            if (rc != PD_OK)
                assert_non_null(strstr(rpt_last_error(), files[f]));
        }
        put(dir, files[f], whole);
        free(whole);
    }
    write_run(fx, "fail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_junit_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_junit_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expectations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expectations_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trade_no_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suite_with_broken_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nullable_and_run_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_inputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
