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

static int usage(void)
{
    fprintf(stderr, "usage: paydrill-report [--suite OUT_DIR] RUN_DIR...\n");
    return 2;
}

int main(int argc, char **argv)
{
    int first = 1;
    const char *suite = NULL;
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
