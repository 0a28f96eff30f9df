#include "io/age.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bech32.h"
#include "common/err.h"
#include "common/util.h"

#define VERSION_LINE "age-encryption.org/v1\n"
#define X25519_INFO "age-encryption.org/v1/X25519"
#define FILE_KEY 16
#define NONCE 16    /* the payload nonce after the header */
#define CHUNK 65536 /* plaintext bytes of every chunk but the last */
#define TAG 16      /* Poly1305 tag of each chunk */
#define COLUMNS 64  /* base64 columns of a stanza body line */
#define HEADER_MAX (1u << 20)
#define IDFILE_MAX (1u << 20)

struct age_identity {
    unsigned char sk[32], pk[32];
};

struct age_identities {
    char *path;
    size_t n;
    struct age_identity *v;
};

/* An X25519 stanza of a header: the sender's ephemeral share and the wrapped file key. */
struct x25519_stanza {
    unsigned char share[32], body[32];
};

struct header {
    struct x25519_stanza *x;
    size_t nx;
    size_t mac_off; /* bytes the MAC covers: up to and including "---" */
    unsigned char mac[32];
};

static int sodium_ready(void)
{
    if (sodium_init() < 0)
        return err_set(ERR_FAILED, "could not initialise libsodium");
    return 0;
}

/* HKDF-SHA256 (RFC 5869), extract then expand to one 32-byte block. */
static void hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm,
                 size_t ikm_len, const char *info, unsigned char out[32])
{
    unsigned char prk[32], one = 1;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, salt_len ? salt : (const unsigned char *)"", salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)info, strlen(info));
    crypto_auth_hmacsha256_update(&st, &one, 1);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(prk, sizeof(prk));
    sodium_memzero(&st, sizeof(st));
}

/* The header's MAC: HMAC-SHA256 keyed with HKDF(file key, "header"). */
static void header_mac(const unsigned char file_key[FILE_KEY], const char *hdr, size_t len,
                       unsigned char mac[32])
{
    unsigned char k[32];
    hkdf(NULL, 0, file_key, FILE_KEY, "header", k);
    crypto_auth_hmacsha256(mac, (const unsigned char *)hdr, len, k);
    sodium_memzero(k, sizeof(k));
}

/* Base64 without padding, on one line. */
static void b64_add(struct sbuf *b, const unsigned char *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *t = xmalloc(cap);
    sodium_bin2base64(t, cap, bin, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sbuf_puts(b, t);
    free(t);
}

/* Decodes exactly the base64 of s[0..len) (canonical, no padding) into out[0..cap). */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *n)
{
    return sodium_base642bin(out, cap, s, len, NULL, n, NULL,
                             sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ---- keys ---- */

static int recipient_key(const char *s, unsigned char pk[32])
{
    char hrp[BECH32_MAX + 1];
    size_t n = 0;
    if (bech32_decode(s, hrp, sizeof(hrp), pk, 32, &n) != 0)
        return err_wrap(ERR_USAGE, "recipient \"%s\" is not an age recipient", s);
    if (strcmp(hrp, "age") != 0 || n != 32)
        return err_set(ERR_USAGE, "recipient \"%s\" is not an age X25519 recipient", s);
    return 0;
}

int age_recipient_check(const char *s)
{
    unsigned char pk[32];
    return recipient_key(s, pk);
}

static void recipient_string(const unsigned char pk[32], char out[AGE_RECIPIENT_MAX])
{
    if (bech32_encode("age", pk, 32, false, out, AGE_RECIPIENT_MAX) != 0)
        out[0] = '\0';
}

/* One identity line: its secret and its public key. */
static int identity_parse(const char *line, struct age_identity *id)
{
    char hrp[BECH32_MAX + 1];
    size_t n = 0;
    if (bech32_decode(line, hrp, sizeof(hrp), id->sk, sizeof(id->sk), &n) != 0)
        return -1;
    if (strcmp(hrp, "age-secret-key-") != 0 || n != 32)
        return err_set(ERR_USAGE, "not an X25519 identity");
    crypto_scalarmult_base(id->pk, id->sk);
    return 0;
}

/* The identity file's text, read after checking that only its owner can read it. */
static int idfile_read(const char *path, struct sbuf *text)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return err_sys(errno, "could not open identity file \"%s\"", path);
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        err_sys(errno, "could not stat identity file \"%s\"", path);
    } else if (!S_ISREG(st.st_mode)) {
        err_set(ERR_USAGE, "identity file \"%s\" is not a regular file", path);
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err_set(ERR_USAGE, "identity file \"%s\" is accessible by others (mode %04o)", path,
                (unsigned)(st.st_mode & 07777));
        err_hint("make it mode 0600: chmod 600 '%s'", path);
    } else {
        char chunk[4096];
        ssize_t k;
        while ((k = read(fd, chunk, sizeof(chunk))) > 0 && text->len < IDFILE_MAX)
            sbuf_add(text, chunk, (size_t)k);
        rc = k < 0 ? err_sys(errno, "could not read identity file \"%s\"", path) : 0;
        sodium_memzero(chunk, sizeof(chunk));
    }
    close(fd);
    return rc;
}

