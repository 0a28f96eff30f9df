/*
 * The retention plan: a pure function of the backups of one database,
 * the policy and the time. No I/O, no clock: command/prune.c does the rest.
 */
#include "policy/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

#define DAY_SECONDS 86400

/* Newest first: started descending, then id descending (as the catalog orders them). */
static int cmp_newest(const void *x, const void *y, void *arg)
{
    const struct retention_backup *b = arg;
    const struct retention_backup *p = &b[*(const size_t *)x], *q = &b[*(const size_t *)y];
    if (p->started != q->started)
        return p->started > q->started ? -1 : 1;
    if (p->id != q->id)
        return p->id > q->id ? -1 : 1;
    return 0;
}

/* Days since the epoch of the UTC day that holds t (floor, also before 1970). */
static int64_t day_number(time_t t)
{
    int64_t s = (int64_t)t;
    return s >= 0 ? s / DAY_SECONDS : -((-s + DAY_SECONDS - 1) / DAY_SECONDS);
}

enum slot_kind { SLOT_DAY, SLOT_WEEK, SLOT_MONTH, SLOT_KINDS };

/* The UTC calendar periods that hold one backup's time. */
struct period {
    int64_t key[SLOT_KINDS]; /* one number per period, increasing with time */
    int year, month, mday;   /* the UTC date */
    int iso_year, iso_week;  /* its ISO 8601 week */
};

static int days_in_year(int y)
{
    return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
}

static void period_of(time_t t, struct period *p)
{
    int64_t day = day_number(t);
    time_t midnight = (time_t)(day * DAY_SECONDS);
    struct tm tm;
    gmtime_r(&midnight, &tm);
    p->year = tm.tm_year + 1900;
    p->month = tm.tm_mon + 1;
    p->mday = tm.tm_mday;

    /* a Monday-to-Sunday week belongs to the year that holds its Thursday */
    int thursday = tm.tm_yday - (tm.tm_wday + 6) % 7 + 3;
    p->iso_year = p->year;
    if (thursday < 0) {
        p->iso_year--;
        thursday += days_in_year(p->iso_year);
    } else if (thursday >= days_in_year(p->year)) {
        thursday -= days_in_year(p->year);
        p->iso_year++;
    }
    p->iso_week = thursday / 7 + 1;

    p->key[SLOT_DAY] = day;
    p->key[SLOT_WEEK] = (int64_t)p->iso_year * 100 + p->iso_week;
    p->key[SLOT_MONTH] = (int64_t)p->year * 12 + tm.tm_mon;
}

/* "daily slot 2026-01-05", "weekly slot 2026-W01", "monthly slot 2026-01" */
static void slot_reason(enum slot_kind k, const struct period *p, char *buf, size_t size)
{
    if (k == SLOT_DAY)
        snprintf(buf, size, "daily slot %04d-%02d-%02d", p->year, p->month, p->mday);
    else if (k == SLOT_WEEK)
        snprintf(buf, size, "weekly slot %04d-W%02d", p->iso_year, p->iso_week);
    else
        snprintf(buf, size, "monthly slot %04d-%02d", p->year, p->month);
}

static long nonneg(long v)
{
    return v > 0 ? v : 0;
}

