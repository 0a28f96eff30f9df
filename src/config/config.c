#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/compression.h"
#include "common/err.h"
#include "common/util.h"

const char *env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int config_parse_text(const char *text, const char *origin,
                      int (*fn)(void *ctx, const char *key, const char *value, int line), void *ctx)
{
    int lineno = 0;
    const char *p = text;
    while (*p) {
        lineno++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char *line = xstrndup(p, len);
        p += len + (eol ? 1 : 0);

        /* trim, skip blanks and comments */
        char *s = line;
        while (is_space(*s))
            s++;
        char *end = s + strlen(s);
        while (end > s && is_space(end[-1]))
            *--end = '\0';
        if (*s == '\0' || *s == '#') {
            free(line);
            continue;
        }

        char *eq = strchr(s, '=');
        if (!eq) {
            free(line);
            return err_set(ERR_USAGE, "syntax error in \"%s\" line %d: expected key = value",
                           origin, lineno);
        }
        char *kend = eq;
        while (kend > s && is_space(kend[-1]))
            kend--;
        *kend = '\0';
        char *val = eq + 1;
        while (is_space(*val))
            val++;
        if (*s == '\0') {
            free(line);
            return err_set(ERR_USAGE, "syntax error in \"%s\" line %d: missing key", origin,
                           lineno);
        }
        if (*val == '"') {
            /* a double-quoted value keeps '#' and blanks; \" and \\ are escapes */
            char *w = val, *r = val + 1;
            for (; *r && *r != '"'; r++) {
                if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
                    r++;
                *w++ = *r;
            }
            if (*r != '"' || r[1] != '\0') {
                free(line);
                return err_set(ERR_USAGE,
                               "syntax error in \"%s\" line %d: unterminated quoted value", origin,
                               lineno);
            }
            *w = '\0';
        } else {
            /* an unquoted value ends at a " #" comment */
            for (char *c = val; *c; c++)
                if (*c == '#' && (c == val || is_space(c[-1]))) {
                    *c = '\0';
                    break;
                }
            char *ve = val + strlen(val);
            while (ve > val && is_space(ve[-1]))
                *--ve = '\0';
        }
        int rc = fn(ctx, s, val, lineno);
        free(line);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Values read from the config file, before precedence is applied. */
struct file_values {
    const char *origin;
    char *host, *port, *user, *dbname, *password;
    char *dir, *catalog, *pg_bindir, *metrics_file, *pre_hook, *post_hook;
    char *notify_email, *notify_on, *sendmail_path, *notify_from;
    char *encrypt_to_file, *identity_file;
    char **encrypt_to; /* each encrypt_to line, in order */
    int n_encrypt_to;
    long retention_days, keep_count, level, jobs, restore_jobs, min_keep, keep_daily, keep_weekly,
        keep_monthly, hook_timeout, lock_wait_timeout;
    long access_point_interval;            /* 0 unset */
    int compress;                          /* -1 unset */
    const struct compression *compression; /* NULL unset */
    int level_line;                        /* the line of compress_level */
    struct remote_settings *remotes;       /* the remote.NAME sections */
    size_t nremotes;
};

/* A value quoted in an error message: at most CLIP bytes of it, then "...", so that the
 * file and line named after it are never cut off by the message's length limit. */
enum { CLIP = 64 };
#define CLIPPED(s) (strlen(s) > CLIP ? CLIP : (int)strlen(s)), (s), (strlen(s) > CLIP ? "..." : "")

static int set_num(struct file_values *fv, const char *key, const char *val, int line, long min,
                   long max, long *dst)
{
    if (parse_int(val, min, max, dst) != 0)
        return err_set(ERR_USAGE,
                       "invalid value \"%.*s%s\" for \"%s\" in \"%s\" line %d (%ld..%ld)",
                       CLIPPED(val), key, fv->origin, line, min, max);
    return 0;
}

/* A size: a whole number of bytes, or with a unit kB, MB, GB, TB (or K, M, G, T, KiB,
 * MiB, …; any case), each 1024 times the one before, as PostgreSQL counts them. */
static int set_size(struct file_values *fv, const char *key, const char *val, int line, long min,
                    long max, long *dst)
{
    static const char units[] = "kmgt";
    char *end = NULL;
    errno = 0;
    long long n = val[0] >= '0' && val[0] <= '9' ? strtoll(val, &end, 10) : -1;
    int shift = -1;
    if (n >= 0 && errno == 0) {
        while (*end == ' ')
            end++;
        const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
        const char *rest = u ? end + 1 : end;
        shift = u ? 10 * (int)(u - units + 1) : 0;
        if (*rest && strcasecmp(rest, "b") != 0 && !(u && strcasecmp(rest, "ib") == 0))
            shift = -1;
    }
    if (shift < 0 || n > (max >> shift) || (n << shift) < min)
        return err_set(ERR_USAGE,
                       "invalid value \"%.*s%s\" for \"%s\" in \"%s\" line %d (a size from "
                       "%ld kB to %ld GB, such as 32MB)",
                       CLIPPED(val), key, fv->origin, line, min >> 10, max >> 30);
    *dst = (long)(n << shift);
    return 0;
}

static int set_str(char **dst, const char *val)
{
    free(*dst);
    *dst = xstrdup(val);
    return 0;
}

/* yes/no, on/off, true/false, 1/0; -1 for anything else. */
static int parse_bool(const char *val)
{
    static const char *const yes[] = {"yes", "on", "true", "1"}, *const no[] = {"no", "off",
                                                                                "false", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(val, yes[i]) == 0)
            return 1;
        if (strcmp(val, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A secret file (a key) that others or the group can read is refused, as libpq refuses
 * such a .pgpass; a file that does not exist yet is left to the remote to report. */
static int check_secret_file(const struct file_values *fv, const char *key, const char *path,
                             int line)
{
    struct stat st;
    if (stat(path, &st) != 0 || !(st.st_mode & (S_IRWXG | S_IRWXO)))
        return 0;
    err_set(ERR_USAGE, "%s \"%s\" in \"%s\" line %d is accessible by group or others", key, path,
            fv->origin, line);
    err_hint("run chmod 600 \"%s\"", path);
    return -1;
}

/* The section of remote name, added at line when new. */
static struct remote_settings *remote_section(struct file_values *fv, const char *name, size_t len,
                                              int line)
{
    for (size_t i = 0; i < fv->nremotes; i++)
        if (strlen(fv->remotes[i].name) == len && strncmp(fv->remotes[i].name, name, len) == 0)
            return &fv->remotes[i];
    fv->remotes = xrealloc(fv->remotes, (fv->nremotes + 1) * sizeof(*fv->remotes));
    struct remote_settings *r = &fv->remotes[fv->nremotes++];
    *r = (struct remote_settings){
        .name = xstrndup(name, len), .line = line, .part_size = -1, .io_timeout = -1};
    long *unset[] = {&r->retention_days, &r->keep_count,   &r->keep_daily,
                     &r->keep_weekly,    &r->keep_monthly, &r->min_keep};
    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        *unset[i] = -1;
    return r;
}

/* The keys of a remote.NAME section: strings (secret: a key file), then numbers. */
static const struct {
    const char *key;
    size_t off;
    bool secret;
} remote_strs[] = {
    {"url", offsetof(struct remote_settings, url), false},
    {"endpoint", offsetof(struct remote_settings, endpoint), false},
    {"region", offsetof(struct remote_settings, region), false},
    {"access_key", offsetof(struct remote_settings, access_key), false},
    {"secret_key_file", offsetof(struct remote_settings, secret_key_file), true},
    {"identity_file", offsetof(struct remote_settings, identity_file), true},
    {"known_hosts", offsetof(struct remote_settings, known_hosts), false},
};
static const struct {
    const char *key;
    size_t off;
    long min, max;
} remote_nums[] = {
    {"retention_days", offsetof(struct remote_settings, retention_days), 0, 36500},
    {"keep_count", offsetof(struct remote_settings, keep_count), 0, 1000000},
    {"min_keep", offsetof(struct remote_settings, min_keep), 0, 1000000},
    {"keep_daily", offsetof(struct remote_settings, keep_daily), 0, 100000},
    {"keep_weekly", offsetof(struct remote_settings, keep_weekly), 0, 100000},
    {"keep_monthly", offsetof(struct remote_settings, keep_monthly), 0, 100000},
    /* 5 MiB (S3's smallest part) .. 5 GiB (its largest) */
    {"part_size", offsetof(struct remote_settings, part_size), 5L << 20, 5L << 30},
    {"io_timeout", offsetof(struct remote_settings, io_timeout), 1, 86400},
};

/* The section NAME of "NAME.KEY" (NAME of letters, digits, _ and -); *k is KEY. */
static struct remote_settings *remote_of(struct file_values *fv, const char *key, int line,
                                         const char **k)
{
    const char *dot = strchr(key, '.');
    size_t nlen = dot ? (size_t)(dot - key) : 0;
    if (!dot || nlen == 0 || nlen > 64 ||
        strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != nlen) {
        err_set(ERR_USAGE,
                "invalid remote setting \"remote.%.*s%s\" in \"%s\" line %d "
                "(remote.NAME.KEY, NAME of letters, digits, _ and -)",
                CLIPPED(key), fv->origin, line);
        return NULL;
    }
    *k = dot + 1;
    return remote_section(fv, key, nlen, line);
}

static int remote_path_style(struct file_values *fv, struct remote_settings *r, const char *val,
                             int line)
{
    int b = parse_bool(val);
    if (b < 0)
        return err_set(ERR_USAGE,
                       "invalid value \"%.*s%s\" for \"path_style\" in \"%s\" line %d "
                       "(yes or no)",
                       CLIPPED(val), fv->origin, line);
    r->path_style = b == 1;
    return 0;
}

/* One value of a remote.NAME section, key being what follows "remote.". */
static int remote_value(struct file_values *fv, const char *key, const char *val, int line)
{
    const char *k;
    struct remote_settings *r = remote_of(fv, key, line, &k);
    if (!r)
        return -1;
    for (size_t i = 0; i < sizeof(remote_strs) / sizeof(remote_strs[0]); i++) {
        if (strcmp(k, remote_strs[i].key) != 0)
            continue;
        if (!*val)
            return err_set(ERR_USAGE, "empty value for \"remote.%s\" in \"%s\" line %d", key,
                           fv->origin, line);
        if (remote_strs[i].secret && check_secret_file(fv, k, val, line) != 0)
            return -1;
        return set_str((char **)((char *)r + remote_strs[i].off), val);
    }
    for (size_t i = 0; i < sizeof(remote_nums) / sizeof(remote_nums[0]); i++)
        if (strcmp(k, remote_nums[i].key) == 0)
            return set_num(fv, k, val, line, remote_nums[i].min, remote_nums[i].max,
                           (long *)((char *)r + remote_nums[i].off));
    if (strcmp(k, "path_style") == 0)
        return remote_path_style(fv, r, val, line);
    return err_set(ERR_USAGE, "unknown setting \"remote.%.*s%s\" in \"%s\" line %d", CLIPPED(key),
                   fv->origin, line);
}

/* Every remote needs its url; the error names the line where its section starts. */
static int check_remotes(const struct file_values *fv)
{
    for (size_t i = 0; i < fv->nremotes; i++)
        if (!fv->remotes[i].url)
            return err_set(ERR_USAGE, "remote \"%s\" in \"%s\" line %d has no url",
                           fv->remotes[i].name, fv->origin, fv->remotes[i].line);
    return 0;
}

/* notify_email: one address or several separated by commas; a repeated key adds more. */
static int add_addresses(struct file_values *fv, const char *val, int line)
{
    struct sbuf b = {0};
    if (fv->notify_email)
        sbuf_puts(&b, fv->notify_email);
    char *copy = xstrdup(val), *save = NULL;
    for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        while (*a == ' ' || *a == '\t')
            a++;
        size_t n = strlen(a);
        while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
            a[--n] = '\0';
        if (n > 0)
            sbuf_printf(&b, "%s%s", b.len ? ", " : "", a);
    }
    free(copy);
    free(fv->notify_email);
    fv->notify_email = b.data;
    if (!b.data)
        return err_set(ERR_USAGE, "empty value for \"notify_email\" in \"%s\" line %d", fv->origin,
                       line);
    return 0;
}

/* encrypt_to may be given on several lines: each adds a recipient. */
static int add_file_recipient(struct file_values *fv, const char *val, int line)
{
    if (!*val)
        return err_set(ERR_USAGE, "empty value for \"encrypt_to\" in \"%s\" line %d", fv->origin,
                       line);
    fv->encrypt_to = xrealloc(fv->encrypt_to, (size_t)(fv->n_encrypt_to + 1) * sizeof(char *));
    fv->encrypt_to[fv->n_encrypt_to++] = xstrdup(val);
    return 0;
}

static int file_value(void *ctx, const char *key, const char *val, int line)
{
    struct file_values *fv = ctx;
    if (strncmp(key, "remote.", 7) == 0)
        return remote_value(fv, key + 7, val, line);
    static const struct {
        const char *key;
        size_t off;
        bool path; /* a file or directory: an empty value is a mistake */
    } strs[] = {
        {"host", offsetof(struct file_values, host), false},
        {"port", offsetof(struct file_values, port), false},
        {"user", offsetof(struct file_values, user), false},
        {"dbname", offsetof(struct file_values, dbname), false},
        {"password", offsetof(struct file_values, password), false},
        {"backup_dir", offsetof(struct file_values, dir), true},
        {"catalog", offsetof(struct file_values, catalog), true},
        {"pg_bindir", offsetof(struct file_values, pg_bindir), true},
        {"metrics_file", offsetof(struct file_values, metrics_file), true},
        {"pre_backup_hook", offsetof(struct file_values, pre_hook), false},
        {"post_backup_hook", offsetof(struct file_values, post_hook), false},
        {"sendmail_path", offsetof(struct file_values, sendmail_path), true},
        {"notify_from", offsetof(struct file_values, notify_from), true},
        {"encrypt_to_file", offsetof(struct file_values, encrypt_to_file), true},
        {"identity_file", offsetof(struct file_values, identity_file), true},
    };
    static const struct {
        const char *key;
        size_t off;
        long min, max;
    } nums[] = {
        {"retention_days", offsetof(struct file_values, retention_days), 0, 36500},
        {"keep_count", offsetof(struct file_values, keep_count), 0, 1000000},
        /* the widest range; resolve_compression checks the file's compression's */
        {"compress_level", offsetof(struct file_values, level), 1, 19},
        {"jobs", offsetof(struct file_values, jobs), 1, 256},
        {"restore_jobs", offsetof(struct file_values, restore_jobs), 1, 256},
        {"min_keep", offsetof(struct file_values, min_keep), 0, 1000000},
        {"keep_daily", offsetof(struct file_values, keep_daily), 0, 100000},
        {"keep_weekly", offsetof(struct file_values, keep_weekly), 0, 100000},
        {"keep_monthly", offsetof(struct file_values, keep_monthly), 0, 100000},
        {"hook_timeout", offsetof(struct file_values, hook_timeout), 1, 86400},
        {"lock_wait_timeout", offsetof(struct file_values, lock_wait_timeout), 1, 86400},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strcmp(key, strs[i].key) != 0)
            continue;
        if (strs[i].path && !*val)
            return err_set(ERR_USAGE, "empty value for \"%s\" in \"%s\" line %d", key, fv->origin,
                           line);
        return set_str((char **)((char *)fv + strs[i].off), val);
    }
    if (strcmp(key, "notify_email") == 0)
        return add_addresses(fv, val, line);
    if (strcmp(key, "notify_on") == 0 && strcmp(val, "failure") != 0 && strcmp(val, "always") != 0)
        return err_set(ERR_USAGE,
                       "invalid value \"%.*s%s\" for \"notify_on\" in \"%s\" line %d (failure or "
                       "always)",
                       CLIPPED(val), fv->origin, line);
    if (strcmp(key, "notify_on") == 0)
        return set_str(&fv->notify_on, val);
    if (strcmp(key, "encrypt_to") == 0)
        return add_file_recipient(fv, val, line);
    if (strcmp(key, "compress_level") == 0)
        fv->level_line = line;
    if (strcmp(key, "access_point_interval") == 0)
        return set_size(fv, key, val, line, 64L << 10, 1L << 40, &fv->access_point_interval);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (strcmp(key, nums[i].key) == 0)
            return set_num(fv, key, val, line, nums[i].min, nums[i].max,
                           (long *)((char *)fv + nums[i].off));
    if (strcmp(key, "compression") == 0) {
        if (!(fv->compression = compression_find(val)))
            return err_set(ERR_USAGE,
                           "invalid value \"%.*s%s\" for \"compression\" in \"%s\" line %d (%s)",
                           CLIPPED(val), fv->origin, line, compression_names);
        return 0;
    }
    /* the older switch: no is compression = none, yes the default */
    if (strcmp(key, "compress") == 0) {
        if ((fv->compress = parse_bool(val)) < 0)
            return err_set(ERR_USAGE, "invalid value \"%.*s%s\" for \"compress\" in \"%s\" line %d",
                           CLIPPED(val), fv->origin, line);
        return 0;
    }
    return err_set(ERR_USAGE, "unknown setting \"%.*s%s\" in \"%s\" line %d", CLIPPED(key),
                   fv->origin, line);
}

/* Reads and parses the config file; a password in a file that others can read is refused. */
static int read_config_file(const char *path, bool must_exist, struct file_values *fv)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (!must_exist && (errno == ENOENT || errno == EACCES))
            return 0;
        return err_set(ERR_USAGE, "could not open config file \"%s\": %s", path, strerror(errno));
    }
    struct stat st;
    struct sbuf text = {0};
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        err_set(ERR_USAGE, "could not stat config file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        sbuf_add(&text, buf, (size_t)n);
        if (text.len > 1 << 20) {
            err_set(ERR_USAGE, "config file \"%s\" is larger than 1 MiB", path);
            goto out;
        }
    }
    if (n < 0) {
        err_set(ERR_USAGE, "could not read config file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    sbuf_add(&text, "", 0);
    if (memchr(text.data, '\0', text.len)) {
        err_set(ERR_USAGE, "config file \"%s\" contains a NUL byte", path);
        goto out;
    }
    fv->origin = path;
    if (config_parse_text(text.data, path, file_value, fv) != 0 || check_remotes(fv) != 0)
        goto out;
    if (fv->password && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO)) {
        err_set(ERR_USAGE, "config file \"%s\" holds a password and is accessible by others", path);
        err_hint("run chmod o-rwx \"%s\" (the package installs it root:postgres 0640)", path);
        goto out;
    }
    rc = 0;
out:
    sbuf_free(&text);
    close(fd);
    return rc;
}

static void remotes_free(struct remote_settings *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *strs[] = {r[i].name,          r[i].url,        r[i].endpoint,
                        r[i].region,        r[i].access_key, r[i].secret_key_file,
                        r[i].identity_file, r[i].known_hosts};
        for (size_t j = 0; j < sizeof(strs) / sizeof(strs[0]); j++)
            free(strs[j]);
    }
    free(r);
}

static void file_values_free(struct file_values *fv)
{
    remotes_free(fv->remotes, fv->nremotes);
    fv->remotes = NULL;
    fv->nremotes = 0;
    char **strs[] = {&fv->host,         &fv->port,          &fv->user,        &fv->dbname,
                     &fv->password,     &fv->dir,           &fv->catalog,     &fv->pg_bindir,
                     &fv->metrics_file, &fv->pre_hook,      &fv->post_hook,   &fv->notify_email,
                     &fv->notify_on,    &fv->sendmail_path, &fv->notify_from, &fv->encrypt_to_file,
                     &fv->identity_file};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (int i = 0; i < fv->n_encrypt_to; i++)
        free(fv->encrypt_to[i]);
    free(fv->encrypt_to);
    fv->encrypt_to = NULL;
    fv->n_encrypt_to = 0;
}

static void add_recipient(struct settings *s, const char *r, size_t len)
{
    s->encrypt_to = xrealloc(s->encrypt_to, (size_t)(s->n_encrypt_to + 1) * sizeof(char *));
    s->encrypt_to[s->n_encrypt_to++] = xstrndup(r, len);
}

/* The recipients of encrypt_to_file (a regular file of at most 1 MiB): one a line, blank
 * lines and "#" comments skipped. */
static int read_recipients_file(const char *path, struct settings *s)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return err_sys(errno, "could not open encrypt_to_file \"%s\"", path);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
        close(fd);
        return err_set(ERR_USAGE, "encrypt_to_file \"%s\" is not a regular file of at most 1 MiB",
                       path);
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return err_sys(errno, "could not open encrypt_to_file \"%s\"", path);
    }
    char line[1024];
    int before = s->n_encrypt_to;
    while (fgets(line, sizeof(line), f)) {
        const char *p = line + strspn(line, " \t");
        size_t len = strcspn(p, "\r\n");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && p[0] != '#')
            add_recipient(s, p, len);
    }
    int rc = ferror(f) ? err_sys(errno, "could not read encrypt_to_file \"%s\"", path) : 0;
    fclose(f);
    if (rc == 0 && s->n_encrypt_to == before)
        rc = err_set(ERR_USAGE, "encrypt_to_file \"%s\" names no recipient", path);
    return rc;
}

