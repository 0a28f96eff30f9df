#include "common/encryption.h"

#include <string.h>

#include "common/util.h"

static const struct encryption encryptions[] = {
    {"none", ""},
    {"age", ".age"},
    {"openpgp", ".gpg"},
};

#define NENCRYPTIONS (sizeof(encryptions) / sizeof(encryptions[0]))

const struct encryption *encryption_find(const char *name)
{
    for (size_t i = 0; name && i < NENCRYPTIONS; i++)
        if (strcmp(encryptions[i].name, name) == 0)
            return &encryptions[i];
    return NULL;
}

const struct encryption *encryption_of_file(const char *file, size_t len, size_t *stem_len)
{
    for (size_t i = 1; i < NENCRYPTIONS; i++) {
        size_t k = strlen(encryptions[i].suffix);
        if (len > k && memcmp(file + len - k, encryptions[i].suffix, k) == 0) {
            *stem_len = len - k;
            return &encryptions[i];
        }
    }
    *stem_len = len;
    return &encryptions[0];
}

char *encryption_recipients_joined(const char *lines)
{
    struct sbuf b = {0};
    for (const char *s = lines ? lines : ""; *s;) {
        size_t n = strcspn(s, "\n");
        if (n > 0) {
            sbuf_puts(&b, b.len ? ", " : "");
            sbuf_add(&b, s, n);
        }
        s += n + (s[n] == '\n');
    }
    return b.data ? b.data : xstrdup("unknown recipients");
}
