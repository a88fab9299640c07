/* check_model.c -- arena, interning, maps and the record adders of the
 * checker's model. Each adder reads one element with a small "reader" that
 * remembers the first error, so a record's fields read as a flat list. */
#include "check_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_assert.h"
#include "pd_err.h"
#include "pd_rand.h"

#define STR_MAX 4096

/* Records hold nothing wider than 8 bytes (int64_t, pointers): 8-byte
 * alignment is enough, and an order's four small arrays lose ~20 bytes of
 * rounding each to 16. */
void *sim__arena_alloc(struct pd_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    void *p = pd_arena_take(a, n, 8);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

int sim__vec_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return PD_OK;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * elem);
    if (nv == NULL)
        return PD_ENOMEM;
    *v = nv;
    *cap = ncap;
    return PD_OK;
}

/* ---- strings: packed in fixed chunks, named by 4-byte ids ---- */

/* Copies s (len bytes and its NUL) into the chunks; 0 on OOM or when the
 * id space (65,536 chunks of 64 KiB) is used up. */
static sim_sid strs_add(struct sim_strs *st, const char *s, size_t len)
{
    PD_ASSERT(len < SIM_STR_CHUNK);
    if (st->n == 0 || st->used + len + 1 > SIM_STR_CHUNK) {
        if (st->n == SIM_STR_CHUNK)   /* ids are chunk << 16: 65,536 chunks */
            return 0;
        if (st->n == st->cap) {
            uint32_t ncap = st->cap ? st->cap * 2 : 16;
            char **nc = realloc(st->chunks, ncap * sizeof *nc);
            if (nc == NULL)
                return 0;
            st->chunks = nc;
            st->cap = ncap;
        }
        if ((st->chunks[st->n] = malloc(SIM_STR_CHUNK)) == NULL)
            return 0;
        st->used = st->n == 0;   /* offset 0 of chunk 0 would be id 0: skip it */
        st->n++;
    }
    sim_sid id = (st->n - 1) << 16 | st->used;
    memcpy(st->chunks[st->n - 1] + st->used, s, len + 1);
    st->used += (uint32_t)len + 1;
    return id;
}

static void strs_free(struct sim_strs *st)
{
    for (uint32_t i = 0; i < st->n; i++)
        free(st->chunks[i]);
    free(st->chunks);
    memset(st, 0, sizeof *st);
}

bool sim__s_eq(const struct sim_model *m, sim_sid id, const char *s)
{
    const char *a = sim__s(m, id);
    return a == s || (a != NULL && s != NULL && strcmp(a, s) == 0);
}

/* The intern table and the maps grow past 3/4 full: linear probing over
 * 4- and 8-byte slots stays short (2.5 probes a hit on average) and at
 * 10,000 orders each map is 128 KiB instead of 256. */
static bool too_full(size_t n, size_t cap)
{
    return (n + 1) * 4 > cap * 3;
}

static int intern_grow(struct sim_model *m)
{
    struct sim_intern *in = &m->intern;
    size_t ncap = in->cap ? in->cap * 2 : 1024;
    sim_sid *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return PD_ENOMEM;
    for (size_t i = 0; i < in->cap; i++) {
        if (in->slots[i] == 0)
            continue;
        size_t h = (size_t)pd_hash_str(sim__s(m, in->slots[i])) & (ncap - 1);
        while (ns[h] != 0)
            h = (h + 1) & (ncap - 1);
        ns[h] = in->slots[i];
    }
    free(in->slots);
    in->slots = ns;
    in->cap = ncap;
    return PD_OK;
}

static size_t intern_slot(const struct sim_model *m, const char *s)
{
    const struct sim_intern *in = &m->intern;
    size_t h = (size_t)pd_hash_str(s) & (in->cap - 1);
    while (in->slots[h] != 0 && strcmp(sim__s(m, in->slots[h]), s) != 0)
        h = (h + 1) & (in->cap - 1);
    return h;
}

sim_sid sim__intern_find(const struct sim_model *m, const char *s)
{
    if (s == NULL || m->intern.cap == 0)
        return 0;
    return m->intern.slots[intern_slot(m, s)];
}

sim_sid sim__intern(struct sim_model *m, const char *s, bool *oom)
{
    if (s == NULL)
        return 0;
    PD_ASSERT(!m->sealed);   /* maps are keyed by id: no new strings after link */
    struct sim_intern *in = &m->intern;
    if (too_full(in->n, in->cap) && intern_grow(m) != PD_OK) {
        *oom = true;
        return 0;
    }
    size_t h = intern_slot(m, s);
    if (in->slots[h] != 0)
        return in->slots[h];
    sim_sid id = strs_add(&m->strs, s, strlen(s));
    if (id == 0) {
        *oom = true;
        return 0;
    }
    in->slots[h] = id;
    in->n++;
    return id;
}

/* ---- maps: string id -> index ---- */

static size_t id_hash(sim_sid id)
{
    return (size_t)pd_mix64(id);
}

