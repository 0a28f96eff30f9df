#!/usr/bin/env bash
# The key proof of a backup: a database full of hostile content (every common type,
# identifiers that look like SQL or hold quotes, tabs, newlines and dots, text that
# looks like COPY framing or the dump trailer, 50 MB and 10 MB values, partitions,
# inheritance, large objects …) is backed up; the file is exactly one well-named,
# private gzip file that restores into a database whose dump equals the original's;
# the catalog's sizes, checksums, table count and per-table row counts are the truth.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
require_cmd xxhsum gzip gunzip sqlite3 cmp diff

DB=pgv_hostile
NEWDB=pgv_hostile_restored
REPO=$SCRATCH/repo

# 1. Build the database.
note "building $DB"
create_db "$DB"
build_start=$SECONDS
build_hostile_db "$DB"
note "built in $((SECONDS - build_start))s"

# 2. Back it up.
note "pgvault backup -d REPO --db $DB"
t0=$(date -u +%s)
backup_start=$SECONDS
run_pgvault backup -d "$REPO" --db "$DB"
t1=$(date -u +%s)
expect_rc 0 "backup of the hostile database"
note "backup took $((SECONDS - backup_start))s"

# 3. Exactly one private, well-named file; no leftovers.
files=()
while IFS= read -r f; do
    case "$f" in
        catalog.db | catalog.db-wal | catalog.db-shm | catalog.db-journal | .lock | .locks) ;;
        *.partial) fail "partial file left in the repository: $f" ;;
        *.sql.gz) files+=("$f") ;;
        *) fail "unexpected file in the repository: [$f]" ;;
    esac
done < <(repo_files "$REPO")
assert_eq "${#files[@]}" 1 "number of dump files in the repository"
name=${files[0]}
assert_match "$name" "^${DB}_[0-9]{8}_[0-9]{6}\\.sql\\.gz\$" "dump file name"
stamp=${name#"${DB}_"}
stamp=${stamp%.sql.gz}
stamp_epoch=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:9:2}:${stamp:11:2}:${stamp:13:2}" +%s) ||
    fail "file name time $stamp is not a valid date"
if ((stamp_epoch < t0 - 1 || stamp_epoch > t1 + 1)); then
    fail "file name time $stamp is not the UTC time of the backup ($(date -u -d "@$t0" +%Y%m%d_%H%M%S)..$(date -u -d "@$t1" +%Y%m%d_%H%M%S))"
fi
FILE=$REPO/$name
assert_eq "$(file_mode "$FILE")" 600 "mode of $name"
assert_eq "$(file_mode "$REPO")" 700 "mode of the repository pgvault created"
assert_eq "$(file_mode "$REPO/catalog.db")" 600 "mode of catalog.db"

# 4. A valid gzip file.
gzip -t "$FILE" || fail "gzip -t $name failed"

# 5. It restores into a new database whose dump equals the original's.
note "restoring into $NEWDB"
create_db "$NEWDB"
restore_start=$SECONDS
if ! gunzip -c "$FILE" |
        "$PSQL" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$NEWDB" \
            >"$SCRATCH/restore.out" 2>"$SCRATCH/restore.err"; then
    fail "restoring $name with psql failed:
$(head -c 4000 "$SCRATCH/restore.err")"
fi
note "restore took $((SECONDS - restore_start))s"
normalized_dump "$DB" "$SCRATCH/orig.sql"
normalized_dump "$NEWDB" "$SCRATCH/restored.sql"
if ! cmp -s "$SCRATCH/orig.sql" "$SCRATCH/restored.sql"; then
    fail "pg_dump of $DB and of its restored copy differ:
$(diff "$SCRATCH/orig.sql" "$SCRATCH/restored.sql" | cut -c 1-300 | head -n 60)"
fi

