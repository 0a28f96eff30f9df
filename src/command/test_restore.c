/*
 * pgvault test-restore: proves that a backup restores. It goes through the normal restore
 * path (checksum first, load into a scratch database, tables and row counts against the
 * catalog), then runs the statements of --check-sql FILE on the loaded database (each
 * must return one row whose first column is true), and drops the scratch database
 * whatever happened. Success is recorded as the backup's restore_tested_at.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/commands.h"
#include "command/notify.h"
#include "catalog/catalog.h"
#include "command/restore.h"
#include "common/err.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/output.h"
#include "common/util.h"
#include "postgres/pg.h"
#include "postgres/sqlsplit.h"

#define CHECK_FILE_MAX (1 << 20)

/* The statements of --check-sql, and how many passed. */
struct check_sql {
    const char *file; /* NULL: no check file */
    const struct settings *set;
    struct sql_stmt *stmts;
    size_t n, passed;
};

/* Reads the check file (at most CHECK_FILE_MAX bytes) into a string. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        err_set(ERR_USAGE, "could not open check file \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    struct sbuf text = {0};
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0 && text.len <= CHECK_FILE_MAX)
        sbuf_add(&text, buf, got);
    bool bad = ferror(f) != 0;
    fclose(f);
    sbuf_add(&text, "", 0);
    if (bad || text.len > CHECK_FILE_MAX || memchr(text.data, '\0', text.len)) {
        err_set(ERR_USAGE, "could not read check file \"%s\": %s", path,
                bad ? "read error" : "larger than 1 MiB or not text");
        sbuf_free(&text);
        return NULL;
    }
    return text.data;
}

/* 1. the check file, split into statements, before anything else is done */
static int read_checks(struct check_sql *c)
{
    if (!c->file)
        return 0;
    char *text = read_text(c->file);
    if (!text)
        return -1;
    int rc = sql_split(text, c->file, &c->stmts, &c->n);
    free(text);
    if (rc == 0 && c->n == 0)
        return err_set(ERR_USAGE, "check file \"%s\" holds no statement", c->file);
    return rc;
}

/* Why a statement's result is not "one row whose first column is true"; NULL if it is. */
static char *judge(const struct pg_check_result *r)
{
    if (r->rows == 0)
        return xstrdup("it returned no row");
    if (r->rows > 1)
        return xasprintf("it returned %d rows", r->rows);
    if (!r->first)
        return xstrdup("its first column is NULL");
    if (strcmp(r->first, "t") == 0)
        return NULL;
    if (strcmp(r->first, "f") == 0)
        return xstrdup("its first column is false");
    return xasprintf("its first column is \"%.40s\", not a boolean true", r->first);
}

/* Runs one statement; -1 with "check "FILE" line N failed: …". */
static int run_one(struct check_sql *c, struct pg *pg, const struct sql_stmt *s)
{
    struct pg_check_result r;
    if (pg_run_check(pg, s->text, &r) != 0)
        return err_wrap(ERR_FAILED, "check \"%s\" line %d failed", c->file, s->line);
    char *why = judge(&r);
    free(r.first);
    if (!why)
        return 0;
    err_set(ERR_FAILED, "check \"%s\" line %d failed: %s", c->file, s->line, why);
    err_hint("each statement of the check file must return one row whose first column is true, "
             "such as SELECT count(*) > 0 FROM t");
    free(why);
    return -1;
}

/* 3. on the loaded scratch database: every statement, in order, until one fails */
static int run_checks(void *ctx, const char *db)
{
    struct check_sql *c = ctx;
    struct pg *pg = NULL;
    int rc = -1;
    if (c->n == 0)
        return 0;
    if (pg_connect(&c->set->conn, db, &pg) != 0)
        goto out;
    for (size_t i = 0; i < c->n; i++) {
        /* a signal cancels the statement running (main's handler): say why it failed */
        if (!pgvault_interrupted && run_one(c, pg, &c->stmts[i]) != 0 && !pgvault_interrupted)
            goto out;
        if (pgvault_interrupted) {
            err_clear();
            err_set(ERR_FAILED, "test restore interrupted by a signal");
            goto out;
        }
        c->passed++;
    }
    rc = 0;
out:
    pg_free(pg);
    return rc;
}

/* One test's JSON object, without a line break. */
static void print_json(const struct restore_test *t, const struct check_sql *c, bool ok,
                       double secs)
{
    printf("{\"outcome\":\"%s\",\"restore_id\":%" PRId64 ",\"backup_id\":%" PRId64 ",\"db_name\":",
           ok ? "complete" : "failed", t->restore_id, t->backup_id);
    json_str_or_null(stdout, t->db_name);
    printf(",\"file_name\":");
    json_str_or_null(stdout, t->file_name);
    printf(",\"scratch_db\":");
    json_str_or_null(stdout, t->scratch);
    printf(",\"mode\":\"test\",\"tables_checked\":%" PRId64 ",\"rows_checked\":%" PRId64
           ",\"check_sql\":",
           t->tables_checked, t->rows_checked);
    json_str_or_null(stdout, c->file);
    printf(",\"checks\":%zu,\"checks_passed\":%zu,\"duration_ms\":%.0f,\"error\":", c->n, c->passed,
           secs * 1000);
    json_str_or_null(stdout, ok ? NULL : err_msg());
    putchar('}');
}