static int map_grow(struct sim_map *map)
{
    size_t ncap = map->cap ? map->cap * 2 : 256;
    struct sim_map_slot *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return PD_ENOMEM;
    for (size_t i = 0; i < map->cap; i++) {
        if (map->slots[i].key == 0)
            continue;
        size_t h = id_hash(map->slots[i].key) & (ncap - 1);
        while (ns[h].key != 0)
            h = (h + 1) & (ncap - 1);
        ns[h] = map->slots[i];
    }
    free(map->slots);
    map->slots = ns;
    map->cap = ncap;
    return PD_OK;
}

static int map_store(struct sim_map *map, sim_sid key, int32_t val, bool replace)
{
    if (key == 0)
        return PD_OK;
    if (too_full(map->n, map->cap) && map_grow(map) != PD_OK)
        return PD_ENOMEM;
    size_t h = id_hash(key) & (map->cap - 1);
    while (map->slots[h].key != 0 && map->slots[h].key != key)
        h = (h + 1) & (map->cap - 1);
    if (map->slots[h].key == 0) {
        map->slots[h] = (struct sim_map_slot){.key = key, .val = val};
        map->n++;
    } else if (replace) {
        map->slots[h].val = val;
    }
    return PD_OK;
}

int sim__map_put(struct sim_map *map, sim_sid key, int32_t val)
{
    return map_store(map, key, val, false);
}

int sim__map_set(struct sim_map *map, sim_sid key, int32_t val)
{
    return map_store(map, key, val, true);
}

int32_t sim__map_get(const struct sim_map *map, sim_sid key)
{
    if (key == 0 || map->cap == 0)
        return SIM_NONE;
    size_t h = id_hash(key) & (map->cap - 1);
    while (map->slots[h].key != 0) {
        if (map->slots[h].key == key)
            return map->slots[h].val;
        h = (h + 1) & (map->cap - 1);
    }
    return SIM_NONE;
}

void sim__map_free(struct sim_map *map)
{
    free(map->slots);
    memset(map, 0, sizeof *map);
}

uint8_t sim__status_of(const char *s)
{
    static const char *const names[] = {"UNPAID", "PAYING", "UNKNOWN", "PAID", "CLOSED"};
    if (s == NULL)
        return SIM_ST_NULL;
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return (uint8_t)(SIM_ST_UNPAID + i);
    return SIM_ST_OTHER;
}

void sim__model_init(struct sim_model *m)
{
    memset(m, 0, sizeof *m);
}

void sim__model_free(struct sim_model *m)
{
    if (m == NULL)
        return;
    free(m->trades.v);
    free(m->orders.v);
    free(m->receipts.v);
    free(m->subs.v);
    free(m->paycalls.v);
    free(m->payer.v);
    free(m->gj.v);
    free(m->gjx.v);
    free(m->pevents.v);
    free(m->bqueries.v);
    sim__map_free(&m->trade_by_otn);
    sim__map_free(&m->order_by_id);
    sim__map_free(&m->order_by_ref);
    sim__map_free(&m->ptrade_owner);
    sim__map_free(&m->sub_original);
    free(m->intern.slots);
    free(m->gj_file);
    cJSON_Delete(m->run.sut);
    strs_free(&m->strs);
    pd_arena_free(&m->arena);
    memset(m, 0, sizeof *m);
}

/* ---- the reader: typed field access that keeps the first error ---- */

struct rd {
    struct sim_model *m;
    const cJSON *el;
    const char *path;
    struct pd_json_err *err;
    int rc;
};

static void rd_fail(struct rd *r, const char *key, const char *what)
{
    if (r->rc != PD_OK)
        return;
    r->rc = pd_json_fail(r->err, "%s%s%s: %s", r->path, *r->path ? "." : "", key, what);
}

/* The string under key, checked (a string of at most 4 KiB), not interned;
 * NULL when null, absent or wrong (then r->rc is set). */
static const char *rd_str_text(struct rd *r, const char *key, bool required)
{
    if (r->rc != PD_OK)
        return NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->el, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (required)
            rd_fail(r, key, "required");
        return NULL;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        rd_fail(r, key, "must be a string");
        return NULL;
    }
    if (strlen(it->valuestring) > STR_MAX) {
        rd_fail(r, key, "longer than 4096 bytes");
        return NULL;
    }
    return it->valuestring;
}

/* A string field that is read and kept: its interned id (0 when none). */
static sim_sid rd_str(struct rd *r, const char *key, bool required)
{
    const char *text = rd_str_text(r, key, required);
    bool oom = false;
    sim_sid id = sim__intern(r->m, text, &oom);
    if (oom)
        r->rc = PD_ENOMEM;
    return id;
}

/* rd_str for a string that is only ever printed, never compared or looked
 * up (the gateway's trade_no): stored without a slot in the intern table,
 * so its id is not shared with an equal string. */
static sim_sid rd_str_kept(struct rd *r, const char *key, bool required)
{
    const char *text = rd_str_text(r, key, required);
    if (text == NULL || r->rc != PD_OK)
        return 0;
    PD_ASSERT(!r->m->sealed);
    sim_sid id = strs_add(&r->m->strs, text, strlen(text));
    if (id == 0)
        r->rc = PD_ENOMEM;
    return id;
}

