#define _GNU_SOURCE   /* sched_setaffinity, CPU_SET */
#include "pd_proc.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_time.h"
#include "pd_util.h"

extern char **environ;

#define ENV_MAX 512
#define LIVE_MAX 256

/* Children started here and not yet reaped, killed at exit (atexit) so a
 * parent that ends early -- a failed test assertion, an error path --
 * leaves no SUT or gateway running. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t live[LIVE_MAX];
static pthread_once_t live_once = PTHREAD_ONCE_INIT;

static void register_exit_kill(void)
{
    atexit(pd_proc_kill_all);
}

void pd_proc_track(pid_t pid)
{
    pthread_once(&live_once, register_exit_kill);
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < LIVE_MAX; i++)
        if (live[i] == 0) {
            live[i] = pid;
            break;
        }
    pthread_mutex_unlock(&live_mu);
}

static void untrack(pid_t pid)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < LIVE_MAX; i++)
        if (live[i] == pid)
            live[i] = 0;
    pthread_mutex_unlock(&live_mu);
}

void pd_proc_kill_all(void)
{
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < LIVE_MAX; i++) {
        pid_t pid = live[i];
        live[i] = 0;
        /* Only a child of ours that is still running: a pid reaped
         * elsewhere may belong to somebody else by now. */
        if (pid <= 0 || waitpid(pid, NULL, WNOHANG) != 0)
            continue;
        kill(-pid, SIGKILL);    /* its process group: it and its children */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    pthread_mutex_unlock(&live_mu);
}

/* True when one of env[0..n) sets the variable that var ("NAME=...") sets. */
static bool env_has(char *const *env, size_t n, const char *var)
{
    const char *eq = strchr(var, '=');
    size_t len = eq != NULL ? (size_t)(eq - var) : strlen(var);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], var, len) == 0 && env[i][len] == '=')
            return true;
    return false;
}

_Static_assert(PD_CPUS_MAX <= CPU_SETSIZE, "a pd_cpus fits a cpu_set_t");

static void to_cpu_set(const struct pd_cpus *c, cpu_set_t *set)
{
    CPU_ZERO(set);
    for (int i = 0; i < PD_CPUS_MAX && i < CPU_SETSIZE; i++)
        if (c->bits[i / 64] >> (i % 64) & 1)
            CPU_SET(i, set);
}

