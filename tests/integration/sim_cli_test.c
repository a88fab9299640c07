/* Proves the paydrill command end to end against the real binaries
 * (payment-center, mock-gateway, libfaketime): help and usage exit codes;
 * scenario-file errors exit 2 naming file and field, including gateway_faults
 * checked by `mock-gateway --check-faults`; a real run exits 0, prints where
 * the report is and writes every run-folder file of docs/dev/interfaces.md;
 * `check` re-checks it; `replay` reruns it with the same plan; `--sut-cmd`
 * runs a command as the SUT and kills and restarts it, gives it each
 * variable once and says how a command that never got ready ended;
 * `--sut-url` refuses a URL without a scheme, a scenario not at time_scale
 * 1 and a URL where nothing answers, and passes against a payment-center
 * started by hand as docs/paydrill.md shows; and a SUT with a
 * protection removed (payment-center-zoo --bug no-dedup) makes paydrill exit 1
 * with one line per violation naming the invariant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_proc.h"
#include "pd_test.h"
#include "pd_util.h"

static char tmp[256];
static char bin[512];

/* Runs paydrill with args (shell words) in tmp; stdout/stderr into tmp/out,
 * tmp/err. prefix, when not "", goes before the command (env ...). */
static int paydrill_env(const char *args, const char *prefix)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' %s >out 2>err", tmp, prefix, bin, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int paydrill(const char *args)
{
    return paydrill_env(args, "");
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    char *text = NULL;
    size_t len = 0;
    if (pd_read_file(path, 1 << 26, &text, &len) != PD_OK)
        return strdup("");
    return text;
}

static void expect_in(const char *file, const char *needle)
{
    char *text = slurp(file);
    if (strstr(text, needle) == NULL)
        fail_msg("%s lacks \"%s\":\n%s", file, needle, text);
    free(text);
}

static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    assert_int_equal(pd_write_file(path, text, strlen(text)), PD_OK);
}

static int setup(void **state)
{
    (void)state;
    pd_test_tmpdir(tmp);
    pd_test_bin("paydrill", bin, sizeof bin);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_test_rmdir(tmp);
    return 0;
}

static void test_usage(void **state)
{
    (void)state;
    assert_int_equal(paydrill("--help"), 0);
    expect_in("out", "run PATH...");
    assert_int_equal(paydrill("run --help"), 0);
    expect_in("out", "--sut-cmd CMD");
    assert_int_equal(paydrill("help replay"), 0);
    expect_in("out", "same seed");
    assert_int_equal(paydrill("frobnicate"), 2);
    assert_int_equal(paydrill("run"), 2);
    assert_int_equal(paydrill("run x.json --jobs 0"), 2);
    assert_int_equal(paydrill("run x.json --sut-cmd a --sut-url b"), 2);
    assert_int_equal(paydrill("run no-such.json"), 2);
    expect_in("err", "no-such.json: (file): no such file");
}

static void test_scenario_errors(void **state)
{
    (void)state;
    put("bad.json", "{\"name\": \"bad\", \"workload\": {\"orders\": 0}}");
    assert_int_equal(paydrill("run bad.json"), 2);
    expect_in("err", "bad.json: workload.orders: must be between 1 and");
    put("gw.json", "{\"name\": \"gw\", \"gateway_faults\": {\"rules\": "
                   "[{\"op\": \"callback\", \"action\": {\"type\": \"error\"}}]}}");
    assert_int_equal(paydrill("run gw.json"), 2);
    expect_in("err", "gw.json: gateway_faults.rules[0]");
    /* Every bad file is reported, and nothing runs. */
    assert_int_equal(paydrill("run bad.json gw.json"), 2);
    expect_in("err", "bad.json: workload.orders");
    expect_in("err", "gw.json: gateway_faults");
    assert_int_equal(access("runs", F_OK), -1);
}

static const char small[] =
    "{\"name\": \"small\", \"seed\": 5, \"time_scale\": 100,"
    " \"workload\": {\"orders\": 12, \"concurrency\": 6,"
    "   \"duplicates\": {\"immediate\": 0.3, \"concurrent\": 0.3, \"burst\": 3}},"
    " \"payer\": {\"pay\": 0.6, \"pay_twice\": 0.2, \"abandon\": 0.2, \"delay_max\": \"5s\"},"
    " \"payment_expiry\": \"2m\","
    " \"gateway_faults\": {\"rules\": [{\"op\": \"callback\", \"orders\": {\"fraction\": 0.5},"
    "   \"nth\": 1, \"action\": {\"type\": \"drop\"}}]},"
    " \"process_faults\": [{\"target\": \"sut\", \"after_orders\": 6, \"restart_after\": \"5s\"}],"
    " \"convergence_bound\": \"2h\"}";

