/* Proves the streamed report output (rpt__out_open): an output several
 * times RPT_OUT_FLUSH_BYTES reaches dir/name whole and in order, the
 * buffer never holds more than RPT_OUT_FLUSH_BYTES plus one append, the
 * file appears only at rpt__save, an output that failed while being
 * composed leaves neither the file nor its temp file, and the no_lt guard
 * refuses a '<' even after earlier bytes went to disk. Real files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_test.h"
#include "pd_util.h"
#include "rpt_internal.h"

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_streams_whole(void **state)
{
    (void)state;
    char dir[256], path[300];
    pd_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__out_open(&o, dir, "out.txt");
    assert_non_null(o.file);
    for (int i = 0; i < 40000; i++) {
        rpt__printf(&o, "row %d\n", i);
        assert_true(o.buf.len < RPT_OUT_FLUSH_BYTES + 64);
    }
    assert_int_not_equal(access(path, F_OK), 0);   /* only the temp file so far */
    assert_int_equal(rpt__save(&o, dir, "out.txt"), PD_OK);
    rpt__out_release(&o);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(path, 1 << 24, &text, &len), PD_OK);
    assert_true(len > 4 * RPT_OUT_FLUSH_BYTES);
    char *p = text;
    for (int i = 0; i < 40000; i++) {
        char want[32];
        int n = snprintf(want, sizeof want, "row %d\n", i);
        assert_int_equal(strncmp(p, want, (size_t)n), 0);
        p += n;
    }
    assert_int_equal((size_t)(p - text), len);
    free(text);
    assert_int_equal(files_in(dir), 1);
    pd_test_rmdir(dir);
}

static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char dir[256];
    pd_test_tmpdir(dir);
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__out_open(&o, dir, "page.html");
    for (int i = 0; i < 20000; i++)
        rpt__puts(&o, "<p>some text that is flushed</p>\n");
    o.no_lt = true;
    rpt__puts(&o, "data without brackets");
    assert_int_equal(o.rc, PD_OK);
    rpt__puts(&o, "data with </script>");
    assert_int_equal(o.rc, PD_EPROTO);
    o.no_lt = false;
    rpt__puts(&o, "after");
    assert_int_equal(o.rc, PD_EPROTO);   /* sticky */
    assert_int_equal(rpt__save(&o, dir, "page.html"), PD_EPROTO);
    rpt__out_release(&o);
    assert_int_equal(files_in(dir), 0);
    pd_test_rmdir(dir);
}

static void test_release_without_save(void **state)
{
    (void)state;
    char dir[256];
    pd_test_tmpdir(dir);
    struct rpt__out o;
    rpt__out_init(&o);
    rpt__out_open(&o, dir, "x.xml");
    rpt__puts(&o, "<x/>");
    rpt__out_release(&o);
    assert_int_equal(files_in(dir), 0);
    rpt__out_init(&o);
    rpt__out_open(&o, "/nonexistent/folder", "x.xml");   /* falls back to a buffer */
    assert_null(o.file);
    rpt__puts(&o, "<x/>");
    assert_int_equal(rpt__save(&o, "/nonexistent/folder", "x.xml"), PD_EIO);
    rpt__out_release(&o);
    pd_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_whole),
        cmocka_unit_test(test_failure_leaves_nothing),
        cmocka_unit_test(test_release_without_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
