#include "io/hash.h"

#include <stdlib.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/util.h"
#include "io/filters.h"

struct hash_filter {
    struct filter base;
    XXH3_state_t *state;
    char *out;
};

static int hash_process(struct filter *f, const unsigned char *buf, size_t len)
{
    struct hash_filter *h = (struct hash_filter *)f;
    XXH3_128bits_update(h->state, buf, len);
    return filter_push(f->next, buf, len);
}

static int hash_finish(struct filter *f)
{
    struct hash_filter *h = (struct hash_filter *)f;
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->state));
    hex_encode(c.digest, sizeof(c.digest), h->out);
    return 0;
}

static void hash_free(struct filter *f)
{
    struct hash_filter *h = (struct hash_filter *)f;
    XXH3_freeState(h->state);
    free(h);
}

struct filter *filter_hash_new(char out[HASH_HEX_LEN])
{
    static const struct filter_ops ops = {
        .process = hash_process, .finish = hash_finish, .free = hash_free};
    XXH3_state_t *state = XXH3_createState();
    if (!state || XXH3_128bits_reset(state) != XXH_OK) {
        XXH3_freeState(state);
        err_set(ERR_FAILED, "out of memory");
        return NULL;
    }
    struct hash_filter *h = xcalloc(1, sizeof(*h));
    h->base.ops = &ops;
    h->state = state;
    h->out = out;
    out[0] = '\0';
    return &h->base;
}

int hash_file(const char *path, char out[HASH_HEX_LEN], uint64_t *size,
              volatile sig_atomic_t *cancel)
{
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(size));
    chain_add(c, filter_hash_new(out));
    int rc = chain_pump_file(c, path, cancel);
    chain_free(c);
    return rc;
}