static void print_outcome(const struct options *opt, const struct restore_test *t,
                          const struct check_sql *c, bool ok, double secs)
{
    if (opt->json) {
        print_json(t, c, ok, secs);
        return;
    }
    if (!ok || log_quiet())
        return;
    printf("test restore %" PRId64 " complete: backup %" PRId64 " (%s) of \"%s\" restores\n"
           "  %" PRId64 " tables and %" PRId64 " rows checked against the catalog",
           t->restore_id, t->backup_id, t->file_name, t->db_name, t->tables_checked,
           t->rows_checked);
    if (c->file)
        printf(", %zu check%s of \"%s\" passed", c->passed, c->passed == 1 ? "" : "s", c->file);
    printf(", %.1f s\n  scratch database \"%s\" dropped\n", secs, t->scratch);
}

/* 2. the restore path into a scratch database; 3. the checks on it; then the drop;
 * 4. what happened, good or bad */
static int test_one(const struct options *opt, const struct settings *set, struct check_sql *c)
{
    struct restore_test t = {.check = run_checks, .ctx = c};
    double t0 = time_mono();
    c->passed = 0;
    int rc = restore_test_run(opt, set, &t);
    notify_db(t.db_name);
    if (t.restore_id > 0)
        print_outcome(opt, &t, c, rc == 0, time_mono() - t0);
    restore_test_free(&t);
    return rc;
}

/* The databases of the catalog that have a complete backup, but the cluster's globals. */
static int testable_dbs(const struct settings *set, char ***dbs, size_t *n)
{
    struct catalog *cat = NULL;
    char **all = NULL;
    size_t nall = 0;
    *dbs = NULL;
    *n = 0;
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0 ||
        catalog_db_names(cat, &all, &nall) != 0) {
        catalog_close(cat);
        return -1;
    }
    *dbs = xcalloc(nall + 1, sizeof(**dbs));
    for (size_t i = 0; i < nall; i++) {
        struct backup_rec b = {0};
        bool found = false;
        if (strcmp(all[i], NAMING_GLOBALS_DB) != 0 &&
            catalog_newest_backup(cat, all[i], CATALOG_NEWEST_COMPLETE, &b, &found) == 0 && found)
            (*dbs)[(*n)++] = xstrdup(all[i]);
        backup_rec_free(&b);
        free(all[i]);
    }
    free(all);
    catalog_close(cat);
    return 0;
}

/* --all: the latest backup of every database, one after another; the run fails (3 if
 * any failure was one of integrity) when one of them does. */
static int test_all(const struct options *opt, const struct settings *set, struct check_sql *c)
{
    char **dbs;
    size_t n, nfailed = 0;
    bool integrity = false;
    struct sbuf failed = {0};
    if (testable_dbs(set, &dbs, &n) != 0)
        return -1;
    if (opt->json)
        printf("{\"tests\":[");
    for (size_t i = 0; i < n && !pgvault_interrupted; i++) {
        struct options one = *opt;
        one.db = dbs[i];
        one.all = false;
        if (opt->json && i > 0)
            putchar(',');
        if (test_one(&one, set, c) != 0) {
            log_error("test restore of \"%s\" failed: %s", dbs[i], err_msg());
            integrity = integrity || err_class() == ERR_INTEGRITY;
            sbuf_printf(&failed, "%s\"%s\"", nfailed++ ? ", " : "", dbs[i]);
            err_clear();
        }
    }
    if (opt->json)
        printf("],\"outcome\":\"%s\",\"failed\":%zu}\n", nfailed ? "failed" : "complete", nfailed);
    int rc = 0;
    if (pgvault_interrupted)
        rc = err_set(ERR_FAILED, "test-restore --all interrupted by a signal");
    else if (nfailed > 0)
        rc = err_set(integrity ? ERR_INTEGRITY : ERR_FAILED, "%zu of %zu test restores failed: %s",
                     nfailed, n, failed.data);
    else if (n == 0)
        rc = err_set(ERR_FAILED, "no complete backup in the catalog \"%s\" to test", set->catalog);
    else if (!opt->json && !log_quiet())
        printf("all %zu test restores complete\n", n);
    for (size_t i = 0; i < n; i++)
        free(dbs[i]);
    free(dbs);
    sbuf_free(&failed);
    return rc;
}

int cmd_test_restore(const struct options *opt, const struct settings *set)
{
    struct check_sql checks = {.file = opt->check_sql, .set = set};
    int rc;

    /* 1. the check file: a statement it cannot read is found before any work */
    rc = read_checks(&checks);

    /* 2.–4. one backup, or with --all the latest of every database */
    if (rc == 0 && opt->all)
        rc = test_all(opt, set, &checks);
    else if (rc == 0) {
        rc = test_one(opt, set, &checks);
        if (opt->json)
            putchar('\n');
    }
    sql_stmts_free(checks.stmts, checks.n);
    return rc;
}
