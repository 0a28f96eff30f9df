#ifndef PGVAULT_CATALOG_H
#define PGVAULT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The only module that includes sqlite3. The catalog is an SQLite database in WAL mode;
 * every write is one BEGIN IMMEDIATE transaction with a busy timeout. Opening migrates an
 * older schema (schema/NNN_*.sql, compiled in) in one transaction and refuses a newer one.
 */
struct catalog;

enum {
    CATALOG_READONLY = 1 << 0, /* SQLITE_OPEN_READONLY; never creates or migrates */
    CATALOG_CREATE = 1 << 1,   /* create the file (mode 0600) if missing */
};

/* Milliseconds a writer waits for another writer before failing. */
#define CATALOG_BUSY_TIMEOUT_MS 5000

/* A row of `backups`. Strings are owned (NULL where the column is NULL). */
struct backup_rec {
    int64_t id;
    char *db_name;
    char *file_name;
    char *format;
    char *compression;
    int level;
    int64_t size_bytes;
    int64_t raw_bytes;
    char *checksum;
    char *raw_checksum;
    char *checksum_algo;
    int64_t table_count;
    int64_t row_count;
    char *server_version;
    char *pg_dump_version;
    int64_t db_size_bytes;
    char *encoding;
    char *collate;
    char *ctype;
    bool with_owners;
    char *started_at;
    char *finished_at;
    int64_t duration_ms;
    char *status;
    bool pinned;
    bool suspect;
    char *label;
    char *error;
    char *verified_at;
    char *pruned_at;
    char *prune_rule;
    int64_t pid;
    char *host;
    char *origin;
    char *locale_provider; /* 'c' libc, 'i' ICU, NULL unknown */
    char *icu_locale;
    char *encryption; /* "none", "age" (common/encryption.h's name) */
    char *recipients; /* what it was encrypted to, one a line; NULL for none */
};

/* A row of `backup_tables`. */
struct table_rec {
    char *schema_name;
    char *table_name;
    char relkind;
    int64_t row_count;
};

/* A row of `access_points`: where a reader can start decompressing the backup file (the
 * part of a table's data from raw_offset, raw_bytes long, whole rows). */
struct access_point {
    char *schema_name; /* NULL if the COPY named no schema */
    char *table_name;
    char *statement; /* "COPY … FROM stdin;" */
    int64_t raw_offset, raw_bytes, comp_offset, line, rows_before, rows;
    /* the table's end point: the byte after its "\." line (-1: none) */
    int64_t end_raw_offset, end_comp_offset, end_line;
};
/* The backup's access points in file order (none: *n = 0, *out NULL). */
int catalog_access_points(struct catalog *c, int64_t backup_id, struct access_point **out,
                          size_t *n);
void access_points_free(struct access_point *p, size_t n);

int catalog_open(const char *path, int flags, struct catalog **out);
void catalog_close(struct catalog *c);
/* Overrides CATALOG_BUSY_TIMEOUT_MS for this connection (tests). */
void catalog_set_busy_timeout(struct catalog *c, int ms);

/* Inserts b as status 'running' (db_name, file_name, compression, level, started_at,
 * pid, host, label, with_owners, format, origin are taken from b); sets b->id. */
int catalog_backup_begin(struct catalog *c, struct backup_rec *b);

/* In one transaction: sets every result column of row b->id from b (status from
 * b->status, normally "complete"), and stores its tables and settings. */
int catalog_backup_finish(struct catalog *c, const struct backup_rec *b,
                          const struct table_rec *tables, size_t ntables, char *const *settings,
                          int nsettings);
/* The same, with the backup's access points in file order, in the same transaction. */
struct backup_points {
    const struct access_point *v;
    size_t n;
};
int catalog_backup_finish_points(struct catalog *c, const struct backup_rec *b,
                                 const struct table_rec *tables, size_t ntables,
                                 char *const *settings, int nsettings,
                                 const struct backup_points *points);

/* Marks row id 'failed' with finished_at and error text. */
int catalog_backup_fail(struct catalog *c, int64_t id, const char *finished_at, const char *error);

/* Backups newest first (started_at DESC, id DESC). db NULL = all databases; all_status
 * false = only 'complete' ones. */
