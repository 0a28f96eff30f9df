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
/* Flushes the last block and the gzip trailer. */
int pdeflate_finish(struct pdeflate *p);
/* Stops the threads and frees everything; NULL-safe. */
void pdeflate_free(struct pdeflate *p);

#endif
