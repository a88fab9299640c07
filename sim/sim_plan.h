/* sim_plan.h -- the per-order decisions of a run, drawn from keyed draws.
 *
 * Every decision is pd_draw_*(seed, workload key, decision kind, attempt):
 * a pure function, so one scenario and seed give the same plan under any
 * --jobs, concurrency or thread timing. The workload key of order i is
 * "<scenario>-<i>"; it is the order's client_ref, which the SUT passes to the
 * gateway as attach, so gateway-side draws key on it too. */
#ifndef SIM_PLAN_H
#define SIM_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_scenario.h"

#define SIM_KEY_MAX 96

enum sim_dup { SIM_DUP_NONE = 0, SIM_DUP_IMMEDIATE, SIM_DUP_CONCURRENT, SIM_DUP_AFTER_WINDOW };
enum sim_act { SIM_ACT_PAY = 0, SIM_ACT_PAY_TWICE, SIM_ACT_PAY_LATE, SIM_ACT_ABANDON };

struct sim_order_plan {
    int64_t index;
    char key[SIM_KEY_MAX];
    int64_t amount;
    int64_t arrival_ms;     /* simulated offset since the run began */
    int dup;                /* enum sim_dup */
    int act;                /* enum sim_act */
    int64_t pay_delay_ms;   /* simulated */
    bool pay_double_click;  /* two pay calls, a click gap apart */
    int64_t pay_click_gap_ms;   /* simulated time between the two clicks */
};

/* Fills *out for order index of scenario s. */
void sim_plan_order(const struct sim_scenario *s, int64_t index, struct sim_order_plan *out);

/* "<name>-<index>" into out[SIM_KEY_MAX]. */
void sim_plan_key(const char *name, int64_t index, char out[SIM_KEY_MAX]);

const char *sim_dup_name(int dup);
const char *sim_act_name(int act);

#endif
