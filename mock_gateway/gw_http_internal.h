/* gw_http_internal.h -- the connection and server structs shared by
 * gw_loop.c (the epoll loop) and gw_http.c (parser, answers, workers). */
#ifndef GW_HTTP_INTERNAL_H
#define GW_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw_http.h"
#include "pd_buf.h"

#define GW__IN_MAX (GW_HTTP_HEADER_MAX + GW_HTTP_BODY_MAX)   /* bytes buffered per connection */
#define GW__OUT_HIGH (256u * 1024)   /* unsent answer bytes above which no request is parsed */

enum gw__conn_state {
    C_LOOP = 0,    /* the loop reads, parses and answers */
    C_WORKER,      /* a worker runs its current request */
    C_LINGER       /* answered for the last time; reading and dropping until EOF */
};

struct gw_conn {
    gw_http *h;
    int fd;
    enum gw__conn_state state;
    uint32_t events;             /* registered with epoll */
    struct pd_buf in;            /* received, not yet consumed */
    struct pd_buf out;           /* answers not yet sent (from out_off) */
    size_t out_off;
    size_t req_len;              /* bytes of the current complete request in `in` */
    size_t head_len;             /* bytes of its request line and headers */
    size_t scanned;              /* bytes of `in` searched for the end of the head */
    struct gw_request req;
    bool close_after;            /* close once the answer is sent */
    bool peer_eof;
    bool dropped;                /* gw_conn_drop: closed without an answer */
    bool want_worker;            /* the current request goes to a worker */
    bool inline_answered;        /* fast answered something this iteration */
    bool continue_sent;          /* 100 Continue sent for the current request */
    bool touched;                /* on h->touched */
    int64_t last_ms;             /* pd_mono_ms of the last progress */
    int64_t req_start_ms;        /* first byte of the pending request */
    int64_t linger_until_ms;
    gw_conn *prev, *next;        /* h->conns (loop thread only) */
    gw_conn *touched_next;
    gw_conn *queue_next;         /* work or back queue (under h->mu) */
};

struct gw_http {
    struct gw_http_hooks hooks;
    int64_t idle_ms, request_ms, linger_ms;   /* scaled by the time factor */
    int64_t tick_ms;             /* epoll_wait timeout and sweep period, scaled */
    int lfd, ep, wake_fd;
    int spare_fd;                /* /dev/null, given up to shed a connection at EMFILE */
    int stop;                    /* atomic */
    pthread_t loop_thread;
    bool loop_started;
    pthread_t *workers;
    int n_workers;
    pthread_mutex_t mu;          /* the two queues and `stopping` */
    pthread_cond_t cv;
    gw_conn *work_head, *work_tail;
    gw_conn *back_head;
    bool stopping;
    gw_conn *conns;              /* every open connection */
    int n_conns;
    gw_conn *touched;            /* this iteration's connections */
};

/* Parses the next request of c->in. Returns 1 (complete: c->req filled),
 * 0 (needs more bytes), -1 (refused: the answer is queued, close_after). */
int gw__parse(gw_conn *c);
/* Drops the current request from c->in after it was answered. */
void gw__consume(gw_conn *c);
/* A worker thread's body. */
void *gw__worker_main(void *arg);

#endif
