#include "sim_run.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"
#include "sim_business.h"
#include "sim_collect.h"
#include "sim_driver.h"
#include "sim_json.h"

#define MAX_PROC_EVENTS 512
#define QUIET_POLL_REAL_MS 20
#define SCAN_BACKOFF_REAL_MS 100
#define REAL_GRACE_MS 60000     /* beyond the bound's real time, before giving up waiting */

enum { EV_KILL = 0, EV_RESTART, EV_RESTART_FAILED, EV_SKIPPED };
static const char *const ev_names[] = {"kill", "restart", "restart_failed", "skipped"};

struct proc_event {
    int64_t at;
    int target;
    int action;
    char detail[96];
};

struct run {
    const struct sim_scenario *s;
    const struct sim_run_opts *o;
    char dir[1024];
    struct sim_timeline tl;
    struct sim_procs procs;
    sim_business *biz;
    sim_driver *drv;
    char business_url[128];
    pthread_mutex_t lock;
    struct proc_event events[MAX_PROC_EVENTS];
    size_t n_events;
    atomic_int driver_done;
    int64_t started_real_ms, started_mono_ms;
    int64_t healed_at, quiet_at, finished_at;
    bool quiet;
    bool attach_passed;
    int64_t last_fault_at;
};

static void add_event(struct run *r, int target, int action, const char *detail)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_events < MAX_PROC_EVENTS) {
        struct proc_event *e = &r->events[r->n_events++];
        e->at = sim_time_now(&r->tl);
        e->target = target;
        e->action = action;
        pd_strlcpy(e->detail, detail, sizeof e->detail);
        r->last_fault_at = e->at;
    }
    pthread_mutex_unlock(&r->lock);
    if (!r->o->quiet_output)
        fprintf(stderr, "paydrill: %s: %s %s (%s)\n", r->s->name, ev_names[action],
                sim_target_name(target), detail);
}

/* ---- process faults ---- */

struct fault_thread {
    struct run *r;
    const struct sim_proc_fault *f;
    size_t index;
};

/* Waits for the k-th firing of the rule; false when it can never fire. */
static bool wait_firing(struct run *r, const struct sim_proc_fault *f, int64_t k, int64_t *base)
{
    if (f->at_ms >= 0) {
        sim_time_sleep_until(&r->tl, f->at_ms + k * f->every_ms);
        return true;
    }
    if (k > 0) {
        sim_time_sleep_until(&r->tl, *base + k * f->every_ms);
        return true;
    }
    while (sim_driver_submitted(r->drv) < f->after_orders) {
        if (atomic_load(&r->driver_done))
            return false;
        pd_sleep_ms(1);
    }
    *base = sim_time_now(&r->tl) - r->tl.sim_epoch_ms;
    return true;
}

static void *fault_main(void *arg)
{
    struct fault_thread *ft = arg;
    struct run *r = ft->r;
    const struct sim_proc_fault *f = ft->f;
    int64_t base = 0;
    char detail[96];
    for (int64_t k = 0; k < f->repeat; k++) {
        if (!wait_firing(r, f, k, &base)) {
            snprintf(detail, sizeof detail, "rule %zu: after_orders never reached", ft->index);
            add_event(r, f->target, EV_SKIPPED, detail);
            return NULL;
        }
        snprintf(detail, sizeof detail, "rule %zu, %lld of %lld, SIGKILL", ft->index,
                 (long long)k + 1, (long long)f->repeat);
        sim_procs_kill(&r->procs, f->target);
        add_event(r, f->target, EV_KILL, detail);
        sim_time_sleep(&r->tl, f->restart_after_ms);
        int rc = sim_procs_restart(&r->procs, f->target);
        snprintf(detail, sizeof detail, "rule %zu, same port and data folder%s%s", ft->index,
                 rc == PD_OK ? "" : ": ", rc == PD_OK ? "" : pd_strerror(rc));
        add_event(r, f->target, rc == PD_OK ? EV_RESTART : EV_RESTART_FAILED, detail);
    }
    return NULL;
}

