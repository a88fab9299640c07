/* Proves the detail templates of rpt_detail.c: a table of details (the
 * journal's own shapes, the gateway's charge, trade_created and callback
 * lines with the order's amount and the trade's trade_no, overlapping
 * values, literal ~k, ~a, ~g and ~~ in the detail or in a value, empty and
 * missing values, hostile markup, amounts and trade numbers next to
 * digits and letters) gives the expected template and expands back to the
 * detail byte for byte (a value that is not valid UTF-8 is left in
 * place); the amount is a template value only below 2^53 in magnitude and
 * only for an event with an order; 200,000 random details and values over
 * an alphabet dense in ~, the code letters and digits round-trip, and
 * every ~a and ~g in their templates stands where neither neighbour is an
 * ASCII letter or digit (a new seed each run, printed as PD_FUZZ_SEED=...,
 * which reproduces it); a detail of 400 ~ fits RPT_TMPL_MAX_BYTES; a
 * too-small buffer is PD_ETOOBIG, never an overrun; a ~ that no code
 * follows expands as written, as report.js does. */
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

#include "pd_err.h"
#include "pd_rand.h"
#include "rpt_internal.h"

struct tcase {
    const char *detail, *key, *order_id, *otn, *amount, *trade_no, *tmpl;
};

static const struct tcase CASES[] = {
    {"original client_ref=bench-10k-17 status=201", "bench-10k-17", "o-19b76d", NULL, NULL,
     NULL, "original client_ref=~k status=201"},
    {"ev-o-19b-1 PAID seq=1", "bench-1", "o-19b", "o-19b-1", NULL, NULL, "ev-~t PAID seq=1"},
    {"POST /orders/o-plain-1/pay", "plain-1", "o-plain-1", NULL, NULL, NULL,
     "POST /orders/~o/pay"},
    {"pay payer_key=k1 order o1 k1o1", "k1", "o1", "", NULL, NULL,
     "pay payer_key=~k order ~o ~k~o"},
    {"~k ~~ ~", "k", NULL, NULL, NULL, NULL, "~~~k ~~~~ ~~"},
    {"~k~o~t", NULL, NULL, NULL, NULL, NULL, "~~k~~o~~t"},
    {"x a~k y ~k", "a~k", NULL, NULL, NULL, NULL, "x ~k y ~~k"},
    {"abcd", "ab", "bcd", NULL, NULL, NULL, "~kcd"},
    {"same same", "same", "same", NULL, NULL, NULL, "~k ~k"},
    {"nothing to replace", "", "", "", "", "", "nothing to replace"},
    {"", "k", "o", "t", "1", "2", ""},
    {"</script><b>k</b> \x01 \xE2\x80\xA8", "</script>", "<b>", "\x01", NULL, NULL,
     "~k~ok</b> ~t \xE2\x80\xA8"},
    {"\xC3\xA9t\xC3\xA9 ~", "\xC3\xA9", NULL, NULL, NULL, NULL, "~kt~k ~~"},
    /* A value that is not valid UTF-8 is never a placeholder: "\xC3~k"
     * would be drawn as two replacement characters where "é" was. */
    {"\xC3\xA9", "\xA9", NULL, NULL, NULL, NULL, "\xC3\xA9"},
    {"a\xFF b", "\xFF", "b", "\xC3", NULL, NULL, "a\xFF ~o"},
    {"a\xFF b", NULL, NULL, NULL, NULL, "\xFF", "a\xFF b"},
    /* The gateway's lines in a 10,000-order run. */
    {"pay status=200 attempt=1 payer_key=bench-10k-7 charged amount=77611", "bench-10k-7",
     "o-1", "o-1-1", "77611", "4200000008",
     "pay status=200 attempt=1 payer_key=~k charged amount=~a"},
    {"create status=200 attempt=1 trade_no=4200000008 state=NOTPAY", "bench-10k-7", "o-1", "o-1-1",
     "77611", "4200000008", "create status=200 attempt=1 trade_no=~g state=NOTPAY"},
    {"callback status=200 attempt=1 event_id=ev-4200000008-SUCCESS copy=1 acked", "bench-10k-7", "o-1",
     "o-1-1", "77611", "4200000008",
     "callback status=200 attempt=1 event_id=ev-~g-SUCCESS copy=1 acked"},
    /* Whole tokens only: not beside an ASCII letter or digit, at either
     * end of the detail, beside punctuation, a space or a non-ASCII byte. */
    {"attempt=12 4200000001 x1 1y 1.5 (1) 1", NULL, NULL, NULL, "1", NULL,
     "attempt=12 4200000001 x1 1y ~a.5 (~a) ~a"},
    {"1", NULL, NULL, NULL, "1", NULL, "~a"},
    {"trade_no=4200 42 a42 42_ 42", NULL, NULL, NULL, NULL, "42",
     "trade_no=4200 ~g a42 ~g_ ~g"},
    {"\xC3\xA9" "5\xC3\xA9", NULL, NULL, NULL, "5", NULL, "\xC3\xA9~a\xC3\xA9"},
    {"x-5 -5 5-5", NULL, NULL, NULL, "-5", NULL, "x-5 ~a 5-5"},
    {"0 00 0x0", NULL, NULL, NULL, "0", "0", "~a 00 0x0"},
    /* Longest first: a whole-token value that fails its boundary leaves
     * the place to a shorter one. */
    {"4200000008 4200", NULL, NULL, NULL, "4200", "4200000008", "~g ~a"},
    {"4200x 4200", "42", NULL, NULL, NULL, "4200", "~k00x ~g"},
    {"bench-7 7", "bench-7", NULL, NULL, "7", NULL, "~k ~a"},
    /* Literal codes in the detail and in the values. */
    {"~a ~g ~~a 5~a ~5", NULL, NULL, NULL, "5", "9", "~~a ~~g ~~~~a ~a~~a ~~~a"},
    {"~g", NULL, NULL, NULL, NULL, "g", "~~~g"},
    {"t=~a1 ~a", NULL, NULL, NULL, NULL, "~a", "t=~~a1 ~g"},
    {"amount=~~ ~~", NULL, NULL, NULL, "~~", NULL, "amount=~a ~a"},
};

