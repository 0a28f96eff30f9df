/* The libpq adapter's pure parts: which servers pgvault works with. */
#include "common/err.h"
#include "postgres/pg.h"
#include "unit.h"

static void test_supported_servers(void)
{
    err_clear();
    CHECK_INT(pg_server_supported(130000, "13.0"), 0);
    CHECK_INT(pg_server_supported(130022, "13.22"), 0);
    CHECK_INT(pg_server_supported(150018, "15.18 (Debian 15.18-0+deb12u1)"), 0);
    CHECK_INT(pg_server_supported(180000, "18devel"), 0);
    CHECK(!err_is_set());
}

static void test_older_servers_refused(void)
{
    err_clear();
    CHECK_INT(pg_server_supported(120022, "12.22"), -1);
    CHECK_STR(err_msg(), "PostgreSQL 12.22 is not supported: pgvault needs PostgreSQL 13 or newer");
    CHECK_STR(err_hint_msg(), "upgrade the server to PostgreSQL 13 or newer");
    CHECK_INT(err_class(), ERR_FAILED);
    err_clear();
    CHECK_INT(pg_server_supported(129999, "12.9999"), -1);
    err_clear();
    CHECK_INT(pg_server_supported(90624, "9.6.24"), -1);
    CHECK_STR(err_msg(),
              "PostgreSQL 9.6.24 is not supported: pgvault needs PostgreSQL 13 or newer");
    err_clear();
    /* no version text: the number says it */
    CHECK_INT(pg_server_supported(110005, NULL), -1);
    CHECK_STR(err_msg(),
              "PostgreSQL 110005 is not supported: pgvault needs PostgreSQL 13 or newer");
    err_clear();
}

int main(void)
{
    RUN(test_supported_servers);
    RUN(test_older_servers_refused);
    return UNIT_DONE();
}