int catalog_backups(struct catalog *c, const char *db, bool all_status, struct backup_rec **out,
                    size_t *n);

/* The same rows, one at a time, without holding them all in memory or copying them: the
 * row fn gets is valid only during the call; a non-zero return stops the walk (and is
 * returned as -1). */
int catalog_backups_each(struct catalog *c, const char *db, bool all_status,
                         int (*fn)(void *ctx, const struct backup_rec *b), void *ctx);

/* One backup by id; ERR_USAGE "backup N not found in the catalog" if absent. */
int catalog_backup_get(struct catalog *c, int64_t id, struct backup_rec *out);
/* One backup by file name (relative to the repository); same error if absent. */
int catalog_backup_by_file(struct catalog *c, const char *file_name, struct backup_rec *out);

/* The tables recorded for a backup, ordered by schema, table. */
int catalog_backup_tables(struct catalog *c, int64_t id, struct table_rec **out, size_t *n);
/* The settings recorded for a backup. */
int catalog_backup_settings(struct catalog *c, int64_t id, char ***out, int *n);

/* True if any row (whatever its status) names file_name. */
int catalog_file_known(struct catalog *c, const char *file_name, bool *known);

/* A verification in one transaction: its event (action "verify", outcome, detail) and,
 * when verified_at is not NULL (it passed), the backup's verified_at. */
int catalog_verify_result(struct catalog *c, int64_t id, const char *verified_at,
                          const char *outcome, const char *detail);

/* For a command whose writes are worth less than their fsyncs (verify's results): commits
 * on this connection no longer wait for the disk (a power cut may lose the last ones,
 * never the catalog's consistency), and closing leaves the write-ahead log for the next
 * writer to fold into the catalog instead of checkpointing it now. */
int catalog_relax_durability(struct catalog *c);

/* Appends an audit event (at = now, actor = OS user). backup_id <= 0 stores NULL. */
int catalog_event(struct catalog *c, const char *action, int64_t backup_id, const char *outcome,
                  const char *detail);

void backup_rec_free(struct backup_rec *b);
void backup_recs_free(struct backup_rec *b, size_t n);
void table_recs_free(struct table_rec *t, size_t n);

/* Schema version of the open catalog (PRAGMA user_version). */
int catalog_schema_version(struct catalog *c);
/* The newest schema version this binary knows. */
int catalog_schema_latest(void);

/* Inserts a `restores` row as 'running'; sets *id. mode: "swap", "target", "in-place",
 * "globals", "test". */
int catalog_restore_begin(struct catalog *c, int64_t backup_id, const char *target_db,
                          const char *mode, const char *started_at, int64_t *id);
/* Closes a `restores` row with its outcome ("complete" or "failed"). */
int catalog_restore_finish(struct catalog *c, int64_t id, const char *status,
                           const char *finished_at, int64_t tables_checked, int64_t rows_checked,
                           const char *detail);
/* Records a successful test restore time on a backup (restore_tested_at). */
int catalog_backup_restore_tested(struct catalog *c, int64_t id, const char *at);
/* The newest restore_tested_at of any backup of database db, or NULL (*at, owned) when
 * none of them was ever test-restored. */
int catalog_db_last_tested(struct catalog *c, const char *db, char **at);

/* --- the audit surface: show, log, query, diff, check, import --- */

/* A row of `events`, with the database and file of its backup (NULL when none). */
struct event_rec {
    int64_t id;
    char *at;
    char *action;
    int64_t backup_id; /* 0 when the event names no backup */
    char *actor;
    char *outcome;
    char *detail;
    char *db_name;
    char *file_name;
};

/* A row of `restores`; tables_checked and rows_checked are -1 when NULL. */
struct restore_history_rec {
    int64_t id;
    int64_t backup_id;
    char *target_db;
    char *mode;
    char *started_at;
    char *finished_at;
    char *status;
    int64_t tables_checked;
    int64_t rows_checked;
    char *detail;
};

/* Events newest first (at DESC, id DESC). since: ISO-8601 UTC, NULL for all; backup_id > 0:
 * only that backup's; db: only events of that database's backups, NULL for all. */
int catalog_events(struct catalog *c, const char *since, int64_t backup_id, const char *db,
                   struct event_rec **out, size_t *n);