/* rd_str as a pointer, for the run's few one-off strings. */
static const char *rd_cstr(struct rd *r, const char *key, bool required)
{
    return sim__s(r->m, rd_str(r, key, required));
}

/* A nullable integer: SIM_NO_TIME when null or absent and not required. */
static int64_t rd_i64(struct rd *r, const char *key, bool required)
{
    if (r->rc != PD_OK)
        return SIM_NO_TIME;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->el, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (required)
            rd_fail(r, key, "required");
        return SIM_NO_TIME;
    }
    if (!pd_json_is_int(it)) {
        rd_fail(r, key, "must be an integer");
        return SIM_NO_TIME;
    }
    return (int64_t)it->valuedouble;
}

static int64_t rd_i64_or(struct rd *r, const char *key, int64_t dflt)
{
    int64_t v = rd_i64(r, key, false);
    return v == SIM_NO_TIME ? dflt : v;
}

static bool rd_bool(struct rd *r, const char *key, bool required)
{
    if (r->rc != PD_OK)
        return false;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->el, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (required)
            rd_fail(r, key, "required");
        return false;
    }
    if (!cJSON_IsBool(it)) {
        rd_fail(r, key, "must be true or false");
        return false;
    }
    return cJSON_IsTrue(it);
}

/* The array under key (NULL when absent and optional). */
static const cJSON *rd_array(struct rd *r, const char *key, bool required)
{
    if (r->rc != PD_OK)
        return NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->el, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (required)
            rd_fail(r, key, "required");
        return NULL;
    }
    if (!cJSON_IsArray(it)) {
        rd_fail(r, key, "must be an array");
        return NULL;
    }
    return it;
}

static int rd_begin(struct rd *r, struct sim_model *m, const cJSON *el,
                    const char *path, struct pd_json_err *err)
{
    r->m = m;
    r->el = el;
    r->path = path;
    r->err = err;
    r->rc = PD_OK;
    if (!cJSON_IsObject(el))
        r->rc = pd_json_fail(err, "%s: must be an object", *path ? path : "top level");
    return r->rc;
}

/* A sub-reader over element i of an array, its path in buf. */
static void rd_sub(struct rd *sub, struct rd *parent, const cJSON *el, const char *key,
                   int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s[%d]", parent->path, *parent->path ? "." : "", key, i);
    rd_begin(sub, parent->m, el, buf, parent->err);
    if (sub->rc != PD_OK)
        parent->rc = sub->rc;
}

/* Arena array of n elements of size elem; NULL (rc set) on OOM. */
static void *rd_alloc(struct rd *r, size_t n, size_t elem)
{
    if (r->rc != PD_OK || n == 0)
        return NULL;
    void *p = sim__arena_alloc(&r->m->arena, n * elem);
    if (p == NULL)
        r->rc = PD_ENOMEM;
    return p;
}

#define PATH_LEN 160

/* Reads the array under key with fn per element into a new arena array of
 * elem-sized slots; *out_n gets its length. NULL when empty or on error. */
typedef void (*rd_elem_fn)(struct rd *sub, void *slot);

static void *rd_each(struct rd *r, const char *key, bool required, size_t elem,
                     uint32_t *out_n, rd_elem_fn fn)
{
    const cJSON *arr = rd_array(r, key, required);
    int n = arr ? cJSON_GetArraySize(arr) : 0;
    char *base = rd_alloc(r, (size_t)n, elem);
    char path[PATH_LEN];
    int i = 0;
    for (const cJSON *e = arr ? arr->child : NULL; e && r->rc == PD_OK; e = e->next, i++) {
        struct rd s;
        rd_sub(&s, r, e, key, i, path, sizeof path);
        fn(&s, base + (size_t)i * elem);
        if (r->rc == PD_OK)
            r->rc = s.rc;
    }
    *out_n = r->rc == PD_OK ? (uint32_t)n : 0;
    return base;
}

/* ---- scenario.json and run.json ---- */

/* Only one fact of the scenario matters to the checker: whether a business
 * fault lasts "forever" (then "B was told" cannot mean "B acknowledged"). */
static void rd_biz_fault(struct rd *s, void *slot)
{
    bool *forever = slot;
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(s->el, "until");
    *forever = cJSON_IsString(until) && strcmp(until->valuestring, "forever") == 0;
}

static void biz_faults(struct rd *r)
{
    uint32_t n = 0;
    bool *forever = rd_each(r, "business_faults", false, sizeof *forever, &n, rd_biz_fault);
    for (uint32_t i = 0; i < n; i++)
        r->m->run.biz_forever |= forever[i];
}

int sim__add_scenario(struct sim_model *m, const cJSON *doc, struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, doc, "", err) != PD_OK)
        return r.rc;
    const char *name = rd_cstr(&r, "name", true);
    const char *desc = rd_cstr(&r, "description", false);
    const char *file = rd_cstr(&r, "file", false);
    biz_faults(&r);
    if (r.rc != PD_OK)
        return r.rc;
    if (sim_expect_parse(doc, m->expect, &m->n_expect, err) != PD_OK)
        return PD_EINVAL;
    m->run.name = name;
    if (desc != NULL)
        m->run.description = desc;
    if (file != NULL && m->run.file == NULL)
        m->run.file = file;
    m->have_scenario = true;
    return PD_OK;
}

