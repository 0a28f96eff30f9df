#include "common/output.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void json_str(FILE *out, const char *s)
{
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                putc(*p, out);
        }
    }
    putc('"', out);
}

void json_str_or_null(FILE *out, const char *s)
{
    if (s)
        json_str(out, s);
    else
        fputs("null", out);
}

void json_lines(FILE *out, const char *s)
{
    bool first = true;
    fputc('[', out);
    while (s && *s) {
        size_t n = strcspn(s, "\n");
        if (n > 0) {
            char *line = strndup(s, n);
            fputs(first ? "" : ",", out);
            json_str(out, line);
            free(line);
            first = false;
        }
        s += n + (s[n] == '\n');
    }
    fputc(']', out);
}

void csv_field(FILE *out, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    putc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', out);
        putc(*s, out);
    }
    putc('"', out);
}
