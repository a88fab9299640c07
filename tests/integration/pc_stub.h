/* pc_stub.h -- a small gateway + business receiver inside the integration
 * tests, on civetweb over loopback. It keeps trades in memory, counts every
 * call, and can pay a trade and deliver the signed callback like the real
 * gateway would. Knobs let a test make create hang or fail, make close
 * answer ORDERPAID, or make the business receiver refuse. */
#ifndef PC_STUB_H
#define PC_STUB_H

#include <civetweb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pd_proc.h"

#define STUB_TRADES_MAX 4096
#define STUB_EVENTS_MAX 4096
#define STUB_SECRET "gw-secret"
#define STUB_BIZ_SECRET "biz-secret"

struct stub_trade {
    char out_trade_no[72];
    char notify_url[256];
    char merchant_id[72];
    char currency[4];
    int64_t amount;
    char state[16];          /* NOTPAY, SUCCESS, CLOSED */
    int creates;             /* create calls for this number */
    int refunds;
};

struct stub_event {
    char event_id[72];
    char order_id[32];
    char status[16];
    int64_t seq;
    bool signature_ok;
};

struct stub {
    struct mg_context *ctx;
    int port;
    char url[64];             /* gateway base URL */
    char biz_url[80];         /* business receiver URL */
    pthread_mutex_t mu;
    struct stub_trade trades[STUB_TRADES_MAX];
    int n_trades;
    struct stub_event events[STUB_EVENTS_MAX];
    int n_events;
    int creates, queries, closes, refund_calls, biz_calls;
    /* knobs */
    int create_hang_ms;       /* sleep before answering create (after recording) */
    bool create_drop_record;  /* hang without recording the trade */
    int create_status;        /* 0 = normal 200 */
    bool auto_pay;            /* pay each trade right after create and call back */
    bool close_orderpaid;     /* close answers 409 ORDERPAID (and charges) */
    int query_status;         /* 0 = normal */
    int biz_status;           /* 0 = 200 */
};

/* Starts the stub on 127.0.0.1:0. Aborts the test on failure. */
void stub_start(struct stub *s);
void stub_stop(struct stub *s);

/* Marks the trade paid (SUCCESS). Returns false when unknown. */
bool stub_pay(struct stub *s, const char *out_trade_no);

/* Sends the signed SUCCESS callback for a trade to its notify_url (with a
 * fresh nonce). ts_offset_s shifts the timestamp; amount_delta changes the
 * amount; bad_sig corrupts the signature. Returns the HTTP status (0 when
 * none) and fills ack_body (may be NULL) with the answer. */
long stub_callback(struct stub *s, const char *out_trade_no, int64_t ts_offset_s,
                   int64_t amount_delta, bool bad_sig, const char *nonce_or_null,
                   char *ack_body, size_t ack_len);

/* The body of the SUCCESS callback stub_callback sends for a trade, and
 * the trade's notify_url. Returns 0, or -1 for an unknown trade. */
int stub_callback_body(struct stub *s, const char *out_trade_no, int64_t amount_delta,
                       char *body, size_t body_len, char *notify_url, size_t url_len);

/* Posts any body (len bytes) to notify_url, correctly signed with a fresh
 * nonce and the current time: what the receiver does with a genuine
 * gateway's unusual message. Returns the HTTP status (0 when none). */
long stub_callback_raw(const char *notify_url, const char *body, size_t len, char *ack_body,
                       size_t ack_len);

/* Count helpers under the lock. */
int stub_trade_count(struct stub *s);
int stub_creates_for(struct stub *s, const char *out_trade_no);
int stub_event_count(struct stub *s, const char *order_id);
const char *stub_trade_state(struct stub *s, const char *out_trade_no, char out[16]);

/* Starts payment-center with the stub's URLs, data dir and extra args
 * (NULL-terminated, may be NULL). Aborts on failure. */
void stub_start_pc(struct stub *s, const char *data_dir, const char *const *extra_args,
                   struct pd_proc *out);

/* Same, for a named binary ("payment-center" or "payment-center-zoo"). */
void stub_start_bin(struct stub *s, const char *bin, const char *data_dir,
                    const char *const *extra_args, struct pd_proc *out);

/* Same, with extra environment entries (NULL-terminated, may be NULL),
 * e.g. LD_PRELOAD of libfaketime and FAKETIME. */
void stub_start_bin_env(struct stub *s, const char *bin, const char *data_dir,
                        const char *const *extra_args, const char *const *extra_env,
                        struct pd_proc *out);

/* Submits a valid order with the given client_ref and amount; returns the
 * HTTP status and copies the order id. */
long pc_submit(const char *pc_url, const char *client_ref, int64_t amount, char order_id[32]);

/* GET /orders/{id} status into out[16]; "" when unreadable. */
void pc_status(const char *pc_url, const char *order_id, char out[16]);

/* Waits up to timeout_ms (real) for the order to reach status. */
bool pc_wait_status(const char *pc_url, const char *order_id, const char *status,
                    int64_t timeout_ms);

#endif