void event_recs_free(struct event_rec *e, size_t n);

/* Restores newest first; backup_id > 0: only that backup's. */
int catalog_restore_history(struct catalog *c, int64_t backup_id, struct restore_history_rec **out,
                            size_t *n);
void restore_history_recs_free(struct restore_history_rec *r, size_t n);

/* The names of every database that has a backup row (any status), sorted. */
int catalog_db_names(struct catalog *c, char ***out, size_t *n);

enum catalog_newest {
    CATALOG_NEWEST_COMPLETE, /* status 'complete' */
    CATALOG_NEWEST_FINISHED, /* any status but 'running': the last run that ended */
    CATALOG_NEWEST_ANY,
};
/* The newest backup of db (started_at, then id) of that kind; *found false if none. */
int catalog_newest_backup(struct catalog *c, const char *db, enum catalog_newest which,
                          struct backup_rec *out, bool *found);

/* Inserts an adopted dump as one 'complete' row with origin 'import' (columns from b; level
 * 0 and duration_ms -1 store NULL) and its tables, in one transaction; sets b->id. */
int catalog_backup_import(struct catalog *c, struct backup_rec *b, const struct table_rec *tables,
                          size_t ntables);

/* One value of a query result; text is the value as text (blob: its bytes), NULL for NULL. */
enum catalog_type { CATALOG_NULL, CATALOG_INTEGER, CATALOG_REAL, CATALOG_TEXT, CATALOG_BLOB };
struct catalog_value {
    enum catalog_type type;
    const char *text;
    size_t len;
};
/* Called once with values NULL (the header), then once per row; non-zero stops. */
typedef int (*catalog_row_fn)(void *ctx, int ncols, const char *const *names,
                              const struct catalog_value *values);

/*
 * Runs one read-only statement on a catalog opened CATALOG_READONLY (pgvault query). Refused
 * with ERR_USAGE, before anything runs: more than one statement, a statement for which
 * sqlite3_stmt_readonly is false, ATTACH/DETACH (also SQLITE_LIMIT_ATTACHED 0), transaction
 * control, PRAGMAs that set a value, anything but reading (an authorizer allows only
 * SELECT, READ, FUNCTION, RECURSIVE and reading PRAGMAs). Invalid SQL is ERR_USAGE too.
 */
int catalog_query(struct catalog *c, const char *sql, catalog_row_fn fn, void *ctx);

/* --- retention, pins and crash recovery --- */

/* A backup as retention sees it: small, since prune reads every row of the catalog. */
struct retention_row {
    int64_t id;
    char *db_name;
    char *file_name;
    char *started_at;
    bool complete; /* else failed */
    bool pinned;
    bool suspect;
    int64_t size_bytes;
};

/* The rows retention decides or cleans up: status 'complete' or 'failed' (db NULL: every
 * database), ordered by db_name, then newest first (started_at DESC, id DESC). */
int catalog_retention_rows(struct catalog *c, const char *db, struct retention_row **out,
                           size_t *n);
void retention_rows_free(struct retention_row *r, size_t n);

/* In one transaction: a 'complete' row becomes status ('pruned' or 'missing') with
 * pruned_at and prune_rule, and an audit event "prune" with detail is recorded. */
int catalog_backup_retire(struct catalog *c, int64_t id, const char *status, const char *at,
                          const char *rule, const char *detail);

/* In one transaction: sets or clears `pinned` and records the event "pin" or "unpin". */
int catalog_backup_set_pinned(struct catalog *c, int64_t id, bool pinned, const char *detail);

/* The rows with status 'running', oldest first. */
int catalog_running_backups(struct catalog *c, struct backup_rec **out, size_t *n);

/* In one transaction: a 'running' row becomes 'failed' with finished_at and error, and
 * the event "recover" with detail is recorded. */
int catalog_backup_interrupted(struct catalog *c, int64_t id, const char *at, const char *error,
                               const char *detail);

/* --- monitoring: metrics --- */

/* One database of the catalog, as monitoring sees it. */
struct catalog_db_summary {
    char *db_name;
    bool has_complete;
    struct backup_rec last_complete; /* the newest complete backup, when has_complete */
    char *last_status;               /* of the newest row that is not 'running'; NULL if none */
    int64_t complete_count;          /* complete backups */
    int64_t complete_bytes;          /* their size_bytes, summed */
};