/* Starts one thread per process-fault rule that can apply; returns how many. */
static size_t start_faults(struct run *r, pthread_t *tids, struct fault_thread *fts)
{
    size_t n = 0;
    for (size_t i = 0; i < r->s->n_procs; i++) {
        const struct sim_proc_fault *f = &r->s->procs[i];
        if (!sim_procs_can_kill(&r->procs, f->target)) {
            add_event(r, f->target, EV_SKIPPED, "--sut-url: the SUT is not ours to kill");
            continue;
        }
        fts[n] = (struct fault_thread){.r = r, .f = f, .index = i};
        if (pthread_create(&tids[n], NULL, fault_main, &fts[n]) == 0)
            n++;
    }
    return n;
}

/* ---- quiet ---- */

static bool cheap_quiet(struct run *r)
{
    const char *const *ids = NULL;
    size_t accepted = sim_driver_accepted(r->drv, &ids);
    if (sim_business_applied_count(r->biz) < accepted)
        return false;
    struct sim_gw_status st;
    if (sim_gateway_status(r->procs.gateway_url, &st) != PD_OK)
        return false;
    return st.callbacks_in_flight == 0 && (st.callbacks_pending == 0 || !r->s->wait_callbacks);
}

static bool full_quiet(struct run *r)
{
    struct sim_export_stats ex;
    struct sim_gw_status st;
    if (sim_export_scan(r->procs.sut_url, NULL, &ex) != PD_OK || ex.final != ex.orders)
        return false;
    /* Every final-status notification acknowledged, unless the scenario's
     * business app never acknowledges some (then received is enough). */
    if (ex.pending_notifications > 0 && !sim_scenario_biz_forever(r->s))
        return false;
    if (sim_gateway_status(r->procs.gateway_url, &st) != PD_OK)
        return false;
    return st.charges - st.refunds == ex.paid &&
           (st.callbacks_pending == 0 || !r->s->wait_callbacks);
}

static void wait_quiet(struct run *r)
{
    const struct sim_scenario *s = r->s;
    int64_t bound_at = r->healed_at + s->convergence_bound_ms;
    int64_t settle_at = r->tl.sim_epoch_ms + s->settle_ms;
    int64_t real_cap = pd_mono_ms() + sim_time_real_ms(&r->tl, s->convergence_bound_ms) + REAL_GRACE_MS;
    for (;;) {
        int64_t t = sim_time_now(&r->tl);
        if (t >= settle_at && cheap_quiet(r)) {
            int64_t scan_from = pd_mono_ms();
            bool quiet = full_quiet(r);
            PD_LOG(PD_LOG_INFO, "sim", "act=quiet_check quiet=%d scan_real_ms=%lld", quiet,
                   (long long)(pd_mono_ms() - scan_from));
            if (quiet) {
                r->quiet = true;
                r->quiet_at = sim_time_now(&r->tl);
                return;
            }
            pd_sleep_ms(SCAN_BACKOFF_REAL_MS);
        }
        if (t >= bound_at || pd_mono_ms() >= real_cap)
            return;
        pd_sleep_ms(QUIET_POLL_REAL_MS);
    }
}

/* ---- files ---- */

static void path_in(const struct run *r, const char *name, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/%s", r->dir, name);
}

static int write_json_file(const char *path, const cJSON *doc)
{
    char *text = cJSON_Print(doc);
    if (text == NULL)
        return PD_ENOMEM;
    int rc = pd_write_file(path, text, strlen(text));
    cJSON_free(text);
    return rc;
}

/* True when some trade of the ledger file has no attach (streamed check). */
static bool ledger_lacks_attach(const char *path)
{
    static const char *const needles[] = {"\"attach\":null", "\"attach\": null",
                                          "\"attach\":\"\"", "\"attach\": \"\"", NULL};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    char buf[65536 + 32];
    size_t keep = 0, n;
    bool found = false;
    while (!found && (n = fread(buf + keep, 1, sizeof buf - 1 - keep, f)) > 0) {
        size_t len = keep + n;
        buf[len] = '\0';
        for (size_t i = 0; needles[i] != NULL && !found; i++)
            found = strstr(buf, needles[i]) != NULL;
        keep = len < 24 ? len : 24;
        memmove(buf, buf + len - keep, keep);
    }
    fclose(f);
    return found;
}

static const char *sut_kind_name(int kind)
{
    return kind == SIM_SUT_COMMAND ? "command" : kind == SIM_SUT_URL ? "url" : "reference";
}