int retention_plan(const char *db, const struct retention_backup *b, size_t n,
                   const struct retention_policy *p, time_t now, struct retention_decision *out)
{
    long days = nonneg(p->days), count = nonneg(p->count), min_keep = nonneg(p->min_keep);
    long slots_wanted[SLOT_KINDS] = {nonneg(p->keep_daily), nonneg(p->keep_weekly),
                                     nonneg(p->keep_monthly)};

    /* 1. the complete backups, newest first */
    size_t *order = xmalloc((n ? n : 1) * sizeof(*order));
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        out[i].action = RETENTION_SKIP;
        out[i].reason[0] = '\0';
        if (b[i].complete)
            order[nc++] = i;
    }
    qsort_r(order, nc, sizeof(*order), cmp_newest, (void *)b);

    /* 2. a newest backup from the future means the clock is wrong: decide nothing */
    if (nc > 0 && b[order[0]].started > now + RETENTION_FUTURE_TOLERANCE) {
        free(order);
        return err_set(ERR_FAILED,
                       "refusing to prune: newest backup of \"%s\" is dated in the future "
                       "(clock skew?)",
                       db);
    }

    /* 3. the good backups (complete, not suspect): the only ones the count rules count */
    size_t ngood = 0;
    for (size_t r = 0; r < nc; r++)
        ngood += !b[order[r]].suspect;

    /* 4. each backup in rank order: the removal rules, then what may protect it */
    int64_t last_slot[SLOT_KINDS] = {0, 0, 0};
    long slots_seen[SLOT_KINDS] = {0, 0, 0};
    size_t good_newer = 0, suspect_newer = 0;
    for (size_t r = 0; r < nc; r++) {
        const struct retention_backup *x = &b[order[r]];
        struct retention_decision *d = &out[order[r]];
        /* a suspect backup's reason says so: "suspect, older than 7 days" */
        int pre = x->suspect ? snprintf(d->reason, sizeof(d->reason), "suspect, ") : 0;
        char *why = d->reason + pre;
        size_t wsz = sizeof(d->reason) - (size_t)pre;

        /* the newest good backup of each period: the first seen, walking newest first */
        struct period per;
        bool slot_newest[SLOT_KINDS] = {false, false, false};
        period_of(x->started, &per);
        for (int k = 0; k < SLOT_KINDS && !x->suspect; k++) {
            slot_newest[k] = good_newer == 0 || per.key[k] != last_slot[k];
            if (slot_newest[k])
                slots_seen[k]++;
            last_slot[k] = per.key[k];
        }

        /* rank: the good backups newer than this one; a suspect backup goes by count only
         * behind COUNT good ones, and is kept by min-keep only where too few good ones are
         * left to fill it (the newest suspect ones first) */
        bool too_old = days > 0 && now - x->started > (time_t)days * DAY_SECONDS;
        bool beyond = count > 0 && good_newer >= (size_t)count;
        bool min_kept =
            x->suspect ? ngood + suspect_newer < (size_t)min_keep : good_newer < (size_t)min_keep;
        if (x->suspect)
            suspect_newer++;
        else
            good_newer++;

        d->action = RETENTION_KEEP;
        if (x->pinned) {
            snprintf(d->reason, sizeof(d->reason), "pinned");
            continue;
        }
        if (!too_old && !beyond) {
            if (days > 0)
                snprintf(why, wsz, "within %ld day%s", days, days == 1 ? "" : "s");
            else if (count > 0)
                snprintf(why, wsz, "among newest %ld", count);
            else
                snprintf(why, wsz, "no age or count limit");
            continue;
        }
        if (min_kept) {
            snprintf(why, wsz, "min-keep");
            continue;
        }
        bool slot = false;
        for (int k = 0; k < SLOT_KINDS && !slot; k++) {
            if (slot_newest[k] && slots_seen[k] <= slots_wanted[k]) {
                slot_reason((enum slot_kind)k, &per, why, wsz);
                slot = true;
            }
        }
        if (slot)
            continue;
        d->action = RETENTION_REMOVE;
        if (too_old)
            snprintf(why, wsz, "older than %ld day%s", days, days == 1 ? "" : "s");
        else
            snprintf(why, wsz, "beyond count %ld", count);
    }
    free(order);
    return 0;
}

void retention_policy_from(const struct settings *set, struct retention_policy *p)
{
    p->days = set->retention_days;
    p->count = set->keep_count;
    p->keep_daily = set->keep_daily;
    p->keep_weekly = set->keep_weekly;
    p->keep_monthly = set->keep_monthly;
    p->min_keep = set->min_keep;
}
