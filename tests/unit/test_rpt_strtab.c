/* Proves the report writers' string table now that it packs strings into
 * chunks: 50,000 distinct strings (several chunks' worth, plus one longer
 * than a chunk) each get the next index, every strs[i] still reads back
 * its string after all the others were added (chunks never move), adding
 * a string again returns its first index without growing the table, and
 * find answers -1 for a string never added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

#define N 50000

static void name(char *out, size_t len, int i)
{
    snprintf(out, len, "detail %d of a journal line with some length", i);
}

static void test_many_strings(void **state)
{
    (void)state;
    struct rpt__strtab t;
    rpt__strtab_init(&t);
    char buf[128];
    size_t idx;
    for (int i = 0; i < N; i++) {
        name(buf, sizeof buf, i);
        assert_int_equal(rpt__strtab_add(&t, buf, &idx), PD_OK);
        assert_int_equal(idx, (size_t)i);
    }
    char *big = malloc(200000);
    memset(big, 'x', 199999);
    big[199999] = '\0';
    assert_int_equal(rpt__strtab_add(&t, big, &idx), PD_OK);
    assert_int_equal(idx, N);
    assert_int_equal(rpt__strtab_add(&t, "", &idx), PD_OK);
    assert_int_equal(idx, N + 1);
    for (int i = 0; i < N; i++) {
        name(buf, sizeof buf, i);
        assert_string_equal(t.strs[i], buf);
        assert_int_equal(rpt__strtab_find(&t, buf), i);
    }
    assert_string_equal(t.strs[N], big);
    assert_string_equal(t.strs[N + 1], "");
    name(buf, sizeof buf, 123);
    assert_int_equal(rpt__strtab_add(&t, buf, &idx), PD_OK);
    assert_int_equal(idx, 123);
    assert_int_equal(t.n, N + 2);
    assert_int_equal(rpt__strtab_find(&t, "never added"), -1);
    free(big);
    rpt__strtab_release(&t);
    assert_int_equal(t.n, 0);
    assert_null(t.bytes.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_many_strings)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