static void rd_pevent(struct rd *s, void *slot)
{
    struct sim_pevent *pe = slot;
    pe->at = rd_i64(s, "at", true);
    pe->target = rd_str(s, "target", true);
    pe->action = rd_str(s, "action", true);
    pe->detail = rd_str(s, "detail", false);
}

static int add_pevents(struct rd *r)
{
    uint32_t n = 0;
    struct sim_pevent *pe = rd_each(r, "process_events", false, sizeof *pe, &n, rd_pevent);
    struct sim_model *m = r->m;
    for (uint32_t i = 0; i < n && r->rc == PD_OK; i++) {
        if (sim__vec_grow((void **)&m->pevents.v, &m->pevents.cap, m->pevents.n,
                          sizeof *pe) != PD_OK)
            return r->rc = PD_ENOMEM;
        m->pevents.v[m->pevents.n++] = pe[i];
    }
    return r->rc;
}

/* run.json's "scenario" is the name, or an object {name, description, file}. */
static void run_scenario_field(struct rd *r)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r->el, "scenario");
    if (cJSON_IsString(sc)) {
        const char *n = rd_cstr(r, "scenario", false);
        if (r->m->run.name == NULL)
            r->m->run.name = n;
    } else if (cJSON_IsObject(sc)) {
        struct rd s;
        rd_begin(&s, r->m, sc, "scenario", r->err);
        const char *n = rd_cstr(&s, "name", false);
        const char *d = rd_cstr(&s, "description", false);
        const char *f = rd_cstr(&s, "file", false);
        r->rc = s.rc;
        if (r->m->run.name == NULL)
            r->m->run.name = n;
        if (r->m->run.description == NULL)
            r->m->run.description = d;
        if (f != NULL)
            r->m->run.file = f;
    }
}

int sim__add_run(struct sim_model *m, const cJSON *doc, struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, doc, "", err) != PD_OK)
        return r.rc;
    struct sim_run_info *ri = &m->run;
    run_scenario_field(&r);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(doc, "seed");
    if (seed != NULL && !cJSON_IsNumber(seed))
        rd_fail(&r, "seed", "must be a number");
    ri->seed = cJSON_IsNumber(seed) ? seed->valuedouble : 0;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, "time_scale");
    if (ts != NULL && !cJSON_IsNumber(ts))
        rd_fail(&r, "time_scale", "must be a number");
    ri->time_scale = cJSON_IsNumber(ts) ? ts->valuedouble : 1;
    const char *file = rd_cstr(&r, "scenario_file", false);
    if (file != NULL)
        ri->file = file;
    ri->started_at = rd_cstr(&r, "started_at", false);
    ri->duration_ms = rd_i64_or(&r, "duration_ms", 0);
    ri->sim_started_at = rd_i64(&r, "sim_started_at", false);
    ri->sim_finished_at = rd_i64(&r, "sim_finished_at", false);
    ri->quiet = rd_bool(&r, "quiet", true);
    ri->quiet_at = rd_i64(&r, "quiet_at", false);
    ri->faults_healed_at = rd_i64(&r, "faults_healed_at", false);
    ri->convergence_bound_ms = rd_i64(&r, "convergence_bound_ms", true);
    ri->dedup_window_ms = rd_i64(&r, "dedup_window_ms", true);
    ri->replay = rd_cstr(&r, "replay", false);
    if (r.rc == PD_OK)
        add_pevents(&r);
    const cJSON *sut = cJSON_GetObjectItemCaseSensitive(doc, "sut");
    if (r.rc == PD_OK && sut != NULL && !cJSON_IsObject(sut))
        rd_fail(&r, "sut", "must be an object");
    if (r.rc == PD_OK && sut != NULL) {
        cJSON_Delete(ri->sut);
        ri->sut = cJSON_Duplicate(sut, 1);
        if (ri->sut == NULL)
            r.rc = PD_ENOMEM;
    }
    if (r.rc == PD_OK)
        m->have_run = true;
    return r.rc;
}

/* ---- G: ledger trades ---- */

static void rd_charge(struct rd *s, void *slot)
{
    struct sim_charge *c = slot;
    c->at = rd_i64(s, "at", true);
    c->amount = rd_i64(s, "amount", true);
}

static void rd_grefund(struct rd *s, void *slot)
{
    struct sim_grefund *f = slot;
    f->out_refund_no = rd_str(s, "out_refund_no", false);
    f->amount = rd_i64(s, "amount", true);
    f->at = rd_i64(s, "at", false);
}

static void trade_charges(struct rd *r, struct sim_gtrade *t)
{
    t->charges = rd_each(r, "charges", true, sizeof *t->charges, &t->n_charges, rd_charge);
}

