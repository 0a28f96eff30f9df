#ifndef PGVAULT_SCHEMA_H
#define PGVAULT_SCHEMA_H

/* One catalog migration: schema/NNN_name.sql, applied when user_version < version. */
struct schema_migration {
    int version;
    const char *name;
    const char *sql;
};

/* Generated at build time from schema/NNN_name.sql files, sorted by version. */
extern const struct schema_migration schema_migrations[];
extern const int schema_migration_count;

#endif
