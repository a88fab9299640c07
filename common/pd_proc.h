/* pd_proc.h -- child processes that announce their address.
 *
 * paydrill and the integration tests start mock-gateway and payment-center
 * as real processes, wait for the line "listening on http://HOST:PORT" on
 * their stdout, and may kill them with SIGKILL at any instant. Children's
 * stderr (and stdout after the ready line) go to a log file. */
#ifndef PD_PROC_H
#define PD_PROC_H

#include <stdbool.h>
#include <stddef.h>
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

/* A set of CPUs: bit i of bits[i / 64] for CPU i (0..1023). */
#define PD_CPUS_MAX 1024
struct pd_cpus {
    uint64_t bits[PD_CPUS_MAX / 64];
};

/* Parses a CPU list as taskset -c takes it ("1", "0-3", "0,2,5-7"; not
 * its ":stride" form) into out. PD_EINVAL with the reason in err when it is not one (or is empty). */
int pd_cpus_parse(const char *list, struct pd_cpus *out, char *err, size_t err_len);

/* The CPUs this thread may run on now (sched_getaffinity). */
int pd_cpus_allowed(struct pd_cpus *out);

/* true when every CPU of a is in b. */
bool pd_cpus_within(const struct pd_cpus *a, const struct pd_cpus *b);

/* Writes c as a list ("0-1,3") into out; false when it did not fit (out
 * then holds the whole items that did). PD_CPUS_TEXT_MAX always fits. */
#define PD_CPUS_TEXT_MAX (PD_CPUS_MAX * 5 + 1)
bool pd_cpus_format(const struct pd_cpus *c, char *out, size_t out_len);

/* Puts every thread of this process on c; threads started later inherit
 * it from their creator, and so do children (see pd_proc_start_on). */
int pd_cpus_pin_self(const struct pd_cpus *c);

/* pd_proc_start, with the child put on cpus before it execs (NULL: where
 * the parent runs). */
int pd_proc_start_on(const char *const *argv, const char *const *env_extra,
                     const char *log_path, int64_t ready_timeout_ms,
                     const struct pd_cpus *cpus, struct pd_proc *out);

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
