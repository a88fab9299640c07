/* sim_collect.h -- reading what the parties recorded: the gateway's status,
 * ledger (G) and journal, and the SUT's paged export (P).
 *
 * Large documents go straight from the socket to the run folder, so a run
 * of many orders never holds G or P whole in memory. */
#ifndef SIM_COLLECT_H
#define SIM_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Orders per GET /orders page. Each page is held whole while it is read,
 * as its body and then as a cJSON tree: at 500 orders that was ~0.5 MB of
 * body and ~2 MB of tree, the runner's peak at 10,000 orders (heaptrack),
 * reached again at every poll for quiet. 100 keeps a page near 0.5 MB in
 * all for five times the requests (100 for 10,000 orders); the scan holds
 * two pages at once (the next one's body is fetched while this one is
 * parsed), ~0.6 MB. */
#define SIM_EXPORT_PAGE 100

/* GET url into path (written as it arrives). Returns 0, PD_EIO,
 * PD_ECONNECT or PD_EPROTO (a non-200 answer). */
int sim_fetch_to_file(const char *url, const char *path, long timeout_ms);

struct sim_gw_status {
    int64_t now;
    int64_t trades, charges, refunds;
    int64_t callbacks_pending, callbacks_in_flight;
};

/* GET /sim/status. Returns 0 or an error. */
int sim_gateway_status(const char *gateway_url, struct sim_gw_status *out);

struct sim_export_stats {
    int64_t orders;
    int64_t final;          /* PAID or CLOSED */
    int64_t paid, closed;
    int64_t refunds;        /* refunds listed by the SUT */
    int64_t pending_notifications;  /* final orders whose last notification is not delivered */
    bool attach_passed;     /* every order carries its client_ref */
};

/* Pages through GET /orders. When path is not NULL, writes P there as
 * {"orders": [...]} (all pages concatenated). Returns 0 or an error. */
int sim_export_scan(const char *sut_url, const char *path, struct sim_export_stats *out);

/* The cursor an export page's raw text ends with ("next_after":"ID"), read
 * without parsing, so the next page can be fetched while this one is
 * parsed; false when none can be read. A guess: the parsed page decides. */
bool sim_export_guess_next(const char *body, size_t len, char guess[128]);

#endif
