#include "pc_config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pc_bugs.h"
#include "pd_err.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"

#define DEFAULT_QUERY_SCHEDULE "10s,20s,30s,1m,2m,5m,10m,30m,1h,2h,3h,6h"
#define DEFAULT_NOTIFY_SCHEDULE "15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h"
#define DEFAULT_REFUND_SCHEDULE "5s,10s,30s,1m,5m,10m,30m,1h,3h,6h"

/* One row per setting: flag name, environment variable, default, help. */
enum opt_id {
    O_LISTEN = 0, O_DATA_DIR, O_DB, O_GW_URL, O_GW_SECRET, O_BIZ_URL, O_BIZ_SECRET,
    O_PUBLIC_URL, O_DEDUP, O_WINDOW, O_CB_TIMEOUT, O_QUERY_SCHED, O_EXPIRY,
    O_NOTIFY_SCHED, O_REFUND_SCHED, O_TOLERANCE, O_GW_TIMEOUT, O_BIZ_TIMEOUT,
    O_THREADS, O_RECONCILERS, O_SENDERS, O_SYNC, O_LOG_LEVEL, O_BUG, O_COUNT
};

static const struct setting {
    const char *flag, *env, *def, *help;
} settings[O_COUNT] = {
    [O_LISTEN] = {"listen", "PAYDRILL_LISTEN", "127.0.0.1:8080",
                  "HOST:PORT to listen on; port 0 picks a free port"},
    [O_DATA_DIR] = {"data-dir", "PAYDRILL_DATA_DIR", NULL,
                    "folder for everything persisted (created if missing)"},
    [O_DB] = {"db", "PAYDRILL_DB", NULL,
              "SQLite file (WAL); default DATA_DIR/payment-center.db"},
    [O_GW_URL] = {"gateway-url", "PAYDRILL_GATEWAY_URL", NULL,
                  "base URL of the payment gateway (required)"},
    [O_GW_SECRET] = {"gateway-secret", "PAYDRILL_GATEWAY_SECRET", NULL,
                     "HMAC secret of gateway callbacks (required)"},
    [O_BIZ_URL] = {"business-url", "PAYDRILL_BUSINESS_URL", NULL,
                   "URL business notifications are POSTed to (required)"},
    [O_BIZ_SECRET] = {"business-secret", "PAYDRILL_BUSINESS_SECRET", NULL,
                      "HMAC secret for business notifications (required)"},
    [O_PUBLIC_URL] = {"public-url", "PAYDRILL_PUBLIC_URL", NULL,
                      "base URL the gateway calls back; default the listening URL"},
    [O_DEDUP] = {"dedup", "PAYDRILL_DEDUP", "sqlite",
                 "duplicate-submission pre-filter: sqlite or redis://HOST:PORT"},
    [O_WINDOW] = {"dedup-window", "PAYDRILL_DEDUP_WINDOW", "10m",
                  "duplicate-submission window"},
    [O_CB_TIMEOUT] = {"callback-timeout", "PAYDRILL_CALLBACK_TIMEOUT", "30s",
                      "wait for a callback before the first active query"},
    [O_QUERY_SCHED] = {"query-schedule", "PAYDRILL_QUERY_SCHEDULE", DEFAULT_QUERY_SCHEDULE,
                       "delays between queries; the last repeats forever"},
    [O_EXPIRY] = {"payment-expiry", "PAYDRILL_PAYMENT_EXPIRY", "30m",
                  "an order not paid this long after submission is closed"},
    [O_NOTIFY_SCHED] = {"notify-schedule", "PAYDRILL_NOTIFY_SCHEDULE", DEFAULT_NOTIFY_SCHEDULE,
                        "business notification retry delays; the last repeats forever"},
    [O_REFUND_SCHED] = {"refund-schedule", "PAYDRILL_REFUND_SCHEDULE", DEFAULT_REFUND_SCHEDULE,
                        "refund retry delays; the last repeats forever"},
    [O_TOLERANCE] = {"sig-tolerance", "PAYDRILL_SIG_TOLERANCE", "300s",
                     "callback timestamp freshness, either way"},
    [O_GW_TIMEOUT] = {"gateway-timeout", "PAYDRILL_GATEWAY_TIMEOUT", "10s",
                      "timeout of one gateway call"},
    [O_BIZ_TIMEOUT] = {"business-timeout", "PAYDRILL_BUSINESS_TIMEOUT", "10s",
                       "timeout of one business notification"},
    [O_THREADS] = {"threads", "PAYDRILL_THREADS", "384",
                   "HTTP worker threads (civetweb pins one per keep-alive connection)"},
    [O_RECONCILERS] = {"reconcilers", "PAYDRILL_RECONCILERS", "4", "reconciler threads"},
    [O_SENDERS] = {"senders", "PAYDRILL_SENDERS", "16", "outbox sender threads"},
    [O_SYNC] = {"sync", "PAYDRILL_SYNC", "full",
                "SQLite synchronous: full (survives power loss) or normal (survives kill -9)"},
    [O_LOG_LEVEL] = {"log-level", "PAYDRILL_LOG_LEVEL", "info", "debug, info, warn, error, off"},
    [O_BUG] = {"bug", NULL, NULL, "remove one protection (see --list-bugs)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: payment-center [OPTION]...\n"
            "The reference payment center paydrill tests. Flags win over environment\n"
            "variables, which win over the defaults. Durations: 250ms, 30s, 10m, 3h, 1d.\n"
            "Schedules: comma-separated durations. On start it prints exactly\n"
            "'listening on http://HOST:PORT' on stdout. Missing required settings: exit 2.\n\n");
    for (int i = 0; i < O_COUNT; i++) {
        if (i == O_BUG && !pc_bugs_enabled())
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s VALUE", settings[i].flag);
        fprintf(out, "  %-26s %s\n", left, settings[i].help);
        fprintf(out, "  %-26s   env %s%s%s\n", "", settings[i].env ? settings[i].env : "(none)",
                settings[i].def ? ", default " : "", settings[i].def ? settings[i].def : "");
    }
    if (pc_bugs_enabled())
        fprintf(out, "  %-26s %s\n", "--list-bugs", "print the removable protections and exit");
    fprintf(out, "  %-26s %s\n", "--help", "print this help and exit");
}