static void trade_refunds(struct rd *r, struct sim_gtrade *t)
{
    t->refunds = rd_each(r, "refunds", false, sizeof *t->refunds, &t->n_refunds, rd_grefund);
    rd_array(r, "pay_refused", false);   /* checked, not kept */
}

static void trade_callbacks(struct rd *r, struct sim_gtrade *t)
{
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r->el, "callbacks");
    if (cb == NULL || cJSON_IsNull(cb) || r->rc != PD_OK)
        return;
    struct rd s;
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s.callbacks", r->path);
    if (rd_begin(&s, r->m, cb, path, r->err) != PD_OK) {
        r->rc = s.rc;
        return;
    }
    t->cb_attempts = rd_i64_or(&s, "attempts", 0);
    t->cb_acked = rd_bool(&s, "acked", false);
    rd_i64(&s, "acked_at", false);   /* checked, not kept */
    t->cb_gave_up = rd_bool(&s, "gave_up", false);
    t->cb_pending = rd_bool(&s, "pending", false);
    r->rc = s.rc;
}

int sim__add_trade(struct sim_model *m, const cJSON *el, const char *path,
                   struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, el, path, err) != PD_OK)
        return r.rc;
    struct sim_gtrade t = {.order = SIM_NONE, .next_of_order = SIM_NONE};
    t.out_trade_no = rd_str(&r, "out_trade_no", true);
    t.trade_no = rd_str_kept(&r, "trade_no", false);
    rd_str_text(&r, "merchant_id", false);
    t.attach = rd_str(&r, "attach", false);
    t.amount = rd_i64(&r, "amount", true);
    t.currency = rd_str(&r, "currency", true);
    t.state = rd_str(&r, "state", true);
    t.created_at = rd_i64(&r, "created_at", false);
    t.closed_at = rd_i64(&r, "closed_at", false);
    t.refunded_amount = rd_i64_or(&r, "refunded_amount", 0);
    trade_charges(&r, &t);
    trade_refunds(&r, &t);
    trade_callbacks(&r, &t);
    if (r.rc != PD_OK)
        return r.rc;
    if (sim__map_get(&m->trade_by_otn, t.out_trade_no) != SIM_NONE)
        return pd_json_fail(err, "%s.out_trade_no: \"%.64s\" listed twice", path,
                            sim__s(m, t.out_trade_no));
    if (sim__vec_grow((void **)&m->trades.v, &m->trades.cap, m->trades.n, sizeof t) != PD_OK ||
        sim__map_put(&m->trade_by_otn, t.out_trade_no, (int32_t)m->trades.n) != PD_OK)
        return PD_ENOMEM;
    m->trades.v[m->trades.n++] = t;
    return PD_OK;
}

/* ---- P: export orders ---- */

static void rd_hist(struct rd *s, void *slot)
{
    struct sim_hist *h = slot;
    h->at = rd_i64(s, "at", true);
    h->from = rd_str(s, "from", false);
    h->to = rd_str(s, "to", true);
    h->cause = rd_str(s, "cause", false);
    h->from_st = sim__status_of(sim__s(s->m, h->from));
    h->to_st = sim__status_of(sim__s(s->m, h->to));
}

static void rd_ptrade(struct rd *s, void *slot)
{
    struct sim_ptrade *t = slot;
    t->out_trade_no = rd_str(s, "out_trade_no", true);
    t->state = rd_str(s, "state", false);
    t->attempt = rd_i64_or(s, "attempt", 0);
    t->created_at = rd_i64(s, "created_at", false);
}

static void rd_prefund(struct rd *s, void *slot)
{
    struct sim_prefund *f = slot;
    f->out_refund_no = rd_str(s, "out_refund_no", false);
    f->out_trade_no = rd_str(s, "out_trade_no", false);
    f->amount = rd_i64(s, "amount", true);
    f->status = rd_str(s, "status", false);
    f->at = rd_i64(s, "at", false);
    f->reason = rd_str(s, "reason", false);
}

static void rd_pnotif(struct rd *s, void *slot)
{
    struct sim_pnotif *nf = slot;
    nf->event_id = rd_str(s, "event_id", true);
    nf->status = rd_str(s, "status", true);
    nf->seq = rd_i64_or(s, "seq", 0);
    nf->attempts = rd_i64_or(s, "attempts", 0);
    nf->delivered_at = rd_i64(s, "delivered_at", false);
    nf->last_http_status = rd_i64_or(s, "last_http_status", 0);
}

static void order_parts(struct rd *r, struct sim_porder *o)
{
    o->hist = rd_each(r, "history", true, sizeof *o->hist, &o->n_hist, rd_hist);
    o->trades = rd_each(r, "trades", false, sizeof *o->trades, &o->n_trades, rd_ptrade);
    o->refunds = rd_each(r, "refunds", false, sizeof *o->refunds, &o->n_refunds, rd_prefund);
    o->notifs = rd_each(r, "notifications", false, sizeof *o->notifs, &o->n_notifs, rd_pnotif);
}




