/* check_eval.h -- the invariants over a linked model (internal).
 *
 * sim__evaluate walks the model once per invariant and records violations
 * with their evidence (slices of G, P and B as cJSON) and the faults the
 * order met. At most SIM_CHECK_MAX_LISTED violations per invariant keep
 * their evidence; the counts stay exact. */
#ifndef SIM_CHECK_EVAL_H
#define SIM_CHECK_EVAL_H

#include "check_model.h"

struct sim_violation {
    int inv;
    const char *order;      /* order_id, or the trade/key when no order */
    sim_sid key;            /* workload key, 0 when none */
    char *summary;          /* one line, malloc'd */
    cJSON *evidence;        /* {"G":..., "P":..., "B":...}, owned */
    cJSON *faults;          /* array of strings, owned */
};

struct sim_results {
    SIM_VEC(struct sim_violation) v;
    int64_t checked[SIM_INV_COUNT];
    int64_t count[SIM_INV_COUNT];
    struct sim_check_counts counts;
    bool reproducible;
    /* Fault index by key: gateway journal lines with a fault (indexes into
     * m->gjx, where such lines are kept whole) and unusual payer calls. */
    struct sim_map gj_first;
    int32_t *gj_next;
    struct sim_map payer_first;
    int32_t *payer_next;
    int rc;                 /* first PD_ENOMEM met while recording */
    /* The scenario's expectations (m->expect): what the run showed of each,
     * and how many fell short of their at_least. */
    int64_t expect_seen[SIM_MAX_EXPECT];
    size_t expect_unmet;
};

/* Returns 0 or PD_ENOMEM. res is initialised by the call; free it with
 * sim__results_free even on failure. */
int sim__evaluate(const struct sim_model *m, struct sim_results *res);

/* The counts as values in the order of their names, sim_expect_counts:
 * what report.json's counts and a count expectation both read. */
void sim__counts_values(const struct sim_check_counts *c, int64_t out[SIM_COUNTS_N]);
void sim__results_free(struct sim_results *res);

/* The faults met by workload key (and order, for process events and
 * business answers; either may be 0/SIM_NONE): a new array of strings
 * such as "callback.drop attempt 1". NULL on OOM. */
cJSON *sim__faults_of(const struct sim_model *m, const struct sim_results *res,
                      sim_sid key, int32_t order);

/* The fault plan entries of one key, as report.json's fault_plan wants them:
 * a new array of {source, kind, op, attempt, detail}. NULL on OOM. */
cJSON *sim__fault_plan_of(const struct sim_model *m, const struct sim_results *res,
                          sim_sid key);

/* True when a final status is given: PAID or CLOSED. */
static inline bool sim__is_final(uint8_t st)
{
    return st == SIM_ST_PAID || st == SIM_ST_CLOSED;
}

#endif