void pc_config_defaults(struct pc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->threads = 384;
    cfg->reconcilers = 4;
    cfg->senders = 16;
    cfg->sync_full = 1;
}

int64_t pc_schedule_at(const int64_t *schedule_ms, size_t n, int64_t i)
{
    if (n == 0)
        return 1000;
    if (i < 0)
        i = 0;
    return schedule_ms[(size_t)i < n ? (size_t)i : n - 1];
}

static int copy_str(char *dst, size_t dst_len, const char *v, const char *name, FILE *err)
{
    if (pd_strlcpy(dst, v ? v : "", dst_len) != PD_OK) {
        fprintf(err, "payment-center: %s: too long\n", name);
        return 2;
    }
    return 0;
}

static int set_duration(int64_t *out, const char *v, const char *name, FILE *err)
{
    if (pd_parse_duration(v, out) != PD_OK) {
        fprintf(err, "payment-center: %s: '%s' is not a duration like 30s or 10m\n", name, v);
        return 2;
    }
    return 0;
}

static int set_schedule(int64_t *out, size_t *n, const char *v, const char *name, FILE *err)
{
    if (pd_parse_schedule(v, out, PC_SCHEDULE_MAX, n) != PD_OK) {
        fprintf(err, "payment-center: %s: '%s' is not a list of durations\n", name, v);
        return 2;
    }
    for (size_t i = 0; i < *n; i++)
        if (out[i] <= 0) {
            fprintf(err, "payment-center: %s: every delay must be positive\n", name);
            return 2;
        }
    return 0;
}

static int set_int(int *out, const char *v, long min, long max, const char *name, FILE *err)
{
    long x = 0;
    if (pd_parse_int(v, min, max, &x) != PD_OK) {
        fprintf(err, "payment-center: %s: must be an integer in %ld..%ld\n", name, min, max);
        return 2;
    }
    *out = (int)x;
    return 0;
}

