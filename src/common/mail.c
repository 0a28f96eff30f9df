#include "common/mail.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define LINE_MAX_BYTES 998 /* RFC 5322 */

void mail_date(time_t t, char buf[static 48])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 48, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A header value on one line: control characters become '?'. */
static char *one_line(const char *s)
{
    char *v = xstrdup(s ? s : "");
    for (char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return v;
}

static void base64(struct sbuf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        char out[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                       i + 2 < n ? tab[v & 63] : '='};
        sbuf_add(b, out, 4);
    }
}

/* The subject: as is when ASCII, else encoded words of at most 39 bytes of text each (lines
 * stay under 78 bytes), never splitting a UTF-8 character, on continuation lines. */
static void add_subject(struct sbuf *b, const char *subject)
{
    char *s = one_line(subject);
    bool ascii = true;
    for (const char *p = s; *p; p++)
        ascii = ascii && (unsigned char)*p < 0x80;
    if (ascii) {
        sbuf_puts(b, s);
        free(s);
        return;
    }
    size_t n = strlen(s), at = 0;
    while (at < n) {
        size_t len = n - at < 39 ? n - at : 39;
        while (at + len < n && ((unsigned char)s[at + len] & 0xc0) == 0x80)
            len--; /* back to the start of a character */
        sbuf_puts(b, at ? "\n =?UTF-8?B?" : "=?UTF-8?B?");
        base64(b, (const unsigned char *)s + at, len);
        sbuf_puts(b, "?=");
        at += len;
    }
    free(s);
}

/* The body: no control characters but tab and newline, no line over LINE_MAX_BYTES. */
static void add_body(struct sbuf *b, const char *body)
{
    size_t col = 0;
    for (const char *p = body ? body : ""; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            sbuf_add(b, "\n", 1);
            col = 0;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            continue;
        if (col == LINE_MAX_BYTES) {
            sbuf_add(b, "\n", 1);
            col = 0;
        }
        sbuf_add(b, p, 1);
        col++;
    }
    if (col > 0)
        sbuf_add(b, "\n", 1);
}

char *mail_compose(const struct mail *m)
{
    struct sbuf b = {0};
    char date[48];
    char *from = one_line(m->from), *to = one_line(m->to);
    mail_date(m->date, date);
    sbuf_printf(&b, "From: %s\nTo: %s\nSubject: ", from, to);
    add_subject(&b, m->subject);
    sbuf_printf(&b,
                "\nDate: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n",
                date);
    add_body(&b, m->body);
    free(from);
    free(to);
    return b.data;
}
