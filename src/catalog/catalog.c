#include "catalog/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"
#include "catalog/schema.h"
#include "common/util.h"

struct catalog {
    sqlite3 *db;
    char *path;
    int version;
};

/* The columns of `backups`, in the order of struct backup_rec (see read_backup). */
#define BACKUP_COLUMNS                                                                             \
    "id, db_name, file_name, format, compression, compression_level, size_bytes, raw_bytes, "      \
    "checksum, raw_checksum, checksum_algo, table_count, row_count, server_version, "              \
    "pg_dump_version, db_size_bytes, encoding, lc_collate, lc_ctype, with_owners, started_at, "    \
    "finished_at, duration_ms, status, pinned, suspect, label, error, verified_at, pruned_at, "    \
    "prune_rule, pid, host, origin, locale_provider, icu_locale"

/* Every string member of struct backup_rec, for copying and freeing. */
#define BACKUP_REC_STRINGS(b)                                                                      \
    &(b)->db_name, &(b)->file_name, &(b)->format, &(b)->compression, &(b)->checksum,               \
        &(b)->raw_checksum, &(b)->checksum_algo, &(b)->server_version, &(b)->pg_dump_version,      \
        &(b)->encoding, &(b)->collate, &(b)->ctype, &(b)->started_at, &(b)->finished_at,           \
        &(b)->status, &(b)->label, &(b)->error, &(b)->verified_at, &(b)->pruned_at,                \
        &(b)->prune_rule, &(b)->host, &(b)->origin, &(b)->locale_provider, &(b)->icu_locale

/* Records the connection's last error: busy means another writer, anything else fails. */
static int db_fail(struct catalog *c, const char *what)
{
    int rc = sqlite3_errcode(c->db);
    if (rc == SQLITE_BUSY)
        return err_set(ERR_BUSY, "catalog \"%s\" is locked by another process", c->path);
    if (rc == SQLITE_NOTADB) {
        err_set(ERR_FAILED, "could not open catalog \"%s\": file is not a database", c->path);
        err_hint("move the damaged file aside; \"pgvault import --scan\" rebuilds a catalog from "
                 "the backup files");
        return -1;
    }
    return err_set(ERR_FAILED, "could not %s in catalog \"%s\": %s", what, c->path,
                   sqlite3_errmsg(c->db));
}

static int exec(struct catalog *c, const char *sql, const char *what)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(c, what);
    return 0;
}

static int prepare(struct catalog *c, const char *sql, sqlite3_stmt **st, const char *what)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(c, what);
    return 0;
}

/* Steps a statement that returns no rows. */
static int step_done(struct catalog *c, sqlite3_stmt *st, const char *what)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_fail(c, what);
    return 0;
}

static void rollback(struct catalog *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Binds a string, or NULL; returns an SQLite result code. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? xstrdup((const char *)s) : NULL;
}

/* Reads a row selected with BACKUP_COLUMNS. */
static void read_backup_with(sqlite3_stmt *st, struct backup_rec *b,
                             char *(*text)(sqlite3_stmt *st, int i))
{
    int i = 0;
    b->id = sqlite3_column_int64(st, i++);
    b->db_name = text(st, i++);
    b->file_name = text(st, i++);
    b->format = text(st, i++);
    b->compression = text(st, i++);
    b->level = sqlite3_column_int(st, i++);
    b->size_bytes = sqlite3_column_int64(st, i++);
    b->raw_bytes = sqlite3_column_int64(st, i++);
    b->checksum = text(st, i++);
    b->raw_checksum = text(st, i++);
    b->checksum_algo = text(st, i++);
    b->table_count = sqlite3_column_int64(st, i++);
    b->row_count = sqlite3_column_int64(st, i++);
    b->server_version = text(st, i++);
    b->pg_dump_version = text(st, i++);
    b->db_size_bytes = sqlite3_column_int64(st, i++);
    b->encoding = text(st, i++);
    b->collate = text(st, i++);
    b->ctype = text(st, i++);
    b->with_owners = sqlite3_column_int(st, i++) != 0;
    b->started_at = text(st, i++);
    b->finished_at = text(st, i++);
    b->duration_ms = sqlite3_column_int64(st, i++);
    b->status = text(st, i++);
    b->pinned = sqlite3_column_int(st, i++) != 0;
    b->suspect = sqlite3_column_int(st, i++) != 0;
    b->label = text(st, i++);
    b->error = text(st, i++);
    b->verified_at = text(st, i++);
    b->pruned_at = text(st, i++);
    b->prune_rule = text(st, i++);
    b->pid = sqlite3_column_int64(st, i++);
    b->host = text(st, i++);
    b->origin = text(st, i++);
    b->locale_provider = text(st, i++);
    b->icu_locale = text(st, i++);
}

static void read_backup(sqlite3_stmt *st, struct backup_rec *b)
{
    read_backup_with(st, b, col_text);
}

/* A column's text as SQLite holds it, valid until the next step: no copy. */
static char *col_borrow(sqlite3_stmt *st, int i)
{
    return (char *)sqlite3_column_text(st, i);
}

int catalog_schema_latest(void)
{
    return schema_migration_count > 0 ? schema_migrations[schema_migration_count - 1].version : 0;
}

int catalog_schema_version(struct catalog *c)
{
    return c->version;
}

void catalog_set_busy_timeout(struct catalog *c, int ms)
{
    sqlite3_busy_timeout(c->db, ms);
}

static int read_user_version(struct catalog *c, int *version)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (prepare(c, "PRAGMA user_version", &st, "read the schema version") < 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_fail(c, "read the schema version");
        goto out;
    }
    *version = sqlite3_column_int(st, 0);
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

