/* sim_driver.h -- the business application's submissions and the payer.
 *
 * Worker threads (scenario concurrency, each with its own HTTP client) take
 * the next workload key and play its whole story: submit the order (and
 * the planned duplicates: immediate resubmit, a concurrent double-click
 * burst, a resubmit after the window), ask the SUT to pay, play the payer at
 * mock-gateway (pay, pay twice, pay late after the close, abandon), and
 * query the SUT when the business notification is late. Everything it does
 * is recorded with simulated times for business.json, as fixed-size records
 * appended to unnamed temporary files (memory does not grow with orders). */
#ifndef SIM_DRIVER_H
#define SIM_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim_business.h"
#include "sim_plan.h"
#include "sim_scenario.h"
#include "sim_time.h"

typedef struct sim_driver sim_driver;

struct sim_driver_cfg {
    const struct sim_scenario *s;
    const struct sim_timeline *tl;
    const char *sut_url;        /* base URL, no trailing slash */
    const char *gateway_url;
    sim_business *business;
    int64_t concurrency;        /* overrides s->workload.concurrency when > 0 */
};

/* Creates the driver and starts its workers. Returns 0 or PD_ENOMEM/PD_EIO. */
int sim_driver_start(const struct sim_driver_cfg *cfg, sim_driver **out);

/* Waits for every worker to finish its story. */
void sim_driver_join(sim_driver *d);

/* Orders submitted so far (first answers received), for "after N orders". */
int64_t sim_driver_submitted(sim_driver *d);

/* Order ids the SUT accepted (201). *out is borrowed until free. */
size_t sim_driver_accepted(sim_driver *d, const char *const **out);

/* Writes business.json: the driver's records, then b's receipts.
 * Returns 0, or PD_EIO when a record could not be saved, read back or written. */
int sim_driver_write_business(sim_driver *d, const char *path, sim_business *b);

/* Writes plan.json: the decisions drawn for every workload key. */
int sim_driver_write_plan(sim_driver *d, const char *path);

/* Counts for run.json: submissions, duplicates sent. */
void sim_driver_counts(sim_driver *d, int64_t *submissions, int64_t *duplicates);

void sim_driver_free(sim_driver *d);    /* NULL is a no-op */

#endif
