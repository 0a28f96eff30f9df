#ifndef PGVAULT_FILTERS_H
#define PGVAULT_FILTERS_H

#include <stddef.h>
#include <stdint.h>

#include "io/chain.h"

/*
 * The small filters of a chain. The pass-through ones (size, progress, dump scanner) hand
 * every byte on unchanged; the sinks (fd, callback) end the stream. Results go where the
 * caller points them, so they outlive the chain.
 */
struct dumpscan;
struct progress;

/* Adds the number of bytes that pass to *total (set to 0 here). */
struct filter *filter_size_new(uint64_t *total);

/* Reports the bytes passed so far on a progress line (NULL: none shown). */
struct filter *filter_progress_new(struct progress *p);

/* Feeds every byte to the dump scanner (row counts, trailer); the caller owns scan. At
 * each access point the scanner records (dumpscan_set_interval), the bytes before it are
 * passed on, then the mark of the point's number (dumpscan_point's i). */
struct filter *filter_dumpscan_new(struct dumpscan *scan);

/* The byte count at each access point's mark (io/chain.h) that reaches the filter: put
 * right after the compressor, the compressed offset where decompression can start. */
struct mark_offsets {
    uint64_t *at; /* by the mark's id; UINT64_MAX for an id never marked */
    size_t n;
};
struct filter *filter_mark_offsets_new(struct mark_offsets *out);
/* The offset of mark id, UINT64_MAX if it never came. */
uint64_t mark_offset(const struct mark_offsets *m, size_t id);
void mark_offsets_free(struct mark_offsets *m);

/* The sink that writes everything to fd; write errors name the file name. */
struct filter *filter_fd_new(int fd, const char *name);

/* The sink that hands every buffer to fn(ctx, …), which returns 0 to go on or -1 with the
 * error set to stop the chain (psql's stdin, import's scanner). */
typedef int (*filter_callback)(void *ctx, const unsigned char *buf, size_t len);
struct filter *filter_callback_new(filter_callback fn, void *ctx);

#endif
