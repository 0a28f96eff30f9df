#include "io/ahead.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "io/access.h"

#define SLOTS 4
#define SLOT_SIZE (1u << 20)

struct ahead {
    struct ahead_source src;
    uint64_t left; /* bytes the thread may still read */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t filled, drained;
    unsigned char *buf[SLOTS];
    size_t len[SLOTS];
    unsigned head, tail; /* slots filled, slots consumed (head - tail <= SLOTS) */
    size_t pos;          /* bytes of slot tail already handed out */
    bool end;            /* the thread is done: the end, the limit, or an error */
    bool failed;
    struct err_saved why;
    bool stop;
};

/* The thread's next slot (waiting for one), or NULL when told to stop. */
static unsigned char *free_slot(struct ahead *a)
{
    pthread_mutex_lock(&a->mu);
    while (a->head - a->tail == SLOTS && !a->stop)
        pthread_cond_wait(&a->drained, &a->mu);
    unsigned char *b = a->stop ? NULL : a->buf[a->head % SLOTS];
    pthread_mutex_unlock(&a->mu);
    return b;
}

static void *reader_main(void *arg)
{
    struct ahead *a = arg;
    for (;;) {
        unsigned char *b = free_slot(a);
        if (!b)
            return NULL;
        size_t want = a->left < SLOT_SIZE ? (size_t)a->left : SLOT_SIZE;
        ssize_t n = want         ? a->src.read(a->src.ctx, b, want)
                    : a->src.end ? a->src.end(a->src.ctx)
                                 : 0;
        pthread_mutex_lock(&a->mu);
        if (n > 0) {
            a->len[a->head % SLOTS] = (size_t)n;
            a->head++;
            a->left -= (uint64_t)n;
        } else {
            a->end = true;
            if (n < 0) {
                a->failed = true;
                err_save(&a->why);
            }
        }
        pthread_cond_signal(&a->filled);
        pthread_mutex_unlock(&a->mu);
        if (n <= 0)
            return NULL;
    }
}

struct ahead *ahead_start(const struct ahead_source *src, uint64_t limit)
{
    struct ahead *a = xcalloc(1, sizeof(*a));
    a->src = *src;
    a->left = limit;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->filled, NULL);
    pthread_cond_init(&a->drained, NULL);
    for (int i = 0; i < SLOTS; i++)
        a->buf[i] = xmalloc_io(SLOT_SIZE);
    int e = pthread_create(&a->thread, NULL, reader_main, a);
    if (e != 0) {
        a->end = a->stop = true;
        ahead_free(a);
        err_sys(e, "could not start a thread to read ahead");
        return NULL;
    }
    return a;
}

ssize_t ahead_next(struct ahead *a, const unsigned char **buf)
{
    pthread_mutex_lock(&a->mu);
    while (a->head == a->tail && !a->end)
        pthread_cond_wait(&a->filled, &a->mu);
    ssize_t n = 0;
    if (a->head != a->tail) {
        /* the slot's bytes stay the consumer's until ahead_release */
        unsigned slot = a->tail % SLOTS;
        *buf = a->buf[slot] + a->pos;
        n = (ssize_t)(a->len[slot] - a->pos);
    } else if (a->failed) {
        struct err_saved why = a->why;
        pthread_mutex_unlock(&a->mu);
        return err_restore(&why);
    }
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* The consumer took used bytes of the chunk ahead_next gave; all of it frees its slot. */
static void consumed(struct ahead *a, size_t used)
{
    pthread_mutex_lock(&a->mu);
    a->pos += used;
    if (a->pos == a->len[a->tail % SLOTS]) {
        a->pos = 0;
        a->tail++;
        pthread_cond_signal(&a->drained);
    }
    pthread_mutex_unlock(&a->mu);
}

void ahead_release(struct ahead *a)
{
    pthread_mutex_lock(&a->mu);
    size_t left = a->len[a->tail % SLOTS] - a->pos;
    pthread_mutex_unlock(&a->mu);
    consumed(a, left);
}

ssize_t ahead_read(struct ahead *a, void *buf, size_t cap)
{
    const unsigned char *p = NULL;
    ssize_t n = ahead_next(a, &p);
    if (n <= 0)
        return n;
    size_t take = (size_t)n < cap ? (size_t)n : cap;
    memcpy(buf, p, take);
    consumed(a, take);
    return (ssize_t)take;
}

void ahead_free(struct ahead *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    bool running = !a->stop;
    a->stop = true;
    pthread_cond_signal(&a->drained);
    pthread_mutex_unlock(&a->mu);
    if (running)
        pthread_join(a->thread, NULL);
    if (a->src.close)
        a->src.close(a->src.ctx);
    for (int i = 0; i < SLOTS; i++)
        free(a->buf[i]);
    pthread_cond_destroy(&a->drained);
    pthread_cond_destroy(&a->filled);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static ssize_t access_source_read(void *ctx, void *buf, size_t cap)
{
    return access_read(ctx, buf, cap);
}

static int access_source_end(void *ctx)
{
    return access_end(ctx);
}

static void access_source_close(void *ctx)
{
    access_close(ctx);
}

struct ahead *ahead_start_access(struct access_reader *r, uint64_t limit)
{
    struct ahead_source src = {access_source_read, access_source_end, access_source_close, r};
    return ahead_start(&src, limit);
}
