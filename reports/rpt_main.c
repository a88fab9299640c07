/* paydrill-report -- rewrites the reports of saved run folders.
 *
 *   paydrill-report RUN_DIR...               junit.xml + report.html in each
 *   paydrill-report --suite OUT RUN_DIR...   also OUT/index.html + OUT/junit.xml
 *
 * paydrill writes reports itself after each run; this is for a folder
 * copied from CI, or after a report writer change. Exit 0, or 2 with the
 * reason on stderr. */
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "rpt.h"

static const char help_text[] =
    "usage: paydrill-report [--suite OUT_DIR] RUN_DIR...\n"
    "\n"
    "Rewrites the reports of saved paydrill run folders: junit.xml and\n"
    "report.html in each RUN_DIR, from its report.json and journal.ndjson\n"
    "(written by the checker; `paydrill check DIR` re-creates them).\n"
    "\n"
    "  --suite OUT_DIR  also write OUT_DIR/index.html (one row per run, with\n"
    "                   relative links) and OUT_DIR/junit.xml (merged)\n"
    "  --help           print this help and exit\n"
    "\n"
    "paydrill writes these itself after every run; use this for a folder\n"
    "copied from CI or after a report writer change. See docs/reports.md.\n"
    "Exit status: 0, or 2 with the reason (file and field) on stderr.\n";

static int usage(void)
{
    fputs(help_text, stderr);
    return 2;
}

int main(int argc, char **argv)
{
    int first = 1;
    const char *suite = NULL;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(help_text, stdout);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--suite") == 0) {
        if (argc < 3)
            return usage();
        suite = argv[2];
        first = 3;
    }
    if (first >= argc)
        return usage();
    int status = 0;
    for (int i = first; i < argc; i++) {
        if (rpt_write_run(argv[i]) != PD_OK) {
            fprintf(stderr, "paydrill-report: %s\n", rpt_last_error());
            status = 2;
        }
    }
    if (suite != NULL &&
        rpt_write_suite(suite, (const char *const *)(argv + first), (size_t)(argc - first)) != PD_OK) {
        fprintf(stderr, "paydrill-report: %s\n", rpt_last_error());
        status = 2;
    }
    return status;
}
