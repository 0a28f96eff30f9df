/*
 * pgvault import: adopt plain-format dumps (.sql, gzip .sql.gz or zstd .sql.zst, each maybe
 * age-encrypted, .age) named <db>_<YYYYMMDD>_<HHMMSS>.sql[.gz|.zst][.age] — made by the
 * origin's scripts, by "pg_dump | zstd", "pg_dump | gzip | age -r …", or left behind by a
 * lost catalog (--scan). Everything recorded is computed from the file itself: checksum and
 * size, raw checksum and size, the CREATE TABLE statements and the rows of every COPY block.
 * Only a whole dump is adopted: a valid gzip or zstd stream, pg_dump's header and its "dump
 * complete" trailer, no statement or COPY block cut short. A file from elsewhere is first
 * copied into the repository under its own name (.partial, fsync, rename).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/audit.h"
#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/copies.h"
#include "postgres/dumpscan.h"
#include "common/err.h"
#include "storage/fsutil.h"
#include "common/log.h"
#include "common/naming.h"
#include "common/output.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/hash.h"
#include "command/recover.h"
#include "command/tables.h"
#include "storage/repo.h"
#include "storage/repofile.h"
#include "common/util.h"

#define HEAD_MAX (64u << 10) /* the dump's header lines are within its first 64 KiB */
#define OWNER_LINE_MAX 1024

/* What happened to one file. */
enum import_outcome { IMPORTED, SKIPPED, REFUSED };
struct import_item {
    enum import_outcome outcome;
    char *source;
    char *reason; /* SKIPPED, REFUSED */
    struct backup_rec b;
};

struct import_run {
    const struct options *opt;
    const struct settings *set;
    struct catalog *cat;
    volatile sig_atomic_t *cancel; /* non-zero once a signal asks the run to stop */
    struct crypt_keys *keys;       /* --identity, for encrypted files */
    struct import_item *items;
    size_t n, cap;
};

/* The reader's sink: the head for the header lines, the scanner for tables and rows, and
 * pg_dump's "-- Name: …; Owner: X" comments to learn whether ownership was dumped. */
struct import_scan {
    struct dumpscan *scan;
    char *head;
    size_t head_len;
    bool compressed; /* the name says gzip or zstd */
    bool owners;
    bool at_bol;               /* at the start of a line */
    char line[OWNER_LINE_MAX]; /* a "-- Name: " line being collected */
    size_t line_len;
    bool in_name_line;
};

/* True if a "-- Name: …; Type: …; Schema: …; Owner: X" line names an owner (not "-"). */
static bool owner_named(const char *line, size_t len)
{
    static const char key[] = "; Owner: ";
    size_t k = sizeof(key) - 1;
    for (size_t i = 0; i + k < len; i++)
        if (memcmp(line + i, key, k) == 0)
            return !(line[i + k] == '-' && (i + k + 1 == len || line[i + k + 1] == '\r'));
    return false;
}

/* Follows lines across chunks, collecting the ones that start "-- Name: ". */
static void watch_owner_lines(struct import_scan *s, const unsigned char *buf, size_t len)
{
    static const char prefix[] = "-- Name: ";
    const size_t plen = sizeof(prefix) - 1;
    for (size_t i = 0; i < len && !s->owners; i++) {
        char c = (char)buf[i];
        if (c == '\n') {
            if (s->in_name_line && owner_named(s->line, s->line_len))
                s->owners = true;
            s->at_bol = true;
            s->in_name_line = false;
            s->line_len = 0;
            continue;
        }
        if (s->at_bol) {
            s->at_bol = false;
            s->in_name_line = true;
            s->line_len = 0;
        }
        if (!s->in_name_line)
            continue;
        if (s->line_len < plen && c != prefix[s->line_len]) {
            s->in_name_line = false;
            continue;
        }
        if (s->line_len < sizeof(s->line))
            s->line[s->line_len++] = c;
    }
}