/* Every line that is neither blank nor a "#" comment must be an identity. */
static int idfile_parse(struct age_identities *ids, char *text)
{
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        ids->v = xrealloc(ids->v, (ids->n + 1) * sizeof(*ids->v));
        if (identity_parse(line, &ids->v[ids->n]) != 0) {
            err_clear();
            return err_set(ERR_USAGE, "identity file \"%s\" has a line that is not an age identity",
                           ids->path);
        }
        ids->n++;
    }
    if (ids->n == 0)
        return err_set(ERR_USAGE, "identity file \"%s\" holds no age identity", ids->path);
    return 0;
}

struct age_identities *age_identities_load(const char *path)
{
    struct age_identities *ids = xcalloc(1, sizeof(*ids));
    struct sbuf text = {0};
    ids->path = xstrdup(path);
    int rc = sodium_ready() == 0 && idfile_read(path, &text) == 0 ? 0 : -1;
    sbuf_add(&text, "", 0);
    if (rc == 0)
        rc = idfile_parse(ids, text.data);
    sodium_memzero(text.data, text.len);
    sbuf_free(&text);
    if (rc != 0) {
        age_identities_free(ids);
        return NULL;
    }
    return ids;
}

void age_identities_free(struct age_identities *ids)
{
    if (!ids)
        return;
    if (ids->v)
        sodium_memzero(ids->v, ids->n * sizeof(*ids->v));
    free(ids->v);
    free(ids->path);
    free(ids);
}

const char *age_identities_path(const struct age_identities *ids)
{
    return ids->path;
}

/* ---- the header ---- */

int age_is_header_start(const unsigned char *buf, size_t n)
{
    size_t k = n < strlen(VERSION_LINE) ? n : strlen(VERSION_LINE);
    return memcmp(buf, VERSION_LINE, k) == 0;
}

/* The file key wrapped for recipient pk: a fresh ephemeral share and the wrapped key. */
static int wrap_file_key(const unsigned char pk[32], const unsigned char file_key[FILE_KEY],
                         struct x25519_stanza *s)
{
    static const unsigned char zero_nonce[12];
    unsigned char e[32], shared[32], salt[64], wk[32];
    randombytes_buf(e, sizeof(e));
    crypto_scalarmult_base(s->share, e);
    int rc = crypto_scalarmult(shared, e, pk);
    if (rc == 0) {
        memcpy(salt, s->share, 32);
        memcpy(salt + 32, pk, 32);
        hkdf(salt, sizeof(salt), shared, sizeof(shared), X25519_INFO, wk);
        crypto_aead_chacha20poly1305_ietf_encrypt(s->body, NULL, file_key, FILE_KEY, NULL, 0, NULL,
                                                  zero_nonce, wk);
    }
    sodium_memzero(e, sizeof(e));
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(wk, sizeof(wk));
    return rc == 0 ? 0 : err_set(ERR_USAGE, "age recipient is not a usable X25519 key");
}

