#ifndef PGVAULT_RESTORE_H
#define PGVAULT_RESTORE_H

#include <stdint.h>

#include "config/config.h"
#include "config/options.h"

/*
 * A test restore through the normal restore path: the backup (opt->args[0], else
 * "latest" of opt->db) is resolved, its checksum verified, loaded into a scratch
 * database of its own (naming_test_db), its tables and row counts checked against the
 * catalog; then check runs on the loaded database, and the scratch database is dropped
 * whatever happened (a signal included). The restores row has mode "test"; success sets
 * the backup's restore_tested_at. Nothing is printed: the outcome is in the struct.
 */
struct restore_test {
    int (*check)(void *ctx, const char *db); /* 0, or -1 with the error set */
    void *ctx;
    /* the outcome */
    int64_t restore_id, backup_id;
    char *db_name, *file_name, *scratch; /* owned, freed by restore_test_free */
    int64_t tables_checked, rows_checked;
};

/* 0, or -1 with the error set (ERR_INTEGRITY for a corrupted file or a count mismatch). */
int restore_test_run(const struct options *opt, const struct settings *set, struct restore_test *t);
void restore_test_free(struct restore_test *t);

#endif
