#include "postgres/sqlsplit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

/* The scanner's position in the text. */
struct scan {
    const char *begin, *p;
    int line;
};

static void advance(struct scan *s, size_t n)
{
    for (size_t i = 0; i < n && *s->p; i++, s->p++)
        if (*s->p == '\n')
            s->line++;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

/* At "$tag$" (tag empty or an identifier not starting with a digit): its length, else 0. */
static size_t dollar_tag(const char *p)
{
    if (*p != '$')
        return 0;
    size_t n = 1;
    if (p[1] >= '0' && p[1] <= '9')
        return 0;
    while (ident_char(p[n]) && p[n] != '$')
        n++;
    return p[n] == '$' ? n + 1 : 0;
}

/* Skips a quoted string or identifier that starts at s->p (quote q, a doubled q is part
 * of it; backslash escapes with E'…'). false if the text ends first. */
static bool skip_quoted(struct scan *s, char q, bool backslash)
{
    advance(s, 1);
    while (*s->p) {
        if (backslash && *s->p == '\\' && s->p[1]) {
            advance(s, 2);
        } else if (*s->p == q && s->p[1] == q) {
            advance(s, 2);
        } else if (*s->p == q) {
            advance(s, 1);
            return true;
        } else {
            advance(s, 1);
        }
    }
    return false;
}

/* Skips a block comment (they nest) at s->p; false if the text ends first. */
static bool skip_block_comment(struct scan *s)
{
    int depth = 0;
    while (*s->p) {
        if (s->p[0] == '/' && s->p[1] == '*') {
            depth++;
            advance(s, 2);
        } else if (s->p[0] == '*' && s->p[1] == '/') {
            advance(s, 2);
            if (--depth == 0)
                return true;
        } else {
            advance(s, 1);
        }
    }
    return false;
}

/* Skips a dollar-quoted string whose opening tag (tag bytes) starts at s->p. */
static bool skip_dollar(struct scan *s, size_t tag)
{
    const char *open = s->p;
    advance(s, tag);
    while (*s->p) {
        if (*s->p == '$' && strncmp(s->p, open, tag) == 0) {
            advance(s, tag);
            return true;
        }
        advance(s, 1);
    }
    return false;
}

/* Skips one token that may hide a ";": returns 1 if it skipped one, 0 if s->p starts
 * none, -1 if it does not end. *code: whether it was more than a comment. */
static int skip_token(struct scan *s, bool *code)
{
    const char *p = s->p;
    size_t tag;
    *code = true;
    if (p[0] == '-' && p[1] == '-') {
        *code = false;
        while (*s->p && *s->p != '\n')
            advance(s, 1);
        return 1;
    }
    if (p[0] == '/' && p[1] == '*') {
        *code = false;
        return skip_block_comment(s) ? 1 : -1;
    }
    if (*p == '\'' || *p == '"') {
        bool e = *p == '\'' && p > s->begin && (p[-1] == 'E' || p[-1] == 'e');
        return skip_quoted(s, *p, e) ? 1 : -1;
    }
    if ((tag = dollar_tag(p)) > 0 && !(p > s->begin && ident_char(p[-1])))
        return skip_dollar(s, tag) ? 1 : -1;
    return 0;
}

static void add_stmt(struct sql_stmt **out, size_t *n, const char *from, const char *to, int line)
{
    *out = xrealloc(*out, (*n + 1) * sizeof(**out));
    (*out)[*n] = (struct sql_stmt){.text = xstrndup(from, (size_t)(to - from)), .line = line};
    (*n)++;
}

int sql_split(const char *text, const char *origin, struct sql_stmt **out, size_t *n)
{
    struct scan s = {.begin = text, .p = text, .line = 1};
    const char *start = NULL; /* the statement's first character of code */
    int start_line = 0;
    *out = NULL;
    *n = 0;
    while (*s.p) {
        const char *at = s.p;
        int at_line = s.line;
        bool code;
        int t = skip_token(&s, &code);
        if (t < 0) {
            sql_stmts_free(*out, *n);
            *out = NULL;
            *n = 0;
            return err_set(ERR_USAGE,
                           "could not read \"%s\": a string, quoted name or comment that starts "
                           "on line %d does not end",
                           origin, at_line);
        }
        if (t == 0 && *at == ';') {
            if (start)
                add_stmt(out, n, start, at, start_line);
            start = NULL;
            advance(&s, 1);
            continue;
        }
        if (t == 0)
            code = !(*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r' || *at == '\f');
        if (code && !start) {
            start = at;
            start_line = at_line;
        }
        if (t == 0)
            advance(&s, 1);
    }
    if (start)
        add_stmt(out, n, start, s.p, start_line);
    return 0;
}

void sql_stmts_free(struct sql_stmt *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i].text);
    free(s);
}