/* The file key if identity id is the recipient of stanza s. */
static int unwrap_file_key(const struct age_identity *id, const struct x25519_stanza *s,
                           unsigned char file_key[FILE_KEY])
{
    static const unsigned char zero_nonce[12];
    unsigned char shared[32], salt[64], wk[32];
    int rc = crypto_scalarmult(shared, id->sk, s->share);
    if (rc == 0) {
        memcpy(salt, s->share, 32);
        memcpy(salt + 32, id->pk, 32);
        hkdf(salt, sizeof(salt), shared, sizeof(shared), X25519_INFO, wk);
        rc = crypto_aead_chacha20poly1305_ietf_decrypt(file_key, NULL, NULL, s->body,
                                                       sizeof(s->body), NULL, 0, zero_nonce, wk);
    }
    sodium_memzero(shared, sizeof(shared));
    sodium_memzero(wk, sizeof(wk));
    return rc == 0 ? 0 : -1;
}

/* The header for the recipients, with its MAC line: what a new file begins with. */
static int header_build(const char *const *recipients, size_t n,
                        const unsigned char file_key[FILE_KEY], struct sbuf *out)
{
    sbuf_puts(out, VERSION_LINE);
    for (size_t i = 0; i < n; i++) {
        unsigned char pk[32];
        struct x25519_stanza s;
        if (recipient_key(recipients[i], pk) != 0 || wrap_file_key(pk, file_key, &s) != 0)
            return -1;
        sbuf_puts(out, "-> X25519 ");
        b64_add(out, s.share, sizeof(s.share));
        sbuf_puts(out, "\n");
        /* 32 bytes are 43 columns: one body line, shorter than a full one */
        b64_add(out, s.body, sizeof(s.body));
        sbuf_puts(out, "\n");
    }
    unsigned char mac[32];
    sbuf_puts(out, "---");
    header_mac(file_key, out->data, out->len, mac);
    sbuf_puts(out, " ");
    b64_add(out, mac, sizeof(mac));
    sbuf_puts(out, "\n");
    return 0;
}

/* The length of the header (through the MAC line's newline) in h[0..len), or 0 while it
 * has not ended there. */
static size_t header_end(const char *h, size_t len)
{
    const char *m = memmem(h, len, "\n--- ", 5);
    const char *nl = m ? memchr(m + 1, '\n', len - (size_t)(m + 1 - h)) : NULL;
    return nl ? (size_t)(nl + 1 - h) : 0;
}

/* The next line of [*p, end) without its newline; -1 if there is none. */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;
    if (!nl)
        return -1;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return 0;
}

/* A stanza's body: lines of 64 columns ending with a shorter (maybe empty) one. With out,
 * it must decode to exactly cap bytes. */
static int read_body(const char **p, const char *end, unsigned char *out, size_t cap)
{
    size_t total = 0;
    for (;;) {
        const char *line;
        size_t len, n;
        unsigned char tmp[COLUMNS / 4 * 3];
        if (next_line(p, end, &line, &len) != 0 || len > COLUMNS ||
            b64_decode(line, len, tmp, sizeof(tmp), &n) != 0)
            return -1;
        if (out && (total + n > cap))
            return -1;
        if (out)
            memcpy(out + total, tmp, n);
        total += n;
        if (len < COLUMNS)
            return out && total != cap ? -1 : 0;
    }
}

/* A "-> TYPE ARGS…" line and its body; X25519 stanzas are kept. */
static int parse_stanza(const char *line, size_t len, const char **p, const char *end,
                        struct header *h)
{
    const char *args = line + 3, *sp = memchr(args, ' ', len - 3);
    if (len == 3 || args[0] == ' ')
        return -1;
    if (!(sp && sp - args == 6 && memcmp(args, "X25519", 6) == 0))
        return read_body(p, end, NULL, 0);
    h->x = xrealloc(h->x, (h->nx + 1) * sizeof(*h->x));
    struct x25519_stanza *s = &h->x[h->nx];
    size_t n;
    if (memchr(sp + 1, ' ', (size_t)(line + len - sp - 1)) ||
        b64_decode(sp + 1, (size_t)(line + len - sp - 1), s->share, 32, &n) != 0 || n != 32 ||
        read_body(p, end, s->body, sizeof(s->body)) != 0)
        return -1;
    h->nx++;
    return 0;
}

