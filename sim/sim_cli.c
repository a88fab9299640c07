#define _XOPEN_SOURCE 700   /* realpath */
#include "sim_cli.h"

#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_time.h"
#include "pd_util.h"
#include "sim_procs.h"
#include "sim_report.h"
#include "sim_run.h"
#include "sim_signal.h"

static const char usage_main[] =
    "usage: paydrill COMMAND [options]\n"
    "\n"
    "Runs payment-system fault scenarios end to end (a SUT between mock-gateway\n"
    "and a simulated business app and payer, on one sped-up simulated clock)\n"
    "and checks that no order is lost, none is paid twice and duplicates are\n"
    "rejected.\n"
    "\n"
    "commands:\n"
    "  run PATH...     run scenario files, folders of them, or suite files\n"
    "  list [PATH]     list scenarios with their one-line descriptions (default: scenarios/)\n"
    "  check DIR       re-run the checker over a saved run folder (or a folder of them)\n"
    "  replay DIR      run a saved run again with its seed and fault plan\n"
    "  help [COMMAND]  this text, or a command's\n"
    "\n"
    "exit status: 0 every invariant held and every expectation was met; 1 an\n"
    "invariant was violated or a scenario's expectation (its story happened) was\n"
    "not met (one line each on stderr); 2 bad usage or a scenario file error; 3 a\n"
    "run could not be completed or checked.\n"
    "\n"
    "Scenario format: docs/scenarios.md. Testing your own service: docs/paydrill.md.\n";

static const char usage_run[] =
    "usage: paydrill run PATH... [--seed N] [--out DIR] [--sut-cmd CMD | --sut-url URL]\n"
    "                            [--jobs N] [--concurrency N] [--harness-cpus LIST] [--quiet]\n"
    "\n"
    "PATH is a scenario file (*.json), a folder (its *.json files, sorted) or a suite\n"
    "file (*.suite.json listing scenario paths). Every file is validated before\n"
    "anything runs: an error prints FILE: FIELD: REASON and exits 2.\n"
    "\n"
    "  --seed N          use seed N for every scenario instead of the files' seeds\n"
    "  --out DIR         where run folders go (default: a fresh folder under ./runs/)\n"
    "  --sut-cmd CMD     the SUT is CMD, run with /bin/sh -c and the PAYDRILL_* variables\n"
    "                    of docs/sut-contract.md; it is killed and restarted for process faults\n"
    "  --sut-url URL     the SUT is already running at URL and answers GET /healthz;\n"
    "                    it runs on the real clock, so only time_scale 1 scenarios\n"
    "                    (scenarios/examples/sut-url-smoke.json), and no process faults on it\n"
    "                    (a scenario expecting SUT kills or restarts is refused);\n"
    "                    use --gateway-port/--business-port to give it fixed addresses\n"
    "  --gateway-port N  mock-gateway listens on 127.0.0.1:N (default: any free port)\n"
    "  --business-port N the business receiver listens on 127.0.0.1:N (default: any)\n"
    "  --jobs N          run N scenarios in parallel, each with its own processes\n"
    "                    (default: the number of cores, at most 4)\n"
    "  --concurrency N   override every scenario's workload.concurrency\n"
    "  --harness-cpus LIST  run paydrill and mock-gateway on these CPUs only (a list\n"
    "                    like 1, 0-3 or 0,2); the SUT keeps every CPU paydrill was\n"
    "                    given. Default: no placement. docs/paydrill.md\n"
    "  --quiet           print only verdicts, unmet expectations, violations and\n"
    "                    the report's path\n"
    "\n"
    "environment: PAYDRILL_GATEWAY_BIN, PAYDRILL_SUT_BIN (default: next to paydrill),\n"
    "PAYDRILL_FAKETIME_LIB (default: the multiarch faketime/libfaketime.so.1),\n"
    "PAYDRILL_SEED (like --seed), PAYDRILL_LOG (debug|info|warn|error),\n"
    "PAYDRILL_DIAG_STACKS=0 (a run past its bound: thread states only, no gdb stacks),\n"
    "PAYDRILL_NO_RESTART=1 (no start-up restart: docs/paydrill.md),\n"
    "PAYDRILL_HTTP_CLIENT=curl (every request through libcurl, not paydrill's own\n"
    "client for loopback http://; the children inherit it: docs/paydrill.md).\n"
    "\n"
    "A run past its convergence bound gets sut-threads.txt and gateway-threads.txt in its\n"
    "folder: what every thread of the SUT and mock-gateway was doing (docs/paydrill.md).\n";

