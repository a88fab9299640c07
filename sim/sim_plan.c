#include "sim_plan.h"

#include <stdio.h>

#include "pd_rand.h"

void sim_plan_key(const char *name, int64_t index, char out[SIM_KEY_MAX])
{
    snprintf(out, SIM_KEY_MAX, "%s-%lld", name, (long long)index);
}

static int pick_dup(const struct sim_workload *w, double u)
{
    if (u < w->dup_immediate)
        return SIM_DUP_IMMEDIATE;
    u -= w->dup_immediate;
    if (u < w->dup_concurrent)
        return SIM_DUP_CONCURRENT;
    u -= w->dup_concurrent;
    if (u < w->dup_after_window)
        return SIM_DUP_AFTER_WINDOW;
    return SIM_DUP_NONE;
}

static int pick_act(const struct sim_payer *p, double u)
{
    if (u < p->pay)
        return SIM_ACT_PAY;
    u -= p->pay;
    if (u < p->pay_twice)
        return SIM_ACT_PAY_TWICE;
    u -= p->pay_twice;
    if (u < p->pay_late)
        return SIM_ACT_PAY_LATE;
    u -= p->pay_late;
    /* Rounding leftovers fall to the last action with a non-zero weight. */
    if (p->abandon > 0 || u < 0)
        return p->abandon > 0 ? SIM_ACT_ABANDON : SIM_ACT_PAY;
    return p->pay_late > 0 ? SIM_ACT_PAY_LATE : p->pay_twice > 0 ? SIM_ACT_PAY_TWICE : SIM_ACT_PAY;
}

void sim_plan_order(const struct sim_scenario *s, int64_t index, struct sim_order_plan *out)
{
    const struct sim_workload *w = &s->workload;
    out->index = index;
    sim_plan_key(s->name, index, out->key);
    out->amount = pd_draw_range(s->seed, out->key, "amount", 0, w->amount_min, w->amount_max);
    out->arrival_ms = w->arrival_rate > 0 ? (int64_t)((double)index * 1000.0 / w->arrival_rate) : 0;
    out->dup = pick_dup(w, pd_draw_unit(s->seed, out->key, "dup.kind", 0));
    out->act = pick_act(&s->payer, pd_draw_unit(s->seed, out->key, "payer.action", 0));
    out->pay_delay_ms = pd_draw_range(s->seed, out->key, "payer.delay", 0,
                                      s->payer.delay_min_ms, s->payer.delay_max_ms);
    out->pay_double_click = w->pay_double_click > 0 &&
                            pd_draw_unit(s->seed, out->key, "pay.double_click", 0) < w->pay_double_click;
    out->pay_click_gap_ms = out->pay_double_click
                                ? pd_draw_range(s->seed, out->key, "pay.click_gap", 0, 50, 300)
                                : 0;
}

const char *sim_dup_name(int dup)
{
    switch (dup) {
    case SIM_DUP_IMMEDIATE: return "immediate";
    case SIM_DUP_CONCURRENT: return "concurrent";
    case SIM_DUP_AFTER_WINDOW: return "after_window";
    default: return "none";
    }
}

const char *sim_act_name(int act)
{
    switch (act) {
    case SIM_ACT_PAY_TWICE: return "pay_twice";
    case SIM_ACT_PAY_LATE: return "pay_late";
    case SIM_ACT_ABANDON: return "abandon";
    default: return "pay";
    }
}