/* Parses the header h[0..len) (len from header_end). */
static int header_parse(const char *h, size_t len, struct header *out, const char *name)
{
    const char *p = h, *end = h + len, *line;
    size_t n, k;
    if (next_line(&p, end, &line, &n) != 0 || n != strlen(VERSION_LINE) - 1 ||
        memcmp(line, VERSION_LINE, n) != 0)
        goto bad;
    while (next_line(&p, end, &line, &n) == 0) {
        if (n >= 4 && memcmp(line, "--- ", 4) == 0) {
            out->mac_off = (size_t)(line - h) + 3;
            if (p != end || b64_decode(line + 4, n - 4, out->mac, 32, &k) != 0 || k != 32)
                goto bad;
            return 0;
        }
        if (n < 3 || memcmp(line, "-> ", 3) != 0 || parse_stanza(line, n, &p, end, out) != 0)
            goto bad;
    }
bad:
    return err_set(ERR_INTEGRITY, "file \"%s\" has a damaged age header", name);
}

/* Finds the file key of the header h[0..len) with ids and checks the header's MAC; the
 * identity that matched in *which. */
static int header_unlock(const char *h, size_t len, const struct age_identities *ids,
                         const char *name, unsigned char file_key[FILE_KEY], size_t *which)
{
    struct header hd = {0};
    int rc = header_parse(h, len, &hd, name);
    bool found = false;
    for (size_t i = 0; rc == 0 && !found && i < hd.nx; i++)
        for (size_t j = 0; !found && j < ids->n; j++)
            if (unwrap_file_key(&ids->v[j], &hd.x[i], file_key) == 0) {
                found = true;
                *which = j;
            }
    if (rc == 0 && !found)
        rc = err_set(ERR_USAGE, "no identity in \"%s\" matches a recipient of \"%s\"", ids->path,
                     name);
    unsigned char mac[32];
    if (rc == 0) {
        header_mac(file_key, h, hd.mac_off, mac);
        if (sodium_memcmp(mac, hd.mac, sizeof(mac)) != 0)
            rc = err_set(ERR_INTEGRITY, "file \"%s\" failed authentication: wrong age header MAC",
                         name);
    }
    free(hd.x);
    return rc;
}

/* Reads the header of the age file open as fd (path names it in errors) into h, and at
 * least extra bytes after it; its length in *end. */
static int header_read(int fd, const char *path, struct sbuf *h, size_t extra, size_t *end)
{
    char chunk[4096];
    ssize_t k = 0;
    while ((!(*end = header_end(h->data ? h->data : "", h->len)) || h->len < *end + extra) &&
           h->len < HEADER_MAX && (k = read(fd, chunk, sizeof(chunk))) > 0) {
        sbuf_add(h, chunk, (size_t)k);
        if (!age_is_header_start((unsigned char *)h->data, h->len))
            break;
    }
    if (k < 0)
        return err_sys(errno, "could not read file \"%s\"", path);
    if (!*end || h->len < *end + extra)
        return err_set(ERR_INTEGRITY, "file \"%s\" is not an age file or its header is truncated",
                       path);
    return 0;
}

int age_file_unlock(const char *path, const struct age_identities *ids, char *recipient)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_sys(errno, "could not open file \"%s\"", path);
    struct sbuf h = {0};
    size_t end = 0, which = 0;
    unsigned char file_key[FILE_KEY];
    int rc = header_read(fd, path, &h, 0, &end);
    if (rc == 0)
        rc = sodium_ready() == 0 ? header_unlock(h.data, end, ids, path, file_key, &which) : -1;
    if (rc == 0 && recipient)
        recipient_string(ids->v[which].pk, recipient);
    sodium_memzero(file_key, sizeof(file_key));
    sbuf_free(&h);
    close(fd);
    return rc;
}

/* ---- the payload ---- */

/* Buffers in[0..len) into chunks of cap bytes; a full chunk goes to flush(ctx) only once
 * more input shows it is not the last one (the finish handles that one). */
