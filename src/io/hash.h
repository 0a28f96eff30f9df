#ifndef PGVAULT_HASH_H
#define PGVAULT_HASH_H

#include <signal.h>
#include <stdint.h>

#include "io/chain.h"

/*
 * XXH3-128, the checksum of every backup file and of the dump inside it, written as the
 * canonical (big-endian) hex that "xxhsum -H2" prints: 32 digits and a NUL.
 */
#define HASH_HEX_LEN 33

/* A pass-through filter that hashes every byte; its finish writes the hex to out. NULL
 * with the error set if the hash state cannot be allocated. */
struct filter *filter_hash_new(char out[HASH_HEX_LEN]);

/* The hex of a whole file and its size, read in fixed chunks (a chain of size and hash). */
int hash_file(const char *path, char out[HASH_HEX_LEN], uint64_t *size,
              volatile sig_atomic_t *cancel);

#endif