/* Applies every migration newer than the file's schema in one transaction. */
static int migrate(struct catalog *c)
{
    int latest = catalog_schema_latest(), ret = -1;
    char sql[64];
    if (exec(c, "BEGIN IMMEDIATE", "start the schema migration") < 0)
        return -1;
    /* Re-read under the write lock: another process may have migrated meanwhile. */
    if (read_user_version(c, &c->version) < 0)
        goto out;
    for (int i = 0; i < schema_migration_count; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        if (m->version <= c->version)
            continue;
        char *what = xasprintf("apply schema migration %s", m->name);
        int rc = exec(c, m->sql, what);
        free(what);
        if (rc < 0)
            goto out;
    }
    /* A pragma takes no parameters; the version is our own constant. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", latest);
    if (exec(c, sql, "set the schema version") < 0 ||
        exec(c, "COMMIT", "commit the schema migration") < 0)
        goto out;
    c->version = latest;
    ret = 0;
out:
    if (ret < 0)
        rollback(c);
    return ret;
}

/* Checks and creates (mode 0600) the file before SQLite sees it. */
static int prepare_file(const char *path, int flags)
{
    struct stat sb;
    /* nothing follows a symlink out of the repository: the catalog is a file itself */
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        err_set(ERR_FAILED, "catalog \"%s\" is a symbolic link; refusing to follow it", path);
        err_hint("point --catalog at the real file if it lives elsewhere");
        return -1;
    }
    if (stat(path, &sb) == 0)
        return 0;
    if (errno != ENOENT)
        return err_sys(errno, "could not open catalog \"%s\"", path);
    if (!(flags & CATALOG_CREATE) || (flags & CATALOG_READONLY))
        return err_set(ERR_USAGE, "catalog \"%s\" does not exist", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
        return err_sys(errno, "could not create catalog \"%s\"", path);
    if (fd < 0)
        return 0;
    /* a catalog given to the directory's owner gets its -wal and -shm files too: SQLite
     * running as root gives them the owner of the database file */
    char *dir = path_dir(path);
    int rc = fsutil_own_like_dir(fd, dir, path);
    free(dir);
    close(fd);
    return rc;
}

/* Opens path read-only through a "file:…?immutable=1" URI (no locks, no -shm). */
static int open_immutable(struct catalog *c, const char *path)
{
    struct sbuf uri = {0};
    sbuf_puts(&uri, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            sbuf_add(&uri, (const char *)p, 1);
        else
            sbuf_printf(&uri, "%%%02X", *p);
    }
    sbuf_puts(&uri, "?immutable=1");
    int rc = sqlite3_open_v2(uri.data, &c->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    sbuf_free(&uri);
    if (rc != SQLITE_OK)
        return err_set(ERR_FAILED, "could not open catalog \"%s\": %s", path,
                       c->db ? sqlite3_errmsg(c->db) : "out of memory");
    return read_user_version(c, &c->version);
}

/*
 * True when a read-only open has to read the file as immutable: SQLite reads a WAL
 * database through its -shm file, which it cannot create in a directory we may not write
 * (mode 0500, a read-only mount); it then fails with "attempt to write a readonly
 * database". Without a -wal file nothing is pending that an immutable read would miss,
 * and no writer can start while the directory stays unwritable for it. With a -wal file
 * (a writer may be at work) SQLite's own read-only open, which uses the -shm, is right.
 */
static bool read_immutable(const char *path)
{
    char *dir = path_dir(path);
    char *wal = xasprintf("%s-wal", path);
    struct stat st;
    bool no_wal = lstat(wal, &st) != 0 && errno == ENOENT;
    bool immutable = no_wal && faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) != 0;
    free(wal);
    free(dir);
    return immutable;
}

/* Opens path through SQLite and reads the schema version: the first read checks the
 * header, so a damaged file fails here, not later. */
static int open_plain(struct catalog *c, const char *path, int flags)
{
    bool readonly = flags & CATALOG_READONLY;
    /* NOMUTEX: a connection is never shared between threads. */
    int oflags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    if (!readonly && (flags & CATALOG_CREATE))
        oflags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &c->db, oflags, NULL) != SQLITE_OK)
        return err_set(ERR_FAILED, "could not open catalog \"%s\": %s", path,
                       c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_busy_timeout(c->db, CATALOG_BUSY_TIMEOUT_MS);
    if (read_user_version(c, &c->version) == 0)
        return 0;
    if (!readonly || sqlite3_errcode(c->db) != SQLITE_CANTOPEN)
        return -1;
    /* a WAL catalog on read-only storage (a mounted copy, a read-only bind mount):
     * SQLite cannot create the -shm file; read it as an immutable file instead */
    err_clear();
    sqlite3_close(c->db);
    c->db = NULL;
    return open_immutable(c, path);
}

int catalog_open(const char *path, int flags, struct catalog **out)
{
    bool readonly = flags & CATALOG_READONLY;
    struct catalog *c = xcalloc(1, sizeof(*c));
    int ret = -1;
    c->path = xstrdup(path);
    *out = NULL;

    /* Open: SQLite creates -wal and -shm with the mode of the (0600) database file; a
     * reader in a directory it may not write reads the file as immutable. */
    if (prepare_file(path, flags) < 0)
        goto out;
    int orc =
        readonly && read_immutable(path) ? open_immutable(c, path) : open_plain(c, path, flags);
    if (orc < 0)
        goto out;
    if (c->version > catalog_schema_latest()) {
        err_set(ERR_USAGE, "catalog \"%s\" has schema version %d, this pgvault knows up to %d",
                path, c->version, catalog_schema_latest());
        err_hint("upgrade pgvault to a version that knows schema version %d", c->version);
        goto out;
    }
    if (readonly && c->version == 0) {
        err_set(ERR_FAILED, "catalog \"%s\" is empty", path);
        goto out;
    }

    /* Connection settings, then bring an older schema up to date. */
    if ((!readonly && exec(c, "PRAGMA journal_mode=WAL", "enable WAL mode") < 0) ||
        exec(c, "PRAGMA foreign_keys=ON", "enable foreign keys") < 0 ||
        exec(c, "PRAGMA synchronous=FULL", "set synchronous mode") < 0)
        goto out;
    if (!readonly && c->version < catalog_schema_latest() && migrate(c) < 0)
        goto out;
    *out = c;
    ret = 0;
out:
    if (ret < 0)
        catalog_close(c);
    return ret;
}

