#ifndef PGVAULT_POSTGRES_INTERNAL_H
#define PGVAULT_POSTGRES_INTERNAL_H

/*
 * Private to src/postgres/: the connection behind struct pg and the statement helpers
 * that pg.c (the libpq adapter) gives the modules beside it. Not included elsewhere.
 */
#include <libpq-fe.h>

#include "postgres/pg.h"

struct pg {
    PGconn *conn;
    char sqlstate[6]; /* of the last query that failed */
};

/* Error text from libpq on one line, without the trailing newline. */
const char *pgx_message(PGconn *conn);

/* Runs sql with text parameters; returns the result (tuples or command ok), or NULL with
 * the error set as "could not <what>: <server message>" and pg->sqlstate kept. */
PGresult *pgx_query(struct pg *pg, const char *what, const char *sql, int nparams,
                    const char *const *params);

/* Runs a statement whose text holds already-quoted identifiers and literals. */
int pgx_command(struct pg *pg, const char *what, const char *sql);

/* PQescapeIdentifier / PQescapeLiteral into malloc'd strings (NULL, error set). */
char *pgx_ident(struct pg *pg, const char *name);
char *pgx_literal(struct pg *pg, const char *s);

/* A column's value, or NULL for SQL NULL (malloc'd). */
char *pgx_dup_or_null(PGresult *res, int row, int col);

/* The first column of every row into a malloc'd array; clears res. */
int pgx_take_names(PGresult *res, char ***names, int *n);

#endif
