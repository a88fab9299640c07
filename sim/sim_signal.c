/* sim_signal.c -- SIGTERM/SIGINT: kill the children's process groups, reap
 * them, unlink the clock blocks, exit 128 + signal (see sim_signal.h). */
#include "sim_signal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_time.h"
#include "pd_util.h"

#define MAX_CHILDREN 256        /* children found in one scan */
#define KILL_ROUNDS 5           /* rescans, for a child forked during a scan */
#define REAP_LIMIT_MS 2000      /* the longest wait for killed children to end */

static int wake_fds[2] = {-1, -1};

struct tracked { char kind; char name[64]; };
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked names[SIM_SIGNAL_NAMES];

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(wake_fds[1], &b, 1);
    (void)n;    /* a full pipe means a signal is already pending */
    errno = saved;
}

/* Reads the parent and process group of pid from /proc/PID/stat. */
static int read_stat(pid_t pid, pid_t *out_ppid, pid_t *out_pgrp)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return PD_ENOTFOUND;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'. */
    const char *close_paren = strrchr(text, ')');
    char state;
    long ppid, pgrp;
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
        return PD_EPROTO;
    *out_ppid = (pid_t)ppid;
    *out_pgrp = (pid_t)pgrp;
    return PD_OK;
}

/* SIGKILLs every child's group and the child; their pids go to out. */
static size_t kill_scan(pid_t *out, size_t cap)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    pid_t self = getpid();
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL && n < cap;) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        pid_t ppid, pgrp;
        if (*end != '\0' || pid <= 0 || read_stat((pid_t)pid, &ppid, &pgrp) != PD_OK ||
            ppid != self)
            continue;
        if (pgrp == (pid_t)pid)
            kill(-(pid_t)pid, SIGKILL);
        kill((pid_t)pid, SIGKILL);
        out[n++] = (pid_t)pid;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Reaps the killed children; another thread may reap some first (ECHILD). */
static void reap(const pid_t *pids, size_t n, int64_t deadline_ms)
{
    for (size_t i = 0; i < n; i++) {
        while (waitpid(pids[i], NULL, WNOHANG) == 0 && pd_mono_ms() < deadline_ms)
            pd_sleep_ms(5);
    }
}

int sim_signal_kill_children(void)
{
    pid_t pids[MAX_CHILDREN];
    int64_t deadline = pd_mono_ms() + REAP_LIMIT_MS;
    int total = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        size_t n = kill_scan(pids, MAX_CHILDREN);
        if (n == 0)
            break;
        reap(pids, n, deadline);
        total += (int)n;
    }
    return total;
}

void sim_signal_remember(char kind, const char *name)
{
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < SIM_SIGNAL_NAMES; i++) {
        if (names[i].kind == 0) {
            names[i].kind = kind;
            pd_strlcpy(names[i].name, name, sizeof names[i].name);
            break;
        }
    }
    pthread_mutex_unlock(&names_lock);
}

void sim_signal_forget(const char *name)
{
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < SIM_SIGNAL_NAMES; i++)
        if (names[i].kind != 0 && strcmp(names[i].name, name) == 0)
            names[i].kind = 0;
    pthread_mutex_unlock(&names_lock);
}

static void unlink_names(void)
{
    pthread_mutex_lock(&names_lock);
    for (size_t i = 0; i < SIM_SIGNAL_NAMES; i++) {
        if (names[i].kind == 'm')
            shm_unlink(names[i].name);
        else if (names[i].kind == 's')
            sem_unlink(names[i].name);
    }
    pthread_mutex_unlock(&names_lock);
}

static void *watch_main(void *arg)
{
    (void)arg;
    unsigned char sig = 0;
    ssize_t n;
    while ((n = read(wake_fds[0], &sig, 1)) < 0 && errno == EINTR)
        continue;
    if (n != 1)
        return NULL;
    int killed = sim_signal_kill_children();
    unlink_names();
    fprintf(stderr, "paydrill: stopped by %s: killed %d child process%s and their groups\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", killed, killed == 1 ? "" : "es");
    _exit(128 + sig);
}

int sim_signal_install(void)
{
    if (wake_fds[0] >= 0)
        return PD_OK;
    if (pipe(wake_fds) != 0)
        return PD_EIO;
    fcntl(wake_fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(wake_fds[1], F_SETFD, FD_CLOEXEC);
    fcntl(wake_fds[1], F_SETFL, O_NONBLOCK);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&tid, &attr, watch_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return PD_EIO;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return PD_EIO;
    return PD_OK;
}
