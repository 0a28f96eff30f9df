#ifndef PGVAULT_MAIL_H
#define PGVAULT_MAIL_H

#include <time.h>

/* A plain-text message for "sendmail -t": every field is UTF-8 text. */
struct mail {
    const char *from;    /* "pgvault@host" */
    const char *to;      /* "a@example.org, b@example.org" */
    const char *subject; /* one line; control characters become '?' */
    const char *body;    /* lines end with '\n' */
    time_t date;
};

/* The Date header's value (RFC 5322, UTC): "Tue, 01 Dec 2026 11:56:21 +0000". */
void mail_date(time_t t, char buf[static 48]);

/*
 * The whole message: From, To, Subject (an RFC 2047 encoded word, base64, when it is not
 * ASCII), Date, MIME-Version, Content-Type text/plain UTF-8, Content-Transfer-Encoding
 * 8bit, Auto-Submitted: auto-generated, a blank line, then the body with lines longer
 * than 998 bytes broken and control characters other than tab removed. Header values
 * never hold a line break. Caller frees.
 */
char *mail_compose(const struct mail *m);

#endif
