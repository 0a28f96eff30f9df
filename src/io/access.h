#ifndef PGVAULT_ACCESS_H
#define PGVAULT_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The seekable reader: a backup file's decompressed stream from one of its access points
 * (the catalog's comp_offset), without reading what comes before it. At a point the
 * compressor made decoding possible from the next byte (gzip: the deflate stream was
 * flushed and, with the parallel deflate, restarted without dictionary; zstd: a new frame
 * starts), so the reader inflates raw deflate, or decompresses frames, from there on. It
 * never needs the gzip trailer: a caller reads only the part it wants.
 */
struct crypt_keys;
struct access_reader;

/* The decompressed stream of the backup file at path from comp_offset (an access
 * point's, or 0: the stream's start). compression "gzip" (raw inflate from there; at 0,
 * the member with its header), "zstd" (frames from there) or
 * "none"; encryption "none", or "age" (the payload from there, 64 KiB chunks each
 * authenticated on its own; the identities are read from keys' identity file). Another
 * encryption, or age without an identity file: NULL with ERR_FAILED "… cannot be read
 * from an access point", so that the caller falls back to reading from the start. NULL
 * with the error set on failure. */
struct access_reader *access_open(const char *path, const char *compression, const char *encryption,
                                  const struct crypt_keys *keys, uint64_t comp_offset);
/* Up to cap decompressed bytes into buf: the count, 0 at the end of the stream, -1 with
 * the error set (corrupt data: ERR_INTEGRITY naming the file). */
ssize_t access_read(struct access_reader *r, void *buf, size_t cap);
/* The reader stopped where a part ends (an access point, or the "\." line before a
 * table's end point): with zstd, the frame that ends there is read to its end, which
 * checks its content checksum; more than that line before the end is ERR_INTEGRITY. 0,
 * or -1 with the error set. Nothing to do for gzip and none. */
int access_end(struct access_reader *r);

void access_close(struct access_reader *r); /* NULL-safe */

#endif