static const char usage_list[] =
    "usage: paydrill list [PATH...]\n\n"
    "Prints each scenario's name, file and one-line description. A folder's files\n"
    "come first, then those of its subfolders (one level: scenarios/ lists the\n"
    "default suite and the examples too). Default PATH: scenarios/.\n";

static const char usage_check[] =
    "usage: paydrill check DIR\n\n"
    "Re-runs the checker over a saved run folder (one with run.json) or over every\n"
    "run folder inside DIR, rewriting report.json and journal.ndjson. Exit as for run.\n";

static const char usage_replay[] =
    "usage: paydrill replay DIR [--out DIR] [--sut-cmd CMD | --sut-url URL]\n"
    "                           [--harness-cpus LIST]\n\n"
    "Runs the scenario saved in DIR/scenario.json again, with the same seed and so the\n"
    "same fault plan, against the same kind of SUT (DIR/run.json) unless told otherwise.\n"
    "Every run folder's run.json and report.json carry this command.\n";

/* ---- options ---- */

struct opts {
    const char *paths[SIM_MAX_SCENARIOS];
    size_t n_paths;
    const char *out;
    const char *sut_cmd;
    const char *sut_url;
    bool has_seed;
    uint64_t seed;
    long jobs;
    long concurrency;
    long gateway_port;
    long business_port;
    const char *harness_cpus;   /* --harness-cpus LIST, or NULL */
    bool quiet;
};

static int bad_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "paydrill: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return SIM_EXIT_USAGE;
}

static int parse_num_opt(const char *name, const char *val, long min, long max, long *out,
                         const char *usage)
{
    if (val == NULL || pd_parse_int(val, min, max, out) != PD_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s needs a whole number in [%ld, %ld]", name, min, max);
        return bad_usage(usage, "%s", msg);
    }
    return SIM_EXIT_PASS;
}

static int parse_one(struct opts *o, int argc, char **argv, int *i, const char *usage)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int rc = SIM_EXIT_PASS;
    if (strcmp(a, "--quiet") == 0) {
        o->quiet = true;
        return rc;
    }
    if (v == NULL)
        return bad_usage(usage, "%s needs a value", a);
    (*i)++;
    if (strcmp(a, "--seed") == 0) {
        o->has_seed = pd_parse_u64(v, &o->seed) == PD_OK && o->seed <= PD_JSON_INT_MAX;
        rc = o->has_seed ? rc : bad_usage(usage, "--seed needs a whole number, got %s", v);
    } else if (strcmp(a, "--out") == 0) {
        o->out = v;
    } else if (strcmp(a, "--sut-cmd") == 0) {
        o->sut_cmd = v;
    } else if (strcmp(a, "--sut-url") == 0) {
        o->sut_url = v;
    } else if (strcmp(a, "--jobs") == 0) {
        rc = parse_num_opt(a, v, 1, 64, &o->jobs, usage);
    } else if (strcmp(a, "--concurrency") == 0) {
        rc = parse_num_opt(a, v, 1, SIM_MAX_CONCURRENCY, &o->concurrency, usage);
    } else if (strcmp(a, "--gateway-port") == 0) {
        rc = parse_num_opt(a, v, 1, 65535, &o->gateway_port, usage);
    } else if (strcmp(a, "--business-port") == 0) {
        rc = parse_num_opt(a, v, 1, 65535, &o->business_port, usage);
    } else if (strcmp(a, "--harness-cpus") == 0 && usage != usage_list &&
               usage != usage_check) {
        o->harness_cpus = v;
    } else {
        rc = bad_usage(usage, "unknown option %s", a);
    }
    return rc;
}

/* As many scenarios at once as there are cores, at most 4. */
static long default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : n;
}

