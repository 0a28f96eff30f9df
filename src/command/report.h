#ifndef PGVAULT_COMMAND_REPORT_H
#define PGVAULT_COMMAND_REPORT_H

/* The HTML report: what cmd_report reads from the catalog, and the page drawn from it. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog/report.h"
#include "common/util.h"
#include "policy/retention.h"

/* A table among the biggest movers, with its count in each backup of the period. */
struct report_table {
    const struct report_mover *mover;
    int64_t *counts; /* -1 where the table is absent */
    size_t ncounts;
};

/* One database's section. */
struct report_db {
    const struct report_summary *sum;
    struct report_backup *b; /* the period's backups, oldest first */
    size_t nb;
    size_t omitted;                  /* older backups of the period not drawn */
    struct retention_decision *keep; /* per backup: what retention does with it */
    char *plan_error;                /* why there is no plan (clock skew), else NULL */
    struct report_copy *copies;
    size_t ncopies;
    struct report_mover *movers;
    size_t nmovers;
    struct report_table *tables; /* per mover */
};

struct report {
    const char *host;       /* where the report was made */
    const char *repository; /* the backup directory */
    const char *generated;  /* ISO-8601 UTC */
    const char *since;      /* ISO-8601 UTC, NULL for the whole history */
    const char *only_db;    /* --db, NULL for all */
    const char *policy;     /* the retention policy in words */
    time_t now;
    struct report_summary *sums;
    struct report_db *dbs; /* per summary */
    size_t n;
};

/* Draws the whole page into out: one self-contained HTML document (inline CSS and SVG,
 * no script, nothing fetched), every catalog string escaped. */
void report_render(const struct report *r, struct sbuf *out);

#endif
