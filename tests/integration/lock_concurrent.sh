#!/usr/bin/env bash
# The repository's locks, never waited for: every writer (backup, restore, prune, pin,
# unpin) holds DIR/.lock shared, import holds it exclusive; backup, restore, prune and pin
# of database X hold X's lock (DIR/.locks/X.lock). A writer refused exits 4 at once,
# naming the holder's pid; readers (list, prune --dry-run) take no lock and work while a
# backup runs. A backup of Y never blocks a backup, restore, prune or pin of X, and crash
# recovery never marks a run or restore whose database is locked as failed.
# Two restores of one target never run at once, even from two repositories.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 flock

DB=pgv_lock
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g;
SQL
REPO=$SCRATCH/repo
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "first backup"
FIRST=$(catalog_q "$REPO" "SELECT max(id) FROM backups")


lock_held() {
    ! flock -n "$REPO/.lock" true
}

# expect_busy WHAT PID ARGS…: pgvault ARGS exits 4 within 2 s, naming PID.
expect_busy() {
    local what=$1 pid=$2 t0 t1
    shift 2
    t0=$(date +%s%N)
    run_pgvault "$@"
    t1=$(date +%s%N)
    expect_rc 4 "$what"
    expect_error_line "$what"
    assert_contains "${ERR%%$'\n'*}" "is busy: pgvault process $pid holds its lock" "$what"
    (((t1 - t0) / 1000000 < 2000)) || fail "$what took $(((t1 - t0) / 1000000)) ms: it waited"
}

# (a) Another process holds the lock (and wrote its pid, as pgvault does).
note "(a) lock held by another process"
# flock runs the command as its child; that child writes its pid and becomes sleep
: >"$REPO/.lock"
# shellcheck disable=SC2016
flock "$REPO/.lock" bash -c 'echo $$ >"$1"; exec sleep 60' _ "$REPO/.lock" &
flock_pid=$!
wait_until "the lock holder" lock_held
wait_until "the holder's pid" grep -qxE '[0-9]+' "$REPO/.lock"
holder=$(cat "$REPO/.lock")
assert_ne "$holder" "$$" "holder pid"
expect_busy "backup while locked" "$holder" backup -d "$REPO" --db "$DB"
expect_busy "prune while locked" "$holder" prune -d "$REPO"
expect_busy "pin while locked" "$holder" pin -d "$REPO" "$FIRST"
expect_busy "unpin while locked" "$holder" unpin -d "$REPO" "$FIRST"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups")" 1 "backups after refused writers"
# readers need no lock
run_pgvault list -d "$REPO"
expect_rc 0 "list while locked"
assert_contains "$OUT" "$(catalog_q "$REPO" "SELECT file_name FROM backups WHERE id = $FIRST")" \
    "list while locked"
run_pgvault prune -d "$REPO" --dry-run
expect_rc 0 "prune --dry-run while locked"
kill "$holder"
wait "$flock_pid" 2>/dev/null || true

# (b) Two real backups at once: the second exits 4 at once, naming the first pgvault.
note "(b) two concurrent backups"
FAKE=$SCRATCH/fake_slow
mkdir -p "$FAKE"
# a pg_dump that answers --version like 15.18 and writes a small dump slowly
cat >"$FAKE/pg_dump" <<'EOF'
#!/usr/bin/env bash
for a in "$@"; do
    case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac
done
cat <<'DUMP'
--
-- PostgreSQL database dump
--

CREATE TABLE public.t (
    a integer,
    b text
);

COPY public.t (a, b) FROM stdin;
DUMP
for i in $(seq 1 30); do
    printf '%d\trow %d\n' "$i" "$i"
    sleep 0.1
done
printf '\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n'
EOF
chmod 0755 "$FAKE/pg_dump"
PGVAULT_PG_BINDIR=$FAKE "$PGVAULT_BIN" backup -d "$REPO" --db "$DB" --no-prune \
    </dev/null >"$SCRATCH/bg.out" 2>"$SCRATCH/bg.err" &
