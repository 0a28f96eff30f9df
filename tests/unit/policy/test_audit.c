/* Unit tests for src/policy/audit.c: --since parsing, the table diff, check's verdicts, and the
 * header of a dump. */
#include "policy/audit.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "common/util.h"

/* 2026-11-25T12:00:00Z */
#define NOW ((time_t)1795608000)

static time_t when(const char *s)
{
    time_t t = -1;
    if (audit_parse_when(s, NOW, &t) != 0)
        return -1;
    return t;
}

static void test_when_dates(void)
{
    char buf[21];
    CHECK_STR(time_iso(NOW, buf), "2026-11-25T12:00:00Z");
    CHECK_INT(when("2026-11-01"), 1793491200);
    CHECK_INT(when("2026-11-01T12:00:00Z"), 1793491200 + 43200);
    CHECK_INT(when("2026-11-01T12:00:00"), 1793491200 + 43200);
    CHECK_INT(when("2026-11-01 12:00"), 1793491200 + 43200);
    CHECK_INT(when("2026-11-01T12:00:00.250Z"), 1793491200 + 43200);
    CHECK_INT(when("2026-11-01T14:00:00+02:00"), 1793491200 + 43200);
    CHECK_INT(when("2026-11-01T07:30:00-04:30"), 1793491200 + 43200);
    CHECK_INT(when("2024-02-29"), 1709164800);
}

static void test_when_ages(void)
{
    CHECK_INT(when("24h"), NOW - 86400);
    CHECK_INT(when("7d"), NOW - 7 * 86400);
    CHECK_INT(when("90m"), NOW - 5400);
    CHECK_INT(when("30s"), NOW - 30);
    CHECK_INT(when("2w"), NOW - 14 * 86400);
}

static void test_when_bad(void)
{
    const char *bad[] = {"",
                         "yesterday",
                         "24",
                         "h",
                         "0h",
                         "-5d",
                         "5 d",
                         "5dd",
                         "2026-11",
                         "2026-13-01",
                         "2026-02-30",
                         "2026-11-31",
                         "2026-11-01T25:00",
                         "2026-11-01T12",
                         "2026-11-01T12:00:00X",
                         "2026-11-01T12:00:00.Z",
                         "26-11-01",
                         "2026-11-01T12:00+2",
                         "99999999999d",
                         "2026-11-01 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t;
        if (audit_parse_when(bad[i], NOW, &t) == 0) {
            fprintf(stderr, "accepted bad WHEN \"%s\"\n", bad[i]);
            unit_failed_checks++;
        }
    }
}

static struct table_rec tr(const char *schema, const char *name, int64_t rows)
{
    return (struct table_rec){(char *)schema, (char *)name, 'r', rows};
}

static void test_table_diff(void)
{
    struct table_rec a[] = {tr("public", "a", 1), tr("public", "gone", 5),
                            tr("public", "orders", 100), tr("s", "z", 7)};
    struct table_rec b[] = {tr("public", "a", 1), tr("public", "new", 3),
                            tr("public", "orders", 90), tr("s", "z", 8), tr("t", "x", 0)};
    struct table_change ch[9];
    size_t n = audit_table_diff(a, 4, b, 5, ch);
    CHECK_INT(n, 6);
    CHECK_INT(ch[0].kind, TABLE_SAME);
    CHECK_INT(ch[1].kind, TABLE_DROPPED);
    CHECK_STR(ch[1].before->table_name, "gone");
    CHECK(ch[1].after == NULL);
    CHECK_INT(ch[2].kind, TABLE_ADDED);
    CHECK_STR(ch[2].after->table_name, "new");
    CHECK(ch[2].before == NULL);
    CHECK_INT(ch[3].kind, TABLE_CHANGED);
    CHECK_INT(ch[3].after->row_count - ch[3].before->row_count, -10);
    CHECK_INT(ch[4].kind, TABLE_CHANGED);
    CHECK_INT(ch[5].kind, TABLE_ADDED);
    CHECK_STR(ch[5].after->schema_name, "t");

    CHECK_INT(audit_table_diff(NULL, 0, NULL, 0, ch), 0);
    n = audit_table_diff(a, 2, NULL, 0, ch);
    CHECK_INT(n, 2);
    CHECK_INT(ch[0].kind, TABLE_DROPPED);
    CHECK_INT(ch[1].kind, TABLE_DROPPED);
}

/* A native backup lists the partitioned parent; an imported dump cannot: in either order
 * the parent is neither added nor dropped, while real changes still show. */
