/* The file:// backend (src/remote/local.c): a store is whole or absent, its checksum in a
 * sidecar; stat, get into a chain, list, remove; a missing directory is an unreachable
 * remote (ERR_REMOTE) and a bad key or URL is refused. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/hash.h"
#include "remote/remote.h"
#include "unit.h"

static char tmpdir[256];

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    close(fd);
    return path;
}

static struct remote *open_at(const char *sub, struct remote_conf *conf)
{
    char *url = xasprintf("file://%s/%s", tmpdir, sub);
    *conf = (struct remote_conf){.name = "nas", .url = url};
    struct remote *r = NULL;
    CHECK_INT(remote_open(conf, &r), 0);
    return r;
}

static int count(void *arg, const char *key, const struct remote_meta *meta)
{
    (void)key;
    (void)meta;
    ++*(int *)arg;
    return 0;
}

/* No temporary file is left beside the objects. */
static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, "tmp") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_roundtrip(void)
{
    char *store = xasprintf("%s/store", tmpdir);
    mkdir(store, 0700);
    struct remote_conf conf;
    struct remote *r = open_at("store", &conf);
    char *src = write_file("src", "hello, remote\n");
    struct remote_meta meta = {.size = 14};
    uint64_t size;
    CHECK_INT(hash_file(src, meta.checksum, &size, NULL), 0);
    CHECK_INT(remote_put_file(r, src, "db/a.sql.gz", &meta, NULL, NULL, NULL), 0);

    struct remote_meta got = {0};
    CHECK_INT(remote_stat(r, "db/a.sql.gz", &got), 0);
    CHECK_INT(got.size, 14);
    CHECK_STR(got.checksum, meta.checksum);
    CHECK_INT(remote_stat(r, "db/none.sql.gz", &got), 1);

    char sum[HASH_HEX_LEN];
    uint64_t n = 0;
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&n));
    chain_add(c, filter_hash_new(sum));
    CHECK_INT(remote_get(r, "db/a.sql.gz", c, NULL, NULL, NULL), 0);
    chain_free(c);
    CHECK_INT(n, 14);
    CHECK_STR(sum, meta.checksum);

    int objects = 0;
    CHECK_INT(remote_list(r, "", count, &objects), 0);
    CHECK_INT(objects, 1); /* the sidecar is not an object */
    char *dbdir = xasprintf("%s/db", store);
    CHECK_INT(leftovers(dbdir), 0);

    CHECK_INT(remote_remove(r, "db/a.sql.gz"), 0);
    CHECK_INT(remote_stat(r, "db/a.sql.gz", &got), 1);
    CHECK_INT(remote_remove(r, "db/a.sql.gz"), 0); /* missing is not an error */
    objects = 0;
    CHECK_INT(remote_list(r, "", count, &objects), 0);
    CHECK_INT(objects, 0);
    remote_close(r);
    free(dbdir);
    free(src);
    free(store);
    free((char *)conf.url);
}

static void test_refusals(void)
{
    struct remote_conf conf;
    struct remote *r = open_at("not-mounted", &conf);
    struct remote_meta got;
    err_clear();
    CHECK_INT(remote_stat(r, "x", &got), -1);
    CHECK_INT(err_class(), ERR_REMOTE);
    CHECK(strstr(err_msg(), "remote \"nas\"") != NULL);
    remote_close(r);
    free((char *)conf.url);

    r = open_at("", &conf);
    err_clear();
    CHECK_INT(remote_stat(r, "../etc/passwd", &got), -1);
    CHECK_INT(err_class(), ERR_FAILED);
    remote_close(r);
    free((char *)conf.url);

    struct remote_conf rel = {.name = "nas", .url = "file://relative/path"};
    err_clear();
    CHECK_INT(remote_open(&rel, &r), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
}

/* A store that fails (the source is unreadable) leaves no object and no temporary file. */
static void test_failed_store(void)
{
    char *store = xasprintf("%s/store2", tmpdir);
    mkdir(store, 0700);
    struct remote_conf conf;
    struct remote *r = open_at("store2", &conf);
    struct remote_meta meta = {.size = 1, .checksum = ""};
    char *missing = xasprintf("%s/no-such-file", tmpdir);
    err_clear();
    CHECK_INT(remote_put_file(r, missing, "f.sql", &meta, NULL, NULL, NULL), -1);
    struct remote_meta got;
    CHECK_INT(remote_stat(r, "f.sql", &got), 1);
    CHECK_INT(leftovers(store), 0);
    char *side = xasprintf("%s/f.sql.xxh3", store);
    CHECK(access(side, F_OK) != 0);
    free(side);
    err_clear();
    remote_close(r);
    free(missing);
    free(store);
    free((char *)conf.url);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/local-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    RUN(test_roundtrip);
    RUN(test_refusals);
    RUN(test_failed_store);
    return UNIT_DONE();
}
