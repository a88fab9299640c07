/* gw.h -- mock-gateway: a payment channel in the style of WeChat Pay and
 * Alipay that misbehaves exactly as its fault rules say and keeps the
 * ground-truth ledger of every cent (docs/mock-gateway.md).
 *
 * gw_start opens the ledger and journal in cfg->data_dir, resumes the
 * callbacks still owed, and serves the generic gateway profile
 * (docs/gateway-protocol.md) plus the admin API under /sim/
 * (docs/dev/interfaces.md) until gw_stop. */
#ifndef GW_H
#define GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_faults.h"

#define GW_SCHEDULE_MAX 64

struct gw_config {
    const char *listen;                   /* "HOST:PORT", port may be 0 */
    const char *secret;                   /* HMAC secret of callbacks */
    uint64_t seed;                        /* keys every fault draw */
    const char *faults_path;              /* NULL = no rules */
    const char *data_dir;                 /* ledger.db, journal.ndjson */
    int64_t schedule_ms[GW_SCHEDULE_MAX]; /* delays after each failed attempt */
    size_t schedule_n;
    int64_t callback_timeout_ms;          /* per HTTP delivery */
    int callback_workers;                 /* deliveries in flight at most */
    int threads;                          /* slow-path workers (pay, admin, faults, latency) */
    int64_t idle_timeout_ms;              /* keep-alive connection without a request */
    bool has_latency;                     /* base latency of create/query/close/refund */
    struct gw_dist latency;
    int64_t epoch_ms;                     /* start of relative fault windows; 0 = now */
    bool sync_full;                       /* fsync every commit */
};

/* Fills cfg with the defaults documented in --help. */
void gw_config_defaults(struct gw_config *cfg);

/* Parses a latency spec: "5ms", "uniform:1ms:10ms", "lognormal:5ms:0.5".
 * Returns 0 or PD_EINVAL. */
int gw_parse_latency(const char *text, struct gw_dist *out);

typedef struct gw gw;

/* Starts the gateway. *out_port is the bound port. Returns 0, PD_EINVAL
 * (bad config or rules file: a log line says why), PD_EIO. */
int gw_start(const struct gw_config *cfg, gw **out, int *out_port);

/* Stops serving and delivering; owed callbacks stay in the ledger. */
void gw_stop(gw *g);   /* NULL is a no-op */

#endif
