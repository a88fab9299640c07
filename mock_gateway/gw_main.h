/* gw_main.h -- the mock-gateway command line, callable from main.c. */
#ifndef GW_MAIN_H
#define GW_MAIN_H

#include <stdio.h>

/* Runs mock-gateway with argv (see --help). Returns the exit status. */
int gw_main(int argc, char **argv);

/* --check-faults: prints "FILE: ok (N rules)" or "FILE: <json path>: <reason>"
 * to out. Returns 0 (valid) or 2. */
int gw_check_faults(const char *path, FILE *out);

#endif
