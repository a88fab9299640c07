/* pc_state.h -- the order state machine of the reference payment center.
 *
 * UNPAID -> PAYING -> PAID, PAYING <-> UNKNOWN, UNPAID|PAYING|UNKNOWN ->
 * CLOSED, PAYING -> UNPAID (gateway refused the trade). PAID and CLOSED are
 * final. Every status change in the store goes through pc_transition_legal,
 * so an illegal path can never be written (docs/sut-contract.md). */
#ifndef PC_STATE_H
#define PC_STATE_H

#include <stdbool.h>

enum pc_status {
    PC_ST_NONE = 0,     /* before the order exists (history "from": null) */
    PC_ST_UNPAID,
    PC_ST_PAYING,
    PC_ST_UNKNOWN,
    PC_ST_PAID,
    PC_ST_CLOSED,
    PC_ST_COUNT
};

/* Causes written to history[].cause (docs/dev/interfaces.md). */
enum pc_cause {
    PC_CAUSE_SUBMIT = 0,
    PC_CAUSE_PAY,
    PC_CAUSE_CREATE_OK,
    PC_CAUSE_CREATE_AMBIGUOUS,
    PC_CAUSE_CREATE_REJECTED,
    PC_CAUSE_CALLBACK,
    PC_CAUSE_QUERY,
    PC_CAUSE_CLOSE_CONFIRMED,
    PC_CAUSE_CLOSE_REFUSED_PAID,
    PC_CAUSE_EXPIRED_UNPAID,
    PC_CAUSE_COUNT
};

/* Static names ("UNPAID"...); "?" for out-of-range values. */
const char *pc_status_name(int status);
const char *pc_cause_name(int cause);

/* The status for a name, or -1. */
int pc_status_parse(const char *name);

/* True when from -> to caused by cause is an edge of the state machine. */
bool pc_transition_legal(int from, int to, int cause);

/* True for PAID and CLOSED. */
bool pc_status_final(int status);

#endif
