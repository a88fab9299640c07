/* pd_util.h -- small process-level helpers: settings from flags or the
 * environment, folders, whole-file I/O. */
#ifndef PD_UTIL_H
#define PD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The first non-NULL, non-empty of flag, getenv(env), fallback. Borrowed. */
const char *pd_setting(const char *flag, const char *env, const char *fallback);

/* mkdir -p with mode 0755. Returns 0 or PD_EIO. */
int pd_mkdirs(const char *path);

/* Reads a whole file (at most limit bytes) into a malloc'd NUL-terminated
 * buffer. Returns 0, PD_ENOTFOUND, PD_ETOOBIG, PD_ENOMEM or PD_EIO. */
int pd_read_file(const char *path, size_t limit, char **out, size_t *out_len);

/* Writes data to path atomically (temp file, fsync, rename). Returns 0 or PD_EIO. */
int pd_write_file(const char *path, const void *data, size_t len);

/* Parses a decimal unsigned 64-bit integer (whole string). Returns 0 or PD_EINVAL. */
int pd_parse_u64(const char *text, uint64_t *out);

/* Parses a decimal int in [min, max] (whole string). Returns 0 or PD_EINVAL. */
int pd_parse_int(const char *text, long min, long max, long *out);

/* Copies src into dst[dst_len], always NUL-terminating. Returns 0 or
 * PD_ETOOBIG when src did not fit (dst then holds a truncated copy). */
int pd_strlcpy(char *dst, const char *src, size_t dst_len);

/* Rewrites s (a NUL-terminated text in a buffer of cap bytes) so that it
 * holds no control character: \n, \r and \t become those two-character
 * escapes, any other byte below 0x20 and 0x7f becomes \xNN, and a
 * backslash is doubled (so a key spelled "a\n" and one holding a newline
 * read differently); what no longer fits is cut. For messages built from
 * input (a field name with a newline must not break "FILE: FIELD: REASON"
 * over two lines). */
void pd_escape_controls(char *s, size_t cap);

/* A size line of /proc/self/status, such as "VmRSS" or "VmHWM", in KiB;
 * -1 when there is none. */
long pd_proc_status_kb(const char *field);

#endif
