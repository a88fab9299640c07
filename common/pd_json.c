#include "pd_json.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "pd_util.h"

/* The first byte JSON forbids and cJSON lets through, or -1: a control
 * character (below 0x20, NUL included) inside a string, or outside one
 * anything below 0x20 but tab, newline and carriage return (cJSON skips
 * every such byte as white space and copies them into strings; it would
 * also cut a string at a NUL, so "m-1\0evil" read as "m-1"). */
static long forbidden_control(const char *text, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (in_string) {
            if (ch == '\\')
                i++;        /* cJSON refuses an escape it does not know */
            else if (ch == '"')
                in_string = false;
            else if (ch < 0x20)
                return (long)i;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
            return (long)i;
        }
    }
    return -1;
}

cJSON *pd_json_parse_whole(const char *text, size_t len, long *err_off)
{
    long bad = forbidden_control(text, len);
    if (bad >= 0) {
        if (err_off != NULL)
            *err_off = bad;
        return NULL;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (doc != NULL) {
        while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end != text + len) {
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    if (err_off != NULL)
        *err_off = end != NULL ? (long)(end - text) : 0L;
    return doc;
}

size_t pd_text_line(const char *text, size_t at)
{
    size_t line = 1;
    for (size_t i = 0; i < at && text[i] != '\0'; i++)
        line += text[i] == '\n';
    return line;
}

int pd_json_fail(struct pd_json_err *err, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
        pd_escape_controls(err->text, sizeof err->text);
    }
    return PD_EINVAL;
}

static const char *sep(const char *path)
{
    return (path && *path) ? "." : "";
}

int pd_json_only_keys(const cJSON *obj, const char *const *allowed,
                      const char *path, struct pd_json_err *err)
{
    if (!cJSON_IsObject(obj))
        return pd_json_fail(err, "%s: must be an object", (path && *path) ? path : "body");
    for (const cJSON *it = obj->child; it != NULL; it = it->next) {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = it->string != NULL && strcmp(it->string, allowed[i]) == 0;
        if (!known)
            return pd_json_fail(err, "%s%s%.64s: unknown field", path ? path : "",
                                sep(path), it->string ? it->string : "?");
    }
    return PD_OK;
}

int pd_json_str(const cJSON *obj, const char *key, bool required, size_t max_len,
                const char *path, const char **out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (required)
            return pd_json_fail(err, "%s%s%s: required", path ? path : "", sep(path), key);
        *out = NULL;
        return PD_OK;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return pd_json_fail(err, "%s%s%s: must be a string", path ? path : "", sep(path), key);
    size_t len = strlen(it->valuestring);
    if (len == 0)
        return pd_json_fail(err, "%s%s%s: must not be empty", path ? path : "", sep(path), key);
    if (len > max_len)
        return pd_json_fail(err, "%s%s%s: longer than %zu bytes", path ? path : "",
                            sep(path), key, max_len);
    *out = it->valuestring;
    return PD_OK;
}

bool pd_json_is_int(const cJSON *item)
{
    if (!cJSON_IsNumber(item))
        return false;
    double d = item->valuedouble;
    return isfinite(d) && d == floor(d) && fabs(d) <= (double)PD_JSON_INT_MAX;
}

int pd_json_i64(const cJSON *obj, const char *key, bool required, int64_t min,
                int64_t max, const char *path, int64_t *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL) {
        if (required)
            return pd_json_fail(err, "%s%s%s: required", path ? path : "", sep(path), key);
        return PD_OK;
    }
    if (!pd_json_is_int(it))
        return pd_json_fail(err, "%s%s%s: must be an integer", path ? path : "", sep(path), key);
    int64_t v = (int64_t)it->valuedouble;
    if (v < min || v > max)
        return pd_json_fail(err, "%s%s%s: must be between %lld and %lld", path ? path : "",
                            sep(path), key, (long long)min, (long long)max);
    *out = v;
    return PD_OK;
}

int pd_json_num(const cJSON *obj, const char *key, bool required, double min,
                double max, const char *path, double *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL) {
        if (required)
            return pd_json_fail(err, "%s%s%s: required", path ? path : "", sep(path), key);
        return PD_OK;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return pd_json_fail(err, "%s%s%s: must be a number", path ? path : "", sep(path), key);
    if (it->valuedouble < min || it->valuedouble > max)
        return pd_json_fail(err, "%s%s%s: must be between %g and %g", path ? path : "",
                            sep(path), key, min, max);
    *out = it->valuedouble;
    return PD_OK;
}

