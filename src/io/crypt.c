#include "io/crypt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/encryption.h"
#include "common/err.h"
#include "common/util.h"
#include "io/age.h"
#include "io/openpgp.h"

struct crypt_keys {
    char *identity_file;
    struct age_identities *age; /* loaded on first use */
};

struct crypt_keys *crypt_keys_new(const char *identity_file)
{
    struct crypt_keys *k = xcalloc(1, sizeof(*k));
    k->identity_file = identity_file ? xstrdup(identity_file) : NULL;
    return k;
}

void crypt_keys_free(struct crypt_keys *k)
{
    if (!k)
        return;
    age_identities_free(k->age);
    free(k->identity_file);
    free(k);
}

const char *crypt_keys_identity_file(const struct crypt_keys *k)
{
    return k ? k->identity_file : NULL;
}

/* The age identities, read now if they were not yet. */
static const struct age_identities *keys_age(struct crypt_keys *k)
{
    if (!k->age && !k->identity_file) {
        err_set(ERR_USAGE, "no age identity to decrypt with");
        err_hint("give the identity file with --identity FILE or identity_file in the "
                 "configuration");
        return NULL;
    }
    if (!k->age)
        k->age = age_identities_load(k->identity_file);
    return k->age;
}

static bool age_owns(const char *recipient)
{
    return strncmp(recipient, "age1", 4) == 0;
}

static struct filter *age_encrypt(char *const *recipients, size_t n)
{
    return filter_age_encrypt_new((const char *const *)recipients, n);
}

static struct filter *age_decrypt(struct crypt_keys *k, const char *name)
{
    const struct age_identities *ids = keys_age(k);
    return ids ? filter_age_decrypt_new(ids, name) : NULL;
}

static int age_unlock(struct crypt_keys *k, const char *path, const char *recorded, char *matched)
{
    (void)recorded;
    const struct age_identities *ids = keys_age(k);
    char r[AGE_RECIPIENT_MAX] = "";
    if (!ids || age_file_unlock(path, ids, r) != 0)
        return -1;
    if (matched)
        snprintf(matched, CRYPT_RECIPIENT_MAX, "%s", r);
    return 0;
}

static int age_header(const unsigned char *buf, size_t n)
{
    return n > 0 && age_is_header_start(buf, n);
}

/* The recipients one a line, as given. */
static char *lines_of(char *const *recipients, size_t n)
{
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++)
        sbuf_printf(&b, "%s\n", recipients[i]);
    return b.data ? b.data : xstrdup("");
}

/* OpenPGP takes every recipient that is not age's: a fingerprint, a key id or an address
 * of a key in the running user's keyring (GNUPGHOME honoured). */
static bool pgp_owns(const char *recipient)
{
    return !age_owns(recipient);
}

static struct filter *pgp_encrypt(char *const *recipients, size_t n)
{
    return filter_openpgp_encrypt_new((const char *const *)recipients, n);
}

static struct filter *pgp_decrypt(struct crypt_keys *k, const char *name)
{
    (void)k;
    struct filter *f = filter_openpgp_decrypt_new();
    if (!f)
        err_wrap(ERR_NONE, "could not decrypt \"%s\"", name);
    return f;
}

/* The keys' fingerprints, which the catalog records: the recipient as the keyring
 * resolved it, whatever name the configuration gave. */
static char *pgp_record(char *const *recipients, size_t n)
{
    struct filter *f = filter_openpgp_encrypt_new((const char *const *)recipients, n);
    if (!f)
        return NULL;
    char *fprs = openpgp_fingerprints(f);
    f->ops->free ? f->ops->free(f) : free(f);
    struct sbuf b = {0};
    sbuf_printf(&b, "%s\n", fprs ? fprs : "");
    free(fprs);
    return b.data;
}

/* A secret key for one of the recorded fingerprints; an adopted file whose recipients
 * are not known is left to the decryption itself. */
static int pgp_unlock(struct crypt_keys *k, const char *path, const char *recorded, char *matched)
{
    (void)k;
    (void)path;
    (void)matched;
    if (!recorded || !*recorded)
        return 0;
    return openpgp_check_secret(recorded);
}

