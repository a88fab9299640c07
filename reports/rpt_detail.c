/* rpt_detail.c -- journal details as templates of their order and event.
 *
 * Most details repeat their order's key or order_id, or their event's
 * out_trade_no ("original client_ref=bench-10k-17 status=201"), so as the
 * journal writes them nearly every one is distinct: 60,006 of 130,000 at
 * 10,000 orders, 4.0 MB interned while the reports are written and again
 * in report.html. With those three values replaced by ~k, ~o and ~t they
 * are 29,551; the rest nearly all carry the order's amount ("charged
 * amount=77611") or the gateway's trade_no of the event's out_trade_no
 * ("trade_no=4200000008"), and with those as ~a and ~g a few dozen are
 * left. A literal ~ is written ~~, so every detail, hostile ones
 * included, comes back byte for byte; report.js expands them the same way
 * (docs/reports.md "Embedded data"). */
#include <stdio.h>
#include <string.h>

#include "pd_err.h"
#include "rpt_internal.h"

#define MARK '~'

static const char CODES[RPT_TMPL_N] = {'k', 'o', 't', 'a', 'g'};
/* Numbers are replaced only as whole tokens: an amount of 1 is not the 1
 * of "4200000001", a trade_no "42" not the start of "4200". */
static const bool WHOLE[RPT_TMPL_N] = {false, false, false, true, true};

/* report.js reads an amount as a double, exact below 2^53 only. */
#define AMOUNT_EXACT ((int64_t)1 << 53)

static bool ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The longest non-empty value that s starts with: its length, *which. A
 * whole-token value counts only when neither prev (the byte before s, or
 * NUL) nor the byte after it is an ASCII letter or digit. */
static size_t match_at(const char *s, char prev, const char *const vals[RPT_TMPL_N],
                       size_t *which)
{
    size_t best = 0;
    for (size_t v = 0; v < RPT_TMPL_N; v++) {
        size_t len = vals[v] ? strlen(vals[v]) : 0;
        if (len <= best || s[0] != vals[v][0] || strncmp(s, vals[v], len) != 0)
            continue;
        if (WHOLE[v] && (ascii_alnum(prev) || ascii_alnum(s[len])))
            continue;
        best = len;
        *which = v;
    }
    return best;
}

void rpt__detail_vals(const struct rpt__order *ord, const char *otn, const char *trade_no,
                      char amount[RPT_AMOUNT_CHARS], const char *vals[RPT_TMPL_N])
{
    vals[RPT_TMPL_KEY] = ord ? ord->key : NULL;
    vals[RPT_TMPL_ORDER] = ord ? ord->order_id : NULL;
    vals[RPT_TMPL_OTN] = otn;
    vals[RPT_TMPL_AMOUNT] = NULL;
    vals[RPT_TMPL_TRADE] = trade_no;
    if (ord != NULL && ord->amount > -AMOUNT_EXACT && ord->amount < AMOUNT_EXACT) {
        snprintf(amount, RPT_AMOUNT_CHARS, "%lld", (long long)ord->amount);
        vals[RPT_TMPL_AMOUNT] = amount;
    }
}

/* s when it is valid UTF-8 throughout, else NULL. report.html repairs each
 * string on its own, so a value that is not (a hostile key "\xA9") could
 * pair with the byte before it in the detail ("\xC3", making "é") before
 * the cut and not after: such a value is never made a placeholder. */
static const char *utf8_or_null(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n = s ? strlen(s) : 0; n > 0;) {
        uint32_t cp;
        size_t len = rpt__utf8_next(p, n, &cp);
        if (len == 1 && cp == 0xFFFD)
            return NULL;
        p += len;
        n -= len;
    }
    return s;
}

int rpt__detail_template(const char *s, const char *const given[RPT_TMPL_N], char *out,
                         size_t out_len)
{
    const char *vals[RPT_TMPL_N];
    for (size_t v = 0; v < RPT_TMPL_N; v++)
        vals[v] = utf8_or_null(given[v]);
    size_t n = 0;
    for (char prev = '\0'; *s != '\0'; prev = s[-1]) {
        size_t which = 0, len = match_at(s, prev, vals, &which);
        char a = *s, b = '\0';   /* a plain byte, or a two-byte code */
        if (len > 0 || a == MARK) {
            a = MARK;
            b = len > 0 ? CODES[which] : MARK;
        }
        if (n + (b != '\0' ? 2 : 1) >= out_len)
            return PD_ETOOBIG;
        out[n++] = a;
        if (b != '\0')
            out[n++] = b;
        s += len > 0 ? len : 1;
    }
    out[n] = '\0';
    return PD_OK;
}

int rpt__detail_expand(const char *tmpl, const char *const vals[RPT_TMPL_N], char *out,
                       size_t out_len)
{
    size_t n = 0;
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *piece = p;
        size_t len = 1;
        const char *code = p[0] == MARK && p[1] != '\0' ? memchr(CODES, p[1], RPT_TMPL_N) : NULL;
        if (code != NULL) {
            piece = vals[code - CODES] ? vals[code - CODES] : "";
            len = strlen(piece);
            p++;
        } else if (p[0] == MARK && p[1] == MARK) {
            p++;   /* ~~ is one ~; a ~ before anything else stays as written */
        }
        if (n + len >= out_len)
            return PD_ETOOBIG;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = '\0';
    return PD_OK;
}
