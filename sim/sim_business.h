/* sim_business.h -- the business application's notification receiver.
 *
 * A civetweb endpoint (POST /notify) for the SUT's business notifications:
 * verifies each signature with the business secret and the simulated
 * clock, records every delivery (the receipts of B), applies the effect
 * once per order, and fails, delays or withholds acknowledgements as the
 * scenario's business_faults say. Every fault decision is a keyed draw of
 * (seed, workload key, rule, delivery attempt), never a shared sequence. */
#ifndef SIM_BUSINESS_H
#define SIM_BUSINESS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim_scenario.h"
#include "sim_time.h"

typedef struct sim_business sim_business;

/* Starts the receiver on 127.0.0.1:port (0: any free port). s and tl must outlive it.
 * *out_url is the notification URL ("http://127.0.0.1:PORT/notify").
 * Returns 0, PD_ENOMEM or PD_EIO. */
int sim_business_start(const struct sim_scenario *s, const struct sim_timeline *tl, int port,
                       sim_business **out, char out_url[128]);

/* Stops the server and releases every caller of sim_business_wait (each
 * returns what is known); the records stay readable until
 * sim_business_free, which may run only once every such call has
 * returned (the runner joins the driver's workers first). */
void sim_business_stop(sim_business *b);
void sim_business_free(sim_business *b);   /* NULL is a no-op */

/* The final status ("PAID", "CLOSED") the business applied for the order,
 * waiting up to real_ms of real time (0: not at all) for it to be applied,
 * or NULL. Borrowed static string. The delivery that applies it wakes this
 * caller alone: no polling. */
const char *sim_business_wait(sim_business *b, const char *order_id, int64_t real_ms);

/* Callers parked in sim_business_wait right now (for tests). */
size_t sim_business_waiting(sim_business *b);

/* Orders with an applied final status, and deliveries received. */
size_t sim_business_applied_count(sim_business *b);
size_t sim_business_deliveries(sim_business *b);

/* Writes the receipts as the JSON array of business.json, one at a time.
 * Each receipt went to an unnamed temporary file (tmpfile) as its line when
 * it was recorded, so a run of many orders never holds them in memory.
 * Returns 0, or PD_EIO when a receipt could not be saved or read back. */
int sim_business_write_receipts(sim_business *b, FILE *f);

/* The decision for one delivery, exposed for unit tests: which rule (index)
 * applies at simulated offset t_ms for key and attempt, or -1 for none.
 * *out_delay_ms gets the slow delay of matching slow rules. */
int sim_business_decide(const struct sim_scenario *s, const char *key, int64_t t_ms,
                        uint64_t attempt, int64_t *out_delay_ms);

#endif
