#include "policy/audit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits at *p; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* An age such as "24h": a positive number of s, m, h, d or w. */
static int parse_age(const char *s, time_t now, time_t *out)
{
    const char *p = s;
    long long v = 0;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > 1000000000LL)
            return -1;
    }
    long long unit;
    switch (*p) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'w':
        unit = 7 * 86400;
        break;
    default:
        return -1;
    }
    if (p[1] != '\0' || v == 0)
        return -1;
    *out = now - (time_t)(v * unit);
    return 0;
}

int audit_parse_when(const char *s, time_t now, time_t *out)
{
    if (!s || !*s)
        return -1;
    if (parse_age(s, now, out) == 0)
        return 0;

    /* YYYY-MM-DD */
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0, off = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return -1;
    /* [T| ]HH:MM[:SS[.fff]] */
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &se))
                return -1;
            if (*p == '.') {
                p++;
                if (!is_digit(*p))
                    return -1;
                while (is_digit(*p))
                    p++;
            }
        }
        /* Z, +HH:MM, -HH:MM or nothing (UTC) */
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0')
        return -1;
    time_t t;
    if (time_from_utc(y, mo, d, h, mi, se, &t) != 0)
        return -1;
    *out = t - off;
    return 0;
}

static int cmp_table(const struct table_rec *x, const struct table_rec *y)
{
    int c = strcmp(x->schema_name ? x->schema_name : "", y->schema_name ? y->schema_name : "");
    return c ? c : strcmp(x->table_name, y->table_name);
}

size_t audit_table_diff(const struct table_rec *a, size_t na, const struct table_rec *b, size_t nb,
                        struct table_change *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : cmp_table(&a[i], &b[j]);
        if (c < 0) {
            out[n++] = (struct table_change){TABLE_DROPPED, &a[i++], NULL};
        } else if (c > 0) {
            out[n++] = (struct table_change){TABLE_ADDED, NULL, &b[j++]};
        } else {
            enum table_change_kind k =
                a[i].row_count == b[j].row_count ? TABLE_SAME : TABLE_CHANGED;
            out[n++] = (struct table_change){k, &a[i++], &b[j++]};
        }
    }
    return n;
}

size_t audit_table_diff_comparable(struct table_change *ch, size_t n, bool before_lists_parents,
                                   bool after_lists_parents)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (ch[i].kind == TABLE_ADDED && !before_lists_parents && ch[i].after->relkind == 'p')
            continue;
        if (ch[i].kind == TABLE_DROPPED && !after_lists_parents && ch[i].before->relkind == 'p')
            continue;
        ch[w++] = ch[i];
    }
    return w;
}

