#ifndef PGVAULT_READER_H
#define PGVAULT_READER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Reads a backup file once: hashes the bytes on disk, inflates them when the file is
 * gzip (every member; the gzip CRC and length are checked by zlib), hashes the raw
 * stream and hands it to a sink in chunks. Used by restore (sink: psql's stdin), verify
 * --deep and import (sink: the dump scanner).
 */
struct reader_result {
    uint64_t file_bytes;
    uint64_t raw_bytes;
    char checksum[33];
    char raw_checksum[33];
};

/* Returns 0 to go on, -1 (with the error set) to stop. */
typedef int (*reader_sink)(void *ctx, const unsigned char *buf, size_t len);

/* Corrupt or truncated gzip data is ERR_INTEGRITY; I/O errors ERR_FAILED. */
int reader_run(const char *path, bool gzip, reader_sink sink, void *ctx,
               volatile sig_atomic_t *cancel, struct reader_result *r);

#endif