static int parse_opts(struct opts *o, int argc, char **argv, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->jobs = default_jobs();
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (strncmp(argv[i], "--", 2) == 0) {
            int rc = parse_one(o, argc, argv, &i, usage);
            if (rc != SIM_EXIT_PASS)
                return rc;
        } else if (o->n_paths < SIM_MAX_SCENARIOS) {
            o->paths[o->n_paths++] = argv[i];
        }
    }
    if (o->sut_cmd != NULL && o->sut_url != NULL)
        return bad_usage(usage, "%s", "--sut-cmd and --sut-url exclude each other");
    if (o->sut_url != NULL && strncmp(o->sut_url, "http://", 7) != 0 &&
        strncmp(o->sut_url, "https://", 8) != 0)
        return bad_usage(usage, "--sut-url needs a URL such as http://127.0.0.1:8080, got %s",
                         o->sut_url);
    const char *env_seed = getenv("PAYDRILL_SEED");
    if (!o->has_seed && env_seed != NULL && *env_seed != '\0') {
        if (pd_parse_u64(env_seed, &o->seed) != PD_OK || o->seed > PD_JSON_INT_MAX)
            return bad_usage(usage, "PAYDRILL_SEED must be a whole number, got %s", env_seed);
        o->has_seed = true;
    }
    return SIM_EXIT_PASS;
}

/* ---- expanding paths ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char **out, size_t *n, size_t max, const char *path)
{
    if (*n >= max) {
        fprintf(stderr, "paydrill: more than %zu scenarios\n", max);
        return -1;
    }
    out[(*n)++] = strdup(path);
    return 0;
}

static int expand_one(const char *path, char **out, size_t *n, size_t max, int depth,
                      bool tree);

/* A folder's scenario files (not *.suite.json), by name; with tree, then
 * its subfolders' too (paydrill list), each after the files. */
static int expand_dir(const char *dir, char **out, size_t *n, size_t max, int depth, bool tree)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "%s: (folder): cannot be read\n", dir);
        return -1;
    }
    char *names[SIM_MAX_SCENARIOS], *subs[64];
    size_t k = 0, n_subs = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && k < SIM_MAX_SCENARIOS) {
        if (e->d_name[0] == '.')
            continue;
        if (ends_with(e->d_name, ".json") && !ends_with(e->d_name, ".suite.json")) {
            if ((names[k] = strdup(e->d_name)) != NULL)
                k++;
        } else if (tree && n_subs < 64) {
            char path[PATH_MAX];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
                (subs[n_subs] = strdup(e->d_name)) != NULL)
                n_subs++;
        }
    }
    closedir(d);
    qsort(names, k, sizeof *names, cmp_str);
    qsort(subs, n_subs, sizeof *subs, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < k + n_subs; i++) {
        char *name = i < k ? names[i] : subs[i - k];
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", name);
        if (rc == 0)   /* one level of subfolders only */
            rc = expand_one(path, out, n, max, depth + 1, false);
        free(name);
    }
    return rc;
}

static int expand_suite(const char *file, char **out, size_t *n, size_t max, int depth)
{
    char *text = NULL;
    size_t len = 0;
    if (pd_read_file(file, SIM_SCENARIO_FILE_MAX, &text, &len) != PD_OK) {
        fprintf(stderr, "%s: (file): cannot be read\n", file);
        return -1;
    }
    long off = 0;
    cJSON *doc = pd_json_parse_whole(text, len, &off);
    size_t line = doc != NULL ? 0 : pd_text_line(text, (size_t)off);
    free(text);
    static const char *const keys[] = {"suite", "description", "scenarios", NULL};
    struct pd_json_err err = {{0}};
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "scenarios");
    int rc = doc ? pd_json_only_keys(doc, keys, "", &err)
                 : pd_json_fail(&err, "(document): not valid JSON (line %zu, byte %ld)", line, off);
    if (rc == PD_OK && !cJSON_IsArray(list))
        rc = pd_json_fail(&err, "scenarios: must be an array of paths");
    char base[PATH_MAX];
    pd_strlcpy(base, file, sizeof base);
    char *slash = strrchr(base, '/');
    if (slash != NULL)
        slash[1] = '\0';
    else
        base[0] = '\0';
    int i = 0;
    for (const cJSON *it = list ? list->child : NULL; rc == PD_OK && it != NULL; it = it->next, i++) {
        if (!cJSON_IsString(it)) {
            rc = pd_json_fail(&err, "scenarios[%d]: must be a path", i);
            break;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s%s", it->valuestring[0] == '/' ? "" : base, it->valuestring);
        /* A suite lists exactly what it runs: no subfolders. */
        if (expand_one(path, out, n, max, depth + 1, false) != 0)
            rc = PD_EINVAL, err.text[0] = '\0';
    }
    cJSON_Delete(doc);
    if (rc != PD_OK && err.text[0])
        fprintf(stderr, "%s: %s\n", file, err.text);
    return rc == PD_OK ? 0 : -1;
}

