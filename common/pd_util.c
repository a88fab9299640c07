#include "pd_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pd_afile.h"
#include "pd_buf.h"
#include "pd_err.h"

const char *pd_setting(const char *flag, const char *env, const char *fallback)
{
    if (flag != NULL && *flag != '\0')
        return flag;
    const char *v = env ? getenv(env) : NULL;
    if (v != NULL && *v != '\0')
        return v;
    return fallback;
}

int pd_mkdirs(const char *path)
{
    char tmp[4096];
    if (pd_strlcpy(tmp, path, sizeof tmp) != PD_OK)
        return PD_EIO;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return PD_EIO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return PD_EIO;
    return PD_OK;
}

int pd_read_file(const char *path, size_t limit, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT ? PD_ENOTFOUND : PD_EIO;
    struct pd_buf buf;
    pd_buf_init(&buf, limit);
    char chunk[65536];
    size_t n;
    int rc = PD_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = pd_buf_append(&buf, chunk, n);
        if (rc != PD_OK)
            break;
    }
    if (rc == PD_OK && ferror(f))
        rc = PD_EIO;
    fclose(f);
    if (rc != PD_OK) {
        pd_buf_release(&buf);
        return rc;
    }
    *out_len = buf.len;
    *out = pd_buf_take(&buf);
    return *out ? PD_OK : PD_ENOMEM;
}

int pd_write_file(const char *path, const void *data, size_t len)
{
    struct pd_afile af;
    if (pd_afile_open(&af, path) != PD_OK)
        return PD_EIO;
    if (len > 0 && fwrite(data, 1, len, af.f) != len) {
        pd_afile_abort(&af);
        return PD_EIO;
    }
    return pd_afile_commit(&af);
}

int pd_parse_u64(const char *text, uint64_t *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return PD_EINVAL;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0')
        return PD_EINVAL;
    *out = (uint64_t)v;
    return PD_OK;
}

int pd_parse_int(const char *text, long min, long max, long *out)
{
    if (text == NULL || *text == '\0')
        return PD_EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max)
        return PD_EINVAL;
    *out = v;
    return PD_OK;
}

int pd_strlcpy(char *dst, const char *src, size_t dst_len)
{
    size_t n = strlen(src);
    if (dst_len == 0)
        return PD_ETOOBIG;
    if (n >= dst_len) {
        memcpy(dst, src, dst_len - 1);
        dst[dst_len - 1] = '\0';
        return PD_ETOOBIG;
    }
    memcpy(dst, src, n + 1);
    return PD_OK;
}

long pd_proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kb;
}

void pd_escape_controls(char *s, size_t cap)
{
    size_t n = strlen(s), bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += (unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\';
    if (bad == 0 || cap == 0)
        return;
    char *out = malloc(cap);
    if (out == NULL) {          /* no room to escape: blank them out */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                s[i] = '?';
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        if (c == '\\')
            snprintf(esc, sizeof esc, "\\\\");
        else if (c == '\n' || c == '\r' || c == '\t')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        else {
            esc[0] = (char)c;
            esc[1] = '\0';
        }
        size_t k = strlen(esc);
        if (o + k >= cap)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o] = '\0';
    memcpy(s, out, o + 1);
    free(out);
}
