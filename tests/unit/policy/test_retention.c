/*
 * Unit tests for src/policy/retention.c (the pure plan), the catalog side of retention
 * (catalog_retention_rows and friends) and the partial-file names of src/command/recover.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "policy/retention.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/err.h"
#include "command/recover.h"
#include "unit.h"
#include "common/util.h"

#define DAY 86400
#define MAXB 64

static char tmpdir[PATH_MAX];

/* A list of backups under construction. */
struct set {
    struct retention_backup b[MAXB];
    struct retention_decision d[MAXB];
    size_t n;
};

static time_t at(const char *iso)
{
    time_t t = 0;
    if (time_parse_iso(iso, &t) != 0) {
        fprintf(stderr, "bad time in test: %s\n", iso);
        unit_failed_checks++;
    }
    return t;
}

/* Adds a backup; returns its index. */
static size_t add(struct set *s, int64_t id, time_t started, bool complete, bool pinned)
{
    s->b[s->n] = (struct retention_backup){
        .id = id, .started = started, .complete = complete, .pinned = pinned};
    return s->n++;
}

static struct retention_policy policy(long days, long count, long min_keep)
{
    return (struct retention_policy){.days = days, .count = count, .min_keep = min_keep};
}

/* Plans and expects success. */
static void plan(struct set *s, const struct retention_policy *p, time_t now)
{
    err_clear();
    int rc = retention_plan("app", s->b, s->n, p, now, s->d);
    CHECK_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  retention_plan: %s\n", err_msg());
}

#define KEEP(s, i, why)                                                                            \
    do {                                                                                           \
        CHECK_INT((s)->d[i].action, RETENTION_KEEP);                                               \
        CHECK_STR((s)->d[i].reason, why);                                                          \
    } while (0)

#define REMOVE(s, i, why)                                                                          \
    do {                                                                                           \
        CHECK_INT((s)->d[i].action, RETENTION_REMOVE);                                             \
        CHECK_STR((s)->d[i].reason, why);                                                          \
    } while (0)

#define SKIP(s, i)                                                                                 \
    do {                                                                                           \
        CHECK_INT((s)->d[i].action, RETENTION_SKIP);                                               \
        CHECK_STR((s)->d[i].reason, "");                                                           \
    } while (0)

/* --- the origin's rules --- */

static void test_empty(void)
{
    struct set s = {0};
    struct retention_policy p = policy(7, 10, 1);
    plan(&s, &p, at("2026-03-01T00:00:00Z"));
}

static void test_older_than_days(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 1, now - 1 * DAY, true, false);
    size_t b = add(&s, 2, now - 6 * DAY, true, false);
    size_t c = add(&s, 3, now - 8 * DAY, true, false);
    size_t d = add(&s, 4, now - 30 * DAY, true, false);
    struct retention_policy p = policy(7, 0, 1);
    plan(&s, &p, now);
    KEEP(&s, a, "within 7 days");
    KEEP(&s, b, "within 7 days");
    REMOVE(&s, c, "older than 7 days");
    REMOVE(&s, d, "older than 7 days");
}

/* Exactly N days old is not older than N days; one second more is. */
static void test_days_boundary(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 1, now, true, false);
    size_t b = add(&s, 2, now - 7 * DAY, true, false);
    size_t c = add(&s, 3, now - 7 * DAY - 1, true, false);
    struct retention_policy p = policy(7, 0, 1);
    plan(&s, &p, now);
    KEEP(&s, a, "within 7 days");
    KEEP(&s, b, "within 7 days");
    REMOVE(&s, c, "older than 7 days");
}

static void test_beyond_count(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t i[5];
    for (int k = 0; k < 5; k++)
        i[k] = add(&s, k + 1, now - (5 - k) * 3600, true, false); /* id 5 newest */
    struct retention_policy p = policy(0, 2, 1);
    plan(&s, &p, now);
    KEEP(&s, i[4], "among newest 2");
    KEEP(&s, i[3], "among newest 2");
    REMOVE(&s, i[2], "beyond count 2");
    REMOVE(&s, i[1], "beyond count 2");
    REMOVE(&s, i[0], "beyond count 2");
}

/* Either rule removes; when both do, the age rule is the one named. */
static void test_both_rules(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 1, now - 1 * DAY, true, false);
    size_t b = add(&s, 2, now - 2 * DAY, true, false);
    size_t c = add(&s, 3, now - 3 * DAY, true, false);
    size_t d = add(&s, 4, now - 10 * DAY, true, false);
    struct retention_policy p = policy(7, 2, 1);
    plan(&s, &p, now);
    KEEP(&s, a, "within 7 days");
    KEEP(&s, b, "within 7 days");
    REMOVE(&s, c, "beyond count 2");
    REMOVE(&s, d, "older than 7 days");
}

/* --- suspect backups: decided, never counted --- */

