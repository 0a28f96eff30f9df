#!/usr/bin/env bash
# A backup neither waits forever nor leaves children behind:
#   --lock-wait-timeout (and lock_wait_timeout in the config file) reaches pg_dump, so a
#   table that another session holds ACCESS EXCLUSIVE fails the backup quickly (exit 1,
#   pg_dump's reason, a hint, the row failed);
#   kill -9 of pgvault while pg_dump waits for that lock leaves no pg_dump behind;
#   a hook's whole process group (a background grandchild too) is killed when the hook
#   times out and when pgvault is terminated (SIGTERM).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 pgrep

DB=pgv_safety_children
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT g AS a, md5(g::text) AS b FROM generate_series(1, 1000) g"
REPO=$SCRATCH/repo
LOCKER=pgv_safety_children_locker

# lock_held: the locker session holds ACCESS EXCLUSIVE on t.
lock_held() {
    [[ $(psql_q "$DB" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                       WHERE a.application_name = '$LOCKER' AND l.relation = 'public.t'::regclass
                         AND l.mode = 'AccessExclusiveLock' AND l.granted") == 1 ]]
}

# hold_lock / release_lock: another session holds ACCESS EXCLUSIVE on t in between.
hold_lock() {
    PGAPPNAME=$LOCKER "$PSQL" -X -q -d "$DB" \
        -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" \
        >/dev/null 2>&1 &
    LOCKER_PID=$!
    wait_until "the lock on t" lock_held
}
release_lock() {
    psql_q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = '$LOCKER'" >/dev/null
    wait "$LOCKER_PID" || true
}

# gone PID: the process has ended (no longer there, or a zombie nobody reaped yet).
gone() {
    [[ ! -e /proc/$1 ]] || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

note "a table locked by another session: --lock-wait-timeout 1 fails the backup quickly"
hold_lock
printf 'lock_wait_timeout = 1\n' >"$SCRATCH/lockwait.conf"
for how in "--lock-wait-timeout 1" "--config $SCRATCH/lockwait.conf"; do
    t0=$SECONDS
    # shellcheck disable=SC2086
    run_pgvault backup -d "$REPO" --db "$DB" $how
    expect_rc 1 "backup $how of a locked table"
    [[ $((SECONDS - t0)) -lt 30 ]] || fail "backup $how waited $((SECONDS - t0)) s for the lock"
    expect_error_line "backup $how of a locked table"
    assert_contains "${ERR%%$'\n'*}" "pg_dump failed with exit code 1: " "backup $how"
    assert_contains "${ERR%%$'\n'*}" "LOCK TABLE public.t IN ACCESS SHARE MODE" "backup $how"
    assert_contains "$ERR" \
        "HINT: another session held a lock on a table for longer than the lock wait timeout (1 s)" \
        "hint of backup $how"
done
assert_eq "$(catalog_q "$REPO" "SELECT group_concat(status) FROM backups")" "failed,failed" \
    "rows of the backups of a locked table"
assert_eq "$(repo_files "$REPO" | grep -c -v -E '^(catalog\.db.*|\.lock|\.locks)$' || true)" 0 \
    "files left by the backups of a locked table"

note "out of range: --lock-wait-timeout 0 and lock_wait_timeout = 86401 are usage errors"
run_pgvault backup -d "$REPO" --db "$DB" --lock-wait-timeout 0
expect_rc 2 "--lock-wait-timeout 0"
assert_contains "$ERR" "--lock-wait-timeout must be in range 1..86400" "range of the option"
printf 'lock_wait_timeout = 86401\n' >"$SCRATCH/badwait.conf"
run_pgvault backup -d "$REPO" --db "$DB" --config "$SCRATCH/badwait.conf"
expect_rc 2 "lock_wait_timeout = 86401"
assert_contains "$ERR" "\"lock_wait_timeout\"" "the config key named"
run_pgvault list -d "$REPO" --lock-wait-timeout 5
expect_rc 2 "list --lock-wait-timeout (backup only)"

note "kill -9 of pgvault while pg_dump waits for the lock: pg_dump dies with it"
"$PGVAULT_BIN" backup -d "$REPO" --db "$DB" </dev/null >"$SCRATCH/kill.out" 2>&1 &
pv=$!
wait_until "pg_dump started by pgvault" pgrep -P "$pv" -x pg_dump
dump=$(pgrep -P "$pv" -x pg_dump)
kill -9 "$pv"
wait "$pv" || true
wait_until "pg_dump $dump to end after kill -9 of pgvault" gone "$dump"
release_lock

# spawner.sh PIDFILE: starts a background sleep, writes its pid, and waits for it.
cat >"$SCRATCH/spawner.sh" <<'SH'
#!/bin/sh
sleep 300 &
echo $! >"$1.tmp"
mv "$1.tmp" "$1"
wait
SH
chmod 0755 "$SCRATCH/spawner.sh"

note "a hook that times out: its whole group, the background grandchild too, is killed"
printf 'pre_backup_hook = %s %s\nhook_timeout = 1\n' "$SCRATCH/spawner.sh" "$SCRATCH/gc1.pid" \
    >"$SCRATCH/timeout.conf"
run_pgvault backup -d "$REPO" --db "$DB" --config "$SCRATCH/timeout.conf"
expect_rc 1 "backup with a hook that times out"
assert_contains "$ERR" "did not finish within 1 s and was killed" "timeout message"
gc=$(cat "$SCRATCH/gc1.pid")
wait_until "the timed-out hook's grandchild $gc to end" gone "$gc"

note "SIGTERM of pgvault while a hook runs: the hook's whole group is terminated"
printf 'pre_backup_hook = %s %s\nhook_timeout = 300\n' "$SCRATCH/spawner.sh" \
    "$SCRATCH/gc2.pid" >"$SCRATCH/term.conf"
"$PGVAULT_BIN" backup -d "$REPO" --db "$DB" --config "$SCRATCH/term.conf" \
    </dev/null >"$SCRATCH/term.out" 2>&1 &
pv=$!
wait_until "the hook's grandchild" test -s "$SCRATCH/gc2.pid"
gc=$(cat "$SCRATCH/gc2.pid")
kill -TERM "$pv"
rc=0
wait "$pv" || rc=$?
assert_eq "$rc" 1 "exit code of pgvault terminated during a hook"
wait_until "the hook's grandchild $gc to end after SIGTERM of pgvault" gone "$gc"

pass
