/* Proves pd_afile's promise: until commit the target path does not exist
 * (or keeps its old content), after commit it holds exactly the bytes
 * written, and abort or a failed open leaves no file behind. Real files in
 * a fresh temp folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_afile.h"
#include "pd_err.h"
#include "pd_util.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/pd_afile_XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void test_commit_replaces(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "out.txt");
    assert_int_equal(pd_write_file(path, "old", 3), PD_OK);
    struct pd_afile af;
    assert_int_equal(pd_afile_open(&af, path), PD_OK);
    for (int i = 0; i < 10000; i++)
        fprintf(af.f, "line %d\n", i);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(pd_read_file(path, 1 << 20, &text, &len), PD_OK);
    assert_string_equal(text, "old");   /* not replaced before commit */
    free(text);
    assert_int_equal(pd_afile_commit(&af), PD_OK);
    assert_null(af.f);
    assert_int_equal(pd_read_file(path, 1 << 20, &text, &len), PD_OK);
    assert_int_equal(strncmp(text, "line 0\nline 1\n", 14), 0);
    assert_non_null(strstr(text, "line 9999\n"));
    assert_int_equal(text[len - 1], '\n');
    free(text);
    assert_int_not_equal(access(af.tmp, F_OK), 0);
    unlink(path);
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "never.txt");
    struct pd_afile af;
    assert_int_equal(pd_afile_open(&af, path), PD_OK);
    fputs("partial", af.f);
    pd_afile_abort(&af);
    pd_afile_abort(&af);    /* closed: a no-op */
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_not_equal(access(af.tmp, F_OK), 0);
    assert_int_equal(pd_afile_commit(&af), PD_EIO);   /* nothing open to commit */
}

static void test_open_fails(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "no/such/folder/x.txt");
    struct pd_afile af;
    assert_int_equal(pd_afile_open(&af, path), PD_EIO);
    assert_null(af.f);
    char *long_path = malloc(5000);
    memset(long_path, 'a', 4999);
    long_path[4999] = '\0';
    assert_int_equal(pd_afile_open(&af, long_path), PD_ETOOBIG);
    assert_null(af.f);
    free(long_path);
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_replaces),
        cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_open_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