/* Every database with a backup row (any status), sorted by name. */
int catalog_db_summaries(struct catalog *c, struct catalog_db_summary **out, size_t *n);
void catalog_db_summaries_free(struct catalog_db_summary *s, size_t n);

/* Every target_db of the restores table, by name. */
int catalog_restore_targets(struct catalog *c, char ***out, size_t *n);

/* The databases (of the backups restored) of the restores still 'running', by name. */
int catalog_running_restore_dbs(struct catalog *c, char ***out, size_t *n);

/* Marks the 'running' restores of backups of database db 'failed' ("interrupted"); only
 * called under db's lock, when no restore of db can be running. */
int catalog_restores_interrupted(struct catalog *c, const char *db, const char *at);

/* --- off-site copies (command/copies.c) --- */

/* A row of `copies` with what the commands need of its backup. Strings owned. */
struct copy_rec {
    int64_t backup_id;
    char *remote;
    char *location;
    int64_t size_bytes; /* -1 when NULL */
    char *checksum;
    char *status; /* running, complete, failed, pruned, missing */
    char *copied_at;
    char *verified_at;
    char *error;
    /* of the backup */
    char *db_name;
    char *file_name;
    char *started_at;
    char *backup_status;
    char *backup_checksum;
    int64_t backup_size;
    bool pinned;
    bool suspect;
};
void copy_recs_free(struct copy_rec *r, size_t n);

/* One change to the copy of a backup on a remote. NULL fields (size_bytes -1) keep the
 * row's value; error is always written (NULL clears it). action: the audit event recorded
 * with it ("copy", "verify", "prune"), NULL for none. */
struct copy_update {
    int64_t backup_id;
    const char *remote;
    const char *location;
    const char *status;
    int64_t size_bytes;
    const char *checksum;
    const char *copied_at;
    const char *verified_at;
    const char *error;
    const char *action, *outcome, *detail;
};

/* In one transaction: inserts or updates the copy row and records the event. */
int catalog_copy_set(struct catalog *c, const struct copy_update *u);

/* The copies on remote (NULL: every remote) of database db (NULL: all), newest backup
 * first. */
int catalog_copies(struct catalog *c, const char *remote, const char *db, struct copy_rec **out,
                   size_t *n);

/* The complete backups (db NULL: all) that remote has no complete copy of and whose copy
 * retention did not remove there: what push sends. Newest first. */
int catalog_copies_lacking(struct catalog *c, const char *remote, const char *db,
                           struct backup_rec **out, size_t *n);

/* What pgvault last saw of a remote (a row of `remotes`). */
struct remote_rec {
    char *name;
    char *url;
    char *last_ok_at;
    char *last_error_at;
    char *last_error;
    char *snapshot_at;
};
void remote_recs_free(struct remote_rec *r, size_t n);

/* Records that remote name (url) answered (error NULL) or failed with error, at at. */
int catalog_remote_seen(struct catalog *c, const char *name, const char *url, const char *at,
                        const char *error);
/* Records the time of the catalog snapshot last stored on remote name. */
int catalog_remote_snapshot(struct catalog *c, const char *name, const char *url, const char *at);
/* Every row of `remotes`, by name. */
int catalog_remotes(struct catalog *c, struct remote_rec **out, size_t *n);
/* The time of the newest audit event, "" when there is none (out holds 25 bytes). */
int catalog_last_event_at(struct catalog *c, char out[25]);

/* A consistent copy of the whole catalog in a new file path (VACUUM INTO). */
int catalog_snapshot(struct catalog *c, const char *path);

/* The newest backup of db that can be restored: complete, or missing or pruned here
 * with a complete copy on a remote; *found false if none. */
int catalog_newest_restorable(struct catalog *c, const char *db, struct backup_rec *out,
                              bool *found);

/* In one transaction: backup id's status becomes status (from one of the statuses in
 * from, a comma-separated SQL list such as "'pruned', 'missing'"), clearing pruned_at
 * and prune_rule when it becomes complete, and the event action is recorded. */
int catalog_backup_set_status(struct catalog *c, int64_t id, const char *from, const char *status,
                              const char *action, const char *detail);

#endif
