#!/usr/bin/env bash
# The parallel restore from access points: (a) the hostile database (plus a large table
# with indexes and a foreign key to it) round-trips identically at --jobs 1 and at
# --jobs 4 (pg_dump comparison); (b) the large table, split over many access points, is
# loaded by several sessions at once (seen in pg_stat_progress_copy) with exact counts;
# restore --json says how many sessions and where the time went; (c) a loading session
# killed in the middle of its COPY fails the restore: the original is kept, no
# temporary database is left; (d) a backup with a part that does not match its
# recorded row count fails, naming the table; (e) access points that do not match the
# file (the main session reads around the tables' data, from their end points) fail the
# restore with exit 3 before the swap.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
# shellcheck source=SCRIPTDIR/../harness/hostile_db.sh
source "$(dirname "$TESTLIB")/hostile_db.sh"
require_cmd sqlite3 gzip

DB=pgv_rp_src
T1=pgv_rp_t1
T4=pgv_rp_t4
REPO=$SCRATCH/repo
CONF=$SCRATCH/pgvault.conf
create_db "$DB"
register_db "$T1"
register_db "$T4"
build_hostile_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE huge (id int PRIMARY KEY, v text NOT NULL, w int);
INSERT INTO huge SELECT g, repeat('x', 60) || g, g % 97 FROM generate_series(1, 300000) g;
CREATE INDEX huge_w ON huge (w);
CREATE UNIQUE INDEX huge_v ON huge (v);
CREATE TABLE huge_ref (id int PRIMARY KEY, huge_id int REFERENCES huge (id));
INSERT INTO huge_ref SELECT g, g * 3 FROM generate_series(1, 20000) g;
SQL
printf 'access_point_interval = 64kB\n' >"$CONF"
pgv() { run_pgvault --config "$CONF" -d "$REPO" "$@"; }

pgv backup --db "$DB" --no-prune
expect_rc 0 "backup of $DB"
BID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
parts=$(catalog_q "$REPO" "SELECT count(*) FROM access_points WHERE backup_id = $BID AND table_name = 'huge'")
((parts >= 100)) || fail "the large table has $parts access points, 100 or more expected"

# (a) one session, then four: the same database both times
note "(a) --jobs 1 and --jobs 4"
pgv restore -f --target "$T1" --jobs 1 "$BID" --json
expect_rc 0 "restore --jobs 1"
assert_eq "$(json_get "$OUT" 'd["jobs"]')" 1 "restore --jobs 1: sessions in the JSON"
same_dump "$DB" "$T1" "(a) --jobs 1"

# (b) while the four-session restore runs, two sessions or more copy into one table of
# its temporary database at one moment
TMPDB=pgvault_tmp_$(pgv_tag "$T4")
register_db "$TMPDB"
"$PGVAULT_BIN" --config "$CONF" -d "$REPO" restore -f --target "$T4" --jobs 4 "$BID" --json \
    </dev/null >"$SCRATCH/r4.out" 2>"$SCRATCH/r4.err" &
r4=$!
most=0
while kill -0 "$r4" 2>/dev/null; do
    n=$(psql_q postgres "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c
                         FROM pg_catalog.pg_stat_progress_copy p
                         JOIN pg_catalog.pg_database d ON d.oid = p.datid
                         WHERE d.datname = '$TMPDB' GROUP BY p.relid) x" 2>/dev/null || echo 0)
    ((n > most)) && most=$n
    ((most >= 2)) && break
    sleep 0.02
done
rc=0
wait "$r4" || rc=$?
assert_eq "$rc" 0 "restore --jobs 4 (stderr: $(cat "$SCRATCH/r4.err"))"
((most >= 2)) || fail "(b) at most $most session(s) were seen loading one table at once"
out=$(cat "$SCRATCH/r4.out")
assert_eq "$(json_get "$out" 'd["jobs"]')" 4 "restore --jobs 4: sessions in the JSON"
assert_eq "$(json_get "$out" 'sorted(d["timings"])')" \
    "['check_s', 'data_s', 'drop_s', 'post_data_s', 'pre_data_s', 'swap_s']" "the timings"
