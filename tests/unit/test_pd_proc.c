/* Proves pd_proc's exit clean-up: a child that pd_proc_start started and
 * nobody stopped (a test that failed half way, a run that ended on an
 * error) is killed, with its process group, when the parent process exits,
 * and pd_proc_kill_all kills at once; pd_proc_kill9 and a failed start
 * kill what the child started too (its process group), a failed start
 * says how the child ended, and the child sees each variable once.
 * The parent here is a forked helper; this test is a child subreaper so the
 * orphaned grandchild comes back to it to be checked and reaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_proc.h"

static const char *const sleeper[] = {
    "/bin/sh", "-c", "echo listening on http://127.0.0.1:1; exec sleep 60", NULL};

/* True when pid no longer exists: the exiting helper killed and reaped
 * it. Left running, it would have been re-parented to us (subreaper) and
 * still answer kill(pid, 0); then it is killed here and false returned. */
static bool gone(pid_t pid)
{
    if (kill(pid, 0) == -1 && errno == ESRCH)
        return true;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return false;
}

/* Forks a helper that starts a sleeper, writes its pid, and exits with it
 * still running (exit() runs the atexit hook; returning from main does the
 * same). */
static pid_t orphan_of_exiting_parent(void)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t helper = fork();
    if (helper == 0) {
        struct pd_proc p;
        if (pd_proc_start(sleeper, NULL, NULL, 5000, &p) != PD_OK)
            _exit(2);
        pid_t pid = p.pid;
        ssize_t n = write(fds[1], &pid, sizeof pid);
        exit(n == (ssize_t)sizeof pid ? 0 : 3);
    }
    close(fds[1]);
    pid_t child = 0;
    assert_int_equal(read(fds[0], &child, sizeof child), (ssize_t)sizeof child);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(helper, &status, 0), helper);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return child;
}

static void exit_kills_children_left_running(void **state)
{
    (void)state;
    pid_t child = orphan_of_exiting_parent();
    assert_true(gone(child));
}

static void kill_all_kills_now(void **state)
{
    (void)state;
    struct pd_proc p;
    assert_int_equal(pd_proc_start(sleeper, NULL, NULL, 5000, &p), PD_OK);
    assert_int_equal(pd_proc_alive(&p), 1);
    pd_proc_kill_all();
    assert_int_equal(kill(p.pid, 0), -1);    /* killed and reaped */
    assert_int_equal(errno, ESRCH);
}