/* Adds a complete, unpinned, suspect backup; returns its index. */
static size_t add_suspect(struct set *s, int64_t id, time_t started)
{
    size_t i = add(s, id, started, true, false);
    s->b[i].suspect = true;
    return i;
}

/* The reproduction: three good backups, then a suspect one, then -c 1. The
 * suspect one does not take the only place: the newest good backup keeps it. */
static void test_suspect_does_not_push_out(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t g1 = add(&s, 1, now - 3 * 3600, true, false);
    size_t g2 = add(&s, 2, now - 2 * 3600, true, false);
    size_t g3 = add(&s, 3, now - 1 * 3600, true, false);
    size_t s4 = add_suspect(&s, 4, now - 60);
    struct retention_policy p = policy(7, 1, 1);
    plan(&s, &p, now);
    KEEP(&s, g3, "within 7 days");
    REMOVE(&s, g2, "beyond count 1");
    REMOVE(&s, g1, "beyond count 1");
    KEEP(&s, s4, "suspect, within 7 days");

    /* five suspect backups in a row: every good one stays */
    struct set t = {0};
    size_t g[3];
    for (int k = 0; k < 3; k++)
        g[k] = add(&t, k + 1, now - (10 - k) * 3600, true, false);
    for (int k = 0; k < 5; k++)
        add_suspect(&t, 10 + k, now - (5 - k) * 3600);
    p = policy(7, 3, 1);
    plan(&t, &p, now);
    for (int k = 0; k < 3; k++)
        KEEP(&t, g[k], "within 7 days");
    for (size_t k = 3; k < t.n; k++)
        KEEP(&t, k, "suspect, within 7 days");
}

/* A suspect backup leaves by count only once COUNT good backups are newer than it: never
 * ahead of a good backup that the count rule keeps. */
static void test_suspect_beyond_count(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t g0 = add(&s, 1, now - 5 * 3600, true, false);
    size_t s1 = add_suspect(&s, 2, now - 4 * 3600);
    size_t g2 = add(&s, 3, now - 3 * 3600, true, false);
    size_t g3 = add(&s, 4, now - 2 * 3600, true, false);
    struct retention_policy p = policy(0, 2, 0);
    plan(&s, &p, now);
    KEEP(&s, g3, "among newest 2");
    KEEP(&s, g2, "among newest 2");
    REMOVE(&s, s1, "suspect, beyond count 2");
    REMOVE(&s, g0, "beyond count 2");

    /* with only one good backup newer, it stays, and so does the good one below it */
    p = policy(0, 3, 0);
    plan(&s, &p, now);
    KEEP(&s, g3, "among newest 3");
    KEEP(&s, g2, "among newest 3");
    KEEP(&s, s1, "suspect, among newest 3");
    KEEP(&s, g0, "among newest 3");
}

/* The age rule removes a suspect backup like any other, even the newest one; min-keep
 * protects the newest good backups, not a suspect one in front of them. */
static void test_suspect_by_age(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t g5 = add(&s, 5, now - 40 * DAY, true, false);
    size_t g4 = add(&s, 4, now - 39 * DAY, true, false);
    size_t s3 = add_suspect(&s, 3, now - 38 * DAY);
    size_t g2 = add(&s, 2, now - 37 * DAY, true, false);
    size_t s1 = add_suspect(&s, 1, now - 36 * DAY);
    size_t s0 = add_suspect(&s, 6, now - 1 * DAY);
    struct retention_policy p = policy(7, 10, 2);
    plan(&s, &p, now);
    KEEP(&s, s0, "suspect, within 7 days");
    REMOVE(&s, s1, "suspect, older than 7 days");
    KEEP(&s, g2, "min-keep");
    REMOVE(&s, s3, "suspect, older than 7 days");
    KEEP(&s, g4, "min-keep");
    REMOVE(&s, g5, "older than 7 days");
}

/* With fewer good backups than --min-keep, the newest suspect ones make up the number:
 * min-keep never lets a database lose its last backups to age. */
static void test_suspect_min_keep_fills_gap(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t a = add_suspect(&s, 3, now - 30 * DAY);
    size_t b = add_suspect(&s, 2, now - 31 * DAY);
    size_t c = add_suspect(&s, 1, now - 32 * DAY);
    struct retention_policy p = policy(7, 10, 2);
    plan(&s, &p, now);
    KEEP(&s, a, "suspect, min-keep");
    KEEP(&s, b, "suspect, min-keep");
    REMOVE(&s, c, "suspect, older than 7 days");

    /* one good backup (the oldest) counts first; one suspect one completes min-keep 2 */
    struct set t = {0};
    size_t g = add(&t, 1, now - 33 * DAY, true, false);
    size_t x = add_suspect(&t, 2, now - 32 * DAY);
    size_t y = add_suspect(&t, 3, now - 31 * DAY);
    plan(&t, &p, now);
    KEEP(&t, g, "min-keep");
    KEEP(&t, y, "suspect, min-keep");
    REMOVE(&t, x, "suspect, older than 7 days");
}

