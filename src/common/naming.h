#ifndef PGVAULT_NAMING_H
#define PGVAULT_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Backup file names: <db>_<YYYYMMDD>_<HHMMSS>.sql[.gz|.zst][.age], UTC, with a
 * _2, _3 … suffix before the extension on a collision. In <db>, every byte outside
 * [A-Za-z0-9_.-], and a leading '.' or '-', is written %XX (uppercase hex).
 */
char *naming_encode_db(const char *db);
/* Inverse of naming_encode_db; NULL if s is not a valid encoding. */
char *naming_decode_db(const char *s);
/* seq 1 gives no suffix, 2 gives "_2" …; compression ("gzip", "zstd", "none") and
 * encryption ("none", "age"; NULL is none) give the extension. */
char *naming_backup_file(const char *db, time_t when, const char *compression,
                         const char *encryption, int seq);
/* Splits a backup file name into database, time, compression and encryption (their names,
 * as common/compression.h and common/encryption.h have them; encryption may be NULL);
 * -1 if it does not match. */
int naming_parse_file(const char *file, char **db, time_t *when, const char **compression,
                      const char **encryption);

/* The db_name under which "backup --all" catalogues the cluster's roles and tablespaces
 * (pg_dumpall --globals-only); its files are named "%40globals_…". A database that is
 * really called "@globals" is refused by backup rather than mixed up with them. */
#define NAMING_GLOBALS_DB "@globals"

/* The databases a restore of target T creates beside it: NAMING_TMP_PREFIX + the tag of T
 * (16 lowercase hex digits) while it loads, NAMING_OLD_PREFIX + tag + "_YYYYMMDDHHMMSS"
 * for the database it replaced (kept with --keep-old). backup --all leaves them out. */
#define NAMING_TMP_PREFIX "pgvault_tmp_"
#define NAMING_OLD_PREFIX "pgvault_old_"
/* The tag: 64-bit FNV-1a of the target's bytes, short and stable. */
uint64_t naming_target_tag(const char *target);

/* The scratch database of a test restore of db: NAMING_TMP_PREFIX + the tag of db +
 * "_test_" + 8 random hex digits. The prefix keeps it out of backup --all and makes a
 * leftover of a killed test restore show in check and prune, as db's. */
char *naming_test_db(const char *db);

/* True if a database name is acceptable (1..63 bytes, no NUL). */
bool naming_db_ok(const char *db);

#endif
