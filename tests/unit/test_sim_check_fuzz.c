/* Differential fuzz of the checker's memory savings (docs/checker.md, "Size
 * and memory"):
 * - random gateway-journal.ndjson files (ops, faults, times out of order,
 *   equal, negative, huge; null and absent fields; blank lines, CRLF, no
 *   final newline; escapes; long details) over the base fixture: checking
 *   the folder with lines left in the file and with every line kept whole
 *   (sim__gj_keep_whole) gives the same rc, error text, report.json and
 *   journal.ndjson, byte for byte;
 * - random hand-built models with times anywhere in int64: the merged
 *   journal written in windows of a few keys is the journal written in one
 *   window, and that one is in exact (t, src, a, b) order.
 * PD_FUZZ_CASES sets the number of cases of each (default 150),
 * PD_FUZZ_SEED the seed (default: a new one each run, printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_model.h"
#include "journal_merge.h"
#include "pd_assert.h"
#include "pd_buf.h"
#include "pd_err.h"
#include "pd_rand.h"
#include "pd_test.h"
#include "pd_util.h"
#include "test_sim_check_fixture.h"

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return n == 0 ? 0 : (uint32_t)(rng % n);
}

static uint64_t rnd64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cases(void)
{
    const char *s = getenv("PD_FUZZ_CASES");
    return s != NULL ? atoi(s) : 150;
}

/* PD_FUZZ_SEED, else a new seed each run (printed: a failure names the
 * seed that reproduces it). Never 0: xorshift would stay at 0. */
