#include "common/err.h"
#include "unit.h"

static void test_first_error_wins(void)
{
    err_clear();
    CHECK_INT(err_set(ERR_CONNECT, "could not connect to \"%s\"", "shop"), -1);
    err_set(ERR_FAILED, "a consequence");
    CHECK_STR(err_msg(), "could not connect to \"shop\"");
    CHECK_INT(err_class(), ERR_CONNECT);
    err_clear();
    CHECK(!err_is_set());
}

static void test_wrap_keeps_hint_and_class(void)
{
    err_clear();
    err_set(ERR_INTEGRITY, "row count of \"t\" is 3, expected 4");
    err_hint("restore another backup");
    CHECK_INT(err_wrap(ERR_NONE, "could not restore \"%s\"", "shop"), -1);
    CHECK_STR(err_msg(), "could not restore \"shop\": row count of \"t\" is 3, expected 4");
    CHECK_STR(err_hint_msg(), "restore another backup");
    CHECK_INT(err_class(), ERR_INTEGRITY);
    err_wrap(ERR_FAILED, "outer");
    CHECK_INT(err_class(), ERR_FAILED);
    CHECK_STR(err_msg(), "outer: could not restore \"shop\": row count of \"t\" is 3, expected 4");
    err_clear();
    err_wrap(ERR_USAGE, "nothing set before");
    CHECK_STR(err_msg(), "nothing set before");
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
}

static void test_save_restore(void)
{
    err_clear();
    err_set(ERR_USAGE, "bad value");
    err_hint("see --help");
    struct err_saved s;
    err_save(&s);
    CHECK(!err_is_set());
    CHECK_STR(err_hint_msg(), "");
    err_set(ERR_FAILED, "cleanup failed");
    CHECK_INT(err_restore(&s), -1);
    CHECK_STR(err_msg(), "bad value");
    CHECK_STR(err_hint_msg(), "see --help");
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();

    struct err_saved none;
    err_save(&none);
    CHECK_INT(none.cls, ERR_NONE);
    err_set(ERR_FAILED, "set meanwhile");
    CHECK_INT(err_restore(&none), 0);
    CHECK(!err_is_set());
}

static void test_one_line(void)
{
    err_clear();
    err_set(ERR_FAILED, "line one\nline two.\n");
    CHECK_STR(err_msg(), "line one line two");
    err_clear();
}

int main(void)
{
    RUN(test_first_error_wins);
    RUN(test_wrap_keeps_hint_and_class);
    RUN(test_save_restore);
    RUN(test_one_line);
    return UNIT_DONE();
}
