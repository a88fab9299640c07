/* gw_util.h -- small helpers shared by the gateway's modules. */
#ifndef GW_UTIL_H
#define GW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_buf.h"

/* Appends s as a JSON string literal (quotes included); NULL appends null. */
int gw_json_str(struct pd_buf *buf, const char *s);

/* Appends an integer, or null when is_null. */
int gw_json_i64_or_null(struct pd_buf *buf, int64_t v, bool is_null);

/* True when s is 1..max_len of [A-Za-z0-9_.-] (out_trade_no, out_refund_no). */
bool gw_valid_id(const char *s, size_t max_len);

/* True when s has no control characters and is 1..max_len bytes. */
bool gw_valid_text(const char *s, size_t max_len);

#endif
