/* Unit tests for src/catalog/report.c: the report's queries over a catalog filled with SQL
 * (periods, statuses, test restores, copies, movers and their counts). */
#include "catalog/report.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "unit.h"

static char path[PATH_MAX];
static struct catalog *c; /* the catalog every test reads */

static const char fill_sql[] =
    "INSERT INTO backups (id, db_name, file_name, compression, started_at, status, size_bytes,"
    " raw_bytes, pinned, suspect, verified_at, restore_tested_at, label) VALUES"
    " (1, 'shop', 'f1', 'gzip', '2026-11-01T02:00:00.000Z', 'pruned', 10, 30, 0, 0, NULL, NULL,"
    "  NULL),"
    " (2, 'shop', 'f2', 'gzip', '2026-11-02T02:00:00.000Z', 'failed', NULL, NULL, 0, 0, NULL,"
    "  NULL, NULL),"
    " (3, 'shop', 'f3', 'gzip', '2026-11-03T02:00:00.000Z', 'complete', 20, 60, 1, 0,"
    "  '2026-11-03T03:00:00.000Z', NULL, 'l'),"
    " (4, 'shop', 'f4', 'gzip', '2026-11-04T02:00:00.000Z', 'complete', 30, 90, 0, 1, NULL,"
    "  '2026-11-04T05:00:00.000Z', NULL),"
    " (5, 'shop', 'f5', 'gzip', '2026-11-05T02:00:00.000Z', 'running', NULL, NULL, 0, 0, NULL,"
    "  NULL, NULL),"
    " (6, 'shopx', 'f6', 'gzip', '2026-11-01T02:00:00.000Z', 'complete', 5, 5, 0, 0, NULL, NULL,"
    "  NULL);"
    "INSERT INTO backup_tables (backup_id, schema_name, table_name, row_count) VALUES"
    " (1, 'public', 'orders', 100), (1, 'public', 'gone', 7), (1, 'public', 'same', 5),"
    " (3, 'public', 'orders', 150), (3, 'public', 'same', 5),"
    " (4, 'public', 'orders', 400), (4, 'public', 'new', 2), (4, 'public', 'same', 5),"
    " (6, 'public', 'orders', 99999);"
    "INSERT INTO restores (backup_id, target_db, mode, started_at, finished_at, status) VALUES"
    " (3, 't', 'test', '2026-11-03T04:00:00.000Z', '2026-11-03T04:10:00.000Z', 'complete'),"
    " (3, 't', 'test', '2026-11-03T06:00:00.000Z', '2026-11-03T06:10:00.000Z', 'failed'),"
    " (4, 'shop', 'swap', '2026-11-04T06:00:00.000Z', '2026-11-04T06:10:00.000Z', 'complete');"
    "INSERT INTO copies (backup_id, remote, location, status) VALUES"
    " (4, 'b-remote', 'x', 'complete'), (3, 'a-remote', 'x', 'failed'),"
    " (1, 'a-remote', 'x', 'pruned'), (6, 'a-remote', 'x', 'complete');";

static struct catalog *setup(void)
{
    sqlite3 *db = NULL;
    if (catalog_open(path, CATALOG_CREATE, &c) != 0) {
        fprintf(stderr, "catalog_open: %s\n", err_msg());
        return NULL;
    }
    catalog_close(c);
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, fill_sql, 0, 0, 0) != SQLITE_OK)
        fprintf(stderr, "fill: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    c = NULL;
    catalog_open(path, CATALOG_READONLY, &c);
    return c;
}

static void test_summaries(void)
{
    struct report_summary *s = NULL;
    size_t n = 0;
    CHECK_INT(catalog_report_summaries(c, NULL, NULL, &s, &n), 0);
    CHECK_INT(n, 2);
    CHECK_STR(s[0].db_name, "shop");
    CHECK_INT(s[0].latest_id, 4);
    CHECK(s[0].latest_suspect);
    CHECK_INT(s[0].latest_size, 30);
    CHECK_STR(s[0].last_status, "complete"); /* the running one has not ended */
    CHECK_STR(s[0].verified_at, "2026-11-03T03:00:00.000Z");
    CHECK_STR(s[0].tested_at, "2026-11-04T05:00:00.000Z");
    CHECK_INT(s[0].backups, 4);
    CHECK_INT(s[0].failed, 1);
    CHECK_STR(s[1].db_name, "shopx"); /* exact names, never a prefix */
    CHECK(s[1].tested_at == NULL);
    report_summaries_free(s, n);

    CHECK_INT(catalog_report_summaries(c, "shop", "2026-11-03T00:00:00.000Z", &s, &n), 0);
    CHECK_INT(n, 1);
    CHECK_INT(s[0].backups, 2);
    CHECK_INT(s[0].failed, 0);
    CHECK_INT(s[0].latest_id, 4); /* the whole history's */
    report_summaries_free(s, n);
}

