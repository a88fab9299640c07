/* Proves the orders scan of rpt_split.c on a table of texts: it finds the
 * root object's plain "orders" array past strings that hold quotes,
 * brackets and the word orders, and its elements with their blanks
 * trimmed; it finds nothing (so the caller parses the whole text) for a
 * nested or escaped "orders", a non-array value, a non-object root or a
 * text that ends early; and it reports -1 at an empty element or a
 * stray bracket instead of skipping them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rpt_internal.h"

struct tcase {
    const char *text;
    const char *span;    /* the array as found, or NULL for none */
    const char *elems;   /* elements joined by '|', then "!" when -1 ends them */
};

static const struct tcase CASES[] = {
    {"{\"a\":1,\"orders\":[{\"x\":\"]\"}, [1,2] ,3 ],\"b\":2}", "[{\"x\":\"]\"}, [1,2] ,3 ]",
     "{\"x\":\"]\"}|[1,2]|3"},
    {" {\"s\":\"\\\"orders\\\" [\" , \"orders\" : [ \"a,b\" ] } ", "[ \"a,b\" ]", "\"a,b\""},
    {"{\"orders\":[]}", "[]", ""},
    {"{\"orders\":[ \n ]}", "[ \n ]", ""},
    {"{\"orders\":[1,]}", "[1,]", "1|!"},
    {"{\"orders\":[,1]}", "[,1]", "!"},
    {"{\"orders\":[1 2]}", "[1 2]", "1 2"},
    {"{\"orders\":[1] [2]}", "[1] [2]", "!"},
    {"{\"orders\":[{]}]}", NULL, NULL},
    {"{\"orders\":[[1],{]}]}", NULL, NULL},
    /* nesting is counted, not matched: cJSON refuses this element */
    {"{\"orders\":[1,{\"a\":[}]]}", "[1,{\"a\":[}]]", "1|{\"a\":[}]"},
    {"{\"ord\\u0065rs\":[1]}", NULL, NULL},
    {"{\"a\":{\"orders\":[1]},\"b\":1}", NULL, NULL},
    {"[{\"orders\":[1]}]", NULL, NULL},
    {"{\"orders\":{\"a\":1}}", NULL, NULL},
    {"{\"orders\":[1,2", NULL, NULL},
    {"{\"orders\":[1]", NULL, NULL},
    {"{\"a\":\"unterminated", NULL, NULL},
    {"{\"a\" 1,\"orders\":[1]}", NULL, NULL},
    {"", NULL, NULL},
};

/* The elements as "a|b", "!" appended where rpt__array_next said -1. */
static void walk(const char *text, struct rpt__span arr, char *out, size_t out_len)
{
    size_t pos = arr.at + 1;
    struct rpt__span e;
    int step, n = 0;
    out[0] = '\0';
    while ((step = rpt__array_next(text, arr, &pos, &e)) == 1) {
        size_t used = strlen(out);
        snprintf(out + used, out_len - used, "%s%.*s", n++ ? "|" : "", (int)e.len, text + e.at);
    }
    if (step < 0) {
        size_t used = strlen(out);
        snprintf(out + used, out_len - used, "%s!", n ? "|" : "");
        assert_true(pos <= arr.at + arr.len);
    }
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct tcase *c = &CASES[i];
        struct rpt__span arr;
        bool found = rpt__orders_span(c->text, strlen(c->text), &arr);
        if (c->span == NULL) {
            if (found)
                fail_msg("case %zu: found a span in %s", i, c->text);
            continue;
        }
        assert_true(found);
        char got[256];
        snprintf(got, sizeof got, "%.*s", (int)arr.len, c->text + arr.at);
        assert_string_equal(got, c->span);
        walk(c->text, arr, got, sizeof got);
        assert_string_equal(got, c->elems);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