static void test_table_diff_imported(void)
{
    struct table_rec native[] = {tr("public", "m", 10), tr("public", "m_1", 4),
                                 tr("public", "m_2", 6), tr("public", "old", 1)};
    native[0].relkind = 'p';
    struct table_rec imported[] = {tr("public", "m_1", 4), tr("public", "m_2", 7)};
    struct table_change ch[8];
    size_t n = audit_table_diff(native, 4, imported, 2, ch);
    CHECK_INT(n, 4);
    n = audit_table_diff_comparable(ch, n, true, false);
    CHECK_INT(n, 3);
    CHECK_STR(ch[0].before->table_name, "m_1");
    CHECK_INT(ch[1].kind, TABLE_CHANGED);
    CHECK_INT(ch[2].kind, TABLE_DROPPED);
    CHECK_STR(ch[2].before->table_name, "old");

    n = audit_table_diff(imported, 2, native, 4, ch);
    n = audit_table_diff_comparable(ch, n, false, true);
    CHECK_INT(n, 3);
    CHECK_INT(ch[2].kind, TABLE_ADDED);
    CHECK_STR(ch[2].after->table_name, "old");

    /* two native backups: a partitioned table that appears is added */
    n = audit_table_diff(imported, 0, native, 1, ch);
    CHECK_INT(audit_table_diff_comparable(ch, n, true, true), 1);
}

/* A healthy database: a complete backup two hours old, its file present. */
static struct check_facts healthy(void)
{
    return (struct check_facts){
        .db = "shop",
        .has_complete = true,
        .complete_id = 5,
        .complete_at = NOW - 7200,
        .complete_size = 100,
        .complete_file = CHECK_FILE_OK,
        .has_last = true,
        .last_id = 5,
        .last_status = "complete",
        .last_at = NOW - 7200,
    };
}

static enum check_state judge(const struct check_facts *f, char **msg)
{
    struct sbuf b = {0};
    enum check_state st = audit_check_db(f, NOW, 26 * 3600, &b);
    *msg = b.data;
    return st;
}

static void test_check_ok(void)
{
    struct check_facts f = healthy();
    char *msg;
    CHECK_INT(judge(&f, &msg), CHECK_OK);
    CHECK_STR(msg, "shop: newest backup 5 is 2.0 h old");
    free(msg);
}

static void test_check_critical(void)
{
    char *msg;
    struct check_facts f = healthy();
    f.has_complete = false;
    f.has_last = false;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: no complete backup");
    free(msg);

    f = healthy();
    f.complete_at = NOW - 30 * 3600;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: newest complete backup 5 is 30.0 h old (max 26 h)");
    free(msg);

    f = healthy();
    f.complete_at = NOW - 26 * 3600; /* exactly max-age is still fine */
    CHECK_INT(judge(&f, &msg), CHECK_OK);
    free(msg);

    f = healthy();
    f.complete_file = CHECK_FILE_MISSING;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: file of backup 5 is missing");
    free(msg);

    f = healthy();
    f.complete_file = CHECK_FILE_SIZE;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: file of backup 5 has the wrong size");
    free(msg);

    f = healthy();
    f.last_id = 6;
    f.last_status = "failed";
    f.last_at = NOW - 3600;
    f.last_error = "pg_dump exited with status 1";
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: last backup 6 failed (started 2026-11-25T11:00:00Z): pg_dump exited "
                   "with status 1");
    free(msg);

    f = healthy();
    f.interrupted_id = 7;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: backup 7 was interrupted (its process is gone)");
    free(msg);

    /* several problems: all are named */
    f = healthy();
    f.complete_at = NOW - 4 * 86400;
    f.complete_suspect = true;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: newest complete backup 5 is 4.0 d old (max 26 h), newest backup 5 is "
                   "suspect (under half the usual size)");
    free(msg);
}

static void test_check_warning(void)
{
    char *msg;
    struct check_facts f = healthy();
    f.complete_suspect = true;
    CHECK_INT(judge(&f, &msg), CHECK_WARNING);
    CHECK_STR(msg, "shop: newest backup 5 is suspect (under half the usual size)");
    free(msg);

    f = healthy();
    f.complete_at = NOW + 3600;
    CHECK_INT(judge(&f, &msg), CHECK_WARNING);
    CHECK_STR(msg, "shop: newest backup 5 is dated in the future (clock skew?)");
    free(msg);
}

/* --max-test-age: a restore of the database proven within DAYS, by whichever backup */
static void test_check_test_age(void)
{
    char *msg;
    struct check_facts f = healthy();
    f.max_test_age_s = 30 * 86400;
    CHECK_INT(judge(&f, &msg), CHECK_WARNING);
    CHECK_STR(msg, "shop: never test-restored (max 30 d)");
    free(msg);

    f.tested_at = NOW - 40 * 86400;
    CHECK_INT(judge(&f, &msg), CHECK_WARNING);
    CHECK_STR(msg, "shop: last test restore 40.0 d ago (max 30 d)");
    free(msg);

    /* exactly DAYS is still fine; so is a test of an older backup than the newest */
    f.tested_at = NOW - 30 * 86400;
    CHECK_INT(judge(&f, &msg), CHECK_OK);
    CHECK_STR(msg, "shop: newest backup 5 is 2.0 h old");
    free(msg);

    /* not asked: never tested is fine */
    f = healthy();
    CHECK_INT(judge(&f, &msg), CHECK_OK);
    free(msg);

    /* a CRITICAL stays CRITICAL, and the stale test is named too */
    f = healthy();
    f.max_test_age_s = 86400;
    f.complete_at = NOW - 30 * 3600;
    CHECK_INT(judge(&f, &msg), CHECK_CRITICAL);
    CHECK_STR(msg, "shop: newest complete backup 5 is 30.0 h old (max 26 h), never test-restored "
                   "(max 1 d)");
    free(msg);
}

