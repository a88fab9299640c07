#include "pd_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"

#define DEFAULT_LIMIT ((size_t)1 << 30)

void pd_buf_init(struct pd_buf *buf, size_t limit)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->limit = limit ? limit : DEFAULT_LIMIT;
}

static int reserve(struct pd_buf *buf, size_t extra)
{
    if (extra > buf->limit || buf->len > buf->limit - extra)
        return PD_ETOOBIG;
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return PD_OK;
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(buf->data, cap);
    if (p == NULL)
        return PD_ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return PD_OK;
}

int pd_buf_append(struct pd_buf *buf, const void *data, size_t len)
{
    int rc = reserve(buf, len);
    if (rc != PD_OK)
        return rc;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return PD_OK;
}

int pd_buf_puts(struct pd_buf *buf, const char *s)
{
    return pd_buf_append(buf, s, strlen(s));
}

int pd_buf_printf(struct pd_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PD_EINVAL;
    int rc = reserve(buf, (size_t)n);
    if (rc != PD_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return PD_OK;
}

char *pd_buf_take(struct pd_buf *buf)
{
    char *p = buf->data;
    if (p == NULL)
        p = calloc(1, 1);
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return p;
}

void pd_buf_release(struct pd_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