/* How far each child's clock was from paydrill's at its last start
 * (docs/scenarios.md, "Time"); null when it could not be read. */
static cJSON *clock_json(const struct sim_procs *p)
{
    static const char *const names[2] = {"sut", "gateway"};
    cJSON *o = cJSON_CreateObject();
    pd_json_add_i64(o, "skew_limit_ms", sim_procs_skew_limit_ms(p->tl->scale));
    cJSON_AddBoolToObject(o, "shared_anchor", p->shared_clock);
    for (int t = 0; t < 2; t++) {
        cJSON *one = cJSON_CreateObject();
        if (p->skew_known[t])
            pd_json_add_i64(one, "skew_ms", p->skew_ms[t]);
        else
            cJSON_AddNullToObject(one, "skew_ms");
        cJSON_AddItemToObject(o, names[t], one);
    }
    return o;
}

static cJSON *sut_json(const struct run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", sut_kind_name(r->o->sut_kind));
    if (r->o->sut_kind == SIM_SUT_COMMAND)
        cJSON_AddStringToObject(o, "command", r->o->sut_cmd);
    else if (r->o->sut_kind == SIM_SUT_REFERENCE)
        cJSON_AddStringToObject(o, "command", r->o->tools->sut_bin);
    else
        cJSON_AddNullToObject(o, "command");
    cJSON_AddStringToObject(o, "url", r->procs.sut_url);
    cJSON_AddBoolToObject(o, "attach_passed", r->attach_passed);
    cJSON_AddBoolToObject(o, "process_faults_supported", r->o->sut_kind != SIM_SUT_URL);
    cJSON_AddStringToObject(o, "gateway_url", r->procs.gateway_url);
    cJSON_AddStringToObject(o, "business_url", r->business_url);
    char list[PD_CPUS_TEXT_MAX];
    if (r->o->harness_cpus != NULL) {
        pd_cpus_format(r->o->harness_cpus, list, sizeof list);
        cJSON_AddStringToObject(o, "harness_cpus", list);
    } else {
        cJSON_AddNullToObject(o, "harness_cpus");
    }
    if (r->o->harness_cpus != NULL && r->o->sut_kind != SIM_SUT_URL) {
        pd_cpus_format(r->o->sut_cpus, list, sizeof list);
        cJSON_AddStringToObject(o, "sut_cpus", list);
    } else {
        cJSON_AddNullToObject(o, "sut_cpus");   /* not placed, or not ours to start */
    }
    return o;
}

static cJSON *events_json(struct run *r)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_events; i++) {
        cJSON *e = cJSON_CreateObject();
        pd_json_add_i64(e, "at", r->events[i].at);
        cJSON_AddStringToObject(e, "target", sim_target_name(r->events[i].target));
        cJSON_AddStringToObject(e, "action", ev_names[r->events[i].action]);
        cJSON_AddStringToObject(e, "detail", r->events[i].detail);
        cJSON_AddItemToArray(a, e);
    }
    pthread_mutex_unlock(&r->lock);
    return a;
}

