/* pd_proc.h -- child processes that announce their address.
 *
 * paydrill and the integration tests start mock-gateway and payment-center
 * as real processes, wait for the line "listening on http://HOST:PORT" on
 * their stdout, and may kill them with SIGKILL at any instant. Children's
 * stderr (and stdout after the ready line) go to a log file. */
#ifndef PD_PROC_H
#define PD_PROC_H

#include <stdint.h>
#include <sys/types.h>

#define PD_PROC_URL_MAX 128

struct pd_proc {
    pid_t pid;                      /* 0 when not running */
    char url[PD_PROC_URL_MAX];      /* "http://127.0.0.1:PORT" once ready */
    int exit_status;                /* after a failed start: the child's wait
                                       status when it ended by itself, else -1 */
};

/* Starts argv[0] (a path) with argv in a process group of its own, adding
 * env_extra ("NAME=value", NULL-terminated; may be NULL) to the current
 * environment: each name once, the first of env_extra then the inherited
 * value, so a shell in between cannot pick another. Its stderr is appended
 * to log_path (NULL: inherit). Waits up to ready_timeout_ms (real time) for
 * the ready line. Returns 0 with *out filled, PD_ETIMEDOUT, or PD_EIO
 * (spawn failed or the child exited: out->exit_status says how; its log
 * says why). On failure the child's whole process group is killed. */
int pd_proc_start(const char *const *argv, const char *const *env_extra,
                  const char *log_path, int64_t ready_timeout_ms, struct pd_proc *out);

/* Sends SIGKILL to the process and its group (what it started) and reaps.
 * Safe on a stopped or never-started process. */
void pd_proc_kill9(struct pd_proc *proc);

/* Sends SIGTERM to the process and its group, waits up to timeout_ms, then
 * SIGKILL. Returns the exit status as waitpid reports it, or -1. */
int pd_proc_stop(struct pd_proc *proc, int64_t timeout_ms);

/* Non-blocking: 1 when the process is still running, 0 when it has ended
 * (it is reaped and proc->pid becomes 0). */
int pd_proc_alive(struct pd_proc *proc);

/* Every child pd_proc_start started (and every pid given to pd_proc_track)
 * that is not reaped yet gets SIGKILL, with its process group, when the
 * parent calls exit() or returns from main: a test that fails half way, or
 * a run that ends on an error, leaves nothing running. pd_proc_kill_all
 * does it now. A child reaped by other means than pd_proc_* is skipped
 * (waitpid says it is not ours any more). */
void pd_proc_track(pid_t pid);
void pd_proc_kill_all(void);

#endif
