#!/usr/bin/env bash
# Crash recovery: after `kill -9` of pgvault in the middle of a
# backup, readers change nothing, and the next command that writes (prune, backup, pin)
# leaves no partial file and no 'running' row: the row becomes 'failed' with
# "interrupted (process PID on HOST is gone)" and an audit event "recover". Stray
# partial files go too; symlinks and files not named like a backup stay.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3

DB=pgv_recovery
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE t (a int, b text);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g;
SQL
HOST=$(uname -n)

# A pg_dump that answers --version like 15.18, records its pid, and then writes the rows
# of a dump slowly, forever.
FAKE=$SCRATCH/fake_slow
mkdir -p "$FAKE"
cat >"$FAKE/pg_dump" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
    case "\$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac
done
echo \$\$ >"$SCRATCH/fake.pid"
printf -- '--\n-- PostgreSQL database dump\n--\n\nCOPY public.t (a, b) FROM stdin;\n'
i=0
while :; do
    i=\$((i + 1))
    printf '%d\trow %d\n' "\$i" "\$i"
    sleep 0.05
done
EOF
chmod 0755 "$FAKE/pg_dump"


running_rows() {
    [[ -f "$REPO/catalog.db" ]] || {
        echo 0
        return
    }
    catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'running'"
}

partial_files() {
    [[ -d "$REPO" ]] || {
        echo 0
        return
    }
    repo_files "$REPO" | grep -c '\.partial$' || true
}

partial_has_data() {
    [[ -n "$(find "$REPO" -maxdepth 1 -name '*.partial' -size +0c -print -quit)" ]]
}
started() {
    [[ "$(running_rows)" == 1 && "$(partial_files)" == 1 && -s "$SCRATCH/fake.pid" ]]
}

# kill_mid_backup: starts a backup through the slow pg_dump, kills pgvault with SIGKILL
# once its row is 'running' and its partial file exists, and ends the orphaned pg_dump.
# Sets VICTIM (the killed pgvault's pid) and ID (its row).
kill_mid_backup() {
    rm -f "$SCRATCH/fake.pid"
    PGVAULT_PG_BINDIR=$FAKE "$PGVAULT_BIN" backup -d "$REPO" --db "$DB" \
        </dev/null >/dev/null 2>&1 &
    VICTIM=$!
    wait_until "the backup to start" started
    wait_until "rows in the partial file" partial_has_data
    kill -9 "$VICTIM"
    wait "$VICTIM" 2>/dev/null || true
    kill -9 "$(cat "$SCRATCH/fake.pid")" 2>/dev/null || true
    ID=$(catalog_q "$REPO" "SELECT id FROM backups WHERE status = 'running'")
    assert_eq "$(catalog_q "$REPO" "SELECT pid || '@' || host FROM backups WHERE id = $ID")" \
        "$VICTIM@$HOST" "pid and host recorded for the killed backup"
}

# expect_recovered WHAT: no partial file, no running row, row $ID failed with the reason.
expect_recovered() {
    assert_eq "$(partial_files)" 0 "$1: partial files"
    assert_eq "$(running_rows)" 0 "$1: running rows"
    assert_eq "$(catalog_q "$REPO" "SELECT status FROM backups WHERE id = $ID")" failed \
        "$1: status of the killed backup"
    assert_eq "$(catalog_q "$REPO" "SELECT error FROM backups WHERE id = $ID")" \
        "interrupted (process $VICTIM on $HOST is gone)" "$1: error of the killed backup"
    assert_ne "$(catalog_q "$REPO" "SELECT coalesce(finished_at, '') FROM backups WHERE id = $ID")" \
        "" "$1: finished_at of the killed backup"
    assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'recover' AND backup_id = $ID")" \
        1 "$1: recover event"
}

# (a) kill -9 mid-backup; readers change nothing; prune recovers.
note "(a) kill -9 mid-backup, then prune"
REPO=$SCRATCH/repo_a
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "a good backup first"
kill_mid_backup
run_pgvault list -d "$REPO" --all-status
expect_rc 0 "list after the kill"
run_pgvault prune -d "$REPO" --dry-run
expect_rc 0 "prune --dry-run after the kill"
assert_eq "$(running_rows)" 1 "running rows after readers"
assert_eq "$(partial_files)" 1 "partial files after readers"
run_pgvault prune -d "$REPO"
expect_rc 0 "prune after the kill"
expect_recovered "prune after kill -9"
assert_contains "$ERR" "recovered: backup $ID of \"$DB\" marked failed" "prune's recovery message"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 1 \
    "the good backup is untouched"

