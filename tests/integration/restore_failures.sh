#!/usr/bin/env bash
# Restores that fail or are stopped leave the original database as it was:
# (a) a --with-owners backup whose role has been dropped fails half-way
# through the load: non-zero exit, original unchanged, no leftover database, restores
# row 'failed' with the reason; (b) SIGTERM in the middle of the load: non-zero exit,
# original unchanged, no leftover, psql gone; (c) kill -9 in the middle of the load may
# leave a temporary database, which the next restore of that target drops before it
# succeeds; (d) sessions connected to the target are terminated at the swap and the
# restore succeeds; (e) a file whose gzip stream breaks half-way (or is cut short, or
# whose trailer's CRC-32 is wrong) but
# whose catalog row matches it (as after an import) fails the load with exit 3 naming
# the damage, and psql is stopped before its input ends, so that not even --in-place
# commits the rows read so far.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../harness/restore_helpers.sh
source "$(dirname "$TESTLIB")/restore_helpers.sh"
require_cmd sqlite3 pgbench timeout pgrep python3 xxhsum

ROLE=pgv_rf_owner
DB_OWN=pgv_rf_owners
DB_BIG=pgv_rf_big
DB_SESS=pgv_rf_sessions
DB_GZ=pgv_rf_gzip

# ---------------------------------------------------------------------------------
# (a) --with-owners backup, role dropped since: the load fails.
note "(a) --with-owners backup whose role was dropped"
REPO=$SCRATCH/repo_a
create_db "$DB_OWN"
psql_script postgres -v role="$ROLE" -v db="$DB_OWN" >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP ROLE IF EXISTS :"role";
CREATE ROLE :"role" NOLOGIN;
ALTER DATABASE :"db" OWNER TO :"role";
SQL
psql_script "$DB_OWN" -v role="$ROLE" >/dev/null <<'SQL'
CREATE SCHEMA app AUTHORIZATION :"role";
CREATE TABLE app.owned (id int PRIMARY KEY, v text);
ALTER TABLE app.owned OWNER TO :"role";
INSERT INTO app.owned SELECT g, 'o' || g FROM generate_series(1, 5000) g;
CREATE TABLE public.granted (a int);
INSERT INTO public.granted SELECT generate_series(1, 100);
GRANT SELECT, INSERT ON public.granted TO :"role";
CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
ALTER FUNCTION app.f() OWNER TO :"role";
SQL
run_pgvault backup -d "$REPO" --db "$DB_OWN" --with-owners
expect_rc 0 "backup --with-owners"
# The role goes; its objects stay, now owned by the superuser, and change a little.
psql_script "$DB_OWN" -v role="$ROLE" >/dev/null <<'SQL'
REASSIGN OWNED BY :"role" TO CURRENT_USER;
DROP OWNED BY :"role";
DELETE FROM app.owned WHERE id > 4000;
SQL
psql_script postgres -v role="$ROLE" >/dev/null <<'SQL'
DROP ROLE :"role";
SQL
FP=$(db_fingerprint "$DB_OWN")
run_pgvault restore -d "$REPO" -f --db "$DB_OWN" latest
note "  exit $RC: ${ERR%%$'\n'*}"
assert_ne "$RC" 0 "restore of a --with-owners backup whose role is gone"
expect_error_line "restore of a --with-owners backup whose role is gone"
assert_contains "$ERR" "$ROLE" "the error names the missing role"
# The message names the line of the statement in the dump and the statement, not the
# temporary database, and the hint survives every cleanup step between the failed load
# and the exit.
assert_match "${ERR%%$'\n'*}" "restore failed: line [0-9]+: role \"$ROLE\" does not exist on this server: ALTER [A-Z]+ " \
    "the error names the line, the role and the statement"
