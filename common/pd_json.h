/* pd_json.h -- strict field access over cJSON, with errors that name the field.
 *
 * Every getter writes a reason into err (e.g. "items[2].qty: must be an
 * integer >= 1") and returns PD_EINVAL on a wrong type, a missing required
 * field or a value out of range. Integers are JSON numbers that are whole
 * and within +/- 2^53, since cJSON holds numbers as doubles. */
#ifndef PD_JSON_H
#define PD_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PD_JSON_ERR_LEN 256
#define PD_JSON_INT_MAX 9007199254740991LL   /* 2^53 - 1 */

struct pd_json_err {
    char text[PD_JSON_ERR_LEN];
};

/* Parses text[0..len) as exactly one JSON value, as RFC 8259 has it where
 * cJSON alone is lenient: only white space may follow the value (cJSON
 * ignores trailing bytes), no control character may stand inside a string
 * (cJSON copies them, and cuts a string at a NUL, so "m-1\0evil" read as
 * "m-1"), and white space is space, tab, newline and carriage return only.
 * NULL when it is not; *err_off (when not NULL) gets the byte offset where
 * it went wrong. */
cJSON *pd_json_parse_whole(const char *text, size_t len, long *err_off);

/* The 1-based line of byte at in text (stops at a NUL), for "line L, byte
 * B" in a syntax error. */
size_t pd_text_line(const char *text, size_t at);

/* Sets err->text from a format, control characters escaped
 * (pd_escape_controls). Always returns PD_EINVAL. */
int pd_json_fail(struct pd_json_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Refuses any key of obj not in allowed (NULL-terminated). path prefixes the
 * message ("" at top level). */
int pd_json_only_keys(const cJSON *obj, const char *const *allowed,
                      const char *path, struct pd_json_err *err);

/* String field: *out is borrowed from obj (NULL when absent and optional).
 * Empty strings are refused; max_len counts bytes. */
int pd_json_str(const cJSON *obj, const char *key, bool required, size_t max_len,
                const char *path, const char **out, struct pd_json_err *err);

/* Integer field in [min, max]. When absent and optional, *out is untouched. */
int pd_json_i64(const cJSON *obj, const char *key, bool required, int64_t min,
                int64_t max, const char *path, int64_t *out, struct pd_json_err *err);

/* Number field (any finite double) in [min, max]. */
int pd_json_num(const cJSON *obj, const char *key, bool required, double min,
                double max, const char *path, double *out, struct pd_json_err *err);

/* Boolean field. */
int pd_json_bool(const cJSON *obj, const char *key, bool required,
                 const char *path, bool *out, struct pd_json_err *err);

/* True when item is a JSON number that is a whole value within +/- 2^53. */
bool pd_json_is_int(const cJSON *item);

/* Adds an int64 as a JSON number. Returns 0 or PD_ENOMEM. */
int pd_json_add_i64(cJSON *obj, const char *key, int64_t v);

/* Prints compactly into a malloc'd string (caller frees), or NULL. */
char *pd_json_print(const cJSON *item);

/* For JSON written without a cJSON tree, byte for byte as pd_json_print
 * prints the same value: s as a JSON string (NULL as ""), v as a number
 * (exact below 10^15 in magnitude, as cJSON holds numbers as doubles).
 * Return 0, or pd_buf_append's error. */
struct pd_buf;
int pd_json_put_string(struct pd_buf *b, const char *s);
int pd_json_put_i64(struct pd_buf *b, int64_t v);

#endif
