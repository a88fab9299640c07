#include "pc_order.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_err.h"

/* Active ISO 4217 codes (2024 list, funds codes and precious metals left out). */
static const char *const currencies[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN",
    "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN",
    "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL"};

int pc_currency_known(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return 0;
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcmp(code, currencies[i]) == 0)
            return 1;
    return 0;
}

int pc_id_valid(const char *s, size_t max_len)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == ':' || c == '@' || c == '-';
        if (!ok)
            return 0;
    }
    return n >= 1 && n <= max_len;
}

/* A JSON object may not name the same key twice: cJSON would keep both and
 * a reader could pick either. */
static int no_duplicate_keys(const cJSON *obj, const char *path, struct pd_json_err *err)
{
    for (const cJSON *a = obj->child; a != NULL; a = a->next)
        for (const cJSON *b = a->next; b != NULL; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0)
                return pd_json_fail(err, "%s%s%.64s: duplicate key", path, *path ? "." : "",
                                    a->string);
    return PD_OK;
}

static int get_id(const cJSON *obj, const char *key, const char *path, char *out,
                  struct pd_json_err *err)
{
    const char *s = NULL;
    int rc = pd_json_str(obj, key, true, PC_ID_MAX, path, &s, err);
    if (rc != PD_OK)
        return rc;
    if (!pc_id_valid(s, PC_ID_MAX))
        return pd_json_fail(err, "%s%s%s: only letters, digits and _.:@- allowed", path,
                            *path ? "." : "", key);
    memcpy(out, s, strlen(s) + 1);
    return PD_OK;
}

static int parse_item(const cJSON *it, size_t i, struct pc_item *out, struct pd_json_err *err)
{
    static const char *const keys[] = {"sku", "qty", "unit_amount", NULL};
    char path[32];
    snprintf(path, sizeof path, "items[%zu]", i);
    int rc = pd_json_only_keys(it, keys, path, err);
    if (rc == PD_OK)
        rc = no_duplicate_keys(it, path, err);
    if (rc == PD_OK)
        rc = get_id(it, "sku", path, out->sku, err);
    if (rc == PD_OK)
        rc = pd_json_i64(it, "qty", true, 1, PC_QTY_MAX, path, &out->qty, err);
    if (rc == PD_OK)
        rc = pd_json_i64(it, "unit_amount", true, 1, PC_AMOUNT_MAX, path, &out->unit_amount, err);
    return rc;
}

/* Sums the items, refusing any line or total above PC_AMOUNT_MAX (so no
 * int64 arithmetic here can overflow). */
static int sum_items(const struct pc_order_in *o, struct pd_json_err *err)
{
    int64_t sum = 0;
    for (size_t i = 0; i < o->n_items; i++) {
        const struct pc_item *it = &o->items[i];
        if (it->unit_amount > PC_AMOUNT_MAX / it->qty)
            return pd_json_fail(err, "items[%zu]: qty * unit_amount exceeds %lld", i,
                                (long long)PC_AMOUNT_MAX);
        sum += it->qty * it->unit_amount;
        if (sum > PC_AMOUNT_MAX)
            return pd_json_fail(err, "items: total exceeds %lld", (long long)PC_AMOUNT_MAX);
    }
    if (sum != o->amount)
        return pd_json_fail(err, "amount: %" PRId64 " does not equal the items' sum %" PRId64,
                            o->amount, sum);
    return PD_OK;
}

static int parse_items(const cJSON *body, struct pc_order_in *out, struct pd_json_err *err)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "items");
    if (items == NULL)
        return pd_json_fail(err, "items: required");
    if (!cJSON_IsArray(items))
        return pd_json_fail(err, "items: must be an array");
    int n = cJSON_GetArraySize(items);
    if (n < 1 || n > PC_ITEMS_MAX)
        return pd_json_fail(err, "items: must hold 1 to %d items", PC_ITEMS_MAX);
    size_t i = 0;
    for (const cJSON *it = items->child; it != NULL; it = it->next, i++) {
        int rc = parse_item(it, i, &out->items[i], err);
        if (rc != PD_OK)
            return rc;
    }
    out->n_items = i;
    return PD_OK;
}

