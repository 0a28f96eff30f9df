#ifndef PGVAULT_AHEAD_H
#define PGVAULT_AHEAD_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Reading ahead: a thread reads a source into a small ring of buffers (4 × 1 MiB) while
 * the caller works on what it got, so that reading (inflating) the next megabyte overlaps
 * the caller's work on the last one. The file source of a chain (io/chain.h) reads ahead
 * so that hashing overlaps copying out of the page cache; each session of a parallel
 * restore so that inflating overlaps the server's work (one thread doing both left the
 * server waiting for its socket). It reads no more than limit bytes, for a caller that
 * wants one part of a file, and at the limit calls the source's end.
 */
#include <stddef.h>

struct ahead_source {
    /* Up to cap bytes into buf: the count, 0 at the end, -1 with the error set. */
    ssize_t (*read)(void *ctx, void *buf, size_t cap);
    /* At the limit (NULL: nothing to do): 0, or -1 with the error set. */
    int (*end)(void *ctx);
    /* Frees the source, once the thread is done (NULL: nothing to do). */
    void (*close)(void *ctx);
    void *ctx;
};
struct ahead;

/* Starts the thread over src (whose ctx it owns from now on, and closes). NULL with the
 * error set (the source closed) when no thread can be started. */
struct ahead *ahead_start(const struct ahead_source *src, uint64_t limit);

/* Over an access reader (io/access.h), ended with access_end and closed with it. */
struct access_reader;
struct ahead *ahead_start_access(struct access_reader *r, uint64_t limit);

/* Up to cap bytes read, 0 at the end (or at limit), -1 with the source's error set. */
ssize_t ahead_read(struct ahead *a, void *buf, size_t cap);

/* The same without a copy: the next bytes read, in place at *buf and valid until
 * ahead_release, which the caller calls once it is done with them. */
ssize_t ahead_next(struct ahead *a, const unsigned char **buf);
void ahead_release(struct ahead *a);

/* Stops the thread and closes the source; NULL-safe. */
void ahead_free(struct ahead *a);

#endif
