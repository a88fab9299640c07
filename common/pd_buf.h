/* pd_buf.h -- a growable byte buffer with a hard size limit.
 *
 * Appends past the limit fail with PD_ETOOBIG and leave the buffer as it
 * was; the data is always NUL-terminated. */
#ifndef PD_BUF_H
#define PD_BUF_H

#include <stddef.h>

struct pd_buf {
    char *data;     /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    size_t limit;   /* most bytes ever held (0 = 1 GiB) */
};

void pd_buf_init(struct pd_buf *buf, size_t limit);
int pd_buf_append(struct pd_buf *buf, const void *data, size_t len);
int pd_buf_puts(struct pd_buf *buf, const char *s);
int pd_buf_printf(struct pd_buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the data over to the caller (free() it) and resets the buffer. */
char *pd_buf_take(struct pd_buf *buf);
void pd_buf_release(struct pd_buf *buf);

#endif
