/* Unit tests for src/command/report_html.c: the page drawn from hand-made catalog rows,
 * every string of them hostile; the empty states; a long period. */
#include "command/report.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define EVIL "<script>alert(1)</script>\"'&"
#define EVIL_ESCAPED "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"

static struct report_summary sum = {
    .db_name = "db " EVIL,
    .latest_id = 2,
    .latest_at = "2026-11-25T02:00:00.000Z",
    .latest_size = 2048,
    .last_status = "complete",
    .last_at = "2026-11-25T02:00:00.000Z",
    .verified_at = "2026-11-25T03:00:00.000Z",
    .backups = 3,
    .failed = 1,
};

static struct report_backup backups[] = {
    {.id = 1,
     .file_name = "f1",
     .started_at = "2026-11-23T02:00:00.000Z",
     .status = "pruned",
     .pruned_at = "2026-11-24T02:00:00.000Z",
     .prune_rule = "rule " EVIL,
     .size_bytes = 1000,
     .raw_bytes = 3000,
     .duration_ms = 500,
     .table_count = 1,
     .row_count = 10},
    {.id = 2,
     .file_name = "f2",
     .started_at = "2026-11-24T02:00:00.000Z",
     .status = "failed",
     .error = "error " EVIL,
     .label = "label " EVIL,
     .size_bytes = -1,
     .raw_bytes = -1,
     .duration_ms = -1,
     .table_count = -1,
     .row_count = -1},
    {.id = 3,
     .file_name = "f3",
     .started_at = "2026-11-25T02:00:00.000Z",
     .status = "complete",
     .verified_at = "2026-11-25T03:00:00.000Z",
     .tested_at = "2026-11-25T04:00:00.000Z",
     .pinned = true,
     .suspect = true,
     .size_bytes = 2048,
     .raw_bytes = 9000,
     .duration_ms = 700,
     .table_count = 1,
     .row_count = 30},
};

static struct report_copy copies[] = {
    {.backup_id = 3, .remote = "remote " EVIL, .status = "complete"},
};

static struct report_mover movers[] = {
    {.schema_name = "s" EVIL, .table_name = "t" EVIL, .first = 10, .last = 30},
};

static int64_t counts[] = {10, 30};

static char *render(struct report *r)
{
    struct sbuf b = {0};
    report_render(r, &b);
    return b.data;
}

static void base(struct report *r, struct report_db *d, struct report_table *t)
{
    *t = (struct report_table){.mover = &movers[0], .counts = counts, .ncounts = 2};
    *d = (struct report_db){.sum = &sum,
                            .b = backups,
                            .nb = 3,
                            .plan_error = "plan " EVIL,
                            .copies = copies,
                            .ncopies = 1,
                            .movers = movers,
                            .nmovers = 1,
                            .tables = t};
    *r = (struct report){.host = "host " EVIL,
                         .repository = "/repo " EVIL,
                         .generated = "2026-11-25T12:00:00.000Z",
                         .policy = "7 days",
                         .now = 1795608000,
                         .sums = &sum,
                         .dbs = d,
                         .n = 1};
}

static void test_everything_escaped(void)
{
    struct report r;
    struct report_db d;
    struct report_table t;
    base(&r, &d, &t);
    char *page = render(&r);
    CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(page, "<meta name=\"viewport\""));
    CHECK(!strstr(page, "<script"));
    CHECK(!strstr(page, "\"'&"));
    static const char *const escaped[] = {
        "host " EVIL_ESCAPED,
        "/repo " EVIL_ESCAPED,
        "db " EVIL_ESCAPED,
        "error " EVIL_ESCAPED,
        "label</span> label " EVIL_ESCAPED,
        "rule " EVIL_ESCAPED,
        "plan " EVIL_ESCAPED,
        "remote " EVIL_ESCAPED,
        "s" EVIL_ESCAPED ".t" EVIL_ESCAPED,
    };
    for (size_t i = 0; i < sizeof(escaped) / sizeof(escaped[0]); i++)
        if (!strstr(page, escaped[i])) {
            fprintf(stderr, "not found escaped: %s\n", escaped[i]);
            CHECK(false);
        }
    /* the facts of each section */
    CHECK(strstr(page, "<a href=\"#db-1\">db " EVIL_ESCAPED "</a>"));
    CHECK(strstr(page, "<section class=\"db\" id=\"db-1\">"));
    CHECK(strstr(page, "<rect class=\"s-pruned\""));
    CHECK(strstr(page, "<rect class=\"s-failed\""));
    CHECK(strstr(page, "<rect class=\"s-suspect\""));
    CHECK(strstr(page, "<rect class=\"s-verified\""));
    CHECK(strstr(page, "<rect class=\"s-tested\""));
    CHECK(strstr(page, "<rect class=\"s-copied\""));
    CHECK(strstr(page, "removed 2026-11-24 02:00: rule "));
    CHECK(strstr(page, "<span class=\"b s-pinned\">pinned</span>"));
    CHECK(strstr(page, "+20 <span class=\"muted\">(+200%)</span>"));
    CHECK(strstr(page, "<span class=\"bad\">(1 failed)</span>"));
    free(page);
}