static int scan_sink(void *ctx, const unsigned char *buf, size_t len)
{
    struct import_scan *s = ctx;
    size_t before = s->head_len;
    if (s->head_len < HEAD_MAX) {
        size_t take = len < HEAD_MAX - s->head_len ? len : HEAD_MAX - s->head_len;
        memcpy(s->head + s->head_len, buf, take);
        s->head_len += take;
    }
    /* stop early on what is plainly no plain-format dump */
    if (before < 5 && s->head_len >= 5) {
        if (memcmp(s->head, "PGDMP", 5) == 0)
            return err_set(ERR_FAILED, "it is a pg_dump custom-format archive; only plain-format "
                                       "dumps (.sql, .sql.gz, .sql.zst) can be adopted");
        if (!s->compressed && memcmp(s->head, "\x1f\x8b", 2) == 0)
            return err_set(ERR_FAILED, "it is gzip-compressed but named .sql (rename it .sql.gz)");
        if (!s->compressed && memcmp(s->head, "\x28\xb5\x2f\xfd", 4) == 0)
            return err_set(ERR_FAILED, "it is zstd-compressed but named .sql (rename it .sql.zst)");
    }
    dumpscan_feed(s->scan, (const char *)buf, len);
    watch_owner_lines(s, buf, len);
    return 0;
}

/* True if the dump creates schema.name as a partitioned table (CREATE TABLE … PARTITION BY). */
static bool created_partitioned(const struct dumpscan *scan, const char *schema, const char *name)
{
    for (size_t i = 0; i < dumpscan_create_count(scan); i++) {
        const struct dumpscan_table *c = dumpscan_create(scan, i);
        if (c->partitioned && strcmp(c->name, name) == 0 &&
            strcmp(c->schema ? c->schema : "", schema) == 0)
            return true;
    }
    return false;
}

/*
 * One table_rec per table with COPY data, merged and sorted: what the dump loads. Usually
 * the partitions (relkind 'r', counted without their children); a dump made with
 * --load-via-partition-root loads them through the partitioned parent instead, which is
 * then recorded as relkind 'p' with those rows (counted with its partitions).
 */
static struct table_rec *copy_tables(const struct dumpscan *scan, size_t *n, int64_t *rows)
{
    struct table_rec *t = tables_from_copies(scan, 0, n, rows);
    for (size_t i = 0; i < *n; i++)
        if (created_partitioned(scan, t[i].schema_name, t[i].table_name))
            t[i].relkind = 'p';
    *n = tables_merge(t, *n);
    return t;
}

/* True if path's directory is the repository itself. */
static bool in_repository(const char *dir, const char *path)
{
    char *parent = path_dir(path);
    char a[PATH_MAX], b[PATH_MAX];
    bool same = realpath(parent, a) && realpath(dir, b) && strcmp(a, b) == 0;
    free(parent);
    return same;
}

/* Copies src (a regular file, possibly reached through a symbolic link) into the
 * repository file out, through a chain from src to out's fd. */
static int copy_in(const char *src, const struct repofile *out, volatile sig_atomic_t *cancel)
{
    struct stat st;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_sys(errno, "could not open file \"%s\"", src);
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return err_set(ERR_FAILED, "it is not a regular file");
    }
    (void)posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
    char *what = xasprintf("file \"%s\"", src);
    struct chain *c = chain_new();
    chain_add(c, filter_fd_new(repofile_fd(out), repofile_path(out)));
    int rc = chain_pump_fd(c, in, what, cancel);
    chain_free(c);
    free(what);
    close(in);
    return rc;
}

/* The cluster's globals (a file named "%40globals_…"): a whole pg_dumpall --globals-only
 * dump, with its own header and trailer and no table data. */
static int check_globals_dump(const struct dump_header *h, struct dumpscan *scan)
{
    if (!h->is_cluster_dump)
        return err_set(ERR_FAILED,
                       "a file named for the cluster's globals (@globals) must be a pg_dumpall "
                       "--globals-only dump (no \"-- PostgreSQL database cluster dump\" header)");
    if (dumpscan_finish(scan) != 0)
        return err_set(ERR_FAILED,
                       "the dump is truncated: it ends inside a statement or a COPY block");
    if (!dumpscan_cluster_trailer_ok(scan))
        return err_set(ERR_FAILED, "the dump is incomplete: no \"-- PostgreSQL database cluster "
                                   "dump complete\" trailer");
    if (dumpscan_database_trailers(scan) > 0 || dumpscan_create_count(scan) > 0 ||
        dumpscan_copy_count(scan) > 0)
        return err_set(ERR_FAILED, "it holds databases, not only the cluster's roles and "
                                   "tablespaces (pg_dumpall without --globals-only)");
    return 0;
}

