#include "common/bech32.h"

#include <ctype.h>
#include <string.h>

#include "common/err.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/* The BCH checksum's polynomial over GF(32), one 5-bit value at a time. */
static unsigned long polymod_step(unsigned long chk, unsigned v)
{
    static const unsigned long gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                         0x2a1462b3};
    unsigned long top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; i++)
        if ((top >> i) & 1)
            chk ^= gen[i];
    return chk;
}

/* The checksum state after the expanded human-readable part (lower case). */
static unsigned long polymod_hrp(const char *hrp, size_t n)
{
    unsigned long chk = 1;
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk, (unsigned char)hrp[i] >> 5);
    chk = polymod_step(chk, 0);
    for (size_t i = 0; i < n; i++)
        chk = polymod_step(chk, (unsigned char)hrp[i] & 31);
    return chk;
}

static bool hrp_ok(const char *hrp, size_t n)
{
    if (n < 1 || n > BECH32_MAX - 7)
        return false;
    for (size_t i = 0; i < n; i++)
        if (hrp[i] < 33 || hrp[i] > 126)
            return false;
    return true;
}

int bech32_encode5(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                   size_t cap)
{
    size_t n = strlen(hrp), total = n + 1 + len + 6;
    if (!hrp_ok(hrp, n) || total > BECH32_MAX || total + 1 > cap)
        return err_set(ERR_FAILED, "could not encode Bech32: too long or bad prefix");
    char lower[BECH32_MAX];
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)hrp[i]);
    unsigned long chk = polymod_hrp(lower, n);
    memcpy(out, lower, n);
    out[n] = '1';
    for (size_t i = 0; i < len; i++) {
        chk = polymod_step(chk, data[i] & 31);
        out[n + 1 + i] = charset[data[i] & 31];
    }
    for (int i = 0; i < 6; i++)
        chk = polymod_step(chk, 0);
    chk ^= 1;
    for (int i = 0; i < 6; i++)
        out[n + 1 + len + (size_t)i] = charset[(chk >> (5 * (5 - i))) & 31];
    out[total] = '\0';
    for (size_t i = 0; upper && i < total; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
    return 0;
}

/* A string of printable ASCII, all one case, within the length limit: its lower case copy. */
static int normalise(const char *s, char *low, size_t *n)
{
    bool has_lower = false, has_upper = false;
    size_t len = strlen(s);
    if (len > BECH32_MAX)
        return err_set(ERR_USAGE, "not valid Bech32: longer than %d characters", BECH32_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126)
            return err_set(ERR_USAGE, "not valid Bech32: a character out of range");
        has_lower |= islower(c) != 0;
        has_upper |= isupper(c) != 0;
        low[i] = (char)tolower(c);
    }
    if (has_lower && has_upper)
        return err_set(ERR_USAGE, "not valid Bech32: mixed case");
    *n = len;
    return 0;
}

int bech32_decode5(const char *s, char *hrp, size_t hrp_cap, unsigned char *data, size_t cap,
                   size_t *len)
{
    char low[BECH32_MAX];
    size_t n = 0;
    if (normalise(s, low, &n) != 0)
        return -1;
    const char *sep = memrchr(low, '1', n);
    size_t hn = sep ? (size_t)(sep - low) : 0, dn = sep ? n - hn - 1 : 0;
    if (!sep || hn < 1 || dn < 6)
        return err_set(ERR_USAGE, "not valid Bech32: no prefix, separator or checksum");
    if (hn + 1 > hrp_cap || dn - 6 > cap)
        return err_set(ERR_USAGE, "not valid Bech32: longer than expected");
    unsigned long chk = polymod_hrp(low, hn);
    for (size_t i = 0; i < dn; i++) {
        const char *p = memchr(charset, low[hn + 1 + i], 32);
        if (!p)
            return err_set(ERR_USAGE, "not valid Bech32: the character '%c' is not in its alphabet",
                           low[hn + 1 + i]);
        chk = polymod_step(chk, (unsigned)(p - charset));
        if (i < dn - 6)
            data[i] = (unsigned char)(p - charset);
    }
    if (chk != 1)
        return err_set(ERR_USAGE, "not valid Bech32: wrong checksum");
    memcpy(hrp, low, hn);
    hrp[hn] = '\0';
    *len = dn - 6;
    return 0;
}

int bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                  size_t cap)
{
    unsigned char five[BECH32_MAX];
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    if ((len * 8 + 4) / 5 > sizeof(five))
        return err_set(ERR_FAILED, "could not encode Bech32: too long");
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | data[i];
        for (bits += 8; bits >= 5; bits -= 5)
            five[n++] = (acc >> (bits - 5)) & 31;
    }
    if (bits > 0)
        five[n++] = (acc << (5 - bits)) & 31;
    return bech32_encode5(hrp, five, n, upper, out, cap);
}

int bech32_decode(const char *s, char *hrp, size_t hrp_cap, unsigned char *data, size_t cap,
                  size_t *len)
{
    unsigned char five[BECH32_MAX];
    size_t n, out = 0;
    unsigned acc = 0, bits = 0;
    if (bech32_decode5(s, hrp, hrp_cap, five, sizeof(five), &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        acc = ((acc << 5) | five[i]) & 0xfff;
        bits += 5;
        if (bits >= 8) {
            if (out == cap)
                return err_set(ERR_USAGE, "not valid Bech32: longer than expected");
            data[out++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits > 4 || (acc & ((1u << bits) - 1)) != 0)
        return err_set(ERR_USAGE, "not valid Bech32: bad padding");
    *len = out;
    return 0;
}
