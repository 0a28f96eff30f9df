-- pgvault catalog, version 5: access points, where a reader can start decompressing a
-- backup file without reading what comes before (a table's data, or a row boundary
-- inside a large table's data).

CREATE TABLE access_points (
    backup_id   INTEGER NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,  -- 0, 1, … in file order
    schema_name TEXT,              -- the COPY's schema (unquoted), NULL if none named
    table_name  TEXT    NOT NULL,  -- unquoted
    statement   TEXT    NOT NULL,  -- the whole "COPY … FROM stdin;" statement of that table
    raw_offset  INTEGER NOT NULL,  -- first byte of the part in the uncompressed dump
    raw_bytes   INTEGER NOT NULL,  -- bytes of the part: whole rows, never the "\." line
    comp_offset INTEGER NOT NULL,  -- where decompression starts, in the compressed stream
    line        INTEGER NOT NULL,  -- the dump's line number (1-based) of the part's first byte
    rows_before INTEGER NOT NULL,  -- rows of the table before the part
    rows        INTEGER NOT NULL,  -- rows in the part
    -- where the table's data ends: the byte after its "\." line, where decompression can
    -- start again (a restore that loads the table elsewhere reads on from there); -1
    -- when the file has no such point
    end_raw_offset  INTEGER NOT NULL DEFAULT -1,
    end_comp_offset INTEGER NOT NULL DEFAULT -1,
    end_line        INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (backup_id, seq)
);
