/* check_evidence.h -- cJSON slices of G, P and B for violations and
 * reports (internal). Every function returns a new tree (caller frees) or
 * NULL on OOM. */
#ifndef SIM_CHECK_EVIDENCE_H
#define SIM_CHECK_EVIDENCE_H

#include "check_model.h"

/* Adds a string member, or null when v is NULL. */
void sim__json_str(cJSON *o, const char *k, const char *v);
/* Adds an integer member, or null when v is SIM_NO_TIME. */
void sim__json_time(cJSON *o, const char *k, int64_t v);

cJSON *sim__ev_trade(const struct sim_model *m, const struct sim_gtrade *t);
cJSON *sim__ev_order(const struct sim_model *m, const struct sim_porder *o);
cJSON *sim__ev_receipt(const struct sim_model *m, const struct sim_receipt *r);
cJSON *sim__ev_submission(const struct sim_model *m, const struct sim_submission *s);

/* {"G": {"trades": [...]}, "P": {...}|null, "B": {"receipts": [...],
 * "submission": {...}}} for order o, or for trade t alone when o is
 * SIM_NONE. */
cJSON *sim__evidence(const struct sim_model *m, int32_t o, int32_t t);

#endif