static void vals_of(const struct tcase *c, const char *vals[RPT_TMPL_N])
{
    vals[RPT_TMPL_KEY] = c->key;
    vals[RPT_TMPL_ORDER] = c->order_id;
    vals[RPT_TMPL_OTN] = c->otn;
    vals[RPT_TMPL_AMOUNT] = c->amount;
    vals[RPT_TMPL_TRADE] = c->trade_no;
}

static void round_trip(const char *detail, const char *const vals[RPT_TMPL_N], char *tmpl)
{
    char back[RPT_TMPL_MAX_BYTES * 4];
    assert_int_equal(rpt__detail_template(detail, vals, tmpl, RPT_TMPL_MAX_BYTES), PD_OK);
    assert_int_equal(rpt__detail_expand(tmpl, vals, back, sizeof back), PD_OK);
    assert_string_equal(back, detail);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *vals[RPT_TMPL_N];
        char tmpl[RPT_TMPL_MAX_BYTES];
        vals_of(&CASES[i], vals);
        round_trip(CASES[i].detail, vals, tmpl);
        assert_string_equal(tmpl, CASES[i].tmpl);
    }
}

/* PD_FUZZ_SEED, else a new seed each run, printed: a failure names the
 * seed that reproduces it. Never 0: xorshift would stay at 0. */
