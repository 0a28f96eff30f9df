/* The OpenPGP filters against the real gpg: throwaway keyrings (ed25519/cv25519 and
 * RSA-3072 keys made by gpg itself), round trips that the stock "gpg --decrypt" reads,
 * messages that the stock "gpg --encrypt" wrote, missing and unusable keys, damaged
 * messages, a failing next filter, and no plaintext left in TMPDIR or the keyring.
 * PGVAULT_OPENPGP_BENCH_MB=N runs instead a streamed N MiB each way, with its timings and
 * the peak RSS. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/filters.h"
#include "io/openpgp.h"
#include "mem_sink.h"
#include "unit.h"

#define MARKER "pgvault-plaintext-marker-7f3a91"

static char tmpdir[256];
static char *home_main, *home_pub, *home_b; /* both keys; A public only; B secret only */
static char *fpr_a, *fpr_b;

static void use_home(const char *home)
{
    setenv("GNUPGHOME", home, 1);
}

/* Runs argv (stdin from in, stdout to out; NULL: /dev/null) and returns its exit status. */
static int run(const char *const *argv, const char *in, const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        int i = open(in ? in : "/dev/null", O_RDONLY);
        int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open("/dev/null", O_WRONLY);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    CHECK(write_test_file(path, data, len));
    return path;
}

/* Pseudo-random bytes, like a compressed dump, with the marker near the start. */
static unsigned char *make_data(size_t len)
{
    unsigned char *d = xmalloc(len ? len : 1);
    uint64_t x = 0x9e3779b97f4a7c15u ^ len;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        d[i] = (unsigned char)(x >> 24);
    }
    if (len >= sizeof(MARKER) + 100)
        memcpy(d + 100, MARKER, sizeof(MARKER) - 1);
    return d;
}

/* The fingerprint of the primary key uid names, from gpg's colon listing. */
static char *key_fpr(const char *uid)
{
    char *out = xasprintf("%s/keys.txt", tmpdir);
    const char *argv[] = {"gpg", "--batch", "--with-colons", "--list-keys", uid, NULL};
    CHECK_INT(run(argv, NULL, out), 0);
    struct sbuf b = {0};
    read_test_file(out, &b);
    unlink(out);
    free(out);
    char *fpr = NULL, *p = b.data ? strstr(b.data, "\nfpr:::::::::") : NULL;
    if (p)
        fpr = xstrndup(p + 13, strcspn(p + 13, ":"));
    sbuf_free(&b);
    CHECK(fpr && strlen(fpr) == 40);
    return fpr ? fpr : xstrdup("?");
}

/* A key made by gpg itself: "when" fakes the time it is made at (NULL: now). */
static void gen_key_at(const char *uid, const char *algo, const char *expire,
                       const char *passphrase, const char *when)
{
    const char *argv[16] = {"gpg",      "--batch",      "--pinentry-mode",
                            "loopback", "--passphrase", passphrase};
    size_t n = 6;
    if (when)
        argv[n++] = "--faked-system-time", argv[n++] = when;
    const char *rest[] = {"--quick-gen-key", uid, algo, "default", expire, NULL};
    memcpy(argv + n, rest, sizeof(rest));
    CHECK_INT(run(argv, NULL, NULL), 0);
}

static void gen_key(const char *uid, const char *algo)
{
    gen_key_at(uid, algo, "never", "", NULL);
}

/* Copies the key (public, or with its secret part) of uid from home_main to home. */
static void copy_key(const char *uid, bool secret, const char *home)
{
    char *path = xasprintf("%s/export.key", tmpdir);
    const char *exp[] = {"gpg",
                         "--batch",
                         "--pinentry-mode",
                         "loopback",
                         "--passphrase",
                         "",
                         secret ? "--export-secret-keys" : "--export",
                         uid,
                         NULL};
    const char *imp[] = {"gpg", "--batch", "--import", path, NULL};
    use_home(home_main);
    CHECK_INT(run(exp, NULL, path), 0);
    use_home(home);
    CHECK_INT(run(imp, NULL, NULL), 0);
    use_home(home_main);
    unlink(path);
    free(path);
}

static char *make_home(const char *name)
{
    char *home = xasprintf("%s/%s", tmpdir, name);
    CHECK_INT(mkdir(home, 0700), 0);
    return home;
}

/* Three keyrings: main holds Alice (ed25519/cv25519) and Rsa (RSA-3072), both with their
 * secret keys; pub only Alice's public key; b only Rsa's secret key. */
