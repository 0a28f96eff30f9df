#include "io/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

#define READ_CHUNK (1u << 20)

struct chain {
    struct filter *first, *last;
    bool failed;
    struct err_saved why; /* a constructor's error, kept until the run reports it */
};

int filter_push(struct filter *f, const unsigned char *buf, size_t len)
{
    if (!f || len == 0)
        return 0;
    return f->ops->process(f, buf, len);
}

int filter_mark(struct filter *f, size_t id)
{
    for (; f; f = f->next)
        if (f->ops->mark)
            return f->ops->mark(f, id);
    return 0;
}

struct chain *chain_new(void)
{
    return xcalloc(1, sizeof(struct chain));
}

void chain_add(struct chain *c, struct filter *f)
{
    if (!f) {
        if (!c->failed) {
            c->failed = true;
            err_save(&c->why);
            err_restore(&c->why);
        }
        return;
    }
    f->next = NULL;
    if (c->last)
        c->last->next = f;
    else
        c->first = f;
    c->last = f;
}

/* 0 if the chain can go on; else -1 with its error current. */
static int chain_ok(struct chain *c)
{
    if (!c->failed)
        return 0;
    if (c->why.cls != ERR_NONE)
        err_restore(&c->why);
    else if (!err_is_set())
        err_set(ERR_FAILED, "could not process the stream: an earlier step failed");
    return -1;
}

int chain_write(struct chain *c, const unsigned char *buf, size_t len)
{
    if (chain_ok(c) != 0)
        return -1;
    if (filter_push(c->first, buf, len) != 0) {
        c->failed = true;
        return -1;
    }
    return 0;
}

int chain_finish(struct chain *c)
{
    if (chain_ok(c) != 0)
        return -1;
    for (struct filter *f = c->first; f; f = f->next) {
        if (f->ops->finish && f->ops->finish(f) != 0) {
            c->failed = true;
            return -1;
        }
    }
    return 0;
}

int chain_pump_fd(struct chain *c, int fd, const char *what, volatile sig_atomic_t *cancel)
{
    if (chain_ok(c) != 0)
        return -1;
    /* a bigger pipe means fewer wake-ups; failure (not a pipe) is harmless */
    (void)fcntl(fd, F_SETPIPE_SZ, (int)READ_CHUNK);
    unsigned char *buf = xmalloc_io(READ_CHUNK);
    int rc = -1;
    for (;;) {
        if (cancel && *cancel) {
            err_set(ERR_FAILED, "interrupted");
            goto out;
        }
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(errno, "could not read %s", what);
            goto out;
        }
        if (n == 0)
            break;
        if (chain_write(c, buf, (size_t)n) != 0)
            goto out;
    }
    rc = chain_finish(c);
out:
    if (rc != 0)
        c->failed = true;
    free(buf);
    return rc;
}

/*
 * The file source reads ahead on a thread of its own: while the chain hashes (inflates,
 * scans) one chunk, the next ones are being copied out of the page cache, so that a
 * verify of a cached file takes about as long as reading it, not reading plus hashing.
 * A ring of RING_SLOTS chunks; the reader fills slot (head), the chain drains slot (tail).
 */
#define RING_SLOTS 4
#define RING_CHUNK (512u << 10)

struct ring {
    pthread_mutex_t mu;
    pthread_cond_t filled, drained;
    unsigned char *buf[RING_SLOTS];
    size_t len[RING_SLOTS];
    unsigned head, tail; /* chunks read, chunks consumed (head - tail <= RING_SLOTS) */
    bool eof;            /* the reader reached the end (or failed: errnum) */
    bool stop;           /* the chain gave up: the reader stops at its next chunk */
    int errnum;
    int fd;
};

