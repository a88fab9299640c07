/* sim_cli.h -- the paydrill command line: run, list, check, replay.
 *
 * Exit codes: 0 every invariant held in every scenario; 1 some invariant
 * was violated (one line per violation on stderr); 2 bad usage or a
 * scenario file error; 3 a run could not be completed or checked (no
 * verdict: a process did not start, or the checker is not built). */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "sim_scenario.h"

enum { SIM_EXIT_PASS = 0, SIM_EXIT_FAIL = 1, SIM_EXIT_USAGE = 2, SIM_EXIT_NO_VERDICT = 3 };

#define SIM_MAX_SCENARIOS 256

/* Expands files, folders (their *.json files, sorted; with tree, then
 * their subfolders', as `paydrill list` shows them) and suite files
 * (*.suite.json: {"suite", "description", "scenarios": [paths relative to
 * the suite file]}) into scenario file paths. Prints problems on stderr.
 * Returns the count, or -1 on an error (exit 2). Paths are malloc'd. */
int sim_cli_expand(const char *const *paths, size_t n_paths, bool tree, char **out, size_t max);

int sim_cli_main(int argc, char **argv);

#endif
