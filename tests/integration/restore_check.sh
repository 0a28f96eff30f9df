#!/usr/bin/env bash
# The count check after the load says what really went wrong, on a cluster of its own
# (it creates a role): (a) a table of the catalog that the load did not create is
# "missing", exit 3; (b) a table that is there but whose count(*) fails (the restoring
# role, not a superuser, may not read it) fails with the server's reason and exit 1,
# never as a missing table. Both leave the original untouched and nothing behind.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3
private_cluster

ROLE=pgv_chk_owner
DB=pgv_chk
REPO=$SCRATCH/repo
psql_script postgres -v role="$ROLE" >/dev/null <<'SQL'
CREATE ROLE :"role" LOGIN CREATEDB;
SQL
create_db "$DB"
psql_script postgres -v role="$ROLE" -v db="$DB" >/dev/null <<'SQL'
ALTER DATABASE :"db" OWNER TO :"role";
SQL
# The owner's tables; it gave up reading one of them (owners may revoke their own rights).
PGUSER=$ROLE psql_script "$DB" -v role="$ROLE" >/dev/null <<'SQL'
CREATE TABLE open_t (a int);
INSERT INTO open_t SELECT generate_series(1, 100);
CREATE TABLE closed_t (a int);
INSERT INTO closed_t SELECT generate_series(1, 10);
REVOKE SELECT ON closed_t FROM :"role";
SQL
run_pgvault backup -d "$REPO" --db "$DB" --with-owners
expect_rc 0 "backup --with-owners"
BID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
psql_q "$DB" "DELETE FROM open_t WHERE a > 50" >/dev/null
FP=$(db_fingerprint "$DB")

# (a) The catalog lists a table that the dump does not create: missing, exit 3.
note "(a) a table of the catalog that the load does not create"
catalog_q "$REPO" "UPDATE backup_tables SET table_name = 'gone_t'
                   WHERE backup_id = $BID AND table_name = 'open_t'"
run_pgvault restore -d "$REPO" -f --db "$DB" "$BID"
note "  exit $RC: ${ERR%%$'\n'*}"
expect_rc 3 "restore whose catalog names a table the load does not create"
expect_error_line "restore with a missing table"
assert_contains "${ERR%%$'\n'*}" "table public.gone_t of the backup is missing after the load" \
    "the error names the missing table"
assert_eq "$(db_fingerprint "$DB")" "$FP" "(a) $DB after the failed restore (unchanged)"
expect_no_leftover_dbs "(a) missing table"
catalog_q "$REPO" "UPDATE backup_tables SET table_name = 'open_t'
                   WHERE backup_id = $BID AND table_name = 'gone_t'"

# (b) The restoring role may not read closed_t: its count fails, and says why.
note "(b) a table whose count(*) is refused"
PGUSER=$ROLE run_pgvault restore -d "$REPO" -f --db "$DB" "$BID"
note "  exit $RC: ${ERR%%$'\n'*}"
expect_rc 1 "restore whose count(*) of a table is refused"
expect_error_line "restore whose count(*) of a table is refused"
assert_not_contains "$ERR" "missing" "a table that is there is reported missing"
assert_contains "${ERR%%$'\n'*}" "permission denied" "the error keeps the server's reason"
assert_contains "${ERR%%$'\n'*}" "closed_t" "the error names the table"
assert_eq "$(db_fingerprint "$DB")" "$FP" "(b) $DB after the failed restore (unchanged)"
expect_no_leftover_dbs "(b) refused count"
RID=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$RID" status)" failed "(b) restores.status"

pass
