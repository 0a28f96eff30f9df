/* The table of encryption formats: which recipients are whose, the filters by name, the
 * key check before the payload and its message. */
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bech32.h"
#include "common/err.h"
#include "common/util.h"
#include "io/crypt.h"
#include "mem_sink.h"
#include "unit.h"

static char tmpdir[256];

/* A key pair: the identity file at tmpdir/name, the recipient in rcpt. */
static char *make_key(const char *name, char rcpt[96])
{
    unsigned char sk[32], pk[32];
    char id[96];
    randombytes_buf(sk, sizeof(sk));
    crypto_scalarmult_base(pk, sk);
    bech32_encode("age-secret-key-", sk, 32, true, id, sizeof(id));
    bech32_encode("age", pk, 32, false, rcpt, 96);
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", id);
    fclose(f);
    chmod(path, 0600);
    return path;
}

static void test_format_of(void)
{
    char r1[96], r2[96];
    free(make_key("a", r1));
    free(make_key("b", r2));
    char *none[] = {NULL};
    CHECK_STR(crypt_format_of(none, 0), "none");
    char *two[] = {r1, r2};
    CHECK_STR(crypt_format_of(two, 2), "age");
    char *gpg[] = {r1, "0123456789ABCDEF"};
    err_clear();
    CHECK(crypt_format_of(gpg, 2) == NULL);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strstr(err_msg(), "is for age, \"0123456789ABCDEF\" for openpgp: one backup uses one"));
    char *bad[] = {"age1notbech32"};
    err_clear();
    CHECK(crypt_format_of(bad, 1) == NULL);
    CHECK(strncmp(err_msg(), "recipient \"age1notbech32\" is not an age recipient: ", 51) == 0);
    err_clear();
}

/* encrypt_add and decrypt_add by name, through one chain each; "none" adds nothing. */
static void test_filters_by_name(void)
{
    char r[96];
    char *key = make_key("k", r);
    char *rcpts[] = {r};
    const char *text = "COPY t (a) FROM stdin;\n1\n\\.\n";
    struct mem_sink enc = {0}, dec = {0}, plain = {0};
    struct chain *c = chain_new();
    encrypt_add(c, "age", rcpts, 1);
    chain_add(c, filter_callback_new(mem_write, &enc));
    CHECK_INT(chain_write(c, (const unsigned char *)text, strlen(text)), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    CHECK(enc.buf.len > strlen(text) && memcmp(enc.buf.data, "age-encryption.org/v1\n", 22) == 0);
    CHECK_STR(crypt_format_of_header((unsigned char *)enc.buf.data, enc.buf.len), "age");
    CHECK_STR(crypt_format_of_header((unsigned char *)"\x1f\x8b", 2), "none");

    struct crypt_keys *keys = crypt_keys_new(key);
    c = chain_new();
    decrypt_add(c, "age", keys, "f.sql.age");
    chain_add(c, filter_callback_new(mem_write, &dec));
    CHECK_INT(chain_write(c, (unsigned char *)enc.buf.data, enc.buf.len), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    CHECK(dec.buf.len == strlen(text) && memcmp(dec.buf.data, text, dec.buf.len) == 0);

    c = chain_new();
    encrypt_add(c, "none", rcpts, 0);
    decrypt_add(c, "none", keys, "x");
    chain_add(c, filter_callback_new(mem_write, &plain));
    CHECK_INT(chain_write(c, (const unsigned char *)"abc", 3), 0);
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    CHECK(plain.buf.len == 3);

    err_clear();
    c = chain_new();
    decrypt_add(c, "rot13", keys, "x");
    CHECK_INT(chain_finish(c), -1);
    CHECK_STR(err_msg(), "unknown encryption \"rot13\"");
    chain_free(c);
    err_clear();
    crypt_keys_free(keys);
    sbuf_free(&enc.buf);
    sbuf_free(&dec.buf);
    sbuf_free(&plain.buf);
    free(key);
}

/* The key check names what is encrypted and to whom; no key at all is a usage error too. */
static void test_unlock(void)
{
    char r[96], other[96], matched[CRYPT_RECIPIENT_MAX];
    char *key = make_key("u", r), *wrong = make_key("w", other);
    char *rcpts[] = {r};
    struct mem_sink enc = {0};
    struct chain *c = chain_new();
    encrypt_add(c, "age", rcpts, 1);
    chain_add(c, filter_callback_new(mem_write, &enc));
    CHECK_INT(chain_finish(c), 0);
    chain_free(c);
    char *path = xasprintf("%s/file.sql.age", tmpdir);
    FILE *f = fopen(path, "wb");
    fwrite(enc.buf.data, 1, enc.buf.len, f);
    fclose(f);
    char *lines = xasprintf("%s\n", r);

    struct crypt_keys *keys = crypt_keys_new(key);
    CHECK_INT(crypt_unlock("age", path, keys, "backup 7", lines, matched), 0);
    CHECK_STR(matched, r);
    CHECK_INT(crypt_unlock("none", path, keys, "backup 7", NULL, matched), 0);
    CHECK_STR(matched, "");
    crypt_keys_free(keys);

    keys = crypt_keys_new(wrong);
    err_clear();
    CHECK_INT(crypt_unlock("age", path, keys, "backup 7", lines, NULL), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    char *want = xasprintf("backup 7 is encrypted with age to %s: no identity in \"%s\" matches a "
                           "recipient of \"%s\"",
                           r, wrong, path);
    CHECK_STR(err_msg(), want);
    free(want);
    crypt_keys_free(keys);

    keys = crypt_keys_new(NULL);
    err_clear();
    CHECK_INT(crypt_unlock("age", path, keys, "it", NULL, NULL), -1);
    CHECK_STR(err_msg(), "it is encrypted with age to unknown recipients: no age identity to "
                         "decrypt with");
    CHECK(strstr(err_hint_msg(), "--identity") != NULL);
    err_clear();
    crypt_keys_free(keys);
    sbuf_free(&enc.buf);
    unlink(path);
    free(path);
    free(lines);
    free(key);
    free(wrong);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/crypt-XXXXXX", base);
    if (!mkdtemp(tmpdir) || sodium_init() < 0)
        return 2;
    RUN(test_format_of);
    RUN(test_filters_by_name);
    RUN(test_unlock);
    return UNIT_DONE();
}
