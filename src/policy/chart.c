/* The report's chart arithmetic: scales, round ticks, units. No I/O, no clock. */
#include "policy/chart.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/util.h"

#define DAY 86400L

double chart_scale(double v, double d0, double d1, double r0, double r1)
{
    if (d1 == d0)
        return (r0 + r1) / 2;
    return r0 + (v - d0) * (r1 - r0) / (d1 - d0);
}

/* The axis of step step over [lo, hi]; false if it needs more than max intervals. */
static bool axis_with_step(double lo, double hi, double step, int max, struct chart_axis *ax)
{
    double a = floor(lo / step + 1e-9) * step;
    double b = ceil(hi / step - 1e-9) * step;
    long n = lround((b - a) / step);
    if (n < 1) {
        n = 1;
        b = a + step;
    }
    if (n > max)
        return false;
    *ax = (struct chart_axis){.lo = a, .hi = b, .step = step, .n = (int)n};
    return true;
}

void chart_nice_axis(double lo, double hi, int max_intervals, struct chart_axis *ax)
{
    static const double mults[] = {1, 2, 5, 10};
    if (max_intervals < 1)
        max_intervals = 1;
    if (hi < lo) {
        double t = hi;
        hi = lo;
        lo = t;
    }
    if (hi == lo)
        hi = lo == 0 ? 1 : lo + fabs(lo);
    double base = pow(10, floor(log10((hi - lo) / max_intervals)));
    for (;; base *= 10)
        for (size_t i = 0; i < sizeof(mults) / sizeof(mults[0]); i++)
            if (axis_with_step(lo, hi, mults[i] * base, max_intervals, ax))
                return;
}

struct chart_unit chart_bytes_unit(double max)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    struct chart_unit u = {1, names[0]};
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]) && max >= u.div * 1024; i++)
        u = (struct chart_unit){u.div * 1024, names[i]};
    return u;
}

struct chart_unit chart_duration_unit(double max_ms)
{
    if (max_ms >= 3600e3)
        return (struct chart_unit){3600e3, "h"};
    if (max_ms >= 60e3)
        return (struct chart_unit){60e3, "min"};
    if (max_ms >= 1e3)
        return (struct chart_unit){1e3, "s"};
    return (struct chart_unit){1, "ms"};
}

char *chart_fmt_tick(double v, double step, char *buf, size_t len)
{
    int decimals = 0;
    for (double s = fabs(step); decimals < 6 && s > 0 && fabs(s - round(s)) > 1e-6 * s; s *= 10)
        decimals++;
    if (fabs(v) < 1e-9 * (fabs(step) > 0 ? fabs(step) : 1))
        v = 0; /* never "-0" */
    snprintf(buf, len, "%.*f", decimals, v);
    return buf;
}

/* One candidate step of a time axis: seconds, or months when months > 0. */
struct time_step {
    long secs;
    int months;
};

static const struct time_step time_steps[] = {
    {1, 0},       {2, 0},       {5, 0},        {10, 0},       {15, 0},        {30, 0},
    {60, 0},      {120, 0},     {300, 0},      {600, 0},      {900, 0},       {1800, 0},
    {3600, 0},    {7200, 0},    {3 * 3600, 0}, {6 * 3600, 0}, {12 * 3600, 0}, {DAY, 0},
    {2 * DAY, 0}, {7 * DAY, 0}, {14 * DAY, 0}, {0, 1},        {0, 2},         {0, 3},
    {0, 6},       {0, 12},
};

/* Ticks every s.secs seconds (weeks start on Monday: 1970-01-05 is one). */
static size_t fixed_ticks(time_t lo, time_t hi, long secs, size_t max, time_t *out)
{
    long offset = secs % (7 * DAY) == 0 ? 4 * DAY : 0;
    long long first = (long long)ceil(((double)lo - offset) / secs) * secs + offset;
    size_t n = 0;
    for (long long t = first; t <= hi; t += secs) {
        if (n == max)
            return max + 1;
        out[n++] = (time_t)t;
    }
    return n;
}

