/* The S3 backend's parts that need no server: configuration checks, addressing, the
 * part size, SigV4's encoding, the XML reader. tests/integration/remote_s3.sh runs the
 * rest against Swift. */
#include "common/err.h"
#include "common/util.h"
#include "remote/remote.h"
#include "remote/s3http.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmpdir;

/* A secret key file of the given mode; the caller unlinks and frees it. */
static char *secret_file(int mode)
{
    char *p = xasprintf("%s/s3-secret-XXXXXX", tmpdir);
    int fd = mkstemp(p);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_INT(write(fd, "sekrit\n", 7), 7);
        CHECK_INT(fchmod(fd, (mode_t)mode), 0);
        close(fd);
    }
    return p;
}

static void secret_free(char *p)
{
    unlink(p);
    free(p);
}

/* remote_open of conf must fail with class cls and a message containing text. */
static void open_fails(const struct remote_conf *conf, enum err_class cls, const char *text)
{
    struct remote *r = NULL;
    err_clear();
    CHECK_INT(remote_open(conf, &r), -1);
    CHECK(r == NULL);
    CHECK_INT(err_class(), cls);
    if (!strstr(err_msg(), text))
        fprintf(stderr, "message: %s\n", err_msg());
    CHECK(strstr(err_msg(), text) != NULL);
    remote_close(r);
}

static void test_open_errors(void)
{
    char *ok = secret_file(0600), *open_to_all = secret_file(0644);
    struct remote_conf c = {.name = "off",
                            .url = "s3://bkt/p",
                            .access_key = "ak",
                            .secret_key_file = ok,
                            .endpoint = "http://127.0.0.1:9"};
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    c.url = "s3:///p";
    open_fails(&c, ERR_USAGE, "is not s3://BUCKET[/PREFIX]");
    c.url = "s3://Upper/p";
    open_fails(&c, ERR_USAGE, "is not s3://BUCKET[/PREFIX]");
    c.url = "s3://bkt/p";
    c.endpoint = "ftp://host";
    open_fails(&c, ERR_USAGE, "endpoint \"ftp://host\" is not http(s)://HOST[:PORT]");
    c.endpoint = "http://host/path";
    open_fails(&c, ERR_USAGE, "is not http(s)://HOST[:PORT]");
    c.endpoint = "http://127.0.0.1:9";
    c.part_size = 1 << 20;
    open_fails(&c, ERR_USAGE, "part_size must be in range 5242880..5368709120");
    c.part_size = 0;
    c.secret_key_file = open_to_all;
    open_fails(&c, ERR_USAGE, "is accessible by others (mode 0644)");
    CHECK(strstr(err_hint_msg(), "chmod 600") != NULL);
    c.secret_key_file = NULL;
    open_fails(&c, ERR_USAGE, "no secret key (set secret_key_file or AWS_SECRET_ACCESS_KEY)");
    c.access_key = NULL;
    open_fails(&c, ERR_USAGE, "no access key (set access_key or AWS_ACCESS_KEY_ID)");
    err_clear();
    secret_free(ok);
    secret_free(open_to_all);
}

static void test_open_addressing(void)
{
    char *ok = secret_file(0400);
    struct remote_conf c = {.name = "off",
                            .url = "s3://bkt//a/b//",
                            .access_key = "ak",
                            .secret_key_file = ok,
                            .endpoint = "https://s3.example.net:8443/",
                            .region = "eu-west-3"};
    struct remote *r;
    CHECK_INT(remote_open(&c, &r), 0);
    struct s3 *s = (struct s3 *)r;
    CHECK_STR(s->bucket, "bkt");
    CHECK_STR(s->prefix, "a/b/");
    CHECK_STR(s->base_url, "https://bkt.s3.example.net:8443");
    CHECK_STR(s->sigv4, "aws:amz:eu-west-3:s3");
    CHECK_STR(s->secret, "sekrit");
    CHECK_INT(s->part_size, 16 << 20);
    remote_close(r);

    c.path_style = true;
    c.url = "s3://bkt";
    c.endpoint = NULL;
    c.region = NULL;
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    c.secret_key_file = NULL;
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    CHECK_INT(remote_open(&c, &r), 0);
    s = (struct s3 *)r;
    CHECK_STR(s->prefix, "");
    CHECK_STR(s->base_url, "https://s3.us-east-1.amazonaws.com/bkt");
    CHECK_STR(s->secret, "envsecret");
    CHECK_STR(s->token, "tok");
    remote_close(r);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    secret_free(ok);
}

static void test_part_size(void)
{
    const int64_t mib = 1 << 20;
    CHECK_INT(s3_part_size(16 * mib, 100 * mib), 16 * mib);
    CHECK_INT(s3_part_size(5 * mib, 13 * mib), 5 * mib);
    /* a fixed 5 MiB part breaks at 50 GiB: the part grows to 6 MiB */
    CHECK_INT(s3_part_size(5 * mib, 50LL << 30), 6 * mib);
    for (int64_t size = 1; size <= (5LL << 40); size = size * 3 + 7) {
        int64_t p = s3_part_size(5 * mib, size);
        CHECK(p >= 5 * mib && p % mib == 0);
        CHECK((size + p - 1) / p <= S3_PART_TARGET);
    }
}

static void test_encode(void)
{
    char *a = s3_encode("shop/a b+c~d_e.f-g=h&é", true);
    CHECK_STR(a, "shop/a%20b%2Bc~d_e.f-g%3Dh%26%C3%A9");
    char *b = s3_encode("x/y==", false);
    CHECK_STR(b, "x%2Fy%3D%3D");
    free(a);
    free(b);
}

static void test_xml(void)
{
    const char *doc = "<R><Contents><Key>a&amp;b&lt;&#38;&#x41;</Key><Size>12</Size></Contents>"
                      "<Contents><Key>c</Key></Contents></R>";
    const char *end = doc + strlen(doc), *next;
    char *item = s3_xml_text(doc, end, "Contents", &next);
    char *key = item ? s3_xml_text(item, item + strlen(item), "Key", NULL) : NULL;
    CHECK_STR(key, "a&b<&A");
    char *item2 = s3_xml_text(next, end, "Contents", &next);
    CHECK_STR(item2, "<Key>c</Key>");
    CHECK(s3_xml_text(next, end, "Contents", NULL) == NULL);
    CHECK(s3_xml_text(doc, end, "Missing", NULL) == NULL);
    const char *open_only = "<Key>unclosed";
    CHECK(s3_xml_text(open_only, open_only + strlen(open_only), "Key", NULL) == NULL);
    free(item);
    free(key);
    free(item2);
}

int main(void)
{
    tmpdir = getenv("PGVAULT_TEST_TMP");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    if (mkdir(tmpdir, 0700) < 0 && errno != EEXIST)
        return perror(tmpdir), 1;
    RUN(test_open_errors);
    RUN(test_open_addressing);
    RUN(test_part_size);
    RUN(test_encode);
    RUN(test_xml);
    return UNIT_DONE();
}
