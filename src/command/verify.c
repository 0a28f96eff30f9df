/*
 * pgvault verify: size and XXH3-128 of each backup file against the catalog, like
 * pg_verifybackup: size first, then checksum, every backup reported, exit 3 at the end if
 * any is damaged (exit 1 if one could only not be read, e.g. for its permissions). The
 * checksum is the stored file's, so an encrypted backup is verified without its key.
 * --deep also decrypts (with --identity: every age chunk authenticated) and decompresses the
 * file (gzip's CRC, zstd's content checksum), checks pg_dump's trailer and the raw checksum,
 * and recounts each table's rows from the dump text (exit 2 when no key opens one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "postgres/dumpscan.h"
#include "common/err.h"
#include "config/cli.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/output.h"
#include "common/progress.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/hash.h"
#include "command/resolve.h"
#include "common/util.h"

/* Compares the COPY row counts of the dump with the catalog's (relkind 'r' tables). */
static int compare_counts(struct catalog *cat, const struct backup_rec *b,
                          const struct dumpscan *scan)
{
    struct table_rec *t = NULL;
    size_t n = 0;
    if (catalog_backup_tables(cat, b->id, &t, &n) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (t[i].relkind != 'r')
            continue;
        uint64_t rows = 0;
        bool seen = false;
        for (size_t k = 0; k < dumpscan_copy_count(scan); k++) {
            const struct dumpscan_table *c = dumpscan_copy(scan, k);
            if (strcmp(c->schema ? c->schema : "", t[i].schema_name) == 0 &&
                strcmp(c->name, t[i].table_name) == 0) {
                rows += c->rows;
                seen = true;
            }
        }
        if (!seen)
            rc = err_set(ERR_INTEGRITY, "table %s.%s is not in the dump", t[i].schema_name,
                         t[i].table_name);
        else if ((int64_t)rows != t[i].row_count)
            rc = err_set(ERR_INTEGRITY,
                         "table %s.%s has %" PRIu64 " rows in the dump, the catalog says %" PRId64,
                         t[i].schema_name, t[i].table_name, rows, t[i].row_count);
    }
    table_recs_free(t, n);
    return rc;
}

/* What one pass over a backup file measures. */
struct read_digest {
    char checksum[HASH_HEX_LEN]; /* of the file */
    uint64_t raw_bytes;          /* of the dump inside (--deep) */
    char raw_checksum[HASH_HEX_LEN];
};

/* The file → its checksum → (--deep: decryption → decompression → the dump's size and
 * checksum → the dump scanner) → the progress line. b NULL: the file's bytes only. */
static int read_file(const char *path, const struct backup_rec *b, struct crypt_keys *keys,
                     struct dumpscan *scan, struct progress *progress,
                     volatile sig_atomic_t *cancel, struct read_digest *r)
{
    struct chain *c = chain_new();
    chain_add(c, filter_hash_new(r->checksum));
    if (b) {
        decrypt_add(c, b->encryption, keys, path);
        decompress_add(c, b->compression, path);
        chain_add(c, filter_size_new(&r->raw_bytes));
        chain_add(c, filter_hash_new(r->raw_checksum));
        chain_add(c, filter_dumpscan_new(scan));
    }
    chain_add(c, filter_progress_new(progress));
    int rc = chain_pump_file(c, path, cancel);
    chain_free(c);
    return rc;
}