/* Ticks on the first of every `months` months (months counted from year 0). */
static size_t month_ticks(time_t lo, time_t hi, int months, size_t max, time_t *out)
{
    struct tm tm;
    gmtime_r(&lo, &tm);
    long m = (tm.tm_year + 1900L) * 12 + tm.tm_mon;
    size_t n = 0;
    for (;; m++) {
        if (m % months != 0)
            continue;
        time_t t;
        if (time_from_utc((int)(m / 12), (int)(m % 12) + 1, 1, 0, 0, 0, &t) != 0)
            return n;
        if (t < lo)
            continue;
        if (t > hi)
            return n;
        if (n == max)
            return max + 1;
        out[n++] = t;
    }
}

static enum chart_time_label label_for(const struct time_step *s, time_t lo, time_t hi)
{
    if (s->months > 0)
        return CHART_TIME_MONTHS;
    if (s->secs < 60)
        return CHART_TIME_SECONDS;
    if (s->secs >= DAY)
        return CHART_TIME_DAYS;
    bool one_day = lo / DAY == hi / DAY;
    return s->secs < 3600 || one_day ? CHART_TIME_MINUTES : CHART_TIME_HOURS;
}

size_t chart_time_ticks(time_t lo, time_t hi, size_t max, time_t *out, enum chart_time_label *label)
{
    *label = CHART_TIME_SECONDS;
    if (max == 0)
        return 0;
    if (hi <= lo) {
        out[0] = lo;
        return 1;
    }
    const size_t nsteps = sizeof(time_steps) / sizeof(time_steps[0]);
    for (size_t i = 0; i < nsteps; i++) {
        const struct time_step *s = &time_steps[i];
        size_t n = s->months ? month_ticks(lo, hi, s->months, max, out)
                             : fixed_ticks(lo, hi, s->secs, max, out);
        if (n <= max && (n >= 2 || i == nsteps - 1)) {
            *label = label_for(s, lo, hi);
            return n;
        }
    }
    return 0;
}

char *chart_fmt_time(time_t t, enum chart_time_label label, char *buf, size_t len)
{
    static const char *const formats[] = {
        [CHART_TIME_SECONDS] = "%H:%M:%S",  [CHART_TIME_MINUTES] = "%H:%M",
        [CHART_TIME_HOURS] = "%b %d %H:%M", [CHART_TIME_DAYS] = "%b %d",
        [CHART_TIME_MONTHS] = "%b %Y",
    };
    struct tm tm;
    gmtime_r(&t, &tm);
    /* %b in the C locale (the program never calls setlocale) is English */
    if (strftime(buf, len, formats[label], &tm) == 0 && len > 0)
        buf[0] = '\0';
    return buf;
}

char *chart_fmt_age(int64_t seconds, char *buf, size_t len)
{
    if (seconds < 0)
        snprintf(buf, len, "in the future");
    else if (seconds < 90)
        snprintf(buf, len, "%lld s", (long long)seconds);
    else if (seconds < 90 * 60)
        snprintf(buf, len, "%lld min", (long long)(seconds / 60));
    else if (seconds < 48 * 3600)
        snprintf(buf, len, "%.1f h", (double)seconds / 3600);
    else
        snprintf(buf, len, "%.1f d", (double)seconds / DAY);
    return buf;
}

char *chart_fmt_duration(int64_t ms, char *buf, size_t len)
{
    long long s = ms / 1000;
    if (ms < 1000)
        snprintf(buf, len, "%lld ms", (long long)(ms < 0 ? 0 : ms));
    else if (ms < 60000)
        snprintf(buf, len, "%.1f s", (double)ms / 1000);
    else if (s < 3600)
        snprintf(buf, len, "%lld min %lld s", s / 60, s % 60);
    else
        snprintf(buf, len, "%lld h %lld min", s / 3600, s % 3600 / 60);
    return buf;
}
