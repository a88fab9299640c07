/* gw_loop.c -- the epoll loop of gw_http.h: accept, read, parse, answer
 * refusals, run the fast hook, flush, send, time out, hand to workers.
 *
 * Ownership: a connection belongs to the loop thread (state C_LOOP or
 * C_LINGER) or to exactly one worker (C_WORKER); it moves through the two
 * queues under h->mu. Only the loop thread links, unlinks and frees
 * connections, so a worker never races with a close. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_http_internal.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_log.h"
#include "pd_time.h"

#define EVENTS_MAX 256         /* epoll events taken per iteration */
#define READ_CHUNK 65536       /* bytes read per readable event */
#define SWEEP_MIN_MS 100       /* timeouts are checked this often at most ... */
#define SWEEP_MAX_MS 1000      /* ... and at least (both x the time factor) */
#define LINGER_MS 2000         /* reading and dropping after a final answer */
#define WAKE_TAG ((void *)1)   /* epoll data of the wake-up eventfd */

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ? PD_EIO : PD_OK;
}

/* ---- connections ---- */

static void set_events(gw_http *h, gw_conn *c)
{
    uint32_t ev = 0;
    if (!c->peer_eof && (c->state == C_LINGER || c->close_after || c->in.len < GW__IN_MAX))
        ev |= EPOLLIN;
    if (c->out_off < c->out.len)
        ev |= EPOLLOUT;
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(h->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void close_conn(gw_http *h, gw_conn *c)
{
    if (c->state != C_WORKER)
        epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    h->n_conns--;
    pd_buf_release(&c->in);
    pd_buf_release(&c->out);
    free(c);
}

static void accept_one(gw_http *h, int fd)
{
    gw_conn *c = h->n_conns < GW_HTTP_CONN_MAX ? calloc(1, sizeof *c) : NULL;
    if (c == NULL || set_nonblocking(fd) != PD_OK) {
        free(c);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->h = h;
    c->fd = fd;
    c->last_ms = pd_mono_ms();
    pd_buf_init(&c->in, GW__IN_MAX + READ_CHUNK);
    pd_buf_init(&c->out, 0);
    c->events = EPOLLIN;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        free(c);
        close(fd);
        return;
    }
    c->next = h->conns;
    if (h->conns != NULL)
        h->conns->prev = c;
    h->conns = c;
    h->n_conns++;
}

/* Out of descriptors, the listening socket stays readable and a
 * level-triggered loop would spin on it: give up the spare descriptor,
 * accept the waiting connection and close it at once (the client sees its
 * connection end), then take the spare back. */
static void shed_one(gw_http *h)
{
    if (h->spare_fd < 0)
        return;
    close(h->spare_fd);
    int fd = accept(h->lfd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    PD_LOG(PD_LOG_WARN, "gw", "act=accept err=EMFILE shed=1 conns=%d", h->n_conns);
}

static void accept_all(gw_http *h)
{
    for (int i = 0; i < EVENTS_MAX; i++) {
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                shed_one(h);
            return;   /* EAGAIN, or a transient error: the next event retries */
        }
        accept_one(h, fd);
    }
}

static void touch(gw_http *h, gw_conn *c)
{
    if (c->touched)
        return;
    c->touched = true;
    c->touched_next = h->touched;
    h->touched = c;
}

/* Reads what is there. Returns false when the peer is gone (closed). */
static bool read_some(gw_http *h, gw_conn *c)
{
    char chunk[READ_CHUNK];
    size_t room = c->in.limit - c->in.len;
    bool discard = c->state == C_LINGER || c->close_after;
    if (!discard && room == 0)
        return true;
    ssize_t n = read(c->fd, chunk, discard || room > sizeof chunk ? sizeof chunk : room);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0) {
        c->peer_eof = true;
        return c->state != C_LINGER;
    }
    if (discard)
        return true;
    if (c->in.len == 0)
        c->req_start_ms = pd_mono_ms();
    c->last_ms = pd_mono_ms();
    (void)h;
    return pd_buf_append(&c->in, chunk, (size_t)n) == PD_OK;
}

/* Parses and answers (or queues for a worker) the complete requests. */
static void serve_input(gw_http *h, gw_conn *c)
{
    while (c->state == C_LOOP && !c->close_after && !c->want_worker &&
           c->out.len - c->out_off < GW__OUT_HIGH) {
        int st = gw__parse(c);
        if (st == 0)
            return;
        touch(h, c);
        if (st < 0)
            return;   /* refused: answered, close_after set */
        if (h->hooks.fast(h->hooks.ctx, c)) {
            c->inline_answered = true;
            gw__consume(c);
        } else {
            c->want_worker = true;
        }
    }
}

static void start_linger(gw_http *h, gw_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->linger_until_ms = pd_mono_ms() + h->linger_ms;
}

/* Sends what the connection owes. Returns false when it was closed. */
static bool send_out(gw_http *h, gw_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            close_conn(h, c);
            return false;
        }
        c->out_off += (size_t)n;
        c->last_ms = pd_mono_ms();
    }
    if (c->out_off < c->out.len)
        return true;
    c->out.len = c->out_off = 0;
    if (c->close_after && c->state == C_LOOP) {
        start_linger(h, c);
    } else if (c->peer_eof && !c->want_worker && c->state == C_LOOP) {
        close_conn(h, c);
        return false;
    }
    return true;
}

