/* Proves that payment-center acknowledges nothing before it is durable,
 * and that a crash leaves nothing half-applied, under load: the real
 * binary, a real SQLite file, CLIENTS concurrent clients over loopback
 * HTTP (keep-alive) each running orders through submit, a duplicate
 * resubmission, pay, and the gateway's signed SUCCESS callback, so that
 * every write transaction kind of the order flow is in the batches.
 *
 * KILLS times, at a random moment while they run (20-200 ms into the
 * traffic: the writer is then committing batch after batch), payment-center
 * is killed with SIGKILL -- every other time by the first client to get a
 * 2xx after that moment, the instant it arrives, while the answers of the
 * same batch are still on their way -- and restarted on the same data
 * folder and port;
 * then, before the clients go on, its export must hold:
 * - every order whose submit got a 201, with the facts submitted, and
 *   every order a 409 named as the original of a resubmission;
 * - every order whose pay got a 200/202 past UNPAID with its trade, and
 *   every order whose callback got a 200 PAID with its notification;
 * - nothing half-applied: each order is one the clients submitted (at most
 *   one per submission, duplicates included), with its amount and item, a
 *   history that is one chain from submit to its status, a trade when it
 *   left UNPAID and a notification when PAID.
 * The last stop is a SIGTERM with clients in flight: payment-center must
 * exit 0 in time (nobody left waiting for a commit), and the same holds.
 * The kills must have cut requests short (else they proved nothing).
 * Amounts, which orders go how far, and the kill moments are drawn from
 * PD_SEED (pd_test_fuzz_seed); thread timing differs from run to run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "pc_stub.h"
#include "pd_err.h"
#include "pd_http.h"
#include "pd_test.h"
#include "pd_time.h"
#include "pd_util.h"

#define CLIENTS 16
#define INTENTS_MAX 400     /* per client; about half pay: below STUB_TRADES_MAX */
#define KILLS 10
#define MISTAKES_MAX 256

enum { ACK_SUBMIT = 1, ACK_DUP = 2, ACK_PAY = 4, ACK_PAID = 8 };

/* One order a client means to run, and what payment-center acknowledged. */
struct intent {
    int64_t amount;
    int depth;              /* 0 submit, 1 + resubmit, 2 + pay, 3 + callback */
    char id[32];
    unsigned acked;
    const cJSON *seen;      /* its order in the export being checked */
};

struct client {
    struct crash *cr;
    int no;
    uint64_t rng;
    pd_http_client *http;
    struct intent in[INTENTS_MAX];
    int n;
    long unanswered;        /* requests cut short by a kill */
    char mistake[MISTAKES_MAX];     /* the first unexpected answer */
};

struct crash {
    struct stub stub;
    struct pd_proc pc;
    char dir[256];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool up, stop;
    bool kill_armed;        /* (atomic) the next client to get a 2xx kills payment-center */
    int parked;             /* clients waiting for up */
    int finished;           /* clients out of intents */
    struct client clients[CLIENTS];
};

/* Waits while payment-center is down; false once the test stops. */
static bool wait_up(struct client *c)
{
    struct crash *cr = c->cr;
    pthread_mutex_lock(&cr->mu);
    if (!cr->up && !cr->stop) {
        cr->parked++;
        pthread_cond_broadcast(&cr->cv);
        while (!cr->up && !cr->stop)
            pthread_cond_wait(&cr->cv, &cr->mu);
        cr->parked--;
    }
    bool go = !cr->stop;
    pthread_mutex_unlock(&cr->mu);
    return go;
}

static void mistake(struct client *c, const char *fmt, ...)
{
    if (c->mistake[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->mistake, sizeof c->mistake, fmt, ap);
    va_end(ap);
}

/* After a 2xx: when a kill is armed, this client fires it, at once, while
 * the answers of the same batch are on their way to the other clients. */
static void maybe_kill(struct client *c, long status)
{
    struct crash *cr = c->cr;
    if (status < 200 || status > 299 || !__atomic_load_n(&cr->kill_armed, __ATOMIC_SEQ_CST))
        return;
    pthread_mutex_lock(&cr->mu);
    if (__atomic_exchange_n(&cr->kill_armed, false, __ATOMIC_SEQ_CST)) {
        kill(cr->pc.pid, SIGKILL);
        cr->up = false;
        pthread_cond_broadcast(&cr->cv);
    }
    pthread_mutex_unlock(&cr->mu);
}

/* One request on the client's keep-alive connection. Returns the status,
 * 0 when no answer came (counted); the body's "order_id" into id_out. */
static long request(struct client *c, const char *path, const char *body, char id_out[32])
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", c->cr->pc.url, path);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct pd_http_resp resp;
    int rc = pd_http_request(c->http, "POST", url, headers, body, body ? strlen(body) : 0,
                             10000, 0, &resp);
    long status = rc == PD_OK ? resp.status : 0;
    maybe_kill(c, status);
    if (id_out != NULL) {
        cJSON *j = status != 0 && resp.body ? cJSON_Parse(resp.body) : NULL;
        const cJSON *id = cJSON_GetObjectItem(j, "order_id");
        pd_strlcpy(id_out, cJSON_IsString(id) ? id->valuestring : "", 32);
        cJSON_Delete(j);
    }
    pd_http_resp_release(&resp);
    c->unanswered += status == 0;
    return status;
}