void catalog_close(struct catalog *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

int catalog_backup_begin(struct catalog *c, struct backup_rec *b)
{
    const char *what = "record the backup";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c,
                "INSERT INTO backups (db_name, file_name, compression, compression_level, "
                "started_at, pid, host, label, with_owners, format, origin, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, 'plain'), COALESCE(?, 'backup'), "
                "'running')",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, b->db_name) || bind_text(st, 2, b->file_name) ||
        bind_text(st, 3, b->compression) || sqlite3_bind_int(st, 4, b->level) ||
        bind_text(st, 5, b->started_at) || sqlite3_bind_int64(st, 6, b->pid) ||
        bind_text(st, 7, b->host) || bind_text(st, 8, b->label) ||
        sqlite3_bind_int(st, 9, b->with_owners) || bind_text(st, 10, b->format) ||
        bind_text(st, 11, b->origin)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    int64_t id = sqlite3_last_insert_rowid(c->db);
    if (exec(c, "COMMIT", what) < 0)
        goto out;
    b->id = id;
    ret = 0;
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

static int store_tables(struct catalog *c, int64_t id, const struct table_rec *t, size_t n,
                        const char *what)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (prepare(c,
                "INSERT INTO backup_tables (backup_id, schema_name, table_name, relkind, "
                "row_count) VALUES (?, ?, ?, ?, ?)",
                &st, what) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char relkind[2] = {t[i].relkind ? t[i].relkind : 'r', '\0'};
        sqlite3_reset(st);
        if (sqlite3_bind_int64(st, 1, id) || bind_text(st, 2, t[i].schema_name) ||
            bind_text(st, 3, t[i].table_name) || bind_text(st, 4, relkind) ||
            sqlite3_bind_int64(st, 5, t[i].row_count)) {
            db_fail(c, what);
            goto out;
        }
        if (step_done(c, st, what) < 0)
            goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

static int store_settings(struct catalog *c, int64_t id, char *const *settings, int n,
                          const char *what)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (prepare(c, "INSERT INTO backup_settings (backup_id, setting) VALUES (?, ?)", &st, what) < 0)
        goto out;
    for (int i = 0; i < n; i++) {
        sqlite3_reset(st);
        if (sqlite3_bind_int64(st, 1, id) || bind_text(st, 2, settings[i])) {
            db_fail(c, what);
            goto out;
        }
        if (step_done(c, st, what) < 0)
            goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_finish(struct catalog *c, const struct backup_rec *b,
                          const struct table_rec *tables, size_t ntables, char *const *settings,
                          int nsettings)
{
    const char *what = "record the backup result";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c,
                "UPDATE backups SET size_bytes = ?, raw_bytes = ?, checksum = ?, "
                "raw_checksum = ?, checksum_algo = COALESCE(?, checksum_algo), "
                "table_count = ?, row_count = ?, server_version = ?, pg_dump_version = ?, "
                "db_size_bytes = ?, encoding = ?, lc_collate = ?, lc_ctype = ?, finished_at = ?, "
                "duration_ms = ?, status = ?, suspect = ?, error = ?, locale_provider = ?, "
                "icu_locale = ? WHERE id = ?",
                &st, what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, b->size_bytes) || sqlite3_bind_int64(st, 2, b->raw_bytes) ||
        bind_text(st, 3, b->checksum) || bind_text(st, 4, b->raw_checksum) ||
        bind_text(st, 5, b->checksum_algo) || sqlite3_bind_int64(st, 6, b->table_count) ||
        sqlite3_bind_int64(st, 7, b->row_count) || bind_text(st, 8, b->server_version) ||
        bind_text(st, 9, b->pg_dump_version) || sqlite3_bind_int64(st, 10, b->db_size_bytes) ||
        bind_text(st, 11, b->encoding) || bind_text(st, 12, b->collate) ||
        bind_text(st, 13, b->ctype) || bind_text(st, 14, b->finished_at) ||
        sqlite3_bind_int64(st, 15, b->duration_ms) ||
        bind_text(st, 16, b->status ? b->status : "complete") ||
        sqlite3_bind_int(st, 17, b->suspect) || bind_text(st, 18, b->error) ||
        bind_text(st, 19, b->locale_provider) || bind_text(st, 20, b->icu_locale) ||
        sqlite3_bind_int64(st, 21, b->id)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    if (sqlite3_changes(c->db) != 1) {
        err_set(ERR_USAGE, "backup %" PRId64 " not found in the catalog", b->id);
        goto out;
    }
    if (store_tables(c, b->id, tables, ntables, what) < 0 ||
        store_settings(c, b->id, settings, nsettings, what) < 0 || exec(c, "COMMIT", what) < 0)
        goto out;
    ret = 0;
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

int catalog_backup_fail(struct catalog *c, int64_t id, const char *finished_at, const char *error)
{
    const char *what = "record the failed backup";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c, "UPDATE backups SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, finished_at) || bind_text(st, 2, error) || sqlite3_bind_int64(st, 3, id)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    if (sqlite3_changes(c->db) != 1) {
        err_set(ERR_USAGE, "backup %" PRId64 " not found in the catalog", id);
        goto out;
    }
    ret = exec(c, "COMMIT", what);
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

int catalog_backups_each(struct catalog *c, const char *db, bool all_status,
                         int (*fn)(void *ctx, const struct backup_rec *b), void *ctx)
{
    const char *what = "list backups";
    /* Fixed SQL per filter: a db filter walks the backups_db_time index in order; "+status"
     * keeps the planner off the status index, useless when nearly every row is complete. */
    char *sql = xasprintf("SELECT " BACKUP_COLUMNS " FROM backups WHERE %s AND %s "
                          "ORDER BY started_at DESC, id DESC",
                          db ? "db_name = ?1" : "1", all_status ? "1" : "+status = 'complete'");
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    if (db && bind_text(st, 1, db)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct backup_rec b = {0};
        read_backup_with(st, &b, col_borrow);
        if (fn(ctx, &b) != 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

struct collect {
    struct backup_rec *arr;
    size_t len, cap;
};

/* Keeps a copy of each row. */
static int collect_row(void *ctx, const struct backup_rec *b)
{
    struct collect *col = ctx;
    if (col->len == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 64;
        col->arr = xrealloc(col->arr, col->cap * sizeof(*col->arr));
    }
    struct backup_rec *r = &col->arr[col->len++];
    *r = *b;
    char **strs[] = {BACKUP_REC_STRINGS(r)};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        *strs[i] = *strs[i] ? xstrdup(*strs[i]) : NULL;
    return 0;
}

int catalog_backups(struct catalog *c, const char *db, bool all_status, struct backup_rec **out,
                    size_t *n)
{
    struct collect col = {0};
    *out = NULL;
    *n = 0;
    if (catalog_backups_each(c, db, all_status, collect_row, &col) != 0) {
        backup_recs_free(col.arr, col.len);
        return -1;
    }
    *out = col.arr;
    *n = col.len;
    return 0;
}

/* Reads the one row that st (bound) selects; absent is a usage error naming `name`. */
static int get_one(struct catalog *c, sqlite3_stmt *st, const char *name, struct backup_rec *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_backup(st, out);
        return 0;
    }
    if (rc == SQLITE_DONE)
        return err_set(ERR_USAGE, "backup %s not found in the catalog", name);
    return db_fail(c, "read a backup");
}

int catalog_backup_get(struct catalog *c, int64_t id, struct backup_rec *out)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    char name[24];
    snprintf(name, sizeof(name), "%" PRId64, id);
    memset(out, 0, sizeof(*out));
    if (prepare(c, "SELECT " BACKUP_COLUMNS " FROM backups WHERE id = ?", &st, "read a backup") < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, id)) {
        db_fail(c, "read a backup");
        goto out;
    }
    ret = get_one(c, st, name, out);
out:
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_by_file(struct catalog *c, const char *file_name, struct backup_rec *out)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    char *name = xasprintf("\"%s\"", file_name);
    memset(out, 0, sizeof(*out));
    if (prepare(c, "SELECT " BACKUP_COLUMNS " FROM backups WHERE file_name = ?", &st,
                "read a backup") < 0)
        goto out;
    if (bind_text(st, 1, file_name)) {
        db_fail(c, "read a backup");
        goto out;
    }
    ret = get_one(c, st, name, out);
out:
    sqlite3_finalize(st);
    free(name);
    return ret;
}

int catalog_backup_tables(struct catalog *c, int64_t id, struct table_rec **out, size_t *n)
{
    const char *what = "read the tables of a backup";
    sqlite3_stmt *st = NULL;
    struct table_rec *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c,
                "SELECT schema_name, table_name, relkind, row_count FROM backup_tables "
                "WHERE backup_id = ? ORDER BY schema_name, table_name",
                &st, what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, id)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        const unsigned char *kind = sqlite3_column_text(st, 2);
        arr[len++] = (struct table_rec){
            .schema_name = col_text(st, 0),
            .table_name = col_text(st, 1),
            .relkind = kind && kind[0] ? (char)kind[0] : 'r',
            .row_count = sqlite3_column_int64(st, 3),
        };
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    table_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_settings(struct catalog *c, int64_t id, char ***out, int *n)
{
    const char *what = "read the settings of a backup";
    sqlite3_stmt *st = NULL;
    char **arr = NULL;
    int len = 0, cap = 0, ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c, "SELECT setting FROM backup_settings WHERE backup_id = ? ORDER BY rowid", &st,
                what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, id)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, (size_t)cap * sizeof(*arr));
        }
        arr[len++] = col_text(st, 0);
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    for (int i = 0; arr && i < len; i++)
        free(arr[i]);
    free(arr);
    sqlite3_finalize(st);
    return ret;
}

