#ifndef PGVAULT_CRYPT_H
#define PGVAULT_CRYPT_H

#include <stddef.h>

#include "io/chain.h"

/*
 * The encryption formats by the name the catalog records ("none", "age"): the one place
 * that maps a name to its filters and its recipients to a name, so that a new format is
 * its pair of filters and one row here. "none" adds nothing; an unknown name makes the
 * chain fail.
 */

/* The keys a command decrypts with: the age identity file it was given (--identity,
 * identity_file; may be NULL), read when a file first needs it. */
struct crypt_keys;
struct crypt_keys *crypt_keys_new(const char *identity_file);
void crypt_keys_free(struct crypt_keys *k);
/* The identity file the keys come from (NULL: none given). */
const char *crypt_keys_identity_file(const struct crypt_keys *k);

/* The format the n recipients ask for ("none" when n is 0): each must be one of a
 * format's, all of the same one, and well-formed; NULL with ERR_USAGE naming the first
 * that is not. */
const char *crypt_format_of(char *const *recipients, size_t n);

/* Appends the encrypting filter for the recipients (the format crypt_format_of gave). */
void encrypt_add(struct chain *c, const char *encryption, char *const *recipients, size_t n);

/* Appends the decrypting filter; name is the file named in its errors. */
void decrypt_add(struct chain *c, const char *encryption, struct crypt_keys *keys,
                 const char *name);

/* Before the payload is read: 0 if keys can decrypt the file path. Otherwise -1 with
 * ERR_USAGE ("WHAT is encrypted with age to RECIPIENTS: …", recipients one a line as the
 * catalog has them, NULL when unknown), or ERR_INTEGRITY for a damaged header. matched, if
 * not NULL, receives the recipient whose key opened it (CRYPT_RECIPIENT_MAX bytes; "" if
 * unknown). */
#define CRYPT_RECIPIENT_MAX 256
int crypt_unlock(const char *encryption, const char *path, struct crypt_keys *keys,
                 const char *what, const char *recipients, char *matched);

/* The recipients as the catalog records them, one a line: age's as given, OpenPGP's as
 * the fingerprints of the keys they name. NULL with the error set when one cannot be
 * resolved (or for none). */
char *crypt_recipients_record(const char *encryption, char *const *recipients, size_t n);

/* The encryption whose header the n bytes at buf begin with ("none" if none of theirs). */
const char *crypt_format_of_header(const unsigned char *buf, size_t n);

#endif
