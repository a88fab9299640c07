#include "sim_clock.h"

#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pd_err.h"
#include "pd_time.h"
#include "sim_signal.h"

/* libfaketime's shared block (src/faketime_common.h, 0.9.8-0.9.11). */
struct ft_system_time {
    struct timespec real, mon, mon_raw, boot;
};
struct ft_shared {
    uint64_t ticks;
    uint64_t file_idx;
    struct ft_system_time start_time;
};

/* The reading of clock id at the instant mono_ms names: read both clocks
 * back to back and move this one by the monotonic distance. */
static struct timespec at_instant(clockid_t id, int64_t mono_ms)
{
    struct timespec now;
    clock_gettime(id, &now);
    int64_t shift_ns = (pd_mono_ms() - mono_ms) * 1000000LL;
    int64_t ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - shift_ns;
    struct timespec out = {.tv_sec = (time_t)(ns / 1000000000LL),
                           .tv_nsec = (long)(ns % 1000000000LL)};
    return out;
}

int sim_clock_anchor_create(struct sim_clock_anchor *a, int64_t real_start_mono_ms)
{
    static int counter;
    memset(a, 0, sizeof *a);
    int n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(a->sem_name, sizeof a->sem_name, "/paydrill_sem_%ld_%d", (long)getpid(), n);
    snprintf(a->shm_name, sizeof a->shm_name, "/paydrill_shm_%ld_%d", (long)getpid(), n);
    sem_t *sem = sem_open(a->sem_name, O_CREAT | O_EXCL, S_IRUSR | S_IWUSR, 1);
    if (sem == SEM_FAILED)
        return PD_EIO;
    sem_close(sem);
    int fd = shm_open(a->shm_name, O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
    if (fd < 0 || ftruncate(fd, sizeof(struct ft_shared)) != 0) {
        if (fd >= 0)
            close(fd);
        sem_unlink(a->sem_name);
        shm_unlink(a->shm_name);
        return PD_EIO;
    }
    struct ft_shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (s == MAP_FAILED) {
        sem_unlink(a->sem_name);
        shm_unlink(a->shm_name);
        return PD_EIO;
    }
    memset(s, 0, sizeof *s);
    s->start_time.mon.tv_sec = (time_t)(real_start_mono_ms / 1000);
    s->start_time.mon.tv_nsec = (long)(real_start_mono_ms % 1000) * 1000000L;
    s->start_time.real = at_instant(CLOCK_REALTIME, real_start_mono_ms);
    s->start_time.mon_raw = at_instant(CLOCK_MONOTONIC_RAW, real_start_mono_ms);
    s->start_time.boot = at_instant(CLOCK_BOOTTIME, real_start_mono_ms);
    munmap(s, sizeof *s);
    sim_signal_remember('s', a->sem_name);
    sim_signal_remember('m', a->shm_name);
    a->active = true;
    return PD_OK;
}

void sim_clock_anchor_env(const struct sim_clock_anchor *a, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s %s", a->sem_name, a->shm_name);
}

void sim_clock_anchor_destroy(struct sim_clock_anchor *a)
{
    if (!a->active)
        return;
    sem_unlink(a->sem_name);
    shm_unlink(a->shm_name);
    sim_signal_forget(a->sem_name);
    sim_signal_forget(a->shm_name);
    a->active = false;
}
