/* sim_verdict.c -- the glue between a run folder and the checker and the
 * report writers. The checker (sim_check, sim/check.h) and the report
 * writers (rpt, reports/) are separate libraries; a paydrill built without
 * the checker says "unchecked": it never claims a verdict without it. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"
#include "pd_util.h"
#include "sim_run.h"

#ifdef PD_HAVE_SIM_CHECK
#include "check.h"
#endif
#ifdef PD_HAVE_RPT
#include "rpt.h"
#endif

#ifdef PD_HAVE_SIM_CHECK
/* The checker's own printer, captured so lines of parallel runs never interleave. */
static char *violation_lines(const struct sim_check_summary *summary)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    sim_check_print_violations(summary, f);
    fclose(f);
    return text;
}

static int check(const char *run_dir, struct sim_run_result *res)
{
    struct sim_check_summary summary;
    memset(&summary, 0, sizeof summary);
    int rc = sim_check_run(run_dir, &summary);
    if (rc != PD_OK) {
        res->verdict = SIM_VERDICT_ERROR;
        snprintf(res->error, sizeof res->error, "checker: %s",
                 summary.error[0] ? summary.error : pd_strerror(rc));
        sim_check_summary_release(&summary);
        return rc;
    }
    res->violations = 0;
    for (int i = 0; i < SIM_INV_COUNT; i++)
        res->violations += (int)summary.violations[i];
    res->expectations_unmet = (int)summary.expect_unmet;
    res->verdict = summary.pass ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL;
    free(res->violation_text);
    res->violation_text = summary.pass ? NULL : violation_lines(&summary);
    sim_check_summary_release(&summary);
    return PD_OK;
}
#endif

int sim_run_check(const char *run_dir, struct sim_run_result *res)
{
    pd_strlcpy(res->run_dir, run_dir, sizeof res->run_dir);
    snprintf(res->report, sizeof res->report, "%s/report.json", run_dir);
#ifdef PD_HAVE_SIM_CHECK
    int rc = check(run_dir, res);
    if (rc != PD_OK)
        return rc;
#else
    res->verdict = SIM_VERDICT_UNCHECKED;
    snprintf(res->error, sizeof res->error,
             "no verdict: this paydrill was built without the checker (sim_check)");
#endif
#ifdef PD_HAVE_RPT
    malloc_trim(0);     /* the checker's model is freed: the report writers start low */
    if (rpt_write_run(run_dir) != 0)
        snprintf(res->error, sizeof res->error, "the report writers failed on %s", run_dir);
#endif
    return PD_OK;
}

void sim_run_result_release(struct sim_run_result *res)
{
    free(res->violation_text);
    res->violation_text = NULL;
}