int catalog_file_known(struct catalog *c, const char *file_name, bool *known)
{
    const char *what = "look up a backup file";
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    *known = false;
    if (prepare(c, "SELECT 1 FROM backups WHERE file_name = ?", &st, what) < 0)
        goto out;
    if (bind_text(st, 1, file_name)) {
        db_fail(c, what);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *known = rc == SQLITE_ROW;
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

int catalog_event(struct catalog *c, const char *action, int64_t backup_id, const char *outcome,
                  const char *detail)
{
    const char *what = "record an event";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    struct timespec now;
    char at[25];
    clock_gettime(CLOCK_REALTIME, &now);
    time_iso_ms(&now, at);
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c,
                "INSERT INTO events (at, action, backup_id, actor, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, at) || bind_text(st, 2, action) ||
        (backup_id > 0 ? sqlite3_bind_int64(st, 3, backup_id) : sqlite3_bind_null(st, 3)) ||
        bind_text(st, 4, os_user()) || bind_text(st, 5, outcome) || bind_text(st, 6, detail)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    ret = exec(c, "COMMIT", what);
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

void backup_rec_free(struct backup_rec *b)
{
    if (!b)
        return;
    char **strs[] = {BACKUP_REC_STRINGS(b)};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

void backup_recs_free(struct backup_rec *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        backup_rec_free(&b[i]);
    free(b);
}

void table_recs_free(struct table_rec *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].schema_name);
        free(t[i].table_name);
    }
    free(t);
}

/* One statement in one BEGIN IMMEDIATE transaction; bind() binds its parameters. */
static int write_one(struct catalog *c, const char *what, const char *sql,
                     int (*bind)(sqlite3_stmt *st, const void *arg), const void *arg)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    if (bind(st, arg) != SQLITE_OK) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    ret = exec(c, "COMMIT", what);
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

struct restore_args {
    int64_t id, backup_id, tables, rows;
    const char *target, *mode, *at, *status, *detail;
};

static int bind_restore_begin(sqlite3_stmt *st, const void *arg)
{
    const struct restore_args *a = arg;
    return sqlite3_bind_int64(st, 1, a->backup_id) || bind_text(st, 2, a->target) ||
           bind_text(st, 3, a->mode) || bind_text(st, 4, a->at);
}

int catalog_restore_begin(struct catalog *c, int64_t backup_id, const char *target_db,
                          const char *mode, const char *started_at, int64_t *id)
{
    struct restore_args a = {
        .backup_id = backup_id, .target = target_db, .mode = mode, .at = started_at};
    if (write_one(c, "record the restore",
                  "INSERT INTO restores (backup_id, target_db, mode, started_at, status)"
                  " VALUES (?, ?, ?, ?, 'running')",
                  bind_restore_begin, &a) != 0)
        return -1;
    *id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

static int bind_restore_finish(sqlite3_stmt *st, const void *arg)
{
    const struct restore_args *a = arg;
    return bind_text(st, 1, a->status) || bind_text(st, 2, a->at) ||
           sqlite3_bind_int64(st, 3, a->tables) || sqlite3_bind_int64(st, 4, a->rows) ||
           bind_text(st, 5, a->detail) || sqlite3_bind_int64(st, 6, a->id);
}

int catalog_restore_finish(struct catalog *c, int64_t id, const char *status,
                           const char *finished_at, int64_t tables_checked, int64_t rows_checked,
                           const char *detail)
{
    struct restore_args a = {.id = id,
                             .status = status,
                             .at = finished_at,
                             .tables = tables_checked,
                             .rows = rows_checked,
                             .detail = detail};
    return write_one(c, "record the restore outcome",
                     "UPDATE restores SET status = ?, finished_at = ?, tables_checked = ?,"
                     " rows_checked = ?, detail = ? WHERE id = ?",
                     bind_restore_finish, &a);
}

static int bind_verified(sqlite3_stmt *st, const void *arg)
{
    const struct restore_args *a = arg;
    return bind_text(st, 1, a->at) || sqlite3_bind_int64(st, 2, a->id);
}

int catalog_backup_verified(struct catalog *c, int64_t id, const char *at)
{
    struct restore_args a = {.id = id, .at = at};
    return write_one(c, "record the verification",
                     "UPDATE backups SET verified_at = ? WHERE id = ?", bind_verified, &a);
}

/* --- the audit surface: show, log, query, diff, check, import --- */

int catalog_events(struct catalog *c, const char *since, int64_t backup_id, const char *db,
                   struct event_rec **out, size_t *n)
{
    const char *what = "read the audit trail";
    sqlite3_stmt *st = NULL;
    struct event_rec *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    /* ISO-8601 UTC text sorts as time, so "at >= since" is a time comparison */
    if (prepare(c,
                "SELECT e.id, e.at, e.action, e.backup_id, e.actor, e.outcome, e.detail, "
                "b.db_name, b.file_name FROM events e LEFT JOIN backups b ON b.id = e.backup_id "
                "WHERE (?1 IS NULL OR e.at >= ?1) AND (?2 <= 0 OR e.backup_id = ?2) "
                "AND (?3 IS NULL OR b.db_name = ?3) ORDER BY e.at DESC, e.id DESC",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, since) || sqlite3_bind_int64(st, 2, backup_id) || bind_text(st, 3, db)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        arr[len++] = (struct event_rec){
            .id = sqlite3_column_int64(st, 0),
            .at = col_text(st, 1),
            .action = col_text(st, 2),
            .backup_id = sqlite3_column_int64(st, 3),
            .actor = col_text(st, 4),
            .outcome = col_text(st, 5),
            .detail = col_text(st, 6),
            .db_name = col_text(st, 7),
            .file_name = col_text(st, 8),
        };
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    event_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

void event_recs_free(struct event_rec *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].at);
        free(e[i].action);
        free(e[i].actor);
        free(e[i].outcome);
        free(e[i].detail);
        free(e[i].db_name);
        free(e[i].file_name);
    }
    free(e);
}

int catalog_restore_history(struct catalog *c, int64_t backup_id, struct restore_history_rec **out,
                            size_t *n)
{
    const char *what = "read the restore history";
    sqlite3_stmt *st = NULL;
    struct restore_history_rec *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c,
                "SELECT id, backup_id, target_db, mode, started_at, finished_at, status, "
                "tables_checked, rows_checked, detail FROM restores "
                "WHERE ?1 <= 0 OR backup_id = ?1 ORDER BY started_at DESC, id DESC",
                &st, what) < 0)
        goto out;
    if (sqlite3_bind_int64(st, 1, backup_id)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        arr[len++] = (struct restore_history_rec){
            .id = sqlite3_column_int64(st, 0),
            .backup_id = sqlite3_column_int64(st, 1),
            .target_db = col_text(st, 2),
            .mode = col_text(st, 3),
            .started_at = col_text(st, 4),
            .finished_at = col_text(st, 5),
            .status = col_text(st, 6),
            .tables_checked =
                sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 7),
            .rows_checked =
                sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8),
            .detail = col_text(st, 9),
        };
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    restore_history_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

