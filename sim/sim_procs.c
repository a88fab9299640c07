#include "sim_procs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"
#include "sim_clock.h"
#include "sim_diag.h"
#include "sim_scenario.h"

#define READY_TIMEOUT_MS 30000
#define RESTART_TRIES 40      /* a restart: the old process's port may still be held */
#define FIRST_START_TRIES 3   /* a first start: its port was free a moment ago */
#define ENV_SLOTS (64 + 8)

#ifndef PD_SIM_MULTIARCH
#define PD_SIM_MULTIARCH "x86_64-linux-gnu"
#endif

static void self_dir(char *out, size_t out_len)
{
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        pd_strlcpy(out, ".", out_len);
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    pd_strlcpy(out, exe, out_len);
}

static void find_faketime(char *out, size_t out_len)
{
    const char *env = getenv("PAYDRILL_FAKETIME_LIB");
    if (env != NULL && *env != '\0') {
        pd_strlcpy(out, env, out_len);
        return;
    }
    static const char *const dirs[] = {
        "/usr/lib/" PD_SIM_MULTIARCH "/faketime", "/usr/lib/x86_64-linux-gnu/faketime",
        "/usr/lib/aarch64-linux-gnu/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime",
        NULL};
    /* libfaketime.so.1, not libfaketimeMT.so.1: the MT build takes a mutex
     * and two rt_sigprocmask calls on every clock read (2.5 us against
     * 66 ns here), half of payment-center's and mock-gateway's system
     * calls. The lock guards the FAKETIME string's re-parse, and
     * parse_ft_string returns at once when the string is unchanged; ours
     * never changes after exec, so each read only computes from values
     * set before main. MT stays the fallback. */
    static const char *const names[] = {"libfaketime.so.1", "libfaketimeMT.so.1", NULL};
    out[0] = '\0';
    for (size_t n = 0; names[n] != NULL; n++)
        for (size_t i = 0; dirs[i] != NULL; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dirs[i], names[n]);
            if (access(path, R_OK) == 0) {
                pd_strlcpy(out, path, out_len);
                return;
            }
        }
}

static void join_path(char *out, size_t out_len, const char *a, const char *b)
{
    pd_strlcpy(out, a, out_len);
    size_t n = strlen(out);
    pd_strlcpy(out + n, b, out_len - n);
}

void sim_tools_find(struct sim_tools *tools)
{
    char dir[1024];
    self_dir(dir, sizeof dir);
    memset(tools, 0, sizeof *tools);
    const char *gw = getenv("PAYDRILL_GATEWAY_BIN");
    const char *sut = getenv("PAYDRILL_SUT_BIN");
    if (gw != NULL && *gw != '\0')
        pd_strlcpy(tools->gateway_bin, gw, sizeof tools->gateway_bin);
    else
        join_path(tools->gateway_bin, sizeof tools->gateway_bin, dir, "/mock-gateway");
    if (sut != NULL && *sut != '\0')
        pd_strlcpy(tools->sut_bin, sut, sizeof tools->sut_bin);
    else
        join_path(tools->sut_bin, sizeof tools->sut_bin, dir, "/payment-center");
    find_faketime(tools->faketime_lib, sizeof tools->faketime_lib);
#ifdef PD_SIM_LIBASAN
    pd_strlcpy(tools->asan_lib, PD_SIM_LIBASAN, sizeof tools->asan_lib);
#endif
}

void sim_procs_init(struct sim_procs *p, const struct sim_tools *tools,
                    const struct sim_timeline *tl, const char *run_dir)
{
    memset(p, 0, sizeof *p);
    p->tools = tools;
    p->tl = tl;
    pd_strlcpy(p->run_dir, run_dir, sizeof p->run_dir);
    pthread_mutex_init(&p->lock, NULL);
    if (tools->faketime_lib[0] != '\0' &&
        sim_clock_anchor_create(&p->anchor, tl->real_start_ms) == PD_OK)
        p->shared_clock = true;
    else if (tools->faketime_lib[0] != '\0')
        PD_LOG(PD_LOG_WARN, "sim", "act=clock_anchor err=EIO note=\"children start their own clocks\"");
}

/* Environment strings of one spawn, owned by this struct. */
struct spawn_env {
    char *v[ENV_SLOTS];
    size_t n;
};