static void to_worker(gw_http *h, gw_conn *c)
{
    epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->events = 0;
    c->state = C_WORKER;
    pthread_mutex_lock(&h->mu);
    c->queue_next = NULL;
    if (h->work_tail != NULL)
        h->work_tail->queue_next = c;
    else
        h->work_head = c;
    h->work_tail = c;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* The end of an iteration: make the inline work durable, then send. */
static void end_iteration(gw_http *h)
{
    /* Even when nothing was answered inline: a declined request may have
     * opened the batch (a lookup before the decision) and it must end. */
    int rc = h->touched != NULL ? h->hooks.flush(h->hooks.ctx) : PD_OK;
    gw_conn *next;
    for (gw_conn *c = h->touched; c != NULL; c = next) {
        next = c->touched_next;
        c->touched = false;
        bool failed = rc != PD_OK && c->inline_answered;
        c->inline_answered = false;
        if (failed) {
            close_conn(h, c);
            continue;
        }
        if (!send_out(h, c))
            continue;
        if (c->want_worker && c->state == C_LOOP)
            to_worker(h, c);
        else if (c->state != C_WORKER)
            set_events(h, c);
    }
    h->touched = NULL;
}

/* Connections the workers are done with. */
static void take_back(gw_http *h)
{
    uint64_t v;
    if (read(h->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
        PD_LOG(PD_LOG_WARN, "gw", "act=loop_wake err=%d", errno);
    pthread_mutex_lock(&h->mu);
    gw_conn *c = h->back_head;
    h->back_head = NULL;
    pthread_mutex_unlock(&h->mu);
    gw_conn *next;
    for (; c != NULL; c = next) {
        next = c->queue_next;
        c->state = C_LOOP;
        if (c->dropped) {
            close_conn(h, c);
            continue;
        }
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(h->ep, EPOLL_CTL_ADD, c->fd, &e);
        c->last_ms = pd_mono_ms();
        if (c->in.len > 0)
            c->req_start_ms = c->last_ms;
        touch(h, c);
        serve_input(h, c);
    }
}

/* Closes connections past their timeout. */
static void sweep(gw_http *h, int64_t now)
{
    gw_conn *next;
    for (gw_conn *c = h->conns; c != NULL; c = next) {
        next = c->next;
        bool expired = false;
        if (c->state == C_LINGER)
            expired = now >= c->linger_until_ms;
        else if (c->state == C_LOOP && (c->in.len > 0 || c->out_off < c->out.len))
            expired = now - (c->in.len > 0 ? c->req_start_ms : c->last_ms) > h->request_ms;
        else if (c->state == C_LOOP)
            expired = now - c->last_ms > h->idle_ms;
        if (expired && !c->touched) {
            PD_LOG(PD_LOG_DEBUG, "gw", "act=conn_timeout fd=%d", c->fd);
            close_conn(h, c);
        }
    }
}

static void on_event(gw_http *h, const struct epoll_event *e)
{
    gw_conn *c = e->data.ptr;
    if (c->state == C_WORKER)
        return;
    if ((e->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !read_some(h, c)) {
        if (c->touched)
            c->peer_eof = true;   /* answered below, then closed */
        else
            close_conn(h, c);
        return;
    }
    touch(h, c);
    serve_input(h, c);
}

static void *loop_main(void *arg)
{
    gw_http *h = arg;
    struct epoll_event evs[EVENTS_MAX];
    int64_t next_sweep = pd_mono_ms() + h->tick_ms;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        int n = epoll_wait(h->ep, evs, EVENTS_MAX, (int)h->tick_ms);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(h);
            else if (evs[i].data.ptr == WAKE_TAG)
                take_back(h);
            else
                on_event(h, &evs[i]);
        }
        end_iteration(h);
        int64_t now = pd_mono_ms();
        if (now >= next_sweep) {
            sweep(h, now);
            next_sweep = now + h->tick_ms;
        }
    }
    return NULL;
}

/* ---- start and stop ---- */

static int bind_listen(const char *listen_text, int *out_fd, int *out_port)
{
    char host[64], port_text[16];
    int port = 0;
    if (pd_http_parse_listen(listen_text, host, &port) != PD_OK)
        return PD_EINVAL;
    snprintf(port_text, sizeof port_text, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port_text, &hints, &ai) != 0 || ai == NULL)
        return PD_EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int ok = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0 &&
             set_nonblocking(fd) == PD_OK;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!ok || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        if (fd >= 0)
            close(fd);
        return PD_EIO;
    }
    *out_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);   /* same offset in sin6 */
    *out_fd = fd;
    return PD_OK;
}

