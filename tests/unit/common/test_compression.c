/* The compressions by name and by file suffix. */
#include <stdlib.h>

#include "common/compression.h"
#include "unit.h"

static void test_find(void)
{
    const struct compression *c = compression_find("zstd");
    CHECK(c && strcmp(c->suffix, ".zst") == 0 && c->min_level == 1 && c->max_level == 19 &&
          c->default_level == 3);
    c = compression_find("gzip");
    CHECK(c && strcmp(c->suffix, ".gz") == 0 && c->min_level == 1 && c->max_level == 9 &&
          c->default_level == 6);
    c = compression_find("none");
    CHECK(c && strcmp(c->suffix, "") == 0 && c->max_level == 0 && c->default_level == 0);
    CHECK(compression_find("lz4") == NULL);
    CHECK(compression_find("GZIP") == NULL);
    CHECK(compression_find("") == NULL);
    CHECK(compression_find(NULL) == NULL);
}

static void check_file(const char *file, const char *name, size_t stem)
{
    size_t got = 0;
    const struct compression *c = compression_of_file(file, strlen(file), &got);
    if (!name) {
        CHECK(c == NULL);
        return;
    }
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(c->name, name);
        CHECK_INT(got, stem);
    }
}

static void test_of_file(void)
{
    check_file("a.sql.gz", "gzip", 1);
    check_file("a.sql.zst", "zstd", 1);
    check_file("a.sql", "none", 1);
    check_file("ab.sql.zst", "zstd", 2);
    check_file(".sql.zst", NULL, 0); /* nothing before the extension */
    check_file(".sql", NULL, 0);
    check_file("a.zst", NULL, 0);
    check_file("a.sql.zstd", NULL, 0);
    check_file("a.sql.gz.zst", NULL, 0);
    check_file("a.sql.zst.partial", NULL, 0);
    check_file("", NULL, 0);
    /* only the first len bytes count */
    size_t stem = 0;
    const struct compression *c = compression_of_file("a.sql.zst.partial", 9, &stem);
    CHECK(c && strcmp(c->name, "zstd") == 0 && stem == 1);
}

int main(void)
{
    RUN(test_find);
    RUN(test_of_file);
    return UNIT_DONE();
}
