/* The age filters: round trips across the chunk boundaries, several recipients, each part
 * of a file damaged in turn, truncation, identity files, and the stock age(1) reading what
 * they write and writing what they read. */
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bech32.h"
#include "common/err.h"
#include "common/util.h"
#include "io/age.h"
#include "age_key.h"
#include "mem_sink.h"
#include "unit.h"

#define CHUNK 65536
#define SEALED (CHUNK + 16)

static char tmpdir[256];

/* A fresh key pair in the test's directory. */
static char *make_identity(const char *name, char recipient[AGE_RECIPIENT_MAX])
{
    return make_identity_in(tmpdir, name, recipient);
}

/* A key pair for one test: its identity file loaded, its recipient. */
struct key {
    char rcpt[AGE_RECIPIENT_MAX];
    const char *rcpts[1];
    char *path;
    struct age_identities *ids;
};

static void key_new(struct key *k, const char *name)
{
    k->path = make_identity(name, k->rcpt);
    k->rcpts[0] = k->rcpt;
    k->ids = age_identities_load(k->path);
    CHECK(k->ids != NULL);
}

static void key_free(struct key *k)
{
    age_identities_free(k->ids);
    free(k->path);
}

static unsigned char *pattern(size_t n)
{
    unsigned char *p = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + (i >> 9));
    return p;
}

static char *encrypt_mem(const char *const *rcpts, size_t nr, const unsigned char *in, size_t len,
                         size_t step, size_t *out_len)
{
    return filter_to_mem(filter_age_encrypt_new(rcpts, nr), in, len, step, out_len);
}

static char *decrypt_mem(const struct age_identities *ids, const void *in, size_t len, size_t step,
                         size_t *out_len)
{
    return filter_to_mem(filter_age_decrypt_new(ids, "mem"), in, len, step, out_len);
}

/* The header's length: through the "--- " line's newline. */
static size_t header_len(const char *enc, size_t len)
{
    const char *m = memmem(enc, len, "\n--- ", 5);
    return (size_t)((char *)memchr(m + 1, '\n', len) + 1 - enc);
}

static void test_round_trip_sizes(void)
{
    struct key k;
    key_new(&k, "rt.key");
    const struct age_identities *ids = k.ids;
    const char *const *rcpts = k.rcpts;
    const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, 2 * CHUNK, 3 * CHUNK + 7};
    const size_t steps[] = {1u << 20, 1000, 7};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *plain = pattern(sizes[i]);
        size_t elen = 0, dlen = 0, chunks = sizes[i] ? (sizes[i] + CHUNK - 1) / CHUNK : 1;
        char *enc = encrypt_mem(rcpts, 1, plain, sizes[i], steps[i % 3], &elen);
        CHECK(enc != NULL);
        CHECK_INT(elen, header_len(enc, elen) + 16 + sizes[i] + 16 * chunks);
        char *dec = decrypt_mem(ids, enc, elen, steps[(i + 1) % 3], &dlen);
        CHECK(dec != NULL);
        CHECK(dlen == sizes[i] && memcmp(dec, plain, dlen) == 0);
        free(plain);
        free(enc);
        free(dec);
    }
    key_free(&k);
}

static void test_several_recipients(void)
{
    char r1[AGE_RECIPIENT_MAX], r2[AGE_RECIPIENT_MAX], r3[AGE_RECIPIENT_MAX];
    char *p1 = make_identity("m1.key", r1), *p2 = make_identity("m2.key", r2),
         *p3 = make_identity("m3.key", r3);
    const char *rcpts[] = {r1, r2};
    unsigned char *plain = pattern(CHUNK + 5);
    size_t elen = 0, dlen = 0;
    char *enc = encrypt_mem(rcpts, 2, plain, CHUNK + 5, 4096, &elen);
    CHECK(enc && strstr(enc, "-> X25519 ") != strstr(enc + 30, "-> X25519 "));
    const char *paths[] = {p1, p2};
    for (int i = 0; i < 2; i++) {
        struct age_identities *ids = age_identities_load(paths[i]);
        char *dec = decrypt_mem(ids, enc, elen, 65536, &dlen);
        CHECK(dec && dlen == CHUNK + 5 && memcmp(dec, plain, dlen) == 0);
        free(dec);
        char who[AGE_RECIPIENT_MAX] = "";
        char *f = xasprintf("%s/multi.age", tmpdir);
        FILE *out = fopen(f, "wb");
        fwrite(enc, 1, elen, out);
        fclose(out);
        CHECK_INT(age_file_unlock(f, ids, who), 0);
        CHECK_STR(who, rcpts[i]);
        unlink(f);
        free(f);
        age_identities_free(ids);
    }
    /* a third key is none of them */
    struct age_identities *other = age_identities_load(p3);
    err_clear();
    CHECK(decrypt_mem(other, enc, elen, 65536, &dlen) == NULL);
    CHECK_INT(err_class(), ERR_USAGE);
    char *want = xasprintf("no identity in \"%s\" matches a recipient of \"mem\"", p3);
    CHECK_STR(err_msg(), want);
    free(want);
    age_identities_free(other);
    free(enc);
    free(plain);
    free(p1);
    free(p2);
    free(p3);
}

