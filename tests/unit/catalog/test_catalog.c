#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "catalog/catalog.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/internal.h"
#include "common/err.h"
#include "unit.h"
#include "common/util.h"

static char tmpdir[PATH_MAX];

/* A fresh path in the run's temp dir for each test. */
static const char *tmp_path(const char *name)
{
    static char buf[PATH_MAX + 64];
    snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
    return buf;
}

static struct catalog *open_new(const char *name)
{
    struct catalog *c = NULL;
    err_clear();
    if (catalog_open(tmp_path(name), CATALOG_CREATE, &c) < 0) {
        fprintf(stderr, "catalog_open: %s\n", err_msg());
        unit_failed_checks++;
    }
    return c;
}

static int mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

/* Runs sql on a separate raw connection; returns the first column of the first row as text. */
static char *raw_query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *res = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "raw_query %s: %s\n", sql, sqlite3_errmsg(db));
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        res = xstrdup(t ? (const char *)t : "(null)");
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return res;
}

/* Runs a statement without result rows on a separate raw connection. */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void check_raw(const char *path, const char *sql, const char *expected, int line)
{
    char *got = raw_query(path, sql);
    if (!got || strcmp(got, expected) != 0) {
        fprintf(stderr, "line %d: %s gave \"%s\", expected \"%s\"\n", line, sql,
                got ? got : "(no row)", expected);
        unit_failed_checks++;
    }
    free(got);
}
#define CHECK_RAW(path, sql, expected) check_raw(path, sql, expected, __LINE__)

static struct backup_rec rec(const char *db, const char *file, const char *started)
{
    return (struct backup_rec){
        .db_name = (char *)db,
        .file_name = (char *)file,
        .compression = "gzip",
        .level = 6,
        .started_at = (char *)started,
        .pid = 4242,
        .host = "dbhost",
        .label = "nightly",
        .with_owners = true,
        .format = "plain",
    };
}

/* Begins and finishes a backup with no tables. */
static int64_t add_complete(struct catalog *c, const char *db, const char *file,
                            const char *started)
{
    struct backup_rec b = rec(db, file, started);
    b.status = "complete";
    b.finished_at = (char *)started;
    if (catalog_backup_begin(c, &b) < 0 || catalog_backup_finish(c, &b, NULL, 0, NULL, 0) < 0) {
        fprintf(stderr, "add_complete: %s\n", err_msg());
        unit_failed_checks++;
        return -1;
    }
    return b.id;
}

static void test_create_reopen(void)
{
    const char *path = tmp_path("create.db");
    struct catalog *c = open_new("create.db");
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK(catalog_schema_latest() >= 1);
    CHECK_INT(catalog_schema_version(c), catalog_schema_latest());
    CHECK_INT(catalog_event(c, "backup", 0, "ok", NULL), 0);
    CHECK_INT(mode_of(path), 0600);
    char wal[PATH_MAX + 80], shm[PATH_MAX + 80];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    CHECK_INT(mode_of(wal), 0600);
    CHECK_INT(mode_of(shm), 0600);
    catalog_close(c);

    /* Reopen without CREATE: same schema, WAL mode persisted in the file. */
    c = NULL;
    CHECK_INT(catalog_open(path, 0, &c), 0);
    CHECK(c != NULL);
    if (c)
        CHECK_INT(catalog_schema_version(c), catalog_schema_latest());
    catalog_close(c);
    CHECK_RAW(path, "PRAGMA journal_mode", "wal");
    char *latest = xasprintf("%d", catalog_schema_latest());
    CHECK_RAW(path, "PRAGMA user_version", latest);
    free(latest);
    CHECK_RAW(path, "SELECT count(*) FROM events", "1");
}

static void test_missing_file(void)
{
    const char *path = tmp_path("missing.db");
    struct catalog *c = NULL;
    err_clear();
    CHECK_INT(catalog_open(path, 0, &c), -1);
    CHECK(c == NULL);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strstr(err_msg(), "does not exist") != NULL);
    CHECK(strstr(err_msg(), path) != NULL);
    CHECK_INT(access(path, F_OK), -1);
    err_clear();
    CHECK_INT(catalog_open(path, CATALOG_READONLY | CATALOG_CREATE, &c), -1);
    CHECK_INT(access(path, F_OK), -1);
    err_clear();
}