void restore_history_recs_free(struct restore_history_rec *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].target_db);
        free(r[i].mode);
        free(r[i].started_at);
        free(r[i].finished_at);
        free(r[i].status);
        free(r[i].detail);
    }
    free(r);
}

/* The text of the first column of every row of sql (no parameters). */
static int text_column(struct catalog *c, const char *what, const char *sql, char ***out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        arr[len++] = col_text(st, 0);
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    for (size_t i = 0; arr && i < len; i++)
        free(arr[i]);
    free(arr);
    sqlite3_finalize(st);
    return ret;
}

int catalog_db_names(struct catalog *c, char ***out, size_t *n)
{
    /* walks the backups_db_time index */
    return text_column(c, "list the databases",
                       "SELECT DISTINCT db_name FROM backups ORDER BY db_name", out, n);
}

int catalog_newest_backup(struct catalog *c, const char *db, enum catalog_newest which,
                          struct backup_rec *out, bool *found)
{
    static const char *const filters[] = {
        [CATALOG_NEWEST_COMPLETE] = "status = 'complete'",
        [CATALOG_NEWEST_FINISHED] = "status <> 'running'",
        [CATALOG_NEWEST_ANY] = "1",
    };
    const char *what = "read the newest backup";
    char *sql = xasprintf("SELECT " BACKUP_COLUMNS " FROM backups WHERE db_name = ? AND %s "
                          "ORDER BY started_at DESC, id DESC LIMIT 1",
                          filters[which]);
    sqlite3_stmt *st = NULL;
    int ret = -1, rc;
    memset(out, 0, sizeof(*out));
    *found = false;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    if (bind_text(st, 1, db)) {
        db_fail(c, what);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_backup(st, out);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

int catalog_backup_import(struct catalog *c, struct backup_rec *b, const struct table_rec *tables,
                          size_t ntables)
{
    const char *what = "record the imported backup";
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c,
                "INSERT INTO backups (db_name, file_name, format, compression, "
                "compression_level, size_bytes, raw_bytes, checksum, raw_checksum, "
                "checksum_algo, table_count, row_count, server_version, pg_dump_version, "
                "encoding, with_owners, started_at, finished_at, duration_ms, status, suspect, "
                "label, pid, host, origin) VALUES (?, ?, 'plain', ?, NULLIF(?, 0), ?, ?, ?, ?, "
                "'XXH3-128', ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, -1), 'complete', ?, ?, ?, ?, "
                "'import')",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, b->db_name) || bind_text(st, 2, b->file_name) ||
        bind_text(st, 3, b->compression) || sqlite3_bind_int(st, 4, b->level) ||
        sqlite3_bind_int64(st, 5, b->size_bytes) || sqlite3_bind_int64(st, 6, b->raw_bytes) ||
        bind_text(st, 7, b->checksum) || bind_text(st, 8, b->raw_checksum) ||
        sqlite3_bind_int64(st, 9, b->table_count) || sqlite3_bind_int64(st, 10, b->row_count) ||
        bind_text(st, 11, b->server_version) || bind_text(st, 12, b->pg_dump_version) ||
        bind_text(st, 13, b->encoding) || sqlite3_bind_int(st, 14, b->with_owners) ||
        bind_text(st, 15, b->started_at) || bind_text(st, 16, b->finished_at) ||
        sqlite3_bind_int64(st, 17, b->duration_ms) || sqlite3_bind_int(st, 18, b->suspect) ||
        bind_text(st, 19, b->label) || sqlite3_bind_int64(st, 20, b->pid) ||
        bind_text(st, 21, b->host)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    int64_t id = sqlite3_last_insert_rowid(c->db);
    if (store_tables(c, id, tables, ntables, what) < 0 || exec(c, "COMMIT", what) < 0)
        goto out;
    b->id = id;
    ret = 0;
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

/* What a `pgvault query` statement may do: read. The first action denied is kept for
 * the message. */
struct query_guard {
    char denied[64];
};

static int query_authorize(void *ctx, int action, const char *a1, const char *a2, const char *a3,
                           const char *a4)
{
    (void)a3;
    (void)a4;
    struct query_guard *g = ctx;
    /* pragmas that only report; with an argument, only those that read a schema object */
    static const char *const read_pragmas[] = {
        "table_info",      "table_xinfo",   "table_list",       "index_info",
        "index_xinfo",     "index_list",    "foreign_key_list", "foreign_key_check",
        "collation_list",  "function_list", "pragma_list",      "module_list",
        "integrity_check", "quick_check",   "database_list",    "compile_options",
    };
    const char *name = NULL;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_UPDATE:
        /* SQLite asks this while it declares a pragma function's columns
         * (SELECT * FROM pragma_table_info('backups')); a real UPDATE of the schema table
         * is not read-only and is refused below */
        if (a1 && (sqlite3_stricmp(a1, "sqlite_master") == 0 ||
                   sqlite3_stricmp(a1, "sqlite_schema") == 0))
            return SQLITE_OK;
        name = "a statement that writes";
        break;
    case SQLITE_FUNCTION:
        if (a2 && (sqlite3_stricmp(a2, "load_extension") == 0 ||
                   sqlite3_stricmp(a2, "readfile") == 0 || sqlite3_stricmp(a2, "writefile") == 0))
            name = a2;
        else
            return SQLITE_OK;
        break;
    case SQLITE_PRAGMA:
        if (!a2) {
            /* a bare pragma reads a setting, except the ones that act */
            if (sqlite3_stricmp(a1, "optimize") != 0 && sqlite3_stricmp(a1, "shrink_memory") != 0 &&
                sqlite3_stricmp(a1, "wal_checkpoint") != 0 &&
                sqlite3_stricmp(a1, "incremental_vacuum") != 0)
                return SQLITE_OK;
        } else {
            for (size_t i = 0; i < sizeof(read_pragmas) / sizeof(read_pragmas[0]); i++)
                if (sqlite3_stricmp(a1, read_pragmas[i]) == 0)
                    return SQLITE_OK;
        }
        name = "a PRAGMA that changes a setting or data";
        break;
    case SQLITE_ATTACH:
        name = "ATTACH";
        break;
    case SQLITE_DETACH:
        name = "DETACH";
        break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        name = "transaction control";
        break;
    default:
        name = "a statement that writes";
        break;
    }
    if (!g->denied[0])
        snprintf(g->denied, sizeof(g->denied), "%s", name);
    return SQLITE_DENY;
}

/* A statement the guard refused, or one that would write: a usage error. */
static int query_refused(const char *why)
{
    err_set(ERR_USAGE, "statement refused: %s is not allowed, the catalog is read-only here", why);
    err_hint("pgvault query runs one read-only statement (SELECT, WITH … SELECT, reading "
             "PRAGMAs)");
    return -1;
}

int catalog_query(struct catalog *c, const char *sql, catalog_row_fn fn, void *ctx)
{
    const char *what = "run the query";
    struct query_guard guard = {{0}};
    sqlite3_stmt *st = NULL, *next = NULL;
    const char *tail = NULL;
    const char **names = NULL;
    struct catalog_value *vals = NULL;
    int ret = -1, rc;

    /* 1. only a read-only connection, with writes, ATTACH and the rest refused */
    if (sqlite3_db_readonly(c->db, "main") != 1)
        return err_set(ERR_FAILED, "internal error: catalog \"%s\" is not open read-only", c->path);
    if (exec(c, "PRAGMA query_only = 1", what) < 0)
        return -1;
    sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_set_authorizer(c->db, query_authorize, &guard);

    /* 2. exactly one statement */
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, &tail) != SQLITE_OK) {
        if (sqlite3_errcode(c->db) == SQLITE_AUTH || guard.denied[0])
            query_refused(guard.denied[0] ? guard.denied : "this statement");
        else
            err_set(ERR_USAGE, "invalid SQL: %s", sqlite3_errmsg(c->db));
        goto out;
    }
    if (!st) {
        err_set(ERR_USAGE, "no SQL statement given");
        goto out;
    }
    if (tail && *tail) {
        /* anything but blanks and comments after the first statement is a second one */
        rc = sqlite3_prepare_v2(c->db, tail, -1, &next, NULL);
        if (rc != SQLITE_OK || next) {
            err_set(ERR_USAGE, "only one SQL statement is allowed");
            goto out;
        }
    }

    /* 3. it must not write, whatever the authorizer let through */
    if (!sqlite3_stmt_readonly(st)) {
        query_refused("a statement that writes");
        goto out;
    }

    /* 4. the column names, then every row */
    int ncols = sqlite3_column_count(st);
    names = xcalloc((size_t)ncols + 1, sizeof(*names));
    vals = xcalloc((size_t)ncols + 1, sizeof(*vals));
    for (int i = 0; i < ncols; i++) {
        const char *nm = sqlite3_column_name(st, i);
        names[i] = nm ? nm : "?";
    }
    if (fn(ctx, ncols, names, NULL) != 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++) {
            int type = sqlite3_column_type(st, i);
            vals[i].type = type == SQLITE_INTEGER ? CATALOG_INTEGER
                           : type == SQLITE_FLOAT ? CATALOG_REAL
                           : type == SQLITE_BLOB  ? CATALOG_BLOB
                           : type == SQLITE_NULL  ? CATALOG_NULL
                                                  : CATALOG_TEXT;
            if (type == SQLITE_BLOB)
                vals[i].text = sqlite3_column_blob(st, i);
            else
                vals[i].text = (const char *)sqlite3_column_text(st, i);
            vals[i].len = (size_t)sqlite3_column_bytes(st, i);
        }
        if (fn(ctx, ncols, names, vals) != 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_READONLY || rc == SQLITE_AUTH)
            query_refused("a statement that writes");
        else
            db_fail(c, what);
        goto out;
    }
    ret = 0;
