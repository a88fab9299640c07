/* check_stream.h -- element-at-a-time readers for the run folder's big
 * files (internal to the checker). */
#ifndef SIM_CHECK_STREAM_H
#define SIM_CHECK_STREAM_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_json.h"

/* Called once per element. key is the top-level member's name (NULL for
 * NDJSON); index is the element's position in that member's array, -1 when
 * the member's value is not an array (item is then the value), -2 for an
 * empty array (item NULL). For NDJSON index is the 1-based line number.
 * item is freed after the call. Return 0 to go on, anything else stops. */
typedef int (*sim__stream_fn)(void *ctx, const char *key, int index, const cJSON *item,
                              struct pd_json_err *err);

/* Streams the members of the file's top-level object. Returns 0, PD_EINVAL
 * (err says where, e.g. "byte 812: expected ',' or ']'..."; "missing or
 * unreadable" when the file cannot be opened), PD_EIO, PD_ENOMEM, or what
 * fn returned. */
int sim__stream_json_file(const char *path, sim__stream_fn fn, void *ctx,
                          struct pd_json_err *err);

/* Called once per NDJSON line: lineno 1-based, at the byte the line starts
 * at, text its len bytes as read (with its line end). item is freed after
 * the call. Return 0 to go on. */
typedef int (*sim__line_fn)(void *ctx, int lineno, int64_t at, const char *text, size_t len,
                            const cJSON *item, struct pd_json_err *err);

/* Streams an NDJSON file line by line (blank lines skipped). */
int sim__stream_ndjson_file(const char *path, sim__line_fn fn, void *ctx,
                            struct pd_json_err *err);

#endif
