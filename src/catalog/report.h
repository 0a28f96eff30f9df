#ifndef PGVAULT_CATALOG_REPORT_H
#define PGVAULT_CATALOG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

/*
 * What "pgvault report" reads: per database, its backups of a period with their
 * verifications, test restores and remote copies, the tables whose row counts moved
 * most, and a summary of each database over its whole history. Read-only queries;
 * since is ISO-8601 UTC (rows started at or after it), NULL for the whole history.
 * Integers that are NULL in the catalog are -1; strings NULL.
 */

/* One database at a glance, whatever the period. */
struct report_summary {
    char *db_name;
    int64_t latest_id; /* the newest complete backup, 0 if none */
    char *latest_at;   /* its started_at */
    int64_t latest_size;
    bool latest_suspect;
    char *last_status; /* the newest run that ended (any status but running) */
    char *last_at;
    char *last_error;
    char *verified_at; /* the newest verification of any of its backups */
    char *tested_at;   /* the newest successful test restore of any of its backups */
    int64_t backups;   /* rows started in the period, and those of them that failed */
    int64_t failed;
};

/* Every database with a backup row (db: only that one), by name. */
int catalog_report_summaries(struct catalog *c, const char *db, const char *since,
                             struct report_summary **out, size_t *n);
void report_summaries_free(struct report_summary *s, size_t n);

/* One backup of the period. */
struct report_backup {
    int64_t id;
    char *file_name, *started_at, *status, *label, *error;
    char *verified_at, *pruned_at, *prune_rule;
    char *tested_at;   /* restore_tested_at, else the newest complete 'test' restore */
    char *test_status; /* of its newest test restore that ended: complete, failed; NULL */
    int64_t size_bytes, raw_bytes, duration_ms, table_count, row_count;
    bool pinned, suspect;
};

/* The newest limit backups of db in the period but those still running, oldest first. */
int catalog_report_backups(struct catalog *c, const char *db, const char *since, size_t limit,
                           struct report_backup **out, size_t *n);
void report_backups_free(struct report_backup *b, size_t n);

/* One row of `copies`: a backup of the period on one remote. */
struct report_copy {
    int64_t backup_id;
    char *remote, *status, *copied_at;
};

/* The copies of db's backups of the period, by remote, then backup. */
int catalog_report_copies(struct catalog *c, const char *db, const char *since,
                          struct report_copy **out, size_t *n);
void report_copies_free(struct report_copy *r, size_t n);

/* A table's row count in the first and the last backup of the period that recorded
 * tables (a complete backup, or one pruned or missing since); -1 where it is absent. */
struct report_mover {
    char *schema_name, *table_name;
    int64_t first, last;
};

/* At most limit tables whose count changed most (absolute change, then by name); tables
 * that did not change are left out. */
int catalog_report_movers(struct catalog *c, const char *db, const char *since, size_t limit,
                          struct report_mover **out, size_t *n);
void report_movers_free(struct report_mover *m, size_t n);

/* The table's row count in each backup of the period that recorded tables, oldest
 * first (-1 where it is absent): a sparkline's points. */
int catalog_report_table_counts(struct catalog *c, const char *db, const char *since,
                                const char *schema, const char *table, int64_t **out, size_t *n);

#endif
