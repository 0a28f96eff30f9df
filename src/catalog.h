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
};

/* A row of `backup_tables`. */
struct table_rec {
    char *schema_name;
    char *table_name;
    char relkind;
    int64_t row_count;
};

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

/* Marks row id 'failed' with finished_at and error text. */
int catalog_backup_fail(struct catalog *c, int64_t id, const char *finished_at, const char *error);

/* Backups newest first (started_at DESC, id DESC). db NULL = all databases; all_status
 * false = only 'complete' ones. */
int catalog_backups(struct catalog *c, const char *db, bool all_status, struct backup_rec **out,
                    size_t *n);

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

/* Inserts a `restores` row as 'running'; sets *id. mode: "swap", "target", "in-place". */
int catalog_restore_begin(struct catalog *c, int64_t backup_id, const char *target_db,
                          const char *mode, const char *started_at, int64_t *id);
/* Closes a `restores` row with its outcome ("complete" or "failed"). */
int catalog_restore_finish(struct catalog *c, int64_t id, const char *status,
                           const char *finished_at, int64_t tables_checked, int64_t rows_checked,
                           const char *detail);
/* Records a successful verification time on a backup. */
int catalog_backup_verified(struct catalog *c, int64_t id, const char *at);

#endif