/* A whole pg_dump plain-format dump (for globals, a whole pg_dumpall --globals-only
 * dump), nothing less; else -1 with the reason. */
static int check_whole_dump(const struct dump_header *h, struct dumpscan *scan, bool globals)
{
    if (globals)
        return check_globals_dump(h, scan);
    if (h->is_cluster_dump)
        return err_set(ERR_FAILED, "it is a pg_dumpall dump: only the cluster's globals are "
                                   "adopted, as \"%%40globals_<YYYYMMDD>_<HHMMSS>.sql[.gz|.zst]\"");
    if (!h->is_dump)
        return err_set(ERR_FAILED, "it is not a pg_dump plain-format dump (no \"-- PostgreSQL "
                                   "database dump\" header)");
    if (dumpscan_finish(scan) != 0)
        return err_set(ERR_FAILED,
                       "the dump is truncated: it ends inside a statement or a COPY block");
    if (!dumpscan_trailer_ok(scan))
        return err_set(ERR_FAILED, "the dump is incomplete: no \"-- PostgreSQL database dump "
                                   "complete\" trailer");
    return 0;
}

/*
 * Reads the dump at path once and fills b with what it proves; returns 0, or -1 with the
 * reason set when it is not a whole plain-format dump (for globals, a whole pg_dumpall
 * --globals-only dump).
 */
static int examine(const struct import_run *ir, const char *path, const char *compression,
                   const char *encryption, bool globals, struct backup_rec *b,
                   struct table_rec **tables, size_t *ntables)
{
    struct import_scan s = {.scan = dumpscan_new(),
                            .head = xmalloc(HEAD_MAX),
                            .compressed = strcmp(compression, "none") != 0,
                            .at_bol = true};
    struct dump_header h = {0};
    uint64_t file_bytes, raw_bytes;
    char checksum[HASH_HEX_LEN], raw_checksum[HASH_HEX_LEN];
    int rc = -1;

    /* 1. one pass: file checksum, decryption (every chunk authenticated), decompression
     * (gzip's CRC and length, zstd's checksum checked), raw checksum, scan */
    struct chain *c = chain_new();
    chain_add(c, filter_size_new(&file_bytes));
    chain_add(c, filter_hash_new(checksum));
    decrypt_add(c, encryption, ir->keys, path);
    decompress_add(c, compression, path);
    chain_add(c, filter_size_new(&raw_bytes));
    chain_add(c, filter_hash_new(raw_checksum));
    chain_add(c, filter_callback_new(scan_sink, &s));
    int crc = chain_pump_file(c, path, ir->cancel);
    chain_free(c);
    if (crc != 0)
        goto out;

    /* 2. a whole pg_dump plain-format dump (or the globals' pg_dumpall), nothing less */
    audit_dump_header(s.head, s.head_len, &h);
    if (raw_bytes == 0) {
        err_set(ERR_FAILED, "it is empty");
        goto out;
    }
    if (check_whole_dump(&h, s.scan, globals) != 0)
        goto out;

    /* 3. what the catalog records */
    b->size_bytes = (int64_t)file_bytes;
    b->raw_bytes = (int64_t)raw_bytes;
    b->checksum = xstrdup(checksum);
    b->raw_checksum = xstrdup(raw_checksum);
    b->server_version = h.server_version;
    b->pg_dump_version = h.pg_dump_version;
    b->encoding = h.encoding;
    h.server_version = h.pg_dump_version = h.encoding = NULL;
    b->with_owners = s.owners;
    *tables = copy_tables(s.scan, ntables, &b->row_count);
    b->table_count = (int64_t)dumpscan_create_count(s.scan);
    rc = 0;
out:
    audit_dump_header_free(&h);
    dumpscan_free(s.scan);
    free(s.head);
    return rc;
}

static struct import_item *add_item(struct import_run *ir, enum import_outcome o,
                                    const char *source)
{
    if (ir->n == ir->cap) {
        ir->cap = ir->cap ? ir->cap * 2 : 16;
        ir->items = xrealloc(ir->items, ir->cap * sizeof(*ir->items));
    }
    struct import_item *it = &ir->items[ir->n++];
    *it = (struct import_item){.outcome = o, .source = xstrdup(source)};
    return it;
}

