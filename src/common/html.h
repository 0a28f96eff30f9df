#ifndef PGVAULT_HTML_H
#define PGVAULT_HTML_H

#include "common/util.h"

/*
 * Text from the catalog into HTML: database and table names, labels and errors are
 * whatever their authors typed, so every byte goes through here.
 */

/* Appends s to b as text that is safe both between tags and inside a quoted attribute
 * value: & < > " ' as character references; a control character (other than tab and
 * newline) and every byte that is not part of valid UTF-8 as U+FFFD, so that the page
 * stays valid UTF-8 whatever s holds. NULL appends nothing. */
void html_escape(struct sbuf *b, const char *s);

#endif
