/* sim_diag.c -- what a process was doing when its run did not converge.
 *
 * A run that passes its convergence bound with orders still open is either
 * a SUT that lost them or a SUT that stopped working (a deadlock, a thread
 * stuck in a call without a timeout). The report tells the first; this file
 * tells the second, from outside the process, before paydrill kills it:
 * every thread's name, scheduler state, kernel wait channel and current
 * system call (/proc/PID/task), then, when gdb is on PATH, every thread's
 * stack. The shared clock's semaphore value is written too: libfaketime
 * takes it around every stat() of every child, so a child killed inside
 * one leaves it at 0 and every later stat() of the run waits forever. */
#define _GNU_SOURCE
#include "sim_diag.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_log.h"
#include "pd_time.h"

#define GDB_TIMEOUT_MS 60000

extern char **environ;

/* The first line of path, without its newline, into out ("?" if none). */
static void read_line(const char *path, char *out, size_t out_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(out, (int)out_len, f) == NULL)
        snprintf(out, out_len, "?");
    if (f != NULL)
        fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* The state letter of /proc/.../stat: the field after the ")" of comm. */
static char task_state(const char *task_dir)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/stat", task_dir);
    read_line(path, line, sizeof line);
    const char *p = strrchr(line, ')');
    return p != NULL && p[1] == ' ' && p[2] != '\0' ? p[2] : '?';
}

static void write_threads(FILE *f, pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(f, "# /proc/%ld/task: %s\n", (long)pid, strerror(errno));
        return;
    }
    fprintf(f, "# tid comm state wchan | syscall (number and arguments, /proc/PID/task/TID/syscall)\n");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char task[330], path[512], comm[64], wchan[128], sys[256];
        snprintf(task, sizeof task, "%s/%s", dir, e->d_name);
        snprintf(path, sizeof path, "%s/comm", task);
        read_line(path, comm, sizeof comm);
        snprintf(path, sizeof path, "%s/wchan", task);
        read_line(path, wchan, sizeof wchan);
        snprintf(path, sizeof path, "%s/syscall", task);
        read_line(path, sys, sizeof sys);
        fprintf(f, "%s %s %c %s | %s\n", e->d_name, comm, task_state(task), wchan, sys);
    }
    closedir(d);
}

/* True when an executable gdb is on PATH. */
static bool have_gdb(void)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    char dir[1024];
    for (const char *p = path; *p != '\0';) {
        size_t n = strcspn(p, ":");
        if (n > 0 && n < sizeof dir - 8) {
            memcpy(dir, p, n);
            memcpy(dir + n, "/gdb", 5);
            if (access(dir, X_OK) == 0)
                return true;
        }
        p += n + (p[n] == ':');
    }
    return false;
}

/* Appends every thread's stack to path: gdb attaches (paydrill is the
 * parent, so ptrace is allowed under Yama's default scope), prints, and
 * detaches; killed after GDB_TIMEOUT_MS. */
static void write_stacks(const char *path, pid_t pid)
{
    char pid_s[24];
    snprintf(pid_s, sizeof pid_s, "%ld", (long)pid);
    char *const argv[] = {"gdb", "-nx", "-batch", "-p", pid_s, "-ex", "set pagination off",
                          "-ex", "thread apply all bt 40", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t g = 0;
    int rc = posix_spawnp(&g, "gdb", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return;
    int64_t until = pd_mono_ms() + GDB_TIMEOUT_MS;
    int status;
    while (waitpid(g, &status, WNOHANG) == 0) {
        if (pd_mono_ms() >= until) {
            kill(g, SIGKILL);
            waitpid(g, &status, 0);
            break;
        }
        pd_sleep_ms(50);
    }
}

/* One section: the process's executable and threads, then its stacks. */
static void write_process(const char *path, const char *label, pid_t pid, bool gdb)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    char exe[1024] = "?";
    char link[64];
    snprintf(link, sizeof link, "/proc/%ld/exe", (long)pid);
    ssize_t n = readlink(link, exe, sizeof exe - 1);
    exe[n > 0 ? n : 1] = '\0';
    fprintf(f, "\n# %s: pid %ld, %s\n", label, (long)pid, exe);
    write_threads(f, pid);
    fprintf(f, "# stacks of pid %ld: %s\n", (long)pid, gdb ? "gdb, below" : "not taken");
    fclose(f);
    if (gdb)
        write_stacks(path, pid);
}

/* The children of pid (a --sut-cmd shell's service), at most max. */
static size_t children_of(pid_t pid, pid_t *out, size_t max)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
    read_line(path, line, sizeof line);
    size_t n = 0;
    for (char *p = line; n < max && *p >= '0' && *p <= '9';) {
        char *end;
        long v = strtol(p, &end, 10);
        out[n++] = (pid_t)v;
        p = end + (*end == ' ');
    }
    return n;
}

int sim_diag_write(const char *path, const char *label, pid_t pid, const char *sem_name,
                   bool stacks)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return PD_EIO;
    fprintf(f, "# %s did not converge in its bound: its threads as paydrill found them\n",
            label);
    if (sem_name != NULL && sem_name[0] != '\0') {
        sem_t *sem = sem_open(sem_name, 0);
        int value = -1;
        if (sem != SEM_FAILED) {
            sem_getvalue(sem, &value);
            sem_close(sem);
        }
        fprintf(f, "# shared clock semaphore %s: value %d (1 = free; 0 = held, for good if "
                   "its holder died)\n", sem_name, value);
    }
    bool gdb = stacks && have_gdb();
    if (stacks && !gdb)
        fprintf(f, "# no gdb on PATH: no stacks\n");
    fclose(f);
    write_process(path, label, pid, gdb);
    pid_t kids[8];
    size_t n = children_of(pid, kids, 8);
    for (size_t i = 0; i < n; i++)
        write_process(path, "its child", kids[i], gdb);
    return PD_OK;
}