static void test_backups(void)
{
    struct report_backup *b = NULL;
    size_t n = 0;
    CHECK_INT(catalog_report_backups(c, "shop", NULL, 100, &b, &n), 0);
    CHECK_INT(n, 4); /* not the running one; oldest first */
    CHECK_INT(b[0].id, 1);
    CHECK_INT(b[3].id, 4);
    CHECK_STR(b[1].status, "failed");
    CHECK_INT(b[1].size_bytes, -1);
    CHECK(b[2].pinned && !b[2].suspect);
    CHECK_STR(b[2].label, "l");
    /* a test restore that completed, then a failed one */
    CHECK_STR(b[2].tested_at, "2026-11-03T04:10:00.000Z");
    CHECK_STR(b[2].test_status, "failed");
    /* restore_tested_at; a swap restore is not a test */
    CHECK_STR(b[3].tested_at, "2026-11-04T05:00:00.000Z");
    CHECK(b[3].test_status == NULL);
    report_backups_free(b, n);

    CHECK_INT(catalog_report_backups(c, "shop", "2026-11-04T00:00:00.000Z", 100, &b, &n), 0);
    CHECK_INT(n, 1);
    report_backups_free(b, n);
    /* the newest two, oldest first */
    CHECK_INT(catalog_report_backups(c, "shop", NULL, 2, &b, &n), 0);
    CHECK_INT(n, 2);
    CHECK_INT(b[0].id, 3);
    CHECK_INT(b[1].id, 4);
    report_backups_free(b, n);
}

static void test_copies(void)
{
    struct report_copy *r = NULL;
    size_t n = 0;
    CHECK_INT(catalog_report_copies(c, "shop", NULL, &r, &n), 0);
    CHECK_INT(n, 3); /* by remote, then backup; not shopx's */
    CHECK_STR(r[0].remote, "a-remote");
    CHECK_INT(r[0].backup_id, 1);
    CHECK_STR(r[1].status, "failed");
    CHECK_STR(r[2].remote, "b-remote");
    report_copies_free(r, n);
}

static void test_movers(void)
{
    struct report_mover *m = NULL;
    size_t n = 0;
    CHECK_INT(catalog_report_movers(c, "shop", NULL, 10, &m, &n), 0);
    CHECK_INT(n, 3); /* "same" did not change */
    CHECK_STR(m[0].table_name, "orders");
    CHECK_INT(m[0].first, 100);
    CHECK_INT(m[0].last, 400);
    CHECK_STR(m[1].table_name, "gone");
    CHECK_INT(m[1].last, -1);
    CHECK_STR(m[2].table_name, "new");
    CHECK_INT(m[2].first, -1);
    report_movers_free(m, n);

    CHECK_INT(catalog_report_movers(c, "shop", NULL, 1, &m, &n), 0);
    CHECK_INT(n, 1);
    report_movers_free(m, n);
    /* one backup in the period: nothing moved */
    CHECK_INT(catalog_report_movers(c, "shop", "2026-11-04T00:00:00.000Z", 10, &m, &n), 0);
    CHECK_INT(n, 0);
    report_movers_free(m, n);

    int64_t *counts = NULL;
    CHECK_INT(catalog_report_table_counts(c, "shop", NULL, "public", "orders", &counts, &n), 0);
    CHECK_INT(n, 3); /* backups 1, 3, 4: the failed one recorded no tables */
    CHECK_INT(counts[0], 100);
    CHECK_INT(counts[1], 150);
    CHECK_INT(counts[2], 400);
    free(counts);
    CHECK_INT(catalog_report_table_counts(c, "shop", NULL, "public", "new", &counts, &n), 0);
    CHECK_INT(counts[0], -1);
    CHECK_INT(counts[2], 2);
    free(counts);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(path, sizeof(path), "%s/test_catalog_report.%d.db", base, (int)getpid());
    c = setup();
    CHECK(c != NULL);
    if (c) {
        RUN(test_summaries);
        RUN(test_backups);
        RUN(test_copies);
        RUN(test_movers);
    }
    catalog_close(c);
    unlink(path);
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    return UNIT_DONE();
}
