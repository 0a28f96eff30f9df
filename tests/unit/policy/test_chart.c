/* Unit tests for src/policy/chart.c: scales, round axes, units, time ticks and the
 * people's formats of the report. */
#include "policy/chart.h"

#include <math.h>
#include <string.h>

#include "unit.h"

/* 2026-11-25T12:00:00Z, a Wednesday */
#define NOW ((time_t)1795608000)
#define DAY 86400

#define CHECK_NEAR(a, b) CHECK(fabs((double)(a) - (double)(b)) < 1e-9)

static void test_scale(void)
{
    CHECK_NEAR(chart_scale(5, 0, 10, 0, 100), 50);
    CHECK_NEAR(chart_scale(0, 0, 10, 200, 20), 200); /* a y axis runs upwards */
    CHECK_NEAR(chart_scale(10, 0, 10, 200, 20), 20);
    CHECK_NEAR(chart_scale(7, 3, 3, 0, 100), 50); /* an empty domain: the middle */
    CHECK_NEAR(chart_scale(-5, 0, 10, 0, 100), -50);
}

static void check_axis(double lo, double hi, int max, double alo, double ahi, double step, int n)
{
    struct chart_axis ax;
    chart_nice_axis(lo, hi, max, &ax);
    CHECK_NEAR(ax.lo, alo);
    CHECK_NEAR(ax.hi, ahi);
    CHECK_NEAR(ax.step, step);
    CHECK_INT(ax.n, n);
}

static void test_nice_axis(void)
{
    check_axis(0, 13, 4, 0, 15, 5, 3);
    check_axis(0, 800, 4, 0, 800, 200, 4);
    check_axis(0, 7.9, 4, 0, 8, 2, 4);
    check_axis(0, 1000, 4, 0, 1000, 500, 2);
    check_axis(-3, 7, 5, -5, 10, 5, 3);
    check_axis(0, 0.37, 4, 0, 0.4, 0.1, 4);
    check_axis(0, 0, 4, 0, 1, 0.5, 2);        /* nothing to show: one round interval */
    check_axis(5, 5, 4, 4, 10, 2, 3);         /* one value: room above it */
    check_axis(13, 0, 4, 0, 15, 5, 3);        /* given the wrong way round */
    check_axis(0, 1e12, 1, 0, 1e12, 1e12, 1); /* one interval */
    struct chart_axis ax;
    chart_nice_axis(0, 123456789, 6, &ax);
    CHECK(ax.n <= 6 && ax.hi >= 123456789 && ax.lo == 0);
}

static void test_units(void)
{
    CHECK_STR(chart_bytes_unit(0).name, "B");
    CHECK_STR(chart_bytes_unit(1023).name, "B");
    CHECK_STR(chart_bytes_unit(1024).name, "KiB");
    CHECK_STR(chart_bytes_unit(8.3e6).name, "MiB");
    CHECK_NEAR(chart_bytes_unit(8.3e6).div, 1048576);
    CHECK_STR(chart_bytes_unit(5e12).name, "TiB");
    CHECK_STR(chart_bytes_unit(1e30).name, "PiB");
    CHECK_STR(chart_duration_unit(999).name, "ms");
    CHECK_STR(chart_duration_unit(1000).name, "s");
    CHECK_STR(chart_duration_unit(61000).name, "min");
    CHECK_STR(chart_duration_unit(3.6e6).name, "h");
    CHECK_NEAR(chart_duration_unit(3.6e6).div, 3.6e6);
}

static void test_fmt_tick(void)
{
    char b[32];
    CHECK_STR(chart_fmt_tick(2.5, 0.5, b, sizeof(b)), "2.5");
    CHECK_STR(chart_fmt_tick(10, 5, b, sizeof(b)), "10");
    CHECK_STR(chart_fmt_tick(1.25, 0.25, b, sizeof(b)), "1.25");
    CHECK_STR(chart_fmt_tick(0.30000000000000004, 0.1, b, sizeof(b)), "0.3");
    CHECK_STR(chart_fmt_tick(-1e-17, 0.2, b, sizeof(b)), "0.0");
    CHECK_STR(chart_fmt_tick(-1e-17, 5, b, sizeof(b)), "0");
    CHECK_STR(chart_fmt_tick(2000, 1000, b, sizeof(b)), "2000");
}

