/* Proves the merged journal's order: events sorted by simulated time, and
 * events at the same time by source (P history before B submissions), then
 * record index, then sub-record index. The journal sorts 8-byte keys
 * (time offset, event number) in place with its own heapsort; this test
 * builds a model with many ties (times drawn from a 10 ms window), writes
 * journal.ndjson and compares its line order with qsort over the same
 * (t, src, a, b) tuples. Each line's detail names its record, so a wrong
 * order cannot pass. A second model spans more than 2^32 ms (two 10 ms
 * windows 2^34 ms apart): its time offsets are shifted to fit 32 bits, so
 * times 1 ms apart share a key, and only the exact second pass over such
 * runs orders them. A third model puts events at the ends of int64 time.
 * Each model is written in one window and in windows of 1, 7 and 100 keys
 * (the journal holds at most a window of keys at a time): every split must
 * give the same order, and one time far from the others must not make a
 * window larger than SIM_MERGE_WINDOW keys. Last, a gateway journal file
 * whose details the model leaves on disk: the merge prints them, and fails
 * (leaving the previous journal.ndjson in place) when a line changed (even
 * only its op) or the file went away since. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_model.h"
#include "journal_merge.h"
#include "pd_err.h"
#include "pd_rand.h"
#include "pd_test.h"

#define N_ORDERS 40
#define N_HIST 25
#define N_SUBS 400
#define BASE_T 1767225600000LL

struct tuple { int64_t t; int src, a, b; };    /* src: 1 history, 5 submission */

static int cmp_tuple(const void *pa, const void *pb)
{
    const struct tuple *x = pa, *y = pb;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->src != y->src)
        return x->src - y->src;
    if (x->a != y->a)
        return x->a - y->a;
    return x->b - y->b;
}

