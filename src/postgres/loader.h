#ifndef PGVAULT_LOADER_H
#define PGVAULT_LOADER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Loads a plain-format dump into a database over libpq, as psql -X -v ON_ERROR_STOP=1
 * would, without psql. Fed the dump in chunks of any size (it is the sink of a restore's
 * chain), it splits the statements with the dump scanner (psql's lexing rules), runs each
 * one, sends each COPY block's data with PQputCopyData and takes the rows loaded from its
 * command tag. The psql meta-commands a dump holds are handled: \restrict KEY and
 * \unrestrict KEY (matched), \connect DB (through the owner); any other is an error.
 * The first failed statement stops the load unless the owner's on_error says go on.
 *
 * A loader owns one connection, so several loaders may load one database at once, one
 * per session.
 */
struct dumpscan_stmt;
struct pg;
struct loader;

/* A statement the server refused. */
struct loader_error {
    long line;             /* its first line in the dump */
    const char *sqlstate;  /* "" when the loader refused it (a meta-command) */
    const char *message;   /* the server's, on one line: "ERROR:  …" */
    const char *statement; /* its text from its first token (comments before it left out) */
};

struct loader_options {
    bool single_transaction; /* BEGIN first, COMMIT in loader_finish */
    bool no_owner;           /* skip ALTER … OWNER TO, SET/RESET SESSION AUTHORIZATION */
    bool no_privileges;      /* skip GRANT, REVOKE, ALTER DEFAULT PRIVILEGES */
    /* A table whose data is loaded (NULL: every table). A foreign key of a loaded table
     * that references a table not loaded is skipped, with a warning. */
    bool (*want_table)(void *ctx, const char *schema, const char *name);
    /* A failed statement: 0 goes on, -1 stops (the error set). NULL: stop with
     * "line N: <server message>: <statement's first 60 characters>". */
    int (*on_error)(void *ctx, const struct loader_error *e);
    /* \connect DB: sets *pg to the connection to go on with, or fails (NULL: refused). */
    int (*on_connect)(void *ctx, const char *dbname, struct pg **pg);
    void *ctx;
    /* Each statement the options keep, before it runs: 0 runs it here; 1 means the owner
     * runs it elsewhere (a COPY's data is then skipped); -1 stops the load (error set). */
    int (*route)(void *route_ctx, const struct dumpscan_stmt *st, const char *sql, long line);
    void *route_ctx;
    volatile sig_atomic_t *cancel; /* stops the load ("interrupted") when non-zero */
};

/* A loader over pg (which it owns from now on, and frees). */
struct loader *loader_new(struct pg *pg, const struct loader_options *o);

/* The next chunk of the dump; 0, or -1 once a statement failed (error set). */
int loader_feed(struct loader *l, const char *buf, size_t len);

/* Leaves the COPY block whose data was just reached unread, as if its "\." line had
 * come: for a reader that goes on after the block (a COPY the route hook took, or of a
 * table not loaded). -1 (no error set) when no such block was just reached. */
int loader_skip_copy(struct loader *l);

/* The line of the dump the next chunk starts on (a loader fed a part of a dump). */
void loader_set_line(struct loader *l, long line);

/* End of the dump: refuses one that ends inside a statement or a COPY block, then
 * commits (single_transaction). 0 or -1. */
int loader_finish(struct loader *l);

/* The error line of a failed statement: "line N: <message>: <first 60 characters>". */
void loader_error_text(const struct loader_error *e, char *buf, size_t size);

/* Rows loaded by each COPY, as its command tag said, in dump order. */
struct loader_copy {
    char *schema; /* NULL if the COPY named none */
    char *name;
    int64_t rows;
};
size_t loader_copy_count(const struct loader *l);
const struct loader_copy *loader_copy(const struct loader *l, size_t i);

/* Frees the loader and closes its connection: a load not finished is rolled back (a COPY
 * in progress is never ended, so the server cannot commit part of it). NULL-safe. */
void loader_free(struct loader *l);

#endif