/* A suspect backup fills no daily, weekly or monthly slot: the slot goes to the newest
 * good backup of the period, and a period with only suspect backups has none. */
static void test_suspect_fills_no_slot(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t d1 = add(&s, 1, at("2026-03-01T10:00:00Z"), true, false);
    size_t d2g = add(&s, 2, at("2026-03-02T10:00:00Z"), true, false);
    size_t d2s = add_suspect(&s, 3, at("2026-03-02T20:00:00Z"));
    size_t d3s = add_suspect(&s, 4, at("2026-03-03T10:00:00Z"));
    struct retention_policy p = policy(1, 0, 0);
    p.keep_daily = 2;
    plan(&s, &p, now);
    REMOVE(&s, d3s, "suspect, older than 1 day");
    REMOVE(&s, d2s, "suspect, older than 1 day");
    KEEP(&s, d2g, "daily slot 2026-03-02");
    KEEP(&s, d1, "daily slot 2026-03-01");

    p.keep_daily = 0;
    p.keep_weekly = 1;
    plan(&s, &p, now);
    KEEP(&s, d2g, "weekly slot 2026-W10");
    REMOVE(&s, d3s, "suspect, older than 1 day");
    p.keep_weekly = 0;
    p.keep_monthly = 1;
    plan(&s, &p, now);
    KEEP(&s, d2g, "monthly slot 2026-03");
    REMOVE(&s, d1, "older than 1 day");
}

/* A pinned suspect backup is kept, and still not counted. */
static void test_suspect_pinned(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t g1 = add(&s, 1, now - 3 * 3600, true, false);
    size_t g2 = add(&s, 2, now - 2 * 3600, true, false);
    size_t ps = add(&s, 3, now - 1 * 3600, true, true);
    s.b[ps].suspect = true;
    struct retention_policy p = policy(7, 1, 1);
    plan(&s, &p, now);
    KEEP(&s, ps, "pinned");
    KEEP(&s, g2, "within 7 days");
    REMOVE(&s, g1, "beyond count 1");
}

/* --- -r 0 and -c 0: no limit --- */

static void test_zero_disables(void)
{
    time_t now = at("2026-03-10T12:00:00Z");

    /* both 0: nothing is removed, not even a ten-year-old backup */
    struct set s = {0};
    size_t old = add(&s, 1, now - 3650 * DAY, true, false);
    size_t mid = add(&s, 2, now - 100 * DAY, true, false);
    size_t neu = add(&s, 3, now - 1 * DAY, true, false);
    struct retention_policy p = policy(0, 0, 0);
    plan(&s, &p, now);
    KEEP(&s, old, "no age or count limit");
    KEEP(&s, mid, "no age or count limit");
    KEEP(&s, neu, "no age or count limit");

    /* -r 0 -c 2: age plays no part */
    p = policy(0, 2, 0);
    plan(&s, &p, now);
    KEEP(&s, neu, "among newest 2");
    KEEP(&s, mid, "among newest 2");
    REMOVE(&s, old, "beyond count 2");

    /* -c 0 -r 7: twenty backups within a week all stay */
    struct set t = {0};
    for (int k = 0; k < 20; k++)
        add(&t, k + 1, now - k * 3 * 3600, true, false);
    size_t stale = add(&t, 99, now - 8 * DAY, true, false);
    p = policy(7, 0, 1);
    plan(&t, &p, now);
    for (size_t k = 0; k < 20; k++)
        KEEP(&t, k, "within 7 days");
    REMOVE(&t, stale, "older than 7 days");
}

/* --- protections --- */

/* All backups old: min-keep saves the newest N, whatever their age. */
static void test_all_old_min_keep(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t i[5];
    for (int k = 0; k < 5; k++)
        i[k] = add(&s, k + 1, now - (40 - k) * DAY, true, false); /* id 5 newest */

    struct retention_policy p = policy(7, 10, 1);
    plan(&s, &p, now);
    KEEP(&s, i[4], "min-keep");
    for (int k = 0; k < 4; k++)
        REMOVE(&s, i[k], "older than 7 days");

    p = policy(7, 10, 3);
    plan(&s, &p, now);
    KEEP(&s, i[4], "min-keep");
    KEEP(&s, i[3], "min-keep");
    KEEP(&s, i[2], "min-keep");
    REMOVE(&s, i[1], "older than 7 days");
    REMOVE(&s, i[0], "older than 7 days");

    /* --min-keep 0 is the admin's explicit choice: everything old goes */
    p = policy(7, 10, 0);
    plan(&s, &p, now);
    for (int k = 0; k < 5; k++)
        REMOVE(&s, i[k], "older than 7 days");

    /* min-keep larger than the number of backups keeps them all */
    p = policy(7, 10, 100);
    plan(&s, &p, now);
    for (int k = 0; k < 5; k++)
        KEEP(&s, i[k], "min-keep");
}

