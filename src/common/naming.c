#include "common/naming.h"

#include "common/compression.h"
#include "common/encryption.h"
#include "common/err.h"
#include "common/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DB_MAX 63 /* PostgreSQL's NAMEDATALEN - 1 */

/* True if byte c may appear unencoded at position pos of an encoded name. */
static bool plain_byte(unsigned char c, size_t pos)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
        return true;
    return (c == '.' || c == '-') && pos > 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

char *naming_encode_db(const char *db)
{
    static const char hex[] = "0123456789ABCDEF";
    struct sbuf b = {0};
    sbuf_add(&b, "", 0);
    for (size_t i = 0; db[i]; i++) {
        unsigned char c = (unsigned char)db[i];
        if (plain_byte(c, i)) {
            sbuf_add(&b, (const char *)&c, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            sbuf_add(&b, esc, 3);
        }
    }
    return b.data;
}

char *naming_decode_db(const char *s)
{
    struct sbuf b = {0};
    char *again = NULL;
    sbuf_add(&b, "", 0);
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
            if (lo < 0)
                goto bad;
            char c = (char)(hi << 4 | lo);
            sbuf_add(&b, &c, 1);
            p += 2;
        } else {
            sbuf_add(&b, p, 1);
        }
    }
    /* Only the canonical form is accepted: no %00, no lowercase hex, no raw byte that
     * should have been encoded, no needless escape. */
    again = naming_encode_db(b.data);
    if (b.len == 0 || strlen(b.data) != b.len || strcmp(again, s) != 0)
        goto bad;
    free(again);
    return b.data;
bad:
    free(again);
    sbuf_free(&b);
    return NULL;
}

char *naming_backup_file(const char *db, time_t when, const char *compression,
                         const char *encryption, int seq)
{
    const struct compression *c = compression_find(compression);
    const struct encryption *e = encryption_find(encryption ? encryption : "none");
    if (!c) {
        err_set(ERR_FAILED, "unknown compression \"%s\"", compression ? compression : "");
        return NULL;
    }
    if (!e) {
        err_set(ERR_FAILED, "unknown encryption \"%s\"", encryption);
        return NULL;
    }
    struct tm tm;
    if (!gmtime_r(&when, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        err_set(ERR_FAILED, "could not format backup time %lld", (long long)when);
        return NULL;
    }
    char *enc = naming_encode_db(db);
    char suffix[16] = "";
    if (seq > 1)
        snprintf(suffix, sizeof(suffix), "_%d", seq);
    char *name =
        xasprintf("%s_%04d%02d%02d_%02d%02d%02d%s.sql%s%s", enc, tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, suffix, c->suffix, e->suffix);
    free(enc);
    return name;
}

/* True if stem[0..len) ends with "_YYYYMMDD_HHMMSS" after a non-empty prefix. */
static bool has_stamp(const char *stem, size_t len)
{
    return len > 16 && stem[len - 16] == '_' && all_digits(stem + len - 15, 8) &&
           stem[len - 7] == '_' && all_digits(stem + len - 6, 6);
}

/* Parses "YYYYMMDD_HHMMSS" as UTC; rejects dates such as Feb 30 or 24:00:00. */
static int parse_stamp(const char *s, time_t *when)
{
    int y, mo, d, h, mi, se;
    if (sscanf(s, "%4d%2d%2d_%2d%2d%2d", &y, &mo, &d, &h, &mi, &se) != 6)
        return -1;
    return time_from_utc(y, mo, d, h, mi, se, when);
}

int naming_parse_file(const char *file, char **db, time_t *when, const char **compression,
                      const char **encryption)
{
    size_t len;
    const struct encryption *e = encryption_of_file(file, strlen(file), &len);
    const struct compression *c = compression_of_file(file, len, &len);
    if (!c)
        return -1;

    /* Split from the right: the database part may itself contain '_'. */
    if (!has_stamp(file, len)) {
        const char *us = memrchr(file, '_', len);
        size_t n = us ? (size_t)(file + len - us - 1) : 0;
        if (n == 0 || n > 9 || us[1] == '0' || !all_digits(us + 1, n) || (n == 1 && us[1] == '1'))
            return -1;
        len = (size_t)(us - file);
        if (!has_stamp(file, len))
            return -1;
    }
    time_t t;
    if (parse_stamp(file + len - 15, &t) < 0)
        return -1;
    char *enc = xstrndup(file, len - 16);
    char *name = naming_decode_db(enc);
    free(enc);
    if (!name || !naming_db_ok(name)) {
        free(name);
        return -1;
    }
    *db = name;
    *when = t;
    *compression = c->name;
    if (encryption)
        *encryption = e->name;
    return 0;
}

bool naming_db_ok(const char *db)
{
    size_t n = db ? strnlen(db, DB_MAX + 1) : 0;
    return n >= 1 && n <= DB_MAX;
}

uint64_t naming_target_tag(const char *target)
{
    uint64_t h = 14695981039346656037ULL; /* FNV offset basis */
    for (const char *s = target; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

char *naming_test_db(const char *db)
{
    uint32_t r;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16); /* unique enough: never reused */
    return xasprintf(NAMING_TMP_PREFIX "%016" PRIx64 "_test_%08" PRIx32, naming_target_tag(db), r);
}
