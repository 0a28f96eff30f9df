/*
 * pgvault extract: one table's rows from a backup to stdout, without a database. The
 * backup file streams through its checksum, its decompression and the dump scanner; the
 * data of the chosen table's COPY block is written as it passes, in COPY's text format,
 * or with --csv as CSV with a header line (PostgreSQL's CSV rules: NULL is an empty
 * field, an empty string is "", a field with a comma, a quote or a line break is quoted).
 * An encrypted backup is decrypted on the way with --identity (none: exit 2 before any row).
 * When the backup recorded access points for the table (and is not encrypted, or with
 * age and an identity given), reading starts at the table's first point and stops at the end of its
 * data, so that a large backup is not read from the start: the scanner is given the point's COPY
 * statement, then the stream. The file's checksum is then not proven; the proof is the row count,
 * which must equal the catalog's for the table (else exit 3: the rows written are not to
 * be trusted). A backup without points (taken before them, imported) is read whole, so
 * that its checksum is proven: a mismatch is exit 3 after the rows, likewise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "command/commands.h"
#include "command/resolve.h"
#include "command/selection.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "io/chain.h"
#include "io/compress.h"
#include "io/crypt.h"
#include "io/filters.h"
#include "io/access.h"
#include "io/hash.h"
#include "postgres/dumpscan.h"
#include "storage/fsutil.h"

struct extract {
    const struct selection *sel;
    bool csv;
    struct dumpscan *scan;
    bool in_table; /* the COPY block being read is the chosen table's */
    bool found;    /* its COPY block was seen */
    bool ended;    /* and its end */
    uint64_t rows;
    int64_t want_rows; /* the catalog's count for the table */
    struct sbuf line;  /* --csv: the part of a row read so far */
    int write_errno;   /* stdout failed (a closed pipe): the chain stops */
};

/* COPY text's escapes: \b \f \n \r \t \v, \\, \NNN octal, \xHH hex, \c for c. */
static size_t unescape_at(const char *s, size_t n, char *out)
{
    static const char plain[] = "bfnrtv", real[] = "\b\f\n\r\t\v";
    const char *p = n > 1 ? strchr(plain, s[1]) : NULL;
    if (n < 2) {
        *out = '\\';
        return 1;
    }
    if (p && *p) {
        *out = real[p - plain];
        return 2;
    }
    if (s[1] >= '0' && s[1] <= '7') {
        int v = 0;
        size_t i = 1;
        for (; i < n && i < 4 && s[i] >= '0' && s[i] <= '7'; i++)
            v = v * 8 + (s[i] - '0');
        *out = (char)v;
        return i;
    }
    if (s[1] == 'x' && n > 2 && strchr("0123456789abcdefABCDEF", s[2]) && s[2]) {
        int v = 0;
        size_t i = 2;
        for (; i < n && i < 4 && s[i] && strchr("0123456789abcdefABCDEF", s[i]); i++)
            v = v * 16 + (s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10);
        *out = (char)v;
        return i;
    }
    *out = s[1];
    return 2;
}

/* One field as CSV: quoted when empty (not NULL), or holding , " CR or LF, or when it is
 * a row's only field and reads "\." (the end-of-data marker). */
static void csv_field(struct sbuf *out, const char *v, size_t n, bool null, bool alone)
{
    if (null)
        return;
    bool quote = n == 0 || memchr(v, ',', n) || memchr(v, '"', n) || memchr(v, '\n', n) ||
                 memchr(v, '\r', n) || (alone && n == 2 && memcmp(v, "\\.", 2) == 0);
    if (!quote) {
        sbuf_add(out, v, n);
        return;
    }
    sbuf_add(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"')
            sbuf_add(out, "\"", 1);
        sbuf_add(out, v + i, 1);
    }
    sbuf_add(out, "\"", 1);
}

/* One COPY text row (without its newline) as one CSV line. */
static void csv_row(struct sbuf *out, const char *row, size_t n)
{
    struct sbuf field = {0};
    size_t i = 0;
    for (bool first = true;; first = false) {
        size_t end = i;
        while (end < n && row[end] != '\t')
            end++;
        if (!first)
            sbuf_add(out, ",", 1);
        bool null = end - i == 2 && row[i] == '\\' && row[i + 1] == 'N';
        field.len = 0;
        for (size_t k = i; k < end;) {
            char c = row[k];
            size_t used = 1;
            if (c == '\\')
                used = unescape_at(row + k, end - k, &c);
            sbuf_add(&field, &c, 1);
            k += used;
        }
        csv_field(out, field.data ? field.data : "", field.len, null, first && end >= n);
        if (end >= n)
            break;
        i = end + 1;
    }
    sbuf_add(out, "\n", 1);
    sbuf_free(&field);
}

