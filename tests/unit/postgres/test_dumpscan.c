/*
 * Unit tests for src/postgres/dumpscan.c: every input is scanned whole, one byte at a time and
 * in random chunk sizes, and the three results must be identical.
 */
#include "postgres/dumpscan.h"
#include "unit.h"
#include "common/util.h"

#include <stdlib.h>

/* The example from pg_dump 15.18, shortened. */
static const char real_sample[] =
    "--\n"
    "-- PostgreSQL database dump\n"
    "--\n"
    "\n"
    "\\restrict huRcvZojFUqunBIUH37Oull1fjT43gNnWYhfb86VgPDB5Iuejq5MxcTaEzsbjgZ\n"
    "\n"
    "-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n"
    "-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)\n"
    "\n"
    "SET statement_timeout = 0;\n"
    "SET lock_timeout = 0;\n"
    "SET idle_in_transaction_session_timeout = 0;\n"
    "SET client_encoding = 'UTF8';\n"
    "SET standard_conforming_strings = on;\n"
    "SELECT pg_catalog.set_config('search_path', '', false);\n"
    "SET check_function_bodies = false;\n"
    "SET xmloption = content;\n"
    "SET client_min_messages = warning;\n"
    "SET row_security = off;\n"
    "\n"
    "SET default_tablespace = '';\n"
    "\n"
    "SET default_table_access_method = heap;\n"
    "\n"
    "--\n"
    "-- Name: t; Type: TABLE; Schema: public; Owner: postgres\n"
    "--\n"
    "\n"
    "CREATE TABLE public.t (\n"
    "    a integer,\n"
    "    b text\n"
    ");\n"
    "\n"
    "\n"
    "ALTER TABLE public.t OWNER TO postgres;\n"
    "\n"
    "--\n"
    "-- Name: z; Type: TABLE; Schema: public; Owner: postgres\n"
    "--\n"
    "\n"
    "CREATE TABLE public.z (\n"
    ");\n"
    "\n"
    "\n"
    "ALTER TABLE public.z OWNER TO postgres;\n"
    "\n"
    "--\n"
    "-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres\n"
    "--\n"
    "\n"
    "COPY public.t (a, b) FROM stdin;\n"
    "1\tx\n"
    "2\ta\\\\.b\\n\\\\.\n"
    "\\.\n"
    "\n"
    "\n"
    "--\n"
    "-- Data for Name: z; Type: TABLE DATA; Schema: public; Owner: postgres\n"
    "--\n"
    "\n"
    "COPY public.z  FROM stdin;\n"
    "\n"
    "\n"
    "\\.\n"
    "\n"
    "\n"
    "--\n"
    "-- PostgreSQL database dump complete\n"
    "--\n"
    "\n"
    "\\unrestrict huRcvZojFUqunBIUH37Oull1fjT43gNnWYhfb86VgPDB5Iuejq5MxcTaEzsbjgZ\n"
    "\n";

static unsigned long rng_state = 12345;

static unsigned long rng(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return rng_state >> 33;
}