/* Failed (and running) backups are not counted: they never push a good one out. */
static void test_failed_never_count(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t good[3], bad[10];
    for (int k = 0; k < 3; k++)
        good[k] = add(&s, k + 1, now - (5 - k) * DAY, true, false);
    for (int k = 0; k < 10; k++)
        bad[k] = add(&s, 10 + k, now - k * 60, false, false);

    struct retention_policy p = policy(7, 3, 1);
    plan(&s, &p, now);
    for (int k = 0; k < 3; k++)
        KEEP(&s, good[k], "within 7 days");
    for (int k = 0; k < 10; k++)
        SKIP(&s, bad[k]);

    /* -c 1: only the newest complete one is "among newest", the failed ones do not rank */
    p = policy(0, 1, 1);
    plan(&s, &p, now);
    KEEP(&s, good[2], "among newest 1");
    REMOVE(&s, good[1], "beyond count 1");
    REMOVE(&s, good[0], "beyond count 1");

    /* only failed backups recently, the good ones old: min-keep still saves the newest */
    struct set t = {0};
    size_t g = add(&t, 1, now - 20 * DAY, true, false);
    size_t f1 = add(&t, 2, now - 1 * DAY, false, false);
    size_t f2 = add(&t, 3, now - 60, false, false);
    p = policy(7, 10, 1);
    plan(&t, &p, now);
    KEEP(&t, g, "min-keep");
    SKIP(&t, f1);
    SKIP(&t, f2);
}

static void test_pinned(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    size_t neu = add(&s, 5, now - 1 * DAY, true, true);
    size_t mid = add(&s, 4, now - 2 * DAY, true, false);
    size_t old1 = add(&s, 3, now - 100 * DAY, true, true);
    size_t old2 = add(&s, 2, now - 101 * DAY, true, false);
    size_t ancient = add(&s, 1, now - 5000 * DAY, true, true);

    struct retention_policy p = policy(7, 1, 0);
    plan(&s, &p, now);
    KEEP(&s, neu, "pinned");
    REMOVE(&s, mid, "beyond count 1"); /* a pinned backup still ranks */
    KEEP(&s, old1, "pinned");
    REMOVE(&s, old2, "older than 7 days");
    KEEP(&s, ancient, "pinned");

    /* whatever the other settings */
    p = policy(1, 1, 0);
    p.keep_daily = p.keep_weekly = p.keep_monthly = 0;
    plan(&s, &p, now + 1000 * DAY - RETENTION_FUTURE_TOLERANCE);
    KEEP(&s, neu, "pinned");
    KEEP(&s, old1, "pinned");
    KEEP(&s, ancient, "pinned");
}

/* Equal start times: the higher id is the newer; the input order does not matter. */
static void test_ties(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    time_t t = now - 3600;
    struct retention_policy p = policy(0, 1, 1);

    struct set s = {0};
    size_t a = add(&s, 5, t, true, false);
    size_t b = add(&s, 6, t, true, false);
    plan(&s, &p, now);
    KEEP(&s, b, "among newest 1");
    REMOVE(&s, a, "beyond count 1");

    struct set r = {0};
    b = add(&r, 6, t, true, false);
    a = add(&r, 5, t, true, false);
    plan(&r, &p, now);
    KEEP(&r, b, "among newest 1");
    REMOVE(&r, a, "beyond count 1");

    /* a shuffled list decides like a sorted one */
    struct set sorted = {0}, shuffled = {0};
    for (int k = 0; k < 12; k++)
        add(&sorted, 100 - k, now - k * 7 * 3600, true, k % 5 == 3);
    int perm[12] = {7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4};
    for (int k = 0; k < 12; k++)
        shuffled.b[shuffled.n++] = sorted.b[perm[k]];
    p = policy(2, 4, 1);
    p.keep_daily = 2;
    plan(&sorted, &p, now);
    plan(&shuffled, &p, now);
    for (int k = 0; k < 12; k++) {
        CHECK_INT(shuffled.d[k].action, sorted.d[perm[k]].action);
        CHECK_STR(shuffled.d[k].reason, sorted.d[perm[k]].reason);
    }
}

/* --- clock skew --- */