static void setup_keys(void)
{
    home_main = make_home("main");
    home_pub = make_home("pub");
    home_b = make_home("b");
    use_home(home_main);
    gen_key("Alice <alice@pgv.test>", "future-default"); /* ed25519 + cv25519 */
    gen_key("Rsa <rsa@pgv.test>", "rsa3072");
    const char *add[] = {"gpg", "--batch", "--passphrase", "",      "--quick-add-key",
                         NULL,  "rsa3072", "encr",         "never", NULL};
    fpr_a = key_fpr("alice@pgv.test");
    fpr_b = key_fpr("rsa@pgv.test");
    add[5] = fpr_b;
    CHECK_INT(run(add, NULL, NULL), 0);
    copy_key("alice@pgv.test", false, home_pub);
    copy_key("rsa@pgv.test", true, home_b);
}

/* Encrypts data through the filter, step bytes at a time; checks the fingerprints. */
static unsigned char *encrypt_mem(const char *const *recipients, size_t n,
                                  const unsigned char *data, size_t len, size_t step,
                                  const char *expect_fprs, size_t *out_len)
{
    struct filter *f = filter_openpgp_encrypt_new(recipients, n);
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "encrypt: %s\n", err_msg());
        err_clear();
        return NULL;
    }
    char *fprs = openpgp_fingerprints(f);
    CHECK_STR(fprs, expect_fprs);
    free(fprs);
    unsigned char *c = (unsigned char *)filter_to_mem(f, data, len, step, out_len);
    if (!c)
        fprintf(stderr, "encrypt: %s\n", err_msg());
    return c;
}

static char *decrypt_mem(const unsigned char *c, size_t len, size_t step, size_t *out_len)
{
    return filter_to_mem(filter_openpgp_decrypt_new(), c, len, step, out_len);
}

/* The stock gpg decrypts path (in the current keyring) to exactly data. */
static void check_stock_decrypt(const char *path, const unsigned char *data, size_t len)
{
    char *out = xasprintf("%s.out", path);
    const char *argv[] = {"gpg", "--batch", "--decrypt", path, NULL};
    CHECK_INT(run(argv, NULL, out), 0);
    struct sbuf b = {0};
    read_test_file(out, &b);
    CHECK(b.len == len && (len == 0 || memcmp(b.data, data, len) == 0));
    unlink(out);
    free(out);
    sbuf_free(&b);
}

/* Sizes 0, 1, 1 MiB + 3 and 20 MiB to Alice: gpg and the decrypt filter give them back. */
static void test_round_trip(void)
{
    static const size_t sizes[] = {0, 1, (1u << 20) + 3, 20u << 20};
    static const size_t steps[] = {1, 1, 65537, 1u << 20};
    const char *r[] = {"alice@pgv.test"};
    use_home(home_main);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *data = make_data(sizes[i]);
        size_t clen = 0, plen = 0;
        unsigned char *c = encrypt_mem(r, 1, data, sizes[i], steps[i], fpr_a, &clen);
        CHECK(c && clen > sizes[i] && openpgp_detect(c, clen));
        if (c) {
            char *path = write_tmp("rt.gpg", c, clen);
            check_stock_decrypt(path, data, sizes[i]);
            unlink(path);
            free(path);
            char *p = decrypt_mem(c, clen, steps[i] + 11, &plen);
            CHECK(p && plen == sizes[i] && memcmp(p, data, plen) == 0);
            free(p);
        }
        free(c);
        free(data);
    }
}

/* Two recipients (one by key id, one by fingerprint and by address): either one's secret
 * key decrypts. */
static void test_two_recipients(void)
{
    char *keyid = xasprintf("0x%s", fpr_a + 24);
    const char *r[] = {keyid, fpr_b, "rsa@pgv.test"};
    char *both = xasprintf("%s\n%s", fpr_a, fpr_b);
    size_t len = (1u << 20) + 3, clen = 0, plen = 0;
    unsigned char *data = make_data(len);
    use_home(home_main);
    unsigned char *c = encrypt_mem(r, 3, data, len, 100000, both, &clen);
    if (c) {
        char *path = write_tmp("two.gpg", c, clen);
        use_home(home_b);
        check_stock_decrypt(path, data, len);
        char *p = decrypt_mem(c, clen, 4096, &plen);
        CHECK(p && plen == len && memcmp(p, data, len) == 0);
        free(p);
        use_home(home_main);
        check_stock_decrypt(path, data, len);
        unlink(path);
        free(path);
    }
    free(c);
    free(data);
    free(both);
    free(keyid);
}

