/* pc_store_ckpt.c -- WAL checkpoints mostly off the write path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the
 * threshold (1000 frames by default), on the committing connection, so it
 * ran on payment-center's one writer: every write waited while it
 * copied pages and synced twice, every ~40 orders. Now the writer's
 * automatic checkpoint is off and:
 * - once ckpt_frames frames are uncopied, a thread with its own connection
 *   copies them (PASSIVE: it never waits for, nor blocks, the writer);
 * - the first commit after the thread has copied them copies what was
 *   written meanwhile. Only a checkpoint that leaves nothing behind lets
 *   the next transaction restart the WAL from the top, and under a steady
 *   stream of commits the thread alone never gets there;
 *   When the thread is copying at that moment the writer does not wait
 *   (SQLite refuses a second checkpoint at once, so ckpt_run_mu keeps the
 *   two apart) and the next commit tries again;
 * - should 4 * ckpt_frames be uncopied, the committing writer waits for the
 *   thread and copies everything (FULL), as SQLite would have: the WAL
 *   stays bounded however fast orders arrive. */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

#include "pd_err.h"
#include "pd_log.h"

#include "pc_store_internal.h"

/* Checkpoint on db in mode (PASSIVE, or FULL: waits through the busy
 * handler for a running checkpoint and for readers of older snapshots);
 * true when it ran. */
static bool checkpoint(pc_store *s, sqlite3 *db, int mode, const char *who)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, &log, &done);
    PD_LOG(PD_LOG_DEBUG, "pc", "act=wal_checkpoint by=%s mode=%d rc=%d frames=%d copied=%d", who, mode, rc,
           log, done);
    if (rc != SQLITE_OK)    /* SQLITE_BUSY: the other one is checkpointing */
        return false;
    __atomic_store_n(&s->ckpt_copied, done, __ATOMIC_RELAXED);
    return true;
}

/* Runs after every commit on the writer, on the combiner's thread. frames
 * counts the whole WAL, copied frames included; after a restart it is
 * below what the last checkpoint had copied. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)name;
    pc_store *s = arg;
    int copied = __atomic_load_n(&s->ckpt_copied, __ATOMIC_RELAXED);
    if (frames < copied) {
        copied = 0;
        __atomic_store_n(&s->ckpt_copied, 0, __ATOMIC_RELAXED);
    }
    if (frames < s->ckpt_frames)
        return SQLITE_OK;
    if (frames - copied >= 4 * s->ckpt_frames) {
        pthread_mutex_lock(&s->ckpt_run_mu);
        checkpoint(s, db, SQLITE_CHECKPOINT_FULL, "writer");
        pthread_mutex_unlock(&s->ckpt_run_mu);
        return SQLITE_OK;
    }
    /* The thread has copied the bulk of this WAL: copy what was written
     * meanwhile, unless it is at it again. */
    if (copied > 0) {
        if (pthread_mutex_trylock(&s->ckpt_run_mu) == 0) {
            checkpoint(s, db, SQLITE_CHECKPOINT_PASSIVE, "writer");
            pthread_mutex_unlock(&s->ckpt_run_mu);
        }
        return SQLITE_OK;
    }
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_wanted = true;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    pc_store *s = arg;
    pthread_setname_np(pthread_self(), "pc-ckpt");
    pthread_mutex_lock(&s->ckpt_mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stop)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        if (s->ckpt_stop)
            break;
        s->ckpt_wanted = false;
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_mutex_lock(&s->ckpt_run_mu);
        if (checkpoint(s, s->ckpt_conn->db, SQLITE_CHECKPOINT_PASSIVE, "checkpointer"))
            __atomic_add_fetch(&s->ckpt_runs, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->ckpt_run_mu);
        pthread_mutex_lock(&s->ckpt_mu);
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

/* A restart truncates a WAL that grew past twice the threshold. */
static void limit_wal(pc_store *s)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld;",
             (long long)s->ckpt_frames * 2 * 4096);
    pthread_mutex_lock(&s->write_mu);
    sqlite3_exec(s->writer->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&s->write_mu);
}

int pc__ckpt_start(pc_store *s)
{
    s->ckpt_frames = PC_CKPT_FRAMES;
    pthread_mutex_init(&s->ckpt_mu, NULL);
    pthread_mutex_init(&s->ckpt_run_mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    s->ckpt_conn = pc__conn_open(s);
    if (s->ckpt_conn == NULL)
        return PD_EIO;
    sqlite3_wal_autocheckpoint(s->writer->db, 0);
    limit_wal(s);
    sqlite3_wal_hook(s->writer->db, wal_hook, s);
    if (pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) != 0)
        return PD_EIO;
    s->ckpt_running = true;
    return PD_OK;
}

void pc__ckpt_stop(pc_store *s)
{
    if (s->ckpt_running) {
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_stop = true;
        pthread_cond_signal(&s->ckpt_cv);
        pthread_mutex_unlock(&s->ckpt_mu);
        pthread_join(s->ckpt_thread, NULL);
        s->ckpt_running = false;
    }
    pc__conn_free(s->ckpt_conn);
    s->ckpt_conn = NULL;
}

void pc_store_set_checkpoint_frames(pc_store *s, int frames)
{
    s->ckpt_frames = frames > 0 ? frames : 1;
    limit_wal(s);
}

long pc_store_checkpoints(pc_store *s)
{
    return __atomic_load_n(&s->ckpt_runs, __ATOMIC_RELAXED);
}