static void test_retention_reasons(void)
{
    struct report r;
    struct report_db d;
    struct report_table t;
    base(&r, &d, &t);
    struct retention_decision keep[3] = {
        {RETENTION_SKIP, ""}, {RETENTION_SKIP, ""}, {RETENTION_KEEP, "daily slot 2026-11-25"}};
    d.plan_error = NULL;
    d.keep = keep;
    char *page = render(&r);
    CHECK(strstr(page, "<td class=\"wrap\">daily slot 2026-11-25</td>"));
    free(page);
    keep[2] = (struct retention_decision){RETENTION_REMOVE, "older than 7 days"};
    page = render(&r);
    CHECK(strstr(page, "next prune removes it: older than 7 days"));
    free(page);
}

/* A report of one database, d, with plain header facts. */
static struct report plain(struct report_db *d)
{
    return (struct report){.host = "h",
                           .repository = "/r",
                           .generated = "2026-11-25T12:00:00.000Z",
                           .policy = "p",
                           .sums = &sum,
                           .dbs = d,
                           .n = 1};
}

static void test_empty_states(void)
{
    struct report r = {.host = "h",
                       .repository = "/r",
                       .generated = "2026-11-25T12:00:00.000Z",
                       .policy = "p",
                       .only_db = "x" EVIL};
    char *page = render(&r);
    CHECK(strstr(page, "No backups yet of database “x" EVIL_ESCAPED "”"));
    CHECK(strstr(page, "</html>\n"));
    free(page);

    struct report_db d = {.sum = &sum};
    r = plain(&d);
    r.since = "2026-11-01T00:00:00.000Z";
    page = render(&r);
    CHECK(strstr(page, "No backups in this period."));
    CHECK(strstr(page, "<dt>Period</dt><dd>2026-11-01 00:00 UTC – now</dd>"));
    free(page);
}

static void test_only_failures(void)
{
    struct report_db d = {.sum = &sum, .b = &backups[1], .nb = 1};
    struct report r = plain(&d);
    char *page = render(&r);
    CHECK(strstr(page, "No backup of the period completed: nothing to chart."));
    CHECK(!strstr(page, "<svg class=\"chart\""));
    CHECK(strstr(page, "<rect class=\"s-failed\""));
    free(page);
}

static void test_long_period(void)
{
    enum { N = 75 };
    struct report_backup *b = calloc(N, sizeof(*b));
    char(*at)[32] = calloc(N, sizeof(*at));
    for (int i = 0; i < N; i++) {
        snprintf(at[i], sizeof(at[i]), "2026-%02d-%02dT02:00:00.000Z", 1 + i / 28, 1 + i % 28);
        b[i] = (struct report_backup){.id = i + 1,
                                      .started_at = at[i],
                                      .status = "complete",
                                      .size_bytes = 1000 + i,
                                      .raw_bytes = 5000 + i,
                                      .duration_ms = 100 + i,
                                      .table_count = 1,
                                      .row_count = i};
    }
    struct report_db d = {.sum = &sum, .b = b, .nb = N};
    struct report r = plain(&d);
    char *page = render(&r);
    CHECK(strstr(page, "… and 15 older backups of the period (the charts and the timeline show "
                       "the newest 75;"));
    CHECK(!strstr(page, "older ones are left out"));
    d.omitted = 5;
    free(page);
    page = render(&r);
    CHECK(strstr(page, "… and 20 older backups"));
    CHECK(strstr(page, "the newest 75 backups of the period; 5 older ones are left out"));
    size_t cells = 0;
    for (const char *p = page; (p = strstr(p, "<rect ")); p++)
        cells++;
    CHECK_INT(cells, 3 * N); /* backup, verified, test restore */
    CHECK(strstr(page, "text-anchor=\"middle\">Feb 2026</text>")); /* months */
    free(page);
    free(at);
    free(b);
}

int main(void)
{
    RUN(test_everything_escaped);
    RUN(test_retention_reasons);
    RUN(test_empty_states);
    RUN(test_only_failures);
    RUN(test_long_period);
    return UNIT_DONE();
}
