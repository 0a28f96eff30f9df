#ifndef PGVAULT_BECH32_H
#define PGVAULT_BECH32_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Bech32 (BIP-173), the encoding of age's key strings ("age1…" recipients,
 * "AGE-SECRET-KEY-1…" identities): a human-readable part, the separator '1', the data
 * as 5-bit groups in a 32-letter alphabet and a 6-letter checksum. A string is all
 * lower case or all upper case, at most 90 characters long.
 */

/* The longest string (and so the longest human-readable part) Bech32 allows. */
#define BECH32_MAX 90

/* Writes hrp, '1', data (5-bit values, each < 32) and the checksum into out (NUL-ended,
 * cap bytes), lower case or, with upper, upper case; -1 (ERR_FAILED) when it would not fit
 * or be longer than BECH32_MAX, or hrp is not printable ASCII. */
int bech32_encode5(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                   size_t cap);

/* Parses s: its human-readable part, lower-cased, into hrp (hrp_cap bytes), its 5-bit values
 * into data (cap bytes, *len of them, without the checksum). -1 (ERR_USAGE, "not valid
 * Bech32: …") for mixed case, a bad character, length or checksum. */
int bech32_decode5(const char *s, char *hrp, size_t hrp_cap, unsigned char *data, size_t cap,
                   size_t *len);

/* The same over bytes: the data is regrouped from 8-bit bytes into 5-bit values (the last
 * one padded with zero bits) and back. Decoding refuses padding longer than 4 bits or that
 * is not zero. */
int bech32_encode(const char *hrp, const unsigned char *data, size_t len, bool upper, char *out,
                  size_t cap);
int bech32_decode(const char *s, char *hrp, size_t hrp_cap, unsigned char *data, size_t cap,
                  size_t *len);

#endif
