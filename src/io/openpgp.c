#include "io/openpgp.h"

#include <gpgme.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "io/gpgstream.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static gpgme_error_t init_error;

/* GPGME wants gpgme_check_version before anything else, once; then the locale gpg's
 * messages (and pinentry) use, and an OpenPGP engine that is there. */
static void init_gpgme(void)
{
    gpgme_check_version(NULL);
    gpgme_set_locale(NULL, LC_CTYPE, setlocale(LC_CTYPE, NULL));
    gpgme_set_locale(NULL, LC_MESSAGES, setlocale(LC_MESSAGES, NULL));
    init_error = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
}

/* A context for gpg: binary output, the local keyring only. */
static int new_ctx(gpgme_ctx_t *ctx)
{
    pthread_once(&init_once, init_gpgme);
    if (init_error) {
        err_set(ERR_FAILED, "could not use gpg: %s", gpgme_strerror(init_error));
        err_hint("OpenPGP encryption needs GnuPG 2 (the gnupg package)");
        return -1;
    }
    gpgme_error_t e = gpgme_new(ctx);
    if (!e)
        e = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP);
    if (!e)
        e = gpgme_set_keylist_mode(*ctx, GPGME_KEYLIST_MODE_LOCAL);
    if (e) {
        gpgme_release(*ctx);
        *ctx = NULL;
        return err_set(ERR_FAILED, "could not set up GPGME: %s", gpgme_strerror(e));
    }
    gpgme_set_armor(*ctx, 0);
    return 0;
}

/* What makes a key useless as a recipient, or NULL when it can encrypt. */
static const char *key_problem(gpgme_key_t key)
{
    if (key->revoked)
        return "revoked";
    if (key->expired)
        return "expired";
    if (key->disabled)
        return "disabled";
    if (key->invalid)
        return "invalid";
    if (!key->can_encrypt)
        return "not usable for encryption";
    return NULL;
}

/* The keylist pattern of a recipient: an e-mail address matches that address exactly
 * (gpg's "<…>" form), not every user id that contains it; a fingerprint or key id is
 * exact already. */
static char *recipient_pattern(const char *r)
{
    if (strchr(r, '@') && !strchr(r, '<') && r[0] != '=')
        return xasprintf("<%s>", r);
    return xstrdup(r);
}

struct key_match {
    gpgme_key_t key; /* the one usable key (a reference) */
    int usable;
    struct sbuf fprs; /* the usable ones, for an ambiguity */
    char *bad_fpr;    /* the first unusable one and why */
    const char *bad_why;
};

static void match_key(struct key_match *m, gpgme_key_t key)
{
    const char *why = key_problem(key);
    if (why) {
        if (!m->bad_fpr)
            m->bad_fpr = xstrdup(key->fpr), m->bad_why = why;
        gpgme_key_unref(key);
        return;
    }
    sbuf_printf(&m->fprs, "%s%s", m->usable ? ", " : "", key->fpr);
    if (m->usable++ == 0)
        m->key = key;
    else
        gpgme_key_unref(key);
}

/* The verdict on what the keyring holds for recipient r. */
static int match_result(struct key_match *m, const char *r)
{
    if (m->usable == 1)
        return 0;
    if (m->usable > 1)
        err_set(ERR_USAGE, "OpenPGP recipient \"%s\" matches %d keys (%s)", r, m->usable,
                m->fprs.data);
    else if (m->bad_fpr)
        err_set(ERR_USAGE, "OpenPGP key %s of recipient \"%s\" is %s", m->bad_fpr, r, m->bad_why);
    else
        err_set(ERR_USAGE, "no OpenPGP public key for recipient \"%s\" in the keyring", r);
    err_hint(m->usable > 1 ? "name the key by its fingerprint"
                           : "import the recipient's public key with gpg --import (gpg "
                             "--list-keys shows the keyring)");
    return -1;
}

