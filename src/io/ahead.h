#ifndef PGVAULT_AHEAD_H
#define PGVAULT_AHEAD_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Decompression ahead of the consumer: a thread reads an access reader (io/access.h)
 * into a small ring of buffers while the caller hands what it got to the server, so that
 * inflating the next megabyte overlaps the server's work on the last one (one thread
 * doing both left the server waiting for its socket). It reads no more than limit bytes,
 * for a caller that wants one part of the file, and at the limit ends the reader there
 * (access_end: a zstd frame's checksum).
 */
struct access_reader;
struct ahead;

/* Starts the thread over r (which it owns from now on, and closes). NULL with the error
 * set (r closed) when no thread can be started. */
struct ahead *ahead_start(struct access_reader *r, uint64_t limit);

/* As access_read: up to cap bytes, 0 at the end (or at limit), -1 with the error set. */
ssize_t ahead_read(struct ahead *a, void *buf, size_t cap);

/* Stops the thread and closes the reader; NULL-safe. */
void ahead_free(struct ahead *a);

#endif