out:
    free(names);
    free(vals);
    sqlite3_finalize(next);
    sqlite3_finalize(st);
    sqlite3_set_authorizer(c->db, NULL, NULL);
    return ret;
}

/* --- retention, pins and crash recovery (policy/retention.h, command/pin.c, command/recover.c) --- */

/* Inserts an audit event inside the caller's transaction. */
static int insert_event_tx(struct catalog *c, const char *action, int64_t backup_id,
                           const char *outcome, const char *detail, const char *what)
{
    sqlite3_stmt *st = NULL;
    struct timespec now;
    char at[25];
    int ret = -1;
    clock_gettime(CLOCK_REALTIME, &now);
    time_iso_ms(&now, at);
    if (prepare(c,
                "INSERT INTO events (at, action, backup_id, actor, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                &st, what) < 0)
        goto out;
    if (bind_text(st, 1, at) || bind_text(st, 2, action) ||
        (backup_id > 0 ? sqlite3_bind_int64(st, 3, backup_id) : sqlite3_bind_null(st, 3)) ||
        bind_text(st, 4, os_user()) || bind_text(st, 5, outcome) || bind_text(st, 6, detail)) {
        db_fail(c, what);
        goto out;
    }
    ret = step_done(c, st, what);
out:
    sqlite3_finalize(st);
    return ret;
}

/*
 * In one transaction: runs sql (which changes row id and whose parameters are the texts
 * a[0..na) followed by id), fails with ERR_FAILED "backup N <not_changed>" if no row
 * changed, then records the audit event.
 */
static int update_with_event(struct catalog *c, const char *what, const char *sql,
                             const char *const *a, int na, int64_t id, const char *not_changed,
                             const char *action, const char *outcome, const char *detail)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (exec(c, "BEGIN IMMEDIATE", what) < 0)
        return -1;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    for (int i = 0; i < na; i++) {
        if (bind_text(st, i + 1, a[i])) {
            db_fail(c, what);
            goto out;
        }
    }
    if (sqlite3_bind_int64(st, na + 1, id)) {
        db_fail(c, what);
        goto out;
    }
    if (step_done(c, st, what) < 0)
        goto out;
    if (sqlite3_changes(c->db) != 1) {
        err_set(ERR_FAILED, "backup %" PRId64 " %s", id, not_changed);
        goto out;
    }
    if (insert_event_tx(c, action, id, outcome, detail, what) < 0)
        goto out;
    ret = exec(c, "COMMIT", what);
out:
    sqlite3_finalize(st);
    if (ret < 0)
        rollback(c);
    return ret;
}

/* By database, then newest first: started_at (ISO text sorts as time) and id descending. */
static int cmp_retention_row(const void *x, const void *y)
{
    const struct retention_row *a = x, *b = y;
    int c = strcmp(a->db_name, b->db_name);
    if (c == 0)
        c = -strcmp(a->started_at, b->started_at);
    if (c == 0)
        c = a->id < b->id ? 1 : a->id > b->id ? -1 : 0;
    return c;
}

int catalog_retention_rows(struct catalog *c, const char *db, struct retention_row **out, size_t *n)
{
    const char *what = "list backups for retention";
    /* sorted here rather than by SQLite: a temporary b-tree costs more than qsort */
    char *sql = xasprintf("SELECT id, db_name, file_name, started_at, status = 'complete', "
                          "pinned, size_bytes, suspect FROM backups "
                          "WHERE %s AND +status IN ('complete', 'failed')",
                          db ? "db_name = ?1" : "1");
    sqlite3_stmt *st = NULL;
    struct retention_row *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c, sql, &st, what) < 0)
        goto out;
    if (db && bind_text(st, 1, db)) {
        db_fail(c, what);
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        struct retention_row *r = &arr[len];
        r->id = sqlite3_column_int64(st, 0);
        r->db_name = col_text(st, 1);
        r->file_name = col_text(st, 2);
        r->started_at = col_text(st, 3);
        r->complete = sqlite3_column_int(st, 4) != 0;
        r->pinned = sqlite3_column_int(st, 5) != 0;
        r->size_bytes = sqlite3_column_int64(st, 6);
        r->suspect = sqlite3_column_int(st, 7) != 0;
        len++;
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    if (len > 1)
        qsort(arr, len, sizeof(*arr), cmp_retention_row);
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    retention_rows_free(arr, len);
    sqlite3_finalize(st);
    free(sql);
    return ret;
}

