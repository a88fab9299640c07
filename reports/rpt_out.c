/* rpt_out.c -- the sticky-error output buffer and the escapers.
 *
 * Every byte of data that reaches report.html, junit.xml or index.html goes
 * through one of the escapers here; writers never copy a data string out
 * raw. Each escaper also repairs invalid UTF-8, so outputs always decode. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_afile.h"
#include "pd_err.h"
#include "rpt_internal.h"

#define OUT_LIMIT ((size_t)1 << 30)

void rpt__out_init(struct rpt__out *o)
{
    pd_buf_init(&o->buf, OUT_LIMIT);
    o->rc = PD_OK;
    o->file = NULL;
    o->no_lt = false;
}

void rpt__out_open(struct rpt__out *o, const char *dir, const char *name)
{
    char path[4096];
    if (o->file != NULL || rpt__path(path, sizeof path, dir, name) != PD_OK)
        return;
    o->file = malloc(sizeof *o->file);
    if (o->file != NULL && pd_afile_open(o->file, path) != PD_OK) {
        free(o->file);
        o->file = NULL;
    }
}

void rpt__out_release(struct rpt__out *o)
{
    if (o->file != NULL) {
        pd_afile_abort(o->file);
        free(o->file);
        o->file = NULL;
    }
    pd_buf_release(&o->buf);
}

/* Hands a streamed output's buffered bytes to its file. */
static void flush(struct rpt__out *o)
{
    if (o->buf.len > 0 && fwrite(o->buf.data, 1, o->buf.len, o->file->f) != o->buf.len)
        o->rc = PD_EIO;
    o->buf.len = 0;
}

int rpt__out_commit(struct rpt__out *o)
{
    if (o->rc == PD_OK)
        flush(o);
    if (o->rc != PD_OK) {
        pd_afile_abort(o->file);
        return o->rc;
    }
    return pd_afile_commit(o->file);
}

void rpt__putn(struct rpt__out *o, const char *s, size_t n)
{
    if (o->rc != PD_OK)
        return;
    if (o->no_lt && memchr(s, '<', n) != NULL) {
        o->rc = PD_EPROTO;
        return;
    }
    o->rc = pd_buf_append(&o->buf, s, n);
    if (o->rc == PD_OK && o->file != NULL && o->buf.len >= RPT_OUT_FLUSH_BYTES)
        flush(o);
}

void rpt__puts(struct rpt__out *o, const char *s)
{
    if (s != NULL)
        rpt__putn(o, s, strlen(s));
}

void rpt__printf(struct rpt__out *o, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (o->rc == PD_OK)
            o->rc = PD_EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        rpt__putn(o, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        if (o->rc == PD_OK)
            o->rc = PD_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rpt__putn(o, big, (size_t)n);
    free(big);
}

/* Continuation byte check for the UTF-8 decoder. */
static bool cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t rpt__utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    *cp = 0xFFFD;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && n >= 2 && cont(s[1])) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF && n >= 3 && cont(s[1]) && cont(s[2])) {
        uint32_t v = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
                     (s[2] & 0x3F);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))
            return 1;   /* overlong or a surrogate */
        *cp = v;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4 && n >= 4 && cont(s[1]) && cont(s[2]) && cont(s[3])) {
        uint32_t v = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                     ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (v < 0x10000 || v > 0x10FFFF)
            return 1;
        *cp = v;
        return 4;
    }
    return 1;
}

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

void rpt__html(struct rpt__out *o, const char *s)
{
    if (s == NULL)
        return;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0 && o->rc == PD_OK) {
        uint32_t cp;
        size_t len = rpt__utf8_next(p, n, &cp);
        switch (cp) {
        case '&': rpt__puts(o, "&amp;"); break;
        case '<': rpt__puts(o, "&lt;"); break;
        case '>': rpt__puts(o, "&gt;"); break;
        case '"': rpt__puts(o, "&quot;"); break;
        case '\'': rpt__puts(o, "&#39;"); break;
        case 0xFFFD: rpt__puts(o, REPLACEMENT); break;
        case 0x2028: rpt__puts(o, "&#x2028;"); break;   /* line/paragraph separators */
        case 0x2029: rpt__puts(o, "&#x2029;"); break;   /* never raw in our pages */
        default: rpt__putn(o, (const char *)p, len); break;
        }
        p += len;
        n -= len;
    }
}

/* The Char production of XML 1.0 (section 2.2). */
static bool xml_char_ok(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void rpt__xml(struct rpt__out *o, const char *s, bool attr)
{
    if (s == NULL)
        return;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0 && o->rc == PD_OK) {
        uint32_t cp;
        size_t len = rpt__utf8_next(p, n, &cp);
        if (!xml_char_ok(cp)) {
            /* dropped: XML 1.0 cannot carry it even as a reference */
        } else if (cp == '&') {
            rpt__puts(o, "&amp;");
        } else if (cp == '<') {
            rpt__puts(o, "&lt;");
        } else if (cp == '>') {
            rpt__puts(o, "&gt;");
        } else if (cp == '"') {
            rpt__puts(o, "&quot;");
        } else if (cp == '\'') {
            rpt__puts(o, "&apos;");
        } else if (attr && (cp == '\t' || cp == '\n' || cp == '\r')) {
            rpt__printf(o, "&#%u;", (unsigned)cp);
        } else if (cp == '\r') {
            rpt__puts(o, "&#13;");   /* a raw CR in text would become LF */
        } else if (cp == 0xFFFD) {
            rpt__puts(o, REPLACEMENT);
        } else {
            rpt__putn(o, (const char *)p, len);
        }
        p += len;
        n -= len;
    }
}

/* One code point of a JSON string that must survive an HTML <script>. */
static void json_char(struct rpt__out *o, uint32_t cp, const unsigned char *p, size_t len)
{
    switch (cp) {
    case '"': rpt__puts(o, "\\\""); return;
    case '\\': rpt__puts(o, "\\\\"); return;
    case '\n': rpt__puts(o, "\\n"); return;
    case '\t': rpt__puts(o, "\\t"); return;
    case '\r': rpt__puts(o, "\\r"); return;
    default: break;
    }
    if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == 0x7F ||
        cp == 0x2028 || cp == 0x2029 || cp == 0xFFFD)
        rpt__printf(o, "\\u%04x", (unsigned)cp);
    else
        rpt__putn(o, (const char *)p, len);
}

void rpt__json_str(struct rpt__out *o, const char *s)
{
    if (s == NULL) {
        rpt__puts(o, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    rpt__putn(o, "\"", 1);
    while (n > 0 && o->rc == PD_OK) {
        uint32_t cp;
        size_t len = rpt__utf8_next(p, n, &cp);
        json_char(o, cp, p, len);
        p += len;
        n -= len;
    }
    rpt__putn(o, "\"", 1);
}

void rpt__url_path(struct rpt__out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p && o->rc == PD_OK; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                     c == '~' || c == '/';
        if (plain) {
            rpt__putn(o, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            rpt__putn(o, esc, 3);
        }
    }
}
