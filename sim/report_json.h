/* report_json.h -- writes report.json (schema paydrill.report/1,
 * docs/report-json.md) from the checker's model and results.
 *
 * The report of a 100,000-order run is large, so it is printed piece by
 * piece into one buffer: each order, violation and fault-plan entry is
 * built as a small cJSON, printed and freed, never the whole tree at once. */
#ifndef SIM_REPORT_JSON_H
#define SIM_REPORT_JSON_H

#include "check_eval.h"
#include "pd_buf.h"

#define SIM_REPORT_SCHEMA "paydrill.report/1"

/* Appends the whole report to out (initialised by the caller). logs lists
 * the log files present in the run folder (NULL-terminated; may be NULL).
 * Returns 0, PD_ENOMEM or PD_ETOOBIG (out's limit). */
int sim_report_json_write(const struct sim_model *m, const struct sim_results *res,
                          const char *const *logs, struct pd_buf *out);

#endif