/* The recipients: --encrypt-to replaces the file's encrypt_to and encrypt_to_file, which
 * only the commands that use recipients read (backup, and check that compares them). The
 * identity file: --identity > identity_file. */
static int resolve_encryption(const struct options *opt, const struct file_values *fv,
                              struct settings *s)
{
    s->identity_file = opt->identity       ? xstrdup(opt->identity)
                       : fv->identity_file ? xstrdup(fv->identity_file)
                                           : NULL;
    if (opt->encrypt_to.n > 0) {
        for (int i = 0; i < opt->encrypt_to.n; i++)
            add_recipient(s, opt->encrypt_to.v[i], strlen(opt->encrypt_to.v[i]));
        return 0;
    }
    for (int i = 0; i < fv->n_encrypt_to; i++)
        add_recipient(s, fv->encrypt_to[i], strlen(fv->encrypt_to[i]));
    bool uses = opt->cmd == CMD_BACKUP || opt->cmd == CMD_CHECK;
    if (uses && fv->encrypt_to_file && read_recipients_file(fv->encrypt_to_file, s) != 0)
        return err_wrap(ERR_USAGE, "\"%s\"", fv->origin);
    return 0;
}

/* flag > origin's variable > (libpq's variable, or a connection service, PGSERVICE: leave
 * NULL for libpq) > file */