static int expand_one(const char *path, char **out, size_t *n, size_t max, int depth,
                      bool tree)
{
    struct stat st;
    if (depth > 8) {
        fprintf(stderr, "%s: (file): suites nest too deep\n", path);
        return -1;
    }
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: (file): no such file or folder\n", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return expand_dir(path, out, n, max, depth, tree);
    if (ends_with(path, ".suite.json"))
        return expand_suite(path, out, n, max, depth);
    return push(out, n, max, path);
}

int sim_cli_expand(const char *const *paths, size_t n_paths, bool tree, char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < n_paths; i++)
        if (expand_one(paths[i], out, &n, max, 0, tree) != 0) {
            for (size_t j = 0; j < n; j++)
                free(out[j]);
            return -1;
        }
    return (int)n;
}

/* ---- loading ---- */

static const char *gateway_checker(const struct sim_tools *tools)
{
    if (access(tools->gateway_bin, X_OK) == 0)
        return tools->gateway_bin;
    fprintf(stderr, "paydrill: warning: %s not found; gateway_faults are not validated\n",
            tools->gateway_bin);
    return NULL;
}

/* Loads and validates every file; prints every error. Returns the count or -1. */
static int load_all(char **files, int n, const struct sim_tools *tools, struct sim_scenario *out)
{
    const char *gw = n > 0 ? gateway_checker(tools) : NULL;
    int bad = 0, loaded = 0;
    for (int i = 0; i < n; i++) {
        char err[SIM_ERR_MAX];
        if (sim_scenario_load(files[i], gw, &out[loaded], err) != PD_OK) {
            fprintf(stderr, "%s\n", err);
            bad++;
            continue;
        }
        loaded++;
    }
    if (bad == 0)
        return loaded;
    for (int i = 0; i < loaded; i++)
        sim_scenario_release(&out[i]);
    return -1;
}

/* ---- running ---- */

struct job_set {
    struct sim_scenario *scenarios;
    struct sim_run_result *results;
    char (*dirs)[1024];
    size_t n;
    atomic_size_t next;
    const struct sim_run_opts *run_opts;
    pthread_mutex_t print_lock;
};

static void print_result(struct job_set *js, size_t i)
{
    const struct sim_run_result *r = &js->results[i];
    static const char *const names[] = {"PASS", "FAIL", "ERROR", "UNCHECKED"};
    pthread_mutex_lock(&js->print_lock);
    fprintf(stderr, "%-9s %s  (%s)\n", names[r->verdict], js->scenarios[i].name, r->run_dir);
    if (r->violation_text != NULL)
        fputs(r->violation_text, stderr);
    if (r->error[0] && r->verdict != SIM_VERDICT_PASS)
        fprintf(stderr, "          %s\n", r->error);
    fprintf(stderr, "          replay: paydrill replay %s\n", r->run_dir);
    pthread_mutex_unlock(&js->print_lock);
}

static void *job_main(void *arg)
{
    struct job_set *js = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&js->next, 1);
        if (i >= js->n)
            return NULL;
        if (!js->run_opts->quiet_output)
            fprintf(stderr, "paydrill: running %s (seed %llu, x%g)\n", js->scenarios[i].name,
                    (unsigned long long)js->scenarios[i].seed, js->scenarios[i].time_scale);
        sim_run_scenario(&js->scenarios[i], js->run_opts, js->dirs[i], &js->results[i]);
        print_result(js, i);
    }
}

static void default_out(char *out, size_t out_len)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, out_len, "runs/%s-%ld", stamp, (long)getpid());
}

/* Absolute run folder per scenario; a second scenario of one name gets "-2". */
static int make_dirs(const char *out, struct job_set *js)
{
    char abs_out[PATH_MAX];
    if (pd_mkdirs(out) != PD_OK || realpath(out, abs_out) == NULL) {
        fprintf(stderr, "paydrill: cannot create %s\n", out);
        return -1;
    }
    for (size_t i = 0; i < js->n; i++) {
        int dup = 1;
        for (size_t j = 0; j < i; j++)
            dup += strcmp(js->scenarios[i].name, js->scenarios[j].name) == 0;
        int len = 0;
        /* A folder left by an earlier run is never reused: data must be fresh. */
        for (;; dup++) {
            len = dup == 1
                ? snprintf(js->dirs[i], sizeof js->dirs[i], "%s/%s", abs_out, js->scenarios[i].name)
                : snprintf(js->dirs[i], sizeof js->dirs[i], "%s/%s-%d", abs_out, js->scenarios[i].name, dup);
            if (len < 0 || (size_t)len >= sizeof js->dirs[i] || access(js->dirs[i], F_OK) != 0)
                break;
        }
        if (len < 0 || (size_t)len >= sizeof js->dirs[i]) {
            fprintf(stderr, "paydrill: %s: path too long\n", out);
            return -1;
        }
    }
    return 0;
}

