#ifndef PGVAULT_CHART_H
#define PGVAULT_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * The arithmetic of the report's charts: scales, round axis ticks, units a person reads
 * (MiB, min, "Nov 25"). Pure functions, no I/O and no clock, so that every case can be
 * tested; the report's HTML is drawn from what they return.
 */

/* Maps v from the domain [d0, d1] onto the range [r0, r1]; an empty domain (d0 == d1)
 * maps everything to the middle of the range. */
double chart_scale(double v, double d0, double d1, double r0, double r1);

/* A value axis: ticks lo, lo + step, …, hi (n intervals), step 1, 2 or 5 times a power
 * of ten, lo and hi multiples of step that enclose the values. */
struct chart_axis {
    double lo, hi, step;
    int n;
};

/* The axis with at most max_intervals (>= 1) intervals that encloses [lo, hi] with the
 * smallest round step; lo == hi (or both 0) gives one interval above lo. */
void chart_nice_axis(double lo, double hi, int max_intervals, struct chart_axis *ax);

/* A unit for the values of an axis: the value divided by div is shown with name. */
struct chart_unit {
    double div;
    const char *name;
};

/* B, KiB, MiB, GiB, TiB, PiB: the largest whose one is at most max (B below 1 KiB). */
struct chart_unit chart_bytes_unit(double max);
/* ms, s, min, h: the largest whose one is at most max_ms (ms below 1 s). */
struct chart_unit chart_duration_unit(double max_ms);

/* v with as many decimals as step needs (step 0.25 → "1.25", step 5 → "10"), into buf. */
char *chart_fmt_tick(double v, double step, char *buf, size_t len);

/* How chart_time_ticks' ticks are labelled. */
enum chart_time_label {
    CHART_TIME_SECONDS, /* "14:05:30" */
    CHART_TIME_MINUTES, /* "14:05" */
    CHART_TIME_HOURS,   /* "Nov 25 14:00": hours over more than one day */
    CHART_TIME_DAYS,    /* "Nov 25" */
    CHART_TIME_MONTHS,  /* "Nov 2026" */
};

/*
 * Round UTC times within [lo, hi] for a time axis, at most max of them (>= 2): every
 * 1, 2, 5, 10, 15 or 30 seconds or minutes, 1, 2, 3, 6 or 12 hours, 1 or 2 days,
 * Mondays every 1 or 2 weeks, the first of every 1, 2, 3, 6 or 12 months, the smallest
 * step that fits. Writes them to out (room for max) and their label kind to *label;
 * returns how many. lo == hi gives the one tick lo.
 */
size_t chart_time_ticks(time_t lo, time_t hi, size_t max, time_t *out,
                        enum chart_time_label *label);

/* t (UTC) as label says, into buf. */
char *chart_fmt_time(time_t t, enum chart_time_label label, char *buf, size_t len);

/* An age for people: "45 s", "12 min", "6.2 h", "3.0 d" (negative: "in the future"). */
char *chart_fmt_age(int64_t seconds, char *buf, size_t len);

/* A duration for people: "350 ms", "4.2 s", "2 min 5 s", "1 h 12 min". */
char *chart_fmt_duration(int64_t ms, char *buf, size_t len);

#endif
