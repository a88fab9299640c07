/* pd_sign.h -- the HMAC-SHA256 message signature of the gateway protocol.
 *
 * signature = lowercase hex HMAC-SHA256(secret, ts + "\n" + nonce + "\n" + body)
 *
 * Gateway callbacks (X-Gateway-*) and business notifications (X-Paydrill-*)
 * use the same scheme with different secrets and header names. */
#ifndef PD_SIGN_H
#define PD_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define PD_SIG_HEX_LEN 64   /* characters, without the terminating NUL */
#define PD_NONCE_LEN 32     /* characters of a generated nonce */
#define PD_NONCE_MAX 64     /* longest nonce a verifier accepts */

/* Writes the 64-char hex signature plus NUL into out_hex[65].
 * Returns 0 or PD_EINVAL (NULL secret). */
int pd_sign(const char *secret, int64_t ts_s, const char *nonce,
            const char *body, size_t body_len, char out_hex[PD_SIG_HEX_LEN + 1]);

enum pd_verdict {
    PD_SIG_OK = 0,
    PD_SIG_MISSING,     /* a header is absent or malformed */
    PD_SIG_BAD,         /* signature does not match */
    PD_SIG_STALE        /* timestamp outside the tolerance */
};

/* Checks a received message. ts_text, nonce and sig_hex are the raw header
 * values (any may be NULL). now_s is the receiver's clock; tolerance_s the
 * freshness window, applied both ways (future timestamps too).
 * The comparison is constant-time. Returns a pd_verdict. */
int pd_verify(const char *secret, const char *ts_text, const char *nonce,
              const char *sig_hex, const char *body, size_t body_len,
              int64_t now_s, int64_t tolerance_s);

/* Human-readable reason for a verdict ("bad_signature", "stale_timestamp"...). */
const char *pd_verdict_name(int verdict);

/* Fills out[PD_NONCE_LEN + 1] with random hex from the OS (getrandom).
 * Returns 0 or PD_EIO. */
int pd_nonce(char out[PD_NONCE_LEN + 1]);

/* Writes lowercase hex SHA-256 of data into out_hex[65]. */
void pd_sha256_hex(const void *data, size_t len, char out_hex[PD_SIG_HEX_LEN + 1]);

#endif
