#ifndef PGVAULT_AUDIT_H
#define PGVAULT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog/catalog.h"
#include "common/util.h"

/*
 * Pure helpers of the audit commands (log, diff, check, import): no I/O, so that the unit
 * tests can reach every case.
 */

/*
 * Parses the WHEN of "log --since": an ISO-8601 date ("2026-11-01", midnight UTC), a date and
 * time ("2026-11-01T12:00", "2026-11-01 12:00:00", optional ".fff", then "Z", "+HH:MM",
 * "-HH:MM" or nothing for UTC), or an age before now: a positive number and a unit, s, m,
 * h, d or w ("90m", "24h", "7d"). Returns -1 on anything else, or on a date that does not
 * exist (2026-02-30).
 */
int audit_parse_when(const char *s, time_t now, time_t *out);

/* One table in the comparison of two backups. */
enum table_change_kind { TABLE_SAME, TABLE_CHANGED, TABLE_ADDED, TABLE_DROPPED };
struct table_change {
    enum table_change_kind kind;
    const struct table_rec *before; /* NULL if added */
    const struct table_rec *after;  /* NULL if dropped */
};

/* Merges two table lists sorted by (schema, table) in strcmp order, as catalog_backup_tables
 * returns them, into out (room for na + nb entries, same order); returns the count. */
size_t audit_table_diff(const struct table_rec *a, size_t na, const struct table_rec *b, size_t nb,
                        struct table_change *out);

/* Leaves out of ch the partitioned tables (relkind 'p') that are "added" or "dropped" only
 * because the other side cannot list them: an imported dump names the tables it loads
 * data into (the partitions), never their partitioned parents. before_lists_parents /
 * after_lists_parents: whether that side records partitioned tables. Returns the new
 * count; the order is kept. */
size_t audit_table_diff_comparable(struct table_change *ch, size_t n, bool before_lists_parents,
                                   bool after_lists_parents);

/* Nagios states, which are also check's exit codes. */
/* The Nagios plugin states, which are check's exit codes; UNKNOWN is bad arguments. */
enum check_state { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

/* What the catalog and the file system say about one database. */
enum check_file { CHECK_FILE_OK, CHECK_FILE_MISSING, CHECK_FILE_SIZE, CHECK_FILE_NOT_REGULAR };
struct check_facts {
    const char *db;
    /* the newest complete backup */
    bool has_complete;
    int64_t complete_id;
    time_t complete_at; /* its started_at */
    int64_t complete_size;
    bool complete_suspect;
    enum check_file complete_file;
    /* the last run that ended (any status but running), if any */
    bool has_last;
    int64_t last_id;
    const char *last_status;
    time_t last_at;
    const char *last_error;
    /* a 'running' row newer than that, whose process is gone */
    int64_t interrupted_id;
    /* the newest successful test restore of any backup of the database (0: never), and
     * how recent one must be (0: not asked) */
    time_t tested_at;
    long max_test_age_s;
};

/* The state of one database and its reason (appended to msg, no trailing period). Order:
 * CRITICAL for no complete backup, a missing or wrong-sized file, a failed, missing or
 * interrupted last run, the newest complete older than max_age_s; WARNING for a suspect
 * newest backup or one dated in the future, and (with max_test_age_s) for a database none
 * of whose backups was test-restored within max_test_age_s; else OK with its age. */
enum check_state audit_check_db(const struct check_facts *f, time_t now, long max_age_s,
                                struct sbuf *msg);

/* What the head of a plain-format dump says about itself. */
struct dump_header {
    bool is_dump;          /* it has pg_dump's "-- PostgreSQL database dump" line */
    bool is_cluster_dump;  /* pg_dumpall's "-- PostgreSQL database cluster dump" line */
    char *server_version;  /* "-- Dumped from database version X" */
    char *pg_dump_version; /* "-- Dumped by pg_dump version X" */
    char *encoding;        /* "SET client_encoding = 'X';" */
};

/* Reads the header lines (up to the first statement that is not a SET or SELECT) from the
 * first len bytes of a dump; fills h with owned strings or NULL. */
void audit_dump_header(const char *head, size_t len, struct dump_header *h);
void audit_dump_header_free(struct dump_header *h);

/*
 * From a database's complete backups, newest first: the expected raw size of the next one
 * (the newest's) and the raw bytes per second of the last five with a duration that used
 * the same compression (gzip, zstd and none run at very different speeds); each 0 when
 * unknown.
 */
void audit_estimate_next(const struct backup_rec *prev, size_t n, const char *compression,
                         uint64_t *total, double *rate);

#endif
