#include "sim_report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_json.h"
#include "pd_util.h"

#ifdef PD_HAVE_RPT
#include "rpt.h"
#endif

static const char *verdict_name(int v)
{
    static const char *const names[] = {"pass", "fail", "error", "unchecked"};
    return v >= 0 && v <= 3 ? names[v] : "error";
}

static void write_suite_json(const char *out_dir, const struct sim_run_result *results,
                             const struct sim_scenario *scenarios, size_t n, char *path,
                             size_t path_len)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "paydrill.suite/1");
    cJSON *runs = cJSON_AddArrayToObject(doc, "runs");
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "scenario", scenarios[i].name);
        cJSON_AddStringToObject(r, "file", scenarios[i].file);
        pd_json_add_i64(r, "seed", (int64_t)scenarios[i].seed);
        cJSON_AddStringToObject(r, "verdict", verdict_name(results[i].verdict));
        pd_json_add_i64(r, "violations", results[i].violations);
        if (results[i].verdict == SIM_VERDICT_PASS || results[i].verdict == SIM_VERDICT_FAIL)
            pd_json_add_i64(r, "expectations_unmet", results[i].expectations_unmet);
        cJSON_AddStringToObject(r, "run_dir", results[i].run_dir);
        cJSON_AddStringToObject(r, "report", results[i].report);
        if (results[i].error[0])
            cJSON_AddStringToObject(r, "error", results[i].error);
        cJSON_AddItemToArray(runs, r);
    }
    snprintf(path, path_len, "%s/suite.json", out_dir);
    char *text = cJSON_Print(doc);
    if (text != NULL)
        pd_write_file(path, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(doc);
}

void sim_report_suite(const char *out_dir, const struct sim_run_result *results,
                      const struct sim_scenario *scenarios, size_t n, FILE *out)
{
    char suite[1200];
    write_suite_json(out_dir, results, scenarios, n, suite, sizeof suite);
    size_t passed = 0;
    for (size_t i = 0; i < n; i++)
        passed += results[i].verdict == SIM_VERDICT_PASS;
    fprintf(out, "%zu of %zu scenarios passed\n", passed, n);
#ifdef PD_HAVE_RPT
    const char *dirs[256];
    for (size_t i = 0; i < n && i < 256; i++)
        dirs[i] = results[i].run_dir;
    char index[1200];
    snprintf(index, sizeof index, "%s/index.html", out_dir);
    /* A run without a readable report.json (one that ended in ERROR, said
     * above) still has its row in the index, which is then the report:
     * rpt_write_suite's result names the first such run, so whether the
     * index was written is told by the file (an older one removed first). */
    unlink(index);
    (void)rpt_write_suite(out_dir, dirs, n);
    if (access(index, R_OK) == 0) {
        fprintf(out, "report: %s\n", index);
        return;
    }
#endif
    if (n == 1 && access(results[0].report, R_OK) == 0)
        fprintf(out, "report: %s\n", results[0].report);
    else
        fprintf(out, "report: %s\n", suite);
}