static int exit_code(const struct job_set *js)
{
    int code = SIM_EXIT_PASS;
    for (size_t i = 0; i < js->n; i++) {
        int v = js->results[i].verdict;
        if (v == SIM_VERDICT_FAIL)
            code = SIM_EXIT_FAIL;
        else if (v != SIM_VERDICT_PASS && code == SIM_EXIT_PASS)
            code = SIM_EXIT_NO_VERDICT;
    }
    return code;
}

static void run_jobs(struct job_set *js, long jobs)
{
    pthread_t tids[64];
    size_t n = (size_t)jobs < js->n ? (size_t)jobs : js->n;
    size_t started = 0;
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&tids[i], NULL, job_main, js) == 0)
            started++;
    if (started == 0)
        job_main(js);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
}

/* paydrill's own peak resident memory over the whole command (runner,
 * checker, report writers), for bench/sim_bench.sh: RUSAGE_SELF, so the
 * SUT's and mock-gateway's peaks, which /usr/bin/time folds in, are not. */
static void log_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        PD_LOG(PD_LOG_INFO, "sim", "act=exit peak_rss_kb=%ld", ru.ru_maxrss);
}

/* Process-wide set-up before the first thread or child of a run starts. */
static void prepare_process(void)
{
    /* Two malloc arenas for the ~120 threads of a run (workers, receiver,
     * bursts) instead of glibc's 8 per core: the threads spend their time
     * waiting on the network, and every extra arena keeps its own free
     * memory resident (docs/benchmarks.md, "paydrill end to end"). */
    mallopt(M_ARENA_MAX, 2);
    /* Blocks of 128 KiB and more always get their own mapping. glibc's
     * default raises that bound to the largest block freed so far (up to
     * 32 MiB), after which the checker's record vectors (up to megabytes
     * each) came from the heap: each doubling copied the vector while both
     * copies were resident, and freed vectors stayed in the heap. Mapped,
     * a vector grows and shrinks in place (mremap) and is given back when
     * freed. At 10,000 orders: peak 23.1 -> 22.1 MB (docs/benchmarks.md). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* A SIGTERM or SIGINT must not orphan the children (sim_signal.h). */
    if (sim_signal_install() != PD_OK)
        fprintf(stderr, "paydrill: cannot install the SIGTERM/SIGINT cleanup; "
                        "a stopped run may leave its children running\n");
}

static int run_loaded(struct sim_scenario *sc, size_t n, const struct opts *o,
                      const struct sim_run_opts *ro)
{
    char out[PATH_MAX];
    if (o->out != NULL)
        pd_strlcpy(out, o->out, sizeof out);
    else
        default_out(out, sizeof out);
    struct job_set js = {.scenarios = sc, .n = n, .run_opts = ro};
    prepare_process();
    js.results = calloc(n, sizeof *js.results);
    js.dirs = calloc(n, sizeof *js.dirs);
    pthread_mutex_init(&js.print_lock, NULL);
    int code = SIM_EXIT_NO_VERDICT;
    if (js.results != NULL && js.dirs != NULL && make_dirs(out, &js) == 0) {
        run_jobs(&js, o->jobs);
        code = exit_code(&js);
        char abs_out[PATH_MAX];
        if (realpath(out, abs_out) == NULL)
            pd_strlcpy(abs_out, out, sizeof abs_out);
        sim_report_suite(abs_out, js.results, js.scenarios, n, stdout);
    }
    log_peak_rss();
    for (size_t i = 0; js.results != NULL && i < n; i++)
        sim_run_result_release(&js.results[i]);
    pthread_mutex_destroy(&js.print_lock);
    free(js.results);
    free(js.dirs);
    return code;
}

/* --harness-cpus: the list parsed into *harness and checked against the
 * CPUs paydrill may use (*all, which the SUT keeps); then every thread of
 * paydrill is put on *harness (its children are placed as they start).
 * SIM_EXIT_USAGE with the reason on stderr when the list is no good. */
