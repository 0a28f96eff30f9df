-- pgvault catalog, version 3: the database's locale provider, so that a restore
-- recreates an ICU database as ICU (PostgreSQL 15+).
ALTER TABLE backups ADD COLUMN locale_provider TEXT;   -- 'c' libc, 'i' ICU, NULL unknown
ALTER TABLE backups ADD COLUMN icu_locale TEXT;
