/* check_stream.c -- reads big JSON files one array element at a time.
 *
 * export.json of a 100,000-order run is hundreds of megabytes as a cJSON
 * tree. The scanner here walks the top-level object's bytes, cuts each
 * element of each top-level array out as raw text (tracking strings and
 * nesting only), and hands cJSON one element at a time. cJSON still judges
 * every element's syntax; the scanner only judges the skeleton around them. */
#include "check_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_err.h"

#define ELEMENT_LIMIT (16u << 20)   /* one element (one order) at most 16 MiB */

struct scan {
    FILE *f;
    size_t pos, len;
    long long off;      /* bytes consumed, for error messages */
    char buf[65536];
};

static int sc_peek(struct scan *s)
{
    if (s->pos == s->len) {
        s->len = fread(s->buf, 1, sizeof s->buf, s->f);
        s->pos = 0;
        if (s->len == 0)
            return EOF;
    }
    return (unsigned char)s->buf[s->pos];
}

static int sc_get(struct scan *s)
{
    int c = sc_peek(s);
    if (c != EOF) {
        s->pos++;
        s->off++;
    }
    return c;
}

static void sc_ws(struct scan *s)
{
    int c;
    while ((c = sc_peek(s)) == ' ' || c == '\n' || c == '\r' || c == '\t')
        sc_get(s);
}

static int sc_fail(struct scan *s, struct pd_json_err *err, const char *what)
{
    return pd_json_fail(err, "byte %lld: %s", s->off, what);
}

static int put(struct pd_buf *b, int c)
{
    char ch = (char)c;
    return pd_buf_append(b, &ch, 1);
}

/* Copies a string's raw text, quotes included; the opening quote is next. */
static int sc_string(struct scan *s, struct pd_buf *b, struct pd_json_err *err)
{
    int rc = put(b, sc_get(s));
    for (int c; rc == PD_OK;) {
        c = sc_get(s);
        if (c == EOF)
            return sc_fail(s, err, "unterminated string");
        rc = put(b, c);
        if (c == '\\') {
            c = sc_get(s);
            if (c == EOF)
                return sc_fail(s, err, "unterminated string");
            rc = rc == PD_OK ? put(b, c) : rc;
        } else if (c == '"') {
            break;
        }
    }
    return rc;
}

/* Copies one JSON value's raw text into b. */
static int sc_value(struct scan *s, struct pd_buf *b, struct pd_json_err *err)
{
    int c = sc_peek(s), rc = PD_OK;
    if (c == '"')
        return sc_string(s, b, err);
    if (c == '{' || c == '[') {
        int depth = 0;
        do {
            c = sc_peek(s);
            if (c == EOF)
                return sc_fail(s, err, "unexpected end of file inside an object or array");
            if (c == '"') {
                rc = sc_string(s, b, err);
                continue;
            }
            depth += (c == '{' || c == '[') - (c == '}' || c == ']');
            rc = put(b, sc_get(s));
        } while (rc == PD_OK && depth > 0);
        return rc;
    }
    while (rc == PD_OK && (c = sc_peek(s)) != EOF && strchr(",]} \t\r\n", c) == NULL)
        rc = put(b, sc_get(s));
    if (rc == PD_OK && b->len == 0)
        return sc_fail(s, err, "expected a value");
    return rc;
}

/* Parses b's text (which began at byte start) as one value; calls fn. */
static int deliver(struct pd_buf *b, const char *key, int index, sim__stream_fn fn,
                   void *ctx, long long start, struct pd_json_err *err)
{
    cJSON *item = cJSON_ParseWithLength(b->data ? b->data : "", b->len);
    if (item == NULL) {
        char what[160];
        if (index >= 0)
            snprintf(what, sizeof what, "%.64s[%d]: not valid JSON", key, index);
        else
            snprintf(what, sizeof what, "%.64s: not valid JSON", key);
        return pd_json_fail(err, "byte %lld: %s", start, what);
    }
    int rc = fn(ctx, key, index, item, err);
    cJSON_Delete(item);
    b->len = 0;
    return rc;
}