static void add_time_or_null(cJSON *o, const char *key, bool set, int64_t v)
{
    if (set)
        pd_json_add_i64(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static int write_run_json(struct run *r)
{
    const struct sim_scenario *s = r->s;
    cJSON *o = cJSON_CreateObject();
    char started[32], path[1100], replay[1200];
    pd_format_rfc3339(r->started_real_ms, started);
    snprintf(replay, sizeof replay, "paydrill replay %s", r->dir);
    cJSON_AddStringToObject(o, "schema", "paydrill.run/1");
    cJSON_AddStringToObject(o, "scenario", s->name);
    cJSON_AddStringToObject(o, "scenario_file", s->file);
    pd_json_add_i64(o, "seed", (int64_t)s->seed);
    cJSON_AddNumberToObject(o, "time_scale", s->time_scale);
    cJSON_AddItemToObject(o, "sut", sut_json(r));
    cJSON_AddStringToObject(o, "started_at", started);
    pd_json_add_i64(o, "duration_ms", pd_mono_ms() - r->started_mono_ms);
    pd_json_add_i64(o, "sim_started_at", r->tl.sim_epoch_ms);
    pd_json_add_i64(o, "sim_finished_at", r->finished_at);
    cJSON_AddBoolToObject(o, "quiet", r->quiet);
    add_time_or_null(o, "quiet_at", r->quiet, r->quiet_at);
    pd_json_add_i64(o, "faults_healed_at", r->healed_at);
    pd_json_add_i64(o, "convergence_bound_ms", s->convergence_bound_ms);
    pd_json_add_i64(o, "dedup_window_ms", s->dedup_window_ms);
    pd_json_add_i64(o, "payment_expiry_ms", s->payment_expiry_ms);
    cJSON_AddItemToObject(o, "process_events", events_json(r));
    cJSON_AddItemToObject(o, "clock", clock_json(&r->procs));
    /* Before the checker runs in this process: what the runner itself needed. */
    pd_json_add_i64(o, "runner_peak_rss_kb", pd_proc_status_kb("VmHWM"));
    cJSON_AddStringToObject(o, "replay", replay);
    path_in(r, "run.json", path, sizeof path);
    int rc = write_json_file(path, o);
    cJSON_Delete(o);
    return rc;
}

static int collect(struct run *r)
{
    char path[1100], url[256];
    int rc;
    path_in(r, "ledger.json", path, sizeof path);
    snprintf(url, sizeof url, "%s/sim/ledger", r->procs.gateway_url);
    rc = sim_fetch_to_file(url, path, 120000);
    r->attach_passed = rc == PD_OK && !ledger_lacks_attach(path);
    path_in(r, "gateway-journal.ndjson", path, sizeof path);
    snprintf(url, sizeof url, "%s/sim/journal", r->procs.gateway_url);
    if (rc == PD_OK)
        rc = sim_fetch_to_file(url, path, 120000);
    struct sim_export_stats ex;
    path_in(r, "export.json", path, sizeof path);
    if (rc == PD_OK)
        rc = sim_export_scan(r->procs.sut_url, path, &ex);
    r->finished_at = sim_time_now(&r->tl);
    path_in(r, "business.json", path, sizeof path);
    int rc2 = sim_driver_write_business(r->drv, path, r->biz);
    path_in(r, "plan.json", path, sizeof path);
    if (rc2 == PD_OK)
        rc2 = sim_driver_write_plan(r->drv, path);
    return rc != PD_OK ? rc : rc2;
}

/* ---- the run ---- */

static int write_scenario(struct run *r)
{
    char path[1100];
    path_in(r, "scenario.json", path, sizeof path);
    cJSON *doc = sim_scenario_to_json(r->s);
    int rc = doc ? write_json_file(path, doc) : PD_ENOMEM;
    cJSON_Delete(doc);
    if (rc == PD_OK && r->s->gateway_faults != NULL) {
        path_in(r, "gateway-faults.json", r->procs.faults_file, sizeof r->procs.faults_file);
        rc = write_json_file(r->procs.faults_file, r->s->gateway_faults);
    }
    return rc;
}

static int start_all(struct run *r, struct sim_run_result *res)
{
    int rc = sim_business_start(r->s, &r->tl, r->o->business_port, &r->biz, r->business_url);
    if (rc != PD_OK) {
        snprintf(res->error, sizeof res->error, "business receiver: %s", pd_strerror(rc));
        return rc;
    }
    pd_strlcpy(r->procs.business_url, r->business_url, sizeof r->procs.business_url);
    char why[256];
    rc = sim_procs_start_gateway(&r->procs);
    if (rc != PD_OK) {
        sim_procs_start_failure(&r->procs, SIM_TARGET_GATEWAY, rc, why, sizeof why);
        snprintf(res->error, sizeof res->error, "mock-gateway (%s) did not start: %s; see %s/gateway.log",
                 r->o->tools->gateway_bin, why, r->dir);
        return rc;
    }
    rc = sim_procs_start_sut(&r->procs);
    if (rc != PD_OK) {
        sim_procs_start_failure(&r->procs, SIM_TARGET_SUT, rc, why, sizeof why);
        snprintf(res->error, sizeof res->error, "the SUT did not start: %s; see %s/sut.log",
                 why, r->dir);
    }
    return rc;
}

static int play(struct run *r, struct sim_run_result *res)
{
    struct sim_driver_cfg cfg = {.s = r->s, .tl = &r->tl, .sut_url = r->procs.sut_url,
                                 .gateway_url = r->procs.gateway_url, .business = r->biz,
                                 .concurrency = r->o->concurrency};
    int rc = sim_driver_start(&cfg, &r->drv);
    if (rc != PD_OK) {
        snprintf(res->error, sizeof res->error, "driver: %s", pd_strerror(rc));
        return rc;
    }
    pthread_t tids[SIM_MAX_PROC_FAULTS];
    struct fault_thread fts[SIM_MAX_PROC_FAULTS];
    size_t n = start_faults(r, tids, fts);
    sim_driver_join(r->drv);
    atomic_store(&r->driver_done, 1);
    for (size_t i = 0; i < n; i++)
        pthread_join(tids[i], NULL);
    r->healed_at = sim_time_now(&r->tl);
    wait_quiet(r);
    if (!r->quiet)
        sim_procs_diagnose(&r->procs);
    return PD_OK;
}

static void init_run(struct run *r, const struct sim_scenario *s, const struct sim_run_opts *o,
                     const char *run_dir)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->o = o;
    pd_strlcpy(r->dir, run_dir, sizeof r->dir);
    pthread_mutex_init(&r->lock, NULL);
    r->started_real_ms = pd_now_ms();
    r->started_mono_ms = pd_mono_ms();
    /* A SUT given by URL runs on the real clock (time_scale 1 is enforced,
     * sim_cli.c): the run's clock starts at the real time too, or every
     * signature's timestamp would look ten months old to one side. */
    int64_t epoch = o->sut_kind == SIM_SUT_URL ? r->started_real_ms : SIM_EPOCH_MS;
    sim_timeline_init(&r->tl, epoch, r->started_mono_ms, s->time_scale);
    sim_procs_init(&r->procs, o->tools, &r->tl, run_dir);
    r->procs.sut_kind = o->sut_kind;
    r->procs.sut_cmd = o->sut_cmd;
    r->procs.sut_url_given = o->sut_url;
    r->procs.seed = s->seed;
    r->procs.gateway_port = o->gateway_port;
    r->procs.sut_env = s->sut_env;
    r->procs.gateway_env = s->gateway_env;
    r->procs.dedup_window_ms = s->dedup_window_ms;
    r->procs.payment_expiry_ms = s->payment_expiry_ms;
    r->procs.gateway_cpus = o->harness_cpus;
    r->procs.sut_cpus = o->sut_cpus;
}

static void finish(struct run *r, struct sim_run_result *res, int rc)
{
    sim_procs_stop(&r->procs);
    sim_business_stop(r->biz);
    if (rc == PD_OK)
        write_run_json(r);
    sim_driver_free(r->drv);
    sim_business_free(r->biz);
    pthread_mutex_destroy(&r->lock);
    if (rc != PD_OK) {
        res->verdict = SIM_VERDICT_ERROR;
        return;
    }
    /* The runner's threads are gone and its records freed: hand the free
     * heap back to the system before the checker builds its model, so the
     * process peak is max(runner, checker) rather than their sum. */
    malloc_trim(0);
    sim_run_check(r->dir, res);
}

int sim_run_scenario(const struct sim_scenario *s, const struct sim_run_opts *o,
                     const char *run_dir, struct sim_run_result *res)
{
    memset(res, 0, sizeof *res);
    pd_strlcpy(res->run_dir, run_dir, sizeof res->run_dir);
    struct run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PD_ENOMEM;
    init_run(r, s, o, run_dir);
    int rc = pd_mkdirs(run_dir);
    if (rc == PD_OK)
        rc = write_scenario(r);
    if (rc != PD_OK)
        snprintf(res->error, sizeof res->error, "cannot write the run folder %s", run_dir);
    if (rc == PD_OK)
        rc = start_all(r, res);
    if (rc == PD_OK)
        rc = play(r, res);
    if (rc == PD_OK && (rc = collect(r)) != PD_OK)
        snprintf(res->error, sizeof res->error, "collecting G, P and B failed: %s", pd_strerror(rc));
    finish(r, res, rc);
    free(r);
    return rc;
}
