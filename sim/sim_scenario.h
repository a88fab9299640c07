/* sim_scenario.h -- a scenario file: one fault story, parsed and validated.
 *
 * A scenario is a JSON document (docs/scenarios.md, docs/scenario.schema.json).
 * Parsing is strict: an unknown key, a wrong type or an impossible value is
 * refused with "FILE: <field path>: <reason>" and nothing is run. Every field
 * has a default except name; sim_scenario_to_json() prints the scenario as
 * it will run (defaults filled in), which the run folder keeps as
 * scenario.json and `paydrill replay` reads back. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_expect.h"

#define SIM_NAME_MAX 64
#define SIM_PATH_MAX 1024
#define SIM_ERR_MAX 1400
#define SIM_MAX_BIZ_FAULTS 16
#define SIM_MAX_PROC_FAULTS 16
#define SIM_MAX_SUT_ENV 32
#define SIM_MAX_ORDERS 1000000
#define SIM_MAX_CONCURRENCY 1024
#define SIM_MAX_BURST 32
#define SIM_SCENARIO_FILE_MAX (1u << 20)

enum sim_biz_action { SIM_BIZ_ERROR = 0, SIM_BIZ_SLOW, SIM_BIZ_NO_ACK };
enum sim_target { SIM_TARGET_SUT = 0, SIM_TARGET_GATEWAY };

struct sim_workload {
    int64_t orders;
    int64_t concurrency;        /* orders in flight at once (worker threads) */
    double arrival_rate;        /* new orders per simulated second; 0 = as fast as possible */
    int64_t amount_min;         /* minor units, inclusive */
    int64_t amount_max;
    char currency[4];
    char merchant_id[SIM_NAME_MAX];
    double dup_immediate;       /* probability of a resubmit right after the answer */
    double dup_concurrent;      /* probability of a double-click burst */
    int64_t burst_copies;       /* submissions in one burst, original included */
    double dup_after_window;    /* probability of a resubmit after the window */
    double pay_double_click;    /* probability of two pay calls at one instant */
};

struct sim_payer {
    double pay;                 /* the four probabilities sum to 1 */
    double pay_twice;
    double pay_late;            /* pays after the SUT closed the expired order */
    double abandon;
    int64_t delay_min_ms;       /* simulated delay between pay info and paying */
    int64_t delay_max_ms;
};

struct sim_biz_fault {
    int action;                 /* enum sim_biz_action */
    int status;                 /* for error (and no_ack): what the receiver answers */
    int64_t delay_ms;           /* for slow: how long before the answer */
    double probability;         /* per delivery, keyed draw */
    int64_t from_ms;            /* window in simulated time since the run began */
    int64_t until_ms;           /* -1: forever */
};

struct sim_proc_fault {
    int target;                 /* enum sim_target */
    int64_t at_ms;              /* simulated time since start, or -1 */
    int64_t after_orders;       /* after this many orders were submitted, or -1 */
    int64_t restart_after_ms;   /* simulated delay before the restart */
    int64_t repeat;             /* how many kills in all (>= 1) */
    int64_t every_ms;           /* simulated time between repeats */
};

struct sim_scenario {
    char file[SIM_PATH_MAX];
    char name[SIM_NAME_MAX];
    char *description;          /* owned */
    uint64_t seed;
    double time_scale;
    struct sim_workload workload;
    struct sim_payer payer;
    cJSON *gateway_faults;      /* owned; NULL = none */
    struct sim_biz_fault biz[SIM_MAX_BIZ_FAULTS];
    size_t n_biz;
    struct sim_proc_fault procs[SIM_MAX_PROC_FAULTS];
    size_t n_procs;
    char *sut_env[SIM_MAX_SUT_ENV + 1];  /* "NAME=value", owned, NULL-terminated */
    size_t n_sut_env;
    char *gateway_env[SIM_MAX_SUT_ENV + 1];  /* mock-gateway's GW_* options, same form */
    size_t n_gateway_env;
    int64_t dedup_window_ms;    /* the SUT's duplicate-submission window */
    int64_t payment_expiry_ms;  /* the SUT's payment expiry (for pay_late) */
    int64_t notify_timeout_ms;  /* business queries the SUT after this */
    int64_t convergence_bound_ms;
    int64_t settle_ms;          /* simulated time the run waits before it may be quiet */
    bool wait_callbacks;        /* quiet waits for the gateway's owed callbacks (default) */
    struct sim_expect expect[SIM_MAX_EXPECT];   /* what shows the story happened */
    size_t n_expect;
};

/* Parses text[0..len) (the contents of file) into *out: one JSON object
 * (pd_json_parse_whole: strict RFC 8259). On error returns PD_EINVAL and
 * writes "FILE: <field path>: <reason>" into err[SIM_ERR_MAX] ("FILE:
 * (document): not valid JSON (line L, byte B)" for a syntax error); *out
 * is then released. gateway_check, when not NULL, is the mock-gateway
 * program used to validate gateway_faults (`--check-faults`). */
int sim_scenario_parse(const char *file, const char *text, size_t len,
                       const char *gateway_check, struct sim_scenario *out,
                       char err[SIM_ERR_MAX]);

/* Reads and parses a file. Same errors, plus PD_ENOTFOUND/PD_EIO in err. */
int sim_scenario_load(const char *file, const char *gateway_check,
                      struct sim_scenario *out, char err[SIM_ERR_MAX]);

/* The scenario as it will run, defaults filled in. Caller frees (cJSON_Delete). */
cJSON *sim_scenario_to_json(const struct sim_scenario *s);

void sim_scenario_release(struct sim_scenario *s);

/* True when some business fault never ends (notifications may stay unacked). */
bool sim_scenario_biz_forever(const struct sim_scenario *s);

/* Names used in files and reports. */
const char *sim_biz_action_name(int action);
const char *sim_target_name(int target);

#endif