static void expect_run_folder(const char *dir)
{
    static const char *const files[] = {
        "scenario.json", "run.json", "ledger.json", "gateway-journal.ndjson", "export.json",
        "business.json", "plan.json", "report.json", "journal.ndjson", "gateway.log", "sut.log",
        NULL};
    for (size_t i = 0; files[i] != NULL; i++) {
        char path[768];
        snprintf(path, sizeof path, "%s/%s/%s", tmp, dir, files[i]);
        if (access(path, R_OK) != 0)
            fail_msg("run folder lacks %s", path);
    }
}

/* A scenario whose story does not happen fails, and says which part did
 * not (docs/scenarios.md "expect"); `check` of the folder agrees; the same
 * scenario with only what happened passes. */
/* list walks a folder and one level of its subfolders, files first. */
static void test_list(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/sc/sub/deeper'", tmp);
    assert_int_equal(system(cmd), 0);
    put("sc/top.json", "{\"name\": \"top\", \"description\": \"the top one\"}");
    put("sc/sub/inner.json", "{\"name\": \"inner\", \"description\": \"one level down\"}");
    put("sc/sub/deeper/deep.json", "{\"name\": \"deep\"}");
    assert_int_equal(paydrill("list sc"), 0);
    char *out = slurp("out");
    const char *top = strstr(out, "top "), *inner = strstr(out, "inner ");
    if (top == NULL || inner == NULL || inner < top || strstr(out, "deep") != NULL)
        fail_msg("list sc should show top, then inner, not deep:\n%s", out);
    free(out);
    expect_in("out", "(sc/sub/inner.json)");
    /* A suite lists exactly what it runs: a folder in it, not its
     * subfolders. */
    put("s.suite.json", "{\"suite\": \"s\", \"scenarios\": [\"sc\"]}");
    assert_int_equal(paydrill("list s.suite.json"), 0);
    out = slurp("out");
    if (strstr(out, "top ") == NULL || strstr(out, "inner") != NULL)
        fail_msg("list of a suite should show top only:\n%s", out);
    free(out);
    /* Started through the dynamic loader, /proc/self/exe is ld.so: no
     * restart (it would load "list" as the program). */
    static const char ldso[] = "/lib64/ld-linux-x86-64.so.2";
    if (access(ldso, X_OK) == 0) {
        assert_int_equal(paydrill_env("list sc", ldso), 0);
        expect_in("out", "(sc/sub/inner.json)");
    }
}

static void test_expectations(void **state)
{
    (void)state;
    static const char story[] =
        "{\"name\": \"story\", \"seed\": 3, \"time_scale\": 100,"
        " \"workload\": {\"orders\": 4, \"concurrency\": 4},"
        " \"gateway_faults\": {\"rules\": [{\"op\": \"callback\", \"nth\": 1,"
        "   \"action\": {\"type\": \"drop\"}}]},"
        " \"convergence_bound\": \"1h\", \"expect\": ["
        "   {\"gateway\": {\"op\": \"callback\", \"fault\": \"drop\"}, \"at_least\": 4},"
        "   {\"count\": \"paid\", \"at_least\": 4}%s]}";
    char doc[1024];
    snprintf(doc, sizeof doc, story,
             ", {\"count\": \"refunds\", \"why\": \"nobody pays twice here\"}");
    put("story.json", doc);
    assert_int_equal(paydrill("run story.json --out o11"), 1);
    expect_in("err", "FAIL");
    expect_in("err", "story expectation - count refunds: seen 0, expected at least 1: the "
                     "scenario's story did not happen (nobody pays twice here)");
    char *err = slurp("err");
    if (strstr(err, "expectation - gateway") != NULL || strstr(err, "count paid") != NULL)
        fail_msg("a met expectation was reported:\n%s", err);
    free(err);
    expect_in("o11/story/report.json", "\"what\":\"count refunds\"");
    expect_in("o11/story/scenario.json", "\"why\":\t\"nobody pays twice here\"");
    expect_in("o11/suite.json", "\"violations\":\t0,\n\t\t\t\"expectations_unmet\":\t1,");
    assert_int_equal(paydrill("check o11/story"), 1);
    expect_in("err", "story expectation - count refunds: seen 0");
    snprintf(doc, sizeof doc, story, "");
    put("story.json", doc);
    assert_int_equal(paydrill("run story.json --out o12"), 0);
    expect_in("o12/story/report.json", "\"verdict\":\"pass\"");
    expect_in("o12/suite.json", "\"expectations_unmet\":\t0,");
}

