#ifndef PGVAULT_ENCRYPTION_H
#define PGVAULT_ENCRYPTION_H

#include <stddef.h>

/*
 * The encryptions a backup file may have, as the catalog records them ("none", "age"), and
 * each one's file suffix, which follows the compression's (".sql.gz.age"). The filters that
 * do the work are in io/crypt.c's table, by the same names.
 */
struct encryption {
    const char *name;   /* "none", "age" */
    const char *suffix; /* "", ".age" */
};

/* The encryption called name, or NULL. */
const struct encryption *encryption_find(const char *name);

/* The encryption whose suffix file[0..len) ends with ("none" when it ends with none of
 * theirs); *stem_len is then len without that suffix. */
const struct encryption *encryption_of_file(const char *file, size_t len, size_t *stem_len);

/* The recipients as the catalog keeps them (one a line) joined with ", " for messages;
 * "unknown recipients" when there are none. */
char *encryption_recipients_joined(const char *lines);

#endif