/* True when the answer is one a kill explains (none, or a 5xx), else a
 * mistake unless it is one of the expected statuses a and b. */
static bool cut_short(struct client *c, long status, long a, long b, const char *what)
{
    if (status == 0 || status >= 500)
        return true;
    if (status != a && status != b)
        mistake(c, "%s answered %ld", what, status);
    return false;
}

/* Runs intent i as far as its depth says, stopping at the first answer
 * a kill explains; records each acknowledgement. */
static void run_intent(struct client *c, int i, struct intent *it)
{
    char body[512], path[128], dup[32], otn[72];
    snprintf(body, sizeof body,
             "{\"merchant_id\":\"m-crash\",\"user_id\":\"u-%d-%d\",\"items\":[{\"sku\":"
             "\"sku-1\",\"qty\":1,\"unit_amount\":%" PRId64 "}],\"amount\":%" PRId64 ","
             "\"currency\":\"CNY\",\"client_ref\":\"k%d-%d\"}",
             c->no, i, it->amount, it->amount, c->no, i);
    long st = request(c, "/orders", body, it->id);
    if (cut_short(c, st, 201, 201, "submit") || st != 201)
        return;
    it->acked |= ACK_SUBMIT;
    if (it->depth >= 1) {
        st = request(c, "/orders", body, dup);
        if (cut_short(c, st, 409, 409, "resubmit") || st != 409)
            return;
        if (strcmp(dup, it->id) != 0)
            mistake(c, "resubmission of %s: 409 names %s", it->id, dup);
        it->acked |= ACK_DUP;
    }
    if (it->depth >= 2) {
        snprintf(path, sizeof path, "/orders/%s/pay", it->id);
        st = request(c, path, NULL, NULL);
        if (cut_short(c, st, 200, 202, "pay") || (st != 200 && st != 202))
            return;
        it->acked |= ACK_PAY;
        if (st == 202)          /* the create's outcome is unknown: no callback */
            return;
    }
    if (it->depth >= 3) {
        snprintf(otn, sizeof otn, "%s-1", it->id);
        stub_pay(&c->cr->stub, otn);
        st = stub_callback(&c->cr->stub, otn, 0, 0, false, NULL, NULL, 0);
        maybe_kill(c, st);
        c->unanswered += st == 0;
        if (cut_short(c, st, 200, 200, "callback") || st != 200)
            return;
        it->acked |= ACK_PAID;
    }
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    c->http = pd_http_client_new();
    while (c->n < INTENTS_MAX && wait_up(c)) {
        struct intent *it = &c->in[c->n];
        it->amount = 100 + (int64_t)(pd_test_rand(&c->rng) % 100000);
        it->depth = (int)(pd_test_rand(&c->rng) % 4);
        c->n++;
        run_intent(c, c->n - 1, it);
    }
    pd_http_client_free(c->http);
    pthread_mutex_lock(&c->cr->mu);
    c->cr->finished++;
    pthread_cond_broadcast(&c->cr->cv);
    pthread_mutex_unlock(&c->cr->mu);
    return NULL;
}

/* ---- the export against what was acknowledged ---- */

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The intent an exported order was submitted for, NULL when none. */
static struct intent *intent_of(struct crash *cr, const cJSON *o)
{
    int k = -1, i = -1, end = 0;
    const char *ref = str(o, "client_ref");
    if (sscanf(ref, "k%d-%d%n", &k, &i, &end) != 2 || ref[end] != '\0' || k < 0 ||
        k >= CLIENTS || i < 0 || i >= cr->clients[k].n)
        return NULL;
    return &cr->clients[k].in[i];
}

/* Whether the history is one chain from submit to the order's status. */
static bool history_whole(const cJSON *o)
{
    const cJSON *h = cJSON_GetObjectItem(o, "history"), *step;
    const char *at = NULL;
    cJSON_ArrayForEach(step, h) {
        const cJSON *from = cJSON_GetObjectItem(step, "from");
        if (at == NULL ? !cJSON_IsNull(from) || strcmp(str(step, "cause"), "submit") != 0
                       : strcmp(str(step, "from"), at) != 0)
            return false;
        at = str(step, "to");
    }
    return at != NULL && strcmp(at, str(o, "status")) == 0;
}

