/* pc_bugs.h -- the zoo: deliberately removable protections.
 *
 * payment-center-zoo is built from the same sources with PC_ZOO=1 and takes
 * --bug NAME; each bug removes exactly one protection, in one clearly named
 * branch (grep for the enum name). In the normal build PC_ZOO is 0, so
 * pc_bug_on() is constant false and every bug branch compiles away; the
 * binary has no --bug switch at all. */
#ifndef PC_BUGS_H
#define PC_BUGS_H

#include <stdbool.h>
#include <stdio.h>

#ifndef PC_ZOO
#define PC_ZOO 0
#endif

enum pc_bug {
    PC_BUG_NONE = 0,
    PC_BUG_NO_DEDUP,               /* no duplicate-submission check at all */
    PC_BUG_DEDUP_RACE,             /* check-then-insert, no atomic claim */
    PC_BUG_NO_PAYING_LOCK,         /* pay without the UNPAID->PAYING CAS */
    PC_BUG_NEW_TRADE_NO_ON_RETRY,  /* re-create after a timeout with a new out_trade_no */
    PC_BUG_TIMEOUT_IS_FAILURE,     /* ambiguous create closes the order */
    PC_BUG_NO_SIGNATURE_CHECK,     /* callbacks applied unverified */
    PC_BUG_NO_AMOUNT_CHECK,        /* callbacks applied without amount/currency/merchant check */
    PC_BUG_NON_IDEMPOTENT_CALLBACK,/* every callback copy notifies again, new event id */
    PC_BUG_NO_RECONCILER,          /* no active query when the callback never comes */
    PC_BUG_RECONCILER_GIVES_UP,    /* after the fast tail, close locally */
    PC_BUG_CLOSE_WITHOUT_GATEWAY,  /* expired orders closed locally only */
    PC_BUG_OUTBOX_OUTSIDE_TX,      /* outbox row written after the commit */
    PC_BUG_NO_LATE_REFUND,         /* late payment after close kept */
    PC_BUG_COUNT
};

/* The active bug (PC_BUG_NONE in a correct run). Set once at start. */
extern int pc_bug_active;

static inline bool pc_bug_on(int bug)
{
    return PC_ZOO && pc_bug_active == bug;
}

/* True in the zoo build. */
bool pc_bugs_enabled(void);

/* The bug for a name, or -1. */
int pc_bug_parse(const char *name);

const char *pc_bug_name(int bug);

/* Prints "name  one line on what it breaks" per bug. */
void pc_bugs_list(FILE *out);

#endif
