/* check.h -- the checker: proves, over what every party recorded in a run
 * folder, that no order was lost, none paid twice, duplicates were rejected.
 *
 * Inputs (docs/dev/interfaces.md "The run folder"): scenario.json, run.json,
 * ledger.json (G), gateway-journal.ndjson, export.json (P), business.json (B).
 * Outputs: report.json (schema paydrill.report/1, docs/report-json.md) and
 * journal.ndjson (the merged event journal), both written atomically.
 * The invariants are defined in docs/checker.md.
 *
 * The checker never talks to a process: `paydrill check DIR` re-runs it on a
 * saved folder and gets the same verdict. */
#ifndef SIM_CHECK_H
#define SIM_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The invariants, in report order. Names are the ones DESIGN.md fixes. */
enum sim_invariant {
    SIM_INV_NO_LOST_PAYMENT = 0,
    SIM_INV_NO_DOUBLE_CHARGE,
    SIM_INV_NO_PHANTOM_PAYMENT,
    SIM_INV_AMOUNT_INTEGRITY,
    SIM_INV_CONSISTENT_NOTIFICATIONS,
    SIM_INV_DUPLICATE_SUBMISSION_REJECTED,
    SIM_INV_LEGAL_HISTORY,
    SIM_INV_CONVERGENCE,
    SIM_INV_COUNT
};

/* "no_lost_payment"... for an enum value; NULL when out of range. */
const char *sim_check_invariant_name(int inv);

/* At most this many violations per invariant are listed in report.json and
 * in the summary's lines; the counts stay exact (docs/report-json.md). */
#define SIM_CHECK_MAX_LISTED 1000
#define SIM_CHECK_ERR_LEN 512

struct sim_check_counts {
    int64_t orders;              /* orders in P */
    int64_t submissions;         /* every submission B made, duplicates included */
    int64_t duplicates_sent;     /* submissions whose kind is not "original" */
    int64_t duplicates_rejected; /* of those, answered 409 */
    int64_t paid;                /* P orders PAID */
    int64_t closed;              /* P orders CLOSED */
    int64_t charges;             /* charges in G, over all trades */
    int64_t refunds;             /* refunds in G */
    int64_t callbacks;           /* callback attempts in the gateway journal */
    int64_t notifications;       /* deliveries B received */
};

/* What sim_check_run found. Caller-owned struct; release with
 * sim_check_summary_release. */
struct sim_check_summary {
    bool pass;                              /* every invariant holds, every expectation met */
    char scenario[128];                     /* scenario name */
    int64_t checked[SIM_INV_COUNT];         /* items each invariant looked at */
    int64_t violations[SIM_INV_COUNT];      /* exact count per invariant */
    struct sim_check_counts counts;
    bool fault_plan_reproducible;
    size_t expect_unmet;                    /* the scenario's expectations not met */
    /* One line per unmet expectation ("scenario expectation - what: seen N,
     * expected at least M..."), then one per listed violation, "scenario
     * invariant order evidence"; no newline; malloc'd, owned by the summary. */
    char **lines;
    size_t n_lines;
    /* Set when sim_check_run fails: names the file and what is wrong,
     * e.g. "export.json: orders[3].history[0].to: must be a string". */
    char error[SIM_CHECK_ERR_LEN];
};

/* Reads the run folder, evaluates every invariant, writes report.json and
 * journal.ndjson into run_dir and fills *out (always initialised; release it
 * even on failure). Returns 0 when the check ran (whatever the verdict: see
 * out->pass), PD_EINVAL for a missing or malformed input file, PD_EIO when a
 * file cannot be read or an output cannot be written, PD_ENOMEM. On failure
 * out->error says which file and why. */
int sim_check_run(const char *run_dir, struct sim_check_summary *out);

/* The parsed inputs, for callers (and unit tests) that hold documents rather
 * than files. Every pointer is borrowed. gateway_journal is a JSON array of
 * the journal's lines; any document may be NULL when absent, except that
 * sim_check_eval then reports it missing like sim_check_run would. */
struct sim_check_docs {
    const cJSON *scenario;          /* scenario.json */
    const cJSON *run;               /* run.json */
    const cJSON *ledger;            /* ledger.json (G) */
    const cJSON *gateway_journal;   /* gateway-journal.ndjson as an array */
    const cJSON *export_doc;        /* export.json (P) */
    const cJSON *business;          /* business.json (B) */
};

/* Evaluates the invariants over documents, without touching files.
 * On success *out_report (may be NULL if not wanted) receives report.json as
 * a cJSON tree (caller frees with cJSON_Delete) and *out is filled.
 * Returns 0, PD_EINVAL (a document is malformed: out->error names it) or
 * PD_ENOMEM. */
int sim_check_eval(const struct sim_check_docs *docs, cJSON **out_report,
                   struct sim_check_summary *out);

/* Prints the summary's violation lines, one per line, to f; then, when more
 * violations exist than were listed, one line saying how many were left out. */
void sim_check_print_violations(const struct sim_check_summary *summary, FILE *f);

/* Frees what the summary owns and zeroes it. NULL is a no-op. */
void sim_check_summary_release(struct sim_check_summary *summary);

#endif
