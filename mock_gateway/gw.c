/* gw.c -- start and stop of mock-gateway: config defaults, the ledger, the
 * journal, the fault rules, callback delivery and the HTTP server. */
#include "gw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_internal.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"

#define GW_DEFAULT_SCHEDULE "15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h"

void gw_config_defaults(struct gw_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "127.0.0.1:7001";
    cfg->secret = "gw-secret";
    cfg->seed = 1;
    cfg->data_dir = "gateway-data";
    pd_parse_schedule(GW_DEFAULT_SCHEDULE, cfg->schedule_ms, GW_SCHEDULE_MAX, &cfg->schedule_n);
    cfg->callback_timeout_ms = 5000;
    cfg->callback_workers = 64;
    cfg->threads = 384;
    cfg->idle_timeout_ms = 60000;
}

int gw_parse_latency(const char *text, struct gw_dist *out)
{
    char buf[96], *a, *b, *c;
    memset(out, 0, sizeof *out);
    if (pd_strlcpy(buf, text, sizeof buf) != PD_OK)
        return PD_EINVAL;
    a = strtok_r(buf, ":", &c);
    b = a ? strtok_r(NULL, ":", &c) : NULL;
    char *d = b ? strtok_r(NULL, ":", &c) : NULL;
    if (a == NULL || (b == NULL) != (d == NULL) || (d && strtok_r(NULL, ":", &c)))
        return PD_EINVAL;
    if (b == NULL)
        return pd_parse_duration(a, &out->fixed_ms);
    if (strcmp(a, "uniform") == 0) {
        out->kind = GW_DIST_UNIFORM;
        if (pd_parse_duration(b, &out->lo_ms) || pd_parse_duration(d, &out->hi_ms) ||
            out->hi_ms < out->lo_ms)
            return PD_EINVAL;
        return PD_OK;
    }
    if (strcmp(a, "lognormal") != 0)
        return PD_EINVAL;
    int64_t median = 0;
    char *end = NULL;
    out->kind = GW_DIST_LOGNORMAL;
    out->sigma = strtod(d, &end);
    if (pd_parse_duration(b, &median) || end == d || *end != '\0' || !(out->sigma >= 0) ||
        out->sigma > 10)
        return PD_EINVAL;
    out->median_ms = (double)median;
    return PD_OK;
}

struct gw_rules *gw__rules(gw *g)
{
    pthread_mutex_lock(&g->rules_mu);
    struct gw_rules *r = gw_rules_ref(g->rules);
    pthread_mutex_unlock(&g->rules_mu);
    return r;
}

static int load_rules(gw *g)
{
    if (g->cfg.faults_path == NULL) {
        g->rules = gw_rules_empty();
        return g->rules ? PD_OK : PD_ENOMEM;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = pd_read_file(g->cfg.faults_path, GW_RULES_DOC_MAX, &text, &len);
    if (rc != PD_OK) {
        PD_LOG(PD_LOG_ERROR, "gw", "act=faults_read path=%s err=%s", g->cfg.faults_path,
               pd_strerror(rc));
        return PD_EINVAL;
    }
    struct pd_json_err err;
    rc = gw_rules_parse(text, len, &g->rules, &err);
    free(text);
    if (rc != PD_OK) {
        fprintf(stderr, "%s: %s\n", g->cfg.faults_path, err.text);
        return PD_EINVAL;
    }
    PD_LOG(PD_LOG_INFO, "gw", "act=faults_loaded path=%s rules=%zu", g->cfg.faults_path,
           g->rules->n);
    return PD_OK;
}

static int start_http(gw *g, int *out_port)
{
    g->batch = calloc(GW_BATCH_MAX, sizeof *g->batch);
    g->batch_text = calloc(GW_BATCH_MAX, sizeof *g->batch_text);
    g->paid = calloc(GW_BATCH_MAX, sizeof *g->paid);
    if (g->batch == NULL || g->batch_text == NULL || g->paid == NULL)
        return PD_ENOMEM;
    /* 10 min (simulated) to send a request: under a x2000 clock that is still
     * 300 ms real (both timeouts are also multiplied by PAYDRILL_TIME_SCALE). */
    struct gw_http_opts opts = {g->cfg.listen, g->cfg.threads, g->cfg.idle_timeout_ms, 600000};
    struct gw_http_hooks hooks = {g, gw_api_fast, gw_api_flush, gw_api_slow};
    int rc = gw_http_start(&opts, &hooks, &g->http, out_port);
    if (rc != PD_OK)
        PD_LOG(PD_LOG_ERROR, "gw", "act=listen addr=%s err=%s", g->cfg.listen, pd_strerror(rc));
    return rc;
}

int gw_start(const struct gw_config *cfg, gw **out, int *out_port)
{
    *out = NULL;
    gw *g = calloc(1, sizeof *g);
    if (g == NULL)
        return PD_ENOMEM;
    g->cfg = *cfg;
    pd_strlcpy(g->secret, cfg->secret, sizeof g->secret);
    pd_strlcpy(g->data_dir, cfg->data_dir, sizeof g->data_dir);
    g->cfg.secret = g->secret;
    g->cfg.data_dir = g->data_dir;
    g->cfg.faults_path = NULL;     /* not kept: the text is read once here */
    g->epoch_ms = cfg->epoch_ms > 0 ? cfg->epoch_ms : pd_now_ms();
    pthread_mutex_init(&g->rules_mu, NULL);
    g->cfg.faults_path = cfg->faults_path;
    int rc = load_rules(g);
    g->cfg.faults_path = NULL;
    rc = rc ? rc : gw_store_open(g->data_dir, cfg->sync_full, &g->store);
    rc = rc ? rc : gw_journal_open(g->data_dir, &g->journal);
    if (rc == PD_OK && (g->occ = gw_occ_new()) == NULL)
        rc = PD_ENOMEM;
    rc = rc ? rc : gw_cb_start(g, &g->cb);
    rc = rc ? rc : start_http(g, out_port);
    if (rc != PD_OK) {
        gw_stop(g);
        return rc;
    }
    *out = g;
    return PD_OK;
}

void gw_stop(gw *g)
{
    if (g == NULL)
        return;
    gw_http_stop(g->http);
    gw_cb_stop(g->cb);
    gw_occ_free(g->occ);
    gw_journal_close(g->journal);
    gw_store_close(g->store);
    gw_rules_unref(g->rules);
    pthread_mutex_destroy(&g->rules_mu);
    free(g->batch);
    free(g->batch_text);
    free(g->paid);
    free(g);
}
