/* Escaping catalog text for HTML. */
#include "common/html.h"

#include <stddef.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* The length of the valid UTF-8 sequence of two or more bytes at s, or 0 if there is
 * none (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The reference that stands for ASCII byte c, or NULL if c stands for itself. */
static const char *ascii_reference(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    case '\t':
    case '\n':
        return NULL;
    default:
        return c < 0x20 || c == 0x7f ? REPLACEMENT : NULL;
    }
}

void html_escape(struct sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        if (*p < 0x80) {
            const char *ref = ascii_reference(*p);
            if (ref)
                sbuf_puts(b, ref);
            else
                sbuf_add(b, (const char *)p, 1);
            p++;
            continue;
        }
        size_t len = utf8_sequence(p);
        if (len == 0) {
            sbuf_puts(b, REPLACEMENT);
            p++;
        } else {
            sbuf_add(b, (const char *)p, len);
            p += len;
        }
    }
}
