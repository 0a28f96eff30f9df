/*
 * libFuzzer target for the config-file parser (src/config/config.c).
 *
 * Input: byte 0 steers the callback (bit 0: stop with an error at pair number
 * (byte0 >> 1) % 8, as a bad value does); the rest is the text of a config file.
 *
 * 1. config_parse_text over the text (cut at its first NUL, as the file reader refuses
 *    NUL bytes) must give, for every pair, a non-empty key without '=', line breaks or
 *    surrounding blanks that does not start with '#', a value without a line break,
 *    line numbers that increase and stay within the text; the same pairs on a second
 *    run; and, when it fails, exactly one usage error of one line that names the file.
 * 2. config_resolve over the same bytes, as the file --config names (a memfd), must
 *    either fail with one usage error of one line that names the file, or give settings
 *    whose numbers are in the documented ranges.
 * AddressSanitizer finds leaks on every early return.
 *
 *   tests/fault/run_fuzzers.sh SRC_DIR OUT_DIR SECONDS    (what ctest runs)
 *   clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -DPGVAULT_VERSION='"0"' \
 *       -DPGVAULT_SYSCONFDIR='"/etc"' -Isrc src/config/config.c src/common/compression.c \
 *       src/common/util.c src/common/err.c tests/fuzz/fuzz_config.c -o /tmp/fz_config
 *   /tmp/fz_config -max_total_time=60 tests/fuzz/corpus_config
 */
#include "config/config.h"
#include "common/compression.h"
#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define ORIGIN "fuzz.conf"
#define MAX_PAIRS 4096

struct pairs {
    int n;
    int stop_at; /* -1: never */
    int last_line;
    int max_line;
    char *key[MAX_PAIRS];
    char *val[MAX_PAIRS];
    int line[MAX_PAIRS];
};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int on_pair(void *ctx, const char *key, const char *value, int line)
{
    struct pairs *p = ctx;
    size_t klen = strlen(key);
    if (klen == 0)
        fail("empty key", NULL);
    if (strchr(key, '=') || strchr(key, '\n'))
        fail("key holds '=' or a line break", key);
    if (is_blank(key[0]) || is_blank(key[klen - 1]))
        fail("key has surrounding blanks", key);
    if (key[0] == '#')
        fail("comment taken as a key", key);
    if (strchr(value, '\n'))
        fail("value holds a line break", value);
    if (line <= p->last_line || line < 1 || line > p->max_line)
        fail("line number out of order or out of the text", key);
    p->last_line = line;
    if (p->n < MAX_PAIRS) {
        p->key[p->n] = xstrdup(key);
        p->val[p->n] = xstrdup(value);
        p->line[p->n] = line;
    }
    if (p->n++ == p->stop_at)
        return err_set(ERR_USAGE, "stop at \"%s\" in \"%s\" line %d", key, ORIGIN, line);
    return 0;
}

static void pairs_free(struct pairs *p)
{
    for (int i = 0; i < p->n && i < MAX_PAIRS; i++) {
        free(p->key[i]);
        free(p->val[i]);
    }
}

/* The error state after a failure: one usage error, one line, naming the file. */
static void check_error(const char *what)
{
    if (!err_is_set())
        fail(what, "failed without an error");
    if (err_class() != ERR_USAGE)
        fail(what, "error is not a usage error");
    const char *m = err_msg();
    if (!*m || strchr(m, '\n') || strchr(m, '\r'))
        fail(what, "error message is empty or not one line");
    if (!strstr(m, ORIGIN) && !strstr(m, "/proc/self/fd/"))
        fail(what, "error message does not name the file");
    err_clear();
}

static void stage_parse(const char *text, int stop_at)
{
    struct pairs *a = calloc(2, sizeof(*a));
    struct pairs *b = a + 1;
    int lines = 1;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    a->stop_at = b->stop_at = stop_at;
    a->max_line = b->max_line = lines;
    int ra = config_parse_text(text, ORIGIN, on_pair, a);
    if (ra != 0)
        check_error("config_parse_text");
    else if (err_is_set())
        fail("config_parse_text succeeded with an error set", err_msg());
    int rb = config_parse_text(text, ORIGIN, on_pair, b);
    err_clear();
    if (ra != rb || a->n != b->n)
        fail("second parse differs", NULL);
    for (int i = 0; i < a->n && i < MAX_PAIRS; i++)
        if (strcmp(a->key[i], b->key[i]) || strcmp(a->val[i], b->val[i]) ||
            a->line[i] != b->line[i])
            fail("second parse differs", a->key[i]);
    pairs_free(a);
    pairs_free(b);
    free(a);
}

static void in_range(const char *what, long v, long lo, long hi)
{
    if (v < lo || v > hi)
        fail("setting out of range", what);
}

static void stage_resolve(const char *text, size_t len)
{
    int fd = memfd_create("fuzz.conf", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct options o;
    memset(&o, 0, sizeof(o));
    o.cmd = CMD_BACKUP;
    o.progress = TRI_AUTO;
    o.retention_days = o.keep_count = o.level = o.jobs = -1;
    o.keep_daily = o.keep_weekly = o.keep_monthly = o.min_keep = o.max_age_hours = -1;
    o.config_file = path;
    char *env[] = {NULL};
    struct settings s;
    if (config_resolve(&o, env, &s) != 0) {
        check_error("config_resolve");
    } else {
        if (err_is_set())
            fail("config_resolve succeeded with an error set", err_msg());
        in_range("retention_days", s.retention_days, 0, 36500);
        in_range("keep_count", s.keep_count, 0, 1000000);
        /* the level is in the range of the compression it is for (0 for none) */
        const struct compression *c = compression_find(s.compression);
        if (!c)
            fail("unknown compression", s.compression ? s.compression : "(null)");
        in_range("compress_level", s.level, c->min_level, c->max_level);
        in_range("jobs", s.jobs, 1, 256);
        in_range("min_keep", s.min_keep, 0, 1000000);
        in_range("keep_daily", s.keep_daily, 0, 100000);
        in_range("keep_weekly", s.keep_weekly, 0, 100000);
        in_range("keep_monthly", s.keep_monthly, 0, 100000);
        in_range("hook_timeout", s.hook_timeout, 1, 86400);
        if (!s.dir || !s.catalog)
            fail("no directory or catalog", NULL);
        settings_free(&s);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    int stop_at = (data[0] & 1) ? (data[0] >> 1) % 8 : -1;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    memcpy(text, data + 1, len);
    text[len] = '\0';
    err_clear();
    stage_parse(text, stop_at);
    stage_resolve(text, strlen(text));
    free(text);
    return 0;
}
