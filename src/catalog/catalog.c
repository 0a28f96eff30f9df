/*
 * Opening the catalog: the file checks, read-only and immutable opening, the pragmas,
 * and the schema migrations.
 */
#include "catalog/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"
#include "catalog/internal.h"
#include "catalog/schema.h"
#include "common/util.h"

int catalog_schema_latest(void)
{
    return schema_migration_count > 0 ? schema_migrations[schema_migration_count - 1].version : 0;
}

int catalog_schema_version(struct catalog *c)
{
    return c->version;
}

int catalog_relax_durability(struct catalog *c)
{
    if (sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL) != SQLITE_OK)
        return cat_fail(c, "keep the write-ahead log at close");
    return cat_exec(c, "PRAGMA synchronous=NORMAL", "set synchronous mode");
}

void catalog_set_busy_timeout(struct catalog *c, int ms)
{
    sqlite3_busy_timeout(c->db, ms);
}

static int read_user_version(struct catalog *c, int *version)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (cat_prepare(c, "PRAGMA user_version", &st, "read the schema version") < 0)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW) {
        cat_fail(c, "read the schema version");
        goto out;
    }
    *version = sqlite3_column_int(st, 0);
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

/* Applies every migration newer than the file's schema (inside migrate's transaction). */
static int apply_migrations(struct catalog *c, void *ctx, const char *what)
{
    char sql[64];
    (void)ctx;
    (void)what;
    /* Re-read under the write lock: another process may have migrated meanwhile. */
    if (read_user_version(c, &c->version) < 0)
        return -1;
    for (int i = 0; i < schema_migration_count; i++) {
        const struct schema_migration *m = &schema_migrations[i];
        if (m->version <= c->version)
            continue;
        char *step = xasprintf("apply schema migration %s", m->name);
        int rc = cat_exec(c, m->sql, step);
        free(step);
        if (rc < 0)
            return -1;
    }
    /* A pragma takes no parameters; the version is our own constant. */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", catalog_schema_latest());
    return cat_exec(c, sql, "set the schema version");
}

/* Brings the schema up to date in one transaction. */
static int migrate(struct catalog *c)
{
    if (cat_tx(c, "migrate the schema", apply_migrations, NULL) < 0)
        return -1;
    c->version = catalog_schema_latest();
    return 0;
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
    if ((!readonly && cat_exec(c, "PRAGMA journal_mode=WAL", "enable WAL mode") < 0) ||
        cat_exec(c, "PRAGMA foreign_keys=ON", "enable foreign keys") < 0 ||
        cat_exec(c, "PRAGMA synchronous=FULL", "set synchronous mode") < 0)
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
