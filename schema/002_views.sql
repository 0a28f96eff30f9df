-- pgvault catalog, version 2: views for audit questions (pgvault query).
-- Additive only: views over the tables of version 1, nothing changed or dropped.
-- Times are ISO-8601 UTC text; ages are computed from the time the query runs.

-- The newest complete backup of each database, with its age in hours. (Per database, a
-- walk down the backups_db_time index: fast on a catalog of any size.)
--   pgvault query "SELECT db_name, file_name, age_hours FROM latest_backups"
CREATE VIEW latest_backups AS
SELECT b.id, b.db_name, b.file_name, b.started_at, b.finished_at, b.size_bytes, b.raw_bytes,
       b.table_count, b.row_count, b.checksum, b.server_version, b.pinned, b.suspect, b.label,
       b.verified_at, b.origin,
       round((julianday('now') - julianday(b.started_at)) * 24, 1) AS age_hours
FROM (SELECT DISTINCT db_name FROM backups) d
JOIN backups b ON b.id = (SELECT x.id FROM backups x
                          WHERE x.db_name = d.db_name AND x.status = 'complete'
                          ORDER BY x.started_at DESC, x.id DESC LIMIT 1)
ORDER BY b.db_name;

-- The row count of every table in every backup that recorded tables (complete, pruned,
-- missing), oldest first per table, with the change since that table's previous backup.
--   pgvault query "SELECT started_at, row_count, row_change FROM table_history
--                  WHERE db_name = 'shop' AND table_name = 'orders'"
CREATE VIEW table_history AS
SELECT b.db_name, t.schema_name, t.table_name, t.relkind, b.id AS backup_id, b.started_at,
       b.status, t.row_count,
       t.row_count - lag(t.row_count) OVER (PARTITION BY b.db_name, t.schema_name, t.table_name
                                            ORDER BY b.started_at, b.id) AS row_change
FROM backup_tables t
JOIN backups b ON b.id = t.backup_id;

-- Every restore with the backup it used, newest first, and how long it took.
--   pgvault query "SELECT started_at, target_db, status, file_name FROM restore_history"
CREATE VIEW restore_history AS
SELECT r.id, r.started_at, r.finished_at,
       round((julianday(r.finished_at) - julianday(r.started_at)) * 86400, 1) AS duration_s,
       r.status, r.mode, r.target_db, r.tables_checked, r.rows_checked, r.detail,
       b.id AS backup_id, b.db_name, b.file_name, b.started_at AS backup_started_at,
       b.origin AS backup_origin
FROM restores r
JOIN backups b ON b.id = r.backup_id
ORDER BY r.started_at DESC, r.id DESC;

-- One line per database: how many backups of each status, the newest complete one, the
-- last failure, and the bytes its complete backups occupy in the repository.
--   pgvault query "SELECT * FROM database_summary"
CREATE VIEW database_summary AS
SELECT db_name,
       sum(status = 'complete') AS complete,
       sum(status = 'failed') AS failed,
       sum(status = 'pruned') AS pruned,
       sum(status = 'missing') AS missing,
       max(CASE WHEN status = 'complete' THEN started_at END) AS last_complete_at,
       max(CASE WHEN status = 'failed' THEN started_at END) AS last_failed_at,
       sum(CASE WHEN status = 'complete' THEN size_bytes ELSE 0 END) AS stored_bytes
FROM backups
GROUP BY db_name;