/* What the stock gpg --encrypt writes, binary and armored, the decrypt filter reads. */
static void test_stock_encrypt(void)
{
    size_t len = 300000, plen = 0;
    unsigned char *data = make_data(len);
    char *plain = write_tmp("plain.bin", data, len);
    use_home(home_main);
    for (int armor = 0; armor < 2; armor++) {
        char *out = xasprintf("%s/stock.gpg", tmpdir);
        const char *argv[] = {"gpg",
                              "--batch",
                              "--trust-model",
                              "always",
                              "--yes",
                              "-o",
                              out,
                              "-r",
                              "rsa@pgv.test",
                              "--encrypt",
                              armor ? "--armor" : "--no-armor",
                              plain,
                              NULL};
        CHECK_INT(run(argv, NULL, NULL), 0);
        struct sbuf c = {0};
        read_test_file(out, &c);
        CHECK(c.len > 0 && openpgp_detect((unsigned char *)c.data, c.len));
        char *p = decrypt_mem((unsigned char *)c.data, c.len, 1000, &plen);
        CHECK(p && plen == len && memcmp(p, data, len) == 0);
        free(p);
        sbuf_free(&c);
        unlink(out);
        free(out);
    }
    unlink(plain);
    free(plain);
    free(data);
}

static void check_usage_error(struct filter *f, const char *expect)
{
    CHECK(f == NULL);
    if (f)
        f->ops->free(f);
    CHECK_STR(err_msg(), expect);
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
}

/* None, unknown and ambiguous recipients are usage errors naming them. */
static void test_bad_recipients(void)
{
    use_home(home_main);
    check_usage_error(filter_openpgp_encrypt_new(NULL, 0), "no OpenPGP recipient given");
    const char *unknown[] = {"alice@pgv.test", "nobody@pgv.test"};
    check_usage_error(filter_openpgp_encrypt_new(unknown, 2),
                      "no OpenPGP public key for recipient \"nobody@pgv.test\" in the keyring");
    const char *part[] = {"lice@pgv.test"}; /* an address is matched whole */
    check_usage_error(filter_openpgp_encrypt_new(part, 1),
                      "no OpenPGP public key for recipient \"lice@pgv.test\" in the keyring");
    const char *ambiguous[] = {"pgv.test"};
    char *msg = xasprintf("OpenPGP recipient \"pgv.test\" matches 2 keys (%s, %s)", fpr_a, fpr_b);
    check_usage_error(filter_openpgp_encrypt_new(ambiguous, 1), msg);
    free(msg);
}

/* An expired and a revoked key are usage errors naming the key and the recipient. */
static void test_unusable_keys(void)
{
    char *msg;
    use_home(home_main);
    /* a key made in 2020 that expired a day later */
    gen_key_at("Old <old@pgv.test>", "future-default", "1d", "", "20200101T000000");
    char *old_fpr = key_fpr("old@pgv.test");
    const char *old[] = {"old@pgv.test"};
    msg = xasprintf("OpenPGP key %s of recipient \"old@pgv.test\" is expired", old_fpr);
    check_usage_error(filter_openpgp_encrypt_new(old, 1), msg);
    free(msg);
    free(old_fpr);

    /* a key revoked with the certificate gpg made when it generated it */
    gen_key("Gone <gone@pgv.test>", "future-default");
    char *fpr = key_fpr("gone@pgv.test");
    char *rev = xasprintf("%s/openpgp-revocs.d/%s.rev", home_main, fpr);
    struct sbuf cert = {0};
    read_test_file(rev, &cert);
    char *colon = cert.data ? strstr(cert.data, ":-----BEGIN") : NULL;
    CHECK(colon != NULL);
    if (colon) /* gpg writes it with a colon before the armor, against an early import */
        memmove(colon, colon + 1, cert.len - (size_t)(colon - cert.data));
    char *path = write_tmp("gone.rev", cert.data, cert.len - (colon != NULL));
    const char *imp[] = {"gpg", "--batch", "--import", path, NULL};
    CHECK_INT(run(imp, NULL, NULL), 0);
    const char *gone[] = {"gone@pgv.test"};
    msg = xasprintf("OpenPGP key %s of recipient \"gone@pgv.test\" is revoked", fpr);
    check_usage_error(filter_openpgp_encrypt_new(gone, 1), msg);
    free(msg);
    unlink(path);
    free(path);
    sbuf_free(&cert);
    free(rev);
    free(fpr);
}

