/* gw_main.c -- the command line of mock-gateway: options (with GW_*
 * environment fallbacks), --check-faults, and the run until SIGTERM. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_main.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"

static const char usage[] =
    "usage: mock-gateway [options]\n"
    "\n"
    "A payment channel in the style of WeChat Pay / Alipay (docs/gateway-protocol.md)\n"
    "that misbehaves exactly as its fault rules say (docs/fault-rules.md) and keeps the\n"
    "ground-truth ledger of every cent (admin API under /sim/, docs/mock-gateway.md).\n"
    "Every option may also come from the environment variable shown.\n"
    "\n"
    "  --listen HOST:PORT        address to serve (port 0 picks a free one)  [GW_LISTEN]\n"
    "                            default 127.0.0.1:7001; prints 'listening on http://HOST:PORT'\n"
    "  --secret S                HMAC-SHA256 secret of callbacks  [GW_SECRET, PAYDRILL_GATEWAY_SECRET]\n"
    "                            default gw-secret\n"
    "  --seed N                  seed of every fault draw (default 1)  [GW_SEED]\n"
    "  --faults FILE             fault rules, JSON {\"rules\":[...]} (default none)  [GW_FAULTS]\n"
    "  --data-dir DIR            ledger.db (SQLite WAL) and journal.ndjson; created if\n"
    "                            missing; reused across restarts (default ./gateway-data)  [GW_DATA_DIR]\n"
    "  --sync normal|full        normal: commits survive a crash of the process (default);\n"
    "                            full: fsync every commit, survives power loss  [GW_SYNC]\n"
    "  --callback-schedule LIST  delays after each failed callback attempt, e.g. 100ms,1s\n"
    "                            default 15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h\n"
    "                            (16 attempts over 24 h 4 m)  [GW_CALLBACK_SCHEDULE]\n"
    "  --callback-timeout DUR    answer time allowed to the receiver (default 5s)  [GW_CALLBACK_TIMEOUT]\n"
    "  --callback-workers N      deliveries in flight at most, one HTTP client each\n"
    "                            (default 64, 1..1024)  [GW_CALLBACK_WORKERS]\n"
    "  --threads N               slow-path worker threads: one runs each request that may\n"
    "                            block (close, refund, admin, any request a fault rule\n"
    "                            selects, every request under --latency); a hang or\n"
    "                            commit_drop holds one for its duration. Connections and\n"
    "                            plain create, query and payer pay run on the event loop\n"
    "                            (default 384)  [GW_THREADS]\n"
    "  --idle-timeout DUR        close a keep-alive connection idle this long (default 60s;\n"
    "                            x PAYDRILL_TIME_SCALE when set)  [GW_IDLE_TIMEOUT]\n"
    "  --latency SPEC            base latency of create/query/close/refund: 5ms,\n"
    "                            uniform:1ms:10ms or lognormal:5ms:0.5 (default none)  [GW_LATENCY]\n"
    "  --epoch-ms MS             start of relative fault windows, Unix ms in the simulated\n"
    "                            timeline (default: the process start)  [GW_EPOCH_MS]\n"
    "  --check-faults FILE       validate a rules file: exit 0, or print\n"
    "                            'FILE: <json path>: <reason>' and exit 2\n"
    "  --log-level LEVEL         debug, info, warn, error, off (default info)  [GW_LOG_LEVEL]\n"
    "  --help                    this text\n";

struct opts {
    const char *v[16];
};

enum {
    O_LISTEN, O_SECRET, O_SEED, O_FAULTS, O_DATA, O_SYNC, O_SCHED, O_CBTIMEOUT, O_WORKERS,
    O_THREADS, O_LATENCY, O_EPOCH, O_CHECK, O_LOGLEVEL, O_IDLE, O_COUNT
};

static const char *const names[O_COUNT] = {
    "listen", "secret", "seed", "faults", "data-dir", "sync", "callback-schedule",
    "callback-timeout", "callback-workers", "threads", "latency", "epoch-ms", "check-faults",
    "log-level", "idle-timeout"};
static const char *const envs[O_COUNT] = {
    "GW_LISTEN", "GW_SECRET", "GW_SEED", "GW_FAULTS", "GW_DATA_DIR", "GW_SYNC",
    "GW_CALLBACK_SCHEDULE", "GW_CALLBACK_TIMEOUT", "GW_CALLBACK_WORKERS", "GW_THREADS",
    "GW_LATENCY", "GW_EPOCH_MS", NULL, "GW_LOG_LEVEL", "GW_IDLE_TIMEOUT"};

/* Returns 0, 1 for --help, or 2 on a bad command line. */
static int parse_argv(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "mock-gateway: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        int k = 0;
        while (k < O_COUNT && !(strlen(names[k]) == len && strncmp(a + 2, names[k], len) == 0))
            k++;
        if (k == O_COUNT) {
            fprintf(stderr, "mock-gateway: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (eq == NULL && i + 1 >= argc) {
            fprintf(stderr, "mock-gateway: option --%s needs a value\n", names[k]);
            return 2;
        }
        o->v[k] = eq ? eq + 1 : argv[++i];
    }
    for (int k = 0; k < O_COUNT; k++)
        o->v[k] = pd_setting(o->v[k], envs[k], NULL);
    if (o->v[O_SECRET] == NULL)
        o->v[O_SECRET] = pd_setting(NULL, "PAYDRILL_GATEWAY_SECRET", NULL);
    return 0;
}

static int bad(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "mock-gateway: --%s '%s': %s\n", opt, value, why);
    return 2;
}