/* Decrypting enc[0..len) fails with class cls and a message that contains what. */
static void check_fails(const struct age_identities *ids, const char *enc, size_t len,
                        enum err_class cls, const char *what)
{
    size_t dlen;
    err_clear();
    char *dec = decrypt_mem(ids, enc, len, 1u << 20, &dlen);
    CHECK(dec == NULL);
    free(dec);
    CHECK_INT(err_class(), cls);
    if (!strstr(err_msg(), what)) {
        fprintf(stderr, "  message: %s (expected %s)\n", err_msg(), what);
        CHECK(!"message");
    }
}

/* One bit flipped at off: the decryption fails with cls. */
static void check_flip(const struct age_identities *ids, const char *enc, size_t len, size_t off,
                       enum err_class cls, const char *what)
{
    char *bad = xmalloc(len);
    memcpy(bad, enc, len);
    bad[off] ^= 0x04;
    check_fails(ids, bad, len, cls, what);
    free(bad);
}

/* The base64 letter at off replaced by another one: the stanza still parses. */
static void check_letter(const struct age_identities *ids, const char *enc, size_t len, size_t off,
                         enum err_class cls, const char *what)
{
    char *bad = xmalloc(len);
    memcpy(bad, enc, len);
    bad[off] = bad[off] == 'A' ? 'B' : 'A';
    check_fails(ids, bad, len, cls, what);
    free(bad);
}

static void test_tampered_parts(void)
{
    struct key k;
    key_new(&k, "t.key");
    const struct age_identities *ids = k.ids;
    const char *const *rcpts = k.rcpts;
    unsigned char *plain = pattern(2 * CHUNK + 100);
    size_t elen = 0;
    char *enc = encrypt_mem(rcpts, 1, plain, 2 * CHUNK + 100, 1u << 20, &elen);
    size_t h = header_len(enc, elen);
    const char *share = strstr(enc, "-> X25519 ") + 10, *body = strchr(share, '\n') + 1;
    const char *mac = strstr(enc, "\n--- ") + 5;
    check_flip(ids, enc, elen, 3, ERR_INTEGRITY, "is not an age file");
    check_letter(ids, enc, elen, (size_t)(share - enc) + 5, ERR_USAGE, "no identity in");
    check_letter(ids, enc, elen, (size_t)(body - enc) + 5, ERR_USAGE, "no identity in");
    check_letter(ids, enc, elen, (size_t)(mac - enc) + 5, ERR_INTEGRITY, "wrong age header MAC");
    check_flip(ids, enc, elen, (size_t)(share - enc) - 9, ERR_INTEGRITY, "damaged age header");
    check_flip(ids, enc, elen, h + 3, ERR_INTEGRITY, "at age chunk 0");       /* nonce */
    check_flip(ids, enc, elen, h + 16 + 10, ERR_INTEGRITY, "at age chunk 0"); /* chunk 0 */
    check_flip(ids, enc, elen, h + 16 + SEALED + 9, ERR_INTEGRITY, "at age chunk 1");
    check_flip(ids, enc, elen, elen - 1, ERR_INTEGRITY, "at age chunk 2"); /* last tag */
    /* a header line ending in a space, an empty stanza type */
    char *bad = xmalloc(elen);
    memcpy(bad, enc, elen);
    bad[share - enc - 2] = '\n';
    check_fails(ids, bad, elen, ERR_INTEGRITY, "damaged age header");
    free(bad);
    free(enc);
    free(plain);
    key_free(&k);
}

