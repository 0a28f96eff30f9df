#ifndef PGVAULT_PIPELINE_H
#define PGVAULT_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "postgres/dumpscan.h"

/*
 * One pass over a dump stream: read in_fd to EOF; feed every byte to the dump scanner
 * (row counts, trailer) and to XXH3-128 (raw checksum); deflate it (gzip format) unless
 * level is 0; hash what is written (file checksum) and write it to out_fd.
 */
struct pipeline_opts {
    int in_fd;
    int out_fd;
    int level;                     /* 1..9, 0 = store plain */
    int jobs;                      /* deflate threads; <= 1 = on the reading thread */
    const char *out_name;          /* for messages */
    volatile sig_atomic_t *cancel; /* stop when it becomes non-zero (may be NULL) */
    void (*progress)(void *ctx, uint64_t raw_bytes, uint64_t out_bytes);
    void *progress_ctx;
};

struct pipeline_result {
    uint64_t raw_bytes;
    uint64_t out_bytes;
    char checksum[33];     /* of the bytes written, canonical hex as xxhsum -H2 prints */
    char raw_checksum[33]; /* of the input */
    struct dumpscan *scan; /* owned by the caller after the run (dumpscan_free) */
};

/* Returns 0 when the whole input was read and written, else -1 with the error set
 * (read/write errors name the file; cancellation says "interrupted"). */
int pipeline_run(const struct pipeline_opts *o, struct pipeline_result *r);

/* The canonical XXH3-128 hex of a whole file (and its size), read in fixed chunks. */
int pipeline_hash_file(const char *path, char out[33], uint64_t *size,
                       volatile sig_atomic_t *cancel);

#endif
