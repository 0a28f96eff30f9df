#ifndef PGVAULT_PDEFLATE_H
#define PGVAULT_PDEFLATE_H

#include <stddef.h>

/*
 * Parallel deflate into ONE standard gzip member: the stream is cut into blocks that a
 * pool of threads compresses independently, each primed with the previous block's last
 * 32 KiB as dictionary and ended with a sync flush (the last one with a final block), so
 * that the blocks concatenate into one deflate stream; the CRC-32 is combined with
 * crc32_combine. gunzip and gzip -t accept the result; its size is within a fraction of a
 * percent of single-threaded zlib at the same level.
 *
 * The sink is called on the caller's thread, in order.
 */
struct pdeflate;

typedef int (*pdeflate_sink)(void *ctx, const unsigned char *buf, size_t len);

/* level 1..9, jobs >= 1 threads. NULL with the error set on failure. */
struct pdeflate *pdeflate_new(int level, int jobs, pdeflate_sink sink, void *ctx);
/* Compresses buf (any length); returns 0, or -1 with the error set (a sink error too). */
int pdeflate_write(struct pdeflate *p, const unsigned char *buf, size_t len);
/* The sink of marks: called on the caller's thread once the output before mark id went
 * to the sink; returns 0 or -1 with the error set. */
typedef int (*pdeflate_mark_sink)(void *ctx, size_t id);
void pdeflate_on_mark(struct pdeflate *p, pdeflate_mark_sink fn);
/* An access point: the block being filled ends here (a sync flush) and the next one
 * starts a fresh deflate stream with no dictionary, so that raw inflate can start at its
 * first byte; the mark goes to the mark sink when that block is drained, in order. */
int pdeflate_mark(struct pdeflate *p, size_t id);
/* Flushes the last block and the gzip trailer. */
int pdeflate_finish(struct pdeflate *p);
/* Stops the threads and frees everything; NULL-safe. */
void pdeflate_free(struct pdeflate *p);

#endif
