#include "common/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"
#include "common/util.h"

#define MiB (1024.0 * 1024.0)

static double fake_now;

static double fake_clock(void)
{
    return fake_now;
}

/* What has been written to the pipe so far (non-blocking read end); caller frees. */
static char *drain(int fd)
{
    struct sbuf b = {0};
    char buf[4096];
    ssize_t n;
    sbuf_add(&b, "", 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            sbuf_add(&b, buf, (size_t)n);
    return b.data;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_format_exact_total(void)
{
    char line[256];
    struct progress *p = progress_new(1, "verify 3 (shop.sql.gz)", (uint64_t)(100 * MiB), false, 0);
    progress_format(p, (uint64_t)(25 * MiB), 5.0, line, sizeof(line));
    CHECK_STR(
        line,
        "verify 3 (shop.sql.gz): 25.0 MiB of 100.0 MiB (25%), 5.0 MiB/s, 0:05 elapsed, ETA 0:15");
    progress_format(p, (uint64_t)(100 * MiB), 3725.0, line, sizeof(line));
    CHECK_STR(line, "verify 3 (shop.sql.gz): 100.0 MiB of 100.0 MiB (100%), 27.5 KiB/s, 1:02:05 "
                    "elapsed, ETA 0:00");
    /* under half a second there is no measured rate yet, hence no ETA without history */
    progress_format(p, 1000, 0.1, line, sizeof(line));
    CHECK_STR(line, "verify 3 (shop.sql.gz): 1000 B of 100.0 MiB (0%), 0:00 elapsed");
    progress_free(p);
}

static void test_format_estimate(void)
{
    char line[256];
    /* 100 MiB expected at 10 MiB/s: at the start the history alone gives the ETA */
    struct progress *p = progress_new(1, "backup \"shop\"", (uint64_t)(100 * MiB), true, 10 * MiB);
    progress_format(p, 0, 0.0, line, sizeof(line));
    CHECK_STR(line, "backup \"shop\": 0 B of ~100.0 MiB (0%), 0:00 elapsed, ETA 0:10");
    /* after 10 s the measured rate (5 MiB/s) has taken over */
    progress_format(p, (uint64_t)(50 * MiB), 10.0, line, sizeof(line));
    CHECK_STR(line,
              "backup \"shop\": 50.0 MiB of ~100.0 MiB (50%), 5.0 MiB/s, 0:10 elapsed, ETA 0:10");
    /* half-way through the blend: 0.5 * 10 + 0.5 * 4 = 7 MiB/s for the 80 MiB left */
    progress_format(p, (uint64_t)(20 * MiB), 5.0, line, sizeof(line));
    CHECK_STR(line,
              "backup \"shop\": 20.0 MiB of ~100.0 MiB (20%), 4.0 MiB/s, 0:05 elapsed, ETA 0:12");
    /* a database that grew past the estimate: no total, no ETA */
    progress_format(p, (uint64_t)(120 * MiB), 12.0, line, sizeof(line));
    CHECK_STR(line, "backup \"shop\": 120.0 MiB, 10.0 MiB/s, 0:12 elapsed");
    progress_free(p);

    /* no history at all */
    p = progress_new(1, "backup \"new\"", 0, true, 0);
    progress_format(p, (uint64_t)(3 * MiB), 2.0, line, sizeof(line));
    CHECK_STR(line, "backup \"new\": 3.0 MiB, 1.5 MiB/s, 0:02 elapsed");
    progress_free(p);
}

static void test_label_sanitized(void)
{
    char line[256];
    struct progress *p =
        progress_new(1, "backup \"a\x1b[2Jb\x7f\xc2\x9b\tc\xc3\xa9\"", 0, false, 0);
    progress_format(p, 0, 0, line, sizeof(line));
    CHECK_STR(line, "backup \"a?[2Jb???c\xc3\xa9\": 0 B, 0:00 elapsed");
    progress_free(p);
}

static void test_redraw_rate_and_clear(void)
{
    int fds[2];
    CHECK_INT(pipe2(fds, O_NONBLOCK), 0);
    progress_set_clock(fake_clock);
    fake_now = 100.0;
    struct progress *p = progress_new(fds[1], "verify 1 (x)", 1000, false, 0);

    /* the first report draws at once; then at most one redraw per 0.2 s (the fake times
     * are binary fractions, exact in a double) */
    progress_update(p, 100);
    fake_now = 100.125;
    progress_update(p, 200);
    fake_now = 100.1875;
    progress_update(p, 300);
    fake_now = 100.25;
    progress_update(p, 400);
    for (int i = 0; i < 16; i++) { /* 16 reports over the next second: 4 redraws */
        fake_now += 0.0625;
        progress_update(p, 400 + (uint64_t)i);
    }
    char *out = drain(fds[0]);
    CHECK_INT(count(out, "\r"), 6);
    CHECK_INT(count(out, "\033[K"), 6);
    const char *first = "\rverify 1 (x): 100 B of 1000 B (10%), 0:00 elapsed\033[K\r";
    CHECK(strncmp(out, first, strlen(first)) == 0);
    CHECK(strstr(out, "verify 1 (x): 400 B of 1000 B (40%)") != NULL);
    CHECK(strstr(out, "verify 1 (x): 200 B") == NULL);
    free(out);

    /* the end clears the line */
    progress_free(p);
    out = drain(fds[0]);
    CHECK_STR(out, "\r\033[K");
    free(out);

    /* a line that was never drawn leaves nothing behind; the limit holds across lines */
    p = progress_new(fds[1], "verify 2 (y)", 1000, false, 0);
    fake_now += 0.1;
    progress_update(p, 10);
    progress_free(p);
    out = drain(fds[0]);
    CHECK_STR(out, "");
    free(out);

    /* NULL: progress is off */
    progress_update(NULL, 5);
    progress_free(NULL);
    CHECK(progress_new(-1, "x", 0, false, 0) == NULL);

    progress_set_clock(NULL);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    RUN(test_format_exact_total);
    RUN(test_format_estimate);
    RUN(test_label_sanitized);
    RUN(test_redraw_rate_and_clear);
    return UNIT_DONE();
}