/* The one valid encryption key that recipient r names, as a new reference in *out. */
static int resolve_recipient(gpgme_ctx_t ctx, const char *r, gpgme_key_t *out)
{
    struct key_match m = {0};
    char *pattern = recipient_pattern(r);
    gpgme_key_t key;
    gpgme_error_t e = gpgme_op_keylist_start(ctx, pattern, 0);
    while (!e && !(e = gpgme_op_keylist_next(ctx, &key)))
        match_key(&m, key);
    gpgme_op_keylist_end(ctx);
    int rc = gpgme_err_code(e) != GPG_ERR_EOF
                 ? err_set(ERR_FAILED, "could not list the OpenPGP keys of recipient \"%s\": %s", r,
                           gpgme_strerror(e))
                 : match_result(&m, r);
    if (rc == 0)
        *out = m.key;
    else if (m.key)
        gpgme_key_unref(m.key);
    free(pattern);
    free(m.bad_fpr);
    sbuf_free(&m.fprs);
    return rc;
}

struct encrypt_filter {
    struct gpg_stream s;
    gpgme_key_t *keys; /* NULL-terminated, as gpgme_op_encrypt wants them */
    char *fingerprints;
};

static gpgme_error_t encrypt_run(void *op, gpgme_ctx_t ctx, gpgme_data_t in, gpgme_data_t out)
{
    struct encrypt_filter *x = op;
    /* the keys were checked when they were resolved: see the header on trust */
    return gpgme_op_encrypt(ctx, x->keys,
                            GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_ENCRYPT_TO |
                                GPGME_ENCRYPT_NO_COMPRESS,
                            in, out);
}

static int encrypt_fail(void *op, gpgme_ctx_t ctx, gpgme_error_t e)
{
    (void)op;
    gpgme_encrypt_result_t res = gpgme_op_encrypt_result(ctx);
    if (res && res->invalid_recipients)
        return err_set(ERR_USAGE, "OpenPGP key %s cannot be used: %s", res->invalid_recipients->fpr,
                       gpgme_strerror(res->invalid_recipients->reason));
    return err_set(ERR_FAILED, "could not encrypt: %s", gpgme_strerror(e));
}

static void encrypt_free(struct filter *f)
{
    struct encrypt_filter *x = (struct encrypt_filter *)f;
    gpg_stream_release(&x->s);
    for (size_t i = 0; x->keys && x->keys[i]; i++)
        gpgme_key_unref(x->keys[i]);
    free(x->keys);
    free(x->fingerprints);
    free(x);
}

static const struct filter_ops encrypt_ops = {
    .process = gpg_stream_process, .finish = gpg_stream_finish, .free = encrypt_free};

/* Adds key to x unless a recipient before named it too (then drops the reference). */
static void add_key(struct encrypt_filter *x, size_t *nkeys, gpgme_key_t key, struct sbuf *fprs)
{
    for (size_t i = 0; i < *nkeys; i++)
        if (strcmp(x->keys[i]->fpr, key->fpr) == 0) {
            gpgme_key_unref(key);
            return;
        }
    x->keys[(*nkeys)++] = key;
    sbuf_printf(fprs, "%s%s", fprs->len ? "\n" : "", key->fpr);
}

struct filter *filter_openpgp_encrypt_new(const char *const *recipients, size_t n)
{
    gpgme_ctx_t ctx;
    if (n == 0) {
        err_set(ERR_USAGE, "no OpenPGP recipient given");
        return NULL;
    }
    if (new_ctx(&ctx) != 0)
        return NULL;
    struct encrypt_filter *x = xcalloc(1, sizeof(*x));
    x->s.base.ops = &encrypt_ops;
    gpg_stream_init(&x->s, ctx, encrypt_run, encrypt_fail, x);
    x->keys = xcalloc(n + 1, sizeof(*x->keys));
    struct sbuf fprs = {0};
    size_t nkeys = 0;
    for (size_t i = 0; i < n; i++) {
        gpgme_key_t key;
        if (resolve_recipient(ctx, recipients[i], &key) != 0) {
            sbuf_free(&fprs);
            encrypt_free(&x->s.base);
            return NULL;
        }
        add_key(x, &nkeys, key, &fprs);
    }
    x->fingerprints = fprs.data;
    return &x->s.base;
}