/* Records a refusal: the error's text becomes the reason; the audit trail gets it too. */
static void refuse(struct import_run *ir, const char *source)
{
    struct import_item *it = add_item(ir, REFUSED, source);
    it->reason = xstrdup(err_is_set() ? err_msg() : "unknown error");
    err_clear();
    log_error("could not import \"%s\": %s", source, it->reason);
    char *detail = xasprintf("%s: %s", source, it->reason);
    catalog_event(ir->cat, "import", 0, "failed", detail);
    err_clear();
    free(detail);
}

/* A file whose name the catalog knows: the same bytes are already imported; other bytes
 * under that name are refused. Returns 0 (handled) or -1 (catalog error). */
static int known_file(struct import_run *ir, const char *source, const char *name, bool in_repo)
{
    struct backup_rec known = {0};
    char sum[HASH_HEX_LEN];
    uint64_t size;
    if (catalog_backup_by_file(ir->cat, name, &known) != 0)
        return -1;
    if (!in_repo && hash_file(source, sum, &size, ir->cancel) != 0) {
        refuse(ir, source);
    } else if (!in_repo && (!known.checksum || strcmp(sum, known.checksum) != 0)) {
        err_set(ERR_FAILED,
                "the catalog already has a different backup named \"%s\" (backup %" PRId64 ")",
                name, known.id);
        refuse(ir, source);
    } else {
        struct import_item *it = add_item(ir, SKIPPED, source);
        it->reason =
            xasprintf("already in the catalog as backup %" PRId64 " (%s)", known.id, known.status);
        log_info("skipped \"%s\": %s", source, it->reason);
    }
    backup_rec_free(&known);
    return 0;
}

/* Rewrites the pending error so that it names `to` where it named `from`. */
static void rename_in_error(const char *from, const char *to)
{
    struct err_saved e;
    err_save(&e);
    const char *at = strstr(e.msg, from);
    if (at) {
        char *fixed = xasprintf("%.*s%s%s", (int)(at - e.msg), e.msg, to, at + strlen(from));
        snprintf(e.msg, sizeof(e.msg), "%s", fixed);
        free(fixed);
    }
    err_restore(&e);
}

/* One file being adopted: what the steps of import_one hand each other. */
struct import_file {
    const char *source;
    const char *name; /* its base name: the name in the repository */
    char *db;
    time_t when;
    const char *compression;             /* by its name: "gzip", "zstd" or "none" */
    const char *encryption;              /* by its name: "none" or "age" */
    char recipient[CRYPT_RECIPIENT_MAX]; /* whose key opened it */
    bool in_repo;
    char *path;            /* the bytes examined: in place, or the copy's partial file */
    struct repofile *copy; /* a copy from elsewhere, until it is committed */
    bool renamed;          /* the copy has its name: ours to remove if the catalog fails */
    struct backup_rec b;
    struct table_rec *tables;
    size_t ntables;
    char started[25], host[HOST_NAME_MAX + 1];
};

/* A file of the repository is examined in place: a regular file, never a link. */
static int check_in_place(const struct import_run *ir, struct import_file *f)
{
    struct stat st;
    f->path = path_join(ir->set->dir, f->name);
    if (lstat(f->path, &st) != 0)
        return err_sys(errno, "could not stat \"%s\"", f->path);
    if (S_ISLNK(st.st_mode))
        return err_set(ERR_FAILED, "it is a symbolic link (nothing in the repository is followed "
                                   "through a link)");
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_FAILED, "it is not a regular file");
    return 0;
}

/* A file from elsewhere is copied in under its own name, as a partial file until it has
 * been examined; a name already taken in the repository is left alone. */
static int copy_into_repository(const struct import_run *ir, struct import_file *f)
{
    const char *dir = ir->set->dir;
    char *partial = xasprintf("%s.partial", f->name);
    bool partial_exists = fsutil_exists(dir, partial);
    free(partial);
    if (fsutil_exists(dir, f->name))
        return err_set(ERR_FAILED,
                       "a file named \"%s\" that the catalog does not know is already in "
                       "the repository; import that one (pgvault import --scan)",
                       f->name);
    if (partial_exists)
        return err_set(ERR_FAILED,
                       "\"%s.partial\" exists in the repository (left by an interrupted "
                       "import?); remove it first",
                       f->name);
    if (repofile_create(dir, f->name, &f->copy) != 0)
        return -1;
    f->path = xstrdup(repofile_path(f->copy));
    return copy_in(f->source, f->copy, ir->cancel);
}

