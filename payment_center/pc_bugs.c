#include "pc_bugs.h"

#include <string.h>

int pc_bug_active = PC_BUG_NONE;

static const struct {
    const char *name, *breaks;
} bugs[PC_BUG_COUNT] = {
    [PC_BUG_NONE] = {"none", "the correct payment center"},
    [PC_BUG_NO_DEDUP] = {"no-dedup", "no duplicate-submission check: every resubmission makes a new order"},
    [PC_BUG_DEDUP_RACE] = {"dedup-race", "check-then-insert fingerprint: concurrent twins both get in"},
    [PC_BUG_NO_PAYING_LOCK] = {"no-paying-lock", "no UNPAID->PAYING lock: concurrent pay calls open two gateway trades"},
    [PC_BUG_NEW_TRADE_NO_ON_RETRY] = {"new-trade-no-on-retry", "a create retried after a timeout uses a new out_trade_no: two chargeable trades"},
    [PC_BUG_TIMEOUT_IS_FAILURE] = {"timeout-is-failure", "a timed-out create closes the order while the trade exists"},
    [PC_BUG_NO_SIGNATURE_CHECK] = {"no-signature-check", "callbacks applied without checking signature or freshness"},
    [PC_BUG_NO_AMOUNT_CHECK] = {"no-amount-check", "callbacks applied without checking amount, currency, merchant"},
    [PC_BUG_NON_IDEMPOTENT_CALLBACK] = {"non-idempotent-callback", "each callback copy notifies the business again with a new event id"},
    [PC_BUG_NO_RECONCILER] = {"no-reconciler", "no active query: a lost callback leaves the order PAYING forever"},
    [PC_BUG_RECONCILER_GIVES_UP] = {"reconciler-gives-up", "after the fast tail the order is closed locally"},
    [PC_BUG_CLOSE_WITHOUT_GATEWAY] = {"close-without-gateway", "expired orders closed locally without closing the gateway trade"},
    [PC_BUG_OUTBOX_OUTSIDE_TX] = {"outbox-outside-tx", "outbox row written after the status commit: lost if killed in between"},
    [PC_BUG_NO_LATE_REFUND] = {"no-late-refund", "a payment arriving after close is kept, not refunded"},
};

bool pc_bugs_enabled(void)
{
    return PC_ZOO != 0;
}

int pc_bug_parse(const char *name)
{
    for (int i = 1; name != NULL && i < PC_BUG_COUNT; i++)
        if (strcmp(name, bugs[i].name) == 0)
            return i;
    return -1;
}

const char *pc_bug_name(int bug)
{
    return (bug >= 0 && bug < PC_BUG_COUNT) ? bugs[bug].name : "?";
}

void pc_bugs_list(FILE *out)
{
    for (int i = 1; i < PC_BUG_COUNT; i++)
        fprintf(out, "%-24s %s\n", bugs[i].name, bugs[i].breaks);
}