void retention_rows_free(struct retention_row *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].db_name);
        free(r[i].file_name);
        free(r[i].started_at);
    }
    free(r);
}

int catalog_backup_retire(struct catalog *c, int64_t id, const char *status, const char *at,
                          const char *rule, const char *detail)
{
    const char *a[] = {status, at, rule};
    return update_with_event(c, "record the pruned backup",
                             "UPDATE backups SET status = ?, pruned_at = ?, prune_rule = ? "
                             "WHERE id = ? AND status = 'complete'",
                             a, 3, id, "is no longer complete", "prune",
                             strcmp(status, "pruned") == 0 ? "ok" : status, detail);
}

int catalog_backup_set_pinned(struct catalog *c, int64_t id, bool pinned, const char *detail)
{
    return update_with_event(c, pinned ? "pin the backup" : "unpin the backup",
                             pinned ? "UPDATE backups SET pinned = 1 WHERE id = ?"
                                    : "UPDATE backups SET pinned = 0 WHERE id = ?",
                             NULL, 0, id, "not found in the catalog", pinned ? "pin" : "unpin",
                             "ok", detail);
}

int catalog_running_backups(struct catalog *c, struct backup_rec **out, size_t *n)
{
    const char *what = "list interrupted backups";
    sqlite3_stmt *st = NULL;
    struct backup_rec *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c, "SELECT " BACKUP_COLUMNS " FROM backups WHERE status = 'running' ORDER BY id",
                &st, what) < 0)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        memset(&arr[len], 0, sizeof(*arr));
        read_backup(st, &arr[len++]);
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    backup_recs_free(arr, len);
    sqlite3_finalize(st);
    return ret;
}

