/* pc_core_internal.h -- helpers pc_core.c and pc_reconcile.c share. */
#ifndef PC_CORE_INTERNAL_H
#define PC_CORE_INTERNAL_H

#include "pc_core.h"

int64_t pc__now(const struct pc_app *app);
/* Takes ownership of obj. */
void pc__reply_json(struct pc_reply *out, int status, cJSON *obj);
void pc__reply_error(struct pc_reply *out, int status, const char *error, const char *detail);

/* Calls the gateway's create for out_trade_no with the order's facts and
 * records the outcome. Returns a pc_create_outcome; *out_status is the
 * order's status afterwards. */
int pc__create_trade(struct pc_app *app, const struct pc_order *o, const char *out_trade_no,
                     const char *notify_url, int *out_status);

/* After a committed change caused by out_trade_no's fact (zoo hooks). */
void pc__after_change(struct pc_app *app, const char *out_trade_no);

/* PC_BUG_NON_IDEMPOTENT_CALLBACK: one more outbox row for the order. */
void pc__outbox_again(struct pc_app *app, const char *out_trade_no);

static inline void pc__kick(struct pc_app *app, const char *order_id)
{
    if (app->kick != NULL)
        app->kick(app->kick_ctx, order_id);
}

#endif
