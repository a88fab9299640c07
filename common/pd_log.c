#include "pd_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pd_err.h"

int pd_log_threshold = PD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int pd_log_set_level(const char *name)
{
    for (int i = 0; i <= PD_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            pd_log_threshold = i;
            return PD_OK;
        }
    }
    return PD_EINVAL;
}

void pd_log_write(int level, const char *mod, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ lvl=%s mod=%s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                     level_names[level < 0 || level > PD_LOG_OFF ? PD_LOG_ERROR : level],
                     mod);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* One fwrite per line keeps lines whole when threads log at once. */
    fwrite(line, 1, len, stderr);
}
