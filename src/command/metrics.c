#include "command/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/fsutil.h"
#include "common/util.h"

void metrics_run_note(struct metrics_run *run, const char *db, int exit_code)
{
    for (size_t i = 0; i < run->n; i++)
        if (strcmp(run->dbs[i].db, db) == 0) {
            run->dbs[i].exit_code = exit_code;
            return;
        }
    run->dbs = xrealloc(run->dbs, (run->n + 1) * sizeof(*run->dbs));
    run->dbs[run->n].db = xstrdup(db);
    run->dbs[run->n].exit_code = exit_code;
    run->n++;
}

void metrics_run_free(struct metrics_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        free(run->dbs[i].db);
    free(run->dbs);
    run->dbs = NULL;
    run->n = 0;
}

/* One database in the file: its catalog summary (NULL if it has no row) and this run's
 * exit code for it (-1 if the run did not touch it). */
struct row {
    const char *db;
    const struct catalog_db_summary *sum;
    int run_code;
};

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->db, ((const struct row *)b)->db);
}

/* Length of the valid UTF-8 sequence at s, or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || (n == 3 && s[0] > 0xef))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* no overlong forms, surrogates or code points beyond U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* A label value in quotes: backslash, quote and line feed escaped as the format wants;
 * a byte that is not UTF-8 (which Prometheus refuses) becomes U+FFFD. */
static void label_value(FILE *out, const char *s)
{
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\xef\xbf\xbd", out);
            p++;
        } else if (*p == '\\' || *p == '"') {
            putc('\\', out);
            putc(*p++, out);
        } else if (*p == '\n') {
            fputs("\\n", out);
            p++;
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
    putc('"', out);
}

/* Unix seconds (with milliseconds) of an ISO-8601 UTC catalog time; -1 if unreadable. */
static double unix_time(const char *iso)
{
    time_t t;
    if (!iso || time_parse_iso(iso, &t) != 0)
        return -1;
    double secs = (double)t;
    if (strlen(iso) >= 23 && iso[19] == '.')
        secs += (double)((iso[20] - '0') * 100 + (iso[21] - '0') * 10 + (iso[22] - '0')) / 1000.0;
    return secs;
}

enum field {
    F_LAST_SUCCESS,
    F_SIZE,
    F_RAW,
    F_DURATION,
    F_TABLES,
    F_ROWS,
    F_SUSPECT,
    F_EXIT_CODE,
    F_COUNT,
    F_BYTES,
};

static const struct family {
    enum field field;
    const char *name;
    const char *help;
} families[] = {
    {F_LAST_SUCCESS, "pgvault_last_success_timestamp_seconds",
     "Unix time at which the newest complete backup of the database finished."},
    {F_SIZE, "pgvault_last_backup_size_bytes", "Size of the newest complete backup's file."},
    {F_RAW, "pgvault_last_backup_raw_bytes",
     "Uncompressed size of the newest complete backup (pg_dump's output)."},
    {F_DURATION, "pgvault_last_backup_duration_seconds",
     "How long the newest complete backup took."},
    {F_TABLES, "pgvault_last_backup_tables", "Tables in the newest complete backup."},
    {F_ROWS, "pgvault_last_backup_rows", "Rows in the newest complete backup."},
    {F_SUSPECT, "pgvault_last_backup_suspect",
     "1 if the newest complete backup is under half the usual size (suspect), else 0."},
    {F_EXIT_CODE, "pgvault_last_exit_code",
     "Exit code of the last backup of the database (0 success, see pgvault(1))."},
    {F_COUNT, "pgvault_complete_backups", "Complete backups of the database in the repository."},
    {F_BYTES, "pgvault_complete_backups_size_bytes",
     "Total size of the database's complete backups in the repository."},
};

/* The value of field for row r into buf; false if it has none. */
static bool value(const struct row *r, enum field f, char buf[static 32])
{
    const struct catalog_db_summary *s = r->sum;
    const struct backup_rec *b = s && s->has_complete ? &s->last_complete : NULL;
    switch (f) {
    case F_EXIT_CODE:
        /* this run's code; otherwise what the catalog says of the last run that ended */
        if (r->run_code >= 0)
            return snprintf(buf, 32, "%d", r->run_code) > 0;
        if (!s || !s->last_status)
            return false;
        return snprintf(buf, 32, "%d", strcmp(s->last_status, "failed") == 0 ? 1 : 0) > 0;
    case F_COUNT:
        return s && snprintf(buf, 32, "%" PRId64, s->complete_count) > 0;
    case F_BYTES:
        return s && snprintf(buf, 32, "%" PRId64, s->complete_bytes) > 0;
    default:
        break;
    }
    if (!b)
        return false;
    switch (f) {
    case F_LAST_SUCCESS: {
        double t = unix_time(b->finished_at ? b->finished_at : b->started_at);
        return t >= 0 && snprintf(buf, 32, "%.3f", t) > 0;
    }
    case F_SIZE:
        return snprintf(buf, 32, "%" PRId64, b->size_bytes) > 0;
    case F_RAW:
        return snprintf(buf, 32, "%" PRId64, b->raw_bytes) > 0;
    case F_DURATION:
        return b->duration_ms > 0 && snprintf(buf, 32, "%.3f", (double)b->duration_ms / 1000) > 0;
    case F_TABLES:
        return snprintf(buf, 32, "%" PRId64, b->table_count) > 0;
    case F_ROWS:
        return snprintf(buf, 32, "%" PRId64, b->row_count) > 0;
    case F_SUSPECT:
        return snprintf(buf, 32, "%d", b->suspect ? 1 : 0) > 0;
    default:
        return false;
    }
}

