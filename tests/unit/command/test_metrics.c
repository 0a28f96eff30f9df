#include "command/metrics.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "unit.h"
#include "common/util.h"

static char tmpdir[PATH_MAX];

static char *render(const struct catalog_db_summary *dbs, size_t n, const struct metrics_run *run,
                    int code)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    metrics_render(f, dbs, n, run, code, 1764084612.5);
    fclose(f);
    return text;
}

static void test_render(void)
{
    struct catalog_db_summary dbs[2] = {
        {
            .db_name = "shop",
            .has_complete = true,
            .last_complete = {.size_bytes = 12345,
                              .raw_bytes = 99999,
                              .table_count = 14,
                              .row_count = 1204113,
                              .duration_ms = 1900,
                              .started_at = "2026-11-25T15:30:10.000Z",
                              .finished_at = "2026-11-25T15:30:12.345Z",
                              .suspect = true},
            .last_status = "complete",
            .complete_count = 3,
            .complete_bytes = 30000,
        },
        {
            .db_name = "a\"b\\c\nd",
            .last_status = "failed",
        },
    };
    struct metrics_run run = {0};
    metrics_run_note(&run, "ghost", 1);
    metrics_run_note(&run, "ghost", 5); /* the later code for a database wins */
    char *text = render(dbs, 2, &run, 5);
    const char *expected =
        "# HELP pgvault_last_success_timestamp_seconds Unix time at which the newest complete "
        "backup of the database finished.\n"
        "# TYPE pgvault_last_success_timestamp_seconds gauge\n"
        "pgvault_last_success_timestamp_seconds{db=\"shop\"} 1795620612.345\n"
        "# HELP pgvault_last_backup_size_bytes Size of the newest complete backup's file.\n"
        "# TYPE pgvault_last_backup_size_bytes gauge\n"
        "pgvault_last_backup_size_bytes{db=\"shop\"} 12345\n"
        "# HELP pgvault_last_backup_raw_bytes Uncompressed size of the newest complete backup "
        "(pg_dump's output).\n"
        "# TYPE pgvault_last_backup_raw_bytes gauge\n"
        "pgvault_last_backup_raw_bytes{db=\"shop\"} 99999\n"
        "# HELP pgvault_last_backup_duration_seconds How long the newest complete backup took.\n"
        "# TYPE pgvault_last_backup_duration_seconds gauge\n"
        "pgvault_last_backup_duration_seconds{db=\"shop\"} 1.900\n"
        "# HELP pgvault_last_backup_tables Tables in the newest complete backup.\n"
        "# TYPE pgvault_last_backup_tables gauge\n"
        "pgvault_last_backup_tables{db=\"shop\"} 14\n"
        "# HELP pgvault_last_backup_rows Rows in the newest complete backup.\n"
        "# TYPE pgvault_last_backup_rows gauge\n"
        "pgvault_last_backup_rows{db=\"shop\"} 1204113\n"
        "# HELP pgvault_last_backup_suspect 1 if the newest complete backup is under half the "
        "usual size (suspect), else 0.\n"
        "# TYPE pgvault_last_backup_suspect gauge\n"
        "pgvault_last_backup_suspect{db=\"shop\"} 1\n"
        "# HELP pgvault_last_exit_code Exit code of the last backup of the database (0 success, "
        "see pgvault(1)).\n"
        "# TYPE pgvault_last_exit_code gauge\n"
        "pgvault_last_exit_code{db=\"a\\\"b\\\\c\\nd\"} 1\n"
        "pgvault_last_exit_code{db=\"ghost\"} 5\n"
        "pgvault_last_exit_code{db=\"shop\"} 0\n"
        "# HELP pgvault_complete_backups Complete backups of the database in the repository.\n"
        "# TYPE pgvault_complete_backups gauge\n"
        "pgvault_complete_backups{db=\"a\\\"b\\\\c\\nd\"} 0\n"
        "pgvault_complete_backups{db=\"shop\"} 3\n"
        "# HELP pgvault_complete_backups_size_bytes Total size of the database's complete "
        "backups in the repository.\n"
        "# TYPE pgvault_complete_backups_size_bytes gauge\n"
        "pgvault_complete_backups_size_bytes{db=\"a\\\"b\\\\c\\nd\"} 0\n"
        "pgvault_complete_backups_size_bytes{db=\"shop\"} 30000\n"
        "# HELP pgvault_repository_size_bytes Total size of the complete backups of every "
        "database in the repository.\n"
        "# TYPE pgvault_repository_size_bytes gauge\n"
        "pgvault_repository_size_bytes 30000\n"
        "# HELP pgvault_last_run_timestamp_seconds Unix time at which the last pgvault backup "
        "run ended.\n"
        "# TYPE pgvault_last_run_timestamp_seconds gauge\n"
        "pgvault_last_run_timestamp_seconds 1764084612.500\n"
        "# HELP pgvault_last_run_exit_code Exit code of the last pgvault backup run.\n"
        "# TYPE pgvault_last_run_exit_code gauge\n"
        "pgvault_last_run_exit_code 5\n";
    CHECK_STR(text, expected);
    free(text);

    /* this run's code for a database of the catalog replaces the catalog's */
    metrics_run_note(&run, "shop", 1);
    text = render(dbs, 2, &run, 1);
    CHECK(strstr(text, "pgvault_last_exit_code{db=\"shop\"} 1\n") != NULL);
    free(text);
    metrics_run_free(&run);
    CHECK_INT(run.n, 0);
}