static int chunk_fill(unsigned char *chunk, size_t *fill, size_t cap, const unsigned char *in,
                      size_t len, int (*flush)(void *ctx), void *ctx)
{
    while (len > 0) {
        if (*fill == cap && flush(ctx) != 0)
            return -1;
        size_t k = cap - *fill < len ? cap - *fill : len;
        memcpy(chunk + *fill, in, k);
        *fill += k;
        in += k;
        len -= k;
    }
    return 0;
}

/* The STREAM nonce: an 11-byte big-endian chunk counter and the last-chunk flag. */
static void nonce_next(unsigned char nonce[12])
{
    for (int i = 10; i >= 0; i--)
        if (++nonce[i] != 0)
            break;
}

static void payload_key(const unsigned char file_key[FILE_KEY], const unsigned char *nonce,
                        unsigned char key[32])
{
    hkdf(nonce, NONCE, file_key, FILE_KEY, "payload", key);
}

struct age_enc {
    struct filter base;
    struct sbuf head; /* header and payload nonce, until they are passed on */
    unsigned char key[32], nonce[12];
    unsigned char *buf, *out; /* a plaintext chunk, a sealed one */
    size_t fill;
};

static int enc_head(struct age_enc *a)
{
    if (!a->head.data)
        return 0;
    int rc = filter_push(a->base.next, (unsigned char *)a->head.data, a->head.len);
    sbuf_free(&a->head);
    return rc;
}

/* Seals the buffered chunk and passes it on. */
static int enc_seal(struct age_enc *a, bool last)
{
    unsigned long long n = 0;
    a->nonce[11] = last;
    crypto_aead_chacha20poly1305_ietf_encrypt(a->out, &n, a->buf, a->fill, NULL, 0, NULL, a->nonce,
                                              a->key);
    nonce_next(a->nonce);
    a->fill = 0;
    return filter_push(a->base.next, a->out, (size_t)n);
}

static int enc_seal_middle(void *ctx)
{
    return enc_seal(ctx, false);
}

static int enc_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct age_enc *a = (struct age_enc *)f;
    if (enc_head(a) != 0)
        return -1;
    return chunk_fill(a->buf, &a->fill, CHUNK, buf, len, enc_seal_middle, a);
}

static int enc_finish(struct filter *f)
{
    struct age_enc *a = (struct age_enc *)f;
    return enc_head(a) == 0 ? enc_seal(a, true) : -1;
}

static void enc_free(struct filter *f)
{
    struct age_enc *a = (struct age_enc *)f;
    sodium_memzero(a->key, sizeof(a->key));
    if (a->buf)
        sodium_memzero(a->buf, CHUNK);
    free(a->buf);
    free(a->out);
    sbuf_free(&a->head);
    free(a);
}

struct filter *filter_age_encrypt_new(const char *const *recipients, size_t n)
{
    static const struct filter_ops ops = {
        .process = enc_process, .finish = enc_finish, .free = enc_free};
    if (sodium_ready() != 0)
        return NULL;
    if (n == 0) {
        err_set(ERR_USAGE, "no age recipient to encrypt to");
        return NULL;
    }
    struct age_enc *a = xcalloc(1, sizeof(*a));
    a->base.ops = &ops;
    unsigned char file_key[FILE_KEY], nonce[NONCE];
    randombytes_buf(file_key, sizeof(file_key));
    randombytes_buf(nonce, sizeof(nonce));
    int rc = header_build(recipients, n, file_key, &a->head);
    sbuf_add(&a->head, (const char *)nonce, sizeof(nonce));
    payload_key(file_key, nonce, a->key);
    sodium_memzero(file_key, sizeof(file_key));
    if (rc != 0) {
        enc_free(&a->base);
        return NULL;
    }
    a->buf = xmalloc_io(CHUNK);
    a->out = xmalloc_io(CHUNK + TAG);
    return &a->base;
}