assert_not_contains "$ERR" "pgvault_tmp_" "the error names the temporary database"
assert_match "$ERR" $'\nHINT: [^\n]*@globals' "the restore's HINT line"
db_exists "$DB_OWN" || fail "(a) $DB_OWN is gone"
assert_eq "$(db_fingerprint "$DB_OWN")" "$FP" "(a) fingerprint of $DB_OWN (unchanged)"
expect_no_leftover_dbs "(a) failed load"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" status)" failed "(a) restores.status"
assert_contains "$(restore_col "$REPO" "$rid" detail)" "$ROLE" "(a) restores.detail"
assert_ne "$(restore_col "$REPO" "$rid" finished_at)" "" "(a) restores.finished_at"
assert_eq "$(catalog_q "$REPO" "SELECT outcome FROM events WHERE action = 'restore'
                                 ORDER BY id DESC LIMIT 1")" failed "(a) restore event"
# --in-place cannot keep the original, but must still fail non-zero.
# (not run: it drops the database by design)

# ---------------------------------------------------------------------------------
# A larger database for the interruptions.
note "building $DB_BIG (pgbench -s 10)"
t=$SECONDS
REPO=$SCRATCH/repo_big
create_db "$DB_BIG"
"$(client pgbench)" -q -i -s 10 "$DB_BIG" >"$SCRATCH/pgbench.log" 2>&1 ||
    fail "pgbench -i failed: $(tail -n 5 "$SCRATCH/pgbench.log")"
note "  built in $((SECONDS - t))s"
big_fp() {
    psql_q "$DB_BIG" "SELECT (SELECT count(*) || ':' || sum(abalance) || ':' || sum(hashtext(filler))
                              FROM pgbench_accounts) || '/' ||
                             (SELECT count(*) || ':' || sum(bbalance) FROM pgbench_branches) || '/' ||
                             (SELECT count(*) FROM pgbench_history) || '/' ||
                             (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class
                              WHERE relnamespace = 'public'::regnamespace)"
}
FP_BACKUP=$(big_fp)
t=$SECONDS
run_pgvault backup -d "$REPO" --db "$DB_BIG"
expect_rc 0 "backup of $DB_BIG"
note "  backup took $((SECONDS - t))s"
psql_q "$DB_BIG" "UPDATE pgbench_accounts SET abalance = 77 WHERE aid <= 5000;
                  INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
                  VALUES (1, 1, 1, 5, now()); CREATE TABLE after_backup (a int)" >/dev/null
FP_NOW=$(big_fp)
assert_ne "$FP_NOW" "$FP_BACKUP" "setup: $DB_BIG changed after the backup"

# start_restore: pgvault restore -f of $DB_BIG in the background; PID in $PV_PID.
start_restore() {
    "$PGVAULT_BIN" restore -d "$REPO" -f --db "$DB_BIG" latest \
        </dev/null >"$SCRATCH/bg.out" 2>"$SCRATCH/bg.err" &
    PV_PID=$!
}

# wait_gone TIMEOUT PID…: waits until none of the processes exists.
wait_gone() {
    local deadline=$((SECONDS + $1)) p alive
    shift
    while :; do
        alive=
        for p in "$@"; do
            if kill -0 "$p" 2>/dev/null; then alive+=" $p"; fi
        done
        [[ -z "$alive" ]] && return 0
        ((SECONDS < deadline)) || fail "process(es)$alive still running after $1 s"
        sleep 0.1
    done
}