static void test_future_refused(void)
{
    time_t now = at("2026-03-10T12:00:00Z");
    struct set s = {0};
    add(&s, 1, now - 30 * DAY, true, false);
    add(&s, 2, now + RETENTION_FUTURE_TOLERANCE + 1, true, false);
    struct retention_policy p = policy(7, 10, 1);
    err_clear();
    CHECK_INT(retention_plan("app", s.b, s.n, &p, now, s.d), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    CHECK_STR(err_msg(), "refusing to prune: newest backup of \"app\" is dated in the future "
                         "(clock skew?)");
    /* nothing decided */
    SKIP(&s, 0);
    SKIP(&s, 1);
    err_clear();

    /* within the tolerance it is only a slightly fast clock */
    s.b[1].started = now + RETENTION_FUTURE_TOLERANCE;
    plan(&s, &p, now);
    KEEP(&s, 1, "within 7 days");
    REMOVE(&s, 0, "older than 7 days");

    /* a failed backup from the future is not a backup: not refused */
    struct set t = {0};
    size_t g = add(&t, 1, now - DAY, true, false);
    size_t f = add(&t, 2, now + 100 * DAY, false, false);
    plan(&t, &p, now);
    KEEP(&t, g, "within 7 days");
    SKIP(&t, f);
}

/* --- grandfather-father-son slots, in UTC --- */

/* The newest of each of the last N days that have one (not of the last N calendar days). */
static void test_daily_slots(void)
{
    time_t now = at("2026-03-10T20:00:00Z");
    struct set s = {0};
    size_t d10b = add(&s, 9, at("2026-03-10T18:00:00Z"), true, false);
    size_t d10a = add(&s, 8, at("2026-03-10T06:00:00Z"), true, false);
    size_t d07b = add(&s, 7, at("2026-03-07T23:59:59Z"), true, false);
    size_t d07a = add(&s, 6, at("2026-03-07T00:00:00Z"), true, false);
    size_t d06 = add(&s, 5, at("2026-03-06T12:00:00Z"), true, false);
    size_t d01 = add(&s, 4, at("2026-03-01T12:00:00Z"), true, false);
    struct retention_policy p = policy(0, 1, 1);
    p.keep_daily = 3;
    plan(&s, &p, now);
    KEEP(&s, d10b, "among newest 1");
    REMOVE(&s, d10a, "beyond count 1"); /* day 1 (03-10) already has its newest */
    KEEP(&s, d07b, "daily slot 2026-03-07");
    REMOVE(&s, d07a, "beyond count 1");
    KEEP(&s, d06, "daily slot 2026-03-06");
    REMOVE(&s, d01, "beyond count 1"); /* a fourth day */

    p.keep_daily = 4;
    plan(&s, &p, now);
    KEEP(&s, d01, "daily slot 2026-03-01");
}

/* ISO weeks across the new year: 2025-12-29 (Monday) .. 2026-01-04 is 2026-W01. */
static void test_weekly_slots_new_year(void)
{
    time_t now = at("2026-01-05T12:00:00Z");
    struct set s = {0};
    size_t idx[15];
    /* one backup a day at 03:00, 2025-12-22 .. 2026-01-05 */
    for (int k = 0; k < 15; k++)
        idx[k] = add(&s, k + 1, at("2025-12-22T03:00:00Z") + (time_t)k * DAY, true, false);
    struct retention_policy p = policy(0, 1, 1);
    p.keep_weekly = 3;
    plan(&s, &p, now);
    KEEP(&s, idx[14], "among newest 1");       /* 2026-01-05, 2026-W02 */
    KEEP(&s, idx[13], "weekly slot 2026-W01"); /* 2026-01-04, Sunday */
    KEEP(&s, idx[6], "weekly slot 2025-W52");  /* 2025-12-28, Sunday */
    for (int k = 0; k < 15; k++)
        if (k != 14 && k != 13 && k != 6)
            REMOVE(&s, idx[k], "beyond count 1");

    /* 2026-01-01 is a Thursday: W01 holds it; 2020-12-31 is in 2020-W53 */
    struct set t = {0};
    size_t a = add(&t, 1, at("2021-01-03T10:00:00Z"), true, false); /* Sunday: 2020-W53 */
    size_t b = add(&t, 2, at("2021-01-04T10:00:00Z"), true, false); /* Monday: 2021-W01 */
    size_t c = add(&t, 3, at("2021-01-11T10:00:00Z"), true, false); /* 2021-W02 */
    size_t d = add(&t, 4, at("2019-12-30T10:00:00Z"), true, false); /* Monday: 2020-W01 */
    p = policy(0, 1, 0);
    p.keep_weekly = 4;
    plan(&t, &p, at("2021-01-11T12:00:00Z"));
    KEEP(&t, c, "among newest 1");
    KEEP(&t, b, "weekly slot 2021-W01");
    KEEP(&t, a, "weekly slot 2020-W53");
    KEEP(&t, d, "weekly slot 2020-W01");
}

/* Months across the new year, in UTC: 23:59:59 on Dec 31 is December. */
static void test_monthly_slots_new_year(void)
{
    time_t now = at("2026-01-20T12:00:00Z");
    struct set s = {0};
    size_t jan20 = add(&s, 6, at("2026-01-20T00:00:00Z"), true, false);
    size_t jan01 = add(&s, 5, at("2026-01-01T00:00:00Z"), true, false);
    size_t dec31 = add(&s, 4, at("2025-12-31T23:59:59Z"), true, false);
    size_t dec10 = add(&s, 3, at("2025-12-10T00:00:00Z"), true, false);
    size_t nov30 = add(&s, 2, at("2025-11-30T23:00:00Z"), true, false);
    size_t nov15 = add(&s, 1, at("2025-11-15T00:00:00Z"), true, false);
    struct retention_policy p = policy(0, 1, 1);
    p.keep_monthly = 3;
    plan(&s, &p, now);
    KEEP(&s, jan20, "among newest 1");
    REMOVE(&s, jan01, "beyond count 1");
    KEEP(&s, dec31, "monthly slot 2025-12");
    REMOVE(&s, dec10, "beyond count 1");
    KEEP(&s, nov30, "monthly slot 2025-11");
    REMOVE(&s, nov15, "beyond count 1");

    /* two months: November's newest is no longer protected */
    p.keep_monthly = 2;
    plan(&s, &p, now);
    REMOVE(&s, nov30, "beyond count 1");
}

/* The first protection that applies is named: pinned, min-keep, daily, weekly, monthly. */
static void test_protection_order(void)
{
    time_t now = at("2026-03-31T12:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 4, at("2026-03-31T10:00:00Z"), true, false); /* min-keep */
    size_t b = add(&s, 3, at("2026-03-30T10:00:00Z"), true, false); /* daily */
    size_t c = add(&s, 2, at("2026-03-16T10:00:00Z"), true, false); /* weekly (W12) */
    size_t d = add(&s, 1, at("2026-02-27T10:00:00Z"), true, false); /* monthly */
    struct retention_policy p = {
        .days = 1, .count = 0, .min_keep = 1, .keep_daily = 2, .keep_weekly = 2, .keep_monthly = 2};
    plan(&s, &p, now);
    KEEP(&s, a, "within 1 day");
    KEEP(&s, b, "daily slot 2026-03-30");
    KEEP(&s, c, "weekly slot 2026-W12");
    KEEP(&s, d, "monthly slot 2026-02");

    /* the newest, once old, is named by min-keep rather than by its slots */
    plan(&s, &p, now + 30 * DAY);
    KEEP(&s, a, "min-keep");
}

/* Days before 1970 are floor-divided: 1969-12-31 is its own day. */
static void test_before_epoch(void)
{
    time_t now = at("1970-01-01T12:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 2, at("1970-01-01T01:00:00Z"), true, false);
    size_t b = add(&s, 1, at("1969-12-31T23:00:00Z"), true, false);
    struct retention_policy p = policy(0, 1, 0);
    p.keep_daily = 2;
    plan(&s, &p, now);
    KEEP(&s, a, "among newest 1");
    KEEP(&s, b, "daily slot 1969-12-31");
}

/* The time zone of the process plays no part (slots are UTC). */
static void test_time_zone_independent(void)
{
    time_t now = at("2026-01-01T02:00:00Z");
    struct set s = {0};
    size_t a = add(&s, 2, at("2026-01-01T01:00:00Z"), true, false);
    size_t b = add(&s, 1, at("2025-12-31T22:00:00Z"), true, false);
    struct retention_policy p = policy(0, 1, 0);
    p.keep_monthly = 2;
    char *old_tz = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
    setenv("TZ", "PVT-5:30", 1);
    tzset();
    plan(&s, &p, now);
    KEEP(&s, a, "among newest 1");
    KEEP(&s, b, "monthly slot 2025-12");
    if (old_tz)
        setenv("TZ", old_tz, 1);
    else
        unsetenv("TZ");
    tzset();
    free(old_tz);
}

static void test_policy_from_settings(void)
{
    struct settings set = {0};
    set.retention_days = 7;
    set.keep_count = 10;
    set.min_keep = 2;
    set.keep_daily = 3;
    set.keep_weekly = 4;
    set.keep_monthly = 5;
    struct retention_policy p;
    retention_policy_from(&set, &p);
    CHECK_INT(p.days, 7);
    CHECK_INT(p.count, 10);
    CHECK_INT(p.min_keep, 2);
    CHECK_INT(p.keep_daily, 3);
    CHECK_INT(p.keep_weekly, 4);
    CHECK_INT(p.keep_monthly, 5);
}

/* --- the catalog side --- */

static struct catalog *open_catalog(const char *name)
{
    char path[PATH_MAX + 64];
    struct catalog *c = NULL;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    err_clear();
    if (catalog_open(path, CATALOG_CREATE, &c) != 0) {
        fprintf(stderr, "catalog_open: %s\n", err_msg());
        unit_failed_checks++;
    }
    return c;
}

static int64_t insert(struct catalog *c, const char *db, const char *file, const char *started,
                      const char *status)
{
    struct backup_rec b = {.db_name = (char *)db,
                           .file_name = (char *)file,
                           .compression = "gzip",
                           .started_at = (char *)started,
                           .pid = 4242,
                           .host = "elsewhere"};
    CHECK_INT(catalog_backup_begin(c, &b), 0);
    if (strcmp(status, "complete") == 0) {
        b.status = "complete";
        b.size_bytes = 100;
        CHECK_INT(catalog_backup_finish(c, &b, NULL, 0, NULL, 0), 0);
    } else if (strcmp(status, "failed") == 0) {
        CHECK_INT(catalog_backup_fail(c, b.id, started, "boom"), 0);
    }
    return b.id;
}

/* Exact database names: "app" never matches app_staging, App, app% or ap_. */
static void test_catalog_rows_exact_db(void)
{
    struct catalog *c = open_catalog("exact.db");
    if (!c)
        return;
    insert(c, "app", "app_1.sql.gz", "2026-01-01T00:00:00.000Z", "complete");
    insert(c, "app_staging", "app_staging_1.sql.gz", "2026-01-03T00:00:00.000Z", "complete");
    insert(c, "App", "App_1.sql.gz", "2026-01-03T00:00:00.000Z", "complete");
    insert(c, "app%", "app%25_1.sql.gz", "2026-01-03T00:00:00.000Z", "complete");
    insert(c, "ap_", "ap__1.sql.gz", "2026-01-03T00:00:00.000Z", "complete");
    insert(c, "app", "app_2.sql.gz", "2026-01-02T00:00:00.000Z", "failed");
    insert(c, "app", "app_3.sql.gz", "2026-01-04T00:00:00.000Z", "running");
    int64_t newest = insert(c, "app", "app_4.sql.gz", "2026-01-05T00:00:00.000Z", "complete");

    struct retention_row *rows = NULL;
    size_t n = 0;
    CHECK_INT(catalog_retention_rows(c, "app", &rows, &n), 0);
    CHECK_INT(n, 3); /* two complete, one failed; not the running one */
    for (size_t i = 0; i < n; i++)
        CHECK_STR(rows[i].db_name, "app");
    if (n == 3) {
        CHECK_INT(rows[0].id, newest);
        CHECK_STR(rows[0].file_name, "app_4.sql.gz");
        CHECK_STR(rows[0].started_at, "2026-01-05T00:00:00.000Z");
        CHECK(rows[0].complete);
        CHECK(!rows[1].complete);
        CHECK_STR(rows[2].file_name, "app_1.sql.gz");
        CHECK(rows[2].complete);
        CHECK_INT(rows[2].size_bytes, 100);
    }
    retention_rows_free(rows, n);

    /* a name with no backups: nothing, and no error */
    CHECK_INT(catalog_retention_rows(c, "ap", &rows, &n), 0);
    CHECK_INT(n, 0);
    retention_rows_free(rows, n);

    /* every database: grouped by name, newest first within each */
    CHECK_INT(catalog_retention_rows(c, NULL, &rows, &n), 0);
    CHECK_INT(n, 7);
    for (size_t i = 1; i < n; i++) {
        int cmp = strcmp(rows[i - 1].db_name, rows[i].db_name);
        CHECK(cmp <= 0);
        if (cmp == 0)
            CHECK(strcmp(rows[i - 1].started_at, rows[i].started_at) >= 0);
    }
    retention_rows_free(rows, n);
    catalog_close(c);
}

static char *query_text(struct catalog *c, int64_t id, const char *what)
{
    struct backup_rec b;
    if (catalog_backup_get(c, id, &b) != 0)
        return xstrdup("(none)");
    char *r = NULL;
    if (strcmp(what, "status") == 0)
        r = xstrdup(b.status);
    else if (strcmp(what, "rule") == 0)
        r = xstrdup(b.prune_rule ? b.prune_rule : "(null)");
    else if (strcmp(what, "pruned_at") == 0)
        r = xstrdup(b.pruned_at ? b.pruned_at : "(null)");
    else if (strcmp(what, "error") == 0)
        r = xstrdup(b.error ? b.error : "(null)");
    else if (strcmp(what, "pinned") == 0)
        r = xstrdup(b.pinned ? "1" : "0");
    backup_rec_free(&b);
    return r;
}

#define CHECK_COL(c, id, what, want)                                                               \
    do {                                                                                           \
        char *v_ = query_text(c, id, what);                                                        \
        CHECK_STR(v_, want);                                                                       \
        free(v_);                                                                                  \
    } while (0)

static void test_catalog_retire_pin_interrupt(void)
{
    struct catalog *c = open_catalog("retire.db");
    if (!c)
        return;
    int64_t a = insert(c, "app", "a.sql.gz", "2026-01-01T00:00:00.000Z", "complete");
    int64_t b = insert(c, "app", "b.sql.gz", "2026-01-02T00:00:00.000Z", "complete");
    int64_t r = insert(c, "app", "r.sql.gz", "2026-01-03T00:00:00.000Z", "running");

    CHECK_INT(catalog_backup_retire(c, a, "pruned", "2026-02-01T00:00:00.000Z", "older than 7 days",
                                    "a.sql.gz removed"),
              0);
    CHECK_COL(c, a, "status", "pruned");
    CHECK_COL(c, a, "rule", "older than 7 days");
    CHECK_COL(c, a, "pruned_at", "2026-02-01T00:00:00.000Z");
    /* only a complete row can be retired, once */
    err_clear();
    CHECK_INT(catalog_backup_retire(c, a, "pruned", "2026-02-01T00:00:00.000Z", "x", "x"), -1);
    CHECK_STR(err_msg(), "backup 1 is no longer complete");
    err_clear();
    CHECK_INT(catalog_backup_retire(c, b, "missing", "2026-02-01T00:00:00.000Z", "beyond count 1",
                                    "b.sql.gz was already missing"),
              0);
    CHECK_COL(c, b, "status", "missing");

    CHECK_INT(catalog_backup_set_pinned(c, b, true, "pinned"), 0);
    CHECK_COL(c, b, "pinned", "1");
    CHECK_INT(catalog_backup_set_pinned(c, b, false, "unpinned"), 0);
    CHECK_COL(c, b, "pinned", "0");

    struct backup_rec *rows = NULL;
    size_t n = 0;
    CHECK_INT(catalog_running_backups(c, &rows, &n), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(rows[0].id, r);
        CHECK_INT(rows[0].pid, 4242);
        CHECK_STR(rows[0].host, "elsewhere");
    }
    backup_recs_free(rows, n);
    CHECK_INT(catalog_backup_interrupted(c, r, "2026-01-03T01:00:00.000Z",
                                         "interrupted (process 4242 on elsewhere is gone)", "d"),
              0);
    CHECK_COL(c, r, "status", "failed");
    CHECK_COL(c, r, "error", "interrupted (process 4242 on elsewhere is gone)");
    err_clear();
    CHECK_INT(catalog_backup_interrupted(c, r, "x", "y", "z"), -1);
    err_clear();
    CHECK_INT(catalog_running_backups(c, &rows, &n), 0);
    CHECK_INT(n, 0);
    backup_recs_free(rows, n);
    catalog_close(c);
}

/* --- recover.c: which names are a backup's partial file --- */

static void test_partial_names(void)
{
    CHECK(recover_is_partial_name("app_20260105_030000.sql.gz.partial"));
    CHECK(recover_is_partial_name("app_20260105_030000.sql.partial"));
    CHECK(recover_is_partial_name("app_20260105_030000_2.sql.gz.partial"));
    CHECK(recover_is_partial_name("my%20db_20260105_030000.sql.gz.partial"));
    CHECK(recover_is_partial_name("app_staging_20260105_030000.sql.gz.partial"));
    CHECK(!recover_is_partial_name("app_20260105_030000.sql.gz"));
    CHECK(!recover_is_partial_name("notes.partial"));
    CHECK(!recover_is_partial_name(".partial"));
    CHECK(!recover_is_partial_name("app_20260105_030000.tar.partial"));
    CHECK(!recover_is_partial_name("app_20261305_030000.sql.gz.partial"));
    CHECK(!recover_is_partial_name("x/app_20260105_030000.sql.gz.partial"));
    CHECK(!recover_is_partial_name("catalog.db"));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_retention.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror(tmpdir);
        return 1;
    }

    RUN(test_empty);
    RUN(test_older_than_days);
    RUN(test_days_boundary);
    RUN(test_beyond_count);
    RUN(test_both_rules);
    RUN(test_suspect_does_not_push_out);
    RUN(test_suspect_beyond_count);
    RUN(test_suspect_by_age);
    RUN(test_suspect_min_keep_fills_gap);
    RUN(test_suspect_fills_no_slot);
    RUN(test_suspect_pinned);
    RUN(test_zero_disables);
    RUN(test_all_old_min_keep);
    RUN(test_failed_never_count);
    RUN(test_pinned);
    RUN(test_ties);
    RUN(test_future_refused);
    RUN(test_daily_slots);
    RUN(test_weekly_slots_new_year);
    RUN(test_monthly_slots_new_year);
    RUN(test_protection_order);
    RUN(test_before_epoch);
    RUN(test_time_zone_independent);
    RUN(test_policy_from_settings);
    RUN(test_catalog_rows_exact_db);
    RUN(test_catalog_retire_pin_interrupt);
    RUN(test_partial_names);

    int rc = UNIT_DONE();
    if (rc == 0)
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
