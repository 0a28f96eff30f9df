/*
 * pgvault report: one self-contained HTML page about the repository's backups, per
 * database: sizes and durations over time, the status of every backup (verified,
 * test-restored, copied, pruned), the tables that moved and the rules that keep each
 * backup. Reads the catalog only; takes no lock.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/report.h"
#include "command/commands.h"
#include "command/report.h"
#include "common/err.h"
#include "common/log.h"
#include "common/output.h"
#include "common/util.h"
#include "policy/audit.h"
#include "policy/retention.h"
#include "command/prune.h"
#include "storage/fsutil.h"

/* The tables the "biggest movers" list shows at most. */
#define MOVERS 8
/* The newest backups of a period that the charts and the timeline draw at most. */
#define DRAWN 1000

/* What the page is made of, and what owns it. */
struct report_data {
    struct report r;
    size_t nsums;
    char since[25], generated[25], host[256];
    char *repository, *policy;
};

/* Orders decisions by backup id, for bsearch. */
struct decided {
    int64_t id;
    const struct retention_decision *dec;
};

static int cmp_decided(const void *x, const void *y)
{
    int64_t a = ((const struct decided *)x)->id, b = ((const struct decided *)y)->id;
    return a < b ? -1 : a > b;
}

/* Gives d's backups the decisions of rows (dec[i] is rows[i]'s). */
static void keep_decisions(struct report_db *d, const struct retention_row *rows,
                           const struct retention_decision *dec, size_t n)
{
    struct decided *by_id = xcalloc(n + 1, sizeof(*by_id));
    for (size_t i = 0; i < n; i++)
        by_id[i] = (struct decided){rows[i].id, &dec[i]};
    qsort(by_id, n, sizeof(*by_id), cmp_decided);
    d->keep = xcalloc(d->nb + 1, sizeof(*d->keep));
    for (size_t i = 0; i < d->nb; i++) {
        struct decided key = {.id = d->b[i].id};
        const struct decided *f = bsearch(&key, by_id, n, sizeof(*by_id), cmp_decided);
        if (f)
            d->keep[i] = *f->dec;
    }
    free(by_id);
}

/* What prune would do now with each of d's backups: its plan over all the database's
 * backups, with the configured policy. A plan that is refused (clock skew) is kept as
 * its reason. */
static int plan_retention(struct catalog *cat, const struct settings *set, time_t now,
                          struct report_db *d)
{
    struct retention_row *rows = NULL;
    size_t n = 0;
    if (catalog_retention_rows(cat, d->sum->db_name, &rows, &n) != 0)
        return -1;
    struct retention_policy pol;
    retention_policy_from(set, &pol);
    struct retention_decision *dec = xcalloc(n + 1, sizeof(*dec));
    if (retention_plan_rows(rows, n, &pol, now, dec) == 0) {
        keep_decisions(d, rows, dec, n);
    } else {
        d->plan_error = xstrdup(err_msg());
        err_clear();
    }
    free(dec);
    retention_rows_free(rows, n);
    return 0;
}

/* The movers of d and each one's counts over the period. */
static int read_movers(struct catalog *cat, const char *since, struct report_db *d)
{
    const char *db = d->sum->db_name;
    if (catalog_report_movers(cat, db, since, MOVERS, &d->movers, &d->nmovers) != 0)
        return -1;
    d->tables = xcalloc(d->nmovers + 1, sizeof(*d->tables));
    for (size_t i = 0; i < d->nmovers; i++) {
        struct report_table *t = &d->tables[i];
        t->mover = &d->movers[i];
        if (catalog_report_table_counts(cat, db, since, t->mover->schema_name, t->mover->table_name,
                                        &t->counts, &t->ncounts) != 0)
            return -1;
    }
    return 0;
}

static int read_database(struct catalog *cat, const struct settings *set, struct report_data *rd,
                         size_t k)
{
    struct report_db *d = &rd->r.dbs[k];
    const char *since = rd->r.since, *db = rd->r.sums[k].db_name;
    d->sum = &rd->r.sums[k];
    if (catalog_report_backups(cat, db, since, DRAWN, &d->b, &d->nb) != 0)
        return -1;
    /* the copies of the backups drawn; the movers over the whole period */
    const char *drawn = d->nb > 0 ? d->b[0].started_at : since;
    d->omitted = d->sum->backups > (int64_t)d->nb ? (size_t)(d->sum->backups - (int64_t)d->nb) : 0;
    if (catalog_report_copies(cat, db, drawn, &d->copies, &d->ncopies) != 0 ||
        read_movers(cat, since, d) != 0)
        return -1;
    return plan_retention(cat, set, rd->r.now, d);
}

static void report_data_free(struct report_data *rd)
{
    for (size_t k = 0; rd->r.dbs && k < rd->nsums; k++) {
        struct report_db *d = &rd->r.dbs[k];
        report_backups_free(d->b, d->nb);
        free(d->keep);
        free(d->plan_error);
        report_copies_free(d->copies, d->ncopies);
        for (size_t i = 0; d->tables && i < d->nmovers; i++)
            free(d->tables[i].counts);
        free(d->tables);
        report_movers_free(d->movers, d->nmovers);
    }
    free(rd->r.dbs);
    report_summaries_free(rd->r.sums, rd->nsums);
    free(rd->repository);
    free(rd->policy);
}