static void test_run_check_replay(void **state)
{
    (void)state;
    put("small.json", small);
    assert_int_equal(paydrill("run small.json --out o1"), 0);
    expect_in("out", "report: ");
    expect_in("err", "PASS");
    expect_in("err", "replay: paydrill replay ");
    expect_run_folder("o1/small");
    expect_in("o1/small/run.json", "\"kind\":\t\"reference\"");
    expect_in("o1/small/run.json", "\"action\":\t\"restart\"");
    /* The reference SUT commits without fsync in runs (docs/sut-contract.md). */
    expect_in("o1/small/sut.log", " sync=normal ");
    expect_in("o1/small/report.json", "\"verdict\"");
    assert_int_equal(paydrill("check o1/small"), 0);
    expect_in("out", "report: ");
    assert_int_equal(paydrill("check o1"), 0);
    /* The replay runs with a proxy in the environment that refuses every
     * connection, and no no_proxy: all of a run's traffic is loopback and
     * must bypass it. */
    assert_int_equal(paydrill_env("replay o1/small --out o2",
                              "env -u no_proxy -u NO_PROXY http_proxy=http://127.0.0.1:9"
                              " ALL_PROXY=http://127.0.0.1:9"), 0);
    char *a = slurp("o1/small/plan.json"), *b = slurp("o2/small/plan.json");
    assert_true(strlen(a) > 100);
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* --seed changes the plan; a second run of one name gets its own folder. */
    assert_int_equal(paydrill("run small.json small.json --out o3 --seed 77"), 0);
    a = slurp("o3/small/plan.json");
    b = slurp("o3/small-2/plan.json");
    char *c = slurp("o1/small/plan.json");
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

static void test_sut_cmd(void **state)
{
    (void)state;
    put("small.json", small);
    char pc[512], args[1400];
    pd_test_bin("payment-center", pc, sizeof pc);
    snprintf(args, sizeof args, "run small.json --out o4 --sut-cmd 'exec \"%s\" --log-level warn'", pc);
    assert_int_equal(paydrill(args), 0);
    expect_in("o4/small/run.json", "\"kind\":\t\"command\"");
    expect_in("o4/small/run.json", "\"action\":\t\"kill\"");
    expect_in("o4/small/run.json", "\"action\":\t\"restart\"");
    /* A scenario's sut_env wins over paydrill's default. */
    put("full.json", "{\"name\": \"full\", \"seed\": 2, \"time_scale\": 100,"
                     " \"workload\": {\"orders\": 2, \"concurrency\": 2},"
                     " \"sut_env\": {\"PAYDRILL_SYNC\": \"full\"}, \"convergence_bound\": \"1h\"}");
    assert_int_equal(paydrill("run full.json --out o7"), 0);
    expect_in("o7/full/sut.log", " sync=full ");
    /* Also through a shell, which keeps the last of two same-named
     * variables: the command sees each PAYDRILL_* variable once. */
    snprintf(args, sizeof args,
             "run full.json --out o8 --sut-cmd 'env | grep -c ^PAYDRILL_SYNC= >&2; "
             "env | grep ^PAYDRILL_SYNC= >&2; exec \"%s\"'", pc);
    assert_int_equal(paydrill(args), 0);
    char *log = slurp("o8/full/sut.log");
    if (strncmp(log, "1\nPAYDRILL_SYNC=full\n", 21) != 0)
        fail_msg("the SUT's environment has PAYDRILL_SYNC other than once, =full:\n%s", log);
    free(log);
    expect_in("o8/full/sut.log", " sync=full ");
    /* paydrill starts itself once more with glibc's thread-stack cache off
     * and GnuTLS's implicit initialisation skipped (sim/main.c): its own
     * start-up environment says so, and its children get the caller's
     * variables back, unset or as they were. */
    snprintf(args, sizeof args,
             "run full.json --out o10 --sut-cmd 'env | grep \"TUNABLES\\|GNUTLS\" | sort >&2; "
             "echo parent: >&2; tr \"\\0\" \"\\n\" </proc/$PPID/environ | "
             "grep \"TUNABLES\\|GNUTLS\" | sort >&2; cat /proc/$PPID/comm >&2; exec \"%s\"'",
             pc);
    assert_int_equal(paydrill(args), 0);
    log = slurp("o10/full/sut.log");
    if (strstr(log, "\npaydrill\n") == NULL)   /* its name, not "exe" */
        fail_msg("paydrill's process name after its restart is not paydrill:\n%s", log);
    if (strncmp(log, "parent:\n", 8) != 0 ||
        strstr(log, "\nGLIBC_TUNABLES=glibc.pthread.stack_cache_size=0\n") == NULL ||
        strstr(log, "\nGNUTLS_NO_IMPLICIT_INIT=1\n") == NULL ||
        strstr(log, "\nPAYDRILL_SAVED_GNUTLS=\n") == NULL ||
        strstr(log, "\nPAYDRILL_SAVED_TUNABLES=\n") == NULL)
        fail_msg("paydrill did not restart with its start-up settings, or passed them on:\n%s",
                 log);
    free(log);
    /* PAYDRILL_NO_RESTART=1, or a tool in LD_PRELOAD: no restart. */
    assert_int_equal(paydrill_env(args, "PAYDRILL_NO_RESTART=1"), 0);
    assert_int_equal(paydrill_env(args, "LD_PRELOAD=libc.so.6"), 0);
    for (int i = 2; i <= 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "o10/full-%d/sut.log", i);
        log = slurp(name);
        if (strncmp(log, "parent:\n", 8) != 0 || strstr(log, "PAYDRILL_SAVED") != NULL)
            fail_msg("%s: paydrill restarted although told not to:\n%s", name, log);
        free(log);
    }
    assert_int_equal(
        paydrill_env(args, "GLIBC_TUNABLES=glibc.malloc.arena_max=8 GNUTLS_NO_IMPLICIT_INIT=0"), 0);
    log = slurp("o10/full-4/sut.log");
    if (strncmp(log, "GLIBC_TUNABLES=glibc.malloc.arena_max=8\nGNUTLS_NO_IMPLICIT_INIT=0\nparent:\n",
                74) != 0 ||
        strstr(log, "\nPAYDRILL_SAVED_TUNABLES==glibc.malloc.arena_max=8\n") == NULL ||
        strstr(log, "PAYDRILL_SAVED_GNUTLS") != NULL)
        fail_msg("the caller's GLIBC_TUNABLES and GNUTLS_NO_IMPLICIT_INIT did not reach the SUT "
                 "as they were:\n%s", log);
    free(log);
    /* A command that ends before its ready line: said how, at once. */
    assert_int_equal(paydrill("run full.json --out o9 --sut-cmd 'sleep 300 & exit 3'"), 3);
    expect_in("err", "the SUT did not start: it exited with status 3 before printing");
    /* The suite index still has its row (and is the report); the missing
     * report.json is logged once, by the index's load. */
    expect_in("out", "/index.html");
    char *err = slurp("err");
    const char *first = strstr(err, "report.json: missing");
    if (first == NULL || strstr(first + 1, "report.json: missing") != NULL)
        fail_msg("the missing report.json is not logged exactly once:\n%s", err);
    free(err);
}

