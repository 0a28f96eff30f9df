-- pgvault catalog, version 1.
-- Applied by catalog.c inside one transaction; catalog.c sets PRAGMA user_version = 1.
-- Times are ISO-8601 UTC text ("2026-11-25T15:27:54.123Z").

CREATE TABLE backups (
    id              INTEGER PRIMARY KEY,
    db_name         TEXT    NOT NULL,
    file_name       TEXT    NOT NULL UNIQUE,   -- relative to the repository
    format          TEXT    NOT NULL DEFAULT 'plain',
    compression     TEXT    NOT NULL,          -- 'gzip' or 'none'
    compression_level INTEGER,
    size_bytes      INTEGER,                   -- of the file
    raw_bytes       INTEGER,                   -- of pg_dump's output
    checksum        TEXT,                      -- XXH3-128 of the file, as xxhsum -H2 prints it
    raw_checksum    TEXT,                      -- XXH3-128 of pg_dump's output
    checksum_algo   TEXT    NOT NULL DEFAULT 'XXH3-128',
    table_count     INTEGER,
    row_count       INTEGER,
    server_version  TEXT,
    pg_dump_version TEXT,
    db_size_bytes   INTEGER,                   -- pg_database_size at backup time
    encoding        TEXT,
    lc_collate      TEXT,
    lc_ctype        TEXT,
    with_owners     INTEGER NOT NULL DEFAULT 0,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    duration_ms     INTEGER,
    status          TEXT    NOT NULL
                    CHECK (status IN ('running', 'complete', 'failed', 'pruned', 'missing')),
    pinned          INTEGER NOT NULL DEFAULT 0,
    suspect         INTEGER NOT NULL DEFAULT 0,
    label           TEXT,
    error           TEXT,
    verified_at     TEXT,                      -- last successful verification
    pruned_at       TEXT,
    prune_rule      TEXT,
    pid             INTEGER,                   -- of the pgvault process that ran it
    host            TEXT,                      -- where that process ran
    origin          TEXT    NOT NULL DEFAULT 'backup'  -- 'backup' or 'import'
);
CREATE INDEX backups_db_time ON backups (db_name, started_at);
CREATE INDEX backups_status ON backups (status);
CREATE INDEX backups_time ON backups (started_at);

-- Row counts per table, from the COPY blocks of the dump (partitioned parents: the
-- sum of their partitions).
CREATE TABLE backup_tables (
    backup_id   INTEGER NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    schema_name TEXT    NOT NULL,
    table_name  TEXT    NOT NULL,
    relkind     TEXT    NOT NULL DEFAULT 'r',  -- 'r' table, 'p' partitioned table
    row_count   INTEGER NOT NULL,
    PRIMARY KEY (backup_id, schema_name, table_name)
);

-- The database's ALTER DATABASE … SET settings at backup time ("name=value").
CREATE TABLE backup_settings (
    backup_id   INTEGER NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    setting     TEXT    NOT NULL
);
CREATE INDEX backup_settings_backup ON backup_settings (backup_id);

CREATE TABLE restores (
    id             INTEGER PRIMARY KEY,
    backup_id      INTEGER NOT NULL REFERENCES backups (id),
    target_db      TEXT    NOT NULL,
    mode           TEXT    NOT NULL,           -- 'swap', 'target', 'in-place'
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
    tables_checked INTEGER,
    rows_checked   INTEGER,
    detail         TEXT
);

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    action    TEXT    NOT NULL,  -- backup, restore, verify, prune, pin, unpin, import, recover
    backup_id INTEGER,
    actor     TEXT    NOT NULL,  -- OS user
    outcome   TEXT    NOT NULL,  -- ok, failed, …
    detail    TEXT
);
CREATE INDEX events_at ON events (at);