static void *ring_reader(void *arg)
{
    struct ring *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->head - r->tail == RING_SLOTS && !r->stop)
            pthread_cond_wait(&r->drained, &r->mu);
        bool stop = r->stop;
        unsigned char *buf = r->buf[r->head % RING_SLOTS];
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return NULL;
        ssize_t n;
        do
            n = read(r->fd, buf, RING_CHUNK);
        while (n < 0 && errno == EINTR);
        pthread_mutex_lock(&r->mu);
        if (n > 0) {
            r->len[r->head % RING_SLOTS] = (size_t)n;
            r->head++;
        } else {
            r->errnum = n < 0 ? errno : 0;
            r->eof = true;
        }
        pthread_cond_signal(&r->filled);
        pthread_mutex_unlock(&r->mu);
        if (n <= 0)
            return NULL;
    }
}

/* The next chunk read, or NULL at the end (*errnum: 0, or why the read failed). */
static unsigned char *ring_next(struct ring *r, size_t *len, int *errnum)
{
    pthread_mutex_lock(&r->mu);
    while (r->head == r->tail && !r->eof)
        pthread_cond_wait(&r->filled, &r->mu);
    unsigned char *buf = NULL;
    if (r->head != r->tail) {
        buf = r->buf[r->tail % RING_SLOTS];
        *len = r->len[r->tail % RING_SLOTS];
    } else {
        *errnum = r->errnum;
    }
    pthread_mutex_unlock(&r->mu);
    return buf;
}

/* The chain is done with the chunk ring_next gave. */
static void ring_release(struct ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->tail++;
    pthread_cond_signal(&r->drained);
    pthread_mutex_unlock(&r->mu);
}

static int pump_ring(struct chain *c, struct ring *r, const char *what,
                     volatile sig_atomic_t *cancel)
{
    for (;;) {
        if (cancel && *cancel)
            return err_set(ERR_FAILED, "interrupted");
        size_t len = 0;
        int errnum = 0;
        unsigned char *buf = ring_next(r, &len, &errnum);
        if (!buf)
            return errnum ? err_sys(errnum, "could not read %s", what) : chain_finish(c);
        int rc = chain_write(c, buf, len);
        ring_release(r);
        if (rc != 0)
            return -1;
    }
}

static int pump_readahead(struct chain *c, int fd, const char *what, volatile sig_atomic_t *cancel)
{
    struct ring r = {.fd = fd};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.filled, NULL);
    pthread_cond_init(&r.drained, NULL);
    for (int i = 0; i < RING_SLOTS; i++)
        r.buf[i] = xmalloc_io(RING_CHUNK);
    pthread_t reader;
    int rc;
    int perr = pthread_create(&reader, NULL, ring_reader, &r);
    if (perr != 0) {
        rc = err_sys(perr, "could not start a thread to read %s", what);
    } else {
        rc = pump_ring(c, &r, what, cancel);
        pthread_mutex_lock(&r.mu);
        r.stop = true;
        pthread_cond_signal(&r.drained);
        pthread_mutex_unlock(&r.mu);
        pthread_join(reader, NULL);
    }
    if (rc != 0)
        c->failed = true;
    for (int i = 0; i < RING_SLOTS; i++)
        free(r.buf[i]);
    pthread_cond_destroy(&r.drained);
    pthread_cond_destroy(&r.filled);
    pthread_mutex_destroy(&r.mu);
    return rc;
}

int chain_pump_file(struct chain *c, const char *path, volatile sig_atomic_t *cancel)
{
    if (chain_ok(c) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        c->failed = true;
        return err_sys(errno, "could not open file \"%s\"", path);
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char *what = xasprintf("file \"%s\"", path);
    int rc = pump_readahead(c, fd, what, cancel);
    free(what);
    close(fd);
    return rc;
}

void chain_free(struct chain *c)
{
    if (!c)
        return;
    for (struct filter *f = c->first, *next; f; f = next) {
        next = f->next;
        if (f->ops->free)
            f->ops->free(f);
        else
            free(f);
    }
    free(c);
}