int pd_json_bool(const cJSON *obj, const char *key, bool required,
                 const char *path, bool *out, struct pd_json_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (it == NULL) {
        if (required)
            return pd_json_fail(err, "%s%s%s: required", path ? path : "", sep(path), key);
        return PD_OK;
    }
    if (!cJSON_IsBool(it))
        return pd_json_fail(err, "%s%s%s: must be true or false", path ? path : "", sep(path), key);
    *out = cJSON_IsTrue(it);
    return PD_OK;
}

int pd_json_add_i64(cJSON *obj, const char *key, int64_t v)
{
    return cJSON_AddNumberToObject(obj, key, (double)v) ? PD_OK : PD_ENOMEM;
}

/* ---- printing ---- */

static int print_string(struct pd_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 'u', '0', '0', 0, 0};
    int rc = pd_buf_append(b, "\"", 1);
    if (rc != PD_OK)
        return rc;
    const unsigned char *run = (const unsigned char *)(s ? s : "");
    const unsigned char *p = run;
    for (;; p++) {
        unsigned char ch = *p;
        if (ch >= 32 && ch != '"' && ch != '\\')
            continue;
        if (p > run && (rc = pd_buf_append(b, run, (size_t)(p - run))) != PD_OK)
            return rc;
        if (ch == '\0')
            break;
        const char *e = NULL;
        switch (ch) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default: break;
        }
        if (e != NULL) {
            rc = pd_buf_append(b, e, 2);
        } else {
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            rc = pd_buf_append(b, esc, 6);
        }
        if (rc != PD_OK)
            return rc;
        run = p + 1;
    }
    return pd_buf_append(b, "\"", 1);
}

/* As cJSON prints a number, digit for digit: a whole number below 10^15
 * in magnitude (but -0) as an integer (cJSON's "%1.15g" gives the same
 * digits), without printf and the scanf cJSON checks the round trip with;
 * anything else as cJSON does. In the export an order carries a dozen
 * millisecond timestamps: printing them was a third of its CPU. */
static int print_number(struct pd_buf *b, double d)
{
    char out[32];
    int n;
    if (isnan(d) || isinf(d)) {
        return pd_buf_puts(b, "null");
    } else if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char *q = out + sizeof out;
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u > 0);
        if (v < 0)
            *--q = '-';
        return pd_buf_append(b, q, (size_t)(out + sizeof out - q));
    }
    n = snprintf(out, sizeof out, "%1.15g", d);
    double back = 0;
    if (sscanf(out, "%lg", &back) != 1 ||
        !(fabs(back - d) <= (fabs(back) > fabs(d) ? fabs(back) : fabs(d)) * DBL_EPSILON))
        n = snprintf(out, sizeof out, "%1.17g", d);
    if (n <= 0 || (size_t)n >= sizeof out)
        return PD_EINVAL;
    return pd_buf_append(b, out, (size_t)n);
}

static int print_value(struct pd_buf *b, const cJSON *item, int depth)
{
    if (depth > 1000)
        return PD_EINVAL;
    switch (item->type & 0xFF) {
    case cJSON_NULL: return pd_buf_puts(b, "null");
    case cJSON_False: return pd_buf_puts(b, "false");
    case cJSON_True: return pd_buf_puts(b, "true");
    case cJSON_Number: return print_number(b, item->valuedouble);
    case cJSON_String: return print_string(b, item->valuestring);
    case cJSON_Raw:
        if (item->valuestring == NULL)
            return PD_EINVAL;
        return pd_buf_puts(b, item->valuestring);
    case cJSON_Array:
    case cJSON_Object: {
        bool obj = (item->type & 0xFF) == cJSON_Object;
        int rc = pd_buf_append(b, obj ? "{" : "[", 1);
        if (rc != PD_OK)
            return rc;
        for (const cJSON *c = item->child; c != NULL; c = c->next) {
            if (obj && (rc = print_string(b, c->string)) == PD_OK)
                rc = pd_buf_append(b, ":", 1);
            if (rc == PD_OK)
                rc = print_value(b, c, depth + 1);
            if (rc == PD_OK && c->next != NULL)
                rc = pd_buf_append(b, ",", 1);
            if (rc != PD_OK)
                return rc;
        }
        return pd_buf_append(b, obj ? "}" : "]", 1);
    }
    default: return PD_EINVAL;   /* cJSON_Invalid */
    }
}

int pd_json_put_string(struct pd_buf *b, const char *s)
{
    return print_string(b, s);
}

int pd_json_put_i64(struct pd_buf *b, int64_t v)
{
    return print_number(b, (double)v);
}

char *pd_json_print(const cJSON *item)
{
    struct pd_buf b;
    pd_buf_init(&b, 0);
    if (item == NULL || print_value(&b, item, 0) != PD_OK) {
        pd_buf_release(&b);
        return NULL;
    }
    return pd_buf_take(&b);
}