/* The retention policy in words, for the header. */
static char *policy_words(const struct settings *set)
{
    struct retention_policy p;
    retention_policy_from(set, &p);
    struct sbuf b = {0};
    if (p.days)
        sbuf_printf(&b, "%ld days, ", p.days);
    else
        sbuf_puts(&b, "no age limit, ");
    if (p.count)
        sbuf_printf(&b, "newest %ld, ", p.count);
    else
        sbuf_puts(&b, "no count limit, ");
    sbuf_printf(&b, "min-keep %ld", p.min_keep);
    if (p.keep_daily)
        sbuf_printf(&b, ", daily %ld", p.keep_daily);
    if (p.keep_weekly)
        sbuf_printf(&b, ", weekly %ld", p.keep_weekly);
    if (p.keep_monthly)
        sbuf_printf(&b, ", monthly %ld", p.keep_monthly);
    return b.data;
}

/* The header's facts: period, time, host, repository, policy. */
static int describe(const struct options *opt, const struct settings *set, struct report_data *rd)
{
    rd->r.now = time(NULL);
    if (opt->since) {
        time_t t;
        if (audit_parse_when(opt->since, rd->r.now, &t) != 0) {
            err_set(ERR_USAGE, "invalid value \"%s\" for --since", opt->since);
            err_hint("give a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or an age "
                     "(90m, 24h, 7d, 2w)");
            return -1;
        }
        struct timespec ts = {.tv_sec = t};
        rd->r.since = time_iso_ms(&ts, rd->since);
    }
    struct timespec now = {.tv_sec = rd->r.now};
    rd->r.generated = time_iso_ms(&now, rd->generated);
    if (gethostname(rd->host, sizeof(rd->host) - 1) != 0)
        snprintf(rd->host, sizeof(rd->host), "unknown");
    rd->r.host = rd->host;
    char *real = realpath(set->dir, NULL);
    rd->repository = real ? real : xstrdup(set->dir);
    rd->r.repository = rd->repository;
    rd->r.only_db = opt->db;
    rd->policy = policy_words(set);
    rd->r.policy = rd->policy;
    return 0;
}

/* Reads everything the page shows; a repository without a catalog shows nothing. */
static int gather(const struct options *opt, const struct settings *set, struct report_data *rd)
{
    struct catalog *cat = NULL;
    struct stat st;
    int rc = -1;
    if (stat(set->catalog, &st) != 0 && errno == ENOENT)
        return 0;
    if (catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        return -1;
    if (catalog_report_summaries(cat, opt->db, rd->r.since, &rd->r.sums, &rd->nsums) != 0)
        goto out;
    rd->r.dbs = xcalloc(rd->nsums + 1, sizeof(*rd->r.dbs));
    for (size_t k = 0; k < rd->nsums; k++)
        if (read_database(cat, set, rd, k) != 0)
            goto out;
    rd->r.n = rd->nsums;
    rc = 0;
out:
    catalog_close(cat);
    return rc;
}

static int write_page(FILE *f, void *ctx)
{
    const struct sbuf *page = ctx;
    if (fwrite(page->data, 1, page->len, f) != page->len)
        return err_sys(errno, "could not write the report");
    return 0;
}

/* 0644, without the read bits the directory denies anyway: a report beside private files
 * stays as private as they are. */
static mode_t page_mode(const char *path)
{
    char *dir = path_dir(path);
    struct stat st;
    mode_t mode = 0644;
    if (stat(dir, &st) == 0) {
        if (!(st.st_mode & S_IXGRP))
            mode &= ~(mode_t)S_IRGRP;
        if (!(st.st_mode & S_IXOTH))
            mode &= ~(mode_t)S_IROTH;
    }
    free(dir);
    return mode;
}

static int publish(const char *path, const struct sbuf *page)
{
    if (strcmp(path, "-") != 0)
        return fsutil_replace_file(path, page_mode(path), "report file", write_page, (void *)page);
    if (fwrite(page->data, 1, page->len, stdout) != page->len || fflush(stdout) != 0)
        return err_sys(errno, "could not write the report to standard output");
    return 0;
}

int cmd_report(const struct options *opt, const struct settings *set)
{
    struct report_data rd = {0};
    struct sbuf page = {0};
    const char *path = opt->output ? opt->output : "-";
    int rc = -1;

    /* 1. the period, the header's facts; the repository must exist */
    if (opt->json && strcmp(path, "-") == 0) {
        err_set(ERR_USAGE, "option --json needs -o FILE: standard output cannot hold the page "
                           "and the JSON document");
        return -1;
    }
    if (describe(opt, set, &rd) != 0 || fsutil_require_repo(set->dir) != 0)
        goto out;

    /* 2. read the catalog (no lock: readers never wait for a backup) */
    if (gather(opt, set, &rd) != 0)
        goto out;

    /* 3. draw the page, then put it in place at once */
    report_render(&rd.r, &page);
    if (publish(path, &page) != 0)
        goto out;
    if (opt->json) {
        printf("{\"file\":");
        json_str(stdout, path);
        printf(",\"databases\":%zu,\"size_bytes\":%zu}\n", rd.r.n, page.len);
    } else if (strcmp(path, "-") != 0) {
        log_info("report of %zu database%s written to \"%s\"", rd.r.n, rd.r.n == 1 ? "" : "s",
                 path);
    }
    rc = 0;
out:
    sbuf_free(&page);
    report_data_free(&rd);
    return rc;
}
