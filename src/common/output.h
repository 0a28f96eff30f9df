#ifndef PGVAULT_OUTPUT_H
#define PGVAULT_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

/* Writers for --json and --csv; people's tables are printed by each command. */

/* A JSON string literal (with quotes), escaping quotes, backslashes, control bytes. */
void json_str(FILE *out, const char *s);
/* A JSON string, or null for NULL. */
void json_str_or_null(FILE *out, const char *s);
/* A JSON array of the lines of s (one string each, empty lines left out); [] for NULL. */
void json_lines(FILE *out, const char *s);
/* A CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. */
void csv_field(FILE *out, const char *s);

#endif