/* --harness-cpus puts paydrill (and mock-gateway) on the CPUs given and
 * leaves the SUT every CPU paydrill had: the SUT command prints its own
 * and its parent's (paydrill's) allowed CPUs before it execs. A list that
 * is not one, or names a CPU paydrill may not use, is bad usage. */
static void test_harness_cpus(void **state)
{
    (void)state;
    put("full.json", "{\"name\": \"full\", \"seed\": 2, \"time_scale\": 100,"
                     " \"workload\": {\"orders\": 2, \"concurrency\": 2},"
                     " \"convergence_bound\": \"1h\"}");
    struct pd_cpus all;
    static char all_text[PD_CPUS_TEXT_MAX], want[PD_CPUS_TEXT_MAX * 2 + 64];
    char last[16], pc[512], args[1600];
    assert_int_equal(pd_cpus_allowed(&all), PD_OK);
    assert_true(pd_cpus_format(&all, all_text, sizeof all_text));
    int n = 0;
    for (int i = 0; i < PD_CPUS_MAX; i++)
        if (all.bits[i / 64] >> (i % 64) & 1) {
            snprintf(last, sizeof last, "%d", i);
            n++;
        }
    if (n < 2) {
        print_message("one CPU only: the harness and the SUT cannot be told apart; skipped\n");
        return;
    }
    pd_test_bin("payment-center", pc, sizeof pc);
    snprintf(args, sizeof args,
             "run full.json --out o12 --harness-cpus %s --sut-cmd 'grep Cpus_allowed_list:"
             " /proc/self/status >&2; grep Cpus_allowed_list: /proc/$PPID/status >&2;"
             " exec \"%s\"'", last, pc);
    assert_int_equal(paydrill(args), 0);
    char *log = slurp("o12/full/sut.log");
    snprintf(want, sizeof want, "Cpus_allowed_list:\t%s\nCpus_allowed_list:\t%s\n", all_text,
             last);
    if (strncmp(log, want, strlen(want)) != 0)
        fail_msg("SUT, then paydrill, should run on %s, then %s:\n%s", all_text, last, log);
    free(log);
    snprintf(want, sizeof want, "\"harness_cpus\":\t\"%s\"", last);
    expect_in("o12/full/run.json", want);
    snprintf(want, sizeof want, "\"sut_cpus\":\t\"%s\"", all_text);
    expect_in("o12/full/run.json", want);
    assert_int_equal(paydrill("run full.json --harness-cpus 0-x"), 2);
    expect_in("err", "--harness-cpus 0-x: not a CPU list");
    if (strcmp(last, "1023") != 0) {     /* a CPU this machine does not give us */
        assert_int_equal(paydrill("run full.json --harness-cpus 1023"), 2);
        expect_in("err", "not all of them are CPUs paydrill may run on");
    }
}

