#ifndef PGVAULT_COMPRESSION_H
#define PGVAULT_COMPRESSION_H

#include <stddef.h>

/*
 * The compressions a backup may use, as the user names them (--compress, the config file)
 * and the catalog records them: each one's file suffix and range of levels. The filters
 * that do the work are in io/compress.c's table, by the same names.
 */
struct compression {
    const char *name;   /* "gzip", "zstd", "none" */
    const char *suffix; /* what follows ".sql" in a file name: ".gz", ".zst", "" */
    int min_level, max_level, default_level; /* all 0 for "none" */
    /* The default --jobs: one thread a core from this level up, one thread below it.
     * zstd's fast levels keep ahead of pg_dump on one core, and its workers would only
     * take the core pg_dump and the server need (and 40 MiB more memory). */
    int all_cores_from_level;
};

/* The compression called name, or NULL. */
const struct compression *compression_find(const char *name);

/* The compression whose file name "….sql<suffix>" file[0..len) is, or NULL; *stem_len is
 * then len without ".sql<suffix>". */
const struct compression *compression_of_file(const char *file, size_t len, size_t *stem_len);

/* "gzip, zstd or none": the names, for messages. */
extern const char compression_names[];

#endif