assert_eq "$(json_get "$out" 'd["timings"]["data_s"] > 0')" true "the data took some time"
same_dump "$DB" "$T4" "(a) --jobs 4"
assert_eq "$(psql_q "$T4" "SELECT count(*), sum(id) FROM huge")" "300000|45000150000" \
    "(b) rows of the large table"
expect_no_leftover_dbs "(a, b) restores"

# (c) a loading session killed in the middle of its COPY: stopped while it copies, told
# to terminate, let go; the restore fails, the original stays, nothing is left
note "(c) a loading session killed mid-load"
psql_q "$T4" "INSERT INTO huge_ref VALUES (0, NULL)" >/dev/null
before=$(db_fingerprint "$T4")
"$PGVAULT_BIN" --config "$CONF" -d "$REPO" restore -f --target "$T4" --jobs 4 "$BID" \
    </dev/null >"$SCRATCH/rk.out" 2>"$SCRATCH/rk.err" &
rk=$!
copier() {
    pid=$(psql_q postgres "SELECT p.pid FROM pg_catalog.pg_stat_progress_copy p
                           JOIN pg_catalog.pg_database d ON d.oid = p.datid
                           WHERE d.datname = '$TMPDB' LIMIT 1")
    [[ "$pid" =~ ^[0-9]+$ ]]
}
wait_until "a session copying into $TMPDB" copier
kill -STOP "$pid"
psql_q postgres "SELECT pg_terminate_backend($pid)" >/dev/null
kill -CONT "$pid"
rc=0
wait "$rk" || rc=$?
ERR=$(cat "$SCRATCH/rk.err")
assert_eq "$rc" 1 "exit code of the restore whose session was killed (stderr: $ERR)"
expect_error_line "(c) the restore whose session was killed"
assert_eq "$(db_fingerprint "$T4")" "$before" "(c) the original after the failed restore"
expect_no_leftover_dbs "(c) the failed restore"

# (d) a part whose rows are not what the catalog says: the restore fails, naming the table
note "(d) a part with the wrong row count"
sqlite3 "$REPO/catalog.db" "UPDATE access_points SET rows = rows + 1
                            WHERE backup_id = $BID AND table_name = 'huge' AND seq =
                            (SELECT min(seq) + 5 FROM access_points
                             WHERE backup_id = $BID AND table_name = 'huge')"
pgv restore -f --target "$T4" --jobs 2 "$BID"
expect_rc 3 "a part with the wrong row count"
expect_error_line "a part with the wrong row count"
assert_contains "$ERR" "huge" "the error names the table"
assert_eq "$(db_fingerprint "$T4")" "$before" "(d) the original after the failed restore"
expect_no_leftover_dbs "(d) the failed restore"
sqlite3 "$REPO/catalog.db" "UPDATE access_points SET rows = rows - 1
                            WHERE backup_id = $BID AND table_name = 'huge' AND seq =
                            (SELECT min(seq) + 5 FROM access_points
                             WHERE backup_id = $BID AND table_name = 'huge')"

# (e) the first part of the large table said to start one byte early: the main session
# does not reach the start of its COPY data there
note "(e) access points that do not match the file"
sqlite3 "$REPO/catalog.db" "UPDATE access_points SET raw_offset = raw_offset - 1
                            WHERE backup_id = $BID AND table_name = 'huge' AND rows_before = 0"
pgv restore -f --target "$T4" --jobs 2 "$BID"
expect_rc 3 "access points that do not match the file"
expect_error_line "access points that do not match the file"
assert_contains "$ERR" "does not match its access points" "the error says why"
assert_eq "$(db_fingerprint "$T4")" "$before" "(e) the original after the failed restore"
expect_no_leftover_dbs "(e) the failed restore"

pass
