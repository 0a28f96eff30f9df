#ifndef PGVAULT_SQLSPLIT_H
#define PGVAULT_SQLSPLIT_H

#include <stddef.h>

/* One statement of a SQL file, without its final ";", and the line it starts on. */
struct sql_stmt {
    char *text;
    int line; /* 1-based: the line of its first character that is not blank or a comment */
};

/*
 * Splits SQL text into statements at the semicolons that end them, as the server reads
 * it: a ";" inside a quoted string ('…', E'…' with backslash escapes), a quoted
 * identifier ("…"), a dollar-quoted string ($$…$$, $tag$…$tag$) or a comment ("--" to
 * the end of the line, or a nested C-style block) does not end a statement. Statements that hold
 * only blanks and comments are left out. Returns 0, or -1 with ERR_USAGE naming origin and the line
 * where an unterminated string, identifier or comment starts; *out is then NULL.
 */
int sql_split(const char *text, const char *origin, struct sql_stmt **out, size_t *n);
void sql_stmts_free(struct sql_stmt *s, size_t n);

#endif