/* A temp file's path, for a shell child to write into. */
static void temp_path(char *path, size_t len)
{
    snprintf(path, len, "/tmp/test_pd_proc_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static pid_t pid_in(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

/* True when pid (a grandchild, ours to reap as subreaper once orphaned)
 * was killed by SIGKILL within 5 s; if it is still running it is killed
 * here and false returned. */
static bool killed(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return false;
}

static void kill9_kills_the_group(void **state)
{
    (void)state;
    char path[64], cmd[256];
    temp_path(path, sizeof path);
    snprintf(cmd, sizeof cmd,
             "sleep 60 & echo $! > %s; echo listening on http://127.0.0.1:1; wait", path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct pd_proc p;
    assert_int_equal(pd_proc_start(argv, NULL, NULL, 5000, &p), PD_OK);
    pid_t grandchild = pid_in(path);
    pd_proc_kill9(&p);
    assert_true(killed(grandchild));
    unlink(path);
}

static void failed_start_says_how_and_kills_the_group(void **state)
{
    (void)state;
    char path[64], cmd[256];
    temp_path(path, sizeof path);
    snprintf(cmd, sizeof cmd, "sleep 60 & echo $! > %s; exit 3", path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct pd_proc p;
    assert_int_equal(pd_proc_start(argv, NULL, NULL, 5000, &p), PD_EIO);
    assert_int_equal(p.pid, 0);
    assert_true(WIFEXITED(p.exit_status));
    assert_int_equal(WEXITSTATUS(p.exit_status), 3);
    assert_true(killed(pid_in(path)));
    unlink(path);
}

static void child_sees_each_variable_once(void **state)
{
    (void)state;
    char path[64], cmd[256];
    temp_path(path, sizeof path);
    snprintf(cmd, sizeof cmd, "env > %s; echo listening on http://127.0.0.1:1; exec sleep 60",
             path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    const char *extra[] = {"PD_T_DUP=first", "PD_T_DUP=second", "PD_T_OTHER=x", NULL};
    setenv("PD_T_DUP", "inherited", 1);
    struct pd_proc p;
    assert_int_equal(pd_proc_start(argv, extra, NULL, 5000, &p), PD_OK);
    pd_proc_kill9(&p);
    unsetenv("PD_T_DUP");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int dup = 0, other = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "PD_T_DUP=", 9) == 0) {
            dup++;
            assert_string_equal(line, "PD_T_DUP=first\n");
        }
        other += strcmp(line, "PD_T_OTHER=x\n") == 0;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(dup, 1);
    assert_int_equal(other, 1);
}

/* The child's Cpus_allowed_list, as it saw it (written to path). */
static void child_cpus(const struct pd_cpus *cpus, char *out, size_t len)
{
    char path[64], cmd[256];
    temp_path(path, sizeof path);
    snprintf(cmd, sizeof cmd, "grep Cpus_allowed_list: /proc/self/status > %s;"
             " echo listening on http://127.0.0.1:1; exec sleep 60", path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct pd_proc p;
    assert_int_equal(pd_proc_start_on(argv, NULL, NULL, 5000, cpus, &p), PD_OK);
    pd_proc_kill9(&p);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    line[strcspn(line, "\n")] = '\0';
    snprintf(out, len, "%s", strchr(line, '\t') ? strchr(line, '\t') + 1 : line);
}

/* CPU lists parse as taskset -c writes them, and format back; a child
 * started on a set runs there, one started without where its parent does. */
static void cpus_parse_format_and_place(void **state)
{
    (void)state;
    struct pd_cpus c;
    char err[128], text[128];
    static const char *const good[][2] = {
        {"1", "1"}, {"0-3", "0-3"}, {"0,2,5-7", "0,2,5-7"}, {"3,1,2", "1-3"},
        {"0-1,1-2", "0-2"}, {"1023", "1023"}, {"0-0", "0"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(pd_cpus_parse(good[i][0], &c, err, sizeof err), PD_OK);
        pd_cpus_format(&c, text, sizeof text);
        assert_string_equal(text, good[i][1]);
    }
    static const char *const bad[] = {"", "x", "1,", ",1", "1-", "-1", "3-1", "1024",
                                      "0-99999999999999999999", "1 2", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(pd_cpus_parse(bad[i], &c, err, sizeof err), PD_EINVAL);
        assert_non_null(strstr(err, bad[i]));   /* the message names the list */
        assert_true(strlen(err) > strlen(bad[i]) + 2);
    }
    struct pd_cpus all, one;
    assert_int_equal(pd_cpus_allowed(&all), PD_OK);
    pd_cpus_format(&all, text, sizeof text);
    char seen[128];
    child_cpus(NULL, seen, sizeof seen);
    assert_string_equal(seen, text);
    int last = -1;      /* the highest CPU this test may use */
    for (int i = 0; i < PD_CPUS_MAX; i++)
        if (all.bits[i / 64] >> (i % 64) & 1)
            last = i;
    assert_true(last >= 0);
    snprintf(text, sizeof text, "%d", last);
    assert_int_equal(pd_cpus_parse(text, &one, err, sizeof err), PD_OK);
    assert_true(pd_cpus_within(&one, &all));
    child_cpus(&one, seen, sizeof seen);
    assert_string_equal(seen, text);
    assert_int_equal(pd_cpus_parse("1023", &one, err, sizeof err), PD_OK);
    assert_false(last != 1023 && pd_cpus_within(&one, &all));
    /* Whole items only when the text does not fit. */
    assert_int_equal(pd_cpus_parse("1,3,100-200", &c, err, sizeof err), PD_OK);
    char small[8];
    assert_false(pd_cpus_format(&c, small, sizeof small));
    assert_string_equal(small, "1,3");
    assert_true(pd_cpus_format(&c, text, sizeof text));
    assert_string_equal(text, "1,3,100-200");
}

int main(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_kills_children_left_running),
        cmocka_unit_test(kill_all_kills_now),
        cmocka_unit_test(kill9_kills_the_group),
        cmocka_unit_test(failed_start_says_how_and_kills_the_group),
        cmocka_unit_test(child_sees_each_variable_once),
        cmocka_unit_test(cpus_parse_format_and_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
