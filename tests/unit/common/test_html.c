/* Unit tests for src/common/html.c: catalog text made safe for HTML text and attributes,
 * and valid UTF-8 whatever it held. */
#include "common/html.h"

#include <stdlib.h>

#include "unit.h"

/* s escaped, as a string the caller frees */
static char *escaped(const char *s)
{
    struct sbuf b = {0};
    html_escape(&b, s);
    sbuf_puts(&b, "");
    return b.data;
}

#define CHECK_ESC(in, out)                                                                         \
    do {                                                                                           \
        char *e_ = escaped(in);                                                                    \
        CHECK_STR(e_, out);                                                                        \
        free(e_);                                                                                  \
    } while (0)

static void test_markup(void)
{
    CHECK_ESC("<script>alert('x')</script> & \"q\"",
              "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    CHECK_ESC("x\"><img src=x onerror=alert(1)>", "x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    CHECK_ESC("&amp;", "&amp;amp;");
    CHECK_ESC("plain_name-1.2", "plain_name-1.2");
    CHECK_ESC("", "");
}

static void test_unicode(void)
{
    CHECK_ESC("ünïcødé ☃ 😀 données", "ünïcødé ☃ 😀 données");
    CHECK_ESC("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
}

static void test_invalid_bytes(void)
{
#define R "\xef\xbf\xbd"
    CHECK_ESC("a\xff"
              "b",
              "a" R "b");
    CHECK_ESC("\xc0\xaf", R R);             /* overlong '/' */
    CHECK_ESC("\xe0\x80\xaf", R R R);       /* overlong, three bytes */
    CHECK_ESC("\xed\xa0\x80", R R R);       /* a surrogate */
    CHECK_ESC("\xf4\x90\x80\x80", R R R R); /* above U+10FFFF */
    CHECK_ESC("\xe2\x98", R R);             /* cut short at the end */
    CHECK_ESC("\xe2\x98<", R R "&lt;");     /* cut short before markup */
    CHECK_ESC("\x80", R);                   /* a lone continuation byte */
}

static void test_controls(void)
{
    CHECK_ESC("a\x01"
              "b\x1b[31mred\x7f",
              "a" R "b" R "[31mred" R);
    CHECK_ESC("tab\there\nnext", "tab\there\nnext");
    CHECK_ESC("cr\r", "cr" R);
#undef R
}

static void test_null(void)
{
    struct sbuf b = {0};
    html_escape(&b, NULL);
    CHECK_INT(b.len, 0);
    sbuf_free(&b);
}

int main(void)
{
    RUN(test_markup);
    RUN(test_unicode);
    RUN(test_invalid_bytes);
    RUN(test_controls);
    RUN(test_null);
    return UNIT_DONE();
}