static char *pick(const char *flag, char *const *env, const char *origin_var, const char *pg_var,
                  const char *file)
{
    if (flag)
        return xstrdup(flag);
    const char *v = origin_var ? env_get(env, origin_var) : NULL;
    if (v && *v)
        return xstrdup(v);
    if (pg_var && env_get(env, pg_var))
        return NULL;
    /* a service (pg_service.conf) names the whole connection */
    const char *service = pg_var ? env_get(env, "PGSERVICE") : NULL;
    if (service && *service)
        return NULL;
    return file ? xstrdup(file) : NULL;
}

static long pick_num(long flag, long file, long dflt)
{
    return flag >= 0 ? flag : file >= 0 ? file : dflt;
}

/*
 * The compression: -n or --compress > the file's (compression, else the older compress =
 * yes|no) > gzip; a -Z level alone asks for compression (gzip when the file says none).
 * The level: -Z > the file's compress_level, which is for the file's compression only >
 * the compression's default; in the compression's own range.
 */
static int resolve_compression(const struct options *opt, const struct file_values *fv,
                               struct settings *s)
{
    const struct compression *gzip = compression_find("gzip");
    const struct compression *in_file = fv->compression     ? fv->compression
                                        : fv->compress == 0 ? compression_find("none")
                                                            : gzip;
    const struct compression *c = opt->no_compress   ? compression_find("none")
                                  : opt->compression ? compression_find(opt->compression)
                                                     : in_file;
    if (c->max_level == 0 && opt->level != -1)
        c = gzip;
    s->compression = c->name;
    s->level = c->default_level;
    if (c->max_level == 0)
        return 0;
    if (opt->level != -1) {
        if (opt->level < c->min_level || opt->level > c->max_level) {
            err_set(ERR_USAGE, "-Z/--compress-level must be in range %d..%d for %s", c->min_level,
                    c->max_level, c->name);
            err_hint("Try \"pgvault backup --help\" for more information.");
            return -1;
        }
        s->level = opt->level;
    } else if (fv->level >= 0 && c == in_file) {
        if (fv->level < c->min_level || fv->level > c->max_level)
            return err_set(ERR_USAGE,
                           "invalid value \"%ld\" for \"compress_level\" in \"%s\" line %d "
                           "(%d..%d for %s)",
                           fv->level, fv->origin, fv->level_line, c->min_level, c->max_level,
                           c->name);
        s->level = fv->level;
    }
    return 0;
}