int sim__add_order(struct sim_model *m, const cJSON *el, const char *path,
                   struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, el, path, err) != PD_OK)
        return r.rc;
    struct sim_porder o = {.first_trade = SIM_NONE, .first_receipt = SIM_NONE,
                           .submission = SIM_NONE};
    o.order_id = rd_str(&r, "order_id", true);
    rd_str_text(&r, "merchant_id", false);
    rd_str_text(&r, "user_id", false);
    o.client_ref = rd_str(&r, "client_ref", false);
    o.amount = rd_i64(&r, "amount", true);
    o.currency = rd_str(&r, "currency", true);
    o.status = rd_str(&r, "status", true);
    o.status_st = sim__status_of(sim__s(m, o.status));
    o.created_at = rd_i64(&r, "created_at", false);
    rd_i64(&r, "expires_at", false);
    order_parts(&r, &o);
    if (r.rc != PD_OK)
        return r.rc;
    if (sim__map_get(&m->order_by_id, o.order_id) != SIM_NONE)
        return pd_json_fail(err, "%s.order_id: \"%.64s\" listed twice", path,
                            sim__s(m, o.order_id));
    int32_t idx = (int32_t)m->orders.n;
    if (sim__vec_grow((void **)&m->orders.v, &m->orders.cap, m->orders.n, sizeof o) != PD_OK ||
        sim__map_put(&m->order_by_id, o.order_id, idx) != PD_OK)
        return PD_ENOMEM;
    m->orders.v[m->orders.n++] = o;
    return PD_OK;
}

/* Reads one record with fill into rec. */
static int add_with(struct sim_model *m, const cJSON *el, const char *path,
                    struct pd_json_err *err, rd_elem_fn fill, void *rec)
{
    struct rd r;
    if (rd_begin(&r, m, el, path, err) != PD_OK)
        return r.rc;
    fill(&r, rec);
    return r.rc;
}

/* Appends one record of size elem to a model vector. */
static int push_rec(void *vec_v, size_t *n, size_t *cap, const void *rec, size_t elem)
{
    void **v = vec_v;
    if (sim__vec_grow(v, cap, *n, elem) != PD_OK)
        return PD_ENOMEM;
    memcpy((char *)*v + *n * elem, rec, elem);
    (*n)++;
    return PD_OK;
}

#define PUSH(vec, rec) push_rec(&(vec).v, &(vec).n, &(vec).cap, &(rec), sizeof(rec))

/* ---- B: business.json records ---- */

int sim__add_receipt(struct sim_model *m, const cJSON *el, const char *path,
                     struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, el, path, err) != PD_OK)
        return r.rc;
    struct sim_receipt x = {.next_of_order = SIM_NONE};
    x.at = rd_i64(&r, "at", true);
    x.event_id = rd_str(&r, "event_id", false);
    x.order_id = rd_str(&r, "order_id", false);
    x.seq = rd_i64(&r, "seq", false);
    x.status = rd_str(&r, "status", false);
    x.amount = rd_i64(&r, "amount", false);
    x.currency = rd_str(&r, "currency", false);
    x.client_ref = rd_str(&r, "client_ref", false);
    x.signature_ok = rd_bool(&r, "signature_ok", true);
    x.answered = rd_i64_or(&r, "answered", 0);
    x.applied = rd_bool(&r, "applied", true);
    if (r.rc != PD_OK)
        return r.rc;
    return PUSH(m->receipts, x);
}

int sim__add_submission(struct sim_model *m, const cJSON *el, const char *path,
                        struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, m, el, path, err) != PD_OK)
        return r.rc;
    struct sim_submission s;
    s.key = rd_str(&r, "key", true);
    rd_i64(&r, "seq", false);
    s.kind = rd_str(&r, "kind", true);
    s.original_key = rd_str(&r, "original_key", false);
    s.at = rd_i64(&r, "at", true);
    s.status = rd_i64_or(&r, "status", 0);
    s.order_id = rd_str(&r, "order_id", false);
    s.error = rd_str(&r, "error", false);
    s.client_ref = rd_str(&r, "client_ref", false);
    s.amount = rd_i64(&r, "amount", false);
    s.currency = rd_str(&r, "currency", false);
    rd_str_text(&r, "merchant_id", false);
    rd_str_text(&r, "user_id", false);
    s.retried = rd_bool(&r, "retried", false);
    if (r.rc == PD_OK && !sim__s_eq(m, s.kind, "original") && !sim__s_eq(m, s.kind, "immediate") &&
        !sim__s_eq(m, s.kind, "concurrent") && !sim__s_eq(m, s.kind, "after_window"))
        rd_fail(&r, "kind", "must be original, immediate, concurrent or after_window");
    if (r.rc != PD_OK)
        return r.rc;
    if (s.original_key == 0)
        s.original_key = s.key;
    if (sim__vec_grow((void **)&m->subs.v, &m->subs.cap, m->subs.n, sizeof s) != PD_OK)
        return PD_ENOMEM;
    m->subs.v[m->subs.n++] = s;
    return PD_OK;
}