/* Feeds buf in chunks of `chunk` bytes (0: whole; SIZE_MAX: random sizes). */
static struct dumpscan *feed(const char *buf, size_t len, size_t chunk, int *fin)
{
    struct dumpscan *s = dumpscan_new();
    size_t off = 0;
    while (off < len) {
        size_t n = chunk == 0 ? len - off : chunk;
        if (chunk == SIZE_MAX)
            n = 1 + rng() % (rng() % 4 == 0 ? 4096 : 17);
        if (n > len - off)
            n = len - off;
        dumpscan_feed(s, buf + off, n);
        off += n;
    }
    *fin = dumpscan_finish(s);
    return s;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_tables(const struct dumpscan *a, const struct dumpscan *b, bool copies)
{
    size_t n = copies ? dumpscan_copy_count(a) : dumpscan_create_count(a);
    if (n != (copies ? dumpscan_copy_count(b) : dumpscan_create_count(b)))
        return false;
    for (size_t i = 0; i < n; i++) {
        const struct dumpscan_table *x = copies ? dumpscan_copy(a, i) : dumpscan_create(a, i);
        const struct dumpscan_table *y = copies ? dumpscan_copy(b, i) : dumpscan_create(b, i);
        if (!same_str(x->schema, y->schema) || !same_str(x->name, y->name) || x->rows != y->rows)
            return false;
    }
    return true;
}

/* Scans text whole, byte by byte and in random chunks; checks all agree. */
static struct dumpscan *scan_len(const char *text, size_t len, int *fin)
{
    int f_whole, f_other;
    struct dumpscan *whole = feed(text, len, 0, &f_whole);
    size_t modes[] = {1, 2, 3, 7, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        struct dumpscan *o = feed(text, len, modes[m], &f_other);
        CHECK_INT(f_other, f_whole);
        CHECK(same_tables(whole, o, true));
        CHECK(same_tables(whole, o, false));
        CHECK_INT(dumpscan_trailer_ok(o), dumpscan_trailer_ok(whole));
        CHECK_INT(dumpscan_cluster_trailer_ok(o), dumpscan_cluster_trailer_ok(whole));
        dumpscan_free(o);
    }
    *fin = f_whole;
    return whole;
}

static struct dumpscan *scan(const char *text, int *fin)
{
    return scan_len(text, strlen(text), fin);
}

#define EXPECT_TABLE(t, sch, nm)                                                                   \
    do {                                                                                           \
        const struct dumpscan_table *t_ = (t);                                                     \
        CHECK(t_ != NULL);                                                                         \
        if (t_) {                                                                                  \
            const char *sch_ = (sch);                                                              \
            if (sch_)                                                                              \
                CHECK_STR(t_->schema, sch_);                                                       \
            else                                                                                   \
                CHECK(t_->schema == NULL);                                                         \
            CHECK_STR(t_->name, nm);                                                               \
        }                                                                                          \
    } while (0)

#define EXPECT_COPY(s, i, sch, nm, n)                                                              \
    do {                                                                                           \
        EXPECT_TABLE(dumpscan_copy(s, i), sch, nm);                                                \
        if (dumpscan_copy(s, i))                                                                   \
            CHECK_INT(dumpscan_copy(s, i)->rows, n);                                               \
    } while (0)

/* Number of COPY blocks in text, and finish() result, for one-liners. */
static size_t copies_in(const char *text, int *fin)
{
    struct dumpscan *s = scan(text, fin);
    size_t n = dumpscan_copy_count(s);
    dumpscan_free(s);
    return n;
}

static void test_real_sample(void)
{
    int fin;
    struct dumpscan *s = scan(real_sample, &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, "public", "t", 2);
    EXPECT_COPY(s, 1, "public", "z", 2);
    CHECK_INT(dumpscan_create_count(s), 2);
    EXPECT_TABLE(dumpscan_create(s, 0), "public", "t");
    EXPECT_TABLE(dumpscan_create(s, 1), "public", "z");
    CHECK(dumpscan_trailer_ok(s));
    CHECK(dumpscan_copy(s, 2) == NULL);
    CHECK(dumpscan_create(s, 2) == NULL);
    dumpscan_free(s);
}

/* Every prefix of the sample that cuts a COPY block is reported as truncated. */
static void test_real_sample_truncated(void)
{
    size_t len = strlen(real_sample);
    size_t start_t = (size_t)(strstr(real_sample, "FROM stdin;\n") - real_sample) + 11;
    size_t end_t = (size_t)(strstr(real_sample, "\n\\.\n") - real_sample) + 3;
    size_t tpos = (size_t)(strstr(real_sample, "dump complete") - real_sample) + 13;
    for (size_t n = 0; n < len; n++) {
        int fin;
        struct dumpscan *s = feed(real_sample, n, 0, &fin);
        if (n > start_t && n < end_t)
            CHECK_INT(fin, -1);
        bool lone_dash = n >= 2 && real_sample[n - 1] == '-' && real_sample[n - 2] == '\n';
        CHECK_INT(dumpscan_trailer_ok(s), n >= tpos && !lone_dash);
        dumpscan_free(s);
    }
    /* without its final newline the dump is still complete */
    int fin;
    struct dumpscan *s = feed(real_sample, len - 1, 0, &fin);
    CHECK_INT(fin, 0);
    CHECK(dumpscan_trailer_ok(s));
    dumpscan_free(s);
}

static void test_zero_column_table(void)
{
    int fin;
    struct dumpscan *s = scan("COPY public.z  FROM stdin;\n\n\n\\.\n", &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, "public", "z", 2);
    dumpscan_free(s);

    s = scan("COPY public.z  FROM stdin;\n\n\\.\n", &fin);
    EXPECT_COPY(s, 0, "public", "z", 1);
    dumpscan_free(s);
}

static void test_escaped_values(void)
{
    int fin;
    /* \\. at line start, \t, \n, \\ and \r inside values; "\.x" is a row too */
    struct dumpscan *s = scan("COPY public.t (a, b) FROM stdin;\n"
                              "\\\\.\n"
                              "1\ta\\tb\\nc\\\\d\n"
                              "\\\\\\\\.\n"
                              "\\N\t\\.x\n"
                              "\\.x\n"
                              " \\.\n"
                              "\\\n"
                              "\\\n"
                              "x\\.\n"
                              "\\\\.\r\n"
                              "\\.\n"
                              "SELECT 1;\n",
                              &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, "public", "t", 10);
    dumpscan_free(s);

    /* "\.\r\n" ends a block like "\.\n" */
    s = scan("COPY t FROM stdin;\r\n1\r\n2\r\n\\.\r\nCOPY u FROM stdin;\r\n\\.\r\n", &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, NULL, "t", 2);
    EXPECT_COPY(s, 1, NULL, "u", 0);
    dumpscan_free(s);

    /* "\.\r" followed by anything but a newline is a row */
    s = scan("COPY t FROM stdin;\n\\.\rx\n\\.\r\r\n\\.\n", &fin);
    EXPECT_COPY(s, 0, NULL, "t", 2);
    CHECK_INT(fin, 0);
    dumpscan_free(s);
}

/* Short rows are counted a word at a time: the end marker at every alignment. */
static void test_short_rows_alignment(void)
{
    for (int pad = 0; pad < 24; pad++) {
        for (int nrows = 0; nrows < 40; nrows++) {
            struct sbuf b = {0};
            sbuf_puts(&b, "COPY t FROM stdin;\n");
            for (int i = 0; i < pad; i++)
                sbuf_puts(&b, "x");
            if (pad)
                sbuf_puts(&b, "\n");
            for (int r = 0; r < nrows; r++)
                sbuf_puts(&b, r % 5 == 4 ? "\\\\.\n" : r % 3 ? "7\n" : "\n");
            sbuf_puts(&b, "\\.\nSELECT 1;\n");
            int fin;
            struct dumpscan *s = scan(b.data, &fin);
            CHECK_INT(fin, 0);
            EXPECT_COPY(s, 0, NULL, "t", nrows + (pad ? 1 : 0));
            dumpscan_free(s);
            /* without the marker the block is truncated */
            b.len -= strlen("\\.\nSELECT 1;\n");
            b.data[b.len] = '\0';
            s = scan(b.data, &fin);
            CHECK_INT(fin, -1);
            dumpscan_free(s);
            sbuf_free(&b);
        }
    }
}

static void test_empty_copy_block(void)
{
    int fin;
    struct dumpscan *s = scan("COPY public.e (a) FROM stdin;\n\\.\n\n", &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, "public", "e", 0);
    dumpscan_free(s);
}

static void test_quoted_identifiers(void)
{
    int fin;
    struct dumpscan *s = scan("COPY \"we\"\"ird\".\"ta.ble FROM stdin;\n  x\" (\"a b\", \"c;\") "
                              "FROM stdin;\n1\t2\n\\.\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, "we\"ird", "ta.ble FROM stdin;\n  x", 1);
    dumpscan_free(s);

    /* a quoted identifier ending in FROM stdin is not the end of the statement */
    s = scan("COPY public.\"x FROM stdin\" TO stdout;\n1\t2\n", &fin);
    CHECK_INT(dumpscan_copy_count(s), 0);
    CHECK_INT(fin, -1); /* "1 2" is an unterminated statement */
    dumpscan_free(s);

    s = scan("COPY \"\"\"\" FROM stdin;\n\\.\nCOPY \"\" FROM stdin;\n\\.\n", &fin);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, NULL, "\"", 0);
    EXPECT_COPY(s, 1, NULL, "", 0);
    dumpscan_free(s);