static int sc_array(struct scan *s, const char *key, sim__stream_fn fn, void *ctx,
                    struct pd_buf *b, struct pd_json_err *err)
{
    sc_get(s);      /* '[' */
    sc_ws(s);
    if (sc_peek(s) == ']') {
        sc_get(s);
        return fn(ctx, key, -2, NULL, err);     /* an empty array */
    }
    for (int i = 0;; i++) {
        b->len = 0;
        long long start = s->off;
        int rc = sc_value(s, b, err);
        if (rc == PD_OK)
            rc = deliver(b, key, i, fn, ctx, start, err);
        if (rc != PD_OK)
            return rc;
        sc_ws(s);
        int c = sc_get(s);
        if (c == ']')
            return PD_OK;
        if (c != ',')
            return sc_fail(s, err, "expected ',' or ']' after an array element");
        sc_ws(s);
    }
}

static int sc_member(struct scan *s, sim__stream_fn fn, void *ctx, struct pd_buf *b,
                     struct pd_json_err *err)
{
    if (sc_peek(s) != '"')
        return sc_fail(s, err, "expected a member name");
    b->len = 0;
    int rc = sc_string(s, b, err);
    if (rc != PD_OK)
        return rc;
    cJSON *k = cJSON_ParseWithLength(b->data, b->len);
    char key[128];
    snprintf(key, sizeof key, "%s", cJSON_IsString(k) ? k->valuestring : "?");
    cJSON_Delete(k);
    sc_ws(s);
    if (sc_get(s) != ':')
        return sc_fail(s, err, "expected ':' after a member name");
    sc_ws(s);
    if (sc_peek(s) == '[')
        return sc_array(s, key, fn, ctx, b, err);
    b->len = 0;
    long long start = s->off;
    rc = sc_value(s, b, err);
    return rc == PD_OK ? deliver(b, key, -1, fn, ctx, start, err) : rc;
}

static int sc_object(struct scan *s, sim__stream_fn fn, void *ctx, struct pd_buf *b,
                     struct pd_json_err *err)
{
    sc_ws(s);
    if (sc_get(s) != '{')
        return sc_fail(s, err, "must be a JSON object");
    sc_ws(s);
    if (sc_peek(s) == '}') {
        sc_get(s);
    } else {
        for (;;) {
            int rc = sc_member(s, fn, ctx, b, err);
            if (rc != PD_OK)
                return rc;
            sc_ws(s);
            int c = sc_get(s);
            if (c == '}')
                break;
            if (c != ',')
                return sc_fail(s, err, "expected ',' or '}' after a member");
            sc_ws(s);
        }
    }
    sc_ws(s);
    return sc_peek(s) == EOF ? PD_OK : sc_fail(s, err, "text after the top-level object");
}

static int open_input(const char *path, FILE **out, struct pd_json_err *err)
{
    *out = fopen(path, "rb");
    if (*out == NULL)
        return pd_json_fail(err, "missing or unreadable");
    return PD_OK;
}

int sim__stream_json_file(const char *path, sim__stream_fn fn, void *ctx,
                          struct pd_json_err *err)
{
    struct scan *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PD_ENOMEM;
    int rc = open_input(path, &s->f, err);
    if (rc != PD_OK) {
        free(s);
        return rc;
    }
    struct pd_buf b;
    pd_buf_init(&b, ELEMENT_LIMIT);
    rc = sc_object(s, fn, ctx, &b, err);
    if (rc == PD_ETOOBIG)
        rc = sc_fail(s, err, "one element is over 16 MiB");
    if (rc == PD_OK && ferror(s->f))
        rc = PD_EIO;
    pd_buf_release(&b);
    fclose(s->f);
    free(s);
    return rc;
}

int sim__stream_ndjson_file(const char *path, sim__line_fn fn, void *ctx,
                            struct pd_json_err *err)
{
    FILE *f = NULL;
    int rc = open_input(path, &f, err);
    if (rc != PD_OK)
        return rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    int64_t at = 0, next = 0;
    while (rc == PD_OK && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        at = next;
        next += n;
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        cJSON *item = cJSON_ParseWithLength(line, (size_t)n);
        if (item == NULL) {
            rc = pd_json_fail(err, "line %d: not valid JSON", lineno);
            break;
        }
        rc = fn(ctx, lineno, at, line, (size_t)n, item, err);
        cJSON_Delete(item);
    }
    if (rc == PD_OK && ferror(f))
        rc = PD_EIO;
    free(line);
    fclose(f);
    return rc;
}
