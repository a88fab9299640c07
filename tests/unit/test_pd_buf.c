/* Proves the buffer never grows past its limit and stays intact when an
 * append is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_err.h"

static void test_limit(void **state)
{
    (void)state;
    struct pd_buf b;
    pd_buf_init(&b, 10);
    assert_int_equal(pd_buf_puts(&b, "hello"), PD_OK);
    assert_int_equal(pd_buf_printf(&b, "%d", 12345), PD_OK);
    assert_int_equal(pd_buf_puts(&b, "!"), PD_ETOOBIG);
    assert_string_equal(b.data, "hello12345");
    assert_int_equal(b.len, 10);
    char *p = pd_buf_take(&b);
    assert_string_equal(p, "hello12345");
    free(p);
    assert_null(b.data);
    pd_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_limit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
