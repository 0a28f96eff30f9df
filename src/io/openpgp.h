#ifndef PGVAULT_OPENPGP_H
#define PGVAULT_OPENPGP_H

#include <stdbool.h>
#include <stddef.h>

#include "io/chain.h"

/*
 * OpenPGP encryption as two chain filters, through GPGME and the running user's gpg
 * (keyring and gpg-agent of GNUPGHOME, else ~/.gnupg). What the encrypt filter writes is
 * a standard binary OpenPGP message that "gpg --decrypt" reads; the decrypt filter reads
 * what "gpg --encrypt" writes, binary or armored.
 *
 * Encryption uses the recipients' preferred algorithms and no compression of its own (the
 * chain has compressed the dump already; with compression "none" that was the choice).
 * Trust: a recipient is named explicitly by the configuration, and a DBA typically imports
 * the public key of the backup key without certifying it, so a key is accepted when it is
 * in the keyring, not revoked, expired or disabled and can encrypt; the web of trust is
 * not consulted (GPGME_ENCRYPT_ALWAYS_TRUST after those checks). gpg.conf's encrypt-to keys
 * are not added: exactly the configured recipients (the catalog's recipients column) can
 * decrypt.
 *
 * The stream goes through pipes between GPGME and gpg only, never through a file, and in
 * bounded memory (io/gpgstream.h). Decryption asks gpg-agent for the secret key as gpg
 * does (a passphrase-protected key needs the agent's pinentry or a cached passphrase).
 */

/* Encrypts to the keys of the running user's keyring (GNUPGHOME honoured) that the
 * recipients name (fingerprint, key id or e-mail address); each must resolve to exactly
 * one valid encryption key, else NULL with an ERR_USAGE error naming it. */
struct filter *filter_openpgp_encrypt_new(const char *const *recipients, size_t n);

/* The fingerprints (of the primary keys) that filter_openpgp_encrypt_new resolved for f,
 * newline-separated, for the catalog's recipients column; malloc'd (NULL when f is no
 * OpenPGP encrypt filter). */
char *openpgp_fingerprints(const struct filter *f);

/* Decrypts with the keyring / gpg-agent. No usable secret key: ERR_USAGE naming the
 * recipients of the message; failed authentication (MDC/AEAD), truncation or a damaged
 * packet: ERR_INTEGRITY. */
struct filter *filter_openpgp_decrypt_new(void);

/* True when buf (the first bytes of a file) starts an OpenPGP message (binary packet of
 * a PKESK/SKESK/encrypted-data tag, or "-----BEGIN PGP MESSAGE-----"). */
bool openpgp_detect(const unsigned char *buf, size_t len);

/* 0 when the keyring holds a secret key for one of the newline-separated fingerprints,
 * else -1 with ERR_USAGE "no secret key for any recipient (…)". */
int openpgp_check_secret(const char *fingerprints);

#endif