struct age_dec {
    struct filter base;
    const struct age_identities *ids;
    char *name;
    bool in_payload;
    struct sbuf head; /* the header and nonce as they arrive */
    unsigned char key[32], nonce[12];
    unsigned char *buf, *out; /* a sealed chunk, an opened one */
    size_t fill;
    uint64_t chunks;
};

/* Opens the buffered chunk and passes its plaintext on. */
static int dec_open(struct age_dec *d, bool last)
{
    unsigned long long n = 0;
    if (d->fill < TAG)
        return err_set(ERR_INTEGRITY, "file \"%s\" is truncated: its last age chunk is incomplete",
                       d->name);
    if (last && d->fill == TAG && d->chunks > 0)
        return err_set(ERR_INTEGRITY, "file \"%s\" is damaged: its last age chunk is empty",
                       d->name);
    d->nonce[11] = last;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(d->out, &n, NULL, d->buf, d->fill, NULL, 0,
                                                  d->nonce, d->key) != 0)
        return err_set(ERR_INTEGRITY,
                       "file \"%s\" failed authentication at age chunk %llu: it is damaged or "
                       "truncated",
                       d->name, (unsigned long long)d->chunks);
    nonce_next(d->nonce);
    d->chunks++;
    d->fill = 0;
    return filter_push(d->base.next, d->out, (size_t)n);
}

/* Gathers the header and nonce; once both are in, unlocks the file and sets *used to the
 * bytes of buf they took (the rest is payload). 1 while they are incomplete. */
static int dec_head(struct age_dec *d, const unsigned char *buf, size_t len, size_t *used)
{
    sbuf_add(&d->head, (const char *)buf, len);
    if (!age_is_header_start((unsigned char *)d->head.data, d->head.len))
        return err_set(ERR_INTEGRITY, "file \"%s\" is not an age file", d->name);
    size_t end = header_end(d->head.data, d->head.len);
    if (!end || d->head.len < end + NONCE) {
        if (d->head.len > HEADER_MAX)
            return err_set(ERR_INTEGRITY, "file \"%s\" has a damaged age header", d->name);
        return 1;
    }
    unsigned char file_key[FILE_KEY];
    size_t which;
    if (header_unlock(d->head.data, end, d->ids, d->name, file_key, &which) != 0)
        return -1;
    payload_key(file_key, (unsigned char *)d->head.data + end, d->key);
    sodium_memzero(file_key, sizeof(file_key));
    *used = len - (d->head.len - end - NONCE);
    sbuf_free(&d->head);
    d->in_payload = true;
    return 0;
}

static int dec_open_middle(void *ctx)
{
    return dec_open(ctx, false);
}

static int dec_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct age_dec *d = (struct age_dec *)f;
    if (!d->in_payload) {
        size_t used = 0;
        int rc = dec_head(d, buf, len, &used);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        buf += used;
        len -= used;
    }
    return chunk_fill(d->buf, &d->fill, CHUNK + TAG, buf, len, dec_open_middle, d);
}

static int dec_finish(struct filter *f)
{
    struct age_dec *d = (struct age_dec *)f;
    if (!d->in_payload)
        return err_set(ERR_INTEGRITY, "file \"%s\" is truncated: its age header is incomplete",
                       d->name);
    return dec_open(d, true);
}

static void dec_free(struct filter *f)
{
    struct age_dec *d = (struct age_dec *)f;
    sodium_memzero(d->key, sizeof(d->key));
    if (d->out)
        sodium_memzero(d->out, CHUNK);
    free(d->buf);
    free(d->out);
    free(d->name);
    sbuf_free(&d->head);
    free(d);
}

struct filter *filter_age_decrypt_new(const struct age_identities *ids, const char *name)
{
    static const struct filter_ops ops = {
        .process = dec_process, .finish = dec_finish, .free = dec_free};
    if (sodium_ready() != 0)
        return NULL;
    struct age_dec *d = xcalloc(1, sizeof(*d));
    d->base.ops = &ops;
    d->ids = ids;
    d->name = xstrdup(name);
    d->buf = xmalloc_io(CHUNK + TAG);
    d->out = xmalloc_io(CHUNK);
    return &d->base;
}

/* ---- reading the payload from an offset ---- */

