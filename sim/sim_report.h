/* sim_report.h -- what paydrill writes after the runs: suite.json over all run
 * folders, the suite's HTML index when the report writers are built, and
 * the final "report: <path>" line. */
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "sim_run.h"
#include "sim_scenario.h"

/* Writes out_dir/suite.json, the reports' suite index when built, and
 * prints "report: <path>" on out. */
void sim_report_suite(const char *out_dir, const struct sim_run_result *results,
                      const struct sim_scenario *scenarios, size_t n, FILE *out);

#endif
