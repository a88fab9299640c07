#include "gw_util.h"

#include <inttypes.h>
#include <string.h>

#include "pd_err.h"

int gw_json_str(struct pd_buf *buf, const char *s)
{
    if (s == NULL)
        return pd_buf_puts(buf, "null");
    int rc = pd_buf_append(buf, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; rc == PD_OK && *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        rc = pd_buf_append(buf, run, (size_t)((const char *)p - run));
        if (rc == PD_OK && (*p == '"' || *p == '\\'))
            rc = pd_buf_printf(buf, "\\%c", *p);
        else if (rc == PD_OK)
            rc = pd_buf_printf(buf, "\\u%04x", *p);
        run = (const char *)p + 1;
    }
    if (rc == PD_OK)
        rc = pd_buf_append(buf, run, strlen(run));
    return rc == PD_OK ? pd_buf_append(buf, "\"", 1) : rc;
}

int gw_json_i64_or_null(struct pd_buf *buf, int64_t v, bool is_null)
{
    return is_null ? pd_buf_puts(buf, "null") : pd_buf_printf(buf, "%" PRId64, v);
}

bool gw_valid_id(const char *s, size_t max_len)
{
    size_t n = 0;
    if (s == NULL)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok || n >= max_len)
            return false;
    }
    return n > 0;
}

bool gw_valid_text(const char *s, size_t max_len)
{
    size_t n = 0;
    if (s == NULL)
        return false;
    for (; s[n]; n++)
        if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max_len)
            return false;
    return n > 0;
}