/* Adds the concatenation a + b + c (b, c may be NULL) as one variable. */
static void env_add(struct spawn_env *e, const char *a, const char *b, const char *c)
{
    if (e->n >= ENV_SLOTS - 1)
        return;
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *s = malloc(la + lb + lc + 1);
    if (s == NULL)
        return;
    memcpy(s, a, la);
    if (b)
        memcpy(s + la, b, lb);
    if (c)
        memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = '\0';
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

static void env_free(struct spawn_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    e->n = 0;
}

/* LD_PRELOAD, FAKETIME and TZ for a child spawned now. Our own (ASan-built)
 * programs get libasan first; a foreign command does not. */
static void env_faketime(const struct sim_procs *p, struct spawn_env *e, bool own, int target)
{
    const struct sim_tools *t = p->tools;
    env_add(e, "TZ=UTC", NULL, NULL);
    if (t->faketime_lib[0] == '\0')
        return;
    char ft[96];
    (void)target;
    /* Every child gets the run's epoch and the shared start instant
     * (sim_clock.h), so restarts continue the same timeline. */
    sim_faketime_value(p->tl->sim_epoch_ms, p->tl->scale, ft, sizeof ft);
    env_add(e, "FAKETIME=", ft, NULL);
    char scale[32];
    snprintf(scale, sizeof scale, "%g", p->tl->scale);
    env_add(e, "PAYDRILL_TIME_SCALE=", scale, NULL);
    if (p->anchor.active) {
        char shared[160];
        sim_clock_anchor_env(&p->anchor, shared, sizeof shared);
        env_add(e, "FAKETIME_SHARED=", shared, NULL);
        env_add(e, "FAKETIME_DONT_RESET=1", NULL, NULL);
    }
    if (own && t->asan_lib[0] != '\0')
    {
        char both[2100];
        int n = snprintf(both, sizeof both, "%s:%s", t->asan_lib, t->faketime_lib);
        if (n > 0 && (size_t)n < sizeof both)
            env_add(e, "LD_PRELOAD=", both, NULL);
    }
    else
        env_add(e, "LD_PRELOAD=", t->faketime_lib, NULL);
    const char *asan = getenv("ASAN_OPTIONS");
    env_add(e, "ASAN_OPTIONS=verify_asan_link_order=0", asan && *asan ? ":" : NULL,
            asan && *asan ? asan : NULL);
}

int64_t sim_latency_allowance_ms(int64_t production_ms, double scale)
{
    int64_t floor_ms = (int64_t)(SIM_REAL_ALLOWANCE_MS * scale);
    return production_ms > floor_ms ? production_ms : floor_ms;
}

/* A network timeout raised so it lasts at least SIM_REAL_ALLOWANCE_MS of
 * real time: a clock sped up S-fold makes loopback latency S times longer
 * in simulated time. */
static void add_scaled(struct spawn_env *e, const char *name_eq, int64_t production_ms,
                       double scale)
{
    char ms[32];
    snprintf(ms, sizeof ms, "%lldms", (long long)sim_latency_allowance_ms(production_ms, scale));
    env_add(e, name_eq, ms, NULL);
}

static int parse_port(const char *url)
{
    const char *colon = strrchr(url, ':');
    return colon ? atoi(colon + 1) : 0;
}

static int spawn(const char *const *argv, struct spawn_env *e, const char *log_name,
                 const char *run_dir, const struct pd_cpus *cpus, struct pd_proc *out)
{
    char log_path[1200];
    snprintf(log_path, sizeof log_path, "%s/%s", run_dir, log_name);
    int rc = pd_proc_start_on(argv, (const char *const *)e->v, log_path, READY_TIMEOUT_MS,
                              cpus, out);
    env_free(e);
    return rc;
}

static int start_gateway_once(struct sim_procs *p)
{
    char listen[64], data[1100], seed[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->gateway_port);
    snprintf(data, sizeof data, "%s/data/gateway", p->run_dir);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    if (pd_mkdirs(data) != PD_OK)
        return PD_EIO;
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%lld", (long long)p->tl->sim_epoch_ms);
    const char *argv[16] = {p->tools->gateway_bin, "--listen", listen, "--secret",
                            SIM_SECRET_GATEWAY, "--seed", seed, "--data-dir", data,
                            "--epoch-ms", epoch};
    size_t n = 11;
    if (p->faults_file[0] != '\0') {
        argv[n++] = "--faults";
        argv[n++] = p->faults_file;
    }
    argv[n] = NULL;
    struct spawn_env e = {.n = 0};
    for (size_t i = 0; p->gateway_env != NULL && p->gateway_env[i] != NULL; i++)
        env_add(&e, p->gateway_env[i], NULL, NULL);
    add_scaled(&e, "GW_CALLBACK_TIMEOUT=", 5000, p->tl->scale);
    env_faketime(p, &e, true, SIM_TARGET_GATEWAY);
    return spawn(argv, &e, "gateway.log", p->run_dir, p->gateway_cpus, &p->gateway);
}

static void sut_contract_env(struct sim_procs *p, struct spawn_env *e)
{
    char listen[64], data[1100];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", p->sut_port);
    snprintf(data, sizeof data, "%s/data/sut", p->run_dir);
    pd_mkdirs(data);
    env_add(e, "PAYDRILL_LISTEN=", listen, NULL);
    env_add(e, "PAYDRILL_DATA_DIR=", data, NULL);
    env_add(e, "PAYDRILL_GATEWAY_URL=", p->gateway_url, NULL);
    env_add(e, "PAYDRILL_GATEWAY_SECRET=", SIM_SECRET_GATEWAY, NULL);
    env_add(e, "PAYDRILL_BUSINESS_URL=", p->business_url, NULL);
    env_add(e, "PAYDRILL_BUSINESS_SECRET=", SIM_SECRET_BUSINESS, NULL);
    char dur[32];
    pd_format_duration(p->dedup_window_ms, dur, sizeof dur);
    env_add(e, "PAYDRILL_DEDUP_WINDOW=", dur, NULL);
    pd_format_duration(p->payment_expiry_ms, dur, sizeof dur);
    env_add(e, "PAYDRILL_PAYMENT_EXPIRY=", dur, NULL);
    for (size_t i = 0; p->sut_env != NULL && p->sut_env[i] != NULL; i++)
        env_add(e, p->sut_env[i], NULL, NULL);
    /* After the scenario's own values, which win (the first match wins). */
    /* A run kills processes, never the machine: a commit need only survive
     * the process's death, which a write to the OS cache does. With
     * synchronous=FULL every commit waited for an fdatasync; on a busy
     * disk one took seconds, hours of simulated time at x1000, and all the
     * SUT's writers queued behind it (CI's business-down-an-hour and
     * business-never-acks-a-day "senders that stopped", caught with their
     * stacks in sut-threads.txt). sut_env {"PAYDRILL_SYNC": "full"} still
     * tests with fsync. */
    env_add(e, "PAYDRILL_SYNC=normal", NULL, NULL);
    add_scaled(e, "PAYDRILL_GATEWAY_TIMEOUT=", 10000, p->tl->scale);
    add_scaled(e, "PAYDRILL_BUSINESS_TIMEOUT=", 10000, p->tl->scale);
    add_scaled(e, "PAYDRILL_SIG_TOLERANCE=", 300000, p->tl->scale);
}

static int start_sut_once(struct sim_procs *p)
{
    struct spawn_env e = {.n = 0};
    sut_contract_env(p, &e);
    if (p->sut_kind == SIM_SUT_COMMAND) {
        env_faketime(p, &e, false, SIM_TARGET_SUT);
        const char *argv[] = {"/bin/sh", "-c", p->sut_cmd, NULL};
        return spawn(argv, &e, "sut.log", p->run_dir, p->sut_cpus, &p->sut);
    }
    env_faketime(p, &e, true, SIM_TARGET_SUT);
    const char *argv[] = {p->tools->sut_bin, NULL};
    return spawn(argv, &e, "sut.log", p->run_dir, p->sut_cpus, &p->sut);
}

int64_t sim_procs_skew_limit_ms(double scale)
{
    int64_t real_floor = (int64_t)(50.0 * scale);
    return real_floor > 5000 ? real_floor : 5000;
}

/* Reads the child's clock: GET /healthz and take the Date header against
 * paydrill's simulated time at the middle of the round trip. Date has
 * second resolution, so +500 ms centres it. Returns 0 with *out_skew_ms,
 * or PD_ENOTFOUND when the child sends no Date (a foreign SUT may not). */
static int measure_skew(const struct sim_procs *p, const char *url, int64_t *out_skew_ms)
{
    char health[256];
    snprintf(health, sizeof health, "%s/healthz", url);
    pd_http_client *c = pd_http_client_new();
    if (c == NULL)
        return PD_ENOMEM;
    int rc = PD_ENOTFOUND;
    int64_t best_rtt = INT64_MAX;
    /* The shortest of a few round trips bounds the error best. */
    for (int i = 0; i < 3; i++) {
        struct pd_http_resp r;
        int64_t t0 = pd_mono_ms();
        int hr = pd_http_request(c, "GET", health, NULL, NULL, 0, 2000, 4096, &r);
        int64_t t1 = pd_mono_ms();
        if (hr == PD_OK && r.date_ms > 0 && t1 - t0 < best_rtt) {
            best_rtt = t1 - t0;
            *out_skew_ms = r.date_ms + 500 - sim_time_at(p->tl, t0 + (t1 - t0) / 2);
            rc = PD_OK;
        }
        pd_http_resp_release(&r);
    }
    pd_http_client_free(c);
    return rc;
}

/* A SUT given by URL must answer GET /healthz with 200 before the run
 * starts, not be found missing at the collection minutes later. *http
 * gets the status it answered (0: none). */
static int probe_health(const char *url, int *http)
{
    char health[256];
    snprintf(health, sizeof health, "%s/healthz", url);
    pd_http_client *c = pd_http_client_new();
    if (c == NULL)
        return PD_ENOMEM;
    struct pd_http_resp r;
    int rc = pd_http_request(c, "GET", health, NULL, NULL, 0, 5000, 4096, &r);
    *http = rc == PD_OK ? (int)r.status : 0;
    if (rc == PD_OK) {
        rc = r.status == 200 ? PD_OK : PD_EPROTO;
        pd_http_resp_release(&r);
    }
    pd_http_client_free(c);
    return rc;
}

static int start_once(struct sim_procs *p, int target)
{
    return target == SIM_TARGET_GATEWAY ? start_gateway_once(p) : start_sut_once(p);
}

/* Starts the target, then reads its clock and records the offset from
 * paydrill's: with the shared anchor it is only measurement noise; a large
 * one means the child did not run on the shared clock (a SUT that ignores
 * LD_PRELOAD, a libfaketime that ignores the anchor) and is logged loudly. */
static int start_measured(struct sim_procs *p, int target)
{
    struct pd_proc *proc = target == SIM_TARGET_GATEWAY ? &p->gateway : &p->sut;
    int rc = start_once(p, target);
    if (rc != PD_OK)
        return rc;
    int64_t skew = 0;
    p->skew_known[target] = false;
    if (p->tools->faketime_lib[0] == '\0' || measure_skew(p, proc->url, &skew) != PD_OK)
        return PD_OK;
    p->skew_ms[target] = skew;
    p->skew_known[target] = true;
    int64_t limit = sim_procs_skew_limit_ms(p->tl->scale);
    PD_LOG(llabs(skew) > limit ? PD_LOG_WARN : PD_LOG_DEBUG, "sim",
           "act=clock target=%s skew_ms=%lld limit_ms=%lld%s",
           target == SIM_TARGET_GATEWAY ? "gateway" : "sut", (long long)skew, (long long)limit,
           llabs(skew) > limit ? " note=\"the child is not on the run's shared clock\"" : "");
    return PD_OK;
}

/* How the last failed start of target ended, for a log line or an error. */
void sim_procs_start_failure(const struct sim_procs *p, int target, int rc, char *out,
                             size_t out_len)
{
    const struct pd_proc *proc = target == SIM_TARGET_GATEWAY ? &p->gateway : &p->sut;
    int st = proc->exit_status;
    if (target == SIM_TARGET_SUT && p->sut_kind == SIM_SUT_URL && p->sut_health_http > 0)
        snprintf(out, out_len, "GET %.100s/healthz answered HTTP %d, not 200", p->sut_url,
                 p->sut_health_http);
    else if (target == SIM_TARGET_SUT && p->sut_kind == SIM_SUT_URL)
        snprintf(out, out_len, "GET %.100s/healthz got no answer (%s): is it running there?",
                 p->sut_url, pd_strerror(rc));
    else if (rc == PD_ETIMEDOUT)
        snprintf(out, out_len, "it printed no \"listening on http://HOST:PORT\" line on "
                               "stdout within %d s", READY_TIMEOUT_MS / 1000);
    else if (st >= 0 && WIFEXITED(st))
        snprintf(out, out_len, "it exited with status %d before printing \"listening on "
                               "http://HOST:PORT\" on stdout", WEXITSTATUS(st));
    else if (st >= 0 && WIFSIGNALED(st))
        snprintf(out, out_len, "it was killed by signal %d before printing \"listening on "
                               "http://HOST:PORT\" on stdout", WTERMSIG(st));
    else
        snprintf(out, out_len, "%s", pd_strerror(rc));
}

/* Starts, trying again: a restart while the old process's port is still
 * held, a first start only in case its free port was taken meanwhile (the
 * child then exits; one that hangs is not tried again). */
static int start_retrying(struct sim_procs *p, int target, bool restart)
{
    int rc = PD_EIO, tries = restart ? RESTART_TRIES : FIRST_START_TRIES;
    for (int i = 0; i < tries; i++) {
        rc = start_measured(p, target);
        if (rc == PD_OK || (!restart && rc == PD_ETIMEDOUT))
            return rc;
        char why[256];
        sim_procs_start_failure(p, target, rc, why, sizeof why);
        PD_LOG(PD_LOG_WARN, "sim", "act=start target=%s try=%d err=%s why=\"%s\"",
               target == SIM_TARGET_GATEWAY ? "gateway" : "sut", i, pd_strerror(rc), why);
        if (i + 1 < tries)
            pd_sleep_ms(100 + 50 * i);
    }
    return rc;
}

int sim_procs_start_gateway(struct sim_procs *p)
{
    int rc = start_retrying(p, SIM_TARGET_GATEWAY, false);
    if (rc != PD_OK)
        return rc;
    pd_strlcpy(p->gateway_url, p->gateway.url, sizeof p->gateway_url);
    p->gateway_port = parse_port(p->gateway.url);
    return PD_OK;
}

int sim_procs_start_sut(struct sim_procs *p)
{
    if (p->sut_kind == SIM_SUT_URL) {
        pd_strlcpy(p->sut_url, p->sut_url_given, sizeof p->sut_url);
        size_t n = strlen(p->sut_url);
        if (n > 0 && p->sut_url[n - 1] == '/')
            p->sut_url[n - 1] = '\0';
        return probe_health(p->sut_url, &p->sut_health_http);
    }
    int rc = start_retrying(p, SIM_TARGET_SUT, false);
    if (rc != PD_OK)
        return rc;
    pd_strlcpy(p->sut_url, p->sut.url, sizeof p->sut_url);
    p->sut_port = parse_port(p->sut.url);
    return PD_OK;
}

bool sim_procs_can_kill(const struct sim_procs *p, int target)
{
    return target == SIM_TARGET_GATEWAY || p->sut_kind != SIM_SUT_URL;
}

void sim_procs_kill(struct sim_procs *p, int target)
{
    struct pd_proc *proc = target == SIM_TARGET_GATEWAY ? &p->gateway : &p->sut;
    pthread_mutex_lock(&p->lock);
    pd_proc_kill9(proc);   /* the child leads its own group: all of it */
    pthread_mutex_unlock(&p->lock);
}

int sim_procs_restart(struct sim_procs *p, int target)
{
    pthread_mutex_lock(&p->lock);
    int rc = start_retrying(p, target, true);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void sim_procs_diagnose(struct sim_procs *p)
{
    const char *stacks_env = getenv("PAYDRILL_DIAG_STACKS");
    bool stacks = stacks_env == NULL || strcmp(stacks_env, "0") != 0;
    const char *sem = p->anchor.active ? p->anchor.sem_name : NULL;
    static const struct {
        int target;
        const char *label, *file;
    } who[] = {{SIM_TARGET_SUT, "sut", "sut-threads.txt"},
               {SIM_TARGET_GATEWAY, "gateway", "gateway-threads.txt"}};
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
        pthread_mutex_lock(&p->lock);
        struct pd_proc *proc = who[i].target == SIM_TARGET_GATEWAY ? &p->gateway : &p->sut;
        pid_t pid = proc->pid > 0 && pd_proc_alive(proc) ? proc->pid : 0;
        pthread_mutex_unlock(&p->lock);
        if (pid == 0)
            continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", p->run_dir, who[i].file);
        if (sim_diag_write(path, who[i].label, pid, sem, stacks) == PD_OK)
            PD_LOG(PD_LOG_WARN, "sim", "act=diagnose target=%s pid=%ld file=%s",
                   who[i].label, (long)pid, path);
    }
}

void sim_procs_stop(struct sim_procs *p)
{
    sim_procs_kill(p, SIM_TARGET_SUT);
    sim_procs_kill(p, SIM_TARGET_GATEWAY);
    sim_clock_anchor_destroy(&p->anchor);
}
