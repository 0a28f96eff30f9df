#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "postgres/sqlsplit.h"
#include "unit.h"

static void test_plain(void)
{
    struct sql_stmt *s;
    size_t n;
    CHECK_INT(sql_split("SELECT 1;\n\nSELECT 2 ;  SELECT 3", "f", &s, &n), 0);
    CHECK_INT(n, 3);
    CHECK_STR(s[0].text, "SELECT 1");
    CHECK_INT(s[0].line, 1);
    CHECK_STR(s[1].text, "SELECT 2 ");
    CHECK_INT(s[1].line, 3);
    CHECK_STR(s[2].text, "SELECT 3");
    CHECK_INT(s[2].line, 3);
    sql_stmts_free(s, n);

    /* nothing but blanks, comments and semicolons: no statement */
    CHECK_INT(sql_split("  ;\n-- only ; a comment\n/* and ; this */;\n", "f", &s, &n), 0);
    CHECK_INT(n, 0);
    CHECK(s == NULL);
}

static void test_hidden_semicolons(void)
{
    struct sql_stmt *s;
    size_t n;
    const char *text = "-- lead; comment\n"
                       "SELECT 'a;b', 'it''s;' FROM \"t;x\";\n"
                       "/* c /* nested; */ still; */ SELECT E'\\';' = ';';\n"
                       "SELECT $$;$$, $tag$ $$; $tag$;\n"
                       "SELECT a$1 FROM t; SELECT 2";
    CHECK_INT(sql_split(text, "f", &s, &n), 0);
    CHECK_INT(n, 5);
    CHECK_STR(s[0].text, "SELECT 'a;b', 'it''s;' FROM \"t;x\"");
    CHECK_INT(s[0].line, 2);
    CHECK_STR(s[1].text, "SELECT E'\\';' = ';'");
    CHECK_INT(s[1].line, 3);
    CHECK_STR(s[2].text, "SELECT $$;$$, $tag$ $$; $tag$");
    CHECK_INT(s[2].line, 4);
    CHECK_STR(s[3].text, "SELECT a$1 FROM t");
    CHECK_STR(s[4].text, "SELECT 2");
    CHECK_INT(s[4].line, 5);
    sql_stmts_free(s, n);

    /* a statement on several lines starts where its code starts */
    CHECK_INT(sql_split("SELECT 1;\n\n  -- why\n  SELECT\n  2;", "f", &s, &n), 0);
    CHECK_INT(n, 2);
    CHECK_INT(s[1].line, 4);
    sql_stmts_free(s, n);
}

static void test_unterminated(void)
{
    const char *bad[] = {"SELECT 1;\nSELECT 'open;", "SELECT \"x;", "/* /* */ SELECT 1;",
                         "SELECT $a$ x $b$;"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sql_stmt *s = (void *)1;
        size_t n = 9;
        err_clear();
        CHECK_INT(sql_split(bad[i], "checks.sql", &s, &n), -1);
        CHECK(s == NULL);
        CHECK_INT(n, 0);
        CHECK_INT(err_class(), ERR_USAGE);
    }
    err_clear();
    struct sql_stmt *s;
    size_t n;
    sql_split("SELECT 1;\n\nSELECT 'x", "checks.sql", &s, &n);
    CHECK_STR(err_msg(), "could not read \"checks.sql\": a string, quoted name or comment that "
                         "starts on line 3 does not end");
    err_clear();
}

int main(void)
{
    RUN(test_plain);
    RUN(test_hidden_semicolons);
    RUN(test_unterminated);
    return UNIT_DONE();
}
