#include "common/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static struct {
    FILE *orig_out, *orig_err; /* non-NULL while capturing */
    struct sbuf text;
    size_t dropped;
} cap;

/* Writes to the original stream and keeps a copy. */
static ssize_t tee_write(void *cookie, const char *buf, size_t n)
{
    FILE *orig = cookie;
    size_t room = cap.text.len < CAPTURE_MAX ? CAPTURE_MAX - cap.text.len : 0;
    sbuf_add(&cap.text, buf, n < room ? n : room);
    cap.dropped += n < room ? 0 : n - room;
    if (fwrite(buf, 1, n, orig) != n)
        return -1;
    return fflush(orig) == 0 ? (ssize_t)n : -1;
}

static FILE *tee_open(FILE *orig)
{
    cookie_io_functions_t io = {.write = tee_write};
    FILE *f = fopencookie(orig, "w", io);
    if (f)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

int capture_start(void)
{
    if (cap.orig_out)
        return 0;
    fflush(stdout);
    FILE *out = tee_open(stdout), *err = tee_open(stderr);
    if (!out || !err) {
        if (out)
            fclose(out);
        if (err)
            fclose(err);
        return -1;
    }
    sbuf_add(&cap.text, "", 0);
    cap.orig_out = stdout;
    cap.orig_err = stderr;
    /* glibc's standard streams are variables that may be assigned */
    stdout = out;
    stderr = err;
    return 0;
}

const char *capture_text(size_t *dropped)
{
    *dropped = cap.dropped;
    if (!cap.orig_out)
        return "";
    fflush(stdout);
    fflush(stderr);
    return cap.text.data ? cap.text.data : "";
}

void capture_stop(void)
{
    if (!cap.orig_out)
        return;
    FILE *out = stdout, *err = stderr;
    stdout = cap.orig_out;
    stderr = cap.orig_err;
    fclose(out);
    fclose(err);
    cap.orig_out = cap.orig_err = NULL;
    sbuf_free(&cap.text);
    cap.dropped = 0;
}