static void put(struct extract *x, const char *buf, size_t len)
{
    if (x->write_errno == 0 && len && fwrite(buf, 1, len, stdout) != len)
        x->write_errno = errno ? errno : EIO;
}

/* --csv: the complete rows of what arrived, the rest kept for the next piece. */
static void csv_data(struct extract *x, const char *buf, size_t len)
{
    sbuf_add(&x->line, buf, len);
    struct sbuf out = {0};
    size_t start = 0;
    for (const char *nl; (nl = memchr(x->line.data + start, '\n', x->line.len - start));) {
        size_t end = (size_t)(nl - x->line.data);
        csv_row(&out, x->line.data + start, end - start);
        start = end + 1;
    }
    put(x, out.data, out.len);
    sbuf_free(&out);
    memmove(x->line.data, x->line.data + start, x->line.len - start);
    x->line.len -= start;
}

static void csv_header(struct extract *x, const struct dumpscan_stmt *st)
{
    struct sbuf out = {0};
    for (size_t i = 0; i < st->ncolumns; i++) {
        if (i)
            sbuf_add(&out, ",", 1);
        csv_field(&out, st->columns[i], strlen(st->columns[i]), false, st->ncolumns == 1);
    }
    sbuf_add(&out, "\n", 1);
    put(x, out.data, out.len);
    sbuf_free(&out);
}

static void on_event(void *ctx, enum dumpscan_event ev, const char *buf, size_t len)
{
    struct extract *x = ctx;
    if (ev == DS_STMT_END) {
        const struct dumpscan_stmt *st = dumpscan_statement(x->scan);
        x->in_table = st->kind == DSK_COPY && !x->found &&
                      selection_wants(x->sel, st->table->schema, st->table->name);
        x->found |= x->in_table;
        if (x->in_table && x->csv)
            csv_header(x, st);
    } else if (ev == DS_COPY_DATA && x->in_table) {
        for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
            x->rows++;
        if (x->csv)
            csv_data(x, buf, len);
        else
            put(x, buf, len);
    } else if (ev == DS_COPY_END) {
        x->ended |= x->in_table;
        x->in_table = false;
    }
}

static int feed(void *ctx, const unsigned char *buf, size_t len)
{
    struct extract *x = ctx;
    dumpscan_feed(x->scan, (const char *)buf, len);
    if (x->write_errno)
        return err_sys(x->write_errno, "could not write to standard output");
    return 0;
}

/* The file → its checksum → decompression → the scanner, which writes the rows. */
static int stream(const struct backup_rec *b, const char *path, struct crypt_keys *keys,
                  struct extract *x)
{
    char sum[HASH_HEX_LEN];
    char *what = xasprintf("backup %" PRId64, b->id);
    int unlocked = crypt_unlock(b->encryption, path, keys, what, b->recipients, NULL);
    free(what);
    if (unlocked != 0)
        return -1;
    struct chain *c = chain_new();
    chain_add(c, filter_hash_new(sum));
    decrypt_add(c, b->encryption, keys, path);
    decompress_add(c, b->compression, path);
    chain_add(c, filter_callback_new(feed, x));
    int rc = chain_pump_file(c, path, &pgvault_interrupted);
    chain_free(c);
    if (rc == 0 && fflush(stdout) != 0)
        rc = err_sys(errno, "could not write to standard output");
    if (rc == 0 && dumpscan_finish(x->scan) != 0)
        rc = err_set(ERR_INTEGRITY, "backup %" PRId64 " (\"%s\") ends in the middle of the dump",
                     b->id, b->file_name);
    if (rc == 0 && strcmp(sum, b->checksum ? b->checksum : "") != 0)
        rc = err_set(ERR_INTEGRITY,
                     "checksum mismatch for \"%s\": file has %s, the catalog says %s; the rows "
                     "written are not to be trusted",
                     b->file_name, sum, b->checksum ? b->checksum : "none");
    return rc;
}

/* The point's part onward: the decompressed stream from its offset, fed to the scanner
 * after the point's COPY statement, up to the end of the table's data. */
static int stream_from_point(const struct backup_rec *b, const char *path,
                             const struct access_point *pt, const struct crypt_keys *keys,
                             struct extract *x)
{
    struct access_reader *r =
        access_open(path, b->compression, b->encryption, keys, (uint64_t)pt->comp_offset);
    if (!r)
        return -1;
    dumpscan_feed(x->scan, pt->statement, strlen(pt->statement));
    dumpscan_feed(x->scan, "\n", 1);
    size_t cap = 1u << 20;
    unsigned char *buf = xmalloc_io(cap);
    int rc = 0;
    while (rc == 0 && !x->ended) {
        ssize_t n = pgvault_interrupted ? -1 : access_read(r, buf, cap);
        if (n < 0)
            rc = -1;
        else if (n == 0)
            rc = err_set(ERR_INTEGRITY,
                         "backup %" PRId64 " (\"%s\") ends in the middle of the table's data",
                         b->id, b->file_name);
        else
            rc = feed(x, buf, (size_t)n);
    }
    free(buf);
    access_close(r);
    if (rc == 0 && fflush(stdout) != 0)
        rc = err_sys(errno, "could not write to standard output");
    return rc;
}