    /* CREATE TABLE with the same names */
    s = scan("CREATE TABLE \"we\"\"ird\".\"ta.ble\" (a int);\n", &fin);
    CHECK_INT(dumpscan_create_count(s), 1);
    EXPECT_TABLE(dumpscan_create(s, 0), "we\"ird", "ta.ble");
    dumpscan_free(s);
}

static void test_unicode_identifiers(void)
{
    int fin;
    struct dumpscan *s = scan("CREATE TABLE \"sch\xc3\xa9ma\".\"t\xc3\xa5"
                              "ble \xe2\x98\x83\" ();\n"
                              "COPY \"sch\xc3\xa9ma\".\"t\xc3\xa5"
                              "ble \xe2\x98\x83\"  FROM stdin;\n"
                              "\n\\.\n"
                              "COPY public.caf\xc3\xa9 (\xc3\xa9t\xc3\xa9) FROM stdin;\n"
                              "\xc3\xa9\n\\.\n"
                              "COPY U&\"d\\0061t\\+000061\" FROM stdin;\n\\.\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 3);
    EXPECT_COPY(s, 0, "sch\xc3\xa9ma",
                "t\xc3\xa5"
                "ble \xe2\x98\x83",
                1);
    EXPECT_COPY(s, 1, "public", "caf\xc3\xa9", 1);
    EXPECT_COPY(s, 2, NULL, "d\\0061t\\+000061", 0); /* kept as written */
    EXPECT_TABLE(dumpscan_create(s, 0), "sch\xc3\xa9ma",
                 "t\xc3\xa5"
                 "ble \xe2\x98\x83");
    dumpscan_free(s);
}

static void test_dollar_quotes(void)
{
    int fin;
    struct dumpscan *s = scan("CREATE FUNCTION public.f() RETURNS void\n"
                              "    LANGUAGE plpgsql\n"
                              "    AS $$\nbegin\nCOPY x FROM stdin;\nend$$;\n"
                              "CREATE FUNCTION public.g() RETURNS void\n"
                              "    LANGUAGE sql\n"
                              "    AS $fn$\nCOPY x FROM stdin;\n$$ $f$ $fnx$ $FN$ $fn\n"
                              "CREATE TABLE public.inside ();\n$fn$;\n"
                              "COPY public.t (a) FROM stdin;\n1\n2\n3\n\\.\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, "public", "t", 3);
    CHECK_INT(dumpscan_create_count(s), 0);
    dumpscan_free(s);

    /* a$$b is an identifier, $1 a parameter; neither opens a dollar quote */
    CHECK_INT(copies_in("SELECT a$$b, $1, x$y$;\nCOPY t FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* after a number, $$ opens one */
    CHECK_INT(copies_in("SELECT 1$$;\nCOPY t FROM stdin;\n$$;\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT $1$$;\nCOPY t FROM stdin;\n$$;\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* $ab followed by a non-tag char is a '$' and a word */
    CHECK_INT(copies_in("SELECT $ab ;\nCOPY t FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(copies_in("SELECT $e'\\';\nCOPY t FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* the close is found after a false start: $a$ ... $x$a$ */
    CHECK_INT(copies_in("SELECT $a$ x $x$a$;\nCOPY t FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT $a$ $a;\nCOPY t FROM stdin;\n\\.\n", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT $$$$;\nCOPY t FROM stdin;\n\\.\n", &fin), 1);
}

static void test_long_dollar_tag(void)
{
    struct sbuf b = {0};
    char tag[600];
    memset(tag, 'q', sizeof(tag) - 1);
    tag[sizeof(tag) - 1] = '\0';
    sbuf_printf(&b, "SELECT $%s$\n", tag);
    /* same length, differing after the kept prefix: not the close */
    tag[500] = 'r';
    sbuf_printf(&b, "$%s$\nCOPY x FROM stdin;\n", tag);
    tag[500] = 'q';
    /* shorter and longer: not the close either */
    sbuf_printf(&b, "$%s$ $%sq$\n", tag + 1, tag);
    sbuf_printf(&b, "$%s$;\nCOPY t FROM stdin;\n1\n\\.\n", tag);
    int fin;
    struct dumpscan *s = scan(b.data, &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, NULL, "t", 1);
    dumpscan_free(s);
    sbuf_free(&b);
}

static void test_string_literals(void)
{
    int fin;
    CHECK_INT(copies_in("SELECT ';\nCOPY x FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT 'it''s;\nCOPY x FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* E'' with \' */
    CHECK_INT(copies_in("SELECT E'it\\'s;\nCOPY x FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT e'\\\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* with standard_conforming_strings on, a backslash does not escape in '' */
    CHECK_INT(copies_in("SELECT 'a\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* a word ending in e is not an E'' prefix */
    CHECK_INT(copies_in("SELECT some'\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    /* B'', X'', N'' are plain */
    CHECK_INT(copies_in("SELECT B'1', X'\\', N'\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* large objects are strings */
    CHECK_INT(copies_in("SELECT pg_catalog.lo_open('16385', 131072);\n"
                        "SELECT pg_catalog.lowrite(0, '\\x0a5c2e0a434f505920'';\nCOPY x FROM "
                        "stdin;\n');\n"
                        "SELECT pg_catalog.lo_close(0);\n",
                        &fin),
              0);
    CHECK_INT(fin, 0);
    /* unterminated */
    CHECK_INT(copies_in("SELECT 'abc;\n", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT E'abc\\';\n", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT \"abc;\n", &fin), 0);
    CHECK_INT(fin, -1);
}

/* psql continues E'a' <newline> '...' as the same E'' string, escapes included. */
static void test_string_continuation(void)
{
    int fin;
    CHECK_INT(copies_in("SELECT E'a'\n'\\';\nCOPY x FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT E'a' -- c\n  -- d\n\t'\\';\nCOPY x FROM stdin;\n';\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* no newline between: a new, plain string */
    CHECK_INT(copies_in("SELECT E'a' '\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* a lone '-' after the string is an operator */
    CHECK_INT(copies_in("SELECT E'a'\n- '\\';\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT E'a'\n-1;\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
}

static void test_standard_conforming_strings_off(void)
{
    int fin;
    /* pg_dump of a server with standard_conforming_strings = off */
    CHECK_INT(copies_in("SET standard_conforming_strings = off;\n"
                        "SELECT 'a\\';\nCOPY x FROM stdin;\n';\n",
                        &fin),
              0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SET standard_conforming_strings TO 'off';\n"
                        "SELECT 'a\\';\nCOPY x FROM stdin;\n';\n"
                        "SET standard_conforming_strings = on;\n"
                        "SELECT 'a\\';\nCOPY x FROM stdin;\n\\.\n",
                        &fin),
              1);
    CHECK_INT(fin, 0);
    /* U&'' takes no backslash escapes even then */
    CHECK_INT(copies_in("SET standard_conforming_strings = off;\n"
                        "SELECT U&'\\';\nCOPY x FROM stdin;\n\\.\n",
                        &fin),
              1);
    /* a SET of something else changes nothing */
    CHECK_INT(copies_in("SET standard_conforming_strings = off, x;\n"
                        "SELECT 'a\\';\nCOPY x FROM stdin;\n\\.\n",
                        &fin),
              1);
    CHECK_INT(copies_in("SET escape_string_warning = off;\n"
                        "SELECT 'a\\';\nCOPY x FROM stdin;\n\\.\n",
                        &fin),
              1);
}

static void test_comments(void)
{
    int fin;
    CHECK_INT(copies_in("-- COPY x FROM stdin;\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("/* COPY x FROM stdin; */\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* nested: the first star-slash does not end the comment */
    CHECK_INT(copies_in("/* a /* b */\nCOPY x FROM stdin;\n*/\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("/* a /* b */ */\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("/*/ COPY x FROM stdin; */\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("/* **/ COPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(copies_in("/* unterminated\n", &fin), 0);
    CHECK_INT(fin, -1);
    /* a comment ends at \r too */
    CHECK_INT(copies_in("-- c\rCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* comments inside the statement */
    struct dumpscan *s =
        scan("COPY/* c */public . /* d */t -- e\n(a)FROM/**/stdin;\n1\n\\.\n", &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, "public", "t", 1);
    dumpscan_free(s);
    /* operators and minus signs are not comments */
    CHECK_INT(copies_in("SELECT 1-1, 2/2, 3*-4;\nCOPY x FROM stdin;\n\\.\n", &fin), 1);
    CHECK_INT(fin, 0);
}

static void test_meta_commands(void)
{
    int fin;
    struct dumpscan *s = scan("\\restrict abc'def\"$$\n"
                              "\\connect -reuse-previous=on \"dbname='x y'\"\n"
                              "  \\set ON_ERROR_STOP on\n"
                              "COPY t FROM stdin;\n1\n\\.\n"
                              "\\unrestrict abc'def\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, NULL, "t", 1);
    dumpscan_free(s);
    /* \; is a semicolon kept in the statement: both parts are sent together */
    s = scan("SELECT 1\\; COPY t FROM stdin;\n1\n2\n\\.\n", &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, NULL, "t", 2);
    dumpscan_free(s);
    CHECK_INT(copies_in("SELECT 1\\;\n", &fin), 0);
    CHECK_INT(fin, -1);
}

static void test_statement_ends(void)
{
    int fin;
    /* psql does not end a statement at a ';' inside parentheses */
    CHECK_INT(copies_in("SELECT (1;\nCOPY x FROM stdin;\n);\n", &fin), 0);
    CHECK_INT(fin, 0);
    /* nor between BEGIN and END of an SQL-standard function body */
    struct dumpscan *s = scan("CREATE FUNCTION public.f() RETURNS integer\n"
                              "    LANGUAGE sql\n"
                              "    BEGIN ATOMIC\n"
                              " SELECT CASE WHEN true THEN 1 ELSE 2 END;\n"
                              "COPY x FROM stdin;\n"
                              "END;\n"
                              "CREATE OR REPLACE PROCEDURE public.p()\n"
                              "    LANGUAGE sql\n"
                              "    BEGIN ATOMIC\n"
                              " INSERT INTO t VALUES (1);\n"
                              "END;\n"
                              "COPY t FROM stdin;\n\\.\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, NULL, "t", 0);
    dumpscan_free(s);
    /* BEGIN as a statement is just a statement */
    CHECK_INT(copies_in("BEGIN;\nCOPY t FROM stdin;\n\\.\nEND;\n", &fin), 1);
    CHECK_INT(fin, 0);
    /* unterminated statements */
    CHECK_INT(copies_in("SELECT 1", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT 1\n-- done\n", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT -", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT (1);;", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("\n  \n-- only comments\n/* x */\n", &fin), 0);
    CHECK_INT(fin, 0);
}

static void test_truncated(void)
{
    int fin;
    CHECK_INT(copies_in("COPY t FROM stdin;\n1\n2\n", &fin), 1);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("COPY t FROM stdin;\n1\n2", &fin), 1);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("COPY t FROM stdin;\n1\n\\", &fin), 1);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("COPY t FROM stdin;", &fin), 1);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("COPY t FROM stdin", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT $$abc", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("SELECT $ab", &fin), 0);
    CHECK_INT(fin, -1);
    /* the end marker without its newline still ends the block */
    struct dumpscan *s = scan("COPY t FROM stdin;\n1\n\\.", &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, NULL, "t", 1);
    dumpscan_free(s);
}

static void test_trailer(void)
{
    static const char done[] = "--\n-- PostgreSQL database dump complete\n--\n";
    struct sbuf b = {0};
    int fin;
    struct dumpscan *s;

    /* ok, followed by \unrestrict, blank and comment lines */
    sbuf_printf(&b, "SELECT 1;\n%s\n\\unrestrict abc\n\n  \n-- x\n", done);
    s = scan(b.data, &fin);
    CHECK(dumpscan_trailer_ok(s));
    CHECK_INT(fin, 0);
    dumpscan_free(s);
    b.len = 0;

    /* missing */
    s = scan("SELECT 1;\n-- PostgreSQL database dump\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);

    /* followed by another statement */
    sbuf_printf(&b, "%sSELECT 1;\n", done);
    s = scan(b.data, &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    b.len = 0;
    sbuf_printf(&b, "%s;\n", done);
    s = scan(b.data, &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    b.len = 0;
    sbuf_printf(&b, "%s/* x */\n", done);
    s = scan(b.data, &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    b.len = 0;
    /* ... and again a trailer: the last one counts */
    sbuf_printf(&b, "%sSELECT 1;\n%s", done, done);
    s = scan(b.data, &fin);
    CHECK(dumpscan_trailer_ok(s));
    dumpscan_free(s);
    b.len = 0;

    /* not a line of its own, not at line start, not exact, in a string, in data */
    s = scan("SELECT 1; -- PostgreSQL database dump complete\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan(" -- PostgreSQL database dump complete\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database dump complete \n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database dump completed\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database dump complet\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("SELECT '\n-- PostgreSQL database dump complete\n';\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("SELECT 1\n-- PostgreSQL database dump complete\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    CHECK_INT(fin, -1);
    dumpscan_free(s);
    s = scan("COPY t FROM stdin;\n-- PostgreSQL database dump complete\n", &fin);
    CHECK(!dumpscan_trailer_ok(s));
    CHECK_INT(fin, -1);
    dumpscan_free(s);

    /* CRLF and a missing final newline are fine */
    s = scan("--\r\n-- PostgreSQL database dump complete\r\n--\r\n", &fin);
    CHECK(dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database dump complete", &fin);
    CHECK(dumpscan_trailer_ok(s));
    CHECK_INT(fin, 0);
    dumpscan_free(s);
    sbuf_free(&b);
}

/* pg_dumpall --globals-only of PostgreSQL 15, as "pgvault backup --all" stores it */
static const char globals_sample[] =
    "--\n"
    "-- PostgreSQL database cluster dump\n"
    "--\n"
    "\n"
    "\\restrict KZ52wf6hfz35UFeYVNokNUVZFAg0lOW2\n"
    "\n"
    "SET default_transaction_read_only = off;\n"
    "\n"
    "SET client_encoding = 'UTF8';\n"
    "SET standard_conforming_strings = on;\n"
    "\n"
    "--\n"
    "-- Roles\n"
    "--\n"
    "\n"
    "CREATE ROLE postgres;\n"
    "ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION "
    "BYPASSRLS;\n"
    "\n"
    "\\unrestrict KZ52wf6hfz35UFeYVNokNUVZFAg0lOW2\n"
    "\n"
    "--\n"
    "-- PostgreSQL database cluster dump complete\n"
    "--\n"
    "\n";

static void test_cluster_trailer(void)
{
    int fin;
    struct dumpscan *s;

    /* pg_dumpall's trailer is not pg_dump's, and the other way round */
    s = scan(globals_sample, &fin);
    CHECK_INT(fin, 0);
    CHECK(dumpscan_cluster_trailer_ok(s));
    CHECK(!dumpscan_trailer_ok(s));
    CHECK_INT(dumpscan_copy_count(s), 0);
    CHECK_INT(dumpscan_database_trailers(s), 0);
    dumpscan_free(s);
    s = scan(real_sample, &fin);
    CHECK(dumpscan_trailer_ok(s));
    CHECK(!dumpscan_cluster_trailer_ok(s));
    CHECK_INT(dumpscan_database_trailers(s), 1);
    dumpscan_free(s);

    /* a whole pg_dumpall: a database's dump inside, then the cluster's trailer */
    char *whole =
        xasprintf("%.*s%s",
                  (int)(strstr(globals_sample, "--\n-- PostgreSQL database cluster dump complete") -
                        globals_sample),
                  globals_sample, real_sample);
    char *all = xasprintf("%s--\n-- PostgreSQL database cluster dump complete\n--\n\n", whole);
    s = scan(all, &fin);
    CHECK(dumpscan_cluster_trailer_ok(s));
    CHECK_INT(dumpscan_database_trailers(s), 1);
    dumpscan_free(s);
    free(whole);
    free(all);

    /* cut anywhere before the end of the trailer line: not complete */
    size_t len = strlen(globals_sample);
    size_t tpos = (size_t)(strstr(globals_sample, "cluster dump complete") - globals_sample) + 21;
    for (size_t n = 0; n < len; n++) {
        s = feed(globals_sample, n, 0, &fin);
        bool lone_dash = n >= 2 && globals_sample[n - 1] == '-' && globals_sample[n - 2] == '\n';
        CHECK_INT(dumpscan_cluster_trailer_ok(s), n >= tpos && !lone_dash);
        CHECK(!dumpscan_trailer_ok(s));
        dumpscan_free(s);
    }

    /* the header line, near misses, and a statement after it do not count */
    static const char *const not_ok[] = {
        "-- PostgreSQL database cluster dump\n",
        "-- PostgreSQL database cluster dump completed\n",
        "-- PostgreSQL database cluster dump complet\n",
        "-- PostgreSQL database cluster  dump complete\n",
        " -- PostgreSQL database cluster dump complete\n",
        "SELECT 1; -- PostgreSQL database cluster dump complete\n",
        "-- PostgreSQL database cluster dump complete\nCREATE ROLE x;\n",
        "SELECT '\n-- PostgreSQL database cluster dump complete\n';\n",
    };
    for (size_t i = 0; i < sizeof(not_ok) / sizeof(not_ok[0]); i++) {
        s = scan(not_ok[i], &fin);
        CHECK(!dumpscan_cluster_trailer_ok(s));
        CHECK(!dumpscan_trailer_ok(s));
        dumpscan_free(s);
    }

    /* the last trailer decides which kind it is; CRLF and no final newline are fine */
    s = scan("-- PostgreSQL database dump complete\n-- PostgreSQL database cluster dump complete\n",
             &fin);
    CHECK(dumpscan_cluster_trailer_ok(s));
    CHECK(!dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database cluster dump complete\n-- PostgreSQL database dump complete\n",
             &fin);
    CHECK(!dumpscan_cluster_trailer_ok(s));
    CHECK(dumpscan_trailer_ok(s));
    dumpscan_free(s);
    s = scan("--\r\n-- PostgreSQL database cluster dump complete\r\n--\r\n", &fin);
    CHECK(dumpscan_cluster_trailer_ok(s));
    dumpscan_free(s);
    s = scan("-- PostgreSQL database cluster dump complete", &fin);
    CHECK(dumpscan_cluster_trailer_ok(s));
    CHECK_INT(fin, 0);
    dumpscan_free(s);
}

static void test_many_tables(void)
{
    struct sbuf b = {0};
    for (int i = 0; i < 1000; i++) {
        sbuf_printf(&b, "CREATE TABLE s%d.t%d (a integer);\n", i % 7, i);
        sbuf_printf(&b, "COPY s%d.t%d (a) FROM stdin;\n", i % 7, i);
        for (int r = 0; r < i % 13; r++)
            sbuf_printf(&b, "%d\n", r);
        sbuf_puts(&b, "\\.\n\n");
    }
    int fin;
    struct dumpscan *s = scan(b.data, &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1000);
    CHECK_INT(dumpscan_create_count(s), 1000);
    for (int i = 0; i < 1000; i++) {
        char sch[16], nm[16];
        snprintf(sch, sizeof(sch), "s%d", i % 7);
        snprintf(nm, sizeof(nm), "t%d", i);
        EXPECT_COPY(s, (size_t)i, sch, nm, i % 13);
        EXPECT_TABLE(dumpscan_create(s, (size_t)i), sch, nm);
    }
    dumpscan_free(s);
    sbuf_free(&b);
}

static void test_long_column_list(void)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "CREATE TABLE public.wide (\n");
    for (int i = 0; i < 1600; i++)
        sbuf_printf(&b, "    \"column number %d with a long name\" integer%s\n", i,
                    i < 1599 ? "," : "");
    sbuf_puts(&b, ");\nCOPY public.wide (");
    for (int i = 0; i < 1600; i++)
        sbuf_printf(&b, "%s\"column number %d with a long name\"", i ? ", " : "", i);
    sbuf_puts(&b, ") FROM stdin;\n");
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 1600; i++)
            sbuf_printf(&b, "%s%d", i ? "\t" : "", i);
        sbuf_puts(&b, "\n");
    }
    sbuf_puts(&b, "\\.\n");
    int fin;
    struct dumpscan *s = scan(b.data, &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    EXPECT_COPY(s, 0, "public", "wide", 3);
    CHECK_INT(dumpscan_create_count(s), 1);
    EXPECT_TABLE(dumpscan_create(s, 0), "public", "wide");
    dumpscan_free(s);
    sbuf_free(&b);

    /* identifiers longer than what is kept are cut, not overflowed */
    char name[1001];
    memset(name, 'n', 1000);
    name[1000] = '\0';
    char *text = xasprintf("COPY \"%s\".%s FROM stdin;\n\\.\n", name, name);
    s = scan(text, &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 1);
    CHECK_INT(strlen(dumpscan_copy(s, 0)->schema), 256);
    CHECK_INT(strlen(dumpscan_copy(s, 0)->name), 256);
    dumpscan_free(s);
    free(text);
}

static void test_create_table(void)
{
    int fin;
    struct dumpscan *s = scan("CREATE TABLE public.a (x integer);\n"
                              "CREATE UNLOGGED TABLE public.b (x integer);\n"
                              "CREATE TABLE IF NOT EXISTS c (x integer);\n"
                              "create table public.\"D\" (x integer);\n"
                              "CREATE TABLE public.p1 PARTITION OF public.p\n"
                              "FOR VALUES FROM (1) TO (10);\n"
                              "CREATE TABLE if (x integer);\n"
                              "CREATE TABLE db.s.t3 (x integer);\n"
                              "CREATE TABLE public.a$b (x integer);\n"
                              "CREATE TABLE public.ctas AS SELECT 1;\n"
                              "CREATE FOREIGN TABLE public.f (x integer) SERVER s;\n"
                              "CREATE TEMP TABLE tt (x integer);\n"
                              "CREATE TEMPORARY TABLE tt2 (x integer);\n"
                              "CREATE GLOBAL TEMPORARY TABLE tt3 (x integer);\n"
                              "CREATE UNLOGGED SEQUENCE public.seq;\n"
                              "CREATE VIEW public.v AS SELECT 1;\n"
                              "CREATE TABLE (x integer);\n"
                              "CREATE INDEX i ON public.a USING btree (x);\n"
                              "SELECT 'CREATE TABLE public.no (x int);';\n"
                              "COMMENT ON TABLE public.a IS 'CREATE TABLE x';\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_create_count(s), 9);
    EXPECT_TABLE(dumpscan_create(s, 0), "public", "a");
    EXPECT_TABLE(dumpscan_create(s, 1), "public", "b");
    EXPECT_TABLE(dumpscan_create(s, 2), NULL, "c");
    EXPECT_TABLE(dumpscan_create(s, 3), "public", "D");
    EXPECT_TABLE(dumpscan_create(s, 4), "public", "p1");
    EXPECT_TABLE(dumpscan_create(s, 5), NULL, "if");
    EXPECT_TABLE(dumpscan_create(s, 6), "s", "t3");
    EXPECT_TABLE(dumpscan_create(s, 7), "public", "a$b");
    EXPECT_TABLE(dumpscan_create(s, 8), "public", "ctas");
    CHECK_INT(dumpscan_copy_count(s), 0);
    dumpscan_free(s);
}

static void test_partitions(void)
{
    int fin;
    struct dumpscan *s = scan("CREATE TABLE public.m (id integer, v text)\n"
                              "PARTITION BY RANGE (id);\n"
                              "CREATE TABLE public.m_1 (id integer, v text);\n"
                              "CREATE TABLE public.m_2 (id integer, v text);\n"
                              "ALTER TABLE ONLY public.m ATTACH PARTITION public.m_1 FOR VALUES "
                              "FROM (0) TO (10);\n"
                              "ALTER TABLE ONLY public.m ATTACH PARTITION public.m_2 FOR VALUES "
                              "FROM (10) TO (20);\n"
                              "COPY public.m_1 (id, v) FROM stdin;\n1\ta\n2\tb\n\\.\n\n"
                              "COPY public.m_2 (id, v) FROM stdin;\n10\tc\n\\.\n\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_create_count(s), 3);
    EXPECT_TABLE(dumpscan_create(s, 0), "public", "m");
    CHECK(dumpscan_create(s, 0)->partitioned);
    CHECK(!dumpscan_create(s, 1)->partitioned);
    CHECK(!dumpscan_create(s, 2)->partitioned);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, "public", "m_1", 2);
    EXPECT_COPY(s, 1, "public", "m_2", 1);
    dumpscan_free(s);

    /* PARTITION BY only at the top level of the statement makes a partitioned table: a
     * partition (PARTITION OF) is one only if it is partitioned again */
    s = scan("CREATE TABLE public.a (x integer, y integer GENERATED ALWAYS AS (x) STORED);\n"
             "CREATE TABLE public.b PARTITION OF public.m FOR VALUES IN (1);\n"
             "CREATE TABLE public.c PARTITION OF public.m FOR VALUES IN (2)\n"
             "PARTITION BY LIST (x);\n"
             "CREATE TABLE public.d (x integer CHECK (x > (SELECT 1 OVER (PARTITION BY 1))));\n"
             "CREATE TABLE public.e (x integer) partition by hash (x);\n",
             &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_create_count(s), 5);
    const bool want[] = {false, false, true, false, true};
    for (size_t i = 0; i < 5; i++)
        CHECK(dumpscan_create(s, i)->partitioned == want[i]);
    dumpscan_free(s);
}

static void test_not_copy_from_stdin(void)
{
    int fin;
    CHECK_INT(copies_in("COPY public.t (a) TO stdout;\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("COPY public.t (a) TO stdout;\n1\n\\.\n", &fin), 0);
    CHECK_INT(fin, -1);
    CHECK_INT(copies_in("COPY (SELECT a FROM stdin) TO stdout;\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("COPY t FROM '/tmp/stdin';\nCOPY t FROM PROGRAM 'stdin';\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("COPY t FROM \"stdin\";\n", &fin), 0);
    CHECK_INT(copies_in("COPY t FROM '/x' WHERE a IN (SELECT b FROM stdin);\n", &fin), 0);
    CHECK_INT(fin, 0);
    CHECK_INT(copies_in("SELECT 1 FROM stdin;\nINSERT INTO t SELECT * FROM stdin;\n", &fin), 0);
    CHECK_INT(copies_in("COPY FROM stdin;\n", &fin), 0);
    CHECK_INT(copies_in("\"COPY\" t FROM stdin;\n", &fin), 0);
    CHECK_INT(copies_in("SELECT 1; COPYx t FROM stdin;\n", &fin), 0);
    /* keywords in any case; options after STDIN still make psql send data */
    struct dumpscan *s = scan("copy public.t from STDIN;\n1\n\\.\n"
                              "Copy public.u (a) From Stdin WITH (FORMAT text);\n1\n2\n\\.\n",
                              &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, "public", "t", 1);
    EXPECT_COPY(s, 1, "public", "u", 2);
    dumpscan_free(s);
}

static void test_same_table_twice(void)
{
    int fin;
    struct dumpscan *s = scan("COPY t FROM stdin;\n1\n\\.\nCOPY t FROM stdin;\n1\n2\n\\.\n", &fin);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, NULL, "t", 1);
    EXPECT_COPY(s, 1, NULL, "t", 2);
    dumpscan_free(s);
}

/* psql runs what follows "FROM stdin;" on the same line after the block. */
static void test_sql_after_copy_on_same_line(void)
{
    int fin;
    struct dumpscan *s =
        scan("COPY a FROM stdin; COPY b FROM stdin; -- c\n1\n\\.\n2\n3\n\\.\nSELECT 1;\n", &fin);
    CHECK_INT(fin, 0);
    CHECK_INT(dumpscan_copy_count(s), 2);
    EXPECT_COPY(s, 0, NULL, "a", 1);
    EXPECT_COPY(s, 1, NULL, "b", 2);
    dumpscan_free(s);
    s = scan("COPY a FROM stdin;   -- comment\n1\n\\.\n", &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, NULL, "a", 1);
    dumpscan_free(s);
    s = scan("COPY a FROM stdin; SELECT 'x\n1\n\\.\n';\n", &fin);
    CHECK_INT(fin, 0);
    EXPECT_COPY(s, 0, NULL, "a", 1);
    dumpscan_free(s);
    CHECK_INT(copies_in("COPY a FROM stdin; SELECT 1\n\\.\n", &fin), 1);
    CHECK_INT(fin, -1);
    /* too long to follow */
    struct sbuf b = {0};
    sbuf_puts(&b, "COPY a FROM stdin; SELECT 1;");
    for (int i = 0; i < 5000; i++)
        sbuf_puts(&b, " ");
    sbuf_puts(&b, "SELECT 2;\n\\.\n");
    CHECK_INT(copies_in(b.data, &fin), 1);
    CHECK_INT(fin, -1);
    sbuf_free(&b);
}

/* Inputs with NUL bytes and binary junk do not crash and agree across chunkings. */
static void test_binary_junk(void)
{
    char buf[4096];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            static const char alphabet[] = "COPYFROMstdin;\n\\.'\"$-/*()E& \r\t\0x";
            buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
        }
        int fin;
        struct dumpscan *s = scan_len(buf, sizeof(buf), &fin);
        CHECK(fin == 0 || fin == -1);
        dumpscan_free(s);
    }
}

/* A transcript of the events, the same whatever the chunking: pieces of one kind are
 * merged, each event kind opens with its letter. */
struct transcript {
    struct sbuf out;
    int last;
    struct dumpscan *scan;
};

static void transcribe(void *ctx, enum dumpscan_event ev, const char *buf, size_t len)
{
    struct transcript *t = ctx;
    static const char letters[] = "S;M|D.";
    if ((int)ev != t->last || ev == DS_STMT_END || ev == DS_META_END || ev == DS_COPY_END)
        sbuf_add(&t->out, &letters[ev], 1);
    t->last = (int)ev;
    if (len)
        sbuf_add(&t->out, buf, len);
    if (ev == DS_STMT_END) {
        const struct dumpscan_stmt *st = dumpscan_statement(t->scan);
        sbuf_printf(&t->out, "<%d", (int)st->kind);
        if (st->table)
            sbuf_printf(&t->out, " %s.%s", st->table->schema ? st->table->schema : "",
                        st->table->name);
        if (st->ref)
            sbuf_printf(&t->out, " ->%s.%s", st->ref->schema, st->ref->name);
        for (size_t i = 0; i < st->ncolumns; i++)
            sbuf_printf(&t->out, " c:%s", st->columns[i]);
        sbuf_puts(&t->out, ">");
    }
}

static char *transcript_of(const char *text, size_t chunk)
{
    struct transcript t = {.last = -1, .scan = dumpscan_new()};
    dumpscan_set_sink(t.scan, transcribe, &t);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        size_t n = chunk == SIZE_MAX ? 1 + rng() % 9 : chunk;
        if (n > len - off)
            n = len - off;
        dumpscan_feed(t.scan, text + off, n);
        off += n;
    }
    dumpscan_finish(t.scan);
    dumpscan_free(t.scan);
    sbuf_puts(&t.out, "");
    return t.out.data;
}

/* The events of a dump: statements with their kind, meta-commands, COPY data without
 * its end marker, across any chunking. */
static void test_events(void)
{
    static const char dump[] = "\\restrict K1\n"
                               "SET x = 1;\n"
                               "ALTER TABLE public.t OWNER TO bob;\n"
                               "COPY public.t (a, \"B c\") FROM stdin;\n"
                               "1\t\\.\n"
                               "\\\n"
                               "\\.x\n"
                               "\\.\r\n"
                               "GRANT SELECT ON public.t TO PUBLIC;\n"
                               "ALTER TABLE ONLY public.a\n"
                               "    ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES public.b(id);\n"
                               "ALTER FUNCTION public.owner(integer) OWNER TO \"Bob\";\n"
                               "SET SESSION AUTHORIZATION alice;\n"
                               "ALTER DEFAULT PRIVILEGES FOR ROLE bob GRANT ALL ON TABLES TO x;\n"
                               "SELECT 1 \\; SELECT 2;\n"
                               "\\unrestrict K1\n";
    static const char want[] =
        "Mrestrict K1|S\nSET x = 1;;<6>S\nALTER TABLE public.t OWNER TO bob;;<2>"
        "S\nCOPY public.t (a, \"B c\") FROM stdin;;<1 public.t c:a c:B c>"
        "D1\t\\.\n\\\n\\.x\n.SGRANT SELECT ON public.t TO PUBLIC;;<3>"
        "S\nALTER TABLE ONLY public.a\n    ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES "
        "public.b(id);;<5 public.a ->public.b>"
        "S\nALTER FUNCTION public.owner(integer) OWNER TO \"Bob\";;<2>"
        "S\nSET SESSION AUTHORIZATION alice;;<4>"
        "S\nALTER DEFAULT PRIVILEGES FOR ROLE bob GRANT ALL ON TABLES TO x;;<3>"
        "S\nSELECT 1 ; SELECT 2;;<0>S\nMunrestrict K1|S\n";
    size_t modes[] = {0, 1, 2, 3, 5, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        char *t = transcript_of(dump, modes[m] ? modes[m] : strlen(dump));
        CHECK_STR(t, want);
        free(t);
    }
}

/* Only the "<kind table>" notes of a transcript. */
static char *kinds_of(const char *text)
{
    char *t = transcript_of(text, 7);
    struct sbuf b = {0};
    for (const char *p = strchr(t, '<'); p; p = strchr(p + 1, '<'))
        sbuf_add(&b, p, strcspn(p, ">") + 1);
    sbuf_puts(&b, "");
    free(t);
    return b.data;
}

/* The statements a parallel load treats apart: session settings, sequence values, index
 * builds and index-backed constraints, each with its table. */
static void test_statement_kinds(void)
{
    static const char dump[] =
        "SELECT pg_catalog.set_config('search_path', '', false);\n"
        "SET default_tablespace = '';\n"
        "SELECT pg_catalog.setval('public.s', 42, true);\n"
        "SELECT setval_other(1);\n"
        "SELECT x.setval(1);\n"
        "CREATE INDEX i ON public.t USING btree (a);\n"
        "CREATE UNIQUE INDEX \"I\" ON ONLY \"Sch\".\"T\" USING btree (a);\n"
        "CREATE INDEX \"on\" ON t (a);\n"
        "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n"
        "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT \"T u\" UNIQUE (a);\n"
        "ALTER TABLE public.t ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&);\n"
        "ALTER TABLE ONLY public.t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\n"
        "ALTER TABLE ONLY public.t ALTER COLUMN exclude SET DEFAULT 1;\n"
        "ALTER TABLE ONLY public.a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES public.b(id);\n"
        "CREATE VIEW v AS SELECT 1;\n";
    char *k = kinds_of(dump);
    CHECK_STR(k, "<6><6><7><0><0><8 public.t><8 Sch.T><8 .t><9 public.t><9 public.t>"
                 "<9 public.t><0><0><5 public.a -><0>");
    free(k);
}

int main(void)
{
    RUN(test_events);
    RUN(test_statement_kinds);
    RUN(test_real_sample);
    RUN(test_real_sample_truncated);
    RUN(test_zero_column_table);
    RUN(test_escaped_values);
    RUN(test_short_rows_alignment);
    RUN(test_empty_copy_block);
    RUN(test_quoted_identifiers);
    RUN(test_unicode_identifiers);
    RUN(test_dollar_quotes);
    RUN(test_long_dollar_tag);
    RUN(test_string_literals);
    RUN(test_string_continuation);
    RUN(test_standard_conforming_strings_off);
    RUN(test_comments);
    RUN(test_meta_commands);
    RUN(test_statement_ends);
    RUN(test_truncated);
    RUN(test_trailer);
    RUN(test_cluster_trailer);
    RUN(test_many_tables);
    RUN(test_long_column_list);
    RUN(test_create_table);
    RUN(test_partitions);
    RUN(test_not_copy_from_stdin);
    RUN(test_same_table_twice);
    RUN(test_sql_after_copy_on_same_line);
    RUN(test_binary_junk);
    return UNIT_DONE();
}