int config_resolve(const struct options *opt, char *const *env, struct settings *s)
{
    memset(s, 0, sizeof(*s));
    struct file_values fv = {.retention_days = -1,
                             .keep_count = -1,
                             .level = -1,
                             .jobs = -1,
                             .restore_jobs = -1,
                             .min_keep = -1,
                             .keep_daily = -1,
                             .keep_weekly = -1,
                             .keep_monthly = -1,
                             .hook_timeout = -1,
                             .lock_wait_timeout = -1,
                             .compress = -1};

    /* 1. the config file: --config, else PGVAULT_CONFIG, else the system one if present */
    const char *path = opt->config_file;
    bool must_exist = true;
    if (!path)
        path = env_get(env, "PGVAULT_CONFIG");
    if (!path || !*path) {
        path = DEFAULT_CONFIG_FILE;
        must_exist = false;
    }
    if (read_config_file(path, must_exist, &fv) != 0)
        goto fail;
    if (fv.origin)
        s->config_file = xstrdup(path);

    /* 2. connection: flags > DB_* > PG* (libpq) > file */
    s->conn.host = pick(opt->host, env, "DB_HOST", "PGHOST", fv.host);
    s->conn.port = pick(opt->port, env, "DB_PORT", "PGPORT", fv.port);
    s->conn.user = pick(opt->user, env, "DB_USER", "PGUSER", fv.user);
    s->conn.dbname = pick(opt->db, env, "DB_NAME", "PGDATABASE", fv.dbname);
    /* The password never travels through PGPASSWORD to children: take it over here. */
    const char *pw = env_get(env, "DB_PASSWORD");
    if (!pw || !*pw)
        pw = env_get(env, "PGPASSWORD");
    if (!pw || !*pw) {
        pw = fv.password;
        s->conn.password_below_passfile = true;
    }
    s->conn.password = pw && *pw ? xstrdup(pw) : NULL;

    /* a name PostgreSQL would truncate (NAMEDATALEN 64) means another database */
    if (s->conn.dbname && strlen(s->conn.dbname) > 63) {
        const char *db_env = env_get(env, "DB_NAME");
        const char *from = opt->db ? "--db" : db_env && *db_env ? "DB_NAME" : path;
        err_set(ERR_USAGE, "database name \"%.63s…\" (from %s) is longer than 63 bytes",
                s->conn.dbname, from);
        err_hint("PostgreSQL would truncate it and reach another database");
        goto fail;
    }

    /* 3. repository and catalog */
    s->dir = pick(opt->dir, env, "BACKUP_DIR", NULL, fv.dir);
    if (!s->dir)
        s->dir = xstrdup(DEFAULT_DIR);
    if (opt->catalog)
        s->catalog = xstrdup(opt->catalog);
    else if (fv.catalog)
        s->catalog = xstrdup(fv.catalog);
    else
        s->catalog = xasprintf("%s/catalog.db", s->dir);

    /* 4. policy and tuning */
    s->retention_days = pick_num(opt->retention_days, fv.retention_days, DEFAULT_RETENTION_DAYS);
    s->keep_count = pick_num(opt->keep_count, fv.keep_count, DEFAULT_KEEP_COUNT);
    if (resolve_compression(opt, &fv, s) != 0 || resolve_encryption(opt, &fv, s) != 0)
        goto fail;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const struct compression *comp = compression_find(s->compression);
    bool all_cores = comp && s->level >= comp->all_cores_from_level;
    long cores = ncpu > 256 ? 256 : ncpu > 0 ? ncpu : 1;
    s->jobs = pick_num(opt->jobs, fv.jobs, all_cores ? cores : 1);
    s->restore_jobs = pick_num(opt->jobs, fv.restore_jobs, cores);
    s->min_keep = pick_num(opt->min_keep, fv.min_keep, DEFAULT_MIN_KEEP);
    s->keep_daily = pick_num(opt->keep_daily, fv.keep_daily, 0);
    s->keep_weekly = pick_num(opt->keep_weekly, fv.keep_weekly, 0);
    s->keep_monthly = pick_num(opt->keep_monthly, fv.keep_monthly, 0);
    s->hook_timeout = pick_num(-1, fv.hook_timeout, 300);
    s->lock_wait_timeout =
        pick_num(opt->lock_wait_timeout, fv.lock_wait_timeout, DEFAULT_LOCK_WAIT_TIMEOUT);
    s->access_point_interval =
        fv.access_point_interval ? fv.access_point_interval : DEFAULT_ACCESS_POINT_INTERVAL;
    const char *bindir = env_get(env, "PGVAULT_PG_BINDIR");
    s->pg_bindir = bindir && *bindir ? xstrdup(bindir)
                   : fv.pg_bindir    ? xstrdup(fv.pg_bindir)
                                     : NULL;
    s->metrics_file = opt->metrics_file ? xstrdup(opt->metrics_file)
                      : fv.metrics_file ? xstrdup(fv.metrics_file)
                                        : NULL;
    s->pre_backup_hook = fv.pre_hook ? xstrdup(fv.pre_hook) : NULL;
    s->post_backup_hook = fv.post_hook ? xstrdup(fv.post_hook) : NULL;
    s->remotes = fv.remotes;
    s->nremotes = fv.nremotes;
    fv.remotes = NULL;
    fv.nremotes = 0;
    s->notify_email = fv.notify_email ? xstrdup(fv.notify_email) : NULL;
    s->notify_always = fv.notify_on && strcmp(fv.notify_on, "always") == 0;
    s->sendmail_path = xstrdup(fv.sendmail_path ? fv.sendmail_path : DEFAULT_SENDMAIL_PATH);
    s->notify_from = fv.notify_from ? xstrdup(fv.notify_from) : NULL;
    file_values_free(&fv);
    return 0;

fail:
    file_values_free(&fv);
    settings_free(s);
    return -1;
}