# (b) kill -9 mid-backup; the next backup recovers and succeeds.
note "(b) kill -9 mid-backup, then backup"
REPO=$SCRATCH/repo_b
kill_mid_backup
run_pgvault backup -d "$REPO" --db "$DB"
expect_rc 0 "backup after the kill"
expect_recovered "backup after kill -9"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM backups WHERE status = 'complete'")" 1 \
    "complete backups after recovery and a new backup"
run_pgvault list -d "$REPO"
assert_not_contains "$OUT" running "list after recovery"

# (c) kill -9 again; pin recovers too; so does a row from another host.
note "(c) pin recovers; a running row of another host"
kill_mid_backup
catalog_q "$REPO" "INSERT INTO backups (db_name, file_name, compression, started_at, status, pid, host)
    VALUES ('$DB', '${DB}_20200101_000000.sql.gz', 'gzip', '2020-01-01T00:00:00.000Z', 'running',
            4242, 'otherhost')"
OTHER=$(catalog_q "$REPO" "SELECT id FROM backups WHERE host = 'otherhost'")
printf 'partial' >"$REPO/${DB}_20200101_000000.sql.gz.partial"
# stray partials: a regular file without a row goes; a symlink and other names stay
printf 'stray' >"$REPO/${DB}_20190101_000000_2.sql.partial"
printf 'keep me' >"$SCRATCH/outside"
ln -s "$SCRATCH/outside" "$REPO/${DB}_20190101_000001.sql.gz.partial"
printf 'user file' >"$REPO/notes.partial"
GOOD=$(catalog_q "$REPO" "SELECT max(id) FROM backups WHERE status = 'complete'")
run_pgvault pin -d "$REPO" "$GOOD"
expect_rc 0 "pin after the kill"
assert_eq "$(running_rows)" 0 "running rows after pin"
assert_eq "$(catalog_q "$REPO" "SELECT status || ' ' || error FROM backups WHERE id = $ID")" \
    "failed interrupted (process $VICTIM on $HOST is gone)" "killed backup after pin"
assert_eq "$(catalog_q "$REPO" "SELECT status || ' ' || error FROM backups WHERE id = $OTHER")" \
    "failed interrupted (process 4242 on otherhost is gone)" "other host's running row"
[[ ! -e "$REPO/${DB}_20200101_000000.sql.gz.partial" ]] ||
    fail "the other host's partial file survived"
[[ ! -e "$REPO/${DB}_20190101_000000_2.sql.partial" ]] || fail "a stray partial file survived"
[[ -L "$REPO/${DB}_20190101_000001.sql.gz.partial" ]] || fail "a symlinked partial was removed"
assert_eq "$(cat "$SCRATCH/outside")" "keep me" "the symlink's target"
[[ -f "$REPO/notes.partial" ]] || fail "notes.partial (not a backup's name) was removed"
assert_eq "$(catalog_q "$REPO" "SELECT count(*) FROM events WHERE action = 'recover' AND backup_id IS NULL AND detail LIKE '%${DB}_20190101_000000_2.sql.partial'")" \
    1 "recover event of the stray partial"
assert_eq "$(catalog_q "$REPO" "SELECT pinned FROM backups WHERE id = $GOOD")" 1 "pin after recovery"
rm -f "$REPO/${DB}_20190101_000001.sql.gz.partial" "$REPO/notes.partial"

# (d) SIGTERM is not a crash: pgvault cleans up itself and marks the row failed.
note "(d) SIGTERM mid-backup"
rm -f "$SCRATCH/fake.pid"
PGVAULT_PG_BINDIR=$FAKE "$PGVAULT_BIN" backup -d "$REPO" --db "$DB" \
    </dev/null >/dev/null 2>"$SCRATCH/term.err" &
victim=$!
wait_until "the backup to start" started
kill -TERM "$victim"
rc=0
wait "$victim" || rc=$?
assert_ne "$rc" 0 "exit code of a backup killed by SIGTERM"
kill -9 "$(cat "$SCRATCH/fake.pid")" 2>/dev/null || true
assert_eq "$(running_rows)" 0 "running rows after SIGTERM"
assert_eq "$(partial_files)" 0 "partial files after SIGTERM"

pass
