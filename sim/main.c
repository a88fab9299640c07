/* paydrill -- runs payment-system fault scenarios end to end and checks
 * that no order is lost, none is paid twice and duplicates are rejected. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_cli.h"

#define TUNABLES "GLIBC_TUNABLES"
#define NO_STACK_CACHE "glibc.pthread.stack_cache_size=0"
/* Set only across the one exec below: "" when the caller had no
 * GLIBC_TUNABLES, "=VALUE" when it had. */
#define SAVED "PAYDRILL_SAVED_TUNABLES"

static void restore_tunables(const char *saved)
{
    if (saved[0] == '=')
        setenv(TUNABLES, saved + 1, 1);
    else
        unsetenv(TUNABLES);
    unsetenv(SAVED);
}

/* glibc keeps the stacks of exited threads for reuse, up to 40 MiB. After a
 * run the business receiver's 49 civetweb threads leave ~620 KB of them
 * resident, which the checker and the report writers then sit on (they
 * start no threads). The cache size is a glibc tunable, read only at
 * start-up, so paydrill starts itself once more with it set to 0, then
 * gives its own children (the SUT, mock-gateway) the caller's
 * GLIBC_TUNABLES back. A caller who set the tunable is left alone; if the
 * exec fails paydrill runs as it is, with the cache. */
static void without_stack_cache(char **argv)
{
    const char *saved = getenv(SAVED);
    if (saved != NULL) {
        char *copy = strdup(saved);
        if (copy != NULL) {
            restore_tunables(copy);
            free(copy);
        }
        return;
    }
    const char *t = getenv(TUNABLES);
    if (t != NULL && strstr(t, "glibc.pthread.stack_cache_size") != NULL)
        return;
    char value[4096], keep[4096];
    int n = snprintf(value, sizeof value, "%s%s" NO_STACK_CACHE, t != NULL ? t : "",
                     t != NULL && t[0] != '\0' ? ":" : "");
    int k = snprintf(keep, sizeof keep, "%s%s", t != NULL ? "=" : "", t != NULL ? t : "");
    if (n < 0 || (size_t)n >= sizeof value || k < 0 || (size_t)k >= sizeof keep)
        return;
    if (setenv(SAVED, keep, 1) != 0)
        return;
    if (setenv(TUNABLES, value, 1) == 0)
        execv("/proc/self/exe", argv);
    restore_tunables(keep);
}

int main(int argc, char **argv)
{
    without_stack_cache(argv);
    return sim_cli_main(argc, argv);
}