static int place_harness(const struct opts *o, struct pd_cpus *harness, struct pd_cpus *all,
                         struct sim_run_opts *ro, const char *usage)
{
    char err[256], list[PD_CPUS_TEXT_MAX];
    if (o->harness_cpus == NULL)
        return SIM_EXIT_PASS;
    if (pd_cpus_parse(o->harness_cpus, harness, err, sizeof err) != PD_OK)
        return bad_usage(usage, "--harness-cpus %s", err);
    if (pd_cpus_allowed(all) != PD_OK) {
        fprintf(stderr, "paydrill: --harness-cpus: cannot read this process's CPUs\n");
        return SIM_EXIT_NO_VERDICT;
    }
    if (!pd_cpus_within(harness, all)) {
        pd_cpus_format(all, list, sizeof list);
        return bad_usage(usage, "--harness-cpus %s: not all of them are CPUs paydrill may "
                                "run on (%s)", o->harness_cpus, list);
    }
    if (pd_cpus_pin_self(harness) != PD_OK) {
        fprintf(stderr, "paydrill: --harness-cpus %s: sched_setaffinity failed\n",
                o->harness_cpus);
        return SIM_EXIT_NO_VERDICT;
    }
    ro->harness_cpus = harness;
    ro->sut_cpus = all;
    return SIM_EXIT_PASS;
}

static void fill_run_opts(const struct opts *o, const struct sim_tools *tools, struct sim_run_opts *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->tools = tools;
    ro->sut_kind = o->sut_cmd ? SIM_SUT_COMMAND : o->sut_url ? SIM_SUT_URL : SIM_SUT_REFERENCE;
    ro->sut_cmd = o->sut_cmd;
    ro->sut_url = o->sut_url;
    ro->concurrency = o->concurrency;
    ro->gateway_port = (int)o->gateway_port;
    ro->business_port = (int)o->business_port;
    ro->quiet_output = o->quiet;
}

static int check_tools(const struct opts *o, const struct sim_tools *tools)
{
    if (access(tools->gateway_bin, X_OK) != 0) {
        fprintf(stderr, "paydrill: mock-gateway not found at %s (set PAYDRILL_GATEWAY_BIN)\n",
                tools->gateway_bin);
        return SIM_EXIT_USAGE;
    }
    if (o->sut_cmd == NULL && o->sut_url == NULL && access(tools->sut_bin, X_OK) != 0) {
        fprintf(stderr, "paydrill: payment-center not found at %s (set PAYDRILL_SUT_BIN, "
                        "or use --sut-cmd / --sut-url)\n", tools->sut_bin);
        return SIM_EXIT_USAGE;
    }
    if (tools->faketime_lib[0] == '\0')
        fprintf(stderr, "paydrill: warning: libfaketime.so.1 not found (install faketime, or "
                        "set PAYDRILL_FAKETIME_LIB): simulated time will not be sped up\n");
    return SIM_EXIT_PASS;
}

/* With --sut-url the service runs on the real clock while mock-gateway and
 * the business receiver run on the scenario's: at any other time_scale than
 * 1 their signatures' timestamps disagree and every message is refused as
 * stale. Process faults on the SUT cannot be played: said once; a
 * scenario that expects SUT process events is refused (they cannot
 * happen, so the run could only fail on them). */
static int check_sut_url(const struct opts *o, const struct sim_scenario *sc, int n)
{
    if (o->sut_url == NULL)
        return SIM_EXIT_PASS;
    bool kills = false;
    for (int i = 0; i < n; i++) {
        if (sc[i].time_scale != 1.0) {
            fprintf(stderr, "paydrill: %s: time_scale is %g, but a SUT given with --sut-url "
                            "runs on the real clock: only time_scale 1 scenarios can run "
                            "against it (for example scenarios/examples/sut-url-smoke.json)\n",
                    sc[i].file, sc[i].time_scale);
            return SIM_EXIT_USAGE;
        }
        for (size_t k = 0; k < sc[i].n_procs; k++)
            kills |= sc[i].procs[k].target == SIM_TARGET_SUT;
        /* Its story cannot happen: the run could only fail it. */
        for (size_t k = 0; k < sc[i].n_expect; k++) {
            const struct sim_expect *e = &sc[i].expect[k];
            if (e->kind == SIM_EXPECT_PROCESS && strcmp(e->target, "sut") == 0 &&
                strcmp(e->action, "skipped") != 0) {
                fprintf(stderr, "paydrill: %s: expect[%zu] expects \"%s\" events of the SUT, "
                                "but a SUT given with --sut-url is not ours to kill or "
                                "restart: run this scenario with --sut-cmd\n",
                        sc[i].file, k, e->action);
                return SIM_EXIT_USAGE;
            }
        }
    }
    if (kills)
        fprintf(stderr, "paydrill: --sut-url: the SUT is not ours to kill; process faults on "
                        "the SUT are skipped (the report says so)\n");
    return SIM_EXIT_PASS;
}

