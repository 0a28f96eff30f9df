#include "common/err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char msg[1024];
static _Thread_local char hint[512];
static _Thread_local enum err_class cls_set = ERR_NONE;

/* One line: inner line breaks become spaces; trailing blanks (and periods, for
 * messages, which follow the "could not …" style without one) go. */
static void strip_newlines(char *s, bool period)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || (period && s[n - 1] == '.')))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int err_set(enum err_class cls, const char *fmt, ...)
{
    if (cls_set != ERR_NONE)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    strip_newlines(msg, true);
    cls_set = cls == ERR_NONE ? ERR_FAILED : cls;
    return -1;
}

int err_sys(int errnum, const char *fmt, ...)
{
    if (cls_set != ERR_NONE)
        return -1;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return err_set(ERR_FAILED, "%s: %s", buf, strerror(errnum));
}

int err_wrap(enum err_class cls, const char *fmt, ...)
{
    char prefix[sizeof(msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (cls_set == ERR_NONE)
        return err_set(cls, "%s", prefix);
    char inner[sizeof(msg)];
    memcpy(inner, msg, sizeof(inner));
    size_t n = strlen(prefix);
    memcpy(msg, prefix, n + 1);
    if (n + 2 < sizeof(msg)) {
        memcpy(msg + n, ": ", 3);
        strncat(msg, inner, sizeof(msg) - n - 3);
    }
    strip_newlines(msg, true);
    if (cls != ERR_NONE)
        cls_set = cls;
    return -1;
}

void err_save(struct err_saved *s)
{
    s->cls = cls_set;
    memcpy(s->msg, msg, sizeof(s->msg));
    memcpy(s->hint, hint, sizeof(s->hint));
    err_clear();
}

int err_restore(const struct err_saved *s)
{
    memcpy(msg, s->msg, sizeof(msg));
    memcpy(hint, s->hint, sizeof(hint));
    cls_set = s->cls;
    return s->cls != ERR_NONE ? -1 : 0;
}

void err_hint(const char *fmt, ...)
{
    if (hint[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hint, sizeof(hint), fmt, ap);
    va_end(ap);
    strip_newlines(hint, false);
}

const char *err_msg(void)
{
    return msg;
}

const char *err_hint_msg(void)
{
    return hint;
}

enum err_class err_class(void)
{
    return cls_set;
}

int err_is_set(void)
{
    return cls_set != ERR_NONE;
}

void err_clear(void)
{
    msg[0] = '\0';
    hint[0] = '\0';
    cls_set = ERR_NONE;
}