static void test_truncated(void)
{
    struct key k;
    key_new(&k, "tr.key");
    const struct age_identities *ids = k.ids;
    const char *const *rcpts = k.rcpts;
    unsigned char *plain = pattern(2 * CHUNK);
    size_t elen = 0;
    char *enc = encrypt_mem(rcpts, 1, plain, 2 * CHUNK, 1u << 20, &elen);
    size_t h = header_len(enc, elen);
    CHECK_INT(elen, h + 16 + 2 * SEALED);
    /* cut at the chunk boundary: the first chunk is not flagged last */
    check_fails(ids, enc, h + 16 + SEALED, ERR_INTEGRITY, "at age chunk 0");
    check_fails(ids, enc, h + 16 + SEALED + 10, ERR_INTEGRITY, "incomplete");
    check_fails(ids, enc, elen - 1, ERR_INTEGRITY, "at age chunk 1");
    check_fails(ids, enc, h + 16, ERR_INTEGRITY, "incomplete");
    check_fails(ids, enc, h + 5, ERR_INTEGRITY, "age header is incomplete");
    check_fails(ids, enc, h - 10, ERR_INTEGRITY, "age header is incomplete");
    check_fails(ids, enc, 0, ERR_INTEGRITY, "age header is incomplete");
    /* something appended after the last chunk */
    char *longer = xmalloc(elen + 16);
    memcpy(longer, enc, elen);
    memset(longer + elen, 0, 16);
    check_fails(ids, longer, elen + 16, ERR_INTEGRITY, "at age chunk 1");
    free(longer);
    free(enc);
    free(plain);
    key_free(&k);
}

/* Only the first chunk may be empty; an empty last chunk after a full one is refused. */
static void test_empty_last_chunk(void)
{
    struct key k;
    key_new(&k, "e.key");
    const struct age_identities *ids = k.ids;
    const char *const *rcpts = k.rcpts;
    size_t elen = 0;
    char *enc = encrypt_mem(rcpts, 1, (const unsigned char *)"", 0, 1, &elen);
    CHECK_INT(elen, header_len(enc, elen) + 32);
    size_t dlen = 9;
    char *dec = decrypt_mem(ids, enc, elen, 100, &dlen);
    CHECK(dec && dlen == 0);
    free(dec);
    free(enc);
    key_free(&k);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_identity_files(void)
{
    char rcpt[AGE_RECIPIENT_MAX];
    char *good = make_identity("good.key", rcpt);
    err_clear();
    chmod(good, 0640);
    CHECK(age_identities_load(good) == NULL);
    CHECK_INT(err_class(), ERR_USAGE);
    char *want = xasprintf("identity file \"%s\" is accessible by others (mode 0640)", good);
    CHECK_STR(err_msg(), want);
    free(want);
    chmod(good, 0400);
    struct age_identities *ids = age_identities_load(good);
    CHECK(ids != NULL);
    CHECK_STR(age_identities_path(ids), good);
    age_identities_free(ids);

    char *bad = xasprintf("%s/bad.key", tmpdir);
    write_file(bad, "# comment\nage1notakey\n", 0600);
    err_clear();
    CHECK(age_identities_load(bad) == NULL);
    CHECK(strstr(err_msg(), "has a line that is not an age identity") != NULL);
    write_file(bad, "# only comments\n\n", 0600);
    err_clear();
    CHECK(age_identities_load(bad) == NULL);
    CHECK(strstr(err_msg(), "holds no age identity") != NULL);
    /* several keys, CRLF line ends */
    char r2[AGE_RECIPIENT_MAX];
    char *second = make_identity("second.key", r2);
    struct sbuf both = {0};
    FILE *f = fopen(good, "r");
    char line[256];
    while (fgets(line, sizeof(line), f))
        sbuf_puts(&both, line);
    fclose(f);
    f = fopen(second, "r");
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        sbuf_printf(&both, "%s\r\n", line);
    }
    fclose(f);
    write_file(bad, both.data, 0600);
    sbuf_free(&both);
    ids = age_identities_load(bad);
    CHECK(ids != NULL);
    const char *rcpts[] = {r2};
    size_t elen, dlen;
    char *enc = encrypt_mem(rcpts, 1, (const unsigned char *)"hello", 5, 5, &elen);
    char *dec = decrypt_mem(ids, enc, elen, 3, &dlen);
    CHECK(dec && dlen == 5 && memcmp(dec, "hello", 5) == 0);
    free(enc);
    free(dec);
    age_identities_free(ids);
    unlink(bad);
    free(bad);
    free(good);
    free(second);
}

