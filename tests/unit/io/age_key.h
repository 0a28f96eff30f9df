#ifndef PGVAULT_TEST_AGE_KEY_H
#define PGVAULT_TEST_AGE_KEY_H

/* A fresh age key pair for the tests that encrypt: the identity file (mode 0600, as
 * age-keygen writes it) in dir, and the recipient string. */
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/bech32.h"
#include "common/util.h"
#include "io/age.h"
#include "unit.h"

static __attribute__((unused)) char *make_identity_in(const char *dir, const char *name,
                                                      char recipient[AGE_RECIPIENT_MAX])
{
    unsigned char sk[32], pk[32];
    char id[AGE_IDENTITY_MAX];
    CHECK(sodium_init() >= 0);
    randombytes_buf(sk, sizeof(sk));
    crypto_scalarmult_base(pk, sk);
    CHECK_INT(bech32_encode("age-secret-key-", sk, 32, true, id, sizeof(id)), 0);
    CHECK_INT(bech32_encode("age", pk, 32, false, recipient, AGE_RECIPIENT_MAX), 0);
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "# created: 2026-12-01T00:00:00Z\n# public key: %s\n%s\n", recipient, id);
        fclose(f);
    }
    chmod(path, 0600);
    return path;
}

#endif
