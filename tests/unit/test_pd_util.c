#define _DEFAULT_SOURCE    /* MAP_ANONYMOUS */
/* pd_util: the /proc/self/status reader the benchmarks' memory figures
 * come from (run.json's runner_peak_rss_kb, bench/lib_rss). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pd_util.h"

static void test_status_fields(void **state)
{
    (void)state;
    long rss = pd_proc_status_kb("VmRSS"), hwm = pd_proc_status_kb("VmHWM");
    assert_true(rss > 0);
    assert_true(hwm >= rss);
    /* A field is matched whole: "VmRS" is no line's name, nor "Vm". */
    assert_int_equal(pd_proc_status_kb("VmRS"), -1);
    assert_int_equal(pd_proc_status_kb("Vm"), -1);
    assert_int_equal(pd_proc_status_kb("NoSuchField"), -1);
}

static void test_rss_follows_touched_pages(void **state)
{
    (void)state;
    const size_t len = (size_t)16 << 20;
    long before = pd_proc_status_kb("VmRSS");
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 1, len);
    long after = pd_proc_status_kb("VmRSS");
    /* 16 MiB touched: at least 15 MiB more resident (KiB units). */
    assert_true(after - before >= 15 * 1024);
    assert_true(pd_proc_status_kb("VmHWM") >= after);
    munmap(p, len);
}

static void test_escape_controls(void **state)
{
    (void)state;
    char s[64] = "workload.co\ncurrency\t\x01\x7f: unknown field";
    pd_escape_controls(s, sizeof s);
    assert_string_equal(s, "workload.co\\ncurrency\\t\\x01\\x7f: unknown field");
    char back[32] = "co\\ncurrency";           /* a backslash, then n */
    pd_escape_controls(back, sizeof back);
    assert_string_equal(back, "co\\\\ncurrency");
    char clean[16] = "plain text";
    pd_escape_controls(clean, sizeof clean);
    assert_string_equal(clean, "plain text");
    /* What does not fit is cut, whole escapes only, still terminated. */
    char small[8] = "ab\ncd\n";
    pd_escape_controls(small, sizeof small);
    assert_string_equal(small, "ab\\ncd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_fields),
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_rss_follows_touched_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