# 6. The catalog row tells the truth about the file.
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" 1 "backups rows"
id=$(catalog_q "$REPO" "SELECT id FROM backups")
bk() { catalog_q "$REPO" "SELECT $1 FROM backups WHERE id = $id"; }
assert_eq "$(bk status)" complete "status"
assert_eq "$(bk db_name)" "$DB" "db_name"
assert_eq "$(bk file_name)" "$name" "file_name"
assert_eq "$(bk compression)" gzip "compression"
assert_eq "$(bk "coalesce(error, '')")" "" "error of a complete backup"
assert_ne "$(bk "coalesce(finished_at, '')")" "" "finished_at"
assert_eq "$(bk size_bytes)" "$(stat -c %s "$FILE")" "size_bytes"
assert_eq "$(bk checksum)" "$(xxh128 "$FILE")" "checksum (xxhsum -H2 of the file)"
assert_eq "$(bk raw_checksum)" "$(gunzip -c "$FILE" | xxh128)" "raw_checksum"
assert_eq "$(bk raw_bytes)" "$(gunzip -c "$FILE" | wc -c)" "raw_bytes"

user_tables="
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'"
assert_eq "$(bk table_count)" "$(psql_q "$DB" "SELECT count(*) $user_tables")" "table_count"

# 7. Every table's row count in backup_tables equals the database's (ONLY for plain
#    tables, the whole tree for partitioned ones), and every table is there. The
#    names travel as hex so that no quoting can go wrong; the server quotes them.
values=
while IFS= read -r line; do
    [[ "$line" =~ ^([0-9A-F]*),([0-9A-F]*),([0-9A-F]*),(-?[0-9]+)$ ]] ||
        fail "unexpected backup_tables row: [$line]"
    values+="${values:+,}
 (convert_from('\\x${BASH_REMATCH[1]}'::bytea, 'UTF8'), convert_from('\\x${BASH_REMATCH[2]}'::bytea, 'UTF8'), convert_from('\\x${BASH_REMATCH[3]}'::bytea, 'UTF8'), ${BASH_REMATCH[4]}::bigint)"
done < <(catalog_q "$REPO" "SELECT hex(schema_name) || ',' || hex(table_name) || ',' ||
                                   hex(relkind) || ',' || row_count
                            FROM backup_tables WHERE backup_id = $id")
[[ -n "$values" ]] || fail "backup_tables has no rows for backup $id"
mismatches=$(psql_script "$DB" <<SQL
CREATE FUNCTION pg_temp.rows_of(s name, t name, kind "char") RETURNS bigint
LANGUAGE plpgsql AS \$\$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s %I.%I',
                   CASE WHEN kind = 'p' THEN '' ELSE 'ONLY' END, s, t) INTO n;
    RETURN n;
END
\$\$;
WITH cat (s, t, kind, n) AS (VALUES $values),
     db AS (SELECT n.nspname::text AS s, c.relname::text AS t, c.relkind::text AS kind,
                   pg_temp.rows_of(n.nspname, c.relname, c.relkind) AS n
            $user_tables)
SELECT CASE
         WHEN cat.s IS NULL THEN format('%I.%I (%s rows) is missing from backup_tables', db.s, db.t, db.n)
         WHEN db.s IS NULL THEN format('backup_tables has %I.%I (%s rows), which is not a table of the database', cat.s, cat.t, cat.n)
         WHEN cat.n IS DISTINCT FROM db.n THEN format('%I.%I: backup_tables says %s rows, the database has %s', db.s, db.t, cat.n, db.n)
         ELSE format('%I.%I: backup_tables says relkind %s, the database %s', db.s, db.t, cat.kind, db.kind)
       END
FROM cat FULL JOIN db ON cat.s = db.s AND cat.t = db.t
WHERE cat.s IS NULL OR db.s IS NULL OR cat.n IS DISTINCT FROM db.n
   OR cat.kind IS DISTINCT FROM db.kind
ORDER BY 1;
SQL
)
[[ -z "$mismatches" ]] || fail "backup_tables disagrees with the database:
$mismatches"

# 8. list shows the backup, and only for its own database (no prefix match).
run_pgvault list -d "$REPO"
expect_rc 0 "list"
assert_contains "$OUT" "$name" "list output"
run_pgvault list -d "$REPO" --db "${DB%?}"
expect_rc 0 "list --db ${DB%?}"
assert_not_contains "$OUT" "$name" "list --db ${DB%?} (a prefix of $DB)"
run_pgvault list -d "$REPO" --db "${DB}_other"
expect_rc 0 "list --db ${DB}_other"
assert_not_contains "$OUT" "$name" "list --db ${DB}_other"

pass
