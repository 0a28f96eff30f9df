#include "common/progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/util.h"

/* At most five redraws a second, across every line of the process. */
#define REDRAW_INTERVAL 0.2
/* The expected rate counts fully at the start, the measured one after this many seconds. */
#define BLEND_SECONDS 10.0

struct progress {
    int fd;
    char *label;
    uint64_t total;
    bool estimated;
    double rate; /* expected bytes per second, 0 unknown */
    double start;
    bool drawn;
    int width; /* terminal columns, 0 unknown */
};

static double (*clock_fn)(void) = time_mono;
static bool ever_drawn;
static double last_draw;

void progress_set_clock(double (*clock)(void))
{
    clock_fn = clock ? clock : time_mono;
    ever_drawn = false;
}

/* The label with control characters (C0, DEL, and C1 encoded in UTF-8) shown as '?', so
 * that a database or file name cannot move the cursor or change the terminal. */
static char *sanitize(const char *s)
{
    char *out = xstrdup(s ? s : "");
    size_t w = 0;
    for (size_t r = 0; out[r]; r++) {
        unsigned char c = (unsigned char)out[r];
        if (c == 0xc2 && (unsigned char)out[r + 1] >= 0x80 && (unsigned char)out[r + 1] <= 0x9f) {
            out[w++] = '?';
            r++;
        } else {
            out[w++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    out[w] = '\0';
    return out;
}

struct progress *progress_new(int fd, const char *label, uint64_t total, bool estimated,
                              double rate)
{
    if (fd < 0)
        return NULL;
    struct progress *p = xcalloc(1, sizeof(*p));
    p->fd = fd;
    p->label = sanitize(label);
    p->total = total;
    p->estimated = estimated && total > 0;
    p->rate = rate > 0 ? rate : 0;
    p->start = clock_fn();
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0)
        p->width = ws.ws_col;
    return p;
}

struct progress *progress_start(bool shown, const char *label, uint64_t total, bool estimated,
                                double rate)
{
    return progress_new(shown ? STDERR_FILENO : -1, label, total, estimated, rate);
}

/* "m:ss", or "h:mm:ss" from an hour on. */
static char *fmt_duration(double secs, char buf[static 24])
{
    long t = secs > 0 ? (long)secs : 0;
    if (t >= 3600)
        snprintf(buf, 24, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, 24, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

static void add(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/*
 * The rate the ETA assumes: the expected (historical) rate at first, giving way over
 * BLEND_SECONDS to the rate measured in this run; either alone when the other is unknown.
 */
static double eta_rate(const struct progress *p, uint64_t done, double elapsed)
{
    double measured = elapsed >= 0.5 && done > 0 ? (double)done / elapsed : 0;
    if (p->rate > 0 && measured > 0) {
        double w = elapsed >= BLEND_SECONDS ? 1.0 : elapsed / BLEND_SECONDS;
        return (1.0 - w) * p->rate + w * measured;
    }
    return p->rate > 0 ? p->rate : measured;
}

void progress_format(const struct progress *p, uint64_t done, double elapsed, char *buf,
                     size_t size)
{
    char a[16], b[16], t[24];
    size_t len = 0;
    buf[0] = '\0';
    /* an estimate that the run outgrew says nothing any more */
    bool have_total = p->total > 0 && !(p->estimated && done > p->total);

    add(buf, size, &len, "%s: %s", p->label, fmt_size(done, a));
    if (have_total) {
        uint64_t pct = done >= p->total ? 100 : done * 100 / p->total;
        add(buf, size, &len, " of %s%s (%llu%%)", p->estimated ? "~" : "", fmt_size(p->total, b),
            (unsigned long long)pct);
    }
    if (elapsed >= 0.5)
        add(buf, size, &len, ", %s/s", fmt_size((uint64_t)((double)done / elapsed), a));
    add(buf, size, &len, ", %s elapsed", fmt_duration(elapsed, t));
    if (have_total) {
        double r = eta_rate(p, done, elapsed);
        if (done >= p->total)
            add(buf, size, &len, ", ETA 0:00");
        else if (r > 0)
            add(buf, size, &len, ", ETA %s",
                fmt_duration((double)(p->total - done) / r + 0.999, t));
    }
}

/* Writes all of buf; a terminal that cannot take it is not worth an error. */
static void put(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Cuts s to fewer than width columns (counting UTF-8 characters), so it never wraps. */
static void fit(char *s, int width)
{
    if (width < 2)
        return;
    int cols = 0;
    for (size_t i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) == 0x80)
            continue;
        if (++cols >= width) {
            s[i] = '\0';
            return;
        }
    }
}

void progress_update(struct progress *p, uint64_t done)
{
    if (!p)
        return;
    double now = clock_fn();
    if (ever_drawn && now - last_draw < REDRAW_INTERVAL)
        return;
    ever_drawn = true;
    last_draw = now;
    char line[512], out[520];
    progress_format(p, done, now - p->start, line, sizeof(line));
    fit(line, p->width);
    int n = snprintf(out, sizeof(out), "\r%s\033[K", line);
    put(p->fd, out, n > 0 && (size_t)n < sizeof(out) ? (size_t)n : strlen(out));
    p->drawn = true;
}

void progress_free(struct progress *p)
{
    if (!p)
        return;
    if (p->drawn)
        put(p->fd, "\r\033[K", 4);
    free(p->label);
    free(p);
}