# (b) SIGTERM while psql is loading.
note "(b) SIGTERM in the middle of the load"
start_restore
tmpdb=$(wait_for_load "$DB_BIG" 60)
register_db "$tmpdb"
kids=$(pgrep -P "$PV_PID" || true)
kill -TERM "$PV_PID"
t=$SECONDS
if wait "$PV_PID"; then rc=0; else rc=$?; fi
note "  loading into $tmpdb; pgvault exited $rc after TERM in $((SECONDS - t))s: $(head -n 1 "$SCRATCH/bg.err")"
assert_ne "$rc" 0 "exit code after SIGTERM"
((rc < 128)) || fail "pgvault died of the signal (exit $rc) instead of cleaning up"
# shellcheck disable=SC2086
[[ -z "$kids" ]] || wait_gone 10 $kids
db_exists "$DB_BIG" || fail "(b) $DB_BIG is gone"
assert_eq "$(big_fp)" "$FP_NOW" "(b) $DB_BIG after SIGTERM (unchanged)"
db_exists "$tmpdb" && fail "(b) temporary database $tmpdb left after SIGTERM"
expect_no_leftover_dbs "(b) SIGTERM"
rid=$(last_restore_id "$REPO")
assert_eq "$(restore_col "$REPO" "$rid" status)" failed "(b) restores.status after SIGTERM"

# (c) kill -9 while psql is loading: a temporary database may stay; the next restore
# drops it and succeeds.
note "(c) kill -9 in the middle of the load"
start_restore
tmpdb=$(wait_for_load "$DB_BIG" 60)
register_db "$tmpdb"
kids=$(pgrep -P "$PV_PID" || true)
kill -KILL "$PV_PID"
wait "$PV_PID" || true
# shellcheck disable=SC2086
[[ -z "$kids" ]] || wait_gone 60 $kids # psql, left alone, ends at end of input
assert_eq "$(big_fp)" "$FP_NOW" "(c) $DB_BIG after kill -9 (unchanged)"
if db_exists "$tmpdb"; then
    note "  kill -9 left $tmpdb (allowed)"
fi
stale=$(last_restore_id "$REPO")
t=$SECONDS
run_pgvault restore -d "$REPO" -f --db "$DB_BIG" latest
expect_rc 0 "restore after a kill -9"
note "  the next restore took $((SECONDS - t))s"
db_exists "$tmpdb" && fail "(c) the next restore did not drop $tmpdb"
expect_no_leftover_dbs "(c) restore after kill -9"
assert_eq "$(big_fp)" "$FP_BACKUP" "(c) $DB_BIG after the next restore (the backup's state)"
note "  restores row of the killed run: $(restore_col "$REPO" "$stale" status)"