/* Verifies one backup; returns 0, or -1 with the reason set. */
static int verify_one(struct catalog *cat, const struct options *opt, const struct settings *set,
                      const struct backup_rec *b, struct crypt_keys *keys,
                      volatile sig_atomic_t *cancel)
{
    bool deep = opt->deep;
    char *path = path_join(set->dir, b->file_name);
    struct dumpscan *scan = NULL;
    int rc = -1;

    /* 1. the file is there, a regular file, of the recorded size */
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            err_set(ERR_INTEGRITY, "file is missing");
        else
            err_sys(errno, "could not stat \"%s\"", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(ERR_INTEGRITY, "not a regular file");
        goto out;
    }
    if ((int64_t)st.st_size != b->size_bytes) {
        err_set(ERR_INTEGRITY, "size is %lld bytes, the catalog says %" PRId64,
                (long long)st.st_size, b->size_bytes);
        goto out;
    }

    /* 2. deep: a key that opens an encrypted file */
    if (deep && crypt_unlock(b->encryption, path, keys, "the file", b->recipients, NULL) != 0)
        goto out;

    /* 3. the checksum of the bytes on disk (--deep: inflated, into the dump scanner), with
     *    a progress line over the file's bytes (--deep: the dump's) */
    struct read_digest r;
    char *label = xasprintf("verify %" PRId64 " (%s)", b->id, b->file_name);
    struct progress *progress = progress_start(
        cli_progress_wanted(opt), label, (uint64_t)(deep ? b->raw_bytes : b->size_bytes), false, 0);
    free(label);
    if (deep)
        scan = dumpscan_new();
    int rrc = read_file(path, deep ? b : NULL, keys, scan, progress, cancel, &r);
    progress_free(progress);
    if (rrc != 0)
        goto out;
    if (strcmp(r.checksum, b->checksum ? b->checksum : "") != 0) {
        err_set(ERR_INTEGRITY, "checksum mismatch: file has %s, the catalog says %s", r.checksum,
                b->checksum ? b->checksum : "none");
        goto out;
    }

    /* 4. deep: the dump inside is whole and holds the rows the catalog recorded */
    if (deep) {
        if (b->raw_checksum && strcmp(r.raw_checksum, b->raw_checksum) != 0) {
            err_set(ERR_INTEGRITY, "raw checksum mismatch: %s, the catalog says %s", r.raw_checksum,
                    b->raw_checksum);
            goto out;
        }
        if ((int64_t)r.raw_bytes != b->raw_bytes) {
            err_set(ERR_INTEGRITY, "raw size is %" PRIu64 " bytes, the catalog says %" PRId64,
                    r.raw_bytes, b->raw_bytes);
            goto out;
        }
        if (dumpscan_finish(scan) != 0 || !dumpscan_trailer_ok(scan)) {
            err_set(ERR_INTEGRITY, "the dump is incomplete: no \"dump complete\" trailer");
            goto out;
        }
        if (compare_counts(cat, b, scan) != 0)
            goto out;
    }
    rc = 0;
out:
    dumpscan_free(scan);
    free(path);
    return rc;
}

/* The backups to verify: the named ones, or every complete one (of --db) with --all. */
static int select_backups(struct catalog *cat, const struct options *opt,
                          const struct settings *set, struct backup_rec **out, size_t *n)
{
    if (opt->all)
        return catalog_backups(cat, opt->db, false, out, n);
    *out = xcalloc((size_t)opt->nargs, sizeof(**out));
    *n = 0;
    const char *db = opt->db ? opt->db : set->conn.dbname;
    for (int i = 0; i < opt->nargs; i++) {
        if (backup_resolve(cat, set, db, opt->args[i], &(*out)[i]) != 0) {
            backup_recs_free(*out, *n);
            *out = NULL;
            return -1;
        }
        *n = (size_t)i + 1;
    }
    return 0;
}

/* Opens the catalog to record the results; on read-only storage (a mounted copy of a
 * repository) it opens it read-only, and *record is false. */
static int open_catalog(const struct settings *set, struct catalog **cat, bool *record)
{
    *record = true;
    if (catalog_open(set->catalog, 0, cat) == 0) {
        /* a verification lost to a power cut is only done again */
        if (catalog_relax_durability(*cat) != 0)
            log_warn("%s", err_msg());
        err_clear();
        return 0;
    }
    struct err_saved why;
    err_save(&why);
    if (catalog_open(set->catalog, CATALOG_READONLY, cat) != 0)
        return err_restore(&why);
    log_warn("the catalog is read-only here: results will not be recorded (%s)", why.msg);
    *record = false;
    return 0;
}

/* Verifies one backup, which must be complete. Returns NULL, or why it failed with the
 * error's class in *cls; the error is cleared either way. */
static char *verify_backup(struct catalog *cat, const struct options *opt,
                           const struct settings *set, const struct backup_rec *b,
                           struct crypt_keys *keys, volatile sig_atomic_t *cancel,
                           enum err_class *cls)
{
    int rc = strcmp(b->status, "complete") == 0
                 ? verify_one(cat, opt, set, b, keys, cancel)
                 : err_set(ERR_USAGE, "backup is %s, not complete", b->status);
    char *reason = rc == 0 ? NULL : xstrdup(err_msg());
    *cls = rc == 0 ? ERR_NONE : err_class();
    err_clear();
    return reason;
}

