#ifndef PGVAULT_AGE_H
#define PGVAULT_AGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io/chain.h"

/*
 * The age v1 file format (age-encryption.org/v1), written and read in-process with
 * libsodium: X25519 recipients ("age1…"), a header authenticated with HMAC-SHA256, and
 * the payload in 64 KiB chunks of ChaCha20-Poly1305 (STREAM, the last chunk flagged), so
 * that the stock age(1) reads what pgvault writes and the other way round.
 */

/* The longest recipient string ("age1" + 58 characters) and identity string, with NUL. */
#define AGE_RECIPIENT_MAX 64
#define AGE_IDENTITY_MAX 80

/* The identities of an identity file, as age-keygen writes it: "#" comments, blank lines
 * and one or more AGE-SECRET-KEY-1… lines. */
struct age_identities;

/* Reads path, which must be a regular file that only its owner can read or write (mode
 * 0600 or stricter); -1 with ERR_USAGE naming the file (its mode, its line that is not an
 * identity, or that it holds none). */
struct age_identities *age_identities_load(const char *path);
/* Zeroes the keys and frees; NULL-safe. */
void age_identities_free(struct age_identities *ids);
/* The file they came from. */
const char *age_identities_path(const struct age_identities *ids);

/* 0 if s is an X25519 recipient string ("age1…", Bech32, 32 bytes); otherwise -1 with
 * ERR_USAGE naming s and saying what is wrong. */
int age_recipient_check(const char *s);

/* 1 if the n bytes at buf can begin an age file (the version line, or a prefix of it when
 * n is shorter), else 0. */
int age_is_header_start(const unsigned char *buf, size_t n);

/* Reads the header of the age file path and finds an identity of ids that unwraps its file
 * key and authenticates the header, without reading the payload. 0 when one does, its
 * recipient string then in recipient (AGE_RECIPIENT_MAX bytes, may be NULL); -1 with
 * ERR_USAGE when none matches ("no identity in \"IDS\" matches a recipient of \"FILE\""),
 * ERR_INTEGRITY when the header is damaged, ERR_FAILED when the file cannot be read. */
int age_file_unlock(const char *path, const struct age_identities *ids, char *recipient);

/* Encrypts to the n recipients (n >= 1, each "age1…"); NULL with ERR_USAGE naming a
 * recipient that is not one, or ERR_FAILED when libsodium cannot start. */
struct filter *filter_age_encrypt_new(const char *const *recipients, size_t n);

/* Decrypts with the identities (the caller keeps them alive while the chain runs); name
 * is the file named in errors. No identity matching a recipient is ERR_USAGE; a damaged
 * header, a bad MAC, a chunk that fails authentication, a truncated file or data after the
 * last chunk is ERR_INTEGRITY. */
struct filter *filter_age_decrypt_new(const struct age_identities *ids, const char *name);

/* The payload of the age file path from plaintext offset on, without reading the chunks
 * before it: the header is unlocked with ids, then each 64 KiB chunk from the one that
 * holds the offset is read and authenticated on its own (its number is in its nonce).
 * NULL with the error set as age_file_unlock's. */
struct age_reader;
struct age_reader *age_reader_open(const char *path, const struct age_identities *ids,
                                   uint64_t offset);
/* Up to cap plaintext bytes: the count, 0 at the end of the payload, -1 with the error set
 * (a chunk that fails authentication: ERR_INTEGRITY naming the file). */
ssize_t age_reader_read(struct age_reader *r, void *buf, size_t cap);
void age_reader_free(struct age_reader *r); /* NULL-safe */

#endif
