#include "io/gpgstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/util.h"

#define OUT_CAP (1u << 20)     /* the worker waits when its output buffer is full */
#define OUT_HALF (OUT_CAP / 2) /* the chain's thread pushes from half full on */

void gpg_stream_init(struct gpg_stream *s, gpgme_ctx_t ctx, gpg_stream_run run,
                     gpg_stream_fail fail, void *op)
{
    s->ctx = ctx;
    s->run = run;
    s->fail = fail;
    s->op = op;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->to_worker, NULL);
    pthread_cond_init(&s->to_chain, NULL);
    s->out = xmalloc_io(OUT_CAP);
    s->spare = xmalloc_io(OUT_CAP);
}

/* GPGME wants input: copies from the lent buffer, waiting for one; 0 at the end. */
static ssize_t read_cb(void *handle, void *buffer, size_t size)
{
    struct gpg_stream *s = handle;
    pthread_mutex_lock(&s->mu);
    while (!s->cancel && s->in_len == 0 && !s->in_eof)
        pthread_cond_wait(&s->to_worker, &s->mu);
    ssize_t n = -1;
    if (!s->cancel) {
        size_t k = size < s->in_len ? size : s->in_len;
        if (k > 0) { /* else the end of input */
            memcpy(buffer, s->in, k);
            s->in += k;
            s->in_len -= k;
            if (s->in_len == 0)
                pthread_cond_signal(&s->to_chain);
        }
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&s->mu);
    if (n < 0)
        errno = ECANCELED;
    return n;
}

/* GPGME has output: appends what fits, waiting for room. */
static ssize_t write_cb(void *handle, const void *buffer, size_t size)
{
    struct gpg_stream *s = handle;
    pthread_mutex_lock(&s->mu);
    while (!s->cancel && s->out_len == OUT_CAP)
        pthread_cond_wait(&s->to_worker, &s->mu);
    ssize_t n = -1;
    if (!s->cancel) {
        size_t k = size < OUT_CAP - s->out_len ? size : OUT_CAP - s->out_len;
        memcpy(s->out + s->out_len, buffer, k);
        s->out_len += k;
        s->produced += k;
        if (s->out_len >= OUT_HALF)
            pthread_cond_signal(&s->to_chain);
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&s->mu);
    if (n < 0)
        errno = EPIPE;
    return n;
}

static void *worker(void *arg)
{
    static struct gpgme_data_cbs in_cbs = {.read = read_cb}, out_cbs = {.write = write_cb};
    struct gpg_stream *s = arg;
    gpgme_data_t in = NULL, out = NULL;
    gpgme_error_t e = gpgme_data_new_from_cbs(&in, &in_cbs, s);
    if (!e)
        e = gpgme_data_new_from_cbs(&out, &out_cbs, s);
    if (!e)
        e = s->run(s->op, s->ctx, in, out);
    int rc = e ? s->fail(s->op, s->ctx, e) : 0;
    struct err_saved saved;
    err_save(&saved);
    gpgme_data_release(in);
    gpgme_data_release(out);

    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    s->err = saved;
    s->done = true;
    pthread_cond_signal(&s->to_chain);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int start(struct gpg_stream *s)
{
    if (s->started)
        return 0;
    int rc = pthread_create(&s->thread, NULL, worker, s);
    if (rc != 0)
        return err_sys(rc, "could not start the OpenPGP worker thread");
    s->started = true;
    return 0;
}

/* Cancels the operation if it still runs and waits for the worker to end. */
static void stop(struct gpg_stream *s)
{
    if (!s->started || s->joined)
        return;
    pthread_mutex_lock(&s->mu);
    s->cancel = true;
    pthread_cond_broadcast(&s->to_worker);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->joined = true;
}

/* With the lock held: pushes the worker's output on, all of it or only from half full.
 * The lock is released while the next filter works; held again on return. */
static int drain(struct gpg_stream *s, bool all)
{
    while (s->out_len > 0 && (all || s->out_len >= OUT_HALF)) {
        unsigned char *full = s->out;
        size_t n = s->out_len;
        s->out = s->spare;
        s->spare = full;
        s->out_len = 0;
        pthread_cond_signal(&s->to_worker);
        pthread_mutex_unlock(&s->mu);
        int rc = filter_push(s->base.next, full, n);
        pthread_mutex_lock(&s->mu);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* With the lock held: hands output on until the worker is done, or (until_done false)
 * until it has also taken all the input lent to it. */
static int pump(struct gpg_stream *s, bool until_done)
{
    for (;;) {
        bool done = s->done; /* what it wrote before it was done is all there is */
        if (drain(s, done) != 0)
            return -1;
        if (done || (!until_done && s->in_len == 0))
            return 0;
        /* drain let go of the lock: wait only for what has not happened meanwhile */
        if (!s->done && s->out_len < OUT_HALF && (until_done || s->in_len > 0))
            pthread_cond_wait(&s->to_chain, &s->mu);
    }
}

/* After pump: the worker's error, now the chain's, or 0. */
static int result(struct gpg_stream *s)
{
    if (s->done && s->rc != 0)
        return err_restore(&s->err);
    if (s->done && s->in_len > 0)
        return err_set(ERR_INTEGRITY, "could not decrypt: data after the end of the OpenPGP "
                                      "message");
    return 0;
}

int gpg_stream_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct gpg_stream *s = (struct gpg_stream *)f;
    if (start(s) != 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    s->in = buf;
    s->in_len = len;
    pthread_cond_signal(&s->to_worker);
    int rc = pump(s, false);
    bool failed_here = rc != 0;
    if (rc == 0)
        rc = result(s);
    s->in = NULL; /* taken, or never to be: the worker is done */
    s->in_len = 0;
    pthread_mutex_unlock(&s->mu);
    if (failed_here)
        stop(s);
    return rc;
}

int gpg_stream_finish(struct filter *f)
{
    struct gpg_stream *s = (struct gpg_stream *)f;
    if (start(s) != 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    s->in_eof = true;
    pthread_cond_signal(&s->to_worker);
    int rc = pump(s, true);
    if (rc == 0)
        rc = result(s);
    pthread_mutex_unlock(&s->mu);
    stop(s); /* done by now, unless the next filter failed */
    return rc;
}

void gpg_stream_release(struct gpg_stream *s)
{
    stop(s);
    gpgme_release(s->ctx);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->to_worker);
    pthread_cond_destroy(&s->to_chain);
    free(s->out);
    free(s->spare);
}