static int cmd_run(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(&o, argc, argv, usage_run);
    if (rc != SIM_EXIT_PASS)
        return rc < 0 ? SIM_EXIT_PASS : rc;
    if (o.n_paths == 0)
        return bad_usage(usage_run, "%s", "run needs at least one scenario file or folder");
    struct sim_tools tools;
    sim_tools_find(&tools);
    char *files[SIM_MAX_SCENARIOS];
    int n = sim_cli_expand(o.paths, o.n_paths, false, files, SIM_MAX_SCENARIOS);
    if (n <= 0) {
        if (n == 0)
            fprintf(stderr, "paydrill: no scenario files found\n");
        return SIM_EXIT_USAGE;
    }
    struct sim_scenario *sc = calloc((size_t)n, sizeof *sc);
    int loaded = sc ? load_all(files, n, &tools, sc) : -1;
    for (int i = 0; i < n; i++)
        free(files[i]);
    if (loaded < 0 || (rc = check_tools(&o, &tools)) != SIM_EXIT_PASS ||
        (rc = check_sut_url(&o, sc, loaded)) != SIM_EXIT_PASS) {
        for (int i = 0; i < loaded; i++)
            sim_scenario_release(&sc[i]);
        free(sc);
        return SIM_EXIT_USAGE;
    }
    for (int i = 0; i < loaded && o.has_seed; i++)
        sc[i].seed = o.seed;
    struct sim_run_opts ro;
    fill_run_opts(&o, &tools, &ro);
    struct pd_cpus harness, all;
    if ((rc = place_harness(&o, &harness, &all, &ro, usage_run)) != SIM_EXIT_PASS) {
        for (int i = 0; i < loaded; i++)
            sim_scenario_release(&sc[i]);
        free(sc);
        return rc;
    }
    int code = run_loaded(sc, (size_t)loaded, &o, &ro);
    for (int i = 0; i < loaded; i++)
        sim_scenario_release(&sc[i]);
    free(sc);
    return code;
}

/* ---- list ---- */

static int cmd_list(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(&o, argc, argv, usage_list);
    if (rc != SIM_EXIT_PASS)
        return rc < 0 ? SIM_EXIT_PASS : rc;
    const char *def[] = {"scenarios"};
    char *files[SIM_MAX_SCENARIOS];
    int n = o.n_paths ? sim_cli_expand(o.paths, o.n_paths, true, files, SIM_MAX_SCENARIOS)
                      : sim_cli_expand(def, 1, true, files, SIM_MAX_SCENARIOS);
    if (n < 0)
        return SIM_EXIT_USAGE;
    int code = SIM_EXIT_PASS;
    for (int i = 0; i < n; i++) {
        struct sim_scenario s;
        char err[SIM_ERR_MAX];
        if (sim_scenario_load(files[i], NULL, &s, err) != PD_OK) {
            fprintf(stderr, "%s\n", err);
            code = SIM_EXIT_USAGE;
        } else {
            const char *d = s.description;
            int len = (int)strcspn(d, "\n");
            printf("%-34s %.*s\n%-34s   (%s)\n", s.name, len > 100 ? 100 : len, d, "", files[i]);
            sim_scenario_release(&s);
        }
        free(files[i]);
    }
    return code;
}

/* ---- check ---- */

static int check_one(const char *dir, int *code)
{
    struct sim_run_result res;
    memset(&res, 0, sizeof res);
    sim_run_check(dir, &res);
    static const char *const names[] = {"PASS", "FAIL", "ERROR", "UNCHECKED"};
    fprintf(stderr, "%-9s %s\n", names[res.verdict], dir);
    if (res.violation_text != NULL)
        fputs(res.violation_text, stderr);
    if (res.error[0] && res.verdict != SIM_VERDICT_PASS)
        fprintf(stderr, "          %s\n", res.error);
    if (res.verdict == SIM_VERDICT_FAIL)
        *code = SIM_EXIT_FAIL;
    else if (res.verdict != SIM_VERDICT_PASS && *code == SIM_EXIT_PASS)
        *code = SIM_EXIT_NO_VERDICT;
    printf("report: %s\n", res.report);
    sim_run_result_release(&res);
    return 0;
}