# ---------------------------------------------------------------------------------
# (d) Sessions connected to the target are terminated at the swap.
note "(d) sessions connected to the target"
REPO=$SCRATCH/repo_d
create_db "$DB_SESS"
psql_q "$DB_SESS" "CREATE TABLE t AS SELECT generate_series(1, 1000) AS a" >/dev/null
FP_S=$(db_fingerprint "$DB_SESS")
run_pgvault backup -d "$REPO" --db "$DB_SESS"
expect_rc 0 "backup of $DB_SESS"
psql_q "$DB_SESS" "DELETE FROM t WHERE a > 10" >/dev/null
"$PSQL" -X -q -d "$DB_SESS" -c 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
S1=$!
# An idle-in-transaction session, fed through a FIFO that stays open until the end.
mkfifo "$SCRATCH/idle.fifo"
"$PSQL" -X -q -d "$DB_SESS" <"$SCRATCH/idle.fifo" >/dev/null 2>&1 &
S2=$!
exec 7>"$SCRATCH/idle.fifo"
printf 'BEGIN;\nSELECT count(*) FROM t;\n' >&7
deadline=$((SECONDS + 20))
until [[ $(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_SESS'") -ge 2 ]]; do
    ((SECONDS < deadline)) || fail "(d) the two sessions did not connect"
    sleep 0.1
done
t=$SECONDS
PGVAULT_TIMEOUT=60 run_pgvault restore -d "$REPO" -f --db "$DB_SESS" latest
expect_rc 0 "restore with sessions connected to the target"
note "  took $((SECONDS - t))s: $ERR"
assert_eq "$(db_fingerprint "$DB_SESS")" "$FP_S" "(d) $DB_SESS after the restore"
# The sessions were terminated (their psql ended long before pg_sleep(60) would).
wait_gone 10 "$S1"
exec 7>&- # psql of the idle session reads end of input and exits
wait_gone 10 "$S2"
wait "$S1" 2>/dev/null || true
wait "$S2" 2>/dev/null || true
assert_eq "$(psql_q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_SESS'")" 0 \
    "(d) sessions on $DB_SESS after the restore"
expect_no_leftover_dbs "(d) restore with sessions"

# ---------------------------------------------------------------------------------
# (e) The gzip stream breaks half-way, but the catalog row matches the file.
note "(e) gzip stream broken half-way, catalog matching the file"
REPO=$SCRATCH/repo_e
create_db "$DB_GZ"
psql_q "$DB_GZ" "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g" >/dev/null
run_pgvault backup -d "$REPO" --db "$DB_GZ"
expect_rc 0 "backup of $DB_GZ"
GZ_ID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'complete'")
GZ=$REPO/$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $GZ_ID")
cp -p "$GZ" "$SCRATCH/gz.good"
psql_q "$DB_GZ" "DELETE FROM t WHERE id > 1000" >/dev/null
FP_GZ=$(db_fingerprint "$DB_GZ")
# match_catalog: the catalog's size and checksum become the damaged file's.
match_catalog() {
    sqlite3 "$REPO/catalog.db" "UPDATE backups SET size_bytes = $(stat -c %s "$GZ"),
                                checksum = '$(xxh128 "$GZ")' WHERE id = $GZ_ID"
}
declare -A swap_rc=() swap_err=()
# crc: the gzip trailer's CRC-32 damaged, every byte of data intact (the sessions of a
# parallel restore read the data in parts; their CRC-32s, combined, must be the trailer's)
for damage in flip crc cut; do
    cp -p "$SCRATCH/gz.good" "$GZ"
    size=$(stat -c %s "$GZ")
    if [[ $damage == flip ]]; then
        flip_byte "$GZ" $((size / 2))
    elif [[ $damage == crc ]]; then
        flip_byte "$GZ" $((size - 6))
    else
        truncate -s $((size / 2)) "$GZ"
    fi
    match_catalog
    run_pgvault restore -d "$REPO" -f --db "$DB_GZ" "$GZ_ID"
    note "  $damage, safe swap: exit $RC: ${ERR%%$'\n'*}"
    assert_eq "$(db_fingerprint "$DB_GZ")" "$FP_GZ" "(e) $damage: $DB_GZ after the failed load (unchanged)"
    expect_no_leftover_dbs "(e) $damage: failed load"
    expect_error_line "(e) $damage"
    swap_rc[$damage]=$RC
    swap_err[$damage]=${ERR%%$'\n'*}

    run_pgvault restore -d "$REPO" -f --in-place --db "$DB_GZ" "$GZ_ID"
    note "  $damage, --in-place: exit $RC: ${ERR%%$'\n'*}"
    assert_ne "$RC" 0 "(e) $damage: --in-place restore of a broken stream"
    n=$(psql_q "$DB_GZ" "SELECT count(*) FROM t" 2>/dev/null || echo none)
    [[ $n == none ]] || fail "(e) $damage: --in-place committed $n rows of a broken stream"
    # put the database back for the next round
    create_db "$DB_GZ"
    psql_q "$DB_GZ" "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g" >/dev/null
    FP_GZ=$(db_fingerprint "$DB_GZ")
done
# An integrity failure (exit 3), and the error says what is wrong with
# the file, not only that psql was stopped.
for damage in flip crc cut; do
    assert_eq "${swap_rc[$damage]}" 3 "(e) $damage: exit code of a restore whose gzip stream breaks half-way"
    assert_match "${swap_err[$damage]}" '[Gg][Zz][Ii][Pp]|[Tt]runcated|[Cc]orrupt|inflate' \
        "(e) $damage: the error names the damage"
done

pass
