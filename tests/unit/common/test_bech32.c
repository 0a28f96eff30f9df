/* Bech32 against the test vectors of BIP-173 and a key pair that age-keygen made. */
#include <sodium.h>
#include <stdlib.h>

#include "common/bech32.h"
#include "common/err.h"
#include "unit.h"

/* Decodes s, then encodes what came out in the case of s: the same string again. */
static void check_valid(const char *s)
{
    char hrp[BECH32_MAX + 1], back[BECH32_MAX + 1];
    unsigned char data[BECH32_MAX];
    size_t n = 0;
    err_clear();
    CHECK_INT(bech32_decode5(s, hrp, sizeof(hrp), data, sizeof(data), &n), 0);
    bool upper = s[0] >= 'A' && s[0] <= 'Z';
    CHECK_INT(bech32_encode5(hrp, data, n, upper, back, sizeof(back)), 0);
    CHECK_STR(back, s);
}

static void check_invalid(const char *s)
{
    char hrp[BECH32_MAX + 1];
    unsigned char data[BECH32_MAX];
    size_t n = 0;
    err_clear();
    CHECK_INT(bech32_decode5(s, hrp, sizeof(hrp), data, sizeof(data), &n), -1);
    CHECK_INT(err_class(), ERR_USAGE);
    CHECK(strncmp(err_msg(), "not valid Bech32: ", 18) == 0);
}

/* 82 times 'q' */
#define QQ "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"

static void test_bip173_valid(void)
{
    check_valid("A12UEL5L");
    check_valid("a12uel5l");
    check_valid("an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersb"
                "io1tt5tgs");
    check_valid("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
    check_valid("11" QQ "c8247j");
    check_valid("split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w");
    check_valid("?1ezyfcl");
}

static void test_bip173_invalid(void)
{
    check_invalid("\x20"
                  "1nwldj5"); /* HRP character out of range */
    check_invalid("\x7f"
                  "1axkwrx"); /* HRP character out of range */
    check_invalid("\x80"
                  "1eym55h"); /* HRP character out of range */
    check_invalid("an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharacter"
                  "sbio1569pvx");   /* overall length */
    check_invalid("pzry9x0s0muk");  /* no separator */
    check_invalid("1pzry9x0s0muk"); /* empty HRP */
    check_invalid("x1b4n0q5v");     /* invalid data character */
    check_invalid("li1dgmt3");      /* checksum too short */
    check_invalid("de1lg7wt\xff");  /* invalid character in checksum */
    check_invalid("A1G7SGD8");      /* checksum computed over the upper-case HRP */
    check_invalid("10a06t8");       /* empty HRP */
    check_invalid("1qzzfhee");      /* empty HRP */
    check_invalid("A12uEL5L");      /* mixed case */
}

/* A pair from age-keygen: the identity's X25519 public key encodes as the recipient. */
static void test_age_keygen_pair(void)
{
    const char *rcpt = "age1hy4v2h9k4g82zv9qe3l3353zh8vk44tk60ay8qezgqczgwrpe4rssc8dq9";
    const char *id = "AGE-SECRET-KEY-1MDR38S7DECUPU42C6RYD8L2DSW746S4VLDNEYQ3CVUQSQWMGYJPS260FQR";
    char hrp[BECH32_MAX + 1], out[BECH32_MAX + 1];
    unsigned char sk[32], pk[32], back[32];
    size_t n = 0;
    CHECK(sodium_init() >= 0);
    CHECK_INT(bech32_decode(id, hrp, sizeof(hrp), sk, sizeof(sk), &n), 0);
    CHECK_STR(hrp, "age-secret-key-");
    CHECK_INT(n, 32);
    CHECK_INT(bech32_encode("age-secret-key-", sk, 32, true, out, sizeof(out)), 0);
    CHECK_STR(out, id);
    CHECK_INT(crypto_scalarmult_base(pk, sk), 0);
    CHECK_INT(bech32_encode("age", pk, 32, false, out, sizeof(out)), 0);
    CHECK_STR(out, rcpt);
    CHECK_INT(bech32_decode(rcpt, hrp, sizeof(hrp), back, sizeof(back), &n), 0);
    CHECK_STR(hrp, "age");
    CHECK(n == 32 && memcmp(back, pk, 32) == 0);
    /* one letter changed: the checksum sees it */
    char bad[] = "age1hy4v2h9k4g82zv9qe3l3353zh8vk44tk60ay8qezgqczgwrpe4rssc8dq8";
    err_clear();
    CHECK_INT(bech32_decode(bad, hrp, sizeof(hrp), back, sizeof(back), &n), -1);
    CHECK_STR(err_msg(), "not valid Bech32: wrong checksum");
}

/* Bytes that do not fill the last 5-bit group: padding must be zero and under 5 bits. */
static void test_padding(void)
{
    char hrp[BECH32_MAX + 1], out[BECH32_MAX + 1];
    unsigned char data[8] = {0xff}, back[8];
    size_t n = 0;
    for (size_t len = 0; len <= 8; len++) {
        CHECK_INT(bech32_encode("x", data, len, false, out, sizeof(out)), 0);
        CHECK_INT(bech32_decode(out, hrp, sizeof(hrp), back, sizeof(back), &n), 0);
        CHECK(n == len && memcmp(back, data, len) == 0);
    }
    /* "x1" + one 5-bit group "l" (31): 5 bits of padding, not a byte */
    unsigned char five[1] = {31};
    CHECK_INT(bech32_encode5("x", five, 1, false, out, sizeof(out)), 0);
    err_clear();
    CHECK_INT(bech32_decode(out, hrp, sizeof(hrp), back, sizeof(back), &n), -1);
    CHECK_STR(err_msg(), "not valid Bech32: bad padding");
    /* two groups, 10 bits: one byte and 2 bits of padding that are not zero */
    unsigned char five2[2] = {0, 1};
    CHECK_INT(bech32_encode5("x", five2, 2, false, out, sizeof(out)), 0);
    err_clear();
    CHECK_INT(bech32_decode(out, hrp, sizeof(hrp), back, sizeof(back), &n), -1);
}

int main(void)
{
    RUN(test_bip173_valid);
    RUN(test_bip173_invalid);
    RUN(test_age_keygen_pair);
    RUN(test_padding);
    return UNIT_DONE();
}