static bool is_run_dir(const char *dir)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/run.json", dir);
    return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

static int cmd_check(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(&o, argc, argv, usage_check);
    if (rc != SIM_EXIT_PASS)
        return rc < 0 ? SIM_EXIT_PASS : rc;
    if (o.n_paths != 1)
        return bad_usage(usage_check, "%s", "check needs one run folder");
    int code = SIM_EXIT_PASS, found = 0;
    if (is_run_dir(o.paths[0]))
        return check_one(o.paths[0], &code), code;
    DIR *d = opendir(o.paths[0]);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", o.paths[0], e->d_name);
        if (e->d_name[0] != '.' && is_run_dir(sub) && ++found)
            check_one(sub, &code);
    }
    if (d != NULL)
        closedir(d);
    if (found == 0) {
        fprintf(stderr, "paydrill: %s holds no run folder (no run.json)\n", o.paths[0]);
        return SIM_EXIT_USAGE;
    }
    return code;
}

/* ---- replay ---- */

/* The SUT of the saved run, unless the command line names one. */
static void replay_sut(const char *dir, struct opts *o, char *cmd, size_t cmd_len)
{
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/run.json", dir);
    if (o->sut_cmd || o->sut_url || pd_read_file(path, 1 << 20, &text, &len) != PD_OK)
        return;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *sut = cJSON_GetObjectItemCaseSensitive(doc, "sut");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(sut, "kind");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(sut, "command");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(sut, "url");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "command") == 0 && cJSON_IsString(c)) {
        pd_strlcpy(cmd, c->valuestring, cmd_len);
        o->sut_cmd = cmd;
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "url") == 0 && cJSON_IsString(u)) {
        pd_strlcpy(cmd, u->valuestring, cmd_len);
        o->sut_url = cmd;
    }
    cJSON_Delete(doc);
}

static int cmd_replay(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(&o, argc, argv, usage_replay);
    if (rc != SIM_EXIT_PASS)
        return rc < 0 ? SIM_EXIT_PASS : rc;
    if (o.n_paths != 1 || o.has_seed)
        return bad_usage(usage_replay, "%s", "replay needs one run folder (and keeps its seed)");
    char file[PATH_MAX], cmd[4096];
    snprintf(file, sizeof file, "%s/scenario.json", o.paths[0]);
    replay_sut(o.paths[0], &o, cmd, sizeof cmd);
    struct sim_tools tools;
    sim_tools_find(&tools);
    struct sim_scenario s;
    char err[SIM_ERR_MAX];
    if (sim_scenario_load(file, NULL, &s, err) != PD_OK) {
        fprintf(stderr, "%s\n", err);
        return SIM_EXIT_USAGE;
    }
    if ((rc = check_tools(&o, &tools)) != SIM_EXIT_PASS ||
        (rc = check_sut_url(&o, &s, 1)) != SIM_EXIT_PASS) {
        sim_scenario_release(&s);
        return rc;
    }
    struct sim_run_opts ro;
    fill_run_opts(&o, &tools, &ro);
    struct pd_cpus harness, all;
    if ((rc = place_harness(&o, &harness, &all, &ro, usage_replay)) != SIM_EXIT_PASS) {
        sim_scenario_release(&s);
        return rc;
    }
    int code = run_loaded(&s, 1, &o, &ro);
    sim_scenario_release(&s);
    return code;
}

int sim_cli_main(int argc, char **argv)
{
    const char *lvl = getenv("PAYDRILL_LOG");
    pd_log_set_level(lvl && *lvl ? lvl : "warn");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? SIM_EXIT_USAGE : SIM_EXIT_PASS;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0) {
        const char *what = argc > 2 ? argv[2] : "";
        fputs(strcmp(what, "run") == 0 ? usage_run : strcmp(what, "list") == 0 ? usage_list :
              strcmp(what, "check") == 0 ? usage_check : strcmp(what, "replay") == 0 ? usage_replay :
              usage_main, stdout);
        return SIM_EXIT_PASS;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 2, argv + 2);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    return bad_usage(usage_main, "unknown command %s", cmd);
}
