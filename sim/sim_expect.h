/* sim_expect.h -- a scenario's expectations ("expect"): conditions on the
 * run that show its story happened (a close answered ORDERPAID, a refund
 * made, the SUT killed twice). A scenario passes only when every invariant
 * holds AND every expectation is met: otherwise it would pass without
 * having tested what it says. Parsed the same way from the scenario file
 * and from scenario.json in a run folder; docs/scenarios.md "Expectations". */
#ifndef SIM_EXPECT_H
#define SIM_EXPECT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_json.h"

#define SIM_MAX_EXPECT 16

enum sim_expect_kind {
    SIM_EXPECT_GATEWAY, SIM_EXPECT_COUNT, SIM_EXPECT_PROCESS, SIM_EXPECT_BUSINESS
};

struct sim_expect {
    enum sim_expect_kind kind;
    char op[24];        /* gateway: the journal line's op */
    int64_t status;     /* gateway, business: the status, -1 any */
    char detail[128];   /* gateway: a substring of its detail, "" any */
    char fault[48];     /* gateway: its fault, "" any */
    char count[24];     /* count: a key of report.json's counts */
    char target[16];    /* process: sut or gateway */
    char action[16];    /* process: kill, restart, restart_failed or skipped */
    char record[16];    /* business: a record list of business.json */
    int64_t at_least;   /* >= 1 */
    char why[256];      /* what it shows, "" when not given */
};

/* Parses root's "expect" (absent or null: *n = 0) into out[SIM_MAX_EXPECT].
 * Unknown keys, wrong types and impossible values are refused with the
 * field's path ("expect[1].gateway.op: required"). Returns PD_OK or
 * PD_EINVAL (err set). */
int sim_expect_parse(const cJSON *root, struct sim_expect *out, size_t *n,
                     struct pd_json_err *err);

/* Entry e as the scenario file would give it, defaults filled in. NULL on
 * OOM. */
cJSON *sim_expect_to_json(const struct sim_expect *e);

/* A one-line description: "gateway op=close status=409 detail~ORDERPAID". */
void sim_expect_describe(const struct sim_expect *e, char *buf, size_t len);

/* True when gateway expectation e counts this journal line (NULL fields
 * are absent ones). */
bool sim_expect_gateway_match(const struct sim_expect *e, const char *op, int64_t status,
                              const char *detail, const char *fault);

/* The names a count expectation may use, NULL-terminated: report.json's
 * counts, in the order it writes them (sim__counts_values). */
#define SIM_COUNTS_N 10
extern const char *const sim_expect_counts[SIM_COUNTS_N + 1];

/* The business.json lists a business expectation may count, NULL-terminated:
 * submissions, pay_calls, payer, queries (by status) and receipts (by the
 * status the business app answered). */
extern const char *const sim_expect_records[];

#endif