/* Appends one reason, separated from the previous one. */
static void reason(struct sbuf *msg, bool *first, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reason(struct sbuf *msg, bool *first, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (!*first)
        sbuf_puts(msg, ", ");
    sbuf_puts(msg, buf);
    *first = false;
}

/* "2.5 h" (under two days) or "3.2 d" */
static void fmt_age(long secs, char buf[32])
{
    if (secs < 2 * 86400)
        snprintf(buf, 32, "%.1f h", (double)secs / 3600.0);
    else
        snprintf(buf, 32, "%.1f d", (double)secs / 86400.0);
}

/* True (and the reason added) if no backup of the database was test-restored within
 * max_test_age_s: what a DBA asks is whether a restore of it was proven lately, whichever
 * backup proved it. */
static bool test_too_old(const struct check_facts *f, time_t now, struct sbuf *msg, bool *first)
{
    long days = f->max_test_age_s / 86400;
    if (f->tested_at == 0) {
        reason(msg, first, "never test-restored (max %ld d)", days);
        return true;
    }
    if (now - f->tested_at <= f->max_test_age_s)
        return false;
    char age[32];
    fmt_age((long)(now - f->tested_at), age);
    reason(msg, first, "last test restore %s ago (max %ld d)", age, days);
    return true;
}

enum check_state audit_check_db(const struct check_facts *f, time_t now, long max_age_s,
                                struct sbuf *msg)
{
    enum check_state st = CHECK_OK;
    bool first = true;
    char age[32];
    sbuf_printf(msg, "%s: ", f->db);

    /* 1. CRITICAL: nothing to restore, or the newest backup cannot be trusted to be there */
    if (!f->has_complete) {
        reason(msg, &first, "no complete backup");
        st = CHECK_CRITICAL;
    } else if (f->complete_file != CHECK_FILE_OK) {
        reason(msg, &first, "file of backup %" PRId64 " %s", f->complete_id,
               f->complete_file == CHECK_FILE_MISSING ? "is missing"
               : f->complete_file == CHECK_FILE_SIZE  ? "has the wrong size"
                                                      : "is not a regular file");
        st = CHECK_CRITICAL;
    }

    /* 2. CRITICAL: the last run failed (or its file went missing, or it died) */
    if (f->interrupted_id > 0) {
        reason(msg, &first, "backup %" PRId64 " was interrupted (its process is gone)",
               f->interrupted_id);
        st = CHECK_CRITICAL;
    } else if (f->has_last && f->last_status &&
               (strcmp(f->last_status, "failed") == 0 || strcmp(f->last_status, "missing") == 0)) {
        char when[21];
        time_iso(f->last_at, when);
        if (strcmp(f->last_status, "failed") == 0)
            reason(msg, &first, "last backup %" PRId64 " failed (started %s)%s%s", f->last_id, when,
                   f->last_error ? ": " : "", f->last_error ? f->last_error : "");
        else
            reason(msg, &first, "file of last backup %" PRId64 " is missing", f->last_id);
        st = CHECK_CRITICAL;
    }

    /* 3. CRITICAL: too old */
    long secs = f->has_complete ? (long)(now - f->complete_at) : 0;
    if (f->has_complete && secs > max_age_s) {
        fmt_age(secs, age);
        reason(msg, &first, "newest complete backup %" PRId64 " is %s old (max %ld h)",
               f->complete_id, age, max_age_s / 3600);
        st = CHECK_CRITICAL;
    }

    /* 4. WARNING: suspect size, or a clock that went backwards */
    if (f->has_complete && f->complete_suspect) {
        reason(msg, &first, "newest backup %" PRId64 " is suspect (under half the usual size)",
               f->complete_id);
        if (st < CHECK_WARNING)
            st = CHECK_WARNING;
    }
    if (f->has_complete && secs < -300) {
        reason(msg, &first, "newest backup %" PRId64 " is dated in the future (clock skew?)",
               f->complete_id);
        if (st < CHECK_WARNING)
            st = CHECK_WARNING;
    }

    /* 5. WARNING: no restore of this database proven recently */
    if (f->max_test_age_s > 0 && test_too_old(f, now, msg, &first) && st < CHECK_WARNING)
        st = CHECK_WARNING;

    /* 6. OK: say how old */
    if (st == CHECK_OK) {
        fmt_age(secs < 0 ? 0 : secs, age);
        reason(msg, &first, "newest backup %" PRId64 " is %s old", f->complete_id, age);
    }
    return st;
}

/* If line starts with prefix, a copy of the rest (without a trailing CR). */
static char *after(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n || memcmp(line, prefix, n) != 0)
        return NULL;
    size_t rest = len - n;
    if (rest > 0 && line[n + rest - 1] == '\r')
        rest--;
    return xstrndup(line + n, rest);
}

void audit_dump_header(const char *head, size_t len, struct dump_header *h)
{
    memset(h, 0, sizeof(*h));
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a line cut by the end of the head is not trusted */
        size_t n = (size_t)(nl - p);
        char *v;
        if (n >= 27 && memcmp(p, "-- PostgreSQL database dump", 27) == 0 &&
            (n == 27 || (n == 28 && p[27] == '\r')))
            h->is_dump = true;
        else if (n >= 35 && memcmp(p, "-- PostgreSQL database cluster dump", 35) == 0 &&
                 (n == 35 || (n == 36 && p[35] == '\r')))
            h->is_cluster_dump = true;
        else if (!h->server_version && (v = after(p, n, "-- Dumped from database version ")))
            h->server_version = v;
        else if (!h->pg_dump_version && (v = after(p, n, "-- Dumped by pg_dump version ")))
            h->pg_dump_version = v;
        else if (!h->encoding && (v = after(p, n, "SET client_encoding = '"))) {
            char *q = strchr(v, '\'');
            if (q && strcmp(q, "';") == 0) {
                *q = '\0';
                h->encoding = v;
            } else {
                free(v);
            }
        } else if (n >= 7 && (memcmp(p, "CREATE ", 7) == 0 || memcmp(p, "COPY ", 5) == 0)) {
            break; /* the header is over */
        }
        p = nl + 1;
    }
}

void audit_dump_header_free(struct dump_header *h)
{
    free(h->server_version);
    free(h->pg_dump_version);
    free(h->encoding);
    memset(h, 0, sizeof(*h));
}

void audit_estimate_next(const struct backup_rec *prev, size_t n, const char *compression,
                         uint64_t *total, double *rate)
{
    *total = 0;
    *rate = 0;
    if (n == 0)
        return;
    *total = prev[0].raw_bytes > 0 ? (uint64_t)prev[0].raw_bytes : 0;
    double bytes = 0, secs = 0;
    for (size_t i = 0, k = 0; i < n && k < 5; i++) {
        if (prev[i].raw_bytes <= 0 || prev[i].duration_ms <= 0 || !prev[i].compression ||
            strcmp(prev[i].compression, compression) != 0)
            continue;
        bytes += (double)prev[i].raw_bytes;
        secs += (double)prev[i].duration_ms / 1000.0;
        k++;
    }
    if (secs > 0)
        *rate = bytes / secs;
}
