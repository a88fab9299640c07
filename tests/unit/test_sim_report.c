/* sim_report: after the runs, suite.json carries each run's verdict,
 * violations and unmet expectations, and the "report:" line names the
 * suite's index.html whenever the report writers wrote it, including when
 * a run's report.json is missing or malformed (the index then has that
 * run's row); it names suite.json only when no index exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_test.h"
#include "pd_util.h"
#include "sim_report.h"

static char tmp[256];

static int setup(void **state)
{
    (void)state;
    pd_test_tmpdir(tmp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_test_rmdir(tmp);
    return 0;
}

/* The file's text (caller frees), or NULL. */
static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    return pd_read_file(path, 1 << 20, &text, &len) == 0 ? text : NULL;
}

/* One run named "one" whose folder holds report_json (NULL: none); returns
 * what sim_report_suite printed (caller frees). */
static char *report_one(const char *report_json, const struct sim_run_result *r0)
{
    char dir[300], path[320];
    snprintf(dir, sizeof dir, "%s/one", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (report_json != NULL)
        assert_int_equal(pd_write_file(path, report_json, strlen(report_json)), 0);
    struct sim_scenario *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    pd_strlcpy(sc->name, "one", sizeof sc->name);
    pd_strlcpy(sc->file, "scenarios/one.json", sizeof sc->file);
    sc->seed = 7;
    struct sim_run_result res = *r0;
    pd_strlcpy(res.run_dir, dir, sizeof res.run_dir);
    pd_strlcpy(res.report, path, sizeof res.report);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    sim_report_suite(tmp, &res, sc, 1, f);
    fclose(f);
    free(sc);
    return out;
}

static void expect_report_line(const char *out, const char *file)
{
    char want[340];
    snprintf(want, sizeof want, "report: %s/%s\n", tmp, file);
    if (strstr(out, want) == NULL)
        fail_msg("wanted \"%s\" in:\n%s", want, out);
}

static void test_suite_json(void **state)
{
    (void)state;
    struct sim_run_result r = {.verdict = 1, .violations = 2, .expectations_unmet = 3};
    char *out = report_one(NULL, &r);
    char path[300];
    snprintf(path, sizeof path, "%s/suite.json", tmp);
    char *suite = slurp(path);
    assert_non_null(suite);
    assert_non_null(strstr(suite, "\"schema\":\t\"paydrill.suite/1\""));
    assert_non_null(strstr(suite, "\"seed\":\t7,"));
    assert_non_null(strstr(suite, "\"verdict\":\t\"fail\","));
    assert_non_null(strstr(suite, "\"violations\":\t2,"));
    assert_non_null(strstr(suite, "\"expectations_unmet\":\t3,"));
    free(suite);
    free(out);
}

#ifdef PD_HAVE_RPT
static void test_report_line_missing(void **state)
{
    (void)state;
    struct sim_run_result r = {.verdict = 2};
    char *out = report_one(NULL, &r);
    expect_report_line(out, "index.html");
    free(out);
}

static void test_report_line_malformed(void **state)
{
    (void)state;
    struct sim_run_result r = {.verdict = 2};
    char *out = report_one("{\"schema\": \"paydrill.report/1\", \"verdict\": ", &r);
    expect_report_line(out, "index.html");
    char path[300];
    snprintf(path, sizeof path, "%s/index.html", tmp);
    char *index = slurp(path);
    assert_non_null(index);
    assert_non_null(strstr(index, "one"));      /* the run has its row */
    free(index);
    free(out);
}
#else
/* Without the report writers there is no index: suite.json is the report. */
static void test_report_line_no_writers(void **state)
{
    (void)state;
    struct sim_run_result r = {.verdict = 2};
    char *out = report_one(NULL, &r);
    expect_report_line(out, "suite.json");
    free(out);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_suite_json, setup, teardown),
#ifdef PD_HAVE_RPT
        cmocka_unit_test_setup_teardown(test_report_line_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_line_malformed, setup, teardown),
#else
        cmocka_unit_test_setup_teardown(test_report_line_no_writers, setup, teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