static void gauge(FILE *out, const char *name, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void metrics_render(FILE *out, const struct catalog_db_summary *dbs, size_t n,
                    const struct metrics_run *run, int run_exit_code, double now)
{
    /* the databases: those of the catalog, and those this run touched without a row */
    size_t nrows = 0;
    struct row *rows = xcalloc(n + run->n + 1, sizeof(*rows));
    int64_t repo_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        rows[nrows++] = (struct row){.db = dbs[i].db_name, .sum = &dbs[i], .run_code = -1};
        repo_bytes += dbs[i].complete_bytes;
    }
    for (size_t k = 0; k < run->n; k++) {
        size_t i = 0;
        while (i < nrows && strcmp(rows[i].db, run->dbs[k].db) != 0)
            i++;
        if (i == nrows)
            rows[nrows++] = (struct row){.db = run->dbs[k].db, .run_code = -1};
        rows[i].run_code = run->dbs[k].exit_code;
    }
    qsort(rows, nrows, sizeof(*rows), cmp_row);

    /* each family with the databases that have a value for it */
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        bool header = false;
        char v[32];
        for (size_t i = 0; i < nrows; i++) {
            if (!value(&rows[i], families[f].field, v))
                continue;
            if (!header) {
                gauge(out, families[f].name, families[f].help);
                header = true;
            }
            fprintf(out, "%s{db=", families[f].name);
            label_value(out, rows[i].db);
            fprintf(out, "} %s\n", v);
        }
    }

    /* the repository and the run */
    gauge(out, "pgvault_repository_size_bytes",
          "Total size of the complete backups of every database in the repository.");
    fprintf(out, "pgvault_repository_size_bytes %" PRId64 "\n", repo_bytes);
    gauge(out, "pgvault_last_run_timestamp_seconds",
          "Unix time at which the last pgvault backup run ended.");
    fprintf(out, "pgvault_last_run_timestamp_seconds %.3f\n", now);
    gauge(out, "pgvault_last_run_exit_code", "Exit code of the last pgvault backup run.");
    fprintf(out, "pgvault_last_run_exit_code %d\n", run_exit_code);
    free(rows);
}

/* One remote's copies, summed. */
struct remote_sum {
    const char *remote;
    double last_success; /* newest copied_at of a complete copy, 0 when none */
    int64_t bytes, complete, failed;
};

static struct remote_sum *sum_copies(const struct copy_rec *c, size_t n, size_t *nsums)
{
    struct remote_sum *s = xcalloc(n + 1, sizeof(*s));
    *nsums = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < *nsums && strcmp(s[k].remote, c[i].remote) != 0)
            k++;
        if (k == *nsums)
            s[(*nsums)++].remote = c[i].remote;
        if (strcmp(c[i].status, "complete") == 0) {
            double t = unix_time(c[i].copied_at);
            s[k].last_success = t > s[k].last_success ? t : s[k].last_success;
            s[k].bytes += c[i].size_bytes > 0 ? c[i].size_bytes : 0;
            s[k].complete++;
        } else if (strcmp(c[i].status, "failed") == 0 || strcmp(c[i].status, "missing") == 0) {
            s[k].failed++;
        }
    }
    return s;
}

void metrics_render_copies(FILE *out, const struct copy_rec *c, size_t n)
{
    size_t ns;
    struct remote_sum *s = sum_copies(c, n, &ns);
    static const char *const names[][2] = {
        {"pgvault_copy_last_success_timestamp_seconds",
         "Unix time of the newest complete copy on the remote."},
        {"pgvault_copy_bytes", "Total size of the complete copies on the remote."},
        {"pgvault_copy_count", "Complete copies on the remote."},
        {"pgvault_copy_failed", "Copies on the remote that failed or went missing."},
    };
    for (size_t m = 0; m < 4 && ns > 0; m++) {
        gauge(out, names[m][0], names[m][1]);
        for (size_t k = 0; k < ns; k++) {
            fprintf(out, "%s{remote=", names[m][0]);
            label_value(out, s[k].remote);
            if (m == 0)
                fprintf(out, "} %.3f\n", s[k].last_success);
            else
                fprintf(out, "} %" PRId64 "\n",
                        m == 1   ? s[k].bytes
                        : m == 2 ? s[k].complete
                                 : s[k].failed);
        }
    }
    free(s);
}

/* What fsutil_replace_file writes. */
struct metrics_ctx {
    const struct catalog_db_summary *dbs;
    size_t n;
    const struct metrics_run *run;
    int run_exit_code;
    const struct copy_rec *copies;
    size_t ncopies;
};

static int write_metrics(FILE *f, void *arg)
{
    const struct metrics_ctx *m = arg;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    metrics_render(f, m->dbs, m->n, m->run, m->run_exit_code,
                   (double)now.tv_sec + (double)now.tv_nsec / 1e9);
    metrics_render_copies(f, m->copies, m->ncopies);
    return 0;
}

int metrics_write(struct catalog *cat, const char *path, const struct metrics_run *run,
                  int run_exit_code)
{
    struct catalog_db_summary *dbs = NULL;
    struct copy_rec *copies = NULL;
    size_t n = 0, ncopies = 0;
    if (catalog_db_summaries(cat, &dbs, &n) != 0)
        return -1;
    if (catalog_copies(cat, NULL, NULL, &copies, &ncopies) != 0) {
        catalog_db_summaries_free(dbs, n);
        return -1;
    }
    struct metrics_ctx m = {dbs, n, run, run_exit_code, copies, ncopies};
    /* mode 0644, so that node_exporter can read it */
    int rc = fsutil_replace_file(path, 0644, "metrics file", write_metrics, &m);
    catalog_db_summaries_free(dbs, n);
    copy_recs_free(copies, ncopies);
    return rc;
}
