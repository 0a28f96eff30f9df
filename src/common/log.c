#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

static bool quiet_mode;
static bool journald_mode;

void log_setup(bool quiet, bool journald)
{
    quiet_mode = quiet;
    journald_mode = journald;
}

bool log_quiet(void)
{
    return quiet_mode;
}

/* One line: "<N>pgvault: [prefix]message" with the journald level only under systemd. */
static void emit(int level, const char *prefix, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (journald_mode)
        fprintf(stderr, "<%d>", level);
    fprintf(stderr, "pgvault: %s%s\n", prefix, buf);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(3, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(4, "warning: ", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    if (quiet_mode)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(6, "", fmt, ap);
    va_end(ap);
}
