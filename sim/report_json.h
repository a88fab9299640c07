/* report_json.h -- writes report.json (schema paydrill.report/1,
 * docs/report-json.md) from the checker's model and results.
 *
 * The report of a 100,000-order run is large, so it is printed piece by
 * piece onto a stream: each order, violation and fault-plan entry is built
 * as a small cJSON, printed and freed, never the whole tree (nor the whole
 * text) at once. */
#ifndef SIM_REPORT_JSON_H
#define SIM_REPORT_JSON_H

#include <stdio.h>

#include "check_eval.h"

#define SIM_REPORT_SCHEMA "paydrill.report/1"

/* Writes the whole report to out. logs lists the log files present in the
 * run folder (NULL-terminated; may be NULL). Returns 0, PD_ENOMEM or
 * PD_EIO (a write to out failed). */
int sim_report_json_write(const struct sim_model *m, const struct sim_results *res,
                          const char *const *logs, FILE *out);

#endif