/* Catalogues the file complete, origin 'import', started_at from its name; a copy that the
 * catalog cannot hold would be an orphan and is removed. */
static int catalogue_import(struct import_run *ir, struct import_file *f)
{
    struct backup_rec *b = &f->b;
    gethostname(f->host, sizeof(f->host) - 1);
    struct timespec ts = {.tv_sec = f->when};
    b->db_name = f->db;
    b->file_name = (char *)f->name;
    b->compression = (char *)f->compression;
    b->encryption = (char *)f->encryption;
    char *recipients = f->recipient[0] ? xasprintf("%s\n", f->recipient) : NULL;
    b->recipients = recipients;
    b->started_at = time_iso_ms(&ts, f->started);
    b->duration_ms = -1;
    b->pid = getpid();
    b->host = f->host;
    int rc = catalog_backup_import(ir->cat, b, f->tables, f->ntables);
    b->recipients = NULL;
    free(recipients);
    if (rc != 0) {
        if (f->renamed) {
            struct err_saved cause;
            err_save(&cause);
            fsutil_unlink(ir->set->dir, f->name);
            err_restore(&cause);
        }
        return -1;
    }
    char *detail =
        xasprintf("%s%s%s", f->name, f->in_repo ? "" : " from ", f->in_repo ? "" : f->source);
    catalog_event(ir->cat, "import", b->id, "ok", detail);
    err_clear(); /* an event that could not be written is not a failed import */
    free(detail);
    return 0;
}

/* Records the adopted file in the run's results (which then own its row) and says so. */
static void record_imported(struct import_run *ir, struct import_file *f)
{
    struct import_item *it = add_item(ir, IMPORTED, f->source);
    it->b = f->b;
    it->b.db_name = xstrdup(f->db);
    it->b.file_name = xstrdup(f->name);
    it->b.compression = xstrdup(f->b.compression);
    it->b.encryption = xstrdup(f->b.encryption);
    it->b.started_at = xstrdup(f->started);
    it->b.host = NULL;
    memset(&f->b, 0, sizeof(f->b)); /* now owned by the item */
    if (!ir->opt->json && !log_quiet()) {
        char sz[16];
        printf("imported %s as backup %" PRId64 ": database \"%s\", %" PRId64 " tables, %" PRId64
               " rows, %s\n",
               it->b.file_name, it->b.id, it->b.db_name, it->b.table_count, it->b.row_count,
               fmt_size((uint64_t)it->b.size_bytes, sz));
    }
}

static void import_file_free(struct import_file *f)
{
    repofile_abort(f->copy);
    /* b's borrowed strings are not its own; the rest is */
    f->b.db_name = f->b.file_name = f->b.compression = f->b.started_at = f->b.host = NULL;
    f->b.encryption = NULL;
    backup_rec_free(&f->b);
    table_recs_free(f->tables, f->ntables);
    free(f->db);
    free(f->path);
}

/* The file begins as its name's encryption says (age's version line, or none), and for an
 * encrypted one an identity of --identity opens it: its recipient is then known. */
static int check_encryption(const struct import_run *ir, struct import_file *f)
{
    unsigned char head[32];
    ssize_t n = 0;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_sys(errno, "could not open \"%s\"", f->path);
    n = read(fd, head, sizeof(head));
    close(fd);
    if (n < 0)
        return err_sys(errno, "could not read \"%s\"", f->path);
    const char *found = crypt_format_of_header(head, (size_t)n);
    if (strcmp(found, f->encryption) != 0 && strcmp(found, "none") != 0)
        return err_set(ERR_FAILED, "it is %s-encrypted but its name does not end in .%s", found,
                       found);
    if (strcmp(found, f->encryption) != 0)
        return err_set(ERR_FAILED, "it is named .%s but is not %s-encrypted", f->encryption,
                       f->encryption);
    return crypt_unlock(f->encryption, f->path, ir->keys, "it", NULL, f->recipient);
}

