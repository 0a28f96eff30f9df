#include "common/err.h"
#include "common/naming.h"
#include "unit.h"

#include <stdlib.h>

/* 2026-11-25 15:27:54 UTC */
#define WHEN ((time_t)1795620474)

static void check_encode(const char *db, const char *want)
{
    char *enc = naming_encode_db(db);
    CHECK_STR(enc, want);
    char *dec = naming_decode_db(enc);
    CHECK_STR(dec, db);
    free(enc);
    free(dec);
}

static void test_encode_ordinary(void)
{
    check_encode("app", "app");
    check_encode("my_db-1.x", "my_db-1.x");
    check_encode("Sales2026", "Sales2026");
    check_encode("_x", "_x");
}

static void test_encode_hostile(void)
{
    check_encode("a\"; DROP DATABASE victim; --", "a%22%3B%20DROP%20DATABASE%20victim%3B%20--");
    check_encode("../x", "%2E.%2Fx");
    check_encode("-h x", "%2Dh%20x");
    check_encode(".hidden", "%2Ehidden");
    check_encode("dbname=postgres", "dbname%3Dpostgres");
    check_encode("my db", "my%20db");
    check_encode("données", "donn%C3%A9es");
    check_encode("a\nb", "a%0Ab");
    check_encode("100%", "100%25");
    check_encode("%41", "%2541");
    check_encode("@globals", "%40globals");
    check_encode("a/b\\c", "a%2Fb%5Cc");
}

static void test_decode_rejects(void)
{
    const char *bad[] = {
        "",      "%",     "%4",   "%GG",
        "%4g",   "%e9", /* lowercase hex */
        "%41",   "a%5Fb", ".x",   "-x",
        "a b",   "a/b", /* needless or raw */
        "a%00b", "%2e.",  "a\nb", "donn\xc3\xa9s",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *d = naming_decode_db(bad[i]);
        if (d)
            fprintf(stderr, "decoded \"%s\" unexpectedly\n", bad[i]);
        CHECK(d == NULL);
        free(d);
    }
}

static void test_db_ok(void)
{
    char name[65];
    memset(name, 'a', 64);
    name[64] = '\0';
    CHECK(!naming_db_ok(name));
    name[63] = '\0';
    CHECK(naming_db_ok(name));
    CHECK(naming_db_ok("a"));
    CHECK(!naming_db_ok(""));
    CHECK(!naming_db_ok(NULL));
}

