/* Proves the report escapers make hostile strings inert: HTML text gets
 * entities for & < > " ', XML drops the characters XML 1.0 forbids and
 * escapes the five specials (and keeps tab/CR/LF in attributes as
 * references), the JSON embedded in a <script> never holds < > & or a raw
 * U+2028/2029 yet parses back to the original string, invalid UTF-8 is
 * repaired everywhere, and hrefs are percent-encoded. Table-driven: each
 * row is an input and the exact bytes expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

struct row {
    const char *in, *want;
};

typedef void (*esc_fn)(struct rpt__out *o, const char *s);

static char *run(esc_fn fn, const char *in)
{
    struct rpt__out o;
    rpt__out_init(&o);
    fn(&o, in);
    assert_int_equal(o.rc, PD_OK);
    char *s = pd_buf_take(&o.buf);
    return s ? s : strdup("");
}

static void check_rows(esc_fn fn, const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *got = run(fn, rows[i].in);
        assert_string_equal(got, rows[i].want);
        free(got);
    }
}

static void test_html(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"plain o-123", "plain o-123"},
        {"</script><script>alert(1)</script>",
         "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b \"q\" 'r' <!-- x -->", "a &amp; b &quot;q&quot; &#39;r&#39; &lt;!-- x --&gt;"},
        {"<img src=x onerror=\"alert(1)\">", "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"},
        {"caf\xC3\xA9 \xF0\x9F\x92\xB3", "caf\xC3\xA9 \xF0\x9F\x92\xB3"},   /* valid UTF-8 kept */
        {"ls\xE2\x80\xA8ps\xE2\x80\xA9", "ls&#x2028;ps&#x2029;"},
        {"bad \xC3 \xFF end", "bad \xEF\xBF\xBD \xEF\xBF\xBD end"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},    /* a surrogate */
    };
    check_rows(rpt__html, rows, sizeof rows / sizeof rows[0]);
}

static void xml_text(struct rpt__out *o, const char *s)
{
    rpt__xml(o, s, false);
}

static void xml_attr(struct rpt__out *o, const char *s)
{
    rpt__xml(o, s, true);
}

static void test_xml(void **state)
{
    (void)state;
    static const struct row text[] = {
        {"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
        {"ctl\x01\x02\x07\x0B\x0C\x1F!", "ctl!"},
        {"keep\ttab\nline", "keep\ttab\nline"},
        {"cr\r", "cr&#13;"},
        {"]]> <![CDATA[", "]]&gt; &lt;![CDATA["},
        {"nonchar \xEF\xBF\xBE\xEF\xBF\xBF.", "nonchar ."},
        {"bad \xC0\xAF", "bad \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF0\x9F\x92\xB3 card", "\xF0\x9F\x92\xB3 card"},
    };
    check_rows(xml_text, text, sizeof text / sizeof text[0]);
    static const struct row attr[] = {
        {"a\tb\nc\rd", "a&#9;b&#10;c&#13;d"},
        {"\"/><x a=\"", "&quot;/&gt;&lt;x a=&quot;"},
    };
    check_rows(xml_attr, attr, sizeof attr / sizeof attr[0]);
}

static void test_json(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"</script><script>alert(1)</script>",
         "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\""},
        {"<!-- & -->", "\"\\u003c!-- \\u0026 --\\u003e\""},
        {"ls\xE2\x80\xA8ps\xE2\x80\xA9", "\"ls\\u2028ps\\u2029\""},
        {"q\"b\\n\n\x01", "\"q\\\"b\\\\n\\n\\u0001\""},
        {"bad\xFF", "\"bad\\ufffd\""},
        {"caf\xC3\xA9", "\"caf\xC3\xA9\""},
    };
    check_rows(rpt__json_str, rows, sizeof rows / sizeof rows[0]);
    /* And each parses back to the string it came from. */
    const char *round[] = {"</script><script>alert(1)</script>", "ls\xE2\x80\xA8ps", "q\"\\\n\x01<>&"};
    for (size_t i = 0; i < 3; i++) {
        char *lit = run(rpt__json_str, round[i]);
        cJSON *back = cJSON_Parse(lit);
        assert_non_null(back);
        assert_string_equal(back->valuestring, round[i]);
        assert_null(strpbrk(lit, "<>&"));
        cJSON_Delete(back);
        free(lit);
    }
    char *null_lit = run(rpt__json_str, NULL);
    assert_string_equal(null_lit, "null");
    free(null_lit);
}

static void test_url(void **state)
{
    (void)state;
    static const struct row rows[] = {
        {"../runs/happy-1/report.html", "../runs/happy-1/report.html"},
        {"a b/\"x\"#?<>", "a%20b/%22x%22%23%3F%3C%3E"},
        {"javascript:alert(1)", "javascript%3Aalert%281%29"},
    };
    check_rows(rpt__url_path, rows, sizeof rows / sizeof rows[0]);
}

/* The sticky error: after a refused append nothing else is written. */
static void test_out_limit(void **state)
{
    (void)state;
    struct rpt__out o;
    rpt__out_init(&o);
    o.buf.limit = 9;
    rpt__puts(&o, "12345");
    rpt__html(&o, "<<");   /* the second &lt; is over */
    rpt__puts(&o, "6");
    assert_int_equal(o.rc, PD_ETOOBIG);
    assert_string_equal(o.buf.data, "12345&lt;");
    rpt__out_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html), cmocka_unit_test(test_xml), cmocka_unit_test(test_json),
        cmocka_unit_test(test_url), cmocka_unit_test(test_out_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
