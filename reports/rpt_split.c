/* rpt_split.c -- finds the orders array in report.json's text and walks
 * its elements, so rpt_load.c can parse one order at a time.
 *
 * Parsed whole, report.json's cJSON tree was the report writers' peak: at
 * 10,000 orders 100,000 nodes for a 1.7 MB file, 10.6 MB of heap at once.
 * This scan tracks only strings and nesting; every piece it cuts out is
 * still parsed by cJSON, so it decides where to cut, never what is valid.
 * When it finds no clean cut it says so and the caller parses the whole
 * text as before. */
#include <string.h>

#include "rpt_internal.h"

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_blank(const char *text, size_t len, size_t i)
{
    while (i < len && blank(text[i]))
        i++;
    return i;
}

/* The index just past the string whose opening quote is at i, or len + 1
 * when the text ends inside it. */
static size_t string_end(const char *text, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (text[i] == '\\')
            i++;
        else if (text[i] == '"')
            return i + 1;
    }
    return len + 1;
}

/* From i, the index of the first ',' or closing bracket outside strings
 * and outside the brackets opened after i; len when there is none. */
static size_t scan_to(const char *text, size_t len, size_t i)
{
    size_t depth = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            i = string_end(text, len, i);
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            depth--;
        } else if (c == ',' && depth == 0) {
            return i;
        }
        i++;
    }
    return len;
}

/* The value after the key whose closing quote ends before i: its start in
 * *at, and the ',' or '}' that follows it as the return (len: none). */
static size_t member_value(const char *text, size_t len, size_t i, size_t *at)
{
    i = skip_blank(text, len, i);
    if (i >= len || text[i] != ':')
        return len;
    *at = skip_blank(text, len, i + 1);
    return scan_to(text, len, *at);
}

bool rpt__orders_span(const char *text, size_t len, struct rpt__span *out)
{
    size_t i = skip_blank(text, len, 0);
    if (i >= len || text[i] != '{')
        return false;
    for (i++; ; i++) {   /* one member per turn; i is past '{' or ',' */
        i = skip_blank(text, len, i);
        if (i >= len || text[i] != '"')
            return false;
        size_t key = i + 1, at = 0;
        i = string_end(text, len, i);
        if (i > len)
            return false;
        bool orders = i - key - 1 == 6 && memcmp(text + key, "orders", 6) == 0;
        i = member_value(text, len, i, &at);
        if (i >= len)
            return false;
        if (orders) {
            size_t last = i;
            while (last > at && blank(text[last - 1]))
                last--;
            if (last - at < 2 || text[at] != '[' || text[last - 1] != ']')
                return false;
            out->at = at;
            out->len = last - at;
            return true;
        }
        if (text[i] != ',')
            return false;
    }
}

int rpt__array_next(const char *text, struct rpt__span arr, size_t *pos, struct rpt__span *elem)
{
    size_t close = arr.at + arr.len - 1;   /* the array's ']' */
    if (*pos > close)
        return 0;
    size_t i = skip_blank(text, close, *pos);
    size_t e = scan_to(text, close + 1, i);
    if (e == i && e == close && *pos == arr.at + 1) {
        *pos = close + 1;   /* [] */
        return 0;
    }
    if (e == i || e > close || (text[e] != ',' && e != close)) {
        *pos = e > close ? close : e;   /* an empty element, or a stray bracket */
        return -1;
    }
    size_t last = e;
    while (last > i && blank(text[last - 1]))
        last--;
    elem->at = i;
    elem->len = last - i;
    *pos = e + 1;
    return 1;
}
