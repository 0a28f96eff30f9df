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

/* Call at end of input. Returns 0, or -1 if the input ended inside a COPY block, a
 * quoted string or a statement (truncated dump). */
int dumpscan_finish(struct dumpscan *s);

/* Tables seen in COPY blocks, in order of appearance. */
size_t dumpscan_copy_count(const struct dumpscan *s);
const struct dumpscan_table *dumpscan_copy(const struct dumpscan *s, size_t i);

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