/* A keyring with only the recipient's public key, imported and not certified: it encrypts
 * to it, but decryption there is a usage error naming the recipient, for a small message
 * and for one large enough that gpg gives up long before its end. */
static void test_no_secret_key(void)
{
    const char *r[] = {"alice@pgv.test"};
    size_t sizes[] = {1000, 20u << 20};
    char *expect = xasprintf("no secret key for any recipient (%s <alice@pgv.test>)", fpr_a);
    for (size_t i = 0; i < 2; i++) {
        size_t clen = 0, plen = 0;
        unsigned char *data = make_data(sizes[i]);
        use_home(home_pub);
        unsigned char *c = encrypt_mem(r, 1, data, sizes[i], 1u << 20, fpr_a, &clen);
        CHECK(c && decrypt_mem(c, clen, 1u << 20, &plen) == NULL);
        CHECK_STR(err_msg(), expect);
        CHECK_INT(err_class(), ERR_USAGE);
        err_clear();
        use_home(home_main);
        char *p = c ? decrypt_mem(c, clen, 1u << 20, &plen) : NULL;
        CHECK(p && plen == sizes[i] && memcmp(p, data, plen) == 0);
        free(p);
        free(c);
        free(data);
    }
    free(expect);

    /* the check before a restore */
    use_home(home_pub);
    char *both = xasprintf("%s\n%s", fpr_b, fpr_a);
    CHECK_INT(openpgp_check_secret(both), -1);
    char *msg = xasprintf("no secret key for any recipient (%s, %s)", fpr_b, fpr_a);
    CHECK_STR(err_msg(), msg);
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
    use_home(home_b);
    CHECK_INT(openpgp_check_secret(both), 0);
    CHECK_INT(openpgp_check_secret(fpr_a), -1);
    err_clear();
    use_home(home_main);
    CHECK_INT(openpgp_check_secret(both), 0);
    free(msg);
    free(both);
}

/* A secret key with a passphrase and no pinentry to ask for it (a batch job): a usage
 * error, not a damaged message. */
static void test_locked_key(void)
{
    char *home = make_home("locked");
    char *conf = xasprintf("%s/gpg-agent.conf", home);
    CHECK(write_test_file(conf, "pinentry-program /bin/false\n", 29));
    use_home(home);
    gen_key_at("Locked <locked@pgv.test>", "future-default", "never", "secret", NULL);
    char *fpr = key_fpr("locked@pgv.test");
    const char *r[] = {"locked@pgv.test"};
    size_t clen = 0, plen = 0;
    unsigned char *c = encrypt_mem(r, 1, (const unsigned char *)"x", 1, 1, fpr, &clen);
    CHECK(c && decrypt_mem(c, clen, 1000, &plen) == NULL);
    static const char prefix[] = "could not decrypt: gpg-agent could not use the secret key: ";
    CHECK(strncmp(err_msg(), prefix, sizeof(prefix) - 1) == 0);
    CHECK_INT(err_class(), ERR_USAGE);
    err_clear();
    const char *kill[] = {"gpgconf", "--kill", "all", NULL};
    run(kill, NULL, NULL);
    use_home(home_main);
    free(c);
    free(fpr);
    free(conf);
    free(home);
}

static void check_integrity(const unsigned char *c, size_t len, const char *what)
{
    size_t plen = 0;
    char *p = decrypt_mem(c, len, 65536, &plen);
    if (p || err_class() != ERR_INTEGRITY)
        fprintf(stderr, "%s: %s\n", what, p ? "decrypted" : err_msg());
    CHECK(p == NULL);
    CHECK_INT(err_class(), ERR_INTEGRITY);
    CHECK(strncmp(err_msg(), "could not decrypt: ", 19) == 0);
    err_clear();
    free(p);
}

/* Truncated anywhere, one bit flipped in the data or the MDC, trailing garbage: integrity
 * errors, for both key types. */