static void test_finish_and_list(void)
{
    struct catalog *c = open_new("finish.db");
    if (!c)
        return;
    struct backup_rec b = rec("app", "app/app_20261125T152754Z.sql.gz", "2026-11-25T15:27:54.123Z");
    b.origin = "backup";
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    CHECK(b.id > 0);

    /* Between begin and finish the row is 'running' and not listed as complete. */
    struct backup_rec got = {0};
    CHECK_INT(catalog_backup_get(c, b.id, &got), 0);
    CHECK_STR(got.status, "running");
    CHECK(got.finished_at == NULL);
    CHECK_INT(got.size_bytes, 0);
    backup_rec_free(&got);

    b.size_bytes = 12345;
    b.raw_bytes = 99999;
    b.checksum = "0123456789abcdef0123456789abcdef";
    b.raw_checksum = "fedcba9876543210fedcba9876543210";
    b.checksum_algo = "XXH3-128";
    b.table_count = 3;
    b.row_count = 1000;
    b.server_version = "16.4";
    b.pg_dump_version = "16.4";
    b.db_size_bytes = 8000000;
    b.encoding = "UTF8";
    b.collate = "C.UTF-8";
    b.ctype = "C.UTF-8";
    b.finished_at = "2026-11-25T15:28:00.456Z";
    b.duration_ms = 6333;
    b.status = "complete";
    b.suspect = true;
    struct table_rec tables[] = {
        {"public", "orders", 'r', 700},
        {"audit", "log", 'p', 200},
        {"public", "customers", 'r', 100},
    };
    char *settings[] = {"work_mem=64MB", "search_path=app, public"};
    CHECK_INT(catalog_backup_finish(c, &b, tables, 3, settings, 2), 0);

    struct backup_rec *list = NULL;
    size_t n = 0;
    CHECK_INT(catalog_backups(c, NULL, false, &list, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        struct backup_rec *r = &list[0];
        CHECK_INT(r->id, b.id);
        CHECK_STR(r->db_name, "app");
        CHECK_STR(r->file_name, "app/app_20261125T152754Z.sql.gz");
        CHECK_STR(r->format, "plain");
        CHECK_STR(r->compression, "gzip");
        CHECK_INT(r->level, 6);
        CHECK_INT(r->size_bytes, 12345);
        CHECK_INT(r->raw_bytes, 99999);
        CHECK_STR(r->checksum, "0123456789abcdef0123456789abcdef");
        CHECK_STR(r->raw_checksum, "fedcba9876543210fedcba9876543210");
        CHECK_STR(r->checksum_algo, "XXH3-128");
        CHECK_INT(r->table_count, 3);
        CHECK_INT(r->row_count, 1000);
        CHECK_STR(r->server_version, "16.4");
        CHECK_STR(r->pg_dump_version, "16.4");
        CHECK_INT(r->db_size_bytes, 8000000);
        CHECK_STR(r->encoding, "UTF8");
        CHECK_STR(r->collate, "C.UTF-8");
        CHECK_STR(r->ctype, "C.UTF-8");
        CHECK(r->with_owners);
        CHECK_STR(r->started_at, "2026-11-25T15:27:54.123Z");
        CHECK_STR(r->finished_at, "2026-11-25T15:28:00.456Z");
        CHECK_INT(r->duration_ms, 6333);
        CHECK_STR(r->status, "complete");
        CHECK(!r->pinned);
        CHECK(r->suspect);
        CHECK_STR(r->label, "nightly");
        CHECK(r->error == NULL);
        CHECK(r->verified_at == NULL);
        CHECK(r->pruned_at == NULL);
        CHECK(r->prune_rule == NULL);
        CHECK_INT(r->pid, 4242);
        CHECK_STR(r->host, "dbhost");
        CHECK_STR(r->origin, "backup");
    }
    backup_recs_free(list, n);

    /* By file name gives the same row. */
    CHECK_INT(catalog_backup_by_file(c, "app/app_20261125T152754Z.sql.gz", &got), 0);
    CHECK_INT(got.id, b.id);
    CHECK_STR(got.checksum, "0123456789abcdef0123456789abcdef");
    backup_rec_free(&got);
    backup_rec_free(&got); /* NULL-safe twice */

    /* Tables come back ordered by schema, table. */
    struct table_rec *t = NULL;
    size_t nt = 0;
    CHECK_INT(catalog_backup_tables(c, b.id, &t, &nt), 0);
    CHECK_INT(nt, 3);
    if (nt == 3) {
        CHECK_STR(t[0].schema_name, "audit");
        CHECK_STR(t[0].table_name, "log");
        CHECK_INT(t[0].relkind, 'p');
        CHECK_INT(t[0].row_count, 200);
        CHECK_STR(t[1].table_name, "customers");
        CHECK_INT(t[1].relkind, 'r');
        CHECK_INT(t[1].row_count, 100);
        CHECK_STR(t[2].table_name, "orders");
        CHECK_INT(t[2].row_count, 700);
    }
    table_recs_free(t, nt);

    char **s = NULL;
    int ns = 0;
    CHECK_INT(catalog_backup_settings(c, b.id, &s, &ns), 0);
    CHECK_INT(ns, 2);
    if (ns == 2) {
        CHECK_STR(s[0], "work_mem=64MB");
        CHECK_STR(s[1], "search_path=app, public");
    }
    for (int i = 0; i < ns; i++)
        free(s[i]);
    free(s);
    catalog_close(c);
}

static void test_fail_excluded(void)
{
    struct catalog *c = open_new("fail.db");
    if (!c)
        return;
    int64_t ok = add_complete(c, "app", "app/ok.sql.gz", "2026-11-25T10:00:00.000Z");
    struct backup_rec b = rec("app", "app/bad.sql.gz", "2026-11-25T11:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    CHECK_INT(catalog_backup_fail(c, b.id, "2026-11-25T11:00:05.000Z",
                                  "pg_dump failed with exit code 1: connection lost"),
              0);

    struct backup_rec *list = NULL;
    size_t n = 0;
    CHECK_INT(catalog_backups(c, NULL, false, &list, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1)
        CHECK_INT(list[0].id, ok);
    backup_recs_free(list, n);

    CHECK_INT(catalog_backups(c, NULL, true, &list, &n), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(list[0].id, b.id);
        CHECK_STR(list[0].status, "failed");
        CHECK_STR(list[0].finished_at, "2026-11-25T11:00:05.000Z");
        CHECK_STR(list[0].error, "pg_dump failed with exit code 1: connection lost");
        CHECK_STR(list[1].status, "complete");
    }
    backup_recs_free(list, n);

    /* Unknown ids are reported as such. */
    err_clear();
    CHECK_INT(catalog_backup_fail(c, 999, "2026-11-25T11:00:05.000Z", "x"), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK_STR(err_msg(), "backup 999 not found in the catalog");
    err_clear();
    struct backup_rec got;
    CHECK_INT(catalog_backup_get(c, 999, &got), -1);
    CHECK_STR(err_msg(), "backup 999 not found in the catalog");
    CHECK(got.db_name == NULL);
    err_clear();
    CHECK_INT(catalog_backup_by_file(c, "app/nope.sql.gz", &got), -1);
    CHECK_STR(err_msg(), "backup \"app/nope.sql.gz\" not found in the catalog");
    err_clear();
    catalog_close(c);
}

static void test_finish_is_atomic(void)
{
    struct catalog *c = open_new("atomic.db");
    if (!c)
        return;
    struct backup_rec b = rec("app", "app/a.sql.gz", "2026-11-25T10:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    b.status = "complete";
    b.size_bytes = 10;
    /* The duplicate table violates the primary key: nothing of finish may remain. */
    struct table_rec tables[] = {{"public", "t", 'r', 1}, {"public", "t", 'r', 2}};
    err_clear();
    CHECK_INT(catalog_backup_finish(c, &b, tables, 2, NULL, 0), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    CHECK(strstr(err_msg(), "could not record the backup result in catalog \"") != NULL);
    CHECK(strstr(err_msg(), "UNIQUE constraint failed") != NULL);
    err_clear();
    struct backup_rec got = {0};
    CHECK_INT(catalog_backup_get(c, b.id, &got), 0);
    CHECK_STR(got.status, "running");
    CHECK_INT(got.size_bytes, 0);
    backup_rec_free(&got);
    CHECK_RAW(tmp_path("atomic.db"), "SELECT count(*) FROM backup_tables", "0");
    /* The connection is usable again afterwards. */
    CHECK_INT(catalog_event(c, "backup", b.id, "failed", NULL), 0);
    catalog_close(c);
}

/* Access points go in with the result, in order, and come back as they went in; a result
 * that fails keeps none; a backup without any reads as none. */
static void test_access_points(void)
{
    struct catalog *c = open_new("points.db");
    if (!c)
        return;
    struct backup_rec b = rec("app", "app/p.sql.gz", "2026-11-25T10:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    b.status = "complete";
    struct access_point pts[] = {
        {"public", "big", "COPY \"public\".\"big\" (\"a\") FROM stdin;", 100, 5000, 40, 7, 0, 50,
         6003, 2390, 61},
        {"public", "big", "COPY \"public\".\"big\" (\"a\") FROM stdin;", 5100, 900, 2000, 57, 50, 9,
         6003, 2390, 61},
        {NULL, "bare", "COPY \"bare\" FROM stdin;", 6100, 10, 2400, 70, 0, 1, -1, -1, -1},
    };
    struct backup_points bp = {pts, 3};
    struct table_rec dup[] = {{"public", "t", 'r', 1}, {"public", "t", 'r', 2}};
    err_clear();
    CHECK_INT(catalog_backup_finish_points(c, &b, dup, 2, NULL, 0, &bp), -1);
    err_clear();
    CHECK_RAW(tmp_path("points.db"), "SELECT count(*) FROM access_points", "0");
    CHECK_INT(catalog_backup_finish_points(c, &b, dup, 1, NULL, 0, &bp), 0);
    struct access_point *got = NULL;
    size_t n = 0;
    CHECK_INT(catalog_access_points(c, b.id, &got, &n), 0);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n && n == 3; i++) {
        CHECK(pts[i].schema_name ? got[i].schema_name && !strcmp(got[i].schema_name, "public")
                                 : got[i].schema_name == NULL);
        CHECK_STR(got[i].table_name, pts[i].table_name);
        CHECK_STR(got[i].statement, pts[i].statement);
        CHECK_INT(got[i].raw_offset, pts[i].raw_offset);
        CHECK_INT(got[i].raw_bytes, pts[i].raw_bytes);
        CHECK_INT(got[i].comp_offset, pts[i].comp_offset);
        CHECK_INT(got[i].line, pts[i].line);
        CHECK_INT(got[i].rows_before, pts[i].rows_before);
        CHECK_INT(got[i].rows, pts[i].rows);
        CHECK_INT(got[i].end_raw_offset, pts[i].end_raw_offset);
        CHECK_INT(got[i].end_comp_offset, pts[i].end_comp_offset);
        CHECK_INT(got[i].end_line, pts[i].end_line);
    }
    access_points_free(got, n);
    int64_t none = add_complete(c, "app", "app/q.sql.gz", "2026-11-25T11:00:00.000Z");
    CHECK_INT(catalog_access_points(c, none, &got, &n), 0);
    CHECK(n == 0 && got == NULL);
    catalog_close(c);
}

static void test_newest_first(void)
{
    struct catalog *c = open_new("order.db");
    if (!c)
        return;
    int64_t a = add_complete(c, "app", "app/1.sql.gz", "2026-11-25T10:00:00.000Z");
    int64_t b = add_complete(c, "app", "app/2.sql.gz", "2026-11-25T12:00:00.000Z");
    int64_t t1 = add_complete(c, "app", "app/3.sql.gz", "2026-11-25T11:00:00.000Z");
    int64_t t2 = add_complete(c, "app", "app/4.sql.gz", "2026-11-25T11:00:00.000Z");
    int64_t want[] = {b, t2, t1, a};
    for (int pass = 0; pass < 2; pass++) {
        struct backup_rec *list = NULL;
        size_t n = 0;
        CHECK_INT(catalog_backups(c, pass ? "app" : NULL, false, &list, &n), 0);
        CHECK_INT(n, 4);
        for (size_t i = 0; i < n && i < 4; i++)
            CHECK_INT(list[i].id, want[i]);
        backup_recs_free(list, n);
    }
    catalog_close(c);
}

static void test_db_filter_exact(void)
{
    struct catalog *c = open_new("filter.db");
    if (!c)
        return;
    int64_t app = add_complete(c, "app", "app/1.sql.gz", "2026-11-25T10:00:00.000Z");
    add_complete(c, "app_staging", "app_staging/1.sql.gz", "2026-11-25T10:00:00.000Z");
    add_complete(c, "app%", "app%/1.sql.gz", "2026-11-25T10:00:00.000Z");
    struct backup_rec *list = NULL;
    size_t n = 0;
    CHECK_INT(catalog_backups(c, "app", true, &list, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(list[0].id, app);
        CHECK_STR(list[0].db_name, "app");
    }
    backup_recs_free(list, n);
    CHECK_INT(catalog_backups(c, "ap", true, &list, &n), 0);
    CHECK_INT(n, 0);
    CHECK(list == NULL);
    backup_recs_free(list, n);
    CHECK_INT(catalog_backups(c, NULL, true, &list, &n), 0);
    CHECK_INT(n, 3);
    backup_recs_free(list, n);
    catalog_close(c);
}

static void test_file_known(void)
{
    struct catalog *c = open_new("known.db");
    if (!c)
        return;
    struct backup_rec b = rec("app", "app/running.sql.gz", "2026-11-25T10:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    bool known = false;
    CHECK_INT(catalog_file_known(c, "app/running.sql.gz", &known), 0);
    CHECK(known);
    CHECK_INT(catalog_file_known(c, "app/other.sql.gz", &known), 0);
    CHECK(!known);
    CHECK_INT(catalog_file_known(c, "app/running.sql", &known), 0);
    CHECK(!known);
    catalog_close(c);
}

static void test_events(void)
{
    const char *path = tmp_path("events.db");
    struct catalog *c = open_new("events.db");
    if (!c)
        return;
    int64_t id = add_complete(c, "app", "app/1.sql.gz", "2026-11-25T10:00:00.000Z");
    CHECK_INT(catalog_event(c, "backup", id, "ok", "12.1 MiB in 3.2 s"), 0);
    CHECK_INT(catalog_event(c, "prune", 0, "ok", NULL), 0);
    catalog_close(c);

    CHECK_RAW(path, "SELECT count(*) FROM events", "2");
    char *sql = xasprintf("SELECT action || '|' || backup_id || '|' || actor || '|' || outcome "
                          "|| '|' || detail FROM events WHERE id = 1");
    char *want = xasprintf("backup|%lld|%s|ok|12.1 MiB in 3.2 s", (long long)id, os_user());
    CHECK_RAW(path, sql, want);
    free(sql);
    free(want);
    CHECK_RAW(path, "SELECT backup_id IS NULL AND detail IS NULL FROM events WHERE id = 2", "1");
    /* at is now, ISO-8601 UTC with milliseconds. */
    char *at = raw_query(path, "SELECT at FROM events WHERE id = 2");
    CHECK(at && strlen(at) == 24 && at[10] == 'T' && at[19] == '.' && at[23] == 'Z');
    time_t t = 0;
    CHECK(at && time_parse_iso(at, &t) == 0 && labs((long)(t - time(NULL))) < 60);
    free(at);
}

static void test_garbage_file(void)
{
    const char *path = tmp_path("garbage.db");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7 + 13);
    CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    if (fd >= 0)
        close(fd);
    for (int ro = 0; ro < 2; ro++) {
        struct catalog *c = NULL;
        err_clear();
        CHECK_INT(catalog_open(path, ro ? CATALOG_READONLY : CATALOG_CREATE, &c), -1);
        CHECK(c == NULL);
        CHECK_INT(err_class(), ERR_FAILED);
        char *want = xasprintf("could not open catalog \"%s\": file is not a database", path);
        CHECK_STR(err_msg(), want);
        free(want);
        CHECK(strstr(err_hint_msg(), "import --scan") != NULL);
    }
    err_clear();
}

static void test_future_version(void)
{
    const char *path = tmp_path("future.db");
    struct catalog *c = open_new("future.db");
    if (!c)
        return;
    catalog_close(c);
    CHECK_INT(raw_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
    for (int ro = 0; ro < 2; ro++) {
        c = NULL;
        err_clear();
        CHECK_INT(catalog_open(path, ro ? CATALOG_READONLY : 0, &c), -1);
        CHECK(c == NULL);
        CHECK_INT(err_class(), ERR_USAGE);
        char *want = xasprintf("catalog \"%s\" has schema version 99, this pgvault knows up to %d",
                               path, catalog_schema_latest());
        CHECK_STR(err_msg(), want);
        free(want);
        CHECK(strstr(err_hint_msg(), "upgrade pgvault") != NULL);
    }
    err_clear();
    CHECK_RAW(path, "PRAGMA user_version", "99");
}

static void test_migration(void)
{
    /* An existing empty file is initialised by a read-write open. */
    const char *path = tmp_path("empty.db");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    struct catalog *c = NULL;
    err_clear();
    CHECK_INT(catalog_open(path, CATALOG_READONLY, &c), -1);
    char *want = xasprintf("catalog \"%s\" is empty", path);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    CHECK_INT(catalog_open(path, 0, &c), 0);
    if (c)
        CHECK_INT(catalog_schema_version(c), catalog_schema_latest());
    catalog_close(c);
    CHECK_RAW(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'events'", "1");

    /* A migration that fails part way leaves nothing behind: one transaction. */
    path = tmp_path("clash.db");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0)
        close(fd);
    CHECK_INT(raw_exec(path, "CREATE TABLE restores (x)"), SQLITE_OK);
    c = NULL;
    err_clear();
    CHECK_INT(catalog_open(path, 0, &c), -1);
    CHECK(c == NULL);
    CHECK(strstr(err_msg(), "could not apply schema migration 001_init.sql in catalog") != NULL);
    CHECK(strstr(err_msg(), "table restores already exists") != NULL);
    err_clear();
    CHECK_RAW(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'backups'", "0");
    CHECK_RAW(path, "PRAGMA user_version", "0");
}

static void test_readonly(void)
{
    const char *path = tmp_path("ro.db");
    struct catalog *c = open_new("ro.db");
    if (!c)
        return;
    int64_t id = add_complete(c, "app", "app/1.sql.gz", "2026-11-25T10:00:00.000Z");
    catalog_close(c);

    c = NULL;
    err_clear();
    CHECK_INT(catalog_open(path, CATALOG_READONLY, &c), 0);
    if (!c)
        return;
    struct backup_rec *list = NULL;
    size_t n = 0;
    CHECK_INT(catalog_backups(c, NULL, true, &list, &n), 0);
    CHECK_INT(n, 1);
    backup_recs_free(list, n);
    err_clear();
    CHECK_INT(catalog_event(c, "verify", id, "ok", NULL), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    CHECK(strstr(err_msg(), "readonly") != NULL);
    err_clear();
    struct backup_rec b = rec("app", "app/2.sql.gz", "2026-11-25T11:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), -1);
    err_clear();
    CHECK_INT(catalog_backup_fail(c, id, "2026-11-25T11:00:00.000Z", "x"), -1);
    err_clear();
    catalog_close(c);
    CHECK_RAW(path, "SELECT count(*) || status FROM backups", "1complete");
    CHECK_RAW(path, "SELECT count(*) FROM events", "0");
}

/* A second connection that holds the catalog's write lock until release_write_lock. */
static sqlite3 *hold_write_lock(const char *path)
{
    sqlite3 *other = NULL;
    CHECK_INT(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return other;
}

static void release_write_lock(sqlite3 *other)
{
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
}

static void test_busy(void)
{
    const char *path = tmp_path("busy.db");
    struct catalog *c = open_new("busy.db");
    if (!c)
        return;
    catalog_set_busy_timeout(c, 100);
    sqlite3 *other = hold_write_lock(path);

    err_clear();
    CHECK_INT(catalog_event(c, "pin", 0, "ok", NULL), -1);
    CHECK_INT(err_class(), ERR_BUSY);
    char *want = xasprintf("catalog \"%s\" is locked by another process", path);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    struct backup_rec b = rec("app", "app/1.sql.gz", "2026-11-25T10:00:00.000Z");
    CHECK_INT(catalog_backup_begin(c, &b), -1);
    CHECK_INT(err_class(), ERR_BUSY);
    err_clear();

    /* Readers are not blocked by a writer in WAL mode. */
    bool known = true;
    CHECK_INT(catalog_file_known(c, "app/1.sql.gz", &known), 0);
    CHECK(!known);

    /* Once the other writer is gone, writes go through. */
    release_write_lock(other);
    CHECK_INT(catalog_event(c, "pin", 0, "ok", NULL), 0);
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    catalog_close(c);
}

/* The body of a probe transaction: writes an event, then fails with an error and a hint
 * (fail), fails at COMMIT with a deferred foreign key (fail_commit), or succeeds. */
struct tx_probe {
    int calls;
    bool fail, fail_commit;
};

static int tx_probe_body(struct catalog *c, void *ctx, const char *what)
{
    struct tx_probe *p = ctx;
    p->calls++;
    if (cat_insert_event(c, "probe", 0, "ok", NULL, what) < 0)
        return -1;
    if (p->fail_commit)
        return cat_exec(c, "PRAGMA defer_foreign_keys = ON", what) < 0 ||
                       cat_exec(
                           c, "INSERT INTO backup_settings (backup_id, setting) VALUES (999, 'x')",
                           what) < 0
                   ? -1
                   : 0;
    if (!p->fail)
        return 0;
    err_set(ERR_INTEGRITY, "could not check \"probe\": 2 rows, expected 3");
    err_hint("run \"pgvault verify\" on the backup");
    return -1;
}

static void test_tx_rollback(void)
{
    const char *path = tmp_path("tx.db");
    struct catalog *c = open_new("tx.db");
    if (!c)
        return;
    struct tx_probe p = {.fail = true};
    err_clear();
    CHECK_INT(cat_tx(c, "probe the catalog", tx_probe_body, &p), -1);
    CHECK_INT(p.calls, 1);
    /* the body's error survives the rollback whole: class, message and hint */
    CHECK_INT(err_class(), ERR_INTEGRITY);
    CHECK_STR(err_msg(), "could not check \"probe\": 2 rows, expected 3");
    CHECK_STR(err_hint_msg(), "run \"pgvault verify\" on the backup");
    err_clear();
    /* nothing of the body was written, and no transaction is left open */
    CHECK(sqlite3_get_autocommit(c->db));
    CHECK_RAW(path, "SELECT count(*) FROM events", "0");

    /* the same connection writes again; a body that succeeds is committed */
    p.fail = false;
    CHECK_INT(cat_tx(c, "probe the catalog", tx_probe_body, &p), 0);
    CHECK_INT(err_is_set(), 0);
    CHECK_RAW(path, "SELECT count(*) FROM events WHERE action = 'probe'", "1");
    catalog_close(c);
}

static void test_tx_commit_fails(void)
{
    const char *path = tmp_path("txcommit.db");
    struct catalog *c = open_new("txcommit.db");
    if (!c)
        return;
    struct tx_probe p = {.fail_commit = true};
    err_clear();
    CHECK_INT(cat_tx(c, "probe the catalog", tx_probe_body, &p), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    char *want = xasprintf("could not probe the catalog in catalog \"%s\": FOREIGN KEY "
                           "constraint failed",
                           path);
    CHECK_STR(err_msg(), want);
    free(want);
    err_clear();
    /* the failed COMMIT left the transaction open: it is rolled back, with the body's rows */
    CHECK(sqlite3_get_autocommit(c->db));
    CHECK_RAW(path, "SELECT count(*) FROM events", "0");
    CHECK_RAW(path, "SELECT count(*) FROM backup_settings", "0");
    CHECK_INT(catalog_event(c, "backup", 0, "ok", NULL), 0);
    catalog_close(c);
}

static void test_tx_busy(void)
{
    const char *path = tmp_path("txbusy.db");
    struct catalog *c = open_new("txbusy.db");
    if (!c)
        return;
    catalog_set_busy_timeout(c, 100);
    sqlite3 *other = hold_write_lock(path);
    struct tx_probe p = {0};
    err_clear();
    /* another writer holds the lock: BEGIN fails, the body never runs */
    CHECK_INT(cat_tx(c, "probe the catalog", tx_probe_body, &p), -1);
    CHECK_INT(err_class(), ERR_BUSY);
    CHECK_INT(p.calls, 0);
    err_clear();
    release_write_lock(other);
    CHECK_INT(cat_tx(c, "probe the catalog", tx_probe_body, &p), 0);
    CHECK_INT(p.calls, 1);
    catalog_close(c);
}

static void test_import_is_atomic(void)
{
    const char *path = tmp_path("import.db");
    struct catalog *c = open_new("import.db");
    if (!c)
        return;
    struct backup_rec b = rec("app", "app/old.sql.gz", "2026-11-25T10:00:00.000Z");
    b.finished_at = b.started_at;
    b.checksum = "00112233445566778899aabbccddeeff";
    b.duration_ms = -1;
    /* the duplicate table fails after the row was inserted: the row goes too */
    struct table_rec tables[] = {{"public", "t", 'r', 1}, {"public", "t", 'r', 2}};
    err_clear();
    CHECK_INT(catalog_backup_import(c, &b, tables, 2), -1);
    CHECK(strstr(err_msg(), "could not record the imported backup in catalog \"") != NULL);
    CHECK(strstr(err_msg(), "UNIQUE constraint failed") != NULL);
    err_clear();
    CHECK_INT(b.id, 0);
    CHECK_RAW(path, "SELECT count(*) FROM backups", "0");
    CHECK_RAW(path, "SELECT count(*) FROM backup_tables", "0");
    /* one table each: the import is recorded, with its id */
    CHECK_INT(catalog_backup_import(c, &b, tables, 1), 0);
    CHECK(b.id > 0);
    CHECK_RAW(path, "SELECT origin || '|' || status FROM backups", "import|complete");
    CHECK_RAW(path, "SELECT count(*) FROM backup_tables", "1");
    catalog_close(c);
}

static void test_many_backups(void)
{
    enum { N = 100000 };
    const char *path = tmp_path("many.db");
    struct catalog *c = open_new("many.db");
    if (!c)
        return;
    catalog_close(c);

    /* Fill through one raw transaction: per-row commits with synchronous=FULL are slow. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_prepare_v2(db,
                                 "INSERT INTO backups (db_name, file_name, compression, "
                                 "started_at, status, checksum, size_bytes) "
                                 "VALUES (?, ?, 'gzip', ?, 'complete', 'abc', 1000)",
                                 -1, &st, NULL),
              SQLITE_OK);
    for (int i = 0; i < N; i++) {
        char file[64], at[25];
        struct timespec ts = {.tv_sec = 1700000000 + (time_t)i * 3600};
        snprintf(file, sizeof(file), "db%d/%d.sql.gz", i % 10, i);
        sqlite3_bind_text(st, 1, file, 3, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, file, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, time_iso_ms(&ts, at), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            unit_failed_checks++;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    CHECK_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    c = NULL;
    CHECK_INT(catalog_open(path, CATALOG_READONLY, &c), 0);
    if (!c)
        return;
    struct backup_rec *list = NULL;
    size_t n = 0;
    double t0 = time_mono();
    CHECK_INT(catalog_backups(c, NULL, false, &list, &n), 0);
    double all = time_mono() - t0;
    CHECK_INT(n, N);
    if (n == N) {
        CHECK_STR(list[0].file_name, "db9/99999.sql.gz");
        CHECK_STR(list[N - 1].file_name, "db0/0.sql.gz");
    }
    backup_recs_free(list, n);
    t0 = time_mono();
    CHECK_INT(catalog_backups(c, "db3", false, &list, &n), 0);
    double one = time_mono() - t0;
    CHECK_INT(n, N / 10);
    if (n == N / 10)
        CHECK_STR(list[0].file_name, "db3/99993.sql.gz");
    backup_recs_free(list, n);
    catalog_close(c);
    /* the target is list on 100,000 backups < 0.2 s; generous here for sanitizer builds */
    CHECK(all < 3.0);
    CHECK(one < 1.0);
    printf("catalog_backups on %d rows: %.3f s all, %.3f s one database\n", N, all, one);
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_catalog.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 1;
    }

    RUN(test_create_reopen);
    RUN(test_missing_file);
    RUN(test_finish_and_list);
    RUN(test_fail_excluded);
    RUN(test_finish_is_atomic);
    RUN(test_access_points);
    RUN(test_newest_first);
    RUN(test_db_filter_exact);
    RUN(test_file_known);
    RUN(test_events);
    RUN(test_garbage_file);
    RUN(test_future_version);
    RUN(test_migration);
    RUN(test_readonly);
    RUN(test_busy);
    RUN(test_tx_rollback);
    RUN(test_tx_commit_fails);
    RUN(test_tx_busy);
    RUN(test_import_is_atomic);
    RUN(test_many_backups);

    int rc = UNIT_DONE();
    if (rc == 0)
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