int catalog_backup_interrupted(struct catalog *c, int64_t id, const char *at, const char *error,
                               const char *detail)
{
    const char *a[] = {at, error};
    return update_with_event(c, "record the interrupted backup",
                             "UPDATE backups SET status = 'failed', finished_at = ?, error = ? "
                             "WHERE id = ? AND status = 'running'",
                             a, 2, id, "is no longer running", "recover", "ok", detail);
}

int catalog_db_summaries(struct catalog *c, struct catalog_db_summary **out, size_t *n)
{
    const char *what = "summarise the databases";
    sqlite3_stmt *agg = NULL, *last = NULL, *fin = NULL;
    struct catalog_db_summary *arr = NULL;
    size_t len = 0, cap = 0;
    int ret = -1, rc;
    *out = NULL;
    *n = 0;
    if (prepare(c,
                "SELECT db_name, sum(status = 'complete'), "
                "coalesce(sum(CASE WHEN status = 'complete' THEN size_bytes END), 0) "
                "FROM backups GROUP BY db_name ORDER BY db_name",
                &agg, what) < 0 ||
        prepare(c,
                "SELECT " BACKUP_COLUMNS " FROM backups WHERE db_name = ?1 AND "
                "status = 'complete' ORDER BY started_at DESC, id DESC LIMIT 1",
                &last, what) < 0 ||
        prepare(c,
                "SELECT status FROM backups WHERE db_name = ?1 AND status <> 'running' "
                "ORDER BY started_at DESC, id DESC LIMIT 1",
                &fin, what) < 0)
        goto out;
    while ((rc = sqlite3_step(agg)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            arr = xrealloc(arr, cap * sizeof(*arr));
        }
        struct catalog_db_summary *s = &arr[len++];
        memset(s, 0, sizeof(*s));
        s->db_name = col_text(agg, 0);
        s->complete_count = sqlite3_column_int64(agg, 1);
        s->complete_bytes = sqlite3_column_int64(agg, 2);

        /* the newest complete backup, and how the newest run that ended went */
        sqlite3_reset(last);
        sqlite3_reset(fin);
        if (bind_text(last, 1, s->db_name) || bind_text(fin, 1, s->db_name)) {
            db_fail(c, what);
            goto out;
        }
        if ((rc = sqlite3_step(last)) == SQLITE_ROW) {
            read_backup(last, &s->last_complete);
            s->has_complete = true;
        } else if (rc != SQLITE_DONE) {
            db_fail(c, what);
            goto out;
        }
        if ((rc = sqlite3_step(fin)) == SQLITE_ROW) {
            s->last_status = col_text(fin, 0);
        } else if (rc != SQLITE_DONE) {
            db_fail(c, what);
            goto out;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(c, what);
        goto out;
    }
    *out = arr;
    *n = len;
    arr = NULL;
    ret = 0;
out:
    catalog_db_summaries_free(arr, len);
    sqlite3_finalize(agg);
    sqlite3_finalize(last);
    sqlite3_finalize(fin);
    return ret;
}

void catalog_db_summaries_free(struct catalog_db_summary *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].db_name);
        backup_rec_free(&s[i].last_complete);
        free(s[i].last_status);
    }
    free(s);
}

int catalog_restore_targets(struct catalog *c, char ***out, size_t *n)
{
    return text_column(c, "list the restore targets",
                       "SELECT DISTINCT target_db FROM restores ORDER BY target_db", out, n);
}

int catalog_running_restore_dbs(struct catalog *c, char ***out, size_t *n)
{
    return text_column(c, "list the running restores",
                       "SELECT DISTINCT b.db_name FROM restores r JOIN backups b ON b.id = "
                       "r.backup_id WHERE r.status = 'running' ORDER BY b.db_name",
                       out, n);
}

static int bind_interrupted(sqlite3_stmt *st, const void *arg)
{
    const char *const *a = arg;
    return bind_text(st, 1, a[0]) || bind_text(st, 2, a[1]);
}

int catalog_restores_interrupted(struct catalog *c, const char *db, const char *at)
{
    const char *a[] = {at, db};
    return write_one(c, "record interrupted restores",
                     "UPDATE restores SET status = 'failed', finished_at = ?1,"
                     " detail = 'interrupted: the pgvault process is gone' WHERE status = "
                     "'running' AND backup_id IN (SELECT id FROM backups WHERE db_name = ?2)",
                     bind_interrupted, a);
}
