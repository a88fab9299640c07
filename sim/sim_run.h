/* sim_run.h -- one scenario run, start to verdict.
 *
 * Makes the run folder, starts the business receiver, mock-gateway and the
 * SUT on one simulated timeline, plays the workload and the process faults,
 * waits until quiet (or the convergence bound), collects G, P and B into
 * the run folder (docs/dev/interfaces.md), runs the checker and the report
 * writers. */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "pd_proc.h"

#include "sim_procs.h"
#include "sim_scenario.h"

struct sim_run_opts {
    const struct sim_tools *tools;
    int sut_kind;               /* enum sim_sut_kind */
    const char *sut_cmd;
    const char *sut_url;
    int64_t concurrency;        /* > 0 overrides the scenario's */
    int gateway_port;           /* 0 = any free port */
    int business_port;          /* 0 = any free port */
    bool quiet_output;          /* no progress lines on stderr */
    /* --harness-cpus: paydrill (pinned by the caller) and mock-gateway run
     * on harness; the SUT on sut_cpus, the CPUs paydrill had at start. NULL:
     * nobody is placed. */
    const struct pd_cpus *harness_cpus;
    const struct pd_cpus *sut_cpus;
};

enum sim_verdict { SIM_VERDICT_PASS = 0, SIM_VERDICT_FAIL = 1, SIM_VERDICT_ERROR = 2,
                   SIM_VERDICT_UNCHECKED = 3 };

struct sim_run_result {
    int verdict;                /* enum sim_verdict */
    int violations;
    int expectations_unmet;     /* the scenario's expectations not met */
    char run_dir[1024];
    char report[1100];          /* report.json path */
    char error[2600];            /* why the run could not be done, or "" */
    char *violation_text;       /* the checker's violation lines, malloc'd, or NULL */
};

/* Runs s (its seed already final) into run_dir (created). */
int sim_run_scenario(const struct sim_scenario *s, const struct sim_run_opts *o,
                     const char *run_dir, struct sim_run_result *res);

/* Runs the checker (and the run's report writer) over a saved run folder. */
int sim_run_check(const char *run_dir, struct sim_run_result *res);

/* Frees what a result owns (violation_text). */
void sim_run_result_release(struct sim_run_result *res);

#endif
