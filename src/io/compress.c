#include "io/compress.h"

#include <stddef.h>
#include <string.h>

#include "common/err.h"
#include "io/gzip.h"
#include "io/zstd.h"

static const struct format {
    const char *name;
    struct filter *(*compress)(int level, int jobs); /* NULL: stored as it is */
    struct filter *(*decompress)(const char *name);
} formats[] = {
    {"none", NULL, NULL},
    {"gzip", filter_gzip_new, filter_gunzip_new},
    {"zstd", filter_zstd_new, filter_unzstd_new},
};

static const struct format *find(const char *compression)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (compression && strcmp(formats[i].name, compression) == 0)
            return &formats[i];
    err_set(ERR_FAILED, "unknown compression \"%s\"", compression ? compression : "");
    return NULL;
}

void compress_add(struct chain *c, const char *compression, int level, int jobs)
{
    const struct format *f = find(compression);
    if (!f)
        chain_add(c, NULL);
    else if (f->compress)
        chain_add(c, f->compress(level, jobs));
}

void decompress_add(struct chain *c, const char *compression, const char *name)
{
    const struct format *f = find(compression);
    if (!f)
        chain_add(c, NULL);
    else if (f->decompress)
        chain_add(c, f->decompress(name));
}
