#!/usr/bin/env bash
# The key proof of a restore: the hostile database (see harness/hostile_db.sh), with
# ALTER DATABASE … SET settings (a search_path list among them), is backed up, then
# damaged (rows deleted, a table dropped, a table added, settings changed); `pgvault
# restore -f latest` brings back a database whose pg_dump equals the original's, with
# the original settings and comment, no temporary or replaced database left over, and
# the restore recorded in the catalog (restores row with the counts checked and the
# backup's row total, partitioned tables not counted on top of their partitions, an
# audit event with the OS user). A second restore of the same database works too.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 cmp diff python3

DB=pgv_rt_hostile
REPO=$SCRATCH/repo

# 1. The original: hostile content, database settings and a comment.
note "building $DB"
t=$SECONDS
create_db "$DB"
build_hostile_db "$DB"
psql_script postgres -v db="$DB" >/dev/null <<'SQL'
ALTER DATABASE :"db" SET search_path = "my schema", public, "$user", "Weird ""Schema""";
ALTER DATABASE :"db" SET work_mem = '64MB';
ALTER DATABASE :"db" SET "DateStyle" = 'SQL, DMY';
ALTER DATABASE :"db" SET pgv.custom = 'it''s, a "list"';
COMMENT ON DATABASE :"db" IS 'the hostile database';
SQL
note "built in $((SECONDS - t))s"
normalized_dump "$DB" "$SCRATCH/orig.sql"
db_settings "$DB" >"$SCRATCH/orig.settings"
[[ $(wc -l <"$SCRATCH/orig.settings") -eq 4 ]] ||
    fail "setup: expected 4 database settings, got: $(cat "$SCRATCH/orig.settings")"

# 2. Back it up.
t=$SECONDS
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of $DB"
note "backup took $((SECONDS - t))s"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
[[ -n "$BID" ]] || fail "no complete backup in the catalog"

# 3. Damage it: rows deleted, a table dropped, a table added, settings changed.
psql_script "$DB" >/dev/null <<'SQL'
DELETE FROM hostile_text WHERE id > 5 AND id NOT IN (SELECT ref FROM ident WHERE ref IS NOT NULL);
DELETE FROM measurements WHERE region = 'eu';
DROP TABLE "Weird ""Schema"""."Weird ""Name""";
DROP TABLE lookalike;
CREATE TABLE public.added_after_backup (a int);
INSERT INTO public.added_after_backup VALUES (1), (2);
UPDATE "my schema".x SET a = -a;
SQL
psql_script postgres -v db="$DB" >/dev/null <<'SQL'
ALTER DATABASE :"db" RESET work_mem;
ALTER DATABASE :"db" SET lock_timeout = '3s';
SQL
normalized_dump "$DB" "$SCRATCH/damaged.sql"
if cmp -s "$SCRATCH/orig.sql" "$SCRATCH/damaged.sql"; then
    fail "setup: the damage did not change the dump"
fi

# 4. Restore the latest backup.
note "pgvault restore -f latest --db $DB"
t=$SECONDS
run_pgvault restore -d "$REPO" -f --db "$DB" latest
expect_rc 0 "restore -f latest"
note "restore took $((SECONDS - t))s"

# 5. The database equals the original; settings survived; nothing left behind.
db_exists "$DB" || fail "database $DB does not exist after the restore"
normalized_dump "$DB" "$SCRATCH/restored.sql"
if ! cmp -s "$SCRATCH/orig.sql" "$SCRATCH/restored.sql"; then
    fail "pg_dump of the original and of the restored $DB differ:
$(diff "$SCRATCH/orig.sql" "$SCRATCH/restored.sql" | cut -c 1-300 | head -n 60)"
fi
assert_eq "$(db_settings "$DB")" "$(cat "$SCRATCH/orig.settings")" \
    "ALTER DATABASE settings after the restore"