/* The verification of b in the audit trail, and its time on the backup if it passed. */
static void record_result(struct catalog *cat, const struct options *opt,
                          const struct backup_rec *b, const char *reason)
{
    char at[25];
    time_now_iso(at);
    char *detail = xasprintf("%s%s%s%s", opt->deep ? "deep: " : "", b->file_name,
                             reason ? ": " : "", reason ? reason : "");
    catalog_verify_result(cat, b->id, reason ? NULL : at, reason ? "failed" : "ok", detail);
    free(detail);
    err_clear();
}

/* One backup's result: a line, or (the i-th) object of the JSON array. */
static void print_result(const struct options *opt, const struct backup_rec *b, size_t i,
                         const char *reason, double secs)
{
    if (opt->json) {
        printf("%s{\"id\":%" PRId64 ",\"file_name\":", i ? "," : "", b->id);
        json_str(stdout, b->file_name);
        printf(",\"deep\":%s,\"ok\":%s,\"size_bytes\":%" PRId64 ",\"duration_ms\":%.0f,"
               "\"error\":",
               opt->deep ? "true" : "false", reason ? "false" : "true", b->size_bytes, secs * 1000);
        json_str_or_null(stdout, reason);
        putchar('}');
    } else if (!reason) {
        char sz[16];
        if (!log_quiet())
            printf("ok      %6" PRId64 "  %s  (%s, %.1f s)\n", b->id, b->file_name,
                   fmt_size((uint64_t)b->size_bytes, sz), secs);
    } else {
        printf("FAILED  %6" PRId64 "  %s: %s\n", b->id, b->file_name, reason);
    }
}

int cmd_verify(const struct options *opt, const struct settings *set)
{
    volatile sig_atomic_t *cancel = &pgvault_interrupted;
    struct catalog *cat = NULL;
    struct backup_rec *b = NULL;
    size_t n = 0, failed = 0, damaged = 0, keyless = 0;
    bool record = false;
    int code = -1;
    if (opt->remote)
        return copies_verify(opt, set);

    struct crypt_keys *keys = crypt_keys_new(set->identity_file);

    /* 1. open the catalog (verify takes no repository lock: it only reads files) */
    if (fsutil_require_repo(set->dir) != 0 || open_catalog(set, &cat, &record) != 0)
        goto out;

    /* 2. the backups named, or every complete one with --all */
    if (select_backups(cat, opt, set, &b, &n) != 0)
        goto out;
    if (n == 0) {
        log_info("no complete backups to verify");
        code = 0;
        goto out;
    }

    /* 3. every backup, reporting each; keep going after a failure, but not a signal */
    if (opt->json)
        putchar('[');
    for (size_t i = 0; i < n; i++) {
        double t0 = time_mono();
        enum err_class cls;
        char *reason = verify_backup(cat, opt, set, &b[i], keys, cancel, &cls);
        if (*cancel) {
            free(reason);
            goto out;
        }
        double secs = time_mono() - t0;
        failed += reason != NULL;
        /* a file that cannot be read (permissions, I/O) is a failure, not damage */
        damaged += cls == ERR_INTEGRITY;
        keyless += cls == ERR_USAGE;
        if (record)
            record_result(cat, opt, &b[i], reason);
        print_result(opt, &b[i], i, reason, secs);
        free(reason);
    }
    if (opt->json)
        puts("]");

    /* 4. exit 3 if a backup is damaged, 1 if one could not be checked at all */
    if (damaged) {
        err_set(ERR_INTEGRITY, "%zu of %zu backups failed verification", failed, n);
        goto out;
    }
    if (failed) {
        err_set(keyless ? ERR_USAGE : ERR_FAILED, "%zu of %zu backups could not be verified",
                failed, n);
        goto out;
    }
    code = 0;
out:
    if (*cancel) {
        err_clear();
        err_set(ERR_FAILED, "verification interrupted by a signal");
    }
    backup_recs_free(b, n);
    catalog_close(cat);
    crypt_keys_free(keys);
    return code;
}