static int to_config_num(const struct opts *o, struct gw_config *cfg)
{
    long n = 0;
    uint64_t u = 0;
    if (o->v[O_SEED] && pd_parse_u64(o->v[O_SEED], &cfg->seed))
        return bad("seed", o->v[O_SEED], "must be an unsigned integer");
    if (o->v[O_WORKERS] && pd_parse_int(o->v[O_WORKERS], 1, 1024, &n))
        return bad("callback-workers", o->v[O_WORKERS], "must be 1..1024");
    if (o->v[O_WORKERS])
        cfg->callback_workers = (int)n;
    if (o->v[O_THREADS] && pd_parse_int(o->v[O_THREADS], 4, 4096, &n))
        return bad("threads", o->v[O_THREADS], "must be 4..4096");
    if (o->v[O_THREADS])
        cfg->threads = (int)n;
    if (o->v[O_EPOCH] && pd_parse_u64(o->v[O_EPOCH], &u))
        return bad("epoch-ms", o->v[O_EPOCH], "must be Unix milliseconds");
    if (o->v[O_EPOCH])
        cfg->epoch_ms = (int64_t)u;
    return 0;
}

static int to_config(const struct opts *o, struct gw_config *cfg)
{
    gw_config_defaults(cfg);
    if (o->v[O_LISTEN])
        cfg->listen = o->v[O_LISTEN];
    if (o->v[O_SECRET])
        cfg->secret = o->v[O_SECRET];
    if (o->v[O_DATA])
        cfg->data_dir = o->v[O_DATA];
    cfg->faults_path = o->v[O_FAULTS];
    if (to_config_num(o, cfg))
        return 2;
    if (o->v[O_SCHED] && pd_parse_schedule(o->v[O_SCHED], cfg->schedule_ms, GW_SCHEDULE_MAX,
                                           &cfg->schedule_n))
        return bad("callback-schedule", o->v[O_SCHED], "must be 1..64 durations such as 15s,3m");
    if (o->v[O_CBTIMEOUT] && (pd_parse_duration(o->v[O_CBTIMEOUT], &cfg->callback_timeout_ms) ||
                              cfg->callback_timeout_ms < 1))
        return bad("callback-timeout", o->v[O_CBTIMEOUT], "must be a duration such as 5s");
    if (o->v[O_IDLE] && (pd_parse_duration(o->v[O_IDLE], &cfg->idle_timeout_ms) ||
                         cfg->idle_timeout_ms < 1))
        return bad("idle-timeout", o->v[O_IDLE], "must be a duration such as 60s");
    if (o->v[O_LATENCY] && gw_parse_latency(o->v[O_LATENCY], &cfg->latency))
        return bad("latency", o->v[O_LATENCY], "must be 5ms, uniform:1ms:10ms or lognormal:5ms:0.5");
    cfg->has_latency = o->v[O_LATENCY] != NULL;
    if (o->v[O_SYNC] && strcmp(o->v[O_SYNC], "normal") && strcmp(o->v[O_SYNC], "full"))
        return bad("sync", o->v[O_SYNC], "must be normal or full");
    cfg->sync_full = o->v[O_SYNC] && strcmp(o->v[O_SYNC], "full") == 0;
    if (o->v[O_LOGLEVEL] && pd_log_set_level(o->v[O_LOGLEVEL]))
        return bad("log-level", o->v[O_LOGLEVEL], "must be debug, info, warn, error or off");
    if (cfg->secret[0] == '\0')
        return bad("secret", "", "must not be empty");
    return 0;
}

int gw_check_faults(const char *path, FILE *out)
{
    char *text = NULL;
    size_t len = 0;
    int rc = pd_read_file(path, GW_RULES_DOC_MAX, &text, &len);
    if (rc != PD_OK) {
        fprintf(out, "%s: (file): cannot read (%s)\n", path, pd_strerror(rc));
        return 2;
    }
    struct gw_rules *rules = NULL;
    struct pd_json_err err;
    rc = gw_rules_parse(text, len, &rules, &err);
    free(text);
    if (rc != PD_OK) {
        fprintf(out, "%s: %s\n", path, rc == PD_EINVAL ? err.text : "(document): out of memory");
        return 2;
    }
    fprintf(out, "%s: ok (%zu rules)\n", path, rules->n);
    gw_rules_unref(rules);
    return 0;
}

/* Serves until SIGTERM or SIGINT. */
static int run(const struct gw_config *cfg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* every thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    gw *g = NULL;
    int port = 0;
    int rc = gw_start(cfg, &g, &port);
    if (rc != PD_OK) {
        fprintf(stderr, "mock-gateway: could not start: %s\n", pd_strerror(rc));
        return 1;
    }
    char host[64];
    pd_http_parse_listen(cfg->listen, host, &(int){0});
    printf("listening on http://%s:%d\n", host, port);
    fflush(stdout);
    PD_LOG(PD_LOG_INFO, "gw", "act=start addr=%s:%d seed=%" PRIu64 " data_dir=%s", host, port,
           cfg->seed, cfg->data_dir);
    int sig = 0;
    sigwait(&set, &sig);
    PD_LOG(PD_LOG_INFO, "gw", "act=stop signal=%d", sig);
    gw_stop(g);
    return 0;
}

int gw_main(int argc, char **argv)
{
    struct opts o;
    struct gw_config cfg;
    int rc = parse_argv(argc, argv, &o);
    if (rc == 1) {
        fputs(usage, stdout);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (o.v[O_CHECK] != NULL)
        return gw_check_faults(o.v[O_CHECK], stdout);
    if (to_config(&o, &cfg))
        return 2;
    return run(&cfg);
}