/* Applies one resolved value (flag, env or default) to the config. */
static int apply(struct pc_config *c, int id, const char *v, FILE *err)
{
    const char *n = settings[id].flag;
    switch (id) {
    case O_LISTEN: return copy_str(c->listen, sizeof c->listen, v, n, err);
    case O_DATA_DIR: return copy_str(c->data_dir, sizeof c->data_dir, v, n, err);
    case O_DB: return copy_str(c->db_path, sizeof c->db_path, v, n, err);
    case O_GW_URL: return copy_str(c->gateway_url, sizeof c->gateway_url, v, n, err);
    case O_GW_SECRET: return copy_str(c->gateway_secret, sizeof c->gateway_secret, v, n, err);
    case O_BIZ_URL: return copy_str(c->business_url, sizeof c->business_url, v, n, err);
    case O_BIZ_SECRET: return copy_str(c->business_secret, sizeof c->business_secret, v, n, err);
    case O_PUBLIC_URL: return copy_str(c->public_url, sizeof c->public_url, v, n, err);
    case O_DEDUP: return copy_str(c->dedup, sizeof c->dedup, v, n, err);
    case O_WINDOW: return set_duration(&c->dedup_window_ms, v, n, err);
    case O_CB_TIMEOUT: return set_duration(&c->callback_timeout_ms, v, n, err);
    case O_EXPIRY: return set_duration(&c->payment_expiry_ms, v, n, err);
    case O_TOLERANCE: return set_duration(&c->sig_tolerance_ms, v, n, err);
    case O_GW_TIMEOUT: return set_duration(&c->gateway_timeout_ms, v, n, err);
    case O_BIZ_TIMEOUT: return set_duration(&c->business_timeout_ms, v, n, err);
    case O_QUERY_SCHED: return set_schedule(c->query_schedule_ms, &c->query_schedule_n, v, n, err);
    case O_NOTIFY_SCHED: return set_schedule(c->notify_schedule_ms, &c->notify_schedule_n, v, n, err);
    case O_REFUND_SCHED: return set_schedule(c->refund_schedule_ms, &c->refund_schedule_n, v, n, err);
    case O_THREADS: return set_int(&c->threads, v, 2, 4096, n, err);
    case O_RECONCILERS: return set_int(&c->reconcilers, v, 1, 64, n, err);
    case O_SENDERS: return set_int(&c->senders, v, 1, 64, n, err);
    case O_SYNC:
        if (strcmp(v, "full") != 0 && strcmp(v, "normal") != 0) {
            fprintf(err, "payment-center: sync: must be full or normal\n");
            return 2;
        }
        c->sync_full = strcmp(v, "full") == 0;
        return 0;
    case O_LOG_LEVEL: return copy_str(c->log_level, sizeof c->log_level, v, n, err);
    case O_BUG: return copy_str(c->bug, sizeof c->bug, v, n, err);
    default: return 2;
    }
}

static int check_required(struct pc_config *c, FILE *err)
{
    static const struct { int id; size_t off; } req[] = {
        {O_GW_URL, offsetof(struct pc_config, gateway_url)},
        {O_GW_SECRET, offsetof(struct pc_config, gateway_secret)},
        {O_BIZ_URL, offsetof(struct pc_config, business_url)},
        {O_BIZ_SECRET, offsetof(struct pc_config, business_secret)}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (((char *)c + req[i].off)[0] == '\0') {
            fprintf(err, "payment-center: missing setting: --%s or %s\n",
                    settings[req[i].id].flag, settings[req[i].id].env);
            return 2;
        }
    if (c->db_path[0] == '\0') {
        if (c->data_dir[0] == '\0') {
            fprintf(err, "payment-center: missing setting: --db, PAYDRILL_DB, --data-dir "
                         "or PAYDRILL_DATA_DIR\n");
            return 2;
        }
        snprintf(c->db_path, sizeof c->db_path, "%.900s/payment-center.db", c->data_dir);
    }
    if (strcmp(c->dedup, "sqlite") != 0 && strncmp(c->dedup, "redis://", 8) != 0) {
        fprintf(err, "payment-center: dedup: must be sqlite or redis://HOST:PORT\n");
        return 2;
    }
    if (pd_log_set_level(c->log_level) != PD_OK) {
        fprintf(err, "payment-center: log-level: unknown level '%s'\n", c->log_level);
        return 2;
    }
    return 0;
}

static int bug_check(struct pc_config *c, FILE *err)
{
    if (c->bug[0] != '\0' && pc_bug_parse(c->bug) < 0) {
        fprintf(err, "payment-center: bug: unknown name '%s' (see --list-bugs)\n", c->bug);
        return 2;
    }
    return 0;
}

int pc_config_parse(int argc, char **argv, struct pc_config *cfg, FILE *out, FILE *err)
{
    const char *flags[O_COUNT] = {0};
    struct option longopts[O_COUNT + 3];
    int n = 0;
    for (int i = 0; i < O_COUNT; i++) {
        if (i == O_BUG && !pc_bugs_enabled())
            continue;
        longopts[n++] = (struct option){settings[i].flag, required_argument, NULL, i};
    }
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    if (pc_bugs_enabled())
        longopts[n++] = (struct option){"list-bugs", no_argument, NULL, 'L'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};
    pc_config_defaults(cfg);
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(out);
            return 1;
        }
        if (ch == 'L') {
            pc_bugs_list(out);
            return 1;
        }
        if (ch < 0 || ch >= O_COUNT) {
            fprintf(err, "payment-center: try --help\n");
            return 2;
        }
        flags[ch] = optarg;
    }
    if (optind < argc) {
        fprintf(err, "payment-center: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    for (int i = 0; i < O_COUNT; i++) {
        const char *v = pd_setting(flags[i], settings[i].env, settings[i].def);
        if (v != NULL && apply(cfg, i, v, err) != 0)
            return 2;
    }
    int rc = check_required(cfg, err);
    return rc != 0 ? rc : bug_check(cfg, err);
}
