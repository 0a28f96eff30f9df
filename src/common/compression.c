#include "common/compression.h"

#include <string.h>

static const struct compression compressions[] = {
    {"gzip", ".gz", 1, 9, 6, 1},
    {"zstd", ".zst", 1, 19, 3, 10},
    {"none", "", 0, 0, 0, 0},
};

#define NCOMPRESSIONS (sizeof(compressions) / sizeof(compressions[0]))

const char compression_names[] = "gzip, zstd or none";

const struct compression *compression_find(const char *name)
{
    for (size_t i = 0; name && i < NCOMPRESSIONS; i++)
        if (strcmp(compressions[i].name, name) == 0)
            return &compressions[i];
    return NULL;
}

const struct compression *compression_of_file(const char *file, size_t len, size_t *stem_len)
{
    for (size_t i = 0; i < NCOMPRESSIONS; i++) {
        size_t k = strlen(compressions[i].suffix), n = 4 + k;
        if (len > n && memcmp(file + len - n, ".sql", 4) == 0 &&
            memcmp(file + len - k, compressions[i].suffix, k) == 0) {
            *stem_len = len - n;
            return &compressions[i];
        }
    }
    return NULL;
}