/* GW_HTTP_CONN_MAX connections need as many descriptors: raise the soft
 * limit toward the hard one, or the loop would meet EMFILE first. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = GW_HTTP_CONN_MAX + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static int add_fd(gw_http *h, int fd, void *tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &e) == 0 ? PD_OK : PD_EIO;
}

static int start_threads(gw_http *h, int workers)
{
    h->workers = calloc((size_t)workers, sizeof *h->workers);
    if (h->workers == NULL)
        return PD_ENOMEM;
    for (; h->n_workers < workers; h->n_workers++)
        if (pthread_create(&h->workers[h->n_workers], NULL, gw__worker_main, h) != 0)
            return PD_EIO;
    if (pthread_create(&h->loop_thread, NULL, loop_main, h) != 0)
        return PD_EIO;
    h->loop_started = true;
    return PD_OK;
}

int gw_http_start(const struct gw_http_opts *opts, const struct gw_http_hooks *hooks,
                  gw_http **out, int *out_port)
{
    *out = NULL;
    gw_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return PD_ENOMEM;
    double f = pd_http_time_factor();
    h->hooks = *hooks;
    h->idle_ms = (int64_t)((double)opts->idle_timeout_ms * f);
    h->request_ms = (int64_t)((double)opts->request_timeout_ms * f);
    h->linger_ms = (int64_t)(LINGER_MS * f);
    /* An eighth of the shortest timeout, within [100 ms, 1 s] x factor:
     * libfaketime divides epoll_wait's timeout by its speed-up, so a long
     * tick keeps an idle loop from spinning under a fast clock. */
    int64_t tick = (h->idle_ms < h->request_ms ? h->idle_ms : h->request_ms) / 8;
    int64_t lo = (int64_t)(SWEEP_MIN_MS * f), hi = (int64_t)(SWEEP_MAX_MS * f);
    h->tick_ms = tick < lo ? lo : tick > hi ? hi : tick;
    h->lfd = h->ep = h->wake_fd = -1;
    h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    raise_fd_limit();
    int rc = bind_listen(opts->listen, &h->lfd, out_port);
    if (rc == PD_OK && ((h->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
                        (h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0))
        rc = PD_EIO;
    rc = rc ? rc : add_fd(h, h->lfd, NULL);
    rc = rc ? rc : add_fd(h, h->wake_fd, WAKE_TAG);
    rc = rc ? rc : start_threads(h, opts->workers > 0 ? opts->workers : 1);
    if (rc != PD_OK) {
        gw_http_stop(h);
        return rc;
    }
    *out = h;
    return PD_OK;
}

void gw_http_stop(gw_http *h)
{
    if (h == NULL)
        return;
    __atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (h->wake_fd >= 0 && write(h->wake_fd, &one, sizeof one) < 0)
        PD_LOG(PD_LOG_WARN, "gw", "act=loop_stop_wake err=%d", errno);
    if (h->loop_started)
        pthread_join(h->loop_thread, NULL);
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < h->n_workers; i++)
        pthread_join(h->workers[i], NULL);
    free(h->workers);
    h->back_head = NULL;   /* every connection is still on h->conns */
    while (h->conns != NULL) {
        h->conns->state = C_WORKER;   /* no longer registered with epoll */
        close_conn(h, h->conns);
    }
    if (h->lfd >= 0)
        close(h->lfd);
    if (h->spare_fd >= 0)
        close(h->spare_fd);
    if (h->ep >= 0)
        close(h->ep);
    if (h->wake_fd >= 0)
        close(h->wake_fd);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