static void child_exec(const char *const *argv, const char *const *env_extra,
                       int out_fd, int log_fd, const struct pd_cpus *cpus)
{
    char *envp[ENV_MAX];
    size_t n = 0;
    /* Each name once, extra variables first: getenv returns the first of a
     * name, but /bin/sh keeps the last, so through a --sut-cmd shell a
     * duplicate would reach the service with the other value. */
    for (size_t i = 0; env_extra != NULL && env_extra[i] != NULL && n < ENV_MAX - 1; i++)
        if (!env_has(envp, n, env_extra[i]))
            envp[n++] = (char *)env_extra[i];
    for (char **e = environ; *e != NULL && n < ENV_MAX - 1; e++)
        if (!env_has(envp, n, *e))
            envp[n++] = *e;
    envp[n] = NULL;
    dup2(out_fd, STDOUT_FILENO);
    if (log_fd >= 0)
        dup2(log_fd, STDERR_FILENO);
    /* A child that cannot be put where it was asked to run does not run
     * elsewhere: the start fails (async-signal-safe calls only, after fork
     * in a threaded parent). */
    if (cpus != NULL) {
        cpu_set_t set;
        to_cpu_set(cpus, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            static const char msg[] = "pd_proc: sched_setaffinity failed: not started\n";
            ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
            (void)w;
            _exit(127);
        }
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    /* Own process group, so a kill of the group never reaches the parent. */
    setpgid(0, 0);
    execve(argv[0], (char *const *)argv, envp);
    fprintf(stderr, "exec %s failed: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Reads stdout until the ready line, copying everything to log_fd. A
 * child that ends first is noticed even when something it started still
 * holds its stdout: *status then holds its wait status (else -1). */
static int wait_ready(int fd, int log_fd, int64_t timeout_ms, pid_t pid, int *status,
                      char *url, size_t url_len)
{
    *status = -1;
    char line[1024];
    size_t len = 0;
    int64_t deadline = pd_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - pd_mono_ms();
        if (left <= 0)
            return PD_ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(left > 200 ? 200 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0 && waitpid(pid, status, WNOHANG) == pid)
            return PD_EIO;   /* ended without the line */
        if (pr <= 0)
            continue;
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return PD_EIO;  /* child closed stdout or died */
        if (log_fd >= 0 && write(log_fd, &c, 1) < 0) {
            /* logging is best effort */
        }
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = c;
            continue;
        }
        line[len] = '\0';
        len = 0;
        const char *p = strstr(line, "listening on ");
        if (p != NULL) {
            pd_strlcpy(url, p + strlen("listening on "), url_len);
            return PD_OK;
        }
    }
}

struct drain {
    int in_fd;
    int log_fd;
};

static void *drain_main(void *arg)
{
    struct drain *d = arg;
    char buf[4096];
    ssize_t r;
    while ((r = read(d->in_fd, buf, sizeof buf)) > 0)
        if (d->log_fd >= 0 && write(d->log_fd, buf, (size_t)r) < 0)
            break;
    close(d->in_fd);
    if (d->log_fd >= 0)
        close(d->log_fd);
    free(d);
    return NULL;
}

int pd_proc_start(const char *const *argv, const char *const *env_extra,
                  const char *log_path, int64_t ready_timeout_ms, struct pd_proc *out)
{
    return pd_proc_start_on(argv, env_extra, log_path, ready_timeout_ms, NULL, out);
}

int pd_proc_start_on(const char *const *argv, const char *const *env_extra,
                     const char *log_path, int64_t ready_timeout_ms,
                     const struct pd_cpus *cpus, struct pd_proc *out)
{
    memset(out, 0, sizeof *out);
    out->exit_status = -1;
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return PD_EIO;
    int log_fd = -1;
    if (log_path != NULL) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            close(pipefd[0]);
            close(pipefd[1]);
            return PD_EIO;
        }
    }
    fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);  /* dup2 in the child clears it */
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        if (log_fd >= 0)
            close(log_fd);
        return PD_EIO;
    }
    if (pid == 0)
        child_exec(argv, env_extra, pipefd[1], log_fd, cpus);
    close(pipefd[1]);
    out->pid = pid;
    pd_proc_track(pid);
    int status = -1;
    int rc = wait_ready(pipefd[0], log_fd, ready_timeout_ms, pid, &status, out->url,
                        sizeof out->url);
    if (rc == PD_OK) {
        /* After the ready line nobody reads the child's stdout; a detached
         * thread drains it into the log so the child never blocks on a full
         * pipe. The thread owns both descriptors from here on. */
        struct drain *d = malloc(sizeof *d);
        pthread_t tid;
        if (d != NULL) {
            d->in_fd = pipefd[0];
            d->log_fd = log_fd;
            if (pthread_create(&tid, NULL, drain_main, d) == 0) {
                pthread_detach(tid);
                return PD_OK;
            }
            free(d);
        }
    }
    close(pipefd[0]);
    if (log_fd >= 0)
        close(log_fd);
    if (rc != PD_OK) {
        /* Stdout closed: give the child a moment to end, to say how it did. */
        for (int i = 0; i < 20 && status < 0; i++)
            if (waitpid(out->pid, &status, WNOHANG) != out->pid) {
                status = -1;
                pd_sleep_ms(5);
            }
        if (status >= 0) {      /* reaped: only what it started may be left */
            out->exit_status = status;
            kill(-out->pid, SIGKILL);
            untrack(out->pid);
            out->pid = 0;
        } else {
            pd_proc_kill9(out);
        }
        return rc;
    }
    return PD_OK;
}

