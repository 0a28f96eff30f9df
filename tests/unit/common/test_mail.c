#include <stdlib.h>
#include <string.h>

#include "common/mail.h"
#include "unit.h"

/* 2026-12-01 11:56:21 UTC, a Tuesday */
#define WHEN ((time_t)1796126181)

static void test_date(void)
{
    char buf[48];
    mail_date(WHEN, buf);
    CHECK_STR(buf, "Tue, 01 Dec 2026 11:56:21 +0000");
    mail_date(0, buf);
    CHECK_STR(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void test_compose(void)
{
    struct mail m = {.from = "pgvault@db1",
                     .to = "a@example.org, root",
                     .subject = "[pgvault] db1: shop backup OK",
                     .body = "line one\nline two",
                     .date = WHEN};
    char *msg = mail_compose(&m);
    CHECK_STR(msg, "From: pgvault@db1\n"
                   "To: a@example.org, root\n"
                   "Subject: [pgvault] db1: shop backup OK\n"
                   "Date: Tue, 01 Dec 2026 11:56:21 +0000\n"
                   "MIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=UTF-8\n"
                   "Content-Transfer-Encoding: 8bit\n"
                   "Auto-Submitted: auto-generated\n"
                   "\n"
                   "line one\n"
                   "line two\n");
    free(msg);
}

/* a header never breaks: a database name with a line break cannot add a header */
static void test_injection(void)
{
    struct mail m = {.from = "x\nBcc: evil@example.org",
                     .to = "a@example.org\r\nBcc: evil@example.org",
                     .subject = "[pgvault] h: bad\nBcc: evil@example.org backup OK",
                     .body = "ok\x01\r\n",
                     .date = WHEN};
    char *msg = mail_compose(&m);
    CHECK(strstr(msg, "\nBcc:") == NULL);
    CHECK(strstr(msg, "Subject: [pgvault] h: bad?Bcc: evil@example.org backup OK\n") != NULL);
    CHECK(strstr(msg, "To: a@example.org??Bcc: evil@example.org\n") != NULL);
    CHECK(strstr(msg, "\n\nok\n") != NULL); /* control characters of the body are removed */
    free(msg);
}

static void test_encoded_subject(void)
{
    struct mail m = {.from = "f", .to = "t", .subject = "café", .body = "", .date = WHEN};
    char *msg = mail_compose(&m);
    CHECK(strstr(msg, "Subject: =?UTF-8?B?Y2Fmw6k=?=\n") != NULL);
    free(msg);

    /* a long one: several encoded words on continuation lines, none splitting a character */
    char subject[200] = "";
    for (int i = 0; i < 30; i++)
        strcat(subject, "é€");
    m.subject = subject;
    msg = mail_compose(&m);
    const char *s = strstr(msg, "Subject: ");
    CHECK(strstr(s, "?=\n =?UTF-8?B?") != NULL);
    const char *end = strstr(s, "\nDate: ");
    for (const char *line = s; line && line < end; line = strchr(line + 1, '\n'))
        CHECK(strcspn(line + 1, "\n") <= 78);
    free(msg);
}

static void test_long_lines(void)
{
    char *body = malloc(2501);
    memset(body, 'x', 2500);
    body[2500] = '\0';
    struct mail m = {.from = "f", .to = "t", .subject = "s", .body = body, .date = WHEN};
    char *msg = mail_compose(&m);
    const char *b = strstr(msg, "\n\n") + 2;
    CHECK_INT(strcspn(b, "\n"), 998);
    CHECK_INT(strlen(b), 2500 + 3);
    free(msg);
    free(body);
}

int main(void)
{
    RUN(test_date);
    RUN(test_compose);
    RUN(test_injection);
    RUN(test_encoded_subject);
    RUN(test_long_lines);
    return UNIT_DONE();
}