static void test_render_label_bytes(void)
{
    /* invalid UTF-8 becomes U+FFFD (Prometheus refuses it); valid UTF-8 stays */
    struct catalog_db_summary db = {.db_name = "caf\xc3\xa9\xff\xc0\xaf-\xe2\x82",
                                    .last_status = "complete"};
    struct metrics_run run = {0};
    char *text = render(&db, 1, &run, 0);
    CHECK(strstr(text,
                 "pgvault_last_exit_code{db=\"caf\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-"
                 "\xef\xbf\xbd\xef\xbf\xbd\"} 0\n") != NULL);
    /* an empty catalog still has the repository and run lines */
    free(text);
    text = render(NULL, 0, &run, 4);
    CHECK(strstr(text, "pgvault_repository_size_bytes 0\n") != NULL);
    CHECK(strstr(text, "pgvault_last_run_exit_code 4\n") != NULL);
    CHECK(strstr(text, "{db=") == NULL);
    free(text);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_write(void)
{
    char *cat_path = xasprintf("%s/catalog.db", tmpdir);
    char *mdir = xasprintf("%s/textfile", tmpdir);
    char *path = xasprintf("%s/pgvault.prom", mdir);
    struct catalog *c = NULL;
    err_clear();
    CHECK_INT(catalog_open(cat_path, CATALOG_CREATE, &c), 0);
    CHECK_INT(mkdir(mdir, 0700), 0);

    /* two complete backups of shop, then a failed one; one complete backup of crm */
    const char *times[] = {"2026-11-23T01:00:00.000Z", "2026-11-24T01:00:00.000Z",
                           "2026-11-25T01:00:00.000Z", "2026-11-25T02:00:00.000Z"};
    const char *dbs[] = {"shop", "shop", "shop", "crm"};
    for (int i = 0; i < 4; i++) {
        char file[64];
        snprintf(file, sizeof(file), "%s_%d.sql.gz", dbs[i], i);
        struct backup_rec b = {.db_name = (char *)dbs[i],
                               .file_name = file,
                               .compression = "gzip",
                               .format = "plain",
                               .started_at = (char *)times[i],
                               .host = "h"};
        CHECK_INT(catalog_backup_begin(c, &b), 0);
        if (i == 2) {
            CHECK_INT(catalog_backup_fail(c, b.id, times[i], "pg_dump failed"), 0);
            continue;
        }
        b.status = "complete";
        b.finished_at = (char *)times[i];
        b.size_bytes = 1000 * (i + 1);
        b.raw_bytes = 5000 * (i + 1);
        b.duration_ms = 2500;
        b.table_count = 2;
        b.row_count = 10 * (i + 1);
        CHECK_INT(catalog_backup_finish(c, &b, NULL, 0, NULL, 0), 0);
    }

    struct metrics_run run = {0};
    metrics_run_note(&run, "crm", 0);
    CHECK_INT(metrics_write(c, path, &run, 0), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        text = xmalloc(65536);
        len = fread(text, 1, 65535, f);
        text[len] = '\0';
        fclose(f);
    }
    CHECK(text && strstr(text, "pgvault_last_backup_size_bytes{db=\"shop\"} 2000\n"));
    CHECK(text && strstr(text, "pgvault_last_backup_size_bytes{db=\"crm\"} 4000\n"));
    CHECK(text && strstr(text, "pgvault_last_success_timestamp_seconds{db=\"shop\"} "
                               "1795482000.000\n"));
    CHECK(text && strstr(text, "pgvault_last_exit_code{db=\"shop\"} 1\n"));
    CHECK(text && strstr(text, "pgvault_last_exit_code{db=\"crm\"} 0\n"));
    CHECK(text && strstr(text, "pgvault_complete_backups{db=\"shop\"} 2\n"));
    CHECK(text && strstr(text, "pgvault_repository_size_bytes 7000\n"));
    CHECK(text && strstr(text, "pgvault_last_backup_duration_seconds{db=\"crm\"} 2.500\n"));
    free(text);

    /* readable by node_exporter, and nothing else left in the directory */
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0644);
    CHECK_INT(count_entries(mdir), 1);

    /* rewritten in place */
    CHECK_INT(metrics_write(c, path, &run, 3), 0);
    CHECK_INT(count_entries(mdir), 1);

    /* a directory that does not exist: an error naming the file */
    err_clear();
    char *bad = xasprintf("%s/missing/pgvault.prom", tmpdir);
    CHECK_INT(metrics_write(c, bad, &run, 0), -1);
    CHECK(strstr(err_msg(), "could not create a temporary file beside metrics file") != NULL);
    err_clear();

    /* a FIFO or a symlink at the path is not replaced */
    char *fifo = xasprintf("%s/metrics.fifo", mdir), *link = xasprintf("%s/metrics.link", mdir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(symlink(path, link), 0);
    char *targets[] = {fifo, link};
    for (int i = 0; i < 2; i++) {
        err_clear();
        CHECK_INT(metrics_write(c, targets[i], &run, 0), -1);
        CHECK(strstr(err_msg(), "is not a regular file; refusing to replace it") != NULL);
        err_clear();
        CHECK_INT(lstat(targets[i], &st), 0);
        CHECK(i == 0 ? S_ISFIFO(st.st_mode) : S_ISLNK(st.st_mode));
        unlink(targets[i]);
        free(targets[i]);
    }
    CHECK_INT(count_entries(mdir), 1);

    free(bad);
    metrics_run_free(&run);
    catalog_close(c);
    unlink(path);
    rmdir(mdir);
    char *side[] = {cat_path, xasprintf("%s-wal", cat_path), xasprintf("%s-shm", cat_path)};
    for (int i = 0; i < 3; i++) {
        unlink(side[i]);
        free(side[i]);
    }
    free(path);
    free(mdir);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_metrics.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 1;
    }
    RUN(test_render);
    RUN(test_render_label_bytes);
    RUN(test_write);
    rmdir(tmpdir);
    return UNIT_DONE();
}
