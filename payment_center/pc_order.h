/* pc_order.h -- a submitted order: strict validation of the POST /orders
 * body and the duplicate-submission fingerprint.
 *
 * The fingerprint is SHA-256 (lowercase hex) of this canonical text, one
 * field per line, each line ending in "\n":
 *
 *   paydrill-order-v1
 *   merchant_id=<merchant_id>
 *   user_id=<user_id>
 *   currency=<currency>
 *   amount=<amount in minor units, decimal>
 *   item=<sku>,<qty>,<unit_amount>      (one line per item, sorted by sku,
 *                                        then qty, then unit_amount)
 *
 * client_ref is not part of it: a resubmission with a new client_ref is
 * still the same order. Identifiers are limited to [A-Za-z0-9_.:@-], so the
 * separators cannot be forged inside a value. */
#ifndef PC_ORDER_H
#define PC_ORDER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "pd_json.h"
#include "pd_sign.h"

#define PC_ID_MAX 64                /* merchant_id, user_id, sku */
#define PC_CLIENT_REF_MAX 128       /* = the gateway's attach limit */
#define PC_ITEMS_MAX 100
#define PC_QTY_MAX 1000000LL
#define PC_AMOUNT_MAX 1000000000000LL   /* 10^12 minor units */
#define PC_BODY_MAX (64 * 1024)     /* request body limit, bytes */

struct pc_item {
    char sku[PC_ID_MAX + 1];
    int64_t qty;
    int64_t unit_amount;
};

struct pc_order_in {
    char merchant_id[PC_ID_MAX + 1];
    char user_id[PC_ID_MAX + 1];
    char client_ref[PC_CLIENT_REF_MAX + 1];   /* "" when absent */
    char currency[4];
    int64_t amount;
    size_t n_items;
    struct pc_item items[PC_ITEMS_MAX];
};

/* Validates a parsed body into *out. On failure returns PD_EINVAL with err
 * naming the field and the reason. */
int pc_order_parse(const cJSON *body, struct pc_order_in *out, struct pd_json_err *err);

/* Sorts out->items canonically (sku, qty, unit_amount). */
void pc_order_sort_items(struct pc_order_in *order);

/* Writes the canonical text (above) into out; returns its length, or -1
 * when out_len is too small. Items must be sorted. */
int pc_order_canonical(const struct pc_order_in *order, char *out, size_t out_len);

/* Sorts the items and writes the hex fingerprint into out_hex[65]. */
void pc_order_fingerprint(struct pc_order_in *order, char out_hex[PD_SIG_HEX_LEN + 1]);

/* True for an active ISO 4217 code (static table). */
int pc_currency_known(const char *code);

/* True when s is 1..max_len of [A-Za-z0-9_.:@-]. */
int pc_id_valid(const char *s, size_t max_len);

#endif