static void test_dump_header(void)
{
    const char *dump = "--\n"
                       "-- PostgreSQL database dump\n"
                       "--\n"
                       "\n"
                       "\\restrict abc\n"
                       "\n"
                       "-- Dumped from database version 15.18 (Debian 15.18-1.pgdg120+1)\n"
                       "-- Dumped by pg_dump version 15.18 (Debian 15.18-1.pgdg120+1)\n"
                       "\n"
                       "SET statement_timeout = 0;\n"
                       "SET client_encoding = 'LATIN1';\n"
                       "CREATE TABLE public.t (a int);\n"
                       "SET client_encoding = 'UTF8';\n";
    struct dump_header h;
    audit_dump_header(dump, strlen(dump), &h);
    CHECK(h.is_dump);
    CHECK_STR(h.server_version, "15.18 (Debian 15.18-1.pgdg120+1)");
    CHECK_STR(h.pg_dump_version, "15.18 (Debian 15.18-1.pgdg120+1)");
    CHECK_STR(h.encoding, "LATIN1");
    audit_dump_header_free(&h);

    /* a cluster dump, a CRLF copy, a cut line */
    const char *cluster = "--\n-- PostgreSQL database cluster dump\n--\n";
    audit_dump_header(cluster, strlen(cluster), &h);
    CHECK(!h.is_dump);
    audit_dump_header_free(&h);
    const char *crlf = "--\r\n-- PostgreSQL database dump\r\n-- Dumped by pg_dump version 16.4\r\n";
    audit_dump_header(crlf, strlen(crlf), &h);
    CHECK(h.is_dump);
    CHECK_STR(h.pg_dump_version, "16.4");
    audit_dump_header_free(&h);
    const char *cut = "--\n-- PostgreSQL database dump";
    audit_dump_header(cut, strlen(cut), &h);
    CHECK(!h.is_dump);
    audit_dump_header_free(&h);
    audit_dump_header("", 0, &h);
    CHECK(!h.is_dump && !h.encoding && !h.server_version);
    audit_dump_header_free(&h);
}

static void test_estimate(void)
{
    uint64_t total;
    double rate;
    audit_estimate_next(NULL, 0, "gzip", &total, &rate);
    CHECK_INT(total, 0);
    CHECK(rate == 0);

    /* newest first; an import without a duration does not count toward the rate */
    char *gz = "gzip", *zst = "zstd";
    struct backup_rec prev[9] = {
        {.raw_bytes = 1000, .duration_ms = 0, .compression = gz},
        {.raw_bytes = 2000, .duration_ms = 1000, .compression = gz},
        {.raw_bytes = 4000, .duration_ms = 1000, .compression = gz},
        {.raw_bytes = 8000, .duration_ms = 1000, .compression = zst},
        {.raw_bytes = 2000, .duration_ms = 1000, .compression = gz},
        {.raw_bytes = 2000, .duration_ms = 1000, .compression = gz},
        {.raw_bytes = 6000, .duration_ms = 1000, .compression = zst},
        {.raw_bytes = 2000, .duration_ms = 1000, .compression = gz},
        {.raw_bytes = 90000, .duration_ms = 1, .compression = gz},
    };
    audit_estimate_next(prev, 9, "gzip", &total, &rate);
    CHECK_INT(total, 1000);
    CHECK(rate > 2399.9 && rate < 2400.1); /* the five timed gzip ones: 12000 bytes in 5 s */
    /* the rate is the compression's own: zstd's two, whatever the newest was */
    audit_estimate_next(prev, 9, "zstd", &total, &rate);
    CHECK_INT(total, 1000);
    CHECK(rate > 6999.9 && rate < 7000.1);
    /* none without history of its own: no rate, the size still */
    audit_estimate_next(prev, 9, "none", &total, &rate);
    CHECK_INT(total, 1000);
    CHECK(rate == 0);
}

int main(void)
{
    RUN(test_estimate);
    RUN(test_when_dates);
    RUN(test_when_ages);
    RUN(test_when_bad);
    RUN(test_table_diff);
    RUN(test_table_diff_imported);
    RUN(test_check_ok);
    RUN(test_check_critical);
    RUN(test_check_warning);
    RUN(test_check_test_age);
    RUN(test_dump_header);
    return UNIT_DONE();
}
