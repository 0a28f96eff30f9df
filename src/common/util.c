#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(void)
{
    fputs("pgvault: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

void *xmalloc_io(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, n ? n : 1) != 0)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    sbuf_add(b, "", 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        /* doubling, so that a string printed piece by piece costs linear time */
        size_t need = b->len + (size_t)n + 1;
        b->cap = 2 * b->cap > need ? 2 * b->cap : need;
        b->data = xrealloc(b->data, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sbuf_free(struct sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *time_iso(time_t t, char buf[static 21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *time_iso_ms(const struct timespec *ts, char buf[static 25])
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char base[20];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 25, "%.19s.%03uZ", base, (unsigned)(ts->tv_nsec / 1000000) % 1000u);
    return buf;
}

char *time_now_iso(char buf[static 25])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return time_iso_ms(&ts, buf);
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* The date and time fields of "YYYY-MM-DD?HH:MM:SS", the length parsed, or -1. */
static int parse_fields(const char *s, int f[6])
{
    /* the shape the catalog writes, without sscanf: prune and check read every row */
    if (strnlen(s, 19) == 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
        s[13] == ':' && s[16] == ':') {
        static const int at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
        bool ok = true;
        for (int i = 0; i < 6 && ok; i++)
            ok = (f[i] = digits(s + at[i], len[i])) >= 0;
        if (ok)
            return 19;
    }
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%n", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &n) !=
        6)
        return -1;
    return n;
}

int time_parse_iso(const char *s, time_t *out)
{
    int f[6];
    int n = parse_fields(s, f);
    if (n < 0)
        return -1;
    const char *rest = s + n;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (*rest == 'Z')
        rest++;
    if (*rest != '\0')
        return -1;
    return time_from_utc(f[0], f[1], f[2], f[3], f[4], f[5], out);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int time_from_utc(int year, int month, int day, int hour, int min, int sec, time_t *out)
{
    /* every field in its range: no normalizing of February 30 into March */
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
        return -1;
    *out = (time_t)(days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec);
    return 0;
}

double time_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || end == s || v < min || v > max)
        return -1;
    /* strtol accepts leading white space of any kind and '+'; a number should not */
    if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return -1;
    *out = v;
    return 0;
}

char *fmt_size(uint64_t bytes, char buf[static 16])
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, 16, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, 16, "%.1f %s", v, units[u]);
    return buf;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

const char *os_user(void)
{
    static char name[64];
    if (name[0])
        return name;
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid:%u", (unsigned)geteuid());
    return name;
}