static void test_time_ticks(void)
{
    time_t t[8];
    enum chart_time_label lab;
    char b[32];

    /* seconds */
    CHECK_INT(chart_time_ticks(NOW, NOW + 1, 5, t, &lab), 2);
    CHECK_INT(t[0], NOW);
    CHECK_INT(lab, CHART_TIME_SECONDS);
    CHECK_STR(chart_fmt_time(t[1], lab, b, sizeof(b)), "12:00:01");
    /* hours within one day, then over two days */
    CHECK_INT(chart_time_ticks(NOW, NOW + 5 * 3600, 5, t, &lab), 3);
    CHECK_INT(t[1], NOW + 2 * 3600);
    CHECK_INT(lab, CHART_TIME_MINUTES);
    CHECK_STR(chart_fmt_time(t[1], lab, b, sizeof(b)), "14:00");
    CHECK_INT(chart_time_ticks(NOW, NOW + 20 * 3600, 5, t, &lab), 4);
    CHECK_INT(lab, CHART_TIME_HOURS);
    CHECK_STR(chart_fmt_time(t[2], lab, b, sizeof(b)), "Nov 26 00:00");
    /* a month: Mondays, weekly */
    CHECK_INT(chart_time_ticks(NOW, NOW + 30 * DAY, 5, t, &lab), 4);
    CHECK_INT(t[0], 1795996800); /* Monday 2026-11-30 */
    CHECK_INT(t[1], 1795996800 + 7 * DAY);
    CHECK_INT(lab, CHART_TIME_DAYS);
    CHECK_STR(chart_fmt_time(t[0], lab, b, sizeof(b)), "Nov 30");
    /* a year and more: the first of every third month */
    CHECK_INT(chart_time_ticks(NOW, NOW + 400 * DAY, 5, t, &lab), 4);
    CHECK_INT(t[0], 1798761600); /* 2027-01-01 */
    CHECK_INT(lab, CHART_TIME_MONTHS);
    CHECK_STR(chart_fmt_time(t[0], lab, b, sizeof(b)), "Jan 2027");
    CHECK_STR(chart_fmt_time(t[3], lab, b, sizeof(b)), "Oct 2027");
    /* one moment, no room */
    CHECK_INT(chart_time_ticks(NOW, NOW, 5, t, &lab), 1);
    CHECK_INT(t[0], NOW);
    CHECK_INT(chart_time_ticks(NOW, NOW + DAY, 0, t, &lab), 0);
    /* never more than asked, whatever the span */
    for (time_t span = 1; span < 40L * 365 * DAY; span = span * 3 + 7) {
        size_t n = chart_time_ticks(NOW, NOW + span, 6, t, &lab);
        CHECK(n <= 6);
        for (size_t i = 0; i < n; i++)
            CHECK(t[i] >= NOW && t[i] <= NOW + span);
    }
}

static void test_people(void)
{
    char b[32];
    CHECK_STR(chart_fmt_age(45, b, sizeof(b)), "45 s");
    CHECK_STR(chart_fmt_age(600, b, sizeof(b)), "10 min");
    CHECK_STR(chart_fmt_age(22318, b, sizeof(b)), "6.2 h");
    CHECK_STR(chart_fmt_age(3 * DAY, b, sizeof(b)), "3.0 d");
    CHECK_STR(chart_fmt_age(-5, b, sizeof(b)), "in the future");
    CHECK_STR(chart_fmt_duration(350, b, sizeof(b)), "350 ms");
    CHECK_STR(chart_fmt_duration(4200, b, sizeof(b)), "4.2 s");
    CHECK_STR(chart_fmt_duration(125000, b, sizeof(b)), "2 min 5 s");
    CHECK_STR(chart_fmt_duration(4320000, b, sizeof(b)), "1 h 12 min");
    CHECK_STR(chart_fmt_duration(-1, b, sizeof(b)), "0 ms");
}

int main(void)
{
    RUN(test_scale);
    RUN(test_nice_axis);
    RUN(test_units);
    RUN(test_fmt_tick);
    RUN(test_time_ticks);
    RUN(test_people);
    return UNIT_DONE();
}