void settings_free(struct settings *s)
{
    remotes_free(s->remotes, s->nremotes);
    s->remotes = NULL;
    s->nremotes = 0;
    char **strs[] = {&s->conn.host,     &s->conn.port,       &s->conn.user,        &s->conn.dbname,
                     &s->dir,           &s->catalog,         &s->config_file,      &s->pg_bindir,
                     &s->metrics_file,  &s->pre_backup_hook, &s->post_backup_hook, &s->notify_email,
                     &s->sendmail_path, &s->notify_from,     &s->identity_file};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (int i = 0; i < s->n_encrypt_to; i++)
        free(s->encrypt_to[i]);
    free(s->encrypt_to);
    s->encrypt_to = NULL;
    s->n_encrypt_to = 0;
    if (s->conn.password) {
        explicit_bzero(s->conn.password, strlen(s->conn.password));
        free(s->conn.password);
        s->conn.password = NULL;
    }
}

/* Appends key='value' with \ and ' escaped, as libpq's conninfo syntax wants. */
static void add_kv(struct sbuf *b, const char *key, const char *val)
{
    if (!val)
        return;
    if (b->len)
        sbuf_puts(b, " ");
    sbuf_printf(b, "%s='", key);
    for (const char *p = val; *p; p++) {
        if (*p == '\\' || *p == '\'')
            sbuf_add(b, "\\", 1);
        sbuf_add(b, p, 1);
    }
    sbuf_puts(b, "'");
}

char *conn_options(void)
{
    const char *user = getenv("PGOPTIONS");
    return xasprintf("%s%s-c statement_timeout=0 -c lock_timeout=0"
                     " -c idle_in_transaction_session_timeout=0",
                     user ? user : "", user && *user ? " " : "");
}

char *conn_string(const struct conn_params *cp, const char *dbname)
{
    struct sbuf b = {0};
    char *options = conn_options();
    add_kv(&b, "host", cp->host);
    add_kv(&b, "port", cp->port);
    add_kv(&b, "user", cp->user);
    add_kv(&b, "dbname", dbname ? dbname : cp->dbname);
    add_kv(&b, "options", options);
    free(options);
    return b.data;
}
