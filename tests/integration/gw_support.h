/* gw_support.h -- what mock-gateway's integration tests share: a real
 * callback receiver on loopback (civetweb inside the test) that records
 * every arrival, and helpers to start the real mock-gateway binary and drive
 * it over HTTP. */
#ifndef GW_SUPPORT_H
#define GW_SUPPORT_H

#include <cjson/cJSON.h>
#include <civetweb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pd_proc.h"

#define GW_RX_MAX 4096
#define GW_T_SECRET "test-secret"

enum gw_rx_answer { GW_RX_ACK = 0, GW_RX_FAIL_500, GW_RX_PLAIN_SUCCESS, GW_RX_JSON_FAIL };

struct gw_rx_arrival {
    int64_t in_ms, out_ms;        /* real monotonic ms at the receiver */
    char ts[32], nonce[80], sig[80];
    char *body;
    int verdict;                  /* pd_verify with GW_T_SECRET */
    int answered;                 /* HTTP status answered */
};

struct gw_rx {
    struct mg_context *ctx;
    int port;
    char url[128];                /* http://127.0.0.1:PORT/notify */
    pthread_mutex_t mu;
    struct gw_rx_arrival a[GW_RX_MAX];
    int n;                        /* arrivals recorded (answered) */
    int seen;                     /* arrivals begun */
    /* behaviour, set before traffic */
    int fail_first;               /* answer 500 to the first N arrivals */
    enum gw_rx_answer answer;     /* then this */
    int delay_ms;                 /* sleep before answering */
};

void gw_rx_start(struct gw_rx *rx);
void gw_rx_stop(struct gw_rx *rx);
int gw_rx_count(struct gw_rx *rx);
/* Arrivals whose body contains needle. */
int gw_rx_count_body(struct gw_rx *rx, const char *needle);

/* Starts mock-gateway on 127.0.0.1:0 with data_dir, the test secret, and
 * extra arguments (NULL-terminated, may be NULL) and environment. A
 * gateway still running when the test program exits is killed then
 * (pd_proc's exit hook), also after a failed assertion. */
void gw_t_start(struct pd_proc *p, const char *data_dir, const char *const *extra_args,
                const char *const *env);

/* A gateway on a fresh temporary folder, for cmocka setup and teardown. */
struct gw_t_fixture {
    char dir[256];
    char data[300];             /* dir/data: the gateway's --data-dir */
    struct pd_proc gw;
};
void gw_t_fixture_start(struct gw_t_fixture *f, const char *const *extra_args);
void gw_t_fixture_stop(struct gw_t_fixture *f);   /* SIGKILL, then rm -rf dir */

/* Writes text to dir/name and returns the path in out[512]. */
void gw_t_write(const char *dir, const char *name, const char *text, char out[512]);

/* Creates a trade (attach may be NULL). Returns the HTTP status. */
long gw_t_create(const char *url, const char *otn, int64_t amount, const char *notify_url,
                 const char *attach);
long gw_t_pay(const char *url, const char *otn);
long gw_t_get(const char *url, const char *path, cJSON **out);

/* Waits (real time, up to timeout_ms) until /sim/status says nothing is
 * pending nor in flight. Returns true when quiet. */
bool gw_t_wait_quiet(const char *url, int64_t timeout_ms);

/* GET /sim/journal parsed into a JSON array of lines (caller deletes). */
cJSON *gw_t_journal(const char *url);

/* The trade of out_trade_no in GET /sim/ledger (a detached copy), or NULL. */
cJSON *gw_t_ledger_trade(const char *url, const char *otn);

/* Journal lines with op and out_trade_no (NULL = any). */
int gw_t_count_lines(cJSON *journal, const char *op, const char *otn, const char *fault);

#endif
