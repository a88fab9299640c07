/* paydrill -- runs payment-system fault scenarios end to end and checks
 * that no order is lost, none is paid twice and duplicates are rejected. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_cli.h"

/* Settings that only take effect when a program starts, so paydrill sets
 * them and starts itself once more (one exec of the file /proc/self/exe
 * names):
 * - glibc keeps the stacks of exited threads for reuse, up to 40 MiB. After
 *   a run the business receiver's 49 civetweb threads leave ~620 KB of them
 *   resident, which the checker and the report writers then sit on (they
 *   start no threads). The cache size is a glibc tunable.
 * - libcurl's dependencies (librtmp, libldap) load GnuTLS, whose library
 *   constructor initialises it (and p11-kit) in every process: ~580 KB
 *   resident, for a TLS library paydrill never calls (its libcurl uses
 *   OpenSSL; RTMP and LDAP are not used). GNUTLS_NO_IMPLICIT_INIT skips it.
 * A caller's own setting of either is kept (GLIBC_TUNABLES is extended,
 * unless it sets the stack cache itself). The children (the SUT,
 * mock-gateway) get the caller's environment back: unset, or as it was.
 * There is no restart under an LD_PRELOAD tool (valgrind, heaptrack), with
 * PAYDRILL_NO_RESTART=1, or when started through ld.so; if the exec fails
 * paydrill runs as it is. */
struct lean {
    const char *name;
    const char *already;    /* the caller's value containing this: left alone */
    const char *add;        /* the setting */
    bool append;            /* after ':' to the caller's value, else in its place */
    const char *saved;      /* across the exec: "" unset, "=VALUE" the caller's */
};

static const struct lean leans[] = {
    {"GLIBC_TUNABLES", "glibc.pthread.stack_cache_size", "glibc.pthread.stack_cache_size=0",
     true, "PAYDRILL_SAVED_TUNABLES"},
    {"GNUTLS_NO_IMPLICIT_INIT", "", "1", false, "PAYDRILL_SAVED_GNUTLS"},
};

#define N_LEANS (sizeof leans / sizeof leans[0])

/* Gives the variables their saved values back; true when any was saved
 * (this is the second start). */
static bool restore(void)
{
    bool any = false;
    for (size_t i = 0; i < N_LEANS; i++) {
        const char *saved = getenv(leans[i].saved);
        if (saved == NULL)
            continue;
        any = true;
        char *copy = strdup(saved);
        if (copy != NULL && copy[0] == '=')
            setenv(leans[i].name, copy + 1, 1);
        else
            unsetenv(leans[i].name);
        free(copy);
        unsetenv(leans[i].saved);
    }
    return any;
}

/* Sets variable i for the second start and records its old value. */
static bool lean_set(size_t i)
{
    const struct lean *l = &leans[i];
    const char *old = getenv(l->name);
    if (old != NULL && strstr(old, l->already) != NULL)
        return false;
    char value[4096], keep[4096];
    bool append = l->append && old != NULL && old[0] != '\0';
    int n = snprintf(value, sizeof value, "%s%s%s", append ? old : "", append ? ":" : "", l->add);
    int k = snprintf(keep, sizeof keep, "%s%s", old != NULL ? "=" : "", old != NULL ? old : "");
    if (n < 0 || (size_t)n >= sizeof value || k < 0 || (size_t)k >= sizeof keep)
        return false;
    if (setenv(l->saved, keep, 1) != 0)
        return false;
    if (setenv(l->name, value, 1) != 0) {
        unsetenv(l->saved);
        return false;
    }
    return true;
}

/* True when path is the file that holds this program's code: not so when
 * paydrill was started through the dynamic loader (ld.so ./paydrill ...),
 * where /proc/self/exe names ld.so and exec'ing it would load argv[1]. */
static bool holds_main(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return false;
    uintptr_t here = (uintptr_t)&lean_set;
    char line[4200];
    bool yes = false;
    while (fgets(line, sizeof line, f) != NULL) {
        uintptr_t lo = 0, hi = 0;
        int at = 0;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %*s %*s %*s %n", &lo, &hi, &at) < 2 ||
            here < lo || here >= hi)
            continue;
        line[strcspn(line, "\n")] = '\0';
        yes = at > 0 && strcmp(line + at, path) == 0;
        break;
    }
    fclose(f);
    return yes;
}

/* No restart under a tool that put itself in LD_PRELOAD (valgrind,
 * heaptrack: they would lose the program at the exec and report nothing),
 * or when asked not to. */
static bool may_restart(void)
{
    const char *preload = getenv("LD_PRELOAD");
    const char *no = getenv("PAYDRILL_NO_RESTART");
    return (preload == NULL || preload[0] == '\0') && (no == NULL || strcmp(no, "1") != 0);
}

static void lean_start(char **argv)
{
    if (restore() || !may_restart())
        return;
    /* The file /proc/self/exe names, not the link itself: exec'd through
     * the link, the process's name (ps, top, pgrep) would become "exe". */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self);
    if (len <= 0 || (size_t)len >= sizeof self)
        return;
    self[len] = '\0';
    if (!holds_main(self))
        return;
    bool changed = false;
    for (size_t i = 0; i < N_LEANS; i++)
        changed |= lean_set(i);
    if (!changed)
        return;
    execv(self, argv);
    restore();
}

int main(int argc, char **argv)
{
    lean_start(argv);
    return sim_cli_main(argc, argv);
}