static uint64_t seed0(void)
{
    const char *s = getenv("PD_FUZZ_SEED");
    uint64_t seed = s != NULL ? strtoull(s, NULL, 0)
                              : pd_mix64((uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
    if (seed == 0)
        seed = 0x9e3779b97f4a7c15ull;
    fprintf(stderr, "PD_FUZZ_SEED=0x%016" PRIx64 " reproduces this run\n", seed);
    return seed;
}

static uint32_t rnd(uint64_t *x, uint32_t n)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (uint32_t)(*x >> 32) % n;
}

/* Details and values drawn from alpha: every collision of marker, code
 * letters, digits and values that a real journal could hide. */
static void random_str(char *out, size_t max_len, const char *alpha, uint64_t *x)
{
    size_t len = rnd(x, (uint32_t)max_len + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = alpha[rnd(x, (uint32_t)strlen(alpha))];
    out[len] = '\0';
}

static bool alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Walks tmpl beside the detail it came from: every ~a and ~g must stand
 * for its value where neither neighbour in the detail is an ASCII letter
 * or digit. */
static void check_whole_tokens(const char *detail, const char *tmpl,
                               const char *const vals[RPT_TMPL_N])
{
    static const char CODES[] = "kotag";
    size_t at = 0;   /* in detail */
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *code = p[0] == '~' && p[1] != '\0' ? strchr(CODES, p[1]) : NULL;
        if (code == NULL) {
            at++;
            p += p[0] == '~';   /* ~~ is one ~ */
            continue;
        }
        size_t len = strlen(vals[code - CODES]);
        if (p[1] == 'a' || p[1] == 'g') {
            if ((at > 0 && alnum(detail[at - 1])) || alnum(detail[at + len]))
                fail_msg("~%c in \"%s\" for \"%s\" stands beside a letter or digit", p[1],
                         tmpl, detail);
        }
        at += len;
        p++;
    }
    assert_int_equal(at, strlen(detail));
}

static void test_random_round_trip(void **state)
{
    (void)state;
    uint64_t x = seed0();
    for (int i = 0; i < 200000; i++) {
        char detail[40], v[RPT_TMPL_N][6], tmpl[RPT_TMPL_MAX_BYTES];
        const char *vals[RPT_TMPL_N];
        random_str(detail, sizeof detail - 1, "~kotag-1x2", &x);
        for (size_t k = 0; k < RPT_TMPL_N; k++) {
            random_str(v[k], sizeof v[k] - 1, k >= RPT_TMPL_AMOUNT ? "12-a~" : "~kotag-1", &x);
            vals[k] = rnd(&x, 8) == 0 ? NULL : v[k];
        }
        round_trip(detail, vals, tmpl);
        check_whole_tokens(detail, tmpl, vals);
    }
}

/* The amount is a template value only for an event with an order, and
 * only below 2^53 in magnitude: report.js reads it as a double. */
static void test_amount_values(void **state)
{
    (void)state;
    static const struct { int64_t amount; const char *want; } cases[] = {
        {77611, "77611"}, {0, "0"}, {-5, "-5"},
        {((int64_t)1 << 53) - 1, "9007199254740991"},
        {-((int64_t)1 << 53) + 1, "-9007199254740991"},
        {(int64_t)1 << 53, NULL}, {-((int64_t)1 << 53), NULL},
        {INT64_MAX, NULL}, {INT64_MIN, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rpt__order ord = {.key = "key-1", .order_id = "ord-1", .amount = cases[i].amount};
        const char *vals[RPT_TMPL_N];
        char amount[RPT_AMOUNT_CHARS];
        rpt__detail_vals(&ord, "otn-1", "tn-1", amount, vals);
        assert_string_equal(vals[RPT_TMPL_KEY], "key-1");
        assert_string_equal(vals[RPT_TMPL_ORDER], "ord-1");
        assert_string_equal(vals[RPT_TMPL_OTN], "otn-1");
        assert_string_equal(vals[RPT_TMPL_TRADE], "tn-1");
        if (cases[i].want == NULL) {
            assert_null(vals[RPT_TMPL_AMOUNT]);
            continue;
        }
        assert_string_equal(vals[RPT_TMPL_AMOUNT], cases[i].want);
        char tmpl[RPT_TMPL_MAX_BYTES], detail[64];
        snprintf(detail, sizeof detail, "amount=%s", cases[i].want);
        round_trip(detail, vals, tmpl);
        assert_string_equal(tmpl, "amount=~a");
    }
    const char *vals[RPT_TMPL_N];
    char amount[RPT_AMOUNT_CHARS];
    rpt__detail_vals(NULL, "t", "g", amount, vals);   /* an event of no order */
    assert_null(vals[RPT_TMPL_KEY]);
    assert_null(vals[RPT_TMPL_ORDER]);
    assert_null(vals[RPT_TMPL_AMOUNT]);
    assert_string_equal(vals[RPT_TMPL_OTN], "t");
    assert_string_equal(vals[RPT_TMPL_TRADE], "g");
}

static void test_limits(void **state)
{
    (void)state;
    const char *none[RPT_TMPL_N] = {NULL, NULL, NULL, NULL, NULL};
    char detail[RPT_DETAIL_MAX_BYTES + 1], tmpl[RPT_TMPL_MAX_BYTES], small[8];
    memset(detail, '~', RPT_DETAIL_MAX_BYTES);
    detail[RPT_DETAIL_MAX_BYTES] = '\0';
    round_trip(detail, none, tmpl);   /* the worst case: every byte doubled */
    assert_int_equal(strlen(tmpl), 2 * RPT_DETAIL_MAX_BYTES);
    assert_int_equal(rpt__detail_template("~~~~", none, small, sizeof small), PD_ETOOBIG);
    assert_int_equal(rpt__detail_template("~~~", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "~~~~~~");
    const char *vals[RPT_TMPL_N] = {"a long order key", NULL, NULL, NULL, NULL};
    assert_int_equal(rpt__detail_expand("~k", vals, small, sizeof small), PD_ETOOBIG);
    /* What rpt__detail_template never writes stays as written, as in report.js. */
    assert_int_equal(rpt__detail_expand("~x ~", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "~x ~");
    assert_int_equal(rpt__detail_expand("~k~o~t~a~g", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_amount_values),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