struct age_reader {
    int fd;
    char *path;
    unsigned char key[32];
    uint64_t payload; /* the file offset of the first chunk */
    uint64_t chunk;   /* the next chunk to open */
    unsigned char *sealed, *plain;
    size_t len, pos; /* plain[pos..len) not read yet */
    size_t skip;     /* bytes of the first chunk opened that come before the offset */
    bool last;       /* the chunk in plain is the last one */
};

struct age_reader *age_reader_open(const char *path, const struct age_identities *ids,
                                   uint64_t offset)
{
    if (sodium_ready() != 0)
        return NULL;
    struct age_reader *r = xcalloc(1, sizeof(*r));
    r->path = xstrdup(path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r->fd < 0) {
        err_sys(errno, "could not open file \"%s\"", path);
        age_reader_free(r);
        return NULL;
    }
    struct sbuf h = {0};
    size_t end = 0, which = 0;
    unsigned char file_key[FILE_KEY];
    int rc = header_read(r->fd, path, &h, NONCE, &end);
    if (rc == 0)
        rc = header_unlock(h.data, end, ids, path, file_key, &which);
    if (rc == 0)
        payload_key(file_key, (unsigned char *)h.data + end, r->key);
    sodium_memzero(file_key, sizeof(file_key));
    sbuf_free(&h);
    if (rc != 0) {
        age_reader_free(r);
        return NULL;
    }
    r->payload = end + NONCE;
    r->chunk = offset / CHUNK;
    r->skip = (size_t)(offset % CHUNK);
    r->sealed = xmalloc_io(CHUNK + TAG + 1);
    r->plain = xmalloc_io(CHUNK);
    return r;
}

/* Reads the sealed chunk r->chunk, and one byte more to tell whether it is the last. */
static ssize_t reader_pread(struct age_reader *r)
{
    size_t want = CHUNK + TAG + 1, got = 0;
    off_t at = (off_t)(r->payload + r->chunk * (CHUNK + TAG));
    while (got < want) {
        ssize_t n = pread(r->fd, r->sealed + got, want - got, at + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_sys(errno, "could not read file \"%s\"", r->path);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Opens the next chunk into plain (nothing past the last one: the payload ended). */
static int reader_next(struct age_reader *r)
{
    ssize_t n = reader_pread(r);
    if (n < 0)
        return -1;
    r->last = (size_t)n <= CHUNK + TAG;
    size_t sealed = r->last ? (size_t)n : CHUNK + TAG;
    r->len = r->pos = 0;
    if (sealed == 0) /* the offset was the payload's end */
        return 0;
    unsigned char nonce[12] = {0};
    for (int i = 10; i >= 3; i--)
        nonce[i] = (unsigned char)(r->chunk >> (8 * (10 - i)));
    nonce[11] = r->last;
    unsigned long long plain = 0;
    if (sealed < TAG || crypto_aead_chacha20poly1305_ietf_decrypt(
                            r->plain, &plain, NULL, r->sealed, sealed, NULL, 0, nonce, r->key) != 0)
        return err_set(ERR_INTEGRITY,
                       "file \"%s\" failed authentication at age chunk %llu: it is damaged or "
                       "truncated",
                       r->path, (unsigned long long)r->chunk);
    r->len = (size_t)plain;
    r->pos = r->skip < r->len ? r->skip : r->len;
    r->skip = 0;
    r->chunk++;
    return 0;
}

ssize_t age_reader_read(struct age_reader *r, void *buf, size_t cap)
{
    while (r->pos == r->len) {
        if (r->last)
            return 0;
        if (reader_next(r) != 0)
            return -1;
    }
    size_t k = cap < r->len - r->pos ? cap : r->len - r->pos;
    memcpy(buf, r->plain + r->pos, k);
    r->pos += k;
    return (ssize_t)k;
}

void age_reader_free(struct age_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    sodium_memzero(r->key, sizeof(r->key));
    if (r->plain)
        sodium_memzero(r->plain, CHUNK);
    free(r->plain);
    free(r->sealed);
    free(r->path);
    free(r);
}