char *openpgp_fingerprints(const struct filter *f)
{
    if (!f || f->ops != &encrypt_ops)
        return NULL;
    return xstrdup(((const struct encrypt_filter *)f)->fingerprints);
}

/* "FINGERPRINT <address>" of the key whose (sub)key id is keyid, as far as the keyring
 * knows it; else the key id alone. */
static void name_recipient(gpgme_ctx_t ctx, const char *keyid, struct sbuf *out)
{
    gpgme_key_t key = NULL;
    if (ctx && gpgme_get_key(ctx, keyid, &key, 0) == 0 && key) {
        sbuf_puts(out, key->fpr);
        if (key->uids && key->uids->email && *key->uids->email)
            sbuf_printf(out, " <%s>", key->uids->email);
        gpgme_key_unref(key);
        return;
    }
    sbuf_puts(out, keyid);
}

/* The recipients of the message just tried: "no secret key for any recipient (…)". */
static int no_secret_key(gpgme_decrypt_result_t res)
{
    gpgme_ctx_t ctx = NULL;
    if (gpgme_new(&ctx) != 0)
        ctx = NULL;
    struct sbuf names = {0};
    for (gpgme_recipient_t r = res ? res->recipients : NULL; r; r = r->next) {
        if (names.len)
            sbuf_puts(&names, ", ");
        name_recipient(ctx, r->keyid, &names);
    }
    gpgme_release(ctx);
    err_set(ERR_USAGE, "no secret key for any recipient (%s)",
            names.len ? names.data : "the message names none");
    sbuf_free(&names);
    return -1;
}

/* Every recipient of the message was tried and none had its secret key here. */
static bool all_without_secret(gpgme_decrypt_result_t res)
{
    if (!res || !res->recipients)
        return false;
    for (gpgme_recipient_t r = res->recipients; r; r = r->next)
        if (gpgme_err_code(r->status) != GPG_ERR_NO_SECKEY)
            return false;
    return true;
}

/* The secret key is there, but gpg-agent could not use it: no pinentry to ask for its
 * passphrase (a batch job), the passphrase refused or the prompt cancelled. */
static bool agent_refused(gpgme_err_code_t code)
{
    switch (code) {
    case GPG_ERR_NO_PIN_ENTRY:
    case GPG_ERR_PIN_ENTRY:
    case GPG_ERR_BAD_PASSPHRASE:
    case GPG_ERR_NO_PASSPHRASE:
    case GPG_ERR_CANCELED:
    case GPG_ERR_FULLY_CANCELED:
    case GPG_ERR_NO_AGENT:
    case GPG_ERR_AGENT:
    case GPG_ERR_TIMEOUT:
        return true;
    default:
        return false;
    }
}

static gpgme_error_t decrypt_run(void *op, gpgme_ctx_t ctx, gpgme_data_t in, gpgme_data_t out)
{
    (void)op;
    return gpgme_op_decrypt(ctx, in, out);
}

/* A missing or locked secret key is the user's to fix (exit 2); a message that does not
 * decrypt or authenticate is damaged (exit 3); a failure of gpg itself is neither. */
