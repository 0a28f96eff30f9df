#ifndef PGVAULT_UTIL_H
#define PGVAULT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation that aborts on out-of-memory: there is no sane recovery in a CLI. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Page-aligned (free() releases it): large I/O buffers copy much faster aligned. */
void *xmalloc_io(size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable string. */
struct sbuf {
    char *data;
    size_t len, cap;
};
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);

/* ISO-8601 UTC with seconds, "2026-11-25T15:27:54Z"; buf must hold 21 bytes. */
char *time_iso(time_t t, char buf[static 21]);
/* Same with milliseconds, "2026-11-25T15:27:54.123Z"; buf must hold 25 bytes. */
char *time_iso_ms(const struct timespec *ts, char buf[static 25]);
/* The current time as time_iso_ms writes it; buf must hold 25 bytes. */
char *time_now_iso(char buf[static 25]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" (or a space for T); returns -1 on bad input or a
 * date that does not exist (checked as time_from_utc does). */
int time_parse_iso(const char *s, time_t *out);
/* The UTC time of a calendar date and time; -1 if no such moment exists (February 30,
 * 24:00, second 60, month 13 …). */
int time_from_utc(int year, int month, int day, int hour, int min, int sec, time_t *out);
/* Monotonic seconds as a double. */
double time_mono(void);

/* Parses a whole decimal integer in [min, max]; returns -1 if malformed or out of range. */
int parse_int(const char *s, long min, long max, long *out);

/* "1.5 MiB" style size for people. */
char *fmt_size(uint64_t bytes, char buf[static 16]);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* The OS user running this process (for audit events). */
const char *os_user(void);

#endif