static int parse_client_ref(const cJSON *body, struct pc_order_in *out, struct pd_json_err *err)
{
    const char *ref = NULL;
    int rc = pd_json_str(body, "client_ref", false, PC_CLIENT_REF_MAX, "", &ref, err);
    if (rc != PD_OK)
        return rc;
    out->client_ref[0] = '\0';
    if (ref == NULL)
        return PD_OK;
    for (const unsigned char *p = (const unsigned char *)ref; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return pd_json_fail(err, "client_ref: control characters not allowed");
    memcpy(out->client_ref, ref, strlen(ref) + 1);
    return PD_OK;
}

int pc_order_parse(const cJSON *body, struct pc_order_in *out, struct pd_json_err *err)
{
    static const char *const keys[] = {"merchant_id", "user_id", "items", "amount",
                                       "currency", "client_ref", NULL};
    memset(out, 0, sizeof *out);
    int rc = pd_json_only_keys(body, keys, "", err);
    if (rc == PD_OK)
        rc = no_duplicate_keys(body, "", err);
    if (rc == PD_OK)
        rc = get_id(body, "merchant_id", "", out->merchant_id, err);
    if (rc == PD_OK)
        rc = get_id(body, "user_id", "", out->user_id, err);
    if (rc == PD_OK)
        rc = pd_json_i64(body, "amount", true, 1, PC_AMOUNT_MAX, "", &out->amount, err);
    const char *cur = NULL;
    if (rc == PD_OK)
        rc = pd_json_str(body, "currency", true, 3, "", &cur, err);
    if (rc == PD_OK && !pc_currency_known(cur))
        rc = pd_json_fail(err, "currency: not an active ISO 4217 code");
    if (rc == PD_OK) {
        memcpy(out->currency, cur, 4);
        rc = parse_client_ref(body, out, err);
    }
    if (rc == PD_OK)
        rc = parse_items(body, out, err);
    if (rc == PD_OK)
        rc = sum_items(out, err);
    return rc;
}

static int item_cmp(const void *pa, const void *pb)
{
    const struct pc_item *a = pa, *b = pb;
    int c = strcmp(a->sku, b->sku);
    if (c != 0)
        return c;
    if (a->qty != b->qty)
        return a->qty < b->qty ? -1 : 1;
    if (a->unit_amount != b->unit_amount)
        return a->unit_amount < b->unit_amount ? -1 : 1;
    return 0;
}

void pc_order_sort_items(struct pc_order_in *order)
{
    qsort(order->items, order->n_items, sizeof order->items[0], item_cmp);
}

int pc_order_canonical(const struct pc_order_in *o, char *out, size_t out_len)
{
    size_t used = 0;
    int n = snprintf(out, out_len,
                     "paydrill-order-v1\nmerchant_id=%s\nuser_id=%s\ncurrency=%s\namount=%" PRId64 "\n",
                     o->merchant_id, o->user_id, o->currency, o->amount);
    if (n < 0 || (size_t)n >= out_len)
        return -1;
    used = (size_t)n;
    for (size_t i = 0; i < o->n_items; i++) {
        n = snprintf(out + used, out_len - used, "item=%s,%" PRId64 ",%" PRId64 "\n",
                     o->items[i].sku, o->items[i].qty, o->items[i].unit_amount);
        if (n < 0 || (size_t)n >= out_len - used)
            return -1;
        used += (size_t)n;
    }
    return (int)used;
}

void pc_order_fingerprint(struct pc_order_in *order, char out_hex[PD_SIG_HEX_LEN + 1])
{
    /* 100 items of at most 64 + 2 * 20 + 8 bytes, plus the header. */
    char text[PC_ITEMS_MAX * 120 + 512];
    pc_order_sort_items(order);
    int n = pc_order_canonical(order, text, sizeof text);
    pd_sha256_hex(text, n < 0 ? 0 : (size_t)n, out_hex);
}