static bool has_entry(const cJSON *o, const char *list, const char *key, const char *value)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, list))
        if (strcmp(str(e, key), value) == 0)
            return true;
    return false;
}

/* Empty when the exported order is whole, else what is wrong with it. */
static void check_whole(struct crash *cr, const cJSON *o, char *why, size_t why_len)
{
    struct intent *it = intent_of(cr, o);
    const char *id = str(o, "order_id"), *status = str(o, "status");
    const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"), 0);
    char otn[72];
    snprintf(otn, sizeof otn, "%s-1", id);
    why[0] = '\0';
    if (it == NULL)
        snprintf(why, why_len, "submitted by no client");
    else if (it->seen != NULL)
        snprintf(why, why_len, "a second order for one submission");
    else if (num(o, "amount") != (double)it->amount || num(item, "unit_amount") !=
             (double)it->amount || num(item, "qty") != 1 || str(o, "fingerprint")[0] == '\0')
        snprintf(why, why_len, "facts differ from the submission");
    else if (!history_whole(o))
        snprintf(why, why_len, "history is not one chain from submit to %s", status);
    else if (strcmp(status, "UNPAID") != 0 && !has_entry(o, "trades", "out_trade_no", otn))
        snprintf(why, why_len, "%s without its trade", status);
    else if (strcmp(status, "PAID") == 0 && !has_entry(o, "notifications", "status", "PAID"))
        snprintf(why, why_len, "PAID without its notification");
    if (it != NULL && why[0] == '\0')
        it->seen = o;
}

/* Empty when what was acknowledged of the intent is in the export. */
static void check_acked(const struct intent *it, char *why, size_t why_len)
{
    const char *status = it->seen ? str(it->seen, "status") : "";
    why[0] = '\0';
    if (it->acked == 0)
        return;
    if (it->seen == NULL || strcmp(str(it->seen, "order_id"), it->id) != 0)
        snprintf(why, why_len, "acknowledged (201) but not in the export");
    else if ((it->acked & ACK_PAY) && strcmp(status, "UNPAID") == 0)
        snprintf(why, why_len, "pay acknowledged but UNPAID");
    else if ((it->acked & ACK_PAID) && strcmp(status, "PAID") != 0)
        snprintf(why, why_len, "callback acknowledged but %s", status);
}

/* The whole export, page by page, into one array (caller frees). */
static cJSON *export_all(const char *pc_url)
{
    cJSON *all = cJSON_CreateArray();
    char after[40] = "";
    for (int page = 0; page < 100; page++) {
        char url[256];
        snprintf(url, sizeof url, "%s/orders?limit=5000%s%s", pc_url, after[0] ? "&after=" : "",
                 after);
        cJSON *j = NULL;
        assert_int_equal(pd_test_http_json("GET", url, NULL, NULL, &j), 200);
        cJSON *orders = cJSON_DetachItemFromObject(j, "orders"), *o;
        assert_non_null(orders);
        while ((o = cJSON_DetachItemFromArray(orders, 0)) != NULL)
            cJSON_AddItemToArray(all, o);
        cJSON_Delete(orders);
        const cJSON *next = cJSON_GetObjectItem(j, "next_after");
        bool more = cJSON_IsString(next);
        if (more)
            pd_strlcpy(after, next->valuestring, sizeof after);
        cJSON_Delete(j);
        if (!more)
            return all;
    }
    fail_msg("the export did not end");
    return all;
}

static void check_export(struct crash *cr, int stop_no)
{
    cJSON *all = export_all(cr->pc.url);
    const cJSON *o;
    char why[160];
    for (int k = 0; k < CLIENTS; k++)
        for (int i = 0; i < cr->clients[k].n; i++)
            cr->clients[k].in[i].seen = NULL;
    cJSON_ArrayForEach(o, all) {
        check_whole(cr, o, why, sizeof why);
        if (why[0] != '\0')
            fail_msg("after stop %d: order %s (%s, %s): %s", stop_no, str(o, "order_id"),
                     str(o, "client_ref"), str(o, "status"), why);
    }
    int acked = 0;
    for (int k = 0; k < CLIENTS; k++) {
        assert_string_equal(cr->clients[k].mistake, "");
        for (int i = 0; i < cr->clients[k].n; i++) {
            const struct intent *it = &cr->clients[k].in[i];
            check_acked(it, why, sizeof why);
            if (why[0] != '\0')
                fail_msg("after stop %d: k%d-%d (order %s, acked 0x%x): %s", stop_no, k, i,
                         it->id, it->acked, why);
            acked += it->acked != 0;
        }
    }
    print_message("stop %d: %d orders in the export, %d acknowledged, all whole\n", stop_no,
                  cJSON_GetArraySize(all), acked);
    cJSON_Delete(all);
}