static int decrypt_fail(void *op, gpgme_ctx_t ctx, gpgme_error_t e)
{
    struct gpg_stream *s = op;
    gpgme_decrypt_result_t res = gpgme_op_decrypt_result(ctx);
    gpgme_err_code_t code = gpgme_err_code(e);
    /* once plaintext has come out, the agent had opened the session key: a failure after
     * that (gpg reports trailing garbage as a cancelled operation at times) is damage */
    pthread_mutex_lock(&s->mu);
    bool produced = s->produced > 0;
    pthread_mutex_unlock(&s->mu);
    if (agent_refused(code) && !produced) {
        err_set(ERR_USAGE, "could not decrypt: gpg-agent could not use the secret key: %s",
                gpgme_strerror(e));
        err_hint("a key with a passphrase needs a pinentry, or the passphrase cached in "
                 "gpg-agent (gpg-preset-passphrase)");
        return -1;
    }
    if (code == GPG_ERR_NO_SECKEY || all_without_secret(res))
        return no_secret_key(res);
    if (res && res->unsupported_algorithm)
        return err_set(ERR_FAILED, "could not decrypt: unsupported OpenPGP algorithm %s",
                       res->unsupported_algorithm);
    if (code == GPG_ERR_INV_ENGINE || code == GPG_ERR_ENOMEM)
        return err_set(ERR_FAILED, "could not decrypt: %s", gpgme_strerror(e));
    return err_set(ERR_INTEGRITY,
                   "could not decrypt: the OpenPGP message is damaged or "
                   "truncated (%s)",
                   gpgme_strerror(e));
}

static void decrypt_free(struct filter *f)
{
    gpg_stream_release((struct gpg_stream *)f);
    free(f);
}

struct filter *filter_openpgp_decrypt_new(void)
{
    static const struct filter_ops ops = {
        .process = gpg_stream_process, .finish = gpg_stream_finish, .free = decrypt_free};
    gpgme_ctx_t ctx;
    if (new_ctx(&ctx) != 0)
        return NULL;
    struct gpg_stream *s = xcalloc(1, sizeof(*s));
    s->base.ops = &ops;
    gpg_stream_init(s, ctx, decrypt_run, decrypt_fail, s);
    return &s->base;
}

/* The packet tags that start an encrypted message: public-key and symmetric-key
 * encrypted session keys, symmetrically encrypted data (with and without integrity
 * protection, and GnuPG's AEAD packet). */
static bool encrypted_tag(unsigned tag)
{
    return tag == 1 || tag == 3 || tag == 9 || tag == 18 || tag == 20;
}

bool openpgp_detect(const unsigned char *buf, size_t len)
{
    static const char armor[] = "-----BEGIN PGP MESSAGE-----";
    if (len >= sizeof(armor) - 1 && memcmp(buf, armor, sizeof(armor) - 1) == 0)
        return true;
    if (len < 2 || !(buf[0] & 0x80))
        return false;
    /* new format: the tag in the low six bits; old format: bits 5..2 */
    unsigned tag = buf[0] & 0x40 ? buf[0] & 0x3fu : (buf[0] >> 2) & 0x0fu;
    return encrypted_tag(tag);
}

/* The key of fingerprint fpr has the secret part of a subkey that can encrypt here. */
static bool has_secret(gpgme_ctx_t ctx, const char *fpr)
{
    gpgme_key_t key = NULL;
    if (gpgme_get_key(ctx, fpr, &key, 1) != 0 || !key)
        return false;
    bool found = false;
    for (gpgme_subkey_t sk = key->subkeys; sk && !found; sk = sk->next)
        found = sk->secret && sk->can_encrypt && !sk->revoked && !sk->expired;
    gpgme_key_unref(key);
    return found;
}

int openpgp_check_secret(const char *fingerprints)
{
    gpgme_ctx_t ctx;
    if (new_ctx(&ctx) != 0)
        return -1;
    char *list = xstrdup(fingerprints ? fingerprints : "");
    struct sbuf names = {0};
    bool found = false;
    for (char *save = NULL, *fpr = strtok_r(list, "\n", &save); fpr && !found;
         fpr = strtok_r(NULL, "\n", &save)) {
        found = has_secret(ctx, fpr);
        sbuf_printf(&names, "%s%s", names.len ? ", " : "", fpr);
    }
    gpgme_release(ctx);
    int rc = found ? 0
                   : err_set(ERR_USAGE, "no secret key for any recipient (%s)",
                             names.len ? names.data : "none recorded");
    free(list);
    sbuf_free(&names);
    return rc;
}
