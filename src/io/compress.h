#ifndef PGVAULT_COMPRESS_H
#define PGVAULT_COMPRESS_H

#include "io/chain.h"

/*
 * The compression formats by the name the catalog records ("gzip", "zstd", "none"): the one
 * place that maps a name to its filters, so that a new format is its pair of filters
 * and one row here. "none" adds nothing; an unknown name makes the chain fail.
 */

/* Appends the compressing filter: level as the format counts it, jobs threads. */
void compress_add(struct chain *c, const char *compression, int level, int jobs);

/* Appends the decompressing filter; name is the file named in its errors. */
void decompress_add(struct chain *c, const char *compression, const char *name);

#endif
