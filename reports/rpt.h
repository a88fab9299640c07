/* rpt.h -- report writers: junit.xml and report.html for one run folder,
 * index.html and a merged junit.xml for a suite of runs.
 *
 * Inputs are the files of a run folder as docs/dev/interfaces.md fixes
 * them: report.json (schema "paydrill.report/1") and journal.ndjson. The
 * writers only read those files and write their own outputs (atomically:
 * temp file then rename), so they can be re-run on a saved folder.
 *
 * Every string from the data is treated as hostile: HTML text is
 * entity-escaped, the JSON embedded in report.html escapes <, >, & and
 * U+2028/2029 as \u escapes, and XML drops the characters XML 1.0 forbids,
 * so no order id or merchant name can run script or break a parser.
 * docs/reports.md describes the outputs. */
#ifndef RPT_H
#define RPT_H

#include <stddef.h>

/* Reads run_dir/report.json and run_dir/journal.ndjson (the name in
 * report.json "files.journal" when present) and writes run_dir/junit.xml
 * and run_dir/report.html. junit.xml depends on report.json only and is
 * written first, so a broken journal still leaves CI a junit.xml.
 * Returns 0, or PD_ENOTFOUND (an input is missing), PD_EINVAL (an input
 * is malformed), PD_ETOOBIG, PD_ENOMEM or PD_EIO; rpt_last_error() then
 * says which file and why. */
int rpt_write_run(const char *run_dir);

/* Writes out_dir/index.html (one row per run: scenario, verdict, orders,
 * violations by invariant and unmet expectations, duration, a relative
 * link to its report.html) and out_dir/junit.xml (a <testsuites> with one
 * <testsuite> per run).
 * A run whose report.json cannot be read still gets a row and an <error>
 * test case naming the problem; the first such error code is returned
 * after both files are written. Returns 0 or a PD_E* code as above. */
int rpt_write_suite(const char *out_dir, const char *const *run_dirs, size_t n);

/* The message of the last failure in this thread ("" when none), e.g.
 * "/tmp/run/report.json: invariants[1].name: must be a string". Borrowed;
 * valid until the next rpt_ call in this thread. */
const char *rpt_last_error(void);

#endif
