#!/usr/bin/env bash
# pgvault query cannot change the catalog: every statement that writes (DML, DDL, ATTACH,
# writing PRAGMAs, VACUUM, transactions, several statements) exits 2 with one error line,
# and afterwards the catalog file is byte for byte the same, its .dump and row counts too,
# and no file appeared in the repository. Reading statements still work.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 sha256sum

DB=pgv_audit_ro
REPO=$SCRATCH/repo
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT g AS a FROM generate_series(1, 50) g" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB" --label keep
expect_rc 0 "backup"
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "second backup"

# Everything in the WAL goes into the main file first, so that its checksum stands for
# the whole catalog (a read-only connection can never checkpoint).
sqlite3 "$REPO/catalog.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null

# state: the file's checksum, the dump of its contents, the rows of every table, and the
# repository's file names.
state() {
    sha256sum "$REPO/catalog.db" | awk '{print $1}'
    sqlite3 "$REPO/catalog.db" .dump | sha256sum | awk '{print $1}'
    local t
    for t in backups backup_tables backup_settings restores events; do
        printf '%s=%s\n' "$t" "$(catalog_q "$REPO" "SELECT count(*) FROM $t")"
    done
    catalog_q "$REPO" "SELECT group_concat(pinned || label, ',') FROM backups"
    catalog_q "$REPO" "PRAGMA user_version"
    catalog_q "$REPO" "PRAGMA journal_mode"
    repo_files "$REPO" | grep -v -E '^catalog\.db-(wal|shm)$'
}
before=$(state)

WRITES=(
    "DELETE FROM backups"
    "DELETE FROM events WHERE 1"
    "UPDATE backups SET pinned = 1"
    "UPDATE backups SET status = 'pruned' WHERE id = 1"
    "INSERT INTO events (at, action, actor, outcome) VALUES ('x', 'x', 'x', 'x')"
    "INSERT INTO backups SELECT * FROM backups"
    "REPLACE INTO backup_settings (backup_id, setting) VALUES (1, 'a=b')"
    "WITH x AS (SELECT 1) DELETE FROM backup_tables"
    "DROP TABLE backups"
    "DROP VIEW latest_backups"
    "DROP INDEX backups_time"
    "ALTER TABLE backups ADD COLUMN x int"
    "ALTER TABLE backups RENAME TO b2"
    "CREATE TABLE x (a int)"
    "CREATE TEMP TABLE x (a int)"
    "CREATE VIEW v AS SELECT 1"
    "CREATE INDEX i ON backups (label)"
    "CREATE TRIGGER tr AFTER INSERT ON events BEGIN DELETE FROM backups; END"
    "ATTACH DATABASE '$REPO/attached.db' AS a"
    "ATTACH ':memory:' AS m"
    "DETACH DATABASE main"
    "PRAGMA user_version = 99"
    "PRAGMA main.user_version = 99"
    "PRAGMA schema_version = 1"
    "PRAGMA journal_mode = DELETE"
    "PRAGMA query_only = 0"
    "PRAGMA writable_schema = ON"
    "PRAGMA foreign_keys = OFF"
    "PRAGMA wal_checkpoint(TRUNCATE)"
    "PRAGMA incremental_vacuum"
    "PRAGMA optimize"
    "VACUUM"
    "VACUUM INTO '$REPO/copy.db'"
    "REINDEX"
    "ANALYZE"
    "BEGIN IMMEDIATE"
    "SAVEPOINT s"
    "SELECT 1; DELETE FROM backups"
    "SELECT 1; SELECT 2"
    "SELECT load_extension('/nonexistent/x.so')"
    "EXPLAIN DELETE FROM backups"
)
for sql in "${WRITES[@]}"; do
    run_pgvault query -d "$REPO" "$sql"
    expect_rc 2 "query \"$sql\""
    expect_error_line "query \"$sql\""
    [[ -z "$OUT" ]] || fail "query \"$sql\" printed on stdout: [$OUT]"
    for fmt in --json --csv; do
        run_pgvault query -d "$REPO" "$fmt" "$sql"
        expect_rc 2 "query $fmt \"$sql\""
    done
done

after=$(state)
if [[ "$before" != "$after" ]]; then
    fail "the catalog changed under pgvault query:
--- before ---
$before
--- after ---
$after"
fi
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" 2 "backups rows at the end"

# Reading still works, including reading PRAGMAs, a CTE, window functions and a trailing
# semicolon and comment.
READS=(
    "SELECT count(*) FROM backups"
    "WITH b AS (SELECT id FROM backups) SELECT max(id) FROM b;"
    "SELECT id, row_number() OVER (ORDER BY id) FROM backups -- trailing comment"
    "PRAGMA user_version"
    "PRAGMA table_info(backups)"
    "SELECT * FROM pragma_table_info('events')"
    "PRAGMA integrity_check"
    "EXPLAIN QUERY PLAN SELECT * FROM backups WHERE db_name = 'x'"
    "SELECT * FROM latest_backups"
)
for sql in "${READS[@]}"; do
    run_pgvault query -d "$REPO" "$sql"
    expect_rc 0 "query \"$sql\""
done
assert_eq "$(state)" "$before" "catalog state after the reading statements"

# A catalog that does not exist is not created by a query.
run_pgvault query -d "$SCRATCH/none" "SELECT 1"
expect_rc 2 "query of a repository without a catalog"
expect_error_line "query of a repository without a catalog"
[[ ! -e "$SCRATCH/none" ]] || fail "query created $SCRATCH/none"

pass