static void test_recipients_checked(void)
{
    char rcpt[AGE_RECIPIENT_MAX];
    free(make_identity("r.key", rcpt));
    CHECK_INT(age_recipient_check(rcpt), 0);
    err_clear();
    CHECK_INT(age_recipient_check("age1qqqq"), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strncmp(err_msg(), "recipient \"age1qqqq\" is not an age recipient", 44) == 0);
    const char *bad[] = {rcpt, "age1zzz"};
    err_clear();
    CHECK(filter_age_encrypt_new(bad, 2) == NULL);
    CHECK(strstr(err_msg(), "\"age1zzz\"") != NULL);
    err_clear();
    CHECK(filter_age_encrypt_new(bad, 0) == NULL);
    CHECK_INT(err_class(), ERR_USAGE);
}

/* Runs argv with stdin from in (or none) and stdout to out; its exit status, 127 when the
 * program is missing. */
static int run(char *const argv[], const char *in, const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int ifd = open(in ? in : "/dev/null", O_RDONLY);
        if (ofd < 0 || ifd < 0 || dup2(ofd, 1) < 0 || dup2(ifd, 0) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path, size_t *len)
{
    struct sbuf b = {0};
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sbuf_add(&b, chunk, n);
    if (f)
        fclose(f);
    sbuf_add(&b, "", 0);
    *len = b.len;
    return b.data;
}

/* Ours to the stock age -d with each of two keys, and the stock age -r … -r … to ours, at
 * sizes on and around the chunk boundary. */
static void test_stock_age(void)
{
    char r1[AGE_RECIPIENT_MAX], r2[AGE_RECIPIENT_MAX];
    char *k1 = make_identity("s1.key", r1), *k2 = make_identity("s2.key", r2);
    char *plainf = xasprintf("%s/plain", tmpdir), *encf = xasprintf("%s/enc.age", tmpdir),
         *outf = xasprintf("%s/out", tmpdir);
    struct age_identities *ids = age_identities_load(k2);
    const char *rcpts[] = {r1, r2};
    const size_t sizes[] = {0, 1, CHUNK, 2 * CHUNK, 3 * CHUNK + 7};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *plain = pattern(sizes[i]);
        size_t elen, n;
        char *enc = encrypt_mem(rcpts, 2, plain, sizes[i], 1u << 20, &elen);
        FILE *f = fopen(encf, "wb");
        fwrite(enc, 1, elen, f);
        fclose(f);
        char *dec_argv[] = {"age", "-d", "-i", k1, encf, NULL};
        int rc = run(dec_argv, NULL, outf);
        if (rc == 127) {
            fprintf(stderr, "  no age in PATH: stock interoperability not checked\n");
            free(plain);
            free(enc);
            break;
        }
        CHECK_INT(rc, 0);
        char *got = slurp(outf, &n);
        CHECK(n == sizes[i] && memcmp(got, plain, n) == 0);
        free(got);
        /* the stock age encrypts to both; we decrypt with the second key */
        f = fopen(plainf, "wb");
        fwrite(plain, 1, sizes[i], f);
        fclose(f);
        char *enc_argv[] = {"age", "-r", r1, "-r", r2, "-o", encf, plainf, NULL};
        CHECK_INT(run(enc_argv, NULL, outf), 0);
        free(enc);
        enc = slurp(encf, &elen);
        char *dec = decrypt_mem(ids, enc, elen, 1u << 20, &n);
        CHECK(dec && n == sizes[i] && memcmp(dec, plain, n) == 0);
        free(dec);
        free(enc);
        free(plain);
    }
    age_identities_free(ids);
    unlink(plainf);
    unlink(encf);
    unlink(outf);
    free(plainf);
    free(encf);
    free(outf);
    free(k1);
    free(k2);
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/age-XXXXXX", base);
    if (!mkdtemp(tmpdir) || sodium_init() < 0)
        return 2;
    RUN(test_round_trip_sizes);
    RUN(test_several_recipients);
    RUN(test_tampered_parts);
    RUN(test_truncated);
    RUN(test_empty_last_chunk);
    RUN(test_identity_files);
    RUN(test_recipients_checked);
    RUN(test_stock_age);
    return UNIT_DONE();
}