/*
 * Adopts one file. A bad file is refused (recorded, and the run goes on); returns -1 only
 * for what stops the whole run (the catalog cannot be written, a signal).
 */
static int import_one(struct import_run *ir, const char *source, bool scanned)
{
    const char *slash = strrchr(source, '/');
    struct import_file f = {.source = source, .name = slash ? slash + 1 : source};
    bool known;
    int rc = 0;

    /* 1. the name gives the database, the time and the compression */
    if (naming_parse_file(f.name, &f.db, &f.when, &f.compression, &f.encryption) != 0) {
        err_set(ERR_FAILED, "its name does not match <db>_<YYYYMMDD>_<HHMMSS>.sql[.gz|.zst][.age]");
        goto refused;
    }

    /* 2. a name the catalog knows is not adopted twice */
    f.in_repo = scanned || in_repository(ir->set->dir, source);
    if (catalog_file_known(ir->cat, f.name, &known) != 0)
        goto fatal;
    if (known) {
        rc = known_file(ir, source, f.name, f.in_repo);
        goto out;
    }

    /* 3. the bytes to examine are the repository's: in place, or copied in under the name */
    if ((f.in_repo ? check_in_place(ir, &f) : copy_into_repository(ir, &f)) != 0)
        goto refused;

    /* 4. encrypted as its name says, with a key we hold; then a whole dump, and what it
     *    holds (a message about the copy names the original) */
    if (check_encryption(ir, &f) != 0 ||
        examine(ir, f.path, f.compression, f.encryption, strcmp(f.db, NAMING_GLOBALS_DB) == 0, &f.b,
                &f.tables, &f.ntables) != 0) {
        if (f.copy)
            rename_in_error(f.path, source);
        goto refused;
    }
    if (*ir->cancel)
        goto fatal;

    /* 5. a copy gets its name, durably (on failure, only what is ours is removed) */
    if (f.copy) {
        struct repofile *copy = f.copy;
        f.copy = NULL;
        if (repofile_commit(copy) != 0)
            goto refused;
        f.renamed = true;
    }

    /* 6. catalogue it, and count it imported */
    if (catalogue_import(ir, &f) != 0)
        goto fatal;
    record_imported(ir, &f);
    goto out;

refused:
    repofile_abort(f.copy);
    f.copy = NULL;
    if (*ir->cancel)
        goto fatal;
    refuse(ir, source);
    goto out;
fatal:
    repofile_abort(f.copy);
    f.copy = NULL;
    if (*ir->cancel) {
        err_clear();
        err_set(ERR_FAILED, "import interrupted by a signal");
    }
    rc = -1;
out:
    import_file_free(&f);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The dump files in the repository that the catalog does not know, sorted by name. */
static int scan_repository(struct import_run *ir, char ***out, size_t *n)
{
    DIR *d = opendir(ir->set->dir);
    size_t len = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    *out = NULL;
    *n = 0;
    if (!d)
        return err_sys(errno, "could not open directory \"%s\"", ir->set->dir);
    while ((e = readdir(d)) != NULL) {
        char *db;
        time_t when;
        const char *compression;
        bool known;
        if (e->d_name[0] == '.' ||
            naming_parse_file(e->d_name, &db, &when, &compression, NULL) != 0)
            continue;
        free(db);
        if (catalog_file_known(ir->cat, e->d_name, &known) != 0) {
            closedir(d);
            for (size_t i = 0; i < len; i++)
                free(names[i]);
            free(names);
            return -1;
        }
        if (known)
            continue;
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[len++] = path_join(ir->set->dir, e->d_name);
    }
    closedir(d);
    if (len > 1)
        qsort(names, len, sizeof(*names), cmp_str);
    *out = names;
    *n = len;
    return 0;
}

static void print_json(const struct import_run *ir)
{
    static const struct {
        enum import_outcome o;
        const char *key;
    } groups[] = {{IMPORTED, "imported"}, {SKIPPED, "skipped"}, {REFUSED, "refused"}};
    putchar('{');
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        printf("%s\"%s\":[", g ? "," : "", groups[g].key);
        bool first = true;
        for (size_t i = 0; i < ir->n; i++) {
            const struct import_item *it = &ir->items[i];
            if (it->outcome != groups[g].o)
                continue;
            printf("%s{\"source\":", first ? "" : ",");
            json_str(stdout, it->source);
            first = false;
            if (it->outcome != IMPORTED) {
                printf(",\"reason\":");
                json_str(stdout, it->reason);
                putchar('}');
                continue;
            }
            const struct backup_rec *b = &it->b;
            printf(",\"id\":%" PRId64 ",\"db_name\":", b->id);
            json_str(stdout, b->db_name);
            printf(",\"file_name\":");
            json_str(stdout, b->file_name);
            printf(",\"started_at\":");
            json_str(stdout, b->started_at);
            printf(",\"compression\":");
            json_str(stdout, b->compression);
            printf(",\"encryption\":");
            json_str(stdout, b->encryption);
            printf(",\"size_bytes\":%" PRId64 ",\"raw_bytes\":%" PRId64 ",\"checksum\":",
                   b->size_bytes, b->raw_bytes);
            json_str(stdout, b->checksum);
            printf(",\"raw_checksum\":");
            json_str(stdout, b->raw_checksum);
            printf(",\"table_count\":%" PRId64 ",\"row_count\":%" PRId64 ",\"server_version\":",
                   b->table_count, b->row_count);
            json_str_or_null(stdout, b->server_version);
            printf(",\"pg_dump_version\":");
            json_str_or_null(stdout, b->pg_dump_version);
            putchar('}');
        }
        putchar(']');
    }
    puts("}");
}