static void test_backup_file(void)
{
    static const struct {
        const char *db;
        time_t when;
        const char *compression;
        int seq;
        const char *expect;
    } cases[] = {
        {"app", WHEN, "gzip", 1, "app_20261125_152754.sql.gz"},
        {"app", WHEN, "gzip", 2, "app_20261125_152754_2.sql.gz"},
        {"app", WHEN, "none", 3, "app_20261125_152754_3.sql"},
        {"app", WHEN, "zstd", 1, "app_20261125_152754.sql.zst"},
        {"app", WHEN, "zstd", 4, "app_20261125_152754_4.sql.zst"},
        {"../etc x", 0, "none", 1, "%2E.%2Fetc%20x_19700101_000000.sql"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *f = naming_backup_file(cases[i].db, cases[i].when, cases[i].compression, NULL,
                                     cases[i].seq);
        CHECK_STR(f, cases[i].expect);
        free(f);
    }
    /* the encryption's suffix after the compression's */
    char *f = naming_backup_file("shop", WHEN, "gzip", "age", 1);
    CHECK_STR(f, "shop_20261125_152754.sql.gz.age");
    free(f);
    f = naming_backup_file("shop", WHEN, "none", "age", 2);
    CHECK_STR(f, "shop_20261125_152754_2.sql.age");
    free(f);
    err_clear();
    CHECK(naming_backup_file("app", WHEN, "lz4", NULL, 1) == NULL);
    CHECK_STR(err_msg(), "unknown compression \"lz4\"");
    err_clear();
    CHECK(naming_backup_file("app", WHEN, "gzip", "rot13", 1) == NULL);
    CHECK_STR(err_msg(), "unknown encryption \"rot13\"");
    err_clear();
}

static void check_parse(const char *file, const char *db, time_t when, const char *compression)
{
    char *got = NULL;
    time_t t = 0;
    const char *c = NULL, *e = NULL;
    CHECK_INT(naming_parse_file(file, &got, &t, &c, &e), 0);
    CHECK_STR(e, strstr(file, ".age") ? "age" : "none");
    CHECK_STR(got, db);
    CHECK_INT(t, when);
    CHECK_STR(c, compression);
    free(got);
}

static void test_parse(void)
{
    check_parse("app_20261125_152754.sql.gz", "app", WHEN, "gzip");
    check_parse("app_20261125_152754.sql", "app", WHEN, "none");
    check_parse("app_20261125_152754.sql.zst", "app", WHEN, "zstd");
    check_parse("app_20261125_152754_2.sql.gz", "app", WHEN, "gzip");
    check_parse("app_20261125_152754_2.sql.zst", "app", WHEN, "zstd");
    check_parse("app_20261125_152754_12.sql", "app", WHEN, "none");
    check_parse("my_db_20261125_152754.sql.gz", "my_db", WHEN, "gzip");
    check_parse("a_b_c_20261125_152754_3.sql.gz", "a_b_c", WHEN, "gzip");
    check_parse("x_20261125_152754_20261125_152754.sql.gz", "x_20261125_152754", WHEN, "gzip");
    check_parse("donn%C3%A9es_20261125_152754.sql.gz", "données", WHEN, "gzip");
    check_parse("%40globals_20240229_235959.sql.gz", "@globals", 1709251199, "gzip");
    check_parse("%40globals_20240229_235959.sql.zst", "@globals", 1709251199, "zstd");
    check_parse("shop_20261125_152754.sql.gz.age", "shop", WHEN, "gzip");
    check_parse("shop_20261125_152754_2.sql.zst.age", "shop", WHEN, "zstd");
    check_parse("shop_20261125_152754.sql.age", "shop", WHEN, "none");
}

static void test_parse_round_trip(void)
{
    const char *dbs[] = {"app",
                         "my_db",
                         "a_1",
                         "../x",
                         "-h x",
                         "a\"; DROP DATABASE victim; --",
                         "données",
                         "a\nb",
                         "%",
                         "_",
                         "x_20261125_152754"};
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
        for (int seq = 1; seq <= 3; seq++) {
            const char *c = seq == 1 ? "gzip" : seq == 2 ? "none" : "zstd";
            char *f = naming_backup_file(dbs[i], WHEN, c, NULL, seq);
            check_parse(f, dbs[i], WHEN, c);
            free(f);
        }
}

static void test_parse_rejects(void)
{
    const char *bad[] = {
        "",
        "app.sql.gz",
        "catalog.db",
        "app_20261125_152754.sql.gz.partial",
        "app_20261125_152754.gz",
        "app_20261125_152754.SQL.GZ",
        "app_20261125_152754.sql.zst.partial",
        "app_20261125_152754.zst",
        "app_20261125_152754.sql.zstd",
        "app_20261125_152754.sql.ZST",
        "app_20261125_152754.sql.gz.zst",
        ".sql.zst",
        "_20261125_152754.sql.gz",        /* empty db */
        "20261125_152754.sql.gz",         /* no db */
        "app_2026112_152754.sql.gz",      /* short date */
        "app_20261125_15275.sql.gz",      /* short time */
        "app_20261125-152754.sql.gz",     /* wrong separator */
        "app_20261130_152754x.sql.gz",    /* trailing junk */
        "app_20260230_120000.sql.gz",     /* Feb 30 */
        "app_20261325_120000.sql.gz",     /* month 13 */
        "app_20261125_240000.sql.gz",     /* 24:00 */
        "app_20261125_235960.sql.gz",     /* leap second */
        "app_20261125_152754_.sql.gz",    /* empty suffix */
        "app_20261125_152754_1.sql.gz",   /* seq 1 has no suffix */
        "app_20261125_152754_02.sql.gz",  /* leading zero */
        "app_20261125_152754_x.sql.gz",   /* non-digit suffix */
        "app_20261125_152754_2_2.sql.gz", /* two suffixes */
        "a%2fb_20261125_152754.sql.gz",   /* lowercase hex */
        "a b_20261125_152754.sql.gz",     /* raw byte that must be encoded */
        ".x_20261125_152754.sql.gz",      /* leading dot */
        "-x_20261125_152754.sql.gz",      /* leading dash */
        "a%00_20261125_152754.sql.gz",    /* NUL */
        "sub/app_20261125_152754.sql.gz", /* path */
        "app_20261125_152754.sql.age.gz", /* encryption before compression */
        "app_20261125_152754.age",        /* no .sql */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_20261125_152754.sql",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *db = NULL;
        time_t t;
        const char *c;
        int rc = naming_parse_file(bad[i], &db, &t, &c, NULL);
        if (rc != -1)
            fprintf(stderr, "parsed \"%s\" unexpectedly\n", bad[i]);
        CHECK_INT(rc, -1);
        CHECK(db == NULL);
    }
}

/* A test restore's scratch database: our prefix, the database's tag, a random part. */
static void test_test_db(void)
{
    char *a = naming_test_db("shop"), *b = naming_test_db("shop");
    char prefix[64];
    snprintf(prefix, sizeof(prefix), NAMING_TMP_PREFIX "%016" PRIx64 "_test_",
             naming_target_tag("shop"));
    CHECK(strncmp(a, prefix, strlen(prefix)) == 0);
    CHECK_INT(strlen(a), strlen(prefix) + 8);
    CHECK(strspn(a + strlen(prefix), "0123456789abcdef") == 8);
    CHECK(strcmp(a, b) != 0);
    CHECK(naming_db_ok(a));
    free(a);
    free(b);
}

int main(void)
{
    RUN(test_test_db);
    RUN(test_encode_ordinary);
    RUN(test_encode_hostile);
    RUN(test_decode_rejects);
    RUN(test_db_ok);
    RUN(test_backup_file);
    RUN(test_parse);
    RUN(test_parse_round_trip);
    RUN(test_parse_rejects);
    return UNIT_DONE();
}