# The search_path list is still a list of four schemas, not one quoted string.
# shellcheck disable=SC2016
assert_eq "$("$PSQL" -X -At -d "$DB" -c 'SHOW search_path')" \
    '"my schema", public, "$user", "Weird ""Schema"""' "search_path in a new session"
assert_eq "$(psql_q "$DB" "SELECT count(*) FROM x")" 9 \
    "unqualified x resolves through the restored search_path to \"my schema\".x"
expect_no_leftover_dbs "restore -f latest"

# 6. The catalog: a complete restores row with the counts checked, an audit event.
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM restores")" 1 "restores rows"
RID=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$RID" status)" complete "restores.status"
assert_eq "$(restore_col "$REPO" "$RID" backup_id)" "$BID" "restores.backup_id"
assert_eq "$(restore_col "$REPO" "$RID" target_db)" "$DB" "restores.target_db"
assert_match "$(restore_col "$REPO" "$RID" started_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
    "restores.started_at"
assert_match "$(restore_col "$REPO" "$RID" finished_at)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
    "restores.finished_at"
assert_eq "$(restore_col "$REPO" "$RID" "finished_at >= started_at")" 1 \
    "restores.finished_at >= started_at"
assert_eq "$(restore_col "$REPO" "$RID" tables_checked)" \
    "$(catalog_q "$REPO" "SELECT count(*) FROM backup_tables WHERE backup_id = $BID")" \
    "restores.tables_checked (every table of the backup)"
assert_eq "$(restore_col "$REPO" "$RID" tables_checked)" \
    "$(catalog_q "$REPO" "SELECT table_count FROM backups WHERE id = $BID")" \
    "restores.tables_checked (the backup's table_count)"
# The rows of the backup (a partitioned table's rows are its partitions', not counted
# twice): the same total in the restores row, the backup's row_count and the summary.
BROWS=$(catalog_q "$REPO" "SELECT row_count FROM backups WHERE id = $BID")
assert_eq "$BROWS" \
    "$(catalog_q "$REPO" "SELECT sum(row_count) FROM backup_tables WHERE backup_id = $BID
                          AND relkind <> 'p'")" "setup: the backup's row_count"
assert_ne "$(catalog_q "$REPO" "SELECT count(*) FROM backup_tables WHERE backup_id = $BID
                                AND relkind = 'p' AND row_count > 0")" 0 \
    "setup: partitioned tables with rows in the backup"
assert_eq "$(restore_col "$REPO" "$RID" rows_checked)" "$BROWS" "restores.rows_checked"
assert_contains "$OUT" " tables and $BROWS rows checked against the catalog" \
    "the restore's summary line"
ev=$(catalog_q "$REPO" "SELECT backup_id || '|' || actor || '|' || outcome FROM events
                         WHERE action = 'restore'")
assert_eq "$ev" "$BID|$(id -un)|ok" "the restore's audit event (backup_id|actor|outcome)"

# 7. Restoring the same database again works, and still gives the original.
note "restoring $DB a second time"
psql_q "$DB" "DELETE FROM hostile_text WHERE id = 3" >/dev/null
run_pgvault restore -d "$REPO" -f --db "$DB" latest
expect_rc 0 "second restore -f latest"
db_exists "$DB" || fail "database $DB does not exist after the second restore"
normalized_dump "$DB" "$SCRATCH/restored2.sql"
if ! cmp -s "$SCRATCH/orig.sql" "$SCRATCH/restored2.sql"; then
    fail "pg_dump of the original and of $DB after a second restore differ:
$(diff "$SCRATCH/orig.sql" "$SCRATCH/restored2.sql" | cut -c 1-300 | head -n 40)"
fi
expect_no_leftover_dbs "second restore"

# 8. The database's comment is the original's (pg_dump without --create omits it).
assert_eq "$(psql_q postgres "SELECT coalesce(shobj_description(oid, 'pg_database'), '<none>')
                              FROM pg_database WHERE datname = '$DB'")" \
    "the hostile database" "comment on the restored database"

pass
