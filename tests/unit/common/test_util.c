#include "common/util.h"
#include "unit.h"

#include <stdlib.h>
#include <time.h>

/* 2026-11-25 15:27:54 UTC */
#define WHEN ((time_t)1795620474)

static time_t parsed(const char *s)
{
    time_t t = -12345;
    if (time_parse_iso(s, &t) != 0)
        return -1;
    return t;
}

static void test_parse_catalog_shape(void)
{
    CHECK_INT(parsed("2026-11-25T15:27:54Z"), WHEN);
    CHECK_INT(parsed("2026-11-25T15:27:54.123Z"), WHEN);
    CHECK_INT(parsed("2026-11-25 15:27:54"), WHEN);
    CHECK_INT(parsed("2026-11-25T15:27:54.5"), WHEN);
    CHECK_INT(parsed("1970-01-01T00:00:00Z"), 0);
    CHECK_INT(parsed("1969-12-31T23:59:58Z"), -2);
}

/* Shapes sscanf accepts (fewer digits) take the slower path to the same result. */
static void test_parse_other_shapes(void)
{
    CHECK_INT(parsed("2026-11-25T1:2:3Z"), WHEN - 15 * 3600 - 27 * 60 - 54 + 3600 + 120 + 3);
    CHECK_INT(parsed("2026-1-5T00:00:00Z"), parsed("2026-01-05T00:00:00Z"));
}

/* Dates that do not exist are refused, never normalized into the next month. */
static void test_parse_refuses_impossible_dates(void)
{
    time_t t = 42;
    CHECK(time_parse_iso("2026-02-31T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-02-29T10:00:00.000Z", &t) != 0);
    CHECK(time_parse_iso("2026-04-31T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2100-02-29T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-13-01T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-00-01T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-01-00T10:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-01-01T24:00:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-01-01T23:60:00Z", &t) != 0);
    CHECK(time_parse_iso("2026-01-01T23:59:60Z", &t) != 0);
    CHECK(time_parse_iso("2026-01-01T23:59:59ZZ", &t) != 0);
    CHECK(time_parse_iso("2026-01-01T23:59:59+01", &t) != 0);
    CHECK(time_parse_iso("2026-01-01", &t) != 0);
    CHECK(time_parse_iso("", &t) != 0);
    CHECK(time_parse_iso("2026-0x-01T10:00:00Z", &t) != 0);
    CHECK_INT(t, 42); /* untouched on failure */
    /* leap days that exist */
    CHECK(parsed("2024-02-29T10:00:00Z") > 0);
    CHECK(parsed("2000-02-29T10:00:00Z") > 0);
}

/* time_from_utc agrees with timegm on every valid day, and refuses each invalid one. */
static void test_from_utc_matches_timegm(void)
{
    int mismatches = 0;
    for (int y = 1900; y <= 2200; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= 31; d++) {
                struct tm tm = {.tm_year = y - 1900,
                                .tm_mon = m - 1,
                                .tm_mday = d,
                                .tm_hour = 23,
                                .tm_min = 59,
                                .tm_sec = 58};
                time_t want = timegm(&tm);
                bool exists = tm.tm_mday == d; /* timegm normalized it otherwise */
                time_t got = 0;
                int rc = time_from_utc(y, m, d, 23, 59, 58, &got);
                if (exists ? (rc != 0 || got != want) : rc == 0)
                    mismatches++;
            }
        }
    }
    CHECK_INT(mismatches, 0);
}

/* What time_iso and time_iso_ms write, time_parse_iso reads back. */
static void test_round_trip(void)
{
    char buf[25];
    for (time_t t = -86400 * 400; t < (time_t)4102444800; t += 7919 * 613) {
        CHECK_INT(parsed(time_iso(t, buf)), t);
        struct timespec ts = {.tv_sec = t, .tv_nsec = 999000000};
        CHECK_INT(parsed(time_iso_ms(&ts, buf)), t);
    }
}

static void test_now_iso(void)
{
    char buf[25];
    time_t before = time(NULL);
    CHECK(time_now_iso(buf) == buf);
    time_t after = time(NULL);
    CHECK_INT(strlen(buf), 24);
    CHECK(buf[10] == 'T' && buf[19] == '.' && buf[23] == 'Z');
    time_t t = parsed(buf);
    CHECK(t >= before && t <= after);
}

int main(void)
{
    RUN(test_parse_catalog_shape);
    RUN(test_parse_other_shapes);
    RUN(test_parse_refuses_impossible_dates);
    RUN(test_from_utc_matches_timegm);
    RUN(test_round_trip);
    RUN(test_now_iso);
    return UNIT_DONE();
}