/* ---- the run ---- */

/* Waits until every client still running is parked: none is between a
 * request and the record of its answer. */
static void wait_parked(struct crash *cr)
{
    pthread_mutex_lock(&cr->mu);
    int64_t end = pd_mono_ms() + 60000;
    while (cr->parked + cr->finished < CLIENTS && pd_mono_ms() < end) {
        struct timespec ts = pd_mono_deadline(100);
        pthread_cond_timedwait(&cr->cv, &cr->mu, &ts);
    }
    assert_int_equal(cr->parked + cr->finished, CLIENTS);
    pthread_mutex_unlock(&cr->mu);
}

static void set_up(struct crash *cr, bool up)
{
    pthread_mutex_lock(&cr->mu);
    cr->up = up;
    pthread_cond_broadcast(&cr->cv);
    pthread_mutex_unlock(&cr->mu);
}

/* Arms the kill for the next client that gets a 2xx, waits (5 s at most,
 * then kills itself) and reaps the process. */
static void fire_at_next_ack(struct crash *cr)
{
    pthread_mutex_lock(&cr->mu);
    __atomic_store_n(&cr->kill_armed, true, __ATOMIC_SEQ_CST);
    int64_t end = pd_mono_ms() + 5000;
    while (__atomic_load_n(&cr->kill_armed, __ATOMIC_SEQ_CST) && pd_mono_ms() < end) {
        struct timespec ts = pd_mono_deadline(100);
        pthread_cond_timedwait(&cr->cv, &cr->mu, &ts);
    }
    __atomic_store_n(&cr->kill_armed, false, __ATOMIC_SEQ_CST);
    cr->up = false;
    pthread_mutex_unlock(&cr->mu);
    pd_proc_kill9(&cr->pc);
}

static void kill_restart_check(void **state)
{
    (void)state;
    static struct crash cr;
    memset(&cr, 0, sizeof cr);
    uint64_t seed = pd_test_fuzz_seed(0xc0ffee5eed), rng = seed;
    print_message("PD_SEED=%" PRIu64 "\n", seed);
    pthread_mutex_init(&cr.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cr.cv, &ca);
    stub_start(&cr.stub);
    pd_test_tmpdir(cr.dir);
    stub_start_pc(&cr.stub, cr.dir, NULL, &cr.pc);
    char listen[64];   /* the trades' notify_url names this port: keep it */
    snprintf(listen, sizeof listen, "127.0.0.1:%s", strrchr(cr.pc.url, ':') + 1);
    const char *same_port[] = {"--listen", listen, NULL};
    pthread_t tid[CLIENTS];
    cr.up = true;
    for (int k = 0; k < CLIENTS; k++) {
        cr.clients[k] = (struct client){.cr = &cr, .no = k, .rng = pd_test_rand(&rng)};
        assert_int_equal(pthread_create(&tid[k], NULL, client_main, &cr.clients[k]), 0);
    }
    for (int stop = 1; stop <= KILLS + 1; stop++) {
        pd_sleep_ms(20 + (int64_t)(pd_test_rand(&rng) % 181));
        pthread_mutex_lock(&cr.mu);
        int running = CLIENTS - cr.finished;
        pthread_mutex_unlock(&cr.mu);
        assert_true(running > 0);   /* else INTENTS_MAX is too small for this machine */
        if (stop % 2 == 1 && stop <= KILLS) {
            fire_at_next_ack(&cr);
        } else {
            set_up(&cr, false);
            if (stop <= KILLS) {
                pd_proc_kill9(&cr.pc);
            } else {
                /* Shutdown with callers in flight: each is answered, none waits. */
                int status = pd_proc_stop(&cr.pc, 20000);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
            }
        }
        wait_parked(&cr);
        stub_start_pc(&cr.stub, cr.dir, same_port, &cr.pc);
        check_export(&cr, stop);
        set_up(&cr, true);
    }
    pthread_mutex_lock(&cr.mu);
    cr.stop = true;
    pthread_cond_broadcast(&cr.cv);
    pthread_mutex_unlock(&cr.mu);
    long unanswered = 0;
    for (int k = 0; k < CLIENTS; k++) {
        pthread_join(tid[k], NULL);
        unanswered += cr.clients[k].unanswered;
    }
    print_message("%ld requests cut short by the stops\n", unanswered);
    assert_true(unanswered >= KILLS);   /* the kills landed amid the traffic */
    pd_proc_kill9(&cr.pc);
    stub_stop(&cr.stub);
    pd_test_rmdir(cr.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill_restart_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
