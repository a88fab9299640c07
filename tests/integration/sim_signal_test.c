/* Proves that stopping paydrill with SIGTERM or SIGINT leaves no child
 * running (docs/paydrill.md, "Stopping a run"): a real `paydrill run` of a
 * long scenario is started; once mock-gateway and the SUT are up (found in
 * /proc as paydrill's descendants, with their process groups) the test
 * sends the signal. paydrill must exit 143 (SIGTERM) or 130 (SIGINT) within
 * seconds and say so on stderr, and afterwards no process recorded before
 * the signal may be alive, nor any process in their process groups. The
 * SIGTERM case runs the SUT through --sut-cmd as `sh -c '"pc"; exit 0'`, so
 * payment-center is paydrill's grandchild and only the kill of the group
 * can reach it; the SIGINT case runs the reference SUT directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

#define MAX_PROCS 64
#define START_LIMIT_MS 60000
#define EXIT_LIMIT_MS 20000

static char tmp[256];

/* A scenario that runs for many minutes: payers wait 10 simulated minutes
 * at time_scale 1. */
static const char long_scenario[] =
    "{\"name\": \"long\", \"seed\": 3, \"time_scale\": 1,"
    " \"workload\": {\"orders\": 2000, \"concurrency\": 4},"
    " \"payer\": {\"pay\": 1.0, \"delay_min\": \"10m\", \"delay_max\": \"10m\"},"
    " \"payment_expiry\": \"1h\", \"convergence_bound\": \"2h\"}";

struct proc_info { pid_t pid, ppid, pgrp; char state; };

static int read_proc(pid_t pid, struct proc_info *out)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');
    long ppid, pgrp;
    if (p == NULL || sscanf(p + 1, " %c %ld %ld", &out->state, &ppid, &pgrp) != 3)
        return -1;
    out->pid = pid;
    out->ppid = (pid_t)ppid;
    out->pgrp = (pid_t)pgrp;
    return 0;
}

/* Every live process of the system into out; returns how many. */
static size_t all_procs(struct proc_info *out, size_t cap)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL && n < cap;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end == '\0' && pid > 0 && read_proc((pid_t)pid, &out[n]) == 0 && out[n].state != 'Z')
            n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* paydrill's live descendants (children, grandchildren...) into out. */
static size_t descendants(pid_t root, struct proc_info *out, size_t cap)
{
    static struct proc_info all[8192];
    size_t n_all = all_procs(all, 8192), n = 0;
    bool grew = true;
    while (grew && n < cap) {
        grew = false;
        for (size_t i = 0; i < n_all && n < cap; i++) {
            bool parent_known = all[i].ppid == root;
            for (size_t j = 0; j < n && !parent_known; j++)
                parent_known = all[i].ppid == out[j].pid;
            bool have = false;
            for (size_t j = 0; j < n && !have; j++)
                have = out[j].pid == all[i].pid;
            if (parent_known && !have) {
                out[n++] = all[i];
                grew = true;
            }
        }
    }
    return n;
}