static int pgp_header(const unsigned char *buf, size_t n)
{
    return openpgp_detect(buf, n);
}

static const struct format {
    const char *name;
    bool (*owns)(const char *recipient); /* the recipient strings that are this format's */
    int (*check)(const char *recipient); /* 0 if well-formed, else ERR_USAGE naming it */
    struct filter *(*encrypt)(char *const *recipients, size_t n);
    struct filter *(*decrypt)(struct crypt_keys *k, const char *name);
    /* 0 if k opens the file; recorded: the catalog's recipients (NULL: unknown) */
    int (*unlock)(struct crypt_keys *k, const char *path, const char *recorded, char *matched);
    int (*header)(const unsigned char *buf, size_t n);  /* the file begins as this format */
    char *(*record)(char *const *recipients, size_t n); /* the catalog's recipients */
} formats[] = {
    /* age first: OpenPGP owns every recipient that age does not */
    {"age", age_owns, age_recipient_check, age_encrypt, age_decrypt, age_unlock, age_header,
     lines_of},
    {"openpgp", pgp_owns, NULL, pgp_encrypt, pgp_decrypt, pgp_unlock, pgp_header, pgp_record},
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static const struct format *find(const char *encryption)
{
    for (size_t i = 0; encryption && i < NFORMATS; i++)
        if (strcmp(formats[i].name, encryption) == 0)
            return &formats[i];
    err_set(ERR_FAILED, "unknown encryption \"%s\"", encryption ? encryption : "");
    return NULL;
}

static const struct format *owner(const char *recipient)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].owns(recipient))
            return &formats[i];
    err_set(ERR_USAGE, "recipient \"%s\" is neither age's (age1…) nor an OpenPGP key", recipient);
    return NULL;
}

const char *crypt_format_of(char *const *recipients, size_t n)
{
    const struct format *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct format *f = owner(recipients[i]);
        if (!f || (f->check && f->check(recipients[i]) != 0))
            return NULL;
        if (first && f != first) {
            err_set(ERR_USAGE, "recipient \"%s\" is for %s, \"%s\" for %s: one backup uses one",
                    recipients[0], first->name, recipients[i], f->name);
            return NULL;
        }
        first = f;
    }
    return first ? first->name : "none";
}

void encrypt_add(struct chain *c, const char *encryption, char *const *recipients, size_t n)
{
    if (strcmp(encryption, "none") == 0)
        return;
    const struct format *f = find(encryption);
    chain_add(c, f ? f->encrypt(recipients, n) : NULL);
}

void decrypt_add(struct chain *c, const char *encryption, struct crypt_keys *keys, const char *name)
{
    if (!encryption || strcmp(encryption, "none") == 0)
        return;
    const struct format *f = find(encryption);
    chain_add(c, f ? f->decrypt(keys, name) : NULL);
}

int crypt_unlock(const char *encryption, const char *path, struct crypt_keys *keys,
                 const char *what, const char *recipients, char *matched)
{
    if (matched)
        matched[0] = '\0';
    if (!encryption || strcmp(encryption, "none") == 0)
        return 0;
    const struct format *f = find(encryption);
    if (!f)
        return -1;
    if (!f->unlock || f->unlock(keys, path, recipients, matched) == 0)
        return 0;
    if (err_class() != ERR_USAGE)
        return -1;
    char *list = encryption_recipients_joined(recipients);
    err_wrap(ERR_USAGE, "%s is encrypted with %s to %s", what, f->name, list);
    free(list);
    return -1;
}

char *crypt_recipients_record(const char *encryption, char *const *recipients, size_t n)
{
    if (!encryption || strcmp(encryption, "none") == 0 || n == 0)
        return NULL;
    const struct format *f = find(encryption);
    return f ? f->record(recipients, n) : NULL;
}

const char *crypt_format_of_header(const unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].header && formats[i].header(buf, n))
            return formats[i].name;
    return "none";
}
