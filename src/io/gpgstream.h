#ifndef PGVAULT_GPGSTREAM_H
#define PGVAULT_GPGSTREAM_H

#include <gpgme.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "io/chain.h"

/*
 * The bridge between the push model of the chain and the pull model of GPGME, for the
 * OpenPGP filters of io/openpgp.c. A GPGME operation (gpgme_op_encrypt, _decrypt) reads its
 * input and writes its output through data callbacks and returns only when done, so it
 * runs on a worker thread of its own:
 *
 *   - process() lends the caller's buffer to the worker (no copy: the read callback copies
 *     from it under the lock straight into GPGME's buffer) and returns once the worker has
 *     taken all of it;
 *   - the write callback fills a 1 MiB buffer; the chain's thread swaps it for an empty
 *     one and pushes it to the next filter. filter_push is only ever called on the chain's
 *     thread, and the worker waits while the buffer is full: memory stays bounded whatever
 *     the size of the stream;
 *   - finish() signals the end of input and hands on the rest of the output until the
 *     operation ends; the worker's error (err.h errors are per thread) is carried back to
 *     the chain's thread and restored there;
 *   - when the next filter fails, or the chain is freed early, the callbacks fail at once,
 *     so GPGME stops and gpg gets end of file or a broken pipe, and the worker is joined
 *     before process() returns: nothing hangs, and the caller's buffer is no longer read.
 *
 * gpg runs as GPGME's child talking to it through pipes only: nothing of the stream is
 * written to a file on the way.
 */

/* The operation, run on the worker with the two callback-backed data objects. */
typedef gpgme_error_t (*gpg_stream_run)(void *op, gpgme_ctx_t ctx, gpgme_data_t in,
                                        gpgme_data_t out);
/* Turns the operation's failure into the error (err_set, on the worker); returns -1. */
typedef int (*gpg_stream_fail)(void *op, gpgme_ctx_t ctx, gpgme_error_t e);

struct gpg_stream {
    struct filter base; /* the filter whose ops use gpg_stream_process and _finish */
    gpgme_ctx_t ctx;
    gpg_stream_run run;
    gpg_stream_fail fail;
    void *op; /* handed to run and fail: the filter that embeds the stream */

    pthread_mutex_t mu;
    pthread_cond_t to_worker; /* input lent, end of input, room in the output, cancel */
    pthread_cond_t to_chain;  /* input taken, output half full, worker done */
    pthread_t thread;
    bool started, joined;

    const unsigned char *in; /* the part of the caller's buffer not taken yet */
    size_t in_len;
    bool in_eof;
    unsigned char *out, *spare; /* the worker fills out; spare is being pushed */
    size_t out_len;
    bool done, cancel;
    uint64_t produced;    /* bytes of output GPGME has written so far */
    int rc;               /* the worker's result: 0 or -1 with err set */
    struct err_saved err; /* the worker's error, carried to the chain's thread */
};

/* Sets up s (embedded first in a filter whose ops are set by the caller) to run op. */
void gpg_stream_init(struct gpg_stream *s, gpgme_ctx_t ctx, gpg_stream_run run,
                     gpg_stream_fail fail, void *op);

/* The filter_ops process and finish of a struct gpg_stream. */
int gpg_stream_process(struct filter *f, const unsigned char *buf, size_t len);
int gpg_stream_finish(struct filter *f);

/* Stops the worker (cancelling the operation if it still runs) and frees what s owns,
 * not s itself. */
void gpg_stream_release(struct gpg_stream *s);

#endif