static void test_damaged(void)
{
    const char *who[] = {"alice@pgv.test", "rsa@pgv.test"};
    const char *fprs[] = {fpr_a, fpr_b};
    size_t len = (1u << 20) + 3;
    unsigned char *data = make_data(len);
    use_home(home_main);
    for (int k = 0; k < 2; k++) {
        size_t clen = 0;
        unsigned char *c = encrypt_mem(&who[k], 1, data, len, 1u << 20, fprs[k], &clen);
        if (!c)
            continue;
        size_t cuts[] = {clen - 1, clen - 10, clen - 22, clen / 2, 600, 40, 3};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
            check_integrity(c, cuts[i], "truncated");
        size_t flips[] = {clen / 2, clen - 5, clen - 30, 1000};
        for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
            c[flips[i]] ^= 0x04;
            check_integrity(c, clen, "bit flipped");
            c[flips[i]] ^= 0x04;
        }
        struct sbuf g = {0};
        sbuf_add(&g, (const char *)c, clen);
        sbuf_add(&g, "garbage after the message", 25);
        check_integrity((unsigned char *)g.data, g.len, "trailing garbage");
        sbuf_free(&g);
        check_integrity((const unsigned char *)"plain SQL text\n", 15, "not OpenPGP");
        free(c);
    }
    free(data);
}

/* Runs the filter f on len bytes of data into a sink that fails after fail_after bytes:
 * the sink's error comes back, nothing hangs. */
static void check_sink_failure(struct filter *f, const unsigned char *data, size_t len,
                               size_t fail_after)
{
    struct mem_sink m = {.fail_after = fail_after};
    struct chain *c = chain_new();
    chain_add(c, f);
    chain_add(c, filter_callback_new(mem_write, &m));
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += 1u << 20)
        rc = chain_write(c, data + off, len - off < (1u << 20) ? len - off : 1u << 20);
    if (rc == 0)
        rc = chain_finish(c);
    CHECK_INT(rc, -1);
    CHECK_STR(err_msg(), "could not write to the test sink");
    err_clear();
    chain_free(c);
    sbuf_free(&m.buf);
}

/* The next filter fails, in the middle and at the first byte; a chain freed early. */
static void test_downstream_failure(void)
{
    const char *r[] = {"alice@pgv.test"};
    size_t len = 20u << 20, clen = 0;
    unsigned char *data = make_data(len);
    use_home(home_main);
    unsigned char *c = encrypt_mem(r, 1, data, len, 1u << 20, fpr_a, &clen);
    check_sink_failure(filter_openpgp_encrypt_new(r, 1), data, len, 3u << 20);
    check_sink_failure(filter_openpgp_encrypt_new(r, 1), data, len, 1);
    if (c) {
        check_sink_failure(filter_openpgp_decrypt_new(), c, clen, 3u << 20);
        check_sink_failure(filter_openpgp_decrypt_new(), c, clen, 1);
    }
    /* freed in the middle of the stream, and before any input */
    struct chain *ch = chain_new();
    struct mem_sink m = {0};
    chain_add(ch, filter_openpgp_encrypt_new(r, 1));
    chain_add(ch, filter_callback_new(mem_write, &m));
    CHECK_INT(chain_write(ch, data, 5u << 20), 0);
    chain_free(ch);
    sbuf_free(&m.buf);
    struct filter *f = filter_openpgp_decrypt_new();
    CHECK(f != NULL);
    f->ops->free(f);
    free(c);
    free(data);
}

static void test_detect(void)
{
    static const unsigned char new_pkesk[] = {0xc1, 0x5e, 0x03}, old_pkesk[] = {0x85, 0x01, 0x0c},
                               seipd[] = {0xd2, 0x40, 0x01}, literal[] = {0xcb, 0x10, 0x62},
                               gzip[] = {0x1f, 0x8b, 0x08}, zstd[] = {0x28, 0xb5, 0x2f, 0xfd};
    CHECK(openpgp_detect(new_pkesk, 3));
    CHECK(openpgp_detect(old_pkesk, 3));
    CHECK(openpgp_detect(seipd, 3));
    CHECK(!openpgp_detect(literal, 3));
    CHECK(!openpgp_detect(gzip, 3));
    CHECK(!openpgp_detect(zstd, 4));
    CHECK(!openpgp_detect(new_pkesk, 0));
    const char *armor = "-----BEGIN PGP MESSAGE-----\n\nhQ";
    CHECK(openpgp_detect((const unsigned char *)armor, strlen(armor)));
    const char *sig = "-----BEGIN PGP SIGNATURE-----\n";
    CHECK(!openpgp_detect((const unsigned char *)sig, strlen(sig)));
    const char *sql = "-- PostgreSQL database dump\n";
    CHECK(!openpgp_detect((const unsigned char *)sql, strlen(sql)));
}

/* Whether any regular file under dir holds the marker; counts the files in *n. */
static bool tree_has_marker(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            found = tree_has_marker(p, n);
        } else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            struct sbuf b = {0};
            read_test_file(p, &b);
            found = b.len && memmem(b.data, b.len, MARKER, strlen(MARKER));
            sbuf_free(&b);
            (*n)++;
        }
        free(p);
    }
    if (d)
        closedir(d);
    return found;
}