/* The rows written from a point are proven by the catalog's count for the table. */
static int check_rows(const struct backup_rec *b, const struct selection *sel,
                      const struct extract *x)
{
    if ((int64_t)x->rows == x->want_rows)
        return 0;
    return err_set(ERR_INTEGRITY,
                   "backup %" PRId64 " (\"%s\") gave %" PRIu64 " rows of table \"%s\".\"%s\" "
                   "from its access point, the catalog says %" PRId64
                   "; the rows written are not to be trusted",
                   b->id, b->file_name, x->rows, sel->schema[0], sel->name[0], x->want_rows);
}

/* The table's first access point, or NULL when the backup has none for it or cannot be
 * read from one (OpenPGP; age without an identity, which reading from the start reports). */
static const struct access_point *first_point(const struct backup_rec *b,
                                              const struct access_point *p, size_t n,
                                              const struct selection *sel, bool identity)
{
    const char *enc = b->encryption ? b->encryption : "none";
    if (strcmp(enc, "none") != 0 && !(strcmp(enc, "age") == 0 && identity))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (selection_wants(sel, p[i].schema_name, p[i].table_name))
            return &p[i];
    return NULL;
}

/* The one table asked for, that the backup has it, and its row count. */
static int choose_table(struct catalog *cat, const struct options *opt, const struct backup_rec *b,
                        struct selection *sel, int64_t *rows)
{
    static const struct optlist no_schemas;
    if (selection_parse(&opt->tables, &no_schemas, sel) != 0)
        return -1;
    struct table_rec *t = NULL;
    size_t n = 0;
    int rc = catalog_backup_tables(cat, b->id, &t, &n);
    if (rc == 0)
        rc = selection_check(sel, t, n, b->id);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (selection_wants(sel, t[i].schema_name, t[i].table_name))
            *rows = t[i].row_count;
    table_recs_free(t, n);
    return rc;
}

int cmd_extract(const struct options *opt, const struct settings *set)
{
    struct catalog *cat = NULL;
    struct backup_rec b = {0};
    struct selection sel = {0};
    struct extract x = {.sel = &sel, .csv = opt->csv};
    struct crypt_keys *keys = crypt_keys_new(set->identity_file);
    struct access_point *points = NULL;
    size_t npoints = 0;
    char *path = NULL;
    int rc = -1;

    /* 1. the backup, complete, and the table it holds */
    if (fsutil_require_repo(set->dir) != 0 ||
        catalog_open(set->catalog, CATALOG_READONLY, &cat) != 0)
        goto out;
    if (backup_resolve(cat, set, opt->db ? opt->db : set->conn.dbname, opt->args[0], &b) != 0)
        goto out;
    if (strcmp(b.status, "complete") != 0) {
        err_set(ERR_USAGE, "backup %" PRId64 " is %s, not complete", b.id, b.status);
        goto out;
    }
    if (choose_table(cat, opt, &b, &sel, &x.want_rows) != 0 ||
        catalog_access_points(cat, b.id, &points, &npoints) != 0)
        goto out;

    /* 2. its rows, from its access point, or as the whole file streams past */
    path = path_join(set->dir, b.file_name);
    x.scan = dumpscan_new();
    dumpscan_set_sink(x.scan, on_event, &x);
    const struct access_point *pt = first_point(&b, points, npoints, &sel, set->identity_file);
    if (pt ? stream_from_point(&b, path, pt, keys, &x) != 0 || check_rows(&b, &sel, &x) != 0
           : stream(&b, path, keys, &x) != 0)
        goto out;
    if (!x.found) {
        err_set(ERR_INTEGRITY, "backup %" PRId64 " holds no data block for table \"%s\".\"%s\"",
                b.id, sel.schema[0], sel.name[0]);
        goto out;
    }
    log_info("%" PRIu64 " rows of table \"%s\".\"%s\" from backup %" PRId64, x.rows, sel.schema[0],
             sel.name[0], b.id);
    rc = 0;
out:
    if (pgvault_interrupted) {
        err_clear();
        err_set(ERR_FAILED, "extract interrupted by a signal");
    }
    crypt_keys_free(keys);
    access_points_free(points, npoints);
    dumpscan_free(x.scan);
    sbuf_free(&x.line);
    selection_free(&sel);
    free(path);
    backup_rec_free(&b);
    catalog_close(cat);
    return rc;
}
