#ifndef PGVAULT_ZSTD_H
#define PGVAULT_ZSTD_H

#include "io/chain.h"

/*
 * zstd as two filters, with libzstd's streaming API. Both are NULL with the error set
 * when libzstd cannot be set up.
 */

/* Compresses into standard zstd with a content checksum (what zstd(1) writes by default)
 * at level 1..19, one frame unless access points cut it; jobs > 1 gives libzstd that many worker
 * threads, or none when the library was built without them. An access point's mark ends the frame:
 * what follows is a new frame (one stream of concatenated frames, as zstd(1) reads it). */
struct filter *filter_zstd_new(int level, int jobs);

/* Decompresses every frame of a zstd stream (concatenated frames are valid zstd, as
 * zstd(1) reads them); libzstd checks each frame's content checksum when it has one.
 * Corrupt data or trailing garbage, or a stream that ends inside a frame or holds
 * nothing, is ERR_INTEGRITY naming the file name. */
struct filter *filter_unzstd_new(const char *name);

#endif
