#include "pc_state.h"

#include <string.h>

static const char *const status_names[PC_ST_COUNT] = {
    "NONE", "UNPAID", "PAYING", "UNKNOWN", "PAID", "CLOSED"};

static const char *const cause_names[PC_CAUSE_COUNT] = {
    "submit", "pay", "create_ok", "create_ambiguous", "create_rejected",
    "callback", "query", "close_confirmed", "close_refused_paid", "expired_unpaid"};

/* Every legal edge with the causes that may take it. Anything not listed
 * here is illegal, including leaving PAID or CLOSED. */
static const struct edge {
    int from, to, cause;
} edges[] = {
    {PC_ST_NONE, PC_ST_UNPAID, PC_CAUSE_SUBMIT},
    {PC_ST_UNPAID, PC_ST_PAYING, PC_CAUSE_PAY},
    {PC_ST_PAYING, PC_ST_UNKNOWN, PC_CAUSE_CREATE_AMBIGUOUS},
    {PC_ST_UNKNOWN, PC_ST_PAYING, PC_CAUSE_CREATE_OK},
    {PC_ST_UNKNOWN, PC_ST_PAYING, PC_CAUSE_QUERY},
    {PC_ST_PAYING, PC_ST_UNPAID, PC_CAUSE_CREATE_REJECTED},
    {PC_ST_PAYING, PC_ST_PAID, PC_CAUSE_CALLBACK},
    {PC_ST_PAYING, PC_ST_PAID, PC_CAUSE_QUERY},
    {PC_ST_PAYING, PC_ST_PAID, PC_CAUSE_CLOSE_REFUSED_PAID},
    {PC_ST_UNKNOWN, PC_ST_PAID, PC_CAUSE_CALLBACK},
    {PC_ST_UNKNOWN, PC_ST_PAID, PC_CAUSE_QUERY},
    {PC_ST_UNKNOWN, PC_ST_PAID, PC_CAUSE_CLOSE_REFUSED_PAID},
    {PC_ST_UNPAID, PC_ST_CLOSED, PC_CAUSE_EXPIRED_UNPAID},
    {PC_ST_PAYING, PC_ST_CLOSED, PC_CAUSE_QUERY},
    {PC_ST_PAYING, PC_ST_CLOSED, PC_CAUSE_CLOSE_CONFIRMED},
    {PC_ST_UNKNOWN, PC_ST_CLOSED, PC_CAUSE_QUERY},
    {PC_ST_UNKNOWN, PC_ST_CLOSED, PC_CAUSE_CLOSE_CONFIRMED},
};

const char *pc_status_name(int status)
{
    return (status >= 0 && status < PC_ST_COUNT) ? status_names[status] : "?";
}

const char *pc_cause_name(int cause)
{
    return (cause >= 0 && cause < PC_CAUSE_COUNT) ? cause_names[cause] : "?";
}

int pc_status_parse(const char *name)
{
    for (int i = PC_ST_UNPAID; name != NULL && i < PC_ST_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

bool pc_transition_legal(int from, int to, int cause)
{
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        if (edges[i].from == from && edges[i].to == to && edges[i].cause == cause)
            return true;
    return false;
}

bool pc_status_final(int status)
{
    return status == PC_ST_PAID || status == PC_ST_CLOSED;
}