static uint32_t draw(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* Orders with history entries and submissions, every time in 10 ms; the
 * expected tuples go to want. Strings are interned in the model. */
enum span { NARROW, WIDE, EXTREME };

/* A time in a 10 ms window; WIDE: in one of two such windows 2^34 ms
 * apart; EXTREME: also at either end of int64 (INT64_MIN is "no time"). */
static int64_t draw_t(uint32_t *seed, enum span span)
{
    static const int64_t ends[] = {INT64_MIN + 1, INT64_MIN + 2, -1, 0, INT64_MAX - 1,
                                   INT64_MAX};
    int64_t t = BASE_T + draw(seed) % 10;
    if (span == EXTREME && draw(seed) % 2)
        return ends[draw(seed) % 6];
    return span != NARROW && draw(seed) % 2 ? t + ((int64_t)1 << 34) : t;
}

static size_t build(struct sim_model *m, struct tuple *want, enum span wide)
{
    uint32_t seed = 7;
    size_t n = 0;
    bool oom = false;
    m->orders.v = calloc(N_ORDERS, sizeof *m->orders.v);
    m->orders.n = m->orders.cap = N_ORDERS;
    for (int a = 0; a < N_ORDERS; a++) {
        struct sim_porder *o = &m->orders.v[a];
        o->order_id = sim__intern(m, "o", &oom);
        o->hist = sim__arena_alloc(&m->arena, N_HIST * sizeof *o->hist);
        o->n_hist = N_HIST;
        for (int b = 0; b < N_HIST; b++) {
            char cause[32];
            snprintf(cause, sizeof cause, "a=%d b=%d", a, b);
            o->hist[b] = (struct sim_hist){.at = draw_t(&seed, wide),
                                           .to = sim__intern(m, "PAID", &oom),
                                           .cause = sim__intern(m, cause, &oom)};
            want[n++] = (struct tuple){o->hist[b].at, 1, a, b};
        }
    }
    m->subs.v = calloc(N_SUBS, sizeof *m->subs.v);
    m->subs.n = m->subs.cap = N_SUBS;
    for (int a = 0; a < N_SUBS; a++) {
        char ref[32];
        snprintf(ref, sizeof ref, "a=%d", a);
        m->subs.v[a] = (struct sim_submission){.kind = sim__intern(m, "original", &oom),
                                               .status = 201,
                                               .client_ref = sim__intern(m, ref, &oom),
                                               .at = draw_t(&seed, wide)};
        want[n++] = (struct tuple){m->subs.v[a].at, 5, a, 0};
    }
    assert_false(oom);
    return n;
}

/* The (src, a, b) a journal line names in its detail. */
static struct tuple parse_line(const char *line)
{
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    struct tuple t = {0};
    long long at;   /* read from the text: a double cannot hold every int64 */
    assert_int_equal(sscanf(line, "{\"t\":%lld,", &at), 1);
    t.t = at;
    const char *detail = cJSON_GetObjectItem(j, "detail")->valuestring;
    const char *p = strstr(detail, "a=");
    assert_non_null(p);
    t.src = strcmp(cJSON_GetObjectItem(j, "kind")->valuestring, "status") == 0 ? 1 : 5;
    if (t.src == 1)
        assert_int_equal(sscanf(p, "a=%d b=%d", &t.a, &t.b), 2);
    else
        assert_int_equal(sscanf(p, "a=%d", &t.a), 1);
    cJSON_Delete(j);
    return t;
}

static void check_order(enum span wide, size_t cap)
{
    struct sim_model m;
    sim__model_init(&m);
    static struct tuple want[N_ORDERS * N_HIST + N_SUBS];
    size_t n = build(&m, want, wide);
    qsort(want, n, sizeof *want, cmp_tuple);
    assert_int_equal(sim_journal_merge_count(&m), n);
    char dir[256], path[300], line[1024];
    pd_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/journal.ndjson", dir);
    if (cap == 0)
        assert_int_equal(sim_journal_merge_write(&m, path), PD_OK);
    else
        assert_int_equal(sim__journal_merge_write_cap(&m, path, cap), PD_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t i = 0;
    for (; fgets(line, sizeof line, f) != NULL; i++) {
        assert_true(i < n);
        struct tuple got = parse_line(line);
        assert_int_equal(cmp_tuple(&got, &want[i]), 0);
    }
    fclose(f);
    assert_int_equal(i, n);
    pd_test_rmdir(dir);
    sim__model_free(&m);
}

/* ---- gateway details left in the file ---- */

static const char *const gj_lines[] = {
    "{\"at\":5,\"op\":\"create\",\"out_trade_no\":\"o-1\",\"status\":200,\"detail\":\"first\"}\n",
    "{\"at\":3,\"op\":\"pay\",\"out_trade_no\":\"o-1\",\"status\":200,\"detail\":\"second\"}\n",
    "{\"at\":4,\"op\":\"callback\",\"fault\":\"drop\",\"detail\":\"third\"}\n",
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_gateway_details_in_file(void **state)
{
    (void)state;
    char dir[256], gj[300], out[300], text[1024] = "";
    pd_test_tmpdir(dir);
    snprintf(gj, sizeof gj, "%s/gateway-journal.ndjson", dir);
    snprintf(out, sizeof out, "%s/journal.ndjson", dir);
    struct sim_model m;
    sim__model_init(&m);
    m.gj_file = strdup(gj);
    int64_t at = 0;
    for (size_t i = 0; i < 3; i++) {
        cJSON *el = cJSON_Parse(gj_lines[i]);
        struct pd_json_err err = {{0}};
        uint32_t hash = (uint32_t)pd_hash_bytes(gj_lines[i], strlen(gj_lines[i]));
        assert_int_equal(sim__add_gjline_at(&m, el, "line", at, hash, &err), PD_OK);
        cJSON_Delete(el);
        at += (int64_t)strlen(gj_lines[i]);
        strcat(text, gj_lines[i]);
    }
    /* Lines without a fault stay in the file; the faulty one is kept whole
     * (the checks and the fault plan read it). */
    assert_int_equal(m.gj.n, 3);
    assert_int_equal(m.gjx.n, 1);
    assert_int_equal(m.gj.v[0].line_at, 0);
    assert_int_equal(m.gj.v[0].hash, (uint32_t)pd_hash_bytes(gj_lines[0], strlen(gj_lines[0])));
    assert_int_equal(m.gj.v[1].line_at, strlen(gj_lines[0]));
    assert_int_equal(m.gj.v[2].line_at, SIM_GJ_WHOLE);
    assert_int_equal(m.gj.v[2].whole, 0);
    assert_string_equal(sim__s(&m, m.gjx.v[0].detail), "third");
    write_text(gj, text);
    assert_int_equal(sim_journal_merge_write(&m, out), PD_OK);
    const char *got = read_text(out);
    const char *second = strstr(got, "pay status=200 attempt=0 second");
    const char *third = strstr(got, "callback status=0 attempt=0 third");
    const char *first = strstr(got, "create status=200 attempt=0 first");
    assert_true(second != NULL && third != NULL && first != NULL);
    assert_true(second < third && third < first);      /* by time */
    char before[4096];
    snprintf(before, sizeof before, "%s", got);

    /* The file changed since the model read it: a line's op (its time,
     * trade and key the same), then its time. */
    char *op = strstr(text, "\"pay\"");
    memcpy(op, "\"PAY\"", 5);
    write_text(gj, text);
    assert_int_equal(sim_journal_merge_write(&m, out), PD_EIO);
    assert_string_equal(read_text(out), before);
    memcpy(op, "\"pay\"", 5);
    write_text(gj, text);
    assert_int_equal(sim_journal_merge_write(&m, out), PD_OK);   /* back as it was */
    assert_string_equal(read_text(out), before);
    char *moved = strstr(text, "\"at\":3");
    moved[5] = '7';
    write_text(gj, text);
    assert_int_equal(sim_journal_merge_write(&m, out), PD_EIO);
    assert_string_equal(read_text(out), before);
    /* ... or is gone. */
    remove(gj);
    assert_int_equal(sim_journal_merge_write(&m, out), PD_EIO);
    assert_string_equal(read_text(out), before);
    sim__model_free(&m);
    pd_test_rmdir(dir);
}

/* Every model in one window (cap 0: the default, larger than the model)
 * and in windows of 1, 7 and 100 keys. */
static void check_all_windows(enum span span)
{
    static const size_t caps[] = {0, 1, 7, 100};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        check_order(span, caps[i]);
}

static void test_tie_order(void **state)
{
    (void)state;
    check_all_windows(NARROW);
}

static void test_wide_span_order(void **state)
{
    (void)state;
    check_all_windows(WIDE);
}

static void test_extreme_times_order(void **state)
{
    (void)state;
    check_all_windows(EXTREME);
}

/* One time far from the others (a clock that was never set, a record
 * dated 1970) must not put every other event in one histogram bucket, and
 * so in one window: the windows stay within SIM_MERGE_WINDOW keys, and
 * the journal stays in time order. */
static void test_outlier_keeps_windows_small(void **state)
{
    (void)state;
    static const int64_t outliers[] = {0, INT64_MIN + 1, INT64_MAX, BASE_T + ((int64_t)1 << 40)};
    const size_t n = 3 * SIM_MERGE_WINDOW;
    char dir[256], path[300], line[1024];
    pd_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/journal.ndjson", dir);
    for (size_t k = 0; k < sizeof outliers / sizeof outliers[0]; k++) {
        struct sim_model m;
        sim__model_init(&m);
        bool oom = false;
        m.subs.v = calloc(n, sizeof *m.subs.v);
        assert_non_null(m.subs.v);
        m.subs.n = m.subs.cap = n;
        for (size_t a = 0; a < n; a++)   /* at most 3 events a ms, over a minute */
            m.subs.v[a] = (struct sim_submission){.kind = sim__intern(&m, "original", &oom),
                                                  .status = 201,
                                                  .at = BASE_T + (int64_t)(a % 60000)};
        assert_false(oom);
        m.subs.v[n / 2].at = outliers[k];
        assert_int_equal(sim_journal_merge_write(&m, path), PD_OK);
        assert_true(sim__journal_merge_peak > 0);
        assert_true(sim__journal_merge_peak <= SIM_MERGE_WINDOW);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t lines = 0;
        long long prev = INT64_MIN;
        while (fgets(line, sizeof line, f) != NULL) {
            long long t;
            assert_int_equal(sscanf(line, "{\"t\":%lld,", &t), 1);
            assert_true(t >= prev);
            prev = t;
            lines++;
        }
        fclose(f);
        assert_int_equal(lines, n);
        sim__model_free(&m);
    }
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tie_order),
                                       cmocka_unit_test(test_wide_span_order),
                                       cmocka_unit_test(test_extreme_times_order),
                                       cmocka_unit_test(test_outlier_keeps_windows_small),
                                       cmocka_unit_test(test_gateway_details_in_file)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
