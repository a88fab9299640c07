/* Proves pd_proc's exit clean-up: a child that pd_proc_start started and
 * nobody stopped (a test that failed half way, a run that ended on an
 * error) is killed, with its process group, when the parent process exits,
 * and pd_proc_kill_all kills at once.
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
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

int main(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_kills_children_left_running),
        cmocka_unit_test(kill_all_kills_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