static void test_sut_url(void **state)
{
    (void)state;
    put("small.json", small);
    put("x1.json", "{\"name\": \"x1\", \"seed\": 2, \"time_scale\": 1,"
                   " \"workload\": {\"orders\": 2, \"concurrency\": 2},"
                   " \"convergence_bound\": \"1m\"}");
    assert_int_equal(paydrill("run x1.json --sut-url localhost:9000"), 2);
    expect_in("err", "--sut-url needs a URL such as http://");
    /* A service started by hand runs on the real clock. */
    assert_int_equal(paydrill("run small.json --sut-url http://127.0.0.1:9"), 2);
    expect_in("err", "small.json: time_scale is 100, but a SUT given with --sut-url");
    /* A story of SUT kills cannot happen against a SUT we do not run. */
    put("x2.json", "{\"name\": \"x2\", \"seed\": 2, \"time_scale\": 1,"
                   " \"workload\": {\"orders\": 2, \"concurrency\": 2},"
                   " \"expect\": [{\"count\": \"paid\"},"
                   "   {\"process\": {\"target\": \"sut\", \"action\": \"kill\"}}],"
                   " \"convergence_bound\": \"1m\"}");
    assert_int_equal(paydrill("run x2.json --sut-url http://127.0.0.1:9"), 2);
    expect_in("err", "x2.json: expect[1] expects \"kill\" events of the SUT, but a SUT "
                     "given with --sut-url is not ours to kill or restart: run this scenario "
                     "with --sut-cmd");
    /* Nothing listening: said before the run, not at the collection. */
    assert_int_equal(paydrill("run x1.json --sut-url http://127.0.0.1:9 --out o1"), 3);
    expect_in("err", "GET http://127.0.0.1:9/healthz got no answer");
}

/* A free loopback port (free when asked; nothing holds it after). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* docs/paydrill.md's example: a payment-center started by hand, on the
 * real clock, pointed at fixed ports, and paydrill run --sut-url against
 * it with scenarios/examples/sut-url-smoke.json passes. */
