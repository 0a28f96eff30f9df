#ifndef PGVAULT_GZIP_H
#define PGVAULT_GZIP_H

#include "io/chain.h"

/*
 * gzip, the origin's format, as two filters. Both are NULL with the error set when zlib
 * (or the compression threads) cannot be set up.
 */

/* Deflates into one standard gzip member at level 1..9: with zlib on the chain's thread
 * when jobs <= 1 (byte for byte what gzip(1)'s zlib writes), else with the parallel
 * deflate of io/pdeflate.h on jobs threads. At an access point's mark the deflate stream
 * is flushed so that raw inflate can start at the next byte (zlib: a full flush; the
 * parallel deflate: the end of a block, and a fresh stream without dictionary). */
struct filter *filter_gzip_new(int level, int jobs);

/* Inflates every member of a gzip stream (concatenated members are valid gzip); zlib
 * checks each member's CRC and length. Corrupt data, or a stream that ends inside a
 * member or holds nothing, is ERR_INTEGRITY naming the file name. */
struct filter *filter_gunzip_new(const char *name);

#endif
