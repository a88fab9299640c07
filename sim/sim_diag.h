/* sim_diag.h -- what a process was doing when its run did not converge. */
#ifndef SIM_DIAG_H
#define SIM_DIAG_H

#include <stdbool.h>
#include <sys/types.h>

/* Writes to path, for the running process pid (label names it: "sut",
 * "gateway"): its executable, the shared clock semaphore's value (sem_name,
 * NULL or "" = none), one line per thread (tid, name, state, kernel wait
 * channel, current system call), then, when stacks is set and gdb is on
 * PATH, every thread's stack (gdb attaches for at most a minute). Returns
 * 0, or PD_EIO when path cannot be written. */
int sim_diag_write(const char *path, const char *label, pid_t pid, const char *sem_name,
                   bool stacks);

#endif