static uint64_t seed0(void)
{
    static uint64_t seed;
    if (seed == 0) {
        const char *s = getenv("PD_FUZZ_SEED");
        seed = s != NULL ? strtoull(s, NULL, 0)
                         : pd_mix64((uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
        if (seed == 0)
            seed = 0x9e3779b97f4a7c15ull;
        fprintf(stderr, "PD_FUZZ_SEED=0x%016" PRIx64 " reproduces this run\n", seed);
    }
    return seed;
}

/* The text of a file, NULL when absent. */
static char *slurp_opt(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (access(path, F_OK) != 0)
        return NULL;
    char *text = NULL;
    assert_int_equal(pd_read_file(path, 1u << 30, &text, len), PD_OK);
    return text;
}

static void rm(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* ---- random gateway journals ---- */

static void put_str_field(struct pd_buf *b, const char *name, const char *const *pool, size_t n)
{
    uint32_t r = rnd(20);
    if (r == 0)
        return;                                 /* absent */
    if (r == 1) {
        pd_buf_printf(b, ",\"%s\":null", name);
        return;
    }
    pd_buf_printf(b, ",\"%s\":\"%s\"", name, pool[rnd((uint32_t)n)]);
}

static void put_int_field(struct pd_buf *b, const char *name, bool bad_ok)
{
    static const char *const ints[] = {"0", "1", "2", "3", "200", "200", "200", "404", "500",
                                       "-1", "9007199254740991", "-9007199254740991",
                                       "1e2", "200.0", "2"};
    uint32_t r = rnd(20);
    if (r == 0)
        return;
    if (r == 1) {
        pd_buf_printf(b, ",\"%s\":null", name);
        return;
    }
    if (bad_ok && r == 2 && rnd(30) == 0) {
        pd_buf_printf(b, ",\"%s\":%s", name, rnd(2) ? "1.5" : "\"7\"");
        return;
    }
    pd_buf_printf(b, ",\"%s\":%s", name, ints[rnd(PD_ARRAY_LEN(ints))]);
}

static void put_detail(struct pd_buf *b)
{
    static const char *const pool[] = {
        "", "charged", "dropped", "caf\\u00e9 \\\"q\\\" back\\\\slash \\/ \\t tab",
        "nul\\u0000after", "\\ud83d\\ude00 emoji", "line\\nbreak\\r\\n", "tr\\u00fc\\u00dfe",
    };
    uint32_t r = rnd(12);
    if (r == 0)
        return;
    if (r == 1) {
        pd_buf_printf(b, ",\"detail\":null");
        return;
    }
    if (r <= 3) {       /* long: past the journal's 320 bytes, with escapes near the cut */
        pd_buf_printf(b, ",\"detail\":\"");
        int len = 250 + (int)rnd(400);
        for (int i = 0; i < len; i++) {
            uint32_t c = rnd(40);
            if (c == 0)
                pd_buf_printf(b, "\\u00e9");
            else if (c == 1)
                pd_buf_printf(b, "\\\"");
            else if (c == 2)
                pd_buf_printf(b, "\\\\");
            else
                pd_buf_printf(b, "%c", 'a' + (int)rnd(26));
        }
        pd_buf_printf(b, "\"");
        return;
    }
    pd_buf_printf(b, ",\"detail\":\"%s\"", pool[rnd(PD_ARRAY_LEN(pool))]);
}

static int64_t draw_at(int64_t *prev)
{
    static const int64_t ends[] = {0, -1, 1, -9007199254740991LL, 9007199254740991LL,
                                   9007199254740990LL, -9007199254740990LL};
    const int64_t base = 1767225600000LL;
    int64_t t;
    uint32_t r = rnd(10);
    if (r == 0)
        t = ends[rnd(PD_ARRAY_LEN(ends))];
    else if (r <= 2)
        t = *prev;                              /* equal */
    else if (r == 3)
        t = *prev - (int64_t)rnd(5000);         /* earlier */
    else if (r == 4)
        t = base + (int64_t)(rnd64() % 4000000000000ull) - 2000000000000LL;
    else
        t = base + (int64_t)rnd(120000);
    *prev = t;
    return t;
}

/* One random gateway journal line (without its end). */
static void gj_line(struct pd_buf *b, int64_t *prev, bool allow_bad)
{
    static const char *const ops[] = {"create", "pay", "callback", "query", "close", "refund",
                                      "callback", "pay", "weird", "", "re\\\"fund"};
    static const char *const otns[] = {"o-1-1", "o-2-1", "o-9-9", "", "o-1-1"};
    static const char *const keys[] = {"k-1", "k-2", "k-2~dup1", "k-x", ""};
    static const char *const faults[] = {"drop", "delay", "forge.bad_signature",
                                         "forge.wrong_amount", "forge.replay",
                                         "forge.unknown_trade", "", "error_500"};
    static const char *const extra[] = {"", ",\"x\":[1,{\"y\":null}]", ",\"seq\":7",
                                        ",\"seq\":null"};
    pd_buf_printf(b, "%s{", rnd(15) == 0 ? "  \t" : "");
    bool first = true;
    /* members in a random order: at first or not */
    int order = (int)rnd(3);
    for (int part = 0; part < 3; part++) {
        int which = (part + order) % 3;
        struct pd_buf tmp;
        pd_buf_init(&tmp, 1 << 16);
        if (which == 0) {
            if (allow_bad && rnd(200) == 0) {
                /* missing or bad at */
                if (rnd(2))
                    pd_buf_printf(&tmp, ",\"at\":\"x\"");
            } else {
                pd_buf_printf(&tmp, ",\"at\":%lld", (long long)draw_at(prev));
            }
        } else if (which == 1) {
            if (allow_bad && rnd(200) == 0)
                pd_buf_printf(&tmp, ",\"op\":null");
            else
                pd_buf_printf(&tmp, ",\"op\":\"%s\"", ops[rnd(PD_ARRAY_LEN(ops))]);
            put_str_field(&tmp, "out_trade_no", otns, PD_ARRAY_LEN(otns));
            put_str_field(&tmp, "key", keys, PD_ARRAY_LEN(keys));
        } else {
            if (rnd(3) == 0)
                pd_buf_printf(&tmp, ",\"fault\":\"%s\"", faults[rnd(PD_ARRAY_LEN(faults))]);
            else if (rnd(2))
                pd_buf_printf(&tmp, ",\"fault\":null");
            put_int_field(&tmp, "status", allow_bad);
            put_int_field(&tmp, "attempt", allow_bad);
            put_detail(&tmp);
            pd_buf_printf(&tmp, "%s", extra[rnd(PD_ARRAY_LEN(extra))]);
        }
        if (tmp.len > 0) {
            pd_buf_printf(b, "%s", first ? tmp.data + 1 : tmp.data);
            first = false;
        }
        pd_buf_release(&tmp);
    }
    pd_buf_printf(b, "}%s", rnd(15) == 0 ? "  " : "");
}

static char *gen_journal(bool allow_bad)
{
    struct pd_buf b;
    pd_buf_init(&b, 1 << 24);
    pd_buf_printf(&b, "%s", "");
    int n = (int)rnd(45);
    int64_t prev = 1767225600000LL;
    for (int i = 0; i < n; i++) {
        uint32_t r = rnd(12);
        if (r == 0)
            pd_buf_printf(&b, "%s", rnd(2) ? "\n" : rnd(2) ? "\r\n" : " \t \r\n");
        gj_line(&b, &prev, allow_bad);
        bool last = i == n - 1;
        if (!(last && rnd(3) == 0))
            pd_buf_printf(&b, "%s", rnd(3) == 0 ? "\r\n" : "\n");
    }
    if (rnd(8) == 0)
        pd_buf_printf(&b, "\n\n");
    char *text = strdup(b.data != NULL ? b.data : "");
    pd_buf_release(&b);
    return text;
}

struct outcome {
    int rc;
    char error[SIM_CHECK_ERR_LEN];
    char *report, *journal;
    size_t report_len, journal_len;
};

static void run_once(const char *dir, bool whole, struct outcome *o)
{
    rm(dir, "report.json");
    rm(dir, "journal.ndjson");
    struct sim_check_summary s;
    sim__gj_keep_whole = whole;
    o->rc = sim_check_run(dir, &s);
    sim__gj_keep_whole = false;
    snprintf(o->error, sizeof o->error, "%s", s.error);
    sim_check_summary_release(&s);
    o->report = slurp_opt(dir, "report.json", &o->report_len);
    o->journal = slurp_opt(dir, "journal.ndjson", &o->journal_len);
}

static bool same_text(const char *a, size_t na, const char *b, size_t nb)
{
    if ((a == NULL) != (b == NULL))
        return false;
    return a == NULL || (na == nb && memcmp(a, b, na) == 0);
}

static void test_gj_differential(void **state)
{
    (void)state;
    char dir[256], path[512];
    pd_test_tmpdir(dir);
    cJSON *fx = fx_load(NULL);
    fx_write_dir(fx, dir);
    snprintf(path, sizeof path, "%s/gateway-journal.ndjson", dir);
    int n = cases(), ok = 0, failed = 0;
    rng = seed0();
    for (int c = 0; c < n; c++) {
        char *text = gen_journal(c % 10 == 9);
        assert_int_equal(pd_write_file(path, text, strlen(text)), PD_OK);
        struct outcome ref, whole;
        run_once(dir, false, &ref);
        run_once(dir, true, &whole);
        bool same = ref.rc == whole.rc && strcmp(ref.error, whole.error) == 0 &&
                    same_text(ref.report, ref.report_len, whole.report, whole.report_len) &&
                    same_text(ref.journal, ref.journal_len, whole.journal, whole.journal_len);
        if (!same) {
            char keep[600];
            snprintf(keep, sizeof keep, "/tmp/gj-fuzz-fail-%d.ndjson", c);
            pd_write_file(keep, text, strlen(text));
            fprintf(stderr, "case %d differs (kept in %s): rc %d/%d error \"%s\"/\"%s\"\n", c,
                    keep, ref.rc, whole.rc, ref.error, whole.error);
        }
        ok += ref.rc == PD_OK;
        failed += !same;
        free(ref.report);
        free(ref.journal);
        free(whole.report);
        free(whole.journal);
        free(text);
    }
    fprintf(stderr, "gj differential: %d cases, %d checked to the end, %d differ\n", n, ok,
            failed);
    assert_int_equal(failed, 0);
    cJSON_Delete(fx);
    pd_test_rmdir(dir);
}

/* ---- random models for the windows ---- */

static int64_t draw_mode_t(int mode, const int64_t *pool, size_t npool)
{
    static const int64_t ends[] = {INT64_MIN + 1, INT64_MIN + 2, -1, 0, 1,
                                   INT64_MAX - 1, INT64_MAX};
    if (rnd(25) == 0)
        return SIM_NO_TIME;
    switch (mode) {
    case 0: return 1767225600000LL + (int64_t)rnd(4);               /* many ties */
    case 1: return 1767225600000LL + (int64_t)rnd(100000);
    case 2: return rnd(50) == 0 ? ends[rnd(PD_ARRAY_LEN(ends))]      /* outliers */
                                : 1767225600000LL + (int64_t)rnd(1000);
    case 3: return (int64_t)rnd64();                                /* anywhere */
    case 4: return ends[rnd(PD_ARRAY_LEN(ends))];
    case 5: return pool[rnd((uint32_t)npool)];                      /* few values */
    default: return 1767225600000LL + ((int64_t)rnd(3) << 33) + (int64_t)rnd(7);
    }
}

static sim_sid id_str(struct sim_model *m, int serial)
{
    char s[32];
    snprintf(s, sizeof s, "#%d", serial);
    bool oom = false;
    sim_sid id = sim__intern(m, s, &oom);
    assert_false(oom);
    return id;
}

/* A model with every kind of event; each event's text names "#serial", in
 * the (src, a, b) order the merge numbers them (acks: receipt + 1e8,
 * process events + 2e8). */
static void build_model(struct sim_model *m, int mode)
{
    int64_t pool[5];
    for (size_t i = 0; i < 5; i++)
        pool[i] = (int64_t)rnd64();
    pool[0] = INT64_MAX;
    pool[1] = INT64_MIN + 1;
    int serial = 0;
    bool oom = false;
#define T() draw_mode_t(mode, pool, 5)
    size_t ngj = rnd(30), nord = rnd(12), nsub = rnd(30), npc = rnd(10), npy = rnd(10),
           nbq = rnd(10), nrc = rnd(20), npe = rnd(5);
    sim_sid op = sim__intern(m, "pay", &oom);
    m->gj.v = calloc(ngj + 1, sizeof *m->gj.v);
    m->gjx.v = calloc(ngj + 1, sizeof *m->gjx.v);
    for (size_t i = 0; i < ngj; i++) {
        struct sim_gjline g = {.at = T(), .op = op, .status = 200, .detail = id_str(m, serial++)};
        m->gjx.v[i] = g;
        m->gj.v[i] = (struct sim_gjref){.at = g.at, .line_at = SIM_GJ_WHOLE, .whole = (int32_t)i};
    }
    m->gj.n = m->gj.cap = m->gjx.n = m->gjx.cap = ngj;
    m->orders.v = calloc(nord + 1, sizeof *m->orders.v);
    m->orders.n = m->orders.cap = nord;
    for (size_t a = 0; a < nord; a++) {
        struct sim_porder *o = &m->orders.v[a];
        o->n_hist = rnd(6);
        o->n_trades = rnd(3);
        o->n_refunds = rnd(2);
        o->n_notifs = rnd(3);
        o->hist = sim__arena_alloc(&m->arena, (o->n_hist + 1) * sizeof *o->hist);
        o->trades = sim__arena_alloc(&m->arena, (o->n_trades + 1) * sizeof *o->trades);
        o->refunds = sim__arena_alloc(&m->arena, (o->n_refunds + 1) * sizeof *o->refunds);
        o->notifs = sim__arena_alloc(&m->arena, (o->n_notifs + 1) * sizeof *o->notifs);
        o->first_trade = o->first_receipt = o->submission = SIM_NONE;
    }
    for (size_t a = 0; a < nord; a++)
        for (uint32_t b = 0; b < m->orders.v[a].n_hist; b++)
            m->orders.v[a].hist[b] = (struct sim_hist){.at = T(), .cause = id_str(m, serial++)};
    for (size_t a = 0; a < nord; a++)
        for (uint32_t b = 0; b < m->orders.v[a].n_trades; b++)
            m->orders.v[a].trades[b] =
                (struct sim_ptrade){.created_at = T(), .state = id_str(m, serial++)};
    for (size_t a = 0; a < nord; a++)
        for (uint32_t b = 0; b < m->orders.v[a].n_refunds; b++)
            m->orders.v[a].refunds[b] =
                (struct sim_prefund){.at = T(), .out_refund_no = id_str(m, serial++)};
    for (size_t a = 0; a < nord; a++)
        for (uint32_t b = 0; b < m->orders.v[a].n_notifs; b++)
            m->orders.v[a].notifs[b] =
                (struct sim_pnotif){.delivered_at = T(), .event_id = id_str(m, serial++)};
    m->subs.v = calloc(nsub + 1, sizeof *m->subs.v);
    m->subs.n = m->subs.cap = nsub;
    for (size_t a = 0; a < nsub; a++)
        m->subs.v[a] = (struct sim_submission){.at = T(), .client_ref = id_str(m, serial++)};
    m->paycalls.v = calloc(npc + 1, sizeof *m->paycalls.v);
    m->paycalls.n = m->paycalls.cap = npc;
    for (size_t a = 0; a < npc; a++)
        m->paycalls.v[a] = (struct sim_paycall){.at = T(), .body_status = id_str(m, serial++)};
    m->payer.v = calloc(npy + 1, sizeof *m->payer.v);
    m->payer.n = m->payer.cap = npy;
    for (size_t a = 0; a < npy; a++)
        m->payer.v[a] = (struct sim_payer){.at = T(), .action = id_str(m, serial++)};
    m->bqueries.v = calloc(nbq + 1, sizeof *m->bqueries.v);
    m->bqueries.n = m->bqueries.cap = nbq;
    for (size_t a = 0; a < nbq; a++)
        m->bqueries.v[a] = (struct sim_bquery){.at = T(), .body_status = id_str(m, serial++)};
    m->receipts.v = calloc(nrc + 1, sizeof *m->receipts.v);
    m->receipts.n = m->receipts.cap = nrc;
    for (size_t a = 0; a < nrc; a++)
        m->receipts.v[a] = (struct sim_receipt){.at = T(), .event_id = id_str(m, serial++),
                                                .answered = rnd(2) ? 200 : 500,
                                                .next_of_order = SIM_NONE};
    m->pevents.v = calloc(npe + 1, sizeof *m->pevents.v);
    m->pevents.n = m->pevents.cap = npe;
    for (size_t a = 0; a < npe; a++)
        m->pevents.v[a] = (struct sim_pevent){.at = T(), .action = id_str(m, serial++)};
#undef T
    assert_false(oom);
}

/* The serial a journal line names (see build_model). */
static long long line_serial(const char *line)
{
    const char *p = strstr(line, "#");
    assert_non_null(p);
    long long s = atoll(p + 1);
    if (strstr(line, "\"kind\":\"ack\"") != NULL)
        s += 100000000;
    if (strstr(line, "\"kind\":\"process\"") != NULL)
        s += 200000000;
    return s;
}

static char *write_cap(const struct sim_model *m, const char *path, size_t cap, size_t *len)
{
    assert_int_equal(sim__journal_merge_write_cap(m, path, cap), PD_OK);
    char *text = NULL;
    assert_int_equal(pd_read_file(path, 1u << 30, &text, len), PD_OK);
    return text;
}

static void test_window_differential(void **state)
{
    (void)state;
    char dir[256], path[512];
    pd_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/journal.ndjson", dir);
    int n = cases(), runs = 0;
    rng = seed0() ^ 0x5555;
    for (int c = 0; c < n; c++) {
        struct sim_model m;
        sim__model_init(&m);
        build_model(&m, (int)rnd(7));
        size_t events = sim_journal_merge_count(&m), len0;
        char *one = write_cap(&m, path, SIZE_MAX, &len0);
        /* one window: in exact (t, serial) order, every event once */
        size_t lines = 0;
        long long pt = 0, ps = -1;
        for (char *p = one; *p; lines++) {
            char *nl = strchr(p, '\n');
            assert_non_null(nl);
            *nl = '\0';
            long long t;
            assert_int_equal(sscanf(p, "{\"t\":%lld,", &t), 1);
            long long s = line_serial(p);
            assert_true(lines == 0 || t > pt || (t == pt && s > ps));
            pt = t;
            ps = s;
            *nl = '\n';
            p = nl + 1;
        }
        assert_true(lines == events);
        size_t caps[] = {0, 1, 2, 3, 5, 1 + rnd(64), events > 0 ? events - 1 : 1, events,
                         events + 1};
        for (size_t i = 0; i < PD_ARRAY_LEN(caps); i++) {
            size_t len;
            char *got = write_cap(&m, path, caps[i], &len);
            if (!same_text(one, len0, got, len))
                fail_msg("case %d cap %zu: the windows change the journal", c, caps[i]);
            free(got);
            runs++;
        }
        free(one);
        sim__model_free(&m);
    }
    fprintf(stderr, "window differential: %d models, %d windowed writes\n", n, runs);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_differential),
        cmocka_unit_test(test_gj_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