static void test_sut_url_started_by_hand(void **state)
{
    (void)state;
    int gw = free_port(), biz = free_port();
    char pc[512], data[300], gw_url[64], biz_url[64], l1[400], l2[100], l3[100];
    pd_test_bin("payment-center", pc, sizeof pc);
    snprintf(data, sizeof data, "%s/pc-data", tmp);
    snprintf(gw_url, sizeof gw_url, "http://127.0.0.1:%d", gw);
    snprintf(biz_url, sizeof biz_url, "http://127.0.0.1:%d/notify", biz);
    snprintf(l1, sizeof l1, "PAYDRILL_DATA_DIR=%s", data);
    snprintf(l2, sizeof l2, "PAYDRILL_GATEWAY_URL=%s", gw_url);
    snprintf(l3, sizeof l3, "PAYDRILL_BUSINESS_URL=%s", biz_url);
    const char *env[] = {"PAYDRILL_LISTEN=127.0.0.1:0", l1, l2, l3,
                         "PAYDRILL_GATEWAY_SECRET=paydrill-gateway-secret",
                         "PAYDRILL_BUSINESS_SECRET=paydrill-business-secret", NULL};
    const char *argv[] = {pc, NULL};
    struct pd_proc sut;
    assert_int_equal(pd_proc_start(argv, env, NULL, 10000, &sut), PD_OK);
    const char *src = getenv("PD_SOURCE_DIR");
    char args[1400];
    snprintf(args, sizeof args,
             "run '%s/scenarios/examples/sut-url-smoke.json' --out o1 --sut-url %s"
             " --gateway-port %d --business-port %d",
             src ? src : "..", sut.url, gw, biz);
    int code = paydrill(args);
    pd_proc_stop(&sut, 5000);
    if (code != 0) {
        char *err = slurp("err");
        fail_msg("paydrill run --sut-url exited %d:\n%s", code, err);
    }
    expect_in("err", "PASS");
    expect_in("o1/sut-url-smoke/run.json", "\"kind\":\t\"url\"");
}

/* "run SCENARIO --out OUT --sut-cmd 'exec ZOO --bug BUG'" into args, with
 * ZOO the payment-center-zoo built beside the tests (fails when absent). */
static void zoo_run_args(char *args, size_t len, const char *scenario, const char *out,
                         const char *bug)
{
    char zoo[512];
    pd_test_bin("payment-center-zoo", zoo, sizeof zoo);
    if (access(zoo, X_OK) != 0)
        fail_msg("%s is not built (PD_ZOO=ON builds it)", zoo);
    snprintf(args, len, "run %s --out %s --sut-cmd 'exec \"%s\" --bug %s'", scenario, out, zoo,
             bug);
}

static void test_broken_sut_fails(void **state)
{
    (void)state;
    put("dups.json", "{\"name\": \"dups\", \"seed\": 3, \"time_scale\": 100,"
                     " \"workload\": {\"orders\": 10, \"concurrency\": 10,"
                     "   \"duplicates\": {\"immediate\": 1.0}}, \"convergence_bound\": \"1h\"}");
    char args[1400];
    zoo_run_args(args, sizeof args, "dups.json", "o5", "no-dedup");
    assert_int_equal(paydrill(args), 1);
    expect_in("err", "FAIL");
    expect_in("err", "duplicate_submission_rejected");
    expect_in("o5/dups/report.json", "\"verdict\":\"fail\"");
}

/* A SUT that stops working (here one without a reconciler, whose callbacks
 * are all dropped) fails convergence, and the run folder says what each of
 * its threads was doing when the bound passed. */
static void test_stuck_sut_diagnosed(void **state)
{
    (void)state;
    put("stuck.json", "{\"name\": \"stuck\", \"seed\": 4, \"time_scale\": 200,"
                      " \"workload\": {\"orders\": 3, \"concurrency\": 3},"
                      " \"payer\": {\"pay\": 1.0},"
                      " \"gateway_faults\": {\"rules\": [{\"op\": \"callback\","
                      "   \"action\": {\"type\": \"drop\"}}]},"
                      " \"convergence_bound\": \"5m\"}");
    char args[1400];
    zoo_run_args(args, sizeof args, "stuck.json", "o6", "no-reconciler");
    setenv("PAYDRILL_DIAG_STACKS", "0", 1);
    int rc = paydrill(args);
    unsetenv("PAYDRILL_DIAG_STACKS");
    assert_int_equal(rc, 1);
    expect_in("err", "convergence");
    expect_in("o6/stuck/sut-threads.txt", "# sut did not converge");
    expect_in("o6/stuck/sut-threads.txt", "# shared clock semaphore /paydrill_sem_");
    expect_in("o6/stuck/sut-threads.txt", " pc-outbox0 ");
    expect_in("o6/stuck/sut-threads.txt", "payment-center-zoo");
    expect_in("o6/stuck/sut-threads.txt", ": not taken");
    expect_in("o6/stuck/gateway-threads.txt", "# gateway: pid ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_check_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expectations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sut_cmd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_harness_cpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sut_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sut_url_started_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_sut_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_sut_diagnosed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
