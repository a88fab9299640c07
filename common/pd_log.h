/* pd_log.h -- one key=value line per event on stderr.
 *
 * PD_LOG checks the level before it evaluates its arguments, so a
 * debug line costs one comparison when debug is off. Never log secrets. */
#ifndef PD_LOG_H
#define PD_LOG_H

enum pd_log_level { PD_LOG_DEBUG = 0, PD_LOG_INFO, PD_LOG_WARN, PD_LOG_ERROR, PD_LOG_OFF };

extern int pd_log_threshold;

/* Sets the threshold from "debug", "info", "warn", "error" or "off".
 * Returns 0, or PD_EINVAL for an unknown name (threshold unchanged). */
int pd_log_set_level(const char *name);

/* mod is a short component name ("pc", "gw", "sim"); fmt continues the
 * line with key=value pairs. */
void pd_log_write(int level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PD_LOG(level, mod, ...)                                              \
    do {                                                                     \
        if ((level) >= pd_log_threshold)                                     \
            pd_log_write((level), (mod), __VA_ARGS__);                       \
    } while (0)

#endif
