/* pc_config.h -- payment-center settings: flags win over environment
 * variables, which win over the production defaults. */
#ifndef PC_CONFIG_H
#define PC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PC_SCHEDULE_MAX 64
#define PC_PATH_MAX 1024
#define PC_URL_MAX 512
#define PC_SECRET_MAX 256

struct pc_config {
    char listen[128];
    char data_dir[PC_PATH_MAX];
    char db_path[PC_PATH_MAX];
    char gateway_url[PC_URL_MAX];
    char gateway_secret[PC_SECRET_MAX];
    char business_url[PC_URL_MAX];
    char business_secret[PC_SECRET_MAX];
    char public_url[PC_URL_MAX];          /* "" = the actual listening URL */
    char dedup[PC_URL_MAX];               /* "sqlite" or "redis://HOST:PORT" */
    int64_t dedup_window_ms;
    int64_t callback_timeout_ms;
    int64_t payment_expiry_ms;
    int64_t sig_tolerance_ms;
    int64_t gateway_timeout_ms;
    int64_t business_timeout_ms;
    int64_t query_schedule_ms[PC_SCHEDULE_MAX];
    size_t query_schedule_n;
    int64_t notify_schedule_ms[PC_SCHEDULE_MAX];
    size_t notify_schedule_n;
    int64_t refund_schedule_ms[PC_SCHEDULE_MAX];
    size_t refund_schedule_n;
    int threads;          /* HTTP worker threads */
    int reconcilers;      /* reconciler threads */
    int senders;          /* outbox sender threads */
    int sync_full;        /* 1: synchronous=FULL, 0: NORMAL */
    char log_level[16];
    char bug[64];         /* zoo builds only: the protection removed, "" = none */
};

/* Fills cfg with the defaults (no URLs, secrets or paths). */
void pc_config_defaults(struct pc_config *cfg);

/* Parses argv and the environment into cfg.
 * Returns 0 (run), 1 (--help/--list-bugs printed: exit 0) or 2 (error,
 * already printed on err: exit 2). */
int pc_config_parse(int argc, char **argv, struct pc_config *cfg, FILE *out, FILE *err);

/* The delay at index i of a schedule, repeating its last element forever. */
int64_t pc_schedule_at(const int64_t *schedule_ms, size_t n, int64_t i);

#endif
