/* sim_procs.h -- the processes of one run: mock-gateway and the SUT.
 *
 * Both start on loopback with fresh data folders, under libfaketime with
 * the run's timeline (FAKETIME computed at each spawn), and can be killed
 * with SIGKILL and restarted on the same port with the same data folder.
 * The SUT is the reference payment-center, a command run through
 * /bin/sh -c (--sut-cmd), or a URL of a service already running (then it
 * cannot be killed: process faults are refused). */
#ifndef SIM_PROCS_H
#define SIM_PROCS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pd_proc.h"
#include "sim_clock.h"
#include "sim_time.h"

#define SIM_SECRET_GATEWAY "paydrill-gateway-secret"
#define SIM_SECRET_BUSINESS "paydrill-business-secret"

/* Real time every network timeout and freshness window must at least last:
 * see sim_latency_allowance_ms. */
#define SIM_REAL_ALLOWANCE_MS 1500

/* max(production_ms, SIM_REAL_ALLOWANCE_MS * scale): the timeouts paydrill
 * gives the reference SUT and mock-gateway (PAYDRILL_GATEWAY_TIMEOUT,
 * PAYDRILL_BUSINESS_TIMEOUT, PAYDRILL_SIG_TOLERANCE, GW_CALLBACK_TIMEOUT)
 * unless the scenario sets them, and the business receiver's freshness. */
int64_t sim_latency_allowance_ms(int64_t production_ms, double scale);

enum sim_sut_kind { SIM_SUT_REFERENCE = 0, SIM_SUT_COMMAND, SIM_SUT_URL };

/* Where the programs are and how to preload libfaketime. */
struct sim_tools {
    char gateway_bin[1024];
    char sut_bin[1024];         /* the reference payment-center */
    char faketime_lib[1024];    /* "" = do not fake time (refused for scale != 1) */
    char asan_lib[1024];        /* preloaded first under ASan, or "" */
};

/* Finds mock-gateway and payment-center next to our executable (or from
 * PAYDRILL_GATEWAY_BIN / PAYDRILL_SUT_BIN) and libfaketimeMT. */
void sim_tools_find(struct sim_tools *tools);

struct sim_procs {
    const struct sim_tools *tools;
    const struct sim_timeline *tl;
    int sut_kind;
    const char *sut_cmd;        /* for SIM_SUT_COMMAND */
    const char *sut_url_given;  /* for SIM_SUT_URL */
    int sut_health_http;        /* SIM_SUT_URL: what GET /healthz answered (0: nothing) */
    char run_dir[1024];
    char business_url[256];
    char faults_file[1100];     /* "" = none */
    uint64_t seed;
    char *const *sut_env;       /* scenario's "NAME=value", NULL-terminated */
    char *const *gateway_env;   /* scenario's GW_* "NAME=value", NULL-terminated */
    int64_t dedup_window_ms;    /* passed as PAYDRILL_DEDUP_WINDOW */
    int64_t payment_expiry_ms;  /* passed as PAYDRILL_PAYMENT_EXPIRY */
    const struct pd_cpus *gateway_cpus;     /* NULL: where paydrill runs */
    const struct pd_cpus *sut_cpus;         /* NULL: where paydrill runs */
    pthread_mutex_t lock;
    struct pd_proc gateway;
    struct pd_proc sut;
    int gateway_port;           /* fixed after the first start */
    int sut_port;
    char gateway_url[128];
    char sut_url[128];
    /* Every child's sped-up clock starts at the run's start instant
     * (sim_clock.h). After each start paydrill reads the child's clock from
     * an answer's Date header, per target (SIM_TARGET_SUT,
     * SIM_TARGET_GATEWAY), to prove it. */
    struct sim_clock_anchor anchor;
    bool shared_clock;          /* the anchor was created (stays set after stop) */
    int64_t skew_ms[2];         /* last measured child clock - paydrill's */
    bool skew_known[2];         /* false: no Date header, or no faketime */
};

/* The largest child clock offset that still counts as "on the shared clock":
 * max(5 s, 50 ms of real time at this scale) -- well inside the freshness
 * tolerances (at least 1.5 s of real time, SIM_REAL_ALLOWANCE_MS), and
 * above what a Date header (1 s resolution) plus a loopback round trip can
 * resolve, and above the start-to-start jitter of spawn latency on a
 * loaded 2-core machine (tens of ms), which a tighter limit would chase. */
int64_t sim_procs_skew_limit_ms(double scale);

/* Prepares (no process yet). */
void sim_procs_init(struct sim_procs *p, const struct sim_tools *tools,
                    const struct sim_timeline *tl, const char *run_dir);

int sim_procs_start_gateway(struct sim_procs *p);
int sim_procs_start_sut(struct sim_procs *p);
/* After a failed start (rc) of target: how it ended, as a clause for an
 * error message ("it exited with status 3 before printing ..."). */
void sim_procs_start_failure(const struct sim_procs *p, int target, int rc, char *out,
                             size_t out_len);

/* SIGKILL of the whole process group of the target (0 sut, 1 gateway). */
void sim_procs_kill(struct sim_procs *p, int target);

/* Starts the target again on its port with its data folder. */
int sim_procs_restart(struct sim_procs *p, int target);

/* For a run past its bound: writes sut-threads.txt and gateway-threads.txt
 * into the run folder (sim_diag.h: every thread's state and, with gdb on
 * PATH and PAYDRILL_DIAG_STACKS not "0", its stack) for each of the two
 * still running. */
void sim_procs_diagnose(struct sim_procs *p);

/* Stops both (SIGKILL: nothing of theirs is needed after collection). */
void sim_procs_stop(struct sim_procs *p);

bool sim_procs_can_kill(const struct sim_procs *p, int target);

#endif