static void rd_paycall(struct rd *r, void *slot)
{
    struct sim_paycall *p = slot;
    p->key = rd_str(r, "key", false);
    p->order_id = rd_str(r, "order_id", false);
    p->at = rd_i64(r, "at", true);
    p->status = rd_i64_or(r, "status", 0);
    p->out_trade_no = rd_str(r, "out_trade_no", false);
    p->body_status = rd_str(r, "body_status", false);
}

int sim__add_paycall(struct sim_model *m, const cJSON *el, const char *path,
                     struct pd_json_err *err)
{
    struct sim_paycall p;
    int rc = add_with(m, el, path, err, rd_paycall, &p);
    return rc == PD_OK ? PUSH(m->paycalls, p) : rc;
}

static void rd_payer(struct rd *r, void *slot)
{
    struct sim_payer *p = slot;
    p->key = rd_str(r, "key", false);
    p->out_trade_no = rd_str(r, "out_trade_no", false);
    p->at = rd_i64(r, "at", true);
    p->action = rd_str(r, "action", true);
    p->status = rd_i64_or(r, "status", 0);
    p->code = rd_str(r, "code", false);
}

int sim__add_payer(struct sim_model *m, const cJSON *el, const char *path,
                   struct pd_json_err *err)
{
    struct sim_payer p;
    int rc = add_with(m, el, path, err, rd_payer, &p);
    return rc == PD_OK ? PUSH(m->payer, p) : rc;
}

static void rd_bquery(struct rd *r, void *slot)
{
    struct sim_bquery *q = slot;
    q->key = rd_str(r, "key", false);
    q->order_id = rd_str(r, "order_id", false);
    q->at = rd_i64(r, "at", true);
    q->status = rd_i64_or(r, "status", 0);
    q->body_status = rd_str(r, "body_status", false);
}

int sim__add_bquery(struct sim_model *m, const cJSON *el, const char *path,
                    struct pd_json_err *err)
{
    struct sim_bquery q;
    int rc = add_with(m, el, path, err, rd_bquery, &q);
    return rc == PD_OK ? PUSH(m->bqueries, q) : rc;
}

int sim__add_gjline(struct sim_model *m, const cJSON *el, const char *path,
                    struct pd_json_err *err)
{
    return sim__add_gjline_at(m, el, path, -1, 0, err);
}

bool sim__gj_keep_whole;

/* The counts a line adds to its trade (also for lines kept whole, at link). */
static void count_gjline(struct sim_model *m, sim_sid out_trade_no, const char *op,
                         int64_t status)
{
    int32_t t = sim__map_get(&m->trade_by_otn, out_trade_no);
    if (t == SIM_NONE || op == NULL)
        return;
    if (strcmp(op, "callback") == 0)
        m->trades.v[t].n_callbacks++;
    else if (strcmp(op, "query") == 0)
        m->trades.v[t].n_queries++;
    else if (strcmp(op, "close") == 0 && status == 200)
        m->trades.v[t].n_close_ok++;
}

int sim__read_gjline(const cJSON *el, const char *path, struct sim_gjtext *out,
                     struct pd_json_err *err)
{
    struct rd r;
    if (rd_begin(&r, NULL, el, path, err) != PD_OK)   /* no model: nothing is interned */
        return r.rc;
    rd_i64(&r, "seq", false);
    out->at = rd_i64(&r, "at", true);
    out->op = rd_str_text(&r, "op", true);
    out->out_trade_no = rd_str_text(&r, "out_trade_no", false);
    out->key = rd_str_text(&r, "key", false);
    out->attempt = rd_i64_or(&r, "attempt", 0);
    out->fault = rd_str_text(&r, "fault", false);
    out->status = rd_i64_or(&r, "status", 0);
    out->detail = rd_str_text(&r, "detail", false);
    return r.rc;
}

int sim__add_gjline_at(struct sim_model *m, const cJSON *el, const char *path, int64_t line_at,
                       uint32_t line_hash, struct pd_json_err *err)
{
    struct sim_gjtext x;
    int rc = sim__read_gjline(el, path, &x, err);
    if (rc != PD_OK)
        return rc;
    for (size_t i = 0; i < m->n_expect; i++)
        m->expect_gateway_seen[i] +=
            sim_expect_gateway_match(&m->expect[i], x.op, x.status, x.detail, x.fault);
    bool oom = false;
    struct sim_gjline g = {.at = x.at, .attempt = x.attempt, .status = x.status,
                           .out_trade_no = sim__intern(m, x.out_trade_no, &oom),
                           .key = sim__intern(m, x.key, &oom),
                           .fault = sim__intern(m, x.fault, &oom)};
    if (oom)
        return PD_ENOMEM;
    struct sim_gjref ref = {.at = g.at, .line_at = SIM_GJ_WHOLE, .out_trade_no = g.out_trade_no,
                            .key = g.key};
    if (g.fault == 0 && line_at >= 0 && line_at < SIM_GJ_WHOLE && !sim__gj_keep_whole) {
        ref.line_at = (uint32_t)line_at;
        ref.hash = line_hash;
        count_gjline(m, g.out_trade_no, x.op, g.status);
        m->gj_callbacks += strcmp(x.op, "callback") == 0;
        return PUSH(m->gj, ref);
    }
    g.op = sim__intern(m, x.op, &oom);
    g.detail = sim__intern(m, x.detail, &oom);
    if (oom)
        return PD_ENOMEM;
    ref.whole = (int32_t)m->gjx.n;
    rc = PUSH(m->gjx, g);
    return rc == PD_OK ? PUSH(m->gj, ref) : rc;
}