void pd_proc_kill9(struct pd_proc *proc)
{
    if (proc->pid <= 0)
        return;
    kill(-proc->pid, SIGKILL);   /* its group: a shell's children too */
    kill(proc->pid, SIGKILL);
    while (waitpid(proc->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    untrack(proc->pid);
    proc->pid = 0;
}

int pd_proc_stop(struct pd_proc *proc, int64_t timeout_ms)
{
    if (proc->pid <= 0)
        return -1;
    kill(-proc->pid, SIGTERM);
    kill(proc->pid, SIGTERM);
    int64_t deadline = pd_mono_ms() + timeout_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(proc->pid, &status, WNOHANG);
        if (r == proc->pid) {
            untrack(proc->pid);
            proc->pid = 0;
            return status;
        }
        if (pd_mono_ms() >= deadline)
            break;
        pd_sleep_ms(10);
    }
    pd_proc_kill9(proc);
    return -1;
}

int pd_proc_alive(struct pd_proc *proc)
{
    if (proc->pid <= 0)
        return 0;
    pid_t r = waitpid(proc->pid, NULL, WNOHANG);
    if (r == 0)
        return 1;
    untrack(proc->pid);
    proc->pid = 0;
    return 0;
}

/* ---- CPU sets ---- */

static void cpus_set(struct pd_cpus *c, long i)
{
    c->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool cpus_has(const struct pd_cpus *c, int i)
{
    return c->bits[i / 64] >> (i % 64) & 1;
}

int pd_cpus_parse(const char *list, struct pd_cpus *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    const char *p = list;
    bool any = false;
    while (*p != '\0') {
        char *end = NULL;
        if (*p < '0' || *p > '9')
            goto bad;
        long lo = strtol(p, &end, 10), hi = lo;
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9')
                goto bad;
            hi = strtol(p, &end, 10);
        }
        if (lo < 0 || hi < lo || hi >= PD_CPUS_MAX) {
            snprintf(err, err_len, "%s: CPUs are 0 to %d, low before high", list,
                     PD_CPUS_MAX - 1);
            return PD_EINVAL;
        }
        for (long i = lo; i <= hi; i++)
            cpus_set(out, i);
        any = true;
        p = end;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            goto bad;
    }
    if (any)
        return PD_OK;
bad:
    snprintf(err, err_len, "%s: not a CPU list (like 1, 0-3 or 0,2,5-7)", list);
    return PD_EINVAL;
}

int pd_cpus_allowed(struct pd_cpus *out)
{
    memset(out, 0, sizeof *out);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return PD_EIO;
    for (int i = 0; i < PD_CPUS_MAX && i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            cpus_set(out, i);
    return PD_OK;
}

bool pd_cpus_within(const struct pd_cpus *a, const struct pd_cpus *b)
{
    for (size_t i = 0; i < PD_CPUS_MAX / 64; i++)
        if (a->bits[i] & ~b->bits[i])
            return false;
    return true;
}

bool pd_cpus_format(const struct pd_cpus *c, char *out, size_t out_len)
{
    size_t n = 0;
    if (out_len == 0)
        return false;
    out[0] = '\0';
    for (int i = 0; i < PD_CPUS_MAX; i++) {
        if (!cpus_has(c, i))
            continue;
        int j = i;
        while (j + 1 < PD_CPUS_MAX && cpus_has(c, j + 1))
            j++;
        char item[16];
        int w = j > i ? snprintf(item, sizeof item, "%s%d-%d", n ? "," : "", i, j)
                      : snprintf(item, sizeof item, "%s%d", n ? "," : "", i);
        if (w < 0 || (size_t)w >= out_len - n)
            return false;       /* whole items only: out stays a true prefix */
        memcpy(out + n, item, (size_t)w + 1);
        n += (size_t)w;
        i = j;
    }
    return true;
}

int pd_cpus_pin_self(const struct pd_cpus *c)
{
    cpu_set_t set;
    to_cpu_set(c, &set);
    /* Twice over /proc/self/task: a thread a pinned thread starts inherits
     * the set, one started meanwhile by an unpinned thread is caught by the
     * second pass -- unless that one starts yet another during it. Meant
     * for a process that is (as paydrill is when it places the harness)
     * still single-threaded or quiet. */
    int rc = PD_OK;
    for (int pass = 0; pass < 2; pass++) {
        DIR *d = opendir("/proc/self/task");
        if (d == NULL)
            return PD_EIO;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            pid_t tid = (pid_t)atol(e->d_name);
            if (sched_setaffinity(tid, sizeof set, &set) != 0 && errno != ESRCH)
                rc = PD_EIO;
        }
        closedir(d);
    }
    return rc;
}
