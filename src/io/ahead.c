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
    struct access_reader *r;
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
        ssize_t n = want ? access_read(a->r, b, want) : access_end(a->r);
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

struct ahead *ahead_start(struct access_reader *r, uint64_t limit)
{
    struct ahead *a = xcalloc(1, sizeof(*a));
    a->r = r;
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
        err_sys(e, "could not start a thread to decompress ahead");
        return NULL;
    }
    return a;
}

ssize_t ahead_read(struct ahead *a, void *buf, size_t cap)
{
    pthread_mutex_lock(&a->mu);
    while (a->head == a->tail && !a->end)
        pthread_cond_wait(&a->filled, &a->mu);
    ssize_t n = 0;
    if (a->head != a->tail) {
        unsigned slot = a->tail % SLOTS;
        size_t have = a->len[slot] - a->pos;
        size_t take = have < cap ? have : cap;
        /* the slot's bytes stay the consumer's until it is released below */
        pthread_mutex_unlock(&a->mu);
        memcpy(buf, a->buf[slot] + a->pos, take);
        pthread_mutex_lock(&a->mu);
        a->pos += take;
        if (a->pos == a->len[slot]) {
            a->pos = 0;
            a->tail++;
            pthread_cond_signal(&a->drained);
        }
        n = (ssize_t)take;
    } else if (a->failed) {
        struct err_saved why = a->why;
        pthread_mutex_unlock(&a->mu);
        return err_restore(&why);
    }
    pthread_mutex_unlock(&a->mu);
    return n;
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
    access_close(a->r);
    for (int i = 0; i < SLOTS; i++)
        free(a->buf[i]);
    pthread_cond_destroy(&a->drained);
    pthread_cond_destroy(&a->filled);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