int cmd_import(const struct options *opt, const struct settings *set)
{
    struct import_run ir = {.opt = opt,
                            .set = set,
                            .cancel = &pgvault_interrupted,
                            .keys = crypt_keys_new(set->identity_file)};
    struct repo_lock *lock = NULL;
    char **scanned = NULL;
    size_t nscanned = 0, refused = 0;
    int rc = -1;

    /* 1. the repository (created for files from elsewhere), its lock and its catalog */
    if (opt->scan && fsutil_require_repo(set->dir) != 0)
        goto out;
    if (!opt->scan && fsutil_mkdir_repo(set->dir) != 0)
        goto out;
    if (repo_lock_exclusive(set->dir, &lock) != 0)
        goto out;
    /* with --from, the catalog of the empty repository comes from the remote's snapshot */
    if (opt->from && copies_restore_catalog(set, opt->from, ir.cancel) != 0)
        goto out;
    if (catalog_open(set->catalog, CATALOG_CREATE, &ir.cat) != 0 ||
        recover_repository(ir.cat, set->dir) != 0)
        goto out;

    /* 2. the files: those named, every dump in the repository the catalog does not know,
     *    or (--from) the backups on the remote newer than the snapshot, downloaded */
    if (opt->from) {
        if (copies_remote_only(ir.cat, set, opt->from, ir.cancel, &scanned, &nscanned) != 0)
            goto out;
    } else if (opt->scan) {
        if (scan_repository(&ir, &scanned, &nscanned) != 0)
            goto out;
        if (nscanned == 0 && !opt->json)
            log_info("nothing to import: the catalog knows every dump in \"%s\"", set->dir);
    }

    /* 3. adopt each; a bad file is reported and the others still go in */
    bool listed = opt->scan || opt->from;
    size_t nfiles = listed ? nscanned : (size_t)opt->nargs;
    for (size_t i = 0; i < nfiles; i++) {
        if (import_one(&ir, listed ? scanned[i] : opt->args[i], listed) != 0)
            goto out;
    }
    if (opt->from)
        copies_adopted(ir.cat, set, opt->from, scanned, nscanned);

    /* 4. the summary; exit 1 when a file was refused */
    if (opt->json)
        print_json(&ir);
    for (size_t i = 0; i < ir.n; i++)
        refused += ir.items[i].outcome == REFUSED;
    rc = refused ? ERR_FAILED : 0;
out:
    for (size_t i = 0; i < ir.n; i++) {
        free(ir.items[i].source);
        free(ir.items[i].reason);
        backup_rec_free(&ir.items[i].b);
    }
    free(ir.items);
    for (size_t i = 0; i < nscanned; i++)
        free(scanned[i]);
    free(scanned);
    catalog_close(ir.cat);
    crypt_keys_free(ir.keys);
    repo_unlock(lock);
    return rc;
}
