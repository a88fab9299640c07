/* Proves the detail templates of rpt_detail.c: a table of details (the
 * journal's own shapes, overlapping values, literal ~k and ~~ in the
 * detail or in a value, empty and missing values, hostile markup) gives
 * the expected template and expands back to the detail byte for byte (a
 * value that is not valid UTF-8 is left in place); 200,000
 * random details and values over an alphabet dense in ~, k, o and t round-trip
 * (so no two details share a template); a detail of 400 ~ fits
 * RPT_TMPL_MAX_BYTES; a too-small buffer is PD_ETOOBIG, never an overrun;
 * a ~ that no code follows expands as written, as report.js does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

struct tcase {
    const char *detail, *key, *order_id, *otn, *tmpl;
};

static const struct tcase CASES[] = {
    {"original client_ref=bench-10k-17 status=201", "bench-10k-17", "o-19b76d", NULL,
     "original client_ref=~k status=201"},
    {"ev-o-19b-1 PAID seq=1", "bench-1", "o-19b", "o-19b-1", "ev-~t PAID seq=1"},
    {"POST /orders/o-plain-1/pay", "plain-1", "o-plain-1", NULL, "POST /orders/~o/pay"},
    {"pay payer_key=k1 order o1 k1o1", "k1", "o1", "", "pay payer_key=~k order ~o ~k~o"},
    {"~k ~~ ~", "k", NULL, NULL, "~~~k ~~~~ ~~"},
    {"~k~o~t", NULL, NULL, NULL, "~~k~~o~~t"},
    {"x a~k y ~k", "a~k", NULL, NULL, "x ~k y ~~k"},
    {"abcd", "ab", "bcd", NULL, "~kcd"},
    {"same same", "same", "same", NULL, "~k ~k"},
    {"nothing to replace", "", "", "", "nothing to replace"},
    {"", "k", "o", "t", ""},
    {"</script><b>k</b> \x01 \xE2\x80\xA8", "</script>", "<b>", "\x01", "~k~ok</b> ~t \xE2\x80\xA8"},
    {"\xC3\xA9t\xC3\xA9 ~", "\xC3\xA9", NULL, NULL, "~kt~k ~~"},
    /* A value that is not valid UTF-8 is never a placeholder: "\xC3~k"
     * would be drawn as two replacement characters where "é" was. */
    {"\xC3\xA9", "\xA9", NULL, NULL, "\xC3\xA9"},
    {"a\xFF b", "\xFF", "b", "\xC3", "a\xFF ~o"},
};

static void vals_of(const struct tcase *c, const char *vals[RPT_TMPL_N])
{
    vals[RPT_TMPL_KEY] = c->key;
    vals[RPT_TMPL_ORDER] = c->order_id;
    vals[RPT_TMPL_OTN] = c->otn;
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

/* Details and values drawn from "~kot-ab": every collision of marker,
 * code letters and values that a real journal could hide. */
static void random_str(char *out, size_t max_len, unsigned *seed)
{
    static const char ALPHA[] = "~kot-ab";
    size_t len = (size_t)rand_r(seed) % (max_len + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = ALPHA[rand_r(seed) % (int)(sizeof ALPHA - 1)];
    out[len] = '\0';
}

static void test_random_round_trip(void **state)
{
    (void)state;
    unsigned seed = 4242;
    for (int i = 0; i < 200000; i++) {
        char detail[40], v[RPT_TMPL_N][6], tmpl[RPT_TMPL_MAX_BYTES];
        const char *vals[RPT_TMPL_N];
        random_str(detail, sizeof detail - 1, &seed);
        for (size_t k = 0; k < RPT_TMPL_N; k++) {
            random_str(v[k], sizeof v[k] - 1, &seed);
            vals[k] = rand_r(&seed) % 8 == 0 ? NULL : v[k];
        }
        round_trip(detail, vals, tmpl);
    }
}

static void test_limits(void **state)
{
    (void)state;
    const char *none[RPT_TMPL_N] = {NULL, NULL, NULL};
    char detail[RPT_DETAIL_MAX_BYTES + 1], tmpl[RPT_TMPL_MAX_BYTES], small[8];
    memset(detail, '~', RPT_DETAIL_MAX_BYTES);
    detail[RPT_DETAIL_MAX_BYTES] = '\0';
    round_trip(detail, none, tmpl);   /* the worst case: every byte doubled */
    assert_int_equal(strlen(tmpl), 2 * RPT_DETAIL_MAX_BYTES);
    assert_int_equal(rpt__detail_template("~~~~", none, small, sizeof small), PD_ETOOBIG);
    assert_int_equal(rpt__detail_template("~~~", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "~~~~~~");
    const char *vals[RPT_TMPL_N] = {"a long order key", NULL, NULL};
    assert_int_equal(rpt__detail_expand("~k", vals, small, sizeof small), PD_ETOOBIG);
    /* What rpt__detail_template never writes stays as written, as in report.js. */
    assert_int_equal(rpt__detail_expand("~x ~", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "~x ~");
    assert_int_equal(rpt__detail_expand("~k~o~t", none, small, sizeof small), PD_OK);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
