-- pgvault catalog, version 4: encryption at rest, off-site copies, proven restores.

-- How the stored file is encrypted: 'none', 'age' (age v1, X25519) or 'openpgp'.
ALTER TABLE backups ADD COLUMN encryption TEXT NOT NULL DEFAULT 'none';
-- The recipients it was encrypted to, one a line ("age1…" or an OpenPGP fingerprint).
ALTER TABLE backups ADD COLUMN recipients TEXT;
-- Last successful test restore (mode 'test' in restores).
ALTER TABLE backups ADD COLUMN restore_tested_at TEXT;

-- One row per backup and remote (remote.NAME in the configuration).
CREATE TABLE copies (
    backup_id   INTEGER NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    remote      TEXT    NOT NULL,
    location    TEXT    NOT NULL,              -- the object key or remote path
    size_bytes  INTEGER,
    checksum    TEXT,                          -- XXH3-128 read back from the remote
    status      TEXT    NOT NULL
                CHECK (status IN ('running', 'complete', 'failed', 'pruned', 'missing')),
    copied_at   TEXT,
    verified_at TEXT,
    error       TEXT,
    PRIMARY KEY (backup_id, remote)
);
CREATE INDEX copies_remote ON copies (remote, status);

-- What pgvault last saw of each remote: for "not reached for --max-age" and metrics.
CREATE TABLE remotes (
    name           TEXT PRIMARY KEY,
    url            TEXT NOT NULL,
    last_ok_at     TEXT,
    last_error_at  TEXT,
    last_error     TEXT,
    snapshot_at    TEXT                        -- last catalog snapshot stored there
);