first=$!
running() {
    [[ "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'running'")" == 1 ]]
}
wait_until "the first backup to start" running
expect_busy "second backup during a backup" "$first" backup -d "$REPO" --db "$DB"
expect_busy "prune during a backup" "$first" prune -d "$REPO"
run_pgvault list -d "$REPO" --all-status
expect_rc 0 "list during a backup"
assert_contains "$OUT" running "list during a backup shows the running row"
rc=0
wait "$first" || rc=$?
assert_eq "$rc" 0 "exit code of the first backup (stderr: $(cat "$SCRATCH/bg.err"))"
assert_eq "$(catalog_q "$REPO" "SELECT group_concat(status) FROM (SELECT status FROM backups ORDER BY id)")" \
    "complete,complete" "catalog after two concurrent backups"

# (c) The lock is released when the holder ends: the next writer goes through.
note "(c) after the holder ends"
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup after the lock was released"
run_pgvault pin -d "$REPO" "$FIRST"
expect_rc 0 "pin after the lock was released"

# (d) Two restores of the same target from two repositories: the repository locks do
# not see each other, the server-side lock on the target does. The second exits 4 at
# once, naming the target, and leaves the first's temporary database alone.
note "(d) two restores of one target from two repositories"
TGT=pgv_lock_target
create_db "$TGT"
psql_q "$TGT" "CREATE TABLE r AS SELECT generate_series(1, 2000000) AS a" >/dev/null
REPO1=$SCRATCH/repo_r1
REPO2=$SCRATCH/repo_r2
run_pgvault backup -d "$REPO1" --db "$TGT"
expect_rc 0 "backup of $TGT into the first repository"
run_pgvault backup -d "$REPO2" --db "$TGT"
expect_rc 0 "backup of $TGT into the second repository"
psql_q "$TGT" "DELETE FROM r WHERE a > 10" >/dev/null
# the first restore is held in the middle of its load: its server session, found by its
# COPY into the temporary database, is stopped (SIGSTOP) until the second has run
"$PGVAULT_BIN" restore -d "$REPO1" -f --db "$TGT" latest \
    </dev/null >"$SCRATCH/r1.out" 2>"$SCRATCH/r1.err" &
first=$!
TMPDB=pgvault_tmp_$(pgv_tag "$TGT")
register_db "$TMPDB"
tmp_exists() {
    [[ $(psql_q postgres "SELECT count(*) FROM pg_database WHERE datname = '$TMPDB'") == 1 ]]
}
# one of its loading sessions: connected to the temporary database (2 million rows take
# seconds to load, so it is stopped well before the end; the restore needs all of them)
loader_pid() {
    loader=$(psql_q postgres "SELECT pid FROM pg_catalog.pg_stat_activity WHERE datname = '$TMPDB' AND backend_type = 'client backend' ORDER BY pid LIMIT 1")
    [[ "$loader" =~ ^[0-9]+$ ]]
}
wait_until "the first restore's load" loader_pid
[[ "$loader" =~ ^[0-9]+$ ]] || fail "(d) no loading session of $TMPDB: $loader"
kill -STOP "$loader"
t0=$(date +%s%N)
run_pgvault restore -d "$REPO2" -f --db "$TGT" latest
t1=$(date +%s%N)
tmp_left=0
tmp_exists && tmp_left=1
kill -CONT "$loader"
note "  second restore: exit $RC: ${ERR%%$'\n'*}"
expect_rc 4 "a second restore of $TGT from another repository"
expect_error_line "a second restore of $TGT from another repository"
assert_contains "${ERR%%$'\n'*}" "\"$TGT\"" "the error names the target"
(((t1 - t0) / 1000000 < 5000)) || fail "(d) the second restore took $(((t1 - t0) / 1000000)) ms: it waited"
assert_eq "$tmp_left" 1 "(d) the first restore's temporary database $TMPDB, after the second"
rc=0
wait "$first" || rc=$?
assert_eq "$rc" 0 "exit code of the first restore (stderr: $(cat "$SCRATCH/r1.err"))"
assert_eq "$(psql_q "$TGT" "SELECT count(*) FROM r")" 2000000 "(d) rows of $TGT after the first restore"
tmp_exists && fail "(d) $TMPDB left behind"
# the lock goes with the restore: the next one goes through
run_pgvault restore -d "$REPO2" -f --db "$TGT" latest
expect_rc 0 "a restore of $TGT once the first is done"

# (e) Locks are per database: while a backup of Y runs (its pg_dump waits for a file),
#     a backup, a restore, a prune and a pin of X go through; Y and catalog-wide work are
#     busy; the recovery that X's commands run leaves Y's live row alone.
note "(e) per-database locks"
DBY=pgv_lock_y
create_db "$DBY"
HOLD=$SCRATCH/fake_hold
RELEASE=$SCRATCH/release_y
mkdir -p "$HOLD"
{
    printf '#!/usr/bin/env bash\n'
    printf 'for a in "$@"; do case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac; done\n'
    printf 'printf -- "--\\n-- PostgreSQL database dump\\n--\\n\\n"\n'
    printf 'while [[ ! -e %q ]]; do sleep 0.05; done\n' "$RELEASE"
    printf 'printf -- "--\\n-- PostgreSQL database dump complete\\n--\\n\\n"\n'
} >"$HOLD/pg_dump"
chmod 0755 "$HOLD/pg_dump"
PGVAULT_PG_BINDIR=$HOLD "$PGVAULT_BIN" backup -d "$REPO" --db "$DBY" --no-prune \
    </dev/null >"$SCRATCH/y.out" 2>"$SCRATCH/y.err" &
ypid=$!
y_running() {
    [[ "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE db_name = '$DBY' AND status = 'running'")" == 1 ]]
}
wait_until "the backup of $DBY to start" y_running
YID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE db_name = '$DBY' AND status = 'running'")

run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 0 "backup of X while Y is backed up"
XID=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE db_name = '$DB' AND status = 'complete'")
run_pgvault restore -d "$REPO" -f "$XID"
expect_rc 0 "restore of X while Y is backed up"
assert_eq "$(psql_q "$DB" "SELECT count(*) FROM t")" 100 "rows of X after its restore"
run_pgvault pin -d "$REPO" "$XID"
expect_rc 0 "pin of X while Y is backed up"
run_pgvault unpin -d "$REPO" "$XID"
expect_rc 0 "unpin of X while Y is backed up"
run_pgvault prune -d "$REPO" --db "$DB" -c 100
expect_rc 0 "prune --db X while Y is backed up"
# Y itself is busy, and so is a prune of every database (X's backups are still decided)
expect_busy "second backup of Y" "$ypid" backup -d "$REPO" --db "$DBY"
assert_contains "$ERR" "database \"$DBY\" is busy" "the busy database is named"
expect_busy "prune of every database while Y is backed up" "$ypid" prune -d "$REPO" -c 100
# catalog-wide maintenance needs the repository to itself
run_pgvault import -d "$REPO" --scan
expect_rc 4 "import --scan while a backup runs"
expect_error_line "import --scan while a backup runs"
assert_contains "$ERR" "is busy: other pgvault commands are using it" "import --scan while busy"
# the recovery X's commands ran did not take Y's live run for a dead one
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $YID")" running \
    "Y's backup row while it runs"
: >"$RELEASE"
rc=0
wait "$ypid" || rc=$?
assert_eq "$rc" 0 "exit code of the backup of Y (stderr: $(cat "$SCRATCH/y.err"))"
assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $YID")" complete \
    "Y's backup after it ended"

# (f) Recovery tells a live run from a dead one by its database's lock: a 'running'
#     backup row and a 'running' restore of Y (another host's) stay while Y's lock is
#     held, and become failed once it is free.
note "(f) recovery and the per-database lock"
# expect_status WHAT BACKUP RESTORE: the statuses of backup row ROW and restore row RID
expect_status() {
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $ROW")" "$2" "$1: backup row"
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM restores WHERE id = $RID")" "$3" "$1: restore row"
}
catalog_q "$REPO" "INSERT INTO backups (db_name, file_name, compression, started_at, status, pid, host)
    VALUES ('$DBY', '${DBY}_20200101_000000.sql.gz', 'gzip', '2020-01-01T00:00:00.000Z', 'running', 1, 'elsewhere')"
ROW=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
catalog_q "$REPO" "INSERT INTO restores (backup_id, target_db, mode, started_at, status)
    VALUES ($YID, '$DBY', 'swap', '2020-01-01T00:00:00.000Z', 'running')"
RID=$(catalog_q "$REPO" "SELECT max(id) FROM restores")
printf 'half' >"$REPO/${DBY}_20200101_000000.sql.gz.partial"
[[ -f "$REPO/.locks/$DBY.lock" ]] || fail "no lock file $REPO/.locks/$DBY.lock"
flock "$REPO/.locks/$DBY.lock" bash -c 'echo $$ >"$1"; exec sleep 60' _ "$REPO/.locks/$DBY.lock" &
yflock=$!
y_locked() {
    ! flock -n "$REPO/.locks/$DBY.lock" true
}
wait_until "the lock of $DBY" y_locked
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of X while Y's lock is held"
expect_status "runs of a locked database" running running
[[ -f "$REPO/${DBY}_20200101_000000.sql.gz.partial" ]] ||
    fail "the partial file of a locked database was removed"
kill "$(cat "$REPO/.locks/$DBY.lock")"
wait "$yflock" 2>/dev/null || true
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup of X once Y's lock is free"
expect_status "dead runs once their database is free" failed failed
[[ ! -e "$REPO/${DBY}_20200101_000000.sql.gz.partial" ]] || fail "the dead run's partial file stayed"

pass
