#ifndef PGVAULT_DUMPSCAN_H
#define PGVAULT_DUMPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A streaming scanner for pg_dump's plain-format output. Fed arbitrary chunks, it
 * follows the SQL lexically (quotes, identifiers, dollar quotes, comments, psql
 * meta-commands) so that only a real "COPY <table> (…) FROM stdin;" statement starts a
 * data block, and counts the rows (lines) of each block up to its "\." line. It also
 * records "CREATE TABLE" statements (and whether each is partitioned) and whether the stream ended
 * with pg_dump's
 * "-- PostgreSQL database dump complete" trailer (or pg_dumpall's cluster trailer).
 */
struct dumpscan;

struct dumpscan_table {
    char *schema; /* unquoted; NULL if the COPY named no schema */
    char *name;   /* unquoted */
    uint64_t rows;
    bool partitioned; /* CREATE TABLE: it has PARTITION BY (a partitioned table) */
};

struct dumpscan *dumpscan_new(void);
void dumpscan_free(struct dumpscan *s);

void dumpscan_feed(struct dumpscan *s, const char *buf, size_t len);

/*
 * Events, for a consumer that acts on the statements (the loader, extract): every byte
 * of the input is either part of a statement (DS_SQL, handed over in pieces, then
 * DS_STMT_END once its ';' was seen; comments and blanks before it included), of a
 * meta-command line (DS_META, what follows the backslash, then DS_META_END at its
 * newline), of a COPY block's data (DS_COPY_DATA, then DS_COPY_END for the "\." line,
 * which is not handed over), or dropped (the backslash of "\;", the rest of the line of
 * "FROM stdin;", which comes again as DS_SQL after the block). The pieces point into the
 * buffer being fed (or into the scanner), valid during the call only.
 */
enum dumpscan_event { DS_SQL, DS_STMT_END, DS_META, DS_META_END, DS_COPY_DATA, DS_COPY_END };
typedef void (*dumpscan_sink)(void *ctx, enum dumpscan_event ev, const char *buf, size_t len);
void dumpscan_set_sink(struct dumpscan *s, dumpscan_sink fn, void *ctx);

/* What a statement is, for the ones a loader treats apart. */
enum dumpscan_kind {
    DSK_OTHER,
    DSK_COPY,         /* COPY name [(columns)] FROM stdin: table (and columns) set */
    DSK_OWNER,        /* ALTER … OWNER TO role */
    DSK_ACL,          /* GRANT, REVOKE, ALTER DEFAULT PRIVILEGES */
    DSK_SESSION_AUTH, /* SET / RESET SESSION AUTHORIZATION */
    DSK_FOREIGN_KEY,  /* ALTER TABLE name … REFERENCES name: table and ref set */
    DSK_SET,          /* SET (not SESSION AUTHORIZATION), SELECT pg_catalog.set_config(…) */
    DSK_SEQUENCE_SET, /* SELECT pg_catalog.setval(…) */
    DSK_INDEX,        /* CREATE [UNIQUE] INDEX … ON [ONLY] name: table set */
    DSK_CONSTRAINT, /* ALTER TABLE name ADD CONSTRAINT … PRIMARY KEY|UNIQUE|EXCLUDE: table set */
};

struct dumpscan_stmt {
    enum dumpscan_kind kind;
    const struct dumpscan_table *table; /* COPY's, the altered table of a foreign key or a
                                         * constraint, the indexed table of an index */
    const struct dumpscan_table *ref;   /* the table a foreign key references */
    char **columns;                     /* COPY's column list (unquoted), ncolumns of them */
    size_t ncolumns;
};

/* The statement that ended, valid during its DS_STMT_END event. */
const struct dumpscan_stmt *dumpscan_statement(const struct dumpscan *s);

/* Call at end of input. Returns 0, or -1 if the input ended inside a COPY block, a
 * quoted string or a statement (truncated dump). */
int dumpscan_finish(struct dumpscan *s);

/* Tables seen in COPY blocks, in order of appearance. */
size_t dumpscan_copy_count(const struct dumpscan *s);
const struct dumpscan_table *dumpscan_copy(const struct dumpscan *s, size_t i);

/* The COPY statement of block i (dumpscan_copy's), as a new string rebuilt from its table
 * and columns with every name double-quoted: COPY "s"."t" ("a", "b") FROM stdin; */
char *dumpscan_copy_statement(const struct dumpscan *s, size_t i);

/*
 * Access points, for a backup that records where a reader may start decompressing: with
 * an interval > 0 the scanner records a point where a COPY block's data starts (the byte
 * after the newline of its "COPY … FROM stdin;" line) and, inside the data, at the start
 * of the first row that begins at least interval bytes after the block's previous point.
 * Offsets count the bytes fed (a point at the end of one buffer is the first byte of the
 * next). A point's part is whole rows: it ends at the next point of its block or where
 * the block's "\." line starts. A part without a row (an empty table, a point right
 * before the "\." line) keeps rows 0, for the caller to drop.
 */
struct dumpscan_point {
    size_t copy;          /* its COPY block: dumpscan_copy(s, copy) */
    bool end;             /* no part: the byte after the block's "\." line, where a reader
                           * that skips the block goes on (only for a block with rows) */
    uint64_t raw_offset;  /* the part's first byte */
    uint64_t raw_bytes;   /* its length, set when it ends */
    uint64_t line;        /* the line (1-based) of its first byte */
    uint64_t rows_before; /* rows of the block before the part */
    uint64_t rows;        /* rows in the part, set when it ends */
};
/* Ends the COPY block being read as if its "\." line had come (a DS_COPY_END event), for
 * a reader that goes on at the block's end point; -1 (nothing done) unless the scanner is
 * in a block, at the start of a line. */
int dumpscan_skip_copy(struct dumpscan *s);
/* Call before the first feed; 0 (the default): no points. */
void dumpscan_set_interval(struct dumpscan *s, uint64_t interval);
size_t dumpscan_point_count(const struct dumpscan *s);
const struct dumpscan_point *dumpscan_point(const struct dumpscan *s, size_t i);

/* Tables seen in CREATE [UNLOGGED] TABLE statements (rows field unused). */
size_t dumpscan_create_count(const struct dumpscan *s);
const struct dumpscan_table *dumpscan_create(const struct dumpscan *s, size_t i);

/* True if a line "-- PostgreSQL database dump complete" occurred and nothing but blank
 * lines, "--" comment lines and psql meta-commands (\unrestrict …) followed it. */
bool dumpscan_trailer_ok(const struct dumpscan *s);

/* The same for pg_dumpall's "-- PostgreSQL database cluster dump complete" trailer
 * (the output of pg_dumpall --globals-only). At most one of the two is true. */
bool dumpscan_cluster_trailer_ok(const struct dumpscan *s);
/* How many "-- PostgreSQL database dump complete" lines occurred anywhere: one for each
 * database a whole pg_dumpall holds, none in pg_dumpall --globals-only. */
size_t dumpscan_database_trailers(const struct dumpscan *s);

#endif