/* ---- linking ---- */

/* Gives back a vector's unused tail (realloc to n elements; a failed
 * shrink keeps the larger block, which is still correct). */
static void shrink(void **v, size_t n, size_t *cap, size_t elem)
{
    if (n == *cap)
        return;
    if (n == 0) {
        free(*v);
        *v = NULL;
        *cap = 0;
        return;
    }
    void *nv = realloc(*v, n * elem);
    if (nv != NULL) {
        *v = nv;
        *cap = n;
    }
}

#define SHRINK(vec) shrink((void **)&(vec).v, (vec).n, &(vec).cap, sizeof *(vec).v)

void sim__model_trim(struct sim_model *m)
{
    SHRINK(m->trades);
    SHRINK(m->orders);
    SHRINK(m->receipts);
    SHRINK(m->subs);
    SHRINK(m->paycalls);
    SHRINK(m->payer);
    SHRINK(m->gj);
    SHRINK(m->gjx);
    SHRINK(m->pevents);
    SHRINK(m->bqueries);
}

/* Once every record is in, the model only gets read: the vectors lose
 * their doubling slack and the intern table, needed only to dedupe strings
 * while loading, is freed. At 10,000 orders that is a quarter of the
 * model, and the journal merge comes on top of what is left. */
static void seal(struct sim_model *m)
{
    sim__model_trim(m);
    free(m->intern.slots);
    memset(&m->intern, 0, sizeof m->intern);
    m->sealed = true;
}

/* The owner of a G trade: the P order listing it, else the P order whose
 * client_ref equals the trade's attach (a SUT that opened a trade P does not
 * list is still caught). */
static int32_t trade_owner(const struct sim_model *m, const struct sim_gtrade *t)
{
    int32_t o = sim__map_get(&m->ptrade_owner, t->out_trade_no);
    if (o == SIM_NONE && t->attach != 0 && *sim__s(m, t->attach) != '\0')
        o = sim__map_get(&m->order_by_ref, t->attach);
    return o;
}

/* The maps that only the link and the checks read, built once the intern
 * table is gone: while loading, the maps and the intern table were the
 * model's peak together (at 10,000 orders three maps of 128 KiB and a
 * table of 512 KiB). */
static int index_after_load(struct sim_model *m)
{
    for (size_t i = 0; i < m->orders.n; i++) {
        const struct sim_porder *o = &m->orders.v[i];
        if (sim__map_put(&m->order_by_ref, o->client_ref, (int32_t)i) != PD_OK)
            return PD_ENOMEM;
        for (uint32_t k = 0; k < o->n_trades; k++)
            if (sim__map_put(&m->ptrade_owner, o->trades[k].out_trade_no, (int32_t)i) != PD_OK)
                return PD_ENOMEM;
    }
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission *s = &m->subs.v[i];
        if (sim__s_eq(m, s->kind, "original") &&
            sim__map_put(&m->sub_original, s->key, (int32_t)i) != PD_OK)
            return PD_ENOMEM;
    }
    return PD_OK;
}

int sim__model_link(struct sim_model *m)
{
    seal(m);
    if (index_after_load(m) != PD_OK)
        return PD_ENOMEM;
    /* Walk backwards so each chain lists its members in input order. */
    for (size_t i = m->trades.n; i-- > 0;) {
        struct sim_gtrade *t = &m->trades.v[i];
        t->order = trade_owner(m, t);
        if (t->order != SIM_NONE) {
            struct sim_porder *o = &m->orders.v[t->order];
            t->next_of_order = o->first_trade;
            o->first_trade = (int32_t)i;
        }
    }
    for (size_t i = m->receipts.n; i-- > 0;) {
        struct sim_receipt *x = &m->receipts.v[i];
        int32_t o = sim__map_get(&m->order_by_id, x->order_id);
        if (o != SIM_NONE) {
            x->next_of_order = m->orders.v[o].first_receipt;
            m->orders.v[o].first_receipt = (int32_t)i;
        }
    }
    for (size_t i = 0; i < m->subs.n; i++) {
        const struct sim_submission *s = &m->subs.v[i];
        int32_t o = sim__map_get(&m->order_by_id, s->order_id);
        if (o != SIM_NONE && s->status >= 200 && s->status < 300 &&
            m->orders.v[o].submission == SIM_NONE)
            m->orders.v[o].submission = (int32_t)i;
    }
    for (size_t i = 0; i < m->gjx.n; i++) {
        const struct sim_gjline *g = &m->gjx.v[i];
        count_gjline(m, g->out_trade_no, sim__s(m, g->op), g->status);
    }
    return PD_OK;
}