/* After all of the above, TMPDIR is empty and no keyring file holds plaintext. */
static void test_no_plaintext_on_disk(void)
{
    int n = 0;
    char *tmp = xasprintf("%s/tmp", tmpdir);
    CHECK(!tree_has_marker(tmp, &n));
    CHECK_INT(n, 0);
    const char *homes[] = {home_main, home_pub, home_b};
    for (int i = 0; i < 3; i++)
        CHECK(!tree_has_marker(homes[i], &n));
    free(tmp);
}

/* Generated data, streamed: nothing of size mb is held in memory by the test. */
static int gen_chunks(struct chain *c, size_t mb)
{
    unsigned char *chunk = make_data(1u << 20);
    int rc = 0;
    for (size_t i = 0; i < mb && rc == 0; i++) {
        chunk[0] = (unsigned char)i;
        rc = chain_write(c, chunk, 1u << 20);
    }
    free(chunk);
    return rc == 0 ? chain_finish(c) : -1;
}

static int count_write(void *ctx, const unsigned char *buf, size_t len)
{
    (void)buf;
    *(size_t *)ctx += len;
    return 0;
}

/* PGVAULT_OPENPGP_BENCH_MB: encrypt and decrypt that much through the filters. */
static void bench(size_t mb)
{
    const char *r[] = {getenv("PGVAULT_OPENPGP_BENCH_KEY") ? getenv("PGVAULT_OPENPGP_BENCH_KEY")
                                                           : "alice@pgv.test"};
    char *path = xasprintf("%s/bench.gpg", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct chain *c = chain_new();
    chain_add(c, filter_openpgp_encrypt_new(r, 1));
    chain_add(c, filter_fd_new(fd, path));
    double t0 = time_mono();
    CHECK_INT(gen_chunks(c, mb), 0);
    double t1 = time_mono();
    chain_free(c);
    close(fd);
    size_t got = 0;
    c = chain_new();
    chain_add(c, filter_openpgp_decrypt_new());
    chain_add(c, filter_callback_new(count_write, &got));
    double t2 = time_mono();
    CHECK_INT(chain_pump_file(c, path, NULL), 0);
    double t3 = time_mono();
    chain_free(c);
    CHECK(got == mb << 20);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bench %zu MiB: encrypt %.2f s (%.0f MiB/s), decrypt %.2f s (%.0f MiB/s), "
           "peak RSS %ld MiB; ciphertext left in %s\n",
           mb, t1 - t0, mb / (t1 - t0), t3 - t2, mb / (t3 - t2), ru.ru_maxrss / 1024, path);
    free(path);
}

static void kill_agents(void)
{
    const char *homes[] = {home_main, home_pub, home_b};
    for (int i = 0; i < 3; i++) {
        use_home(homes[i]);
        const char *argv[] = {"gpgconf", "--kill", "all", NULL};
        run(argv, NULL, NULL);
    }
}

int main(void)
{
    const char *base = getenv("PGVAULT_TEST_TMP");
    const char *argv[] = {"gpg", "--version", NULL};
    if (run(argv, NULL, NULL) != 0) {
        printf("gpg not found: skipped\n");
        return 0;
    }
    /* gpg-agent's socket path must stay short */
    if (!base || strlen(base) > 60)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/pgv-gpg-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return 2;
    char *tmp = xasprintf("%s/tmp", tmpdir);
    mkdir(tmp, 0700);
    setenv("TMPDIR", tmp, 1);
    setup_keys();
    const char *mb = getenv("PGVAULT_OPENPGP_BENCH_MB");
    if (mb) { /* alone, so that the peak RSS is the streamed run's */
        bench((size_t)atol(mb));
    } else {
        RUN(test_detect);
        RUN(test_round_trip);
        RUN(test_two_recipients);
        RUN(test_stock_encrypt);
        RUN(test_bad_recipients);
        RUN(test_unusable_keys);
        RUN(test_no_secret_key);
        RUN(test_locked_key);
        RUN(test_damaged);
        RUN(test_downstream_failure);
        RUN(test_no_plaintext_on_disk);
    }
    kill_agents();
    if (!mb) {
        const char *rm[] = {"rm", "-rf", tmpdir, NULL};
        run(rm, NULL, NULL);
    }
    free(tmp);
    free(home_main), free(home_pub), free(home_b), free(fpr_a), free(fpr_b);
    return UNIT_DONE();
}