static pid_t start_paydrill(const char *sut_cmd)
{
    char bin[512];
    pd_test_bin("paydrill", bin, sizeof bin);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(tmp) != 0)
            _exit(126);
        int out = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open("err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        if (sut_cmd != NULL)
            execl(bin, bin, "run", "long.json", "--out", "o", "--sut-cmd", sut_cmd, (char *)NULL);
        else
            execl(bin, bin, "run", "long.json", "--out", "o", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits until paydrill has at least `want` live descendants; fills procs. */
static size_t wait_children(pid_t pd, size_t want, struct proc_info *procs)
{
    int64_t deadline = pd_mono_ms() + START_LIMIT_MS;
    size_t n = 0;
    while ((n = descendants(pd, procs, MAX_PROCS)) < want && pd_mono_ms() < deadline) {
        int st;
        if (waitpid(pd, &st, WNOHANG) == pd)
            fail_msg("paydrill ended before its children were up (status %d)", st);
        pd_sleep_ms(50);
    }
    if (n < want)
        fail_msg("paydrill has %zu descendants after %d ms, want %zu", n, START_LIMIT_MS, want);
    pd_sleep_ms(1000);      /* the workload is under way: children busy, workers asleep */
    return descendants(pd, procs, MAX_PROCS);
}

static int wait_exit(pid_t pd)
{
    int64_t deadline = pd_mono_ms() + EXIT_LIMIT_MS;
    int st = 0;
    while (waitpid(pd, &st, WNOHANG) == 0) {
        if (pd_mono_ms() > deadline) {
            kill(pd, SIGKILL);
            waitpid(pd, &st, 0);
            return -1;     /* the caller cleans up, then fails */
        }
        pd_sleep_ms(20);
    }
    return st;
}

/* Counts the recorded processes, and members of their groups, still
 * alive; names the first in what[]. */
static size_t count_alive(const struct proc_info *procs, size_t n, char *what, size_t what_len)
{
    static struct proc_info all[8192];
    size_t n_all = all_procs(all, 8192), alive = 0;
    for (size_t i = 0; i < n_all; i++) {
        for (size_t j = 0; j < n; j++) {
            if (all[i].pid != procs[j].pid && all[i].pgrp != procs[j].pgrp)
                continue;
            if (alive++ == 0)
                snprintf(what, what_len, "process %ld (group %ld) survived paydrill",
                         (long)all[i].pid, (long)all[i].pgrp);
            break;
        }
    }
    return alive;
}

/* A failing run must not leave its own orphans behind on the machine. */
static void kill_leftovers(const struct proc_info *procs, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (procs[j].pgrp != getpgrp())     /* never our own (ctest's) group */
            kill(-procs[j].pgrp, SIGKILL);
        kill(procs[j].pid, SIGKILL);
    }
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    char *text = NULL;
    size_t len = 0;
    if (pd_read_file(path, 1 << 20, &text, &len) != PD_OK)
        return strdup("");
    return text;
}

static void stop_and_check(const char *sut_cmd, size_t want, int sig, int want_status,
                           const char *want_text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/long.json", tmp);
    assert_int_equal(pd_write_file(path, long_scenario, strlen(long_scenario)), PD_OK);
    pid_t pd = start_paydrill(sut_cmd);
    struct proc_info procs[MAX_PROCS];
    size_t n = wait_children(pd, want, procs);
    assert_true(n >= want);
    assert_int_equal(kill(pd, sig), 0);
    int st = wait_exit(pd);
    char *err = slurp("err"), what[160] = "";
    size_t alive = count_alive(procs, n, what, sizeof what);
    kill_leftovers(procs, n);
    if (alive > 0)
        fail_msg("%zu processes survived; %s; stderr:\n%s", alive, what, err);
    if (st == -1)
        fail_msg("paydrill did not exit within %d ms of the signal", EXIT_LIMIT_MS);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want_status)
        fail_msg("paydrill ended with status 0x%x, want exit %d; stderr:\n%s", st, want_status, err);
    if (strstr(err, want_text) == NULL)
        fail_msg("stderr lacks \"%s\":\n%s", want_text, err);
    free(err);
}

static void test_sigterm_kills_groups(void **state)
{
    (void)state;
    char pc[512], cmd[1200];
    pd_test_bin("payment-center", pc, sizeof pc);
    /* Not exec: sh stays, payment-center is its child in sh's group. */
    snprintf(cmd, sizeof cmd, "\"%s\" --log-level warn; exit 0", pc);
    stop_and_check(cmd, 3, SIGTERM, 143, "stopped by SIGTERM");
}

static void test_sigint_kills_children(void **state)
{
    (void)state;
    stop_and_check(NULL, 2, SIGINT, 130, "stopped by SIGINT");
}

static int setup(void **state)
{
    (void)state;
    pd_test_tmpdir(tmp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pd_test_rmdir(tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_kills_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_kills_children, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
